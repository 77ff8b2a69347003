//! [`CachedDict`]: a local cache in front of any dictionary, revalidated with conditional
//! reads; [`CachedStore`], the byte-level wrapper it is made of.
//!
//! Reads of a cached object send one conditional read to the wrapped store
//! (`GET If-None-Match: <cached etag>`, answered `304 Not Modified` without a body when the
//! object is unchanged). Writes go through and cache the bytes with the ETag the store
//! returned.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//! use persidict::CachedDict;
//!
//! let remote = MemDict::<String>::new();
//! let d = CachedDict::new(remote.clone());
//! let k = Key::try_from("greeting")?;
//! d.put(&k, "hello".into()).await?;
//! assert_eq!(d.get(&k).await?, "hello"); // revalidated, answered from the cache
//! remote.put(&k, "hi".into()).await?; // another writer
//! assert_eq!(d.get(&k).await?, "hi"); // the change is seen on the next read
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cond::ETag;
use crate::dict::{PersiDict, Value};
use crate::error::Result;
use crate::key::Key;
use crate::store::{
    Capabilities, Chunks, CopyResult, CopySource, DeleteCondition, DeleteResult, Object,
    ObjectMeta, ObjectStore, ObjectVersion, Read, ReadOptions, ReadStream, StoreInfo,
    WriteCondition, WriteResult,
};

/// How many entries the in-memory cache store keeps by default.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// One cached object: its bytes exactly as stored, and the ETag the wrapped store reported
/// for exactly those bytes.
///
/// This is the value type of a dictionary used as a cache store ([`CacheStore::dict`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The ETag the wrapped store confirmed for `value`.
    pub etag: ETag,
    /// The object's bytes.
    pub value: Vec<u8>,
    /// When the object was last written, where known.
    #[serde(default)]
    pub last_modified: Option<SystemTime>,
}

/// Where [`CachedStore`]s keep their entries. Cloning gives a handle on the same store, so
/// several caches can share one; each keeps its entries under its own namespace.
#[derive(Clone)]
pub struct CacheStore {
    kind: Arc<StoreKind>,
}

enum StoreKind {
    Memory(Mutex<Lru>),
    Dict(PersiDict<CacheEntry>),
}

impl std::fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &*self.kind {
            StoreKind::Memory(lru) => f
                .debug_struct("CacheStore::Memory")
                .field("max_entries", &lock(lru).max_entries)
                .finish_non_exhaustive(),
            StoreKind::Dict(d) => f
                .debug_struct("CacheStore::Dict")
                .field("location", &d.info().location)
                .finish(),
        }
    }
}

impl Default for CacheStore {
    fn default() -> Self {
        CacheStore::memory(DEFAULT_MAX_ENTRIES)
    }
}

impl CacheStore {
    /// An in-memory store holding at most `max_entries` entries (at least 1); when full,
    /// the least recently used entry is evicted. Only the number of entries is bounded,
    /// not their size.
    pub fn memory(max_entries: usize) -> CacheStore {
        CacheStore {
            kind: Arc::new(StoreKind::Memory(Mutex::new(Lru::new(max_entries.max(1))))),
        }
    }

    /// A store kept in `dict`, typically a local [`FileDict`](crate::FileDict) so that
    /// the cache survives restarts and is shared by processes. Entries live under one
    /// top-level key part per namespace (`c` + 32 hex digits) followed by the object's
    /// name; objects whose names are not valid keys are not cached. The store is not
    /// bounded by the cache: it holds what `dict` holds.
    ///
    /// The cache is an optimisation, so failures of the store are logged (`tracing`) and
    /// treated as misses rather than failing the operation.
    pub fn dict(dict: impl Into<PersiDict<CacheEntry>>) -> CacheStore {
        CacheStore {
            kind: Arc::new(StoreKind::Dict(dict.into())),
        }
    }

    /// How many entries the store holds (for the in-memory store; a dictionary store is
    /// listed).
    pub async fn len(&self) -> Result<usize> {
        match &*self.kind {
            StoreKind::Memory(lru) => Ok(lock(lru).map.len()),
            StoreKind::Dict(d) => d.len().await,
        }
    }

