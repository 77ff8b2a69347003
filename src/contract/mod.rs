//! The backend-independent contract suite: the behaviour every [`PersiDict`] must have,
//! whatever [`ObjectStore`](crate::ObjectStore) it sits on, written once as free
//! `async fn`s.
//!
//! Every backend of this crate runs it (memory, files, each S3 server), and so can a backend
//! of your own. Implement [`Fixture`] to open fresh, empty dictionaries and to state which
//! conditional requests the backend must enforce, then expand
//! [`contract_tests!`](crate::contract_tests) in an integration test: it makes one
//! `#[tokio::test]` per contract function, in a module named `contract` (so the tests are
//! `contract::get_put`, `contract::transform_race`, …).
//!
//! ```no_run
//! use persidict::contract::{Fixture, FixtureOptions};
//! use persidict::{Capabilities, MemDict, PersiDict, Value};
//!
//! struct MemFixture;
//!
//! #[async_trait::async_trait]
//! impl Fixture for MemFixture {
//!     async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
//!         MemDict::new()
//!             .with_codec(options.codec)
//!             .with_append_only(options.append_only)
//!             .into_dict()
//!     }
//!
//!     fn enforces(&self) -> Capabilities {
//!         Capabilities::ALL
//!     }
//! }
//!
//! persidict::contract_tests!(MemFixture);
//! # fn main() {}
//! ```
//!
//! Each contract function panics (through `assert!`) when the backend breaks the contract.
//!
//! # Capabilities
//! The expectations come from the caller, not from the backend: [`Fixture::enforces`]
//! names the conditional requests the backend must enforce. The suite fails when the
//! backend reports less than that through `capabilities()`, or answers
//! [`Error::Unsupported`] to a request it was declared to enforce; so a backend cannot pass
//! by claiming nothing. For a capability the fixture declares *not* enforced, the functions
//! that need it check that the operations fail with [`Error::Unsupported`] and change
//! nothing, and stop there. [`declared_capabilities`] exercises one operation per declared
//! capability.
//!
//! The functions write a few hundred entries at most, and one of them
//! ([`oldest_newest_keys`]) sleeps 2.2 seconds, because S3 reports modification times to the
//! second.

mod append_only;
mod capabilities;
mod conditional;
mod copy;
mod listing;
mod plain;
mod short_verbs;
mod streams;
mod subdicts;
mod transform;

use std::fmt::{Debug, Display};

use async_trait::async_trait;
use futures::stream::TryStreamExt;

pub use self::append_only::{append_only, append_only_removals};
pub use self::capabilities::declared_capabilities;
pub use self::conditional::{
    batch_discard_if, conditional_discard_if, conditional_get_if, conditional_put_if,
    conditional_setdefault_if, jokers, setdefault_and_pop, setdefault_never_overwrites,
};
pub use self::copy::copy_and_rename;
pub use self::listing::{oldest_newest_keys, random_key};
pub use self::plain::{
    bulk_operations, case_sensitive_keys, codecs, encode_errors_store_nothing, get_put,
    key_charset, keys_values_items, missing_keys,
};
pub use self::short_verbs::short_verbs;
pub use self::streams::streamed_values;
pub use self::subdicts::{subdict_isolation, subdicts};
pub use self::transform::{
    insert_race, iteration_skips_deleted, transform_basics, transform_gives_up, transform_race,
};
use crate::codec::Codec;
use crate::cond::ETag;
use crate::dict::{PersiDict, Value};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::Capabilities;

/// Opens fresh, empty dictionaries for the contract suite, and says what the backend must
/// enforce.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A fresh, empty dictionary with `options`, isolated from every other dictionary this
    /// fixture opened (for example under a new random prefix).
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V>;

    /// The conditional requests the backend is expected to enforce. The suite fails when
    /// the backend's `capabilities()` report less, or when it answers
    /// [`Error::Unsupported`] to one of them; for the others it checks that the operations
    /// needing them answer [`Error::Unsupported`]. Memory and files enforce
    /// [`Capabilities::ALL`]; for an S3 server, state what that server is known to enforce.
    fn enforces(&self) -> Capabilities;
}

/// How a [`Fixture`] configures the dictionaries it opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FixtureOptions {
    /// Whether the dictionary is append-only.
    pub append_only: bool,
    /// The value codec.
    pub codec: Codec,
}

impl FixtureOptions {
    /// Options for an append-only dictionary with the default codec.
    pub fn append_only() -> Self {
        FixtureOptions {
            append_only: true,
            ..Self::default()
        }
    }

    /// Options for a dictionary with `codec`.
    pub fn codec(codec: Codec) -> Self {
        FixtureOptions {
            codec,
            ..Self::default()
        }
    }
}

/// What the `async` form of [`contract_tests!`](crate::contract_tests) accepts: a fixture
/// that may be unavailable. `None` or `Err(reason)` skips each test with a printed note.
pub trait FixtureSetup {
    /// The fixture.
    type Fixture: Fixture;

    /// The fixture, or why the backend is not available.
    fn into_fixture(self) -> std::result::Result<Self::Fixture, String>;
}

impl<F: Fixture> FixtureSetup for Option<F> {
    type Fixture = F;

    fn into_fixture(self) -> std::result::Result<F, String> {
        self.ok_or_else(|| "the backend is not configured".to_owned())
    }
}

impl<F: Fixture, E: Display> FixtureSetup for std::result::Result<F, E> {
    type Fixture = F;

