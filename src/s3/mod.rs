//! [`S3Dict`]: the dictionary on Amazon S3 or any S3-compatible store.
//!
//! One object per key at `<root_prefix>/<signed part 1>/.../<signed part n>.<extension>`.
//! Every conditional operation is a conditional S3 request (`If-Match`,
//! `If-None-Match: *`), so it is atomic on backends that enforce them; see
//! [`Capabilities`](crate::Capabilities) for what is probed and what happens on backends
//! that do not.
//!
//! | file | what it holds |
//! |---|---|
//! | `config.rs` | [`S3DictBuilder`]: every setting, the URL parameters and the environment, in one table |
//! | `client.rs` | the raw requests, and the one send loop (with one attempt budget) of conditional PUTs and DELETEs |
//! | `resolve.rs` | what a lost answer means for each conditional request |
//! | `classify.rs` | how every S3 answer is classified, and turned into [`Error`](crate::Error) |
//! | `probe.rs` | which conditional requests the endpoint enforces, once per endpoint and bucket |
//! | `stats.rs` | request accounting |
//! | `presign.rs` | requests signed in advance, for holders without credentials |
//! | `settings.rs` | what every PUT sends besides the value: encryption, storage class, tags, metadata |
//! | `copy.rs` | server-side copies (`CopyObject`): preconditions, lost answers, object settings |
//! | `listing.rs` | listings: the first level, then its directories in parallel key ranges |
//! | `versions.rs` | version history on versioned buckets, and the probe's cleanup there |
//! | `store.rs` | [`S3Store`]: the [`ObjectStore`](crate::ObjectStore) on S3 |
//! | `dict.rs` | [`S3Dict`]: the typed dictionary over an [`S3Store`] |
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
//! | `len`, `keys`, `list` | up to 1000 keys: 1 LIST; flat keys (one segment): ⌈n/1000⌉ LIST; more keys of several segments: 1 plain page, then a LIST with `delimiter=/` (one page per 1000 first-level objects and directories), then the directories in at most `concurrency` key ranges listed at once, ⌊m/1000⌋ + 1 LIST per range of m keys; see `listing.rs` |
//! | `clear` | the LISTs of `len` + ⌈n/1000⌉ DeleteObjects, overlapped |
//! | `delete_many(n keys)` | ⌈n/1000⌉ DeleteObjects, bounded concurrency |
//! | `discard_many_if(n keys with ETags)` | ⌈n/1000⌉ DeleteObjects with per-object ETags where honoured (probed), else n DELETE `If-Match`; bounded concurrency |
//! | `values`, `items` | the LISTs of `len` + n GETs, bounded concurrency, streaming |
//! | `get_many`, `put_many`, `discard_many` | one request per key as above, bounded concurrency |
//! | [`S3Dict::presign`] (`Get`, `Put`, `Insert`) | none: signed locally (`Insert` needs the capabilities, probed once); the holder sends 1 GET or PUT |
//! | `copy`, `copy_to` (same endpoint) | 1 CopyObject (+ 1 HEAD of the source when refused); see `copy.rs` |
//! | `rename` | HEAD (none when the source's ETag is given) + CopyObject pinned to it + DELETE `If-Match` |
//! | `versions`, `get_version`, `restore_version` (versioned buckets) | ⌈n/1000⌉ ListObjectVersions / 1 GET `?versionId=` / 1 CopyObject from `?versionId=`; + 1 GetBucketVersioning once per store |
//!
//! Bulk operations keep at most [`S3DictBuilder::concurrency`] requests in flight. Every
//! request and its body bytes are counted in [`S3Dict::stats`].
//!
//! No request waits forever: a connect timeout and a per-attempt timeout bound every
//! request (defaults [`DEFAULT_CONNECT_TIMEOUT`] and [`DEFAULT_ATTEMPT_TIMEOUT`], PUTs
//! scaled to their body); see [Timeouts](S3DictBuilder#timeouts).
//!
//! A refused conditional write is re-observed with one GET or HEAD to report the actual
//! state. Every write carries a random write id in its user metadata, and a
//! compare-and-swap also the ids of the versions it replaced: after an attempt whose
//! answer was lost, one HEAD tells whether our write landed, even when other writers
//! have replaced it since (see `resolve.rs` and the README's Reliability section).

mod classify;
mod client;
mod config;
mod copy;
mod copy_parts;
mod dict;
mod listing;
pub mod multipart;
pub mod presign;
pub mod probe;
mod ranged;
mod read_ahead;
mod resolve;
pub mod settings;
mod stats;
mod store;
mod versions;

pub use self::config::{
    url_parameters, S3DictBuilder, DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT,
};
pub use self::dict::S3Dict;
pub use self::multipart::probe::MultipartCapabilities;
pub use self::multipart::MultipartSettings;
pub use self::presign::{Presign, PresignedRequest, MAX_PRESIGNED_EXPIRY};
pub use self::probe::{ProbeCheck, ProbeReport, ProbeVerdict};
pub use self::settings::{Encryption, ObjectSettings};
pub use self::stats::{RequestKind, RequestStats, StatsSnapshot};
pub use self::store::S3Store;
pub use crate::dict::DEFAULT_MAX_VALUE_SIZE;
