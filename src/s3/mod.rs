//! [`S3Dict`]: the dictionary on Amazon S3 or any S3-compatible store.
//!
//! One object per key at `<root_prefix>/<signed part 1>/.../<signed part n>.<extension>`.
//! Every conditional operation is a conditional S3 request (`If-Match`,
//! `If-None-Match: *`), so it is atomic on backends that enforce them; see
//! [`Capabilities`] for what is probed and what happens on backends that do not.
//!
//! Requests per operation (the minimum S3 allows):
//!
//! | operation | requests |
//! |---|---|
//! | `get`, `get_opt`, `get_with_etag` | 1 GET |
//! | `contains`, `etag`, `timestamp`, `head` | 1 HEAD |
//! | `put` | 1 PUT (append-only: 1 PUT `If-None-Match: *`) |
//! | `delete`, `discard` | 1 DELETE `If-Match: *` (404/412 = absent) where compare-and-delete is enforced; else HEAD + DELETE |
//! | `get_if(_, Some(e), IfChanged)` | 1 GET `If-None-Match: e` (304 = unchanged, no body) |
//! | `get_if(_, _, Never)` | 1 HEAD |
//! | `put_if(Same, Some(e), Value)` | 1 PUT `If-Match: e` |
//! | `put_if(Same, None, Value)`, `setdefault_if` | 1 PUT `If-None-Match: *` (+ 1 GET/HEAD when the key exists) |
//! | `discard_if(Same, Some(e))` | 1 DELETE `If-Match: e` |
//! | `put_if(Any or Changed, …)`, `discard_if(Any or Changed, …)` | HEAD + the write conditioned on the ETag the HEAD saw |
//! | `len`, `keys`, `list` | ⌈n/1000⌉ LIST |
//! | `clear` | ⌈n/1000⌉ LIST + ⌈n/1000⌉ DeleteObjects, overlapped |
//! | `delete_many(n keys)` | ⌈n/1000⌉ DeleteObjects, bounded concurrency |
//! | `values`, `items` | ⌈n/1000⌉ LIST + n GETs, bounded concurrency, streaming |
//! | `get_many`, `put_many`, `discard_many` | one request per key as above, bounded concurrency |
//!
//! Bulk operations keep at most [`S3DictBuilder::concurrency`] requests in flight. Every
//! request and its body bytes are counted in [`S3Dict::stats`].
//!
//! A refused conditional write is re-observed with one GET or HEAD to report the actual
//! state. Every write carries a random write id in its user metadata: when a retried
//! conditional write is refused because its first attempt already landed (its answer was
//! lost), the re-observation finds our write id and reports the write as done.

mod classify;
mod client;
pub mod config;
mod legacy_probe;
pub mod probe;
mod resolve;
mod stats;
pub mod store;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use bytes::{Buf, Bytes};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use self::classify::{classify, Answer, Fate};
use self::client::listed_etag;
pub use self::legacy_probe::{ProbeCheck, ProbeReport, ProbeVerdict};
use self::stats::CountingInterceptor;
pub use self::stats::{RequestKind, RequestStats, StatsSnapshot};
use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::{Capabilities, DictInfo, EntryMeta, PersiDict, Value};
use crate::error::{Capability, Error, Result};
use crate::key::{Key, Naming, DEFAULT_DIGEST_LEN};

/// The user-metadata field (`x-amz-meta-persidict-write-id`) that identifies each write.
const WRITE_ID: &str = "persidict-write-id";
/// How often a conditional write is retried after a 409 conflict or a changed actual ETag.
const MAX_WRITE_ATTEMPTS: u32 = 50;
pub use crate::dict::DEFAULT_MAX_VALUE_SIZE;

/// State shared by a dictionary, its clones and its subdictionaries.
pub(crate) struct Shared {
    client: Client,
    bucket: String,
    /// The endpoint and bucket, for messages and the capability registry.
    endpoint: String,
    stats: Arc<RequestStats>,
    capabilities: Arc<OnceCell<Capabilities>>,
    racy_fallback: bool,
    max_value_size: u64,
    /// The most requests a bulk operation keeps in flight.
    concurrency: usize,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The client's configuration holds credentials providers: never print it.
        f.debug_struct("Shared")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .finish_non_exhaustive()
    }
}

/// A precondition on a write.
#[derive(Debug, Clone, Copy)]
enum Pre<'a> {
    None,
    /// `If-None-Match: *`.
    IfAbsent,
    /// `If-Match: <etag>`.
    IfMatch(&'a ETag),
}

/// What a read found.
struct Found {
    etag: ETag,
    body: Option<Vec<u8>>,
    write_id: Option<String>,
}

impl Shared {
    fn backend_error(&self, operation: &str, answer: Answer) -> Error {
        match answer {
            Answer::Forbidden(message) => Error::PermissionDenied {
                endpoint: self.endpoint.clone(),
                operation: operation.to_owned(),
                message,
                request_id: None,
            },
            Answer::NoSuchBucket => Error::BucketNotFound {
                bucket: self.bucket.clone(),
                endpoint: self.endpoint.clone(),
                operation: operation.to_owned(),
            },
            Answer::NotImplemented(m) | Answer::BadRequest(m) | Answer::Other(m) => {
                Error::Backend {
                    endpoint: self.endpoint.clone(),
                    operation: operation.to_owned(),
                    message: m,
                    request_id: None,
                    retryable: false,
                    source: None,
                }
            }
            other => Error::Backend {
                endpoint: self.endpoint.clone(),
                operation: operation.to_owned(),
                message: format!("unexpected answer: {other:?}"),
                request_id: None,
                retryable: false,
                source: None,
            },
        }
    }

    fn unsupported(&self, capability: Capability) -> Error {
        Error::Unsupported {
            capability,
            endpoint: self.endpoint.clone(),
        }
    }

    /// HEAD: the current ETag and write id, or `None` when absent.
    async fn head_raw(
        &self,
        name: &str,
    ) -> Result<Option<(ETag, Option<String>, u64, SystemTime)>> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await
        {
            Ok(out) => {
                let etag = self.etag_of("HEAD", out.e_tag())?;
                let write_id = out.metadata().and_then(|m| m.get(WRITE_ID)).cloned();
                let size = out.content_length().unwrap_or(0).max(0) as u64;
                let modified = out
                    .last_modified()
                    .and_then(|t| SystemTime::try_from(*t).ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                Ok(Some((etag, write_id, size, modified)))
            }
            Err(e) => match classify(&e) {
                Answer::NotFound => Ok(None),
                other => Err(self.backend_error("HEAD", other)),
            },
        }
    }

