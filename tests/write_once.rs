//! WriteOnceDict on every backend: the first write wins, repeats cost one request (two when
//! checked), different values are found by checks and by conditional writes, racing
//! writers leave exactly one value, and nothing is ever removed.
//!
//! Contract suite: of the contract functions, only the append-only ones apply (every other
//! one opens a dictionary that is not append-only and deletes or overwrites in it).
//! `contract::append_only_removals` runs here on every backend. `contract::append_only`
//! does not apply: it expects a second `put` of a key to be `Error::AppendOnly`, where a
//! write-once dictionary accepts a repeat of the same value and refuses a different one
//! with `Error::WriteOnceConflict` (found by a check); those semantics are tested directly
//! below (`repeats_and_conflicts`, `conditional_writes_compare`).

#[path = "common/backends.rs"]
mod backends;
mod common;

use std::sync::Arc;

use persidict::contract::{Fixture, FixtureOptions};
use persidict::prelude::*;
use persidict::store::Stored;
use persidict::{Capabilities, DictOptions, Value, WriteOnceDict};

/// Write-once dictionaries (checking every repeat) over fresh dictionaries of one backend.
struct WriteOnceFixture {
    backend: &'static str,
    keep: std::sync::Mutex<Vec<Box<dyn std::any::Any + Send>>>,
}

#[async_trait::async_trait]
impl Fixture for WriteOnceFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        // The wrapped dictionary is not append-only: write-once makes it so.
        let opts = DictOptions {
            codec: options.codec,
            ..DictOptions::default()
        };
        let b = backends::open_with::<V>(self.backend, "write-once-contract", opts)
            .await
            .expect("the backend is configured");
        let d = WriteOnceDict::with_p_consistency_checks(b.dict.clone(), 1.0)
            .expect("a valid probability");
        self.keep.lock().expect("not poisoned").push(Box::new(b));
        d.into_dict()
    }

    fn enforces(&self) -> Capabilities {
        match self.backend {
            "memory" | "file" => Capabilities::ALL,
            s3 => common::enforced(&common::server(s3).expect("configured")),
        }
    }
}

fn key(path: &str) -> Key {
    path.parse().expect("a valid key")
}

async fn write_once(
    backend: &'static str,
    p: f64,
) -> Option<(
    WriteOnceDict<u64>,
    Arc<backends::Counts>,
    backends::Backend<u64>,
)> {
    let b = backends::open::<u64>(backend, "write-once").await?;
    let (counted, counts) = backends::counted(&b.dict);
    let d = WriteOnceDict::with_p_consistency_checks(counted, p).expect("a valid probability");
    Some((d, counts, b))
}

async fn contract_append_only_removals(backend: &'static str) {
    // An S3 server that is not configured is skipped (a failure under
    // PERSIDICT_REQUIRE_S3=1).
    if !matches!(backend, "memory" | "file") && common::server(backend).is_none() {
        return;
    }
    let f = WriteOnceFixture {
        backend,
        keep: Default::default(),
    };
    persidict::contract::append_only_removals(&f).await;
}