    /// Whether the store holds no entries.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    async fn get(&self, key: &CacheKey) -> Option<CacheEntry> {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).get(&key.flat),
            StoreKind::Dict(d) => {
                let k = key.key.as_ref()?;
                match d.get_opt(k).await {
                    Ok(found) => found,
                    Err(e) => {
                        tracing::warn!(key = %k, error = %e, "cache store read failed; treated as a miss");
                        self.remove(key).await;
                        None
                    }
                }
            }
        }
    }

    async fn insert(&self, key: &CacheKey, entry: CacheEntry) {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).insert(key.flat.clone(), entry),
            StoreKind::Dict(d) => {
                let Some(k) = key.key.as_ref() else { return };
                if let Err(e) = d.put(k, entry).await {
                    tracing::warn!(key = %k, error = %e, "cache store write failed");
                    self.remove(key).await;
                }
            }
        }
    }

    async fn remove(&self, key: &CacheKey) {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).remove(&key.flat),
            StoreKind::Dict(d) => {
                let Some(k) = key.key.as_ref() else { return };
                if let Err(e) = d.discard(k).await {
                    tracing::warn!(key = %k, error = %e, "cache store removal failed");
                }
            }
        }
    }
}

/// Where one object's entry lives in a [`CacheStore`].
struct CacheKey {
    /// `<namespace>/<name>`, for the in-memory store.
    flat: String,
    /// `[namespace, name parts…]`, for a dictionary store, when the name makes a key.
    key: Option<Key>,
}

fn lock(lru: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    // Every update replaces whole entries, so a poisoned lock holds nothing half-written.
    lru.lock().unwrap_or_else(|p| p.into_inner())
}

/// A least-recently-used map: entries carry a use stamp, `order` sorts them by it.
struct Lru {
    max_entries: usize,
    tick: u64,
    map: HashMap<String, (CacheEntry, u64)>,
    order: BTreeMap<u64, String>,
}

impl Lru {
    fn new(max_entries: usize) -> Lru {
        Lru {
            max_entries,
            tick: 0,
            map: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn get(&mut self, key: &str) -> Option<CacheEntry> {
        self.tick += 1;
        let tick = self.tick;
        let (entry, stamp) = self.map.get_mut(key)?;
        self.order.remove(stamp);
        *stamp = tick;
        self.order.insert(tick, key.to_owned());
        Some(entry.clone())
    }

    fn insert(&mut self, key: String, entry: CacheEntry) {
        self.remove(&key);
        while self.map.len() >= self.max_entries {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.map.remove(&oldest);
        }
        self.tick += 1;
        self.order.insert(self.tick, key.clone());
        self.map.insert(key, (entry, self.tick));
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, stamp)) = self.map.remove(key) {
            self.order.remove(&stamp);
        }
    }
}

/// Counters of what a cache did (shared by a [`CachedDict`], its clones and its
/// subdictionaries).
#[derive(Debug, Default)]
pub struct CacheStats {
    revalidated: AtomicU64,
    refreshed: AtomicU64,
    misses: AtomicU64,
    trusted: AtomicU64,
}

/// A copy of [`CacheStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStatsSnapshot {
    /// Reads answered from the cache after the wrapped store confirmed the cached ETag
    /// (on S3 a `304 Not Modified` without a body; servers that ignore `If-None-Match`
    /// send the body anyway).
    pub revalidated: u64,
    /// Reads of a cached object that had changed: the wrapped store sent the new bytes
    /// (or reported the object absent), and the cache was updated.
    pub refreshed: u64,
    /// Reads of an object that was not cached.
    pub misses: u64,
    /// Reads answered from the cache without any request (`trust_append_only`).
    pub trusted: u64,
}

impl CacheStats {
    /// A snapshot of the counters.
    pub fn snapshot(&self) -> CacheStatsSnapshot {
        CacheStatsSnapshot {
            revalidated: self.revalidated.load(Ordering::Relaxed),
            refreshed: self.refreshed.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            trusted: self.trusted.load(Ordering::Relaxed),
        }
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A byte-level cache in front of any [`ObjectStore`]; every request is forwarded.
///
/// | request | what the cache does |
/// |---|---|
/// | `read`, cached | `read` with `If-None-Match: <cached etag>`: a `304` is answered from the cache; new bytes replace the entry; absent drops it |
/// | `read`, not cached | forwarded; the bytes found are cached |
/// | `write` | forwarded; written bytes are cached with the ETag the store returned |
/// | `delete`, `delete_many`, `delete_many_if` | forwarded; the entries are dropped |
/// | `head`, `list`, `capabilities` | forwarded unchanged |
///
/// Any error drops the entry concerned. Every ETag the cache reports was returned by the
/// wrapped store during the same call, except with `trust_append_only` over an append-only
/// store: then a cached object is answered with no request at all (through this crate
/// such an object can never change; deletions or overwrites by writers that do not honour
/// append-only are not seen in this mode).
pub struct CachedStore {
    inner: Arc<dyn ObjectStore>,
    cache: CacheStore,
    namespace: String,
    trust: bool,
    stats: Arc<CacheStats>,
}

impl std::fmt::Debug for CachedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedStore")
            .field("inner", &self.inner.info().location)
            .field("cache", &self.cache)
            .field("namespace", &self.namespace)
            .field("trust_append_only", &self.trust)
            .finish()
    }
}

