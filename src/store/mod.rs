//! The byte-level core: [`ObjectStore`], the small trait every backend implements.
//!
//! A store keeps opaque byte objects under `/`-separated names, relative to its own root
//! (an S3 bucket and root prefix, a directory, a map in memory). It knows nothing of keys,
//! codecs or conditions beyond the three preconditions S3 offers on a single request:
//!
//! | request | precondition | refused when |
//! |---|---|---|
//! | [`write`](ObjectStore::write) | [`WriteCondition::IfAbsent`] (`If-None-Match: *`) | the object exists |
//! | [`write`](ObjectStore::write) | [`WriteCondition::IfMatch`] (`If-Match: <etag>`) | the object is absent or has another ETag |
//! | [`delete`](ObjectStore::delete) | [`DeleteCondition::IfExists`] (`If-Match: *`) | the object is absent |
//! | [`delete`](ObjectStore::delete) | [`DeleteCondition::IfMatch`] (`If-Match: <etag>`) | the object is absent or has another ETag |
//! | [`read`](ObjectStore::read) | `if_none_match` (`If-None-Match: <etag>`) | never: [`Read::NotModified`] instead of the body |
//! | [`copy`](ObjectStore::copy) | the source's ETag (`x-amz-copy-source-if-match`) and a [`WriteCondition`] on the destination | see [`CopyResult`] |
//!
//! A store that cannot enforce a precondition answers [`Error::Unsupported`] (or, where its
//! user opted in, emulates it and says so in its docs); it never ignores one silently. The
//! persidict semantics (conditions, jokers, outcomes) are built once on top of these
//! requests, in [`crate::semantics`]; the typed dictionary ([`crate::PersiDict`]) on top of
//! that. A new backend implements this trait and nothing else, and passes the contract suite
//! (`tests/toy_store.rs` is a complete one in well under 100 lines).
//!
//! Wrappers are stores over stores: [`Prefixed`] (subdictionaries), [`AppendOnly`]
//! (refuses overwrites and removals), [`WriteOnce`] (each object written once, repeats of
//! the same bytes accepted), and [`CachedStore`](crate::cached::CachedStore).
//! [`EmptyStore`] keeps nothing: the null object.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::store::{MemStore, ObjectStore, ReadOptions, Read, WriteCondition, WriteResult};
//!
//! let store = MemStore::new();
//! let first = store.write("logs/a.bin", b"hello".to_vec().into(), "application/octet-stream",
//!     WriteCondition::IfAbsent).await?;
//! assert!(matches!(first, WriteResult::Written(_)));
//! let again = store.write("logs/a.bin", b"other".to_vec().into(), "application/octet-stream",
//!     WriteCondition::IfAbsent).await?;
//! assert_eq!(again, WriteResult::Refused);
//! match store.read("logs/a.bin", ReadOptions::default()).await? {
//!     Read::Found(object) => assert_eq!(&object.body[..], b"hello"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```

mod append_only;
mod copy;
mod empty;
mod memory;
mod prefixed;
mod stream;
mod versions;
mod write_once;

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

pub use self::append_only::AppendOnly;
pub use self::copy::{copy_by_reading, CopyResult, CopySource};
pub use self::empty::EmptyStore;
pub use self::memory::MemStore;
pub use self::prefixed::Prefixed;
pub use self::stream::{
    chunks_from_bytes, chunks_from_reader, Chunks, ObjectStream, ReadStream, READER_CHUNK,
};
pub use self::versions::ObjectVersion;
pub use self::write_once::{Stored, WriteOnce, WriteOnceStats};
use crate::cond::ETag;
use crate::error::{Capability, Error, Result};

/// The longest object name S3 accepts, in bytes (root prefix included).
pub const MAX_NAME_LEN: usize = 1024;

/// What a store knows about one object without its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The name, relative to the store's root.
    pub name: String,
    /// The ETag, where known: `head` and `read` always report it; listings of some stores
    /// (files) leave it out rather than read every object.
    pub etag: Option<ETag>,
    /// The stored size in bytes.
    pub size: u64,
    /// When the object was last written.
    pub last_modified: SystemTime,
}

/// An object read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// Its metadata (the ETag is always set).
    pub meta: ObjectMeta,
    /// Its bytes.
    pub body: Bytes,
}

impl Object {
    /// The object's ETag.
    pub fn etag(&self) -> Option<&ETag> {
        self.meta.etag.as_ref()
    }
}

