//! Bad input of every kind gives a typed error that names the problem, in bounded time,
//! without a panic: invalid keys, corrupt, truncated, foreign and other-codec objects,
//! values over the maximum, a missing bucket, a server that is down, and servers that are
//! not S3. Readers never see a partial object.

mod common;

use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::primitives::ByteStream;
use futures::TryStreamExt;
use persidict::key::{Naming, MAX_OBJECT_NAME_LEN};
use persidict::prelude::*;
use persidict::{Capabilities, KeyRule, S3Dict};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A hang detector, not a speed check.
const HANG: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    name: String,
    scores: Vec<u64>,
}

fn record() -> Record {
    Record {
        name: "a fairly long name to make truncation bite".into(),
        scores: (0..50).collect(),
    }
}

#[test]
fn memory_invalid_key_parts_are_typed_errors_naming_the_part() {
    let long = "x".repeat(201);
    let cases: Vec<(&str, KeyRule)> = vec![
        ("", KeyRule::EmptyPart),
        (".", KeyRule::DotPart),
        ("..", KeyRule::DotPart),
        ("a/b", KeyRule::ForbiddenChar { ch: '/' }),
        ("/", KeyRule::ForbiddenChar { ch: '/' }),
        ("café", KeyRule::ForbiddenChar { ch: 'é' }),
        ("tab\there", KeyRule::ForbiddenChar { ch: '\t' }),
        ("nul\0", KeyRule::ForbiddenChar { ch: '\0' }),
        ("line\nbreak", KeyRule::ForbiddenChar { ch: '\n' }),
        ("back\\slash", KeyRule::ForbiddenChar { ch: '\\' }),
        ("%2e%2e", KeyRule::ForbiddenChar { ch: '%' }),
        (&long, KeyRule::TooLong { len: 201 }),
    ];
    for (part, rule) in cases {
        let err = Key::new(["ok", part]).unwrap_err();
        assert_eq!(err.part, part);
        assert_eq!(err.rule, rule, "{part:?}");
        let message = Error::from(err).to_string();
        assert!(message.contains("invalid key part"), "{message}");
        assert!(
            message.contains(&format!("{part:?}")),
            "names the part: {message}"
        );
    }
    assert_eq!(
        Key::new(Vec::<String>::new()).unwrap_err().rule,
        KeyRule::NoParts
    );
    assert!(Key::parse_path("a//b").is_err());
    assert!(Key::parse_path("../etc/passwd").is_err());
}

#[test]
fn memory_object_names_over_1024_bytes_are_refused_before_any_request() {
    let part = "p".repeat(200);
    let k = Key::new([&part, &part, &part, &part, &part]).unwrap();
    let naming = Naming::new("root", 4, "bincode").unwrap();
    let err = naming.object_name(&k).unwrap_err();
    match err.rule {
        KeyRule::ObjectNameTooLong { len } => assert!(len > MAX_OBJECT_NAME_LEN),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("1024"), "{err}");
    // Four parts fit.
    let k = Key::new([&part, &part, &part, &part]).unwrap();
    assert!(naming.object_name(&k).unwrap().len() <= MAX_OBJECT_NAME_LEN);
}

/// Writes raw bytes at `key`'s object name, as a foreign writer would.
async fn put_raw<V: persidict::Value>(d: &S3Dict<V>, key: &Key, bytes: Vec<u8>) {
    d.client()
        .put_object()
        .bucket(d.bucket())
        .key(d.object_name(key).unwrap())
        .body(ByteStream::from(bytes))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn seaweedfs_invalid_keys_send_nothing() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::builder(&s, "badkey")
        .capabilities(Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let part = "p".repeat(200);
    let k = Key::new([&part, &part, &part, &part, &part, &part]).unwrap();
    let before = d.stats().snapshot().total();
    for err in [
        d.put(&k, 1).await.unwrap_err(),
        d.get_opt(&k).await.unwrap_err(),
        d.put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never)
            .await
            .unwrap_err(),
        d.discard(&k).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, Error::InvalidKey(e) if matches!(e.rule, KeyRule::ObjectNameTooLong { .. })),
            "{err:?}"
        );
    }
    assert_eq!(d.stats().snapshot().total(), before, "no request was sent");
}

