//! `S3Store` through the `ObjectStore` trait only, against the local S3 servers: every
//! precondition, listing, batch deletes, size limits and revalidation; the capability
//! probe (success path, remembered errors, cleanup when the caller gives up); and the
//! settlement of a conditional PUT whose answer was lost (through `tests/common/proxy.rs`).

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::time::Duration;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use persidict::s3::probe::ProbeVerdict;
use persidict::s3::RequestKind;
use persidict::store::{
    Capabilities, DeleteCondition, DeleteResult, ObjectStore, Read, ReadOptions, WriteCondition,
    WriteResult,
};
use persidict::S3Store;
use persidict::{Capability, ETag, Error};
use proxy::{FaultRates, Proxy};

const CT: &str = "application/octet-stream";
const WRONG: &str = "\"00000000000000000000000000000000\"";

fn bytes(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn write(s: &S3Store, name: &str, body: &str, c: WriteCondition) -> WriteResult {
    s.write(name, bytes(body), CT, c)
        .await
        .unwrap_or_else(|e| panic!("write {name}: {e}"))
}

fn written(r: WriteResult) -> ETag {
    match r {
        WriteResult::Written(e) => e,
        other => panic!("expected Written, got {other:?}"),
    }
}

async fn names(s: &S3Store, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = s
        .list(prefix)
        .map_ok(|m| m.name)
        .try_collect()
        .await
        .expect("list");
    names.sort();
    names
}

/// Every precondition of read, head, write and delete, on a server that enforces them.
async fn preconditions(server: &str, expect_delete_if_exists: bool) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let s = common::store(&srv, "preconditions").await;
    let caps = s.capabilities().await.expect("capabilities");
    assert!(
        caps.conditional_writes() && caps.get_if_none_match,
        "{caps:?}"
    );
    assert_eq!(caps.delete_if_exists, expect_delete_if_exists);
    let info = s.info();
    assert_eq!(info.backend, "s3");
    assert_eq!(info.max_name_len, 1024 - s.root().len());
    assert!(info
        .location
        .starts_with(&format!("s3://{}/{}", common::BUCKET, s.root())));

    // Insert-if-absent.
    let e1 = written(write(&s, "k.bin", "one", WriteCondition::IfAbsent).await);
    assert_eq!(
        write(&s, "k.bin", "two", WriteCondition::IfAbsent).await,
        WriteResult::Refused
    );
    let meta = s.head("k.bin").await.unwrap().expect("present");
    assert_eq!((meta.etag.as_ref(), meta.size), (Some(&e1), 3));
    assert_eq!(s.head("none.bin").await.unwrap(), None);

    // Reads: whole, revalidated, too large, absent.
    match s.read("k.bin", ReadOptions::default()).await.unwrap() {
        Read::Found(o) => assert_eq!((&o.body[..], o.etag()), (&b"one"[..], Some(&e1))),
        other => panic!("{other:?}"),
    }
    let revalidate = ReadOptions {
        if_none_match: Some(e1.clone()),
        max_size: None,
    };
    assert_eq!(
        s.read("k.bin", revalidate).await.unwrap(),
        Read::NotModified { etag: e1.clone() }
    );
    let small = ReadOptions {
        if_none_match: None,
        max_size: Some(2),
    };
    assert_eq!(
        s.read("k.bin", small).await.unwrap(),
        Read::TooLarge { size: 3 }
    );
    assert_eq!(
        s.read("none.bin", ReadOptions::default()).await.unwrap(),
        Read::Absent
    );

    // Compare-and-swap.
    let wrong = WriteCondition::IfMatch(ETag::new(WRONG));
    assert_eq!(write(&s, "k.bin", "x", wrong).await, WriteResult::Refused);
    let e2 = written(write(&s, "k.bin", "two", WriteCondition::IfMatch(e1.clone())).await);
    assert_ne!(e1, e2);
    let on_absent = WriteCondition::IfMatch(e2.clone());
    assert_eq!(
        write(&s, "none.bin", "x", on_absent).await,
        WriteResult::Refused
    );
    assert_eq!(
        s.head("none.bin").await.unwrap(),
        None,
        "If-Match created a key"
    );

    // Compare-and-delete.
    let wrong = DeleteCondition::IfMatch(ETag::new(WRONG));
    assert_eq!(
        s.delete("k.bin", wrong).await.unwrap(),
        DeleteResult::Refused
    );
    assert!(s.head("k.bin").await.unwrap().is_some());
    assert_eq!(
        s.delete("k.bin", DeleteCondition::IfMatch(e2))
            .await
            .unwrap(),
        DeleteResult::Deleted
    );
    assert_eq!(s.head("k.bin").await.unwrap(), None);

    // Delete-if-exists, where enforced; otherwise the error says to use IfMatch.
    let _ = write(&s, "k.bin", "three", WriteCondition::Always).await;
    let if_exists = s.delete("k.bin", DeleteCondition::IfExists).await;
    if expect_delete_if_exists {
        assert_eq!(if_exists.unwrap(), DeleteResult::Deleted);
        assert_eq!(
            s.delete("k.bin", DeleteCondition::IfExists).await.unwrap(),
            DeleteResult::Refused
        );
    } else {
        let err = if_exists.expect_err("IfExists without the capability");
        assert!(err.to_string().contains("IfMatch"), "{err}");
    }
    assert_eq!(
        s.delete("k.bin", DeleteCondition::Always).await.unwrap(),
        DeleteResult::Deleted
    );
    assert_eq!(
        s.delete("k.bin", DeleteCondition::Always).await.unwrap(),
        DeleteResult::Deleted,
        "deleting an absent object is not refused"
    );
}

