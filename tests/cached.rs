//! CachedDict: the contract suite over memory and S3, and what the cache costs and
//! guarantees, counted in requests on SeaweedFS.

mod common;

use futures::TryStreamExt;

use persidict::cached::{CacheEntry, CacheStore};
use persidict::contract::{Fixture, FixtureOptions};
use persidict::prelude::*;
use persidict::s3::RequestKind;
use persidict::{CachedDict, Capabilities, FileDict, S3Dict, Value};

/// Every dictionary of one fixture shares one small cache store (so that namespacing and
/// eviction are exercised by the whole suite).
struct CachedMemFixture {
    store: CacheStore,
    trust_append_only: bool,
}

#[async_trait::async_trait]
impl Fixture for CachedMemFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        let inner = MemDict::new()
            .with_codec(options.codec)
            .with_append_only(options.append_only);
        CachedDict::builder(inner)
            .store(self.store.clone())
            .trust_append_only(self.trust_append_only)
            .build()
            .into()
    }

    fn enforces(&self) -> Capabilities {
        Capabilities::ALL
    }
}

mod cached_memory {
    use super::*;
    persidict::contract_tests!(CachedMemFixture {
        store: CacheStore::memory(64),
        trust_append_only: false,
    });
}

mod cached_memory_trusting_append_only {
    use super::*;
    persidict::contract_tests!(CachedMemFixture {
        store: CacheStore::memory(64),
        trust_append_only: true,
    });
}

/// The cache store itself a dictionary (a `MemDict` of [`CacheEntry`]).
mod cached_memory_dict_store {
    use super::*;
    persidict::contract_tests!(CachedMemFixture {
        store: CacheStore::dict(MemDict::<CacheEntry>::new()),
        trust_append_only: false,
    });
}

/// The cache store a `FileDict` of [`CacheEntry`] in a temporary directory.
mod cached_memory_file_store {
    use super::*;

    struct FileStoreFixture {
        _dir: tempfile::TempDir,
        inner: CachedMemFixture,
    }

    #[async_trait::async_trait]
    impl Fixture for FileStoreFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            self.inner.open(options).await
        }

        fn enforces(&self) -> Capabilities {
            self.inner.enforces()
        }
    }

    async fn fixture() -> Result<FileStoreFixture, Error> {
        let dir = tempfile::tempdir().map_err(|e| Error::Config(e.to_string()))?;
        let store = FileDict::builder(dir.path()).build::<CacheEntry>().await?;
        Ok(FileStoreFixture {
            _dir: dir,
            inner: CachedMemFixture {
                store: CacheStore::dict(store),
                trust_append_only: false,
            },
        })
    }

    persidict::contract_tests!(async { fixture().await });
}

struct CachedS3Fixture {
    server: common::Server,
    store: CacheStore,
}

impl CachedS3Fixture {
    fn new(name: &str) -> Option<CachedS3Fixture> {
        common::server(name).map(|server| CachedS3Fixture {
            server,
            store: CacheStore::memory(1000),
        })
    }
}

#[async_trait::async_trait]
impl Fixture for CachedS3Fixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        let d: S3Dict<V> = common::builder(&self.server, "cached")
            .codec(options.codec)
            .append_only(options.append_only)
            .build()
            .await
            .unwrap_or_else(|e| panic!("opening an S3Dict on {}: {e}", self.server.name));
        CachedDict::builder(d)
            .store(self.store.clone())
            .build()
            .into()
    }

    fn enforces(&self) -> Capabilities {
        common::enforced(&self.server)
    }
}

mod cached_seaweedfs {
    use super::*;
    persidict::contract_tests!(async { CachedS3Fixture::new("seaweedfs") });
}

mod cached_moto {
    use super::*;
    persidict::contract_tests!(async { CachedS3Fixture::new("moto") });
}

/// Requests and cache behaviour, counted on SeaweedFS (which answers `304`).
mod cached_seaweedfs_requests {
    use super::*;
    use persidict::s3::StatsSnapshot;

