//! Capability probes report what each server really enforces (the measured matrix in
//! S3-SERVERS.md), once per endpoint and bucket, and leave nothing behind.

mod common;

use persidict::prelude::*;
use persidict::{Capabilities, ProbeReport, ProbeVerdict, S3Dict};
use ProbeVerdict::{Enforced, Ignored, Refused};

const NAMES: [&str; 9] = [
    "put_if_absent",
    "put_if_match",
    "delete_if_match",
    "get_if_none_match",
    "delete_if_exists",
    "delete_many_if_match",
    "copy_if_absent",
    "copy_if_match",
    "copy_source_if_match",
];

/// A fresh probe report of `server` (on a dictionary with declared capabilities, to show
/// that the report really probes), checked against `expected` verdicts in `NAMES` order.
async fn report_matches(server: &str, expected: [ProbeVerdict; 9]) -> Option<ProbeReport> {
    let s = common::server(server)?;
    let d: S3Dict<u64> = common::builder(&s, "report")
        .capabilities(Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let before = d.stats().snapshot();
    let report = d.probe_report().await.unwrap();
    assert!(
        d.stats().snapshot().since(&before).total() >= 8,
        "the report probes even with declared capabilities"
    );
    println!("{server}:\n{report}");
    let got: Vec<_> = report
        .checks
        .iter()
        .map(|c| (c.capability, c.verdict))
        .collect();
    let want: Vec<_> = NAMES.into_iter().zip(expected).collect();
    assert_eq!(got, want, "{report}");
    // The verdicts decide the capabilities, as the shared probe does.
    let caps = report.capabilities();
    assert_eq!(
        [
            caps.put_if_absent,
            caps.put_if_match,
            caps.delete_if_match,
            caps.get_if_none_match,
            caps.delete_if_exists,
            caps.delete_many_if_match,
            caps.copy_if_absent,
            caps.copy_if_match,
            caps.copy_source_if_match,
        ],
        expected.map(|v| v == Enforced)
    );
    // The declared capabilities stay in force.
    assert_eq!(d.capabilities().await.unwrap(), Capabilities::ALL);
    assert_eq!(d.len().await.unwrap(), 0, "no probe object is visible");
    Some(report)
}

async fn probe_fresh_bucket(server: &str) -> Option<(S3Dict<u64>, Capabilities)> {
    let s = common::server(server)?;
    // A bucket of its own, so this process has not probed it before.
    let bucket = format!("persidict-probe-{:08x}", fastrand::u32(..));
    let d: S3Dict<u64> = S3Dict::builder(&bucket)
        .endpoint_url(&s.url)
        .root_prefix("p")
        .create_bucket(true)
        .build()
        .await
        .unwrap();
    let before = d.stats().snapshot();
    let caps = d.capabilities().await.unwrap();
    let probing = d.stats().snapshot().since(&before).total();
    assert!(probing > 0, "the first use probes");

    // A second dictionary on the same endpoint and bucket reuses the result.
    let other: S3Dict<String> = S3Dict::builder(&bucket)
        .endpoint_url(&s.url)
        .root_prefix("q")
        .build()
        .await
        .unwrap();
    assert_eq!(other.capabilities().await.unwrap(), caps);
    assert_eq!(other.stats().snapshot().total(), 0, "no second probe");

    // No probe object is left, and none was ever visible to a dictionary.
    let left = d
        .client()
        .list_objects_v2()
        .bucket(&bucket)
        .send()
        .await
        .unwrap();
    assert_eq!(
        left.contents().len(),
        0,
        "probe objects left: {:?}",
        left.contents()
    );
    assert_eq!(d.len().await.unwrap(), 0);
    println!("{server}: {caps:?} ({probing} probe requests)");
    Some((d, caps))
}

#[tokio::test]
async fn seaweedfs_enforces_everything() {
    let Some((_, caps)) = probe_fresh_bucket("seaweedfs").await else {
        return;
    };
    assert_eq!(caps, Capabilities::ALL);
}

#[tokio::test]
async fn moto_enforces_conditional_writes_but_not_if_match_star() {
    let Some((_, caps)) = probe_fresh_bucket("moto").await else {
        return;
    };
    assert_eq!(
        caps,
        Capabilities {
            delete_if_exists: false,
            // moto deletes every object of a DeleteObjects, whatever its ETag element.
            delete_many_if_match: false,
            // moto copies whatever the CopyObject preconditions say.
            copy_if_absent: false,
            copy_if_match: false,
            copy_source_if_match: false,
            ..Capabilities::ALL
        }
    );
}

#[tokio::test]
async fn rclone_ignores_conditional_writes() {
    let Some((_, caps)) = probe_fresh_bucket("rclone").await else {
        return;
    };
    assert_eq!(
        caps,
        Capabilities {
            get_if_none_match: true,
            ..Capabilities::NONE
        }
    );
}

/// Many dictionaries asking at once share one probe.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_uses_probe_once() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let bucket = format!("persidict-probe-{:08x}", fastrand::u32(..));
    let first: S3Dict<u64> = S3Dict::builder(&bucket)
        .endpoint_url(&s.url)
        .create_bucket(true)
        .build()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let d = first.subdict(&Key::try_from(format!("s{i}")).unwrap());
        tasks.push(tokio::spawn(async move { d.capabilities().await.unwrap() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), Capabilities::ALL);
    }
    // One probe: 1 PUT + 3 probe requests with their HEAD checks + GET + 2 DELETEs with a
    // HEAD + a PUT and 2 DeleteObjects with their HEADs (about 21), then a PUT, 6
    // CopyObjects and 3 HEADs for the copy checks, the 2 cleanup DELETEs and the
    // ListObjectVersions that finds no versions left (about 34);
    // eight concurrent probes would send eight times as many.
    let sent = first.stats().snapshot().total();
    println!("one probe: {sent} requests");
    assert!(sent < 40, "{sent} requests: the probe ran more than once");
}

