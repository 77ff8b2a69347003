//! FileDict-specific behaviour beyond the contract suite: races between tasks and between
//! OS processes, foreign and corrupt files, size limits, readers during rewrites, layout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{FileDictBuilder, Value};
use sha2::{Digest, Sha256};

fn key(path: &str) -> Key {
    Key::parse_path(path).expect("a valid test key")
}

async fn open<V: Value>(dir: &Path) -> FileDict<V> {
    FileDict::builder(dir)
        .build()
        .await
        .expect("a FileDict in a temporary directory")
}

/// Every regular file under `dir`, relative, `/`-separated, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).expect("read_dir") {
            let e = e.expect("dir entry");
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).expect("under the root");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Files under `dir` that are not lock stripes.
fn data_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|f| !f.starts_with(".persidict#locks/"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// (a) Tasks racing in one process

const TASKS: u64 = 8;

/// 8 tasks, each on its own `FileDict` handle on one directory, increment one key with
/// `transform`: no update is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_tasks_racing_transform_lose_no_update() {
    let tmp = tempfile::tempdir().unwrap();
    const ROUNDS: u64 = 30;
    let k = key("counter/hits");
    let mut tasks = Vec::new();
    for _ in 0..TASKS {
        let d: FileDict<u64> = open(tmp.path()).await;
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                let _t = d
                    .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                    .await
                    .expect("transform");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let d: FileDict<u64> = open(tmp.path()).await;
    assert_eq!(d.get(&k).await.unwrap(), TASKS * ROUNDS);
}

/// 8 tasks race `put_if(Same, None)` and 8 race `setdefault_if` on fresh keys, over several
/// keys: exactly one winner each time, and the stored value is the winner's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_tasks_racing_inserts_have_one_winner() {
    let tmp = tempfile::tempdir().unwrap();
    for round in 0..10 {
        let put_key = key(&format!("race/put-{round}"));
        let sd_key = key(&format!("race/sd-{round}"));
        let barrier = Arc::new(tokio::sync::Barrier::new(2 * TASKS as usize));
        let mut tasks = Vec::new();
        for i in 0..TASKS {
            let d: FileDict<u64> = open(tmp.path()).await;
            let (pk, sk, b) = (put_key.clone(), sd_key.clone(), Arc::clone(&barrier));
            let d2 = d.clone();
            let b2 = Arc::clone(&barrier);
            tasks.push(tokio::spawn(async move {
                b.wait().await;
                let out = d
                    .put_if(&pk, Write::Value(i), Condition::Same, None, Retrieve::Never)
                    .await
                    .expect("put_if");
                (false, i, out.satisfied)
            }));
            tasks.push(tokio::spawn(async move {
                b2.wait().await;
                let out = d2
                    .setdefault_if(&sk, 100 + i, Condition::Any, None, Retrieve::Always)
                    .await
                    .expect("setdefault_if");
                assert!(out.satisfied);
                (true, 100 + i, out.mutated())
            }));
        }
        let mut put_winners = Vec::new();
        let mut sd_winners = Vec::new();
        for t in tasks {
            let (sd, v, won) = t.await.expect("task");
            if won {
                if sd {
                    sd_winners.push(v);
                } else {
                    put_winners.push(v);
                }
            }
        }
        let d: FileDict<u64> = open(tmp.path()).await;
        assert_eq!(put_winners.len(), 1, "round {round}: {put_winners:?}");
        assert_eq!(sd_winners.len(), 1, "round {round}: {sd_winners:?}");
        assert_eq!(d.get(&put_key).await.unwrap(), put_winners[0]);
        assert_eq!(d.get(&sd_key).await.unwrap(), sd_winners[0]);
    }
}

