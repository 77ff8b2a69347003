//! Real races on one key: several tasks in each of several OS processes (this test binary
//! re-executed as children) race with `transform`, `put_if(Same)`, `setdefault_if` and
//! `discard_if` on SeaweedFS and moto, and on memory (tasks only). At the end:
//! - the `transform` counter holds every increment's id exactly once;
//! - the `put_if(Same)` compare-and-swap counter equals the number of increments;
//! - every insert-if-absent key has exactly one winner, whose value is stored;
//! - every compare-and-delete of a shared ETag has exactly one winner;
//! - an append-only log written by all (each writer claims the next free sequence number
//!   with `setdefault_if`) has contiguous sequence numbers and every entry exactly once:
//!   nothing lost, nothing overwritten.
//!
//! Sizing: SeaweedFS makes the losers of a same-key race wait for their 412 (about 1-2 s
//! each beyond 2-4 concurrent writers), so its race uses 3 processes × 4 tasks = 12 writers
//! with only 4 operations each (about 10 s on a 2-core machine); moto answers losers at
//! once and gets 5 operations each; memory runs 16 tasks × 25 in one process. rclone ignores conditional headers: there the same operations must be typed
//! `Unsupported` errors, not races.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use persidict::prelude::*;
use persidict::{Capability, RetryPolicy, S3Dict};

/// One race's size.
#[derive(Debug, Clone, Copy)]
struct Size {
    processes: u32,
    tasks: u32,
    /// Operations per task for the counters and the log.
    per_task: u32,
    /// Shared keys for the insert-if-absent and compare-and-delete races.
    keys: u32,
}

const SEAWEEDFS: Size = Size {
    processes: 3,
    tasks: 4,
    per_task: 4,
    keys: 3,
};
const MOTO: Size = Size {
    processes: 3,
    tasks: 4,
    per_task: 5,
    keys: 4,
};
const MEMORY: Size = Size {
    processes: 1,
    tasks: 16,
    per_task: 25,
    keys: 8,
};

/// Retries enough for a long same-key race.
const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 1000,
    base_backoff: Duration::from_millis(2),
    max_backoff: Duration::from_millis(100),
};

type Dict = PersiDict<Vec<u32>>;

fn op_id(process: u32, task: u32, i: u32) -> u32 {
    process * 1_000_000 + task * 1000 + i
}

fn key(parts: &[&str]) -> Key {
    Key::new(parts.iter().copied()).unwrap()
}

/// What one process's tasks won.
#[derive(Debug, Default)]
struct Wins {
    /// (shared key index, winner id) of insert-if-absent.
    inserted: Vec<(u32, u32)>,
    /// Shared key indexes whose compare-and-delete this process won.
    deleted: Vec<u32>,
}

