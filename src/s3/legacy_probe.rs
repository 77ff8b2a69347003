//! Capability probes: which conditional requests an S3 endpoint really enforces.
//!
//! Each capability is probed once per (endpoint, bucket) per process and shared by every
//! dictionary on them; concurrent first uses wait for one probe. A capability counts as
//! supported only when the server *refused* the request with the wrong ETag (412, or 404
//! where that is the documented answer) *and* left the object intact. An accepted request
//! (200/204) means the header was ignored; 501 or 400 mean it is not implemented.
//!
//! [`S3Dict::probe_report`] runs the same probe on demand and reports, for each capability,
//! the request sent, the server's answer and the [`ProbeVerdict`].
//!
//! Probe objects are named `<root>/persidict-probe-<random>.probe`: no codec uses the
//! `probe` extension, so no dictionary ever lists them, and they are always removed.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::OnceCell;
use tracing::debug;

use super::classify::{classify, Answer};
use super::{S3Dict, Shared};
use crate::dict::{Capabilities, Value};
use crate::error::Result;

type Registry = Mutex<HashMap<(String, String), Arc<OnceCell<Capabilities>>>>;

/// The process-wide cell for one (endpoint, bucket).
pub(crate) fn cell(endpoint: &str, bucket: &str) -> Arc<OnceCell<Capabilities>> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::default);
    let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        map.entry((endpoint.to_owned(), bucket.to_owned()))
            .or_default(),
    )
}

pub use super::probe::{ProbeCheck, ProbeVerdict};

/// What an S3 endpoint did with each conditional request; [`S3Dict::probe_report`] makes
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

impl<V: Value> S3Dict<V> {
    /// Probes the endpoint now and reports, for each capability, the request sent, the
    /// server's answer and the verdict; see [`ProbeReport`].
    ///
    /// This always sends the probe requests (about 12 small requests on a scratch object
    /// under the root prefix, removed afterwards), even when the capabilities were
    /// declared or already probed: its point is to measure the server. It does not change
    /// the capabilities the dictionary uses, except that a dictionary that had not probed
    /// yet keeps this result instead of probing again.
    ///
    /// # Errors
    /// A typed error when the scratch object cannot be written or read back (permissions,
    /// missing bucket, network).
    pub async fn probe_report(&self) -> Result<ProbeReport> {
        let report = probe(&self.shared, self.root()).await?;
        // Seeds the shared cell when it is empty; a declared or earlier result stays.
        let _ = self.shared.capabilities.set(report.capabilities());
        Ok(report)
    }
}

/// Probes the conditional requests against a scratch object under `root`.
pub(crate) async fn probe(shared: &Shared, root: &str) -> Result<ProbeReport> {
    let name = format!("{root}persidict-probe-{:016x}.probe", fastrand::u64(..));
    let result = run(shared, &name).await;
    // Always remove the scratch object, whatever happened above.
    let cleanup = shared
        .client
        .delete_object()
        .bucket(&shared.bucket)
        .key(&name)
        .send()
        .await;
    if let Err(e) = cleanup {
        debug!(object = %name, error = ?classify(&e), "probe cleanup failed");
    }
    let checks = result?;
    let report = ProbeReport {
        endpoint: shared.endpoint.clone(),
        checks,
    };
    debug!(endpoint = %shared.endpoint, caps = ?report.capabilities(), "probed S3 capabilities");
    Ok(report)
}

/// Records the HTTP status of the answer to one request.
#[derive(Debug, Clone, Default)]
struct StatusCapture(Arc<AtomicU16>);

impl Intercept for StatusCapture {
    fn name(&self) -> &'static str {
        "persidict::ProbeStatus"
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        self.0
            .store(context.response().status().as_u16(), Ordering::Relaxed);
        Ok(())
    }
}

impl StatusCapture {
    fn status(&self) -> u16 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The answer to one probe request: its classification and a description such as
/// `412 PreconditionFailed`.
struct Sent {
    answer: std::result::Result<(), Answer>,
    described: String,
}

fn sent<O, E>(
    capture: &StatusCapture,
    result: std::result::Result<O, SdkError<E, aws_sdk_s3::config::http::HttpResponse>>,
) -> Sent
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match result {
        Ok(_) => Sent {
            answer: Ok(()),
            described: capture.status().to_string(),
        },
        Err(e) => {
            let answer = classify(&e);
            let status = e
                .raw_response()
                .map(|r| r.status().as_u16())
                .unwrap_or_else(|| capture.status());
            let code = e.code().unwrap_or_default();
            let described = match (status, code) {
                (0, _) => format!("no answer ({answer:?})"),
                (s, "") => s.to_string(),
                (s, c) => format!("{s} {c}"),
            };
            Sent {
                answer: Err(answer),
                described,
            }
        }
    }
}

