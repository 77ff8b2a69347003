//! `transform` (basics, giving up, racing), racing inserts, and iteration while keys are
//! deleted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, TryStreamExt};

use super::capabilities::enforces_conditional_writes;
use super::{key, open, read, Fixture};
use crate::codec::Codec;
use crate::cond::{Condition, Retrieve, Slot, Write};
use crate::dict::{PersiDict, RetryPolicy};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::{
    Capabilities, DeleteCondition, DeleteResult, ObjectMeta, ObjectStore, Read, ReadOptions,
    StoreInfo, WriteCondition, WriteResult,
};

/// `transform` creates from absent, updates, keeps and deletes.
pub async fn transform_basics<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    if !enforces_conditional_writes(f, d).await {
        return;
    }
    let k = key("tf/counter");
    let t = d
        .transform(&k, |n| {
            assert_eq!(n, None);
            Write::KeepCurrent
        })
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag, t.attempts), (None, None, 1));
    assert!(
        !d.contains(&k).await.expect("contains"),
        "KeepCurrent created a key"
    );

    let t = d
        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
        .await
        .expect("transform");
    assert_eq!(t.value, Some(1));
    assert_eq!(t.attempts, 1);
    assert_eq!(t.etag, Some(d.etag(&k).await.expect("etag")));
    let t = d
        .transform(&k, |n| Write::Value(n.expect("present") * 10 + 1))
        .await
        .expect("transform");
    assert_eq!(t.value, Some(11));
    let etag = d.etag(&k).await.expect("etag");
    assert_eq!(t.etag.as_ref(), Some(&etag));

    let t = d
        .transform(&k, |_| Write::KeepCurrent)
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag), (Some(11), Some(etag.clone())));
    assert_eq!(read(d, &k).await, Some((11, etag)));

    let t = d
        .transform(&k, |_| Write::DeleteCurrent)
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag), (None, None));
    assert!(!d.contains(&k).await.expect("contains"));
}

/// A store that rewrites an object right before every conditional write to it, so that
/// whatever ETag the caller read is stale by then. The value it writes is `1000 + n` for
/// the `n`th such write, encoded with the dictionary's codec.
struct Meddler {
    inner: Arc<dyn ObjectStore>,
    codec: Codec,
    writes: AtomicU64,
}

#[async_trait]
impl ObjectStore for Meddler {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }
    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }
    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        self.inner.read(name, options).await
    }
    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        self.inner.head(name).await
    }
    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        if condition != WriteCondition::Always {
            // A concurrent writer gets in just before every conditional write.
            let n = 1000 + self.writes.fetch_add(1, Ordering::SeqCst);
            let bytes = self.codec.encode(&n).expect("a u64 encodes");
            let meddled = self
                .inner
                .write(
                    name,
                    Bytes::from(bytes),
                    self.codec.content_type(),
                    WriteCondition::Always,
                )
                .await?;
            assert!(
                matches!(meddled, WriteResult::Written(_)),
                "an unconditional write was refused"
            );
        }
        self.inner.write(name, body, content_type, condition).await
    }
    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        self.inner.delete(name, condition).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        self.inner.delete_many(names).await
    }
}

/// `transform` gives up with [`Error::ConcurrencyConflict`] naming the key and the number
/// of attempts when every attempt loses to a concurrent write.
pub async fn transform_gives_up<F: Fixture>(f: &F) {
    let inner = open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, &inner).await {
        return;
    }
    let meddler = Meddler {
        inner: Arc::clone(inner.store()),
        codec: inner.options().codec,
        writes: AtomicU64::new(0),
    };
    let d = PersiDict::<u64>::with_options(Arc::new(meddler), inner.options())
        .expect("the options of a working dictionary");
    let k = key("tf/contended");
    d.put(&k, 1).await.expect("put");
    let calls = AtomicU32::new(0);
    let policy = RetryPolicy {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };
    let result = d
        .transform_with(&k, policy, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            Write::Value(n.unwrap_or(0) + 1_000_000)
        })
        .await;
    match result {
        Err(Error::ConcurrencyConflict { key, attempts }) => {
            assert_eq!(key, k);
            assert_eq!(attempts, 3);
        }
        other => panic!("expected ConcurrencyConflict after 3 attempts, got {other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the closure runs once per attempt"
    );
    let last = inner.get(&k).await.expect("get");
    assert!(
        (1000..1_000_000).contains(&last),
        "a losing transform wrote its value ({last})"
    );
}

const RACERS: u64 = 8;

