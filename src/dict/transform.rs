//! Read-modify-write on [`PersiDict`]: [`transform`](PersiDict::transform) and the
//! sled-style [`compare_and_swap`](PersiDict::compare_and_swap).

use std::time::Duration;

use super::{PersiDict, Value};
use crate::cond::{Condition, ETag, Retrieve, Slot, Write};
use crate::error::{Error, Result};
use crate::key::Key;

/// How [`transform`](PersiDict::transform) retries when concurrent writers win.
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

/// What [`transform`](PersiDict::transform) did.
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

/// Why a [`compare_and_swap`](PersiDict::compare_and_swap) did not swap: the key's current
/// value and ETag, read by the request that observed the refusal, so the caller can retry
/// without another read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasConflict<V> {
    /// The current value (`None`: absent).
    pub current: Option<V>,
    /// The current ETag (`None`: absent).
    pub etag: Option<ETag>,
}

impl<V: Value> PersiDict<V> {
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
    /// let k: Key = "hits".parse()?;
    /// let t = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await?;
    /// assert_eq!(t.value, Some(1));
    /// # Ok::<(), persidict::Error>(()) }).unwrap();
    /// ```
    #[doc(alias = "update")]
    #[doc(alias = "fetch_and_update")]
    pub async fn transform<F>(&self, key: &Key, f: F) -> Result<Transformed<V>>
    where
        F: FnMut(Option<V>) -> Write<V> + Send,
        V: Clone,
    {
        self.transform_with(key, RetryPolicy::default(), f).await
    }

    /// [`transform`](PersiDict::transform) with an explicit retry policy.
    pub async fn transform_with<F>(
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

    /// Compare-and-swap on the ETag, in the manner of sled: replaces the value of `key`
    /// with `new` (`None` deletes it) only if its ETag is `expected` (`None`: only if the
    /// key is absent). `Ok(Ok(etag))`: swapped, with the new ETag (`None` after a delete).
    /// `Ok(Err(conflict))`: not swapped; `conflict` holds the current value and ETag, read
    /// by the request that observed the refusal. One conditional request when it swaps;
    /// one more (a GET) when it does not.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use persidict::prelude::*;
    /// let d = MemDict::<u64>::new();
    /// let k: Key = "n".parse()?;
    /// let first = d.compare_and_swap(&k, None, Some(1)).await?.expect("absent, so inserted");
    /// let refused = d.compare_and_swap(&k, None, Some(2)).await?.unwrap_err();
    /// assert_eq!(refused.current, Some(1));
    /// assert_eq!(refused.etag, first);
    /// # Ok::<(), persidict::Error>(()) }).unwrap();
    /// ```
    #[doc(alias = "cas")]
    #[doc(alias = "put_if_match")]
    pub async fn compare_and_swap(
        &self,
        key: &Key,
        expected: Option<&ETag>,
        new: Option<V>,
    ) -> Result<std::result::Result<Option<ETag>, CasConflict<V>>> {
        let write = match new {
            Some(v) => Write::Value(v),
            None => Write::DeleteCurrent,
        };
        let out = self
            .put_if(key, write, Condition::Same, expected, Retrieve::IfChanged)
            .await?;
        if out.satisfied {
            return Ok(Ok(out.resulting_etag));
        }
        let current = match out.value {
            Slot::Present(v) => Some(v),
            Slot::Absent => None,
            // The refusal saw the expected ETag again (it changed and changed back): read.
            Slot::NotRetrieved => self.get_opt(key).await?,
        };
        Ok(Err(CasConflict {
            current,
            etag: out.actual_etag,
        }))
    }
}
