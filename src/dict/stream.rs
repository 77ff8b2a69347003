//! Streamed values of [`PersiDict`]: values too large to hold in memory, written from a
//! stream (or any [`AsyncRead`]) and read as one.
//!
//! A streamed value is the stored object's bytes, which is the value itself for the
//! [`Raw`](Codec::Raw) and [`Text`](Codec::Text) codecs, the only ones that stream (a
//! bincode or JSON value is decoded whole anyway). Text is checked to be UTF-8 as it
//! streams: a stream that is not stores nothing. The dictionary's `max_value_size` does
//! not apply: streaming is how values over it are written and read.
//!
//! A write carries one [`WriteCondition`] (write, insert-if-absent, compare-and-swap),
//! sent once: a stream cannot be replayed, so the read-modify-write loops of `put_if` and
//! `transform` have no streamed twin.

use bytes::Bytes;
use futures::stream::{self, StreamExt};
use tokio::io::AsyncRead;

use super::{PersiDict, Value};
use crate::codec::Codec;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::{
    chunks_from_reader, Chunks, ObjectStream, ReadOptions, ReadStream, WriteCondition, WriteResult,
};

impl<V: Value> PersiDict<V> {
    /// Stores the bytes of `chunks` as the value of `key` if `condition` holds. An error
    /// of the stream stores nothing.
    ///
    /// On S3 a value over the multipart threshold is a multipart upload, with the
    /// condition on its completion; memory stays bounded whatever its size (see
    /// [`MultipartSettings`](crate::s3::MultipartSettings)). Memory and file stores gather
    /// the value first.
    ///
    /// # Errors
    /// [`Error::Config`] for a codec other than raw or text; [`Error::Encode`] for text
    /// that is not UTF-8; [`Error::AppendOnly`] for an overwrite of an append-only
    /// dictionary; the store's errors.
    pub async fn put_stream(
        &self,
        key: &Key,
        chunks: Chunks,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        let codec = self.options.codec;
        let chunks = match codec {
            Codec::Raw => chunks,
            Codec::Text => utf8_checked(key, chunks),
            other => {
                return Err(Error::Config(format!(
                    "{key}: values of the {other:?} codec do not stream; use the raw or text codec"
                )))
            }
        };
        let name = self.object_name(key)?;
        self.store
            .write_stream(&name, chunks, codec.content_type(), condition)
            .await
            .map_err(|e| e.for_key(&name, key))
    }

    /// [`put_stream`](Self::put_stream) from `reader`, read to its end.
    ///
    /// # Errors
    /// As [`put_stream`](Self::put_stream); a read error is [`Error::Io`] naming `what`.
    pub async fn put_reader<R>(
        &self,
        key: &Key,
        reader: R,
        what: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult>
    where
        R: AsyncRead + Send + Unpin + 'static,
    {
        self.put_stream(key, chunks_from_reader(reader, what), condition)
            .await
    }

    /// The value of `key` as a stream of its stored bytes with the entry's metadata, or
    /// `None` when absent. [`ObjectStream::into_reader`] makes it an [`AsyncRead`].
    ///
    /// On S3 the value is read in ranged GETs pinned to one ETag, so a concurrent
    /// overwrite ends the stream with [`Error::ChangedWhileRead`] rather than mixing two
    /// versions. Memory and file stores read the value whole.
    ///
    /// # Errors
    /// [`Error::Config`] for a codec other than raw or text; the store's errors.
    pub async fn get_stream(&self, key: &Key) -> Result<Option<ObjectStream>> {
        let codec = self.options.codec;
        if !matches!(codec, Codec::Raw | Codec::Text) {
            return Err(Error::Config(format!(
                "{key}: values of the {codec:?} codec do not stream; use the raw or text codec"
            )));
        }
        let name = self.object_name(key)?;
        match self
            .store
            .read_stream(&name, ReadOptions::default())
            .await
            .map_err(|e| e.for_key(&name, key))?
        {
            ReadStream::Found(object) => Ok(Some(object)),
            ReadStream::Absent => Ok(None),
            other => Err(Error::backend(
                self.store.info().location,
                "GET",
                format!("{name}: a plain streamed read was answered {other:?}"),
                false,
            )),
        }
    }
}

/// `chunks`, ending with [`Error::Encode`] at the first byte that is not UTF-8. A
/// character split between chunks is checked once its end arrives.
fn utf8_checked(key: &Key, chunks: Chunks) -> Chunks {
    let key = key.clone();
    stream::unfold(
        (chunks, Vec::<u8>::new(), false),
        move |(mut chunks, mut carry, done)| {
            let key = key.clone();
            async move {
                if done {
                    return None;
                }
                let bad = |why: &str| Error::Encode {
                    key: key.clone(),
                    codec: "text",
                    reason: format!("the streamed text is not UTF-8: {why}"),
                };
                let Some(chunk) = chunks.next().await else {
                    return if carry.is_empty() {
                        None
                    } else {
                        Some((
                            Err(bad("it ends inside a character")),
                            (chunks, carry, true),
                        ))
                    };
                };
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(e) => return Some((Err(e), (chunks, carry, true))),
                };
                let checked = if carry.is_empty() {
                    chunk.clone()
                } else {
                    carry.extend_from_slice(&chunk);
                    Bytes::from(std::mem::take(&mut carry))
                };
                match std::str::from_utf8(&checked) {
                    Ok(_) => Some((Ok(checked), (chunks, carry, false))),
                    // Incomplete at the end: keep the tail for the next chunk.
                    Err(e) if e.error_len().is_none() => {
                        let valid = e.valid_up_to();
                        carry = checked[valid..].to_vec();
                        Some((Ok(checked.slice(..valid)), (chunks, carry, false)))
                    }
                    Err(e) => Some((
                        Err(bad(&format!(
                            "invalid byte at offset {} of a chunk",
                            e.valid_up_to()
                        ))),
                        (chunks, carry, true),
                    )),
                }
            }
        },
    )
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::chunks_from_bytes;

    async fn checked(parts: &[&[u8]]) -> Result<Vec<u8>> {
        let parts: Vec<Result<Bytes>> = parts
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        let mut out = Vec::new();
        let mut s = utf8_checked(&Key::parse_path("k").unwrap(), stream::iter(parts).boxed());
        while let Some(chunk) = s.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[tokio::test]
    async fn text_streams_are_checked_across_chunk_boundaries() {
        let euro = "€".as_bytes();
        assert_eq!(
            checked(&[b"a", &euro[..1], &euro[1..], b"b"])
                .await
                .unwrap(),
            "a€b".as_bytes()
        );
        assert!(checked(&[b"a", &euro[..2]]).await.is_err());
        assert!(checked(&[b"a\xff"]).await.is_err());
        let whole = utf8_checked(&Key::parse_path("k").unwrap(), chunks_from_bytes("plain"));
        assert_eq!(whole.count().await, 1);
    }
}
