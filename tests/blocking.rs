//! The blocking API (`persidict::blocking`) from plain threads: every method, races of
//! `transform` from several threads, lazy iterators, and the refusal inside a runtime.
#![cfg(all(feature = "blocking", feature = "s3"))]

mod common;
#[path = "common/http.rs"]
mod http;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::thread;

use persidict::blocking::{self, FileDict, MemDict, Opened, PersiDict, S3Dict};
use persidict::s3::RequestKind;
use persidict::store::{WriteCondition, WriteResult};
use persidict::{Codec, Condition, Key, Retrieve, RetryPolicy, Slot, Write};

fn key(s: &str) -> Key {
    s.parse().expect("valid key")
}

/// `threads` plain threads each add 1 to one key `per_thread` times with `transform`;
/// the count must end exact.
fn race_transform(d: &PersiDict<u64>, threads: usize, per_thread: usize) {
    let k = key("counters/hits");
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let d = d.clone();
            let k = k.clone();
            thread::spawn(move || {
                for _ in 0..per_thread {
                    let policy = RetryPolicy {
                        max_attempts: 1000,
                        ..RetryPolicy::default()
                    };
                    let t = d
                        .transform_with(&k, policy, |n| Write::Value(n.unwrap_or(0) + 1))
                        .expect("transform");
                    assert!(t.value.is_some());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(d.get(&k).expect("get"), (threads * per_thread) as u64);
}

/// Calls every method of the blocking dictionary once (the compiler checks that each
/// exists with the async signature minus `async`), and checks what each returns.
#[test]
fn blocking_memory_every_method() {
    let m = MemDict::<u64>::new();
    let d: PersiDict<u64> = m.clone().into_dict();
    let (a, b, c) = (key("a"), key("sub/b"), key("sub/c"));

    // Immediate methods.
    assert_eq!(d.info().backend, "memory");
    assert_eq!(d.options().codec, Codec::Bincode);
    assert!(d.concurrency() >= 1);
    assert!(d.object_name(&a).expect("name").starts_with("a_"));
    assert_eq!(d.store().info().backend, "memory");
    assert!(d.capabilities().expect("caps").put_if_absent);

    // Plain single-key operations.
    let e1 = d.put(&a, 1).expect("put");
    assert_eq!(d.get(&a).expect("get"), 1);
    assert_eq!(d.get_opt(&key("nope")).expect("get_opt"), None);
    assert_eq!(d.get_with_etag(&a).expect("gwe"), Some((1, e1.clone())));
    assert!(d.head(&a).expect("head").expect("present").size > 0);
    assert!(d.contains(&a).expect("contains"));
    assert_eq!(d.etag(&a).expect("etag"), e1);
    assert!(d.timestamp(&a).is_ok());
    assert!(d.get(&key("nope")).is_err());

    // Conditional operations.
    let out = d
        .get_if(&a, Condition::Same, Some(&e1), Retrieve::Always)
        .expect("get_if");
    assert_eq!(out.value, Slot::Present(1));
    let out = d
        .put_if(
            &a,
            Write::Value(2),
            Condition::Same,
            Some(&e1),
            Retrieve::Never,
        )
        .expect("put_if");
    assert!(out.satisfied && out.mutated());
    let out = d
        .setdefault_if(&a, 9, Condition::Any, None, Retrieve::Always)
        .expect("setdefault_if");
    assert_eq!(out.value, Slot::Present(2));
    let e2 = d.etag(&a).expect("etag");
    let out = d
        .discard_if(&a, Condition::Changed, Some(&e2))
        .expect("discard_if");
    assert!(!out.satisfied);
    assert_eq!(d.setdefault(&b, 5).expect("setdefault"), 5);
    assert!(d.insert(&c, 7).expect("insert"));
    assert!(!d.insert(&c, 8).expect("insert again"));
    let ec = d.etag(&c).expect("etag");
    assert!(d.delete_if(&c, &ec).expect("delete_if"));
    let swapped = d.compare_and_swap(&c, None, Some(3)).expect("cas");
    let ec = swapped.expect("absent, so swapped").expect("an etag");
    let refused = d.compare_and_swap(&c, None, Some(4)).expect("cas");
    assert_eq!(refused.expect_err("present").current, Some(3));
    let t = d
        .transform(&c, |n| Write::Value(n.unwrap_or(0) * 10))
        .expect("transform");
    assert_eq!(t.value, Some(30));
    assert_ne!(t.etag, Some(ec));
    let t = d
        .transform_with(&c, RetryPolicy::default(), |_| Write::KeepCurrent)
        .expect("transform_with");
    assert_eq!(t.value, Some(30));
    assert_eq!(d.pop(&c).expect("pop"), 30);
    assert!(!d.discard(&c).expect("discard"));
    assert!(d.delete(&c).is_err());

    // Listings and bulk operations.
    assert_eq!(d.len().expect("len"), 2);
    assert!(!d.is_empty().expect("is_empty"));
    let keys: BTreeSet<Key> = d.keys().collect::<persidict::Result<_>>().expect("keys");
    assert_eq!(keys, BTreeSet::from([a.clone(), b.clone()]));
    assert_eq!(d.list().count(), 2);
    let mut values: Vec<u64> = d
        .values()
        .collect::<persidict::Result<_>>()
        .expect("values");
    values.sort_unstable();
    assert_eq!(values, [2, 5]);
    assert_eq!(d.items().filter_map(Result::ok).count(), 2);
    assert_eq!(d.subdicts().expect("subdicts"), ["sub"]);
    assert_eq!(d.oldest_keys(1).expect("oldest").len(), 1);
    assert_eq!(d.newest_keys(5).expect("newest").len(), 2);
    assert!(d.random_key().expect("random").is_some());
    let many = [key("m/1"), key("m/2"), key("m/3")];
    d.put_many(many.iter().cloned().zip([1, 2, 3]).collect())
        .expect("put_many");
    assert_eq!(
        d.get_many(&many).expect("get_many"),
        [Some(1), Some(2), Some(3)]
    );
    assert_eq!(d.discard_many(&many[..2]).expect("discard_many"), 2);
    d.delete_many(&many).expect("delete_many");
    assert_eq!(d.get_opt(&many[2]).expect("get"), None);

    // Subdictionaries, codecs, conversions.
    let sub = d.subdict(&key("sub"));
    assert_eq!(sub.get(&key("b")).expect("get"), 5);
    assert_eq!(
        d.get_subdict(&key("sub"))
            .expect("subdict")
            .len()
            .expect("len"),
        1
    );
    assert_eq!(m.subdict(&key("sub")).get(&key("b")).expect("get"), 5);
    let json: PersiDict<String> = d.with_codec(Codec::Json);
    assert!(json.is_empty().expect("is_empty"));
    let store = Arc::clone(d.store());
    let same = PersiDict::<u64>::with_options(store, d.options()).expect("options");
    assert_eq!(same.len().expect("len"), 2);
    assert_eq!(
        PersiDict::<u64>::new(persidict::store::MemStore::new())
            .len()
            .expect("len"),
        0
    );
    let async_dict: persidict::PersiDict<u64> = d.clone().into_async();
    assert_eq!(async_dict.info(), d.as_async().info());
    let back = PersiDict::from(async_dict);
    assert_eq!(back.len().expect("len"), 2);
    assert_eq!(
        persidict::ObjectStore::info(m.mem_store()).backend,
        "memory"
    );
    let append_only = MemDict::<u64>::default().with_append_only(true);
    append_only.put(&a, 1).expect("insert");
    assert!(append_only.delete(&a).is_err());
    d.clear().expect("clear");
    assert!(d.is_empty().expect("is_empty"));
    assert!(m.is_empty().expect("shared store"));
}

/// Every public method of the async dictionary (in `src/dict/`) has a blocking twin of the
/// same name in `src/blocking/dict.rs`: a method added to one and not the other fails
/// here.
#[test]
fn blocking_memory_method_list_matches_async() {
    let async_sources = [
        include_str!("../src/dict/mod.rs"),
        include_str!("../src/dict/ops.rs"),
        include_str!("../src/dict/bulk.rs"),
        include_str!("../src/dict/transform.rs"),
        include_str!("../src/dict/order.rs"),
        include_str!("../src/dict/stream.rs"),
    ];
    // Public functions in those files that are not methods of `PersiDict`.
    let not_dict_methods = ["backoff", "into_dict"];
    let names_after = |source: &str, marker: &str| -> BTreeSet<String> {
        source
            .split(marker)
            .skip(1)
            .filter_map(|rest| {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!name.is_empty()).then_some(name)
            })
            .collect()
    };
    let mut async_methods = BTreeSet::new();
    for source in async_sources {
        async_methods.extend(names_after(source, "pub async fn "));
        async_methods.extend(names_after(source, "pub fn "));
    }
    for name in not_dict_methods {
        async_methods.remove(name);
    }
    assert!(async_methods.len() > 40, "{async_methods:?}");
    let mut blocking_methods = names_after(include_str!("../src/blocking/dict.rs"), "fn ");
    blocking_methods.extend(names_after(
        include_str!("../src/blocking/stream.rs"),
        "fn ",
    ));
    let missing: Vec<_> = async_methods.difference(&blocking_methods).collect();
    assert!(missing.is_empty(), "no blocking twin for {missing:?}");
}

#[test]
fn blocking_memory_threads_race_transform() {
    let d = MemDict::<u64>::new();
    race_transform(&d, 8, 50);
}

#[test]
fn blocking_memory_open_and_opened() {
    let d = blocking::open::<String>("mem://?codec=text").expect("open");
    assert_eq!(d.info().codec, Codec::Text);
    d.put(&key("k"), "v".into()).expect("put");
    let err = blocking::open::<String>("ftp://x").expect_err("unknown scheme");
    assert!(
        matches!(err, persidict::Error::Config(ref m) if m.contains("ftp")),
        "{err}"
    );
    match Opened::<u64>::open("mem://").expect("open") {
        Opened::Memory(m) => assert!(m.is_empty().expect("empty")),
        other => panic!("not a memory dictionary: {other:?}"),
    }
}

/// The iterators pull from the stream as they go: a consumer that stops early never sees
/// the rest, and one thread can iterate while others write.
#[test]
fn blocking_memory_iterators_are_lazy() {
    let d = MemDict::<u64>::new();
    d.put_many((0..100).map(|i| (key(&format!("k{i}")), i)).collect())
        .expect("put_many");
    let mut keys = d.keys();
    let first = keys.next().expect("one").expect("key");
    assert!(d.contains(&first).expect("contains"));
    drop(keys);
    let sum: u64 = d.values().map(|v| v.expect("value")).sum();
    assert_eq!(sum, (0..100u64).sum::<u64>());
    let it = d.items();
    let moved = thread::spawn(move || it.count()).join().expect("thread");
    assert_eq!(moved, 100);
}

#[tokio::test]
#[should_panic(
    expected = "persidict::blocking: PersiDict::get was called on a thread that is inside a tokio runtime"
)]
async fn blocking_memory_panics_inside_a_runtime() {
    let d = MemDict::<u64>::new();
    let _ = d.get(&key("k"));
}