    async fn open(test: &str) -> Option<(CachedDict<String, S3Dict<String>>, S3Dict<String>)> {
        let server = common::server("seaweedfs")?;
        let remote: S3Dict<String> = common::open(&server, test).await;
        // Another client on the same objects: its own S3 client and counters.
        let other: S3Dict<String> = common::builder(&server, test)
            .root_prefix(remote_root(&remote))
            .build()
            .await
            .expect("a second client");
        Some((CachedDict::new(remote), other))
    }

    /// The root prefix of `d`, read back from its location `s3://bucket/<root> (endpoint)`.
    fn remote_root<V: Value>(d: &S3Dict<V>) -> String {
        let loc = d.info().location;
        let after_bucket = loc
            .strip_prefix(&format!("s3://{}/", d.bucket()))
            .expect("location starts with the bucket");
        after_bucket
            .split(' ')
            .next()
            .expect("a root")
            .trim_end_matches('/')
            .to_owned()
    }

    fn snap(d: &CachedDict<String, S3Dict<String>>) -> StatsSnapshot {
        d.inner().stats().snapshot()
    }

    /// A cached dictionary forwards the bulk deletes of the store under it: `clear` and
    /// `delete_many` of n keys send one `DeleteObjects` per 1000 keys (not one request per
    /// key), with the wrapped dictionary's concurrency.
    #[tokio::test]
    async fn cached_clear_and_delete_many_send_batches() {
        let Some((d, _)) = open("cached-bulk").await else {
            return;
        };
        assert_eq!(d.concurrency(), d.inner().concurrency());
        let keys: Vec<Key> = (0..1500)
            .map(|i| Key::new(["k", &format!("{i:04}")]).unwrap())
            .collect();
        d.put_many(keys.iter().map(|k| (k.clone(), "v".to_owned())).collect())
            .await
            .unwrap();
        let before = snap(&d);
        d.delete_many(&keys[..1200]).await.unwrap();
        let cost = snap(&d).since(&before);
        assert_eq!(cost.get(RequestKind::DeleteObjects), 2, "{cost}");
        assert_eq!(cost.total(), 2, "{cost}");
        assert_eq!(d.len().await.unwrap(), 300);
        let before = snap(&d);
        d.clear().await.unwrap();
        let cost = snap(&d).since(&before);
        // 300 keys: one plain page holds them all.
        assert_eq!(cost.get(RequestKind::List), 1, "{cost}");
        assert_eq!(cost.get(RequestKind::DeleteObjects), 1, "{cost}");
        assert_eq!(cost.total(), 2, "{cost}");
        assert!(d.is_empty().await.unwrap());
        // The listing is owned: it can move into a spawned task.
        let listed = tokio::spawn(d.keys().try_collect::<Vec<Key>>())
            .await
            .unwrap();
        assert!(listed.unwrap().is_empty());
    }

    #[tokio::test]
    async fn repeated_get_is_one_conditional_get_answered_304() {
        let Some((d, _)) = open("cached-304").await else {
            return;
        };
        let k = Key::try_from("k").unwrap();
        let etag = d.put(&k, "v".into()).await.unwrap();
        for _ in 0..5 {
            let before = snap(&d);
            let cache_before = d.stats().snapshot();
            let (v, e) = d.get_with_etag(&k).await.unwrap().unwrap();
            let cost = snap(&d).since(&before);
            assert_eq!((v.as_str(), &e), ("v", &etag));
            assert_eq!(cost.get(RequestKind::Get), 1, "{cost}");
            assert_eq!(cost.total(), 1, "{cost}");
            // Counted as revalidated only when the inner dictionary sent no value (304).
            let c = d.stats().snapshot();
            assert_eq!(c.revalidated, cache_before.revalidated + 1);
            assert_eq!(c.refreshed, cache_before.refreshed);
        }
        // The same through the inner dictionary directly: the 304 carries no value.
        let out = d
            .inner()
            .get_if(&k, Condition::Same, Some(&etag), Retrieve::IfChanged)
            .await
            .unwrap();
        assert_eq!(out.value, Slot::NotRetrieved);
    }

