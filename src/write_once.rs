//! [`WriteOnceDict`]: a dictionary whose keys are each written once, over any dictionary.
//!
//! The first write of a key is an insert-if-absent (`PUT If-None-Match: *`), atomic on
//! every store that enforces it: of several writers racing on one key exactly one writes.
//! Writing the key again is accepted without a write. Whether the repeated value is the
//! same is checked only with probability
//! [`p_consistency_checks`](WriteOnceDict::p_consistency_checks) (one GET and a comparison
//! of the encoded bytes), so that repeats stay cheap: a repeat costs exactly one request
//! (the refused insert) when no check is drawn, two when one is. A check that finds a
//! different value is [`Error::WriteOnceConflict`](crate::Error::WriteOnceConflict), naming the key.
//!
//! The typical use is memoising deterministic functions across machines: the key names the
//! inputs, the value is the result; whoever computes a result first stores it, everyone
//! else's identical result is accepted for free, and a sampled check catches a function
//! that was not deterministic after all.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//! use persidict::store::Stored;
//! use persidict::WriteOnceDict;
//!
//! let results = WriteOnceDict::with_p_consistency_checks(MemDict::<u64>::new(), 1.0)?;
//! let k = Key::new(["square", "12"])?;
//! assert!(matches!(results.put(&k, 144).await?, Stored::Written(_)));
//! assert!(matches!(results.put(&k, 144).await?, Stored::Repeated { checked: true, .. }));
//! assert!(matches!(results.put(&k, 145).await, Err(Error::WriteOnceConflict { .. })));
//! assert_eq!(results.get(&k).await?, 144);
//! assert_eq!(results.consistency_checks(), 2);
//! assert!(results.delete(&k).await.is_err()); // write-once dictionaries never remove
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```
//!
//! # What each operation does
//! A write-once dictionary is append-only ([`PersiDict`]'s "Append-only dictionaries"):
//! `delete`, `discard`, `pop`, `popitem`, `clear`, `delete_many` and
//! `Write::DeleteCurrent` give [`Error::AppendOnly`](crate::Error::AppendOnly) before anything is sent. Unlike a plain
//! append-only dictionary, writing an existing key with the *same* value is not an error:
//!
//! - [`WriteOnceDict::put`] reports [`Stored::Written`] or [`Stored::Repeated`]; a repeat
//!   is compared with probability `p_consistency_checks`.
//! - [`PersiDict::put`] (on the plain [`PersiDict`] of
//!   [`into_dict`](WriteOnceDict::into_dict), and inside `put_many`) must report an ETag,
//!   so there an unchecked repeat sends one HEAD more to learn it; a different value is
//!   found only by a check, as above.
//! - Conditional writes (`put_if`, `transform`, `compare_and_swap`) whose condition holds
//!   on an existing key always compare (one GET): the same bytes are reported as written
//!   with the ETag unchanged (`mutated() == false`), other bytes give
//!   [`Error::WriteOnceConflict`](crate::Error::WriteOnceConflict). `insert` and `setdefault` behave as everywhere.
//!
//! # Compared with Python persidict
//! Python's `WriteOnceDict` wraps a dictionary that must already be append-only; this one
//! wraps any dictionary and makes it write-once itself. The default probability is the
//! same (0.0), and a check compares encoded bytes where Python compares digests of the
//! values. Python refuses every conditional write (`set_item_if`); here a conditional
//! write is allowed and compares, as described above.
//!
//! On a store that cannot insert-if-absent atomically (rclone's S3 server), every write
//! gives [`Error::Unsupported`](crate::Error::Unsupported): write-once cannot be kept there.

use std::sync::Arc;

use crate::dict::{PersiDict, Value};
use crate::error::Result;
use crate::key::Key;
use crate::store::{ObjectStore, Stored, WriteOnce, WriteOnceStats};

/// A dictionary whose keys are each written once, over any [`PersiDict`] (memory, files,
/// S3, a cache, a subdictionary); see the [module documentation](self). Every
/// [`PersiDict`] method is available through `Deref`; [`put`](WriteOnceDict::put) is the
/// write-once form.
pub struct WriteOnceDict<V> {
    /// The wrapped dictionary, for subdictionaries.
    wrapped: PersiDict<V>,
    store: Arc<WriteOnce>,
    dict: PersiDict<V>,
}

impl<V> Clone for WriteOnceDict<V> {
    fn clone(&self) -> Self {
        WriteOnceDict {
            wrapped: self.wrapped.clone(),
            store: Arc::clone(&self.store),
            dict: self.dict.clone(),
        }
    }
}

impl<V> std::fmt::Debug for WriteOnceDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteOnceDict")
            .field("p_consistency_checks", &self.store.p_consistency_checks())
            .field("dict", &self.dict)
            .finish()
    }
}

impl<V: Value> WriteOnceDict<V> {
    /// `dict`, write-once, never reading repeats back (`p_consistency_checks = 0.0`).
    pub fn new(dict: impl Into<PersiDict<V>>) -> WriteOnceDict<V> {
        WriteOnceDict::with_p_consistency_checks(dict, 0.0).expect("0.0 is a valid probability")
    }

    /// `dict`, write-once, reading a repeated write back and comparing it with probability
    /// `p` (0.0: never; 1.0: always).
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) when `p` is not in `0.0..=1.0`.
    pub fn with_p_consistency_checks(
        dict: impl Into<PersiDict<V>>,
        p: f64,
    ) -> Result<WriteOnceDict<V>> {
        WriteOnceDict::wrap(dict.into(), p, Arc::default())
    }

    fn wrap(wrapped: PersiDict<V>, p: f64, stats: Arc<WriteOnceStats>) -> Result<WriteOnceDict<V>> {
        let store = Arc::new(WriteOnce::with_stats(
            Arc::clone(wrapped.store()),
            p,
            stats,
        )?);
        let as_store: Arc<dyn ObjectStore> = store.clone();
        let dict = PersiDict::with_options(as_store, wrapped.options())?;
        Ok(WriteOnceDict {
            wrapped,
            store,
            dict,
        })
    }

    /// The probability that a repeated [`put`](WriteOnceDict::put) is read back and
    /// compared.
    pub fn p_consistency_checks(&self) -> f64 {
        self.store.p_consistency_checks()
    }

    /// How many repeated writes were read back and compared, by this dictionary, its
    /// clones and its subdictionaries.
    pub fn consistency_checks(&self) -> u64 {
        self.store.stats().checks()
    }

    /// How many checks found the same value (Python persidict's
    /// `consistency_checks_passed`).
    pub fn consistency_checks_passed(&self) -> u64 {
        let stats = self.store.stats();
        stats.checks().saturating_sub(stats.conflicts())
    }

    /// How many checks found a different value and gave [`Error::WriteOnceConflict`](crate::Error::WriteOnceConflict)
    /// (Python persidict's `consistency_checks_failed`).
    pub fn consistency_checks_failed(&self) -> u64 {
        self.store.stats().conflicts()
    }

    /// The counters of repeats, checks and conflicts (shared with clones and
    /// subdictionaries).
    pub fn stats(&self) -> &WriteOnceStats {
        self.store.stats()
    }

    /// The byte-level write-once store under the dictionary.
    pub fn write_once_store(&self) -> &WriteOnce {
        &self.store
    }

    /// Stores `value` under `key` if the key is absent (one `PUT If-None-Match: *`). If it
    /// is present nothing is written: with probability
    /// [`p_consistency_checks`](WriteOnceDict::p_consistency_checks) the stored value is
    /// read (one GET) and compared with `value` by its encoded bytes.
    ///
    /// # Errors
    /// [`Error::WriteOnceConflict`](crate::Error::WriteOnceConflict) when a check finds a different value;
    /// [`Error::Unsupported`](crate::Error::Unsupported) on a store that cannot insert-if-absent atomically.
    pub async fn put(&self, key: &Key, value: V) -> Result<Stored> {
        let body = self.dict.encode(key, &value)?;
        let name = self.dict.object_name(key)?;
        self.store
            .put_once(&name, body.bytes, body.content_type)
            .await
            .map_err(|e| e.for_key(&name, key))
    }

    /// A write-once subdictionary, with the same probability and counters.
    pub fn subdict(&self, prefix: &Key) -> WriteOnceDict<V> {
        WriteOnceDict::wrap(
            self.wrapped.subdict(prefix),
            self.p_consistency_checks(),
            Arc::clone(self.store.stats()),
        )
        .expect("the probability and options were checked when this dictionary was made")
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<WriteOnceDict<u64>>();
};

crate::dict::typed_newtype!(WriteOnceDict<V>);
