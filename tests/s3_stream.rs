//! Streamed values on S3: multipart uploads (parts, the conditional completion, aborts on
//! every failure path, a lost completion answer) and ranged reads pinned to one ETag, with
//! the requests each sends.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::time::Duration;

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use persidict::s3::{MultipartCapabilities, MultipartSettings, RequestKind, StatsSnapshot};
use persidict::store::{Chunks, WriteCondition, WriteResult};
use persidict::{
    Capabilities, Capability, Codec, CopyOptions, CopyResult, ETag, Error, Key, S3Dict,
};
use proxy::{FaultRates, Proxy};

const MIB: usize = 1 << 20;
/// Three parts of 5 MiB, 5 MiB and a bit.
const LEN: usize = 10 * MIB + 12_345;

fn settings() -> MultipartSettings {
    MultipartSettings {
        threshold: 5 * MIB as u64,
        part_size: 5 * MIB as u64,
        parts_in_flight: 2,
        ..MultipartSettings::default()
    }
}

async fn dict(server: &str, test: &str) -> Option<S3Dict<Vec<u8>>> {
    dict_with(server, test, settings()).await
}

async fn dict_with(
    server: &str,
    test: &str,
    settings: MultipartSettings,
) -> Option<S3Dict<Vec<u8>>> {
    let s = common::server(server)?;
    Some(
        common::builder(&s, test)
            .codec(Codec::Raw)
            .multipart(settings)
            .build()
            .await
            .unwrap(),
    )
}

/// `len` bytes that differ with `seed`, so that versions never share parts.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 16) as u8)
        .collect()
}

/// `body` as a stream of 1 MiB chunks.
fn chunks(body: &[u8]) -> Chunks {
    let body = Bytes::copy_from_slice(body);
    let parts: Vec<persidict::Result<Bytes>> = (0..body.len())
        .step_by(MIB)
        .map(|i| Ok(body.slice(i..(i + MIB).min(body.len()))))
        .collect();
    stream::iter(parts).boxed()
}

/// An unconditional streamed write of `body`; its ETag.
async fn put(d: &S3Dict<Vec<u8>>, k: &Key, body: &[u8]) -> ETag {
    match d.put_stream(k, chunks(body), WriteCondition::Always).await {
        Ok(WriteResult::Written(etag)) => etag,
        other => panic!("an unconditional streamed write ended {other:?}"),
    }
}

async fn read_all(d: &S3Dict<Vec<u8>>, k: &Key) -> (Vec<u8>, ETag) {
    let object = d.get_stream(k).await.unwrap().expect("the key exists");
    let etag = object.etag().cloned().unwrap();
    (object.collect().await.unwrap().body.to_vec(), etag)
}

/// The multipart uploads still open under the dictionary's root.
async fn open_uploads(d: &S3Dict<Vec<u8>>) -> usize {
    let out = d
        .client()
        .list_multipart_uploads()
        .bucket(d.bucket())
        .prefix(d.s3_store().root())
        .send()
        .await
        .unwrap();
    out.uploads().len()
}

