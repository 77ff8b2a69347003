//! Traps of the file backend, each with a test:
//! - a dictionary opened on a subdirectory of another's directory shares its locks (in
//!   either order of opening), so compare-and-swap stays atomic between them;
//! - unsigned names (`digest_len = 0`) are checked against the file system's case
//!   behaviour, with a probe that leaves nothing behind;
//! - the ETag record (`user.persidict.etag`) is used by `head`/`etag`/`contains` and by
//!   conditional writes only for the very file it was made for.

use std::path::{Path, PathBuf};
use std::time::Duration;

use persidict::prelude::*;
use sha2::{Digest, Sha256};

fn key(parts: &[&str]) -> Key {
    Key::new(parts.iter().copied()).expect("key")
}

async fn unsigned(dir: &Path, lock_timeout: Duration) -> FileDict<u64> {
    FileDict::builder(dir)
        .digest_len(0)
        .lock_timeout(lock_timeout)
        .build()
        .await
        .expect("open")
}

/// Holds every lock stripe in `root`'s lock directory, through files of this process.
fn hold_every_stripe(root: &Path) -> Vec<std::fs::File> {
    (0..64)
        .map(|n| {
            let f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(root.join(format!(".persidict#locks/{n:02}.lock")))
                .expect("open a stripe");
            f.lock().expect("lock a stripe");
            f
        })
        .collect()
}

