//! Version history of keys, on stores that keep versions (an S3 bucket with versioning
//! on): the audit-store use. Elsewhere each operation answers [`Error::Unsupported`] for
//! [`Capability::Versioning`](crate::Capability::Versioning).
//!
//! | operation | requests on S3 |
//! |---|---|
//! | [`versions`](PersiDict::versions) | ⌈n/1000⌉ ListObjectVersions |
//! | [`get_version`](PersiDict::get_version) | 1 GET `?versionId=` |
//! | [`restore_version`](PersiDict::restore_version) | 1 CopyObject from `?versionId=`, `If-Match: <current etag>` (or `If-None-Match: *` when the key is deleted); + 1 HEAD when refused |
//!
//! (+ one `GetBucketVersioning` on a store's first version operation.) On a versioned
//! bucket a delete removes no version: it adds a delete marker, listed by `versions`, and
//! an older version can be restored over it.

use super::{PersiDict, Value};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::{CopyResult, ObjectVersion, Read, ReadOptions, WriteCondition};

impl<V: Value> PersiDict<V> {
    /// Every version of `key`, delete markers included: the current one first, then
    /// newest first. Empty when the key never existed.
    ///
    /// # Errors
    /// [`Error::Unsupported`] where the store keeps no versions (memory, files, an S3
    /// bucket without versioning, rclone).
    #[doc(alias = "history")]
    pub async fn versions(&self, key: &Key) -> Result<Vec<ObjectVersion>> {
        let name = self.object_name(key)?;
        self.store.versions(&name).await
    }

    /// The value of `key` at the version `version_id`, or `None` when `key` has no such
    /// version or it is a delete marker.
    ///
    /// # Errors
    /// [`Error::Unsupported`] as for [`versions`](PersiDict::versions);
    /// [`Error::ValueTooLarge`] and [`Error::Decode`] as for `get`.
    pub async fn get_version(&self, key: &Key, version_id: &str) -> Result<Option<V>> {
        let name = self.object_name(key)?;
        let options = ReadOptions {
            if_none_match: None,
            max_size: Some(self.options.max_value_size),
        };
        match self.store.read_version(&name, version_id, options).await? {
            Read::Found(object) => Ok(Some(self.decode(key, object.body)?)),
            Read::TooLarge { size } => Err(Error::ValueTooLarge {
                key: key.clone(),
                size,
                max: self.options.max_value_size,
            }),
            Read::Absent | Read::NotModified { .. } => Ok(None),
        }
    }

    /// Makes the version `version_id` of `key` current again (as a new version, the
    /// history kept), as a compare-and-swap: only if the current version still has
    /// `current_etag`, or, with `None`, only if the key is absent now (deleted). On S3
    /// one `CopyObject` from the version, with `If-Match` or `If-None-Match: *` (where
    /// enforced: SeaweedFS and AWS; elsewhere [`Error::Unsupported`] unless the racy
    /// fallback is on). [`CopyResult::Refused`]: the key changed; nothing was written.
    /// [`CopyResult::SourceAbsent`]: no such version.
    ///
    /// # Errors
    /// [`Error::Unsupported`] as for [`versions`](PersiDict::versions) and for a store
    /// that cannot enforce the condition; [`Error::AppendOnly`] for a restore over an
    /// existing value of an append-only dictionary.
    #[doc(alias = "rollback")]
    pub async fn restore_version(
        &self,
        key: &Key,
        version_id: &str,
        current_etag: Option<&ETag>,
    ) -> Result<CopyResult> {
        let name = self.object_name(key)?;
        let condition = match current_etag {
            Some(etag) => WriteCondition::IfMatch(etag.clone()),
            None => WriteCondition::IfAbsent,
        };
        self.store
            .restore_version(
                &name,
                version_id,
                self.options.codec.content_type(),
                condition,
            )
            .await
            .map_err(|e| e.for_key(&name, key))
    }
}