#[tokio::test]
async fn seaweedfs_corrupt_truncated_and_other_codec_objects_are_decode_errors() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<Record> = common::open(&s, "corrupt").await;
    let k = Key::try_from("rec").unwrap();
    d.put(&k, record()).await.unwrap();
    let good = persidict::Codec::Bincode.encode(&record()).unwrap();
    let json = persidict::Codec::Json.encode(&record()).unwrap();
    let mut length_bomb = vec![1u8]; // the name's varint length, then 2^60 elements
    length_bomb.extend_from_slice(&[b'n', 253]);
    length_bomb.extend_from_slice(&(1u64 << 60).to_le_bytes());
    for (what, bytes) in [
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"\xff\xfe\xfd not bincode at all".to_vec()),
        ("json under a bincode name", json),
        ("hostile length prefix", length_bomb),
    ] {
        put_raw(&d, &k, bytes).await;
        let err = d.get(&k).await.unwrap_err();
        match &err {
            Error::Decode { key, codec, .. } => {
                assert_eq!(key, &k, "{what}");
                assert_eq!(*codec, "bincode", "{what}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert!(
            err.to_string().contains("rec"),
            "{what}: names the key: {err}"
        );
        // Iteration reports the same typed error rather than skipping or panicking.
        let items: Result<Vec<(Key, Record)>, Error> = d.items().try_collect().await;
        assert!(matches!(items, Err(Error::Decode { .. })), "{what}");
    }
    d.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_foreign_objects_are_skipped_by_iteration_and_not_read_by_get() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "foreign-get").await;
    let mine = Key::try_from("mine").unwrap();
    d.put(&mine, 7).await.unwrap();
    let name = d.object_name(&mine).unwrap();
    let dir = &name[..name.rfind('/').unwrap() + 1];
    // An unsigned object whose name looks like the key "plain": not ours.
    for foreign in ["plain.bincode", "plain_aaaa.bincode", "plain"] {
        d.client()
            .put_object()
            .bucket(common::BUCKET)
            .key(format!("{dir}{foreign}"))
            .body(ByteStream::from_static(&[1]))
            .send()
            .await
            .unwrap();
    }
    let keys: Vec<Key> = d.keys().try_collect().await.unwrap();
    assert_eq!(keys, vec![mine.clone()]);
    let plain = Key::try_from("plain").unwrap();
    assert!(d.get(&plain).await.unwrap_err().is_not_found());
    // A foreign object at exactly a key's name is read, and its junk is a typed error.
    put_raw(
        &d,
        &plain,
        b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff".to_vec(),
    )
    .await;
    assert!(matches!(d.get(&plain).await, Err(Error::Decode { .. })));
    d.client()
        .delete_object()
        .bucket(common::BUCKET)
        .key(d.object_name(&plain).unwrap())
        .send()
        .await
        .unwrap();
    d.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_values_over_the_maximum_are_refused_both_ways() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let prefix = common::fresh_prefix("maxsize");
    let small: S3Dict<Vec<u8>> = common::builder(&s, "unused")
        .root_prefix(&prefix)
        .max_value_size(64)
        .build()
        .await
        .unwrap();
    let big: S3Dict<Vec<u8>> = common::builder(&s, "unused")
        .root_prefix(&prefix)
        .build()
        .await
        .unwrap();
    let k = Key::try_from("v").unwrap();
    let err = small.put(&k, vec![7; 100]).await.unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { size, max: 64, .. } if size > 64),
        "{err:?}"
    );
    assert!(!big.contains(&k).await.unwrap(), "nothing was written");
    big.put(&k, vec![7; 100]).await.unwrap();
    let err = small.get(&k).await.unwrap_err();
    assert!(
        matches!(err, Error::ValueTooLarge { max: 64, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("64"), "{err}");
    big.clear().await.unwrap();
}

async fn missing_bucket(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let bucket = format!("persidict-missing-{:08x}", fastrand::u32(..));
    let d: S3Dict<u64> = S3Dict::builder(&bucket)
        .endpoint_url(&s.url)
        .region("us-east-1")
        .build()
        .await
        .unwrap();
    let k = Key::try_from("k").unwrap();
    let mut errors = vec![d.get_opt(&k).await.unwrap_err(), d.len().await.unwrap_err()];
    // SeaweedFS creates a missing bucket on the first PUT (so a write there succeeds and
    // the probe's PUTs would create it): writes are checked on moto only.
    if server != "seaweedfs" {
        errors.push(d.put(&k, 1).await.unwrap_err());
        errors.push(d.capabilities().await.unwrap_err());
    }
    for err in errors {
        assert!(
            matches!(&err, Error::BucketNotFound { bucket: b, .. } if *b == bucket),
            "{server}: {err:?}"
        );
        assert!(err.to_string().contains(&bucket), "{err}");
    }
}

#[tokio::test]
async fn seaweedfs_missing_bucket_is_a_typed_error_naming_it() {
    missing_bucket("seaweedfs").await;
}

#[tokio::test]
async fn moto_missing_bucket_is_a_typed_error_naming_it() {
    missing_bucket("moto").await;
}

/// A dictionary on `endpoint` with short timeouts and few retries.
async fn quick(endpoint: &str) -> S3Dict<u64> {
    S3Dict::builder("any-bucket")
        .endpoint_url(endpoint)
        .region("us-east-1")
        .capabilities(Capabilities::ALL)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_millis(500))
                .operation_attempt_timeout(Duration::from_millis(400))
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .build()
        .await
        .unwrap()
}

