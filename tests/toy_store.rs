//! A complete byte-level backend in a few dozen lines, passing the whole contract suite:
//! what a new backend needs to implement, and nothing more.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use persidict::contract::{Fixture, FixtureOptions};
use persidict::store::{DeleteCondition, DeleteResult, Object, ObjectMeta, Read, ReadOptions};
use persidict::store::{StoreInfo, WriteCondition, WriteResult, MAX_NAME_LEN};
use persidict::{Capabilities, DictOptions, ETag, ObjectStore, PersiDict, Result, Value};

/// Objects in a map behind one lock; ETags from a counter.
#[derive(Default)]
struct ToyStore {
    objects: Mutex<HashMap<String, Entry>>,
    counter: AtomicU64,
}
type Entry = (Bytes, ETag, SystemTime);

fn meta(name: &str, (body, etag, modified): &Entry) -> ObjectMeta {
    ObjectMeta {
        name: name.to_owned(),
        etag: Some(etag.clone()),
        size: body.len() as u64,
        last_modified: *modified,
    }
}

#[async_trait::async_trait]
impl ObjectStore for ToyStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "toy",
            location: "toy://".into(),
            append_only: false,
            max_name_len: MAX_NAME_LEN,
        }
    }
    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }
    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        let objects = self.objects.lock().unwrap();
        let Some((body, etag, _)) = objects.get(name) else {
            return Ok(Read::Absent);
        };
        let size = body.len() as u64;
        Ok(if options.if_none_match.as_ref() == Some(etag) {
            Read::NotModified { etag: etag.clone() }
        } else if options.max_size.is_some_and(|max| size > max) {
            Read::TooLarge { size }
        } else {
            let (meta, body) = (meta(name, &objects[name]), body.clone());
            Read::Found(Object { meta, body })
        })
    }
    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        let objects = self.objects.lock().unwrap();
        Ok(objects.get(name).map(|e| meta(name, e)))
    }
    async fn write(&self, n: &str, b: Bytes, _: &str, c: WriteCondition) -> Result<WriteResult> {
        let mut objects = self.objects.lock().unwrap();
        if !c.holds(objects.get(n).map(|e| &e.1)) {
            return Ok(WriteResult::Refused);
        }
        let version = self.counter.fetch_add(1, Ordering::Relaxed);
        let etag = ETag::new(format!("\"t{version}\""));
        objects.insert(n.to_owned(), (b, etag.clone(), SystemTime::now()));
        Ok(WriteResult::Written(etag))
    }
    async fn delete(&self, name: &str, c: DeleteCondition) -> Result<DeleteResult> {
        let mut objects = self.objects.lock().unwrap();
        if !c.holds(objects.get(name).map(|e| &e.1)) {
            return Ok(DeleteResult::Refused);
        }
        objects.remove(name);
        Ok(DeleteResult::Deleted)
    }
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        let objects = self.objects.lock().unwrap();
        let all = objects.iter().filter(|(n, _)| n.starts_with(prefix));
        let all: Vec<_> = all.map(|(n, e)| Ok(meta(n, e))).collect();
        stream::iter(all).boxed()
    }
    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        let mut objects = self.objects.lock().unwrap();
        names.iter().for_each(|n| drop(objects.remove(n)));
        Ok(())
    }
}

/// A fresh toy store for every dictionary the suite opens.
struct ToyFixture;

#[async_trait::async_trait]
impl Fixture for ToyFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        let (codec, append_only) = (options.codec, options.append_only);
        let options = DictOptions {
            codec,
            append_only,
            ..Default::default()
        };
        PersiDict::with_options(Arc::new(ToyStore::default()), options).expect("valid options")
    }

    fn enforces(&self) -> Capabilities {
        Capabilities::ALL
    }
}

/// An in-memory backend: the test names say `memory`.
mod toy_memory_store {
    use super::ToyFixture;
    persidict::contract_tests!(ToyFixture);
}
