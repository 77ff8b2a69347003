//! A blocking API for programs without an async runtime (feature `blocking`).
//!
//! The same dictionaries and the same operations as the async API, as plain methods and
//! iterators, in the manner of `reqwest::blocking`:
//!
//! | async | blocking |
//! |---|---|
//! | [`crate::PersiDict`] | [`PersiDict`] (every method without `async`; [`list`](PersiDict::list), [`keys`](PersiDict::keys), [`values`](PersiDict::values), [`items`](PersiDict::items) give [`Iter`]s) |
//! | [`crate::MemDict`] | [`MemDict`] |
//! | [`crate::FileDict`], [`crate::FileDictBuilder`] | [`FileDict`], [`FileDictBuilder`] |
//! | `S3Dict`, `S3DictBuilder` (feature `s3`) | `S3Dict`, `S3DictBuilder` (with `stats()`) |
//! | [`crate::open()`], [`crate::Opened`] | [`open()`], [`Opened`] |
//!
//! ```
//! use persidict::blocking::MemDict;
//! use persidict::{Key, Write};
//!
//! let d = MemDict::<u64>::new();
//! let k = Key::new(["counters", "visits"])?;
//! d.put(&k, 1)?;
//! let t = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))?;
//! assert_eq!(t.value, Some(2));
//! let keys: Vec<Key> = d.keys().collect::<persidict::Result<_>>()?;
//! assert_eq!(keys, [k]);
//! # Ok::<(), persidict::Error>(())
//! ```
//!
//! Every blocking dictionary wraps an async one: [`PersiDict::from`] wraps a
//! [`crate::PersiDict`] (and each backend type converts from its async twin), and
//! [`PersiDict::as_async`] / [`PersiDict::into_async`] give it back. Both share the same
//! store, so a program can use one dictionary from blocking threads and async tasks at
//! once. The byte-level stores ([`crate::ObjectStore`]) stay async-only.
//!
//! # The runtime
//! Every blocking dictionary of the process shares one multi-threaded tokio runtime
//! (threads named `persidict-blocking`, as many workers as tokio's default), created on
//! first use and never shut down. One runtime rather than one per dictionary, because an
//! S3 client keeps its connection pool on the runtime it was used on: a runtime per
//! dictionary would tie clones and subdictionaries to the lifetime of the first one, and
//! dropping a dictionary would have to shut a runtime down (which tokio refuses to do
//! inside an async context). With the shared runtime, dropping a blocking dictionary is
//! as cheap as dropping an async one, anywhere. A blocking call runs its operation on
//! the calling thread (with `block_on`), so closures such as [`PersiDict::transform`]'s
//! need not be `'static`; connections, file IO and bulk requests run on the runtime's
//! workers and blocking pool. If the runtime cannot be started (the OS refuses threads),
//! the call returns [`Error::Backend`] and the next call tries
//! again.
//!
//! # Inside an async runtime: a panic
//! A blocking method called on a thread that is inside a tokio runtime (an async task,
//! the future of a `block_on`, `#[tokio::main]`, and also `spawn_blocking` closures and
//! threads that entered a runtime handle) panics with a message that names the method and
//! points to the async [`crate::PersiDict`]: blocking such a thread stalls or deadlocks
//! the runtime driving it. This is a panic, not an [`Error`], because it is
//! a mistake in the program rather than a condition to handle, and an error would be
//! easy to pass on and retry. A blocking method also panics when called from inside the
//! closure of a blocking [`transform`](PersiDict::transform) (that closure runs inside
//! the operation's `block_on`). Methods that never wait ([`PersiDict::info`],
//! [`PersiDict::subdict`], [`PersiDict::object_name`], creating an iterator, cloning,
//! dropping) work anywhere; in async code use [`PersiDict::as_async`].
//!
//! # Iterators
//! [`Iter`] pulls from the dictionary's stream as it is consumed: one listing page and at
//! most [`concurrency`](PersiDict::concurrency) value reads are in flight or held at a
//! time, so memory stays bounded however many entries there are, and stopping early
//! (`take`, `find`, dropping the iterator) sends no further requests.
//!
//! # Why a feature, and off by default
//! The shared runtime needs tokio's `rt-multi-thread`, which async users (the crate's
//! main audience, who bring their own runtime) do not need; as with `reqwest::blocking`,
//! the blocking API is one feature away: `persidict = { version = "…", features =
//! ["blocking"] }`.

