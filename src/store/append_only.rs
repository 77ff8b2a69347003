//! [`AppendOnly`]: a store whose objects, once written, are never replaced or removed.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use super::{
    Capabilities, Chunks, DeleteCondition, DeleteResult, ObjectMeta, ObjectStore, Read,
    ReadOptions, ReadStream, StoreInfo, WriteCondition, WriteResult,
};
use crate::error::{Error, Result};

/// Forwards every request to `inner`, except those that would replace or remove an object:
///
/// | request | becomes |
/// |---|---|
/// | `write(Always)` | `write(IfAbsent)`; a refusal is [`Error::AppendOnly`] (`"overwrite"`) |
/// | `write(IfAbsent)` | forwarded: a refusal is an answer, not an error |
/// | `write(IfMatch(e))` | no write: one HEAD; [`Error::AppendOnly`] when `e` is current (the write would replace it), else [`WriteResult::Refused`] |
/// | `delete`, a non-empty `delete_many` | [`Error::AppendOnly`] (`"delete"`), nothing sent |
///
/// On a store that enforces insert-if-absent this holds against every concurrent writer;
/// elsewhere the store's own answer ([`Error::Unsupported`]) comes through.
#[derive(Debug, Clone)]
pub struct AppendOnly {
    inner: Arc<dyn ObjectStore>,
}

impl AppendOnly {
    /// `inner`, append-only.
    pub fn new(inner: Arc<dyn ObjectStore>) -> AppendOnly {
        AppendOnly { inner }
    }
}

fn refused(name: &str, operation: &'static str) -> Error {
    Error::AppendOnly {
        key: name.to_owned(),
        operation,
    }
}

#[async_trait]
impl ObjectStore for AppendOnly {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            append_only: true,
            ..self.inner.info()
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        self.inner.read(name, options).await
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        self.inner.head(name).await
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        match condition {
            WriteCondition::Always => {
                match self
                    .inner
                    .write(name, body, content_type, WriteCondition::IfAbsent)
                    .await?
                {
                    WriteResult::Refused => Err(refused(name, "overwrite")),
                    written => Ok(written),
                }
            }
            WriteCondition::IfMatch(expected) => match self.inner.head(name).await? {
                Some(meta) if meta.etag.as_ref() == Some(&expected) => {
                    Err(refused(name, "overwrite"))
                }
                _ => Ok(WriteResult::Refused),
            },
            other => self.inner.write(name, body, content_type, other).await,
        }
    }

    async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
        self.inner.read_stream(name, options).await
    }

    async fn write_stream(
        &self,
        name: &str,
        chunks: Chunks,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        match condition {
            // An insert streams through; the rest are refused as `write` refuses them,
            // without reading the stream.
            WriteCondition::Always => match self
                .inner
                .write_stream(name, chunks, content_type, WriteCondition::IfAbsent)
                .await?
            {
                WriteResult::Refused => Err(refused(name, "overwrite")),
                written => Ok(written),
            },
            WriteCondition::IfAbsent => {
                self.inner
                    .write_stream(name, chunks, content_type, WriteCondition::IfAbsent)
                    .await
            }
            other => self.write(name, Bytes::new(), content_type, other).await,
        }
    }

    async fn delete(&self, name: &str, _condition: DeleteCondition) -> Result<DeleteResult> {
        Err(refused(name, "delete"))
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        match names.first() {
            Some(name) => Err(refused(name, "delete")),
            None => Ok(()),
        }
    }
}