/// How [`ObjectStore::read`] reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `If-None-Match: <etag>`: when the object still has this ETag, answer
    /// [`Read::NotModified`] without the body.
    pub if_none_match: Option<ETag>,
    /// The largest body to transfer; a larger object is answered [`Read::TooLarge`] before
    /// its body is read. `None`: no limit.
    pub max_size: Option<u64>,
}

/// What [`ObjectStore::read`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum Read {
    /// No object has this name.
    Absent,
    /// The object still has the ETag given in [`ReadOptions::if_none_match`].
    NotModified {
        /// That ETag.
        etag: ETag,
    },
    /// The object, whole.
    Found(Object),
    /// The object is larger than [`ReadOptions::max_size`]; nothing was transferred.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

/// The precondition of [`ObjectStore::write`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteCondition {
    /// Write whatever is there.
    Always,
    /// Only create: refused when the object exists (`If-None-Match: *`).
    IfAbsent,
    /// Only replace this version: refused when the object is absent or has another ETag
    /// (`If-Match: <etag>`).
    IfMatch(ETag),
}

/// The precondition of [`ObjectStore::delete`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeleteCondition {
    /// Delete whatever is there; deleting an absent object is not refused.
    Always,
    /// Refused when the object is absent (`If-Match: *`), so the answer tells whether it
    /// existed. Needs [`Capabilities::delete_if_exists`].
    IfExists,
    /// Refused when the object is absent or has another ETag (`If-Match: <etag>`).
    IfMatch(ETag),
}

impl WriteCondition {
    /// Whether the condition holds for an object whose current ETag is `current` (`None`:
    /// absent). A store that can read the current ETag under a lock evaluates conditions
    /// with this.
    pub fn holds(&self, current: Option<&ETag>) -> bool {
        match self {
            WriteCondition::Always => true,
            WriteCondition::IfAbsent => current.is_none(),
            WriteCondition::IfMatch(e) => current == Some(e),
        }
    }
}

impl DeleteCondition {
    /// Whether the condition holds for an object whose current ETag is `current` (`None`:
    /// absent).
    pub fn holds(&self, current: Option<&ETag>) -> bool {
        match self {
            DeleteCondition::Always => true,
            DeleteCondition::IfExists => current.is_some(),
            DeleteCondition::IfMatch(e) => current == Some(e),
        }
    }
}

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum WriteResult {
    /// The body is stored under the name, with this ETag.
    Written(ETag),
    /// The precondition did not hold; nothing changed.
    Refused,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum DeleteResult {
    /// No object has the name any more (for [`DeleteCondition::Always`] that includes "there
    /// was none").
    Deleted,
    /// The precondition did not hold; nothing changed.
    Refused,
}

/// Which conditional requests a store really enforces (see the crate guide's backend
/// table). A store answers the requests it cannot enforce with [`Error::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Insert-if-absent is refused when the object exists (`PUT If-None-Match: *`).
    pub put_if_absent: bool,
    /// Compare-and-swap writes (`PUT If-Match: <etag>`).
    pub put_if_match: bool,
    /// Compare-and-delete (`DELETE If-Match: <etag>`).
    pub delete_if_match: bool,
    /// Revalidating reads (`GET If-None-Match: <etag>` answers `304`).
    pub get_if_none_match: bool,
    /// `DELETE If-Match: *` deletes an existing object and is refused (404 or 412) for an
    /// absent one, so one request both deletes and tells whether the key existed. An
    /// optimisation only: without it `delete` and `discard` send HEAD + DELETE.
    pub delete_if_exists: bool,
    /// `DeleteObjects` honours each object's `ETag` element: a batch deletes only the
    /// objects that still have the ETag given, and reports the others as refused. An
    /// optimisation only: without it [`ObjectStore::delete_many_if`] sends one
    /// `DELETE If-Match` per object.
    pub delete_many_if_match: bool,
    /// A copy to an existing destination with [`WriteCondition::IfAbsent`] is refused
    /// (`CopyObject If-None-Match: *`).
    pub copy_if_absent: bool,
    /// A copy with [`WriteCondition::IfMatch`] is refused when the destination is absent
    /// or has another ETag (`CopyObject If-Match: <etag>`).
    pub copy_if_match: bool,
    /// A copy pinned to the source's ETag is refused when the source has another one
    /// (`x-amz-copy-source-if-match: <etag>`).
    pub copy_source_if_match: bool,
}

impl Capabilities {
    /// Everything enforced (memory, files, AWS S3).
    pub const ALL: Capabilities = Capabilities {
        put_if_absent: true,
        put_if_match: true,
        delete_if_match: true,
        get_if_none_match: true,
        delete_if_exists: true,
        delete_many_if_match: true,
        copy_if_absent: true,
        copy_if_match: true,
        copy_source_if_match: true,
    };

