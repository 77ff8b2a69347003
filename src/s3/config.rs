//! [`S3DictBuilder`]: the settings of an S3 dictionary, from code or from an `s3://` URL.
//!
//! Every URL parameter is one row of one table ([`url_parameters`]), which also makes the
//! parameter list of [`S3DictBuilder::from_url`]'s documentation: the parser and its docs
//! cannot drift apart.
//!
//! [`S3DictBuilder::build_store`] connects the byte-level [`S3Store`]; the settings that
//! belong to the typed dictionary (codec, digest length, append-only, sizes) are carried
//! beside it.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::Client;

use super::client::{S3Client, Timeouts};
use super::multipart::{self, probe::MultipartCapabilities, MultipartSettings};
use super::probe;
use super::settings::{Encryption, ObjectSettings};
use super::stats::{CountingInterceptor, RequestStats};
use super::store::{S3Store, StoreParts};
use crate::codec::Codec;
use crate::dict::{DEFAULT_CONCURRENCY, DEFAULT_MAX_VALUE_SIZE};
use crate::error::{Error, Result};
use crate::key::{validate_part, DEFAULT_DIGEST_LEN};
use crate::store::Capabilities;

/// The connect timeout of every S3 dictionary unless configured otherwise: the SDK's own
/// default (for behavior versions from 2026-01-12), set explicitly so that it holds for
/// every configuration.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The per-attempt timeout of every S3 dictionary unless configured otherwise (the SDK
/// sets none by default). A PUT gets this plus one second per MiB of body.
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Configures an S3 dictionary and connects its [`S3Store`].
///
/// Credentials, region and endpoint come from the standard AWS chain (environment,
/// profiles, SSO, IMDS; `AWS_ENDPOINT_URL_S3` and `AWS_ENDPOINT_URL` are honoured) unless
/// set here. With a custom endpoint, path-style addressing and "checksums only when
/// required" are the defaults, because most S3-compatible servers need them.
///
/// # Timeouts
/// No request waits forever. By default (each overridable here, in the URL, or with the
/// CLI's flags):
///
/// - **connect**: [`DEFAULT_CONNECT_TIMEOUT`] (3.1 s) to set up a connection
///   ([`connect_timeout`](Self::connect_timeout), URL `connect_timeout_ms`);
/// - **attempt**: [`DEFAULT_ATTEMPT_TIMEOUT`] (30 s) per attempt of a request, until its
///   answer's headers arrive ([`attempt_timeout`](Self::attempt_timeout), URL
///   `attempt_timeout_ms`). A PUT of `n` bytes gets the attempt timeout plus `n` / 1 MiB
///   seconds, so a large upload is never cut short; a GET's body is read after the
///   attempt, so a large download is not either;
/// - **stalled transfers**: the SDK's stalled-stream protection, on by default for
///   uploads and downloads, fails a body whose throughput stays under 1 byte/s for 5 s.
///
/// The SDK itself sets only the 3.1 s connect timeout and the stalled-stream protection:
/// without an attempt timeout, a server that accepts a connection and never answers
/// would hang a call forever. Each attempt is bounded, and the SDK retries (standard: 3
/// attempts), so a call against a hung server fails after about `attempts × attempt
/// timeout` plus the backoff between them, with [`Error::Timeout`]. No timeout covers
/// a whole operation (it would cut large transfers short).
///
/// A [`timeout_config`](Self::timeout_config) wins where it sets something (including
/// `TimeoutConfig::disabled()`, which switches every bound off); then the methods here;
/// then the timeouts of a given [`client`](Self::client) or
/// [`sdk_config`](Self::sdk_config); then the defaults above.
#[must_use]
pub struct S3DictBuilder {
    bucket: String,
    root_prefix: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    force_path_style: Option<bool>,
    checksums_when_required: Option<bool>,
    sign_payload: Option<bool>,
    retry: Option<RetryConfig>,
    timeout: Option<TimeoutConfig>,
    connect_timeout: Option<Duration>,
    attempt_timeout: Option<Duration>,
    codec: Codec,
    digest_len: usize,
    append_only: bool,
    capabilities: Option<Capabilities>,
    racy_fallback: bool,
    create_bucket: bool,
    versioning: bool,
    client: Option<Client>,
    sdk_config: Option<aws_config::SdkConfig>,
    max_value_size: u64,
    concurrency: usize,
    objects: ObjectSettings,
    multipart: MultipartSettings,
}

