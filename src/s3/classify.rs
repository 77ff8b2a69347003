//! Every S3 answer is classified here, and only here.
//!
//! | answer | [`Answer`] |
//! |---|---|
//! | 404 `NoSuchKey` / `NotFound` | `NotFound` (also: `If-Match` on an absent key on AWS and moto) |
//! | 412 `PreconditionFailed` | `PreconditionFailed` (SeaweedFS also answers this to `If-Match` on an absent key) |
//! | 304 on GET/HEAD | `NotModified` |
//! | 409 `ConditionalRequestConflict` / `OperationAborted` | `Conflict`: a concurrent conditional write; retry |
//! | 501 `NotImplemented`, 400 on a conditional header | `NotImplemented` / `BadRequest`: a capability is missing |
//! | 403 | `Forbidden` |
//! | 404 `NoSuchBucket` | `NoSuchBucket` (a HEAD answer has no body, so a HEAD cannot tell it from a missing key) |
//! | 301 (`PermanentRedirect`), 400 `AuthorizationHeaderMalformed` | `WrongRegion`, with the region from `x-amz-bucket-region`, the body's `<Region>` or the message's "expecting 'r'" |
//! | a status under 500 with `Content-Type: text/html` and an HTML page for a body | `NotS3`: a web server, not an S3 server (checked first: an HTML 404 is no missing key; a 5xx HTML page is a gateway's, classified by its status) |
//! | anything else (5xx after the SDK's retries, timeouts, I/O) | `Other` |
//!
//! [`transient`] says, for the conditional writes whose retries this crate runs itself,
//! whether a failed attempt is worth retrying and whether the server may have applied it:
//!
//! | failure | retry? | may the server have applied it? |
//! |---|---|---|
//! | 503 `SlowDown`, 429, throttling codes | yes | no: the request was refused before it ran |
//! | 503 without a throttling code | yes | unknown (a gateway may have passed it on) |
//! | connection refused | yes | no: nothing reached the server |
//! | 500 `InternalError`, 502, 504 | yes | unknown |
//! | timeout, reset or closed connection, unreadable answer | yes | unknown |
//! | a region error or redirect, an answer that is not S3's, missing credentials, DNS or TLS failure | no | no |
//! | anything else | no | - |
//!
//! [`to_error`] turns a failed call into the crate's [`Error`], keeping the SDK's error as
//! the cause and the S3 request id (`x-amz-request-id`) where the answer carried one:
//!
//! | answer | [`Error`] |
//! |---|---|
//! | no answer: an attempt, connect or stalled-transfer timeout | `Timeout` |
//! | no answer: the credentials chain found nothing | `NoCredentials` |
//! | no answer: DNS failure, connection refused, TLS failure | `Unreachable` |
//! | 403 `InvalidAccessKeyId` / `SignatureDoesNotMatch` | `PermissionDenied` saying the credentials were rejected |
//! | other 403 | `PermissionDenied` |
//! | 404 `NoSuchBucket` | `BucketNotFound` |
//! | `WrongRegion` | `WrongRegion` |
//! | `NotS3` | `NotS3` |
//! | anything else | `Backend`, retryable for network failures, 5xx and throttling |
//!
//! `501` and `400` on a conditional header become `Unsupported` where the request is sent
//! (only the caller knows which capability the header stands for).

use std::time::Duration;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId;

use crate::error::Error;

/// How long the SDK's stalled-stream protection lets a transfer run under its minimum
/// throughput (1 byte/s) before failing it: its default, which this crate keeps.
pub(crate) const STALL_GRACE: Duration = Duration::from_secs(5);

/// The time bounds a failed call ran under, for [`Error::Timeout`]'s `after`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Bounds {
    /// The connect timeout, if any.
    pub(crate) connect: Option<Duration>,
    /// The per-attempt timeout of this request, if any.
    pub(crate) attempt: Option<Duration>,
}

