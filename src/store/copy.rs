//! Copies of objects inside one store and between stores: what a copy reports
//! ([`CopyResult`]), where a store keeps an object for a copy by another store
//! ([`CopySource`]), and the copy by reading and writing ([`copy_by_reading`]) that every
//! store without a server-side copy uses.
//!
//! A copy has two preconditions, like S3's `CopyObject`:
//!
//! | precondition | S3 header | when it does not hold |
//! |---|---|---|
//! | the source still has the ETag given | `x-amz-copy-source-if-match: <etag>` | [`CopyResult::SourceChanged`] |
//! | the destination's [`WriteCondition`] | `If-None-Match: *`, `If-Match: <etag>` | [`CopyResult::Refused`] |
//!
//! A missing source is [`CopyResult::SourceAbsent`]. When a precondition does not hold
//! nothing changes.

use bytes::Bytes;

use super::{ObjectStore, Read, ReadOptions, WriteCondition, WriteResult};
use crate::cond::ETag;
use crate::error::{Error, Result};

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum CopyResult {
    /// The destination holds a copy of the source, with this ETag.
    Copied(ETag),
    /// The destination's [`WriteCondition`] did not hold; nothing changed.
    Refused,
    /// No object has the source name; nothing changed.
    SourceAbsent,
    /// The source no longer has the ETag the copy was pinned to; nothing changed.
    SourceChanged,
}

impl CopyResult {
    /// The new ETag of the destination, when the copy was made.
    pub fn etag(&self) -> Option<&ETag> {
        match self {
            CopyResult::Copied(etag) => Some(etag),
            _ => None,
        }
    }

    /// Whether the copy was made.
    pub fn is_copied(&self) -> bool {
        matches!(self, CopyResult::Copied(_))
    }
}

/// Where a store keeps an object, so that another store of the same kind can copy it
/// without the bytes passing through the client (an S3 `CopyObject` with a copy source in
/// another bucket or under another root prefix on the same endpoint).
///
/// [`ObjectStore::copy_source`] gives one; stores that can copy only what they hold
/// themselves give none, and copies from them read and write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CopySource {
    /// The backend kind ([`StoreInfo::backend`](super::StoreInfo::backend)).
    pub backend: &'static str,
    /// What names the server and the account a copy must run on: for S3 the endpoint URL
    /// and region (`s3` for AWS's own endpoint).
    pub endpoint: String,
    /// The bucket (or another backend's container).
    pub bucket: String,
    /// The object's full key, root prefix included.
    pub key: String,
}

/// Copies `from` in `source` to `to` in `dest` by reading the source whole and writing it
/// with `condition` (one GET and one PUT on S3; the bytes pass through the client). The
/// default [`ObjectStore::copy`] and [`ObjectStore::copy_from`].
///
/// The destination's condition is as atomic as `dest`'s [`write`](ObjectStore::write)
/// makes it; the source is pinned by comparing the ETag of the bytes read with
/// `source_etag`, so the copy is always of that version.
///
/// # Errors
/// What the read or the write report.
pub async fn copy_by_reading<S, D>(
    source: &S,
    dest: &D,
    from: &str,
    to: &str,
    source_etag: Option<&ETag>,
    content_type: &str,
    condition: WriteCondition,
) -> Result<CopyResult>
where
    S: ObjectStore + ?Sized,
    D: ObjectStore + ?Sized,
{
    let object = match source.read(from, ReadOptions::default()).await? {
        Read::Found(object) => object,
        Read::Absent => return Ok(CopyResult::SourceAbsent),
        other => {
            return Err(Error::backend(
                source.info().location,
                "GET",
                format!("{from}: a read without conditions or limits answered {other:?}"),
                false,
            ))
        }
    };
    if source_etag.is_some_and(|pinned| object.etag() != Some(pinned)) {
        return Ok(CopyResult::SourceChanged);
    }
    let body: Bytes = object.body;
    Ok(match dest.write(to, body, content_type, condition).await? {
        WriteResult::Written(etag) => CopyResult::Copied(etag),
        WriteResult::Refused => CopyResult::Refused,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemStore;

    #[tokio::test]
    async fn a_copy_by_reading_checks_both_preconditions() {
        let a = MemStore::new();
        let b = MemStore::new();
        let ct = "application/octet-stream";
        let WriteResult::Written(e1) = a
            .write("x", Bytes::from_static(b"1"), ct, WriteCondition::Always)
            .await
            .unwrap()
        else {
            panic!("written")
        };
        let stale = ETag::new("\"stale\"");
        let copy = |from: &'static str, pinned: Option<ETag>, condition| {
            let (a, b) = (a.clone(), b.clone());
            async move {
                copy_by_reading(&a, &b, from, "y", pinned.as_ref(), ct, condition)
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            copy("missing", None, WriteCondition::Always).await,
            CopyResult::SourceAbsent
        );
        assert_eq!(
            copy("x", Some(stale.clone()), WriteCondition::Always).await,
            CopyResult::SourceChanged
        );
        let first = copy("x", Some(e1.clone()), WriteCondition::IfAbsent).await;
        assert!(first.is_copied(), "{first:?}");
        assert_eq!(
            copy("x", None, WriteCondition::IfAbsent).await,
            CopyResult::Refused
        );
        assert_eq!(
            copy("x", None, WriteCondition::IfMatch(stale)).await,
            CopyResult::Refused
        );
        let now = first.etag().cloned().unwrap();
        assert!(copy("x", None, WriteCondition::IfMatch(now))
            .await
            .is_copied());
    }
}
