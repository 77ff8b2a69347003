//! The raw S3 requests of [`S3Store`](super::store::S3Store), and the one send loop of its
//! conditional writes.
//!
//! Every function here sends one kind of request on a full object key (root prefix
//! included) and turns the answer into plain values or the crate's [`Error`]; what the
//! answers mean is decided in [`classify`](super::classify), how a lost answer is settled
//! in [`resolve`](super::resolve).
//!
//! # The conditional send loop
//! Conditional PUTs and DELETEs go through [`S3Client::conditional`], with the SDK's own
//! retries switched off for them: only here can the fate of each attempt be followed. One
//! attempt budget covers the whole request (the client's `max_attempts`, at least
//! [`MIN_ATTEMPTS`]): `409 ConditionalRequestConflict` / `OperationAborted` and transient
//! failures draw from it alike, with full-jitter exponential backoff in between. An attempt
//! whose answer was lost (its [`Fate`] is unknown) is never simply sent again: the caller's
//! resolver looks first and decides. Unconditional requests keep the SDK's retries:
//! repeating them is harmless.

use std::future::Future;
use std::time::{Duration, SystemTime};

use aws_sdk_s3::client::customize::CustomizableOperation;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::put_object::PutObjectOutput;
use aws_sdk_s3::operation::upload_part::UploadPartOutput;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use bytes::{Buf, Bytes};
use tracing::debug;

use super::classify::{self, classify, Answer, Bounds, Fate};
use super::settings::ObjectSettings;
use crate::cond::{ETag, Lineage};
use crate::error::{Capability, Error, Result};
use crate::store::DeleteResult;

/// The user-metadata field (`x-amz-meta-persidict-write-id`) that identifies each logical
/// write; the same on every attempt of one write.
pub(crate) const WRITE_ID: &str = "persidict-write-id";

/// The user-metadata field (`x-amz-meta-persidict-write-chain`) of a compare-and-swap
/// write: the write ids of the versions it replaced, most recent first, joined by `,`
/// (see [`Lineage`]).
pub(crate) const WRITE_CHAIN: &str = "persidict-write-chain";

/// The fewest attempts a conditional request gets, whatever the retry configuration says,
/// so that a burst of `409` conflicts does not fail it at once.
pub(crate) const MIN_ATTEMPTS: u32 = 4;

/// The longest a backoff after a `409` conflict starts from: a conflict is another writer
/// finishing, not a server in trouble, so the configured (second-long) backoff is too slow.
const CONFLICT_BASE: Duration = Duration::from_millis(20);

/// A fresh random 64-bit write id, in hex: two writes to one key share an id with odds
/// of about one in 10^19, and lineages of 48 of them fit S3's 2 KB of user metadata.
pub(crate) fn new_write_id() -> String {
    format!("{:016x}", fastrand::u64(..))
}

/// The SDK client with the bucket it works on.
#[derive(Clone)]
pub(crate) struct S3Client {
    /// The SDK client (cheap to clone).
    pub(crate) sdk: aws_sdk_s3::Client,
    /// The bucket.
    pub(crate) bucket: String,
    /// `<endpoint url>/<bucket>`, for messages.
    pub(crate) endpoint: String,
    /// The connect and per-attempt timeouts the client runs under.
    pub(crate) timeouts: Timeouts,
    /// What every PUT sends besides the value.
    pub(crate) objects: std::sync::Arc<ObjectSettings>,
    /// Whether PUT and UploadPart bodies are signed (else `UNSIGNED-PAYLOAD`).
    pub(crate) sign_payload: bool,
}

/// A PUT or UploadPart about to be sent, whose body may go unsigned.
pub(crate) trait UnsignedBody {
    /// The same request, its body unsigned unless `sign`.
    fn signed_if(self, sign: bool) -> Self;
}

impl<E, B> UnsignedBody for CustomizableOperation<PutObjectOutput, E, B> {
    fn signed_if(self, sign: bool) -> Self {
        if sign {
            self
        } else {
            self.disable_payload_signing()
        }
    }
}

impl<E, B> UnsignedBody for CustomizableOperation<UploadPartOutput, E, B> {
    fn signed_if(self, sign: bool) -> Self {
        if sign {
            self
        } else {
            self.disable_payload_signing()
        }
    }
}