/// What an S3 error answer means to this crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    NotFound,
    PreconditionFailed,
    NotModified,
    Conflict,
    NotImplemented(String),
    BadRequest(String),
    Forbidden(String),
    NoSuchBucket,
    /// The bucket is in another region (the region, where the answer named it).
    WrongRegion(Option<String>, String),
    /// The answer is not an S3 server's (an HTML page).
    NotS3(String),
    Other(String),
}

/// Classifies a failed SDK call by its HTTP status and S3 error code.
pub(crate) fn classify<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let Some(raw) = err.raw_response() else {
        // No HTTP answer at all: construction, dispatch or timeout failures.
        return Answer::Other(summary(err));
    };
    let status = raw.status().as_u16();
    let code = err.code().unwrap_or_default();
    let described = || {
        let message = err.message().unwrap_or_default();
        if code.is_empty() && message.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status} {code}: {message}")
        }
    };
    // moto labels its body-less HEAD answers text/html: a body at hand must be a page too
    // (one already consumed, by a failed read, is judged by its type alone).
    let html = raw
        .headers()
        .get("content-type")
        .is_some_and(|t| t.trim_start().to_ascii_lowercase().starts_with("text/html"))
        && raw.body().bytes().is_none_or(|b| {
            let start = String::from_utf8_lossy(&b[..b.len().min(256)]).to_ascii_lowercase();
            let start = start.trim_start();
            start.starts_with("<!doctype html") || start.starts_with("<html")
        });
    if html && status < 500 {
        // No S3 server answers HTML; a web server's 404 page is no missing key. (A 5xx
        // HTML page comes from a gateway in front of a server: transient, see below.)
        return Answer::NotS3(format!("it answered HTTP {status} with an HTML page"));
    }
    match (status, code) {
        (301, _) | (400, "AuthorizationHeaderMalformed") => {
            Answer::WrongRegion(region_of(err), described())
        }
        (404, "NoSuchBucket") => Answer::NoSuchBucket,
        (404, _) => Answer::NotFound,
        (412, _) => Answer::PreconditionFailed,
        (304, _) => Answer::NotModified,
        (409, "ConditionalRequestConflict" | "OperationAborted") => Answer::Conflict,
        (501, _) => Answer::NotImplemented(described()),
        // A CopyObject of a source over 5 GiB: no bad request but a size limit (the copy
        // goes in parts), so not taken for an unimplemented precondition.
        (400, "InvalidRequest")
            if err.message().is_some_and(|m| {
                m.contains("copy source is larger than the maximum allowable size")
            }) =>
        {
            Answer::Other(described())
        }
        (400, _) => Answer::BadRequest(described()),
        (403, _) => Answer::Forbidden(described()),
        _ => Answer::Other(described()),
    }
}

/// The region a redirect or a region error names: the `x-amz-bucket-region` header, the
/// body's `<Region>`, the message's "expecting 'r'", or the body's `<Endpoint>` of the form
/// `bucket.s3.<region>.amazonaws.com`.
fn region_of<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<String>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let raw = err.raw_response()?;
    let plausible = |r: &str| {
        let r = r.trim();
        (!r.is_empty() && r.len() <= 64 && r.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            .then(|| r.to_owned())
    };
    if let Some(r) = raw.headers().get("x-amz-bucket-region").and_then(plausible) {
        return Some(r);
    }
    let body = raw
        .body()
        .bytes()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = body.find(&open)? + open.len();
        let len = body[start..].find('<')?;
        Some(body[start..start + len].to_owned())
    };
    if let Some(r) = element("Region").as_deref().and_then(plausible) {
        return Some(r);
    }
    let message = err.message().unwrap_or_default();
    if let Some(rest) = message.split("expecting '").nth(1) {
        if let Some(r) = rest.split('\'').next().and_then(plausible) {
            return Some(r);
        }
    }
    let endpoint = element("Endpoint")?;
    let host = endpoint.trim().trim_end_matches(".amazonaws.com");
    let (_, region) = host
        .rsplit_once(".s3.")
        .or_else(|| host.rsplit_once(".s3-"))?;
    plausible(region)
}