    /// Nothing enforced (a server that ignores conditional headers).
    pub const NONE: Capabilities = Capabilities {
        put_if_absent: false,
        put_if_match: false,
        delete_if_match: false,
        get_if_none_match: false,
        delete_if_exists: false,
        delete_many_if_match: false,
        copy_if_absent: false,
        copy_if_match: false,
        copy_source_if_match: false,
    };

    /// Whether `capability` is enforced. The conditions of multipart uploads are not part
    /// of these capabilities (S3 probes them on its first large conditional write), and
    /// [`Capability::Versioning`] is no conditional request and is not probed: they answer
    /// `false` here (a store answers its version operations with [`Error::Unsupported`]
    /// where it keeps no versions).
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::PutIfAbsent => self.put_if_absent,
            Capability::PutIfMatch => self.put_if_match,
            Capability::DeleteIfMatch => self.delete_if_match,
            Capability::GetIfNoneMatch => self.get_if_none_match,
            // Probed by the S3 store on its first large conditional write, not here.
            Capability::MultipartUpload
            | Capability::MultipartIfAbsent
            | Capability::MultipartIfMatch => false,
            Capability::CopyIfAbsent => self.copy_if_absent,
            Capability::CopyIfMatch => self.copy_if_match,
            Capability::CopySourceIfMatch => self.copy_source_if_match,
            // Not a conditional request: a store says whether it keeps versions when asked
            // for them.
            Capability::Versioning => false,
        }
    }

    /// Whether every conditional write (insert-if-absent, compare-and-swap,
    /// compare-and-delete) is atomic, so that all conditional operations work.
    pub fn conditional_writes(&self) -> bool {
        self.put_if_absent && self.put_if_match && self.delete_if_match
    }

    /// The capabilities in `required` that these lack.
    pub fn missing(&self, required: &[Capability]) -> Vec<Capability> {
        required.iter().copied().filter(|c| !self.has(*c)).collect()
    }
}

/// A description of a store, for messages and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreInfo {
    /// The backend kind: `"memory"`, `"file"`, `"s3"`, or a user's own.
    pub backend: &'static str,
    /// Where the objects live: a URL-like location (`file:///dir`, `s3://bucket/root`),
    /// optionally followed by a space and a note in parentheses (S3: ` (<endpoint>)`).
    /// [`Prefixed`] puts its prefix at the end of the URL part.
    pub location: String,
    /// Whether existing objects can never be overwritten or removed.
    pub append_only: bool,
    /// The longest name the store accepts, in bytes (S3: 1024 minus the root prefix).
    pub max_name_len: usize,
}

