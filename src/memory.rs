//! [`MemDict`]: the in-memory reference implementation.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::{Capabilities, DictInfo, EntryMeta, PersiDict, Value};
use crate::error::{Error, Result};
use crate::key::Key;

#[derive(Debug, Clone)]
struct Entry {
    bytes: Arc<[u8]>,
    etag: ETag,
    modified: SystemTime,
}

#[derive(Debug, Default)]
struct Store {
    /// Entries by codec extension and full key parts, so that dictionaries of different
    /// codecs sharing a store do not see each other's entries (as with object names).
    entries: BTreeMap<(&'static str, Vec<String>), Entry>,
    version: u64,
}

/// An in-memory dictionary: the reference implementation of [`PersiDict`].
///
/// Values go through the codec like on any other backend, so type and codec errors show up
/// in tests exactly as they would on S3. Every operation holds one lock for its whole
/// duration, so conditional operations are atomic. ETags are `"m<version>"` from a
/// counter that grows on every write, so they change whenever content is written. Clones
/// and subdictionaries share the same store.
///
/// ```
/// # tokio_test::block_on(async {
/// use persidict::prelude::*;
/// let d = MemDict::<String>::new();
/// let k = Key::new(["greetings", "en"])?;
/// d.put(&k, "hello".to_string()).await?;
/// assert_eq!(d.get(&k).await?, "hello");
/// # Ok::<(), persidict::Error>(()) }).unwrap();
/// ```
pub struct MemDict<V> {
    store: Arc<Mutex<Store>>,
    prefix: Vec<String>,
    codec: Codec,
    append_only: bool,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for MemDict<V> {
    fn clone(&self) -> Self {
        MemDict {
            store: Arc::clone(&self.store),
            prefix: self.prefix.clone(),
            codec: self.codec,
            append_only: self.append_only,
            _values: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for MemDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemDict")
            .field("prefix", &self.prefix)
            .field("codec", &self.codec)
            .field("append_only", &self.append_only)
            .finish_non_exhaustive()
    }
}

impl<V: Value> Default for MemDict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Value> MemDict<V> {
    /// An empty dictionary with the default codec (bincode).
    pub fn new() -> Self {
        MemDict {
            store: Arc::default(),
            prefix: Vec::new(),
            codec: Codec::default(),
            append_only: false,
            _values: PhantomData,
        }
    }

    /// The same store seen through another codec.
    #[must_use]
    pub fn with_codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// The same store, append-only (or not).
    #[must_use]
    pub fn with_append_only(mut self, append_only: bool) -> Self {
        self.append_only = append_only;
        self
    }

    /// A subdictionary sharing this store, as a `MemDict`.
    pub fn subdict(&self, prefix: &Key) -> MemDict<V> {
        let mut d = self.clone();
        d.prefix.extend_from_slice(prefix.parts());
        d
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-written entry (entries are
        // replaced whole), so a poisoned lock is safe to keep using.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slot(&self, key: &Key) -> (&'static str, Vec<String>) {
        (
            self.codec.extension(),
            key.prefixed(&self.prefix).parts().to_vec(),
        )
    }

    fn encode(&self, key: &Key, value: &V) -> Result<Arc<[u8]>> {
        self.codec.encode_for(key, value).map(Arc::from)
    }

    fn decode(&self, key: &Key, bytes: &[u8]) -> Result<V> {
        self.codec.decode_for(key, bytes)
    }

    /// The value slot for an entry that the operation left as it was.
    fn report(
        &self,
        key: &Key,
        entry: Option<&Entry>,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Slot<V>> {
        Ok(match entry {
            None => Slot::Absent,
            Some(e) if retrieve.wants_value(expected, Some(&e.etag)) => {
                Slot::Present(self.decode(key, &e.bytes)?)
            }
            Some(_) => Slot::NotRetrieved,
        })
    }

    /// Stores `bytes` under `slot` with a fresh ETag, returning it.
    fn store(store: &mut Store, slot: (&'static str, Vec<String>), bytes: Arc<[u8]>) -> ETag {
        store.version += 1;
        let etag = ETag::new(format!("m{}", store.version));
        store.entries.insert(
            slot,
            Entry {
                bytes,
                etag: etag.clone(),
                modified: SystemTime::now(),
            },
        );
        etag
    }
}

#[async_trait]
impl<V: Value> PersiDict<V> for MemDict<V> {
    fn info(&self) -> DictInfo {
        DictInfo {
            backend: "memory",
            location: format!("mem:///{}", self.prefix.join("/")),
            codec: self.codec,
            append_only: self.append_only,
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }

    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let store = self.lock();
        let entry = store.entries.get(&self.slot(key));
        let actual = entry.map(|e| e.etag.clone());
        let satisfied = condition.holds(expected, actual.as_ref());
        // The value is reported per `retrieve` whether or not the condition holds.
        let value = self.report(key, entry, expected, retrieve)?;
        Ok(Outcome::unchanged(satisfied, actual, value))
    }

    async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        if self.append_only && matches!(write, Write::DeleteCurrent) {
            return Err(Error::append_only(key, "delete"));
        }
        let bytes = match &write {
            Write::Value(v) => Some(self.encode(key, v)?),
            _ => None,
        };
        let slot = self.slot(key);
        let mut store = self.lock();
        let entry = store.entries.get(&slot).cloned();
        let actual = entry.as_ref().map(|e| e.etag.clone());
        if !condition.holds(expected, actual.as_ref()) {
            let value = self.report(key, entry.as_ref(), expected, retrieve)?;
            return Ok(Outcome::unchanged(false, actual, value));
        }
        match write {
            Write::Value(_) => {
                if self.append_only && entry.is_some() {
                    return Err(Error::append_only(key, "overwrite"));
                }
                let bytes = bytes.expect("encoded above for Write::Value");
                let value = if retrieve == Retrieve::Always {
                    Slot::Present(self.decode(key, &bytes)?)
                } else {
                    Slot::NotRetrieved
                };
                let etag = Self::store(&mut store, slot, bytes);
                Ok(Outcome {
                    satisfied: true,
                    actual_etag: actual,
                    resulting_etag: Some(etag),
                    value,
                })
            }
            Write::KeepCurrent => {
                let value = self.report(key, entry.as_ref(), expected, retrieve)?;
                Ok(Outcome::unchanged(true, actual, value))
            }
            Write::DeleteCurrent => {
                store.entries.remove(&slot);
                Ok(Outcome {
                    satisfied: true,
                    actual_etag: actual,
                    resulting_etag: None,
                    value: Slot::Absent,
                })
            }
        }
    }

    async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let bytes = self.encode(key, &default)?;
        let slot = self.slot(key);
        let mut store = self.lock();
        let entry = store.entries.get(&slot).cloned();
        let actual = entry.as_ref().map(|e| e.etag.clone());
        let satisfied = condition.holds(expected, actual.as_ref());
        if !satisfied || entry.is_some() {
            let value = self.report(key, entry.as_ref(), expected, retrieve)?;
            return Ok(Outcome::unchanged(satisfied, actual, value));
        }
        let value = if retrieve == Retrieve::Always {
            Slot::Present(self.decode(key, &bytes)?)
        } else {
            Slot::NotRetrieved
        };
        let etag = Self::store(&mut store, slot, bytes);
        Ok(Outcome {
            satisfied: true,
            actual_etag: None,
            resulting_etag: Some(etag),
            value,
        })
    }

    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>> {
        if self.append_only {
            return Err(Error::append_only(key, "delete"));
        }
        let slot = self.slot(key);
        let mut store = self.lock();
        let actual = store.entries.get(&slot).map(|e| e.etag.clone());
        if !condition.holds(expected, actual.as_ref()) {
            let value = if actual.is_some() {
                Slot::NotRetrieved
            } else {
                Slot::Absent
            };
            return Ok(Outcome::unchanged(false, actual, value));
        }
        store.entries.remove(&slot);
        Ok(Outcome {
            satisfied: true,
            actual_etag: actual,
            resulting_etag: None,
            value: Slot::Absent,
        })
    }

    async fn put(&self, key: &Key, value: V) -> Result<ETag> {
        let bytes = self.encode(key, &value)?;
        let slot = self.slot(key);
        let mut store = self.lock();
        if self.append_only && store.entries.contains_key(&slot) {
            return Err(Error::append_only(key, "overwrite"));
        }
        Ok(Self::store(&mut store, slot, bytes))
    }

    async fn discard(&self, key: &Key) -> Result<bool> {
        if self.append_only {
            return Err(Error::append_only(key, "delete"));
        }
        let slot = self.slot(key);
        Ok(self.lock().entries.remove(&slot).is_some())
    }

    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        let store = self.lock();
        Ok(store.entries.get(&self.slot(key)).map(|e| EntryMeta {
            key: key.clone(),
            etag: Some(e.etag.clone()),
            size: e.bytes.len() as u64,
            last_modified: e.modified,
        }))
    }

    fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
        let ext = self.codec.extension();
        let snapshot: Vec<Result<EntryMeta>> = self
            .lock()
            .entries
            .iter()
            .filter(|((e, _), _)| *e == ext)
            .filter_map(|((_, parts), entry)| {
                let key = Key::from_validated(parts.clone()).strip_prefix(&self.prefix)?;
                Some(Ok(EntryMeta {
                    key,
                    etag: Some(entry.etag.clone()),
                    size: entry.bytes.len() as u64,
                    last_modified: entry.modified,
                }))
            })
            .collect();
        stream::iter(snapshot).boxed()
    }

    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>> {
        Ok(Box::new(self.subdict(prefix)))
    }

    async fn clear(&self) -> Result<()> {
        let ext = self.codec.extension();
        let mut store = self.lock();
        let mut mine = store
            .entries
            .keys()
            .filter(|(e, parts)| *e == ext && parts.len() > self.prefix.len())
            .filter(|(_, parts)| parts[..self.prefix.len()] == self.prefix[..]);
        if self.append_only {
            return match mine.next() {
                Some((_, parts)) => Err(Error::append_only(
                    &Key::from_validated(parts[self.prefix.len()..].to_vec()),
                    "clear",
                )),
                None => Ok(()),
            };
        }
        let doomed: Vec<_> = mine.cloned().collect();
        for slot in doomed {
            store.entries.remove(&slot);
        }
        Ok(())
    }
}
