//! Soak: 16 tasks run a random mix of every operation, a fixed number each, on SeaweedFS
//! and on files. Each task owns its keys (a subdictionary of its own), so a per-task
//! model of what was acknowledged must equal the final state exactly; all tasks also
//! increment one shared counter with `transform`, which must equal the number of
//! acknowledged increments. Every operation runs under a generous hang detector. Open file
//! descriptors and resident memory must come back to their starting level (after a warm-up
//! run) within [`FD_MARGIN`] and [`RSS_MARGIN`]; the figures are printed.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{FileDict, Result};

const TASKS: u64 = 16;
const OPS_PER_TASK: u64 = 60;
/// Keys per task.
const KEYS: u64 = 6;
/// A hang detector per operation, not a speed check.
const HANG: Duration = Duration::from_secs(60);
/// Open file descriptors may exceed the starting count by this much afterwards (a
/// connection pool winding down, a log file).
const FD_MARGIN: usize = 8;
/// Resident memory may exceed the starting level by this much afterwards (the allocator
/// keeps freed pages).
const RSS_MARGIN: u64 = 64 << 20;

/// The two soak tests measure the whole process: one at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    pages * page
}

async fn guarded<T>(what: &str, op: impl Future<Output = Result<T>>) -> T {
    match tokio::time::timeout(HANG, op).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e}"),
        Err(_) => panic!("{what} hung for {HANG:?}"),
    }
}

fn key(i: u64) -> Key {
    Key::try_from(format!("k{i}").as_str()).expect("a valid key")
}

