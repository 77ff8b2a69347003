//! The backend-independent contract suite: the behaviour every [`PersiDict`] backend must
//! have, written once as free `async fn`s over the trait.
//!
//! Every backend of this crate runs it (memory, files, each S3 server), and so can a backend
//! of your own. Implement [`Fixture`] to open fresh, empty dictionaries, then expand
//! [`contract_tests!`](crate::contract_tests) in an integration test: it makes one
//! `#[tokio::test]` per contract function, in a module named `contract` (so the tests are
//! `contract::get_put`, `contract::transform_race`, …).
//!
//! ```no_run
//! use persidict::contract::{Fixture, FixtureOptions};
//! use persidict::{MemDict, PersiDict, Value};
//!
//! struct MemFixture;
//!
//! #[async_trait::async_trait]
//! impl Fixture for MemFixture {
//!     async fn open<V: Value>(&self, options: FixtureOptions) -> Box<dyn PersiDict<V>> {
//!         let d = MemDict::new()
//!             .with_codec(options.codec)
//!             .with_append_only(options.append_only);
//!         Box::new(d)
//!     }
//! }
//!
//! persidict::contract_tests!(MemFixture);
//! # fn main() {}
//! ```
//!
//! Each contract function panics (through `assert!`) when the backend breaks the contract.
//! A capability the backend lacks is asserted, not skipped: where
//! [`Capabilities::conditional_writes`] is false, the functions that need conditional writes
//! check that those operations fail with [`Error::Unsupported`] and change nothing, and stop
//! there.
//!
//! The functions write a few hundred entries at most, and one of them
//! ([`oldest_newest_keys`]) sleeps 2.2 seconds, because S3 reports modification times to the
//! second.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{Debug, Display};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::{Capabilities, DictInfo, EntryMeta, PersiDict, PersiDictExt, RetryPolicy, Value};
use crate::error::{Error, Result};
use crate::key::{sign_part, Key, MAX_PART_LEN};

/// Opens fresh, empty dictionaries for the contract suite.
#[async_trait]
pub trait Fixture: Send + Sync {
    /// A fresh, empty dictionary with `options`, isolated from every other dictionary this
    /// fixture opened (for example under a new random prefix).
    async fn open<V: Value>(&self, options: FixtureOptions) -> Box<dyn PersiDict<V>>;
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
/// # use persidict::{MemDict, PersiDict, Value};
/// # struct MyFixture;
/// # #[async_trait::async_trait]
/// # impl Fixture for MyFixture {
/// #     async fn open<V: Value>(&self, _: FixtureOptions) -> Box<dyn PersiDict<V>> {
/// #         Box::new(MemDict::new())
/// #     }
/// # }
/// # impl MyFixture {
/// #     async fn from_env() -> Result<MyFixture, String> { Ok(MyFixture) }
/// # }
/// persidict::contract_tests!(async { MyFixture::from_env().await });
/// # fn main() {}
/// ```
#[macro_export]
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
            }
        }
    };
}

// ---------------------------------------------------------------------------------------
// Helpers

/// A key from a `/`-separated path the suite knows to be valid.
fn key(path: &str) -> Key {
    Key::parse_path(path).unwrap_or_else(|e| panic!("test key {path:?} is invalid: {e}"))
}

