//! Bulk operations of the typed dictionary over a plain byte store and over MemDict: `delete_many`
//! semantics, `clear` in batches, and the concurrency hint.

use std::sync::Arc;

use futures::TryStreamExt;
use persidict::dict::{BULK_BATCH, DEFAULT_CONCURRENCY};
use persidict::prelude::*;
use persidict::store::MemStore;
use persidict::DictOptions;

/// A dictionary over a plain byte store (a `MemStore`, nothing forwarded from a
/// `MemDict`), configured with a concurrency of 3.
fn plain(append_only: bool) -> PersiDict<u64> {
    let options = DictOptions {
        concurrency: 3,
        append_only,
        ..DictOptions::default()
    };
    PersiDict::with_options(Arc::new(MemStore::new()), options).unwrap()
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
    let d = plain(false);
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
    let d = plain(true);
    d.clear().await.unwrap();
    d.put(&key(1), 1).await.unwrap();
    assert!(matches!(d.clear().await, Err(Error::AppendOnly { .. })));
    assert_eq!(d.len().await.unwrap(), 1);
}

#[tokio::test]
async fn forwarding_keeps_the_hint() {
    let d = std::sync::Arc::new(MemDict::<u64>::new());
    let boxed: PersiDict<u64> = (*d).clone().into();
    assert_eq!(boxed.concurrency(), DEFAULT_CONCURRENCY);
    boxed.put(&key(1), 1).await.unwrap();
    boxed.delete_many(&[key(1), key(2)]).await.unwrap();
    assert!(d.is_empty().await.unwrap());
}
