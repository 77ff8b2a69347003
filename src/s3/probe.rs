//! Capability probes of [`S3Store`](super::store::S3Store): which conditional requests
//! an S3 endpoint really enforces.
//!
//! Each capability is probed once per (endpoint, bucket) per process and shared by every
//! store on them; concurrent first uses wait for one probe. A capability counts as
//! supported only when the server
//! - *refused* the request whose condition does not hold (412, or 404 where that is the
//!   documented answer) *and* left the object intact, and
//! - *applied* the request whose condition holds (`If-None-Match: *` on an absent key,
//!   `If-Match: <current etag>`): a server that refuses every conditional request is
//!   judged [`ProbeVerdict::Refused`], not enforced.
//!
//! An accepted wrong-ETag request (200/204) means the header was ignored; 501 or 400 mean
//! it is not implemented.
//!
//! A probe that fails with a lasting error (403 with read-only credentials, a missing
//! bucket, a wrong region, an endpoint that is not S3) is remembered too: every later use
//! in the process gets the same error (its kind and text) without sending the probe again.
//! A failure that may pass is not remembered, and the next use probes again: a retryable
//! error ([`Error::Timeout`], a 5xx, a refused connection), missing credentials (the
//! instance metadata service may answer later) and an unreachable endpoint.
//! [`S3Store::probe_report`] probes again on demand.
//!
//! The probe runs in a task of its own, so that a caller that gives up (a dropped future,
//! an aborted task) does not leave the probe object behind: it is always removed. (The
//! abandoned probe's result is not kept; the next use probes again.) Probe
//! objects are named `<root>persidict-probe-<random>.probe`: no codec uses the `probe`
//! extension, so no dictionary ever lists them; the copy checks (`probe/copy.rs`) copy to a
//! second one, `<root>persidict-probe-<random>-copy.probe`, removed with the first. On a
//! versioned bucket a delete leaves versions and a delete marker behind, so the probe
//! then lists the versions under its own random prefix and deletes them by version id:
//! nothing of the probe remains (one `ListObjectVersions`, on every bucket, and one
//! `DeleteObjects` where it finds versions).
//!
//! [`S3Store::probe_report`]: super::store::S3Store::probe_report

mod copy;

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use tokio::sync::OnceCell;
use tracing::debug;

use super::classify::{classify, Answer};
use super::client::{new_write_id, S3Client, UnsignedBody, WRITE_ID};
use crate::cond::{ETag, Lineage};
use crate::error::{Error, Result};
use crate::store::Capabilities;

/// What a server did with a conditional request whose condition should have stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProbeVerdict {
    /// The server evaluated the condition as S3 documents it: it refused the request whose
    /// condition did not hold (412, or the documented 404) and left the object intact, and
    /// (for `delete_if_exists`) applied the one whose condition held. The capability is
    /// used.
    Enforced,
    /// The server refused the conditional request itself: it does not implement the header
    /// (501, 400), or refused a request whose condition held (moto answers 412 to
    /// `DELETE If-Match: *` on an existing object, comparing the `*` literally). Nothing is
    /// silently overwritten, but the capability cannot be used.
    Refused,
    /// The server applied the request anyway (200/204): it ignores the header, so writes
    /// conditioned on it would race silently. The capability is not used.
    Ignored,
}

impl ProbeVerdict {
    /// `enforced`, `refused` or `ignored`.
    pub fn name(self) -> &'static str {
        match self {
            ProbeVerdict::Enforced => "enforced",
            ProbeVerdict::Refused => "refused",
            ProbeVerdict::Ignored => "ignored",
        }
    }
}

impl fmt::Display for ProbeVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One probed capability: the request sent, what the server answered, and the verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeCheck {
    /// The capability, named as the field of [`Capabilities`] it decides
    /// (`put_if_absent`, `put_if_match`, `delete_if_match`, `get_if_none_match`,
    /// `delete_if_exists`, `delete_many_if_match`, `copy_if_absent`, `copy_if_match`,
    /// `copy_source_if_match`).
    pub capability: &'static str,
    /// The request sent, e.g. `PUT If-None-Match: * (object exists)`.
    pub request: &'static str,
    /// The HTTP status and S3 error code of the answer, and what became of the object,
    /// e.g. `412 PreconditionFailed, object intact`.
    pub answer: String,
    /// The verdict.
    pub verdict: ProbeVerdict,
}