#[tokio::test]
async fn seaweedfs_read_head_write_delete_with_every_precondition() {
    preconditions("seaweedfs", true).await;
}

#[tokio::test]
async fn moto_read_head_write_delete_with_every_precondition() {
    // moto compares `If-Match: *` literally (412 on an existing object).
    preconditions("moto", false).await;
}

async fn list_and_delete_many(server: &str) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let s = common::store(&srv, "list").await;
    let mut expected = Vec::new();
    for i in 0..5 {
        let name = format!("a/{i}.bin");
        let _ = write(&s, &name, "x", WriteCondition::Always).await;
        expected.push(name);
    }
    let _ = write(&s, "b/0.bin", "y", WriteCondition::Always).await;
    let _ = write(&s, "ab.bin", "z", WriteCondition::Always).await;
    assert_eq!(names(&s, "a/").await, expected);
    assert_eq!(names(&s, "").await.len(), 7);
    let listed: Vec<_> = s.list("b/").try_collect().await.unwrap();
    let head = s.head("b/0.bin").await.unwrap().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].etag.as_ref(), listed[0].size),
        (head.etag.as_ref(), 1)
    );

    let before = s.stats().snapshot();
    let mut doomed = expected.clone();
    doomed.push("a/absent.bin".into());
    s.delete_many(doomed).await.expect("delete_many");
    assert_eq!(
        s.stats()
            .snapshot()
            .since(&before)
            .get(RequestKind::DeleteObjects),
        1
    );
    assert!(names(&s, "a/").await.is_empty());
    assert_eq!(names(&s, "").await, ["ab.bin", "b/0.bin"]);
    assert!(s.delete_many(vec!["../x".into()]).await.is_err());
    s.delete_many(vec!["ab.bin".into(), "b/0.bin".into()])
        .await
        .unwrap();
}

#[tokio::test]
async fn seaweedfs_list_by_prefix_and_delete_many() {
    list_and_delete_many("seaweedfs").await;
}

#[tokio::test]
async fn moto_list_by_prefix_and_delete_many() {
    list_and_delete_many("moto").await;
}

#[tokio::test]
async fn rclone_list_by_prefix_and_delete_many() {
    list_and_delete_many("rclone").await;
}

/// Writes an object (`x`) at every name of `all`, 32 at a time (one at a time on rclone:
/// concurrent PUTs that create the same directory there can fail with `Dir.Rename error:
/// file does not exist`).
async fn write_all(server: &str, s: &S3Store, all: &[String]) {
    let in_flight = if server == "rclone" { 1 } else { 32 };
    futures::stream::iter(all)
        .map(|name| async move {
            s.write(name, bytes("x"), CT, WriteCondition::Always)
                .await
                .map(drop)
        })
        .buffer_unordered(in_flight)
        .try_collect::<()>()
        .await
        .expect("writes");
}