    async fn probe_head(&self, name: &str) -> Result<Option<ETag>> {
        Ok(self.head_raw(name).await?.map(|(e, ..)| e))
    }

    /// GET, optionally `If-None-Match: <etag>`. `Ok(None)`: absent. A `Found` without a body
    /// is a 304 (the ETag is the one given).
    async fn get_raw(
        &self,
        key: &Key,
        name: &str,
        if_none_match: Option<&ETag>,
    ) -> Result<Option<Found>> {
        let mut request = self.client.get_object().bucket(&self.bucket).key(name);
        if let Some(e) = if_none_match {
            request = request.if_none_match(e.as_str());
        }
        let out = match request.send().await {
            Ok(out) => out,
            Err(e) => {
                return match classify(&e) {
                    Answer::NotFound => Ok(None),
                    Answer::NotModified => Ok(if_none_match.map(|e| Found {
                        etag: e.clone(),
                        body: None,
                        write_id: None,
                    })),
                    other => Err(self.backend_error("GET", other)),
                }
            }
        };
        let size = out.content_length().unwrap_or(0).max(0) as u64;
        if size > self.max_value_size {
            return Err(Error::ValueTooLarge {
                key: key.clone(),
                size,
                max: self.max_value_size,
            });
        }
        let etag = self.etag_of("GET", out.e_tag())?;
        let write_id = out.metadata().and_then(|m| m.get(WRITE_ID)).cloned();
        let body = out.body.collect().await.map_err(|e| Error::Backend {
            endpoint: self.endpoint.clone(),
            operation: "GET".into(),
            message: format!("reading the body of {key}: {e}"),
            request_id: None,
            retryable: false,
            source: None,
        })?;
        // One copy of the received segments into the buffer the codec takes over
        // (`AggregatedBytes::to_vec` would collect byte by byte).
        let mut contiguous = Vec::with_capacity(body.remaining());
        for segment in body.into_segments() {
            contiguous.extend_from_slice(&segment);
        }
        let body = contiguous;
        if body.len() as u64 > self.max_value_size {
            return Err(Error::ValueTooLarge {
                key: key.clone(),
                size: body.len() as u64,
                max: self.max_value_size,
            });
        }
        Ok(Some(Found {
            etag,
            body: Some(body),
            write_id,
        }))
    }

    /// An unconditional PUT for the probes.
    async fn probe_put(&self, name: &str, body: &'static [u8]) -> Result<ETag> {
        match self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(name)
            .body(ByteStream::from_static(body))
            .send()
            .await
        {
            Ok(out) => self.etag_of("PUT", out.e_tag()),
            Err(e) => Err(self.backend_error("PUT", classify(&e))),
        }
    }

    async fn capabilities(&self, root: &str) -> Result<Capabilities> {
        self.capabilities
            .get_or_try_init(|| async {
                legacy_probe::probe(self, root)
                    .await
                    .map(|report| report.capabilities())
            })
            .await
            .copied()
    }

    /// Checks that `capability` is enforced; without it, either the caller has opted in to
    /// the racy fallback (`Ok(false)`: emulate) or the answer is [`Error::Unsupported`].
    async fn require(&self, capability: Capability, root: &str) -> Result<bool> {
        if self.capabilities(root).await?.has(capability) {
            Ok(true)
        } else if self.racy_fallback {
            Ok(false)
        } else {
            Err(self.unsupported(capability))
        }
    }

    /// Emulates a precondition with a HEAD before an unconditional request (racy; only with
    /// the explicit opt-in). `true` when the precondition holds.
    async fn emulate(&self, name: &str, pre: Pre<'_>) -> Result<bool> {
        let actual = self.probe_head(name).await?;
        Ok(match pre {
            Pre::None => true,
            Pre::IfAbsent => actual.is_none(),
            Pre::IfMatch(e) => actual.as_ref() == Some(e),
        })
    }

    /// The ETag of a successful answer. Every S3 server sends one with GET, HEAD and PUT
    /// answers; without it the endpoint is not an S3 server (or a broken proxy), and an
    /// empty ETag would make every later compare-and-swap meaningless.
    fn etag_of(&self, operation: &str, etag: Option<&str>) -> Result<ETag> {
        match etag {
            Some(e) if !e.is_empty() => Ok(ETag::new(e)),
            _ => Err(self.backend_error(
                operation,
                Answer::Other("the answer has no ETag: is the endpoint an S3 server?".into()),
            )),
        }
    }

    /// The attempts and backoff for the conditional writes whose retries this crate runs
    /// itself: the client's retry configuration (standard: 3 attempts).
    fn write_retry(&self) -> (u32, Duration, Duration) {
        match self.client.config().retry_config() {
            Some(r) => (
                r.max_attempts().max(1),
                r.initial_backoff(),
                r.max_backoff(),
            ),
            None => (3, Duration::from_secs(1), Duration::from_secs(20)),
        }
    }