#[test]
#[should_panic(expected = "use the async persidict::PersiDict")]
fn blocking_memory_panics_inside_block_on() {
    let d = MemDict::<u64>::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async { d.len() }).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[should_panic(expected = "PersiDict::keys was called on a thread that is inside a tokio runtime")]
async fn blocking_memory_iterator_panics_inside_a_runtime() {
    let d = MemDict::<u64>::new();
    // Making the iterator waits for nothing; pulling from it would.
    let mut keys = d.keys();
    let _ = keys.next();
}

/// `spawn_blocking` threads are inside the runtime's context too: refused, as documented.
#[tokio::test]
async fn blocking_memory_refused_in_spawn_blocking() {
    let d = MemDict::<u64>::new();
    let err = tokio::task::spawn_blocking(move || d.is_empty())
        .await
        .expect_err("the call panics");
    let panic = err.into_panic();
    let message = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    assert!(
        message.contains("PersiDict::is_empty") && message.contains("std::thread"),
        "{message}"
    );
}

/// A blocking method inside a blocking `transform`'s closure runs inside that
/// operation's `block_on`: refused too, rather than deadlocking.
#[test]
#[should_panic(
    expected = "PersiDict::contains was called on a thread that is inside a tokio runtime"
)]
fn blocking_memory_panics_when_nested_in_transform() {
    let d = MemDict::<u64>::new();
    let inner = d.clone();
    let _ = d.transform(&key("k"), |_| {
        let _ = inner.contains(&key("other"));
        Write::KeepCurrent
    });
}