    #[tokio::test]
    async fn a_change_by_another_client_is_seen_with_its_new_etag() {
        let Some((d, other)) = open("cached-changed").await else {
            return;
        };
        let k = Key::try_from("k").unwrap();
        let first = d.put(&k, "v1".into()).await.unwrap();
        assert_eq!(d.get(&k).await.unwrap(), "v1");
        let second = other.put(&k, "v2".into()).await.unwrap();
        assert_ne!(first, second);
        let before = snap(&d);
        let refreshed = d.stats().snapshot().refreshed;
        let (v, e) = d.get_with_etag(&k).await.unwrap().unwrap();
        assert_eq!((v.as_str(), &e), ("v2", &second), "no stale value or ETag");
        assert_eq!(snap(&d).since(&before).total(), 1);
        assert_eq!(d.stats().snapshot().refreshed, refreshed + 1);
        // The refreshed entry is then revalidated with the new ETag.
        let before = snap(&d);
        let revalidated = d.stats().snapshot().revalidated;
        assert_eq!(
            d.get_with_etag(&k).await.unwrap(),
            Some(("v2".into(), second))
        );
        assert_eq!(snap(&d).since(&before).total(), 1);
        assert_eq!(d.stats().snapshot().revalidated, revalidated + 1);
    }

    #[tokio::test]
    async fn a_key_deleted_by_another_client_is_absent() {
        let Some((d, other)) = open("cached-deleted").await else {
            return;
        };
        let k = Key::try_from("k").unwrap();
        d.put(&k, "v".into()).await.unwrap();
        assert_eq!(d.get(&k).await.unwrap(), "v");
        other.delete(&k).await.unwrap();
        assert_eq!(d.get_opt(&k).await.unwrap(), None);
        assert!(d.get(&k).await.unwrap_err().is_not_found());
        let out = d
            .get_if(&k, Condition::Any, None, Retrieve::Always)
            .await
            .unwrap();
        assert_eq!((out.actual_etag, out.value), (None, Slot::Absent));
        assert!(d.store().is_empty().await.unwrap(), "the entry was dropped");
    }

    #[tokio::test]
    async fn a_refused_put_if_does_not_poison_the_cache() {
        let Some((d, other)) = open("cached-refused").await else {
            return;
        };
        let k = Key::try_from("k").unwrap();
        let stale = d.put(&k, "mine".into()).await.unwrap();
        let theirs = other.put(&k, "theirs".into()).await.unwrap();
        // Compare-and-swap on an ETag that is no longer current: refused.
        let out = d
            .put_if(
                &k,
                Write::Value("lost".into()),
                Condition::Same,
                Some(&stale),
                Retrieve::Never,
            )
            .await
            .unwrap();
        assert!(!out.satisfied);
        // Insert-if-absent on a present key: refused too.
        let out = d
            .put_if(
                &k,
                Write::Value("lost too".into()),
                Condition::Same,
                None,
                Retrieve::Never,
            )
            .await
            .unwrap();
        assert!(!out.satisfied);
        assert_eq!(
            d.get_with_etag(&k).await.unwrap(),
            Some(("theirs".into(), theirs.clone()))
        );
        // A refusal that reports the current value caches it, with its ETag.
        let out = d
            .put_if(
                &k,
                Write::Value("lost".into()),
                Condition::Same,
                Some(&stale),
                Retrieve::Always,
            )
            .await
            .unwrap();
        assert_eq!(out.value, Slot::Present("theirs".into()));
        let before = snap(&d);
        let revalidated = d.stats().snapshot().revalidated;
        assert_eq!(d.get(&k).await.unwrap(), "theirs");
        assert_eq!(snap(&d).since(&before).total(), 1);
        assert_eq!(d.stats().snapshot().revalidated, revalidated + 1);
    }

