//! [`CachedDict`]: a local cache in front of any dictionary, revalidated with conditional
//! reads.
//!
//! Reads of a cached key send one conditional read to the wrapped dictionary
//! (`get_if(key, Same, Some(cached_etag), Retrieve::IfChanged)`: on S3 one
//! `GET If-None-Match: <etag>`, answered `304 Not Modified` without a body when the key is
//! unchanged). Writes go through to the wrapped dictionary and update the cache with the
//! ETag it returned.
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
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::{Capabilities, DictInfo, EntryMeta, PersiDict, Value};
use crate::error::Result;
use crate::key::Key;

/// How many entries the in-memory cache store keeps by default.
pub const DEFAULT_MAX_ENTRIES: usize = 10_000;

/// One cached entry: a value, encoded with the wrapped dictionary's codec, and the ETag the
/// wrapped dictionary reported for exactly that value.
///
/// This is the value type of a dictionary used as a cache store
/// ([`CacheStore::dict`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// The ETag the wrapped dictionary confirmed for `value`.
    pub etag: ETag,
    /// The value, encoded with the wrapped dictionary's codec.
    pub value: Vec<u8>,
}

/// Where [`CachedDict`]s keep their entries. Cloning gives a handle on the same store, so
/// several cached dictionaries (and their subdictionaries) can share one; each keeps its
/// entries under its own namespace.
#[derive(Clone)]
pub struct CacheStore {
    kind: Arc<StoreKind>,
}

enum StoreKind {
    Memory(Mutex<Lru>),
    Dict(Box<dyn PersiDict<CacheEntry>>),
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
    /// the cache survives restarts and is shared by processes. Entries
    /// live under one top-level key part per namespace (`c` + 32 hex digits). The store is
    /// not bounded by the cache: it holds what `dict` holds.
    ///
    /// The cache is an optimisation, so failures of the store are logged (`tracing`) and
    /// treated as misses rather than failing the operation.
    pub fn dict(dict: impl PersiDict<CacheEntry> + 'static) -> CacheStore {
        CacheStore {
            kind: Arc::new(StoreKind::Dict(Box::new(dict))),
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

    async fn get(&self, key: &Key) -> Option<CacheEntry> {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).get(key),
            StoreKind::Dict(d) => match d.get_opt(key).await {
                Ok(found) => found,
                Err(e) => {
                    tracing::warn!(%key, error = %e, "cache store read failed; treated as a miss");
                    self.remove(key).await;
                    None
                }
            },
        }
    }

    async fn insert(&self, key: &Key, entry: CacheEntry) {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).insert(key.clone(), entry),
            StoreKind::Dict(d) => {
                if let Err(e) = d.put(key, entry).await {
                    tracing::warn!(%key, error = %e, "cache store write failed");
                    self.remove(key).await;
                }
            }
        }
    }

    async fn remove(&self, key: &Key) {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).remove(key),
            StoreKind::Dict(d) => {
                if let Err(e) = d.discard(key).await {
                    tracing::warn!(%key, error = %e, "cache store removal failed");
                }
            }
        }
    }

    /// Removes every entry of one namespace.
    async fn clear_namespace(&self, namespace: &str) {
        match &*self.kind {
            StoreKind::Memory(lru) => lock(lru).retain(|k| k.parts()[0] != namespace),
            StoreKind::Dict(d) => {
                let ns = Key::from_validated(vec![namespace.to_owned()]);
                let cleared = match d.get_subdict(&ns) {
                    Ok(sub) => sub.clear().await,
                    Err(e) => Err(e),
                };
                if let Err(e) = cleared {
                    tracing::warn!(namespace, error = %e, "cache store clear failed");
                }
            }
        }
    }
}

fn lock(lru: &Mutex<Lru>) -> MutexGuard<'_, Lru> {
    // Every update replaces whole entries, so a poisoned lock holds nothing half-written.
    lru.lock().unwrap_or_else(|p| p.into_inner())
}

/// A least-recently-used map: entries carry a use stamp, `order` sorts them by it.
struct Lru {
    max_entries: usize,
    tick: u64,
    map: HashMap<Key, (CacheEntry, u64)>,
    order: BTreeMap<u64, Key>,
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

    fn touch(&mut self, key: &Key) -> Option<CacheEntry> {
        self.tick += 1;
        let tick = self.tick;
        let (entry, stamp) = self.map.get_mut(key)?;
        self.order.remove(stamp);
        *stamp = tick;
        self.order.insert(tick, key.clone());
        Some(entry.clone())
    }

    fn get(&mut self, key: &Key) -> Option<CacheEntry> {
        self.touch(key)
    }

