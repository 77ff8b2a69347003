//! The contract suite against S3Dict on every local server, with expectations driven by
//! the probed capabilities (rclone ignores conditional headers, so there every conditional
//! operation must be the typed `Unsupported` error).

mod common;

use persidict::contract::{Fixture, FixtureOptions};
use persidict::{Capabilities, PersiDict, S3Dict, Value};

/// Opens each dictionary under a fresh random prefix of the test bucket.
struct S3Fixture {
    server: common::Server,
}

impl S3Fixture {
    fn new(name: &str) -> Option<S3Fixture> {
        common::server(name).map(|server| S3Fixture { server })
    }
}

#[async_trait::async_trait]
impl Fixture for S3Fixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        let d: S3Dict<V> = common::builder(&self.server, "contract")
            .codec(options.codec)
            .append_only(options.append_only)
            .build()
            .await
            .unwrap_or_else(|e| panic!("opening an S3Dict on {}: {e}", self.server.name));
        d.into()
    }

    fn enforces(&self) -> Capabilities {
        common::enforced(&self.server)
    }
}

mod seaweedfs {
    use super::*;
    persidict::contract_tests!(async { S3Fixture::new("seaweedfs") });
}

mod moto {
    use super::*;
    persidict::contract_tests!(async { S3Fixture::new("moto") });
}

mod rclone {
    use super::*;
    persidict::contract_tests!(async { S3Fixture::new("rclone") });
}