/// First write, checked repeat (same value), checked repeat (different value), and the
/// requests each costs.
async fn repeats_and_conflicts(backend: &'static str) {
    let Some((d, counts, _b)) = write_once(backend, 1.0).await else {
        return;
    };
    let k = key("memo/square/12");
    let etag = match d.put(&k, 144).await.expect("first put") {
        Stored::Written(e) => e,
        other => panic!("{backend}: the first put must write, got {other:?}"),
    };
    assert_eq!(
        counts.get(),
        (0, 0, 1, 0),
        "{backend}: the first put is one PUT"
    );

    let again = d.put(&k, 144).await.expect("a repeat of the same value");
    assert_eq!(
        again,
        Stored::Repeated {
            checked: true,
            etag: Some(etag.clone())
        },
        "{backend}"
    );
    assert_eq!(
        counts.get(),
        (1, 0, 2, 0),
        "{backend}: a checked repeat is one refused PUT + one GET"
    );

    match d.put(&k, 145).await {
        Err(Error::WriteOnceConflict { key }) => assert_eq!(key, k.to_path()),
        other => panic!("{backend}: a different value must conflict, got {other:?}"),
    }
    let msg = Error::WriteOnceConflict { key: k.to_path() }.to_string();
    assert!(
        msg.contains("memo/square/12") && msg.contains("another key"),
        "{msg}"
    );
    assert_eq!(
        d.get(&k).await.expect("get"),
        144,
        "{backend}: the first value stays"
    );
    assert_eq!(d.etag(&k).await.expect("etag"), etag);
    assert_eq!(d.consistency_checks(), 2);
    assert_eq!(d.stats().repeats(), 2);
    assert_eq!(d.stats().conflicts(), 1);
    assert_eq!(
        (d.consistency_checks_passed(), d.consistency_checks_failed()),
        (1, 1)
    );
    assert!(d.info().append_only);

    // Through the plain PersiDict, a repeat reports the stored ETag.
    let plain = d.clone().into_dict();
    assert_eq!(
        plain.put(&k, 144).await.expect("repeat via PersiDict::put"),
        etag
    );
}

/// With p = 0 a repeat is one request and never read back, whatever its value.
async fn unchecked_repeats_cost_one_request(backend: &'static str) {
    let Some((d, counts, _b)) = write_once(backend, 0.0).await else {
        return;
    };
    let k = key("memo/cube/3");
    assert!(matches!(
        d.put(&k, 27).await.expect("first"),
        Stored::Written(_)
    ));
    for v in [27, 28] {
        let before = counts.get();
        let r = d.put(&k, v).await.expect("an unchecked repeat");
        assert_eq!(
            r,
            Stored::Repeated {
                checked: false,
                etag: None
            },
            "{backend}"
        );
        let after = counts.get();
        assert_eq!(
            (
                after.0 - before.0,
                after.1 - before.1,
                after.2 - before.2,
                after.3 - before.3
            ),
            (0, 0, 1, 0),
            "{backend}: an unchecked repeat is exactly one (refused) PUT"
        );
    }
    assert_eq!(d.get(&k).await.expect("get"), 27);
    assert_eq!(d.consistency_checks(), 0);
    assert_eq!(d.stats().repeats(), 2);
}

/// Conditional writes on an existing key always compare; removals are refused.
async fn conditional_writes_compare(backend: &'static str) {
    let Some((d, _counts, _b)) = write_once(backend, 0.0).await else {
        return;
    };
    let k = key("cw/a");
    let Stored::Written(etag) = d.put(&k, 1).await.expect("put") else {
        panic!("{backend}: the first put must write")
    };
    let out = d
        .put_if(&k, Write::Value(1), Condition::Any, None, Retrieve::Never)
        .await
        .expect("the same value through put_if");
    assert!(out.satisfied && !out.mutated(), "{backend}: {out:?}");
    assert_eq!(out.resulting_etag.as_ref(), Some(&etag));
    match d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            Some(&etag),
            Retrieve::Never,
        )
        .await
    {
        Err(Error::WriteOnceConflict { key }) => assert_eq!(key, "cw/a"),
        other => panic!("{backend}: a different value through put_if, got {other:?}"),
    }
    match d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await {
        Err(Error::WriteOnceConflict { key }) => assert_eq!(key, "cw/a"),
        other => panic!("{backend}: transform of an existing key, got {other:?}"),
    }
    assert!(!d.insert(&k, 9).await.expect("insert of an existing key"));
    assert_eq!(d.setdefault(&k, 9).await.expect("setdefault"), 1);
    assert!(matches!(d.delete(&k).await, Err(Error::AppendOnly { .. })));
    assert!(matches!(d.clear().await, Err(Error::AppendOnly { .. })));
    assert_eq!(d.get_with_etag(&k).await.expect("get"), Some((1, etag)));
}

