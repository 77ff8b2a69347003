//! The [`PersiDict`] trait: the whole dictionary surface, shared by every backend.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::{BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::error::{Capability, Error, Result};
use crate::key::Key;

/// What a dictionary can store: any serde type that can move between tasks.
pub trait Value: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Value for T {}

/// How many requests bulk operations keep in flight by default (see
/// [`PersiDict::concurrency`]).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// How many keys a bulk operation hands to [`PersiDict::delete_many`] at once while it
/// streams a listing (S3 deletes at most 1000 objects per request).
pub const BULK_BATCH: usize = 1000;

/// The default largest value the object-storing backends ([`FileDict`](crate::FileDict), S3)
/// accept, in bytes: 1 GiB. Larger encodings are refused with
/// [`Error::ValueTooLarge`] before anything is written.
pub const DEFAULT_MAX_VALUE_SIZE: u64 = 1 << 30;

/// What a listing knows about one entry without fetching its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    /// The key.
    pub key: Key,
    /// The entry's ETag, where the listing reports it.
    pub etag: Option<ETag>,
    /// The stored size in bytes.
    pub size: u64,
    /// When the entry was last written.
    pub last_modified: SystemTime,
}

/// Which conditional requests a backend really enforces (see the crate guide's backend
/// table). Missing capabilities turn the operations that need them into
/// [`Error::Unsupported`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capabilities {
    /// Insert-if-absent is refused when the key exists (`PUT If-None-Match: *`).
    pub put_if_absent: bool,
    /// Compare-and-swap writes (`PUT If-Match: <etag>`).
    pub put_if_match: bool,
    /// Compare-and-delete (`DELETE If-Match: <etag>`).
    pub delete_if_match: bool,
    /// Revalidating reads (`GET If-None-Match: <etag>` answers `304`).
    pub get_if_none_match: bool,
    /// `DELETE If-Match: *` deletes an existing object and is refused (404 or 412) for an
    /// absent one, so one request both deletes and tells whether the key existed. An
    /// optimisation only: without it `delete` and `discard` send HEAD + DELETE.
    pub delete_if_exists: bool,
}

impl Capabilities {
    /// Everything enforced (memory, files, AWS S3).
    pub const ALL: Capabilities = Capabilities {
        put_if_absent: true,
        put_if_match: true,
        delete_if_match: true,
        get_if_none_match: true,
        delete_if_exists: true,
    };

    /// Nothing enforced (a server that ignores conditional headers).
    pub const NONE: Capabilities = Capabilities {
        put_if_absent: false,
        put_if_match: false,
        delete_if_match: false,
        get_if_none_match: false,
        delete_if_exists: false,
    };

    /// Whether `capability` is enforced.
    pub fn has(&self, capability: Capability) -> bool {
        match capability {
            Capability::PutIfAbsent => self.put_if_absent,
            Capability::PutIfMatch => self.put_if_match,
            Capability::DeleteIfMatch => self.delete_if_match,
            Capability::GetIfNoneMatch => self.get_if_none_match,
        }
    }

    /// Whether every conditional write (insert-if-absent, compare-and-swap,
    /// compare-and-delete) is atomic, so that all conditional operations work.
    pub fn conditional_writes(&self) -> bool {
        self.put_if_absent && self.put_if_match && self.delete_if_match
    }
}

/// A description of a dictionary, for messages and tools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictInfo {
    /// The backend kind: `"memory"`, `"file"` or `"s3"`.
    pub backend: &'static str,
    /// Where the entries live (a URL-like location).
    pub location: String,
    /// The value codec.
    pub codec: Codec,
    /// Whether existing values can never be overwritten or removed.
    pub append_only: bool,
}