/// What an S3 endpoint did with each conditional request; [`S3Store::probe_report`](super::store::S3Store::probe_report) makes
/// one. `Display` prints it as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProbeReport {
    /// The endpoint and bucket probed.
    pub endpoint: String,
    /// One check per capability, in the order of the [`Capabilities`] fields.
    pub checks: Vec<ProbeCheck>,
}

impl ProbeReport {
    /// The capabilities the report implies: those whose verdict is
    /// [`ProbeVerdict::Enforced`].
    pub fn capabilities(&self) -> Capabilities {
        let on = |name| self.verdict(name) == Some(ProbeVerdict::Enforced);
        Capabilities {
            put_if_absent: on("put_if_absent"),
            put_if_match: on("put_if_match"),
            delete_if_match: on("delete_if_match"),
            get_if_none_match: on("get_if_none_match"),
            delete_if_exists: on("delete_if_exists"),
            delete_many_if_match: on("delete_many_if_match"),
            copy_if_absent: on("copy_if_absent"),
            copy_if_match: on("copy_if_match"),
            copy_source_if_match: on("copy_source_if_match"),
        }
    }

    /// The verdict for `capability` (a [`Capabilities`] field name), if it was probed.
    pub fn verdict(&self, capability: &str) -> Option<ProbeVerdict> {
        self.checks
            .iter()
            .find(|c| c.capability == capability)
            .map(|c| c.verdict)
    }
}

impl fmt::Display for ProbeReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers = ["capability", "request sent", "answer", "verdict"];
        let rows: Vec<[&str; 4]> = self
            .checks
            .iter()
            .map(|c| [c.capability, c.request, c.answer.as_str(), c.verdict.name()])
            .collect();
        let mut widths = headers.map(str::len);
        for row in &rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.len());
            }
        }
        writeln!(f, "endpoint: {}", self.endpoint)?;
        for row in std::iter::once(&headers).chain(&rows) {
            let line = format!(
                "{:<w0$}  {:<w1$}  {:<w2$}  {}",
                row[0],
                row[1],
                row[2],
                row[3],
                w0 = widths[0],
                w1 = widths[1],
                w2 = widths[2],
            );
            writeln!(f, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

/// What the probe of one (endpoint, bucket) found: the capabilities, or the error it
/// failed with.
pub(crate) type Outcome = std::result::Result<Capabilities, ProbeFailure>;

/// The shared cell holding the probe's [`Outcome`] for one (endpoint, bucket).
pub(crate) type Cell = Arc<OnceCell<Outcome>>;

/// A probe's error, kept to be given again (the kind and the text; not the cause).
#[derive(Debug, Clone)]
pub(crate) struct ProbeFailure(Arc<Error>);

impl ProbeFailure {
    /// The remembered error, as a new [`Error`] of the same kind and text.
    pub(crate) fn error(&self) -> Error {
        match &*self.0 {
            Error::PermissionDenied {
                endpoint,
                operation,
                message,
                request_id,
            } => Error::PermissionDenied {
                endpoint: endpoint.clone(),
                operation: operation.clone(),
                message: message.clone(),
                request_id: request_id.clone(),
            },
            Error::BucketNotFound {
                bucket,
                endpoint,
                operation,
            } => Error::BucketNotFound {
                bucket: bucket.clone(),
                endpoint: endpoint.clone(),
                operation: operation.clone(),
            },
            Error::Backend {
                endpoint,
                operation,
                message,
                request_id,
                retryable,
                ..
            } => Error::Backend {
                endpoint: endpoint.clone(),
                operation: operation.clone(),
                message: format!("{message} (the capability probe failed earlier in this process)"),
                request_id: request_id.clone(),
                retryable: *retryable,
                source: None,
            },
            Error::Config(m) => Error::Config(m.clone()),
            Error::WrongRegion {
                endpoint,
                operation,
                region,
                message,
            } => Error::WrongRegion {
                endpoint: endpoint.clone(),
                operation: operation.clone(),
                region: region.clone(),
                message: message.clone(),
            },
            Error::NotS3 {
                endpoint,
                operation,
                message,
            } => Error::NotS3 {
                endpoint: endpoint.clone(),
                operation: operation.clone(),
                message: message.clone(),
            },
            other => Error::backend(
                "s3",
                "capability probe",
                format!("the capability probe failed earlier in this process: {other}"),
                false,
            ),
        }
    }
}

type Registry = Mutex<HashMap<(String, String), Cell>>;

/// The process-wide cell for one (endpoint, bucket).
pub(crate) fn cell(endpoint: &str, bucket: &str) -> Cell {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::default);
    // A panic while holding the lock cannot leave a half-made entry: safe to keep using.
    let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        map.entry((endpoint.to_owned(), bucket.to_owned()))
            .or_default(),
    )
}

