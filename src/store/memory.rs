//! [`MemStore`]: objects in memory, the reference store.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};

use super::{
    check_name, Capabilities, DeleteCondition, DeleteResult, Object, ObjectMeta, ObjectStore, Read,
    ReadOptions, StoreInfo, WriteCondition, WriteResult, MAX_NAME_LEN,
};
use crate::cond::ETag;
use crate::error::Result;

#[derive(Debug, Clone)]
struct Entry {
    body: Bytes,
    etag: ETag,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct Objects {
    by_name: BTreeMap<String, Entry>,
    /// Grows on every write, so that every write gets a new ETag.
    version: u64,
}

/// Objects in a map in memory: the reference [`ObjectStore`]. Every request holds one lock
/// for its whole duration, so every precondition is enforced exactly. ETags are
/// `"m<version>"` from a counter that grows on every write. Clones share the objects.
#[derive(Debug, Clone, Default)]
pub struct MemStore {
    objects: Arc<Mutex<Objects>>,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> MemStore {
        MemStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Objects> {
        // A panic while holding the lock cannot leave a half-written entry (entries are
        // replaced whole), so a poisoned lock is safe to keep using.
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn meta(name: &str, e: &Entry) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        etag: Some(e.etag.clone()),
        size: e.body.len() as u64,
        last_modified: e.modified,
    }
}

#[async_trait]
impl ObjectStore for MemStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "memory",
            location: "mem://".into(),
            append_only: false,
            max_name_len: MAX_NAME_LEN,
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        check_name(name)?;
        let objects = self.lock();
        let Some(e) = objects.by_name.get(name) else {
            return Ok(Read::Absent);
        };
        if options.if_none_match.as_ref() == Some(&e.etag) {
            return Ok(Read::NotModified {
                etag: e.etag.clone(),
            });
        }
        let size = e.body.len() as u64;
        if options.max_size.is_some_and(|max| size > max) {
            return Ok(Read::TooLarge { size });
        }
        Ok(Read::Found(Object {
            meta: meta(name, e),
            body: e.body.clone(),
        }))
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        check_name(name)?;
        Ok(self.lock().by_name.get(name).map(|e| meta(name, e)))
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        _content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        check_name(name)?;
        let mut objects = self.lock();
        let current = objects.by_name.get(name).map(|e| &e.etag);
        if !condition.holds(current) {
            return Ok(WriteResult::Refused);
        }
        objects.version += 1;
        let etag = ETag::new(format!("\"m{}\"", objects.version));
        let entry = Entry {
            body,
            etag: etag.clone(),
            modified: SystemTime::now(),
        };
        objects.by_name.insert(name.to_owned(), entry);
        Ok(WriteResult::Written(etag))
    }

    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        check_name(name)?;
        let mut objects = self.lock();
        let current = objects.by_name.get(name).map(|e| &e.etag);
        if !condition.holds(current) {
            return Ok(DeleteResult::Refused);
        }
        objects.by_name.remove(name);
        Ok(DeleteResult::Deleted)
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        let snapshot: Vec<Result<ObjectMeta>> = self
            .lock()
            .by_name
            .range(prefix.to_owned()..)
            .take_while(|(name, _)| name.starts_with(prefix))
            .map(|(name, e)| Ok(meta(name, e)))
            .collect();
        stream::iter(snapshot).boxed()
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        for name in &names {
            check_name(name)?;
        }
        let mut objects = self.lock();
        for name in &names {
            objects.by_name.remove(name);
        }
        Ok(())
    }
}