async fn open<F: Fixture, V: Value>(f: &F) -> Box<dyn PersiDict<V>> {
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

async fn capabilities<V: Value>(d: &dyn PersiDict<V>) -> Capabilities {
    d.capabilities().await.expect("capabilities()")
}

async fn sorted_keys<V: Value>(d: &dyn PersiDict<V>) -> Vec<Key> {
    let mut keys: Vec<Key> = d.keys().try_collect().await.expect("keys()");
    keys.sort();
    keys
}

async fn read<V: Value>(d: &dyn PersiDict<V>, k: &Key) -> Option<(V, ETag)> {
    d.get_with_etag(k)
        .await
        .unwrap_or_else(|e| panic!("get_with_etag({k}): {e}"))
}

#[track_caller]
fn assert_unsupported<T: Debug>(result: Result<T>, operation: &str) {
    match result {
        Err(e) if e.is_unsupported() => {}
        other => panic!(
            "{operation}: a backend without that conditional request must answer \
             Error::Unsupported, got {other:?}"
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

/// Whether `d` enforces conditional writes. When it does not, checks that each conditional
/// write whose request the backend lacks fails with [`Error::Unsupported`] and leaves the
/// entry as it was; the caller then stops.
async fn enforces_conditional_writes(d: &dyn PersiDict<u64>) -> bool {
    let caps = capabilities(d).await;
    if caps.conditional_writes() {
        return true;
    }
    let k = key("unsupported-probe");
    let etag = d
        .put(&k, 1)
        .await
        .expect("plain put works on every backend");
    let wrong = ETag::new("\"wrong-etag\"");
    if !caps.put_if_match {
        assert_unsupported(
            d.put_if(
                &k,
                Write::Value(2),
                Condition::Same,
                Some(&wrong),
                Retrieve::Never,
            )
            .await,
            "put_if(Same, Some(etag))",
        );
        assert_unsupported(
            d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await,
            "transform",
        );
    }
    if !caps.put_if_absent {
        assert_unsupported(
            d.put_if(&k, Write::Value(2), Condition::Same, None, Retrieve::Never)
                .await,
            "put_if(Same, None)",
        );
        assert_unsupported(
            d.setdefault_if(&k, 2, Condition::Same, None, Retrieve::Never)
                .await,
            "setdefault_if(Same, None)",
        );
        assert_unsupported(d.setdefault(&k, 2).await, "setdefault");
    }
    if !caps.delete_if_match {
        assert_unsupported(
            d.discard_if(&k, Condition::Same, Some(&wrong)).await,
            "discard_if(Same, Some(etag))",
        );
        assert_unsupported(d.pop(&k).await, "pop");
    }
    assert_eq!(
        read(d, &k).await,
        Some((1, etag)),
        "a refused conditional write changed the entry"
    );
    d.delete(&k)
        .await
        .expect("plain delete works on every backend");
    false
}

// ---------------------------------------------------------------------------------------
// Plain operations

/// `get`/`put`/`delete`/`discard`/`contains`/`len`/`is_empty`/`get_opt`/`get_with_etag`/
/// `head`/`etag`/`timestamp` on present keys; `put` returns the entry's ETag, and the ETag
/// changes when the content does.
pub async fn get_put<F: Fixture>(f: &F) {
    let d = open::<F, String>(f).await;
    let d = &*d;
    assert!(
        d.is_empty().await.expect("is_empty"),
        "a fresh dict is empty"
    );
    assert_eq!(d.len().await.expect("len"), 0);

    let k = key("greeting/en");
    let before = SystemTime::now();
    let e1 = d.put(&k, "hello".to_owned()).await.expect("put");
    let after = SystemTime::now();
    assert_eq!(d.get(&k).await.expect("get"), "hello");
    assert_eq!(
        d.get_opt(&k).await.expect("get_opt").as_deref(),
        Some("hello")
    );
    assert_eq!(read(d, &k).await, Some(("hello".to_owned(), e1.clone())));
    assert_eq!(d.etag(&k).await.expect("etag"), e1, "put returns the ETag");
    assert!(d.contains(&k).await.expect("contains"));
    assert_eq!(d.len().await.expect("len"), 1);
    assert!(!d.is_empty().await.expect("is_empty"));

    let meta = d
        .head(&k)
        .await
        .expect("head")
        .expect("head of a present key");
    assert_eq!(meta.key, k);
    assert_eq!(meta.etag.as_ref(), Some(&e1));
    assert!(meta.size > 0, "a non-empty value has a size");
    // S3 reports modification times truncated to the second.
    let slack = Duration::from_secs(5);
    let t = d.timestamp(&k).await.expect("timestamp");
    assert_eq!(t, meta.last_modified);
    assert!(
        t + slack >= before && t <= after + slack,
        "timestamp {t:?} is not near the time of the put ({before:?}..{after:?})"
    );

    let e2 = d.put(&k, "hello again".to_owned()).await.expect("put");
    assert_ne!(e1, e2, "the ETag changes when the content changes");
    assert_eq!(d.etag(&k).await.expect("etag"), e2);
    assert_eq!(d.get(&k).await.expect("get"), "hello again");
    assert_eq!(d.len().await.expect("len"), 1, "an overwrite adds no entry");

    let k2 = key("greeting/fr");
    d.put(&k2, "bonjour".to_owned()).await.expect("put");
    assert_eq!(d.len().await.expect("len"), 2);
    d.delete(&k).await.expect("delete of a present key");
    assert!(!d.contains(&k).await.expect("contains"));
    assert_eq!(d.get_opt(&k).await.expect("get_opt"), None);
    assert!(
        d.discard(&k2).await.expect("discard"),
        "discard reports a present key"
    );
    assert!(
        !d.discard(&k2).await.expect("discard"),
        "discard reports an absent key"
    );
    assert!(d.is_empty().await.expect("is_empty"));
}

/// Absent keys: `get`, `delete`, `etag` and `timestamp` give [`Error::NotFound`] naming the
/// key; `get_opt`, `head` and `get_with_etag` give `None`; `discard` gives `false`; a prefix
/// of a stored key is not a key.
pub async fn missing_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let k = key("nowhere/to/be/found");
    assert_not_found(d.get(&k).await, &k, "get");
    assert_not_found(d.delete(&k).await, &k, "delete");
    assert_not_found(d.etag(&k).await, &k, "etag");
    assert_not_found(d.timestamp(&k).await, &k, "timestamp");
    assert_eq!(d.get_opt(&k).await.expect("get_opt"), None);
    assert_eq!(d.get_with_etag(&k).await.expect("get_with_etag"), None);
    assert_eq!(d.head(&k).await.expect("head"), None);
    assert!(!d.contains(&k).await.expect("contains"));
    assert!(!d.discard(&k).await.expect("discard"));
    // A prefix of a stored key is not a key.
    d.put(&key("nowhere/to/be/found/really"), 1)
        .await
        .expect("put");
    assert!(!d.contains(&k).await.expect("contains"));
    assert_not_found(d.get(&k).await, &k, "get of a key that is only a prefix");
}

fn sample_keys() -> Vec<Key> {
    (0..25)
        .map(|i| match i % 3 {
            0 => key(&format!("single{i}")),
            1 => key(&format!("group{}/item{i}", i % 4)),
            _ => key(&format!("deep/g{}/leaf-{i}.json", i % 2)),
        })
        .collect()
}

/// `keys`, `values`, `items` and `len` over 25 keys of one to three parts; `clear`.
pub async fn keys_values_items<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let expected: BTreeMap<Key, u64> = sample_keys()
        .into_iter()
        .zip((0u64..).map(|i| i * 10 + 7))
        .collect();
    for (k, v) in &expected {
        d.put(k, *v).await.expect("put");
    }
    assert_eq!(d.len().await.expect("len"), expected.len());
    assert!(!d.is_empty().await.expect("is_empty"));
    assert_eq!(
        sorted_keys(d).await,
        expected.keys().cloned().collect::<Vec<_>>(),
        "keys() lists each key once"
    );
    let mut values: Vec<u64> = d.values().try_collect().await.expect("values()");
    values.sort_unstable();
    let mut want: Vec<u64> = expected.values().copied().collect();
    want.sort_unstable();
    assert_eq!(values, want);
    let items: Vec<(Key, u64)> = d.items().try_collect().await.expect("items()");
    assert_eq!(
        items.len(),
        expected.len(),
        "items() yields each entry once"
    );
    assert_eq!(items.into_iter().collect::<BTreeMap<_, _>>(), expected);
    let listed: Vec<EntryMeta> = d.list().try_collect().await.expect("list()");
    assert_eq!(listed.len(), expected.len());
    for m in &listed {
        assert!(
            expected.contains_key(&m.key),
            "list() yielded a stranger {}",
            m.key
        );
        if let Some(e) = &m.etag {
            assert_eq!(&d.etag(&m.key).await.expect("etag"), e, "list() ETag");
        }
    }

    d.clear().await.expect("clear");
    assert!(d.is_empty().await.expect("is_empty"));
    assert_eq!(d.len().await.expect("len"), 0);
    assert!(sorted_keys(d).await.is_empty());
    d.clear().await.expect("clear of an empty dict");
}

/// `get_many` (order kept, `None` where absent), `put_many`, `discard_many`.
pub async fn bulk_operations<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let items: Vec<(Key, u64)> = (0..40u64)
        .map(|i| (key(&format!("bulk/{i:02}")), i * i))
        .collect();
    d.put_many(items.clone()).await.expect("put_many");
    assert_eq!(d.len().await.expect("len"), 40);

    let missing = key("bulk/missing");
    let asked = vec![
        items[30].0.clone(),
        missing.clone(),
        items[3].0.clone(),
        items[17].0.clone(),
        items[3].0.clone(),
    ];
    assert_eq!(
        d.get_many(&asked).await.expect("get_many"),
        vec![Some(900), None, Some(9), Some(289), Some(9)],
        "get_many keeps the order of its keys"
    );
    assert!(d.get_many(&[]).await.expect("get_many").is_empty());

    let doomed: Vec<Key> = items[..10]
        .iter()
        .map(|(k, _)| k.clone())
        .chain([missing.clone(), key("elsewhere")])
        .collect();
    assert_eq!(
        d.discard_many(&doomed).await.expect("discard_many"),
        10,
        "discard_many counts the keys it removed"
    );
    assert_eq!(d.len().await.expect("len"), 30);
    assert_eq!(d.get_opt(&items[0].0).await.expect("get_opt"), None);
    assert_eq!(d.get_opt(&items[10].0).await.expect("get_opt"), Some(100));
}

/// `subdicts` names the first parts of multi-part keys, sorted and once each.
pub async fn subdicts<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    assert!(d.subdicts().await.expect("subdicts").is_empty());
    for k in sample_keys() {
        d.put(&k, 1).await.expect("put");
    }
    let want: BTreeSet<String> = sample_keys()
        .iter()
        .filter(|k| k.len() > 1)
        .map(|k| k.parts()[0].clone())
        .collect();
    assert_eq!(
        d.subdicts().await.expect("subdicts"),
        want.into_iter().collect::<Vec<_>>()
    );
}

