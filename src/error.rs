//! The crate's one public error type.

use std::fmt;

use crate::key::{InvalidKey, Key};

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, each variant saying what the caller can do about it.
///
/// A conditional operation whose condition does not hold is *not* an error: it is an
/// [`Outcome`](crate::Outcome) with `satisfied == false`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A key part breaks the naming rules; fix the key (nothing was sent anywhere).
    #[error(transparent)]
    InvalidKey(#[from] InvalidKey),

    /// The key is not in the dictionary (the `KeyError` of a Python `dict`).
    #[error("key not found: {key}")]
    NotFound {
        /// The key that was asked for.
        key: Key,
    },

    /// The stored object could not be decoded with the dictionary's codec: it is corrupt,
    /// truncated, or was written with another codec or value type.
    #[error("cannot decode the value of {key} with the {codec} codec: {reason}")]
    Decode {
        /// The key whose value did not decode.
        key: Key,
        /// The codec that was used.
        codec: &'static str,
        /// What the decoder reported.
        reason: String,
    },

    /// The value could not be encoded with the dictionary's codec (for example a struct
    /// given to the `text` codec, which only stores strings).
    #[error("cannot encode the value of {key} with the {codec} codec: {reason}")]
    Encode {
        /// The key whose value did not encode.
        key: Key,
        /// The codec that was used.
        codec: &'static str,
        /// What the encoder reported.
        reason: String,
    },

    /// The encoded value or the stored object is larger than the configured maximum.
    #[error("the value of {key} is {size} bytes, over the maximum of {max} bytes")]
    ValueTooLarge {
        /// The key concerned.
        key: Key,
        /// The size in bytes.
        size: u64,
        /// The configured maximum in bytes.
        max: u64,
    },

    /// The dictionary is append-only and the operation would overwrite or remove a value.
    #[error("{operation} refused on {key}: the dictionary is append-only")]
    AppendOnly {
        /// The key concerned (`a/b`), or the object name when the byte-level
        /// [`AppendOnly`](crate::store::AppendOnly) store is used directly.
        key: String,
        /// What was refused (`"overwrite"`, `"delete"`, `"clear"`, …).
        operation: &'static str,
    },

    /// A write-once dictionary ([`WriteOnceDict`](crate::WriteOnceDict)) was asked to
    /// store a value under a key that already holds a different one. Nothing was written:
    /// the first value stays. Use another key (for memoised results, include every input
    /// in the key), or a mutable dictionary if values must change. Only repeats that are
    /// checked (see [`WriteOnceDict::p_consistency_checks`](crate::WriteOnceDict::p_consistency_checks))
    /// or conditional writes can find this.
    #[error("{key} already holds a different value and the dictionary is write-once: the first value stays; use another key, or a mutable dictionary if values must change")]
    WriteOnceConflict {
        /// The key concerned (`a/b`), or the object name when the byte-level
        /// [`WriteOnce`](crate::store::WriteOnce) store is used directly.
        key: String,
    },

    /// A codec was asked of an [`OverlappingMultiDict`](crate::OverlappingMultiDict)
    /// that was not declared when it was made; declare it, or use one of `declared`.
    #[error("codec {codec} is not one of the declared views {declared:?}")]
    CodecNotDeclared {
        /// The codec asked for.
        codec: crate::codec::Codec,
        /// The codecs the multi-dictionary was made with.
        declared: Vec<crate::codec::Codec>,
    },

    /// An operation that re-evaluates its condition after each lost race kept losing to
    /// concurrent writers and ran out of attempts: a [`transform`](crate::PersiDict::transform),
    /// or a `put_if`/`discard_if` with [`Condition::Any`](crate::Condition::Any) or
    /// [`Condition::Changed`](crate::Condition::Changed) whose condition kept holding while
    /// the key kept changing under it. Nothing was written. Retry later or allow more
    /// attempts. (A condition that does not hold is never this error: it is an outcome.)
    #[error("concurrent updates kept conflicting on {key}; gave up after {attempts} attempts")]
    ConcurrencyConflict {
        /// The contended key.
        key: Key,
        /// How many read-modify-write attempts were made.
        attempts: u32,
    },

    /// A value read as a stream in several requests was replaced before the last of them:
    /// the rest of the stream would belong to another version, so it ends here. Read it
    /// again.
    #[error("{object} changed while it was read as a stream (its parts pinned to ETag {etag} were refused)")]
    ChangedWhileRead {
        /// The object (its key or store name).
        object: String,
        /// The ETag the stream was pinned to.
        etag: String,
    },

    /// The backend cannot do what the operation needs atomically (for example a server that
    /// ignores `If-Match`). Use another backend, or opt in to the documented racy fallback.
    #[error("{capability} is not supported by {endpoint}")]
    Unsupported {
        /// The missing capability.
        capability: Capability,
        /// The backend, e.g. the S3 endpoint and bucket.
        endpoint: String,
    },

    /// A conditional write (or conditional delete) may or may not have been applied, and
    /// there is no way to tell.
    ///
    /// This happens when an attempt's answer was lost (a timeout, a reset or closed
    /// connection, a `500`) so that the server may have applied it, and the attempts that
    /// followed cannot settle it: the object's write ids neither hold this write's id nor
    /// reach back to the version it replaced (a plain put, a delete or another client's
    /// write came in between, or an insert outside an append-only dictionary found another
    /// object), or the read-back failed too. The operation is *not* retried and a
    /// [`transform`](crate::PersiDict::transform) does *not* call its function again,
    /// because either could apply the update twice.
    ///
    /// What to do: read the key and decide. Make updates recognisable (an operation id in
    /// the value) if the caller must know whether its update is in. Any *other* error from
    /// a conditional operation means it was not applied.
    #[error("the outcome of {operation} on {key} is unknown (it may or may not have been applied): {reason}")]
    OutcomeUnknown {
        /// The key concerned (`a/b`), or the object name when a store is used directly.
        key: String,
        /// The request whose outcome is unknown (`"PUT"` or `"DELETE"`).
        operation: &'static str,
        /// Why it cannot be known.
        reason: String,
    },

    /// The bucket does not exist (S3 `404 NoSuchBucket`). Create it, fix the name, or
    /// build with `create_bucket(true)`.
    ///
    /// A `HEAD` answer has no body, so operations that send only a `HEAD` (`contains`,
    /// `etag`, `head`, `timestamp`) see a missing bucket as a missing key.
    #[error("bucket {bucket:?} does not exist at {endpoint} ({operation})")]
    BucketNotFound {
        /// The bucket name.
        bucket: String,
        /// The backend.
        endpoint: String,
        /// The request that found it missing.
        operation: String,
    },

    /// The backend refused access (S3 `403`). Check credentials and permissions.
    #[error("permission denied by {endpoint} during {operation}: {message}{}", request_id_note(.request_id))]
    PermissionDenied {
        /// The backend.
        endpoint: String,
        /// The request that was refused.
        operation: String,
        /// What the backend said.
        message: String,
        /// The S3 request id (`x-amz-request-id`), where the answer carried one.
        request_id: Option<String>,
    },

    /// The backend did not answer within the configured time: a connection that could not
    /// be set up within the connect timeout, an attempt with no answer within the attempt
    /// timeout, or a transfer that stalled. The SDK's retries were used up. The operation
    /// may be retried; raise the timeouts (`connect_timeout`, `attempt_timeout`) for a
    /// slow link.
    ///
    /// From a conditional write this error means the write was not applied: a conditional
    /// write whose attempt timed out may have landed, and ends in a success (its write id
    /// found) or [`Error::OutcomeUnknown`], never in this error.
    #[error("{endpoint}: {operation} timed out: {what}{}", after_note(.after))]
    Timeout {
        /// The backend.
        endpoint: String,
        /// The request that timed out.
        operation: String,
        /// What did not happen in time (`"no answer"`, `"no connection"`, `"the transfer stalled"`).
        what: &'static str,
        /// The bound that ran out (per attempt; zero when it is not known).
        after: std::time::Duration,
        /// The underlying error, for [`std::error::Error::source`].
        #[source]
        source: Option<BoxError>,
    },

    /// No credentials were found for an S3 dictionary. The default chain looks in the
    /// environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`), the shared config and
    /// credentials files (`~/.aws/config`, `~/.aws/credentials`, `AWS_PROFILE`), SSO, web
    /// identity tokens, and the ECS and EC2 instance metadata endpoints. Set one of them, or
    /// give the builder an SDK configuration or client.
    #[error("{endpoint}: {operation}: no AWS credentials were found (looked in the environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, the shared config and credentials files and profile, SSO, web identity, ECS and EC2 instance metadata)")]
    NoCredentials {
        /// The backend.
        endpoint: String,
        /// The request that needed them.
        operation: String,
        /// What the credentials chain reported.
        #[source]
        source: Option<BoxError>,
    },

    /// The bucket is in another region than the one the client signs for (S3 `301
    /// PermanentRedirect`, `400 AuthorizationHeaderMalformed`), or the region is unknown.
    /// Use the region named (builder `region`, URL `region=`, `AWS_REGION`).
    #[error("{endpoint}: {operation}: {}", wrong_region_note(.region, .message))]
    WrongRegion {
        /// The backend.
        endpoint: String,
        /// The request that was redirected or refused.
        operation: String,
        /// The region the server named, where it named one.
        region: Option<String>,
        /// What the server said.
        message: String,
    },

    /// The endpoint could not be reached: its host name does not resolve, the connection
    /// was refused, or the TLS handshake failed. Check the endpoint URL (scheme, host,
    /// port); [`Error::is_retryable`] is true for a refused connection (the server may be
    /// starting).
    #[error("{endpoint}: {operation}: cannot reach the endpoint: {reason}")]
    Unreachable {
        /// The backend.
        endpoint: String,
        /// The request that could not be sent.
        operation: String,
        /// Why (`"the host name does not resolve"`, `"connection refused"`, `"the TLS handshake failed"`).
        reason: String,
        /// Whether trying again later may help.
        retryable: bool,
        /// The underlying error, for [`std::error::Error::source`].
        #[source]
        source: Option<BoxError>,
    },

    /// The endpoint answered, but not as an S3 server does (an HTML page, an answer
    /// without an ETag): the endpoint URL probably names a web server or a proxy. Check it.
    #[error("{endpoint}: {operation}: the endpoint does not speak S3: {message}")]
    NotS3 {
        /// The backend.
        endpoint: String,
        /// The request whose answer was not S3's.
        operation: String,
        /// What was wrong with the answer.
        message: String,
    },

    /// The configuration or URL is not usable; the message says which setting is wrong.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// A [`FileDict`](crate::FileDict) waited for one of its file locks longer than its
    /// `lock_timeout` (default 30 s): another thread or process kept the lock held
    /// (a writer stuck in a slow or hung file system, or a very long queue of writers on
    /// one key). Nothing was written. Retry later, or raise
    /// [`FileDictBuilder::lock_timeout`](crate::file::FileDictBuilder::lock_timeout).
    #[error("gave up waiting for the file lock {lock} after {waited:?} (another writer holds it; nothing was written)")]
    LockTimeout {
        /// The lock file (`<dir>/.persidict#locks/NN.lock`, or a temporary file).
        lock: String,
        /// How long the operation waited.
        waited: std::time::Duration,
    },

    /// A local file-system error.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The backend failed after its own retries (network, 5xx, throttling, timeouts,
    /// unexpected answers). The operation may be retried.
    ///
    /// From a conditional operation (`put_if`, `setdefault_if`, `discard_if`, `transform`,
    /// an append-only `put`) this error means the write was not applied; when that cannot
    /// be known the error is [`Error::OutcomeUnknown`] instead. An unconditional `put` or
    /// `delete` that fails this way may have been applied; repeating it is harmless.
    ///
    /// [`Error::is_retryable`] says whether repeating the operation can help (a network
    /// failure, a 5xx, throttling) or not (an answer the crate does not understand).
    #[error("{endpoint}: {operation} failed: {message}{}", request_id_note(.request_id))]
    Backend {
        /// The backend.
        endpoint: String,
        /// The request that failed.
        operation: String,
        /// What went wrong.
        message: String,
        /// The S3 request id (`x-amz-request-id`), where the answer carried one: quote it
        /// to the storage provider.
        request_id: Option<String>,
        /// Whether repeating the operation later may succeed.
        retryable: bool,
        /// The underlying error (for S3 the SDK's), for [`std::error::Error::source`].
        #[source]
        source: Option<BoxError>,
    },
}

