//! Server-side copies and renames: the preconditions each server enforces, the requests
//! each operation sends, the object settings a copy carries, copies between dictionaries,
//! and a copy whose answer was lost.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use persidict::prelude::*;
use persidict::s3::{Encryption, ObjectSettings, RequestKind, StatsSnapshot};
use persidict::{Capability, CopyOptions, CopyResult, Renamed, S3Dict};

use RequestKind::{Copy, Delete, Get, Head, Put};

fn key(s: &str) -> Key {
    Key::try_from(s).unwrap()
}

/// Runs `op` and returns the requests it sent.
async fn count<F: std::future::Future<Output = T>, T>(
    d: &S3Dict<String>,
    op: F,
) -> (T, StatsSnapshot) {
    let before = d.stats().snapshot();
    let out = op.await;
    (out, d.stats().snapshot().since(&before))
}

#[track_caller]
fn expect(what: &str, got: StatsSnapshot, want: &[(RequestKind, u64)]) {
    let total: u64 = want.iter().map(|(_, n)| n).sum();
    for (kind, n) in want {
        assert_eq!(got.get(*kind), *n, "{what}: {kind} requests (all: {got})");
    }
    assert_eq!(got.total(), total, "{what}: total requests (all: {got})");
    println!("{what:<48} {got}");
}

fn copied(r: CopyResult) -> ETag {
    match r {
        CopyResult::Copied(e) => e,
        other => panic!("expected Copied, got {other:?}"),
    }
}

#[track_caller]
fn unsupported<T: std::fmt::Debug>(r: persidict::Result<T>, want: Capability) {
    match r {
        Err(Error::Unsupported { capability, .. }) => assert_eq!(capability, want),
        other => panic!("expected Unsupported({want:?}), got {other:?}"),
    }
}