/// Declared capabilities skip probing entirely.
#[tokio::test]
async fn declared_capabilities_skip_the_probe() {
    let Some(s) = common::server("moto") else {
        return;
    };
    let d: S3Dict<u64> = common::builder(&s, "declared")
        .capabilities(Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let before = d.stats().snapshot();
    assert_eq!(d.capabilities().await.unwrap(), Capabilities::ALL);
    assert_eq!(d.stats().snapshot().since(&before).total(), 0);
}

#[tokio::test]
async fn seaweedfs_report_enforces_all_five() {
    let Some(r) = report_matches("seaweedfs", [Enforced; 9]).await else {
        return;
    };
    // The success path first (insert on an absent key), then the refusal.
    assert!(r.checks[0].answer.starts_with("200; then 412"), "{r}");
    assert!(r.checks[3].answer.starts_with("304"), "{r}");
}

/// moto answers `412` to `DELETE If-Match: *` on an existing object: it compares the
/// asterisk literally. Nothing is overwritten, but the request cannot be used, so the
/// verdict is "refused" (not "ignored", which would mean it was applied regardless).
#[tokio::test]
async fn moto_report_refuses_if_match_star() {
    let Some(r) = report_matches(
        "moto",
        [
            Enforced, Enforced, Enforced, Enforced, Refused, Ignored, Ignored, Ignored, Ignored,
        ],
    )
    .await
    else {
        return;
    };
    assert!(r.checks[4].answer.starts_with("412"), "{r}");
    assert!(r.checks[4].answer.contains("object kept"), "{r}");
}

#[tokio::test]
async fn rclone_report_ignores_conditional_writes() {
    let Some(r) = report_matches(
        "rclone",
        [
            Ignored, Ignored, Ignored, Enforced, Ignored, Ignored, Ignored, Ignored, Ignored,
        ],
    )
    .await
    else {
        return;
    };
    assert!(r.checks[0].answer.contains("overwritten"), "{r}");
    assert!(r.checks[2].answer.contains("deleted"), "{r}");
}