    fn insert(&mut self, key: Key, entry: CacheEntry) {
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

    fn remove(&mut self, key: &Key) {
        if let Some((_, stamp)) = self.map.remove(key) {
            self.order.remove(&stamp);
        }
    }

    fn retain(&mut self, keep: impl Fn(&Key) -> bool) {
        self.map.retain(|k, _| keep(k));
        self.order.retain(|_, k| keep(k));
    }
}

/// Counters of what a [`CachedDict`] did with its cache (shared with its
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
    /// Reads answered from the cache after the wrapped dictionary confirmed the cached ETag
    /// and reported the value as not retrieved: on S3 a `304 Not Modified` without a body
    /// (servers that ignore `If-None-Match`, such as moto, send the body anyway).
    pub revalidated: u64,
    /// Reads of a cached key that had changed: the wrapped dictionary sent the new value
    /// (or reported the key absent), and the cache was updated.
    pub refreshed: u64,
    /// Reads of a key that was not cached.
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

/// A local cache in front of any [`PersiDict`]: the same dictionary, with reads of
/// unchanged keys answered without transferring their values.
///
/// # Reads
/// `get`, `get_opt`, `get_with_etag`, `get_if` and everything built on them (`items`,
/// `values`, `get_many`, `pop`, `transform`) look the key up in the cache. On a hit they
/// send one conditional read, `get_if(key, Same, Some(cached_etag), Retrieve::IfChanged)`,
/// to the wrapped dictionary — on S3 one `GET If-None-Match: <etag>`, answered
/// `304 Not Modified` with no body when the key is unchanged — and answer from the cache,
/// refresh it with the new value, or drop it when the key is gone. On a miss the caller's
/// read is sent unchanged and a value it returns is cached. `get_if` with
/// [`Retrieve::Never`] is forwarded unchanged (one `HEAD` on S3). `head`, `contains`,
/// `etag`, `timestamp` and listings are forwarded unchanged.
///
/// # Writes
/// Every write goes through to the wrapped dictionary. The cache is updated only with the
/// ETag the wrapped dictionary returned for a successful write of that value. A refused
/// conditional write (`satisfied == false`) never caches the caller's value (it caches the
/// current value the outcome reports, with its ETag, if any); a delete removes the cached
/// entry; an error removes it too.
///
/// # ETags are never stale
/// Every ETag this dictionary reports was returned by the wrapped dictionary during the
/// same call: confirmed by the revalidating read, reported by the forwarded operation, or
/// the result of this call's write. The only exception is `trust_append_only` (below).
/// Correctness relies on the wrapped dictionary changing a key's ETag whenever its content
/// changes, which every compare-and-swap already relies on.
///
/// # Namespaces
/// Cache keys are `[namespace, key parts…]`, where the namespace is a hash of the wrapped
/// dictionary's [`info`](PersiDict::info) (backend, location, codec) and the value type,
/// so dictionaries sharing one [`CacheStore`] never see each other's entries.
/// Subdictionaries are cached dictionaries over the wrapped dictionary's subdictionaries,
/// in the same store under their own namespace. The `memory` backend's location does not
/// identify its store, so over [`MemDict`](crate::MemDict) the namespace also includes a
/// random number drawn when the `CachedDict` is built (its subdictionaries inherit it).
///
/// # Trusting append-only dictionaries
/// With [`CachedDictBuilder::trust_append_only`] and an append-only wrapped dictionary, a
/// cached key is answered from the cache with no request at all: through this crate such a
/// key can never be overwritten or deleted, so its cached value and ETag stay current.
/// Deletions or overwrites by other writers (that do not honour append-only, or that clear
/// the bucket) are not possible to see in this mode; do not use it if they can happen.
///
/// # Cost
/// Values are kept encoded with the wrapped dictionary's codec, so a hit decodes the value
/// and a write or refresh encodes it once more (CPU only, no request).
pub struct CachedDict<V, D> {
    inner: D,
    store: CacheStore,
    namespace: String,
    salt: Option<u64>,
    codec: Codec,
    trust: bool,
    stats: Arc<CacheStats>,
    _values: PhantomData<fn() -> V>,
}

impl<V, D: std::fmt::Debug> std::fmt::Debug for CachedDict<V, D> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedDict")
            .field("inner", &self.inner)
            .field("store", &self.store)
            .field("namespace", &self.namespace)
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
    /// [`CachedDict`] for what this assumes.
    pub fn trust_append_only(mut self, on: bool) -> Self {
        self.trust_append_only = on;
        self
    }

    /// The cached dictionary.
    pub fn build<V: Value>(self) -> CachedDict<V, D>
    where
        D: PersiDict<V>,
    {
        let info = self.inner.info();
        let salt = (info.backend == "memory").then(|| fastrand::u64(..));
        CachedDict {
            namespace: namespace::<V>(&info, salt),
            codec: info.codec,
            trust: self.trust_append_only && info.append_only,
            inner: self.inner,
            store: self.store.unwrap_or_default(),
            salt,
            stats: Arc::default(),
            _values: PhantomData,
        }
    }
}

