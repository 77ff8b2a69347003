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
//! | anything else | no | - |
//!
//! [`to_error`] turns a failed call into the crate's [`Error`], keeping the SDK's error as
//! the cause and the S3 request id (`x-amz-request-id`) where the answer carried one:
//!
//! | answer | [`Error`] |
//! |---|---|
//! | 403 | `PermissionDenied` |
//! | 404 `NoSuchBucket` | `BucketNotFound` |
//! | anything else | `Backend`, retryable for network failures, 5xx, throttling and timeouts |
//!
//! `501` and `400` on a conditional header become `Unsupported` where the request is sent
//! (only the caller knows which capability the header stands for).

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::RequestId;

use crate::error::Error;

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
    Other(String),
}

/// Classifies a failed SDK call by its HTTP status and S3 error code.
pub(crate) fn classify<E>(err: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Answer
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let Some(raw) = err.raw_response() else {
        // No HTTP answer at all: construction, dispatch or timeout failures.
        return Answer::Other(DisplayErrorContext(err).to_string());
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
    match (status, code) {
        (404, "NoSuchBucket") => Answer::NoSuchBucket,
        (404, _) => Answer::NotFound,
        (412, _) => Answer::PreconditionFailed,
        (304, _) => Answer::NotModified,
        (409, "ConditionalRequestConflict" | "OperationAborted") => Answer::Conflict,
        (501, _) => Answer::NotImplemented(described()),
        (400, _) => Answer::BadRequest(described()),
        (403, _) => Answer::Forbidden(described()),
        _ => Answer::Other(described()),
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
/// label `<endpoint url>/<bucket>`), keeping the SDK error as the cause.
pub(crate) fn to_error<E>(
    err: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    endpoint: &str,
    bucket: &str,
    operation: &str,
) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let request_id = request_id(&err);
    match classify(&err) {
        Answer::Forbidden(_) => Error::PermissionDenied {
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
            message: summary(&err),
            request_id,
        },
        Answer::NoSuchBucket => Error::BucketNotFound {
            bucket: bucket.to_owned(),
            endpoint: endpoint.to_owned(),
            operation: operation.to_owned(),
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