/// On a server that enforces the copy preconditions: each one refuses, and each
/// operation sends the fewest requests.
async fn enforced_copies(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<String> = common::open(&s, "copy").await;
    let caps = d.capabilities().await.unwrap();
    assert!(
        caps.copy_if_absent && caps.copy_if_match && caps.copy_source_if_match,
        "{server}: {caps:?}"
    );
    let (a, b, missing) = (key("a"), key("b"), key("missing"));
    let ea = d.put(&a, "one".into()).await.unwrap();

    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::if_absent())).await;
    let eb = copied(r.unwrap());
    expect("copy(if_absent), destination absent", n, &[(Copy, 1)]);
    assert_eq!(d.get(&b).await.unwrap(), "one");
    assert_eq!(
        d.etag(&b).await.unwrap(),
        eb,
        "the ETag a copy reports is the HEAD's"
    );

    d.put(&a, "two".into()).await.unwrap();
    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::if_absent())).await;
    assert_eq!(r.unwrap(), CopyResult::Refused);
    expect(
        "copy(if_absent), destination exists",
        n,
        &[(Copy, 1), (Head, 1)],
    );
    assert_eq!(
        d.get(&b).await.unwrap(),
        "one",
        "a refused copy changes nothing"
    );

    let stale = ETag::from("\"0123456789abcdef0123456789abcdef\"");
    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::if_match(stale.clone()))).await;
    assert_eq!(r.unwrap(), CopyResult::Refused);
    expect("copy(if_match stale)", n, &[(Copy, 1), (Head, 1)]);
    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::if_match(eb.clone()))).await;
    let eb2 = copied(r.unwrap());
    expect("copy(if_match current)", n, &[(Copy, 1)]);
    assert_eq!(d.get(&b).await.unwrap(), "two");
    // The compare-and-swap chains on: the ETag the copy returned is the current one.
    assert!(d
        .compare_and_swap(&b, Some(&eb2), Some("three".into()))
        .await
        .unwrap()
        .is_ok());

    let (r, n) = count(
        &d,
        d.copy(&a, &b, CopyOptions::new().source_etag(ea.clone())),
    )
    .await;
    assert_eq!(r.unwrap(), CopyResult::SourceChanged);
    expect("copy pinned to a stale source", n, &[(Copy, 1), (Head, 1)]);
    assert_eq!(d.get(&b).await.unwrap(), "three");
    let (r, n) = count(&d, d.copy(&missing, &b, CopyOptions::new())).await;
    assert_eq!(r.unwrap(), CopyResult::SourceAbsent);
    expect("copy of an absent key", n, &[(Copy, 1)]);
    let (r, n) = count(&d, d.copy(&missing, &b, CopyOptions::if_absent())).await;
    assert_eq!(r.unwrap(), CopyResult::SourceAbsent);
    expect(
        "copy(if_absent) of an absent key",
        n,
        &[(Copy, 1), (Head, 1)],
    );

    // Rename: HEAD + CopyObject pinned + DELETE If-Match.
    let c = key("c");
    let (r, n) = count(&d, d.rename(&a, &c, CopyOptions::if_absent())).await;
    assert!(r.unwrap().is_renamed());
    expect(
        "rename (source ETag read)",
        n,
        &[(Head, 1), (Copy, 1), (Delete, 1)],
    );
    assert!(!d.contains(&a).await.unwrap());
    assert_eq!(d.get(&c).await.unwrap(), "two");
    let ec = d.etag(&c).await.unwrap();
    let (r, n) = count(&d, d.rename(&c, &a, CopyOptions::new().source_etag(ec))).await;
    assert!(r.unwrap().is_renamed());
    expect("rename (source ETag given)", n, &[(Copy, 1), (Delete, 1)]);
    let (r, n) = count(&d, d.rename(&a, &b, CopyOptions::if_absent())).await;
    assert_eq!(r.unwrap(), Renamed::Refused);
    expect(
        "rename to an existing key, if absent",
        n,
        &[(Head, 2), (Copy, 1)],
    );
    assert_eq!(
        d.get(&a).await.unwrap(),
        "two",
        "a refused rename keeps the source"
    );
    let (r, n) = count(&d, d.rename(&missing, &b, CopyOptions::new())).await;
    assert_eq!(r.unwrap(), Renamed::SourceAbsent);
    expect("rename of an absent key", n, &[(Head, 1)]);
    assert!(matches!(
        d.rename(&a, &a, CopyOptions::new()).await,
        Err(Error::Config(_))
    ));
    d.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_enforces_copy_preconditions() {
    enforced_copies("seaweedfs").await;
}

/// On a server that ignores the copy preconditions: plain copies work, conditional ones
/// are refused as unsupported before anything is sent, unless the racy fallback is on.
async fn unenforced_copies(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<String> = common::open(&s, "copy-unsupported").await;
    let caps = d.capabilities().await.unwrap();
    assert!(
        !caps.copy_if_absent && !caps.copy_if_match && !caps.copy_source_if_match,
        "{server}: {caps:?}"
    );
    let (a, b) = (key("a"), key("b"));
    let ea = d.put(&a, "one".into()).await.unwrap();
    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::new())).await;
    copied(r.unwrap());
    expect("plain copy", n, &[(Copy, 1)]);
    assert_eq!(d.get(&b).await.unwrap(), "one");
    let (r, n) = count(&d, d.copy(&a, &b, CopyOptions::if_absent())).await;
    unsupported(r, Capability::CopyIfAbsent);
    expect("copy(if_absent), unsupported", n, &[]);
    unsupported(
        d.copy(&a, &b, CopyOptions::if_match(ea.clone())).await,
        Capability::CopyIfMatch,
    );
    unsupported(
        d.copy(&a, &b, CopyOptions::new().source_etag(ea.clone()))
            .await,
        Capability::CopySourceIfMatch,
    );
    let (r, n) = count(&d, d.rename(&a, &key("c"), CopyOptions::new())).await;
    unsupported(r, Capability::CopySourceIfMatch);
    expect("rename, unsupported after the HEAD", n, &[(Head, 1)]);
    assert!(d.contains(&a).await.unwrap(), "nothing was renamed");

    // The racy fallback: HEADs check the preconditions, then a plain copy.
    let racy: S3Dict<String> = common::builder(&s, "copy-racy")
        .allow_racy_fallback(true)
        .build()
        .await
        .unwrap();
    racy.put(&a, "one".into()).await.unwrap();
    racy.put(&b, "two".into()).await.unwrap();
    let (r, n) = count(&racy, racy.copy(&a, &b, CopyOptions::if_absent())).await;
    assert_eq!(r.unwrap(), CopyResult::Refused);
    expect("racy copy(if_absent), destination exists", n, &[(Head, 1)]);
    let c = key("c");
    let (r, n) = count(&racy, racy.copy(&a, &c, CopyOptions::if_absent())).await;
    copied(r.unwrap());
    expect(
        "racy copy(if_absent), destination absent",
        n,
        &[(Head, 1), (Copy, 1)],
    );
    let r = racy
        .rename(&a, &key("d"), CopyOptions::if_absent())
        .await
        .unwrap();
    assert!(r.is_renamed(), "{r:?}");
    assert!(!racy.contains(&a).await.unwrap());
    assert_eq!(racy.get(&key("d")).await.unwrap(), "one");
    d.clear().await.unwrap();
    racy.clear().await.unwrap();
}