/// Writers and deleters of different keys in one directory: deletes remove the emptied
/// directory while writers are about to create files in it; every write must still land.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_deletes_removing_directories_do_not_break_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<u64> = open(tmp.path()).await;
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let k = key(&format!("shared/dir/k{t}"));
            for i in 0..60 {
                d.put(&k, i).await.expect("put while others delete");
                assert_eq!(d.get(&k).await.expect("get"), i);
                assert!(d.discard(&k).await.expect("discard"));
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert!(d.is_empty().await.unwrap());
    assert_eq!(
        files_under(tmp.path())
            .iter()
            .filter(|f| !f.starts_with(".persidict#locks/"))
            .count(),
        0
    );
    // The emptied directories were removed.
    let left: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with(".persidict#locks"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

// ---------------------------------------------------------------------------------------
// (b) OS processes racing on one directory

const CHILD_DIR: &str = "PERSIDICT_FILE_CHILD_DIR";
const CHILD_ID: &str = "PERSIDICT_FILE_CHILD_ID";
const PROCESSES: u64 = 4;
const PROCESS_ROUNDS: u64 = 25;
const RACE_KEYS: u64 = 10;

/// Several processes (this test binary re-run as children) increment one key with
/// `transform` and race insert-if-absent on fresh keys: exact total, one winner per key.
#[tokio::test]
async fn file_processes_racing_lose_no_update() {
    if std::env::var(CHILD_DIR).is_ok() {
        return; // this is a child's own run of the test binary
    }
    let tmp = tempfile::tempdir().unwrap();
    let go = tmp.path().join("go.signal");
    let mut children = Vec::new();
    for id in 0..PROCESSES {
        let child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "file_child_worker", "--nocapture"])
            .env(CHILD_DIR, tmp.path())
            .env(CHILD_ID, id.to_string())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        children.push(child);
    }
    // Start them together: the children wait for this file (a foreign file to the dict).
    std::fs::write(&go, b"go").unwrap();
    let mut winners: Vec<Vec<u64>> = vec![Vec::new(); RACE_KEYS as usize];
    let mut sd_winners: Vec<Vec<u64>> = vec![Vec::new(); RACE_KEYS as usize];
    for (id, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("child done"),
            "child {id} failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for line in stdout.lines() {
            if let Some(rest) = line.strip_prefix("won put ") {
                winners[rest.parse::<usize>().unwrap()].push(id as u64);
            }
            if let Some(rest) = line.strip_prefix("won setdefault ") {
                sd_winners[rest.parse::<usize>().unwrap()].push(id as u64);
            }
        }
    }
    let d: FileDict<u64> = open(tmp.path()).await;
    assert_eq!(
        d.get(&key("xproc/counter")).await.unwrap(),
        PROCESSES * PROCESS_ROUNDS,
        "lost updates across processes"
    );
    for r in 0..RACE_KEYS as usize {
        assert_eq!(
            winners[r].len(),
            1,
            "put_if winners of key {r}: {winners:?}"
        );
        assert_eq!(
            d.get(&key(&format!("xproc/put/{r}"))).await.unwrap(),
            winners[r][0]
        );
        assert_eq!(sd_winners[r].len(), 1, "setdefault winners of key {r}");
        assert_eq!(
            d.get(&key(&format!("xproc/sd/{r}"))).await.unwrap(),
            sd_winners[r][0]
        );
    }
    assert_eq!(d.len().await.unwrap(), 1 + 2 * RACE_KEYS as usize);
}