fn namespace<V>(info: &DictInfo, salt: Option<u64>) -> String {
    let mut h = Sha256::new();
    for field in [
        info.backend,
        &info.location,
        info.codec.name(),
        std::any::type_name::<V>(),
        &salt.map(|s| s.to_string()).unwrap_or_default(),
    ] {
        h.update(field.as_bytes());
        h.update([0]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("c{hex}")
}

impl<V: Value, D: PersiDict<V>> CachedDict<V, D> {
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
        &self.store
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

impl<V: Value, D: PersiDict<V>> CachedDict<V, D> {
    fn cache_key(&self, key: &Key) -> Key {
        key.prefixed(std::slice::from_ref(&self.namespace))
    }

    async fn cached(&self, key: &Key) -> Option<CacheEntry> {
        self.store.get(&self.cache_key(key)).await
    }

    async fn forget(&self, key: &Key) {
        self.store.remove(&self.cache_key(key)).await;
    }

    async fn remember(&self, key: &Key, etag: ETag, value: Vec<u8>) {
        self.store
            .insert(&self.cache_key(key), CacheEntry { etag, value })
            .await;
    }

    /// Caches `value` (with `etag`) if it encodes; otherwise drops the entry.
    async fn remember_value(&self, key: &Key, etag: ETag, value: &V) {
        match self.codec.encode(value) {
            Ok(bytes) => self.remember(key, etag, bytes).await,
            Err(_) => self.forget(key).await,
        }
    }

    fn decode(&self, key: &Key, bytes: &[u8]) -> Result<V> {
        self.codec.decode_for(key, bytes)
    }

    /// Brings the cache in line with what an operation's outcome reports about the key
    /// afterwards. `cached` is the ETag of the entry before the operation, if known.
    async fn absorb(&self, key: &Key, out: &Outcome<V>, cached: Option<&ETag>) {
        match (&out.resulting_etag, &out.value) {
            (None, _) => self.forget(key).await,
            (Some(e), Slot::Present(v)) => self.remember_value(key, e.clone(), v).await,
            (Some(e), _) if Some(e) != cached => self.forget(key).await,
            _ => {}
        }
    }

    /// The outcome of a read that found `actual` with the cached `value` available.
    fn answer(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
        actual: ETag,
        value: &[u8],
    ) -> Result<Outcome<V>> {
        let slot = if retrieve.wants_value(expected, Some(&actual)) {
            Slot::Present(self.decode(key, value)?)
        } else {
            Slot::NotRetrieved
        };
        let satisfied = condition.holds(expected, Some(&actual));
        Ok(Outcome::unchanged(satisfied, Some(actual), slot))
    }
}

#[async_trait]
impl<V: Value, D: PersiDict<V>> PersiDict<V> for CachedDict<V, D> {
    /// The wrapped dictionary's description, unchanged.
    fn info(&self) -> DictInfo {
        self.inner.info()
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }

    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let cached = self.cached(key).await;
        let Some(entry) = cached else {
            CacheStats::count(&self.stats.misses);
            let out = self.inner.get_if(key, condition, expected, retrieve).await;
            return match out {
                Ok(out) => {
                    if let (Some(e), Slot::Present(v)) = (&out.actual_etag, &out.value) {
                        self.remember_value(key, e.clone(), v).await;
                    }
                    Ok(out)
                }
                Err(e) => Err(e),
            };
        };
        if self.trust {
            CacheStats::count(&self.stats.trusted);
            return self.answer(key, condition, expected, retrieve, entry.etag, &entry.value);
        }
        if retrieve == Retrieve::Never {
            let out = self.inner.get_if(key, condition, expected, retrieve).await;
            match &out {
                Ok(o) => self.absorb(key, o, Some(&entry.etag)).await,
                Err(_) => self.forget(key).await,
            }
            return out;
        }
        let fresh = match self
            .inner
            .get_if(key, Condition::Same, Some(&entry.etag), Retrieve::IfChanged)
            .await
        {
            Ok(fresh) => fresh,
            Err(e) => {
                self.forget(key).await;
                return Err(e);
            }
        };
        match (fresh.actual_etag, fresh.value) {
            (Some(actual), Slot::NotRetrieved) if actual == entry.etag => {
                CacheStats::count(&self.stats.revalidated);
                self.answer(key, condition, expected, retrieve, actual, &entry.value)
            }
            (Some(actual), Slot::Present(v)) => {
                CacheStats::count(&self.stats.refreshed);
                self.remember_value(key, actual.clone(), &v).await;
                let slot = if retrieve.wants_value(expected, Some(&actual)) {
                    Slot::Present(v)
                } else {
                    Slot::NotRetrieved
                };
                let satisfied = condition.holds(expected, Some(&actual));
                Ok(Outcome::unchanged(satisfied, Some(actual), slot))
            }
            (None, _) => {
                CacheStats::count(&self.stats.refreshed);
                self.forget(key).await;
                let satisfied = condition.holds(expected, None);
                Ok(Outcome::unchanged(satisfied, None, Slot::Absent))
            }
            (Some(_), _) => {
                // Changed but no value (a backend that answered without it): read it the
                // caller's way, uncached.
                CacheStats::count(&self.stats.refreshed);
                self.forget(key).await;
                let out = self
                    .inner
                    .get_if(key, condition, expected, retrieve)
                    .await?;
                self.absorb(key, &out, None).await;
                Ok(out)
            }
        }
    }

    async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let written = match &write {
            Write::Value(v) => self.codec.encode(v).ok(),
            _ => None,
        };
        let is_value = matches!(write, Write::Value(_));
        let cached = self.cached(key).await.map(|e| e.etag);
        let out = match self
            .inner
            .put_if(key, write, condition, expected, retrieve)
            .await
        {
            Ok(out) => out,
            Err(e) => {
                self.forget(key).await;
                return Err(e);
            }
        };
        match (&out.resulting_etag, written) {
            // Our own value went in: cache it with the ETag the write returned.
            (Some(e), Some(bytes)) if out.satisfied && is_value && out.mutated() => {
                self.remember(key, e.clone(), bytes).await;
            }
            _ => self.absorb(key, &out, cached.as_ref()).await,
        }
        Ok(out)
    }

    async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let cached = self.cached(key).await;
        if let (true, Some(entry)) = (self.trust, &cached) {
            // Present, and it stays so: never inserts; nothing to ask.
            CacheStats::count(&self.stats.trusted);
            return self.answer(
                key,
                condition,
                expected,
                retrieve,
                entry.etag.clone(),
                &entry.value,
            );
        }
        let written = self.codec.encode(&default).ok();
        let out = match self
            .inner
            .setdefault_if(key, default, condition, expected, retrieve)
            .await
        {
            Ok(out) => out,
            Err(e) => {
                self.forget(key).await;
                return Err(e);
            }
        };
        let cached = cached.map(|e| e.etag);
        match (&out.resulting_etag, written) {
            (Some(e), Some(bytes)) if out.satisfied && out.actual_etag.is_none() => {
                self.remember(key, e.clone(), bytes).await;
            }
            _ => self.absorb(key, &out, cached.as_ref()).await,
        }
        Ok(out)
    }

    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>> {
        let cached = self.cached(key).await.map(|e| e.etag);
        let out = self.inner.discard_if(key, condition, expected).await;
        match &out {
            Ok(o) => self.absorb(key, o, cached.as_ref()).await,
            Err(_) => self.forget(key).await,
        }
        out
    }

    async fn put(&self, key: &Key, value: V) -> Result<ETag> {
        let bytes = self.codec.encode(&value).ok();
        match (self.inner.put(key, value).await, bytes) {
            (Ok(etag), Some(bytes)) => {
                self.remember(key, etag.clone(), bytes).await;
                Ok(etag)
            }
            (result, _) => {
                self.forget(key).await;
                result
            }
        }
    }

    async fn discard(&self, key: &Key) -> Result<bool> {
        let out = self.inner.discard(key).await;
        self.forget(key).await;
        out
    }

    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        self.inner.head(key).await
    }

    fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
        self.inner.list()
    }

    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>> {
        let inner = self.inner.get_subdict(prefix)?;
        let info = inner.info();
        Ok(Box::new(CachedDict {
            namespace: namespace::<V>(&info, self.salt),
            codec: info.codec,
            trust: self.trust && info.append_only,
            inner,
            store: self.store.clone(),
            salt: self.salt,
            stats: Arc::clone(&self.stats),
            _values: PhantomData,
        }))
    }

    async fn contains(&self, key: &Key) -> Result<bool> {
        self.inner.contains(key).await
    }

    async fn etag(&self, key: &Key) -> Result<ETag> {
        self.inner.etag(key).await
    }

    async fn len(&self) -> Result<usize> {
        self.inner.len().await
    }

    async fn is_empty(&self) -> Result<bool> {
        self.inner.is_empty().await
    }

    /// Clears the wrapped dictionary and this dictionary's cache namespace (entries of
    /// subdictionaries' namespaces are left to revalidation and eviction).
    async fn clear(&self) -> Result<()> {
        let result = self.inner.clear().await;
        self.store.clear_namespace(&self.namespace).await;
        result
    }
}