/// `TASKS` tasks on each of the two dictionaries increment one file with `transform`.
async fn race(outer: &FileDict<u64>, outer_key: Key, inner: &FileDict<u64>, inner_key: Key) {
    const TASKS: u64 = 2;
    const ROUNDS: u64 = 30;
    outer.put(&outer_key, 0).await.expect("start");
    let mut tasks = Vec::new();
    for (d, k) in [(outer, &outer_key), (inner, &inner_key)] {
        for _ in 0..TASKS {
            let (d, k) = (d.clone(), k.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..ROUNDS {
                    let _ = d
                        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                        .await
                        .expect("transform");
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(
        outer.get(&outer_key).await.expect("get"),
        2 * TASKS * ROUNDS,
        "updates were lost between the two dictionaries"
    );
    assert_eq!(
        inner.get(&inner_key).await.expect("get"),
        2 * TASKS * ROUNDS
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_dict_on_a_subdirectory_uses_the_enclosing_dicts_locks() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let outer = unsigned(tmp.path(), Duration::from_secs(30)).await;
    let inner = unsigned(&tmp.path().join("sub"), Duration::from_millis(300)).await;
    let outer_root = outer.dir().to_path_buf();
    assert_eq!(inner.file_store().lock_root(), outer_root.as_path());
    assert_eq!(outer.file_store().lock_root(), outer_root.as_path());
    // The inner dictionary made no lock directory of its own.
    assert!(!inner.dir().join(".persidict#locks").exists());
    // Its writes wait for the enclosing dictionary's stripes.
    let held = hold_every_stripe(&outer_root);
    let refused = inner.put(&key(&["n"]), 1).await;
    assert!(
        matches!(refused, Err(Error::LockTimeout { .. })),
        "{refused:?}"
    );
    drop(held);
    race(&outer, key(&["sub", "n"]), &inner, key(&["n"])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_dict_opened_around_an_existing_subdirectory_dict_takes_its_locks_too() {
    let tmp = tempfile::tempdir().expect("tempdir");
    // The inner dictionary first: it has its own lock directory.
    let inner = unsigned(&tmp.path().join("sub"), Duration::from_secs(30)).await;
    let outer = unsigned(tmp.path(), Duration::from_millis(300)).await;
    assert_eq!(inner.file_store().lock_root(), inner.dir());
    assert_eq!(outer.file_store().lock_root(), outer.dir());
    // A write of the outer dictionary under `sub/` takes the inner one's stripe as well;
    // one elsewhere does not.
    let held = hold_every_stripe(inner.dir());
    let refused = outer.put(&key(&["sub", "n"]), 1).await;
    assert!(
        matches!(refused, Err(Error::LockTimeout { .. })),
        "{refused:?}"
    );
    outer
        .put(&key(&["elsewhere"]), 1)
        .await
        .expect("not under sub/");
    drop(held);
    race(&outer, key(&["sub", "n"]), &inner, key(&["n"])).await;
    // A third dictionary, deeper still, finds the nearest lock directory: the inner one's.
    let deeper = unsigned(&tmp.path().join("sub/deeper"), Duration::from_secs(30)).await;
    assert_eq!(deeper.file_store().lock_root(), inner.dir());
    race(&outer, key(&["sub", "deeper", "m"]), &deeper, key(&["m"])).await;
}

#[tokio::test]
async fn file_unsigned_dict_opens_on_a_case_sensitive_file_system_and_the_probe_leaves_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d = unsigned(tmp.path(), Duration::from_secs(30)).await;
    let entries: Vec<String> = std::fs::read_dir(tmp.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, vec![".persidict#locks".to_owned()]);
    // This machine's file system tells case apart: two keys, two files.
    d.put(&key(&["Report"]), 1).await.expect("put");
    d.put(&key(&["report"]), 2).await.expect("put");
    assert_eq!(d.get(&key(&["Report"])).await.expect("get"), 1);
    assert_eq!(d.get(&key(&["report"])).await.expect("get"), 2);
    assert_eq!(d.len().await.expect("len"), 2);
    // The URL opener takes the same path.
    let url = format!("file://{}?digest_len=0", tmp.path().display());
    let opened = persidict::open::<u64>(&url).await.expect("open by URL");
    drop(opened);
}

/// The ETag of `bytes`, as the file backend reports it.
fn etag_of(bytes: &[u8]) -> String {
    format!("\"{:x}\"", Sha256::digest(bytes))
}

/// The one file under `dir` that is not the store's own.
fn data_file(dir: &Path) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

#[cfg(target_os = "linux")]
mod attr {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    const NAME: &std::ffi::CStr = c"user.persidict.etag";

    fn c_path(path: &Path) -> CString {
        CString::new(path.as_os_str().as_bytes()).expect("path")
    }

    pub fn get(path: &Path) -> Option<Vec<u8>> {
        let p = c_path(path);
        let mut buf = [0u8; 512];
        // SAFETY: NUL-terminated strings; the kernel writes at most `buf.len()` bytes.
        let n = unsafe {
            libc::getxattr(
                p.as_ptr(),
                NAME.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        usize::try_from(n).ok().map(|n| buf[..n].to_vec())
    }

    pub fn set(path: &Path, value: &[u8]) {
        let p = c_path(path);
        // SAFETY: NUL-terminated strings; the kernel reads `value.len()` bytes.
        let rc = unsafe {
            libc::setxattr(
                p.as_ptr(),
                NAME.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        assert_eq!(rc, 0, "setxattr: {}", std::io::Error::last_os_error());
    }

    pub fn remove(path: &Path) {
        let p = c_path(path);
        // SAFETY: NUL-terminated strings.
        let rc = unsafe { libc::removexattr(p.as_ptr(), NAME.as_ptr()) };
        assert_eq!(rc, 0, "removexattr: {}", std::io::Error::last_os_error());
    }
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn file_writes_record_the_etag_and_head_reads_it_back() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<Vec<u8>> = FileDict::builder(tmp.path()).build().await.expect("open");
    let k = key(&["v"]);
    let etag = d.put(&k, vec![7; 1000]).await.expect("put");
    let file = data_file(tmp.path());
    let bytes = std::fs::read(&file).expect("read");
    assert_eq!(etag.as_str(), etag_of(&bytes));
    let record = String::from_utf8(attr::get(&file).expect("a record")).expect("utf-8");
    assert!(
        record.starts_with("v1 ") && record.ends_with(etag.as_str()),
        "{record}"
    );
    assert_eq!(d.etag(&k).await.expect("etag"), etag);
    assert!(d.contains(&k).await.expect("contains"));
    let head = d.head(&k).await.expect("head").expect("present");
    assert_eq!(head.etag, Some(etag.clone()));
    assert_eq!(head.size, bytes.len() as u64);
    // A conditional read of the current ETag is answered from the record.
    let same = d
        .get_if(&k, Condition::Same, Some(&etag), Retrieve::IfChanged)
        .await
        .expect("get_if");
    assert!(
        same.satisfied && matches!(same.value, Slot::NotRetrieved),
        "{same:?}"
    );
    assert_eq!(same.actual_etag.as_ref(), Some(&etag));

    // A file without a record (written by an older version, or copied): hashed, and the
    // record made for next time.
    attr::remove(&file);
    assert_eq!(d.etag(&k).await.expect("etag"), etag);
    let again = String::from_utf8(attr::get(&file).expect("recorded again")).expect("utf-8");
    assert_eq!(again, record);
    // A record that is not ours is ignored.
    attr::set(&file, b"v1 garbage");
    assert_eq!(d.etag(&k).await.expect("etag"), etag);
    attr::set(&file, format!("v1 1 2 3 4 {}", etag_of(b"x")).as_bytes());
    assert_eq!(d.etag(&k).await.expect("etag"), etag);
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn file_etag_record_is_not_trusted_for_a_file_someone_else_changed() {
    use std::io::{Seek, Write as _};

    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<Vec<u8>> = FileDict::builder(tmp.path()).build().await.expect("open");
    let k = key(&["v"]);
    let old = d.put(&k, vec![1; 1000]).await.expect("put");
    let file = data_file(tmp.path());
    let mut bytes = std::fs::read(&file).expect("read");
    let record = attr::get(&file).expect("a record");

    // Edited in place by another program, same size (the inode and the record stay; the
    // modification time moves). Waits out the file system's timestamp granularity first.
    std::thread::sleep(Duration::from_millis(50));
    let last = bytes.len() - 1;
    bytes[last] = 2;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open");
    f.seek(std::io::SeekFrom::Start(0)).expect("seek");
    f.write_all(&bytes).expect("write in place");
    drop(f);
    let edited = etag_of(&bytes);
    // A conditional read naming the old ETag sees the edit and gets the new bytes.
    let changed = d
        .get_if(&k, Condition::Changed, Some(&old), Retrieve::IfChanged)
        .await
        .expect("get_if");
    assert!(changed.satisfied, "{changed:?}");
    match &changed.value {
        Slot::Present(v) => assert_eq!(v.last(), Some(&2)),
        other => panic!("expected the edited value, got {other:?}"),
    }
    assert_eq!(d.etag(&k).await.expect("etag").as_str(), edited);
    // A compare-and-swap against the old ETag is refused: it sees the edit.
    let cas = d
        .put_if(
            &k,
            Write::Value(vec![3]),
            Condition::Same,
            Some(&old),
            Retrieve::Never,
        )
        .await
        .expect("put_if");
    assert!(!cas.satisfied, "{cas:?}");
    assert_eq!(
        cas.actual_etag.as_ref().map(ETag::as_str),
        Some(edited.as_str())
    );

    // Replaced by another file of the same size and modification time, even carrying the
    // old record: the inode differs, so it is hashed.
    let modified = std::fs::metadata(&file)
        .expect("stat")
        .modified()
        .expect("mtime");
    bytes[last] = 4;
    let other = tmp.path().join("replacement");
    std::fs::write(&other, &bytes).expect("write");
    let f = std::fs::File::options()
        .write(true)
        .open(&other)
        .expect("open");
    f.set_modified(modified).expect("set mtime");
    drop(f);
    attr::set(&other, &record);
    std::fs::rename(&other, &file).expect("replace");
    assert_eq!(d.etag(&k).await.expect("etag").as_str(), etag_of(&bytes));
    assert_eq!(d.get(&k).await.expect("get").len(), 1000);
}

#[tokio::test]
async fn file_url_lock_timeout_ms_bounds_the_lock_wait() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = format!("file://{}?lock_timeout_ms=200", tmp.path().display());
    let d = persidict::open::<u64>(&url).await.expect("open by URL");
    let held = hold_every_stripe(tmp.path());
    let t = std::time::Instant::now();
    let refused = d.put(&key(&["k"]), 1).await;
    assert!(
        matches!(refused, Err(Error::LockTimeout { .. })),
        "{refused:?}"
    );
    assert!(t.elapsed() >= Duration::from_millis(200) && t.elapsed() < Duration::from_secs(5));
    drop(held);
    d.put(&key(&["k"]), 1).await.expect("put once free");
    let bad = persidict::open::<u64>(&format!("{url}0x")).await;
    assert!(matches!(bad, Err(Error::Config(_))), "{bad:?}");
}