/// Why a call got no answer, where this crate has a typed error for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoAnswer {
    /// An attempt got no answer within the attempt (or operation) timeout.
    AttemptTimeout,
    /// No connection within the connect timeout.
    ConnectTimeout,
    /// The transfer fell under the minimum throughput (stalled-stream protection).
    Stalled,
    /// The credentials chain found no credentials.
    NoCredentials,
    /// The host name does not resolve.
    Dns,
    /// The connection was refused.
    Refused,
    /// The TLS handshake failed.
    Tls,
}

/// Why a call got no answer (a timeout, missing credentials, an unreachable endpoint), or
/// `None` when it got one or failed otherwise.
pub(crate) fn no_answer(err: &(dyn std::error::Error + 'static)) -> Option<NoAnswer> {
    let mut texts = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if e.downcast_ref::<aws_credential_types::provider::error::CredentialsError>()
            .is_some()
        {
            return Some(NoAnswer::NoCredentials);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return Some(NoAnswer::Refused);
            }
        }
        texts.push(e.to_string().to_ascii_lowercase());
        cur = e.source();
    }
    let any = |needles: &[&str]| texts.iter().any(|t| needles.iter().any(|n| t.contains(n)));
    // The texts of hyper-util's resolver and rustls, and of the SDK's throughput check.
    if any(&["minimum throughput"]) {
        Some(NoAnswer::Stalled)
    } else if any(&[
        "dns error",
        "failed to lookup address",
        "name or service not known",
    ]) {
        Some(NoAnswer::Dns)
    } else if any(&["certificate", "tls", "corrupt message", "handshake"]) {
        Some(NoAnswer::Tls)
    } else {
        None
    }
}

/// [`no_answer`] for a failed SDK call: also the SDK's own timeout kinds.
fn sdk_no_answer<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Option<NoAnswer>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if err.raw_response().is_some() {
        return None;
    }
    let found = no_answer(err);
    match err {
        SdkError::TimeoutError(_) => Some(found.unwrap_or(NoAnswer::AttemptTimeout)),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            Some(found.unwrap_or(NoAnswer::ConnectTimeout))
        }
        _ => found,
    }
}

/// The fate of a failed attempt that is worth retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// The server did not apply the request (throttled, or never reached).
    NotApplied,
    /// The server may or may not have applied the request: its answer was lost.
    Unknown,
}

/// Whether a failed attempt is transient (worth retrying) and, if so, its [`Fate`]; `None`
/// for a definitive answer.
pub(crate) fn transient<E>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<Fate>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if matches!(
        sdk_no_answer(err),
        Some(NoAnswer::NoCredentials | NoAnswer::Dns | NoAnswer::Tls)
    ) {
        // Nothing was sent, and sending again cannot help.
        return None;
    }
    if matches!(classify(err), Answer::NotS3(_) | Answer::WrongRegion(..)) {
        // A definitive answer, even where the SDK could not parse it.
        return None;
    }
    match err {
        SdkError::ConstructionFailure(_) => None,
        SdkError::TimeoutError(_) | SdkError::ResponseError(_) => Some(Fate::Unknown),
        SdkError::DispatchFailure(d) if d.is_user() => None,
        SdkError::DispatchFailure(_) if connection_refused(err) => Some(Fate::NotApplied),
        SdkError::DispatchFailure(_) => Some(Fate::Unknown),
        _ => {
            let status = err.raw_response().map(|r| r.status().as_u16());
            let code = err.code().unwrap_or_default();
            match (status, code) {
                (
                    _,
                    "SlowDown"
                    | "Throttling"
                    | "ThrottlingException"
                    | "RequestLimitExceeded"
                    | "TooManyRequests"
                    | "RequestThrottled",
                )
                | (Some(429), _) => Some(Fate::NotApplied),
                // A 503 without a throttling code may come from a gateway after the request
                // was passed on: unknown.
                (_, "InternalError") | (Some(500 | 502 | 503 | 504), _) => Some(Fate::Unknown),
                _ => None,
            }
        }
    }
}