    #[tokio::test]
    async fn own_writes_are_cached_with_the_etag_they_returned() {
        let Some((d, _)) = open("cached-own-writes").await else {
            return;
        };
        let k = Key::try_from("k").unwrap();
        let e1 = d.put(&k, "a".into()).await.unwrap();
        let out = d
            .put_if(
                &k,
                Write::Value("b".into()),
                Condition::Same,
                Some(&e1),
                Retrieve::Never,
            )
            .await
            .unwrap();
        assert!(out.satisfied);
        let e2 = out.resulting_etag.unwrap();
        let revalidated = d.stats().snapshot().revalidated;
        assert_eq!(d.get_with_etag(&k).await.unwrap(), Some(("b".into(), e2)));
        assert_eq!(d.stats().snapshot().revalidated, revalidated + 1, "a 304");
        d.delete(&k).await.unwrap();
        assert!(d.store().is_empty().await.unwrap());
        assert_eq!(d.get_opt(&k).await.unwrap(), None);
    }

    #[tokio::test]
    async fn trusted_append_only_gets_cost_no_requests_after_the_first() {
        let Some(server) = common::server("seaweedfs") else {
            return;
        };
        let remote: S3Dict<String> = common::builder(&server, "cached-trust")
            .append_only(true)
            .build()
            .await
            .unwrap();
        let d = CachedDict::builder(remote)
            .trust_append_only(true)
            .build::<String>();
        assert!(d.trusts_cache());
        let written = Key::try_from("written").unwrap();
        let read = Key::try_from("read").unwrap();
        let etag = d.put(&written, "w".into()).await.unwrap();
        // A key written by another handle is cached by its first read.
        let other = d.inner().clone();
        let read_etag = other.put(&read, "r".into()).await.unwrap();
        let before = d.inner().stats().snapshot();
        assert_eq!(d.get(&read).await.unwrap(), "r");
        assert_eq!(d.inner().stats().snapshot().since(&before).total(), 1);

        let before = d.inner().stats().snapshot();
        for _ in 0..3 {
            assert_eq!(
                d.get_with_etag(&written).await.unwrap(),
                Some(("w".into(), etag.clone()))
            );
            assert_eq!(
                d.get_with_etag(&read).await.unwrap(),
                Some(("r".into(), read_etag.clone()))
            );
            let out = d
                .setdefault_if(&read, "x".into(), Condition::Any, None, Retrieve::Always)
                .await
                .unwrap();
            assert_eq!(out.value, Slot::Present("r".into()));
            assert!(!out.mutated());
        }
        assert_eq!(d.inner().stats().snapshot().since(&before).total(), 0);
        assert_eq!(d.stats().snapshot().trusted, 9);
        // Overwrites are still refused by the append-only dictionary itself.
        let err = d.put(&written, "again".into()).await.unwrap_err();
        assert!(matches!(err, Error::AppendOnly { .. }), "{err}");
        assert_eq!(d.get(&written).await.unwrap(), "w");
    }

    /// A `FileDict` store outlives the process's dictionaries: a new `CachedDict` on a new
    /// client finds the entry and revalidates it with one `304`.
    #[tokio::test]
    async fn a_file_store_survives_a_restart() {
        let Some((d, _)) = open("cached-file-store").await else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let store = || async {
            CacheStore::dict(
                FileDict::builder(dir.path())
                    .build::<CacheEntry>()
                    .await
                    .unwrap(),
            )
        };
        let remote = d.inner().clone();
        let first = CachedDict::builder(remote.clone())
            .store(store().await)
            .build::<String>();
        let k = Key::parse_path("a/b").unwrap();
        let etag = first.put(&k, "v".into()).await.unwrap();
        drop(first);

        let server = common::server("seaweedfs").unwrap();
        let again: S3Dict<String> = common::builder(&server, "unused")
            .root_prefix(remote_root(&remote))
            .build()
            .await
            .unwrap();
        let second = CachedDict::builder(again)
            .store(store().await)
            .build::<String>();
        let before = snap(&second);
        assert_eq!(
            second.get_with_etag(&k).await.unwrap(),
            Some(("v".into(), etag))
        );
        assert_eq!(snap(&second).since(&before).total(), 1);
        assert_eq!(second.stats().snapshot().revalidated, 1, "answered 304");
        assert_eq!(second.stats().snapshot().misses, 0);
    }

