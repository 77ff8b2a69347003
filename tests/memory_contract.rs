//! The contract suite against [`MemDict`], the reference implementation, and a check that
//! the suite's capability requirement cannot be met by a backend that enforces nothing.

use persidict::contract::{Fixture, FixtureOptions};
use persidict::{Capabilities, MemDict, PersiDict, Value};

/// A fresh `MemDict` (its own store) for every dictionary the suite opens.
struct MemFixture;

#[async_trait::async_trait]
impl Fixture for MemFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        MemDict::new()
            .with_codec(options.codec)
            .with_append_only(options.append_only)
            .into()
    }

    fn enforces(&self) -> Capabilities {
        Capabilities::ALL
    }
}

mod memory {
    use super::MemFixture;
    persidict::contract_tests!(MemFixture);
}

/// The suite through a subdictionary: a prefix must change nothing but where entries live.
mod memory_under_a_prefix {
    use super::*;
    use persidict::Key;

    struct PrefixedFixture;

    #[async_trait::async_trait]
    impl Fixture for PrefixedFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            let root = MemDict::<V>::new()
                .with_codec(options.codec)
                .with_append_only(options.append_only);
            let prefix = Key::new(["tenant", "a"]).expect("a valid prefix");
            root.subdict(&prefix).into_dict()
        }

        fn enforces(&self) -> Capabilities {
            Capabilities::ALL
        }
    }

    persidict::contract_tests!(async { Some(PrefixedFixture) });
}

/// A backend that enforces no conditional request must not pass the suite when its fixture
/// declares that it enforces them all, whether it says so through `capabilities()` or not;
/// with an honest fixture, the functions that check `Unsupported` pass.
mod memory_capability_requirement {
    use std::panic::AssertUnwindSafe;
    use std::sync::Arc;

    use async_trait::async_trait;
    use bytes::Bytes;
    use futures::stream::BoxStream;
    use futures::FutureExt;
    use persidict::contract::{self, Fixture, FixtureOptions};
    use persidict::store::{
        unsupported, DeleteCondition, DeleteResult, MemStore, ObjectMeta, ObjectStore, Read,
        ReadOptions, StoreInfo, WriteCondition, WriteResult,
    };
    use persidict::{Capabilities, Capability, DictOptions, PersiDict, Result, Value};

    /// A [`MemStore`] that answers [`persidict::Error::Unsupported`] to every conditional
    /// request, and reports `reports` as its capabilities.
    struct Unconditional {
        inner: MemStore,
        reports: Capabilities,
    }