#[tokio::test]
async fn moto_refuses_conditional_copies_as_unsupported() {
    unenforced_copies("moto").await;
}

#[tokio::test]
async fn rclone_refuses_conditional_copies_as_unsupported() {
    unenforced_copies("rclone").await;
}

/// Between two dictionaries on one endpoint the copy is one `CopyObject`, sent by the
/// destination; from another backend the value is read and written.
async fn copies_between_dictionaries(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let src: S3Dict<String> = common::open(&s, "copy-src").await;
    let dst: S3Dict<String> = common::open(&s, "copy-dst").await;
    let (a, b) = (key("a"), key("b"));
    src.put(&a, "one".into()).await.unwrap();
    // Probed before counting (once per endpoint and bucket).
    dst.capabilities().await.unwrap();
    let before = src.stats().snapshot();
    let (r, n) = count(&dst, src.copy_to(&a, &dst, &b, CopyOptions::new())).await;
    copied(r.unwrap());
    expect("copy_to a dictionary on the same endpoint", n, &[(Copy, 1)]);
    assert_eq!(src.stats().snapshot().since(&before).total(), 0);
    assert_eq!(dst.get(&b).await.unwrap(), "one");
    assert_eq!(src.get(&a).await.unwrap(), "one");

    let mem = MemDict::<String>::new();
    mem.put(&a, "from memory".into()).await.unwrap();
    let (r, n) = count(&dst, mem.copy_to(&a, &dst, &b, CopyOptions::new())).await;
    copied(r.unwrap());
    expect("copy_to from memory: read, then PUT", n, &[(Put, 1)]);
    assert_eq!(dst.get(&b).await.unwrap(), "from memory");
    let (r, n) = count(&dst, dst.copy_to(&b, &mem, &key("c"), CopyOptions::new())).await;
    copied(r.unwrap());
    expect("copy_to memory: GET, then written", n, &[(Get, 1)]);
    assert_eq!(mem.get(&key("c")).await.unwrap(), "from memory");

    let json: S3Dict<String> = common::builder(&s, "copy-json")
        .codec(Codec::Json)
        .build()
        .await
        .unwrap();
    assert!(matches!(
        src.copy_to(&a, &json, &b, CopyOptions::new()).await,
        Err(Error::Config(_))
    ));
    src.clear().await.unwrap();
    dst.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_copies_between_dictionaries() {
    copies_between_dictionaries("seaweedfs").await;
}

#[tokio::test]
async fn moto_copies_between_dictionaries() {
    copies_between_dictionaries("moto").await;
}

#[tokio::test]
async fn rclone_copies_between_dictionaries() {
    copies_between_dictionaries("rclone").await;
}

/// A copy is a write of the destination dictionary: it carries that dictionary's object
/// settings and a fresh write id, never the source's.
async fn copies_carry_object_settings(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let src: S3Dict<String> = common::open(&s, "copy-plain").await;
    let mut settings = ObjectSettings::default();
    settings.encryption = Some(Encryption::S3);
    settings.storage_class = Some("STANDARD_IA".into());
    settings.tags = vec![("env".into(), "copy".into())];
    settings.cache_control = Some("max-age=60".into());
    settings.metadata = vec![("team".into(), "data".into())];
    let dst: S3Dict<String> = common::builder(&s, "copy-settings")
        .object_settings(settings)
        .build()
        .await
        .unwrap();
    let (a, b) = (key("a"), key("b"));
    src.put(&a, "one".into()).await.unwrap();
    copied(src.copy_to(&a, &dst, &b, CopyOptions::new()).await.unwrap());
    let object = dst.object_name(&b).unwrap();
    let head = dst
        .client()
        .head_object()
        .bucket(dst.bucket())
        .key(&object)
        .send()
        .await
        .unwrap();
    let tags: Vec<(String, String)> = dst
        .client()
        .get_object_tagging()
        .bucket(dst.bucket())
        .key(&object)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_owned(), t.value().to_owned()))
        .collect();
    let metadata = head.metadata().cloned().unwrap_or_default();
    println!("{server}: {head:?} tags {tags:?}");
    assert_eq!(
        head.server_side_encryption().map(|e| e.as_str()),
        Some("AES256")
    );
    assert_eq!(
        head.storage_class().map(|c| c.as_str()),
        Some("STANDARD_IA")
    );
    assert_eq!(head.cache_control(), Some("max-age=60"));
    assert_eq!(head.content_type(), Some(Codec::Bincode.content_type()));
    assert_eq!(metadata.get("team").map(String::as_str), Some("data"));
    assert!(metadata.contains_key("persidict-write-id"), "{metadata:?}");
    assert_eq!(tags, [("env".to_owned(), "copy".to_owned())]);
    src.clear().await.unwrap();
    dst.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_copies_carry_object_settings() {
    copies_carry_object_settings("seaweedfs").await;
}

