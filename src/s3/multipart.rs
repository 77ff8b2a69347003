//! Multipart uploads: values written from a stream, in parts, with the write's condition
//! on `CompleteMultipartUpload`.
//!
//! [`S3Store`](crate::S3Store)'s `write_stream` gathers up to
//! [`MultipartSettings::threshold`] bytes; a stream that ends by then is one PUT. A longer
//! one is uploaded in parts of [`MultipartSettings::part_size`] bytes, at most
//! [`MultipartSettings::parts_in_flight`] at a time, so memory stays near
//! `threshold + part_size × (parts_in_flight + 1)` whatever the value's size:
//!
//! | step | request |
//! |---|---|
//! | begin | `CreateMultipartUpload`, with the write id (and the lineage of a compare-and-swap), content type and object settings |
//! | each part | `UploadPart` (the SDK retries it: a part may be sent again) |
//! | end | `CompleteMultipartUpload`, with `If-None-Match: *` (insert) or `If-Match: <etag>` (compare-and-swap) |
//! | on any failure, refusal or cancellation | `AbortMultipartUpload` |
//!
//! The conditional `CompleteMultipartUpload` goes through the same send loop as a
//! conditional PUT, and an answer lost on it is settled the same way, by the write id
//! (see the README's section on reliability). Whether the server enforces the two conditions on
//! `CompleteMultipartUpload` is probed once per endpoint and bucket, on the first
//! conditional multipart write ([`probe`]); declared capabilities
//! ([`S3DictBuilder::capabilities`](crate::S3DictBuilder::capabilities)) are
//! taken to cover multipart uploads too.
//!
//! An upload is aborted on every path that does not complete it: a failed part, an error
//! of the value's stream, a refused condition, an error on completion, and a write future
//! dropped midway (then the abort runs in a task of its own). A process killed midway
//! leaves the parts to the bucket's lifecycle rule for incomplete uploads.

pub mod probe;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use md5::{Digest, Md5};
use tokio::task::JoinSet;
use tracing::debug;

use super::client::{Attempted, Lost, S3Client, UnsignedBody, WRITE_CHAIN, WRITE_ID};
use super::resolve::{self, ConditionalPut, Made};
use crate::cond::{ETag, Lineage};
use crate::error::{Capability, Error, Result};
use crate::store::{Chunks, WriteResult};

/// The smallest part S3 accepts (except the last).
pub const MIN_PART_SIZE: u64 = 5 << 20;
/// The largest part S3 accepts, and the largest single PUT.
pub const MAX_PART_SIZE: u64 = 5 << 30;
/// The most parts one upload may have.
pub const MAX_PARTS: u64 = 10_000;

/// How values are written from a stream and read as one
/// ([`S3DictBuilder::multipart`](crate::S3DictBuilder::multipart), URL parameters
/// `multipart_threshold`, `part_size`, `parts_in_flight`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MultipartSettings {
    /// A streamed value longer than this many bytes is a multipart upload; up to it, one
    /// PUT (default 16 MiB, at most 5 GiB).
    pub threshold: u64,
    /// The size of each part, and of each ranged GET of a streamed read (default 8 MiB;
    /// 5 MiB to 5 GiB). An upload has at most 10,000 parts, so this caps a streamed value
    /// at `part_size × 10,000` (78 GiB by default).
    pub part_size: u64,
    /// Parts uploaded, ranges read, or parts copied at the same time (default 4).
    pub parts_in_flight: usize,
    /// A server-side copy of a larger source is a multipart copy (`UploadPartCopy`); up to
    /// it, one `CopyObject` (default and most: 5 GiB, the largest `CopyObject`). Below
    /// 5 GiB, each copy first HEADs its source to learn its size; at 5 GiB a copy is sent
    /// at once, and a source the server finds too large is copied in parts after a HEAD.
    pub copy_threshold: u64,
    /// The size of each part of a multipart copy (default 512 MiB; 5 MiB to 5 GiB): the
    /// bytes stay on the server, so large parts only save requests.
    pub copy_part_size: u64,
}

impl Default for MultipartSettings {
    fn default() -> Self {
        MultipartSettings {
            threshold: 16 << 20,
            part_size: 8 << 20,
            parts_in_flight: 4,
            copy_threshold: MAX_PART_SIZE,
            copy_part_size: 512 << 20,
        }
    }
}