/// Whether the error chain holds an I/O "connection refused": the request never left.
fn connection_refused(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

/// The S3 request id (`x-amz-request-id`) of a failed call, where an answer carried one.
pub(crate) fn request_id<E>(
    err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Option<String> {
    RequestId::request_id(err)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// A one-line summary of a failed call, for messages: `HTTP 503 SlowDown: ...` for an
/// answer, the chain of causes (without the SDK's debug dump) for a request that got none.
pub(crate) fn summary<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(raw) = err.raw_response() {
        let status = raw.status().as_u16();
        let code = err.code().unwrap_or_default();
        let message = err.message().unwrap_or_default();
        return match (code.is_empty(), message.is_empty()) {
            (true, true) => format!("HTTP {status}"),
            (false, true) => format!("HTTP {status} {code}"),
            _ => format!("HTTP {status} {code}: {message}"),
        };
    }
    let kind = match err {
        SdkError::TimeoutError(_) => "timed out",
        SdkError::DispatchFailure(_) => "the request could not be sent",
        SdkError::ResponseError(_) => "the answer could not be read",
        SdkError::ConstructionFailure(_) => "the request could not be built",
        _ => "failed",
    };
    let causes = causes(err);
    if causes.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {causes}")
    }
}

/// The `Display` texts of an error's sources, joined with `: `, each once, on one line.
fn causes(err: &(dyn std::error::Error + 'static)) -> String {
    let mut seen: Vec<String> = Vec::new();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e.to_string().replace('\n', " ");
        // Wrappers often repeat their source's text, or say only "dispatch failure".
        if !text.is_empty() && !seen.iter().any(|s| s.contains(&text)) {
            seen.push(text);
        }
        cur = e.source();
    }
    seen.join(": ")
}

/// Whether a failed call is worth repeating later: network failures, 5xx, throttling,
/// timeouts.
pub(crate) fn retryable<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> bool
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    transient(err).is_some()
}

/// The crate's error for a failed call of `operation` on `bucket` at `endpoint` (the
/// label `<endpoint url>/<bucket>`), keeping the SDK error as the cause. `bounds` are the
/// time limits the call ran under, for a timeout's message.
pub(crate) fn to_error<E>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    endpoint: &str,
    bucket: &str,
    operation: &str,
    bounds: Bounds,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let Some(why) = sdk_no_answer(&err) {
        return no_answer_error(why, endpoint, operation, bounds, Box::new(err));
    }
    let request_id = request_id(&err);
    match classify(&err) {
        Answer::Forbidden(_) => {
            let code = err.code().unwrap_or_default();
            let message = if matches!(code, "InvalidAccessKeyId" | "SignatureDoesNotMatch") {
                format!(
                    "the credentials were rejected ({}): check the access key id and secret key",
                    summary(&err)
                )
            } else {
                summary(&err)
            };
            Error::PermissionDenied {
                endpoint: endpoint.to_owned(),
                operation: operation.to_owned(),
                message,
                request_id,
            }
        }
        Answer::NoSuchBucket => Error::BucketNotFound {
            bucket: bucket.to_owned(),
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
        },
        Answer::WrongRegion(region, message) => Error::WrongRegion {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            region,
            message,
        },
        Answer::NotS3(message) => Error::NotS3 {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            message,
        },
        _ => Error::Backend {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            message: summary(&err),
            request_id,
            retryable: retryable(&err),
            source: Some(Box::new(err)),
        },
    }
}