/// A subdictionary sees exactly the keys under its prefix, with the prefix removed; writes
/// through it show in the parent and the other way round; siblings are isolated.
pub async fn subdict_isolation<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let users = d.get_subdict(&key("users")).expect("get_subdict");
    let groups = d.get_subdict(&key("groups")).expect("get_subdict");

    users.put(&key("42"), 1).await.expect("put via subdict");
    assert_eq!(d.get(&key("users/42")).await.expect("get via parent"), 1);
    d.put(&key("users/7/profile"), 2)
        .await
        .expect("put via parent");
    assert_eq!(
        users.get(&key("7/profile")).await.expect("get via subdict"),
        2
    );
    // Same name as the prefix, but a key of the parent, not of the subdict.
    d.put(&key("users"), 3).await.expect("put");
    d.put(&key("usersx/1"), 4).await.expect("put");
    groups.put(&key("42"), 5).await.expect("put via sibling");

    assert_eq!(
        users.get(&key("42")).await.expect("get"),
        1,
        "siblings are isolated"
    );
    assert_eq!(
        groups.get(&key("42")).await.expect("get"),
        5,
        "siblings are isolated"
    );
    assert!(!groups.contains(&key("7/profile")).await.expect("contains"));
    assert_eq!(users.len().await.expect("len"), 2);
    assert_eq!(
        sorted_keys(&*users).await,
        vec![key("42"), key("7/profile")]
    );
    assert_eq!(groups.len().await.expect("len"), 1);
    assert_eq!(d.len().await.expect("len"), 5);
    assert_eq!(
        users.subdicts().await.expect("subdicts"),
        vec!["7".to_owned()]
    );

    // Nested subdicts and multi-part prefixes name the same entries.
    let nested = users.get_subdict(&key("7")).expect("get_subdict");
    let direct = d.get_subdict(&key("users/7")).expect("get_subdict");
    nested.put(&key("settings"), 6).await.expect("put");
    assert_eq!(direct.get(&key("settings")).await.expect("get"), 6);
    assert_eq!(d.get(&key("users/7/settings")).await.expect("get"), 6);
    assert_eq!(direct.len().await.expect("len"), 2);

    // Removal through a subdict reaches the parent; clear stays inside the prefix.
    assert!(users.discard(&key("42")).await.expect("discard"));
    assert!(!d.contains(&key("users/42")).await.expect("contains"));
    users.clear().await.expect("clear");
    assert!(users.is_empty().await.expect("is_empty"));
    assert_eq!(
        sorted_keys(d).await,
        vec![key("groups/42"), key("users"), key("usersx/1")],
        "a subdict's clear removes only its own entries"
    );
}

/// `oldest_keys`/`newest_keys` order by modification time (writes 1.1 s apart, since S3
/// reports times to the second).
pub async fn oldest_newest_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    assert!(d.oldest_keys(3).await.expect("oldest_keys").is_empty());
    // Key order is the reverse of time order, so sorting by key would fail.
    let first = key("c-first");
    let second = key("b-second");
    let third = key("a-third");
    d.put(&first, 1).await.expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    d.put(&second, 2).await.expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    d.put(&third, 3).await.expect("put");
    assert_eq!(
        d.oldest_keys(2).await.expect("oldest_keys"),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        d.newest_keys(2).await.expect("newest_keys"),
        vec![third.clone(), second.clone()]
    );
    assert_eq!(
        d.oldest_keys(10).await.expect("oldest_keys"),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert!(d.newest_keys(0).await.expect("newest_keys").is_empty());
    assert!(
        d.timestamp(&first).await.expect("timestamp")
            < d.timestamp(&third).await.expect("timestamp")
    );
}

/// `random_key` is `None` when empty and a member otherwise.
pub async fn random_key<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    assert_eq!(d.random_key().await.expect("random_key"), None);
    let keys: BTreeSet<Key> = (0..5).map(|i| key(&format!("r/{i}"))).collect();
    for k in &keys {
        d.put(k, 0).await.expect("put");
    }
    for _ in 0..10 {
        let k = d.random_key().await.expect("random_key").expect("a key");
        assert!(keys.contains(&k), "random_key gave a stranger {k}");
    }
}