impl std::fmt::Debug for S3DictBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client and SDK configuration hold credentials providers: never print them.
        f.debug_struct("S3DictBuilder")
            .field("bucket", &self.bucket)
            .field("root_prefix", &self.root_prefix)
            .field("endpoint_url", &self.endpoint_url)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

/// The settings that belong to the typed dictionary over an [`S3Store`].
// Read by the typed dictionary built over the store, not by the store itself.
#[allow(dead_code)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct DictSettings {
    pub(crate) codec: Codec,
    pub(crate) digest_len: usize,
    pub(crate) append_only: bool,
    pub(crate) concurrency: usize,
    pub(crate) max_value_size: u64,
}

/// What a URL parameter's parser gets besides the value: the whole URL and the name, for
/// error messages.
struct UrlContext<'a> {
    url: &'a str,
    name: &'a str,
}

impl UrlContext<'_> {
    fn bad(&self, why: String) -> Error {
        Error::Config(format!("URL {:?}: {why}", self.url))
    }

    fn flag(&self, value: &str) -> Result<bool> {
        crate::open::parse_flag(self.url, self.name, value)
    }
}

type Apply = fn(S3DictBuilder, &str, &UrlContext<'_>) -> Result<S3DictBuilder>;

/// One URL parameter: its names, what it means, and the builder method it sets.
struct UrlSetting {
    names: &'static [&'static str],
    doc: &'static str,
    apply: Apply,
}

