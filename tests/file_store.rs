//! `FileStore` through the `ObjectStore` trait only: every precondition of write and
//! delete, conditional and size-limited reads, listings by any prefix (and what they skip),
//! batch deletes, names that would escape the root, and real races between tasks.

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use futures::TryStreamExt;
use persidict::file::store::FileStore;
use persidict::store::{
    Capabilities, DeleteCondition, DeleteResult, ObjectStore, Read, ReadOptions, WriteCondition,
    WriteResult,
};
use persidict::{ETag, Error};
use sha2::{Digest, Sha256};

const BIN: &str = "application/octet-stream";

async fn open(dir: &Path) -> FileStore {
    FileStore::open(dir)
        .await
        .expect("a FileStore in a temporary directory")
}

fn sha_etag(bytes: &[u8]) -> ETag {
    ETag::new(format!("\"{:x}\"", Sha256::digest(bytes)))
}

async fn put(store: &FileStore, name: &str, body: &[u8], condition: WriteCondition) -> WriteResult {
    store
        .write(name, Bytes::copy_from_slice(body), BIN, condition)
        .await
        .expect("a write")
}

async fn written(store: &FileStore, name: &str, body: &[u8]) -> ETag {
    match put(store, name, body, WriteCondition::Always).await {
        WriteResult::Written(etag) => etag,
        WriteResult::Refused => panic!("an unconditional write of {name} was refused"),
    }
}

async fn body(store: &FileStore, name: &str) -> Option<Vec<u8>> {
    match store
        .read(name, ReadOptions::default())
        .await
        .expect("a read")
    {
        Read::Found(object) => Some(object.body.to_vec()),
        Read::Absent => None,
        other => panic!("unexpected answer for {name}: {other:?}"),
    }
}

async fn names(store: &FileStore, prefix: &str) -> BTreeSet<String> {
    let metas: Vec<_> = store.list(prefix).try_collect().await.expect("a listing");
    metas.into_iter().map(|m| m.name).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn file_store_write_preconditions_refuse_and_apply_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;

    // IfMatch on an absent name is refused and creates nothing.
    let refused = put(
        &store,
        "a/x.bin",
        b"v0",
        WriteCondition::IfMatch("\"x\"".into()),
    )
    .await;
    assert_eq!(refused, WriteResult::Refused);
    assert_eq!(body(&store, "a/x.bin").await, None);
    assert!(
        !tmp.path().join("a").exists(),
        "a refused write made a directory"
    );

    // IfAbsent on an absent name writes; the ETag is the quoted hex SHA-256.
    let first = put(&store, "a/x.bin", b"v1", WriteCondition::IfAbsent).await;
    assert_eq!(first, WriteResult::Written(sha_etag(b"v1")));
    let WriteResult::Written(e1) = first else {
        unreachable!()
    };
    assert_eq!(e1.as_str().len(), 66);

    // IfAbsent on a present name is refused and leaves the bytes alone.
    let again = put(&store, "a/x.bin", b"other", WriteCondition::IfAbsent).await;
    assert_eq!(again, WriteResult::Refused);
    assert_eq!(body(&store, "a/x.bin").await.as_deref(), Some(&b"v1"[..]));

    // IfMatch with another ETag is refused; with the current one it writes.
    let wrong = put(
        &store,
        "a/x.bin",
        b"v2",
        WriteCondition::IfMatch(sha_etag(b"v0")),
    )
    .await;
    assert_eq!(wrong, WriteResult::Refused);
    assert_eq!(body(&store, "a/x.bin").await.as_deref(), Some(&b"v1"[..]));
    let swapped = put(
        &store,
        "a/x.bin",
        b"v2",
        WriteCondition::IfMatch(e1.clone()),
    )
    .await;
    assert_eq!(swapped, WriteResult::Written(sha_etag(b"v2")));
    assert_eq!(body(&store, "a/x.bin").await.as_deref(), Some(&b"v2"[..]));

    // The old ETag no longer matches.
    let stale = put(&store, "a/x.bin", b"v3", WriteCondition::IfMatch(e1)).await;
    assert_eq!(stale, WriteResult::Refused);

    // Always overwrites; the same bytes give the same ETag, as on S3.
    assert_eq!(written(&store, "a/x.bin", b"v1").await, sha_etag(b"v1"));
    assert_eq!(written(&store, "a/x.bin", b"v1").await, sha_etag(b"v1"));

    // No temporary file is left behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path().join("a"))
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("x.bin")]);
}