/// The lowest upload rate a PUT's attempt timeout allows for: a PUT of `n` bytes gets the
/// attempt timeout plus `n / PUT_MIN_RATE` seconds, so that no bound cuts a large upload
/// short (a stalled one is caught by the SDK's stalled-stream protection).
pub(crate) const PUT_MIN_RATE: u64 = 1 << 20;

/// The effective connect and per-attempt timeouts of a client, and the SDK timeout
/// configuration they come from.
#[derive(Debug, Clone)]
pub(crate) struct Timeouts {
    /// The client's whole timeout configuration.
    pub(crate) config: aws_sdk_s3::config::timeout::TimeoutConfig,
}

impl Timeouts {
    /// The bounds of a request without a body.
    pub(crate) fn bounds(&self) -> Bounds {
        Bounds {
            connect: self.config.connect_timeout(),
            attempt: self
                .config
                .operation_attempt_timeout()
                .or(self.config.operation_timeout()),
        }
    }

    /// The attempt timeout of a PUT of `len` bytes: the attempt timeout plus the time
    /// the body takes at [`PUT_MIN_RATE`]; `None` when attempts are not bounded.
    pub(crate) fn put_attempt(&self, len: usize) -> Option<Duration> {
        let base = self.config.operation_attempt_timeout()?;
        // Whole milliseconds, so that messages show round figures.
        let transfer = Duration::from_millis((len as u64).saturating_mul(1000) / PUT_MIN_RATE);
        Some(base.saturating_add(transfer))
    }

    /// The bounds of a PUT of `len` bytes.
    pub(crate) fn put_bounds(&self, len: usize) -> Bounds {
        Bounds {
            attempt: self.put_attempt(len).or(self.bounds().attempt),
            ..self.bounds()
        }
    }

    /// A per-request configuration override for a PUT of `len` bytes: the client's
    /// timeouts with the attempt timeout scaled to the body. (An override replaces the
    /// client's whole timeout configuration, so every field is given.)
    pub(crate) fn put_override(&self, len: usize) -> aws_sdk_s3::config::Builder {
        let builder = aws_sdk_s3::config::Builder::new();
        match self.put_attempt(len) {
            Some(attempt) => {
                let mut config = aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(attempt)
                    .build();
                config.take_defaults_from(&self.config);
                builder.timeout_config(config)
            }
            None => builder,
        }
    }
}

impl std::fmt::Debug for S3Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The SDK configuration holds credentials providers: never print it.
        f.debug_struct("S3Client")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// What a HEAD (or the headers of a GET) told of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    /// The ETag, carrying the lineage.
    pub(crate) etag: ETag,
    pub(crate) size: u64,
    pub(crate) last_modified: SystemTime,
}

impl Head {
    /// The write ids the object carries, if a persidict write stored it.
    pub(crate) fn lineage(&self) -> Option<&Lineage> {
        self.etag.lineage()
    }
}

/// The lineage recorded in an object's user metadata.
pub(crate) fn lineage(
    metadata: Option<&std::collections::HashMap<String, String>>,
) -> Option<Lineage> {
    let m = metadata?;
    Lineage::parse(
        m.get(WRITE_ID).map(String::as_str),
        m.get(WRITE_CHAIN).map(String::as_str),
    )
}

/// What a GET found.
#[derive(Debug)]
pub(crate) enum Got {
    Absent,
    /// `304`: the object still has the ETag sent in `If-None-Match`.
    NotModified,
    /// The object is larger than the limit; its body was not read.
    TooLarge {
        size: u64,
    },
    Found {
        head: Head,
        body: Bytes,
    },
}

/// How a conditional request ended, as the send loop saw it.
#[derive(Debug)]
pub(crate) enum Attempted<O, R> {
    /// An attempt succeeded; its output.
    Applied(O),
    /// The precondition did not hold. `after_lost`: an earlier attempt's answer was lost.
    Refused { after_lost: bool },
    /// The resolver settled the request after a lost answer.
    Settled(R),
}

/// A resolver's verdict on an attempt whose answer was lost.
#[derive(Debug)]
pub(crate) enum Lost<R> {
    /// The request's result is known: stop.
    Settled(R),
    /// The attempt is known not to have been applied: another attempt is safe.
    Resend,
}