/// Every kind of operation against `d`, each a typed error in bounded time.
async fn every_operation_fails_typed(d: &S3Dict<u64>, what: &str) -> Vec<Error> {
    let k = Key::try_from("k").unwrap();
    let e = ETag::from("\"0123\"");
    let mut errors = Vec::new();
    macro_rules! check {
        ($op:expr) => {
            match tokio::time::timeout(HANG, $op).await.expect("hung") {
                Ok(v) => panic!("{what}: {} succeeded: {v:?}", stringify!($op)),
                Err(err) => errors.push(err),
            }
        };
    }
    check!(d.get_opt(&k));
    check!(d.put(&k, 1));
    check!(d.put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never));
    check!(d.put_if(
        &k,
        Write::Value(1),
        Condition::Same,
        Some(&e),
        Retrieve::Never
    ));
    check!(d.setdefault_if(&k, 1, Condition::Same, None, Retrieve::Never));
    check!(d.transform(&k, |v| Write::Value(v.unwrap_or(0) + 1)));
    check!(d.len());
    errors
}

#[tokio::test]
async fn memory_server_down_is_a_backend_error_in_bounded_time() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = quick(&format!("http://127.0.0.1:{port}")).await;
    for err in every_operation_fails_typed(&d, "server down").await {
        // Connection refused: nothing reached a server, so never "outcome unknown".
        assert!(
            matches!(
                err,
                Error::Unreachable {
                    retryable: true,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains(&port.to_string()), "{err}");
    }
}

/// A TCP server that answers every connection with `answer` (then closes), or never
/// answers when `answer` is `None`.
async fn fake_server(answer: Option<&'static [u8]>) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let _ = conn.read(&mut buf).await;
                match answer {
                    Some(a) => {
                        let _ = conn.write_all(a).await;
                        let _ = conn.shutdown().await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(600)).await,
                }
            });
        }
    });
    (url, task)
}

const HTML: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 46\r\nConnection: close\r\n\r\n<html><body><h1>Welcome to nginx</h1></body>\n";
const HTML_404: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 19\r\nConnection: close\r\n\r\n<html>nope</html>\r\n";
const GARBAGE: &[u8] = b"SSH-2.0-OpenSSH_9.6\r\n\xff\x00\x13garbage";

#[tokio::test]
async fn memory_servers_that_are_not_s3_give_typed_errors() {
    for (what, answer) in [
        ("an HTML page", Some(HTML)),
        ("garbage bytes", Some(GARBAGE)),
        ("silence", None),
    ] {
        let (url, task) = fake_server(answer).await;
        let d = quick(&url).await;
        for err in every_operation_fails_typed(&d, what).await {
            let expected = match answer {
                // An HTML page is no S3 answer, whatever the request.
                Some(HTML) => matches!(err, Error::NotS3 { .. }),
                // Silence is a timeout; a conditional write may have landed.
                None => matches!(err, Error::Timeout { .. } | Error::OutcomeUnknown { .. }),
                _ => matches!(
                    err,
                    Error::Backend { .. } | Error::OutcomeUnknown { .. } | Error::Decode { .. }
                ),
            };
            assert!(expected, "{what}: {err:?}");
        }
        // Probing a server that is not S3 is an error too, not a set of capabilities.
        let probed: S3Dict<u64> = S3Dict::builder("any-bucket")
            .endpoint_url(&url)
            .region("us-east-1")
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_millis(400))
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2))
            .build()
            .await
            .unwrap();
        let caps = tokio::time::timeout(HANG, probed.capabilities())
            .await
            .expect("hung");
        assert!(caps.is_err(), "{what}: {caps:?}");
        task.abort();
    }
    // A 404 page is HTML, not a missing key: reads and writes say the endpoint is not S3.
    let (url, task) = fake_server(Some(HTML_404)).await;
    let d = quick(&url).await;
    let k = Key::try_from("k").unwrap();
    assert!(matches!(d.put(&k, 1).await, Err(Error::NotS3 { .. })));
    assert!(matches!(d.get_opt(&k).await, Err(Error::NotS3 { .. })));
    task.abort();
}

/// Readers racing a writer of large values see one whole value or the other, never a mix
/// or a prefix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_readers_never_see_a_partial_object() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<Vec<u8>> = common::builder(&s, "partial")
        .codec(persidict::Codec::Raw)
        .build()
        .await
        .unwrap();
    let k = Key::try_from("big").unwrap();
    let a = vec![b'a'; 512 * 1024];
    let b = vec![b'b'; 512 * 1024 + 1];
    d.put(&k, a.clone()).await.unwrap();
    let writer = {
        let (d, k, a, b) = (d.clone(), k.clone(), a.clone(), b.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                d.put(&k, if i % 2 == 0 { b.clone() } else { a.clone() })
                    .await
                    .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() {
        let v = d.get(&k).await.unwrap();
        assert!(
            v == a || v == b,
            "a partial or mixed object of {} bytes",
            v.len()
        );
        reads += 1;
    }
    writer.await.unwrap();
    assert!(reads > 0);
    d.clear().await.unwrap();
}