/// A persistent dictionary from [`Key`]s to values of type `V`.
///
/// Every backend implements this one trait and passes one contract suite. The trait is
/// object-safe (`Box<dyn PersiDict<V>>` works); generic helpers such as
/// [`transform`](PersiDictExt::transform) live in [`PersiDictExt`].
///
/// # Conditional operations
/// `get_if`, `put_if`, `setdefault_if` and `discard_if` take a [`Condition`] and the ETag
/// the caller expects (`None` = "absent") and report an [`Outcome`]. A condition that does
/// not hold is an outcome with `satisfied == false`, never an error. On backends that
/// enforce conditional requests each of them is atomic with respect to the `actual_etag` it
/// reports.
///
/// # Append-only dictionaries
/// Values can be inserted but never overwritten or removed: `put` on an existing key,
/// `delete`, `discard`, `pop`, `clear` and `Write::DeleteCurrent` give
/// [`Error::AppendOnly`]; `put_if` with `Write::Value` inserts only, and gives
/// [`Error::AppendOnly`] if its condition holds but the key exists; `Write::KeepCurrent`
/// is allowed.
#[async_trait]
pub trait PersiDict<V: Value>: Send + Sync {
    /// Describes the dictionary.
    fn info(&self) -> DictInfo;

    /// Which conditional requests the backend enforces (S3 probes them once per endpoint and
    /// bucket; memory and files enforce all).
    async fn capabilities(&self) -> Result<Capabilities>;

    /// Reads `key` if `condition` holds for `expected`; never mutates.
    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>>;

    /// Writes, keeps or deletes `key` if `condition` holds for `expected`. When it does not
    /// hold nothing changes and the current value is reported per `retrieve`.
    #[doc(alias = "cas")]
    #[doc(alias = "compare_and_swap")]
    async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>>;

    /// Inserts `default` only if `key` is absent and `condition` holds; never overwrites.
    async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>>;

    /// Deletes `key` if `condition` holds for `expected`. The outcome's value is
    /// [`Slot::Absent`] when the key is absent afterwards.
    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>>;

    /// Stores `value` under `key` and returns the new ETag.
    async fn put(&self, key: &Key, value: V) -> Result<ETag>;

    /// Removes `key` if present; reports whether it was.
    async fn discard(&self, key: &Key) -> Result<bool>;

    /// The entry's metadata without its value, or `None` if absent.
    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>>;

    /// Every entry's metadata, in no particular order; entries written or deleted during
    /// the listing may or may not appear.
    fn list(&self) -> BoxStream<'_, Result<EntryMeta>>;

    /// A dictionary over the keys that start with `prefix`, with `prefix` removed. It shares
    /// this dictionary's storage, client and settings.
    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>>;

    /// How many requests bulk operations (`get_many`, `put_many`, `discard_many`,
    /// `delete_many`, `values`, `items`, `clear`) keep in flight at most. Default
    /// [`DEFAULT_CONCURRENCY`]; S3 dictionaries take it from
    /// [`S3DictBuilder::concurrency`](crate::S3DictBuilder::concurrency).
    fn concurrency(&self) -> usize {
        DEFAULT_CONCURRENCY
    }

    /// Removes `key`; [`Error::NotFound`] if it is absent.
    async fn delete(&self, key: &Key) -> Result<()> {
        if self.discard(key).await? {
            Ok(())
        } else {
            Err(Error::NotFound { key: key.clone() })
        }
    }

    /// The value of `key`; [`Error::NotFound`] if it is absent.
    async fn get(&self, key: &Key) -> Result<V> {
        self.get_opt(key)
            .await?
            .ok_or_else(|| Error::NotFound { key: key.clone() })
    }

    /// The value of `key`, or `None` if it is absent.
    async fn get_opt(&self, key: &Key) -> Result<Option<V>> {
        Ok(self.get_with_etag(key).await?.map(|(v, _)| v))
    }

    /// The value and ETag of `key` from one read, or `None` if it is absent.
    async fn get_with_etag(&self, key: &Key) -> Result<Option<(V, ETag)>> {
        let out = self
            .get_if(key, Condition::Any, None, Retrieve::Always)
            .await?;
        Ok(match (out.value, out.actual_etag) {
            (Slot::Present(v), Some(e)) => Some((v, e)),
            _ => None,
        })
    }

    /// Whether `key` is present.
    async fn contains(&self, key: &Key) -> Result<bool> {
        Ok(self.head(key).await?.is_some())
    }

