//! Multipart copies: a source too large for one `CopyObject` (over 5 GiB on S3, or over
//! [`MultipartSettings::copy_threshold`](super::MultipartSettings::copy_threshold)) copied in parts with `UploadPartCopy`, the bytes
//! staying on the server.
//!
//! | step | request |
//! |---|---|
//! | learn the source | HEAD of the source (its size and ETag) |
//! | begin | `CreateMultipartUpload` on the destination, with a fresh write id (and the lineage of a compare-and-swap), the content type and the object settings |
//! | each part | `UploadPartCopy` of a range of `copy_part_size` bytes, `x-amz-copy-source-if-match: <the source's ETag>`, `parts_in_flight` at a time |
//! | end | `CompleteMultipartUpload`, with the destination's condition (`If-None-Match: *` or `If-Match`) |
//! | on any failure or refusal | `AbortMultipartUpload` |
//!
//! Every part is pinned to the ETag the HEAD found (or the one the caller pinned), so a
//! source replaced midway gives [`CopyResult::SourceChanged`] and nothing is written. The
//! destination's condition needs the multipart capabilities (probed once, see
//! [`multipart`](super::multipart)), or the racy fallback.
//!
//! With the default `copy_threshold` (5 GiB) a copy is sent as one `CopyObject` at once,
//! and only a source the server refuses as too large for it (AWS: `400 InvalidRequest`,
//! "The specified copy source is larger than the maximum allowable size for a copy
//! source") is copied in parts; with a lower threshold every copy first HEADs its source.

use super::copy::{source_head, CopyFrom};
use super::multipart::{PartSource, Upload};
use super::store::S3Store;
use crate::cond::{ETag, Lineage};
use crate::error::{Error, Result};
use crate::store::{CopyResult, WriteCondition, WriteResult};

/// Whether `e` is the server's refusal of a `CopyObject` whose source is too large for it.
pub(crate) fn too_large(e: &Error) -> bool {
    matches!(e, Error::Backend { message, .. }
        if message.contains("copy source is larger than the maximum allowable size"))
}

/// What a multipart copy writes: the destination and its condition.
pub(crate) struct PartCopy<'a> {
    /// The destination's store name.
    pub(crate) name: &'a str,
    /// The destination's object key.
    pub(crate) key: &'a str,
    /// The source's ETag the caller pinned the copy to, if any.
    pub(crate) source_etag: Option<ETag>,
    pub(crate) content_type: &'a str,
    pub(crate) condition: WriteCondition,
}

/// The source's size and ETag, or the result that ends the copy before it begins (the
/// source is absent, or not the version the caller pinned).
pub(crate) async fn source(
    store: &S3Store,
    from: &CopyFrom,
    pinned: Option<&ETag>,
) -> Result<std::result::Result<(ETag, u64), CopyResult>> {
    Ok(match source_head(store.s3_client(), from).await? {
        None => Err(CopyResult::SourceAbsent),
        Some((now, _)) if pinned.is_some_and(|p| *p != now) => Err(CopyResult::SourceChanged),
        Some(found) => Ok(found),
    })
}

/// Copies `from` (of `size` bytes with ETag `etag`) to `to` in parts.
pub(crate) async fn copy(
    store: &S3Store,
    from: &CopyFrom,
    (etag, size): (ETag, u64),
    to: PartCopy<'_>,
) -> Result<CopyResult> {
    let complete = store.multipart_complete(&to.condition).await?;
    let lineage = Lineage::new(
        &super::client::new_write_id(),
        complete.replaces().and_then(ETag::lineage),
    );
    let settings = store.multipart_settings();
    let upload = Upload {
        client: store.s3_client(),
        settings,
        name: to.name,
        key: to.key,
        content_type: to.content_type,
        lineage: &lineage,
        append_only: store.is_append_only(),
    };
    let source = PartSource {
        header: from.header(),
        size,
        etag: to.source_etag.clone().unwrap_or(etag),
        part_size: settings.copy_part_size,
    };
    match upload.run_copy(&source, complete).await {
        Ok(WriteResult::Written(etag)) => Ok(CopyResult::Copied(etag)),
        Ok(WriteResult::Refused) => Ok(CopyResult::Refused),
        Err(Error::ChangedWhileRead { .. }) => Ok(CopyResult::SourceChanged),
        Err(e) => Err(e),
    }
}