/// A byte-level object store: the whole interface a backend implements.
///
/// Names are `/`-separated and relative to the store's root; [`check_name`] says which
/// names are valid (the typed dictionary only makes valid ones). Every method is one
/// request on S3, except [`delete_many`](ObjectStore::delete_many) (one per 1000 names) and
/// [`list`](ObjectStore::list) (one per 1000 objects).
///
/// Requests whose answer tells whether a precondition held must tell it exactly: a store
/// that cannot enforce one answers [`Error::Unsupported`] instead. The trait is object-safe;
/// the crate holds stores as `Arc<dyn ObjectStore>`.
#[async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// Describes the store.
    fn info(&self) -> StoreInfo;

    /// Which conditional requests the store enforces (S3 probes them once per endpoint and
    /// bucket; memory and files enforce all).
    async fn capabilities(&self) -> Result<Capabilities>;

    /// Reads an object whole (one GET), or learns it is unchanged (304) or absent.
    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read>;

    /// The object's metadata without its body (one HEAD), or `None` when absent.
    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>>;

    /// Stores `body` under `name` if `condition` holds (one PUT).
    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult>;

    /// Reads an object as a stream of chunks, for values too large to hold in memory.
    ///
    /// The default reads the object whole with [`read`](ObjectStore::read). S3 sends
    /// ranged GETs, the first for up to one part and the rest pinned to its ETag
    /// (`If-Match`), a bounded number in flight; a small object is one GET either way.
    async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
        Ok(self.read(name, options).await?.into())
    }

    /// Stores the bytes of `chunks` under `name` if `condition` holds, for values too large
    /// to hold in memory. An error of the stream stores nothing.
    ///
    /// The default gathers the chunks and sends one [`write`](ObjectStore::write). S3
    /// sends one PUT below its multipart threshold and a multipart upload above it: parts
    /// uploaded in parallel (a bounded number in flight, so memory stays bounded whatever
    /// the size) and the condition on `CompleteMultipartUpload`; the upload is aborted on
    /// every failure.
    async fn write_stream(
        &self,
        name: &str,
        chunks: Chunks,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        let body = stream::collect(chunks, 0).await?;
        self.write(name, body, content_type, condition).await
    }

    /// Deletes `name` if `condition` holds (one DELETE).
    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult>;

    /// Every object whose name starts with `prefix`, in no particular order; objects
    /// written or deleted during the listing may or may not appear. The stream owns what
    /// it needs, so it can move into a spawned task.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>>;

    /// Deletes every name of `names` unconditionally (absent ones are not an error): S3
    /// sends one `DeleteObjects` per 1000 names, with bounded concurrency. On an error some
    /// objects may already be gone.
    async fn delete_many(&self, names: Vec<String>) -> Result<()>;

    /// Deletes each object of `objects` only if it still has the ETag paired with it; one
    /// result per pair, in order ([`DeleteResult::Refused`]: absent or another ETag). S3
    /// sends one `DeleteObjects` per 1000 objects where the server honours their ETags
    /// ([`Capabilities::delete_many_if_match`]), else one `DELETE If-Match` each. On an
    /// error some objects may already be gone.
    ///
    /// The default sends [`delete`](ObjectStore::delete) with
    /// [`DeleteCondition::IfMatch`] for each, [`DELETE_MANY_IF_IN_FLIGHT`] at a time: a
    /// store overrides it only to batch.
    async fn delete_many_if(&self, objects: Vec<(String, ETag)>) -> Result<Vec<DeleteResult>> {
        use futures::{StreamExt, TryStreamExt};
        futures::stream::iter(objects)
            .map(|(name, etag)| async move {
                self.delete(&name, DeleteCondition::IfMatch(etag)).await
            })
            .buffered(DELETE_MANY_IF_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// Copies the object `from` to `to` in this store if the source still has
    /// `source_etag` (when given) and `condition` holds for the destination; the copy is
    /// stored with `content_type`. One `CopyObject` on S3, the bytes staying on the
    /// server; see [`CopyResult`] for what it reports.
    ///
    /// The default reads the source and writes it ([`copy_by_reading`]): a store
    /// overrides it only to copy on the server.
    async fn copy(
        &self,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        copy_by_reading(
            self,
            self,
            from,
            to,
            source_etag.as_ref(),
            content_type,
            condition,
        )
        .await
    }

    /// Copies the object `from` of another store, `source`, to `to` in this one, as
    /// [`copy`](ObjectStore::copy) does. A store copies on the server where `source`
    /// tells where it keeps the object ([`copy_source`](ObjectStore::copy_source)) and the
    /// server can reach it (S3: the same endpoint); otherwise, and by default, it reads
    /// and writes ([`copy_by_reading`]).
    async fn copy_from(
        &self,
        source: &dyn ObjectStore,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        copy_by_reading(
            source,
            self,
            from,
            to,
            source_etag.as_ref(),
            content_type,
            condition,
        )
        .await
    }

    /// Where this store keeps the object `name`, for a server-side copy by another store
    /// ([`copy_from`](ObjectStore::copy_from)); `None` (the default): nowhere another
    /// store can copy from.
    fn copy_source(&self, name: &str) -> Option<CopySource> {
        let _ = name;
        None
    }

    /// Every version of the object `name`, delete markers included, the current one
    /// first, then newest first (S3: ⌈n/1000⌉ `ListObjectVersions`). The default, for
    /// stores that keep no versions: [`Error::Unsupported`] for
    /// [`Capability::Versioning`].
    async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
        let _ = name;
        Err(unsupported(Capability::Versioning, &self.info()))
    }

    /// Reads the version `version_id` of `name` whole (S3: one GET with `versionId`);
    /// [`Read::Absent`] for a version the object does not have or a delete marker. The
    /// default: [`Error::Unsupported`] for [`Capability::Versioning`].
    async fn read_version(
        &self,
        name: &str,
        version_id: &str,
        options: ReadOptions,
    ) -> Result<Read> {
        let _ = (name, version_id, options);
        Err(unsupported(Capability::Versioning, &self.info()))
    }

    /// Makes the version `version_id` of `name` current again, as a new version, if
    /// `condition` holds for the current one (S3: one `CopyObject` from `?versionId=`,
    /// see [`copy`](ObjectStore::copy)); [`CopyResult::SourceAbsent`] for a version the
    /// object does not have. The default: [`Error::Unsupported`] for
    /// [`Capability::Versioning`].
    async fn restore_version(
        &self,
        name: &str,
        version_id: &str,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        let _ = (name, version_id, content_type, condition);
        Err(unsupported(Capability::Versioning, &self.info()))
    }
}