impl MultipartSettings {
    /// Checks the settings against S3's limits.
    ///
    /// # Errors
    /// [`Error::Config`] naming the setting out of range.
    pub fn check(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Config(format!("multipart settings: {why}")));
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.part_size) {
            return bad(format!(
                "part_size {} is not between 5 MiB and 5 GiB",
                self.part_size
            ));
        }
        if self.threshold > MAX_PART_SIZE {
            return bad(format!(
                "threshold {} is over 5 GiB, the largest single PUT",
                self.threshold
            ));
        }
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&self.copy_part_size) {
            return bad(format!(
                "copy_part_size {} is not between 5 MiB and 5 GiB",
                self.copy_part_size
            ));
        }
        if self.copy_threshold > MAX_PART_SIZE {
            return bad(format!(
                "copy_threshold {} is over 5 GiB, the largest CopyObject",
                self.copy_threshold
            ));
        }
        if !(1..=256).contains(&self.parts_in_flight) {
            return bad(format!(
                "parts_in_flight {} is not between 1 and 256",
                self.parts_in_flight
            ));
        }
        Ok(())
    }
}

/// One multipart write: where it goes and what it records.
pub(crate) struct Upload<'a> {
    pub(crate) client: &'a S3Client,
    pub(crate) settings: &'a MultipartSettings,
    /// The store name, for errors.
    pub(crate) name: &'a str,
    pub(crate) key: &'a str,
    pub(crate) content_type: &'a str,
    /// The write id first, then the ids of the version a compare-and-swap replaces.
    pub(crate) lineage: &'a Lineage,
    pub(crate) append_only: bool,
}

/// The source of a multipart copy.
pub(crate) struct PartSource {
    /// The `x-amz-copy-source` header (percent-encoded `bucket/key`, maybe `?versionId=`).
    pub(crate) header: String,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// Its ETag: every part is copied only from this version.
    pub(crate) etag: ETag,
    /// The size of each copied part.
    pub(crate) part_size: u64,
}

/// The precondition of the completion, already known to be enforced (or emulated).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Complete<'a> {
    Always,
    IfAbsent,
    IfMatch(&'a ETag),
    /// Racy: a HEAD checks the condition (`None`: absent), then an unconditional
    /// completion follows.
    Emulated(Option<&'a ETag>),
}

impl<'a> Complete<'a> {
    /// The version a compare-and-swap replaces, whose write ids its lineage records.
    pub(crate) fn replaces(&self) -> Option<&'a ETag> {
        match *self {
            Complete::IfMatch(e) | Complete::Emulated(Some(e)) => Some(e),
            _ => None,
        }
    }
}

/// An upload that has begun: aborted when dropped unless completed.
struct Pending {
    client: S3Client,
    key: String,
    upload_id: String,
    open: bool,
}

impl Pending {
    async fn abort(mut self) {
        self.open = false;
        abort(&self.client, &self.key, &self.upload_id).await;
    }

    fn completed(mut self) {
        self.open = false;
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        // Dropped midway (the write's future was dropped): abort in a task of its own.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (client, key, id) = (
                self.client.clone(),
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.upload_id),
            );
            runtime.spawn(async move { abort(&client, &key, &id).await });
        }
    }
}

