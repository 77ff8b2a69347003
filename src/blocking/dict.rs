//! [`PersiDict`]: the blocking twin of [`crate::PersiDict`], method for method.

use std::sync::Arc;
use std::time::SystemTime;

use super::{run, Iter};
use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Write};
use crate::dict::{
    CasConflict, CopyOptions, DictInfo, DictOptions, EntryMeta, Renamed, RetryPolicy, Transformed,
    Value,
};
use crate::error::Result;
use crate::key::{Key, Naming};
use crate::store::{Capabilities, CopyResult, ObjectStore, ObjectVersion};

/// Declares blocking methods that forward to the async dictionary of the same name, each
/// documented by a link to it. `blocking` methods wait for the async method on the shared
/// runtime; `immediate` ones do not wait for anything and are forwarded as they are.
/// Generic parameters go in `[...]` after the name, bounds in `where [...]`.
macro_rules! forward {
    (
        blocking {$(
            $(#[$attr:meta])*
            fn $name:ident $([$($generics:tt)*])? (&self $(, $arg:ident: $ty:ty)* $(,)?)
                -> $ret:ty $(where [$($bounds:tt)*])?;
        )*}
        immediate {$(
            fn $iname:ident (&self $(, $iarg:ident: $ity:ty)* $(,)?) -> $iret:ty;
        )*}
    ) => {
        $(
            #[doc = concat!(
                "[`PersiDict::", stringify!($name), "`](crate::PersiDict::", stringify!($name),
                "), blocking the calling thread until it completes.\n\n# Panics\n",
                "On a thread inside a tokio runtime (see the [module docs](crate::blocking))."
            )]
            $(#[$attr])*
            #[track_caller]
            pub fn $name $(<$($generics)*>)? (&self $(, $arg: $ty)*) -> $ret
            $(where $($bounds)*)?
            {
                run(concat!("PersiDict::", stringify!($name)), self.inner.$name($($arg),*))
            }
        )*
        $(
            #[doc = concat!(
                "[`PersiDict::", stringify!($iname), "`](crate::PersiDict::", stringify!($iname),
                "); waits for nothing, so it works anywhere."
            )]
            pub fn $iname(&self $(, $iarg: $ity)*) -> $iret {
                self.inner.$iname($($iarg),*)
            }
        )*
    };
}

/// The blocking twin of [`crate::PersiDict`]: a persistent dictionary from [`Key`]s to
/// values of type `V` whose methods block the calling thread instead of returning
/// futures.
///
/// Every method of the async dictionary is here with the same name, arguments and
/// result, without `async`; the streams [`list`](PersiDict::list),
/// [`keys`](PersiDict::keys), [`values`](PersiDict::values) and
/// [`items`](PersiDict::items) are [`Iter`]s. The semantics (conditions, ETags,
/// atomicity, errors) are exactly the async dictionary's, which each method's
/// documentation links to. Cheap to clone; clones share the store.
///
/// ```
/// use persidict::blocking::MemDict;
/// use persidict::{Condition, Key, Retrieve, Write};
///
/// let d = MemDict::<String>::new();
/// let k = Key::try_from("greeting")?;
/// let etag = d.put(&k, "hello".into())?;
/// let out = d.put_if(&k, Write::Value("hi".into()), Condition::Same, Some(&etag), Retrieve::Never)?;
/// assert!(out.satisfied);
/// assert_eq!(d.get(&k)?, "hi");
/// # Ok::<(), persidict::Error>(())
/// ```
///
/// # Panics
/// Every method that waits for the store panics when called on a thread inside a tokio
/// runtime; see the [module docs](crate::blocking).
pub struct PersiDict<V> {
    inner: crate::PersiDict<V>,
}

impl<V> Clone for PersiDict<V> {
    fn clone(&self) -> Self {
        PersiDict {
            inner: self.inner.clone(),
        }
    }
}

impl<V> std::fmt::Debug for PersiDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("blocking::PersiDict")
            .field(&self.inner)
            .finish()
    }
}

impl<V> From<crate::PersiDict<V>> for PersiDict<V> {
    fn from(inner: crate::PersiDict<V>) -> Self {
        PersiDict { inner }
    }
}

impl<V> From<PersiDict<V>> for crate::PersiDict<V> {
    fn from(d: PersiDict<V>) -> Self {
        d.inner
    }
}

impl<V> AsRef<PersiDict<V>> for PersiDict<V> {
    fn as_ref(&self) -> &PersiDict<V> {
        self
    }
}

impl<V> PersiDict<V> {
    /// The async dictionary this one wraps, for async code (same store, same entries).
    pub fn as_async(&self) -> &crate::PersiDict<V> {
        &self.inner
    }

