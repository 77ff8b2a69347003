//! Object versions, where a store keeps them (an S3 bucket with versioning on): what a
//! version is ([`ObjectVersion`]); the trait methods are
//! [`versions`](super::ObjectStore::versions),
//! [`read_version`](super::ObjectStore::read_version) and
//! [`restore_version`](super::ObjectStore::restore_version). Stores without versions
//! answer them with [`Error::Unsupported`](crate::Error::Unsupported) for
//! [`Capability::Versioning`](crate::Capability::Versioning).

use std::time::SystemTime;

use crate::cond::ETag;

/// One version of an object: a write, or a delete marker (what a delete leaves on a
/// versioned bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ObjectVersion {
    /// The version id, as the store gives it (opaque).
    pub version_id: String,
    /// The ETag of the bytes of this version; `None` for a delete marker.
    pub etag: Option<ETag>,
    /// The stored size in bytes (0 for a delete marker).
    pub size: u64,
    /// When the version was written (or the delete made).
    pub last_modified: SystemTime,
    /// Whether this is the current version (a current delete marker: the key is absent).
    pub is_latest: bool,
    /// Whether this version is a delete marker.
    pub is_delete_marker: bool,
}

impl ObjectVersion {
    /// A version with these fields (for stores of other crates).
    pub fn new(
        version_id: impl Into<String>,
        etag: Option<ETag>,
        size: u64,
        last_modified: SystemTime,
        is_latest: bool,
        is_delete_marker: bool,
    ) -> ObjectVersion {
        ObjectVersion {
            version_id: version_id.into(),
            etag,
            size,
            last_modified,
            is_latest,
            is_delete_marker,
        }
    }
}