impl CachedStore {
    /// `inner` with `cache`. The namespace is a hash of `inner`'s location (and a random
    /// number for in-memory stores, whose location does not identify them), so caches
    /// sharing one [`CacheStore`] never see each other's entries.
    pub fn new(inner: Arc<dyn ObjectStore>, cache: CacheStore, trust_append_only: bool) -> Self {
        let info = inner.info();
        let salt = (info.backend == "memory").then(|| fastrand::u64(..));
        CachedStore {
            namespace: namespace(&info, salt),
            trust: trust_append_only && info.append_only,
            inner,
            cache,
            stats: Arc::default(),
        }
    }

    /// What the cache did so far.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    fn cache_key(&self, name: &str) -> CacheKey {
        let key = name.split('/').map(str::to_owned).collect::<Vec<_>>();
        CacheKey {
            flat: format!("{}/{name}", self.namespace),
            key: Key::new(std::iter::once(self.namespace.clone()).chain(key)).ok(),
        }
    }

    async fn remember(&self, name: &str, object: &Object) {
        let Some(etag) = object.meta.etag.clone() else {
            return;
        };
        let entry = CacheEntry {
            etag,
            value: object.body.to_vec(),
            last_modified: Some(object.meta.last_modified),
        };
        self.cache.insert(&self.cache_key(name), entry).await;
    }

    async fn forget(&self, name: &str) {
        self.cache.remove(&self.cache_key(name)).await;
    }

    /// The answer to a read asked with `options`, given the current object.
    fn answer(object: Object, options: &ReadOptions) -> Read {
        let etag = object.meta.etag.clone();
        if let (Some(theirs), Some(current)) = (&options.if_none_match, etag) {
            if *theirs == current {
                return Read::NotModified { etag: current };
            }
        }
        if let Some(max) = options.max_size {
            if object.body.len() as u64 > max {
                return Read::TooLarge {
                    size: object.body.len() as u64,
                };
            }
        }
        Read::Found(object)
    }
}

