//! [`PersiDict`]: the typed dictionary, built once over any [`ObjectStore`].
//!
//! A dictionary names each [`Key`] as one object of its store
//! (`<signed part 1>/.../<signed part n>.<codec extension>`), encodes values with its
//! [`Codec`], and gets persidict's conditional semantics from [`crate::semantics`]. Every
//! backend ([`MemDict`](crate::MemDict), [`FileDict`](crate::FileDict), `S3Dict`) is this
//! one type over its store; subdictionaries are the same type over a
//! [`Prefixed`] store, append-only dictionaries over an [`AppendOnly`] one.

mod bulk;
mod copy;
mod ops;
mod order;
mod stream;
mod transform;
mod versions;

/// Binds `$name` to the object name of `$key` and `$t` to the [`Target`] of one operation
/// on it, whose errors name `$key`.
macro_rules! target {
    ($dict:expr, $key:expr, $name:ident, $t:ident) => {
        let $name = $dict.object_name($key)?;
        let max = $dict.options.max_value_size;
        let too_large = |size| crate::error::Error::ValueTooLarge {
            key: $key.clone(),
            size,
            max,
        };
        let contended = |attempts| crate::error::Error::ConcurrencyConflict {
            key: $key.clone(),
            attempts,
        };
        let $t = crate::semantics::Target {
            store: &*$dict.store,
            name: &$name,
            max_size: Some(max),
            too_large: &too_large,
            contended: &contended,
        };
    };
}
pub(crate) use target;

/// The conversions of a backend's typed newtype (`MemDict`, `FileDict`, `S3Dict`,
/// `CachedDict`) whose field `dict` is the [`PersiDict`]: `Deref` to it (so every
/// dictionary method is there), `AsRef`, `From` and `into_dict`.
macro_rules! typed_newtype {
    ($name:ident < $v:ident $(, $extra:ident)* >) => {
        impl<$v $(, $extra)*> std::ops::Deref for $name<$v $(, $extra)*> {
            type Target = crate::dict::PersiDict<$v>;
            fn deref(&self) -> &crate::dict::PersiDict<$v> {
                &self.dict
            }
        }

        impl<$v $(, $extra)*> AsRef<crate::dict::PersiDict<$v>> for $name<$v $(, $extra)*> {
            fn as_ref(&self) -> &crate::dict::PersiDict<$v> {
                &self.dict
            }
        }

        impl<$v $(, $extra)*> From<$name<$v $(, $extra)*>> for crate::dict::PersiDict<$v> {
            fn from(d: $name<$v $(, $extra)*>) -> crate::dict::PersiDict<$v> {
                d.dict
            }
        }

        impl<$v $(, $extra)*> $name<$v $(, $extra)*> {
            /// The dictionary as a plain [`PersiDict`](crate::PersiDict).
            pub fn into_dict(self) -> crate::dict::PersiDict<$v> {
                self.dict
            }
        }
    };
}
pub(crate) use typed_newtype;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use self::copy::{CopyOptions, Renamed};
pub use self::transform::{CasConflict, RetryPolicy, Transformed};
use crate::codec::Codec;
use crate::cond::{ETag, Outcome, Slot};
use crate::error::{Error, Result};
use crate::key::{Key, Naming, DEFAULT_DIGEST_LEN};
use crate::semantics::Body;
pub use crate::store::Capabilities;
use crate::store::{AppendOnly, ObjectStore, Prefixed};

/// What a dictionary can store: any serde type that can move between tasks.
pub trait Value: Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Serialize + DeserializeOwned + Send + Sync + 'static> Value for T {}

/// How many requests bulk operations keep in flight by default (see
/// [`PersiDict::concurrency`]): 64. Measured behind 10 ms and 40 ms of round trip
/// (`bench/compare.sh --rtt`), 64 reaches 94% of what 256 does at 10 ms on a 2-core
/// machine, where the client and server CPU are the limit, and twice what 32 does at
/// 40 ms; more in flight pays against a distant server when the CPU allows, and costs
/// memory in `values` (up to this many values held at once) and connections.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// How many keys a bulk operation hands to the store's `delete_many` at once (S3 deletes at
/// most 1000 objects per request).
pub const BULK_BATCH: usize = 1000;

/// The default largest value a dictionary writes or reads, in bytes: 1 GiB. Larger values
/// are refused with [`Error::ValueTooLarge`] before anything is written or transferred.
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