/// Keys are case-sensitive: `aaAA`, `AAaa` and `aaaa` are three entries.
pub async fn case_sensitive_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let names = ["aaAA", "AAaa", "aaaa", "Dir/x", "dir/x", "DIR/X"];
    for (i, n) in names.iter().enumerate() {
        d.put(&key(n), i as u64).await.expect("put");
    }
    assert_eq!(d.len().await.expect("len"), names.len());
    for (i, n) in names.iter().enumerate() {
        assert_eq!(d.get(&key(n)).await.expect("get"), i as u64, "{n}");
    }
    let mut want: Vec<Key> = names.iter().map(|n| key(n)).collect();
    want.sort();
    assert_eq!(sorted_keys(d).await, want);
    d.delete(&key("aaaa")).await.expect("delete");
    assert_eq!(d.get(&key("aaAA")).await.expect("get"), 0);
    assert_eq!(d.get(&key("AAaa")).await.expect("get"), 1);
}

/// Every allowed character, 200-character parts, parts that look like extensions or
/// signatures, and a part next to its own signed form, all round-trip through `put`/`keys`.
pub async fn key_charset<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let long = "x".repeat(MAX_PART_LEN);
    let every = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789()_-~.=";
    let parts: Vec<Vec<String>> = vec![
        vec![every.to_owned()],
        vec![long.clone()],
        vec![long.clone(), "L".repeat(MAX_PART_LEN)],
        vec!["a.json".to_owned()],
        vec!["a".to_owned()],
        vec!["a.json".to_owned(), "b.bincode".to_owned()],
        vec!["x_saav".to_owned()],
        vec!["x".to_owned()],
        vec!["x".to_owned(), "x_saav".to_owned()],
        vec![sign_part("abc", 4)],
        vec!["abc".to_owned()],
        vec![
            "...".to_owned(),
            ".hidden".to_owned(),
            "trailing.".to_owned(),
        ],
        vec![
            "~".to_owned(),
            "=".to_owned(),
            "(x)".to_owned(),
            "-".to_owned(),
            "_".to_owned(),
        ],
    ];
    let keys: Vec<Key> = parts
        .into_iter()
        .map(|p| Key::new(p).expect("a valid key"))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        d.put(k, i as u64).await.expect("put");
    }
    assert_eq!(
        d.len().await.expect("len"),
        keys.len(),
        "no two keys collide"
    );
    let mut want = keys.clone();
    want.sort();
    assert_eq!(sorted_keys(d).await, want);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(d.get(k).await.expect("get"), i as u64, "{k}");
    }
    assert!(Key::new([&*"y".repeat(MAX_PART_LEN + 1)]).is_err());
}

/// `setdefault` inserts only when absent; `pop` returns the value and removes the key,
/// [`Error::NotFound`] when absent.
pub async fn setdefault_and_pop<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    if !enforces_conditional_writes(d).await {
        return;
    }
    let k = key("sd/k");
    assert_eq!(d.setdefault(&k, 5).await.expect("setdefault"), 5);
    assert_eq!(d.get(&k).await.expect("get"), 5);
    let etag = d.etag(&k).await.expect("etag");
    assert_eq!(
        d.setdefault(&k, 9).await.expect("setdefault"),
        5,
        "never overwrites"
    );
    assert_eq!(read(d, &k).await, Some((5, etag)));
    assert_eq!(d.pop(&k).await.expect("pop"), 5);
    assert!(!d.contains(&k).await.expect("contains"));
    assert_not_found(d.pop(&k).await, &k, "pop of an absent key");
}

// ---------------------------------------------------------------------------------------
// The conditional table

const STALE: u64 = 1;
const CURRENT: u64 = 2;
const WRITTEN: u64 = 3;
const CONDITIONS: [Condition; 3] = [Condition::Any, Condition::Same, Condition::Changed];
const RETRIEVES: [Retrieve; 3] = [Retrieve::Always, Retrieve::Never, Retrieve::IfChanged];

/// Which ETag the caller passes as `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// `None`: "I think the key is absent".
    Absent,
    /// The key's current ETag (only for present keys; for absent ones it is `Absent`).
    Current,
    /// An ETag the key had before its current state.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GetIf,
    PutValue,
    PutKeep,
    PutDelete,
    SetdefaultIf,
    DiscardIf,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    op: Op,
    present: bool,
    expected: Expected,
    condition: Condition,
    retrieve: Retrieve,
}

/// The state a case starts from.
struct Situation {
    key: Key,
    actual: Option<ETag>,
    expected: Option<ETag>,
}

enum After {
    Unchanged,
    Written(u64),
    Deleted,
}

struct Want {
    satisfied: bool,
    value: Slot<u64>,
    after: After,
}

fn cases(op: Op) -> Vec<Case> {
    let retrieves: &[Retrieve] = if op == Op::DiscardIf {
        &[Retrieve::Never]
    } else {
        &RETRIEVES
    };
    let mut out = Vec::new();
    for present in [false, true] {
        for expected in [Expected::Absent, Expected::Current, Expected::Stale] {
            if !present && expected == Expected::Current {
                continue;
            }
            for condition in CONDITIONS {
                for &retrieve in retrieves {
                    out.push(Case {
                        op,
                        present,
                        expected,
                        condition,
                        retrieve,
                    });
                }
            }
        }
    }
    out
}

/// Writes `STALE`, then either `CURRENT` (present) or deletes the key (absent).
async fn prepare(d: &dyn PersiDict<u64>, k: Key, case: &Case) -> Situation {
    let stale = d.put(&k, STALE).await.expect("put");
    let actual = if case.present {
        let e = d.put(&k, CURRENT).await.expect("put");
        assert_ne!(e, stale, "the ETag changes when the content changes");
        Some(e)
    } else {
        d.delete(&k).await.expect("delete");
        None
    };
    let expected = match case.expected {
        Expected::Absent => None,
        Expected::Current => actual.clone(),
        Expected::Stale => Some(stale),
    };
    Situation {
        key: k,
        actual,
        expected,
    }
}

