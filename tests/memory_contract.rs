//! The contract suite against [`MemDict`], the reference implementation.

use persidict::contract::{Fixture, FixtureOptions};
use persidict::{MemDict, PersiDict, Value};

/// A fresh `MemDict` (its own store) for every dictionary the suite opens.
struct MemFixture;

#[async_trait::async_trait]
impl Fixture for MemFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> Box<dyn PersiDict<V>> {
        Box::new(
            MemDict::new()
                .with_codec(options.codec)
                .with_append_only(options.append_only),
        )
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
        async fn open<V: Value>(&self, options: FixtureOptions) -> Box<dyn PersiDict<V>> {
            let root = MemDict::<V>::new()
                .with_codec(options.codec)
                .with_append_only(options.append_only);
            let prefix = Key::new(["tenant", "a"]).expect("a valid prefix");
            Box::new(root.subdict(&prefix))
        }
    }

    persidict::contract_tests!(async { Some(PrefixedFixture) });
}
