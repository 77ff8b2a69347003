//! Security: credentials never appear in Debug output, errors or logs (every `tracing`
//! event and span field of every crate, at TRACE level, is captured and searched), and the
//! capability probes never touch an object that a dictionary could list.
//! Key confinement and hostile decoder input are fuzzed in `tests/fuzz.rs`.

#[path = "common/capture.rs"]
mod capture;
mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::time::Duration;

use futures::TryStreamExt;
use persidict::key::Naming;
use persidict::prelude::*;
use persidict::{Codec, S3Dict};

const ACCESS_KEY: &str = "AKIAPERSIDICTTESTKEY";
const SECRET: &str = "pErSiDiCt-SeCrEt-6e1f0c9b";

async fn sdk_config(secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            ACCESS_KEY, secret, None, None, "tests",
        ))
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .load()
        .await
}

fn assert_secret_absent(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} shows the secret");
}

/// moto accepts any credentials, so a full session of operations runs with a distinctive
/// secret while everything logged is captured.
#[tokio::test]
async fn moto_credentials_never_appear_in_logs_debug_or_errors() {
    let Some(s) = common::server("moto") else {
        return;
    };
    let log = capture::install("");
    let builder = S3Dict::builder(common::BUCKET)
        .sdk_config(sdk_config(SECRET).await)
        .endpoint_url(&s.url)
        .root_prefix(common::fresh_prefix("secrets"))
        .create_bucket(true);
    assert_secret_absent("S3DictBuilder Debug", &format!("{builder:?} {builder:#?}"));
    let d: S3Dict<u64> = builder.build().await.unwrap();
    let k = Key::try_from("k").unwrap();
    let e = d.put(&k, 1).await.unwrap();
    let _ = d.get(&k).await.unwrap();
    let _ = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            Some(&e),
            Retrieve::Always,
        )
        .await
        .unwrap();
    let _ = d
        .transform(&k, |v| Write::Value(v.unwrap_or(0) + 1))
        .await
        .unwrap();
    let _: Vec<Key> = d.keys().try_collect().await.unwrap();
    let caps = d.capabilities().await.unwrap();
    let err = d.get(&Key::try_from("absent").unwrap()).await.unwrap_err();
    assert!(d.discard(&k).await.unwrap());
    let debug = format!("{d:?} {d:#?} {caps:?} {err} {err:?} {:?}", d.info());
    assert_secret_absent("S3Dict and error output", &debug);
    let captured = log.lock().unwrap().clone();
    assert!(
        captured.lines().count() > 20,
        "the capture works (it saw {} lines)",
        captured.lines().count()
    );
    assert!(
        captured.contains(ACCESS_KEY) || captured.contains("aws"),
        "SDK events captured"
    );
    assert_secret_absent("the captured TRACE log", &captured);
}

/// A wrong secret: the error is typed and, like everything logged, free of the secret.
#[tokio::test]
async fn seaweedfs_wrong_secret_never_appears_in_errors_or_logs() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let log = capture::install("");
    let d: S3Dict<u64> = S3Dict::builder(common::BUCKET)
        .sdk_config(sdk_config(SECRET).await)
        .endpoint_url(&s.url)
        .capabilities(persidict::Capabilities::ALL)
        .build()
        .await
        .unwrap();
    let k = Key::try_from("k").unwrap();
    let mut shown = String::new();
    for err in [
        d.get_opt(&k).await.unwrap_err(),
        d.put(&k, 1).await.unwrap_err(),
        d.put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Never)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
        shown.push_str(&format!(
            "{err} {err:?} {:?}",
            std::error::Error::source(&err)
        ));
    }
    assert_secret_absent("the errors", &shown);
    assert_secret_absent("the captured TRACE log", &log.lock().unwrap());
}

/// Every object the probes touch (seen by a recording proxy) is one that no dictionary,
/// whatever its codec or signature length, can list; and none is left behind.
#[tokio::test]
async fn seaweedfs_probes_never_touch_listable_objects() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let proxy =
        proxy::Proxy::start(&s.url, proxy::FaultRates::NONE, 1, Duration::from_secs(1)).await;
    let prefix = common::fresh_prefix("probe-names");
    // The proxy's own address makes a fresh (endpoint, bucket), so the probes really run.
    let d: S3Dict<u64> = S3Dict::builder(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(&prefix)
        .build()
        .await
        .unwrap();
    let caps = d.capabilities().await.unwrap();
    assert!(caps.conditional_writes(), "{caps:?}");
    let bucket_path = format!("/{}/", common::BUCKET);
    let touched: Vec<String> = proxy
        .log()
        .into_iter()
        .filter_map(|(_, path)| {
            let path = path.split('?').next().unwrap_or_default().to_owned();
            path.strip_prefix(&bucket_path).map(str::to_owned)
        })
        .filter(|name| !name.is_empty())
        .collect();
    assert!(touched.len() >= 4, "the probes ran: {touched:?}");
    let root = format!("{prefix}/");
    for name in &touched {
        assert!(
            name.starts_with(&root),
            "{name} is under the dictionary's root"
        );
        for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
            for digest_len in [0, 1, 4, 8] {
                for r in [root.as_str(), "", "t/"] {
                    let n = Naming::new(r, digest_len, codec.extension()).unwrap();
                    assert_eq!(
                        n.parse_object_name(name),
                        None,
                        "{name} is listable by {n:?}"
                    );
                }
            }
        }
    }
    // Nothing is left under the prefix.
    let left = d
        .client()
        .list_objects_v2()
        .bucket(common::BUCKET)
        .prefix(&root)
        .send()
        .await
        .unwrap();
    assert_eq!(left.key_count().unwrap_or(0), 0, "{:?}", left.contents());
}