#[tokio::test]
async fn file_store_delete_preconditions_refuse_and_apply_exactly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let name = "d/e/f.bin";

    // On an absent name: Always deletes (nothing), IfExists and IfMatch are refused.
    let always = store
        .delete(name, DeleteCondition::Always)
        .await
        .expect("delete");
    assert_eq!(always, DeleteResult::Deleted);
    let if_exists = store
        .delete(name, DeleteCondition::IfExists)
        .await
        .expect("delete");
    assert_eq!(if_exists, DeleteResult::Refused);
    let if_match = store
        .delete(name, DeleteCondition::IfMatch(sha_etag(b"x")))
        .await;
    assert_eq!(if_match.expect("delete"), DeleteResult::Refused);

    // IfMatch with another ETag is refused and the file survives.
    let etag = written(&store, name, b"x").await;
    let wrong = store
        .delete(name, DeleteCondition::IfMatch(sha_etag(b"y")))
        .await;
    assert_eq!(wrong.expect("delete"), DeleteResult::Refused);
    assert_eq!(body(&store, name).await.as_deref(), Some(&b"x"[..]));

    // IfMatch with the current ETag deletes, and the emptied directories go too.
    let right = store.delete(name, DeleteCondition::IfMatch(etag)).await;
    assert_eq!(right.expect("delete"), DeleteResult::Deleted);
    assert_eq!(body(&store, name).await, None);
    assert!(
        !tmp.path().join("d").exists(),
        "empty directories were left"
    );

    // IfExists on a present name deletes; Always on a present name deletes.
    written(&store, name, b"x").await;
    let if_exists = store
        .delete(name, DeleteCondition::IfExists)
        .await
        .expect("delete");
    assert_eq!(if_exists, DeleteResult::Deleted);
    assert_eq!(store.head(name).await.expect("head"), None);
    written(&store, name, b"x").await;
    written(&store, "d/keep.bin", b"k").await;
    let always = store
        .delete(name, DeleteCondition::Always)
        .await
        .expect("delete");
    assert_eq!(always, DeleteResult::Deleted);
    assert_eq!(store.head(name).await.expect("head"), None);
    // A directory that still holds a file stays.
    assert!(tmp.path().join("d").is_dir());
    assert!(!tmp.path().join("d/e").exists());
}