/// Writers racing on one key with different values: exactly one writes, the others are
/// repeats, and the stored value is the winner's.
async fn racing_writers_one_wins(backend: &'static str) {
    let Some((d, _counts, _b)) = write_once(backend, 0.0).await else {
        return;
    };
    let k = key("race/only");
    let tasks: Vec<_> = (0..8u64)
        .map(|i| {
            let d = d.clone();
            let k = k.clone();
            tokio::spawn(async move { (i, d.put(&k, i).await.expect("a racing put")) })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        let (i, r) = t.await.expect("the task");
        if matches!(r, Stored::Written(_)) {
            winners.push(i);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "{backend}: exactly one racing writer writes: {winners:?}"
    );
    assert_eq!(d.get(&k).await.expect("get"), winners[0]);
    assert_eq!(d.stats().repeats(), 7);
}

/// Subdictionaries are write-once too, and share the counters.
async fn subdicts_are_write_once(backend: &'static str) {
    let Some((d, _counts, _b)) = write_once(backend, 1.0).await else {
        return;
    };
    let sub = d.subdict(&key("tenant"));
    let k = key("x");
    assert!(matches!(
        sub.put(&k, 1).await.expect("put"),
        Stored::Written(_)
    ));
    assert!(matches!(
        sub.put(&k, 2).await,
        Err(Error::WriteOnceConflict { .. })
    ));
    assert_eq!(d.get(&key("tenant/x")).await.expect("get"), 1);
    assert_eq!(d.consistency_checks(), 1);
    // The typed subdict through Deref is write-once as well.
    let plain_sub = d.as_ref().subdict(&key("tenant"));
    match plain_sub.put(&k, 3).await {
        Err(Error::WriteOnceConflict { key }) => assert_eq!(key, "x", "{backend}"),
        other => panic!("{backend}: {other:?}"),
    }
}

macro_rules! write_once_tests {
    ($($backend:ident),*) => {$(
        mod $backend {
            const B: &str = stringify!($backend);

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn contract_append_only_removals() {
                super::contract_append_only_removals(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn repeats_and_conflicts() {
                super::repeats_and_conflicts(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn unchecked_repeats_cost_one_request() {
                super::unchecked_repeats_cost_one_request(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn conditional_writes_compare() {
                super::conditional_writes_compare(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn racing_writers_one_wins() {
                super::racing_writers_one_wins(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn subdicts_are_write_once() {
                super::subdicts_are_write_once(B).await;
            }
        }
    )*};
}

write_once_tests!(memory, file, seaweedfs, moto);

/// rclone cannot insert-if-absent atomically, so write-once cannot be kept there.
mod rclone {
    use super::*;

    #[tokio::test]
    async fn write_once_is_unsupported() {
        let Some((d, _counts, _b)) = write_once("rclone", 1.0).await else {
            return;
        };
        let k = key("a");
        assert!(d
            .put(&k, 1)
            .await
            .expect_err("unsupported")
            .is_unsupported());
        assert!(d
            .as_ref()
            .put(&k, 1)
            .await
            .expect_err("unsupported")
            .is_unsupported());
        assert!(
            !d.contains(&k).await.expect("contains"),
            "nothing was written"
        );
    }

    #[tokio::test]
    async fn contract_append_only_removals() {
        super::contract_append_only_removals("rclone").await;
    }
}

/// Probabilities, checks drawn at random, other wrapped dictionaries.
mod memory_write_once {
    use super::*;
    use persidict::CachedDict;

    #[test]
    fn probabilities_outside_0_1_are_config_errors() {
        for p in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            match WriteOnceDict::with_p_consistency_checks(MemDict::<u64>::new(), p) {
                Err(Error::Config(msg)) => assert!(msg.contains("p_consistency_checks"), "{msg}"),
                other => panic!("p = {p}: {other:?}"),
            }
        }
        assert_eq!(
            WriteOnceDict::new(MemDict::<u64>::new()).p_consistency_checks(),
            0.0
        );
    }

    #[tokio::test]
    async fn checks_are_drawn_with_the_given_probability() {
        let d = WriteOnceDict::with_p_consistency_checks(MemDict::<u64>::new(), 0.5).unwrap();
        let k = key("k");
        d.put(&k, 1).await.unwrap();
        for _ in 0..400 {
            let _ = d.put(&k, 1).await.unwrap();
        }
        let checks = d.consistency_checks();
        assert!(
            (120..=280).contains(&checks),
            "{checks} checks of 400 at p = 0.5"
        );
        assert_eq!(d.stats().repeats(), 400);
    }

    #[tokio::test]
    async fn over_a_cache_and_an_append_only_dict() {
        let remote = MemDict::<String>::new();
        let cached = CachedDict::new(remote.clone());
        let d = WriteOnceDict::with_p_consistency_checks(cached, 1.0).unwrap();
        let k = key("c");
        assert!(matches!(
            d.put(&k, "v".into()).await.unwrap(),
            Stored::Written(_)
        ));
        assert!(matches!(
            d.put(&k, "v".into()).await.unwrap(),
            Stored::Repeated { checked: true, .. }
        ));
        assert!(matches!(
            d.put(&k, "w".into()).await,
            Err(Error::WriteOnceConflict { .. })
        ));
        assert_eq!(remote.get(&k).await.unwrap(), "v");

        let ao = MemDict::<u64>::new().with_append_only(true);
        let d = WriteOnceDict::with_p_consistency_checks(ao, 1.0).unwrap();
        d.put(&k, 1).await.unwrap();
        assert!(matches!(
            d.put(&k, 1).await.unwrap(),
            Stored::Repeated { checked: true, .. }
        ));
        assert!(matches!(
            d.put(&k, 2).await,
            Err(Error::WriteOnceConflict { .. })
        ));
    }

    /// The new contract function holds for plain append-only dictionaries too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn append_only_removals_on_a_plain_append_only_memory_dict() {
        struct Plain;
        #[async_trait::async_trait]
        impl Fixture for Plain {
            async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
                MemDict::new()
                    .with_codec(options.codec)
                    .with_append_only(options.append_only)
                    .into()
            }
            fn enforces(&self) -> Capabilities {
                Capabilities::ALL
            }
        }
        persidict::contract::append_only_removals(&Plain).await;
    }
}

/// The requests a write-once `put` sends, counted by the S3 client itself.
async fn s3_requests(server: &str) {
    use persidict::s3::RequestKind::{Get, Head, Put};
    let Some(s) = common::server(server) else {
        return;
    };
    let base: persidict::S3Dict<u64> = common::open(&s, "write-once-requests").await;
    base.capabilities()
        .await
        .expect("probed once, before counting");
    let stats = base.stats();
    for (p, checked) in [(0.0, false), (1.0, true)] {
        let d = WriteOnceDict::with_p_consistency_checks(base.clone(), p).expect("valid p");
        let k = key(&format!("req/{checked}"));
        let before = stats.snapshot();
        let _ = d.put(&k, 1).await.expect("first");
        let used = stats.snapshot().since(&before);
        assert_eq!(
            (used.get(Put), used.total()),
            (1, 1),
            "{server}: first put: {used}"
        );
        let before = stats.snapshot();
        let _ = d.put(&k, 1).await.expect("repeat");
        let used = stats.snapshot().since(&before);
        let gets = u64::from(checked);
        assert_eq!(
            (used.get(Put), used.get(Get), used.get(Head), used.total()),
            (1, gets, 0, 1 + gets),
            "{server}: a repeat (checked: {checked}): {used}"
        );
    }
}

mod seaweedfs_requests {
    #[tokio::test]
    async fn seaweedfs_write_once_requests() {
        super::s3_requests("seaweedfs").await;
    }
}

mod moto_requests {
    #[tokio::test]
    async fn moto_write_once_requests() {
        super::s3_requests("moto").await;
    }
}