    /// PUT with a precondition. `Ok(None)`: refused (412, or 404 for `If-Match` on an
    /// absent key). A 409 conflict is retried a bounded number of times.
    ///
    /// # Retries of conditional writes, and ambiguity
    /// The SDK's own retries are switched off for conditional writes, and this loop retries
    /// instead (as many attempts as the client's retry configuration allows), because only
    /// here can an attempt's *fate* be tracked. An attempt whose answer was lost (timeout,
    /// reset, `500`; see [`classify::transient`]) may have been applied. If a later attempt
    /// is refused, the refusal may be caused by our own landed write, or by someone else's:
    /// one HEAD tells. If the object carries this write's id, our write is in and this is
    /// a success. If not, our write may have landed and been overwritten since, or never
    /// landed: that is [`Error::OutcomeUnknown`], never "refused", so that no caller
    /// (notably `transform`) re-applies an update that may already be in. The same holds
    /// when the attempts run out after an ambiguous one.
    #[allow(clippy::too_many_arguments)]
    async fn put_raw(
        &self,
        key: &Key,
        name: &str,
        body: &Bytes,
        pre: Pre<'_>,
        write_id: &str,
        content_type: &str,
        root: &str,
    ) -> Result<Option<ETag>> {
        let enforced = match pre {
            Pre::None => true,
            Pre::IfAbsent => self.require(Capability::PutIfAbsent, root).await?,
            Pre::IfMatch(_) => self.require(Capability::PutIfMatch, root).await?,
        };
        if !enforced && !self.emulate(name, pre).await? {
            return Ok(None);
        }
        let conditional = enforced && !matches!(pre, Pre::None);
        let (max_attempts, base, cap) = self.write_retry();
        let mut failures = 0u32;
        let mut conflicts = 0u32;
        // Why an earlier attempt's fate is unknown, if one is.
        let mut ambiguous: Option<String> = None;
        loop {
            let mut request = self
                .client
                .put_object()
                .bucket(&self.bucket)
                .key(name)
                .content_type(content_type)
                .metadata(WRITE_ID, write_id)
                .body(ByteStream::from(body.clone()));
            if enforced {
                request = match pre {
                    Pre::None => request,
                    Pre::IfAbsent => request.if_none_match("*"),
                    Pre::IfMatch(e) => request.if_match(e.as_str()),
                };
            }
            let sent = if conditional {
                request
                    .customize()
                    .config_override(no_sdk_retries())
                    .send()
                    .await
            } else {
                request.send().await
            };
            let e = match sent {
                Ok(out) => return self.etag_of("PUT", out.e_tag()).map(Some),
                Err(e) => e,
            };
            let answer = classify(&e);
            let refused = match answer {
                Answer::PreconditionFailed => true,
                Answer::NotFound => matches!(pre, Pre::IfMatch(_)),
                _ => false,
            };
            if refused {
                return match ambiguous {
                    None => Ok(None),
                    Some(why) => {
                        let why = format!("{why}, then a retry was refused ({answer:?})");
                        self.resolve_put(key, name, write_id, why).await.map(Some)
                    }
                };
            }
            if answer == Answer::Conflict && conflicts + 1 < MAX_WRITE_ATTEMPTS {
                conflicts += 1;
                conflict_backoff(conflicts).await;
                continue;
            }
            if conditional {
                if let Some(fate) = classify::transient(&e) {
                    if fate == Fate::Unknown {
                        ambiguous =
                            Some(format!("an attempt's answer was lost ({})", short(&answer)));
                    }
                    failures += 1;
                    if failures < max_attempts {
                        tracing::debug!(object = %name, attempt = failures, ?fate, answer = %short(&answer), "retrying a conditional PUT");
                        tokio::time::sleep(retry_backoff(failures, base, cap)).await;
                        continue;
                    }
                }
            }
            let error = match answer {
                Answer::NotImplemented(_) | Answer::BadRequest(_) if !matches!(pre, Pre::None) => {
                    self.unsupported(match pre {
                        Pre::IfAbsent => Capability::PutIfAbsent,
                        _ => Capability::PutIfMatch,
                    })
                }
                Answer::Conflict => {
                    self.backend_error("PUT", Answer::Other("409 conflicts did not stop".into()))
                }
                other => self.backend_error("PUT", other),
            };
            return match ambiguous {
                None => Err(error),
                Some(why) => {
                    let why = format!("{why}, then the attempts ran out ({error})");
                    self.resolve_put(key, name, write_id, why).await.map(Some)
                }
            };
        }
    }

    /// After an ambiguous attempt: our write is in if the current object carries our
    /// write id (one HEAD); otherwise the outcome is unknown.
    async fn resolve_put(
        &self,
        key: &Key,
        name: &str,
        write_id: &str,
        why: String,
    ) -> Result<ETag> {
        match self.head_raw(name).await {
            Ok(Some((etag, Some(theirs), ..))) if theirs == write_id => {
                tracing::debug!(object = %name, "an ambiguous conditional PUT had landed: resolved by its write id");
                Ok(etag)
            }
            Ok(_) => Err(Error::OutcomeUnknown {
                key: key.to_path(),
                operation: "PUT",
                reason: format!("{why}, and the object does not carry this write's id"),
            }),
            Err(e) => Err(Error::OutcomeUnknown {
                key: key.to_path(),
                operation: "PUT",
                reason: format!("{why}, and the object could not be read back: {e}"),
            }),
        }
    }

    /// DELETE with a precondition. `Ok(false)`: refused, or (with `If-Match`) absent.
    ///
    /// Conditional deletes are retried here like conditional PUTs (see
    /// [`Shared::put_raw`]). A delete leaves no write id behind, so a refusal (or running
    /// out of attempts) after an attempt whose answer was lost is
    /// [`Error::OutcomeUnknown`]: the object may be gone because of us.
    async fn delete_raw(&self, key: &Key, name: &str, pre: Pre<'_>, root: &str) -> Result<bool> {
        let enforced = match pre {
            Pre::None => true,
            // S3 has no delete-if-absent; nothing asks for it.
            Pre::IfAbsent => return Ok(false),
            Pre::IfMatch(_) => self.require(Capability::DeleteIfMatch, root).await?,
        };
        if !enforced && !self.emulate(name, pre).await? {
            return Ok(false);
        }
        let conditional = enforced && matches!(pre, Pre::IfMatch(_));
        let (max_attempts, base, cap) = self.write_retry();
        let mut failures = 0u32;
        let mut conflicts = 0u32;
        let mut ambiguous: Option<String> = None;
        loop {
            let mut request = self.client.delete_object().bucket(&self.bucket).key(name);
            if let (true, Pre::IfMatch(e)) = (enforced, pre) {
                request = request.if_match(e.as_str());
            }
            let sent = if conditional {
                request
                    .customize()
                    .config_override(no_sdk_retries())
                    .send()
                    .await
            } else {
                request.send().await
            };
            let e = match sent {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            let answer = classify(&e);
            if matches!(answer, Answer::PreconditionFailed | Answer::NotFound) {
                return match ambiguous {
                    None => Ok(false),
                    Some(why) => Err(Error::OutcomeUnknown {
                        key: key.to_path(),
                        operation: "DELETE",
                        reason: format!(
                            "{why}, then a retry was refused ({answer:?}): the object may be gone because of it"
                        ),
                    }),
                };
            }
            if answer == Answer::Conflict && conflicts + 1 < MAX_WRITE_ATTEMPTS {
                conflicts += 1;
                conflict_backoff(conflicts).await;
                continue;
            }
            if conditional {
                if let Some(fate) = classify::transient(&e) {
                    if fate == Fate::Unknown {
                        ambiguous =
                            Some(format!("an attempt's answer was lost ({})", short(&answer)));
                    }
                    failures += 1;
                    if failures < max_attempts {
                        tracing::debug!(object = %name, attempt = failures, ?fate, answer = %short(&answer), "retrying a conditional DELETE");
                        tokio::time::sleep(retry_backoff(failures, base, cap)).await;
                        continue;
                    }
                }
            }
            let error = match answer {
                Answer::NotImplemented(_) | Answer::BadRequest(_) if !matches!(pre, Pre::None) => {
                    self.unsupported(Capability::DeleteIfMatch)
                }
                Answer::Conflict => {
                    self.backend_error("DELETE", Answer::Other("409 conflicts did not stop".into()))
                }
                other => self.backend_error("DELETE", other),
            };
            return match ambiguous {
                None => Err(error),
                Some(why) => Err(Error::OutcomeUnknown {
                    key: key.to_path(),
                    operation: "DELETE",
                    reason: format!("{why}, then the attempts ran out ({error})"),
                }),
            };
        }
    }
}

/// A per-request override that switches the SDK's retries off (for the conditional writes
/// whose retries [`Shared::put_raw`] and [`Shared::delete_raw`] run themselves).
fn no_sdk_retries() -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::config::Builder::new()
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
}