/// A cell holding declared capabilities: nothing is ever probed.
pub(crate) fn declared(capabilities: Capabilities) -> Cell {
    Arc::new(OnceCell::new_with(Some(Ok(capabilities))))
}

/// The capabilities in `cell`, probing under `root` first if nobody has yet.
pub(crate) async fn capabilities(
    cell: &Cell,
    client: &S3Client,
    root: &str,
) -> Result<Capabilities> {
    // A failure that may pass is not remembered (see the module docs): the next
    // operation probes again. Any other failure is given again without a request.
    cell.get_or_try_init(|| async {
        match spawned(client.clone(), root.to_owned()).await {
            Ok(report) => Ok(Ok(report.capabilities())),
            Err(e)
                if e.is_retryable()
                    || matches!(e, Error::NoCredentials { .. } | Error::Unreachable { .. }) =>
            {
                Err(e)
            }
            Err(e) => Ok(Err(ProbeFailure(Arc::new(e)))),
        }
    })
    .await?
    .clone()
    .map_err(|failure| failure.error())
}

/// Probes now, whatever `cell` holds; seeds `cell` with the result if it is still empty.
pub(crate) async fn report(cell: &Cell, client: &S3Client, root: &str) -> Result<ProbeReport> {
    let report = spawned(client.clone(), root.to_owned()).await?;
    // A declared, earlier or concurrent result stays.
    let _ = cell.set(Ok(report.capabilities()));
    Ok(report)
}

/// Runs the probe in a task of its own and waits for it: dropping the caller does not stop
/// the task, so the probe object is removed whatever the caller does.
async fn spawned(client: S3Client, root: String) -> Result<ProbeReport> {
    let endpoint = client.endpoint.clone();
    tokio::spawn(async move { probe(&client, &root).await })
        .await
        .unwrap_or_else(|e| {
            Err(Error::backend(
                endpoint,
                "capability probe",
                format!("the probe task ended abnormally: {e}"),
                false,
            ))
        })
}

/// Probes the conditional requests against a scratch object under `root`, and removes it.
async fn probe(client: &S3Client, root: &str) -> Result<ProbeReport> {
    let key = format!("{root}persidict-probe-{:016x}.probe", fastrand::u64(..));
    let result = Probe { client, key: &key }.run().await;
    // Always remove the scratch objects, whatever happened above.
    for key in [key.clone(), copy::destination(&key)] {
        if let Err(e) = client.delete(&key).await {
            debug!(object = %key, error = %e, "probe cleanup failed");
        }
    }
    // On a versioned bucket the deletes above leave the probe's versions and delete
    // markers: remove them by version id (one ListObjectVersions, and one DeleteObjects
    // where there are any).
    super::versions::purge(client, key.trim_end_matches(".probe")).await;
    let report = ProbeReport {
        endpoint: client.endpoint.clone(),
        checks: result?,
    };
    debug!(endpoint = %client.endpoint, caps = ?report.capabilities(), "probed S3 capabilities");
    Ok(report)
}

/// The answer to a probe `DeleteObjects`: its verdict for a wrong ETag, and a description.
struct BatchSent {
    verdict: ProbeVerdict,
    described: String,
}

/// Records the HTTP status of the answer to one request.
#[derive(Debug, Clone, Default)]
struct StatusCapture(Arc<AtomicU16>);

