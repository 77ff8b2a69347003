//! Crash safety of the file backend: writer processes (this test binary re-executed as
//! children) are killed with `SIGKILL` at random moments, round after round, while they
//! write, compare-and-swap and delete random keys. Afterwards:
//! - every key reads back a whole value that some writer wrote (values carry the writer's
//!   id and a checksum of themselves);
//! - listing and count agree with what reads find;
//! - a new write to every key succeeds at once (no lock is left held: the dictionary is
//!   reopened with a short lock timeout);
//! - no temporary file is left after the next open.
//!
//! Also here: bounded lock waits ([`Error::LockTimeout`]) and the rule that opening removes
//! only the temporary files of writers that are gone.

#![cfg(unix)]

use std::collections::BTreeSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use persidict::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const CHILD_DIR: &str = "PERSIDICT_CRASH_CHILD_DIR";
const CHILD_ID: &str = "PERSIDICT_CRASH_CHILD_ID";
const ROUNDS: u32 = 40;
const WRITERS: u32 = 3;
const KEYS: u32 = 12;

/// A value that tells who wrote it and whether it is whole.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stamped {
    writer: u32,
    seq: u64,
    payload: Vec<u8>,
    checksum: Vec<u8>,
}

impl Stamped {
    fn new(writer: u32, seq: u64, len: usize) -> Stamped {
        let payload: Vec<u8> = (0..len).map(|_| fastrand::u8(..)).collect();
        let checksum = Stamped::digest(writer, seq, &payload);
        Stamped {
            writer,
            seq,
            payload,
            checksum,
        }
    }

    fn digest(writer: u32, seq: u64, payload: &[u8]) -> Vec<u8> {
        let mut h = Sha256::new();
        h.update(writer.to_le_bytes());
        h.update(seq.to_le_bytes());
        h.update(payload);
        h.finalize().to_vec()
    }

    fn is_whole(&self) -> bool {
        self.checksum == Stamped::digest(self.writer, self.seq, &self.payload)
    }
}

fn key_of(i: u32) -> Key {
    // Keys one and two levels deep, so writes go to several directories.
    if i.is_multiple_of(2) {
        Key::new([format!("k{i}")]).expect("key")
    } else {
        Key::new(["deep".to_owned(), format!("k{i}")]).expect("key")
    }
}

async fn open(dir: &Path, lock_timeout: Duration) -> FileDict<Stamped> {
    FileDict::builder(dir)
        .lock_timeout(lock_timeout)
        .build()
        .await
        .expect("open the dictionary")
}

/// The temporary files anywhere under `dir`.
fn temporaries(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                walk(&path, out);
            } else if name.starts_with(".persidict#") && name.ends_with(".tmp") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out
}

fn spawn_writer(dir: &Path, id: u32) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", "file_crash_child_writer", "--nocapture"])
        .env(CHILD_DIR, dir)
        .env(CHILD_ID, id.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn a writer")
}