    /// The ETag of `key`; [`Error::NotFound`] if it is absent.
    async fn etag(&self, key: &Key) -> Result<ETag> {
        match self.head(key).await? {
            Some(EntryMeta { etag: Some(e), .. }) => Ok(e),
            Some(_) => Err(Error::Backend {
                endpoint: self.info().location,
                operation: "HEAD".into(),
                message: format!("no ETag reported for {key}"),
                request_id: None,
                retryable: false,
                source: None,
            }),
            None => Err(Error::NotFound { key: key.clone() }),
        }
    }

    /// When `key` was last written; [`Error::NotFound`] if it is absent.
    async fn timestamp(&self, key: &Key) -> Result<SystemTime> {
        match self.head(key).await? {
            Some(m) => Ok(m.last_modified),
            None => Err(Error::NotFound { key: key.clone() }),
        }
    }

    /// Every key, in no particular order.
    fn keys(&self) -> BoxStream<'_, Result<Key>> {
        self.list().map_ok(|m| m.key).boxed()
    }

    /// Every value, in no particular order. Streams: values are fetched while the listing
    /// goes on, with at most [`concurrency`](PersiDict::concurrency) reads in flight, so
    /// memory stays bounded however many entries there are. Keys deleted during the
    /// iteration are skipped.
    fn values(&self) -> BoxStream<'_, Result<V>> {
        self.items().map_ok(|(_, v)| v).boxed()
    }

    /// Every `(key, value)` pair, in no particular order; streams like
    /// [`values`](PersiDict::values).
    fn items(&self) -> BoxStream<'_, Result<(Key, V)>> {
        let concurrency = self.concurrency().max(1);
        self.keys()
            .map(move |k| async move {
                let k = k?;
                Ok(self.get_opt(&k).await?.map(|v| (k, v)))
            })
            .buffer_unordered(concurrency)
            .try_filter_map(|x| async move { Ok(x) })
            .boxed()
    }

    /// The number of entries.
    async fn len(&self) -> Result<usize> {
        self.list()
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await
    }

    /// Whether there are no entries.
    async fn is_empty(&self) -> Result<bool> {
        Ok(self.list().try_next().await?.is_none())
    }

    /// Removes every entry; [`Error::AppendOnly`] on an append-only dictionary that is not
    /// empty. Streams the listing and deletes it in batches of [`BULK_BATCH`] keys with
    /// [`delete_many`](PersiDict::delete_many), so memory stays bounded. Entries written
    /// during the call may survive it.
    async fn clear(&self) -> Result<()> {
        let append_only = self.info().append_only;
        let mut batches = self.keys().try_chunks(BULK_BATCH);
        while let Some(batch) = batches.try_next().await.map_err(|e| e.1)? {
            if append_only {
                if let Some(key) = batch.first() {
                    return Err(Error::append_only(key, "clear"));
                }
            }
            self.delete_many(&batch).await?;
        }
        Ok(())
    }

    /// The value of `key`, inserting `default` first if the key is absent.
    async fn setdefault(&self, key: &Key, default: V) -> Result<V> {
        let out = self
            .setdefault_if(key, default, Condition::Any, None, Retrieve::Always)
            .await?;
        match out.value {
            Slot::Present(v) => Ok(v),
            _ => Err(Error::Backend {
                endpoint: self.info().location,
                operation: "setdefault".into(),
                message: format!("{key} vanished while it was being read"),
                request_id: None,
                retryable: false,
                source: None,
            }),
        }
    }

    /// Removes `key` and returns its value; [`Error::NotFound`] if it is absent. Atomic: the
    /// value returned is exactly the one removed.
    async fn pop(&self, key: &Key) -> Result<V> {
        if self.info().append_only {
            return Err(Error::AppendOnly {
                key: key.to_path(),
                operation: "pop",
            });
        }
        loop {
            let Some((value, etag)) = self.get_with_etag(key).await? else {
                return Err(Error::NotFound { key: key.clone() });
            };
            let out = self.discard_if(key, Condition::Same, Some(&etag)).await?;
            if out.satisfied {
                return Ok(value);
            }
        }
    }

    /// The values of `keys` (`None` where absent), in the order of `keys`: one read per
    /// key, at most [`concurrency`](PersiDict::concurrency) in flight. The first error
    /// stops it.
    async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<V>>> {
        // Futures made up front: a stream closure over borrowed keys trips the compiler's
        // `Send` check for higher-ranked lifetimes. They complete in any order (a slow
        // read does not hold back the ones behind it) and land in their key's place.
        let reads: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let read = self.get_opt(k);
                async move { read.await.map(|v| (i, v)) }
            })
            .collect();
        let mut values: Vec<Option<V>> = std::iter::repeat_with(|| None).take(keys.len()).collect();
        let mut done = futures::stream::iter(reads).buffer_unordered(self.concurrency().max(1));
        while let Some((i, v)) = done.try_next().await? {
            if let Some(slot) = values.get_mut(i) {
                *slot = v;
            }
        }
        Ok(values)
    }

    /// Stores every pair: one [`put`](PersiDict::put) per pair, at most
    /// [`concurrency`](PersiDict::concurrency) in flight. The first error stops it; pairs
    /// already stored stay stored.
    async fn put_many(&self, items: Vec<(Key, V)>) -> Result<()> {
        futures::stream::iter(items)
            .map(|(k, v)| async move { self.put(&k, v).await.map(drop) })
            .buffer_unordered(self.concurrency().max(1))
            .try_collect::<()>()
            .await
    }

    /// Removes every key of `keys` that is present and returns how many were removed: one
    /// [`discard`](PersiDict::discard) per key, at most
    /// [`concurrency`](PersiDict::concurrency) in flight. Use
    /// [`delete_many`](PersiDict::delete_many) when the count is not needed: on S3 it
    /// sends one request per 1000 keys instead of one per key.
    async fn discard_many(&self, keys: &[Key]) -> Result<usize> {
        let deletes: Vec<_> = keys.iter().map(|k| self.discard(k)).collect();
        futures::stream::iter(deletes)
            .buffer_unordered(self.concurrency().max(1))
            .try_fold(0, |n, gone| async move { Ok(n + usize::from(gone)) })
            .await
    }

    /// Makes sure none of `keys` is present. Unlike [`delete`](PersiDict::delete), absent
    /// keys are not an error, and unlike [`discard_many`](PersiDict::discard_many) it does
    /// not say which keys existed — which lets S3 remove up to 1000 keys per
    /// `DeleteObjects` request (unconditional deletes, with at most
    /// [`concurrency`](PersiDict::concurrency) requests in flight). Other backends discard
    /// key by key. [`Error::AppendOnly`] on an append-only dictionary unless `keys` is
    /// empty; on another error some keys may already be gone.
    async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if self.info().append_only {
            return match keys.first() {
                Some(key) => Err(Error::append_only(key, "delete")),
                None => Ok(()),
            };
        }
        self.discard_many(keys).await.map(drop)
    }

    /// The first parts of the keys that have more than one part: the names of the
    /// subdictionaries, sorted.
    async fn subdicts(&self) -> Result<Vec<String>> {
        let names: BTreeSet<String> = self
            .keys()
            .try_filter_map(|k| async move { Ok((k.len() > 1).then(|| k.parts()[0].clone())) })
            .try_collect()
            .await?;
        Ok(names.into_iter().collect())
    }

    /// The `n` least recently written keys, oldest first.
    async fn oldest_keys(&self, n: usize) -> Result<Vec<Key>> {
        let mut all: Vec<EntryMeta> = self.list().try_collect().await?;
        all.sort_by(|a, b| (a.last_modified, &a.key).cmp(&(b.last_modified, &b.key)));
        Ok(all.into_iter().take(n).map(|m| m.key).collect())
    }

    /// The `n` most recently written keys, newest first.
    async fn newest_keys(&self, n: usize) -> Result<Vec<Key>> {
        let mut all: Vec<EntryMeta> = self.list().try_collect().await?;
        all.sort_by(|a, b| (b.last_modified, &b.key).cmp(&(a.last_modified, &a.key)));
        Ok(all.into_iter().take(n).map(|m| m.key).collect())
    }

    /// A key chosen uniformly at random, or `None` when empty. One pass over the listing,
    /// holding one key at a time.
    async fn random_key(&self) -> Result<Option<Key>> {
        let mut seen = 0u64;
        let mut chosen = None;
        let mut keys = self.keys();
        while let Some(k) = keys.try_next().await? {
            seen += 1;
            if fastrand::u64(0..seen) == 0 {
                chosen = Some(k);
            }
        }
        Ok(chosen)
    }
}

