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
//! | wrappers | [`store::Prefixed`], [`store::AppendOnly`], [`store::WriteOnce`], [`CachedStore`] | stores over stores: subdictionaries, append-only enforcement, write-once keys, a revalidated cache |
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
//! Any text can be a key part through a reversible escaping: [`Key::escaped`] (and
//! [`escape_part`]) keep safe parts as they are and write everything else as `=HH` per
//! UTF-8 byte; [`Key::unescaped_parts`] (and [`unescape_part`]) turn it back. The rule and
//! why it is injective are in [`key::escape`].
//!
//! ```
//! use persidict::Key;
//! let k = Key::escaped(["users", "ann@example.com", "日本"])?;
//! assert_eq!(k.to_path(), "users/ann=40example.com/=E6=97=A5=E6=9C=AC");
//! assert_eq!(k.unescaped_parts().unwrap(), ["users", "ann@example.com", "日本"]);
//! # Ok::<(), persidict::InvalidKey>(())
//! ```
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
//!   every conditional operation is atomic across threads and processes (file locks, waited
//!   for at most a `lock_timeout`, also shared with a dictionary on an enclosing directory).
//!   A writer killed mid-write leaves no partial value, and the next open removes its
//!   temporary file; ETags are kept in an extended attribute, so `contains` and `etag` do
//!   not read the file. Nothing to set up: the embedded default.
//! - `S3Dict` (feature `s3`, on by default): Amazon S3 or any S3-compatible store, with
//!   ETag-conditional requests where the server enforces them. No request waits
//!   forever: a connect timeout (3.1 s) and a per-attempt timeout (30 s, PUTs scaled to
//!   their body) by default, set with `S3DictBuilder::connect_timeout` /
//!   `attempt_timeout` or the URL's `connect_timeout_ms` / `attempt_timeout_ms`.
//!
//! ## Blocking API
//! The `blocking` module (feature `blocking`, off by default) has the same dictionaries
//! and operations as plain methods and iterators, for programs without an async runtime:
//! `persidict::blocking::{PersiDict, MemDict, FileDict, S3Dict, open}`. They share one
//! multi-threaded tokio runtime, started on first use; calling them from inside a tokio
//! runtime panics with a message that points to the async API.
//!
//! ```
//! # #[cfg(feature = "blocking")]
//! # fn main() -> persidict::Result<()> {
//! use persidict::blocking::MemDict;
//! use persidict::{Key, Write};
//!
//! let d = MemDict::<u64>::new();
//! let k = Key::new(["counters", "visits"])?;
//! std::thread::scope(|s| {
//!     for _ in 0..4 {
//!         s.spawn(|| d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)));
//!     }
//! });
//! assert_eq!(d.get(&k)?, 4);
//! assert_eq!(d.keys().count(), 1); // an iterator that lists as it goes
//! # Ok(()) }
//! # #[cfg(not(feature = "blocking"))]
//! # fn main() {}
//! ```
//!
//! ## More dictionaries
//! - [`WriteOnceDict`]: over any dictionary, each key written once — memoised results of
//!   deterministic functions across machines. The first write is an insert-if-absent; a
//!   repeat is accepted for one request, and compared (one GET) with probability
//!   `p_consistency_checks`; a different value is [`Error::WriteOnceConflict`]. Nothing is
//!   ever removed.
//!
//!   ```
//!   # tokio_test::block_on(async {
//!   use persidict::prelude::*;
//!   use persidict::WriteOnceDict;
//!   let memo = WriteOnceDict::with_p_consistency_checks(MemDict::<u64>::new(), 1.0)?;
//!   let k = Key::new(["square", "12"])?;
//!   memo.put(&k, 144).await?;
//!   memo.put(&k, 144).await?; // a repeat: accepted, nothing written
//!   assert!(matches!(memo.put(&k, 145).await, Err(Error::WriteOnceConflict { .. })));
//!   # Ok::<(), persidict::Error>(()) }).unwrap();
//!   ```
//! - [`OverlappingMultiDict`]: one root seen through several codecs, each view a
//!   [`PersiDict`] that sees only its own codec's objects.
//!
//!   ```
//!   # tokio_test::block_on(async {
//!   use persidict::prelude::*;
//!   use persidict::OverlappingMultiDict;
//!   let multi = OverlappingMultiDict::new(&MemDict::<()>::new(), &[Codec::Json, Codec::Bincode])?;
//!   let k = Key::try_from("k")?;
//!   multi.view::<String>(Codec::Json)?.put(&k, "text".into()).await?;
//!   assert!(!multi.view::<String>(Codec::Bincode)?.contains(&k).await?);
//!   # Ok::<(), persidict::Error>(()) }).unwrap();
//!   ```
//! - [`EmptyDict`]: stores nothing (writes accepted and dropped, reads find nothing), a
//!   null object for tests and pipelines.
//!
//!   ```
//!   # tokio_test::block_on(async {
//!   use persidict::prelude::*;
//!   use persidict::EmptyDict;
//!   let d = EmptyDict::<u64>::new();
//!   d.put(&Key::try_from("k")?, 1).await?;
//!   assert!(d.is_empty().await?);
//!   # Ok::<(), persidict::Error>(()) }).unwrap();
//!   ```
//!
//! Every dictionary also has [`PersiDict::popitem`] (removes and returns some entry,
//! atomically: never the same one to two callers), [`PersiDict::items_with_timestamps`],
//! and [`PersiDict::oldest_values`] / [`PersiDict::newest_values`] next to the oldest and
//! newest keys.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//! let d = MemDict::<u64>::new();
//! d.put(&Key::try_from("a")?, 1).await?;
//! assert_eq!(d.popitem().await?, Some((Key::try_from("a")?, 1)));
//! assert_eq!(d.popitem().await?, None);
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```
//!
//! ## Errors
//! One [`Error`] type; see its variants for what each means and what to do.
//! [`Error::is_retryable`] says whether trying again later can help, and
//! [`std::error::Error::source`] leads to the cause. A misconfigured S3 client gets a typed
//! error of its own, one line each: [`Error::Timeout`], [`Error::NoCredentials`],
//! [`Error::WrongRegion`], [`Error::Unreachable`] (DNS, refused, TLS), [`Error::NotS3`],
//! [`Error::BucketNotFound`], and [`Error::PermissionDenied`] for rejected credentials.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "blocking")]
pub mod blocking;
pub mod cached;
pub mod codec;
pub mod cond;
#[cfg(feature = "contract")]
#[cfg_attr(docsrs, doc(cfg(feature = "contract")))]
pub mod contract;
pub mod dict;
pub mod empty;
pub mod error;
pub mod file;
pub mod key;
pub mod memory;
pub mod multi;
pub mod open;
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub mod s3;
pub mod semantics;
pub mod store;
pub mod write_once;

pub use cached::{CacheStore, CachedDict, CachedDictBuilder, CachedStore};
pub use codec::{Codec, Encoded};
pub use cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
pub use dict::{
    CasConflict, CopyOptions, DictInfo, DictOptions, EntryMeta, PersiDict, Renamed, RetryPolicy,
    Transformed, Value,
};
pub use empty::EmptyDict;
pub use error::{Capability, Error, Result};
pub use file::{FileDict, FileDictBuilder};
pub use key::{escape_part, unescape_part, InvalidKey, Key, KeyRule};
pub use memory::MemDict;
pub use multi::OverlappingMultiDict;
pub use open::{open, Opened};
#[cfg(feature = "s3")]
#[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
pub use s3::{ProbeCheck, ProbeReport, ProbeVerdict, S3Dict, S3DictBuilder, S3Store};
pub use store::{Capabilities, CopyResult, ObjectStore, ObjectVersion, Stored};
pub use write_once::WriteOnceDict;

/// Everything a typical user needs, for `use persidict::prelude::*`.
pub mod prelude {
    pub use crate::{
        Codec, Condition, ETag, Error, FileDict, Key, MemDict, Outcome, PersiDict, Retrieve, Slot,
        Write,
    };
}