    #[async_trait]
    impl ObjectStore for Unconditional {
        fn info(&self) -> StoreInfo {
            self.inner.info()
        }
        async fn capabilities(&self) -> Result<Capabilities> {
            Ok(self.reports)
        }
        async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
            if options.if_none_match.is_some() {
                return Err(unsupported(Capability::GetIfNoneMatch, &self.info()));
            }
            self.inner.read(name, options).await
        }
        async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
            self.inner.head(name).await
        }
        async fn write(
            &self,
            name: &str,
            body: Bytes,
            content_type: &str,
            condition: WriteCondition,
        ) -> Result<WriteResult> {
            match condition {
                WriteCondition::Always => {
                    self.inner.write(name, body, content_type, condition).await
                }
                WriteCondition::IfAbsent => Err(unsupported(Capability::PutIfAbsent, &self.info())),
                _ => Err(unsupported(Capability::PutIfMatch, &self.info())),
            }
        }
        async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
            match condition {
                DeleteCondition::Always => self.inner.delete(name, condition).await,
                _ => Err(unsupported(Capability::DeleteIfMatch, &self.info())),
            }
        }
        fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn delete_many(&self, names: Vec<String>) -> Result<()> {
            self.inner.delete_many(names).await
        }
    }

    /// Dictionaries over [`Unconditional`] stores, with the fixture's declaration.
    struct UnconditionalFixture {
        reports: Capabilities,
        declares: Capabilities,
    }

    #[async_trait]
    impl Fixture for UnconditionalFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            let store = Unconditional {
                inner: MemStore::new(),
                reports: self.reports,
            };
            let options = DictOptions {
                codec: options.codec,
                append_only: options.append_only,
                ..Default::default()
            };
            PersiDict::with_options(Arc::new(store), options).expect("valid options")
        }

        fn enforces(&self) -> Capabilities {
            self.declares
        }
    }

    /// Whether `check` panics with a message that contains `why`.
    async fn panics(check: impl std::future::Future<Output = ()>, why: &str) -> bool {
        let Err(payload) = AssertUnwindSafe(check).catch_unwind().await else {
            return false;
        };
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(
            message.contains(why),
            "panicked for another reason: {message}"
        );
        true
    }

    /// What the suite says when `capabilities()` report less than the fixture declares.
    const REPORTS_LESS: &str = "capabilities() report";
    /// How an `Error::Unsupported` prints in a failed `expect`.
    const UNSUPPORTED: &str = "Unsupported {";
    /// What the suite says when an operation declared unenforced did not answer `Unsupported`.
    const NOT_UNSUPPORTED: &str = "must answer Error::Unsupported";

    #[tokio::test]
    async fn memory_reporting_nothing_fails_a_fixture_declaring_everything() {
        let f = UnconditionalFixture {
            reports: Capabilities::NONE,
            declares: Capabilities::ALL,
        };
        assert!(panics(contract::declared_capabilities(&f), REPORTS_LESS).await);
        assert!(panics(contract::conditional_put_if(&f), REPORTS_LESS).await);
        assert!(panics(contract::transform_basics(&f), REPORTS_LESS).await);
        assert!(panics(contract::short_verbs(&f), REPORTS_LESS).await);
        assert!(panics(contract::append_only(&f), REPORTS_LESS).await);
    }

    #[tokio::test]
    async fn memory_claiming_everything_but_refusing_fails_too() {
        let f = UnconditionalFixture {
            reports: Capabilities::ALL,
            declares: Capabilities::ALL,
        };
        assert!(panics(contract::declared_capabilities(&f), UNSUPPORTED).await);
        assert!(panics(contract::conditional_put_if(&f), UNSUPPORTED).await);
        assert!(panics(contract::short_verbs(&f), UNSUPPORTED).await);
    }

    #[tokio::test]
    async fn memory_declared_unenforced_gets_unsupported_checked() {
        let f = UnconditionalFixture {
            reports: Capabilities::NONE,
            declares: Capabilities::NONE,
        };
        contract::declared_capabilities(&f).await;
        contract::conditional_put_if(&f).await;
        contract::conditional_setdefault_if(&f).await;
        contract::conditional_discard_if(&f).await;
        contract::transform_basics(&f).await;
        contract::short_verbs(&f).await;
        contract::append_only(&f).await;
        contract::get_put(&f).await;
    }

    /// A `MemDict` whose fixture declares that it enforces nothing.
    struct DeclaresNothing;

    #[async_trait]
    impl Fixture for DeclaresNothing {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            persidict::MemDict::new()
                .with_codec(options.codec)
                .with_append_only(options.append_only)
                .into()
        }

        fn enforces(&self) -> Capabilities {
            Capabilities::NONE
        }
    }

    #[tokio::test]
    async fn memory_enforcing_what_the_fixture_declares_unenforced_fails() {
        assert!(
            panics(
                contract::conditional_put_if(&DeclaresNothing),
                NOT_UNSUPPORTED
            )
            .await
        );
        assert!(panics(contract::short_verbs(&DeclaresNothing), NOT_UNSUPPORTED).await);
        assert!(
            panics(
                contract::declared_capabilities(&DeclaresNothing),
                NOT_UNSUPPORTED
            )
            .await
        );
    }
}