/// Blocking dictionaries and iterators made and used on plain threads can be dropped
/// inside an async context (even the last clone, even mid-iteration) without a panic, and
/// the methods that wait for nothing work there.
#[tokio::test]
async fn blocking_memory_and_file_drop_inside_async_context() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let (mem, file, iter) = thread::spawn(move || {
        let mem = MemDict::<u64>::new();
        mem.put_many((0..50).map(|i| (key(&format!("k{i}")), i)).collect())
            .expect("put_many");
        let file: FileDict<u64> = FileDict::builder(dir).build().expect("build");
        file.put(&key("k"), 1).expect("put");
        let mut iter = mem.values();
        iter.next().expect("one").expect("value");
        (mem, file, iter)
    })
    .join()
    .expect("thread");
    assert_eq!(mem.info().backend, "memory");
    assert_eq!(file.subdict(&key("x")).info().backend, "file");
    // The async twin works here.
    assert_eq!(file.as_async().get(&key("k")).await.expect("get"), 1);
    drop(iter);
    drop(mem);
    drop(file);
}

#[test]
fn blocking_file_threads_race_transform() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<u64> = FileDict::builder(tmp.path()).build().expect("build");
    race_transform(&d, 6, 20);
    // A second dictionary on the same directory, racing from its own threads, stays exact.
    let other: FileDict<u64> = FileDict::builder(tmp.path()).build().expect("build");
    let k = key("counters/hits");
    let handles: Vec<_> = [d.clone().into_dict(), other.into_dict()]
        .into_iter()
        .map(|d| {
            let k = k.clone();
            thread::spawn(move || {
                for _ in 0..20 {
                    let t = d
                        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                        .expect("transform");
                    assert!(t.value.is_some());
                }
            })
        })
        .collect();
    for h in handles {
        h.join().expect("thread");
    }
    assert_eq!(d.get(&k).expect("get"), 6 * 20 + 2 * 20);
}