#[tokio::test]
async fn file_store_read_honours_if_none_match_and_max_size() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let read = |name: &'static str, options: ReadOptions| {
        let store = store.clone();
        async move { store.read(name, options).await.expect("a read") }
    };

    assert_eq!(read("r.bin", ReadOptions::default()).await, Read::Absent);
    let etag = written(&store, "r.bin", b"0123456789").await;

    let Read::Found(object) = read("r.bin", ReadOptions::default()).await else {
        panic!("not found")
    };
    assert_eq!(&object.body[..], b"0123456789");
    assert_eq!(object.etag(), Some(&etag));
    assert_eq!(object.meta.name, "r.bin");
    assert_eq!(object.meta.size, 10);

    // The current ETag: not modified. Another one: the body.
    let same = ReadOptions {
        if_none_match: Some(etag.clone()),
        max_size: None,
    };
    assert_eq!(
        read("r.bin", same).await,
        Read::NotModified { etag: etag.clone() }
    );
    let other = ReadOptions {
        if_none_match: Some(sha_etag(b"else")),
        max_size: None,
    };
    assert!(matches!(read("r.bin", other).await, Read::Found(_)));

    // The size limit: at the limit the body comes, below it TooLarge with the size.
    let at_limit = ReadOptions {
        if_none_match: None,
        max_size: Some(10),
    };
    assert!(matches!(read("r.bin", at_limit).await, Read::Found(_)));
    let below = ReadOptions {
        if_none_match: None,
        max_size: Some(9),
    };
    assert_eq!(read("r.bin", below).await, Read::TooLarge { size: 10 });
    // An unchanged object is not modified whatever its size; a changed one is too large.
    let unchanged_large = ReadOptions {
        if_none_match: Some(etag.clone()),
        max_size: Some(3),
    };
    assert_eq!(
        read("r.bin", unchanged_large).await,
        Read::NotModified { etag: etag.clone() }
    );
    let changed_large = ReadOptions {
        if_none_match: Some(sha_etag(b"else")),
        max_size: Some(3),
    };
    assert_eq!(
        read("r.bin", changed_large).await,
        Read::TooLarge { size: 10 }
    );

    // head reports the same ETag and size; a directory is not an object.
    let meta = store.head("r.bin").await.expect("head").expect("present");
    assert_eq!((meta.etag, meta.size), (Some(etag), 10));
    written(&store, "dir/inner.bin", b"i").await;
    assert_eq!(read("dir", ReadOptions::default()).await, Read::Absent);
    assert_eq!(store.head("dir").await.expect("head"), None);
}

#[tokio::test]
async fn file_store_lists_by_directory_and_partial_prefixes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    for name in [
        "a/b/c.bin",
        "a/b/d.bin",
        "a/bc.bin",
        "a/bd/e.bin",
        "ab.bin",
        "x/y.bin",
    ] {
        written(&store, name, name.as_bytes()).await;
    }
    let all = set(&[
        "a/b/c.bin",
        "a/b/d.bin",
        "a/bc.bin",
        "a/bd/e.bin",
        "ab.bin",
        "x/y.bin",
    ]);
    assert_eq!(names(&store, "").await, all);
    assert_eq!(
        names(&store, "a/").await,
        set(&["a/b/c.bin", "a/b/d.bin", "a/bc.bin", "a/bd/e.bin"])
    );
    assert_eq!(
        names(&store, "a/b/").await,
        set(&["a/b/c.bin", "a/b/d.bin"])
    );
    assert_eq!(
        names(&store, "a/b").await,
        set(&["a/b/c.bin", "a/b/d.bin", "a/bc.bin", "a/bd/e.bin"])
    );
    assert_eq!(names(&store, "a/bd").await, set(&["a/bd/e.bin"]));
    assert_eq!(
        names(&store, "a").await,
        set(&["a/b/c.bin", "a/b/d.bin", "a/bc.bin", "a/bd/e.bin", "ab.bin"])
    );
    assert_eq!(names(&store, "a/b/c").await, set(&["a/b/c.bin"]));
    assert_eq!(names(&store, "a/b/c.bin").await, set(&["a/b/c.bin"]));
    assert_eq!(names(&store, "zz").await, set(&[]));
    assert_eq!(names(&store, "q/r/").await, set(&[]));
    // Prefixes no valid name starts with list nothing (and never leave the root).
    for bad in ["../", "/", "a//", "./a", "../a/b"] {
        assert_eq!(names(&store, bad).await, set(&[]), "{bad:?}");
    }

    // Listings report size and modification time, not the ETag.
    let metas: Vec<_> = store.list("x/").try_collect().await.expect("a listing");
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].etag, None);
    assert_eq!(metas[0].size, "x/y.bin".len() as u64);
    assert!(metas[0].last_modified > std::time::UNIX_EPOCH);
}