/// How [`transform`](PersiDictExt::transform) retries when concurrent writers win.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The most read-modify-write attempts.
    pub max_attempts: u32,
    /// The first backoff; it doubles on each conflict, with full jitter.
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 100,
            base_backoff: Duration::from_millis(2),
            max_backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// The jittered backoff before attempt `attempt + 1` (`attempt` counts from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(fastrand::f64())
    }
}

/// What [`transform`](PersiDictExt::transform) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Transformed<V> {
    /// The value after the transform (`None`: the key is absent).
    pub value: Option<V>,
    /// The ETag after the transform.
    pub etag: Option<ETag>,
    /// How many read-modify-write attempts it took.
    pub attempts: u32,
}

/// Generic helpers over any [`PersiDict`], including `dyn PersiDict`.
#[async_trait]
pub trait PersiDictExt<V: Value>: PersiDict<V> {
    /// Atomically replaces the value of `key` with `f(current)`: reads the value and its
    /// ETag, computes the write, and commits it only if the ETag is unchanged; on a conflict
    /// it re-reads, calls `f` again and retries with jittered backoff, up to
    /// [`RetryPolicy::default`]'s attempts, then fails with
    /// [`Error::ConcurrencyConflict`].
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use persidict::prelude::*;
    /// let d = MemDict::<u64>::new();
    /// let k = Key::try_from("hits")?;
    /// let t = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await?;
    /// assert_eq!(t.value, Some(1));
    /// # Ok::<(), persidict::Error>(()) }).unwrap();
    /// ```
    #[doc(alias = "update")]
    async fn transform<F>(&self, key: &Key, f: F) -> Result<Transformed<V>>
    where
        F: FnMut(Option<V>) -> Write<V> + Send,
        V: Clone,
    {
        self.transform_with(key, RetryPolicy::default(), f).await
    }

