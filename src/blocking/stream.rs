//! Streamed values in the blocking API: [`PersiDict::put_reader`] from any
//! [`std::io::Read`], [`PersiDict::put_stream`] from chunks, and
//! [`PersiDict::get_stream`], a [`std::io::Read`] over a value.

use bytes::{Buf, Bytes, BytesMut};
use futures::StreamExt;

use super::{block_on, run, PersiDict};
use crate::dict::Value;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::{Chunks, ObjectMeta, WriteCondition, WriteResult, READER_CHUNK};

/// Chunks the thread reading `reader` keeps ready ahead of the upload.
const READ_AHEAD: usize = 4;

impl<V: Value> PersiDict<V> {
    /// [`PersiDict::put_reader`](crate::PersiDict::put_reader) from a blocking reader,
    /// read to its end on a thread of its own (a few chunks ahead of the upload, so memory
    /// stays bounded); a read error is [`Error::Io`] naming `what`.
    pub fn put_reader<R>(
        &self,
        key: &Key,
        reader: R,
        what: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult>
    where
        R: std::io::Read + Send + 'static,
    {
        let chunks = read_on_a_thread(reader, what.to_owned());
        run(
            "PersiDict::put_reader",
            self.as_async().put_stream(key, chunks, condition),
        )
    }

    /// [`PersiDict::put_stream`](crate::PersiDict::put_stream): the bytes of `chunks`.
    pub fn put_stream(
        &self,
        key: &Key,
        chunks: Chunks,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        run(
            "PersiDict::put_stream",
            self.as_async().put_stream(key, chunks, condition),
        )
    }

    /// [`PersiDict::get_stream`](crate::PersiDict::get_stream) as a blocking reader: the
    /// entry's metadata and its bytes, fetched as they are read; `None` when absent.
    pub fn get_stream(&self, key: &Key) -> Result<Option<(ObjectMeta, ValueReader)>> {
        let object = run("PersiDict::get_stream", self.as_async().get_stream(key))?;
        Ok(object.map(|o| {
            (
                o.meta,
                ValueReader {
                    chunks: o.chunks,
                    current: Bytes::new(),
                },
            )
        }))
    }
}

/// A value's bytes as a [`std::io::Read`] ([`PersiDict::get_stream`]); each read waits
/// for the next chunk when the last one is used up. An error of the stream becomes an
/// [`std::io::Error`] that wraps it.
///
/// # Panics
/// `read` panics on a thread inside a tokio runtime (see the [module docs](super)).
pub struct ValueReader {
    chunks: Chunks,
    current: Bytes,
}

impl std::fmt::Debug for ValueReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueReader").finish_non_exhaustive()
    }
}

impl std::io::Read for ValueReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            let next = block_on("ValueReader::read", self.chunks.next())
                .map_err(|e| std::io::Error::other(Box::new(e)))?;
            match next {
                None => return Ok(0),
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(Box::new(e))),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}

/// Chunks of `reader`, read on a thread of its own at most [`READ_AHEAD`] chunks ahead.
fn read_on_a_thread<R: std::io::Read + Send + 'static>(mut reader: R, what: String) -> Chunks {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes>>(READ_AHEAD);
    std::thread::spawn(move || loop {
        let mut buf = BytesMut::zeroed(READER_CHUNK);
        let mut filled = 0;
        let read = loop {
            match reader.read(&mut buf[filled..]) {
                Ok(0) => break Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        break Ok(filled);
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(source) => {
                    break Err(Error::Io {
                        path: what.clone(),
                        source,
                    })
                }
            }
        };
        let (item, last) = match read {
            Ok(0) => return,
            Ok(n) => {
                buf.truncate(n);
                (Ok(buf.freeze()), n < READER_CHUNK)
            }
            Err(e) => (Err(e), true),
        };
        // The receiver is gone when the write gave up: stop reading.
        if tx.blocking_send(item).is_err() || last {
            return;
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}
