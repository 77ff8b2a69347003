//! Version history on versioned buckets: listing, reading and restoring versions on
//! SeaweedFS and moto, the requests each sends, a typed `Unsupported` where there are no
//! versions (rclone, an unversioned bucket, memory, files), and a probe that leaves no
//! versions of its own behind.

mod common;

use persidict::prelude::*;
use persidict::s3::{RequestKind, StatsSnapshot};
use persidict::{Capability, CopyResult, S3Dict};

use RequestKind::{Copy, Get, Head, ListVersions, Other};

/// A bucket of the tests' own, with versioning turned on by the builder.
const VERSIONED: &str = "persidict-versioned";

fn key(s: &str) -> Key {
    Key::try_from(s).unwrap()
}

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
    println!("{what:<44} {got}");
}

#[track_caller]
fn unsupported<T: std::fmt::Debug>(r: persidict::Result<T>, want: Capability) {
    match r {
        Err(Error::Unsupported { capability, .. }) => assert_eq!(capability, want),
        other => panic!("expected Unsupported({want:?}), got {other:?}"),
    }
}

fn versioned(server: &common::Server, test: &str) -> persidict::S3DictBuilder {
    S3Dict::builder(VERSIONED)
        .endpoint_url(&server.url)
        .region("us-east-1")
        .root_prefix(common::fresh_prefix(test))
        .create_bucket(true)
        .versioning(true)
}

/// Writes, a delete and restores on a versioned bucket; `enforced`: whether the server
/// enforces the copy preconditions a restore is sent with.
async fn history(server: &str, enforced: bool) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<String> = versioned(&s, "versions")
        .allow_racy_fallback(!enforced)
        .build()
        .await
        .unwrap();
    d.capabilities().await.unwrap();
    let k = key("audit");
    d.put(&k, "one".into()).await.unwrap();
    d.put(&k, "two".into()).await.unwrap();
    d.delete(&k).await.unwrap();

    // The first version operation asks the bucket once.
    let (v, n) = count(&d, d.versions(&k)).await;
    let v = v.unwrap();
    expect(
        "versions (first: + GetBucketVersioning)",
        n,
        &[(ListVersions, 1), (Other, 1)],
    );
    let (again, n) = count(&d, d.versions(&k)).await;
    assert_eq!(again.unwrap(), v);
    expect("versions", n, &[(ListVersions, 1)]);
    assert_eq!(v.len(), 3, "{v:?}");
    assert!(v[0].is_latest && v[0].is_delete_marker, "{v:?}");
    assert!(v[1..].iter().all(|x| !x.is_delete_marker && !x.is_latest));
    assert_eq!(v.iter().map(|x| x.size).collect::<Vec<_>>()[1..].len(), 2);
    assert!(v[1..].iter().all(|x| x.etag.is_some()));
    let oldest = v[2].version_id.clone();
    let (value, n) = count(&d, d.get_version(&k, &oldest)).await;
    assert_eq!(value.unwrap().as_deref(), Some("one"));
    expect("get_version", n, &[(Get, 1)]);
    assert_eq!(d.get_version(&k, &v[0].version_id).await.unwrap(), None);
    assert!(d.versions(&key("never")).await.unwrap().is_empty());

    // Restore over the delete marker: the key is absent, so If-None-Match: *.
    let (r, n) = count(&d, d.restore_version(&k, &oldest, None)).await;
    let etag = match r.unwrap() {
        CopyResult::Copied(e) => e,
        other => panic!("restore: {other:?}"),
    };
    if enforced {
        expect("restore_version(absent)", n, &[(Copy, 1)]);
    } else {
        expect("restore_version(absent), racy", n, &[(Head, 1), (Copy, 1)]);
    }
    assert_eq!(d.get(&k).await.unwrap(), "one");
    assert_eq!(d.etag(&k).await.unwrap(), etag);
    assert_eq!(
        d.versions(&k).await.unwrap().len(),
        4,
        "the history is kept"
    );

    // A compare-and-swap against the current ETag.
    let middle = v[1].version_id.clone();
    let stale = ETag::from("\"0123456789abcdef0123456789abcdef\"");
    let (r, n) = count(&d, d.restore_version(&k, &middle, Some(&stale))).await;
    assert_eq!(r.unwrap(), CopyResult::Refused);
    if enforced {
        expect("restore_version(stale etag)", n, &[(Copy, 1), (Head, 1)]);
    }
    assert_eq!(
        d.get(&k).await.unwrap(),
        "one",
        "a refused restore writes nothing"
    );
    let r = d.restore_version(&k, &middle, Some(&etag)).await.unwrap();
    assert!(r.is_copied(), "{r:?}");
    assert_eq!(d.get(&k).await.unwrap(), "two");
    let current = d.etag(&k).await.unwrap();
    assert_eq!(
        d.restore_version(&k, "no-such-version", Some(&current))
            .await
            .unwrap(),
        CopyResult::SourceAbsent
    );
    assert_eq!(d.get(&k).await.unwrap(), "two");

    if !enforced {
        // Without the racy fallback the restore is refused as unsupported.
        let strict: S3Dict<String> = versioned(&s, "versions-strict").build().await.unwrap();
        strict.put(&k, "x".into()).await.unwrap();
        let id = strict.versions(&k).await.unwrap()[0].version_id.clone();
        let current = strict.etag(&k).await.unwrap();
        unsupported(
            strict.restore_version(&k, &id, Some(&current)).await,
            Capability::CopyIfMatch,
        );
    }
}