    /// [`transform`](PersiDictExt::transform) with an explicit retry policy.
    async fn transform_with<F>(
        &self,
        key: &Key,
        policy: RetryPolicy,
        mut f: F,
    ) -> Result<Transformed<V>>
    where
        F: FnMut(Option<V>) -> Write<V> + Send,
        V: Clone,
    {
        let max = policy.max_attempts.max(1);
        let (mut value, mut etag) = match self.get_with_etag(key).await? {
            Some((v, e)) => (Some(v), Some(e)),
            None => (None, None),
        };
        for attempt in 1..=max {
            // The current value is handed over, not cloned: a refused attempt gets the
            // new current value from the refusal's read.
            let write = f(value.take());
            let (after, retrieve) = match &write {
                // `IfChanged`: a refused write reports the current value and ETag from
                // the read that observed the refusal (so the next attempt needs no extra
                // read), while a successful one does not decode what it wrote.
                Write::Value(v) => (Some(v.clone()), Retrieve::IfChanged),
                Write::DeleteCurrent => (None, Retrieve::IfChanged),
                // Keeping the value reads it (one GET), and reports it.
                Write::KeepCurrent => (None, Retrieve::Always),
            };
            let out = self
                .put_if(key, write, Condition::Same, etag.as_ref(), retrieve)
                .await?;
            if out.satisfied {
                // Only a kept value is reported by the dictionary; the others are known.
                let value = if retrieve == Retrieve::Always {
                    out.value.into_option()
                } else {
                    after
                };
                return Ok(Transformed {
                    value,
                    etag: out.resulting_etag,
                    attempts: attempt,
                });
            }
            etag = out.actual_etag;
            value = match out.value {
                Slot::Present(v) => Some(v),
                Slot::Absent => None,
                Slot::NotRetrieved => match self.get_with_etag(key).await? {
                    Some((v, e)) => {
                        etag = Some(e);
                        Some(v)
                    }
                    None => {
                        etag = None;
                        None
                    }
                },
            };
            if attempt < max {
                tokio::time::sleep(policy.backoff(attempt)).await;
            }
        }
        Err(Error::ConcurrencyConflict {
            key: key.clone(),
            attempts: max,
        })
    }
}

