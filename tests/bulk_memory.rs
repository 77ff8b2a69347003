//! Bulk operations through the trait's provided methods, on MemDict: `delete_many`
//! semantics, `clear` in batches, and the concurrency hint.

use async_trait::async_trait;
use futures::stream::BoxStream;
use futures::TryStreamExt;
use persidict::dict::{BULK_BATCH, DEFAULT_CONCURRENCY};
use persidict::prelude::*;
use persidict::{Capabilities, DictInfo, EntryMeta};

/// A backend with only the required methods, so every bulk operation runs the trait's
/// provided code; it declares a concurrency of 3.
struct Plain(MemDict<u64>);

#[async_trait]
impl PersiDict<u64> for Plain {
    fn info(&self) -> DictInfo {
        self.0.info()
    }
    async fn capabilities(&self) -> persidict::Result<Capabilities> {
        self.0.capabilities().await
    }
    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> persidict::Result<Outcome<u64>> {
        self.0.get_if(key, condition, expected, retrieve).await
    }
    async fn put_if(
        &self,
        key: &Key,
        write: Write<u64>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> persidict::Result<Outcome<u64>> {
        self.0
            .put_if(key, write, condition, expected, retrieve)
            .await
    }
    async fn setdefault_if(
        &self,
        key: &Key,
        default: u64,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> persidict::Result<Outcome<u64>> {
        self.0
            .setdefault_if(key, default, condition, expected, retrieve)
            .await
    }
    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> persidict::Result<Outcome<u64>> {
        self.0.discard_if(key, condition, expected).await
    }
    async fn put(&self, key: &Key, value: u64) -> persidict::Result<ETag> {
        self.0.put(key, value).await
    }
    async fn discard(&self, key: &Key) -> persidict::Result<bool> {
        self.0.discard(key).await
    }
    async fn head(&self, key: &Key) -> persidict::Result<Option<EntryMeta>> {
        self.0.head(key).await
    }
    fn list(&self) -> BoxStream<'_, persidict::Result<EntryMeta>> {
        self.0.list()
    }
    fn get_subdict(&self, prefix: &Key) -> persidict::Result<Box<dyn PersiDict<u64>>> {
        self.0.get_subdict(prefix)
    }
    fn concurrency(&self) -> usize {
        3
    }
}

fn key(i: usize) -> Key {
    Key::new(["k", &format!("{i:05}")]).unwrap()
}

#[tokio::test]
async fn delete_many_removes_present_keys_and_ignores_absent_ones() {
    let d = MemDict::<u64>::new();
    assert_eq!(d.concurrency(), DEFAULT_CONCURRENCY);
    for i in 0..10 {
        d.put(&key(i), i as u64).await.unwrap();
    }
    let doomed: Vec<Key> = (5..15).map(key).collect();
    d.delete_many(&doomed).await.unwrap();
    let mut left: Vec<u64> = d.values().try_collect().await.unwrap();
    left.sort();
    assert_eq!(left, vec![0, 1, 2, 3, 4]);
    d.delete_many(&[]).await.unwrap();
    assert_eq!(d.len().await.unwrap(), 5);
}

#[tokio::test]
async fn delete_many_on_an_append_only_dict_is_refused() {
    let d = MemDict::<u64>::new().with_append_only(true);
    d.put(&key(1), 1).await.unwrap();
    let r = d.delete_many(&[key(1)]).await;
    assert!(matches!(r, Err(Error::AppendOnly { .. })), "{r:?}");
    d.delete_many(&[]).await.unwrap();
    assert_eq!(d.get(&key(1)).await.unwrap(), 1);
}

#[tokio::test]
async fn provided_clear_removes_more_than_one_batch() {
    let d = Plain(MemDict::<u64>::new());
    assert_eq!(d.concurrency(), 3);
    let n = BULK_BATCH + 37;
    d.put_many((0..n).map(|i| (key(i), i as u64)).collect())
        .await
        .unwrap();
    assert_eq!(d.len().await.unwrap(), n);
    let mut vals: Vec<u64> = d.values().try_collect().await.unwrap();
    vals.sort();
    assert_eq!(vals, (0..n as u64).collect::<Vec<_>>());
    d.clear().await.unwrap();
    assert!(d.is_empty().await.unwrap());
}

#[tokio::test]
async fn provided_clear_on_an_append_only_dict_is_refused() {
    let d = Plain(MemDict::<u64>::new().with_append_only(true));
    d.clear().await.unwrap();
    d.put(&key(1), 1).await.unwrap();
    assert!(matches!(d.clear().await, Err(Error::AppendOnly { .. })));
    assert_eq!(d.len().await.unwrap(), 1);
}

#[tokio::test]
async fn forwarding_keeps_the_hint() {
    let d = std::sync::Arc::new(MemDict::<u64>::new());
    let boxed: Box<dyn PersiDict<u64>> = Box::new(d.clone());
    assert_eq!(boxed.concurrency(), DEFAULT_CONCURRENCY);
    boxed.put(&key(1), 1).await.unwrap();
    boxed.delete_many(&[key(1), key(2)]).await.unwrap();
    assert!(d.is_empty().await.unwrap());
}