#[tokio::test]
async fn seaweedfs_version_history() {
    history("seaweedfs", true).await;
}

#[tokio::test]
async fn moto_version_history() {
    history("moto", false).await;
}

/// The probes (the capability probe, and the multipart probe's uploads) delete their
/// scratch objects by version id: no version of them remains.
async fn probe_leaves_no_versions(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<String> = versioned(&s, "versions-probe").build().await.unwrap();
    let report = d.probe_report().await.unwrap();
    assert_eq!(report.checks.len(), 9);
    // The first multipart capabilities of this endpoint and bucket in the process: probed
    // under this dictionary's root.
    let before = d.stats().snapshot();
    d.s3_store().multipart_capabilities().await.unwrap();
    let probed = d.stats().snapshot().since(&before);
    assert!(
        probed.get(persidict::s3::RequestKind::CompleteUpload) == 4,
        "{server}: {probed}"
    );
    let root = d.s3_store().root().to_owned();
    let left = d
        .client()
        .list_object_versions()
        .bucket(VERSIONED)
        .prefix(&root)
        .send()
        .await
        .unwrap();
    assert!(
        left.versions().is_empty() && left.delete_markers().is_empty(),
        "{server}: the probe left {:?} {:?}",
        left.versions(),
        left.delete_markers()
    );
}

#[tokio::test]
async fn seaweedfs_probe_leaves_no_versions() {
    probe_leaves_no_versions("seaweedfs").await;
}

#[tokio::test]
async fn moto_probe_leaves_no_versions() {
    probe_leaves_no_versions("moto").await;
}

/// Where nothing keeps versions every version operation is a typed `Unsupported`.
#[tokio::test]
async fn rclone_has_no_versions() {
    let Some(s) = common::server("rclone") else {
        return;
    };
    unsupported(
        versioned(&s, "versions").build::<String>().await,
        Capability::Versioning,
    );
    let d: S3Dict<String> = common::open(&s, "versions").await;
    let k = key("k");
    d.put(&k, "v".into()).await.unwrap();
    unsupported(d.versions(&k).await, Capability::Versioning);
    unsupported(d.get_version(&k, "v1").await, Capability::Versioning);
    unsupported(
        d.restore_version(&k, "v1", None).await,
        Capability::Versioning,
    );
}

#[tokio::test]
async fn seaweedfs_unversioned_bucket_has_no_versions() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<String> = common::open(&s, "versions").await;
    let k = key("k");
    d.put(&k, "v".into()).await.unwrap();
    let (r, n) = count(&d, d.versions(&k)).await;
    unsupported(r, Capability::Versioning);
    expect("versions on an unversioned bucket", n, &[(Other, 1)]);
    let (r, n) = count(&d, d.get_version(&k, "v1")).await;
    unsupported(r, Capability::Versioning);
    expect("asked once per store", n, &[]);
}

#[tokio::test]
async fn memory_has_no_versions() {
    let d = MemDict::<String>::new();
    let k = key("k");
    d.put(&k, "v".into()).await.unwrap();
    unsupported(d.versions(&k).await, Capability::Versioning);
    unsupported(d.get_version(&k, "v1").await, Capability::Versioning);
    unsupported(
        d.restore_version(&k, "v1", None).await,
        Capability::Versioning,
    );
}

#[tokio::test]
async fn file_has_no_versions() {
    let dir = tempfile::tempdir().unwrap();
    let d: FileDict<String> = FileDict::builder(dir.path()).build().await.unwrap();
    let k = key("k");
    d.put(&k, "v".into()).await.unwrap();
    unsupported(d.versions(&k).await, Capability::Versioning);
    unsupported(d.get_version(&k, "v1").await, Capability::Versioning);
    unsupported(
        d.restore_version(&k, "v1", None).await,
        Capability::Versioning,
    );
}