async fn apply(d: &dyn PersiDict<u64>, case: &Case, s: &Situation) -> Result<Outcome<u64>> {
    let (k, c, e, r) = (&s.key, case.condition, s.expected.as_ref(), case.retrieve);
    match case.op {
        Op::GetIf => d.get_if(k, c, e, r).await,
        Op::PutValue => d.put_if(k, Write::Value(WRITTEN), c, e, r).await,
        Op::PutKeep => d.put_if(k, Write::KeepCurrent, c, e, r).await,
        Op::PutDelete => d.put_if(k, Write::DeleteCurrent, c, e, r).await,
        Op::SetdefaultIf => d.setdefault_if(k, WRITTEN, c, e, r).await,
        Op::DiscardIf => d.discard_if(k, c, e).await,
    }
}

/// The expected result, from DESIGN.md section 3, independently of any backend.
fn want(case: &Case, s: &Situation) -> Want {
    let (expected, actual) = (s.expected.as_ref(), s.actual.as_ref());
    let holds = match case.condition {
        Condition::Any => true,
        Condition::Same => expected == actual,
        Condition::Changed => expected != actual,
    };
    let fetch = match case.retrieve {
        Retrieve::Always => true,
        Retrieve::Never => false,
        Retrieve::IfChanged => expected != actual,
    };
    let found = match (case.present, fetch) {
        (false, _) => Slot::Absent,
        (true, true) => Slot::Present(CURRENT),
        (true, false) => Slot::NotRetrieved,
    };
    let unchanged = Want {
        satisfied: holds,
        value: found,
        after: After::Unchanged,
    };
    let written = Want {
        satisfied: true,
        value: if case.retrieve == Retrieve::Always {
            Slot::Present(WRITTEN)
        } else {
            Slot::NotRetrieved
        },
        after: After::Written(WRITTEN),
    };
    let deleted = Want {
        satisfied: true,
        value: Slot::Absent,
        after: After::Deleted,
    };
    match case.op {
        Op::GetIf | Op::PutKeep => unchanged,
        Op::PutValue if holds => written,
        Op::SetdefaultIf if holds && !case.present => written,
        Op::PutDelete | Op::DiscardIf if holds => deleted,
        // discard_if reports no value: NotRetrieved for a present key it kept.
        Op::DiscardIf => Want {
            value: if case.present {
                Slot::NotRetrieved
            } else {
                Slot::Absent
            },
            ..unchanged
        },
        Op::PutValue | Op::SetdefaultIf | Op::PutDelete => unchanged,
    }
}

async fn check_case(d: &dyn PersiDict<u64>, i: usize, case: Case) {
    let k = key(&format!("table/{:?}/{i}", case.op));
    let s = prepare(d, k, &case).await;
    let label = format!(
        "{:?} on {} key, {:?} with expected={:?} ({:?}), retrieve={:?}",
        case.op,
        if case.present {
            "a present"
        } else {
            "an absent"
        },
        case.condition,
        case.expected,
        s.expected,
        case.retrieve
    );
    let out = apply(d, &case, &s)
        .await
        .unwrap_or_else(|e| panic!("{label}: unexpected error {e}"));
    let w = want(&case, &s);
    assert_eq!(out.satisfied, w.satisfied, "{label}: satisfied ({out:?})");
    assert_eq!(out.actual_etag, s.actual, "{label}: actual_etag ({out:?})");
    assert_eq!(out.value, w.value, "{label}: value ({out:?})");
    let now = read(d, &s.key).await;
    match w.after {
        After::Unchanged => {
            assert_eq!(
                out.resulting_etag, s.actual,
                "{label}: resulting_etag ({out:?})"
            );
            assert!(!out.mutated(), "{label}: mutated ({out:?})");
            let before = s.actual.clone().map(|e| (CURRENT, e));
            assert_eq!(now, before, "{label}: the entry changed");
        }
        After::Written(v) => {
            let e = out
                .resulting_etag
                .clone()
                .unwrap_or_else(|| panic!("{label}: no resulting_etag after a write"));
            assert!(out.mutated(), "{label}: mutated ({out:?})");
            assert_eq!(now, Some((v, e)), "{label}: the entry after the write");
        }
        After::Deleted => {
            assert_eq!(
                out.resulting_etag, None,
                "{label}: resulting_etag ({out:?})"
            );
            assert_eq!(out.mutated(), case.present, "{label}: mutated ({out:?})");
            assert_eq!(now, None, "{label}: the entry survived");
        }
    }
}

async fn run_table(d: &dyn PersiDict<u64>, ops: &[Op]) {
    let all: Vec<Case> = ops.iter().flat_map(|&op| cases(op)).collect();
    stream::iter(all.into_iter().enumerate())
        .for_each_concurrent(8, |(i, case)| check_case(d, i, case))
        .await;
}

/// The full table of `get_if`: conditions × expected ETags × absent/present × retrieve.
pub async fn conditional_get_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    run_table(&*d, &[Op::GetIf]).await;
}

/// The full table of `put_if` with `Write::Value`, `KeepCurrent` and `DeleteCurrent`.
pub async fn conditional_put_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(&*d).await {
        return;
    }
    run_table(&*d, &[Op::PutValue, Op::PutKeep, Op::PutDelete]).await;
}

/// The full table of `setdefault_if`.
pub async fn conditional_setdefault_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(&*d).await {
        return;
    }
    run_table(&*d, &[Op::SetdefaultIf]).await;
}

/// The full table of `discard_if`.
pub async fn conditional_discard_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(&*d).await {
        return;
    }
    run_table(&*d, &[Op::DiscardIf]).await;
}