#[tokio::test]
async fn file_store_listing_skips_temporary_lock_and_foreign_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    written(&store, "k/v.bin", b"v").await;
    // The write made the lock directory; a crashed writer leaves a temporary file.
    assert!(tmp.path().join(".persidict#locks").is_dir());
    std::fs::write(tmp.path().join("k/.persidict#0123456789abcdef.tmp"), b"t").expect("tmp");
    std::fs::write(tmp.path().join(".persidict#feedbeef.tmp"), b"t").expect("tmp");
    // A directory with no files in it lists nothing.
    std::fs::create_dir_all(tmp.path().join("empty/deeper")).expect("mkdir");

    #[cfg(unix)]
    {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        // Names that are not UTF-8 cannot be object names.
        let foreign = OsStr::from_bytes(b"caf\xe9.bin");
        std::fs::write(tmp.path().join(foreign), b"f").expect("foreign file");
        std::fs::write(tmp.path().join("k").join(foreign), b"f").expect("foreign file");
        std::fs::create_dir(tmp.path().join(OsStr::from_bytes(b"d\xff"))).expect("foreign dir");
        std::fs::write(tmp.path().join(OsStr::from_bytes(b"d\xff/in.bin")), b"f").expect("in");
        // A symbolic link to a file is listed (and read); one to a directory is not followed.
        std::os::unix::fs::symlink(tmp.path().join("k/v.bin"), tmp.path().join("link.bin"))
            .expect("symlink");
        std::os::unix::fs::symlink(tmp.path().join("k"), tmp.path().join("dirlink"))
            .expect("symlink");
        assert_eq!(names(&store, "").await, set(&["k/v.bin", "link.bin"]));
        assert_eq!(body(&store, "link.bin").await.as_deref(), Some(&b"v"[..]));
    }
    #[cfg(not(unix))]
    assert_eq!(names(&store, "").await, set(&["k/v.bin"]));

    assert_eq!(names(&store, "k/").await, set(&["k/v.bin"]));
    assert_eq!(names(&store, ".persidict#").await, set(&[]));
    assert_eq!(names(&store, ".persidict#locks/").await, set(&[]));
}

#[tokio::test]
async fn file_store_delete_many_removes_present_and_ignores_absent() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    for name in ["m/1.bin", "m/2.bin", "m/n/3.bin", "keep.bin"] {
        written(&store, name, b"x").await;
    }
    let doomed = ["m/1.bin", "m/2.bin", "m/n/3.bin", "never/was.bin"];
    store
        .delete_many(doomed.iter().map(|s| s.to_string()).collect())
        .await
        .expect("delete_many");
    assert_eq!(names(&store, "").await, set(&["keep.bin"]));
    assert!(
        !tmp.path().join("m").exists(),
        "empty directories were left"
    );
    store
        .delete_many(Vec::new())
        .await
        .expect("nothing to delete");

    // One bad name refuses the whole batch before anything is deleted.
    let batch = vec!["keep.bin".to_string(), "../escape".to_string()];
    let refused = store.delete_many(batch).await;
    assert!(matches!(refused, Err(Error::Config(_))), "{refused:?}");
    assert_eq!(names(&store, "").await, set(&["keep.bin"]));
}

#[tokio::test]
async fn file_store_refuses_names_that_escape_the_root_or_reach_its_own_files() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().join("root");
    let store = open(&root).await;
    written(&store, "inside.bin", b"i").await;
    let bad = [
        "../x",
        "../root/inside.bin",
        "/etc/passwd",
        "a/../../x",
        "",
        "a//b",
        "a\\..\\..\\x",
        ".persidict#locks/00.lock",
        "a/.persidict#1234.tmp",
    ];
    for name in bad {
        let config = |r: Result<(), Error>| matches!(r, Err(Error::Config(_)));
        let write = store.write(name, Bytes::from_static(b"x"), BIN, WriteCondition::Always);
        assert!(config(write.await.map(drop)), "write {name:?}");
        let read = store.read(name, ReadOptions::default()).await;
        assert!(config(read.map(drop)), "read {name:?}");
        assert!(config(store.head(name).await.map(drop)), "head {name:?}");
        let delete = store.delete(name, DeleteCondition::Always).await;
        assert!(config(delete.map(drop)), "delete {name:?}");
        let many = store.delete_many(vec![name.to_string()]).await;
        assert!(config(many), "delete_many {name:?}");
    }
    // Nothing was written outside the root, and the store's own files are intact.
    let beside: Vec<_> = std::fs::read_dir(tmp.path())
        .expect("read_dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("root")]);
    assert_eq!(body(&store, "inside.bin").await.as_deref(), Some(&b"i"[..]));
}

