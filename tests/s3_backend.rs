//! S3-specific behaviour beyond the contract suite: the racy fallback opt-in, strong
//! consistency across processes, typed errors for credentials and foreign objects.

mod common;

use std::process::Command;

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::S3Dict;

/// Without the opt-in a server that ignores conditions gives `Unsupported`; with it, the
/// emulated conditional operations work for a single sequential writer.
#[tokio::test]
async fn rclone_racy_fallback_is_opt_in() {
    let Some(s) = common::server("rclone") else {
        return;
    };
    let k = Key::try_from("k").unwrap();
    let strict: S3Dict<u64> = common::open(&s, "fallback").await;
    let err = strict
        .put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { capability: persidict::Capability::PutIfAbsent, ref endpoint } if endpoint.contains("127.0.0.1")),
        "{err}"
    );
    assert!(!strict.contains(&k).await.unwrap(), "nothing written");

    let d: S3Dict<u64> = common::builder(&s, "fallback")
        .allow_racy_fallback(true)
        .build()
        .await
        .unwrap();
    let o = d
        .put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never)
        .await
        .unwrap();
    assert!(o.satisfied);
    let o = d
        .put_if(&k, Write::Value(2), Condition::Same, None, Retrieve::Always)
        .await
        .unwrap();
    assert!(!o.satisfied);
    assert_eq!(o.value, Slot::Present(1));
    let e = d.etag(&k).await.unwrap();
    let stale = ETag::from("\"00000000000000000000000000000000\"");
    let o = d
        .put_if(
            &k,
            Write::Value(3),
            Condition::Same,
            Some(&stale),
            Retrieve::Never,
        )
        .await
        .unwrap();
    assert!(!o.satisfied);
    assert_eq!(d.get(&k).await.unwrap(), 1);
    let o = d
        .put_if(
            &k,
            Write::Value(3),
            Condition::Same,
            Some(&e),
            Retrieve::Never,
        )
        .await
        .unwrap();
    assert!(o.satisfied);
    for _ in 0..5 {
        let _t = d
            .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
            .await
            .unwrap();
    }
    assert_eq!(d.get(&k).await.unwrap(), 8);
    assert_eq!(d.setdefault(&k, 100).await.unwrap(), 8);
    assert_eq!(d.pop(&k).await.unwrap(), 8);
    assert!(!d.contains(&k).await.unwrap());
}

/// Wrong credentials are a typed `PermissionDenied`, and the secret is in no message.
#[tokio::test]
async fn wrong_credentials_are_permission_denied() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test",
            "not-the-secret-4711",
            None,
            None,
            "tests",
        ))
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .load()
        .await;
    let d: S3Dict<u64> = S3Dict::builder(common::BUCKET)
        .sdk_config(sdk)
        .endpoint_url(&s.url)
        .capabilities(persidict::Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let err = d.get_opt(&Key::try_from("k").unwrap()).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(!format!("{err} {err:?} {d:?}").contains("not-the-secret-4711"));
}

/// Objects this crate did not write are skipped by listings and never decoded by mistake.
#[tokio::test]
async fn foreign_objects_are_skipped() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "foreign").await;
    d.put(&Key::try_from("mine").unwrap(), 1).await.unwrap();
    let root = d.object_name(&Key::try_from("mine").unwrap()).unwrap();
    let dir = &root[..root.rfind('/').unwrap() + 1];
    for foreign in [
        "plain.bincode",
        "mine_zzzz.bincode",
        "x.json",
        "a/b/c.txt",
        "mine_",
    ] {
        d.client()
            .put_object()
            .bucket(common::BUCKET)
            .key(format!("{dir}{foreign}"))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"junk"))
            .send()
            .await
            .unwrap();
    }
    let keys: Vec<Key> = d.keys().try_collect().await.unwrap();
    assert_eq!(keys, vec![Key::try_from("mine").unwrap()]);
    assert_eq!(d.len().await.unwrap(), 1);
    let vals: Vec<u64> = d.values().try_collect().await.unwrap();
    assert_eq!(vals, vec![1]);
}

const CHILD_ENV: &str = "PERSIDICT_CHILD_PREFIX";

/// A second OS process sharing the bucket sees every write at once, and its writes are
/// seen here (S3 is strongly consistent for object reads after writes and for listings).
#[tokio::test]
async fn second_process_sees_every_write() {
    if std::env::var(CHILD_ENV).is_ok() {
        return; // this is the child's own run of the test binary
    }
    for name in ["seaweedfs", "moto"] {
        let Some(s) = common::server(name) else {
            continue;
        };
        let prefix = common::fresh_prefix("xproc");
        let d: S3Dict<u64> = S3Dict::builder(common::BUCKET)
            .endpoint_url(&s.url)
            .root_prefix(&prefix)
            .create_bucket(true)
            .build()
            .await
            .unwrap();
        let items: Vec<(Key, u64)> = (0..50)
            .map(|i| (Key::new(["p", &i.to_string()]).unwrap(), i))
            .collect();
        d.put_many(items).await.unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "child_reader_and_writer", "--nocapture"])
            .env(CHILD_ENV, &prefix)
            .env("PERSIDICT_CHILD_ENDPOINT", &s.url)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("child saw 50 entries"),
            "child failed on {name}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The child's writes, visible here without delay.
        for i in 0..50u64 {
            let k = Key::new(["c", &i.to_string()]).unwrap();
            assert_eq!(d.get(&k).await.unwrap(), i * 2, "{name}: child write {i}");
        }
        assert_eq!(d.len().await.unwrap(), 100);
        d.clear().await.unwrap();
    }
}

/// Runs only as the child of `second_process_sees_every_write`.
#[tokio::test]
async fn child_reader_and_writer() {
    let (Ok(prefix), Ok(endpoint)) = (
        std::env::var(CHILD_ENV),
        std::env::var("PERSIDICT_CHILD_ENDPOINT"),
    ) else {
        return; // not spawned as a child: nothing to do
    };
    let d: S3Dict<u64> = S3Dict::builder(common::BUCKET)
        .endpoint_url(endpoint)
        .root_prefix(prefix)
        .build()
        .await
        .unwrap();
    let mut seen: Vec<(Key, u64)> = d.items().try_collect().await.unwrap();
    seen.sort();
    assert_eq!(seen.len(), 50);
    for (k, v) in &seen {
        assert_eq!(k.parts()[1], v.to_string());
    }
    let items: Vec<(Key, u64)> = (0..50)
        .map(|i| (Key::new(["c", &i.to_string()]).unwrap(), i * 2))
        .collect();
    d.put_many(items).await.unwrap();
    println!("child saw {} entries", seen.len());
}