#[test]
fn blocking_file_builder_open_and_conversions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let d: FileDict<String> = FileDict::builder(tmp.path().join("json"))
        .codec(Codec::Json)
        .digest_len(0)
        .max_value_size(1 << 20)
        .append_only(false)
        .build()
        .expect("build");
    d.put(&key("a/b"), "v".into()).expect("put");
    assert_eq!(
        std::fs::read(tmp.path().join("json/a/b.json")).expect("file"),
        b"\"v\""
    );
    assert!(d.dir().ends_with("json"));
    assert_eq!(d.file_store().dir(), d.dir());
    assert_eq!(d.subdict(&key("a")).get(&key("b")).expect("get"), "v");

    let url = format!(
        "file://{}/json?codec=json&digest_len=0",
        tmp.path().display()
    );
    let opened = blocking::open::<String>(&url).expect("open");
    assert_eq!(opened.get(&key("a/b")).expect("get"), "v");
    match Opened::<String>::open(&url).expect("open") {
        Opened::File(f) => assert_eq!(f.dir(), d.dir()),
        other => panic!("not a file dictionary: {other:?}"),
    }

    // A bad setting is a typed error, not a panic.
    let err = FileDict::builder(tmp.path())
        .digest_len(99)
        .build::<u64>()
        .expect_err("digest_len 99");
    assert!(matches!(err, persidict::Error::Config(_)), "{err}");

    // From an async builder and an async dictionary.
    let from_builder: FileDict<String> =
        blocking::FileDictBuilder::from(persidict::FileDict::builder(tmp.path().join("json")))
            .codec(Codec::Json)
            .digest_len(0)
            .build()
            .expect("build");
    assert_eq!(from_builder.len().expect("len"), 1);
    let async_dict: persidict::FileDict<String> = from_builder.into_async();
    let again = FileDict::from(async_dict);
    assert_eq!(again.get(&key("a/b")).expect("get"), "v");
}

#[test]
fn blocking_seaweedfs_threads_race_transform() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = blocking::S3DictBuilder::from(common::builder(&s, "blocking-race"))
        .build()
        .expect("build");
    race_transform(&d, 6, 10);
    let puts = d.stats().snapshot().get(RequestKind::Put);
    assert!(puts >= 60, "at least one PUT per increment, got {puts}");
    d.clear().expect("clear");
}

