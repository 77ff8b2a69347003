//! Request accounting: every HTTP request the S3 client sends (retries included), by kind,
//! and the body bytes sent and received.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

/// The kinds of S3 requests counted by [`RequestStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RequestKind {
    /// `GetObject`.
    Get,
    /// `HeadObject`.
    Head,
    /// `PutObject`.
    Put,
    /// `DeleteObject`.
    Delete,
    /// `ListObjectsV2`.
    List,
    /// `DeleteObjects` (batch delete).
    DeleteObjects,
    /// `CreateMultipartUpload`: a multipart upload begins.
    CreateUpload,
    /// `UploadPart`: one part of a multipart upload (`UploadPartCopy` too).
    UploadPart,
    /// `CompleteMultipartUpload`: the parts become the object.
    CompleteUpload,
    /// `AbortMultipartUpload`: the parts are dropped.
    AbortUpload,
    /// `CopyObject` (a server-side copy).
    Copy,
    /// `ListObjectVersions`.
    ListVersions,
    /// Anything else (bucket operations, tagging, …).
    Other,
}

impl RequestKind {
    /// Every kind, in display order.
    pub const ALL: [RequestKind; 13] = [
        RequestKind::Get,
        RequestKind::Head,
        RequestKind::Put,
        RequestKind::Delete,
        RequestKind::List,
        RequestKind::DeleteObjects,
        RequestKind::CreateUpload,
        RequestKind::UploadPart,
        RequestKind::CompleteUpload,
        RequestKind::AbortUpload,
        RequestKind::Copy,
        RequestKind::ListVersions,
        RequestKind::Other,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for RequestKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestKind::Get => "GET",
            RequestKind::Head => "HEAD",
            RequestKind::Put => "PUT",
            RequestKind::Delete => "DELETE",
            RequestKind::List => "LIST",
            RequestKind::DeleteObjects => "DeleteObjects",
            RequestKind::CreateUpload => "CreateMultipartUpload",
            RequestKind::UploadPart => "UploadPart",
            RequestKind::CompleteUpload => "CompleteMultipartUpload",
            RequestKind::AbortUpload => "AbortMultipartUpload",
            RequestKind::Copy => "CopyObject",
            RequestKind::ListVersions => "ListVersions",
            RequestKind::Other => "other",
        })
    }
}

/// Counts of the requests sent through one S3 client and of the body bytes it sent and
/// received, shared by a dictionary, its clones and its subdictionaries.
///
/// Cheap enough to leave on: a few relaxed atomic additions per request, no allocation,
/// no lock. Every transmitted request is counted, SDK retries included. Bytes are HTTP
/// body bytes as declared by `Content-Length` (headers are not counted; a HEAD or a `304`
/// receives none).
///
/// ```no_run
/// # async fn demo() -> persidict::Result<()> {
/// use persidict::prelude::*;
/// use persidict::s3::RequestKind;
///
/// let d: persidict::S3Dict<u64> = persidict::S3Dict::builder("my-bucket").build().await?;
/// let before = d.stats().snapshot();
/// d.put(&Key::try_from("k")?, 1).await?;
/// let used = d.stats().snapshot().since(&before);
/// assert_eq!(used.get(RequestKind::Put), 1);
/// println!("{used}"); // PUT=1 sent=1B received=0B
/// # Ok(()) }
/// ```
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: [AtomicU64; RequestKind::ALL.len()],
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

/// A copy of the counters at one moment; subtract two with [`StatsSnapshot::since`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    counts: [u64; RequestKind::ALL.len()],
    bytes_sent: u64,
    bytes_received: u64,
}

impl RequestStats {
    /// A snapshot of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut counts = [0; RequestKind::ALL.len()];
        for (c, a) in counts.iter_mut().zip(&self.counts) {
            *c = a.load(Ordering::Relaxed);
        }
        StatsSnapshot {
            counts,
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            bytes_received: self.bytes_received.load(Ordering::Relaxed),
        }
    }

    fn record(&self, kind: RequestKind, body_bytes: u64) {
        self.counts[kind.index()].fetch_add(1, Ordering::Relaxed);
        if body_bytes > 0 {
            self.bytes_sent.fetch_add(body_bytes, Ordering::Relaxed);
        }
    }

    fn record_received(&self, body_bytes: u64) {
        if body_bytes > 0 {
            self.bytes_received.fetch_add(body_bytes, Ordering::Relaxed);
        }
    }
}

impl StatsSnapshot {
    /// Requests of one kind.
    pub fn get(&self, kind: RequestKind) -> u64 {
        self.counts[kind.index()]
    }

    /// All requests.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Request body bytes sent (values written, DeleteObjects batches).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent
    }

    /// Response body bytes received (values read, listings, error documents).
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received
    }

    /// The requests and bytes counted since `earlier`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let mut counts = [0; RequestKind::ALL.len()];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = self.counts[i].saturating_sub(earlier.counts[i]);
        }
        StatsSnapshot {
            counts,
            bytes_sent: self.bytes_sent.saturating_sub(earlier.bytes_sent),
            bytes_received: self.bytes_received.saturating_sub(earlier.bytes_received),
        }
    }
}