/// 40 rounds × 3 writer processes, each killed with `SIGKILL` at a random moment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_writers_killed_mid_write_leave_whole_values_and_no_debris() {
    if std::env::var(CHILD_DIR).is_ok() {
        return; // this is a child's own run of the test binary
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    // Made once, so that the writers find the lock directory from their first write.
    drop(open(&dir, Duration::from_secs(30)).await);
    let started = Instant::now();
    let mut kills = 0u32;
    let mut exited_early = 0u32;
    // Temporary files found at the end of each round (a kill inside a write), each removed
    // by the next round's opens.
    let mut leftovers = 0usize;
    let mut rounds_with_leftovers = 0u32;
    for round in 0..ROUNDS {
        let mut children: Vec<(Child, Duration)> = (0..WRITERS)
            .map(|w| {
                let child = spawn_writer(&dir, round * WRITERS + w);
                // Each writer dies at its own random moment: some during start-up, most
                // in the middle of a write loop.
                (child, Duration::from_millis(fastrand::u64(30..300)))
            })
            .collect();
        children.sort_by_key(|(_, at)| *at);
        let spawned = Instant::now();
        for (child, at) in &mut children {
            if let Some(wait) = at.checked_sub(spawned.elapsed()) {
                std::thread::sleep(wait);
            }
            if child.try_wait().expect("try_wait").is_some() {
                exited_early += 1;
                continue;
            }
            let pid = i32::try_from(child.id()).expect("pid");
            // SAFETY: `pid` is our own child, not yet reaped, so it names that process.
            let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
            assert_eq!(rc, 0, "kill {pid}");
            kills += 1;
        }
        for (mut child, _) in children {
            child.wait().expect("wait");
        }
        let n = temporaries(&dir).len();
        leftovers += n;
        rounds_with_leftovers += u32::from(n > 0);
    }
    println!(
        "{ROUNDS} rounds of {WRITERS} writers: {kills} killed with SIGKILL, {exited_early} had \
         exited early; {leftovers} temporary files left by killed writers in \
         {rounds_with_leftovers} rounds (each removed by a later open); {:.1?}",
        started.elapsed()
    );
    assert!(kills >= ROUNDS * WRITERS / 2, "too few kills: {kills}");

    let before = temporaries(&dir).len();
    // The next open: a short lock timeout, so that a lock left held would fail the writes
    // below instead of letting them wait.
    let d = open(&dir, Duration::from_millis(500)).await;
    let after = temporaries(&dir);
    println!(
        "temporary files before the next open: {before}; after it: {}",
        after.len()
    );
    assert!(after.is_empty(), "left after open: {after:?}");

    // Every key reads a whole value some writer wrote.
    let spawned_ids = 0..ROUNDS * WRITERS;
    let mut present = BTreeSet::new();
    for i in 0..KEYS {
        let k = key_of(i);
        if let Some(v) = d.get_opt(&k).await.expect("read after the crashes") {
            assert!(
                v.is_whole(),
                "key {k}: a torn value from writer {}",
                v.writer
            );
            assert!(
                spawned_ids.contains(&v.writer),
                "key {k}: unknown writer {}",
                v.writer
            );
            present.insert(k);
        }
    }
    let listed: BTreeSet<Key> = d.keys().try_collect().await.expect("keys");
    assert_eq!(listed, present, "listing and reads disagree");
    assert_eq!(d.len().await.expect("len"), present.len());
    println!("{} of {KEYS} keys present, all whole", present.len());

    // A new write to every key, plain and conditional, succeeds at once.
    for i in 0..KEYS {
        let k = key_of(i);
        let t = Instant::now();
        let v = Stamped::new(u32::MAX, u64::from(i), 100);
        d.put(&k, v.clone()).await.expect("put after the crashes");
        let etag = d.etag(&k).await.expect("etag");
        let out = d
            .put_if(
                &k,
                Write::Value(Stamped::new(u32::MAX, 1000 + u64::from(i), 10)),
                Condition::Same,
                Some(&etag),
                Retrieve::Never,
            )
            .await
            .expect("put_if after the crashes");
        assert!(out.satisfied && out.mutated(), "{k}: {out:?}");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{k} waited {:?}",
            t.elapsed()
        );
        assert_eq!(d.get(&k).await.expect("get").seq, 1000 + u64::from(i));
    }
    assert_eq!(d.len().await.expect("len"), KEYS as usize);
    assert!(temporaries(&dir).is_empty());
}

