//! Shared helpers for tests that run against the local S3 servers.
#![allow(dead_code)]

use persidict::{S3Dict, Value};

/// The bucket every S3 test uses; each test works under its own random prefix.
pub const BUCKET: &str = "persidict-test";

/// A local S3 server named in `PERSIDICT_TEST_S3`.
#[derive(Debug, Clone)]
pub struct Server {
    pub name: String,
    pub url: String,
}

/// The servers of `PERSIDICT_TEST_S3="name=url,name=url"`.
pub fn servers() -> Vec<Server> {
    let spec = std::env::var("PERSIDICT_TEST_S3").unwrap_or_default();
    spec.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            let (name, url) = s
                .split_once('=')
                .unwrap_or_else(|| panic!("PERSIDICT_TEST_S3 entry {s:?} is not name=url"));
            Server {
                name: name.trim().to_owned(),
                url: url.trim().to_owned(),
            }
        })
        .collect()
}

/// The server called `name`, or `None` (with a note) when it is not configured. With
/// `PERSIDICT_REQUIRE_S3=1` a missing server is a failure, never a silent skip.
pub fn server(name: &str) -> Option<Server> {
    let found = servers().into_iter().find(|s| s.name == name);
    if found.is_none() {
        if std::env::var("PERSIDICT_REQUIRE_S3").as_deref() == Ok("1") {
            panic!("PERSIDICT_REQUIRE_S3=1 but server {name:?} is not in PERSIDICT_TEST_S3");
        }
        eprintln!("skipped: S3 server {name:?} not configured (set PERSIDICT_TEST_S3)");
    }
    found
}

/// A fresh random prefix for one test.
pub fn fresh_prefix(test: &str) -> String {
    format!("t/{test}-{:016x}", fastrand::u64(..))
}

/// A dictionary on `server` under a fresh prefix, creating the bucket if needed.
pub async fn open<V: Value>(server: &Server, test: &str) -> S3Dict<V> {
    builder(server, test)
        .build()
        .await
        .unwrap_or_else(|e| panic!("opening an S3Dict on {}: {e}", server.name))
}

/// A builder for `server` under a fresh prefix.
pub fn builder(server: &Server, test: &str) -> persidict::S3DictBuilder {
    S3Dict::builder(BUCKET)
        .endpoint_url(&server.url)
        .region("us-east-1")
        .root_prefix(fresh_prefix(test))
        .create_bucket(true)
}

/// What each local server enforces (measured, see `shared/S3-SERVERS.md` and the README's
/// backend table): the contract suite fails if a server enforces less than this.
pub fn enforced(server: &Server) -> persidict::Capabilities {
    use persidict::Capabilities;
    match server.name.as_str() {
        "seaweedfs" => Capabilities::ALL,
        // moto compares `If-Match: *` literally and refuses it (412) on an existing
        // object, so delete-if-exists is not used there.
        "moto" => Capabilities {
            delete_if_exists: false,
            // moto deletes every object of a DeleteObjects, whatever its ETag element.
            delete_many_if_match: false,
            // moto copies whatever the CopyObject preconditions say.
            copy_if_absent: false,
            copy_if_match: false,
            copy_source_if_match: false,
            ..Capabilities::ALL
        },
        // rclone ignores every conditional header on writes; it does answer 304.
        "rclone" => Capabilities {
            get_if_none_match: true,
            ..Capabilities::NONE
        },
        other => panic!("no declared capabilities for server {other:?}"),
    }
}

/// A byte-level store builder for `server` under a fresh prefix, creating the bucket if
/// needed.
pub fn store_builder(server: &Server, test: &str) -> persidict::S3DictBuilder {
    persidict::S3DictBuilder::new(BUCKET)
        .endpoint_url(&server.url)
        .region("us-east-1")
        .root_prefix(fresh_prefix(test))
        .create_bucket(true)
}

/// A byte-level store on `server` under a fresh prefix.
pub async fn store(server: &Server, test: &str) -> persidict::s3::S3Store {
    store_builder(server, test)
        .build_store()
        .await
        .unwrap_or_else(|e| panic!("connecting an S3Store on {}: {e}", server.name))
}
