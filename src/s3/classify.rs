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
//! | anything else (5xx after the SDK's retries, timeouts, I/O) | `Other` |

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

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