/// How a [`PersiDict`] names, encodes and moves its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DictOptions {
    /// The value codec (default: bincode).
    pub codec: Codec,
    /// The signature length of key parts (default 4; 0 = unsigned names, Python
    /// persidict's layout; at most 52).
    pub digest_len: usize,
    /// Values can be inserted, never overwritten or removed (default: off): the store is
    /// wrapped in [`AppendOnly`].
    pub append_only: bool,
    /// The largest value written or read, in bytes (default [`DEFAULT_MAX_VALUE_SIZE`]).
    pub max_value_size: u64,
    /// How many requests bulk operations keep in flight (default [`DEFAULT_CONCURRENCY`];
    /// 0 counts as 1).
    pub concurrency: usize,
}

impl Default for DictOptions {
    fn default() -> Self {
        DictOptions {
            codec: Codec::default(),
            digest_len: DEFAULT_DIGEST_LEN,
            append_only: false,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// A persistent dictionary from [`Key`]s to values of type `V`, over any [`ObjectStore`].
///
/// Cheap to clone (clones share the store). Every operation is a method here, and every
/// backend is this type over its own store, so every backend has the same semantics and
/// passes one contract suite.
///
/// # Conditional operations
/// [`get_if`](PersiDict::get_if), [`put_if`](PersiDict::put_if),
/// [`setdefault_if`](PersiDict::setdefault_if) and [`discard_if`](PersiDict::discard_if)
/// take a [`Condition`](crate::Condition) and the ETag the caller expects (`None` = "absent") and report an
/// [`Outcome`]. A condition that does not hold is an outcome with `satisfied == false`,
/// never an error. On stores that enforce conditional requests each of them is atomic with
/// respect to the `actual_etag` it reports. The short forms
/// [`insert`](PersiDict::insert), [`compare_and_swap`](PersiDict::compare_and_swap) and
/// [`delete_if`](PersiDict::delete_if) cover the common cases.
///
/// # Append-only dictionaries
/// Values can be inserted but never overwritten or removed: `put` on an existing key,
/// `delete`, `discard`, `pop`, `clear` and `Write::DeleteCurrent` give
/// [`Error::AppendOnly`]; `put_if` with `Write::Value` inserts only, and gives
/// [`Error::AppendOnly`] if its condition holds but the key exists; `Write::KeepCurrent`
/// is allowed.
pub struct PersiDict<V> {
    store: Arc<dyn ObjectStore>,
    naming: Arc<Naming>,
    options: DictOptions,
    /// The store's longest name, read once.
    max_name_len: usize,
    /// Whether the store is append-only, read once.
    append_only: bool,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for PersiDict<V> {
    fn clone(&self) -> Self {
        PersiDict {
            store: Arc::clone(&self.store),
            naming: Arc::clone(&self.naming),
            options: self.options,
            max_name_len: self.max_name_len,
            append_only: self.append_only,
            _values: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for PersiDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersiDict")
            .field("location", &self.store.info().location)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<V: Value> PersiDict<V> {
    /// A dictionary over `store` with the default [`DictOptions`].
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use persidict::prelude::*;
    /// use persidict::store::MemStore;
    ///
    /// let d: PersiDict<u64> = PersiDict::new(MemStore::new());
    /// d.put(&"a/b".parse()?, 1).await?;
    /// assert_eq!(d.get(&"a/b".parse()?).await?, 1);
    /// # Ok::<(), persidict::Error>(()) }).unwrap();
    /// ```
    pub fn new(store: impl ObjectStore) -> PersiDict<V> {
        PersiDict::with_options(Arc::new(store), DictOptions::default())
            .expect("the default options are valid")
    }

    /// A dictionary over `store` with `options`.
    ///
    /// # Errors
    /// [`Error::Config`] for a `digest_len` over 52.
    pub fn with_options(store: Arc<dyn ObjectStore>, options: DictOptions) -> Result<PersiDict<V>> {
        let naming = Naming::new("", options.digest_len, options.codec.extension())
            .map_err(|e| Error::Config(format!("digest_len {}: {e}", options.digest_len)))?;
        let store: Arc<dyn ObjectStore> = if options.append_only && !store.info().append_only {
            Arc::new(AppendOnly::new(store))
        } else {
            store
        };
        let mut options = options;
        options.concurrency = options.concurrency.max(1);
        let info = store.info();
        Ok(PersiDict {
            max_name_len: info.max_name_len,
            append_only: info.append_only,
            store,
            naming: Arc::new(naming),
            options,
            _values: PhantomData,
        })
    }

    /// The same store seen through another codec and value type. Each codec's extension is
    /// part of the object names, so the two dictionaries do not see each other's entries.
    pub fn with_codec<W: Value>(&self, codec: Codec) -> PersiDict<W> {
        let options = DictOptions {
            codec,
            ..self.options
        };
        PersiDict::with_options(Arc::clone(&self.store), options)
            .expect("the digest length was checked when this dictionary was made")
    }

    /// The dictionary over the keys that start with `prefix`, with `prefix` removed. It
    /// shares this dictionary's store and settings.
    pub fn subdict(&self, prefix: &Key) -> PersiDict<V> {
        let signed = self.naming.dir_prefix(prefix.parts());
        let store = Prefixed::new(Arc::clone(&self.store), &signed);
        PersiDict {
            max_name_len: store.info().max_name_len,
            append_only: self.append_only,
            store: Arc::new(store),
            naming: Arc::clone(&self.naming),
            options: self.options,
            _values: PhantomData,
        }
    }

    /// [`subdict`](PersiDict::subdict), for callers written against the fallible form.
    pub fn get_subdict(&self, prefix: &Key) -> Result<PersiDict<V>> {
        Ok(self.subdict(prefix))
    }

    /// The store under this dictionary (wrappers included).
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The options the dictionary was made with.
    pub fn options(&self) -> DictOptions {
        self.options
    }

    /// Describes the dictionary.
    pub fn info(&self) -> DictInfo {
        let store = self.store.info();
        DictInfo {
            backend: store.backend,
            location: store.location,
            codec: self.options.codec,
            append_only: store.append_only,
        }
    }

    /// Which conditional requests the store enforces (S3 probes them once per endpoint and
    /// bucket; memory and files enforce all).
    pub async fn capabilities(&self) -> Result<Capabilities> {
        self.store.capabilities().await
    }

    /// How many requests bulk operations keep in flight at most.
    pub fn concurrency(&self) -> usize {
        self.options.concurrency
    }

    /// The object name of `key` in the store; checks the store's name length limit.
    pub fn object_name(&self, key: &Key) -> Result<String> {
        Ok(self.naming.object_name_within(key, self.max_name_len)?)
    }

    /// [`Error::AppendOnly`] for an operation that would remove `key`, on an append-only
    /// dictionary: refused before anything is sent, even where the key is absent.
    pub(super) fn refuse_removal(&self, key: &Key, operation: &'static str) -> Result<()> {
        if self.append_only {
            Err(Error::append_only(key, operation))
        } else {
            Ok(())
        }
    }

    /// How this dictionary turns keys into object names (signature length, extension).
    pub fn naming(&self) -> &Naming {
        &self.naming
    }

    pub(crate) fn encode(&self, key: &Key, value: &V) -> Result<Body> {
        let bytes = self
            .options
            .codec
            .encode_within(key, value, self.options.max_value_size)?;
        Ok(Body {
            bytes: Bytes::from(bytes),
            content_type: self.options.codec.content_type(),
        })
    }

    pub(crate) fn decode(&self, key: &Key, bytes: Bytes) -> Result<V> {
        self.options.codec.decode_owned_for(key, Vec::from(bytes))
    }

    fn decode_slot(&self, key: &Key, slot: Slot<Bytes>) -> Result<Slot<V>> {
        Ok(match slot {
            Slot::Present(bytes) => Slot::Present(self.decode(key, bytes)?),
            Slot::Absent => Slot::Absent,
            Slot::NotRetrieved => Slot::NotRetrieved,
        })
    }

    fn decode_outcome(&self, key: &Key, out: Outcome<Bytes>) -> Result<Outcome<V>> {
        Ok(Outcome {
            satisfied: out.satisfied,
            actual_etag: out.actual_etag,
            resulting_etag: out.resulting_etag,
            value: self.decode_slot(key, out.value)?,
        })
    }
}

impl<V> AsRef<PersiDict<V>> for PersiDict<V> {
    fn as_ref(&self) -> &PersiDict<V> {
        self
    }
}