/// A blocking reader streams up and down: on SeaweedFS a value over the threshold is a
/// multipart upload, and the reader gives back every byte.
#[test]
fn blocking_seaweedfs_streams_values() {
    use std::io::Read;
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<Vec<u8>> = blocking::S3DictBuilder::from(
        common::builder(&s, "blocking-stream")
            .codec(Codec::Raw)
            .multipart(persidict::s3::MultipartSettings {
                threshold: 5 << 20,
                part_size: 5 << 20,
                parts_in_flight: 2,
                ..persidict::s3::MultipartSettings::default()
            }),
    )
    .build()
    .expect("build");
    let body: Vec<u8> = (0..11 << 20).map(|i: usize| (i % 253) as u8).collect();
    let before = d.stats().snapshot();
    let written = d
        .put_reader(
            &key("big"),
            std::io::Cursor::new(body.clone()),
            "memory",
            WriteCondition::Always,
        )
        .expect("put_reader");
    assert!(matches!(written, WriteResult::Written(_)), "{written:?}");
    let used = d.stats().snapshot().since(&before);
    assert_eq!(used.get(RequestKind::UploadPart), 3);
    assert_eq!(used.get(RequestKind::CompleteUpload), 1);
    let (meta, mut reader) = d
        .get_stream(&key("big"))
        .expect("get_stream")
        .expect("present");
    assert_eq!(meta.size, body.len() as u64);
    let mut back = Vec::new();
    reader.read_to_end(&mut back).expect("read");
    assert!(back == body, "the value came back different");
    assert!(d.get_stream(&key("absent")).expect("get_stream").is_none());
}

/// Blocking streamed values on memory: chunks and readers in, a reader out; a reader that
/// fails stores nothing.
#[test]
fn blocking_memory_streams_values() {
    use std::io::Read;
    let d = MemDict::<Vec<u8>>::new().with_codec(Codec::Raw);
    let written = d
        .put_stream(
            &key("a"),
            persidict::store::chunks_from_bytes("abc"),
            WriteCondition::Always,
        )
        .expect("put_stream");
    assert!(matches!(written, WriteResult::Written(_)));
    struct Failing;
    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("the disk is gone"))
        }
    }
    let failed = d.put_reader(&key("a"), Failing, "disk.bin", WriteCondition::Always);
    assert!(
        matches!(failed, Err(persidict::Error::Io { ref path, .. }) if path == "disk.bin"),
        "{failed:?}"
    );
    let (_, mut reader) = d
        .get_stream(&key("a"))
        .expect("get_stream")
        .expect("present");
    let mut back = String::new();
    reader.read_to_string(&mut back).expect("read");
    assert_eq!(back, "abc");
}

/// The iterators over S3 pull one listing page at a time: taking the first key sends
/// one LIST, counting all of them sends one per 1000 entries.
#[test]
fn blocking_seaweedfs_iterators_pull_lazily() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> =
        blocking::S3DictBuilder::from(common::builder(&s, "blocking-lazy").concurrency(16))
            .build()
            .expect("build");
    let n = 1100;
    d.put_many((0..n).map(|i| (key(&format!("k{i:05}")), i)).collect())
        .expect("put_many");
    let before = d.stats().snapshot();
    let first = d.keys().next().expect("one").expect("key");
    assert!(first.to_string().starts_with('k'));
    let lists = d.stats().snapshot().since(&before).get(RequestKind::List);
    assert_eq!(lists, 1, "the first key needs the first page only");

    let before = d.stats().snapshot();
    assert_eq!(d.keys().count(), n as usize);
    let lists = d.stats().snapshot().since(&before).get(RequestKind::List);
    assert_eq!(lists, 2, "{n} keys are two pages");

    let before = d.stats().snapshot();
    let three: Vec<u64> = d.values().take(3).map(|v| v.expect("value")).collect();
    assert_eq!(three.len(), 3);
    let gets = d.stats().snapshot().since(&before).get(RequestKind::Get);
    assert!(
        gets <= 3 + d.concurrency() as u64,
        "values read ahead at most `concurrency` entries, got {gets} GETs"
    );
    d.clear().expect("clear");
    assert!(d.is_empty().expect("is_empty"));
}