/// `KeepCurrent` never creates a key and leaves a present one; `DeleteCurrent` deletes, and
/// on an absent key is not a mutation.
pub async fn jokers<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    if !enforces_conditional_writes(d).await {
        return;
    }
    let k = key("jokers/k");
    let bogus = ETag::new("\"bogus\"");

    for (c, e, holds) in [
        (Condition::Any, None, true),
        (Condition::Same, None, true),
        (Condition::Changed, Some(&bogus), true),
        (Condition::Same, Some(&bogus), false),
        (Condition::Changed, None, false),
    ] {
        let out = d
            .put_if(&k, Write::KeepCurrent, c, e, Retrieve::Always)
            .await
            .expect("put_if(KeepCurrent)");
        assert_eq!(
            out.satisfied, holds,
            "KeepCurrent {c:?} {e:?} on an absent key"
        );
        assert_eq!(
            (out.actual_etag.clone(), out.resulting_etag.clone()),
            (None, None)
        );
        assert!(!out.mutated());
        assert_eq!(out.value, Slot::Absent);
        assert!(
            !d.contains(&k).await.expect("contains"),
            "KeepCurrent created a key"
        );
    }

    let etag = d.put(&k, 10).await.expect("put");
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Always,
        )
        .await
        .expect("put_if(KeepCurrent)");
    assert!(out.satisfied && !out.mutated());
    assert_eq!(out.resulting_etag.as_ref(), Some(&etag));
    assert_eq!(out.value, Slot::Present(10));
    assert_eq!(read(d, &k).await, Some((10, etag.clone())));

    let out = d
        .put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Same,
            Some(&etag),
            Retrieve::Always,
        )
        .await
        .expect("put_if(DeleteCurrent)");
    assert!(out.satisfied && out.mutated());
    assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    assert_eq!(out.resulting_etag, None);
    assert_eq!(out.value, Slot::Absent);
    assert!(!d.contains(&k).await.expect("contains"));

    let out = d
        .put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Any,
            None,
            Retrieve::Always,
        )
        .await
        .expect("put_if(DeleteCurrent) on an absent key");
    assert!(
        out.satisfied,
        "DeleteCurrent with Any on an absent key holds"
    );
    assert!(!out.mutated(), "deleting an absent key is not a mutation");
    assert_eq!((out.actual_etag, out.resulting_etag), (None, None));
    assert_eq!(out.value, Slot::Absent);
}

/// `setdefault_if` never overwrites a present key, whatever the condition.
pub async fn setdefault_never_overwrites<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    if !enforces_conditional_writes(d).await {
        return;
    }
    let k = key("sdno/k");
    let stale = d.put(&k, 1).await.expect("put");
    let etag = d.put(&k, 2).await.expect("put");
    for c in CONDITIONS {
        for e in [None, Some(&etag), Some(&stale)] {
            let out = d
                .setdefault_if(&k, 99, c, e, Retrieve::Always)
                .await
                .expect("setdefault_if");
            assert_eq!(out.satisfied, c.holds(e, Some(&etag)), "{c:?} {e:?}");
            assert!(!out.mutated(), "setdefault_if {c:?} {e:?} overwrote");
            assert_eq!(out.value, Slot::Present(2));
            assert_eq!(read(d, &k).await, Some((2, etag.clone())));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Append-only dictionaries

/// An append-only dictionary inserts but never overwrites or removes.
pub async fn append_only<F: Fixture>(f: &F) {
    let d = f.open::<u64>(FixtureOptions::append_only()).await;
    let d = &*d;
    assert!(
        d.info().append_only,
        "the fixture ignored append_only = true"
    );
    let k = key("ao/first");
    let caps = capabilities(d).await;
    if !caps.conditional_writes() {
        if !caps.put_if_absent {
            assert_unsupported(d.put(&k, 1).await, "put on an append-only dict");
            assert!(
                !d.contains(&k).await.expect("contains"),
                "a refused put stored"
            );
        }
        return;
    }

    let etag = d.put(&k, 1).await.expect("put inserts");
    let intact = |what: &'static str| {
        let etag = etag.clone();
        let k = k.clone();
        async move {
            assert_eq!(
                read(d, &k).await,
                Some((1, etag)),
                "{what} changed the entry"
            );
        }
    };
    assert_append_only(d.put(&k, 2).await, &k, "put on an existing key");
    intact("put").await;
    assert_append_only(d.delete(&k).await, &k, "delete");
    assert_append_only(d.discard(&k).await, &k, "discard");
    assert_append_only(d.pop(&k).await, &k, "pop");
    assert_append_only(
        d.discard_if(&k, Condition::Same, Some(&etag)).await,
        &k,
        "discard_if",
    );
    assert!(
        matches!(d.clear().await, Err(Error::AppendOnly { .. })),
        "clear"
    );
    intact("removals").await;

    for (c, e) in [
        (Condition::Any, None),
        (Condition::Same, Some(&etag)),
        (Condition::Changed, None),
    ] {
        assert_append_only(
            d.put_if(&k, Write::Value(2), c, e, Retrieve::Never).await,
            &k,
            "put_if(Value) whose condition holds on an existing key",
        );
    }
    assert_append_only(
        d.put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await,
        &k,
        "put_if(DeleteCurrent)",
    );
    intact("overwrites").await;

    let out = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            None,
            Retrieve::IfChanged,
        )
        .await
        .expect("put_if(Same, None) on an existing key is an outcome");
    assert!(!out.satisfied && !out.mutated());
    assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    assert_eq!(out.value, Slot::Present(1));
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await
        .expect("put_if(KeepCurrent)");
    assert!(out.satisfied && !out.mutated());
    intact("KeepCurrent").await;

    let k2 = key("ao/second");
    let out = d
        .put_if(&k2, Write::Value(5), Condition::Same, None, Retrieve::Never)
        .await
        .expect("put_if(Same, None) inserts");
    assert!(out.satisfied && out.mutated());
    let out = d
        .put_if(&k2, Write::Value(6), Condition::Same, None, Retrieve::Never)
        .await
        .expect("put_if(Same, None) again");
    assert!(!out.satisfied && !out.mutated());
    assert_eq!(d.get(&k2).await.expect("get"), 5);

    let k3 = key("ao/third");
    assert_eq!(d.setdefault(&k3, 7).await.expect("setdefault inserts"), 7);
    assert_eq!(d.setdefault(&k3, 8).await.expect("setdefault"), 7);

    let k4 = key("ao/fourth");
    let t = d
        .transform(&k4, |n| Write::Value(n.unwrap_or(0) + 1))
        .await
        .expect("transform creates");
    assert_eq!(t.value, Some(1));
    assert_append_only(
        d.transform(&k4, |n| Write::Value(n.unwrap_or(0) + 1)).await,
        &k4,
        "transform of an existing key",
    );
    assert_eq!(
        d.get_many(&[k.clone(), k2, k3, k4])
            .await
            .expect("get_many"),
        vec![Some(1), Some(5), Some(7), Some(1)]
    );
    assert_eq!(d.len().await.expect("len"), 4);
}

// ---------------------------------------------------------------------------------------
// transform and races