/// Runs only as a child of `file_processes_racing_lose_no_update`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_child_worker() {
    let (Ok(dir), Ok(id)) = (std::env::var(CHILD_DIR), std::env::var(CHILD_ID)) else {
        return; // not spawned as a child: nothing to do
    };
    let id: u64 = id.parse().unwrap();
    let dir = PathBuf::from(dir);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !dir.join("go.signal").exists() {
        assert!(Instant::now() < deadline, "no start signal");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let d: FileDict<u64> = open(&dir).await;
    let counter = key("xproc/counter");
    for r in 0..PROCESS_ROUNDS {
        let _t = d
            .transform(&counter, |n| Write::Value(n.unwrap_or(0) + 1))
            .await
            .expect("transform");
        if r < RACE_KEYS {
            let out = d
                .put_if(
                    &key(&format!("xproc/put/{r}")),
                    Write::Value(id),
                    Condition::Same,
                    None,
                    Retrieve::Never,
                )
                .await
                .expect("put_if");
            if out.satisfied {
                println!("won put {r}");
            }
            let out = d
                .setdefault_if(
                    &key(&format!("xproc/sd/{r}")),
                    id,
                    Condition::Any,
                    None,
                    Retrieve::Never,
                )
                .await
                .expect("setdefault_if");
            if out.mutated() {
                println!("won setdefault {r}");
            }
        }
    }
    println!("child done");
}

// ---------------------------------------------------------------------------------------
// (c) Foreign, temporary, other-codec and corrupt files

#[tokio::test]
async fn file_foreign_files_are_skipped() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let d: FileDict<u64> = open(root).await;
    let mine = key("dir/mine");
    d.put(&mine, 1).await.unwrap();
    d.put(&key("top"), 2).await.unwrap();
    let json: FileDict<u64> = FileDict::builder(root)
        .codec(Codec::Json)
        .build()
        .await
        .unwrap();
    json.put(&key("dir/mine"), 3).await.unwrap();

    let signed_dir = data_files(root)
        .into_iter()
        .find(|f| f.ends_with(".bincode") && f.contains('/'))
        .unwrap();
    let sub = &signed_dir[..signed_dir.find('/').unwrap()];
    let foreign = [
        "plain.bincode".to_owned(),
        "top_zzzz.bincode".to_owned(),
        format!("{sub}/mine_zzzz.bincode"),
        format!("{sub}/x.txt"),
        format!("{sub}/.persidict#0123456789abcdef.tmp"),
        ".persidict#0123456789abcdef.tmp".to_owned(),
        "unsigned/a_xxxx.bincode".to_owned(),
        "a/b/c.txt".to_owned(),
        "mine_".to_owned(),
        ".persidict#locks/notes.bincode".to_owned(),
    ];
    for f in &foreign {
        let p = root.join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, b"junk").unwrap();
    }
    let mut keys: Vec<Key> = d.keys().try_collect().await.unwrap();
    keys.sort();
    assert_eq!(keys, vec![mine.clone(), key("top")]);
    assert_eq!(d.len().await.unwrap(), 2);
    let mut values: Vec<u64> = d.values().try_collect().await.unwrap();
    values.sort();
    assert_eq!(values, vec![1, 2]);
    assert_eq!(d.subdicts().await.unwrap(), vec!["dir".to_owned()]);
    // The JSON dictionary sees only its own entry, and the bincode one is untouched by it.
    let json_keys: Vec<Key> = json.keys().try_collect().await.unwrap();
    assert_eq!(json_keys, vec![mine.clone()]);
    assert_eq!(json.get(&mine).await.unwrap(), 3);
    assert_eq!(d.get(&mine).await.unwrap(), 1);
    // clear removes only the dictionary's own files.
    d.clear().await.unwrap();
    assert!(d.is_empty().await.unwrap());
    let left = data_files(root);
    for f in &foreign {
        if !f.starts_with(".persidict#locks/") {
            assert!(left.contains(f), "clear removed a foreign file {f}");
        }
    }
    assert_eq!(json.get(&mine).await.unwrap(), 3);
}