#[test]
fn blocking_seaweedfs_url_builder_and_extras() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let prefix = common::fresh_prefix("blocking-url");
    let url = format!(
        "s3://{}/{prefix}?endpoint={}&region=us-east-1&create_bucket=true&codec=json",
        common::BUCKET,
        s.url
    );
    let d: S3Dict<String> = blocking::S3DictBuilder::from_url(&url)
        .expect("url")
        .build()
        .expect("build");
    assert_eq!(d.bucket(), common::BUCKET);
    let before = d.stats().snapshot();
    d.put(&key("a/b"), "v".into()).expect("put");
    assert_eq!(d.stats().snapshot().since(&before).get(RequestKind::Put), 1);
    assert!(d
        .object_name(&key("a/b"))
        .expect("name")
        .starts_with(&prefix));
    assert_eq!(d.subdict(&key("a")).get(&key("b")).expect("get"), "v");
    assert!(d.capabilities().expect("probe").put_if_match);
    assert!(!d.probe_report().expect("report").checks.is_empty());
    assert!(d.client().config().region().is_some());
    assert_eq!(d.s3_store().bucket(), common::BUCKET);

    match Opened::<String>::open(&url).expect("open") {
        Opened::S3(o) => assert_eq!(o.get(&key("a/b")).expect("get"), "v"),
        other => panic!("not an S3 dictionary: {other:?}"),
    }
    let plain = blocking::open::<String>(&url).expect("open");
    assert_eq!(plain.keys().count(), 1);
    let builder = S3Dict::builder(common::BUCKET)
        .endpoint_url(&s.url)
        .region("us-east-1")
        .root_prefix(prefix)
        .codec(Codec::Json)
        .capabilities(persidict::Capabilities::ALL);
    let again: S3Dict<String> = builder.build().expect("build");
    assert_eq!(again.get(&key("a/b")).expect("get"), "v");
    again.clear().expect("clear");
}

/// The blocking S3 builder takes object settings, and the blocking dictionary presigns.
#[test]
fn blocking_seaweedfs_object_settings_and_presign() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let mut objects = persidict::s3::ObjectSettings::default();
    objects.metadata = vec![("team".into(), "data".into())];
    let d: S3Dict<String> = blocking::S3DictBuilder::from(common::builder(&s, "blocking-presign"))
        .codec(Codec::Text)
        .object_settings(objects)
        .build()
        .expect("build");
    let k = key("k");
    d.put(&k, "hello".into()).expect("put");
    let get = d
        .presign(
            &k,
            persidict::s3::Presign::Get,
            std::time::Duration::from_secs(60),
        )
        .expect("presign");
    let rt = tokio::runtime::Runtime::new().expect("a runtime for the plain client");
    let answer = rt.block_on(http::send(get.method, &get.url, &get.headers, b""));
    assert_eq!((answer.status, answer.body), (200, b"hello".to_vec()));
    let head = rt
        .block_on(
            d.client()
                .head_object()
                .bucket(d.bucket())
                .key(d.object_name(&k).expect("name"))
                .send(),
        )
        .expect("head");
    assert_eq!(
        head.metadata()
            .and_then(|m| m.get("team"))
            .map(String::as_str),
        Some("data")
    );
    d.clear().expect("clear");
}

/// The blocking twins of copy, rename, their cross-dictionary forms and the version
/// operations.
#[test]
fn memory_blocking_copy_rename_and_versions() {
    use persidict::{CopyOptions, CopyResult, Renamed};
    let d = persidict::blocking::MemDict::<String>::new();
    let other = persidict::blocking::MemDict::<String>::new();
    let (a, b, c) = (
        persidict::Key::try_from("a").unwrap(),
        persidict::Key::try_from("b").unwrap(),
        persidict::Key::try_from("c").unwrap(),
    );
    d.put(&a, "one".into()).unwrap();
    assert!(d
        .copy(&a, &b, CopyOptions::if_absent())
        .unwrap()
        .is_copied());
    assert_eq!(
        d.copy(&a, &b, CopyOptions::if_absent()).unwrap(),
        CopyResult::Refused
    );
    assert!(d.rename(&b, &c, CopyOptions::new()).unwrap().is_renamed());
    assert!(!d.contains(&b).unwrap());
    assert!(d
        .copy_to(&c, &other, &a, CopyOptions::new())
        .unwrap()
        .is_copied());
    assert_eq!(other.get(&a).unwrap(), "one");
    assert!(matches!(
        d.rename_to(&c, &other, &a, CopyOptions::if_absent())
            .unwrap(),
        Renamed::Refused
    ));
}