/// `transform` creates from absent, updates, keeps and deletes.
pub async fn transform_basics<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    if !enforces_conditional_writes(d).await {
        return;
    }
    let k = key("tf/counter");
    let t = d
        .transform(&k, |n| {
            assert_eq!(n, None);
            Write::KeepCurrent
        })
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag, t.attempts), (None, None, 1));
    assert!(
        !d.contains(&k).await.expect("contains"),
        "KeepCurrent created a key"
    );

    let t = d
        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
        .await
        .expect("transform");
    assert_eq!(t.value, Some(1));
    assert_eq!(t.attempts, 1);
    assert_eq!(t.etag, Some(d.etag(&k).await.expect("etag")));
    let t = d
        .transform(&k, |n| Write::Value(n.expect("present") * 10 + 1))
        .await
        .expect("transform");
    assert_eq!(t.value, Some(11));
    let etag = d.etag(&k).await.expect("etag");
    assert_eq!(t.etag.as_ref(), Some(&etag));

    let t = d
        .transform(&k, |_| Write::KeepCurrent)
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag), (Some(11), Some(etag.clone())));
    assert_eq!(read(d, &k).await, Some((11, etag)));

    let t = d
        .transform(&k, |_| Write::DeleteCurrent)
        .await
        .expect("transform");
    assert_eq!((t.value, t.etag), (None, None));
    assert!(!d.contains(&k).await.expect("contains"));
}

/// A dictionary that rewrites a key right before every conditional write to it, so that
/// whatever ETag the caller read is stale by then.
struct Meddler {
    inner: Box<dyn PersiDict<u64>>,
    writes: AtomicU64,
}

#[async_trait]
impl PersiDict<u64> for Meddler {
    fn info(&self) -> DictInfo {
        self.inner.info()
    }
    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }
    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<u64>> {
        self.inner.get_if(key, condition, expected, retrieve).await
    }
    async fn put_if(
        &self,
        key: &Key,
        write: Write<u64>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<u64>> {
        // A concurrent writer gets in just before every conditional write.
        let n = 1000 + self.writes.fetch_add(1, Ordering::SeqCst);
        self.inner.put(key, n).await?;
        self.inner
            .put_if(key, write, condition, expected, retrieve)
            .await
    }
    async fn setdefault_if(
        &self,
        key: &Key,
        default: u64,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<u64>> {
        self.inner
            .setdefault_if(key, default, condition, expected, retrieve)
            .await
    }
    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<u64>> {
        self.inner.discard_if(key, condition, expected).await
    }
    async fn put(&self, key: &Key, value: u64) -> Result<ETag> {
        self.inner.put(key, value).await
    }
    async fn delete(&self, key: &Key) -> Result<()> {
        self.inner.delete(key).await
    }
    async fn discard(&self, key: &Key) -> Result<bool> {
        self.inner.discard(key).await
    }
    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        self.inner.head(key).await
    }
    fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
        self.inner.list()
    }
    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<u64>>> {
        self.inner.get_subdict(prefix)
    }
}

/// `transform` gives up with [`Error::ConcurrencyConflict`] naming the key and the number
/// of attempts when every attempt loses to a concurrent write.
pub async fn transform_gives_up<F: Fixture>(f: &F) {
    let inner = open::<F, u64>(f).await;
    if !enforces_conditional_writes(&*inner).await {
        return;
    }
    let d = Meddler {
        inner,
        writes: AtomicU64::new(0),
    };
    let k = key("tf/contended");
    d.put(&k, 1).await.expect("put");
    let calls = AtomicU32::new(0);
    let policy = RetryPolicy {
        max_attempts: 3,
        base_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
    };
    let result = d
        .transform_with(&k, policy, |n| {
            calls.fetch_add(1, Ordering::SeqCst);
            Write::Value(n.unwrap_or(0) + 1_000_000)
        })
        .await;
    match result {
        Err(Error::ConcurrencyConflict { key, attempts }) => {
            assert_eq!(key, k);
            assert_eq!(attempts, 3);
        }
        other => panic!("expected ConcurrencyConflict after 3 attempts, got {other:?}"),
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the closure runs once per attempt"
    );
    let last = d.inner.get(&k).await.expect("get");
    assert!(
        (1000..1_000_000).contains(&last),
        "a losing transform wrote its value ({last})"
    );
}

const RACERS: u64 = 8;

