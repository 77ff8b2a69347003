//! PUT and UploadPart bodies are signed over plain HTTP and sent as `UNSIGNED-PAYLOAD`
//! when asked (the default over HTTPS): what each request carries in
//! `x-amz-content-sha256`, and that every server stores the values intact either way.

mod common;

use std::sync::{Arc, Mutex};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, Region, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use persidict::prelude::*;
use persidict::s3::MultipartSettings;
use persidict::store::{chunks_from_bytes, WriteCondition};
use persidict::S3Dict;

/// Records the method, the query and `x-amz-content-sha256` of every signed request to
/// an object (not the bucket's own, such as its creation, nor copies).
#[derive(Debug, Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, String, String)>>>);

impl Intercept for Seen {
    fn name(&self) -> &'static str {
        "test::Seen"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let req = context.request();
        let (path, query) = req.uri().split_once('?').unwrap_or((req.uri(), ""));
        let after_host = path.split_once("://").map_or(path, |(_, rest)| rest);
        // host/bucket/object…: a request to the bucket itself has no third part; a copy
        // (a PUT naming its source) has no body of its own.
        if after_host.splitn(3, '/').nth(2).is_none_or(str::is_empty)
            || req.headers().get("x-amz-copy-source").is_some()
        {
            return Ok(());
        }
        let query = query.to_owned();
        let sha = req
            .headers()
            .get("x-amz-content-sha256")
            .unwrap_or_default()
            .to_owned();
        self.0
            .lock()
            .unwrap()
            .push((req.method().to_owned(), query, sha));
        Ok(())
    }
}

impl Seen {
    /// `x-amz-content-sha256` of the PUTs whose query says whether they are parts.
    fn puts(&self, parts: bool) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, q, _)| m == "PUT" && q.contains("partNumber=") == parts)
            .map(|(_, _, sha)| sha.clone())
            .collect()
    }
}

async fn sdk_client(url: &str, seen: &Seen) -> aws_sdk_s3::Client {
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .force_path_style(true)
        .interceptor(seen.clone())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Plain PUTs, an insert (`If-None-Match: *`), a compare-and-swap where enforced, and a
/// multipart upload where the server has one, with `sign` as given (`None`: the
/// default for the server's `http://` endpoint); every value reads back intact.
async fn payload_signing(server: &str, sign: Option<bool>, multipart: bool) {
    let Some(s) = common::server(server) else {
        return;
    };
    let seen = Seen::default();
    let mut b = common::builder(&s, "payload-signing")
        .client(sdk_client(&s.url, &seen).await)
        .multipart(MultipartSettings {
            threshold: 5 << 20,
            part_size: 5 << 20,
            ..MultipartSettings::default()
        });
    if let Some(sign) = sign {
        b = b.sign_payload(sign);
    }
    let d: S3Dict<Vec<u8>> = b.codec(Codec::Raw).build().await.unwrap();
    let k = Key::try_from("k").unwrap();
    d.put(&k, b"plain".to_vec()).await.unwrap();
    assert_eq!(d.get(&k).await.unwrap(), b"plain");
    let fresh = Key::try_from("fresh").unwrap();
    if d.capabilities().await.unwrap().conditional_writes() {
        assert!(d.insert(&fresh, b"inserted".to_vec()).await.unwrap());
        assert_eq!(d.get(&fresh).await.unwrap(), b"inserted");
        let t = d
            .transform(&k, |v| {
                Write::Value([v.unwrap_or_default(), b"!".to_vec()].concat())
            })
            .await
            .unwrap();
        assert_eq!(t.value.as_deref(), Some(&b"plain!"[..]));
    }
    if multipart {
        let big: Vec<u8> = (0..(11usize << 20)).map(|i| (i % 253) as u8).collect();
        let large = Key::try_from("large").unwrap();
        let written = d
            .put_stream(
                &large,
                chunks_from_bytes(big.clone()),
                WriteCondition::Always,
            )
            .await
            .unwrap();
        assert!(matches!(written, persidict::store::WriteResult::Written(_)));
        assert!(
            d.get(&large).await.unwrap() == big,
            "{server}: the multipart value changed"
        );
        assert_eq!(seen.puts(true).len(), 3, "{server}: three parts of 5 MiB");
    }
    let expect_unsigned = sign == Some(false);
    let puts = seen.puts(false);
    assert!(!puts.is_empty());
    for sha in puts.iter().chain(&seen.puts(true)) {
        if expect_unsigned {
            assert_eq!(sha, "UNSIGNED-PAYLOAD", "{server}");
        } else {
            assert_eq!(sha.len(), 64, "{server}: a SHA-256 in hex, not {sha:?}");
            assert!(
                sha.bytes().all(|c| c.is_ascii_hexdigit()),
                "{server}: {sha:?}"
            );
        }
    }
    d.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_unsigned_payloads() {
    payload_signing("seaweedfs", Some(false), true).await;
}

#[tokio::test]
async fn seaweedfs_payloads_signed_over_http_by_default() {
    payload_signing("seaweedfs", None, true).await;
}

#[tokio::test]
async fn moto_unsigned_payloads() {
    payload_signing("moto", Some(false), true).await;
}

#[tokio::test]
async fn moto_payloads_signed_over_http_by_default() {
    payload_signing("moto", None, false).await;
}

// rclone's CreateMultipartUpload answer is not one the SDK reads: no multipart there.
#[tokio::test]
async fn rclone_unsigned_payloads() {
    payload_signing("rclone", Some(false), false).await;
}

#[tokio::test]
async fn rclone_payloads_signed_over_http_by_default() {
    payload_signing("rclone", None, false).await;
}

#[tokio::test]
async fn s3_url_parameter_sign_payload() {
    let b = persidict::S3DictBuilder::from_url("s3://b/p?endpoint=http://h:1&sign_payload=false");
    assert!(b.is_ok());
    let bad = persidict::S3DictBuilder::from_url("s3://b/p?sign_payload=maybe").unwrap_err();
    assert!(bad.to_string().contains("sign_payload"), "{bad}");
}
