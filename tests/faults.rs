//! Fault injection: an `S3Dict` talks to a real server (SeaweedFS, moto) through a proxy
//! that resets connections, answers `503 SlowDown` and `500`, holds answers past the
//! client's timeout, and drops answers after forwarding the request (so the server applied
//! a write the client never heard of). See `tests/common/proxy.rs`.
//!
//! Every update is identifiable, so the end state tells exactly what happened to each:
//! - the counter's value is the list of the ids of the increments in it: an id missing
//!   although its `transform` succeeded is *lost*; an id present twice is *doubled*;
//! - an operation that failed with [`Error::OutcomeUnknown`] may or may not be in (both are
//!   counted); any *other* error promises "not applied", so such an id found in the value
//!   is a *phantom*;
//! - append-only inserts with unique keys and insert-if-absent races on shared keys are
//!   checked the same way.
//!
//! lost = 0, doubled = 0 and phantom = 0 are asserted, and so is OutcomeUnknown = 0: every
//! lost answer of a compare-and-swap, and of an insert into an append-only dictionary, is
//! settled by the write ids the objects carry (see the S3 module's "lost answers"). The
//! counts are printed (run with `--nocapture` to see them), with how many lost answers were
//! settled each way.
//!
//! Sizing: same-key writers on SeaweedFS wait long for their 412 beyond a few writers, and
//! a `delay` fault costs the client its whole attempt timeout, so the counters use 3-4
//! tasks and a few dozen operations; the whole file runs in well under a minute.

#[path = "common/capture.rs"]
mod capture;
mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use persidict::prelude::*;
use persidict::{Capabilities, S3Dict, Value};
use proxy::{FaultRates, Proxy};

/// The fault rates, per request (20 % of requests meet a fault).
const RATES: FaultRates = FaultRates {
    reset: 0.04,
    slowdown: 0.04,
    error500: 0.04,
    delay: 0.02,
    drop: 0.06,
};
/// The client's per-attempt timeout; the `delay` fault holds answers longer than this.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(700);
const DELAY: Duration = Duration::from_millis(1200);
/// A hang detector, not a speed check: an operation must end (well or with a typed
/// error) long before this.
const HANG: Duration = Duration::from_secs(120);

/// A dictionary on `server` under `prefix`, talking to the server directly.
async fn direct<V: Value>(s: &common::Server, prefix: &str) -> S3Dict<V> {
    common::builder(s, "unused")
        .root_prefix(prefix)
        .build()
        .await
        .expect("a direct dictionary")
}

/// The same dictionary through the proxy, with a short timeout and the SDK's retries.
async fn faulty<V: Value>(
    s: &common::Server,
    proxy: &Proxy,
    prefix: &str,
    caps: Capabilities,
    append_only: bool,
) -> S3Dict<V> {
    let _ = s;
    S3Dict::builder(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(prefix)
        .append_only(append_only)
        // The probes ran directly; their answers are declared so that they do not depend
        // on the faults.
        .capabilities(caps)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(1))
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(5)
                .with_initial_backoff(Duration::from_millis(10))
                .with_max_backoff(Duration::from_millis(100)),
        )
        .build()
        .await
        .expect("a dictionary through the proxy")
}

/// What happened to a set of identifiable operations.
#[derive(Debug, Default)]
struct Tally {
    ops: usize,
    ok: usize,
    unknown: usize,
    /// Why each `OutcomeUnknown` was unknown.
    unknown_reasons: Vec<String>,
    unknown_applied: usize,
    /// Typed errors other than `OutcomeUnknown`, by variant.
    failed: BTreeMap<String, usize>,
    lost: usize,
    doubled: usize,
    phantom: usize,
    slowest: Duration,
}

impl Tally {
    fn failed_total(&self) -> usize {
        self.failed.values().sum()
    }

