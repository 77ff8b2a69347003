//! Object settings (encryption, storage class, tags, `Cache-Control`, extra metadata) on
//! every PUT, read back with the raw SDK from each local server: what each one honours is
//! asserted here and listed in the README.

mod common;

use persidict::prelude::*;
use persidict::s3::{Encryption, ObjectSettings};
use persidict::{S3Dict, S3DictBuilder};

/// What a server kept of the settings, read back with HEAD and GetObjectTagging.
#[derive(Debug, PartialEq, Eq)]
struct Kept {
    encryption: Option<String>,
    kms_key: Option<String>,
    storage_class: Option<String>,
    cache_control: Option<String>,
    metadata: Option<String>,
    tags: Option<Vec<(String, String)>>,
}

async fn kept(d: &S3Dict<String>, key: &Key) -> Kept {
    let object = d.object_name(key).unwrap();
    let head = d
        .client()
        .head_object()
        .bucket(d.bucket())
        .key(&object)
        .send()
        .await
        .unwrap();
    let tags = d
        .client()
        .get_object_tagging()
        .bucket(d.bucket())
        .key(&object)
        .send()
        .await
        .ok()
        .map(|t| {
            t.tag_set()
                .iter()
                .map(|t| (t.key().to_owned(), t.value().to_owned()))
                .collect()
        });
    Kept {
        encryption: head.server_side_encryption().map(|e| e.as_str().to_owned()),
        kms_key: head.ssekms_key_id().map(str::to_owned),
        storage_class: head.storage_class().map(|c| c.as_str().to_owned()),
        cache_control: head.cache_control().map(str::to_owned),
        metadata: head.metadata().and_then(|m| m.get("team").cloned()),
        tags,
    }
}

fn settings(encryption: Option<Encryption>) -> ObjectSettings {
    let mut s = ObjectSettings::default();
    s.encryption = encryption;
    s.storage_class = Some("STANDARD_IA".into());
    s.tags = vec![("env".into(), "test".into())];
    s.cache_control = Some("max-age=60".into());
    s.metadata = vec![("team".into(), "data".into())];
    s
}

async fn open(server: &common::Server, test: &str, s: ObjectSettings) -> S3Dict<String> {
    common::builder(server, test)
        .object_settings(s)
        .build()
        .await
        .unwrap()
}

/// Every kind of PUT carries the settings: plain, insert-if-absent and compare-and-swap.
async fn every_put_carries_them(server: &str, expected: Kept) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d = open(&s, "object-settings", settings(Some(Encryption::S3))).await;
    let plain = Key::try_from("plain").unwrap();
    d.put(&plain, "v".into()).await.unwrap();
    let got = kept(&d, &plain).await;
    println!("{server}: {got:?}");
    assert_eq!(got, expected);
    if d.capabilities().await.unwrap().conditional_writes() {
        let inserted = Key::try_from("inserted").unwrap();
        assert!(d.insert(&inserted, "v".into()).await.unwrap());
        assert_eq!(kept(&d, &inserted).await, expected);
        let t = d
            .transform(&plain, |v| {
                Write::Value(format!("{}!", v.unwrap_or_default()))
            })
            .await
            .unwrap();
        assert_eq!(t.value.as_deref(), Some("v!"));
        assert_eq!(kept(&d, &plain).await, expected);
    }
    d.clear().await.unwrap();
}

/// What SeaweedFS, moto and rclone answer to a HEAD after a PUT with `settings(S3)`
/// (`tags`: whether GetObjectTagging has them; rclone does not implement it).
fn everything(encryption: &str, kms_key: Option<&str>, tags: bool) -> Kept {
    Kept {
        encryption: Some(encryption.into()),
        kms_key: kms_key.map(str::to_owned),
        storage_class: Some("STANDARD_IA".into()),
        cache_control: Some("max-age=60".into()),
        metadata: Some("data".into()),
        tags: tags.then(|| vec![("env".into(), "test".into())]),
    }
}

#[tokio::test]
async fn seaweedfs_object_settings() {
    every_put_carries_them("seaweedfs", everything("AES256", None, true)).await;
}

#[tokio::test]
async fn moto_object_settings() {
    every_put_carries_them("moto", everything("AES256", None, true)).await;
}

#[tokio::test]
async fn rclone_object_settings() {
    every_put_carries_them("rclone", everything("AES256", None, false)).await;
}

/// SSE-KMS with a key id and the bucket key.
async fn sse_kms(server: &str) -> Option<Result<Kept, persidict::Error>> {
    let s = common::server(server)?;
    let d = open(
        &s,
        "object-settings-kms",
        settings(Some(Encryption::Kms {
            key_id: Some("persidict-test-key".into()),
            bucket_key: true,
        })),
    )
    .await;
    let k = Key::try_from("k").unwrap();
    let r = match d.put(&k, "v".into()).await {
        Ok(_) => Ok(kept(&d, &k).await),
        Err(e) => Err(e),
    };
    println!("{server} SSE-KMS: {r:?}");
    d.clear().await.unwrap();
    Some(r)
}