impl<V: Value, D: PersiDict<V> + ?Sized> PersiDictExt<V> for D {}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<V: Value, D: PersiDict<V> + ?Sized> PersiDict<V> for $ty {
            fn info(&self) -> DictInfo {
                (**self).info()
            }
            async fn capabilities(&self) -> Result<Capabilities> {
                (**self).capabilities().await
            }
            async fn get_if(
                &self,
                key: &Key,
                condition: Condition,
                expected: Option<&ETag>,
                retrieve: Retrieve,
            ) -> Result<Outcome<V>> {
                (**self).get_if(key, condition, expected, retrieve).await
            }
            async fn put_if(
                &self,
                key: &Key,
                write: Write<V>,
                condition: Condition,
                expected: Option<&ETag>,
                retrieve: Retrieve,
            ) -> Result<Outcome<V>> {
                (**self).put_if(key, write, condition, expected, retrieve).await
            }
            async fn setdefault_if(
                &self,
                key: &Key,
                default: V,
                condition: Condition,
                expected: Option<&ETag>,
                retrieve: Retrieve,
            ) -> Result<Outcome<V>> {
                (**self).setdefault_if(key, default, condition, expected, retrieve).await
            }
            async fn discard_if(
                &self,
                key: &Key,
                condition: Condition,
                expected: Option<&ETag>,
            ) -> Result<Outcome<V>> {
                (**self).discard_if(key, condition, expected).await
            }
            async fn put(&self, key: &Key, value: V) -> Result<ETag> {
                (**self).put(key, value).await
            }
            async fn delete(&self, key: &Key) -> Result<()> {
                (**self).delete(key).await
            }
            async fn discard(&self, key: &Key) -> Result<bool> {
                (**self).discard(key).await
            }
            async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
                (**self).head(key).await
            }
            fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
                (**self).list()
            }
            fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>> {
                (**self).get_subdict(prefix)
            }
            async fn get_opt(&self, key: &Key) -> Result<Option<V>> {
                (**self).get_opt(key).await
            }
            async fn get_with_etag(&self, key: &Key) -> Result<Option<(V, ETag)>> {
                (**self).get_with_etag(key).await
            }
            async fn contains(&self, key: &Key) -> Result<bool> {
                (**self).contains(key).await
            }
            fn keys(&self) -> BoxStream<'_, Result<Key>> {
                (**self).keys()
            }
            fn items(&self) -> BoxStream<'_, Result<(Key, V)>> {
                (**self).items()
            }
            fn values(&self) -> BoxStream<'_, Result<V>> {
                (**self).values()
            }
            async fn etag(&self, key: &Key) -> Result<ETag> {
                (**self).etag(key).await
            }
            async fn timestamp(&self, key: &Key) -> Result<SystemTime> {
                (**self).timestamp(key).await
            }
            async fn oldest_keys(&self, n: usize) -> Result<Vec<Key>> {
                (**self).oldest_keys(n).await
            }
            async fn newest_keys(&self, n: usize) -> Result<Vec<Key>> {
                (**self).newest_keys(n).await
            }
            async fn random_key(&self) -> Result<Option<Key>> {
                (**self).random_key().await
            }
            async fn len(&self) -> Result<usize> {
                (**self).len().await
            }
            async fn is_empty(&self) -> Result<bool> {
                (**self).is_empty().await
            }
            async fn clear(&self) -> Result<()> {
                (**self).clear().await
            }
            async fn setdefault(&self, key: &Key, default: V) -> Result<V> {
                (**self).setdefault(key, default).await
            }
            async fn pop(&self, key: &Key) -> Result<V> {
                (**self).pop(key).await
            }
            async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<V>>> {
                (**self).get_many(keys).await
            }
            async fn put_many(&self, items: Vec<(Key, V)>) -> Result<()> {
                (**self).put_many(items).await
            }
            async fn discard_many(&self, keys: &[Key]) -> Result<usize> {
                (**self).discard_many(keys).await
            }
            async fn delete_many(&self, keys: &[Key]) -> Result<()> {
                (**self).delete_many(keys).await
            }
            fn concurrency(&self) -> usize {
                (**self).concurrency()
            }
            async fn subdicts(&self) -> Result<Vec<String>> {
                (**self).subdicts().await
            }
        }
    )*};
}

forward!(Box<D>, std::sync::Arc<D>, &D);
