//! [`EmptyDict`]: a dictionary that stores nothing, the null object for tests and
//! pipelines (a sink whose results nobody reads, a disabled cache, a dry run).
//!
//! Writes are accepted and dropped; reads find nothing. Each operation reports what it
//! would report on a dictionary where every write vanishes at once, never an error that a
//! real dictionary would not give:
//!
//! | operation | result |
//! |---|---|
//! | `put` | `Ok(etag)`, the key still absent afterwards |
//! | `get`, `pop`, `delete`, `etag`, `timestamp` | [`Error::NotFound`](crate::Error::NotFound) |
//! | `get_opt`, `head`, `contains`, `discard` | `None` / `false` |
//! | `insert`, `put_if(Same, None, Value)` | satisfied (the key was absent), nothing kept |
//! | `put_if(Same, Some(e), _)`, `delete_if`, `compare_and_swap` on an ETag | not satisfied: `actual_etag` is `None` |
//! | `put_if(Any or Changed, …, Value)` | satisfied, `actual_etag` `None`, a `resulting_etag` |
//! | `setdefault` | returns the default (inserted, then dropped) |
//! | `transform` | calls the function with `None` once and reports its result as written |
//! | `keys`, `values`, `items`, `len`, `clear`, `popitem` | empty, `0`, nothing to do, `None` |
//!
//! Satisfied writes report a `resulting_etag` (the ETag the write would have had), so
//! `mutated()` is true although the key stays absent: the outcome describes the write, as
//! on any store whose object vanished right after it. Python persidict's `EmptyDict`
//! reports the key as absent after the write instead, and does not call a transform's
//! function; here `transform` calls it once, with `None`.
//!
//! Keys are checked as everywhere (an invalid key is still
//! [`Error::InvalidKey`](crate::Error::InvalidKey)), and values are encoded, so an encode
//! error is reported too.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//! use persidict::EmptyDict;
//!
//! let d = EmptyDict::<u64>::new();
//! let k = Key::try_from("answer")?;
//! d.put(&k, 42).await?;
//! assert_eq!(d.get_opt(&k).await?, None);
//! assert!(d.insert(&k, 1).await?); // satisfied: the key was absent, and still is
//! assert_eq!(d.len().await?, 0);
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```

use std::sync::Arc;

use crate::codec::Codec;
use crate::dict::{DictOptions, PersiDict, Value};
use crate::store::EmptyStore;

/// A dictionary that stores nothing: a [`PersiDict`] over an [`EmptyStore`]; see the
/// [module documentation](self) for what each operation reports. Every [`PersiDict`]
/// method is available through `Deref`.
pub struct EmptyDict<V> {
    dict: PersiDict<V>,
}

impl<V> Clone for EmptyDict<V> {
    fn clone(&self) -> Self {
        EmptyDict {
            dict: self.dict.clone(),
        }
    }
}

impl<V> std::fmt::Debug for EmptyDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmptyDict")
            .field("dict", &self.dict)
            .finish()
    }
}

impl<V: Value> Default for EmptyDict<V> {
    fn default() -> Self {
        EmptyDict::new()
    }
}

impl<V: Value> EmptyDict<V> {
    /// An empty dictionary with the default codec (bincode).
    pub fn new() -> EmptyDict<V> {
        EmptyDict::with_codec(Codec::default())
    }

    /// An empty dictionary that encodes values with `codec` (and so reports its encode
    /// errors).
    pub fn with_codec(codec: Codec) -> EmptyDict<V> {
        let options = DictOptions {
            codec,
            ..DictOptions::default()
        };
        EmptyDict {
            dict: PersiDict::with_options(Arc::new(EmptyStore), options)
                .expect("the default digest length is valid"),
        }
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<EmptyDict<u64>>();
};

crate::dict::typed_newtype!(EmptyDict<V>);