/// How many conditional deletes the default [`ObjectStore::delete_many_if`] keeps in
/// flight.
pub const DELETE_MANY_IF_IN_FLIGHT: usize = 16;

/// Checks that `name` is a name a store accepts: non-empty, at most [`MAX_NAME_LEN`]
/// bytes, `/`-separated segments that are neither empty nor `.` or `..`, and no NUL or
/// backslash. Stores call it on every name they are given, so that no name escapes their
/// root.
pub fn check_name(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::Config(format!(
            "object name {name:?} is not valid: {why}"
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("it is over 1024 bytes");
    }
    if name.contains(['\0', '\\']) {
        return bad("it holds a NUL or a backslash");
    }
    if name
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return bad("a /-separated segment is empty, . or ..");
    }
    Ok(())
}

/// The error of a store asked for a precondition it cannot enforce.
pub fn unsupported(capability: Capability, info: &StoreInfo) -> Error {
    Error::Unsupported {
        capability,
        endpoint: info.location.clone(),
    }
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<S: ObjectStore + ?Sized> ObjectStore for $ty {
            fn info(&self) -> StoreInfo {
                (**self).info()
            }
            async fn capabilities(&self) -> Result<Capabilities> {
                (**self).capabilities().await
            }
            async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
                (**self).read(name, options).await
            }
            async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
                (**self).head(name).await
            }
            async fn write(
                &self,
                name: &str,
                body: Bytes,
                content_type: &str,
                condition: WriteCondition,
            ) -> Result<WriteResult> {
                (**self).write(name, body, content_type, condition).await
            }
            async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
                (**self).read_stream(name, options).await
            }
            async fn write_stream(
                &self,
                name: &str,
                chunks: Chunks,
                content_type: &str,
                condition: WriteCondition,
            ) -> Result<WriteResult> {
                (**self).write_stream(name, chunks, content_type, condition).await
            }
            async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
                (**self).delete(name, condition).await
            }
            fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
                (**self).list(prefix)
            }
            async fn delete_many(&self, names: Vec<String>) -> Result<()> {
                (**self).delete_many(names).await
            }
            async fn delete_many_if(
                &self,
                objects: Vec<(String, ETag)>,
            ) -> Result<Vec<DeleteResult>> {
                (**self).delete_many_if(objects).await
            }
            async fn copy(
                &self,
                from: &str,
                to: &str,
                source_etag: Option<ETag>,
                content_type: &str,
                condition: WriteCondition,
            ) -> Result<CopyResult> {
                (**self).copy(from, to, source_etag, content_type, condition).await
            }
            async fn copy_from(
                &self,
                source: &dyn ObjectStore,
                from: &str,
                to: &str,
                source_etag: Option<ETag>,
                content_type: &str,
                condition: WriteCondition,
            ) -> Result<CopyResult> {
                (**self)
                    .copy_from(source, from, to, source_etag, content_type, condition)
                    .await
            }
            fn copy_source(&self, name: &str) -> Option<CopySource> {
                (**self).copy_source(name)
            }
            async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
                (**self).versions(name).await
            }
            async fn read_version(
                &self,
                name: &str,
                version_id: &str,
                options: ReadOptions,
            ) -> Result<Read> {
                (**self).read_version(name, version_id, options).await
            }
            async fn restore_version(
                &self,
                name: &str,
                version_id: &str,
                content_type: &str,
                condition: WriteCondition,
            ) -> Result<CopyResult> {
                (**self)
                    .restore_version(name, version_id, content_type, condition)
                    .await
            }
        }
    )*};
}

forward_store!(Arc<S>, Box<S>);

/// Checks at compile time that stores can be shared between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + ?Sized>() {}
    assert_send_sync::<dyn ObjectStore>();
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_escape_or_are_empty_are_refused() {
        for bad in ["", "/a", "a/", "a//b", "../a", "a/./b", "a\\b", "a\0b"] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_name(&"a".repeat(1025)).is_err());
        for good in ["a", "a/b.bin", "x_y/..z.json", ".persidict-probe"] {
            assert!(check_name(good).is_ok(), "{good:?}");
        }
    }
}