    fn assert_exact(&self, what: &str) {
        assert_eq!(self.unknown, 0, "{what}: outcomes left unknown: {self:?}");
        assert_eq!(self.lost, 0, "{what}: lost updates: {self:?}");
        assert_eq!(self.doubled, 0, "{what}: doubled updates: {self:?}");
        assert_eq!(
            self.phantom, 0,
            "{what}: applied despite a not-applied error: {self:?}"
        );
        assert_eq!(
            self.ops,
            self.ok + self.unknown + self.failed_total(),
            "{what}: every operation accounted for"
        );
        assert!(self.ok > 0, "{what}: nothing succeeded: {self:?}");
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "operations {}, succeeded {}, OutcomeUnknown {} ({} of them applied), other typed errors {} {:?}; lost {}, doubled {}, phantom {}",
            self.ops,
            self.ok,
            self.unknown,
            self.unknown_applied,
            self.failed_total(),
            self.failed,
            self.lost,
            self.doubled,
            self.phantom,
        )?;
        if !self.slowest.is_zero() {
            write!(f, "; slowest operation {:.1?}", self.slowest)?;
        }
        Ok(())
    }
}

/// The variant name of an error, for the tally.
fn variant(e: &Error) -> String {
    let d = format!("{e:?}");
    d.split([' ', '{', '('])
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// How the library settled conditional PUTs whose answer was lost, under `prefix`.
#[derive(Debug, Default)]
struct Settled {
    /// Our write id found at the key: the write landed.
    landed: usize,
    /// ... and later writes had built upon it.
    built_upon: usize,
    /// The lineage proved it did not land; the version it replaced was still there, so it
    /// was sent again.
    not_landed_resent: usize,
    /// The lineage proved it did not land; the key had moved on (a refusal).
    not_landed_refused: usize,
}

impl Settled {
    fn total(&self) -> usize {
        self.landed + self.not_landed_resent + self.not_landed_refused
    }
}

impl std::fmt::Display for Settled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "landed {} ({} built upon since), did not land {} (sent again {}, refused {})",
            self.landed,
            self.built_upon,
            self.not_landed_resent + self.not_landed_refused,
            self.not_landed_resent,
            self.not_landed_refused
        )
    }
}

fn settled(log: &std::sync::Mutex<String>, prefix: &str) -> Settled {
    let log = log.lock().unwrap();
    let mut s = Settled::default();
    for line in log.lines().filter(|l| l.contains(prefix)) {
        if line.contains("settled by its write id") {
            s.landed += 1;
            s.built_upon += usize::from(line.contains("built_upon=true"));
        } else if line.contains("settled by the lineage") {
            if line.contains("resend=true") {
                s.not_landed_resent += 1;
            } else {
                s.not_landed_refused += 1;
            }
        }
    }
    s
}

enum Res {
    Ok,
    Unknown(String),
    Failed(String),
}

fn res<T>(r: &Result<T, Error>) -> Res {
    match r {
        Ok(_) => Res::Ok,
        Err(e) if e.is_outcome_unknown() => Res::Unknown(e.to_string()),
        Err(Error::InvalidKey(_) | Error::Decode { .. } | Error::Encode { .. }) => {
            panic!("not a fault: {:?}", r.as_ref().err())
        }
        Err(e) => Res::Failed(variant(e)),
    }
}