/// One task's share of every race.
async fn task(
    d: Dict,
    log: Dict,
    process: u32,
    t: u32,
    size: Size,
    gone_etags: Vec<ETag>,
) -> Result<Wins, Error> {
    let mut wins = Wins::default();
    let counter = key(&["counter"]);
    let cas = key(&["cas"]);
    for i in 0..size.per_task {
        // transform: append this increment's id.
        let id = op_id(process, t, i);
        let _ = d
            .transform_with(&counter, POLICY, move |v| {
                let mut v = v.unwrap_or_default();
                v.push(id);
                Write::Value(v)
            })
            .await?;
        // A hand-written compare-and-swap loop with put_if(Same).
        loop {
            let (n, etag) = match d.get_with_etag(&cas).await? {
                Some((v, e)) => (v.first().copied().unwrap_or(0), Some(e)),
                None => (0, None),
            };
            let out = d
                .put_if(
                    &cas,
                    Write::Value(vec![n + 1]),
                    Condition::Same,
                    etag.as_ref(),
                    Retrieve::Never,
                )
                .await?;
            if out.satisfied {
                assert!(out.mutated());
                break;
            }
            tokio::time::sleep(POLICY.backoff(1 + fastrand::u32(0..4))).await;
        }
    }
    for j in 0..size.keys {
        let id = op_id(process, t, j);
        let k = key(&["once", &j.to_string()]);
        let out = d
            .setdefault_if(&k, vec![id], Condition::Same, None, Retrieve::Always)
            .await?;
        if out.satisfied {
            assert!(out.mutated() && out.actual_etag.is_none(), "{out:?}");
            wins.inserted.push((j, id));
        } else {
            // The loser sees the winner's value.
            assert!(matches!(out.value, Slot::Present(_)), "{out:?}");
        }
        let k = key(&["gone", &j.to_string()]);
        let out = d
            .discard_if(&k, Condition::Same, Some(&gone_etags[j as usize]))
            .await?;
        if out.satisfied {
            assert!(out.mutated(), "{out:?}");
            wins.deleted.push(j);
        } else {
            assert_eq!(out.actual_etag, None, "only a delete can have won");
        }
    }
    // The append-only log: claim the next free sequence number.
    let mut seq = 0u32;
    for i in 0..size.per_task {
        let entry = vec![process, t, i];
        loop {
            let k = key(&["log", &format!("{seq:08}")]);
            let out = log
                .setdefault_if(&k, entry.clone(), Condition::Same, None, Retrieve::Never)
                .await?;
            seq += 1;
            if out.satisfied {
                break;
            }
        }
    }
    Ok(wins)
}

/// One process's tasks, started together at `start`.
async fn run_process(
    d: Dict,
    log: Dict,
    process: u32,
    size: Size,
    gone_etags: Vec<ETag>,
    start: SystemTime,
) -> Wins {
    if let Ok(wait) = start.duration_since(SystemTime::now()) {
        tokio::time::sleep(wait).await;
    }
    let handles: Vec<_> = (0..size.tasks)
        .map(|t| {
            tokio::spawn(task(
                d.clone(),
                log.clone(),
                process,
                t,
                size,
                gone_etags.clone(),
            ))
        })
        .collect();
    let mut wins = Wins::default();
    for h in handles {
        let w = h
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("a racing task failed: {e}"));
        wins.inserted.extend(w.inserted);
        wins.deleted.extend(w.deleted);
    }
    wins
}

/// Checks the end state after every process finished.
async fn check(d: &Dict, log: &Dict, size: Size, wins: &Wins, what: &str) {
    let writers = size.processes * size.tasks;
    let total = writers * size.per_task;
    let all_ids: BTreeSet<u32> = (0..size.processes)
        .flat_map(|p| {
            (0..size.tasks).flat_map(move |t| (0..size.per_task).map(move |i| op_id(p, t, i)))
        })
        .collect();

    let v = d.get(&key(&["counter"])).await.unwrap();
    let distinct: BTreeSet<u32> = v.iter().copied().collect();
    assert_eq!(
        v.len(),
        distinct.len(),
        "{what}: a transform was doubled: {v:?}"
    );
    assert_eq!(distinct, all_ids, "{what}: a transform was lost");
    assert_eq!(
        d.get(&key(&["cas"])).await.unwrap(),
        vec![total],
        "{what}: put_if(Same) counter"
    );

    let mut winners: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (j, id) in &wins.inserted {
        winners.entry(*j).or_default().push(*id);
    }
    for j in 0..size.keys {
        let w = winners.get(&j).cloned().unwrap_or_default();
        let stored = d.get_opt(&key(&["once", &j.to_string()])).await.unwrap();
        assert_eq!(
            w.len(),
            1,
            "{what}: once/{j} winners {w:?}, stored {stored:?}"
        );
        assert_eq!(
            d.get(&key(&["once", &j.to_string()])).await.unwrap(),
            w,
            "{what}"
        );
        let deleted = wins.deleted.iter().filter(|k| **k == j).count();
        assert_eq!(deleted, 1, "{what}: gone/{j} compare-and-delete winners");
        assert!(!d.contains(&key(&["gone", &j.to_string()])).await.unwrap());
    }

    let mut entries: Vec<(Key, Vec<u32>)> = futures::TryStreamExt::try_collect(log.items())
        .await
        .unwrap();
    entries.sort();
    let seqs: Vec<String> = entries.iter().map(|(k, _)| k.parts()[1].clone()).collect();
    let expected: Vec<String> = (0..total).map(|n| format!("{n:08}")).collect();
    assert_eq!(
        seqs, expected,
        "{what}: log sequence numbers are contiguous"
    );
    let mut logged: Vec<Vec<u32>> = entries.into_iter().map(|(_, v)| v).collect();
    logged.sort();
    let mut wanted: Vec<Vec<u32>> = (0..size.processes)
        .flat_map(|p| {
            (0..size.tasks).flat_map(move |t| (0..size.per_task).map(move |i| vec![p, t, i]))
        })
        .collect();
    wanted.sort();
    assert_eq!(logged, wanted, "{what}: every log entry exactly once");
    println!(
        "{what}: {} processes x {} tasks: {total} transforms, {total} CAS increments, {} insert-if-absent and {} compare-and-delete races, {total} log appends: exact",
        size.processes, size.tasks, size.keys, size.keys
    );
}