/// Aborts an upload; a failure is logged (the bucket's lifecycle rule is the last resort).
async fn abort(client: &S3Client, key: &str, upload_id: &str) {
    let aborted = client
        .sdk
        .abort_multipart_upload()
        .bucket(&client.bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await;
    if let Err(e) = aborted {
        debug!(object = %key, upload_id, error = %client.error("AbortMultipartUpload", e), "aborting a multipart upload failed");
    }
}

impl Upload<'_> {
    /// Uploads `first` and the rest of `chunks` as parts and completes the upload under
    /// `complete`.
    pub(crate) async fn run(
        &self,
        first: BytesMut,
        chunks: Chunks,
        complete: Complete<'_>,
    ) -> Result<WriteResult> {
        self.with_parts(complete, |id| self.send_parts(id, first, chunks))
            .await
    }

    /// Copies `source` into the upload's object part by part (`UploadPartCopy`, the bytes
    /// staying on the server) and completes it under `complete`. A source that changed
    /// while its parts were copied is [`Error::ChangedWhileRead`].
    pub(crate) async fn run_copy(
        &self,
        source: &PartSource,
        complete: Complete<'_>,
    ) -> Result<WriteResult> {
        self.with_parts(complete, |id| self.copy_parts(id, source))
            .await
    }

    /// Begins the upload, adds its parts with `parts`, completes it under `complete`, and
    /// aborts it on every other path.
    async fn with_parts<F, P>(&self, complete: Complete<'_>, parts: F) -> Result<WriteResult>
    where
        F: FnOnce(String) -> P,
        P: std::future::Future<Output = Result<Vec<CompletedPart>>>,
    {
        let pending = self.begin().await?;
        let parts = match parts(pending.upload_id.clone()).await {
            Ok(parts) => parts,
            Err(e) => {
                pending.abort().await;
                return Err(e);
            }
        };
        match self.complete(&pending, parts, complete).await {
            Ok(WriteResult::Written(etag)) => {
                pending.completed();
                Ok(WriteResult::Written(etag))
            }
            other => {
                pending.abort().await;
                other
            }
        }
    }

    async fn begin(&self) -> Result<Pending> {
        let request = self
            .client
            .sdk
            .create_multipart_upload()
            .bucket(&self.client.bucket)
            .key(self.key)
            .content_type(self.content_type)
            .metadata(WRITE_ID, self.lineage.own());
        let request = match self.lineage.before() {
            "" => request,
            before => request.metadata(WRITE_CHAIN, before),
        };
        let out = self
            .client
            .objects
            .apply_multipart(request)
            .send()
            .await
            .map_err(|e| create_error(self.client, self.key, e))?;
        let upload_id =
            out.upload_id()
                .filter(|id| !id.is_empty())
                .ok_or_else(|| Error::NotS3 {
                    endpoint: self.client.endpoint.clone(),
                    operation: "CreateMultipartUpload".into(),
                    message: format!("its answer for {} has no upload id", self.key),
                })?;
        Ok(Pending {
            client: self.client.clone(),
            key: self.key.to_owned(),
            upload_id: upload_id.to_owned(),
            open: true,
        })
    }

    /// Cuts the value into parts and uploads them, a bounded number at a time; the
    /// completed parts in order.
    async fn send_parts(
        &self,
        upload_id: String,
        mut buf: BytesMut,
        mut chunks: Chunks,
    ) -> Result<Vec<CompletedPart>> {
        let part_size = usize::try_from(self.settings.part_size).unwrap_or(usize::MAX);
        let mut in_flight: JoinSet<Result<CompletedPart>> = JoinSet::new();
        let mut parts = Vec::new();
        let mut number = 0u64;
        let mut ended = false;
        while !ended || !buf.is_empty() {
            while !ended && buf.len() < part_size {
                match chunks.next().await {
                    Some(chunk) => buf.extend_from_slice(&chunk?),
                    None => ended = true,
                }
            }
            if buf.is_empty() {
                break;
            }
            let body = buf.split_to(buf.len().min(part_size)).freeze();
            if buf.capacity() < part_size && !ended {
                buf.reserve(part_size - buf.len());
            }
            number += 1;
            if number > MAX_PARTS {
                return Err(Error::Config(format!(
                    "{}: the value is longer than {MAX_PARTS} parts of {} bytes; raise the part size",
                    self.name, self.settings.part_size
                )));
            }
            while in_flight.len() >= self.settings.parts_in_flight {
                parts.push(joined(in_flight.join_next().await)?);
            }
            in_flight.spawn(upload_part(
                self.client.clone(),
                self.key.to_owned(),
                upload_id.clone(),
                number as i32,
                body,
            ));
        }
        while let Some(part) = in_flight.join_next().await {
            parts.push(joined(Some(part))?);
        }
        parts.sort_by_key(|p| p.part_number());
        Ok(parts)
    }

    /// Copies the source in ranges of `source.part_size`, a bounded number at a time, each
    /// pinned to the source's ETag; the completed parts in order.
    async fn copy_parts(
        &self,
        upload_id: String,
        source: &PartSource,
    ) -> Result<Vec<CompletedPart>> {
        let part = source.part_size.max(1);
        let count = source.size.div_ceil(part).max(1);
        if count > MAX_PARTS {
            return Err(Error::Config(format!(
                "{}: a copy of {} bytes needs over {MAX_PARTS} parts of {part} bytes; raise copy_part_size",
                self.name, source.size
            )));
        }
        let ranges = (0..count).map(|i| {
            let start = i * part;
            let end = (start + part).min(source.size).saturating_sub(1);
            (i as i32 + 1, start, end)
        });
        let copies = ranges.map(|(number, start, end)| {
            let (client, key, id) = (self.client.clone(), self.key.to_owned(), upload_id.clone());
            async move {
                let out = client
                    .sdk
                    .upload_part_copy()
                    .bucket(&client.bucket)
                    .key(&key)
                    .upload_id(id)
                    .part_number(number)
                    .copy_source(&source.header)
                    .copy_source_range(format!("bytes={start}-{end}"))
                    .copy_source_if_match(source.etag.as_str())
                    .send()
                    .await
                    .map_err(|e| match super::classify::classify(&e) {
                        super::classify::Answer::PreconditionFailed
                        | super::classify::Answer::NotFound => Error::ChangedWhileRead {
                            object: source.header.clone(),
                            etag: source.etag.as_str().to_owned(),
                        },
                        _ => client.error("UploadPartCopy", e),
                    })?;
                let etag = client.etag(
                    "UploadPartCopy",
                    &key,
                    out.copy_part_result().and_then(|r| r.e_tag()),
                )?;
                Ok::<_, Error>(
                    CompletedPart::builder()
                        .part_number(number)
                        .e_tag(etag.as_str())
                        .build(),
                )
            }
        });
        futures::stream::iter(copies)
            .buffered(self.settings.parts_in_flight)
            .collect::<Vec<Result<CompletedPart>>>()
            .await
            .into_iter()
            .collect()
    }

    async fn complete(
        &self,
        pending: &Pending,
        parts: Vec<CompletedPart>,
        complete: Complete<'_>,
    ) -> Result<WriteResult> {
        let made = multipart_etag(&parts);
        let written = |etag: ETag| {
            Ok(WriteResult::Written(
                etag.with_lineage(Some(self.lineage.clone())),
            ))
        };
        let request = || {
            self.client
                .sdk
                .complete_multipart_upload()
                .bucket(&self.client.bucket)
                .key(self.key)
                .upload_id(&pending.upload_id)
                .multipart_upload(
                    CompletedMultipartUpload::builder()
                        .set_parts(Some(parts.clone()))
                        .build(),
                )
        };
        let if_match = match complete {
            Complete::Always => None,
            Complete::Emulated(expected) => {
                let current = self.client.head(self.key).await?.map(|h| h.etag);
                if current.as_ref() != expected {
                    return Ok(WriteResult::Refused);
                }
                None
            }
            Complete::IfAbsent => Some(None),
            Complete::IfMatch(e) => Some(Some(e)),
        };
        let Some(if_match) = if_match else {
            let out = request()
                .send()
                .await
                .map_err(|e| self.client.error("CompleteMultipartUpload", e))?;
            return written(
                self.client
                    .etag("CompleteMultipartUpload", self.key, out.e_tag())?,
            );
        };
        let (capability, refused): (Capability, fn(&super::classify::Answer) -> bool) =
            match if_match {
                Some(_) => (Capability::MultipartIfMatch, |a| {
                    use super::classify::Answer;
                    matches!(a, Answer::PreconditionFailed | Answer::NotFound)
                }),
                None => (Capability::MultipartIfAbsent, |a| {
                    matches!(a, super::classify::Answer::PreconditionFailed)
                }),
            };
        let put = ConditionalPut {
            name: self.name,
            key: self.key,
            made: Made::Multipart(&made),
            lineage: self.lineage,
            replaces: if_match,
            append_only: self.append_only,
        };
        let client = self.client;
        let sent = client
            .conditional(
                "CompleteMultipartUpload",
                self.key,
                capability,
                refused,
                || {
                    let request = request();
                    let request = match if_match {
                        Some(e) => request.if_match(e.as_str()),
                        None => request.if_none_match("*"),
                    };
                    request
                        .customize()
                        .config_override(super::client::no_sdk_retries(
                            aws_sdk_s3::config::Builder::new(),
                        ))
                        .send()
                },
                client.timeouts.bounds(),
                |why| resolve::put(client, &put, why),
            )
            .await?;
        match sent {
            Attempted::Applied(out) => {
                written(client.etag("CompleteMultipartUpload", self.key, out.e_tag())?)
            }
            Attempted::Settled(result) => Ok(result),
            Attempted::Refused { after_lost: false } => Ok(WriteResult::Refused),
            Attempted::Refused { after_lost: true } => {
                let why = "an earlier attempt's answer was lost, then a later one was refused";
                match resolve::put(client, &put, why.into()).await? {
                    Lost::Settled(result) => Ok(result),
                    Lost::Resend => Ok(WriteResult::Refused),
                }
            }
        }
    }
}

/// The error of a failed `CreateMultipartUpload`. A success whose answer is not S3's
/// (rclone names its root element differently) means the endpoint takes no multipart
/// upload the SDK can follow: [`Error::Unsupported`].
pub(crate) fn create_error<E>(
    client: &S3Client,
    key: &str,
    e: aws_sdk_s3::error::SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Error
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if e.raw_response().is_some_and(|r| r.status().is_success()) {
        debug!(object = %key, error = %client.error("CreateMultipartUpload", e), "no multipart uploads here");
        return Error::Unsupported {
            capability: Capability::MultipartUpload,
            endpoint: client.endpoint.clone(),
        };
    }
    client.error("CreateMultipartUpload", e)
}

/// One part, sent with the SDK's retries (sending a part again replaces it).
async fn upload_part(
    client: S3Client,
    key: String,
    upload_id: String,
    number: i32,
    body: Bytes,
) -> Result<CompletedPart> {
    let len = body.len();
    let out = client
        .sdk
        .upload_part()
        .bucket(&client.bucket)
        .key(&key)
        .upload_id(upload_id)
        .part_number(number)
        .body(ByteStream::from(body))
        .customize()
        .config_override(client.timeouts.put_override(len))
        .signed_if(client.sign_payload)
        .send()
        .await
        .map_err(|e| client.error_within("UploadPart", e, client.timeouts.put_bounds(len)))?;
    let etag = client.etag("UploadPart", &key, out.e_tag())?;
    Ok(CompletedPart::builder()
        .part_number(number)
        .e_tag(etag.as_str())
        .build())
}

/// A finished part task's result.
fn joined(
    part: Option<std::result::Result<Result<CompletedPart>, tokio::task::JoinError>>,
) -> Result<CompletedPart> {
    match part {
        Some(Ok(part)) => part,
        Some(Err(e)) => Err(Error::backend(
            "s3",
            "UploadPart",
            format!("the part upload task ended abnormally: {e}"),
            false,
        )),
        None => Err(Error::backend(
            "s3",
            "UploadPart",
            "no part upload was in flight".to_owned(),
            false,
        )),
    }
}

/// The ETag S3 gives a completed multipart upload (unencrypted or SSE-S3): the MD5 of the
/// parts' MD5s, a dash and the number of parts. Used only to name the version a write
/// made when its answer was lost and it has been built upon since.
fn multipart_etag(parts: &[CompletedPart]) -> ETag {
    let mut digest = Md5::new();
    for part in parts {
        let hex = part.e_tag().unwrap_or_default().trim_matches('"');
        if let Ok(raw) = data_encoding::HEXLOWER_PERMISSIVE.decode(hex.as_bytes()) {
            digest.update(raw);
        }
    }
    ETag::new(format!(
        "\"{}-{}\"",
        data_encoding::HEXLOWER.encode(&digest.finalize()),
        parts.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_out_of_range_are_refused() {
        assert!(MultipartSettings::default().check().is_ok());
        for bad in [
            MultipartSettings {
                part_size: 1 << 20,
                ..Default::default()
            },
            MultipartSettings {
                threshold: 6 << 30,
                ..Default::default()
            },
            MultipartSettings {
                parts_in_flight: 0,
                ..Default::default()
            },
        ] {
            assert!(bad
                .check()
                .unwrap_err()
                .to_string()
                .contains("multipart settings"));
        }
    }

    #[test]
    fn the_multipart_etag_is_the_digest_of_the_part_digests() {
        // Two parts whose MD5s are known: the ETag of their upload, as S3 computes it.
        let part = |n, body: &[u8]| {
            CompletedPart::builder()
                .part_number(n)
                .e_tag(format!(
                    "\"{}\"",
                    data_encoding::HEXLOWER.encode(&Md5::digest(body))
                ))
                .build()
        };
        let parts = [part(1, b"a"), part(2, b"b")];
        let mut both = Vec::new();
        both.extend_from_slice(&Md5::digest(b"a"));
        both.extend_from_slice(&Md5::digest(b"b"));
        let want = format!(
            "\"{}-2\"",
            data_encoding::HEXLOWER.encode(&Md5::digest(&both))
        );
        assert_eq!(multipart_etag(&parts).as_str(), want);
    }
}