/// Declares the URL parameters once: the table the parser reads, and `from_url` with its
/// documentation listing every parameter.
macro_rules! url_settings {
    ($( [$name:literal $(, $alias:literal)*] $doc:literal => $apply:expr; )*) => {
        const URL_SETTINGS: &[UrlSetting] = &[$(UrlSetting {
            names: &[$name $(, $alias)*],
            doc: $doc,
            apply: $apply,
        }),*];

        impl S3DictBuilder {
            #[doc = "A builder from a URL `s3://bucket/prefix?param=value&...`. Parameters:\n"]
            $(#[doc = concat!("- `", $name, "`", $(" (or `", $alias, "`)",)* ": ", $doc)])*
            #[doc = "\n```\nuse persidict::S3DictBuilder;\n"]
            #[doc = "let b = S3DictBuilder::from_url(\"s3://b/app/cache?endpoint=http://127.0.0.1:8333&codec=json\")?;\n"]
            #[doc = "assert!(S3DictBuilder::from_url(\"s3://b?codec=yaml\").is_err());\n"]
            #[doc = "# Ok::<(), persidict::Error>(())\n```"]
            pub fn from_url(url: &str) -> Result<Self> {
                parse_url(url)
            }
        }
    };
}

url_settings! {
    ["endpoint", "endpoint_url"] "URL of an S3-compatible server" =>
        |b, v, _| Ok(b.endpoint_url(v));
    ["region"] "the AWS region" =>
        |b, v, _| Ok(b.region(v));
    ["codec"] "`bincode`, `json`, `raw` or `text`" =>
        |b, v, cx| Ok(b.codec(v.parse().map_err(|e: crate::codec::CodecError| cx.bad(e.0))?));
    ["digest_len"] "the signature length of key parts (0: unsigned)" =>
        |b, v, cx| Ok(b.digest_len(
            v.parse().map_err(|_| cx.bad(format!("digest_len={v:?} is not a number")))?,
        ));
    ["append_only"] "`true` or `false`" =>
        |b, v, cx| Ok(b.append_only(cx.flag(v)?));
    ["capabilities"] "`aws` or `all` declares everything enforced, `none` declares nothing, `probe` (the default) probes" =>
        |b, v, cx| match v {
            "aws" | "all" => Ok(b.capabilities(Capabilities::ALL)),
            "none" => Ok(b.capabilities(Capabilities::NONE)),
            "probe" => Ok(b),
            _ => Err(cx.bad(format!("capabilities={v:?}: use aws, all, none or probe"))),
        };
    ["create_bucket"] "create the bucket if it does not exist" =>
        |b, v, cx| Ok(b.create_bucket(cx.flag(v)?));
    ["versioning"] "turn versioning on for the bucket when opening it" =>
        |b, v, cx| Ok(b.versioning(cx.flag(v)?));
    ["path_style"] "path-style addressing" =>
        |b, v, cx| Ok(b.force_path_style(cx.flag(v)?));
    ["sign_payload"] "sign PUT bodies (default: only over plain HTTP)" =>
        |b, v, cx| Ok(b.sign_payload(cx.flag(v)?));
    ["racy_fallback"] "emulate missing conditional requests with a HEAD first (races)" =>
        |b, v, cx| Ok(b.allow_racy_fallback(cx.flag(v)?));
    ["connect_timeout_ms"] "the connect timeout in milliseconds (default 3100)" =>
        |b, v, cx| Ok(b.connect_timeout(millis(v, cx)?));
    ["attempt_timeout_ms"] "the per-attempt timeout in milliseconds (default 30000; a PUT gets 1 s more per MiB)" =>
        |b, v, cx| Ok(b.attempt_timeout(millis(v, cx)?));
    ["sse"] "server-side encryption: `aes256` (SSE-S3) or `kms` (SSE-KMS)" =>
        |b, v, cx| {
            let encryption = match v {
                "aes256" | "AES256" | "s3" => Encryption::S3,
                "kms" | "aws:kms" => Encryption::Kms { key_id: None, bucket_key: false },
                _ => return Err(cx.bad(format!("sse={v:?}: use aes256 or kms"))),
            };
            Ok(b.objects_mut(|o| {
                // A key id or bucket key given before stays.
                if !matches!((&o.encryption, &encryption), (Some(Encryption::Kms { .. }), Encryption::Kms { .. })) {
                    o.encryption = Some(encryption);
                }
            }))
        };
    ["sse_kms_key_id"] "the KMS key id or ARN (implies `sse=kms`)" =>
        |b, v, _| Ok(b.objects_mut(|o| match &mut o.encryption {
            Some(Encryption::Kms { key_id, .. }) => *key_id = Some(v.to_owned()),
            _ => o.encryption = Some(Encryption::Kms { key_id: Some(v.to_owned()), bucket_key: false }),
        }));
    ["sse_bucket_key"] "`true`: use an S3 Bucket Key with SSE-KMS (implies `sse=kms`)" =>
        |b, v, cx| {
            let on = cx.flag(v)?;
            Ok(b.objects_mut(|o| match &mut o.encryption {
                Some(Encryption::Kms { bucket_key, .. }) => *bucket_key = on,
                _ => o.encryption = Some(Encryption::Kms { key_id: None, bucket_key: on }),
            }))
        };
    ["storage_class"] "the storage class of new objects (`STANDARD_IA`, ...)" =>
        |b, v, _| Ok(b.objects_mut(|o| o.storage_class = Some(v.to_owned())));
    ["tags"] "object tags, `name:value,name:value`" =>
        |b, v, _| {
            let tags = ObjectSettings::pairs(v, "tags")?;
            Ok(b.objects_mut(|o| o.tags = tags))
        };
    ["cache_control"] "the `Cache-Control` stored with each object" =>
        |b, v, _| Ok(b.objects_mut(|o| o.cache_control = Some(v.to_owned())));
    ["metadata"] "extra user metadata, `name:value,name:value`" =>
        |b, v, _| {
            let metadata = ObjectSettings::pairs(v, "metadata")?;
            Ok(b.objects_mut(|o| o.metadata = metadata))
        };
    ["multipart_threshold"] "streamed values over this many bytes (`16MiB`) are multipart uploads" =>
        |b, v, cx| {
            let threshold = byte_size(v, cx)?;
            let m = b.multipart;
            Ok(b.multipart(MultipartSettings { threshold, ..m }))
        };
    ["part_size"] "the part size of multipart uploads and streamed reads (`8MiB`)" =>
        |b, v, cx| {
            let part_size = byte_size(v, cx)?;
            let m = b.multipart;
            Ok(b.multipart(MultipartSettings { part_size, ..m }))
        };
    ["parts_in_flight"] "parts uploaded or ranges read at the same time" =>
        |b, v, cx| {
            let parts_in_flight = v.parse().ok().filter(|n| *n > 0)
                .ok_or_else(|| cx.bad(format!("parts_in_flight={v:?} is not a number > 0")))?;
            let m = b.multipart;
            Ok(b.multipart(MultipartSettings { parts_in_flight, ..m }))
        };
    ["copy_threshold"] "server-side copies of larger sources are multipart copies (`5GiB`)" =>
        |b, v, cx| {
            let copy_threshold = byte_size(v, cx)?;
            let m = b.multipart;
            Ok(b.multipart(MultipartSettings { copy_threshold, ..m }))
        };
    ["copy_part_size"] "the part size of multipart copies (`512MiB`)" =>
        |b, v, cx| {
            let copy_part_size = byte_size(v, cx)?;
            let m = b.multipart;
            Ok(b.multipart(MultipartSettings { copy_part_size, ..m }))
        };
    ["concurrency"] "requests in flight for bulk operations" =>
        |b, v, cx| Ok(b.concurrency(
            v.parse().ok().filter(|n| *n > 0)
                .ok_or_else(|| cx.bad(format!("concurrency={v:?} is not a number > 0")))?,
        ));
}

/// A size in bytes from a URL parameter: a number, optionally followed by `KiB`, `MiB`
/// or `GiB`.
fn byte_size(value: &str, cx: &UrlContext<'_>) -> Result<u64> {
    let (digits, unit) = value.split_at(
        value
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(value.len()),
    );
    let shift = match unit {
        "" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        _ => {
            return Err(cx.bad(format!(
                "{}={value:?}: write bytes, or a number with KiB, MiB or GiB",
                cx.name
            )))
        }
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(1 << shift))
        .ok_or_else(|| cx.bad(format!("{}={value:?} is not a size in bytes", cx.name)))
}

/// A duration in milliseconds, more than 0, from a URL parameter.
fn millis(value: &str, cx: &UrlContext<'_>) -> Result<Duration> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| {
            cx.bad(format!(
                "{}={value:?} is not a number of milliseconds > 0",
                cx.name
            ))
        })
}