/// Switches the SDK's retries off in a request's configuration override (the
/// conditional requests, whose retries the send loop runs itself).
pub(crate) fn no_sdk_retries(over: aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder {
    over.retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
}

/// Full-jitter exponential backoff before attempt `attempt + 1`.
fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    exp.min(cap).mul_f64(fastrand::f64())
}

pub(crate) fn system_time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> SystemTime {
    t.and_then(|t| SystemTime::try_from(*t).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

impl S3Client {
    /// The crate's error for a failed call.
    pub(crate) fn error<E>(&self, operation: &str, err: SdkError<E, HttpResponse>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.error_within(operation, err, self.timeouts.bounds())
    }

    /// The crate's error for a failed call that ran under `bounds`.
    pub(crate) fn error_within<E>(
        &self,
        operation: &str,
        err: SdkError<E, HttpResponse>,
        bounds: Bounds,
    ) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        classify::to_error(err, &self.endpoint, &self.bucket, operation, bounds)
    }

    /// The ETag of a successful answer. Every S3 server sends one with GET, HEAD and PUT
    /// answers; without it the endpoint is not an S3 server (or a broken proxy), and an
    /// empty ETag would make every later compare-and-swap meaningless.
    pub(crate) fn etag(&self, operation: &str, key: &str, etag: Option<&str>) -> Result<ETag> {
        match etag {
            Some(e) if !e.is_empty() => Ok(ETag::new(e)),
            _ => Err(Error::NotS3 {
                endpoint: self.endpoint.clone(),
                operation: operation.to_owned(),
                message: format!("its answer for {key} has no ETag"),
            }),
        }
    }

    /// The attempt budget of a conditional request, and the backoff bounds for transient
    /// failures, from the client's retry configuration (standard: 3 attempts, 1 s, 20 s).
    fn budget(&self) -> (u32, Duration, Duration) {
        match self.sdk.config().retry_config() {
            Some(r) => (
                r.max_attempts().max(MIN_ATTEMPTS),
                r.initial_backoff(),
                r.max_backoff(),
            ),
            None => (
                MIN_ATTEMPTS,
                Duration::from_secs(1),
                Duration::from_secs(20),
            ),
        }
    }

    /// GET, with `If-None-Match` when given. A body over `max_size` (by its
    /// `Content-Length`) is not read.
    pub(crate) async fn get(
        &self,
        key: &str,
        if_none_match: Option<&ETag>,
        max_size: Option<u64>,
    ) -> Result<Got> {
        self.get_version(key, None, if_none_match, max_size).await
    }

    /// [`get`](S3Client::get) of one version of the object, or of the current one
    /// (`version_id` `None`).
    pub(crate) async fn get_version(
        &self,
        key: &str,
        version_id: Option<&str>,
        if_none_match: Option<&ETag>,
        max_size: Option<u64>,
    ) -> Result<Got> {
        let mut request = self
            .sdk
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned));
        if let Some(e) = if_none_match {
            request = request.if_none_match(e.as_str());
        }
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                let status = e.raw_response().map(|r| r.status().as_u16());
                return match classify(&e) {
                    Answer::NotFound => Ok(Got::Absent),
                    Answer::NotModified if if_none_match.is_some() => Ok(Got::NotModified),
                    // A version id the object never had (400) or a delete marker (405):
                    // no such version to read.
                    Answer::BadRequest(_) if version_id.is_some() => Ok(Got::Absent),
                    _ if version_id.is_some() && status == Some(405) => Ok(Got::Absent),
                    _ => Err(self.error("GET", e)),
                };
            }
        };
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if max_size.is_some_and(|max| size > max) {
            // Dropping the answer closes its body unread.
            return Ok(Got::TooLarge { size });
        }
        let head = Head {
            etag: self
                .etag("GET", key, out.e_tag())?
                .with_lineage(lineage(out.metadata())),
            size,
            last_modified: system_time(out.last_modified()),
        };
        let body = out
            .body
            .collect()
            .await
            .map_err(|e| self.body_error(key, e))?;
        let len = body.remaining() as u64;
        if max_size.is_some_and(|max| len > max) {
            // The Content-Length understated the body (a chunked answer has none).
            return Ok(Got::TooLarge { size: len });
        }
        // One copy of the received segments into one buffer.
        let mut contiguous = Vec::with_capacity(body.remaining());
        for segment in body.into_segments() {
            contiguous.extend_from_slice(&segment);
        }
        Ok(Got::Found {
            head: Head { size: len, ..head },
            body: Bytes::from(contiguous),
        })
    }

    /// The error of a GET whose body could not be read to its end (retryable).
    pub(crate) fn body_error(
        &self,
        key: &str,
        e: aws_sdk_s3::primitives::ByteStreamError,
    ) -> Error {
        match classify::no_answer(&e) {
            // The SDK's stalled-stream protection gave up on the body.
            Some(why) => classify::no_answer_error(
                why,
                &self.endpoint,
                "GET",
                self.timeouts.bounds(),
                Box::new(e),
            ),
            None => Error::Backend {
                endpoint: self.endpoint.clone(),
                operation: "GET".into(),
                message: format!("reading the body of {key}: {e}"),
                request_id: None,
                retryable: true,
                source: Some(Box::new(e)),
            },
        }
    }

    /// HEAD, or `None` when the object is absent.
    ///
    /// A HEAD answer has no body, so a missing bucket looks like a missing object here.
    pub(crate) async fn head(&self, key: &str) -> Result<Option<Head>> {
        match self
            .sdk
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => Ok(Some(Head {
                etag: self
                    .etag("HEAD", key, out.e_tag())?
                    .with_lineage(lineage(out.metadata())),
                size: out.content_length().unwrap_or(0).max(0) as u64,
                last_modified: system_time(out.last_modified()),
            })),
            Err(e) => match classify(&e) {
                Answer::NotFound => Ok(None),
                _ => Err(self.error("HEAD", e)),
            },
        }
    }

    /// A PUT request with the lineage (the write id, and the ids before it when there
    /// are any), content type and object settings, without a precondition yet.
    fn put_request(
        &self,
        key: &str,
        body: &Bytes,
        content_type: &str,
        lineage: &Lineage,
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        let request = self
            .sdk
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .metadata(WRITE_ID, lineage.own());
        let request = match lineage.before() {
            "" => request,
            before => request.metadata(WRITE_CHAIN, before),
        };
        self.objects
            .apply(request)
            .body(ByteStream::from(body.clone()))
    }

    /// An unconditional PUT (the SDK retries it); the new ETag.
    pub(crate) async fn put(
        &self,
        key: &str,
        body: &Bytes,
        content_type: &str,
        lineage: &Lineage,
    ) -> Result<ETag> {
        match self
            .put_request(key, body, content_type, lineage)
            .customize()
            .config_override(self.timeouts.put_override(body.len()))
            .signed_if(self.sign_payload)
            .send()
            .await
        {
            Ok(out) => self.etag("PUT", key, out.e_tag()),
            Err(e) => Err(self.error_within("PUT", e, self.timeouts.put_bounds(body.len()))),
        }
    }

    /// A PUT conditioned on `If-None-Match: *` (`if_match` `None`) or `If-Match: <etag>`,
    /// through the send loop. `on_lost` settles an attempt whose answer was lost.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn put_conditional<R, L, LF>(
        &self,
        key: &str,
        body: &Bytes,
        content_type: &str,
        lineage: &Lineage,
        if_match: Option<&ETag>,
        on_lost: L,
    ) -> Result<Attempted<ETag, R>>
    where
        L: FnMut(String) -> LF,
        LF: Future<Output = Result<Lost<R>>>,
    {
        let (capability, refused): (Capability, fn(&Answer) -> bool) = match if_match {
            // AWS and moto answer 404 to If-Match on an absent key, SeaweedFS 412.
            Some(_) => (Capability::PutIfMatch, |a| {
                matches!(a, Answer::PreconditionFailed | Answer::NotFound)
            }),
            None => (Capability::PutIfAbsent, |a| {
                matches!(a, Answer::PreconditionFailed)
            }),
        };
        let sent = self
            .conditional(
                "PUT",
                key,
                capability,
                refused,
                || {
                    let request = self.put_request(key, body, content_type, lineage);
                    let request = match if_match {
                        Some(e) => request.if_match(e.as_str()),
                        None => request.if_none_match("*"),
                    };
                    request
                        .customize()
                        .config_override(no_sdk_retries(self.timeouts.put_override(body.len())))
                        .signed_if(self.sign_payload)
                        .send()
                },
                self.timeouts.put_bounds(body.len()),
                on_lost,
            )
            .await?;
        Ok(match sent {
            Attempted::Applied(out) => Attempted::Applied(self.etag("PUT", key, out.e_tag())?),
            Attempted::Refused { after_lost } => Attempted::Refused { after_lost },
            Attempted::Settled(r) => Attempted::Settled(r),
        })
    }

    /// An unconditional DELETE (the SDK retries it). Deleting an absent object succeeds.
    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        self.sdk
            .delete_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map(drop)
            .map_err(|e| self.error("DELETE", e))
    }

    /// A DELETE conditioned on `If-Match: <if_match>` (`*` for delete-if-exists), through
    /// the send loop.
    pub(crate) async fn delete_conditional<R, L, LF>(
        &self,
        key: &str,
        if_match: &str,
        on_lost: L,
    ) -> Result<Attempted<(), R>>
    where
        L: FnMut(String) -> LF,
        LF: Future<Output = Result<Lost<R>>>,
    {
        let sent = self
            .conditional(
                "DELETE",
                key,
                Capability::DeleteIfMatch,
                // AWS and moto answer 404 to If-Match on an absent key, SeaweedFS 412.
                |a| matches!(a, Answer::PreconditionFailed | Answer::NotFound),
                || {
                    self.sdk
                        .delete_object()
                        .bucket(&self.bucket)
                        .key(key)
                        .if_match(if_match)
                        .customize()
                        .config_override(no_sdk_retries(aws_sdk_s3::config::Builder::new()))
                        .send()
                },
                self.timeouts.bounds(),
                on_lost,
            )
            .await?;
        Ok(match sent {
            Attempted::Applied(_) => Attempted::Applied(()),
            Attempted::Refused { after_lost } => Attempted::Refused { after_lost },
            Attempted::Settled(r) => Attempted::Settled(r),
        })
    }

    /// The send loop of every conditional request: sends `send()` until an attempt
    /// succeeds, is refused (`refused` says which answers are refusals), fails for good, or
    /// the budget runs out. After an attempt whose answer was lost it calls `on_lost` (with
    /// a one-line reason) before anything else, and sends again only when it says so.
    /// `501` and `400` are [`Error::Unsupported`] for `capability`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn conditional<O, E, S, SF, R, L, LF>(
        &self,
        operation: &'static str,
        key: &str,
        capability: Capability,
        refused: fn(&Answer) -> bool,
        mut send: S,
        bounds: Bounds,
        mut on_lost: L,
    ) -> Result<Attempted<O, R>>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        S: FnMut() -> SF,
        SF: Future<Output = std::result::Result<O, SdkError<E, HttpResponse>>>,
        L: FnMut(String) -> LF,
        LF: Future<Output = Result<Lost<R>>>,
    {
        let (budget, base, cap) = self.budget();
        let mut after_lost = false;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let err = match send().await {
                Ok(out) => return Ok(Attempted::Applied(out)),
                Err(err) => err,
            };
            let answer = classify(&err);
            if refused(&answer) {
                return Ok(Attempted::Refused { after_lost });
            }
            let conflict = answer == Answer::Conflict;
            let fate = if conflict {
                // AWS refused to run it alongside another conditional write.
                Some(Fate::NotApplied)
            } else {
                classify::transient(&err)
            };
            let Some(fate) = fate else {
                return Err(match answer {
                    Answer::NotImplemented(_) | Answer::BadRequest(_) => Error::Unsupported {
                        capability,
                        endpoint: self.endpoint.clone(),
                    },
                    _ => self.error_within(operation, err, bounds),
                });
            };
            let summary = classify::summary(&err);
            if fate == Fate::Unknown {
                after_lost = true;
                let why = format!("the answer to attempt {attempt} was lost ({summary})");
                match on_lost(why).await? {
                    Lost::Settled(r) => return Ok(Attempted::Settled(r)),
                    Lost::Resend => {}
                }
            }
            if attempt >= budget {
                return Err(if conflict {
                    Error::Backend {
                        endpoint: self.endpoint.clone(),
                        operation: operation.to_owned(),
                        message: format!(
                            "{key}: concurrent conditional writes conflicted on all {attempt} attempts ({summary})"
                        ),
                        request_id: classify::request_id(&err),
                        retryable: true,
                        source: Some(Box::new(err)),
                    }
                } else {
                    self.error_within(operation, err, bounds)
                });
            }
            let pause = backoff(
                attempt,
                if conflict {
                    base.min(CONFLICT_BASE)
                } else {
                    base
                },
                cap,
            );
            debug!(object = %key, operation, attempt, ?fate, answer = %summary, ?pause, "retrying a conditional request");
            tokio::time::sleep(pause).await;
        }
    }

    /// One quiet `DeleteObjects` of up to 1000 keys; a per-object failure is an error
    /// naming how many failed and the first key.
    pub(crate) async fn delete_objects(&self, keys: Vec<String>) -> Result<()> {
        let delete = self.delete_request_body(keys.iter().map(|key| (key.as_str(), None)), true)?;
        let out = self
            .sdk
            .delete_objects()
            .bucket(&self.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| self.error("DeleteObjects", e))?;
        match out.errors().first() {
            None => Ok(()),
            Some(first) => Err(Error::backend(
                &self.endpoint,
                "DeleteObjects",
                format!(
                    "{} object(s) were not deleted; the first, {}: {} {}",
                    out.errors().len(),
                    first.key().unwrap_or("?"),
                    first.code().unwrap_or_default(),
                    first.message().unwrap_or_default(),
                ),
                object_error_retryable(first),
            )),
        }
    }

    /// The body of a `DeleteObjects`: each key, with the ETag it must still have where
    /// one is given; `quiet`: the answer lists only the failures.
    pub(crate) fn delete_request_body<'a>(
        &self,
        objects: impl Iterator<Item = (&'a str, Option<&'a ETag>)>,
        quiet: bool,
    ) -> Result<Delete> {
        let bad = |e: aws_sdk_s3::error::BuildError| {
            Error::backend(&self.endpoint, "DeleteObjects", e.to_string(), false)
        };
        let identifiers = objects
            .map(|(key, etag)| {
                ObjectIdentifier::builder()
                    .key(key)
                    .set_e_tag(etag.map(|e| e.as_str().to_owned()))
                    .build()
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(bad)?;
        Delete::builder()
            .set_objects(Some(identifiers))
            .quiet(quiet)
            .build()
            .map_err(bad)
    }

    /// One `DeleteObjects` of up to 1000 objects, each with the ETag it must still have,
    /// through the conditional send loop (no SDK retries: `on_lost` settles an attempt
    /// whose answer was lost). One result per object, in order: `Deleted`, or `Refused`
    /// for an object reported `PreconditionFailed` or `NoSuchKey`; any other per-object
    /// error fails the call.
    pub(crate) async fn delete_objects_if<L, LF>(
        &self,
        objects: &[(String, ETag)],
        on_lost: L,
    ) -> Result<Attempted<Vec<DeleteResult>, Vec<DeleteResult>>>
    where
        L: FnMut(String) -> LF,
        LF: Future<Output = Result<Lost<Vec<DeleteResult>>>>,
    {
        let delete = self.delete_request_body(
            objects.iter().map(|(key, etag)| (key.as_str(), Some(etag))),
            false,
        )?;
        let first = objects.first().map_or("", |(key, _)| key.as_str());
        let sent = self
            .conditional(
                "DeleteObjects",
                first,
                Capability::DeleteIfMatch,
                |_| false,
                || {
                    self.sdk
                        .delete_objects()
                        .bucket(&self.bucket)
                        .delete(delete.clone())
                        .customize()
                        .config_override(no_sdk_retries(aws_sdk_s3::config::Builder::new()))
                        .send()
                },
                self.timeouts.bounds(),
                on_lost,
            )
            .await?;
        let out = match sent {
            Attempted::Applied(out) => out,
            Attempted::Settled(results) => return Ok(Attempted::Settled(results)),
            Attempted::Refused { after_lost } => return Ok(Attempted::Refused { after_lost }),
        };
        let deleted: std::collections::HashSet<&str> =
            out.deleted().iter().filter_map(|d| d.key()).collect();
        let failed: std::collections::HashMap<&str, &aws_sdk_s3::types::Error> = out
            .errors()
            .iter()
            .filter_map(|e| Some((e.key()?, e)))
            .collect();
        let results = objects
            .iter()
            .map(|(key, _)| match failed.get(key.as_str()) {
                Some(e) if matches!(e.code(), Some("PreconditionFailed" | "NoSuchKey")) => {
                    Ok(DeleteResult::Refused)
                }
                Some(e) => Err(Error::backend(
                    &self.endpoint,
                    "DeleteObjects",
                    format!(
                        "{key}: {} {}",
                        e.code().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    ),
                    object_error_retryable(e),
                )),
                None if deleted.contains(key.as_str()) => Ok(DeleteResult::Deleted),
                None => Err(Error::backend(
                    &self.endpoint,
                    "DeleteObjects",
                    format!("{key}: the answer does not mention it"),
                    false,
                )),
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Attempted::Applied(results))
    }
}

/// Whether a `DeleteObjects` per-object failure may pass: S3 reports `InternalError` or
/// `SlowDown` per object; the others (`AccessDenied`) will not change by themselves.
fn object_error_retryable(e: &aws_sdk_s3::types::Error) -> bool {
    matches!(e.code(), Some("InternalError" | "SlowDown"))
}

/// One object of a listing, its key still absolute.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: String,
    pub(crate) etag: Option<ETag>,
    pub(crate) size: u64,
    pub(crate) last_modified: SystemTime,
}

/// One page of `ListObjectsV2`: its objects (keys still absolute, in the order the server
/// sent them) and, when the request named a delimiter, its common prefixes.
#[derive(Debug, Default)]
pub(crate) struct ListPage {
    pub(crate) objects: Vec<Listed>,
    pub(crate) common_prefixes: Vec<String>,
    /// Whether more pages follow.
    pub(crate) truncated: bool,
}

/// What one `ListObjectsV2` pagination asks for.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListRequest {
    /// Only keys starting with this.
    pub(crate) prefix: String,
    /// Roll keys up to their first `delimiter` after `prefix` into common prefixes.
    pub(crate) delimiter: Option<String>,
    /// Only keys after this one (sent on the first page; later pages carry the
    /// continuation token instead).
    pub(crate) start_after: Option<String>,
}

