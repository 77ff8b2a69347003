//! Streamed reads: a value read in ranged GETs, every range after the first pinned to the
//! first one's ETag.
//!
//! | step | request |
//! |---|---|
//! | first | GET `Range: bytes=0-<part_size - 1>` (with `If-None-Match` when asked): the metadata, the size, the ETag and the first part |
//! | each further part | GET `Range: bytes=<start>-<end>`, `If-Match: <that ETag>`, up to `parts_in_flight` at a time |
//!
//! An object of up to one part is one GET. A further range refused with 412 (the object
//! was replaced meanwhile), or answered with another ETag by a server that ignores
//! `If-Match`, ends the stream with [`Error::ChangedWhileRead`]: a stream never mixes two
//! versions. The first part streams as it arrives; each further part is read whole
//! before it is handed on, so memory stays near `part_size × parts_in_flight`.

use aws_sdk_s3::primitives::ByteStream;
use bytes::Bytes;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::classify::{classify, Answer};
use super::client::{lineage, system_time, Got, Head, S3Client};
use super::multipart::MultipartSettings;
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::store::{Chunks, ObjectMeta, ObjectStream, ReadOptions, ReadStream};

/// Reads `key` (store name `name`) as a stream of chunks.
pub(crate) async fn read(
    client: &S3Client,
    settings: &MultipartSettings,
    name: &str,
    key: &str,
    options: ReadOptions,
) -> Result<ReadStream> {
    let part = settings.part_size;
    let mut request = client
        .sdk
        .get_object()
        .bucket(&client.bucket)
        .key(key)
        .range(format!("bytes=0-{}", part - 1));
    if let Some(e) = &options.if_none_match {
        request = request.if_none_match(e.as_str());
    }
    let out = match request.send().await {
        Ok(out) => out,
        Err(e) => {
            let status = e.raw_response().map(|r| r.status().as_u16());
            return match classify(&e) {
                Answer::NotFound => Ok(ReadStream::Absent),
                Answer::NotModified if options.if_none_match.is_some() => {
                    Ok(ReadStream::NotModified {
                        etag: options.if_none_match.expect("checked above"),
                    })
                }
                // An empty object has no byte 0: read it whole.
                _ if status == Some(416) => whole(client, name, key, options).await,
                _ => Err(client.error("GET", e)),
            };
        }
    };
    let length = out.content_length().unwrap_or(0).max(0) as u64;
    // `bytes 0-<end>/<size>`; without it the server sent the whole object.
    let size = out
        .content_range()
        .and_then(|r| r.rsplit_once('/'))
        .and_then(|(_, total)| total.parse::<u64>().ok())
        .unwrap_or(length);
    if options.max_size.is_some_and(|max| size > max) {
        return Ok(ReadStream::TooLarge { size });
    }
    let head = Head {
        etag: client
            .etag("GET", key, out.e_tag())?
            .with_lineage(lineage(out.metadata())),
        size,
        last_modified: system_time(out.last_modified()),
    };
    let first = body_chunks(client.clone(), key.to_owned(), out.body);
    let chunks: Chunks = if length >= size {
        first
    } else {
        let ranges = (length..size).step_by(part as usize).map(move |start| {
            let end = (start + part).min(size) - 1;
            (start, end)
        });
        let (client, key, etag) = (client.clone(), key.to_owned(), head.etag.clone());
        let rest = stream::iter(ranges)
            .map(move |(start, end)| {
                let (client, key, etag) = (client.clone(), key.clone(), etag.clone());
                async move { range(&client, &key, &etag, start, end).await }
            })
            .buffered(settings.parts_in_flight);
        first.chain(rest).boxed()
    };
    Ok(ReadStream::Found(ObjectStream {
        meta: ObjectMeta {
            name: name.to_owned(),
            etag: Some(head.etag),
            size,
            last_modified: head.last_modified,
        },
        chunks,
    }))
}

/// An empty (or range-less) object, read with one plain GET.
async fn whole(
    client: &S3Client,
    name: &str,
    key: &str,
    options: ReadOptions,
) -> Result<ReadStream> {
    Ok(
        match client
            .get(key, options.if_none_match.as_ref(), options.max_size)
            .await?
        {
            Got::Absent => ReadStream::Absent,
            Got::NotModified => ReadStream::NotModified {
                etag: options
                    .if_none_match
                    .expect("a 304 is only taken for a GET with If-None-Match"),
            },
            Got::TooLarge { size } => ReadStream::TooLarge { size },
            Got::Found { head, body } => {
                ReadStream::Found(ObjectStream::from_object(crate::store::Object {
                    meta: ObjectMeta {
                        name: name.to_owned(),
                        etag: Some(head.etag),
                        size: head.size,
                        last_modified: head.last_modified,
                    },
                    body,
                }))
            }
        },
    )
}

/// One further range, pinned to `etag`, read whole.
async fn range(client: &S3Client, key: &str, etag: &ETag, start: u64, end: u64) -> Result<Bytes> {
    let changed = || Error::ChangedWhileRead {
        object: key.to_owned(),
        etag: etag.as_str().to_owned(),
    };
    let out = client
        .sdk
        .get_object()
        .bucket(&client.bucket)
        .key(key)
        .range(format!("bytes={start}-{end}"))
        .if_match(etag.as_str())
        .send()
        .await
        .map_err(|e| match classify(&e) {
            Answer::PreconditionFailed | Answer::NotFound => changed(),
            _ => client.error("GET", e),
        })?;
    // A server that ignores If-Match answers with whatever is there now.
    if out.e_tag() != Some(etag.as_str()) {
        return Err(changed());
    }
    let body = body_chunks(client.clone(), key.to_owned(), out.body)
        .try_fold(
            Vec::with_capacity((end - start + 1) as usize),
            |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            },
        )
        .await?;
    if body.len() as u64 != end - start + 1 {
        return Err(Error::backend(
            client.endpoint.clone(),
            "GET",
            format!(
                "{key}: bytes {start}-{end} came back as {} bytes",
                body.len()
            ),
            true,
        ));
    }
    Ok(Bytes::from(body))
}

/// An answer's body as chunks; a failure while reading it is a retryable error.
fn body_chunks(client: S3Client, key: String, body: ByteStream) -> Chunks {
    stream::try_unfold(body, move |mut body| {
        let (client, key) = (client.clone(), key.clone());
        async move {
            match body.next().await {
                None => Ok(None),
                Some(Ok(chunk)) => Ok(Some((chunk, body))),
                Some(Err(e)) => Err(client.body_error(&key, e)),
            }
        }
    })
    .boxed()
}