/// Many tasks increment one counter with `transform` through the faulty proxy.
async fn counter_under_faults(server: &str, tasks: u32, per_task: u32, seed: u64) {
    let Some(s) = common::server(server) else {
        return;
    };
    let log = capture::install("persidict");
    let prefix = common::fresh_prefix("faults-counter");
    let plain: S3Dict<Vec<u32>> = direct(&s, &prefix).await;
    let caps = plain.capabilities().await.unwrap();
    let proxy = Proxy::start(&s.url, RATES, seed, DELAY).await;
    let d: S3Dict<Vec<u32>> = faulty(&s, &proxy, &prefix, caps, false).await;
    let k = Key::try_from("counter").unwrap();
    // The counter exists before the increments start: the first increment would otherwise
    // be an insert, and outside an append-only dictionary a lost answer to an insert that
    // lost its race cannot be settled (a delete may have removed it; see
    // `inserts_under_faults` and tests/s3_store.rs for inserts).
    plain.put(&k, Vec::new()).await.unwrap();
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let d = d.clone();
            let k = k.clone();
            tokio::spawn(async move {
                let mut out = Vec::new();
                for i in 0..per_task {
                    let id = t * 1000 + i;
                    let t0 = Instant::now();
                    let r = tokio::time::timeout(
                        HANG,
                        d.transform(&k, move |v| {
                            let mut v = v.unwrap_or_default();
                            v.push(id);
                            Write::Value(v)
                        }),
                    )
                    .await
                    .expect("a transform hung");
                    out.push((id, res(&r), t0.elapsed()));
                }
                out
            })
        })
        .collect();
    let mut results = Vec::new();
    for h in handles {
        results.extend(h.await.unwrap());
    }
    let elapsed = started.elapsed();
    let value = plain.get_opt(&k).await.unwrap().unwrap_or_default();
    let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
    for id in &value {
        *seen.entry(*id).or_default() += 1;
    }
    let mut t = Tally {
        ops: results.len(),
        ..Tally::default()
    };
    for (id, r, took) in &results {
        t.slowest = t.slowest.max(*took);
        let n = seen.get(id).copied().unwrap_or(0);
        if n > 1 {
            t.doubled += 1;
        }
        match r {
            Res::Ok => {
                t.ok += 1;
                if n == 0 {
                    t.lost += 1;
                }
            }
            Res::Unknown(why) => {
                t.unknown += 1;
                t.unknown_reasons.push(why.clone());
                if n > 0 {
                    t.unknown_applied += 1;
                }
            }
            Res::Failed(v) => {
                *t.failed.entry(v.clone()).or_default() += 1;
                if n > 0 {
                    t.phantom += 1;
                }
            }
        }
    }
    // Nothing in the value that no operation wrote.
    let ids: BTreeSet<u32> = results.iter().map(|(id, ..)| *id).collect();
    assert!(value.iter().all(|id| ids.contains(id)), "{value:?}");
    let faults = proxy.counts();
    let settled = settled(&log, &prefix);
    println!(
        "{server} counter under faults ({tasks} tasks x {per_task}, seed {seed}, {elapsed:.1?}): {t}\n  proxy: {faults}\n  lost answers settled: {settled}"
    );
    assert!(settled.total() > 0, "no lost answer was settled: {faults}");
    t.assert_exact(&format!("{server} counter"));
    assert!(faults.faults() > 0, "no fault was injected: {faults}");
    plain.clear().await.unwrap();
}

