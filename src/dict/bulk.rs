//! Listings and bulk operations of [`PersiDict`]: streams over every entry, counts,
//! clearing, many keys at once, and the oldest, newest and random keys.

use std::collections::BTreeSet;
use std::sync::Arc;

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::{EntryMeta, PersiDict, Value, BULK_BATCH};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::DeleteResult;

impl<V: Value> PersiDict<V> {
    /// Every entry's metadata, in no particular order; entries written or deleted during
    /// the listing may or may not appear. Objects this dictionary did not name (foreign
    /// files, other codecs, probes, signatures that do not verify) are skipped. The stream
    /// owns what it needs, so it can move into a spawned task.
    pub fn list(&self) -> BoxStream<'static, Result<EntryMeta>> {
        let naming = Arc::clone(&self.naming);
        self.store
            .list("")
            .try_filter_map(move |meta| {
                let entry = naming.parse_object_name(&meta.name).map(|key| EntryMeta {
                    key,
                    etag: meta.etag,
                    size: meta.size,
                    last_modified: meta.last_modified,
                });
                async move { Ok(entry) }
            })
            .boxed()
    }

    /// Every key, in no particular order.
    pub fn keys(&self) -> BoxStream<'static, Result<Key>> {
        self.list().map_ok(|m| m.key).boxed()
    }

    /// Every value, in no particular order. Streams: values are fetched while the listing
    /// goes on, with at most [`concurrency`](PersiDict::concurrency) reads in flight, so
    /// memory stays bounded however many entries there are. Keys deleted during the
    /// iteration are skipped.
    pub fn values(&self) -> BoxStream<'static, Result<V>> {
        self.items().map_ok(|(_, v)| v).boxed()
    }

    /// Every `(key, value)` pair, in no particular order; streams like
    /// [`values`](PersiDict::values).
    pub fn items(&self) -> BoxStream<'static, Result<(Key, V)>> {
        let this = self.clone();
        self.keys()
            .map(move |k| {
                let this = this.clone();
                async move {
                    let k = k?;
                    Ok(this.get_opt(&k).await?.map(|v| (k, v)))
                }
            })
            .buffer_unordered(self.concurrency())
            .try_filter_map(|x| async move { Ok(x) })
            .boxed()
    }

    /// The number of entries.
    pub async fn len(&self) -> Result<usize> {
        self.list()
            .try_fold(0usize, |n, _| async move { Ok(n + 1) })
            .await
    }

    /// Whether there are no entries.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.list().try_next().await?.is_none())
    }

    /// Removes every entry; [`Error::AppendOnly`] on an append-only dictionary that is not
    /// empty. Streams the listing and deletes it in batches of [`BULK_BATCH`] with the
    /// store's `delete_many` (on S3 one `DeleteObjects` per batch, overlapped with the
    /// listing, at most [`concurrency`](PersiDict::concurrency) in flight), so memory stays
    /// bounded. Entries written during the call may survive it.
    pub async fn clear(&self) -> Result<()> {
        let append_only = self.append_only;
        let store = Arc::clone(&self.store);
        let naming = Arc::clone(&self.naming);
        self.store
            .list("")
            .try_filter_map(move |meta| {
                let ours = naming
                    .parse_object_name(&meta.name)
                    .map(|key| (key, meta.name));
                async move { Ok(ours) }
            })
            .try_chunks(BULK_BATCH)
            .map_err(|e| e.1)
            .map_ok(move |batch| {
                let store = Arc::clone(&store);
                async move {
                    if append_only {
                        if let Some((key, _)) = batch.first() {
                            return Err(Error::append_only(key, "clear"));
                        }
                    }
                    let names = batch.into_iter().map(|(_, name)| name).collect();
                    store.delete_many(names).await
                }
            })
            .try_buffer_unordered(self.concurrency())
            .try_collect::<()>()
            .await
    }

    /// The values of `keys` (`None` where absent), in the order of `keys`: one read per
    /// key, at most [`concurrency`](PersiDict::concurrency) in flight, completing in any
    /// order. The first error stops it.
    pub async fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<V>>> {
        let reads: Vec<_> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let read = self.get_opt(k);
                async move { read.await.map(|v| (i, v)) }
            })
            .collect();
        let mut values: Vec<Option<V>> = std::iter::repeat_with(|| None).take(keys.len()).collect();
        let mut done = stream::iter(reads).buffer_unordered(self.concurrency());
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
    pub async fn put_many(&self, items: Vec<(Key, V)>) -> Result<()> {
        stream::iter(items)
            .map(|(k, v)| async move { self.put(&k, v).await.map(drop) })
            .buffer_unordered(self.concurrency())
            .try_collect::<()>()
            .await
    }

    /// Removes every key of `keys` that is present and returns how many were removed: one
    /// [`discard`](PersiDict::discard) per key, at most
    /// [`concurrency`](PersiDict::concurrency) in flight. Use
    /// [`delete_many`](PersiDict::delete_many) when the count is not needed: on S3 it
    /// sends one request per 1000 keys instead of one per key.
    pub async fn discard_many(&self, keys: &[Key]) -> Result<usize> {
        let deletes: Vec<_> = keys.iter().map(|k| self.discard(k)).collect();
        stream::iter(deletes)
            .buffer_unordered(self.concurrency())
            .try_fold(0, |n, gone| async move { Ok(n + usize::from(gone)) })
            .await
    }

    /// Makes sure none of `keys` is present. Unlike [`delete`](PersiDict::delete), absent
    /// keys are not an error, and unlike [`discard_many`](PersiDict::discard_many) it does
    /// not say which keys existed — which lets S3 remove up to 1000 keys per
    /// `DeleteObjects` request (unconditional deletes, with at most
    /// [`concurrency`](PersiDict::concurrency) requests in flight).
    /// [`Error::AppendOnly`] on an append-only dictionary unless `keys` is empty; on another
    /// error some keys may already be gone.
    pub async fn delete_many(&self, keys: &[Key]) -> Result<()> {
        if self.append_only {
            return match keys.first() {
                Some(key) => Err(Error::append_only(key, "delete")),
                None => Ok(()),
            };
        }
        // Names first, so that an invalid key fails the call before anything is deleted.
        let names = keys
            .iter()
            .map(|k| self.object_name(k))
            .collect::<Result<Vec<_>>>()?;
        let batches: Vec<Vec<String>> = names.chunks(BULK_BATCH).map(<[String]>::to_vec).collect();
        stream::iter(batches)
            .map(|batch| self.store.delete_many(batch))
            .buffer_unordered(self.concurrency())
            .try_collect::<()>()
            .await
    }

    /// Deletes each key of `entries` only if its ETag is still the one paired with it, and
    /// says for each, in order, whether it was deleted (`false`: absent, or changed since
    /// the ETag was read). On S3, ⌈n/1000⌉ `DeleteObjects` where the server honours their
    /// per-object ETags ([`Capabilities::delete_many_if_match`](crate::Capabilities)),
    /// else one `DELETE If-Match` per key, [`concurrency`](PersiDict::concurrency) in
    /// flight.
    ///
    /// # Errors
    /// [`Error::AppendOnly`] on an append-only dictionary unless `entries` is empty;
    /// [`Error::Unsupported`] where compare-and-delete is not enforced; on another error
    /// some keys may already be gone.
    #[doc(alias = "delete_many_if")]
    pub async fn discard_many_if(&self, entries: &[(Key, ETag)]) -> Result<Vec<bool>> {
        if let Some((key, _)) = entries.first() {
            self.refuse_removal(key, "delete")?;
        }
        let objects = entries
            .iter()
            .map(|(k, e)| Ok((self.object_name(k)?, e.clone())))
            .collect::<Result<Vec<_>>>()?;
        let results = self.store.delete_many_if(objects).await?;
        Ok(results
            .into_iter()
            .map(|r| r == DeleteResult::Deleted)
            .collect())
    }

    /// The first parts of the keys that have more than one part: the names of the
    /// subdictionaries that hold at least one entry, sorted.
    pub async fn subdicts(&self) -> Result<Vec<String>> {
        let names: BTreeSet<String> = self
            .keys()
            .try_filter_map(|k| async move { Ok((k.len() > 1).then(|| k.parts()[0].clone())) })
            .try_collect()
            .await?;
        Ok(names.into_iter().collect())
    }

    /// The `n` least recently written keys, oldest first.
    pub async fn oldest_keys(&self, n: usize) -> Result<Vec<Key>> {
        let mut all: Vec<EntryMeta> = self.list().try_collect().await?;
        all.sort_by(|a, b| (a.last_modified, &a.key).cmp(&(b.last_modified, &b.key)));
        Ok(all.into_iter().take(n).map(|m| m.key).collect())
    }

    /// The `n` most recently written keys, newest first.
    pub async fn newest_keys(&self, n: usize) -> Result<Vec<Key>> {
        let mut all: Vec<EntryMeta> = self.list().try_collect().await?;
        all.sort_by(|a, b| (b.last_modified, &b.key).cmp(&(a.last_modified, &a.key)));
        Ok(all.into_iter().take(n).map(|m| m.key).collect())
    }

    /// A key chosen uniformly at random, or `None` when empty. One pass over the listing,
    /// holding one key at a time.
    pub async fn random_key(&self) -> Result<Option<Key>> {
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