mod backends;
mod dict;
mod stream;

use std::future::Future;
use std::sync::{Mutex, OnceLock, PoisonError};

use futures::stream::BoxStream;
use futures::StreamExt;
use tokio::runtime::Runtime;

pub use self::backends::{open, FileDict, FileDictBuilder, MemDict, Opened};
#[cfg(feature = "s3")]
pub use self::backends::{S3Dict, S3DictBuilder};
pub use self::dict::PersiDict;
pub use self::stream::ValueReader;
use crate::error::{Error, Result};

/// The runtime every blocking dictionary of the process shares, started on first use.
static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// Serialises starting the runtime, so that no second runtime is ever built and dropped
/// (tokio refuses to drop a runtime inside an async context, where an iterator may be
/// made).
static STARTING: Mutex<()> = Mutex::new(());

/// The shared runtime, started if it is not yet.
fn runtime() -> Result<&'static Runtime> {
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    // A poisoned lock guards nothing broken: the runtime is either set or not.
    let _starting = STARTING.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("persidict-blocking")
        .build()
        .map_err(|e| Error::Backend {
            endpoint: "persidict::blocking".into(),
            operation: "starting the shared tokio runtime".into(),
            message: e.to_string(),
            request_id: None,
            retryable: true,
            source: Some(Box::new(e)),
        })?;
    Ok(RUNTIME.get_or_init(move || rt))
}

/// Panics, naming `method`, when the current thread is inside a tokio runtime (see the
/// [module docs](self)).
#[track_caller]
fn refuse_async_context(method: &str) {
    if tokio::runtime::Handle::try_current().is_ok() {
        panic!(
            "persidict::blocking: {method} was called on a thread that is inside a tokio \
             runtime; blocking this thread until it completes could stall or deadlock that \
             runtime. In async code use the async persidict::PersiDict (as_async() or \
             into_async() give it) and .await its methods, or call the blocking API from a \
             plain std::thread."
        );
    }
}

/// Runs `fut` to completion on the shared runtime, blocking the calling thread; `method`
/// names the operation in the panic of [`refuse_async_context`].
#[track_caller]
fn block_on<F: Future>(method: &str, fut: F) -> Result<F::Output> {
    refuse_async_context(method);
    Ok(runtime()?.block_on(fut))
}

/// Runs an async operation of the dictionary, blocking the calling thread.
#[track_caller]
fn run<T>(method: &str, fut: impl Future<Output = Result<T>>) -> Result<T> {
    block_on(method, fut)?
}

/// A blocking iterator over one of a dictionary's streams
/// ([`list`](PersiDict::list), [`keys`](PersiDict::keys), [`values`](PersiDict::values),
/// [`items`](PersiDict::items)): each `next()` waits for the stream's next item, so
/// entries are fetched as the iterator is consumed, never collected up front.
///
/// # Panics
/// `next()` panics on a thread inside a tokio runtime (see the [module docs](self)).
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct Iter<T> {
    method: &'static str,
    stream: BoxStream<'static, Result<T>>,
    /// Set once an item could not be waited for (the runtime did not start): the error
    /// was reported, the iterator ends.
    done: bool,
}

impl<T> Iter<T> {
    /// The stream `make` returns, made inside the shared runtime's context (streams may
    /// start work on the runtime they are made in).
    fn new(method: &'static str, make: impl FnOnce() -> BoxStream<'static, Result<T>>) -> Self {
        let stream = match runtime() {
            Ok(rt) => {
                let _context = rt.enter();
                make()
            }
            Err(e) => futures::stream::once(async move { Err(e) }).boxed(),
        };
        Iter {
            method,
            stream,
            done: false,
        }
    }

    /// The async stream under the iterator, for use in async code.
    pub fn into_stream(self) -> BoxStream<'static, Result<T>> {
        self.stream
    }
}

impl<T> Iterator for Iter<T> {
    type Item = Result<T>;

    #[track_caller]
    fn next(&mut self) -> Option<Result<T>> {
        if self.done {
            return None;
        }
        match block_on(self.method, self.stream.next()) {
            Ok(item) => item,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl<T> std::fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// Checks at compile time that blocking dictionaries and iterators can move between
/// threads.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    const fn assert_send<T: Send>() {}
    assert_send_sync::<PersiDict<u64>>();
    assert_send_sync::<MemDict<u64>>();
    assert_send_sync::<FileDict<u64>>();
    assert_send::<Iter<u64>>();
};
