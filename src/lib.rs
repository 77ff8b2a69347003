//! # persidict
//!
//! A persistent key-value dictionary whose entries live one object per key — in Amazon S3
//! or any S3-compatible store, in a local directory, or in memory — with compare-and-swap
//! operations that are truly atomic on backends that enforce conditional requests.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//!
//! let d = MemDict::<u64>::new();
//! let k = Key::new(["counters", "visits"])?;
//! d.put(&k, 1).await?;
//!
//! // Compare-and-swap on the ETag: only one of several racing writers can win.
//! let etag = d.etag(&k).await?;
//! let out = d.put_if(&k, Write::Value(2), Condition::Same, Some(&etag), Retrieve::Never).await?;
//! assert!(out.satisfied && out.mutated());
//!
//! // A read-modify-write loop that retries on conflicts.
//! let t = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await?;
//! assert_eq!(t.value, Some(3));
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```
//!
//! ## Architecture
//! From the bottom up, one module per layer:
//!
//! | layer | module | what it is |
//! |---|---|---|
//! | byte core | [`store`] | [`ObjectStore`]: eight methods (read, head, write and delete with a precondition, list by prefix, batch delete, capabilities, info) that every backend implements, and nothing more |
//! | backends | [`store::MemStore`], [`mod@file`], `s3` | memory, a local directory, S3 |
//! | wrappers | [`store::Prefixed`], [`store::AppendOnly`], [`CachedStore`] | stores over stores: subdictionaries, append-only enforcement, a revalidated cache |
//! | semantics | [`semantics`] | persidict's conditional operations, written once over the byte core |
//! | typed layer | [`dict`] | [`PersiDict<V>`]: keys, codecs, `get`/`put`/…, `transform`, bulk operations |
//!
//! [`MemDict`], [`FileDict`] and `S3Dict` are [`PersiDict`]s over their stores (they
//! dereference to it and add what is particular to the backend: a directory, request
//! counters). A new backend implements [`ObjectStore`] and gets the whole dictionary, with
//! exactly these semantics, from `PersiDict::with_options`; the contract suite (feature
//! `contract`) checks it.
//!
//! ## Keys
//! A [`Key`] is a non-empty sequence of parts of 1..=200 characters from
//! `A-Z a-z 0-9 ( ) _ - ~ . =` (not `.` or `..`); `"users/42".parse::<Key>()` gives the
//! two-part key. Each part is signed with a short SHA-256 suffix in object names
//! (`digest_len`, default 4; 0 gives unsigned names, the layout of Python persidict), so
//! that case-only differences survive case-insensitive file systems and foreign objects
//! are recognised and skipped.
//!
//! ## Conditional operations
//! [`PersiDict::get_if`], [`PersiDict::put_if`], [`PersiDict::setdefault_if`] and
//! [`PersiDict::discard_if`] take a [`Condition`] (`Any`, `Same`, `Changed`) and the
//! [`ETag`] the caller expects (`None` means "absent"), and report an [`Outcome`]: whether
//! the condition held, the ETag it was checked against, the ETag afterwards, and the value
//! per [`Retrieve`]. A failed condition is a result, not an error.
//! [`PersiDict::transform`] is the retrying read-modify-write loop built on them; the
//! short forms [`PersiDict::insert`] (insert-if-absent), [`PersiDict::compare_and_swap`]
//! (which hands back the current value and ETag on refusal) and [`PersiDict::delete_if`]
//! cover the common cases.
//!
//! ## Backends
//! - [`MemDict`]: in memory, the reference implementation; for tests and caches.
//! - [`FileDict`]: a local directory, one file per key in the same layout as a bucket;
//!   every conditional operation is atomic across threads and processes (file locks).
//!   Nothing to set up: the embedded default.
//! - `S3Dict` (feature `s3`, on by default): Amazon S3 or any S3-compatible store, with
//!   ETag-conditional requests where the server enforces them. No request waits
//!   forever: a connect timeout (3.1 s) and a per-attempt timeout (30 s, PUTs scaled to
//!   their body) by default, set with `S3DictBuilder::connect_timeout` /
//!   `attempt_timeout` or the URL's `connect_timeout_ms` / `attempt_timeout_ms`.
//!
//! ## Errors
//! One [`Error`] type; see its variants for what each means and what to do.
//! [`Error::is_retryable`] says whether trying again later can help, and
//! [`std::error::Error::source`] leads to the cause. A misconfigured S3 client gets a typed
//! error of its own, one line each: [`Error::Timeout`], [`Error::NoCredentials`],
//! [`Error::WrongRegion`], [`Error::Unreachable`] (DNS, refused, TLS), [`Error::NotS3`],
//! [`Error::BucketNotFound`], and [`Error::PermissionDenied`] for rejected credentials.

#![warn(missing_docs)]

pub mod cached;
pub mod codec;
pub mod cond;
#[cfg(feature = "contract")]
pub mod contract;
pub mod dict;
pub mod error;
pub mod file;
pub mod key;
pub mod memory;
pub mod open;
#[cfg(feature = "s3")]
pub mod s3;
pub mod semantics;
pub mod store;

pub use cached::{CacheStore, CachedDict, CachedDictBuilder, CachedStore};
pub use codec::{Codec, Encoded};
pub use cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
pub use dict::{
    CasConflict, DictInfo, DictOptions, EntryMeta, PersiDict, RetryPolicy, Transformed, Value,
};
pub use error::{Capability, Error, Result};
pub use file::{FileDict, FileDictBuilder};
pub use key::{InvalidKey, Key, KeyRule};
pub use memory::MemDict;
pub use open::{open, Opened};
#[cfg(feature = "s3")]
pub use s3::{ProbeCheck, ProbeReport, ProbeVerdict, S3Dict, S3DictBuilder, S3Store};
pub use store::{Capabilities, ObjectStore};

/// Everything a typical user needs, for `use persidict::prelude::*`.
pub mod prelude {
    pub use crate::{
        Codec, Condition, ETag, Error, FileDict, Key, MemDict, Outcome, PersiDict, Retrieve, Slot,
        Write,
    };
}