fn namespace(info: &StoreInfo, salt: Option<u64>) -> String {
    let mut h = Sha256::new();
    for field in [
        info.backend,
        &info.location,
        &salt.map(|s| s.to_string()).unwrap_or_default(),
    ] {
        h.update(field.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("c{hex}")
}

fn cached_object(name: &str, entry: CacheEntry) -> Object {
    Object {
        meta: ObjectMeta {
            name: name.to_owned(),
            size: entry.value.len() as u64,
            etag: Some(entry.etag),
            last_modified: entry.last_modified.unwrap_or(SystemTime::UNIX_EPOCH),
        },
        body: Bytes::from(entry.value),
    }
}

#[async_trait]
impl ObjectStore for CachedStore {
    /// The wrapped store's description, unchanged.
    fn info(&self) -> StoreInfo {
        self.inner.info()
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        let Some(entry) = self.cache.get(&self.cache_key(name)).await else {
            CacheStats::count(&self.stats.misses);
            let read = self.inner.read(name, options).await;
            match &read {
                Ok(Read::Found(object)) => self.remember(name, object).await,
                Ok(_) => {}
                Err(_) => self.forget(name).await,
            }
            return read;
        };
        if self.trust {
            CacheStats::count(&self.stats.trusted);
            return Ok(Self::answer(cached_object(name, entry), &options));
        }
        let revalidate = ReadOptions {
            if_none_match: Some(entry.etag.clone()),
            max_size: options.max_size,
        };
        match self.inner.read(name, revalidate).await {
            Ok(Read::NotModified { .. }) => {
                CacheStats::count(&self.stats.revalidated);
                Ok(Self::answer(cached_object(name, entry), &options))
            }
            Ok(Read::Found(object)) => {
                if object.meta.etag.as_ref() == Some(&entry.etag) {
                    // A server that ignores If-None-Match sent the same object again.
                    CacheStats::count(&self.stats.revalidated);
                } else {
                    CacheStats::count(&self.stats.refreshed);
                    self.remember(name, &object).await;
                }
                Ok(Self::answer(object, &options))
            }
            Ok(other) => {
                CacheStats::count(&self.stats.refreshed);
                self.forget(name).await;
                Ok(other)
            }
            Err(e) => {
                self.forget(name).await;
                Err(e)
            }
        }
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
        if self.trust
            && condition == WriteCondition::IfAbsent
            && self.cache.get(&self.cache_key(name)).await.is_some()
        {
            // Trusted: a cached object of an append-only store exists and never goes away,
            // so an insert-if-absent is refused without asking.
            return Ok(WriteResult::Refused);
        }
        let written = self
            .inner
            .write(name, body.clone(), content_type, condition)
            .await;
        match &written {
            Ok(WriteResult::Written(etag)) => {
                let object = Object {
                    meta: ObjectMeta {
                        name: name.to_owned(),
                        etag: Some(etag.clone()),
                        size: body.len() as u64,
                        last_modified: SystemTime::now(),
                    },
                    body,
                };
                self.remember(name, &object).await;
            }
            // A refusal leaves the object (and a cached entry of it) as it was.
            Ok(WriteResult::Refused) => {}
            Err(_) => self.forget(name).await,
        }
        written
    }

    /// Streams from the wrapped store: streamed values are too large to cache.
    async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
        self.inner.read_stream(name, options).await
    }

    /// Streams to the wrapped store and forgets the cached entry: streamed values are too
    /// large to cache.
    async fn write_stream(
        &self,
        name: &str,
        chunks: Chunks,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        let written = self
            .inner
            .write_stream(name, chunks, content_type, condition)
            .await;
        if !matches!(written, Ok(WriteResult::Refused)) {
            self.forget(name).await;
        }
        written
    }

    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        let deleted = self.inner.delete(name, condition).await;
        if !matches!(deleted, Ok(DeleteResult::Refused)) {
            self.forget(name).await;
        }
        deleted
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        for name in &names {
            self.forget(name).await;
        }
        self.inner.delete_many(names).await
    }

    async fn delete_many_if(&self, objects: Vec<(String, ETag)>) -> Result<Vec<DeleteResult>> {
        for (name, _) in &objects {
            self.forget(name).await;
        }
        self.inner.delete_many_if(objects).await
    }

    /// Copies in the wrapped store; the destination's cached entry is dropped unless the
    /// copy changed nothing (its bytes never pass through here on a server-side copy).
    async fn copy(
        &self,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        let copied = self
            .inner
            .copy(from, to, source_etag, content_type, condition)
            .await;
        self.after_copy(to, &copied).await;
        copied
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
        let copied = self
            .inner
            .copy_from(source, from, to, source_etag, content_type, condition)
            .await;
        self.after_copy(to, &copied).await;
        copied
    }

    fn copy_source(&self, name: &str) -> Option<CopySource> {
        self.inner.copy_source(name)
    }

    async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
        self.inner.versions(name).await
    }

    /// Read from the wrapped store, not cached (the cache holds current versions).
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
        let restored = self
            .inner
            .restore_version(name, version_id, content_type, condition)
            .await;
        self.after_copy(name, &restored).await;
        restored
    }
}

impl CachedStore {
    /// Drops the cached entry of a copy's destination unless the copy surely changed
    /// nothing.
    async fn after_copy(&self, to: &str, copied: &Result<CopyResult>) {
        if !matches!(
            copied,
            Ok(CopyResult::Refused | CopyResult::SourceAbsent | CopyResult::SourceChanged)
        ) {
            self.forget(to).await;
        }
    }
}

