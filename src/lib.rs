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
//! ## Keys
//! A [`Key`] is a non-empty sequence of parts of 1..=200 characters from
//! `A-Z a-z 0-9 ( ) _ - ~ . =` (not `.` or `..`). Backends that store objects sign each
//! part with a short SHA-256 suffix (`digest_len`, default 4; 0 gives unsigned names, the
//! layout of Python persidict), so that case-only differences survive case-insensitive file
//! systems and foreign objects are recognised and skipped.
//!
//! ## Conditional operations
//! [`PersiDict::get_if`], [`PersiDict::put_if`], [`PersiDict::setdefault_if`] and
//! [`PersiDict::discard_if`] take a [`Condition`] (`Any`, `Same`, `Changed`) and the
//! [`ETag`] the caller expects (`None` means "absent"), and report an [`Outcome`]: whether
//! the condition held, the ETag it was checked against, the ETag afterwards, and the value
//! per [`Retrieve`]. A failed condition is a result, not an error.
//! [`PersiDict::transform`] is the retrying read-modify-write loop built on them.
//!
//! ## Backends
//! - [`MemDict`]: in memory, the reference implementation; for tests and caches.
//! - [`FileDict`]: a local directory, one file per key in the same layout as a bucket;
//!   every conditional operation is atomic across threads and processes (file locks).
//!   Nothing to set up: the embedded default.
//! - `S3Dict` (feature `s3`, on by default): Amazon S3 or any S3-compatible store, with
//!   ETag-conditional requests where the server enforces them.
//!
//! ## Errors
//! One [`Error`] type; see its variants for what each means and what to do.

#![warn(missing_docs)]

pub mod codec;
pub mod cond;
#[cfg(feature = "contract")]
pub mod contract;
pub mod dict;
pub mod error;
pub mod key;
pub mod memory;
pub mod semantics;
pub mod store;

pub use codec::{Codec, Encoded};
pub use cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
pub use dict::{
    CasConflict, DictInfo, DictOptions, EntryMeta, PersiDict, RetryPolicy, Transformed, Value,
};
pub use error::{Capability, Error, Result};
pub use key::{InvalidKey, Key, KeyRule};
pub use memory::MemDict;
pub use store::{Capabilities, ObjectStore};

/// Everything a typical user needs, for `use persidict::prelude::*`.
pub mod prelude {
    pub use crate::{
        Codec, Condition, ETag, Error, Key, MemDict, Outcome, PersiDict, Retrieve, Slot, Write,
    };
}