/// The crate's error for a call that got no answer for reason `why`.
pub(crate) fn no_answer_error(
    why: NoAnswer,
    endpoint: &str,
    operation: &str,
    bounds: Bounds,
    source: crate::error::BoxError,
) -> Error {
    let timeout = |what: &'static str, after: Option<Duration>, source| Error::Timeout {
        endpoint: endpoint.to_owned(),
        operation: operation.to_owned(),
        what,
        after: after.unwrap_or_default(),
        source: Some(source),
    };
    let unreachable =
        |reason: &str, retryable: bool, source: crate::error::BoxError| Error::Unreachable {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            reason: reason.to_owned(),
            retryable,
            source: Some(source),
        };
    match why {
        NoAnswer::AttemptTimeout => timeout("no answer", bounds.attempt, source),
        NoAnswer::ConnectTimeout => timeout("no connection", bounds.connect, source),
        NoAnswer::Stalled => timeout("the transfer stalled", Some(STALL_GRACE), source),
        NoAnswer::NoCredentials => Error::NoCredentials {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            source: Some(source),
        },
        NoAnswer::Dns => unreachable("the host name does not resolve", false, source),
        NoAnswer::Refused => unreachable("connection refused", true, source),
        NoAnswer::Tls => unreachable("the TLS handshake failed", false, source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a source, as the connectors wrap their causes.
    #[derive(Debug)]
    struct Wrapped(&'static str, Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.1.as_ref())
        }
    }

    fn wrapped(
        outer: &'static str,
        inner: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Wrapped {
        Wrapped(outer, inner.into())
    }

    #[test]
    fn causes_without_an_answer_are_recognised_anywhere_in_the_chain() {
        let refused = wrapped(
            "client error (Connect)",
            std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        );
        assert_eq!(no_answer(&refused), Some(NoAnswer::Refused));
        let dns = wrapped(
            "client error (Connect)",
            "dns error: failed to lookup address information: Name or service not known",
        );
        assert_eq!(no_answer(&dns), Some(NoAnswer::Dns));
        let tls = wrapped(
            "io error",
            "received corrupt message of type InvalidContentType",
        );
        assert_eq!(no_answer(&tls), Some(NoAnswer::Tls));
        let stalled = wrapped(
            "streaming error",
            "minimum throughput was specified at 1 B/s, but throughput of 0 B/s was observed",
        );
        assert_eq!(no_answer(&stalled), Some(NoAnswer::Stalled));
        let creds = wrapped(
            "dispatch failure",
            aws_credential_types::provider::error::CredentialsError::not_loaded("nothing"),
        );
        assert_eq!(no_answer(&creds), Some(NoAnswer::NoCredentials));
        let reset = wrapped(
            "io error",
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        );
        assert_eq!(
            no_answer(&reset),
            None,
            "a reset is a lost answer, not a typed cause"
        );
    }

    #[test]
    fn typed_errors_for_missing_answers_are_one_line_and_keep_their_cause() {
        let bounds = Bounds {
            connect: Some(Duration::from_millis(100)),
            attempt: Some(Duration::from_millis(300)),
        };
        let cause = || -> crate::error::BoxError { "the cause".into() };
        let e = no_answer_error(NoAnswer::AttemptTimeout, "ep/b", "GET", bounds, cause());
        assert_eq!(e.to_string(), "ep/b: GET timed out: no answer after 300ms");
        assert!(e.is_retryable() && e.is_timeout());
        assert!(std::error::Error::source(&e).is_some());
        let e = no_answer_error(NoAnswer::ConnectTimeout, "ep/b", "HEAD", bounds, cause());
        assert_eq!(
            e.to_string(),
            "ep/b: HEAD timed out: no connection after 100ms"
        );
        let e = no_answer_error(
            NoAnswer::AttemptTimeout,
            "ep/b",
            "GET",
            Bounds::default(),
            cause(),
        );
        assert_eq!(e.to_string(), "ep/b: GET timed out: no answer");
        let e = no_answer_error(NoAnswer::Refused, "ep/b", "LIST", bounds, cause());
        assert!(
            matches!(
                e,
                Error::Unreachable {
                    retryable: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = no_answer_error(NoAnswer::Dns, "ep/b", "LIST", bounds, cause());
        assert!(!e.is_retryable());
        let e = no_answer_error(NoAnswer::NoCredentials, "ep/b", "LIST", bounds, cause());
        assert!(
            e.to_string().contains("no AWS credentials were found"),
            "{e}"
        );
        assert!(!e.to_string().contains('\n'));
    }
}