#[tokio::test]
async fn file_corrupt_files_are_decode_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<String> = open(tmp.path()).await;
    let k = key("doc");
    d.put(&k, "a value long enough to cut in half".to_owned())
        .await
        .unwrap();
    let files = data_files(tmp.path());
    assert_eq!(files.len(), 1);
    let path = tmp.path().join(&files[0]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    match d.get(&k).await {
        Err(Error::Decode { key, codec, .. }) => {
            assert_eq!(key, k);
            assert_eq!(codec, "bincode");
        }
        other => panic!("a truncated file must be a Decode error, got {other:?}"),
    }
    std::fs::write(&path, [0xff; 16]).unwrap();
    assert!(matches!(d.get(&k).await, Err(Error::Decode { .. })));
    // It is still listed (it has our name) and can be replaced or removed.
    assert_eq!(d.len().await.unwrap(), 1);
    let e = d.etag(&k).await.unwrap();
    let out = d
        .put_if(
            &k,
            Write::Value("fixed".into()),
            Condition::Same,
            Some(&e),
            Retrieve::Never,
        )
        .await
        .unwrap();
    assert!(out.satisfied);
    assert_eq!(d.get(&k).await.unwrap(), "fixed");
}

/// The ETag is the quoted hex SHA-256 of the file's bytes, and changes with them.
#[tokio::test]
async fn file_etag_is_the_content_hash() {
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<u64> = open(tmp.path()).await;
    let k = key("a/b");
    let e1 = d.put(&k, 7).await.unwrap();
    let path = tmp.path().join(&data_files(tmp.path())[0]);
    let hash = format!("\"{:x}\"", Sha256::digest(std::fs::read(&path).unwrap()));
    assert_eq!(e1.as_str(), hash);
    // A change behind the dictionary's back changes the ETag: a stale CAS is refused.
    std::fs::write(&path, [8u8]).unwrap();
    let out = d
        .put_if(
            &k,
            Write::Value(9),
            Condition::Same,
            Some(&e1),
            Retrieve::Always,
        )
        .await
        .unwrap();
    assert!(!out.satisfied);
    assert_eq!(out.value, Slot::Present(8));
    assert_ne!(out.actual_etag.as_ref(), Some(&e1));
    assert_eq!(d.get(&k).await.unwrap(), 8);
}

// ---------------------------------------------------------------------------------------
// (d) Size limits

#[tokio::test]
async fn file_values_over_the_limit_are_refused_and_store_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let small: FileDict<Vec<u8>> = FileDict::builder(tmp.path())
        .max_value_size(100)
        .build()
        .await
        .unwrap();
    let k = key("big");
    let big = vec![7u8; 1000];
    let too_large = |r: persidict::Result<()>| match r {
        Err(Error::ValueTooLarge {
            key: named,
            size,
            max,
        }) => {
            assert_eq!(named, key("big"));
            assert!(size > 100, "{size}");
            assert_eq!(max, 100);
        }
        other => panic!("expected ValueTooLarge, got {other:?}"),
    };
    too_large(small.put(&k, big.clone()).await.map(drop));
    too_large(
        small
            .put_if(
                &k,
                Write::Value(big.clone()),
                Condition::Any,
                None,
                Retrieve::Never,
            )
            .await
            .map(drop),
    );
    too_large(small.setdefault(&k, big.clone()).await.map(drop));
    assert!(
        data_files(tmp.path()).is_empty(),
        "{:?}",
        data_files(tmp.path())
    );
    assert!(!small.contains(&k).await.unwrap());

    // Written by a dictionary with a larger limit, refused on read.
    let large: FileDict<Vec<u8>> = open(tmp.path()).await;
    large.put(&k, big.clone()).await.unwrap();
    too_large(small.get(&k).await.map(drop));
    too_large(small.get_with_etag(&k).await.map(drop));
    // Metadata and ETags need no more memory than a read buffer: no limit for them.
    let meta = small.head(&k).await.unwrap().expect("present");
    assert!(meta.size > 1000);
    assert_eq!(small.etag(&k).await.unwrap(), large.etag(&k).await.unwrap());
    assert_eq!(large.get(&k).await.unwrap(), big);
    small.put(&key("small"), vec![1, 2, 3]).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// (e) Readers during rewrites