impl S3Client {
    /// The pages of `ListObjectsV2` as `request` says (up to 1000 objects and common
    /// prefixes each). The first page is asked for when the stream is first polled; once
    /// the reader asks for the second, each page is fetched while the reader works
    /// through the one before it (see [`read_ahead`](super::read_ahead)). Dropping the
    /// stream stops the listing. The stream owns a clone of the
    /// client, so it can outlive `self`.
    pub(crate) fn list_pages(
        &self,
        request: ListRequest,
    ) -> futures::stream::BoxStream<'static, Result<ListPage>> {
        use futures::StreamExt;
        let pages = self
            .sdk
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(request.prefix)
            .set_delimiter(request.delimiter)
            .set_start_after(request.start_after)
            .into_paginator()
            .send();
        let client = self.clone();
        // The next page is on its way while the reader works through this one.
        let pages = super::read_ahead::read_ahead(
            futures::stream::unfold(pages, |mut pages| async move {
                pages.next().await.map(|page| (page, pages))
            }),
            1,
        );
        pages
            .map(move |page| {
                let page = page.map_err(|e| client.error("LIST", e))?;
                Ok(ListPage {
                    objects: page
                        .contents()
                        .iter()
                        .filter_map(|o| {
                            Some(Listed {
                                key: o.key()?.to_owned(),
                                etag: o.e_tag().map(listed_etag),
                                size: o.size().unwrap_or(0).max(0) as u64,
                                last_modified: system_time(o.last_modified()),
                            })
                        })
                        .collect(),
                    common_prefixes: page
                        .common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned))
                        .collect(),
                    truncated: page.is_truncated().unwrap_or(false)
                        || page
                            .next_continuation_token()
                            .is_some_and(|t| !t.is_empty()),
                })
            })
            .boxed()
    }
}

/// An ETag from a listing, in the form HEAD and GET give it. rclone lists ETags without
/// the quotes its HEAD and GET answers carry; without this, a listed ETag would never match
/// a conditional request's.
pub(crate) fn listed_etag(raw: &str) -> ETag {
    if raw.starts_with('"') || raw.starts_with("W/") {
        ETag::new(raw)
    } else {
        ETag::new(format!("\"{raw}\""))
    }
}