    fn into_fixture(self) -> std::result::Result<F, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Expands to one `#[tokio::test]` (multi-threaded runtime, 4 workers) per contract
/// function, in a module named `contract`.
///
/// The argument is either an expression giving a [`Fixture`](crate::contract::Fixture), or
/// an `async` block giving an `Option<F>` or a `Result<F, E: Display>`
/// ([`FixtureSetup`](crate::contract::FixtureSetup)): `None` or `Err` makes every test
/// print `skipped: <reason>` and pass, for backends that are not configured. The argument
/// is evaluated once per test. The calling crate needs `tokio` with the `macros` and
/// `rt-multi-thread` features.
///
/// ```no_run
/// # use persidict::contract::{Fixture, FixtureOptions};
/// # use persidict::{Capabilities, MemDict, PersiDict, Value};
/// # struct MyFixture;
/// # #[async_trait::async_trait]
/// # impl Fixture for MyFixture {
/// #     async fn open<V: Value>(&self, _: FixtureOptions) -> PersiDict<V> {
/// #         MemDict::new().into()
/// #     }
/// #     fn enforces(&self) -> Capabilities {
/// #         Capabilities::ALL
/// #     }
/// # }
/// # impl MyFixture {
/// #     async fn from_env() -> Result<MyFixture, String> { Ok(MyFixture) }
/// # }
/// persidict::contract_tests!(async { MyFixture::from_env().await });
/// # fn main() {}
/// ```
#[macro_export]
#[cfg_attr(docsrs, doc(cfg(feature = "contract")))]
macro_rules! contract_tests {
    (async $($setup:tt)+) => {
        $crate::__contract_tests! {{
            $crate::contract::FixtureSetup::into_fixture((async $($setup)+).await)
        }}
    };
    ($fixture:expr $(,)?) => {
        $crate::__contract_tests! {{
            ::core::result::Result::<_, ::std::string::String>::Ok($fixture)
        }}
    };
}

/// The expansion of [`contract_tests!`]; not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_tests {
    (@tests $($name:ident),* $(,)?) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            let fixture = super::__persidict_contract_fixture().await;
            if let ::core::option::Option::Some(fixture) = fixture {
                $crate::contract::$name(&fixture).await;
            }
        }
    )*};
    ($setup:block) => {
        #[allow(dead_code)]
        async fn __persidict_contract_fixture(
        ) -> ::core::option::Option<impl $crate::contract::Fixture> {
            match $setup {
                ::core::result::Result::Ok(fixture) => ::core::option::Option::Some(fixture),
                ::core::result::Result::Err(reason) => {
                    ::std::eprintln!("skipped: {}", reason);
                    ::core::option::Option::None
                }
            }
        }

        mod contract {
            $crate::__contract_tests! {@tests
                get_put,
                missing_keys,
                keys_values_items,
                bulk_operations,
                subdicts,
                subdict_isolation,
                oldest_newest_keys,
                random_key,
                case_sensitive_keys,
                key_charset,
                setdefault_and_pop,
                conditional_get_if,
                conditional_put_if,
                conditional_setdefault_if,
                conditional_discard_if,
                batch_discard_if,
                jokers,
                setdefault_never_overwrites,
                append_only,
                transform_basics,
                transform_gives_up,
                transform_race,
                insert_race,
                iteration_skips_deleted,
                codecs,
                encode_errors_store_nothing,
                declared_capabilities,
                short_verbs,
                streamed_values,
                copy_and_rename,
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers shared by the topic modules

/// A key from a `/`-separated path the suite knows to be valid.
fn key(path: &str) -> Key {
    Key::parse_path(path).unwrap_or_else(|e| panic!("test key {path:?} is invalid: {e}"))
}

/// A fresh dictionary with the default options, checked to honour them.
async fn open<F: Fixture, V: Value>(f: &F) -> PersiDict<V> {
    let d = f.open::<V>(FixtureOptions::default()).await;
    let info = d.info();
    assert_eq!(
        info.codec,
        Codec::default(),
        "the fixture ignored the codec option"
    );
    assert!(!info.append_only, "the fixture ignored append_only = false");
    d
}

async fn sorted_keys<V: Value>(d: &PersiDict<V>) -> Vec<Key> {
    let mut keys: Vec<Key> = d.keys().try_collect().await.expect("keys()");
    keys.sort();
    keys
}

async fn read<V: Value>(d: &PersiDict<V>, k: &Key) -> Option<(V, ETag)> {
    d.get_with_etag(k)
        .await
        .unwrap_or_else(|e| panic!("get_with_etag({k}): {e}"))
}

#[track_caller]
fn assert_unsupported<T: Debug>(result: Result<T>, operation: &str) {
    match result {
        Err(e) if e.is_unsupported() => {}
        other => panic!(
            "{operation}: the fixture declares that the backend does not enforce this \
             conditional request, so it must answer Error::Unsupported, got {other:?}"
        ),
    }
}

#[track_caller]
fn assert_append_only<T: Debug>(result: Result<T>, k: &Key, operation: &str) {
    match result {
        Err(Error::AppendOnly { key, .. }) => {
            assert_eq!(key, k.to_path(), "{operation}: AppendOnly key")
        }
        other => panic!("{operation}: expected Error::AppendOnly, got {other:?}"),
    }
}

#[track_caller]
fn assert_not_found<T: Debug>(result: Result<T>, k: &Key, operation: &str) {
    match result {
        Err(Error::NotFound { key }) => assert_eq!(&key, k, "{operation}: NotFound names the key"),
        other => panic!("{operation}: expected Error::NotFound, got {other:?}"),
    }
}