/// Every URL parameter `s3://` URLs take, as (name, meaning), in documentation order
/// (aliases not included): for help texts.
pub fn url_parameters() -> impl Iterator<Item = (&'static str, &'static str)> {
    URL_SETTINGS.iter().map(|s| (s.names[0], s.doc))
}

fn parse_url(url: &str) -> Result<S3DictBuilder> {
    let bad = |why: String| Error::Config(format!("URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("an S3 URL starts with s3://".into()))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
    if bucket.is_empty() {
        return Err(bad("no bucket name".into()));
    }
    let mut b = S3DictBuilder::new(bucket).root_prefix(prefix);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let setting = URL_SETTINGS
            .iter()
            .find(|s| s.names.contains(&name))
            .ok_or_else(|| bad(format!("unknown parameter {name:?}")))?;
        b = (setting.apply)(b, value, &UrlContext { url, name })?;
    }
    Ok(b)
}

impl S3DictBuilder {
    /// Starts configuring a dictionary on `bucket`.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3DictBuilder {
            bucket: bucket.into(),
            root_prefix: String::new(),
            region: None,
            endpoint_url: None,
            force_path_style: None,
            checksums_when_required: None,
            sign_payload: None,
            retry: None,
            timeout: None,
            connect_timeout: None,
            attempt_timeout: None,
            codec: Codec::default(),
            digest_len: DEFAULT_DIGEST_LEN,
            append_only: false,
            capabilities: None,
            racy_fallback: false,
            create_bucket: false,
            versioning: false,
            client: None,
            sdk_config: None,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
            objects: ObjectSettings::default(),
            multipart: MultipartSettings::default(),
        }
    }

    /// What every PUT sends besides the value: server-side encryption, storage class,
    /// tags, `Cache-Control`, extra user metadata (default: nothing; see
    /// [`ObjectSettings`]). Checked when the dictionary is built.
    pub fn object_settings(mut self, settings: ObjectSettings) -> Self {
        self.objects = settings;
        self
    }

    /// How values are streamed: above `threshold` bytes a streamed write is a multipart
    /// upload of `part_size` parts, `parts_in_flight` at a time, and a streamed read
    /// fetches ranges of `part_size` bytes as many at a time (default:
    /// [`MultipartSettings::default`]). Checked when the dictionary is built.
    pub fn multipart(mut self, settings: MultipartSettings) -> Self {
        self.multipart = settings;
        self
    }

    /// The object settings so far, to change one of them.
    fn objects_mut(mut self, change: impl FnOnce(&mut ObjectSettings)) -> Self {
        change(&mut self.objects);
        self
    }

    /// The prefix under which every object lives (`/`-separated; may be empty; each part
    /// follows the key-part rules).
    pub fn root_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.root_prefix = prefix.into();
        self
    }

    /// The AWS region (default: from the environment, else `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// A custom endpoint such as `http://127.0.0.1:8333` (default: `AWS_ENDPOINT_URL_S3`,
    /// else `AWS_ENDPOINT_URL`, else AWS S3).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }

    /// Path-style addressing (`endpoint/bucket/key`); default: on with a custom endpoint.
    pub fn force_path_style(mut self, on: bool) -> Self {
        self.force_path_style = Some(on);
        self
    }

    /// Compute and validate checksums only when the operation requires them; default: on
    /// with a custom endpoint.
    pub fn checksums_when_required(mut self, on: bool) -> Self {
        self.checksums_when_required = Some(on);
        self
    }

    /// Whether the bodies of PUTs and uploaded parts are signed (their SHA-256 goes into
    /// the signature) or sent as `UNSIGNED-PAYLOAD`. Default: signed over plain HTTP and
    /// with a given [`client`](Self::client) whose endpoint this builder does not know;
    /// unsigned over HTTPS (and on AWS's own endpoints), where TLS already protects the
    /// body and hashing it would cost a pass over every byte (about half the client CPU
    /// of a 1 MiB PUT). The headers, the key and the conditions are always signed.
    pub fn sign_payload(mut self, on: bool) -> Self {
        self.sign_payload = Some(on);
        self
    }

    /// The SDK's retry configuration (default: standard, 3 attempts). Conditional writes
    /// take their attempt budget from it too (at least 4 attempts).
    pub fn retry_config(mut self, retry: RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The SDK's timeouts; what this sets wins over [`connect_timeout`](Self::connect_timeout),
    /// [`attempt_timeout`](Self::attempt_timeout) and the defaults (see
    /// [Timeouts](Self#timeouts)).
    pub fn timeout_config(mut self, timeout: TimeoutConfig) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The longest wait for a connection to the endpoint (default
    /// [`DEFAULT_CONNECT_TIMEOUT`], 3.1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// The longest wait for the answer to one attempt of a request (default
    /// [`DEFAULT_ATTEMPT_TIMEOUT`], 30 s); a PUT gets one second more per MiB of body.
    /// A timed-out attempt is retried as the retry configuration says, then the call fails
    /// with [`Error::Timeout`] (a conditional write: see [`Error::OutcomeUnknown`]).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// The effective timeouts over those of the base SDK configuration `base`.
    fn timeouts(&self, base: Option<&TimeoutConfig>) -> TimeoutConfig {
        let mut methods = TimeoutConfig::builder();
        if let Some(t) = self.connect_timeout {
            methods = methods.connect_timeout(t);
        }
        if let Some(t) = self.attempt_timeout {
            methods = methods.operation_attempt_timeout(t);
        }
        let mut effective = match &self.timeout {
            Some(t) => t.clone(),
            None => TimeoutConfig::builder().build(),
        };
        effective.take_defaults_from(&methods.build());
        if let Some(base) = base {
            effective.take_defaults_from(base);
        }
        effective.take_defaults_from(
            &TimeoutConfig::builder()
                .connect_timeout(DEFAULT_CONNECT_TIMEOUT)
                .operation_attempt_timeout(DEFAULT_ATTEMPT_TIMEOUT)
                .build(),
        );
        effective
    }

    /// The value codec (default: bincode).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// The signature length of key parts (default 4; 0 = unsigned, Python persidict's
    /// layout).
    pub fn digest_len(mut self, digest_len: usize) -> Self {
        self.digest_len = digest_len;
        self
    }

    /// Values can be inserted, never overwritten or removed (default: off).
    ///
    /// It is also a promise that no client ever removes or replaces an object under the
    /// root prefix, and the store relies on it to settle an insert whose answer was lost:
    /// an object without this write's id then proves the insert did not land. A store from
    /// [`build_store`](Self::build_store) takes that promise too, though it does not
    /// refuse overwrites itself (wrap it in [`AppendOnly`](crate::store::AppendOnly)).
    pub fn append_only(mut self, on: bool) -> Self {
        self.append_only = on;
        self
    }

    /// Declares what the endpoint enforces and skips probing (e.g. [`Capabilities::ALL`]
    /// for AWS S3).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// On a backend that ignores conditional requests, emulate them with a HEAD before an
    /// unconditional request instead of failing with [`Error::Unsupported`].
    ///
    /// **This races**: another writer can slip in between the HEAD and the write, so two
    /// "insert-if-absent" calls can both succeed and a compare-and-swap can overwrite a
    /// newer value. Use it only where a single writer is guaranteed. Default: off.
    pub fn allow_racy_fallback(mut self, on: bool) -> Self {
        self.racy_fallback = on;
        self
    }

    /// Create the bucket if it does not exist (default: off).
    pub fn create_bucket(mut self, on: bool) -> Self {
        self.create_bucket = on;
        self
    }

    /// Turn versioning on for the bucket when building (`PutBucketVersioning`; default:
    /// off, the bucket is left as it is). On a versioned bucket every write keeps the
    /// versions before it and a delete leaves a delete marker: the dictionary's
    /// [`versions`](crate::PersiDict::versions), [`get_version`](crate::PersiDict::get_version)
    /// and [`restore_version`](crate::PersiDict::restore_version) work there. A bucket
    /// versioned by its owner works the same without this. A server without versioning
    /// (rclone) fails the build with [`Error::Unsupported`].
    pub fn versioning(mut self, on: bool) -> Self {
        self.versioning = on;
        self
    }

    /// Use this client (its configuration is kept; a request counter is added).
    pub fn client(mut self, client: Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Build the client from this AWS configuration instead of the environment.
    pub fn sdk_config(mut self, config: aws_config::SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }

    /// The largest value accepted or read, in bytes (default 1 GiB).
    pub fn max_value_size(mut self, bytes: u64) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// How many requests bulk operations keep in flight at most (default
    /// [`DEFAULT_CONCURRENCY`]; 0 counts as 1). The SDK's HTTP client opens up to this
    /// many connections to the endpoint.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// Connects the byte-level store alone (loads the AWS configuration; no request is
    /// sent unless the bucket is to be created); the typed settings are not used, except
    /// the [`append_only`](Self::append_only) promise.
    pub async fn build_store(self) -> Result<S3Store> {
        Ok(self.connect().await?.0)
    }

    /// Connects the store and returns it with the settings of the typed layer. The SDK
    /// client is configured as the builder says (path style and checksums-when-required
    /// by default for custom endpoints, region `us-east-1` when none is found, a request
    /// counter), the root prefix is checked, and the bucket is created if asked.
    pub(crate) async fn connect(self) -> Result<(S3Store, DictSettings)> {
        if self.bucket.is_empty() {
            return Err(Error::Config("the bucket name is empty".into()));
        }
        let root = root_prefix(&self.root_prefix)?;
        self.objects.check()?;
        self.multipart.check()?;
        let stats = Arc::new(RequestStats::default());
        let mut config = match (&self.client, &self.sdk_config) {
            (Some(client), _) => client.config().to_builder(),
            (None, Some(sdk)) => aws_sdk_s3::config::Builder::from(sdk),
            (None, None) => {
                let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                aws_sdk_s3::config::Builder::from(&sdk)
            }
        };
        let endpoint_url = self.endpoint_url.clone().or_else(|| {
            self.sdk_config
                .as_ref()
                .and_then(|c| c.endpoint_url().map(str::to_owned))
        });
        let endpoint_url = match (&self.client, endpoint_url) {
            (_, Some(url)) => Some(url),
            // A given client keeps its own endpoint; otherwise the environment decides.
            (None, None) => std::env::var("AWS_ENDPOINT_URL_S3")
                .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                .ok()
                .filter(|s| !s.is_empty()),
            (Some(_), None) => None,
        };
        if let Some(url) = &endpoint_url {
            config = config.endpoint_url(url);
        }
        if let Some(region) = &self.region {
            config = config.region(Region::new(region.clone()));
        } else if config.clone().build().region().is_none() {
            config = config.region(Region::new("us-east-1"));
        }
        let custom = endpoint_url.is_some();
        if self.force_path_style.unwrap_or(custom) {
            config = config.force_path_style(true);
        }
        if self.checksums_when_required.unwrap_or(custom) {
            config = config
                .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
                .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        }
        let base = match (&self.client, &self.sdk_config) {
            (Some(client), _) => client.config().timeout_config().cloned(),
            (None, Some(sdk)) => sdk.timeout_config().cloned(),
            (None, None) => None,
        };
        let timeouts = self.timeouts(base.as_ref());
        config = config.timeout_config(timeouts.clone());
        if let Some(retry) = self.retry {
            config = config.retry_config(retry);
        }
        config = config.interceptor(CountingInterceptor(Arc::clone(&stats)));
        // TLS protects a body sent over HTTPS. Without an endpoint the SDK talks to AWS
        // over HTTPS, unless a given client has an endpoint of its own, unknown here.
        let over_tls = match endpoint_url.as_deref() {
            Some(url) => url
                .get(..8)
                .is_some_and(|s| s.eq_ignore_ascii_case("https://")),
            None => self.client.is_none(),
        };
        let sign_payload = self.sign_payload.unwrap_or(!over_tls);
        let endpoint_url = endpoint_url.unwrap_or_else(|| "s3".to_owned());
        let client = S3Client {
            sdk: Client::from_conf(config.build()),
            endpoint: format!("{endpoint_url}/{}", self.bucket),
            bucket: self.bucket,
            timeouts: Timeouts { config: timeouts },
            objects: Arc::new(self.objects),
            sign_payload,
        };
        let capabilities = match self.capabilities {
            Some(declared) => probe::declared(declared),
            None => probe::cell(&client.endpoint, &client.bucket),
        };
        let multipart_capabilities = match self.capabilities {
            Some(declared) => multipart::probe::declared(MultipartCapabilities {
                if_absent: declared.put_if_absent,
                if_match: declared.put_if_match,
            }),
            None => multipart::probe::cell(&client.endpoint, &client.bucket),
        };
        if self.create_bucket {
            create_bucket(&client).await?;
        }
        if self.versioning {
            super::versions::enable(&client).await?;
        }
        let store = S3Store::new(StoreParts {
            client,
            endpoint_url,
            root,
            stats,
            capabilities,
            racy_fallback: self.racy_fallback,
            concurrency: self.concurrency,
            append_only: self.append_only,
            multipart: self.multipart,
            multipart_capabilities,
        });
        let settings = DictSettings {
            codec: self.codec,
            digest_len: self.digest_len,
            append_only: self.append_only,
            concurrency: self.concurrency,
            max_value_size: self.max_value_size,
        };
        Ok((store, settings))
    }
}

/// The root prefix without surrounding slashes, ending in `/` unless empty; each part
/// follows the key-part rules.
fn root_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for part in trimmed.split('/') {
        validate_part(part).map_err(|e| Error::Config(format!("root prefix {prefix:?}: {e}")))?;
    }
    Ok(format!("{trimmed}/"))
}

async fn create_bucket(client: &S3Client) -> Result<()> {
    match client
        .sdk
        .create_bucket()
        .bucket(&client.bucket)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
            if matches!(code, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") {
                Ok(())
            } else {
                Err(client.error("CreateBucket", e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_is_parsed_and_documented_once() {
        let mut seen = std::collections::HashSet::new();
        for s in URL_SETTINGS {
            for name in s.names {
                assert!(seen.insert(*name), "{name} declared twice");
            }
            assert!(!s.doc.is_empty());
        }
        let url = "s3://b/p?endpoint=http://h:1&region=r&codec=json&digest_len=0&append_only=true\
                   &capabilities=none&create_bucket=1&path_style=no&racy_fallback=yes&concurrency=3\
                   &connect_timeout_ms=250&attempt_timeout_ms=1500";
        let b = S3DictBuilder::from_url(url).expect("every parameter parses");
        assert_eq!(b.endpoint_url.as_deref(), Some("http://h:1"));
        assert_eq!(b.region.as_deref(), Some("r"));
        assert_eq!((b.digest_len, b.append_only, b.concurrency), (0, true, 3));
        assert_eq!(b.capabilities, Some(Capabilities::NONE));
        assert!(b.create_bucket && b.racy_fallback);
        assert_eq!(b.force_path_style, Some(false));
        assert_eq!(url_parameters().count(), URL_SETTINGS.len());
        assert_eq!(b.connect_timeout, Some(Duration::from_millis(250)));
        assert_eq!(b.attempt_timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn timeouts_default_and_override_in_order() {
        let defaults = S3DictBuilder::new("b").timeouts(None);
        assert_eq!(defaults.connect_timeout(), Some(DEFAULT_CONNECT_TIMEOUT));
        assert_eq!(
            defaults.operation_attempt_timeout(),
            Some(DEFAULT_ATTEMPT_TIMEOUT)
        );
        assert_eq!(
            defaults.operation_timeout(),
            None,
            "no bound on a whole call"
        );
        let secs = Duration::from_secs;
        let base = TimeoutConfig::builder()
            .connect_timeout(secs(7))
            .operation_attempt_timeout(secs(8))
            .build();
        let from_base = S3DictBuilder::new("b").timeouts(Some(&base));
        assert_eq!(from_base.connect_timeout(), Some(secs(7)));
        assert_eq!(from_base.operation_attempt_timeout(), Some(secs(8)));
        let methods = S3DictBuilder::new("b")
            .connect_timeout(secs(1))
            .attempt_timeout(secs(2));
        let t = methods.timeouts(Some(&base));
        assert_eq!(t.connect_timeout(), Some(secs(1)));
        assert_eq!(t.operation_attempt_timeout(), Some(secs(2)));
        let config = methods.timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(secs(3))
                .build(),
        );
        let t = config.timeouts(Some(&base));
        assert_eq!(
            t.connect_timeout(),
            Some(secs(1)),
            "timeout_config wins where it sets"
        );
        assert_eq!(t.operation_attempt_timeout(), Some(secs(3)));
        let off = S3DictBuilder::new("b")
            .attempt_timeout(secs(2))
            .timeout_config(TimeoutConfig::disabled())
            .timeouts(None);
        assert!(!off.has_timeouts(), "disabled() switches every bound off");
        let timeouts = Timeouts { config: defaults };
        assert_eq!(timeouts.put_attempt(0), Some(DEFAULT_ATTEMPT_TIMEOUT));
        assert_eq!(
            timeouts.put_attempt(10 << 20),
            Some(DEFAULT_ATTEMPT_TIMEOUT + secs(10)),
            "one second more per MiB"
        );
        assert_eq!(Timeouts { config: off }.put_attempt(10 << 20), None);
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let msg = |url: &str| match S3DictBuilder::from_url(url) {
            Err(Error::Config(m)) => m,
            other => panic!("{url}: {other:?}"),
        };
        assert!(msg("http://b").contains("starts with s3://"));
        assert!(msg("s3://").contains("no bucket name"));
        assert!(msg("s3://b?nope=1").contains("unknown parameter \"nope\""));
        assert!(msg("s3://b?digest_len=x").contains("digest_len=\"x\" is not a number"));
        assert!(msg("s3://b?concurrency=0").contains("is not a number > 0"));
        assert!(msg("s3://b?capabilities=x").contains("use aws, all, none or probe"));
        assert!(msg("s3://b?append_only=maybe").contains("append_only"));
        assert!(msg("s3://b?attempt_timeout_ms=0")
            .contains("attempt_timeout_ms=\"0\" is not a number of milliseconds > 0"));
        assert!(msg("s3://b?connect_timeout_ms=1s").contains("connect_timeout_ms"));
    }

    #[test]
    fn root_prefixes_are_checked_and_normalised() {
        assert_eq!(root_prefix("").unwrap(), "");
        assert_eq!(root_prefix("/a/b/").unwrap(), "a/b/");
        assert!(root_prefix("a//b").is_err());
        assert!(root_prefix("a/../b").is_err());
        assert!(root_prefix("a b").is_err());
    }
}