    #[tokio::test]
    async fn two_dicts_sharing_a_store_never_see_each_others_entries() {
        let Some(server) = common::server("seaweedfs") else {
            return;
        };
        let store = CacheStore::memory(100);
        let a: S3Dict<String> = common::open(&server, "cached-ns-a").await;
        let b: S3Dict<String> = common::open(&server, "cached-ns-b").await;
        let a = CachedDict::builder(a)
            .store(store.clone())
            .build::<String>();
        let b = CachedDict::builder(b)
            .store(store.clone())
            .build::<String>();
        let k = Key::try_from("k").unwrap();
        a.put(&k, "in a".into()).await.unwrap();
        assert_eq!(b.get_opt(&k).await.unwrap(), None);
        b.put(&k, "in b".into()).await.unwrap();
        assert_eq!(a.get(&k).await.unwrap(), "in a");
        assert_eq!(b.get(&k).await.unwrap(), "in b");
        assert_eq!(store.len().await.unwrap(), 2);
        // A subdictionary is cached too, in the same store.
        let sub = a.get_subdict(&Key::try_from("sub").unwrap()).unwrap();
        sub.put(&k, "in a/sub".into()).await.unwrap();
        assert_eq!(
            a.get(&Key::parse_path("sub/k").unwrap()).await.unwrap(),
            "in a/sub"
        );
        let before = a.inner().stats().snapshot();
        assert_eq!(sub.get(&k).await.unwrap(), "in a/sub");
        assert_eq!(a.inner().stats().snapshot().since(&before).total(), 1);
    }
}

/// Two `MemDict`s have the same location (`mem:///`) and may hand out the same ETags; a
/// shared cache store must still keep them apart.
#[tokio::test]
async fn separate_memdicts_sharing_a_store_stay_apart() {
    let store = CacheStore::memory(10);
    let a = CachedDict::builder(MemDict::<String>::new())
        .store(store.clone())
        .build::<String>();
    let b = CachedDict::builder(MemDict::<String>::new())
        .store(store.clone())
        .build::<String>();
    let k = Key::try_from("k").unwrap();
    let ea = a.put(&k, "a".into()).await.unwrap();
    let eb = b.put(&k, "b".into()).await.unwrap();
    assert_eq!(ea, eb, "both stores hand out the same first ETag");
    assert_eq!(a.get(&k).await.unwrap(), "a");
    assert_eq!(b.get(&k).await.unwrap(), "b");
}

#[tokio::test]
async fn the_memory_store_evicts_the_least_recently_used() {
    let d = CachedDict::builder(MemDict::<u32>::new())
        .max_entries(3)
        .build::<u32>();
    let keys: Vec<Key> = (0..4)
        .map(|i| Key::try_from(format!("k{i}")).unwrap())
        .collect();
    for (i, k) in keys.iter().take(3).enumerate() {
        d.put(k, i as u32).await.unwrap();
    }
    // Use k0, so k1 is the least recently used when k3 comes in.
    assert_eq!(d.get(&keys[0]).await.unwrap(), 0);
    d.put(&keys[3], 3).await.unwrap();
    assert_eq!(d.store().len().await.unwrap(), 3);
    let misses = d.stats().snapshot().misses;
    assert_eq!(d.get(&keys[1]).await.unwrap(), 1);
    assert_eq!(d.stats().snapshot().misses, misses + 1, "k1 was evicted");
    let s = d.stats().snapshot();
    assert_eq!(d.get(&keys[3]).await.unwrap(), 3);
    assert_eq!(d.stats().snapshot().revalidated, s.revalidated + 1);
}

#[tokio::test]
async fn an_error_drops_the_cached_entry() {
    let k = Key::try_from("k").unwrap();
    let append_only = CachedDict::new(MemDict::<u32>::new().with_append_only(true));
    append_only.put(&k, 1).await.unwrap();
    assert_eq!(append_only.store().len().await.unwrap(), 1);
    // Refused by the dictionary before any request: the cache is not involved.
    assert!(append_only.discard(&k).await.is_err());
    // Refused by the append-only store below the cache: the error passes through it.
    assert!(append_only.put(&k, 2).await.is_err());
    assert_eq!(append_only.store().len().await.unwrap(), 0);
    assert_eq!(append_only.get(&k).await.unwrap(), 1);
}
