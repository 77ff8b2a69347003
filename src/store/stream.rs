//! Values as streams of chunks: [`ObjectStore::read_stream`] and
//! [`ObjectStore::write_stream`], for values too large to hold in memory.
//!
//! A [`Chunks`] stream carries a value's bytes in order. A store that streams (S3: ranged
//! GETs and multipart uploads) keeps only a bounded number of chunks in memory whatever
//! the value's size; the default methods of the trait, which memory and file stores use,
//! gather the value whole and read or write it in one piece.
//!
//! [`chunks_from_reader`] turns any [`AsyncRead`] (a file, stdin, a socket) into chunks,
//! and [`ObjectStream::into_reader`] turns a read stream back into an [`AsyncRead`].

use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{Object, ObjectMeta, Read};
use crate::cond::ETag;
use crate::error::{Error, Result};

/// A value's bytes, in order, as a stream of chunks of any size. An error ends the
/// stream: a write fed by it stores nothing.
pub type Chunks = BoxStream<'static, Result<Bytes>>;

/// How many bytes [`chunks_from_reader`] reads into each chunk.
pub const READER_CHUNK: usize = 256 * 1024;

/// An object being read as a stream: its metadata, then its bytes.
pub struct ObjectStream {
    /// Its metadata (the ETag is always set). `size` is the stored size, which the chunks
    /// add up to.
    pub meta: ObjectMeta,
    /// Its bytes, in order. A store that reads in several requests pins them all to
    /// `meta.etag`: if the object is replaced meanwhile, the stream ends with
    /// [`Error::ChangedWhileRead`] instead of mixing two versions.
    pub chunks: Chunks,
}

impl std::fmt::Debug for ObjectStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStream")
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
}

impl ObjectStream {
    /// A stream of one object read whole.
    pub fn from_object(object: Object) -> ObjectStream {
        let body = object.body;
        ObjectStream {
            meta: object.meta,
            chunks: stream::iter((!body.is_empty()).then_some(Ok(body))).boxed(),
        }
    }

    /// The object's ETag.
    pub fn etag(&self) -> Option<&ETag> {
        self.meta.etag.as_ref()
    }

    /// The bytes as an [`AsyncRead`]; an error of the stream becomes an
    /// [`std::io::Error`] that wraps it.
    pub fn into_reader(self) -> impl AsyncRead + Send + Unpin + 'static {
        tokio_util::io::StreamReader::new(
            self.chunks
                .map(|chunk| chunk.map_err(|e| std::io::Error::other(Box::new(e)))),
        )
    }

    /// Gathers the whole value into memory.
    ///
    /// # Errors
    /// The stream's first error.
    pub async fn collect(self) -> Result<Object> {
        let body = collect(self.chunks, self.meta.size).await?;
        Ok(Object {
            meta: ObjectMeta {
                size: body.len() as u64,
                ..self.meta
            },
            body,
        })
    }
}

/// What [`ObjectStore::read_stream`](super::ObjectStore::read_stream) found: [`Read`]
/// with a stream in place of the body.
#[derive(Debug)]
#[must_use]
pub enum ReadStream {
    /// No object has this name.
    Absent,
    /// The object still has the ETag given in
    /// [`ReadOptions::if_none_match`](super::ReadOptions::if_none_match).
    NotModified {
        /// That ETag.
        etag: ETag,
    },
    /// The object, as a stream.
    Found(ObjectStream),
    /// The object is larger than
    /// [`ReadOptions::max_size`](super::ReadOptions::max_size); nothing was transferred.
    TooLarge {
        /// Its size in bytes.
        size: u64,
    },
}

impl From<Read> for ReadStream {
    fn from(read: Read) -> ReadStream {
        match read {
            Read::Absent => ReadStream::Absent,
            Read::NotModified { etag } => ReadStream::NotModified { etag },
            Read::Found(object) => ReadStream::Found(ObjectStream::from_object(object)),
            Read::TooLarge { size } => ReadStream::TooLarge { size },
        }
    }
}

/// Reads `reader` to its end as chunks of up to [`READER_CHUNK`] bytes. A read error ends
/// the stream with [`Error::Io`] naming `what` (a path, `stdin`).
pub fn chunks_from_reader<R>(reader: R, what: impl Into<String>) -> Chunks
where
    R: AsyncRead + Send + Unpin + 'static,
{
    let what = what.into();
    stream::try_unfold((reader, what), |(mut reader, what)| async move {
        let mut buf = BytesMut::with_capacity(READER_CHUNK);
        while buf.len() < READER_CHUNK {
            match reader.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Io {
                        path: what.clone(),
                        source,
                    })
                }
            }
        }
        Ok((!buf.is_empty()).then(|| (buf.freeze(), (reader, what))))
    })
    .boxed()
}

/// Chunks of one buffer held in memory.
pub fn chunks_from_bytes(body: impl Into<Bytes>) -> Chunks {
    let body = body.into();
    stream::iter((!body.is_empty()).then_some(Ok(body))).boxed()
}

/// Gathers `chunks` into one buffer (`size_hint`: the expected size, to allocate once).
pub(crate) async fn collect(mut chunks: Chunks, size_hint: u64) -> Result<Bytes> {
    let first = match chunks.next().await {
        None => return Ok(Bytes::new()),
        Some(first) => first?,
    };
    let Some(second) = chunks.next().await else {
        // One chunk: no copy.
        return Ok(first);
    };
    let mut buf = BytesMut::with_capacity(
        usize::try_from(size_hint)
            .unwrap_or(0)
            .max(first.len() + 4096)
            .min(1 << 30),
    );
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second?);
    while let Some(chunk) = chunks.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_becomes_chunks_and_back() {
        let data: Vec<u8> = (0..READER_CHUNK * 2 + 17).map(|i| i as u8).collect();
        let chunks = chunks_from_reader(std::io::Cursor::new(data.clone()), "memory");
        let sizes: Vec<usize> = chunks.map(|c| c.unwrap().len()).collect::<Vec<_>>().await;
        assert_eq!(sizes, vec![READER_CHUNK, READER_CHUNK, 17]);
        let chunks = chunks_from_reader(std::io::Cursor::new(data.clone()), "memory");
        assert_eq!(collect(chunks, 0).await.unwrap(), Bytes::from(data));
        let empty = chunks_from_reader(std::io::Cursor::new(Vec::new()), "memory");
        assert!(collect(empty, 0).await.unwrap().is_empty());
    }
}
