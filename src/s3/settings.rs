//! Object settings: what every PUT of a dictionary sends besides the value — server-side
//! encryption, storage class, tags, `Cache-Control` and extra user metadata.
//!
//! Set them with [`S3DictBuilder::object_settings`](super::S3DictBuilder::object_settings)
//! or the URL parameters `sse`, `sse_kms_key_id`, `sse_bucket_key`, `storage_class`,
//! `tags`, `cache_control` and `metadata` (see
//! [`S3DictBuilder::from_url`](super::S3DictBuilder::from_url)). Every PUT carries them:
//! plain, conditional and presigned ones (where they are signed, so the holder must send
//! them). What each test server does with them is in the README.
//!
//! With SSE-KMS (and SSE-C) an object's ETag is no digest of its bytes; compare-and-swap
//! works the same (ETags are opaque), and a lost answer to a write that others have built
//! upon since reports an ETag that names no version (see the S3 module's lost answers).

use aws_sdk_s3::operation::create_multipart_upload::builders::CreateMultipartUploadFluentBuilder;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;

use super::client::{WRITE_CHAIN, WRITE_ID};
use crate::error::{Error, Result};

/// The most bytes of extra user metadata (names and values) a dictionary may add: S3
/// allows 2 KB, and the write ids a compare-and-swap records take up to 860.
pub const MAX_EXTRA_METADATA: usize = 1024;

/// Server-side encryption of every object written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Encryption {
    /// SSE-S3: keys managed by S3 (`x-amz-server-side-encryption: AES256`).
    S3,
    /// SSE-KMS: a KMS key (`aws:kms`), the bucket's default key when `key_id` is `None`;
    /// `bucket_key` turns the S3 Bucket Key on, which cuts KMS requests.
    Kms {
        /// The KMS key id or ARN.
        key_id: Option<String>,
        /// Use an S3 Bucket Key.
        bucket_key: bool,
    },
}

/// What every PUT of a dictionary sends besides the value. `Default`: nothing extra (the
/// bucket's defaults apply).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectSettings {
    /// Server-side encryption.
    pub encryption: Option<Encryption>,
    /// The storage class (`STANDARD`, `STANDARD_IA`, `INTELLIGENT_TIERING`, …).
    pub storage_class: Option<String>,
    /// Object tags, as `(key, value)` pairs (sent as `x-amz-tagging`).
    pub tags: Vec<(String, String)>,
    /// The `Cache-Control` header stored with the object.
    pub cache_control: Option<String>,
    /// Extra user metadata (`x-amz-meta-<name>`); names are lowercase, and the
    /// `persidict-` names are the crate's own.
    pub metadata: Vec<(String, String)>,
}

/// Sets the object settings `$settings` on `$request`, a builder of any request that
/// creates an object (its setters share their names).
macro_rules! apply_settings {
    ($settings:expr, $request:expr) => {{
        use aws_sdk_s3::types::{ServerSideEncryption, StorageClass};
        use $crate::s3::settings::{Encryption, ObjectSettings};
        let settings: &ObjectSettings = $settings;
        let mut request = $request;
        match &settings.encryption {
            None => {}
            Some(Encryption::S3) => {
                request = request.server_side_encryption(ServerSideEncryption::Aes256);
            }
            Some(Encryption::Kms { key_id, bucket_key }) => {
                request = request
                    .server_side_encryption(ServerSideEncryption::AwsKms)
                    .set_ssekms_key_id(key_id.clone());
                if *bucket_key {
                    request = request.bucket_key_enabled(true);
                }
            }
        }
        if let Some(class) = &settings.storage_class {
            request = request.storage_class(StorageClass::from(class.as_str()));
        }
        if let Some(tagging) = settings.tagging() {
            request = request.tagging(tagging);
        }
        if let Some(cache) = &settings.cache_control {
            request = request.cache_control(cache);
        }
        for (name, value) in &settings.metadata {
            request = request.metadata(name, value);
        }
        request
    }};
}
pub(crate) use apply_settings;