/// One task: `OPS_PER_TASK` random operations on its own subdictionary `d`, checked
/// against its model as it goes; increments of the shared counter on `root` are counted in
/// `increments`. Returns the model.
async fn task(
    t: u64,
    root: PersiDict<u64>,
    d: PersiDict<u64>,
    increments: Arc<AtomicU64>,
) -> BTreeMap<u64, u64> {
    let mut rng = fastrand::Rng::with_seed(0x50a6 + t);
    let mut model: BTreeMap<u64, u64> = BTreeMap::new();
    let shared = Key::try_from("shared").expect("key");
    for step in 0..OPS_PER_TASK {
        let i = rng.u64(0..KEYS);
        let k = key(i);
        let v = t * 1_000_000 + step;
        let op = rng.u32(0..19);
        let what = format!("task {t} step {step} op {op} on k{i}");
        let w = what.as_str();
        match op {
            0 => assert_eq!(
                guarded(w, d.get_opt(&k)).await,
                model.get(&i).copied(),
                "{w}"
            ),
            1 => {
                guarded(w, d.put(&k, v)).await;
                model.insert(i, v);
            }
            2 => {
                let r = tokio::time::timeout(HANG, d.delete(&k)).await.expect(w);
                match r {
                    Ok(()) => assert!(model.remove(&i).is_some(), "{w}: deleted an absent key"),
                    Err(e) if e.is_not_found() => assert!(!model.contains_key(&i), "{w}"),
                    Err(e) => panic!("{w}: {e}"),
                }
            }
            3 => {
                let removed = guarded(w, d.discard(&k)).await;
                assert_eq!(removed, model.remove(&i).is_some(), "{w}");
            }
            4 => {
                // Insert-if-absent through put_if.
                let out = guarded(
                    w,
                    d.put_if(&k, Write::Value(v), Condition::Same, None, Retrieve::Never),
                )
                .await;
                assert_eq!(out.satisfied, !model.contains_key(&i), "{w}");
                if out.satisfied {
                    model.insert(i, v);
                }
            }
            5 => {
                let out = guarded(
                    w,
                    d.setdefault_if(&k, v, Condition::Any, None, Retrieve::Always),
                )
                .await;
                let before = model.get(&i).copied();
                let now = *model.entry(i).or_insert(v);
                match out.value {
                    Slot::Present(got) => assert_eq!(got, now, "{w}"),
                    other => panic!("{w}: {other:?} (before: {before:?})"),
                }
            }
            6 => {
                let out = guarded(w, d.discard_if(&k, Condition::Any, None)).await;
                assert!(out.satisfied, "{w}");
                assert_eq!(out.actual_etag.is_some(), model.remove(&i).is_some(), "{w}");
            }
            7 => {
                let got =
                    guarded(w, d.transform(&k, |cur| Write::Value(cur.unwrap_or(0) + 1))).await;
                let n = model.get(&i).copied().unwrap_or(0) + 1;
                model.insert(i, n);
                assert_eq!(got.value, Some(n), "{w}");
            }
            8 => {
                let inserted = guarded(w, d.insert(&k, v)).await;
                assert_eq!(inserted, !model.contains_key(&i), "{w}");
                model.entry(i).or_insert(v);
            }
            9 => {
                // Compare-and-swap with the current ETag (succeeds) or a wrong one (refused,
                // handing back the current value).
                let current = guarded(w, d.get_with_etag(&k)).await;
                assert_eq!(current.as_ref().map(|c| c.0), model.get(&i).copied(), "{w}");
                let wrong = ETag::new("\"00000000000000000000000000000000\"");
                let expected = match (&current, rng.bool()) {
                    (Some((_, e)), true) => Some(e.clone()),
                    (None, true) => None,
                    (_, false) => Some(wrong),
                };
                let right = expected.as_ref() == current.as_ref().map(|c| &c.1);
                let r = guarded(w, d.compare_and_swap(&k, expected.as_ref(), Some(v))).await;
                match r {
                    Ok(_) => {
                        assert!(right, "{w}: a wrong ETag was accepted");
                        model.insert(i, v);
                    }
                    Err(conflict) => {
                        assert!(!right, "{w}: the right ETag was refused");
                        assert_eq!(conflict.current, model.get(&i).copied(), "{w}");
                    }
                }
            }
            10 => {
                let r = tokio::time::timeout(HANG, d.pop(&k)).await.expect(w);
                match r {
                    Ok(got) => assert_eq!(Some(got), model.remove(&i), "{w}"),
                    Err(e) if e.is_not_found() => assert!(!model.contains_key(&i), "{w}"),
                    Err(e) => panic!("{w}: {e}"),
                }
            }
            11 => assert_eq!(
                guarded(w, d.contains(&k)).await,
                model.contains_key(&i),
                "{w}"
            ),
            12 => assert_eq!(guarded(w, d.len()).await, model.len(), "{w}"),
            13 => {
                let mut keys = guarded(w, d.keys().try_collect::<Vec<_>>()).await;
                keys.sort();
                let mut expected: Vec<Key> = model.keys().map(|i| key(*i)).collect();
                expected.sort();
                assert_eq!(keys, expected, "{w}");
            }
            14 => {
                let mut values = guarded(w, d.values().try_collect::<Vec<_>>()).await;
                values.sort_unstable();
                let mut expected: Vec<u64> = model.values().copied().collect();
                expected.sort_unstable();
                assert_eq!(values, expected, "{w}");
            }
            15 => {
                let keys: Vec<Key> = (0..KEYS).map(key).collect();
                let got = guarded(w, d.get_many(&keys)).await;
                let expected: Vec<Option<u64>> =
                    (0..KEYS).map(|i| model.get(&i).copied()).collect();
                assert_eq!(got, expected, "{w}");
            }
            16 => {
                let items: Vec<(Key, u64)> = (0..3)
                    .map(|j| (key((i + j) % KEYS), v + j * 100_000))
                    .collect();
                guarded(w, d.put_many(items)).await;
                for j in 0..3 {
                    model.insert((i + j) % KEYS, v + j * 100_000);
                }
            }
            17 => {
                let keys: Vec<Key> = [i, (i + 1) % KEYS].iter().map(|i| key(*i)).collect();
                guarded(w, d.delete_many(&keys)).await;
                model.remove(&i);
                model.remove(&((i + 1) % KEYS));
            }
            _ => {
                let done = guarded(
                    w,
                    root.transform(&shared, |n| Write::Value(n.unwrap_or(0) + 1)),
                )
                .await;
                assert!(done.value.is_some(), "{w}");
                increments.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    model
}

/// Runs the soak on `root` and checks the final state against the models.
async fn soak(name: &str, root: PersiDict<u64>) {
    let increments = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let sub = root.subdict(&Key::try_from(format!("t{t}").as_str()).expect("key"));
        handles.push(tokio::spawn(task(
            t,
            root.clone(),
            sub,
            Arc::clone(&increments),
        )));
    }
    let mut models = Vec::new();
    for h in handles {
        models.push(h.await.expect("a task panicked"));
    }
    let ops = TASKS * OPS_PER_TASK;
    eprintln!(
        "{name}: {ops} operations by {TASKS} tasks in {:?}",
        start.elapsed()
    );
    for (t, model) in models.iter().enumerate() {
        let sub = root.subdict(&Key::try_from(format!("t{t}").as_str()).expect("key"));
        let state: BTreeMap<Key, u64> = sub.items().try_collect().await.expect("items");
        let expected: BTreeMap<Key, u64> = model.iter().map(|(i, v)| (key(*i), *v)).collect();
        assert_eq!(state, expected, "{name}: task {t}'s keys");
    }
    let counter = root
        .get_opt(&Key::try_from("shared").expect("key"))
        .await
        .expect("counter");
    assert_eq!(
        counter.unwrap_or(0),
        increments.load(Ordering::Relaxed),
        "{name}: every acknowledged increment is in, once"
    );
}

/// Warm-up, baseline, soak, and the resource check, for dictionaries made by `make`.
async fn soak_with_resources<F, Fut>(name: &str, make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = PersiDict<u64>>,
{
    let _serial = SERIAL.lock().await;
    // Warm-up: the first dictionary loads what stays loaded (TLS roots, the SDK's
    // configuration, the runtime's threads).
    {
        let d = make().await;
        let k = Key::try_from("warm").expect("key");
        d.put(&k, 1).await.expect("warm-up put");
        d.discard(&k).await.expect("warm-up discard");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (fds0, rss0) = (open_fds(), rss_bytes());
    {
        let root = make().await;
        soak(name, root.clone()).await;
        let during = (open_fds(), rss_bytes());
        eprintln!(
            "{name}: during: {} fds, {} MiB resident",
            during.0,
            during.1 >> 20
        );
        root.clear().await.expect("clear");
    }
    // Let the connection pool close its idle connections.
    let mut fds1 = open_fds();
    for _ in 0..20 {
        if fds1 <= fds0 + FD_MARGIN {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        fds1 = open_fds();
    }
    let rss1 = rss_bytes();
    eprintln!(
        "{name}: fds {fds0} -> {fds1} (margin {FD_MARGIN}), resident {} -> {} MiB (margin {} MiB)",
        rss0 >> 20,
        rss1 >> 20,
        RSS_MARGIN >> 20
    );
    assert!(
        fds1 <= fds0 + FD_MARGIN,
        "{name}: file descriptors leak: {fds0} -> {fds1}"
    );
    assert!(
        rss1 <= rss0 + RSS_MARGIN,
        "{name}: resident memory grew: {rss0} -> {rss1}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_soak_every_operation_matches_the_model() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    soak_with_resources("seaweedfs", || async {
        let d: persidict::S3Dict<u64> = common::open(&s, "soak").await;
        d.into_dict()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_soak_every_operation_matches_the_model() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().to_owned();
    soak_with_resources("file", || {
        let path = path.join(format!("soak-{:08x}", fastrand::u32(..)));
        async move {
            let d: FileDict<u64> = FileDict::builder(path).build().await.expect("FileDict");
            d.into_dict()
        }
    })
    .await;
}