/// Full-jitter exponential backoff before retry `failures` (from 1).
fn retry_backoff(failures: u32, base: Duration, cap: Duration) -> Duration {
    let exp = base.saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    exp.min(cap).mul_f64(fastrand::f64())
}

/// A one-line summary of an answer for messages.
fn short(answer: &Answer) -> String {
    match answer {
        Answer::Other(m)
        | Answer::NotImplemented(m)
        | Answer::BadRequest(m)
        | Answer::Forbidden(m) => m.lines().next().unwrap_or_default().to_owned(),
        other => format!("{other:?}"),
    }
}

async fn conflict_backoff(attempt: u32) {
    let cap = Duration::from_millis(5u64 << attempt.min(6));
    tokio::time::sleep(cap.mul_f64(fastrand::f64())).await;
}

fn new_write_id() -> String {
    format!("{:032x}", fastrand::u128(..))
}

/// A dictionary whose entries are objects in an S3 bucket.
///
/// Build one with [`S3Dict::builder`]. Clones and subdictionaries share one client, one
/// request counter and the probed capabilities.
///
/// ```no_run
/// # async fn demo() -> persidict::Result<()> {
/// use persidict::prelude::*;
/// use persidict::S3Dict;
///
/// let d: S3Dict<String> = S3Dict::builder("my-bucket")
///     .root_prefix("app/cache")
///     .endpoint_url("http://127.0.0.1:8333")
///     .build()
///     .await?;
/// d.put(&Key::try_from("greeting")?, "hello".into()).await?;
/// # Ok(()) }
/// ```
pub struct S3Dict<V> {
    shared: Arc<Shared>,
    naming: Arc<Naming>,
    prefix: Vec<String>,
    codec: Codec,
    append_only: bool,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for S3Dict<V> {
    fn clone(&self) -> Self {
        S3Dict {
            shared: Arc::clone(&self.shared),
            naming: Arc::clone(&self.naming),
            prefix: self.prefix.clone(),
            codec: self.codec,
            append_only: self.append_only,
            _values: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for S3Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Dict")
            .field("endpoint", &self.shared.endpoint)
            .field("root", &self.naming.root())
            .field("prefix", &self.prefix)
            .field("codec", &self.codec)
            .field("append_only", &self.append_only)
            .finish_non_exhaustive()
    }
}

/// What the S3 client observed of one key.
struct Observation<V> {
    etag: Option<ETag>,
    /// `None`: the value was not fetched.
    value: Option<Slot<V>>,
    write_id: Option<String>,
}

impl S3Dict<()> {
    /// Starts configuring a dictionary on `bucket`; the value type is chosen by
    /// [`S3DictBuilder::build`].
    pub fn builder(bucket: impl Into<String>) -> S3DictBuilder {
        S3DictBuilder::new(bucket.into())
    }
}

impl<V: Value> S3Dict<V> {
    /// The request and byte counters of this dictionary's client, shared with its clones
    /// and subdictionaries. A dictionary built with
    /// [`S3DictBuilder::client`]`(other.client().clone())` gets counters of its own, and
    /// its requests are counted by `other`'s counters too (the client keeps `other`'s
    /// counting interceptor).
    pub fn stats(&self) -> &RequestStats {
        &self.shared.stats
    }

    /// Sends one `DeleteObjects` request for up to 1000 object names (unconditional, quiet
    /// mode: only failures are reported back).
    async fn delete_objects(&self, names: Vec<String>) -> Result<()> {
        let objects = names
            .into_iter()
            .map(|name| ObjectIdentifier::builder().key(name).build())
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| {
                self.shared
                    .backend_error("DeleteObjects", Answer::Other(e.to_string()))
            })?;
        let delete = Delete::builder()
            .set_objects(Some(objects))
            .quiet(true)
            .build()
            .map_err(|e| {
                self.shared
                    .backend_error("DeleteObjects", Answer::Other(e.to_string()))
            })?;
        let out = self
            .shared
            .client
            .delete_objects()
            .bucket(&self.shared.bucket)
            .delete(delete)
            .send()
            .await
            .map_err(|e| self.shared.backend_error("DeleteObjects", classify(&e)))?;
        match out.errors().first() {
            None => Ok(()),
            Some(err) => Err(self.shared.backend_error(
                "DeleteObjects",
                Answer::Other(format!(
                    "{} objects not deleted, first {:?}: {} {}",
                    out.errors().len(),
                    err.key().unwrap_or_default(),
                    err.code().unwrap_or_default(),
                    err.message().unwrap_or_default()
                )),
            )),
        }
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.shared.bucket
    }

    /// The underlying S3 client.
    pub fn client(&self) -> &Client {
        &self.shared.client
    }

    /// A subdictionary as an `S3Dict`, sharing the client.
    pub fn subdict(&self, prefix: &Key) -> S3Dict<V> {
        let mut d = self.clone();
        d.prefix.extend_from_slice(prefix.parts());
        d
    }

    /// The object name of `key`.
    pub fn object_name(&self, key: &Key) -> Result<String> {
        Ok(self.naming.object_name(&key.prefixed(&self.prefix))?)
    }

    fn root(&self) -> &str {
        self.naming.root()
    }

    fn parse(&self, name: &str) -> Option<Key> {
        self.naming
            .parse_object_name(name)?
            .strip_prefix(&self.prefix)
    }

    /// The body of `value`, shared (not copied) by every attempt to send it.
    fn encode(&self, key: &Key, value: &V) -> Result<Bytes> {
        self.codec
            .encode_within(key, value, self.shared.max_value_size)
            .map(Bytes::from)
    }

    async fn put_bytes(
        &self,
        key: &Key,
        name: &str,
        bytes: &Bytes,
        pre: Pre<'_>,
        id: &str,
    ) -> Result<Option<ETag>> {
        self.shared
            .put_raw(
                key,
                name,
                bytes,
                pre,
                id,
                self.codec.content_type(),
                self.root(),
            )
            .await
    }

    /// One read of `key`: a HEAD when the value is not wanted, else a GET (with
    /// `If-None-Match: expected` when the value is wanted only if it changed).
    async fn observe(
        &self,
        key: &Key,
        name: &str,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Observation<V>> {
        if retrieve == Retrieve::Never {
            return Ok(match self.shared.head_raw(name).await? {
                None => Observation {
                    etag: None,
                    value: Some(Slot::Absent),
                    write_id: None,
                },
                Some((etag, write_id, ..)) => Observation {
                    etag: Some(etag),
                    value: Some(Slot::NotRetrieved),
                    write_id,
                },
            });
        }
        let revalidate = if retrieve == Retrieve::IfChanged {
            expected
        } else {
            None
        };
        Ok(match self.shared.get_raw(key, name, revalidate).await? {
            None => Observation {
                etag: None,
                value: Some(Slot::Absent),
                write_id: None,
            },
            Some(found) => {
                let value = match found.body {
                    // A 304, or a server that ignored If-None-Match and sent the same object.
                    _ if !retrieve.wants_value(expected, Some(&found.etag)) => Slot::NotRetrieved,
                    Some(body) => Slot::Present(self.codec.decode_owned_for(key, body)?),
                    None => Slot::NotRetrieved,
                };
                Observation {
                    etag: Some(found.etag),
                    value: Some(value),
                    write_id: found.write_id,
                }
            }
        })
    }

    /// A HEAD-only observation (value not fetched).
    async fn peek(&self, name: &str) -> Result<Observation<V>> {
        Ok(match self.shared.head_raw(name).await? {
            None => Observation {
                etag: None,
                value: Some(Slot::Absent),
                write_id: None,
            },
            Some((etag, write_id, ..)) => Observation {
                etag: Some(etag),
                value: None,
                write_id,
            },
        })
    }

    fn written_slot(&self, key: &Key, bytes: &[u8], retrieve: Retrieve) -> Result<Slot<V>> {
        self.codec.written_slot(key, bytes, retrieve)
    }

    /// The outcome of an operation whose condition did not hold against `obs`, with the
    /// value per `retrieve` (fetching it if the observation did not). `None` when the key
    /// changed meanwhile and the condition must be evaluated again.
    async fn unsatisfied(
        &self,
        key: &Key,
        name: &str,
        obs: Observation<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<std::result::Result<Outcome<V>, Observation<V>>> {
        let wants = obs.etag.is_some() && retrieve.wants_value(expected, obs.etag.as_ref());
        let obs = match obs.value {
            Some(Slot::NotRetrieved) | None if wants => {
                let fresh = self.observe(key, name, expected, retrieve).await?;
                if fresh.etag != obs.etag {
                    return Ok(Err(fresh));
                }
                fresh
            }
            _ => obs,
        };
        let value = match obs.value {
            Some(v) => v,
            None if obs.etag.is_none() => Slot::Absent,
            None => Slot::NotRetrieved,
        };
        let satisfied = condition.holds(expected, obs.etag.as_ref());
        Ok(Ok(Outcome::unchanged(satisfied, obs.etag, value)))
    }
}

#[async_trait]
impl<V: Value> PersiDict<V> for S3Dict<V> {
    fn info(&self) -> DictInfo {
        DictInfo {
            backend: "s3",
            location: format!(
                "s3://{}/{}{} ({})",
                self.shared.bucket,
                self.naming.root(),
                self.naming.dir_prefix(&self.prefix)[self.naming.root().len()..].to_owned(),
                self.shared.endpoint
            ),
            codec: self.codec,
            append_only: self.append_only,
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.shared.capabilities(self.root()).await
    }

    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let name = self.object_name(key)?;
        let obs = self.observe(key, &name, expected, retrieve).await?;
        let satisfied = condition.holds(expected, obs.etag.as_ref());
        Ok(Outcome::unchanged(
            satisfied,
            obs.etag,
            obs.value.unwrap_or(Slot::NotRetrieved),
        ))
    }

    async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let name = self.object_name(key)?;
        let bytes = match &write {
            Write::Value(v) => Some(self.encode(key, v)?),
            Write::DeleteCurrent if self.append_only => {
                return Err(Error::append_only(key, "delete"))
            }
            _ => None,
        };
        if matches!(write, Write::KeepCurrent) {
            return self.get_if(key, condition, expected, retrieve).await;
        }
        let id = new_write_id();
        // What we know of the key's state; `None` before the first observation.
        let mut known: Option<Observation<V>> = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let obs = match known.take() {
                Some(obs) => obs,
                // `Same` conditions the write on `expected` itself: no HEAD needed, a wrong
                // guess is refused by the server. Not for deleting an expected-absent key:
                // there is no request that would refuse it, so look first.
                // On an append-only dictionary an overwrite is an error, not a refusal, so
                // whether the expected ETag is current must be seen first.
                None if condition == Condition::Same
                    && (bytes.is_some() || expected.is_some())
                    && !(self.append_only && expected.is_some()) =>
                {
                    Observation {
                        etag: expected.cloned(),
                        value: None,
                        write_id: None,
                    }
                }
                None => self.peek(&name).await?,
            };
            if !condition.holds(expected, obs.etag.as_ref()) {
                match self
                    .unsatisfied(key, &name, obs, condition, expected, retrieve)
                    .await?
                {
                    Ok(outcome) => return Ok(outcome),
                    Err(fresh) => {
                        known = Some(fresh);
                        continue;
                    }
                }
            }
            let actual = obs.etag.clone();
            let pre = match &actual {
                Some(e) => Pre::IfMatch(e),
                None => Pre::IfAbsent,
            };
            let done = match &bytes {
                Some(bytes) => {
                    if self.append_only && actual.is_some() {
                        return Err(Error::append_only(key, "overwrite"));
                    }
                    self.put_bytes(key, &name, bytes, pre, &id)
                        .await?
                        .map(|etag| (Some(etag), self.written_slot(key, bytes, retrieve)))
                }
                None => match pre {
                    // Deleting an absent key changes nothing.
                    Pre::IfAbsent => Some((None, Ok(Slot::Absent))),
                    _ => self
                        .shared
                        .delete_raw(key, &name, pre, self.root())
                        .await?
                        .then_some((None, Ok(Slot::Absent))),
                },
            };
            if let Some((resulting_etag, value)) = done {
                return Ok(Outcome {
                    satisfied: true,
                    actual_etag: actual,
                    resulting_etag,
                    value: value?,
                });
            }
            // Refused: the key is not as assumed. Look again (the read may already carry
            // the value to report).
            let fresh = self.observe(key, &name, expected, retrieve).await?;
            if let (Some(bytes), Some(theirs)) = (&bytes, &fresh.write_id) {
                if *theirs == id {
                    // Our write landed on an earlier attempt whose answer was lost.
                    return Ok(Outcome {
                        satisfied: true,
                        actual_etag: actual,
                        resulting_etag: fresh.etag,
                        value: self.written_slot(key, bytes, retrieve)?,
                    });
                }
            }
            known = Some(fresh);
        }
        Err(Error::ConcurrencyConflict {
            key: key.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let name = self.object_name(key)?;
        let bytes = self.encode(key, &default)?;
        if !condition.holds(expected, None) {
            // Inserting needs the key absent, and then the condition fails: a read will do.
            return self.get_if(key, condition, expected, retrieve).await;
        }
        let id = new_write_id();
        for _ in 0..MAX_WRITE_ATTEMPTS {
            if let Some(etag) = self
                .put_bytes(key, &name, &bytes, Pre::IfAbsent, &id)
                .await?
            {
                return Ok(Outcome {
                    satisfied: true,
                    actual_etag: None,
                    resulting_etag: Some(etag),
                    value: self.written_slot(key, &bytes, retrieve)?,
                });
            }
            let obs = self.observe(key, &name, expected, retrieve).await?;
            if obs.write_id.as_deref() == Some(id.as_str()) {
                return Ok(Outcome {
                    satisfied: true,
                    actual_etag: None,
                    resulting_etag: obs.etag,
                    value: self.written_slot(key, &bytes, retrieve)?,
                });
            }
            if obs.etag.is_some() {
                let satisfied = condition.holds(expected, obs.etag.as_ref());
                let value = obs.value.unwrap_or(Slot::NotRetrieved);
                return Ok(Outcome::unchanged(satisfied, obs.etag, value));
            }
            // Deleted between the refusal and the read: try the insert again.
        }
        Err(Error::ConcurrencyConflict {
            key: key.clone(),
            attempts: MAX_WRITE_ATTEMPTS,
        })
    }

    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>> {
        self.put_if(
            key,
            Write::DeleteCurrent,
            condition,
            expected,
            Retrieve::Never,
        )
        .await
    }

    async fn put(&self, key: &Key, value: V) -> Result<ETag> {
        let name = self.object_name(key)?;
        let bytes = self.encode(key, &value)?;
        let id = new_write_id();
        if !self.append_only {
            return self
                .put_bytes(key, &name, &bytes, Pre::None, &id)
                .await?
                .ok_or_else(|| self.shared.backend_error("PUT", Answer::PreconditionFailed));
        }
        match self
            .put_bytes(key, &name, &bytes, Pre::IfAbsent, &id)
            .await?
        {
            Some(etag) => Ok(etag),
            None => match self.shared.head_raw(&name).await? {
                // Our own earlier attempt landed and its answer was lost.
                Some((etag, Some(theirs), ..)) if theirs == id => Ok(etag),
                _ => Err(Error::append_only(key, "overwrite")),
            },
        }
    }

    async fn discard(&self, key: &Key) -> Result<bool> {
        if self.append_only {
            return Err(Error::append_only(key, "delete"));
        }
        let name = self.object_name(key)?;
        let caps = self.capabilities().await?;
        if caps.delete_if_exists {
            // `If-Match: *` makes S3 tell us whether the object existed: 404 (AWS) or 412
            // (SeaweedFS) when it did not, in one request.
            let star = ETag::new("*");
            return self
                .shared
                .delete_raw(key, &name, Pre::IfMatch(&star), self.root())
                .await;
        }
        // A plain DELETE cannot say whether it removed anything: look first. Where
        // compare-and-delete works, the DELETE is conditioned on what the HEAD saw, so the
        // answer is exact; a refusal means someone rewrote the key meanwhile: look again.
        loop {
            let Some((etag, ..)) = self.shared.head_raw(&name).await? else {
                return Ok(false);
            };
            let pre = if caps.delete_if_match {
                Pre::IfMatch(&etag)
            } else {
                Pre::None
            };
            if self.shared.delete_raw(key, &name, pre, self.root()).await? {
                return Ok(true);
            }
        }
    }

    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        let name = self.object_name(key)?;
        Ok(self
            .shared
            .head_raw(&name)
            .await?
            .map(|(etag, _, size, last_modified)| EntryMeta {
                key: key.clone(),
                etag: Some(etag),
                size,
                last_modified,
            }))
    }

    fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
        let dir = self.naming.dir_prefix(&self.prefix);
        let pages = self
            .shared
            .client
            .list_objects_v2()
            .bucket(&self.shared.bucket)
            .prefix(dir)
            .into_paginator()
            .send();
        stream::unfold(pages, |mut pages| async move {
            pages.next().await.map(|page| (page, pages))
        })
        .map(move |page| {
            let page = page.map_err(|e| self.shared.backend_error("LIST", classify(&e)))?;
            let entries: Vec<Result<EntryMeta>> = page
                .contents()
                .iter()
                .filter_map(|o| {
                    // Objects this dictionary did not name (foreign files, other codecs,
                    // probes, bad signatures) are skipped.
                    let key = self.parse(o.key()?)?;
                    Some(Ok(EntryMeta {
                        key,
                        etag: o.e_tag().map(listed_etag),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        last_modified: o
                            .last_modified()
                            .and_then(|t| SystemTime::try_from(*t).ok())
                            .unwrap_or(SystemTime::UNIX_EPOCH),
                    }))
                })
                .collect();
            Ok::<_, Error>(stream::iter(entries))
        })
        .try_flatten()
        .boxed()
    }

    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>> {
        Ok(Box::new(self.subdict(prefix)))
    }

    fn concurrency(&self) -> usize {
        self.shared.concurrency
    }

    async fn clear(&self) -> Result<()> {
        // The listing and the deletes overlap: while one page's DeleteObjects is in
        // flight the next page is listed (a continuation token points past the keys
        // already listed, so deleting them does not disturb the listing). At most
        // `concurrency` batches of at most 1000 names each are held at a time.
        let dir = self.naming.dir_prefix(&self.prefix);
        let pages = self
            .shared
            .client
            .list_objects_v2()
            .bucket(&self.shared.bucket)
            .prefix(dir)
            .into_paginator()
            .send();
        stream::unfold(pages, |mut pages| async move {
            pages.next().await.map(|page| (page, pages))
        })
        .map(|page| {
            let page = page.map_err(|e| self.shared.backend_error("LIST", classify(&e)))?;
            let mut batch = Vec::with_capacity(page.contents().len());
            for o in page.contents() {
                let Some(name) = o.key() else { continue };
                // Only the objects this dictionary names: foreign objects survive.
                let Some(key) = self.parse(name) else {
                    continue;
                };
                if self.append_only {
                    return Err(Error::append_only(&key, "clear"));
                }
                batch.push(name.to_owned());
            }
            Ok((!batch.is_empty()).then_some(batch))
        })
        .try_filter_map(|batch| std::future::ready(Ok(batch)))
        .map_ok(|batch| self.delete_objects(batch))
        .boxed()
        .try_buffer_unordered(self.shared.concurrency.max(1))
        .try_collect::<()>()
        .await
    }

    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if self.append_only {
            return match keys.first() {
                Some(key) => Err(Error::append_only(key, "delete")),
                None => Ok(()),
            };
        }
        // Names first, so that an invalid key fails the call before anything is deleted.
        let names = keys
            .iter()
            .map(|k| self.object_name(k))
            .collect::<Result<Vec<_>>>()?;
        let batches: Vec<Vec<String>> = names
            .chunks(crate::dict::BULK_BATCH)
            .map(<[String]>::to_vec)
            .collect();
        stream::iter(batches)
            .map(|batch| self.delete_objects(batch))
            .buffer_unordered(self.shared.concurrency.max(1))
            .try_collect::<()>()
            .await
    }

