//! Request accounting: every HTTP request the S3 client sends (retries included), by kind.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
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
    /// Anything else (bucket operations, multipart, …).
    Other,
}

impl RequestKind {
    /// Every kind, in display order.
    pub const ALL: [RequestKind; 7] = [
        RequestKind::Get,
        RequestKind::Head,
        RequestKind::Put,
        RequestKind::Delete,
        RequestKind::List,
        RequestKind::DeleteObjects,
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
            RequestKind::Other => "other",
        })
    }
}

/// Counts of requests sent through one S3 client, shared by every dictionary built on it.
/// Cheap enough to leave on: one relaxed atomic increment per request.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: [AtomicU64; 7],
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    counts: [u64; 7],
}

impl RequestStats {
    /// A snapshot of the counters.
    pub fn snapshot(&self) -> StatsSnapshot {
        let mut counts = [0; 7];
        for (c, a) in counts.iter_mut().zip(&self.counts) {
            *c = a.load(Ordering::Relaxed);
        }
        StatsSnapshot { counts }
    }

    fn record(&self, kind: RequestKind) {
        self.counts[kind.index()].fetch_add(1, Ordering::Relaxed);
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

    /// The requests counted since `earlier`.
    pub fn since(&self, earlier: &StatsSnapshot) -> StatsSnapshot {
        let mut counts = [0; 7];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = self.counts[i].saturating_sub(earlier.counts[i]);
        }
        StatsSnapshot { counts }
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
        Ok(())
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
        let uri = request.uri();
        let query = uri.split_once('?').map(|(_, q)| q).unwrap_or("");
        let has = |name: &str| {
            query
                .split('&')
                .any(|p| p == name || p.starts_with(&format!("{name}=")))
        };
        // Path-style or virtual-host: an object request has a key after the bucket, which
        // we cannot tell apart here without the bucket name, so the query decides.
        let kind = match request.method() {
            "GET" if has("list-type") => RequestKind::List,
            "GET" if query.is_empty() || has("x-id") || has("partNumber") => RequestKind::Get,
            "GET" => RequestKind::Other,
            "HEAD" => RequestKind::Head,
            "PUT" if has("uploadId") || has("tagging") || has("acl") => RequestKind::Other,
            "PUT" => RequestKind::Put,
            "DELETE" => RequestKind::Delete,
            "POST" if has("delete") => RequestKind::DeleteObjects,
            _ => RequestKind::Other,
        };
        self.0.record(kind);
        Ok(())
    }
}
