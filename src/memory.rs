//! [`MemDict`]: the in-memory reference dictionary.

use std::sync::Arc;

use crate::codec::Codec;
use crate::dict::{DictOptions, PersiDict, Value};
use crate::key::Key;
use crate::store::{MemStore, ObjectStore};

/// An in-memory dictionary: a [`PersiDict`] over a [`MemStore`], the reference
/// implementation and the contract suite's ground truth.
///
/// Values go through the codec like on any other backend, so type and codec errors show up
/// in tests exactly as they would on S3. Every request holds the store's lock for its whole
/// duration, so conditional operations are atomic. Clones and subdictionaries share the
/// same store. Every [`PersiDict`] method is available through `Deref`.
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
    store: MemStore,
    prefix: Vec<String>,
    dict: PersiDict<V>,
}

impl<V> Clone for MemDict<V> {
    fn clone(&self) -> Self {
        MemDict {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            dict: self.dict.clone(),
        }
    }
}

impl<V> std::fmt::Debug for MemDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemDict")
            .field("prefix", &self.prefix)
            .field("dict", &self.dict)
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
        MemDict::on(MemStore::new(), Vec::new(), DictOptions::default())
    }

    fn on(store: MemStore, prefix: Vec<String>, options: DictOptions) -> Self {
        let root: Arc<dyn ObjectStore> = Arc::new(store.clone());
        let mut dict = PersiDict::with_options(root, options)
            .expect("MemDict options keep the default digest length");
        if let Ok(prefix_key) = Key::new(prefix.iter().cloned()) {
            dict = dict.subdict(&prefix_key);
        }
        MemDict {
            store,
            prefix,
            dict,
        }
    }

    /// The same store seen through another codec.
    #[must_use]
    pub fn with_codec(self, codec: Codec) -> Self {
        let options = DictOptions {
            codec,
            ..self.dict.options()
        };
        MemDict::on(self.store, self.prefix, options)
    }

    /// The same store, append-only (or not).
    #[must_use]
    pub fn with_append_only(self, append_only: bool) -> Self {
        let options = DictOptions {
            append_only,
            ..self.dict.options()
        };
        MemDict::on(self.store, self.prefix, options)
    }

    /// A subdictionary sharing this store, as a `MemDict`.
    pub fn subdict(&self, prefix: &Key) -> MemDict<V> {
        MemDict {
            store: self.store.clone(),
            prefix: [self.prefix.as_slice(), prefix.parts()].concat(),
            dict: self.dict.subdict(prefix),
        }
    }

    /// The store under the dictionary.
    pub fn mem_store(&self) -> &MemStore {
        &self.store
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MemDict<u64>>();
    assert_send_sync::<PersiDict<u64>>();
};

crate::dict::typed_newtype!(MemDict<V>);