impl Intercept for StatusCapture {
    fn name(&self) -> &'static str {
        "persidict::StoreProbeStatus"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), aws_sdk_s3::error::BoxError> {
        self.0
            .store(context.response().status().as_u16(), Ordering::Relaxed);
        Ok(())
    }
}

/// The answer to one probe request: the ETag of a successful PUT, or the classified
/// failure; and a description such as `412 PreconditionFailed`.
struct Sent {
    answer: std::result::Result<Option<ETag>, Answer>,
    described: String,
}

impl Sent {
    fn accepted(&self) -> bool {
        self.answer.is_ok()
    }
}

/// A probe request's answer; a `403` or a missing bucket ends the probe with that error.
fn sent<O, E>(
    client: &S3Client,
    operation: &str,
    capture: &StatusCapture,
    result: std::result::Result<O, SdkError<E, HttpResponse>>,
    etag: impl FnOnce(&O) -> Option<ETag>,
) -> Result<Sent>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = capture.0.load(Ordering::Relaxed);
    match result {
        Ok(out) => Ok(Sent {
            answer: Ok(etag(&out)),
            described: status.to_string(),
        }),
        Err(e) => {
            let answer = classify(&e);
            // No verdict can come of these: the probe ends with the error.
            let fatal = matches!(
                answer,
                Answer::Forbidden(_)
                    | Answer::NoSuchBucket
                    | Answer::WrongRegion(..)
                    | Answer::NotS3(_)
            ) || (e.raw_response().is_none()
                && super::classify::no_answer(&e).is_some())
                || matches!(e, SdkError::TimeoutError(_));
            if fatal {
                return Err(client.error(operation, e));
            }
            let described = match (e.raw_response(), e.code()) {
                (Some(_), Some(code)) => format!("{status} {code}"),
                (Some(_), None) => status.to_string(),
                (None, _) => format!("no answer ({})", super::classify::summary(&e)),
            };
            Ok(Sent {
                answer: Err(answer),
                described,
            })
        }
    }
}

/// Classifies the answer to a request whose precondition does not hold. `not_found_refuses`:
/// a 404 is the documented refusal of `If-Match` (the object exists, so only a server
/// comparing the ETag says it).
fn judge(sent: &Sent, not_found_refuses: bool) -> ProbeVerdict {
    match &sent.answer {
        Ok(_) => ProbeVerdict::Ignored,
        Err(Answer::PreconditionFailed) => ProbeVerdict::Enforced,
        Err(Answer::NotFound) if not_found_refuses => ProbeVerdict::Enforced,
        Err(_) => ProbeVerdict::Refused,
    }
}

/// An enforced refusal is no use when the request whose condition holds is refused too.
fn with_success(verdict: ProbeVerdict, applied: bool) -> ProbeVerdict {
    match verdict {
        ProbeVerdict::Enforced if !applied => ProbeVerdict::Refused,
        other => other,
    }
}

struct Probe<'a> {
    client: &'a S3Client,
    key: &'a str,
}