/// 8 tasks × 25 `transform` increments of one key end at exactly 200.
pub async fn transform_race<F: Fixture>(f: &F) {
    let d: Arc<dyn PersiDict<u64>> = Arc::from(open::<F, u64>(f).await);
    if !enforces_conditional_writes(&*d).await {
        return;
    }
    const ROUNDS: u64 = 25;
    let k = key("race/counter");
    let start = Arc::new(tokio::sync::Barrier::new(RACERS as usize));
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let (d, k, start) = (Arc::clone(&d), k.clone(), Arc::clone(&start));
            tokio::spawn(async move {
                start.wait().await;
                for _ in 0..ROUNDS {
                    let t = d
                        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                        .await
                        .expect("transform under contention");
                    assert!(t.value.is_some_and(|n| n <= RACERS * ROUNDS));
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("racing task");
    }
    assert_eq!(
        d.get(&k).await.expect("get"),
        RACERS * ROUNDS,
        "lost updates"
    );
}

/// Tasks racing to insert one fresh key with `put_if(Same, None)`, and others with
/// `setdefault_if`: exactly one of each wins, and everyone sees the winner's value.
pub async fn insert_race<F: Fixture>(f: &F) {
    let d: Arc<dyn PersiDict<u64>> = Arc::from(open::<F, u64>(f).await);
    if !enforces_conditional_writes(&*d).await {
        return;
    }
    let put_key = key("race/put_if");
    let sd_key = key("race/setdefault_if");
    let start = Arc::new(tokio::sync::Barrier::new(2 * RACERS as usize));
    let mut puts = Vec::new();
    let mut setdefaults = Vec::new();
    for i in 0..RACERS {
        let (d1, k1, s1) = (Arc::clone(&d), put_key.clone(), Arc::clone(&start));
        puts.push(tokio::spawn(async move {
            s1.wait().await;
            let out = d1
                .put_if(
                    &k1,
                    Write::Value(i),
                    Condition::Same,
                    None,
                    Retrieve::IfChanged,
                )
                .await
                .expect("put_if(Same, None)");
            (i, out)
        }));
        let (d2, k2, s2) = (Arc::clone(&d), sd_key.clone(), Arc::clone(&start));
        setdefaults.push(tokio::spawn(async move {
            s2.wait().await;
            let out = d2
                .setdefault_if(&k2, 100 + i, Condition::Any, None, Retrieve::Always)
                .await
                .expect("setdefault_if");
            (100 + i, out)
        }));
    }

    let mut put_outcomes = Vec::new();
    for t in puts {
        put_outcomes.push(t.await.expect("racing task"));
    }
    let mut sd_outcomes = Vec::new();
    for t in setdefaults {
        sd_outcomes.push(t.await.expect("racing task"));
    }

    let mut put_winners = Vec::new();
    for (i, out) in put_outcomes {
        if out.satisfied {
            assert!(out.mutated(), "a satisfied insert is a mutation");
            put_winners.push(i);
        } else {
            assert!(!out.mutated());
            assert!(
                out.actual_etag.is_some(),
                "a losing insert saw the key present"
            );
        }
    }
    assert_eq!(
        put_winners.len(),
        1,
        "put_if(Same, None) winners: {put_winners:?}"
    );
    assert_eq!(d.get(&put_key).await.expect("get"), put_winners[0]);

    let final_sd = d.get(&sd_key).await.expect("get");
    let mut sd_winners = Vec::new();
    for (v, out) in sd_outcomes {
        assert!(out.satisfied, "setdefault_if(Any) always holds");
        assert_eq!(
            out.value,
            Slot::Present(final_sd),
            "everyone sees the winner's value"
        );
        if out.mutated() {
            sd_winners.push(v);
        }
    }
    assert_eq!(sd_winners, vec![final_sd], "setdefault_if winners");
}

/// Keys deleted while `items()` runs are skipped without an error.
pub async fn iteration_skips_deleted<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &*d;
    let all: BTreeMap<Key, u64> = (0..80u64)
        .map(|i| (key(&format!("it/{i:03}")), i))
        .collect();
    d.put_many(all.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .await
        .expect("put_many");
    let mut items = d.items();
    let (first, v) = items
        .try_next()
        .await
        .expect("first item")
        .expect("a non-empty dict yields an item");
    assert_eq!(all.get(&first), Some(&v));
    let others: Vec<Key> = all.keys().filter(|k| **k != first).cloned().collect();
    assert_eq!(
        d.discard_many(&others).await.expect("discard_many"),
        others.len()
    );
    let rest: Vec<(Key, u64)> = items
        .try_collect()
        .await
        .expect("items() after concurrent deletes");
    let mut seen = BTreeSet::from([first]);
    for (k, v) in rest {
        assert_eq!(all.get(&k), Some(&v), "items() yielded {k} = {v}");
        assert!(seen.insert(k.clone()), "items() yielded {k} twice");
    }
    assert_eq!(d.len().await.expect("len"), 1);
}

// ---------------------------------------------------------------------------------------
// Codecs

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u32,
    name: String,
    tags: Vec<String>,
    score: Option<i64>,
    nested: BTreeMap<String, Vec<u8>>,
}

fn record(i: u32) -> Record {
    Record {
        id: i,
        name: format!("record {i} — ünïcode ✓"),
        tags: vec!["a".into(), "b \"quoted\"".into()],
        score: i.is_multiple_of(2).then_some(-(i as i64)),
        nested: BTreeMap::from([("k".to_owned(), vec![0, 1, 255])]),
    }
}

async fn round_trip<F: Fixture, V>(f: &F, codec: Codec, values: Vec<V>)
where
    V: Value + Clone + PartialEq + Debug,
{
    let d = f.open::<V>(FixtureOptions::codec(codec)).await;
    assert_eq!(
        d.info().codec,
        codec,
        "the fixture ignored the codec option"
    );
    let want: BTreeMap<Key, V> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (key(&format!("codec/{i}")), v))
        .collect();
    for (k, v) in &want {
        d.put(k, v.clone()).await.expect("put");
    }
    for (k, v) in &want {
        assert_eq!(
            &d.get(k).await.expect("get"),
            v,
            "{codec} round trip of {k}"
        );
    }
    let items: BTreeMap<Key, V> = d.items().try_collect().await.expect("items()");
    assert_eq!(items, want, "{codec} items()");
}

/// Each codec round-trips its kind of value: bincode and JSON any serde value, text
/// strings, raw bytes.
pub async fn codecs<F: Fixture>(f: &F) {
    round_trip(f, Codec::Bincode, vec![record(1), record(2)]).await;
    round_trip(f, Codec::Json, vec![record(3), record(4)]).await;
    round_trip(f, Codec::Json, vec![u64::MAX, 0]).await;
    round_trip(
        f,
        Codec::Text,
        vec![
            "plain".to_owned(),
            "ünïcode ✓ and\nnew lines\r\n".to_owned(),
            "{\"not\": \"json\"}".to_owned(),
        ],
    )
    .await;
    round_trip(
        f,
        Codec::Raw,
        vec![
            (0..=255u8).collect::<Vec<u8>>(),
            vec![0xff, 0xfe, 0],
            vec![7],
        ],
    )
    .await;
}

/// A value the codec cannot encode is [`Error::Encode`] and stores nothing.
pub async fn encode_errors_store_nothing<F: Fixture>(f: &F) {
    let text = f.open::<u64>(FixtureOptions::codec(Codec::Text)).await;
    let k = key("enc/number");
    match text.put(&k, 42).await {
        Err(Error::Encode { key, codec, .. }) => {
            assert_eq!(key, k);
            assert_eq!(codec, Codec::Text.name());
        }
        other => panic!("the text codec given a number: expected Error::Encode, got {other:?}"),
    }
    assert!(!text.contains(&k).await.expect("contains"));
    assert!(text.is_empty().await.expect("is_empty"));

    let raw = f.open::<String>(FixtureOptions::codec(Codec::Raw)).await;
    let k = key("enc/string");
    assert!(
        matches!(
            raw.put(&k, "text".to_owned()).await,
            Err(Error::Encode { .. })
        ),
        "the raw codec given a string"
    );
    assert!(raw.is_empty().await.expect("is_empty"));
}
