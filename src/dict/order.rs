//! Entries with their timestamps, values by age, and [`popitem`](PersiDict::popitem).

use std::time::SystemTime;

use futures::stream::{BoxStream, StreamExt, TryStreamExt};

use super::{PersiDict, Value, BULK_BATCH};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::semantics::MAX_ATTEMPTS;
use crate::store::{Read, ReadOptions};

impl<V: Value> PersiDict<V> {
    /// The value of `key` and when it was last written, from one read (so the two belong
    /// together), or `None` if it is absent.
    pub async fn get_with_timestamp(&self, key: &Key) -> Result<Option<(V, SystemTime)>> {
        let name = self.object_name(key)?;
        let max = self.options.max_value_size;
        let options = ReadOptions {
            if_none_match: None,
            max_size: Some(max),
        };
        match self.store.read(&name, options).await? {
            Read::Found(object) => Ok(Some((
                self.decode(key, object.body)?,
                object.meta.last_modified,
            ))),
            Read::TooLarge { size } => Err(Error::ValueTooLarge {
                key: key.clone(),
                size,
                max,
            }),
            Read::Absent | Read::NotModified { .. } => Ok(None),
        }
    }

    /// Every `(key, value, last modified)` triple, in no particular order; streams like
    /// [`items`](PersiDict::items) (one read per entry, at most
    /// [`concurrency`](PersiDict::concurrency) in flight). Each value and its timestamp
    /// come from the same read; keys deleted during the iteration are skipped.
    pub fn items_with_timestamps(&self) -> BoxStream<'static, Result<(Key, V, SystemTime)>> {
        let this = self.clone();
        self.keys()
            .map(move |k| {
                let this = this.clone();
                async move {
                    let k = k?;
                    Ok(this.get_with_timestamp(&k).await?.map(|(v, t)| (k, v, t)))
                }
            })
            .buffer_unordered(self.concurrency())
            .try_filter_map(|x| async move { Ok(x) })
            .boxed()
    }

    /// The values of the `n` least recently written keys, oldest first (see
    /// [`oldest_keys`](PersiDict::oldest_keys)): the listing, then one read per key. A key
    /// deleted in between is left out, so fewer than `n` values can come back.
    pub async fn oldest_values(&self, n: usize) -> Result<Vec<V>> {
        let keys = self.oldest_keys(n).await?;
        Ok(self.get_many(&keys).await?.into_iter().flatten().collect())
    }

    /// The values of the `n` most recently written keys, newest first (see
    /// [`newest_keys`](PersiDict::newest_keys)); as [`oldest_values`](PersiDict::oldest_values).
    pub async fn newest_values(&self, n: usize) -> Result<Vec<V>> {
        let keys = self.newest_keys(n).await?;
        Ok(self.get_many(&keys).await?.into_iter().flatten().collect())
    }

    /// Removes some entry and returns it, or `None` when the dictionary is empty.
    ///
    /// Atomic: each key is taken with [`pop`](PersiDict::pop) (a GET, then a DELETE
    /// conditioned on the ETag read), so an entry is never returned to two callers, even
    /// when many race. Which entry is taken is not specified: it reads up to
    /// [`BULK_BATCH`] keys of the listing, tries them in random order (so that racing
    /// callers seldom contend for the same key) and moves on when another caller took a
    /// key first; when every key of a listing was taken by others it lists again.
    /// [`Error::AppendOnly`] on an append-only dictionary that is not empty (naming the
    /// first key listed; nothing is removed); [`Error::ConcurrencyConflict`] when it lost every key of [`MAX_ATTEMPTS`]
    /// listings in a row.
    pub async fn popitem(&self) -> Result<Option<(Key, V)>> {
        let mut last = None;
        for _ in 0..MAX_ATTEMPTS {
            let mut keys: Vec<Key> = self.keys().take(BULK_BATCH).try_collect().await?;
            if let Some(first) = keys.first() {
                self.refuse_removal(first, "popitem")?;
            } else {
                return Ok(None);
            }
            fastrand::shuffle(&mut keys);
            for k in keys {
                match self.pop(&k).await {
                    Ok(v) => return Ok(Some((k, v))),
                    // Another caller took it first.
                    Err(Error::NotFound { .. }) => last = Some(k),
                    Err(e) => return Err(e),
                }
            }
        }
        match last {
            Some(key) => Err(Error::ConcurrencyConflict {
                key,
                attempts: MAX_ATTEMPTS,
            }),
            None => Ok(None),
        }
    }
}
