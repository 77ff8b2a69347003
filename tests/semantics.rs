//! The conditional semantics under pressure, on memory: a condition that does not hold is
//! an outcome however busy the key is, and every loop that re-evaluates is bounded; the
//! first also on SeaweedFS and moto.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use persidict::prelude::*;
use persidict::store::{
    DeleteCondition, DeleteResult, MemStore, ObjectMeta, Read, ReadOptions, StoreInfo,
    WriteCondition, WriteResult,
};
use persidict::{Capabilities, DictOptions, ObjectStore};

fn key(s: &str) -> Key {
    s.parse().expect("a valid test key")
}

/// Writers that rewrite `k` as fast as they can until told to stop.
fn hammer(
    d: &PersiDict<u64>,
    k: &Key,
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<u64>> {
    (0..3)
        .map(|_| {
            let (d, k, stop) = (d.clone(), k.clone(), Arc::clone(stop));
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    d.put(&k, n).await.expect("a plain put");
                    n += 1;
                    tokio::task::yield_now().await;
                }
                n
            })
        })
        .collect()
}

/// `put_if` and `discard_if` with a stale ETag under sustained concurrent writes: never an
/// error, always `satisfied == false`, reporting the value per `retrieve`.
async fn unsatisfied_under_sustained_writes(d: PersiDict<u64>, rounds: usize) {
    let k = key("busy");
    let stale = d.put(&k, 0).await.unwrap();
    d.put(&k, 1).await.unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writers = hammer(&d, &k, &stop);
    for retrieve in [Retrieve::Always, Retrieve::IfChanged, Retrieve::Never] {
        for _ in 0..rounds {
            let out = d
                .put_if(
                    &k,
                    Write::Value(99),
                    Condition::Same,
                    Some(&stale),
                    retrieve,
                )
                .await
                .expect("a condition that does not hold is not an error");
            assert!(!out.satisfied);
            assert!(!out.mutated());
            assert!(out.actual_etag.is_some());
            match retrieve {
                Retrieve::Never => assert_eq!(out.value, Slot::NotRetrieved),
                _ => assert!(out.value.is_present(), "{retrieve:?}: {out:?}"),
            }
            let out = d
                .discard_if(&k, Condition::Same, Some(&stale))
                .await
                .expect("a condition that does not hold is not an error");
            assert!(!out.satisfied);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    assert_ne!(d.get(&k).await.unwrap(), 99, "nothing of ours was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_unsatisfied_put_if_under_sustained_writes_is_an_outcome() {
    unsatisfied_under_sustained_writes(MemDict::<u64>::new().into(), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seaweedfs_unsatisfied_put_if_under_sustained_writes_is_an_outcome() {
    if let Some(s) = common::server("seaweedfs") {
        let d: persidict::S3Dict<u64> = common::open(&s, "unsatisfied").await;
        unsatisfied_under_sustained_writes(d.into(), 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_unsatisfied_put_if_under_sustained_writes_is_an_outcome() {
    if let Some(s) = common::server("moto") {
        let d: persidict::S3Dict<u64> = common::open(&s, "unsatisfied").await;
        unsatisfied_under_sustained_writes(d.into(), 20).await;
    }
}

/// A store whose object changes between every read and every conditional request: the
/// ETag a HEAD or GET reports is never the one the next request finds.
struct EverChanging {
    inner: MemStore,
    requests: AtomicU64,
}

impl EverChanging {
    async fn churn(&self, name: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let _ = self
            .inner
            .write(
                name,
                Bytes::from_static(b"\x01"),
                "",
                WriteCondition::Always,
            )
            .await;
    }
}

#[async_trait]
impl ObjectStore for EverChanging {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }
    async fn capabilities(&self) -> persidict::Result<Capabilities> {
        // Without delete-if-exists, `discard` must HEAD and then DELETE If-Match.
        Ok(Capabilities {
            delete_if_exists: false,
            ..Capabilities::ALL
        })
    }
    async fn read(&self, name: &str, options: ReadOptions) -> persidict::Result<Read> {
        let read = self.inner.read(name, options).await;
        self.churn(name).await;
        read
    }
    async fn head(&self, name: &str) -> persidict::Result<Option<ObjectMeta>> {
        let head = self.inner.head(name).await;
        self.churn(name).await;
        head
    }
    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> persidict::Result<WriteResult> {
        self.inner.write(name, body, content_type, condition).await
    }
    async fn delete(
        &self,
        name: &str,
        condition: DeleteCondition,
    ) -> persidict::Result<DeleteResult> {
        self.inner.delete(name, condition).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, persidict::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete_many(&self, names: Vec<String>) -> persidict::Result<()> {
        self.inner.delete_many(names).await
    }
}

/// `discard`, `pop` and `put_if(Any)` on a key that changes before every request: each
/// gives up with `ConcurrencyConflict` after a bounded number of requests, having
/// written nothing of its own.
#[tokio::test(start_paused = true)]
async fn memory_reevaluating_loops_are_bounded() {
    let store = Arc::new(EverChanging {
        inner: MemStore::new(),
        requests: AtomicU64::new(0),
    });
    let d: PersiDict<u64> = PersiDict::with_options(store.clone(), DictOptions::default()).unwrap();
    let k = key("churning");
    d.put(&k, 1).await.unwrap();
    let bound = 2 * u64::from(persidict::semantics::MAX_ATTEMPTS) + 2;

    let before = store.requests.load(Ordering::Relaxed);
    let err = d.discard(&k).await.unwrap_err();
    assert!(matches!(err, Error::ConcurrencyConflict { .. }), "{err:?}");
    assert!(store.requests.load(Ordering::Relaxed) - before <= bound);

    let before = store.requests.load(Ordering::Relaxed);
    let err = d.pop(&k).await.unwrap_err();
    assert!(matches!(err, Error::ConcurrencyConflict { .. }), "{err:?}");
    assert!(store.requests.load(Ordering::Relaxed) - before <= bound);

    let before = store.requests.load(Ordering::Relaxed);
    let err = d
        .put_if(&k, Write::Value(7), Condition::Any, None, Retrieve::Never)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::ConcurrencyConflict { .. }), "{err:?}");
    assert!(store.requests.load(Ordering::Relaxed) - before <= bound);
    assert!(err.is_retryable());
    assert_ne!(d.get(&k).await.unwrap(), 7);
}

/// The short verbs: insert-if-absent, sled-style compare-and-swap that hands back the
/// current value and ETag on refusal, and delete-if-ETag-matches.
#[tokio::test]
async fn memory_short_verbs() {
    let d = MemDict::<String>::new();
    let k: Key = "users/42".parse().unwrap();
    assert_eq!(k.parts(), ["users", "42"]);
    assert_eq!(Key::try_from("users/42").unwrap(), k);
    assert!(d.insert(&k, "ann".into()).await.unwrap());
    assert!(!d.insert(&k, "bob".into()).await.unwrap());
    let etag = d.etag(&k).await.unwrap();
    let refused = d
        .compare_and_swap(&k, None, Some("carl".into()))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(refused.current.as_deref(), Some("ann"));
    assert_eq!(refused.etag.as_ref(), Some(&etag));
    let new = d
        .compare_and_swap(&k, Some(&etag), Some("dora".into()))
        .await
        .unwrap()
        .expect("the ETag matched")
        .expect("a value write has an ETag");
    assert!(!d.delete_if(&k, &etag).await.unwrap(), "stale ETag");
    assert_eq!(d.get(&k).await.unwrap(), "dora");
    assert!(d.delete_if(&k, &new).await.unwrap());
    assert!(!d.contains(&k).await.unwrap());
}
