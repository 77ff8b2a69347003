//! [`Prefixed`]: a store seen below a name prefix (subdictionaries).

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{
    Capabilities, Chunks, CopyResult, CopySource, DeleteCondition, DeleteResult, ObjectMeta,
    ObjectStore, ObjectVersion, Read, ReadOptions, ReadStream, StoreInfo, WriteCondition,
    WriteResult,
};
use crate::cond::ETag;
use crate::error::{Error, Result};

/// The objects of `inner` whose names start with `prefix`, with the prefix removed: every
/// request is forwarded with the prefix put in front of the name, and listings strip it.
/// Subdictionaries are typed dictionaries over a `Prefixed` store.
#[derive(Debug, Clone)]
pub struct Prefixed {
    inner: Arc<dyn ObjectStore>,
    /// Empty, or ends in `/`.
    prefix: String,
}

impl std::fmt::Debug for dyn ObjectStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStore")
            .field("location", &self.info().location)
            .finish()
    }
}

impl Prefixed {
    /// `inner` below `prefix` (`/` is added at the end if missing).
    pub fn new(inner: Arc<dyn ObjectStore>, prefix: &str) -> Prefixed {
        let mut prefix = prefix.trim_end_matches('/').to_owned();
        if !prefix.is_empty() {
            prefix.push('/');
        }
        Prefixed { inner, prefix }
    }

    /// The prefix, empty or ending in `/`.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    fn full(&self, name: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + name.len());
        s.push_str(&self.prefix);
        s.push_str(name);
        s
    }

    /// `e` with the object name it reports (append-only refusals, write-once conflicts,
    /// unknown outcomes) made
    /// relative to this store again, so that the dictionary above recognises its own name.
    fn relative(&self, e: Error) -> Error {
        let strip = |name: String| match name.strip_prefix(&self.prefix) {
            Some(rest) if !self.prefix.is_empty() => rest.to_owned(),
            _ => name,
        };
        match e {
            Error::AppendOnly { key, operation } => Error::AppendOnly {
                key: strip(key),
                operation,
            },
            Error::WriteOnceConflict { key } => Error::WriteOnceConflict { key: strip(key) },
            Error::OutcomeUnknown {
                key,
                operation,
                reason,
            } => Error::OutcomeUnknown {
                key: strip(key),
                operation,
                reason,
            },
            other => other,
        }
    }
}

/// `read` with the object named `name` (relative to the prefix) again.
fn relative_read(read: Read, name: &str) -> Read {
    match read {
        Read::Found(mut object) => {
            object.meta.name = name.to_owned();
            Read::Found(object)
        }
        other => other,
    }
}

#[async_trait]
impl ObjectStore for Prefixed {
    fn info(&self) -> StoreInfo {
        let mut info = self.inner.info();
        // The prefix goes at the end of the URL part, before a note such as S3's
        // ` (<endpoint>)`.
        let (url, note) = info
            .location
            .split_at(info.location.find(" (").unwrap_or(info.location.len()));
        info.location = format!(
            "{}/{}{note}",
            url.trim_end_matches('/'),
            self.prefix.trim_end_matches('/')
        );
        info.max_name_len = info.max_name_len.saturating_sub(self.prefix.len());
        info
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        let read = self.inner.read(&self.full(name), options).await?;
        Ok(relative_read(read, name))
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        Ok(self.inner.head(&self.full(name)).await?.map(|mut meta| {
            meta.name = name.to_owned();
            meta
        }))
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        self.inner
            .write(&self.full(name), body, content_type, condition)
            .await
            .map_err(|e| self.relative(e))
    }

    async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
        let read = self.inner.read_stream(&self.full(name), options).await?;
        Ok(match read {
            ReadStream::Found(mut object) => {
                object.meta.name = name.to_owned();
                ReadStream::Found(object)
            }
            other => other,
        })
    }

    async fn write_stream(
        &self,
        name: &str,
        chunks: Chunks,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        self.inner
            .write_stream(&self.full(name), chunks, content_type, condition)
            .await
            .map_err(|e| self.relative(e))
    }

    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        self.inner
            .delete(&self.full(name), condition)
            .await
            .map_err(|e| self.relative(e))
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        let cut = self.prefix.len();
        self.inner
            .list(&self.full(prefix))
            .map_ok(move |mut meta| {
                meta.name.drain(..cut.min(meta.name.len()));
                meta
            })
            .boxed()
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        let names = names.iter().map(|n| self.full(n)).collect();
        self.inner
            .delete_many(names)
            .await
            .map_err(|e| self.relative(e))
    }

    async fn delete_many_if(&self, objects: Vec<(String, ETag)>) -> Result<Vec<DeleteResult>> {
        let objects = objects
            .into_iter()
            .map(|(n, e)| (self.full(&n), e))
            .collect();
        self.inner
            .delete_many_if(objects)
            .await
            .map_err(|e| self.relative(e))
    }

    async fn copy(
        &self,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        self.inner
            .copy(
                &self.full(from),
                &self.full(to),
                source_etag,
                content_type,
                condition,
            )
            .await
            .map_err(|e| self.relative(e))
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
        self.inner
            .copy_from(
                source,
                from,
                &self.full(to),
                source_etag,
                content_type,
                condition,
            )
            .await
            .map_err(|e| self.relative(e))
    }

    fn copy_source(&self, name: &str) -> Option<CopySource> {
        self.inner.copy_source(&self.full(name))
    }

    async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
        self.inner.versions(&self.full(name)).await
    }

    async fn read_version(
        &self,
        name: &str,
        version_id: &str,
        options: ReadOptions,
    ) -> Result<Read> {
        let read = self
            .inner
            .read_version(&self.full(name), version_id, options)
            .await?;
        Ok(relative_read(read, name))
    }

    async fn restore_version(
        &self,
        name: &str,
        version_id: &str,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        self.inner
            .restore_version(&self.full(name), version_id, content_type, condition)
            .await
            .map_err(|e| self.relative(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{AppendOnly, MemStore};

    #[tokio::test]
    async fn refusals_below_the_prefix_name_the_relative_object() {
        let root: Arc<dyn ObjectStore> = Arc::new(AppendOnly::new(Arc::new(MemStore::new())));
        let sub = Prefixed::new(root, "tenant/a");
        let body = Bytes::from_static(b"1");
        let written = sub
            .write("k.bin", body.clone(), "text/plain", WriteCondition::Always)
            .await
            .expect("the first write inserts");
        assert!(matches!(written, WriteResult::Written(_)));
        for result in [
            sub.write("k.bin", body, "text/plain", WriteCondition::Always)
                .await
                .map(drop),
            sub.delete("k.bin", DeleteCondition::Always).await.map(drop),
            sub.delete_many(vec!["k.bin".into()]).await,
        ] {
            match result {
                Err(Error::AppendOnly { key, .. }) => assert_eq!(key, "k.bin"),
                other => panic!("expected Error::AppendOnly, got {other:?}"),
            }
        }
    }
}