impl fmt::Display for StatsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for kind in RequestKind::ALL {
            let n = self.get(kind);
            if n > 0 {
                if !first {
                    f.write_str(" ")?;
                }
                write!(f, "{kind}={n}")?;
                first = false;
            }
        }
        if first {
            f.write_str("none")?;
        }
        write!(
            f,
            " sent={}B received={}B",
            self.bytes_sent, self.bytes_received
        )
    }
}

/// The interceptor that feeds [`RequestStats`]; it runs once per transmitted request, so
/// SDK retries are counted too.
#[derive(Debug)]
pub(crate) struct CountingInterceptor(pub(crate) Arc<RequestStats>);

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "persidict::RequestCounter"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        // Presigning runs a request up to this point and then only captures it: its
        // signature is in the query string, where a sent request never has one.
        if request.uri().contains("X-Amz-Signature=") {
            return Ok(());
        }
        let kind = classify_request(request.method(), request.uri());
        let body = request.body().content_length().unwrap_or(0);
        self.0.record(kind, body);
        Ok(())
    }

    fn read_after_transmit(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The body's exact size hint is the Content-Length of a response that has a body;
        // a HEAD or a 304 has none (their Content-Length header describes the object).
        let body = context.response().body().content_length().unwrap_or(0);
        self.0.record_received(body);
        Ok(())
    }
}

/// The kind of an S3 request from its method and URI. Path-style or virtual-host: an
/// object request has a key after the bucket, which cannot be told apart here without the
/// bucket name, so the query decides. No allocation: this runs on every request.
fn classify_request(method: &str, uri: &str) -> RequestKind {
    let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
    let has = |name: &str| {
        query.split('&').any(|p| {
            p.strip_prefix(name)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('='))
        })
    };
    match method {
        "GET" if has("list-type") => RequestKind::List,
        "GET" if has("versions") => RequestKind::ListVersions,
        "GET" if query.is_empty() || has("x-id") || has("partNumber") => RequestKind::Get,
        "GET" => RequestKind::Other,
        "HEAD" => RequestKind::Head,
        "PUT" if has("uploadId") && has("partNumber") => RequestKind::UploadPart,
        "PUT" if has("uploadId") || has("tagging") || has("acl") => RequestKind::Other,
        "PUT" if query.split('&').any(|p| p == "x-id=CopyObject") => RequestKind::Copy,
        "PUT" => RequestKind::Put,
        "DELETE" if has("uploadId") => RequestKind::AbortUpload,
        "DELETE" => RequestKind::Delete,
        "POST" if has("delete") => RequestKind::DeleteObjects,
        "POST" if has("uploads") => RequestKind::CreateUpload,
        "POST" if has("uploadId") => RequestKind::CompleteUpload,
        _ => RequestKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_by_method_and_query() {
        let cases = [
            ("GET", "http://h/b/k.bin?x-id=GetObject", RequestKind::Get),
            ("GET", "http://h/b/k.bin", RequestKind::Get),
            ("GET", "http://h/b?list-type=2&prefix=p", RequestKind::List),
            ("GET", "http://h/b?location", RequestKind::Other),
            (
                "GET",
                "http://h/b?versions&prefix=p",
                RequestKind::ListVersions,
            ),
            (
                "GET",
                "http://h/b/k.bin?versionId=v&x-id=GetObject",
                RequestKind::Get,
            ),
            ("HEAD", "http://h/b/k.bin", RequestKind::Head),
            ("PUT", "http://h/b/k.bin?x-id=PutObject", RequestKind::Put),
            (
                "PUT",
                "http://h/b/k.bin?partNumber=1&uploadId=u",
                RequestKind::UploadPart,
            ),
            (
                "POST",
                "http://h/b/k.bin?uploads",
                RequestKind::CreateUpload,
            ),
            (
                "POST",
                "http://h/b/k.bin?uploadId=u",
                RequestKind::CompleteUpload,
            ),
            (
                "DELETE",
                "http://h/b/k.bin?uploadId=u",
                RequestKind::AbortUpload,
            ),
            ("PUT", "http://h/b/k.bin?tagging", RequestKind::Other),
            ("PUT", "http://h/b/k.bin?x-id=CopyObject", RequestKind::Copy),
            (
                "DELETE",
                "http://h/b/k.bin?x-id=DeleteObject",
                RequestKind::Delete,
            ),
            ("POST", "http://h/b?delete", RequestKind::DeleteObjects),
            ("POST", "http://h/b?deletex", RequestKind::Other),
            ("POST", "http://h/b/k?uploadsx", RequestKind::Other),
        ];
        for (method, uri, want) in cases {
            assert_eq!(classify_request(method, uri), want, "{method} {uri}");
        }
    }

    #[test]
    fn snapshots_subtract() {
        let stats = RequestStats::default();
        stats.record(RequestKind::Put, 10);
        let a = stats.snapshot();
        stats.record(RequestKind::Get, 0);
        stats.record_received(7);
        let d = stats.snapshot().since(&a);
        assert_eq!(d.get(RequestKind::Get), 1);
        assert_eq!(d.get(RequestKind::Put), 0);
        assert_eq!((d.total(), d.bytes_sent(), d.bytes_received()), (1, 0, 7));
        assert_eq!(d.to_string(), "GET=1 sent=0B received=7B");
    }
}