    async fn subdicts(&self) -> Result<Vec<String>> {
        let dir = self.naming.dir_prefix(&self.prefix);
        let mut pages = self
            .shared
            .client
            .list_objects_v2()
            .bucket(&self.shared.bucket)
            .prefix(&dir)
            .delimiter("/")
            .into_paginator()
            .send();
        let mut names = std::collections::BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.shared.backend_error("LIST", classify(&e)))?;
            for p in page.common_prefixes() {
                let Some(full) = p.prefix() else { continue };
                let Some(signed) = full
                    .strip_prefix(dir.as_str())
                    .and_then(|s| s.strip_suffix('/'))
                else {
                    continue;
                };
                if let Some(part) = crate::key::unsign_part(signed, self.naming.digest_len()) {
                    names.insert(part);
                }
            }
        }
        Ok(names.into_iter().collect())
    }
}

/// Configures and builds an [`S3Dict`].
///
/// Credentials, region and endpoint come from the standard AWS chain (environment,
/// profiles, SSO, IMDS; `AWS_ENDPOINT_URL` is honoured) unless set here. With a custom
/// endpoint, path-style addressing and "checksums only when required" are the defaults,
/// because most S3-compatible servers need them.
#[must_use]
pub struct S3DictBuilder {
    bucket: String,
    root_prefix: String,
    region: Option<String>,
    endpoint_url: Option<String>,
    force_path_style: Option<bool>,
    checksums_when_required: Option<bool>,
    retry: Option<aws_sdk_s3::config::retry::RetryConfig>,
    timeout: Option<aws_sdk_s3::config::timeout::TimeoutConfig>,
    codec: Codec,
    digest_len: usize,
    append_only: bool,
    capabilities: Option<Capabilities>,
    racy_fallback: bool,
    create_bucket: bool,
    client: Option<Client>,
    sdk_config: Option<aws_config::SdkConfig>,
    max_value_size: u64,
    concurrency: usize,
}

