//! A dictionary on any backend by name (`memory`, `file`, `seaweedfs`, `moto`, `rclone`),
//! for tests that run the same checks everywhere. Include with
//! `#[path = "common/backends.rs"] mod backends;` next to `mod common;`.
#![allow(dead_code)]

use persidict::store::MemStore;
use persidict::{DictOptions, FileDict, PersiDict, Value};

/// A fresh, empty dictionary on one backend, and what keeps it alive.
pub struct Backend<V> {
    pub dict: PersiDict<V>,
    /// The backend's name.
    pub name: &'static str,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh dictionary on `name` with `options` (codec, digest length, append-only), or
/// `None` when that S3 server is not configured (a failure under `PERSIDICT_REQUIRE_S3=1`).
pub async fn open_with<V: Value>(
    name: &'static str,
    test: &str,
    options: DictOptions,
) -> Option<Backend<V>> {
    let (dict, dir) = match name {
        "memory" => (
            PersiDict::with_options(std::sync::Arc::new(MemStore::new()), options)
                .expect("valid options"),
            None,
        ),
        "file" => {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let d: FileDict<V> = FileDict::builder(dir.path())
                .codec(options.codec)
                .digest_len(options.digest_len)
                .append_only(options.append_only)
                .build()
                .await
                .expect("a FileDict in a fresh directory");
            (d.into(), Some(dir))
        }
        s3 => {
            let server = crate::common::server(s3)?;
            let d: persidict::S3Dict<V> = crate::common::builder(&server, test)
                .codec(options.codec)
                .digest_len(options.digest_len)
                .append_only(options.append_only)
                .build()
                .await
                .unwrap_or_else(|e| panic!("opening an S3Dict on {s3}: {e}"));
            (d.into(), None)
        }
    };
    Some(Backend {
        dict,
        name,
        _dir: dir,
    })
}

/// A fresh dictionary on `name` with the default options.
pub async fn open<V: Value>(name: &'static str, test: &str) -> Option<Backend<V>> {
    open_with(name, test, DictOptions::default()).await
}

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use persidict::store::{
    DeleteCondition, DeleteResult, ObjectMeta, ObjectStore, Read, ReadOptions, StoreInfo,
    WriteCondition, WriteResult,
};
use persidict::{Capabilities, Result};

/// How many requests of each kind went through a [`Counting`] store (one store call is one
/// request on S3).
#[derive(Debug, Default)]
pub struct Counts {
    pub reads: AtomicU64,
    pub heads: AtomicU64,
    pub writes: AtomicU64,
    pub deletes: AtomicU64,
}

impl Counts {
    /// (reads, heads, writes, deletes) so far.
    pub fn get(&self) -> (u64, u64, u64, u64) {
        (
            self.reads.load(Ordering::SeqCst),
            self.heads.load(Ordering::SeqCst),
            self.writes.load(Ordering::SeqCst),
            self.deletes.load(Ordering::SeqCst),
        )
    }
}

/// Forwards everything to `inner`, counting the requests.
pub struct Counting {
    pub inner: Arc<dyn ObjectStore>,
    pub counts: Arc<Counts>,
}

#[async_trait]
impl ObjectStore for Counting {
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }
    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }
    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        self.counts.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read(name, options).await
    }
    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        self.counts.heads.fetch_add(1, Ordering::SeqCst);
        self.inner.head(name).await
    }
    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        self.counts.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.write(name, body, content_type, condition).await
    }
    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(name, condition).await
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        self.counts.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete_many(names).await
    }
}

/// `dict` with every request counted.
pub fn counted<V: Value>(dict: &PersiDict<V>) -> (PersiDict<V>, Arc<Counts>) {
    let counts = Arc::new(Counts::default());
    let store = Counting {
        inner: Arc::clone(dict.store()),
        counts: Arc::clone(&counts),
    };
    let d = PersiDict::with_options(Arc::new(store), dict.options()).expect("valid options");
    (d, counts)
}