/// The names `list(prefix)` yields, sorted (duplicates kept), and the LIST requests it
/// took.
async fn listed(s: &S3Store, prefix: &str) -> (Vec<String>, u64) {
    let before = s.stats().snapshot();
    let got = names(s, prefix).await;
    (
        got,
        s.stats().snapshot().since(&before).get(RequestKind::List),
    )
}

/// The names of `all` starting with `prefix`, sorted.
fn starting_with(all: &[String], prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = all
        .iter()
        .filter(|n| n.starts_with(prefix))
        .cloned()
        .collect();
    v.sort();
    v
}

/// Another store on the same root with `concurrency` requests in flight.
async fn with_concurrency(srv: &common::Server, s: &S3Store, concurrency: usize) -> S3Store {
    common::store_builder(srv, "unused")
        .root_prefix(s.root().trim_end_matches('/'))
        .concurrency(concurrency)
        .build_store()
        .await
        .expect("a store on the same root")
}

/// Listing lists the first level with `delimiter=/`, then the first-level directories in
/// at most `concurrency` key ranges at once: every object exactly once, whatever the
/// prefix and the concurrency, with the LIST requests the design says.
async fn parallel_listing(server: &str) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let s = common::store(&srv, "parallel-list").await;
    // `a/` holds more than a page; `a.json` sorts just before `a/`, `a0.json` inside the
    // range of `a/` (`0` is after `/`); `b/` has a second level.
    let mut all: Vec<String> = (0..1205).map(|i| format!("a/{i:04}")).collect();
    all.extend(
        [
            "a.json", "a0.json", "b/c/1", "b/c/2", "b/d", "c/1", "c/2", "c/3", "top1", "top2",
        ]
        .map(String::from),
    );
    write_all(server, &s, &all).await;
    all.sort();

    // Whole root: a plain first page (1000 keys: a.json and a/… in byte order, a/… first
    // on SeaweedFS); 1 delimiter page after its last key; 3 ranges: [a/, b/) (1206 keys
    // with a0.json, the first page's listed again and left out) 2 pages, [b/, c/) and
    // [c/, end) 1 each.
    let (got, lists) = listed(&s, "").await;
    assert_eq!(got, all, "{server}: the whole root, each object once");
    assert_eq!(lists, 6, "{server}: LIST requests for the whole root");
    // Under `a`: the first page, 1 delimiter page, then [a/, end), 2 pages.
    let (got, lists) = listed(&s, "a").await;
    assert_eq!(got, starting_with(&all, "a"), "{server}: under a");
    assert_eq!(lists, 4, "{server}: LIST requests under a");
    // Under `a/`, flat: the first page, then the delimiter listing after it is the rest.
    let (got, lists) = listed(&s, "a/").await;
    assert_eq!(got, starting_with(&all, "a/"), "{server}: under a/");
    assert_eq!(lists, 2, "{server}: LIST requests under a/");
    // Under `b/`: three keys, one plain page.
    let (got, lists) = listed(&s, "b/").await;
    assert_eq!(got, ["b/c/1", "b/c/2", "b/d"], "{server}: under b/");
    assert_eq!(lists, 1, "{server}: LIST requests under b/");
    // A reader that wants the first object alone (is_empty, popitem) sends one LIST.
    let before = s.stats().snapshot();
    let first = s.list("").try_next().await.unwrap().expect("an object");
    assert!(all.contains(&first.name), "{server}: {}", first.name);
    let lists = s.stats().snapshot().since(&before).get(RequestKind::List);
    assert_eq!(lists, 1, "{server}: LIST requests for the first object");
    let (got, lists) = listed(&s, "top").await;
    assert_eq!(got, ["top1", "top2"], "{server}: under top");
    assert_eq!(lists, 1, "{server}: LIST requests under top");
    let (got, lists) = listed(&s, "zzz").await;
    assert!(got.is_empty(), "{server}: {got:?}");
    assert_eq!(lists, 1, "{server}: LIST requests under an empty prefix");

    // After the first page and the delimiter page, two ranges: [a/, b/) 2 pages,
    // [b/, end) 1.
    let two = with_concurrency(&srv, &s, 2).await;
    let (got, lists) = listed(&two, "").await;
    assert_eq!(got, all, "{server}: concurrency 2");
    assert_eq!(lists, 5, "{server}: LIST requests with concurrency 2");
    // After the first page and the delimiter page, one range [a/, end): 2 pages.
    let one = with_concurrency(&srv, &s, 1).await;
    let (got, lists) = listed(&one, "").await;
    assert_eq!(got, all, "{server}: concurrency 1");
    assert_eq!(lists, 4, "{server}: LIST requests with concurrency 1");

    // The listing is owned and streams: it can move into a spawned task.
    let count = tokio::spawn(s.list("").try_fold(0usize, |n, _| async move { Ok(n + 1) }))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(count, all.len());
    s.delete_many(all).await.unwrap();
    assert!(names(&s, "").await.is_empty());
}