const CHILD_ENV: &str = "PERSIDICT_RACE_CHILD";

/// The log lives in an append-only dictionary under its own prefix.
fn log_prefix(prefix: &str) -> String {
    format!("{prefix}-log")
}

async fn s3_dicts(endpoint: &str, prefix: &str, create: bool) -> (Dict, Dict) {
    let d: S3Dict<Vec<u32>> = S3Dict::builder(common::BUCKET)
        .endpoint_url(endpoint)
        .region("us-east-1")
        .root_prefix(prefix)
        .create_bucket(create)
        .build()
        .await
        .unwrap();
    let log: S3Dict<Vec<u32>> = S3Dict::builder(common::BUCKET)
        .endpoint_url(endpoint)
        .region("us-east-1")
        .root_prefix(log_prefix(prefix))
        .append_only(true)
        .build()
        .await
        .unwrap();
    (d.into(), log.into())
}

/// Creates the keys for the compare-and-delete race; their ETags.
async fn prepare(d: &Dict, size: Size) -> Vec<ETag> {
    let mut etags = Vec::new();
    for j in 0..size.keys {
        etags.push(
            d.put(&key(&["gone", &j.to_string()]), vec![j])
                .await
                .unwrap(),
        );
    }
    etags
}

/// Runs a race across `size.processes` OS processes on `server`.
async fn race_across_processes(server: &str, size: Size) {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let Some(s) = common::server(server) else {
        return;
    };
    let prefix = common::fresh_prefix(&format!("race-{server}"));
    let (d, log) = s3_dicts(&s.url, &prefix, true).await;
    // Probe once here, so that the race measures the operations.
    assert!(d.capabilities().await.unwrap().conditional_writes());
    let etags = prepare(&d, size).await;
    let start = SystemTime::now() + Duration::from_millis(1500);
    let start_ms = start.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let etag_list: Vec<&str> = etags.iter().map(|e| e.as_str()).collect();
    let children: Vec<_> = (1..size.processes)
        .map(|p| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "child_race_worker",
                    "--nocapture",
                    "--test-threads",
                    "1",
                ])
                .env(
                    CHILD_ENV,
                    format!(
                        "{}|{}|{}|{}|{}|{}|{}|{}|{}",
                        s.url,
                        prefix,
                        p,
                        size.processes,
                        size.tasks,
                        size.per_task,
                        size.keys,
                        start_ms,
                        etag_list.join(",")
                    ),
                )
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut wins = run_process(d.clone(), log.clone(), 0, size, etags, start).await;
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output())
            .await
            .unwrap()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("child done"),
            "child failed on {server}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines() {
            // With --nocapture the harness's "test child_race_worker ... " may share a line
            // with the child's first output: look for the marker anywhere in the line.
            let f: Vec<&str> = line.split_whitespace().collect();
            let start = f
                .iter()
                .position(|w| *w == "INSERTED" || *w == "DELETED")
                .unwrap_or(f.len());
            match &f[start..] {
                ["INSERTED", j, id] => wins
                    .inserted
                    .push((j.parse().unwrap(), id.parse().unwrap())),
                ["DELETED", j] => wins.deleted.push(j.parse().unwrap()),
                _ => {}
            }
        }
    }
    check(&d, &log, size, &wins, server).await;
    d.clear().await.unwrap();
    // The log is append-only: clear it through a plain dictionary on its prefix.
    let (plain_log, _) = s3_dicts(&s.url, &log_prefix(&prefix), false).await;
    plain_log.clear().await.unwrap();
}