/// Runs only as a child of `file_writers_killed_mid_write_leave_whole_values_and_no_debris`:
/// writes, compare-and-swaps and deletes random keys until it is killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_crash_child_writer() {
    let (Ok(dir), Ok(id)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ID)) else {
        return; // not spawned as a child: nothing to do
    };
    let id: u32 = id.parse().expect("writer id");
    let d = open(Path::new(&dir), Duration::from_secs(30)).await;
    let mut tasks = Vec::new();
    // Two tasks per writer: concurrent writes within a process too.
    for task in 0..2u64 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let mut seq = task << 32;
            // Bounded, in case nobody kills us.
            for _ in 0..100_000 {
                seq += 1;
                let k = key_of(fastrand::u32(0..KEYS));
                // Up to 1 MiB, so that a kill often lands inside a write.
                let v = Stamped::new(id, seq, fastrand::usize(0..1 << 20));
                match fastrand::u8(0..10) {
                    0 => {
                        d.discard(&k).await.expect("discard");
                    }
                    1..=3 => {
                        let _ = d
                            .transform(&k, move |_| Write::Value(v.clone()))
                            .await
                            .expect("transform");
                    }
                    _ => {
                        d.put(&k, v).await.expect("put");
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("writer task");
    }
}

/// The lock stripes of `dir`, all taken (by this process, through files of its own).
fn hold_every_stripe(dir: &Path) -> Vec<File> {
    (0..64)
        .map(|n| {
            let path = dir.join(format!(".persidict#locks/{n:02}.lock"));
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .expect("open a stripe");
            f.lock().expect("lock a stripe");
            f
        })
        .collect()
}

#[tokio::test]
async fn file_lock_wait_is_bounded_by_lock_timeout() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<u64> = FileDict::builder(tmp.path())
        .lock_timeout(Duration::from_millis(300))
        .build()
        .await
        .expect("open");
    let k = Key::new(["held"]).expect("key");
    d.put(&k, 1).await.expect("put");
    let held = hold_every_stripe(tmp.path());
    let t = Instant::now();
    let err = d.put(&k, 2).await.expect_err("the lock is held");
    let waited = t.elapsed();
    match &err {
        Error::LockTimeout { lock, waited } => {
            assert!(lock.contains(".persidict#locks"), "{lock}");
            assert!(*waited >= Duration::from_millis(300), "{waited:?}");
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
    assert!(err.is_retryable());
    let message = err.to_string();
    assert!(
        message.contains("gave up waiting for the file lock"),
        "{message}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    // Conditional operations give the same error; reads take no lock.
    let cas = d
        .put_if(&k, Write::Value(3), Condition::Any, None, Retrieve::Never)
        .await;
    assert!(matches!(cas, Err(Error::LockTimeout { .. })), "{cas:?}");
    assert!(matches!(
        d.discard(&k).await,
        Err(Error::LockTimeout { .. })
    ));
    assert_eq!(d.get(&k).await.expect("get"), 1);
    drop(held);
    d.put(&k, 4).await.expect("put once the locks are free");
    assert_eq!(d.get(&k).await.expect("get"), 4);
}

#[tokio::test]
async fn file_open_removes_only_dead_writers_temporary_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<u64> = FileDict::builder(tmp.path()).build().await.expect("open");
    d.put(&Key::new(["a"]).expect("key"), 1).await.expect("put");
    let tmp_dir = tmp.path().join(".persidict#locks/tmp");
    std::fs::create_dir_all(&tmp_dir).expect("tmp dir");
    // A writer that is gone left this one; a live writer holds the lock of the other.
    let dead = tmp_dir.join(".persidict#4242-00000000deadbeef.tmp");
    let live = tmp_dir.join(".persidict#4243-00000000feedf00d.tmp");
    std::fs::write(&dead, b"half a value").expect("dead");
    std::fs::write(&live, b"a value in flight").expect("live");
    let live_file = File::open(&live).expect("open live");
    live_file.lock().expect("lock live");
    // A file that is not a temporary file is left alone.
    let other = tmp_dir.join("notes.txt");
    std::fs::write(&other, b"not ours").expect("other");

    let again: FileDict<u64> = FileDict::builder(tmp.path()).build().await.expect("reopen");
    assert!(!dead.exists(), "the dead writer's file stayed");
    assert!(live.exists(), "a live writer's file was removed");
    assert!(other.exists());
    assert_eq!(again.len().await.expect("len"), 1);

    // Once the writer is gone, the next open removes its file too.
    drop(live_file);
    let _third: FileDict<u64> = FileDict::builder(tmp.path()).build().await.expect("reopen");
    assert!(!live.exists());
}