/// Waits up to 5 s for the open uploads to reach zero (an abort in a task of its own).
async fn no_uploads_left(d: &S3Dict<Vec<u8>>) {
    for _ in 0..50 {
        if open_uploads(d).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{} multipart uploads were left open", open_uploads(d).await);
}

fn requests(d: &S3Dict<Vec<u8>>, since: &StatsSnapshot) -> Vec<(RequestKind, u64)> {
    let now = d.stats().snapshot().since(since);
    RequestKind::ALL
        .into_iter()
        .map(|k| (k, now.get(k)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// A value over the threshold is three parts and comes back whole in three ranged GETs; a
/// value under it is one PUT and one GET.
async fn multipart_round_trip(server: &str) {
    let Some(d) = dict(server, "stream-round-trip").await else {
        return;
    };
    let k = Key::try_from("big/a").unwrap();
    let body = data(LEN, 1);
    let before = d.stats().snapshot();
    let written = d
        .put_stream(&k, chunks(&body), WriteCondition::Always)
        .await
        .unwrap();
    assert!(matches!(written, WriteResult::Written(_)), "{written:?}");
    assert_eq!(
        requests(&d, &before),
        [
            (RequestKind::CreateUpload, 1),
            (RequestKind::UploadPart, 3),
            (RequestKind::CompleteUpload, 1)
        ]
    );
    let before = d.stats().snapshot();
    let (read, etag) = read_all(&d, &k).await;
    assert_eq!(requests(&d, &before), [(RequestKind::Get, 3)]);
    assert!(
        read == body,
        "the streamed read differs from what was written"
    );
    let WriteResult::Written(written) = written else {
        unreachable!()
    };
    assert_eq!(etag, written, "the ETag of the completion is the object's");
    // The whole-value API reads it too, and the metadata is the store's.
    assert!(d.get(&k).await.unwrap() == body);
    assert_eq!(d.head(&k).await.unwrap().unwrap().size, LEN as u64);

    let small = Key::try_from("big/small").unwrap();
    let before = d.stats().snapshot();
    let written = d
        .put_stream(&small, chunks(b"tiny"), WriteCondition::Always)
        .await
        .unwrap();
    assert!(matches!(written, WriteResult::Written(_)));
    assert_eq!(
        d.get_stream(&small)
            .await
            .unwrap()
            .unwrap()
            .collect()
            .await
            .unwrap()
            .body,
        "tiny"
    );
    assert_eq!(
        requests(&d, &before),
        [(RequestKind::Get, 1), (RequestKind::Put, 1)]
    );
    // An empty value has no byte 0 to range over: one more plain GET.
    let empty = Key::try_from("big/empty").unwrap();
    put(&d, &empty, b"").await;
    let (read, _) = read_all(&d, &empty).await;
    assert!(read.is_empty());
    no_uploads_left(&d).await;
}

/// What each server enforces on `CompleteMultipartUpload` (measured by the probe).
fn expected_multipart(server: &str) -> MultipartCapabilities {
    match server {
        "seaweedfs" => MultipartCapabilities {
            if_absent: true,
            if_match: true,
        },
        // moto refuses an insert over an existing key but completes over any ETag.
        "moto" => MultipartCapabilities {
            if_absent: true,
            if_match: false,
        },
        other => panic!("no multipart expectations for {other}"),
    }
}

/// Insert-if-absent and compare-and-swap completions where the server enforces them; a
/// refused completion aborts its upload. Where it does not, the write is refused as
/// unsupported before a part is sent.
async fn multipart_conditions(server: &str) {
    let Some(d) = dict(server, "stream-conditions").await else {
        return;
    };
    let caps = d.s3_store().multipart_capabilities().await.unwrap();
    assert_eq!(caps, expected_multipart(server));
    let k = Key::try_from("big/c").unwrap();
    let first = data(LEN, 2);
    let WriteResult::Written(etag) = d
        .put_stream(&k, chunks(&first), WriteCondition::Always)
        .await
        .unwrap()
    else {
        panic!("an unconditional write was refused");
    };
    let before = d.stats().snapshot();
    let insert = d
        .put_stream(&k, chunks(&data(LEN, 3)), WriteCondition::IfAbsent)
        .await;
    assert!(caps.if_absent);
    assert_eq!(insert.unwrap(), WriteResult::Refused);
    assert_eq!(
        requests(&d, &before),
        [
            (RequestKind::CreateUpload, 1),
            (RequestKind::UploadPart, 3),
            (RequestKind::CompleteUpload, 1),
            (RequestKind::AbortUpload, 1)
        ]
    );
    no_uploads_left(&d).await;
    assert!(d.get(&k).await.unwrap() == first);
    // A fresh key takes an insert.
    let fresh = Key::try_from("big/fresh").unwrap();
    let inserted = d
        .put_stream(&fresh, chunks(&first), WriteCondition::IfAbsent)
        .await
        .unwrap();
    assert!(matches!(inserted, WriteResult::Written(_)));

    let second = data(LEN, 4);
    let before = d.stats().snapshot();
    let swapped = d
        .put_stream(&k, chunks(&second), WriteCondition::IfMatch(etag.clone()))
        .await;
    if !caps.if_match {
        assert!(
            matches!(
                swapped,
                Err(Error::Unsupported {
                    capability: Capability::MultipartIfMatch,
                    ..
                })
            ),
            "{swapped:?}"
        );
        assert_eq!(requests(&d, &before), []);
        assert!(d.get(&k).await.unwrap() == first);
        return;
    }
    assert_eq!(
        requests(&d, &before),
        [
            (RequestKind::CreateUpload, 1),
            (RequestKind::UploadPart, 3),
            (RequestKind::CompleteUpload, 1)
        ]
    );
    let WriteResult::Written(now) = swapped.unwrap() else {
        panic!("a compare-and-swap on the current ETag was refused");
    };
    let stale = d
        .put_stream(&k, chunks(&data(LEN, 5)), WriteCondition::IfMatch(etag))
        .await
        .unwrap();
    assert_eq!(stale, WriteResult::Refused);
    no_uploads_left(&d).await;
    let (read, current) = read_all(&d, &k).await;
    assert!(read == second);
    assert_eq!(current, now);
}

/// rclone cannot take a multipart upload (its `CreateMultipartUpload` answer is not in
/// S3's form): a streamed value over the threshold is refused as unsupported with nothing
/// stored, and under a threshold raised to hold it, it is one PUT; ranged reads work.
async fn multipart_unsupported_falls_to_a_raised_threshold(server: &str) {
    let Some(d) = dict(server, "stream-no-multipart").await else {
        return;
    };
    let k = Key::try_from("big/r").unwrap();
    let body = data(LEN, 11);
    let refused = d
        .put_stream(&k, chunks(&body), WriteCondition::Always)
        .await;
    assert!(
        matches!(
            refused,
            Err(Error::Unsupported {
                capability: Capability::MultipartUpload,
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(d.get_opt(&k).await.unwrap().is_none());
    let srv = common::server(server).unwrap();
    let raised: S3Dict<Vec<u8>> = common::builder(&srv, "stream-no-multipart")
        .codec(Codec::Raw)
        .multipart(MultipartSettings {
            threshold: 64 << 20,
            ..settings()
        })
        .build()
        .await
        .unwrap();
    let before = raised.stats().snapshot();
    put(&raised, &k, &body).await;
    assert_eq!(requests(&raised, &before), [(RequestKind::Put, 1)]);
    let before = raised.stats().snapshot();
    let (read, _) = read_all(&raised, &k).await;
    assert!(read == body);
    assert_eq!(requests(&raised, &before), [(RequestKind::Get, 3)]);
}

/// A stream that fails after two parts, and a write abandoned midway, leave no upload and
/// no object behind.
async fn multipart_failures_abort_the_upload(server: &str) {
    let Some(d) = dict(server, "stream-abort").await else {
        return;
    };
    let k = Key::try_from("big/failing").unwrap();
    let body = Bytes::from(data(12 * MIB, 6));
    let failing: Chunks = stream::iter(vec![
        Ok(body.slice(..6 * MIB)),
        Ok(body.slice(6 * MIB..11 * MIB)),
        Err(Error::Config("the source broke".into())),
    ])
    .boxed();
    let before = d.stats().snapshot();
    let failed = d.put_stream(&k, failing, WriteCondition::Always).await;
    assert!(
        matches!(failed, Err(Error::Config(ref m)) if m.contains("source broke")),
        "{failed:?}"
    );
    let sent = requests(&d, &before);
    assert!(sent.contains(&(RequestKind::AbortUpload, 1)), "{sent:?}");
    assert!(
        !sent.iter().any(|(k, _)| *k == RequestKind::CompleteUpload),
        "{sent:?}"
    );
    no_uploads_left(&d).await;
    assert!(d.get_opt(&k).await.unwrap().is_none());

    // A write whose future is dropped after its first parts: aborted in the background.
    let stalled: Chunks = stream::iter(vec![Ok(body.slice(..6 * MIB)), Ok(body.slice(6 * MIB..))])
        .chain(stream::pending())
        .boxed();
    let abandoned = tokio::time::timeout(
        Duration::from_secs(2),
        d.put_stream(&k, stalled, WriteCondition::Always),
    )
    .await;
    assert!(
        abandoned.is_err(),
        "the stalled write finished: {abandoned:?}"
    );
    no_uploads_left(&d).await;
    assert!(d.get_opt(&k).await.unwrap().is_none());
}

/// A streamed read whose object is replaced midway ends with `ChangedWhileRead`, never
/// with bytes of two versions.
async fn streamed_reads_never_mix_versions(server: &str) {
    // Written in one PUT (rclone takes no multipart upload), read in three ranges.
    let one_put = MultipartSettings {
        threshold: 64 << 20,
        ..settings()
    };
    let Some(d) = dict_with(server, "stream-pinned", one_put).await else {
        return;
    };
    let k = Key::try_from("big/pinned").unwrap();
    let old = data(LEN, 7);
    put(&d, &k, &old).await;
    let mut object = d.get_stream(&k).await.unwrap().unwrap();
    let first = object.chunks.next().await.unwrap().unwrap();
    assert!(old.starts_with(&first));
    put(&d, &k, &data(LEN, 8)).await;
    let mut read = first.len();
    let end = loop {
        match object.chunks.next().await {
            Some(Ok(chunk)) => {
                assert!(
                    old[read..].starts_with(&chunk),
                    "a chunk of another version"
                );
                read += chunk.len();
            }
            Some(Err(e)) => break e,
            None => panic!("the stream of a replaced object ended cleanly"),
        }
    };
    assert!(matches!(end, Error::ChangedWhileRead { .. }), "{end:?}");
    assert!(read < LEN);
}

/// The answer to a conditional `CompleteMultipartUpload` is lost after the server applied
/// it: the write id settles it as written, without completing again.
async fn lost_completion_answer_is_settled(server: &str) {
    let Some(srv) = common::server(server) else {
        return;
    };
    let direct = common::builder(&srv, "stream-lost")
        .codec(Codec::Raw)
        .multipart(settings())
        .build::<Vec<u8>>()
        .await
        .unwrap();
    let proxy = Proxy::start(&srv.url, FaultRates::NONE, 1, Duration::ZERO).await;
    let via: S3Dict<Vec<u8>> = S3Dict::builder(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(direct.s3_store().root().trim_end_matches('/'))
        .codec(Codec::Raw)
        .multipart(settings())
        .capabilities(Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let k = Key::try_from("big/lost").unwrap();
    let WriteResult::Written(etag) = direct
        .put_stream(&k, chunks(&data(LEN, 9)), WriteCondition::Always)
        .await
        .unwrap()
    else {
        panic!("refused");
    };
    let etag = direct.etag(&k).await.unwrap_or(etag);
    let drop = proxy.drop_next_answer("POST uploadId=");
    let release = drop.release.clone();
    tokio::spawn(async move {
        drop.forwarded.notified().await;
        release.notify_one();
    });
    let new = data(LEN, 10);
    let before = via.stats().snapshot();
    let written = via
        .put_stream(&k, chunks(&new), WriteCondition::IfMatch(etag))
        .await
        .unwrap();
    assert!(matches!(written, WriteResult::Written(_)), "{written:?}");
    let sent = requests(&via, &before);
    assert!(sent.contains(&(RequestKind::CompleteUpload, 1)), "{sent:?}");
    assert!(sent.contains(&(RequestKind::Head, 1)), "{sent:?}");
    assert!(direct.get(&k).await.unwrap() == new);
    let WriteResult::Written(settled) = written else {
        unreachable!()
    };
    assert_eq!(settled, direct.etag(&k).await.unwrap());
}

macro_rules! per_server {
    ($($server:ident),*) => {$(
        mod $server {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn multipart_round_trip() {
                super::multipart_round_trip(stringify!($server)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn multipart_failures_abort_the_upload() {
                super::multipart_failures_abort_the_upload(stringify!($server)).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn streamed_reads_never_mix_versions() {
                super::streamed_reads_never_mix_versions(stringify!($server)).await;
            }
        }
    )*};
}

per_server!(seaweedfs, moto);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seaweedfs_multipart_conditions() {
    multipart_conditions("seaweedfs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_multipart_conditions() {
    multipart_conditions("moto").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rclone_multipart_unsupported_falls_to_a_raised_threshold() {
    multipart_unsupported_falls_to_a_raised_threshold("rclone").await;
}

/// rclone's streamed reads: ranged GETs, and a replaced object ends the stream (rclone
/// ignores `If-Match`; the ETag of each range tells).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rclone_streamed_reads_never_mix_versions() {
    streamed_reads_never_mix_versions("rclone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seaweedfs_lost_completion_answer_is_settled() {
    lost_completion_answer_is_settled("seaweedfs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_lost_completion_answer_is_settled() {
    lost_completion_answer_is_settled("moto").await;
}

/// The multipart settings are checked when the dictionary is built, and read from URLs.
#[tokio::test]
async fn seaweedfs_multipart_settings_are_checked() {
    let Some(srv) = common::server("seaweedfs") else {
        return;
    };
    let bad = common::builder(&srv, "stream-settings")
        .multipart(MultipartSettings {
            part_size: 1024,
            ..MultipartSettings::default()
        })
        .build::<Vec<u8>>()
        .await;
    assert!(
        matches!(bad, Err(Error::Config(ref m)) if m.contains("part_size")),
        "{bad:?}"
    );
    let store = persidict::S3DictBuilder::from_url(
        "s3://persidict-test/p?multipart_threshold=32MiB&part_size=6291456&parts_in_flight=8&copy_threshold=64MiB&copy_part_size=5MiB",
    )
    .unwrap()
    .endpoint_url(&srv.url)
    .region("us-east-1")
    .build_store()
    .await
    .unwrap();
    assert_eq!(
        *store.multipart_settings(),
        MultipartSettings {
            threshold: 32 << 20,
            part_size: 6 << 20,
            parts_in_flight: 8,
            copy_threshold: 64 << 20,
            copy_part_size: 5 << 20,
        }
    );
    for bad in [
        "part_size=8MB",
        "parts_in_flight=0",
        "multipart_threshold=x",
        "copy_part_size=1KiB",
        "copy_threshold=6GiB",
    ] {
        // Parse errors come from the URL, range errors from the build.
        let e = match persidict::S3DictBuilder::from_url(&format!("s3://persidict-test/p?{bad}")) {
            Err(e) => e,
            Ok(b) => b
                .endpoint_url(&srv.url)
                .region("us-east-1")
                .build_store()
                .await
                .unwrap_err(),
        };
        assert!(
            e.to_string().contains(bad.split('=').next().unwrap()),
            "{e}"
        );
    }
}

/// Sources over `copy_threshold` are copied in parts (`UploadPartCopy`), the bytes staying
/// on the server: a HEAD, the upload and its parts; the destination's condition on the
/// completion, a stale source pin refused after the HEAD, renames too.
async fn multipart_copies(server: &str) {
    let copy_in_parts = MultipartSettings {
        threshold: 64 << 20,
        copy_threshold: 5 << 20,
        copy_part_size: 5 << 20,
        ..settings()
    };
    let Some(d) = dict_with(server, "stream-copy", copy_in_parts).await else {
        return;
    };
    let caps = d.s3_store().multipart_capabilities().await.unwrap();
    let (a, b, c) = (
        Key::try_from("big/a").unwrap(),
        Key::try_from("big/b").unwrap(),
        Key::try_from("big/c").unwrap(),
    );
    let body = data(LEN, 12);
    let source = put(&d, &a, &body).await;
    let before = d.stats().snapshot();
    let copied = d.copy(&a, &b, CopyOptions::new()).await.unwrap();
    assert!(matches!(copied, CopyResult::Copied(_)), "{copied:?}");
    assert_eq!(
        requests(&d, &before),
        [
            (RequestKind::Head, 1),
            (RequestKind::CreateUpload, 1),
            (RequestKind::UploadPart, 3),
            (RequestKind::CompleteUpload, 1)
        ]
    );
    let sent = d.stats().snapshot().since(&before).bytes_sent();
    assert!(
        sent < 64 << 10,
        "{sent} bytes went up for a server-side copy"
    );
    assert!(d.get(&b).await.unwrap() == body);
    no_uploads_left(&d).await;

    // Insert-if-absent onto an existing key: refused by the completion, aborted.
    assert!(caps.if_absent);
    let before = d.stats().snapshot();
    let refused = d.copy(&a, &b, CopyOptions::if_absent()).await.unwrap();
    assert_eq!(refused, CopyResult::Refused);
    assert!(requests(&d, &before).contains(&(RequestKind::AbortUpload, 1)));
    no_uploads_left(&d).await;
    // A stale source pin ends at the HEAD.
    let before = d.stats().snapshot();
    let stale = ETag::new("\"00000000000000000000000000000000-1\"");
    let changed = d
        .copy(&a, &c, CopyOptions::new().source_etag(stale))
        .await
        .unwrap();
    assert_eq!(changed, CopyResult::SourceChanged);
    assert_eq!(requests(&d, &before), [(RequestKind::Head, 1)]);
    // A rename moves it in parts and removes the source.
    let renamed = d
        .rename(&a, &c, CopyOptions::new().source_etag(source))
        .await
        .unwrap();
    assert!(renamed.is_renamed(), "{renamed:?}");
    assert!(d.get_opt(&a).await.unwrap().is_none());
    assert!(d.get(&c).await.unwrap() == body);
    no_uploads_left(&d).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn seaweedfs_multipart_copies() {
    multipart_copies("seaweedfs").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn moto_multipart_copies() {
    multipart_copies("moto").await;
}