/// Append-only inserts with unique keys, and insert-if-absent races on shared keys, under
/// faults: none lost, none duplicated or overwritten, at most one winner per key.
async fn inserts_under_faults(
    server: &str,
    tasks: u32,
    per_task: u32,
    shared_keys: u32,
    seed: u64,
) {
    let Some(s) = common::server(server) else {
        return;
    };
    let log = capture::install("persidict");
    let prefix = common::fresh_prefix("faults-inserts");
    let plain: S3Dict<(u32, u32)> = direct(&s, &prefix).await;
    let caps = plain.capabilities().await.unwrap();
    let proxy = Proxy::start(&s.url, RATES, seed, DELAY).await;
    let d: S3Dict<(u32, u32)> = faulty(&s, &proxy, &prefix, caps, true).await;
    let started = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let d = d.clone();
            tokio::spawn(async move {
                let mut unique = Vec::new();
                let mut contested = Vec::new();
                for i in 0..per_task.max(shared_keys) {
                    if i < per_task {
                        // An append-only `put`: PUT If-None-Match: *.
                        let k = Key::new(["log", &format!("{t}-{i}")]).unwrap();
                        let r = tokio::time::timeout(HANG, d.put(&k, (t, i)))
                            .await
                            .expect("a put hung");
                        unique.push((k, (t, i), res(&r)));
                    }
                    if i < shared_keys {
                        // Everybody tries to insert its own value under the same keys.
                        let k = Key::new(["shared", &i.to_string()]).unwrap();
                        let r = tokio::time::timeout(
                            HANG,
                            d.setdefault_if(&k, (t, i), Condition::Same, None, Retrieve::Always),
                        )
                        .await
                        .expect("a setdefault_if hung");
                        let won = matches!(&r, Ok(o) if o.satisfied && o.mutated());
                        if let Ok(o) = &r {
                            if !o.satisfied {
                                // A refusal reports the value it lost to.
                                assert!(matches!(o.value, Slot::Present(_)), "{o:?}");
                            }
                        }
                        contested.push((k, t, won, res(&r)));
                    }
                }
                (unique, contested)
            })
        })
        .collect();
    let mut unique = Vec::new();
    let mut contested = Vec::new();
    for h in handles {
        let (u, c) = h.await.unwrap();
        unique.extend(u);
        contested.extend(c);
    }
    let elapsed = started.elapsed();

    // Unique keys: success means present with our value; another error means absent.
    let mut t = Tally {
        ops: unique.len(),
        ..Tally::default()
    };
    for (k, v, r) in &unique {
        let stored = plain.get_opt(k).await.unwrap();
        if stored.is_some_and(|s| s != *v) {
            t.doubled += 1; // overwritten by something else
        }
        match r {
            Res::Ok => {
                t.ok += 1;
                if stored.is_none() {
                    t.lost += 1;
                }
            }
            Res::Unknown(why) => {
                t.unknown += 1;
                t.unknown_reasons.push(why.clone());
                if stored.is_some() {
                    t.unknown_applied += 1;
                }
            }
            Res::Failed(name) => {
                *t.failed.entry(name.clone()).or_default() += 1;
                if stored.is_some() {
                    t.phantom += 1;
                }
            }
        }
    }
    let listed = plain
        .get_subdict(&Key::try_from("log").unwrap())
        .unwrap()
        .len()
        .await
        .unwrap();
    assert_eq!(
        listed,
        t.ok + t.unknown_applied,
        "no stray entries in the log"
    );

    // Shared keys: at most one winner each, and the stored value is the winner's (or that
    // of a writer whose outcome is unknown).
    let mut w = Tally {
        ops: contested.len(),
        ..Tally::default()
    };
    for key_index in 0..shared_keys {
        let k = Key::new(["shared", &key_index.to_string()]).unwrap();
        let entries: Vec<_> = contested.iter().filter(|(ck, ..)| *ck == k).collect();
        let winners: Vec<u32> = entries
            .iter()
            .filter(|(_, _, won, _)| *won)
            .map(|(_, t, ..)| *t)
            .collect();
        assert!(winners.len() <= 1, "{k}: several winners {winners:?}");
        let unknown: Vec<u32> = entries
            .iter()
            .filter(|(.., r)| matches!(r, Res::Unknown(_)))
            .map(|(_, t, ..)| *t)
            .collect();
        let stored = plain.get_opt(&k).await.unwrap();
        match (stored, winners.first()) {
            (Some((owner, _)), Some(winner)) => {
                if owner != *winner {
                    w.doubled += 1; // the winner's value was overwritten
                }
            }
            (Some((owner, _)), None) => {
                if !unknown.contains(&owner) {
                    w.phantom += 1;
                }
            }
            (None, Some(_)) => w.lost += 1,
            (None, None) => {}
        }
    }
    for (.., r) in &contested {
        match r {
            Res::Ok => w.ok += 1,
            Res::Unknown(why) => {
                w.unknown += 1;
                w.unknown_reasons.push(why.clone());
            }
            Res::Failed(name) => *w.failed.entry(name.clone()).or_default() += 1,
        }
    }
    let faults = proxy.counts();
    println!(
        "{server} append-only inserts under faults ({tasks} tasks x {per_task}, seed {seed}, {elapsed:.1?}): {t}\n  \
         {server} insert-if-absent races on {shared_keys} shared keys: {w}\n  proxy: {faults}\n  lost answers settled: {}",
        settled(&log, &prefix)
    );
    t.assert_exact(&format!("{server} append-only inserts"));
    w.assert_exact(&format!("{server} insert-if-absent races"));
    assert!(faults.faults() > 0, "no fault was injected: {faults}");
    // Clean up through a dictionary that may delete.
    plain.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_counter_under_faults_is_exact() {
    counter_under_faults("seaweedfs", 3, 12, 0x5eed_0001).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_counter_under_faults_is_exact() {
    counter_under_faults("moto", 4, 12, 0x5eed_0002).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_inserts_under_faults_are_neither_lost_nor_doubled() {
    inserts_under_faults("seaweedfs", 4, 15, 6, 0x5eed_0003).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_inserts_under_faults_are_neither_lost_nor_doubled() {
    inserts_under_faults("moto", 4, 15, 6, 0x5eed_0004).await;
}

/// A conditional write whose every answer is lost fails with `OutcomeUnknown` in bounded
/// time, and one whose answers are refused before they run fails with a not-applied error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_writes_that_cannot_complete_fail_typed() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let prefix = common::fresh_prefix("faults-always");
    let plain: S3Dict<u64> = direct(&s, &prefix).await;
    let caps = plain.capabilities().await.unwrap();
    let k = Key::try_from("k").unwrap();

    // Every answer dropped after forwarding: the first attempt lands, the retries are
    // refused by our own write... which the write id recognises (a success), unless the
    // read-back is lost too: then it is OutcomeUnknown. Never "refused", never a panic.
    let every_drop = FaultRates {
        drop: 1.0,
        ..FaultRates::NONE
    };
    let proxy = Proxy::start(&s.url, every_drop, 7, DELAY).await;
    let d: S3Dict<u64> = faulty(&s, &proxy, &prefix, caps, false).await;
    let r = tokio::time::timeout(
        HANG,
        d.put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never),
    )
    .await
    .expect("hung");
    let err = r.expect_err("no answer ever reaches the client");
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert!(err.to_string().contains("may or may not"), "{err}");
    assert_eq!(
        plain.get_opt(&k).await.unwrap(),
        Some(1),
        "the write did land"
    );
    drop(proxy);

    // Every answer a 503 SlowDown: nothing ran, so the error says so (not OutcomeUnknown).
    let every_503 = FaultRates {
        slowdown: 1.0,
        ..FaultRates::NONE
    };
    let proxy = Proxy::start(&s.url, every_503, 8, DELAY).await;
    let d: S3Dict<u64> = faulty(&s, &proxy, &prefix, caps, false).await;
    let e = plain.etag(&k).await.unwrap();
    let err = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            Some(&e),
            Retrieve::Never,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Backend { .. }), "{err:?}");
    assert!(err.to_string().contains("SlowDown"), "{err}");
    assert_eq!(plain.get_opt(&k).await.unwrap(), Some(1), "not applied");
    let counts = proxy.counts();
    assert_eq!(counts.slowdown, counts.requests, "{counts}");
    assert_eq!(counts.requests, 5, "the configured attempts: {counts}");
    drop(proxy);

    // Every answer held past the timeout: the write lands, the client never hears.
    let every_delay = FaultRates {
        delay: 1.0,
        ..FaultRates::NONE
    };
    let proxy = Proxy::start(&s.url, every_delay, 9, DELAY).await;
    let d: S3Dict<u64> = faulty(&s, &proxy, &prefix, caps, false).await;
    let e = plain.etag(&k).await.unwrap();
    let err = d
        .put_if(
            &k,
            Write::Value(3),
            Condition::Same,
            Some(&e),
            Retrieve::Never,
        )
        .await
        .unwrap_err();
    assert!(err.is_outcome_unknown(), "{err:?}");
    assert_eq!(plain.get_opt(&k).await.unwrap(), Some(3), "it landed");
    // Reads fail with a typed timeout error once the SDK's retries are spent.
    let err = d.get_opt(&k).await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_retryable(), "{err:?}");
    drop(proxy);
    plain.clear().await.unwrap();
}