#[tokio::test]
async fn seaweedfs_lists_first_level_directories_in_parallel() {
    parallel_listing("seaweedfs").await;
}

#[tokio::test]
async fn moto_lists_first_level_directories_in_parallel() {
    parallel_listing("moto").await;
}

#[tokio::test]
async fn rclone_lists_first_level_directories_in_parallel() {
    parallel_listing("rclone").await;
}

/// Many small directories: the ranges are at most `concurrency`, so the requests stay
/// the first page + 1 delimiter page + 1 page per range.
async fn many_small_directories(server: &str) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let s = common::store(&srv, "small-dirs").await;
    // More than a page, so that the listing goes by ranges: the first page ends at
    // d499/y; after it come d500/ … d599/ and `flat`.
    let mut all: Vec<String> = (0..600)
        .flat_map(|i| [format!("d{i:03}/x"), format!("d{i:03}/y")])
        .collect();
    all.push("flat".to_owned());
    write_all(server, &s, &all).await;
    all.sort();
    let four = with_concurrency(&srv, &s, 4).await;
    let (got, lists) = listed(&four, "").await;
    assert_eq!(got, all, "{server}: concurrency 4");
    assert_eq!(
        lists,
        1 + 1 + 4,
        "{server}: LIST requests with concurrency 4"
    );
    let (got, lists) = listed(&s, "").await;
    assert_eq!(got, all, "{server}: default concurrency");
    // 101 directories after the first page: as many ranges as the default concurrency.
    assert_eq!(
        lists,
        1 + 1 + persidict::dict::DEFAULT_CONCURRENCY as u64,
        "{server}: LIST requests with the default concurrency"
    );
    s.delete_many(all).await.unwrap();
}

#[tokio::test]
async fn seaweedfs_lists_many_small_directories_in_few_ranges() {
    many_small_directories("seaweedfs").await;
}

#[tokio::test]
async fn moto_lists_many_small_directories_in_few_ranges() {
    many_small_directories("moto").await;
}

#[tokio::test]
async fn rclone_lists_many_small_directories_in_few_ranges() {
    many_small_directories("rclone").await;
}