/// A writer rewrites a 512 KiB value over and over; readers never see a partial or mixed
/// value, and the ETag they get always belongs to the value they get.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_readers_never_see_partial_values() {
    const SIZE: usize = 512 << 10;
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<Vec<u8>> = FileDict::builder(tmp.path())
        .codec(Codec::Raw)
        .build()
        .await
        .unwrap();
    let k = key("large");
    d.put(&k, vec![0u8; SIZE]).await.unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (d, k, done) = (d.clone(), k.clone(), Arc::clone(&done));
        readers.push(tokio::spawn(async move {
            let mut reads = 0u32;
            while !done.load(Ordering::Relaxed) || reads == 0 {
                let (v, etag) = d.get_with_etag(&k).await.unwrap().expect("always present");
                assert_eq!(v.len(), SIZE, "a partial value");
                let first = v[0];
                assert!(v.iter().all(|b| *b == first), "a mixed value");
                let hash = format!("\"{:x}\"", Sha256::digest(&v));
                assert_eq!(etag.as_str(), hash, "the ETag belongs to the value read");
                reads += 1;
            }
            reads
        }));
    }
    for round in 1..=30u8 {
        d.put(&k, vec![round; SIZE]).await.unwrap();
    }
    done.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.await.unwrap() > 0);
    }
    assert_eq!(d.get(&k).await.unwrap(), vec![30u8; SIZE]);
    // No temporary file is left behind.
    assert_eq!(data_files(tmp.path()).len(), 1);
}

// ---------------------------------------------------------------------------------------
// Layout and description

#[tokio::test]
async fn file_layout_mirrors_object_names() {
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<u64> = FileDict::builder(tmp.path().join("new/nested"))
        .digest_len(0)
        .codec(Codec::Json)
        .build()
        .await
        .unwrap();
    assert!(d.dir().is_absolute());
    assert!(d.dir().ends_with("new/nested"));
    d.put(&key("users/42/profile"), 5).await.unwrap();
    assert_eq!(
        data_files(d.dir()),
        vec!["users/42/profile.json".to_owned()]
    );
    assert_eq!(
        std::fs::read_to_string(d.dir().join("users/42/profile.json")).unwrap(),
        "5"
    );
    let info = d.info();
    assert_eq!(info.backend, "file");
    assert_eq!(info.location, format!("file://{}", d.dir().display()));
    let sub = d.subdict(&key("users"));
    assert_eq!(
        sub.info().location,
        format!("file://{}/users", d.dir().display())
    );
    assert_eq!(sub.dir(), d.dir());
    assert_eq!(sub.get(&key("42/profile")).await.unwrap(), 5);

    // Signed names by default.
    let signed: FileDict<u64> = open(&tmp.path().join("signed")).await;
    signed.put(&key("users/42"), 1).await.unwrap();
    let names = data_files(signed.dir());
    assert_eq!(names.len(), 1);
    let n = &names[0];
    assert!(
        n.starts_with("users_") && n.contains("/42_") && n.ends_with(".bincode"),
        "{n}"
    );
    assert!(format!("{d:?}").contains("FileDict"));

    // A path that is a file is not a directory.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let builder: FileDictBuilder = FileDict::builder(&file);
    let err = builder.build::<u64>().await.unwrap_err();
    assert!(
        matches!(err, Error::Io { .. } | Error::Config(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn file_append_only_refuses_overwrites_and_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let d: FileDict<u64> = FileDict::builder(tmp.path())
        .append_only(true)
        .build()
        .await
        .unwrap();
    let k = key("log/1");
    d.put(&k, 1).await.unwrap();
    assert!(matches!(d.put(&k, 2).await, Err(Error::AppendOnly { .. })));
    assert!(matches!(d.clear().await, Err(Error::AppendOnly { .. })));
    assert!(matches!(d.discard(&k).await, Err(Error::AppendOnly { .. })));
    assert_eq!(d.get(&k).await.unwrap(), 1);
}