/// A boxed error that can move between threads: the cause kept by [`Error::Backend`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

fn after_note(after: &std::time::Duration) -> String {
    if after.is_zero() {
        String::new()
    } else {
        format!(" after {after:?}")
    }
}

fn wrong_region_note(region: &Option<String>, message: &str) -> String {
    match region {
        Some(r) => format!("the bucket is in region {r:?}: use region={r} ({message})"),
        None => format!("the bucket is in another region, or the region is unknown: set the bucket's region ({message})"),
    }
}

fn request_id_note(id: &Option<String>) -> String {
    match id {
        Some(id) => format!(" (request id {id})"),
        None => String::new(),
    }
}

/// A capability that a backend may lack; named by [`Error::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `PUT` with `If-None-Match: *` refused when the key exists (insert-if-absent).
    PutIfAbsent,
    /// `PUT` with `If-Match: <etag>` refused when the ETag differs (compare-and-swap).
    PutIfMatch,
    /// `DELETE` with `If-Match: <etag>` refused when the ETag differs.
    DeleteIfMatch,
    /// `GET` with `If-None-Match: <etag>` answered `304 Not Modified` when unchanged.
    GetIfNoneMatch,
    /// Multipart uploads (`CreateMultipartUpload`, `UploadPart`,
    /// `CompleteMultipartUpload`) in the form S3 documents.
    MultipartUpload,
    /// `CompleteMultipartUpload` with `If-None-Match: *` refused when the key exists.
    MultipartIfAbsent,
    /// `CompleteMultipartUpload` with `If-Match: <etag>` refused when the ETag differs.
    MultipartIfMatch,
    /// `CopyObject` with `If-None-Match: *` refused when the destination exists.
    CopyIfAbsent,
    /// `CopyObject` with `If-Match: <etag>` refused when the destination's ETag differs.
    CopyIfMatch,
    /// `CopyObject` with `x-amz-copy-source-if-match: <etag>` refused when the source's
    /// ETag differs.
    CopySourceIfMatch,
    /// Object versions kept by the store (a versioned bucket): listing them, reading and
    /// restoring one.
    Versioning,
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Capability::PutIfAbsent => "conditional PUT (If-None-Match: *)",
            Capability::PutIfMatch => "conditional PUT (If-Match)",
            Capability::DeleteIfMatch => "conditional DELETE (If-Match)",
            Capability::GetIfNoneMatch => "conditional GET (If-None-Match)",
            Capability::MultipartUpload => "multipart upload",
            Capability::MultipartIfAbsent => {
                "conditional CompleteMultipartUpload (If-None-Match: *)"
            }
            Capability::MultipartIfMatch => "conditional CompleteMultipartUpload (If-Match)",
            Capability::CopyIfAbsent => "conditional CopyObject (If-None-Match: *)",
            Capability::CopyIfMatch => "conditional CopyObject (If-Match)",
            Capability::CopySourceIfMatch => {
                "CopyObject pinned to the source (x-amz-copy-source-if-match)"
            }
            Capability::Versioning => "object versions (a versioned bucket)",
        })
    }
}