#[tokio::test]
async fn rclone_conditional_writes_are_unsupported() {
    let Some(srv) = common::server("rclone") else {
        return;
    };
    let s = common::store(&srv, "unsupported").await;
    let caps = s.capabilities().await.unwrap();
    assert!(!caps.put_if_absent && !caps.put_if_match && !caps.delete_if_match);
    let e = written(write(&s, "k.bin", "one", WriteCondition::Always).await);
    let unsupported = |r: persidict::Result<_>, want: Capability| match r {
        Err(Error::Unsupported { capability, .. }) => assert_eq!(capability, want),
        other => panic!("expected Unsupported {want:?}, got {other:?}"),
    };
    unsupported(
        s.write("k.bin", bytes("x"), CT, WriteCondition::IfAbsent)
            .await
            .map(drop),
        Capability::PutIfAbsent,
    );
    unsupported(
        s.write("k.bin", bytes("x"), CT, WriteCondition::IfMatch(e.clone()))
            .await
            .map(drop),
        Capability::PutIfMatch,
    );
    unsupported(
        s.delete("k.bin", DeleteCondition::IfMatch(e))
            .await
            .map(drop),
        Capability::DeleteIfMatch,
    );
    assert!(s.delete("k.bin", DeleteCondition::IfExists).await.is_err());
    match s.read("k.bin", ReadOptions::default()).await.unwrap() {
        Read::Found(o) => assert_eq!(&o.body[..], b"one", "nothing was overwritten"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rclone_racy_fallback_works_for_a_single_writer() {
    let Some(srv) = common::server("rclone") else {
        return;
    };
    let s = common::store_builder(&srv, "racy")
        .allow_racy_fallback(true)
        .build_store()
        .await
        .unwrap();
    let e1 = written(write(&s, "k.bin", "one", WriteCondition::IfAbsent).await);
    assert_eq!(
        write(&s, "k.bin", "two", WriteCondition::IfAbsent).await,
        WriteResult::Refused
    );
    let wrong = WriteCondition::IfMatch(ETag::new(WRONG));
    assert_eq!(write(&s, "k.bin", "x", wrong).await, WriteResult::Refused);
    let e2 = written(write(&s, "k.bin", "two", WriteCondition::IfMatch(e1.clone())).await);
    let stale = DeleteCondition::IfMatch(e1);
    assert_eq!(
        s.delete("k.bin", stale).await.unwrap(),
        DeleteResult::Refused
    );
    assert_eq!(
        s.delete("k.bin", DeleteCondition::IfMatch(e2))
            .await
            .unwrap(),
        DeleteResult::Deleted
    );
    assert_eq!(
        s.delete("k.bin", DeleteCondition::IfExists).await.unwrap(),
        DeleteResult::Refused
    );
    assert_eq!(s.head("k.bin").await.unwrap(), None);
}

/// An error of one range of a listing ends the listing with that error: the first page
/// and the first level after it are listed through a proxy that forwards, then every
/// request fails (500).
#[tokio::test]
async fn seaweedfs_an_error_of_a_range_ends_the_listing() {
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    let s = common::store(&srv, "range-error").await;
    // A full first page (a/0000 … a/0999), then b/, c/ and `zz` at the first level.
    let mut all: Vec<String> = (0..1000).map(|i| format!("a/{i:04}")).collect();
    all.extend(["b/1", "c/1", "zz"].map(String::from));
    write_all("seaweedfs", &s, &all).await;
    let failing = FaultRates {
        error500: 1.0,
        ..FaultRates::NONE
    };
    let proxy = Proxy::start(&srv.url, failing, 7, Duration::ZERO).await;
    proxy.set_faults(false);
    let through = through(&proxy, s.root().trim_end_matches('/')).await;
    let mut listing = through.list("");
    for _ in 0..1000 {
        let o = listing.try_next().await.expect("the first page is listed");
        assert!(o.expect("an object").name.starts_with("a/"));
    }
    let level = listing
        .try_next()
        .await
        .expect("the first level is listed")
        .expect("one object at the first level");
    assert_eq!(level.name, "zz");
    // The delimiter listing is over (one page); the ranges are asked for from here on.
    proxy.set_faults(true);
    let rest: Vec<_> = listing.collect().await;
    assert_eq!(rest.len(), 1, "one error, then the end: {rest:?}");
    assert!(rest[0].is_err(), "{rest:?}");
    assert!(
        proxy
            .log()
            .iter()
            .any(|(method, path)| method == "GET" && path.contains("start-after=")),
        "the failed requests were the ranges': {:?}",
        proxy.log()
    );
    s.delete_many(all).await.unwrap();
}

/// The probe's verdicts, in `Capabilities` field order.
async fn probe_success_path(server: &str, expected: [ProbeVerdict; 9]) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let s = common::store(&srv, "probe").await;
    let report = s.probe_report().await.expect("probe report");
    let verdicts: Vec<_> = report.checks.iter().map(|c| c.verdict).collect();
    assert_eq!(verdicts, expected, "{report}");
    // The requests whose condition holds were sent and applied.
    let absent_insert = &report.checks[0].answer;
    assert!(absent_insert.starts_with("200"), "{report}");
    assert!(report.checks[1].answer.contains("; then 200"), "{report}");
    assert!(
        names(&s, "").await.is_empty(),
        "the probe object is removed"
    );
}

#[tokio::test]
async fn seaweedfs_probe_checks_the_success_path() {
    use ProbeVerdict::*;
    probe_success_path("seaweedfs", [Enforced; 9]).await;
    // The copy checks' requests whose conditions hold were applied too.
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    let report = common::store(&srv, "probe-copy")
        .await
        .probe_report()
        .await
        .unwrap();
    assert!(
        report.checks[6].answer.starts_with("200; then 412"),
        "{report}"
    );
    assert!(report.checks[7].answer.ends_with("; then 200"), "{report}");
    assert!(report.checks[8].answer.ends_with("; then 200"), "{report}");
}

#[tokio::test]
async fn moto_probe_checks_the_success_path() {
    use ProbeVerdict::*;
    probe_success_path(
        "moto",
        [
            Enforced, Enforced, Enforced, Enforced, Refused, Ignored, Ignored, Ignored, Ignored,
        ],
    )
    .await;
}

#[tokio::test]
async fn seaweedfs_probe_error_is_remembered() {
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    // Wrong credentials on a bucket of its own (the registry is per endpoint and bucket):
    // the probe fails, with 403 or NoSuchBucket, whichever the server checks first.
    let creds = aws_sdk_s3::config::Credentials::new("test", "wrong", None, None, "test");
    let client = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .credentials_provider(creds)
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .build(),
    );
    let bucket = format!("persidict-missing-{:08x}", fastrand::u32(..));
    let s = persidict::S3DictBuilder::new(bucket)
        .client(client)
        .endpoint_url(&srv.url)
        .build_store()
        .await
        .unwrap();
    let first = s.capabilities().await.expect_err("the probe fails");
    assert!(
        matches!(
            first,
            Error::PermissionDenied { .. } | Error::BucketNotFound { .. }
        ),
        "{first:?}"
    );
    let before = s.stats().snapshot();
    let again = s.capabilities().await.expect_err("remembered");
    let write = s
        .write("k.bin", bytes("x"), CT, WriteCondition::IfAbsent)
        .await
        .expect_err("remembered");
    assert_eq!(
        s.stats().snapshot().since(&before).total(),
        0,
        "no request re-sent"
    );
    assert_eq!(
        std::mem::discriminant(&first),
        std::mem::discriminant(&again)
    );
    assert_eq!(first.to_string(), again.to_string());
    assert_eq!(write.to_string(), first.to_string());
}

#[tokio::test]
async fn seaweedfs_probe_objects_are_removed_when_the_caller_is_dropped() {
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    let s = common::store(&srv, "probe-drop").await;
    let before = s.stats().snapshot();
    let task = tokio::spawn({
        let s = s.clone();
        async move { s.probe_report().await }
    });
    // Abort once the probe object has been written, well before the probe ends.
    let started = std::time::Instant::now();
    while s.stats().snapshot().since(&before).get(RequestKind::Put) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the probe did not start"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(!task.is_finished(), "the probe ended before the abort");
    task.abort();
    assert!(task.await.unwrap_err().is_cancelled());
    // The probe goes on in its own task and removes its object.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let used = s.stats().snapshot().since(&before);
        let left = names(&s, "").await;
        if left.is_empty() && used.get(RequestKind::Delete) >= 4 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "probe objects left behind: {left:?} ({used})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Also seen with a raw client: nothing at all under the root.
    let raw = s
        .client()
        .list_objects_v2()
        .bucket(s.bucket())
        .prefix(s.root())
        .send()
        .await
        .unwrap();
    assert!(raw.contents().is_empty(), "{:?}", raw.contents());
}

/// A store on `server` through `proxy`, under `root`, with declared capabilities.
async fn through(proxy: &Proxy, root: &str) -> S3Store {
    persidict::S3DictBuilder::new(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(root)
        .capabilities(Capabilities {
            delete_if_exists: false,
            ..Capabilities::ALL
        })
        .build_store()
        .await
        .unwrap()
}

/// A compare-and-swap whose answer is lost after the server applied it; with `restore`,
/// another writer then puts the old bytes back (same ETag) before the client looks.
async fn lost_compare_and_swap(server: &str, restore: bool) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let direct = common::store(&srv, "lost-cas").await;
    let proxy = Proxy::start(&srv.url, FaultRates::NONE, 1, Duration::ZERO).await;
    let root = direct.root().trim_end_matches('/').to_owned();
    let via = through(&proxy, &root).await;
    let old = "count:a";
    let e0 = written(write(&direct, "c.bin", old, WriteCondition::Always).await);

    let one = proxy.drop_next_answer("PUT");
    let ours = format!("{old},ours");
    let task = tokio::spawn({
        let (via, e0, ours) = (via.clone(), e0.clone(), ours.clone());
        async move {
            via.write("c.bin", Bytes::from(ours), CT, WriteCondition::IfMatch(e0))
                .await
        }
    });
    one.forwarded.notified().await;
    if restore {
        // Another writer restores the old bytes: the ETag is the one our If-Match named.
        let e = written(write(&direct, "c.bin", old, WriteCondition::Always).await);
        assert_eq!(e, e0, "same bytes, same ETag");
    }
    one.release.notify_one();
    let result = task.await.unwrap();

    let puts = proxy.log().iter().filter(|(m, _)| m == "PUT").count();
    assert_eq!(
        puts, 1,
        "a conditional PUT is never resent after a lost answer"
    );
    let value = match direct.read("c.bin", ReadOptions::default()).await.unwrap() {
        Read::Found(o) => String::from_utf8(o.body.to_vec()).unwrap(),
        other => panic!("{other:?}"),
    };
    let applied = value.matches("ours").count();
    match result {
        Ok(WriteResult::Written(etag)) => {
            assert!(
                !restore,
                "settled as written although another writer replaced it"
            );
            assert_eq!(applied, 1, "{value}");
            let head = direct.head("c.bin").await.unwrap().unwrap();
            assert_eq!(head.etag, Some(etag));
        }
        Err(Error::OutcomeUnknown { key, operation, .. }) => {
            assert!(restore, "our write id was there to settle it");
            assert_eq!((key.as_str(), operation), ("c.bin", "PUT"));
            assert_eq!(applied, 0, "{value}");
        }
        other => panic!("expected Written or OutcomeUnknown, got {other:?}"),
    }
}

#[tokio::test]
async fn seaweedfs_lost_answer_then_old_bytes_restored_is_outcome_unknown() {
    lost_compare_and_swap("seaweedfs", true).await;
}

#[tokio::test]
async fn moto_lost_answer_then_old_bytes_restored_is_outcome_unknown() {
    lost_compare_and_swap("moto", true).await;
}

#[tokio::test]
async fn seaweedfs_lost_answer_of_a_landed_write_is_settled_by_its_write_id() {
    lost_compare_and_swap("seaweedfs", false).await;
}

#[tokio::test]
async fn moto_lost_answer_of_a_landed_write_is_settled_by_its_write_id() {
    lost_compare_and_swap("moto", false).await;
}

/// A conditional DELETE whose answer is lost after the server applied it.
#[tokio::test]
async fn seaweedfs_lost_answers_of_conditional_deletes() {
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    let direct = common::store(&srv, "lost-delete").await;
    let proxy = Proxy::start(&srv.url, FaultRates::NONE, 2, Duration::ZERO).await;
    let root = direct.root().trim_end_matches('/').to_owned();
    let via = persidict::S3DictBuilder::new(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(root)
        .capabilities(Capabilities::ALL)
        .build_store()
        .await
        .unwrap();
    for condition in ["IfMatch", "IfExists"] {
        let e = written(write(&direct, "d.bin", "x", WriteCondition::Always).await);
        let one = proxy.drop_next_answer("DELETE");
        let task = tokio::spawn({
            let via = via.clone();
            let condition = match condition {
                "IfMatch" => DeleteCondition::IfMatch(e),
                _ => DeleteCondition::IfExists,
            };
            async move { via.delete("d.bin", condition).await }
        });
        one.forwarded.notified().await;
        one.release.notify_one();
        match (condition, task.await.unwrap()) {
            // Gone, but who removed it cannot be told: a DELETE leaves no id.
            ("IfMatch", Err(Error::OutcomeUnknown { operation, .. })) => {
                assert_eq!(operation, "DELETE")
            }
            // Gone is all `IfExists` asks.
            ("IfExists", Ok(DeleteResult::Deleted)) => {}
            (c, other) => panic!("{c}: {other:?}"),
        }
        assert_eq!(direct.head("d.bin").await.unwrap(), None);
    }
    let deletes = proxy.log().iter().filter(|(m, _)| m == "DELETE").count();
    assert_eq!(
        deletes, 2,
        "no DELETE was resent once the HEAD found the key gone"
    );
}