#[tokio::test]
async fn moto_copies_carry_object_settings() {
    copies_carry_object_settings("moto").await;
}

/// A conditional copy whose answer is lost is settled by its write id with one HEAD,
/// never sent again blindly.
#[tokio::test]
async fn seaweedfs_copy_whose_answer_was_lost_is_settled() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let proxy = proxy::Proxy::start(
        &s.url,
        proxy::FaultRates::NONE,
        7,
        std::time::Duration::ZERO,
    )
    .await;
    let via = common::Server {
        name: "seaweedfs".into(),
        url: proxy.url.clone(),
    };
    let d: S3Dict<String> = common::builder(&via, "copy-lost")
        .capabilities(persidict::Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let (a, b) = (key("a"), key("b"));
    d.put(&a, "one".into()).await.unwrap();
    let copies = || proxy.log().iter().filter(|(m, _)| m == "PUT").count();
    let before = copies();
    let one = proxy.drop_next_answer("PUT");
    let task = tokio::spawn({
        let (d, a, b) = (d.clone(), a.clone(), b.clone());
        async move { d.copy(&a, &b, CopyOptions::if_absent()).await }
    });
    one.forwarded.notified().await;
    one.release.notify_one();
    let etag = copied(task.await.unwrap().unwrap());
    assert_eq!(copies() - before, 1, "the copy was not sent again");
    assert_eq!(d.etag(&b).await.unwrap(), etag);
    assert_eq!(d.get(&b).await.unwrap(), "one");
    d.clear().await.unwrap();
}