/// A local cache in front of any dictionary: the same dictionary, with reads of unchanged
/// keys answered without transferring their values. A [`PersiDict`] over a
/// [`CachedStore`] over the wrapped dictionary's store; every [`PersiDict`] method is
/// available through `Deref`, subdictionaries included (they share the cache).
///
/// # Reads
/// `get`, `get_opt`, `get_with_etag`, `get_if` and everything built on them (`items`,
/// `values`, `get_many`, `pop`, `transform`) read through the cache: on a hit one
/// `GET If-None-Match: <cached etag>` (a `304` answers from the cache), on a miss the
/// read as it would be. `head`, `contains`, `etag`, `timestamp`, `get_if` with
/// [`Retrieve::Never`](crate::Retrieve::Never) and listings are forwarded unchanged.
///
/// # Writes
/// Every write goes through; the bytes written are cached with the ETag the store
/// returned. A refused conditional write never caches the caller's value; a delete or an
/// error drops the entry.
///
/// # Cost
/// Entries are kept as stored (encoded), so a hit decodes the value once (CPU only, no
/// request); nothing is encoded twice.
pub struct CachedDict<V, D> {
    inner: D,
    dict: PersiDict<V>,
    cache: CacheStore,
    stats: Arc<CacheStats>,
    trust: bool,
}

impl<V, D: std::fmt::Debug> std::fmt::Debug for CachedDict<V, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDict")
            .field("inner", &self.inner)
            .field("cache", &self.cache)
            .field("trust_append_only", &self.trust)
            .finish_non_exhaustive()
    }
}

/// Configures a [`CachedDict`]; made by [`CachedDict::builder`].
#[derive(Debug)]
#[must_use]
pub struct CachedDictBuilder<D> {
    inner: D,
    store: Option<CacheStore>,
    trust_append_only: bool,
}

impl<D> CachedDictBuilder<D> {
    /// Keeps the entries in `store` (shared with every dictionary given a clone of it).
    /// Default: a new in-memory store of [`DEFAULT_MAX_ENTRIES`] entries.
    pub fn store(mut self, store: CacheStore) -> Self {
        self.store = Some(store);
        self
    }

    /// A new in-memory store of at most `max_entries` entries, least recently used evicted
    /// first.
    pub fn max_entries(mut self, max_entries: usize) -> Self {
        self.store = Some(CacheStore::memory(max_entries));
        self
    }

    /// For an append-only wrapped dictionary, answer cached keys without revalidating them
    /// (zero requests). Ignored for dictionaries that are not append-only. See
    /// [`CachedStore`] for what this assumes.
    pub fn trust_append_only(mut self, on: bool) -> Self {
        self.trust_append_only = on;
        self
    }

    /// The cached dictionary.
    pub fn build<V: Value>(self) -> CachedDict<V, D>
    where
        D: AsRef<PersiDict<V>>,
    {
        let wrapped = self.inner.as_ref();
        let cache = self.store.unwrap_or_default();
        let store = CachedStore::new(
            Arc::clone(wrapped.store()),
            cache.clone(),
            self.trust_append_only,
        );
        let stats = Arc::clone(store.stats());
        let trust = store.trust;
        let dict = PersiDict::with_options(Arc::new(store), wrapped.options())
            .expect("the wrapped dictionary's options are valid");
        CachedDict {
            inner: self.inner,
            dict,
            cache,
            stats,
            trust,
        }
    }
}

impl<V: Value, D: AsRef<PersiDict<V>>> CachedDict<V, D> {
    /// `inner` with a new in-memory cache of [`DEFAULT_MAX_ENTRIES`] entries.
    pub fn new(inner: D) -> CachedDict<V, D> {
        CachedDict::builder(inner).build()
    }
}

impl CachedDict<(), ()> {
    /// Starts configuring a cache in front of `inner`; the value type is chosen by
    /// [`CachedDictBuilder::build`].
    pub fn builder<D>(inner: D) -> CachedDictBuilder<D> {
        CachedDictBuilder {
            inner,
            store: None,
            trust_append_only: false,
        }
    }
}

impl<V, D> CachedDict<V, D> {
    /// The wrapped dictionary (for example to read an [`S3Dict`](crate::S3Dict)'s request
    /// counters).
    pub fn inner(&self) -> &D {
        &self.inner
    }

    /// The cache store.
    pub fn store(&self) -> &CacheStore {
        &self.cache
    }

    /// What the cache did so far (shared with subdictionaries).
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// Whether cached keys are answered without revalidation (`trust_append_only` was set
    /// and the wrapped dictionary is append-only).
    pub fn trusts_cache(&self) -> bool {
        self.trust
    }
}

crate::dict::typed_newtype!(CachedDict<V, D>);