/// SeaweedFS without a KMS configured fails the write (500 InternalError, after the
/// SDK's retries): a typed, retryable `Backend` error.
#[tokio::test]
async fn seaweedfs_sse_kms_without_a_kms_is_a_backend_error() {
    if let Some(r) = sse_kms("seaweedfs").await {
        let e = r.expect_err("no KMS is configured");
        assert!(matches!(e, persidict::Error::Backend { .. }), "{e:?}");
        assert!(e.to_string().contains("InternalError"), "{e}");
    }
}

/// moto keeps the key id it is given (it checks no key).
#[tokio::test]
async fn moto_sse_kms() {
    if let Some(r) = sse_kms("moto").await {
        assert_eq!(
            r.unwrap(),
            everything("aws:kms", Some("persidict-test-key"), true)
        );
    }
}

/// rclone stores the encryption headers it is sent and answers them back; it encrypts
/// nothing.
#[tokio::test]
async fn rclone_sse_kms() {
    if let Some(r) = sse_kms("rclone").await {
        assert_eq!(
            r.unwrap(),
            everything("aws:kms", Some("persidict-test-key"), false)
        );
    }
}

/// The URL parameters set the same settings as the builder: a presigned PUT signs them,
/// so its headers show them (signing sends nothing).
#[tokio::test]
async fn seaweedfs_url_parameters_set_object_settings() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let url = format!(
        "s3://{}/p?endpoint={}&capabilities=aws&sse_kms_key_id=k1&sse_bucket_key=true\
         &storage_class=STANDARD_IA&tags=env:test,team:data&cache_control=max-age=60\
         &metadata=team:data",
        common::BUCKET,
        s.url
    );
    let d: S3Dict<String> = S3DictBuilder::from_url(&url)
        .unwrap()
        .build()
        .await
        .unwrap();
    let put = d
        .presign(
            &Key::try_from("k").unwrap(),
            persidict::s3::Presign::Put,
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let header = |name: &str| {
        put.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-amz-server-side-encryption"), Some("aws:kms"));
    assert_eq!(
        header("x-amz-server-side-encryption-aws-kms-key-id"),
        Some("k1")
    );
    assert_eq!(
        header("x-amz-server-side-encryption-bucket-key-enabled"),
        Some("true")
    );
    assert_eq!(header("x-amz-storage-class"), Some("STANDARD_IA"));
    assert_eq!(header("x-amz-tagging"), Some("env=test&team=data"));
    assert_eq!(header("cache-control"), Some("max-age=60"));
    assert_eq!(header("x-amz-meta-team"), Some("data"));
    for bad in [
        "sse=des",
        "tags=novalue",
        "metadata=Team:x",
        "metadata=persidict-write-id:x",
    ] {
        let url = format!("s3://{}/p?endpoint={}&{bad}", common::BUCKET, s.url);
        let e = match S3DictBuilder::from_url(&url) {
            Err(e) => e,
            Ok(b) => b.build::<String>().await.expect_err(bad),
        };
        assert!(matches!(e, persidict::Error::Config(_)), "{bad}: {e:?}");
    }
}

/// A multipart upload carries the settings too (they go on `CreateMultipartUpload`).
async fn multipart_uploads_carry_them(server: &str, expected: Kept) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<String> = common::builder(&s, "object-settings-multipart")
        .codec(persidict::Codec::Text)
        .object_settings(settings(Some(Encryption::S3)))
        .multipart(persidict::s3::MultipartSettings {
            threshold: 5 << 20,
            part_size: 5 << 20,
            parts_in_flight: 2,
            ..persidict::s3::MultipartSettings::default()
        })
        .build()
        .await
        .unwrap();
    let k = Key::try_from("big").unwrap();
    let text = "0123456789abcdef".repeat(11 << 16);
    let before = d.stats().snapshot();
    let written = d
        .put_stream(
            &k,
            persidict::store::chunks_from_bytes(text),
            persidict::store::WriteCondition::Always,
        )
        .await
        .unwrap();
    assert!(matches!(written, persidict::store::WriteResult::Written(_)));
    let used = d.stats().snapshot().since(&before);
    assert_eq!(
        used.get(persidict::s3::RequestKind::UploadPart),
        3,
        "{used}"
    );
    assert_eq!(kept(&d, &k).await, expected);
}

#[tokio::test]
async fn seaweedfs_multipart_uploads_carry_object_settings() {
    multipart_uploads_carry_them("seaweedfs", everything("AES256", None, true)).await;
}

#[tokio::test]
async fn moto_multipart_uploads_carry_object_settings() {
    multipart_uploads_carry_them("moto", everything("AES256", None, true)).await;
}