impl Error {
    /// True for [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound { .. })
    }

    pub(crate) fn append_only(key: &Key, operation: &'static str) -> Error {
        Error::AppendOnly {
            key: key.to_path(),
            operation,
        }
    }

    /// A [`Error::Backend`] with no request id and no cause.
    pub fn backend(
        endpoint: impl Into<String>,
        operation: impl Into<String>,
        message: impl Into<String>,
        retryable: bool,
    ) -> Error {
        Error::Backend {
            endpoint: endpoint.into(),
            operation: operation.into(),
            message: message.into(),
            request_id: None,
            retryable,
            source: None,
        }
    }

    /// Whether repeating the operation later may succeed without changing anything:
    /// [`Error::Backend`] failures of the network or the server (5xx, throttling),
    /// [`Error::Timeout`], a refused connection ([`Error::Unreachable`]),
    /// [`Error::ConcurrencyConflict`] and [`Error::LockTimeout`]. Not
    /// [`Error::OutcomeUnknown`]: read the key first, the operation may already be in.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Backend { retryable, .. } | Error::Unreachable { retryable, .. } => *retryable,
            Error::ConcurrencyConflict { .. }
            | Error::ChangedWhileRead { .. }
            | Error::Timeout { .. }
            | Error::LockTimeout { .. } => true,
            _ => false,
        }
    }

    /// The S3 request id of the answer this error comes from, where there is one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Backend { request_id, .. } | Error::PermissionDenied { request_id, .. } => {
                request_id.as_deref()
            }
            _ => None,
        }
    }

    /// This error, with a byte-level object `name` replaced by the `key` it stands for.
    pub(crate) fn for_key(self, name: &str, key: &Key) -> Error {
        match self {
            Error::AppendOnly { key: k, operation } if k == name => Error::AppendOnly {
                key: key.to_path(),
                operation,
            },
            Error::WriteOnceConflict { key: k } if k == name => {
                Error::WriteOnceConflict { key: key.to_path() }
            }
            Error::OutcomeUnknown {
                key: k,
                operation,
                reason,
            } if k == name => Error::OutcomeUnknown {
                key: key.to_path(),
                operation,
                reason,
            },
            other => other,
        }
    }

    /// True for [`Error::OutcomeUnknown`].
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, Error::OutcomeUnknown { .. })
    }

    /// True for [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// True for [`Error::Unsupported`].
    pub fn is_unsupported(&self) -> bool {
        matches!(self, Error::Unsupported { .. })
    }
}