impl std::fmt::Debug for S3DictBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3DictBuilder")
            .field("bucket", &self.bucket)
            .field("root_prefix", &self.root_prefix)
            .field("endpoint_url", &self.endpoint_url)
            .field("codec", &self.codec)
            .finish_non_exhaustive()
    }
}

impl S3DictBuilder {
    fn new(bucket: String) -> Self {
        S3DictBuilder {
            bucket,
            root_prefix: String::new(),
            region: None,
            endpoint_url: None,
            force_path_style: None,
            checksums_when_required: None,
            retry: None,
            timeout: None,
            codec: Codec::default(),
            digest_len: DEFAULT_DIGEST_LEN,
            append_only: false,
            capabilities: None,
            racy_fallback: false,
            create_bucket: false,
            client: None,
            sdk_config: None,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            concurrency: crate::dict::DEFAULT_CONCURRENCY,
        }
    }

    /// A builder from a URL `s3://bucket/prefix?param=value&...`. Parameters:
    /// `endpoint` (URL of an S3-compatible server), `region`, `codec`
    /// (`bincode`|`json`|`raw`|`text`), `digest_len`, `append_only` (`true`|`false`),
    /// `capabilities` (`aws`/`all` declares everything enforced, `none` declares nothing,
    /// `probe` is the default), `create_bucket`, `path_style`, `racy_fallback`,
    /// `concurrency` (requests in flight for bulk operations).
    ///
    /// ```
    /// use persidict::S3DictBuilder;
    /// let b = S3DictBuilder::from_url("s3://b/app/cache?endpoint=http://127.0.0.1:8333&codec=json")?;
    /// assert!(S3DictBuilder::from_url("s3://b?codec=yaml").is_err());
    /// # Ok::<(), persidict::Error>(())
    /// ```
    pub fn from_url(url: &str) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("URL {url:?}: {why}"));
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| bad("an S3 URL starts with s3://".into()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (bucket, prefix) = path.split_once('/').unwrap_or((path, ""));
        if bucket.is_empty() {
            return Err(bad("no bucket name".into()));
        }
        let mut b = S3DictBuilder::new(bucket.to_owned()).root_prefix(prefix);
        let flag = |name: &str, v: &str| crate::open::parse_flag(url, name, v);
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            b =
                match name {
                    "endpoint" | "endpoint_url" => b.endpoint_url(value),
                    "region" => b.region(value),
                    "codec" => b.codec(
                        value
                            .parse()
                            .map_err(|e: crate::codec::CodecError| bad(e.0))?,
                    ),
                    "digest_len" => b.digest_len(
                        value
                            .parse()
                            .map_err(|_| bad(format!("digest_len={value:?} is not a number")))?,
                    ),
                    "append_only" => b.append_only(flag(name, value)?),
                    "create_bucket" => b.create_bucket(flag(name, value)?),
                    "path_style" => b.force_path_style(flag(name, value)?),
                    "racy_fallback" => b.allow_racy_fallback(flag(name, value)?),
                    "concurrency" => {
                        b.concurrency(value.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                            bad(format!("concurrency={value:?} is not a number > 0"))
                        })?)
                    }
                    "capabilities" => match value {
                        "aws" | "all" => b.capabilities(Capabilities::ALL),
                        "none" => b.capabilities(Capabilities::NONE),
                        "probe" => b,
                        _ => {
                            return Err(bad(format!(
                                "capabilities={value:?}: use aws, all, none or probe"
                            )))
                        }
                    },
                    _ => return Err(bad(format!("unknown parameter {name:?}"))),
                };
        }
        Ok(b)
    }

    /// The prefix under which every object lives (`/`-separated; may be empty).
    pub fn root_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.root_prefix = prefix.into();
        self
    }

    /// The AWS region (default: from the environment, else `us-east-1`).
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// A custom endpoint such as `http://127.0.0.1:8333` (default: `AWS_ENDPOINT_URL`, else
    /// AWS S3).
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

    /// The SDK's retry configuration (default: standard, 3 attempts).
    pub fn retry_config(mut self, retry: aws_sdk_s3::config::retry::RetryConfig) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The SDK's timeouts.
    pub fn timeout_config(mut self, timeout: aws_sdk_s3::config::timeout::TimeoutConfig) -> Self {
        self.timeout = Some(timeout);
        self
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
    /// unconditional write instead of failing with [`Error::Unsupported`].
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

    /// How many requests bulk operations keep in flight at most: the GETs of `values`,
    /// `items` and `get_many`, the PUTs of `put_many`, the DELETEs of `discard_many`, the
    /// `DeleteObjects` batches of `delete_many` and `clear` (default
    /// [`DEFAULT_CONCURRENCY`](crate::dict::DEFAULT_CONCURRENCY); 0 counts as 1). Memory
    /// held by a streaming `values`/`items` is about this many values. The SDK's HTTP
    /// client opens up to this many connections to the endpoint.
    pub fn concurrency(mut self, requests: usize) -> Self {
        self.concurrency = requests.max(1);
        self
    }

    /// Builds the dictionary (loads the AWS configuration; no request is sent unless the
    /// bucket is to be created).
    pub async fn build<V: Value>(self) -> Result<S3Dict<V>> {
        if self.bucket.is_empty() {
            return Err(Error::Config("the bucket name is empty".into()));
        }
        let naming = Naming::new(&self.root_prefix, self.digest_len, self.codec.extension())
            .map_err(|e| Error::Config(format!("root prefix {:?}: {e}", self.root_prefix)))?;
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
        if let Some(retry) = self.retry {
            config = config.retry_config(retry);
        }
        if let Some(timeout) = self.timeout {
            config = config.timeout_config(timeout);
        }
        config = config.interceptor(CountingInterceptor(Arc::clone(&stats)));
        let client = Client::from_conf(config.build());
        let endpoint = format!(
            "{}/{}",
            endpoint_url.unwrap_or_else(|| "s3".to_owned()),
            self.bucket
        );
        let capabilities = match self.capabilities {
            Some(declared) => Arc::new(OnceCell::new_with(Some(declared))),
            None => legacy_probe::cell(&endpoint, &self.bucket),
        };
        let shared = Shared {
            client,
            bucket: self.bucket,
            endpoint,
            stats,
            capabilities,
            racy_fallback: self.racy_fallback,
            max_value_size: self.max_value_size,
            concurrency: self.concurrency,
        };
        if self.create_bucket {
            create_bucket(&shared).await?;
        }
        Ok(S3Dict {
            shared: Arc::new(shared),
            naming: Arc::new(naming),
            prefix: Vec::new(),
            codec: self.codec,
            append_only: self.append_only,
            _values: PhantomData,
        })
    }
}

async fn create_bucket(shared: &Shared) -> Result<()> {
    match shared
        .client
        .create_bucket()
        .bucket(&shared.bucket)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => {
            let code = aws_sdk_s3::error::ProvideErrorMetadata::code(&e).unwrap_or_default();
            if matches!(code, "BucketAlreadyOwnedByYou" | "BucketAlreadyExists") {
                Ok(())
            } else {
                Err(shared.backend_error("CreateBucket", classify(&e)))
            }
        }
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<S3Dict<u64>>();
};