    /// The async dictionary this one wraps.
    pub fn into_async(self) -> crate::PersiDict<V> {
        self.inner
    }
}

impl<V: Value> PersiDict<V> {
    /// [`PersiDict::new`](crate::PersiDict::new): a dictionary over `store` with the
    /// default options.
    pub fn new(store: impl ObjectStore) -> PersiDict<V> {
        crate::PersiDict::new(store).into()
    }

    /// [`PersiDict::with_options`](crate::PersiDict::with_options).
    ///
    /// # Errors
    /// As the async one: [`Error::Config`](crate::Error::Config) for a `digest_len` over 52.
    pub fn with_options(store: Arc<dyn ObjectStore>, options: DictOptions) -> Result<PersiDict<V>> {
        crate::PersiDict::with_options(store, options).map(PersiDict::from)
    }

    /// [`PersiDict::with_codec`](crate::PersiDict::with_codec): the same store through
    /// another codec and value type.
    pub fn with_codec<W: Value>(&self, codec: Codec) -> PersiDict<W> {
        self.inner.with_codec(codec).into()
    }

    /// [`PersiDict::subdict`](crate::PersiDict::subdict): the dictionary over the keys
    /// that start with `prefix`, with `prefix` removed.
    pub fn subdict(&self, prefix: &Key) -> PersiDict<V> {
        self.inner.subdict(prefix).into()
    }

    /// [`PersiDict::get_subdict`](crate::PersiDict::get_subdict).
    pub fn get_subdict(&self, prefix: &Key) -> Result<PersiDict<V>> {
        self.inner.get_subdict(prefix).map(PersiDict::from)
    }