impl Probe<'_> {
    fn put(
        &self,
        body: &'static [u8],
    ) -> aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder {
        self.client
            .sdk
            .put_object()
            .bucket(&self.client.bucket)
            .key(self.key)
            .metadata(WRITE_ID, new_write_id())
            .body(ByteStream::from_static(body))
    }

    async fn send_put(
        &self,
        request: aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder,
    ) -> Result<Sent> {
        let capture = StatusCapture::default();
        let result = request
            .customize()
            .interceptor(capture.clone())
            .signed_if(self.client.sign_payload)
            .send()
            .await;
        sent(self.client, "PUT", &capture, result, |o| {
            o.e_tag().map(ETag::new)
        })
    }

    async fn send_delete(&self, if_match: &str) -> Result<Sent> {
        let capture = StatusCapture::default();
        let result = self
            .client
            .sdk
            .delete_object()
            .bucket(&self.client.bucket)
            .key(self.key)
            .if_match(if_match)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        sent(self.client, "DELETE", &capture, result, |_| None)
    }

    async fn current(&self) -> Result<Option<ETag>> {
        Ok(self.client.head(self.key).await?.map(|h| h.etag))
    }

    /// A plain PUT that makes sure the object exists; its ETag.
    async fn recreate(&self, body: &'static [u8]) -> Result<ETag> {
        self.client
            .put(
                self.key,
                &Bytes::from_static(body),
                "application/octet-stream",
                &Lineage::new(&new_write_id(), None),
            )
            .await
    }

    /// Checks that a refused request left the object as it was; a "refusal" that changed
    /// the object is no refusal. Updates `etag` to the object's current ETag, and says what
    /// became of the object.
    async fn intact(
        &self,
        etag: &mut ETag,
        verdict: ProbeVerdict,
    ) -> Result<(ProbeVerdict, &'static str)> {
        let now = self.current().await?;
        let fate = match &now {
            None => "object deleted",
            Some(e) if e == etag => "object intact",
            Some(_) => "object overwritten",
        };
        let intact = now.as_ref() == Some(&*etag);
        match now {
            Some(e) => *etag = e,
            None => *etag = self.recreate(b"probe-again").await?,
        }
        Ok(if verdict == ProbeVerdict::Enforced && !intact {
            (ProbeVerdict::Ignored, fate)
        } else {
            (verdict, fate)
        })
    }

    async fn run(&self) -> Result<Vec<ProbeCheck>> {
        let mut checks = Vec::with_capacity(6);
        let wrong = "\"00000000000000000000000000000000\"";

        // 1. Insert-if-absent: applied on the absent key, refused once it exists.
        let create = self
            .send_put(self.put(b"probe-1").if_none_match("*"))
            .await?;
        let mut etag = match &create.answer {
            Ok(Some(e)) => e.clone(),
            _ => self.recreate(b"probe-1").await?,
        };
        let again = self
            .send_put(self.put(b"probe-1x").if_none_match("*"))
            .await?;
        let (verdict, fate) = self.intact(&mut etag, judge(&again, false)).await?;
        checks.push(ProbeCheck {
            capability: "put_if_absent",
            request: "PUT If-None-Match: * (absent, then exists)",
            answer: format!("{}; then {}, {fate}", create.described, again.described),
            verdict: with_success(verdict, create.accepted()),
        });

        // 2. Compare-and-swap: refused with a wrong ETag, applied with the current one.
        let wrong_put = self.send_put(self.put(b"probe-2x").if_match(wrong)).await?;
        let (verdict, fate) = self.intact(&mut etag, judge(&wrong_put, true)).await?;
        let right_put = self
            .send_put(self.put(b"probe-2").if_match(etag.as_str()))
            .await?;
        let applied = match &right_put.answer {
            Ok(Some(e)) => {
                let changed = *e != etag;
                etag = e.clone();
                changed
            }
            _ => false,
        };
        checks.push(ProbeCheck {
            capability: "put_if_match",
            request: "PUT If-Match: <wrong etag>, then <current etag>",
            answer: format!(
                "{}, {fate}; then {}",
                wrong_put.described, right_put.described
            ),
            verdict: with_success(verdict, applied),
        });

        // 3. Compare-and-delete: the object must survive a wrong ETag and go with the
        //    current one.
        let wrong_delete = self.send_delete(wrong).await?;
        let (verdict, fate) = self.intact(&mut etag, judge(&wrong_delete, true)).await?;
        let right_delete = self.send_delete(etag.as_str()).await?;
        let gone = right_delete.accepted() && self.current().await?.is_none();
        etag = self.recreate(b"probe-3").await?;
        checks.push(ProbeCheck {
            capability: "delete_if_match",
            request: "DELETE If-Match: <wrong etag>, then <current etag>",
            answer: format!(
                "{}, {fate}; then {}, object {}",
                wrong_delete.described,
                right_delete.described,
                if gone { "deleted" } else { "kept" }
            ),
            verdict: with_success(verdict, gone),
        });

        // 4. Revalidating read with the current ETag.
        let capture = StatusCapture::default();
        let result = self
            .client
            .sdk
            .get_object()
            .bucket(&self.client.bucket)
            .key(self.key)
            .if_none_match(etag.as_str())
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        let read = sent(self.client, "GET", &capture, result, |_| None)?;
        let verdict = match read.answer {
            Err(Answer::NotModified) => ProbeVerdict::Enforced,
            Ok(_) => ProbeVerdict::Ignored,
            Err(_) => ProbeVerdict::Refused,
        };
        checks.push(ProbeCheck {
            capability: "get_if_none_match",
            request: "GET If-None-Match: <current etag>",
            answer: read.described,
            verdict,
        });

        // 5. Delete-if-exists: `If-Match: *` must delete an existing object (moto compares
        //    the asterisk literally and answers 412) and be refused for an absent one.
        let existing = self.send_delete("*").await?;
        let deleted = self.current().await?.is_none();
        let absent = self.send_delete("*").await?;
        let refused_absent = judge(&absent, true) == ProbeVerdict::Enforced;
        let verdict = match (existing.accepted(), deleted) {
            (true, true) if refused_absent => ProbeVerdict::Enforced,
            (true, true) => ProbeVerdict::Ignored,
            // Accepted but the object survived, or refused outright: unusable either way.
            _ => ProbeVerdict::Refused,
        };
        checks.push(ProbeCheck {
            capability: "delete_if_exists",
            request: "DELETE If-Match: * (exists, then absent)",
            answer: format!(
                "{}, object {}; then {}",
                existing.described,
                if deleted { "deleted" } else { "kept" },
                absent.described
            ),
            verdict,
        });

        // 6. Batch compare-and-delete: `DeleteObjects` must keep the object when its
        //    `ETag` element is wrong and delete it when it is current.
        let mut etag = self.recreate(b"probe-6").await?;
        let wrong_batch = self.send_delete_objects(wrong).await?;
        let (verdict, fate) = self.intact(&mut etag, wrong_batch.verdict).await?;
        let right_batch = self.send_delete_objects(etag.as_str()).await?;
        // With the current ETag, "ignored" is what success looks like: reported deleted.
        let reported_deleted = right_batch.verdict == ProbeVerdict::Ignored;
        let gone = reported_deleted && self.current().await?.is_none();
        checks.push(ProbeCheck {
            capability: "delete_many_if_match",
            request: "DeleteObjects <key, wrong etag>, then <key, current etag>",
            answer: format!(
                "{}, {fate}; then {}, object {}",
                wrong_batch.described,
                right_batch.described,
                if gone { "deleted" } else { "kept" }
            ),
            verdict: with_success(verdict, gone),
        });
        checks.extend(self.copy_checks().await?);
        Ok(checks)
    }

    /// A `DeleteObjects` of the probe object with an `ETag` element. Its verdict, as for a
    /// wrong ETag: the object reported refused (`PreconditionFailed`) is `Enforced`,
    /// reported deleted is `Ignored`, and a failed request (a server that cannot parse the
    /// element) or another per-object error is `Refused`.
    async fn send_delete_objects(&self, etag: &str) -> Result<BatchSent> {
        let capture = StatusCapture::default();
        let etag = ETag::new(etag);
        let delete = self
            .client
            .delete_request_body(std::iter::once((self.key, Some(&etag))), false)?;
        let result = self
            .client
            .sdk
            .delete_objects()
            .bucket(&self.client.bucket)
            .delete(delete)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        // What the answer said of the object: refused, deleted, or another error.
        let mut reported = None;
        let sent = sent(self.client, "DeleteObjects", &capture, result, |out| {
            reported = Some(match (out.errors().first(), out.deleted().is_empty()) {
                (Some(e), _) if e.code() == Some("PreconditionFailed") => (
                    ProbeVerdict::Enforced,
                    "object refused (PreconditionFailed)".to_owned(),
                ),
                (Some(e), _) => (
                    ProbeVerdict::Refused,
                    format!("object failed ({})", e.code().unwrap_or("no code")),
                ),
                (None, false) => (ProbeVerdict::Ignored, "object reported deleted".to_owned()),
                (None, true) => (ProbeVerdict::Refused, "object not reported".to_owned()),
            });
            None
        })?;
        Ok(match reported {
            Some((verdict, what)) => BatchSent {
                verdict,
                described: format!("{} {what}", sent.described),
            },
            None => BatchSent {
                verdict: ProbeVerdict::Refused,
                described: sent.described,
            },
        })
    }
}
