//! [`AppendOnly`]: a store whose objects, once written, are never replaced or removed.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use super::{
    Capabilities, Chunks, CopyResult, CopySource, DeleteCondition, DeleteResult, ObjectMeta,
    ObjectStore, ObjectVersion, Read, ReadOptions, ReadStream, StoreInfo, WriteCondition,
    WriteResult,
};
use crate::cond::ETag;
use crate::error::{Error, Result};

/// Forwards every request to `inner`, except those that would replace or remove an object:
///
/// | request | becomes |
/// |---|---|
/// | `write(Always)` | `write(IfAbsent)`; a refusal is [`Error::AppendOnly`] (`"overwrite"`) |
/// | `write(IfAbsent)` | forwarded: a refusal is an answer, not an error |
/// | `write(IfMatch(e))` | no write: one HEAD; [`Error::AppendOnly`] when `e` is current (the write would replace it), else [`WriteResult::Refused`] |
/// | `delete`, a non-empty `delete_many` | [`Error::AppendOnly`] (`"delete"`), nothing sent |
/// | `restore_version` | as `write` (it writes the old version anew) |
/// | `copy`, `copy_from` | as `write`: `Always` becomes `IfAbsent` (a refusal is [`Error::AppendOnly`]), `IfMatch(e)` one HEAD and no copy |
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

impl AppendOnly {
    /// The condition a copy to `to` is sent with: `IfAbsent` for `Always` and
    /// `IfAbsent`; for `IfMatch(e)` no copy (`None`) after one HEAD, or
    /// [`Error::AppendOnly`] when `e` is current (the copy would replace it).
    async fn insert_only(
        &self,
        to: &str,
        condition: WriteCondition,
    ) -> Result<Option<WriteCondition>> {
        match condition {
            WriteCondition::IfMatch(expected) => match self.inner.head(to).await? {
                Some(meta) if meta.etag.as_ref() == Some(&expected) => {
                    Err(refused(to, "overwrite"))
                }
                _ => Ok(None),
            },
            _ => Ok(Some(WriteCondition::IfAbsent)),
        }
    }
}

/// A refused copy asked as `Always` would have overwritten: [`Error::AppendOnly`].
fn refuse_overwrite(to: &str, asked: &WriteCondition, copied: CopyResult) -> Result<CopyResult> {
    match copied {
        CopyResult::Refused if *asked == WriteCondition::Always => Err(refused(to, "overwrite")),
        other => Ok(other),
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

    async fn copy(
        &self,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        let asked = condition.clone();
        let Some(condition) = self.insert_only(to, condition).await? else {
            return Ok(CopyResult::Refused);
        };
        let copied = self
            .inner
            .copy(from, to, source_etag, content_type, condition)
            .await?;
        refuse_overwrite(to, &asked, copied)
    }

    async fn copy_from(
        &self,
        source: &dyn ObjectStore,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        let asked = condition.clone();
        let Some(condition) = self.insert_only(to, condition).await? else {
            return Ok(CopyResult::Refused);
        };
        let copied = self
            .inner
            .copy_from(source, from, to, source_etag, content_type, condition)
            .await?;
        refuse_overwrite(to, &asked, copied)
    }

    fn copy_source(&self, name: &str) -> Option<CopySource> {
        self.inner.copy_source(name)
    }

    async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
        self.inner.versions(name).await
    }

    async fn read_version(
        &self,
        name: &str,
        version_id: &str,
        options: ReadOptions,
    ) -> Result<Read> {
        self.inner.read_version(name, version_id, options).await
    }

    async fn restore_version(
        &self,
        name: &str,
        version_id: &str,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        let asked = condition.clone();
        let Some(condition) = self.insert_only(name, condition).await? else {
            return Ok(CopyResult::Refused);
        };
        let restored = self
            .inner
            .restore_version(name, version_id, content_type, condition)
            .await?;
        refuse_overwrite(name, &asked, restored)
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