async fn run(shared: &Shared, name: &str) -> Result<Vec<ProbeCheck>> {
    let c = &shared.client;
    let b = &shared.bucket;
    let wrong = "\"00000000000000000000000000000000\"";
    let mut etag = shared.probe_put(name, b"probe-0").await?;
    let mut checks = Vec::with_capacity(5);

    // 1. Insert-if-absent on an existing object.
    let capture = StatusCapture::default();
    let answer = c
        .put_object()
        .bucket(b)
        .key(name)
        .if_none_match("*")
        .body(ByteStream::from_static(b"probe-1"))
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let answer = sent(&capture, answer);
    let (verdict, fate) = shared
        .intact(name, &mut etag, judge(&answer.answer, false))
        .await?;
    checks.push(ProbeCheck {
        capability: "put_if_absent",
        request: "PUT If-None-Match: * (object exists)",
        answer: format!("{}, {fate}", answer.described),
        verdict,
    });

    // 2. Compare-and-swap with a wrong ETag.
    let capture = StatusCapture::default();
    let answer = c
        .put_object()
        .bucket(b)
        .key(name)
        .if_match(wrong)
        .body(ByteStream::from_static(b"probe-2"))
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let answer = sent(&capture, answer);
    let (verdict, fate) = shared
        .intact(name, &mut etag, judge(&answer.answer, true))
        .await?;
    checks.push(ProbeCheck {
        capability: "put_if_match",
        request: "PUT If-Match: <wrong etag>",
        answer: format!("{}, {fate}", answer.described),
        verdict,
    });

    // 3. Compare-and-delete with a wrong ETag: the object must survive.
    let capture = StatusCapture::default();
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match(wrong)
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let answer = sent(&capture, answer);
    let (verdict, fate) = shared
        .intact(name, &mut etag, judge(&answer.answer, true))
        .await?;
    checks.push(ProbeCheck {
        capability: "delete_if_match",
        request: "DELETE If-Match: <wrong etag>",
        answer: format!("{}, {fate}", answer.described),
        verdict,
    });
    if verdict != ProbeVerdict::Enforced {
        // The object may be gone: put it back for the next probes.
        etag = shared.probe_put(name, b"probe-3").await?;
    }

    // 4. Revalidating read with the current ETag.
    let capture = StatusCapture::default();
    let answer = c
        .get_object()
        .bucket(b)
        .key(name)
        .if_none_match(etag.as_str())
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let answer = sent(&capture, answer);
    let verdict = match answer.answer {
        Err(Answer::NotModified) => ProbeVerdict::Enforced,
        Ok(()) => ProbeVerdict::Ignored,
        Err(_) => ProbeVerdict::Refused,
    };
    checks.push(ProbeCheck {
        capability: "get_if_none_match",
        request: "GET If-None-Match: <current etag>",
        answer: answer.described,
        verdict,
    });

    // 5. Delete-if-exists: `If-Match: *` must delete an existing object (moto compares the
    //    asterisk literally and refuses) and be refused for an absent one.
    let capture = StatusCapture::default();
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match("*")
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let existing = sent(&capture, answer);
    let deleted = shared.probe_head(name).await?.is_none();
    let capture = StatusCapture::default();
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match("*")
        .customize()
        .interceptor(capture.clone())
        .send()
        .await;
    let absent = sent(&capture, answer);
    let refused_absent = judge(&absent.answer, true) == ProbeVerdict::Enforced;
    let verdict = match (&existing.answer, deleted) {
        (Ok(()), true) if refused_absent => ProbeVerdict::Enforced,
        (Ok(()), true) => ProbeVerdict::Ignored,
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
    Ok(checks)
}

/// Classifies the answer to a request with a wrong precondition. `not_found_refuses`: a 404
/// is the documented refusal of `If-Match` (the object exists, so only a server comparing
/// the ETag says it).
fn judge(answer: &std::result::Result<(), Answer>, not_found_refuses: bool) -> ProbeVerdict {
    match answer {
        Ok(()) => ProbeVerdict::Ignored,
        Err(Answer::PreconditionFailed) => ProbeVerdict::Enforced,
        Err(Answer::NotFound) if not_found_refuses => ProbeVerdict::Enforced,
        Err(_) => ProbeVerdict::Refused,
    }
}

impl Shared {
    /// Checks that a refused request left the object as it was; a "refusal" that changed
    /// the object is no refusal. Updates `etag` to the object's current ETag, and says what
    /// became of the object.
    async fn intact(
        &self,
        name: &str,
        etag: &mut crate::ETag,
        verdict: ProbeVerdict,
    ) -> Result<(ProbeVerdict, &'static str)> {
        let now = self.probe_head(name).await?;
        let fate = match &now {
            None => "object deleted",
            Some(e) if e == etag => "object intact",
            Some(_) => "object overwritten",
        };
        let intact = now.as_ref() == Some(&*etag);
        if let Some(e) = now {
            *etag = e;
        }
        Ok(if verdict == ProbeVerdict::Enforced && !intact {
            (ProbeVerdict::Ignored, fate)
        } else {
            (verdict, fate)
        })
    }
}