#[tokio::test]
async fn file_store_open_info_and_capabilities() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let nested = tmp.path().join("one/two/three");
    let store = open(&nested).await;
    assert!(
        nested.is_dir(),
        "open creates the directory and its parents"
    );
    let canonical = std::fs::canonicalize(&nested).expect("canonicalize");
    assert_eq!(store.dir(), canonical);
    let info = store.info();
    assert_eq!(info.backend, "file");
    assert_eq!(info.location, format!("file://{}", canonical.display()));
    assert_eq!(info.max_name_len, 1024);
    assert!(!info.append_only);
    assert_eq!(store.capabilities().await.expect("caps"), Capabilities::ALL);

    // A second store on the same directory sees the first one's objects.
    written(&store, "shared.bin", b"s").await;
    let again = open(&nested).await;
    assert_eq!(body(&again, "shared.bin").await.as_deref(), Some(&b"s"[..]));

    // A path that is a file is not a directory.
    let file = tmp.path().join("plain");
    std::fs::write(&file, b"p").expect("plain file");
    let not_dir = FileStore::open(&file).await;
    assert!(
        matches!(not_dir, Err(Error::Config(_)) | Err(Error::Io { .. })),
        "{not_dir:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_race_if_absent_has_exactly_one_winner() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    for round in 0..5 {
        let name = format!("race/{round}.bin");
        let tasks: Vec<_> = (0..8u8)
            .map(|i| {
                let store = store.clone();
                let name = name.clone();
                tokio::spawn(async move {
                    let r = store
                        .write(
                            &name,
                            Bytes::from(vec![i; 64]),
                            BIN,
                            WriteCondition::IfAbsent,
                        )
                        .await
                        .expect("a write");
                    (i, r)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            let (i, result) = task.await.expect("the task");
            if let WriteResult::Written(etag) = result {
                winners.push((i, etag));
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let (winner, etag) = &winners[0];
        assert_eq!(body(&store, &name).await, Some(vec![*winner; 64]));
        assert_eq!(
            store
                .head(&name)
                .await
                .expect("head")
                .and_then(|m| m.etag)
                .as_ref(),
            Some(etag)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn file_store_race_if_match_increments_lose_no_update() {
    const TASKS: u64 = 8;
    const EACH: u64 = 10;
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path()).await;
    let name = "counter/n.txt";
    assert!(matches!(
        put(&store, name, b"0", WriteCondition::IfAbsent).await,
        WriteResult::Written(_)
    ));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut refusals = 0u64;
                for _ in 0..EACH {
                    loop {
                        let Read::Found(object) = store
                            .read(name, ReadOptions::default())
                            .await
                            .expect("a read")
                        else {
                            panic!("the counter vanished");
                        };
                        let n: u64 = std::str::from_utf8(&object.body)
                            .expect("utf-8")
                            .parse()
                            .expect("a number");
                        let etag = object.meta.etag.expect("read reports the ETag");
                        let next = Bytes::from((n + 1).to_string());
                        match store
                            .write(name, next, "text/plain", WriteCondition::IfMatch(etag))
                            .await
                            .expect("a write")
                        {
                            WriteResult::Written(_) => break,
                            WriteResult::Refused => refusals += 1,
                        }
                    }
                }
                refusals
            })
        })
        .collect();
    let mut refusals = 0;
    for task in tasks {
        refusals += task.await.expect("the task");
    }
    let total = body(&store, name).await.expect("the counter");
    assert_eq!(
        String::from_utf8(total).expect("utf-8"),
        (TASKS * EACH).to_string(),
        "lost updates ({refusals} refusals)"
    );
}