    /// [`PersiDict::store`](crate::PersiDict::store): the (async) store under the
    /// dictionary.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        self.inner.store()
    }

    /// [`PersiDict::list`](crate::PersiDict::list) as an iterator that lists as it is
    /// consumed. Creating it sends nothing.
    pub fn list(&self) -> Iter<EntryMeta> {
        Iter::new("PersiDict::list", || self.inner.list())
    }

    /// [`PersiDict::keys`](crate::PersiDict::keys) as an iterator that lists as it is
    /// consumed.
    pub fn keys(&self) -> Iter<Key> {
        Iter::new("PersiDict::keys", || self.inner.keys())
    }

    /// [`PersiDict::values`](crate::PersiDict::values) as an iterator that lists and
    /// reads as it is consumed, at most [`concurrency`](PersiDict::concurrency) reads
    /// ahead.
    pub fn values(&self) -> Iter<V> {
        Iter::new("PersiDict::values", || self.inner.values())
    }

    /// [`PersiDict::items`](crate::PersiDict::items) as an iterator that lists and reads
    /// as it is consumed, at most [`concurrency`](PersiDict::concurrency) reads ahead.
    pub fn items(&self) -> Iter<(Key, V)> {
        Iter::new("PersiDict::items", || self.inner.items())
    }

    /// [`PersiDict::items_with_timestamps`](crate::PersiDict::items_with_timestamps) as an
    /// iterator that lists and reads as it is consumed.
    pub fn items_with_timestamps(&self) -> Iter<(Key, V, SystemTime)> {
        Iter::new("PersiDict::items_with_timestamps", || {
            self.inner.items_with_timestamps()
        })
    }

    forward! {
        blocking {
            fn get_if(&self, key: &Key, condition: Condition, expected: Option<&ETag>, retrieve: Retrieve)
                -> Result<Outcome<V>>;
            #[doc(alias = "cas")]
            fn put_if(&self, key: &Key, write: Write<V>, condition: Condition, expected: Option<&ETag>, retrieve: Retrieve)
                -> Result<Outcome<V>>;
            fn setdefault_if(&self, key: &Key, default: V, condition: Condition, expected: Option<&ETag>, retrieve: Retrieve)
                -> Result<Outcome<V>>;
            fn discard_if(&self, key: &Key, condition: Condition, expected: Option<&ETag>) -> Result<Outcome<V>>;
            fn put(&self, key: &Key, value: V) -> Result<ETag>;
            fn discard(&self, key: &Key) -> Result<bool>;
            fn delete(&self, key: &Key) -> Result<()>;
            fn get(&self, key: &Key) -> Result<V>;
            fn get_opt(&self, key: &Key) -> Result<Option<V>>;
            fn get_with_etag(&self, key: &Key) -> Result<Option<(V, ETag)>>;
            fn get_with_timestamp(&self, key: &Key) -> Result<Option<(V, SystemTime)>>;
            fn oldest_values(&self, n: usize) -> Result<Vec<V>>;
            fn newest_values(&self, n: usize) -> Result<Vec<V>>;
            fn popitem(&self) -> Result<Option<(Key, V)>>;
            fn head(&self, key: &Key) -> Result<Option<EntryMeta>>;
            fn contains(&self, key: &Key) -> Result<bool>;
            fn etag(&self, key: &Key) -> Result<ETag>;
            fn timestamp(&self, key: &Key) -> Result<SystemTime>;
            fn setdefault(&self, key: &Key, default: V) -> Result<V>;
            fn pop(&self, key: &Key) -> Result<V>;
            #[doc(alias = "insert_if_absent")]
            #[doc(alias = "put_if_absent")]
            #[doc(alias = "create")]
            fn insert(&self, key: &Key, value: V) -> Result<bool>;
            #[doc(alias = "delete_if_match")]
            #[doc(alias = "compare_and_delete")]
            fn delete_if(&self, key: &Key, etag: &ETag) -> Result<bool>;
            #[doc(alias = "update")]
            #[doc(alias = "fetch_and_update")]
            fn transform[F](&self, key: &Key, f: F) -> Result<Transformed<V>>
                where [F: FnMut(Option<V>) -> Write<V> + Send, V: Clone];
            fn transform_with[F](&self, key: &Key, policy: RetryPolicy, f: F) -> Result<Transformed<V>>
                where [F: FnMut(Option<V>) -> Write<V> + Send, V: Clone];
            #[doc(alias = "cas")]
            #[doc(alias = "put_if_match")]
            fn compare_and_swap(&self, key: &Key, expected: Option<&ETag>, new: Option<V>)
                -> Result<std::result::Result<Option<ETag>, CasConflict<V>>>;
            fn len(&self) -> Result<usize>;
            fn is_empty(&self) -> Result<bool>;
            fn clear(&self) -> Result<()>;
            fn get_many(&self, keys: &[Key]) -> Result<Vec<Option<V>>>;
            fn put_many(&self, items: Vec<(Key, V)>) -> Result<()>;
            fn discard_many(&self, keys: &[Key]) -> Result<usize>;
            fn delete_many(&self, keys: &[Key]) -> Result<()>;
            fn discard_many_if(&self, entries: &[(Key, ETag)]) -> Result<Vec<bool>>;
            fn subdicts(&self) -> Result<Vec<String>>;
            fn oldest_keys(&self, n: usize) -> Result<Vec<Key>>;
            fn newest_keys(&self, n: usize) -> Result<Vec<Key>>;
            fn random_key(&self) -> Result<Option<Key>>;
            fn capabilities(&self) -> Result<Capabilities>;
            #[doc(alias = "cp")]
            fn copy(&self, from: &Key, to: &Key, options: CopyOptions) -> Result<CopyResult>;
            #[doc(alias = "mv")]
            #[doc(alias = "move")]
            fn rename(&self, from: &Key, to: &Key, options: CopyOptions) -> Result<Renamed>;
            #[doc(alias = "history")]
            fn versions(&self, key: &Key) -> Result<Vec<ObjectVersion>>;
            fn get_version(&self, key: &Key, version_id: &str) -> Result<Option<V>>;
            #[doc(alias = "rollback")]
            fn restore_version(&self, key: &Key, version_id: &str, current_etag: Option<&ETag>)
                -> Result<CopyResult>;
        }
        immediate {
            fn options(&self) -> DictOptions;
            fn info(&self) -> DictInfo;
            fn concurrency(&self) -> usize;
            fn object_name(&self, key: &Key) -> Result<String>;
            fn naming(&self) -> &Naming;
        }
    }

    /// [`PersiDict::copy_to`](crate::PersiDict::copy_to), blocking the calling thread
    /// until it completes.
    ///
    /// # Panics
    /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
    #[track_caller]
    pub fn copy_to(
        &self,
        from: &Key,
        dest: &PersiDict<V>,
        to: &Key,
        options: CopyOptions,
    ) -> Result<CopyResult> {
        run(
            "PersiDict::copy_to",
            self.inner.copy_to(from, &dest.inner, to, options),
        )
    }

    /// [`PersiDict::rename_to`](crate::PersiDict::rename_to), blocking the calling thread
    /// until it completes.
    ///
    /// # Panics
    /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
    #[track_caller]
    pub fn rename_to(
        &self,
        from: &Key,
        dest: &PersiDict<V>,
        to: &Key,
        options: CopyOptions,
    ) -> Result<Renamed> {
        run(
            "PersiDict::rename_to",
            self.inner.rename_to(from, &dest.inner, to, options),
        )
    }
}