impl ObjectSettings {
    /// Checks the settings: metadata names that are valid HTTP header names and not the
    /// crate's own, at most [`MAX_EXTRA_METADATA`] bytes of them, tags without `&` or `=`
    /// (they travel in one header), values of printable ASCII.
    pub fn check(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("object settings: {why}")));
        let printable = |s: &str| s.bytes().all(|b| (b' '..=b'~').contains(&b));
        let token = |s: &str| {
            !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        };
        let mut size = 0;
        for (name, value) in &self.metadata {
            if !token(name) || name.bytes().any(|b| b.is_ascii_uppercase()) {
                return bad(format!(
                    "metadata name {name:?}: use lowercase letters, digits, '-', '_' and '.'"
                ));
            }
            if name.starts_with("persidict-") || [WRITE_ID, WRITE_CHAIN].contains(&name.as_str()) {
                return bad(format!("metadata name {name:?} is the crate's own"));
            }
            if !printable(value) {
                return bad(format!(
                    "metadata {name:?}: the value must be printable ASCII"
                ));
            }
            size += name.len() + value.len();
        }
        if size > MAX_EXTRA_METADATA {
            return bad(format!(
                "{size} bytes of metadata; at most {MAX_EXTRA_METADATA} fit beside the crate's"
            ));
        }
        for (key, value) in &self.tags {
            if key.is_empty()
                || [key, value]
                    .iter()
                    .any(|s| s.contains(['&', '=']) || !printable(s))
            {
                return bad(format!(
                    "tag {key:?}={value:?}: a tag is printable ASCII without '&' or '='"
                ));
            }
        }
        for (what, value) in [
            ("cache_control", &self.cache_control),
            ("storage_class", &self.storage_class),
        ] {
            if value
                .as_deref()
                .is_some_and(|v| v.is_empty() || !printable(v))
            {
                return bad(format!("{what} {value:?} is not printable ASCII"));
            }
        }
        if let Some(Encryption::Kms {
            key_id: Some(key), ..
        }) = &self.encryption
        {
            if key.is_empty() || !printable(key) {
                return bad(format!("KMS key id {key:?}"));
            }
        }
        Ok(())
    }

    /// The tags as the `x-amz-tagging` header value (`k1=v1&k2=v2`), if any.
    pub(super) fn tagging(&self) -> Option<String> {
        (!self.tags.is_empty()).then(|| {
            self.tags
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        })
    }

    /// A PUT `request` with these settings.
    pub(crate) fn apply(&self, request: PutObjectFluentBuilder) -> PutObjectFluentBuilder {
        apply_settings!(self, request)
    }

    /// A `CreateMultipartUpload` `request` with these settings (the upload's object gets
    /// them when it is completed).
    pub(crate) fn apply_multipart(
        &self,
        request: CreateMultipartUploadFluentBuilder,
    ) -> CreateMultipartUploadFluentBuilder {
        apply_settings!(self, request)
    }

    /// Parses `k1:v1,k2:v2` (the URL form of tags and metadata).
    pub(crate) fn pairs(text: &str, what: &str) -> Result<Vec<(String, String)>> {
        text.split(',')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                pair.split_once(':')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .ok_or_else(|| {
                        Error::Config(format!(
                            "{what} {pair:?}: write name:value, comma-separated"
                        ))
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut ObjectSettings)) -> ObjectSettings {
        let mut s = ObjectSettings::default();
        f(&mut s);
        s
    }

    #[test]
    fn settings_are_checked_before_any_request() {
        assert!(ObjectSettings::default().check().is_ok());
        let ok = with(|s| {
            s.metadata = vec![("team".into(), "data eng".into())];
            s.tags = vec![("env".into(), "prod".into())];
            s.cache_control = Some("max-age=60".into());
        });
        assert!(ok.check().is_ok());
        assert_eq!(ok.tagging().as_deref(), Some("env=prod"));
        for bad in [
            with(|s| s.metadata = vec![("Team".into(), "x".into())]),
            with(|s| s.metadata = vec![("persidict-write-id".into(), "x".into())]),
            with(|s| s.metadata = vec![("a b".into(), "x".into())]),
            with(|s| s.metadata = vec![("big".into(), "x".repeat(1100))]),
            with(|s| s.metadata = vec![("v".into(), "é".into())]),
            with(|s| s.tags = vec![("a&b".into(), "x".into())]),
            with(|s| s.tags = vec![("a".into(), "x=y".into())]),
            with(|s| s.cache_control = Some(String::new())),
            with(|s| {
                s.encryption = Some(Encryption::Kms {
                    key_id: Some(String::new()),
                    bucket_key: false,
                })
            }),
        ] {
            let e = bad.check().expect_err("refused");
            assert!(matches!(e, Error::Config(_)), "{e:?}");
        }
    }

    #[test]
    fn url_pairs() {
        assert_eq!(
            ObjectSettings::pairs("a:1,b:x y", "tags").unwrap(),
            [("a".into(), "1".into()), ("b".into(), "x y".into())]
        );
        assert!(ObjectSettings::pairs("a", "tags").is_err());
        assert!(ObjectSettings::pairs("", "tags").unwrap().is_empty());
    }
}