/// Runs only as a child of `race_across_processes`: one process's tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_race_worker() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return; // not spawned as a child: nothing to do
    };
    let f: Vec<&str> = spec.split('|').collect();
    let n = |i: usize| -> u32 { f[i].parse().unwrap() };
    let size = Size {
        processes: n(3),
        tasks: n(4),
        per_task: n(5),
        keys: n(6),
    };
    let start = UNIX_EPOCH + Duration::from_millis(f[7].parse().unwrap());
    let etags: Vec<ETag> = f[8].split(',').map(ETag::from).collect();
    let (d, log) = s3_dicts(f[0], f[1], false).await;
    let wins = run_process(d, log, n(2), size, etags, start).await;
    println!();
    for (j, id) in wins.inserted {
        println!("INSERTED {j} {id}");
    }
    for j in wins.deleted {
        println!("DELETED {j}");
    }
    println!("child done");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_races_across_processes_are_exact() {
    race_across_processes("seaweedfs", SEAWEEDFS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_races_across_processes_are_exact() {
    race_across_processes("moto", MOTO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_races_are_exact() {
    let d: Dict = MemDict::<Vec<u32>>::new().into();
    let log: Dict = MemDict::<Vec<u32>>::new().with_append_only(true).into();
    let etags = prepare(&d, MEMORY).await;
    let wins = run_process(d.clone(), log.clone(), 0, MEMORY, etags, SystemTime::now()).await;
    check(&d, &log, MEMORY, &wins, "memory").await;
}

/// rclone ignores conditional headers: every racing operation is a typed `Unsupported`
/// error, and nothing is written.
#[tokio::test]
async fn rclone_conditional_operations_are_unsupported_not_races() {
    let Some(s) = common::server("rclone") else {
        return;
    };
    let d: S3Dict<Vec<u32>> = common::open(&s, "race-rclone").await;
    let k = key(&["counter"]);
    let unsupported = |e: Error, cap: Capability| {
        assert!(
            matches!(e, Error::Unsupported { capability, .. } if capability == cap),
            "{e:?}"
        );
    };
    unsupported(
        d.transform(&k, |v| Write::Value(v.unwrap_or_default()))
            .await
            .unwrap_err(),
        Capability::PutIfAbsent,
    );
    unsupported(
        d.setdefault_if(&k, vec![1], Condition::Same, None, Retrieve::Never)
            .await
            .unwrap_err(),
        Capability::PutIfAbsent,
    );
    let e = d.put(&k, vec![1]).await.unwrap();
    unsupported(
        d.put_if(
            &k,
            Write::Value(vec![2]),
            Condition::Same,
            Some(&e),
            Retrieve::Never,
        )
        .await
        .unwrap_err(),
        Capability::PutIfMatch,
    );
    unsupported(
        d.transform(&k, |v| Write::Value(v.unwrap_or_default()))
            .await
            .unwrap_err(),
        Capability::PutIfMatch,
    );
    unsupported(
        d.discard_if(&k, Condition::Same, Some(&e))
            .await
            .unwrap_err(),
        Capability::DeleteIfMatch,
    );
    assert_eq!(d.get(&k).await.unwrap(), vec![1], "nothing changed");
    d.clear().await.unwrap();
}