/// 8 tasks × 25 `transform` increments of one key end at exactly 200.
pub async fn transform_race<F: Fixture>(f: &F) {
    let d = Arc::new(open::<F, u64>(f).await);
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    const ROUNDS: u64 = 25;
    let k = key("race/counter");
    let start = Arc::new(tokio::sync::Barrier::new(RACERS as usize));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (d, k, start) = (Arc::clone(&d), k.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..ROUNDS {
                    let t = d
                        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                        .await
                        .expect("transform under contention");
                    assert!(t.value.is_some_and(|n| n <= RACERS * ROUNDS));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("racing task");
    }
    assert_eq!(
        d.get(&k).await.expect("get"),
        RACERS * ROUNDS,
        "lost updates"
    );
}

/// Tasks racing to insert one fresh key with `put_if(Same, None)`, and others with
/// `setdefault_if`: exactly one of each wins, and everyone sees the winner's value.
pub async fn insert_race<F: Fixture>(f: &F) {
    let d = Arc::new(open::<F, u64>(f).await);
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    let put_key = key("race/put_if");
    let sd_key = key("race/setdefault_if");
    let start = Arc::new(tokio::sync::Barrier::new(2 * RACERS as usize));
    let mut puts = Vec::new();
    let mut setdefaults = Vec::new();
    for i in 0..RACERS {
        let (d1, k1, s1) = (Arc::clone(&d), put_key.clone(), Arc::clone(&start));
        puts.push(tokio::spawn(async move {
            s1.wait().await;
            let out = d1
                .put_if(
                    &k1,
                    Write::Value(i),
                    Condition::Same,
                    None,
                    Retrieve::IfChanged,
                )
                .await
                .expect("put_if(Same, None)");
            (i, out)
        }));
        let (d2, k2, s2) = (Arc::clone(&d), sd_key.clone(), Arc::clone(&start));
        setdefaults.push(tokio::spawn(async move {
            s2.wait().await;
            let out = d2
                .setdefault_if(&k2, 100 + i, Condition::Any, None, Retrieve::Always)
                .await
                .expect("setdefault_if");
            (100 + i, out)
        }));
    }

    let mut put_outcomes = Vec::new();
    for t in puts {
        put_outcomes.push(t.await.expect("racing task"));
    }
    let mut sd_outcomes = Vec::new();
    for t in setdefaults {
        sd_outcomes.push(t.await.expect("racing task"));
    }

    let mut put_winners = Vec::new();
    for (i, out) in put_outcomes {
        if out.satisfied {
            assert!(out.mutated(), "a satisfied insert is a mutation");
            put_winners.push(i);
        } else {
            assert!(!out.mutated());
            assert!(
                out.actual_etag.is_some(),
                "a losing insert saw the key present"
            );
        }
    }
    assert_eq!(
        put_winners.len(),
        1,
        "put_if(Same, None) winners: {put_winners:?}"
    );
    assert_eq!(d.get(&put_key).await.expect("get"), put_winners[0]);

    let final_sd = d.get(&sd_key).await.expect("get");
    let mut sd_winners = Vec::new();
    for (v, out) in sd_outcomes {
        assert!(out.satisfied, "setdefault_if(Any) always holds");
        assert_eq!(
            out.value,
            Slot::Present(final_sd),
            "everyone sees the winner's value"
        );
        if out.mutated() {
            sd_winners.push(v);
        }
    }
    assert_eq!(sd_winners, vec![final_sd], "setdefault_if winners");
}

/// Keys deleted while `items()` runs are skipped without an error.
pub async fn iteration_skips_deleted<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let all: BTreeMap<Key, u64> = (0..80u64)
        .map(|i| (key(&format!("it/{i:03}")), i))
        .collect();
    d.put_many(all.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .await
        .expect("put_many");
    let mut items = d.items();
    let (first, v) = items
        .try_next()
        .await
        .expect("first item")
        .expect("a non-empty dict yields an item");
    assert_eq!(all.get(&first), Some(&v));
    let others: Vec<Key> = all.keys().filter(|k| **k != first).cloned().collect();
    assert_eq!(
        d.discard_many(&others).await.expect("discard_many"),
        others.len()
    );
    let rest: Vec<(Key, u64)> = items
        .try_collect()
        .await
        .expect("items() after concurrent deletes");
    let mut seen = BTreeSet::from([first]);
    for (k, v) in rest {
        assert_eq!(all.get(&k), Some(&v), "items() yielded {k} = {v}");
        assert!(seen.insert(k.clone()), "items() yielded {k} twice");
    }
    assert_eq!(d.len().await.expect("len"), 1);
}
