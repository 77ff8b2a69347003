//! OverlappingMultiDict on every backend: views of one root that differ only in codec see
//! only their own codec's objects, share every other setting, and refuse codecs that were
//! not declared.

#[path = "common/backends.rs"]
mod backends;
mod common;

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{DictOptions, OverlappingMultiDict};

fn key(path: &str) -> Key {
    path.parse().expect("a valid key")
}

async fn views_share_a_root(multi: &OverlappingMultiDict, backend: &str) {
    let json = multi.view::<String>(Codec::Json).expect("json view");
    let bin = multi.view::<u64>(Codec::Bincode).expect("bincode view");
    assert_eq!(json.info().codec, Codec::Json);
    assert_eq!(bin.info().codec, Codec::Bincode);
    assert_eq!(
        json.info().location,
        bin.info().location,
        "{backend}: one root"
    );

    let k = key("shared/name");
    json.put(&k, "readable".into()).await.expect("json put");
    assert!(
        !bin.contains(&k).await.expect("contains"),
        "{backend}: views are separate"
    );
    bin.put(&k, 7).await.expect("bincode put");
    bin.put(&key("only/bin"), 8).await.expect("bincode put");
    assert_eq!(json.get(&k).await.expect("json get"), "readable");
    assert_eq!(bin.get(&k).await.expect("bincode get"), 7);
    assert_eq!(json.len().await.expect("len"), 1, "{backend}");
    assert_eq!(bin.len().await.expect("len"), 2, "{backend}");
    assert!(json.object_name(&k).expect("name").ends_with(".json"));

    // The store holds both objects side by side.
    let names: Vec<String> = multi
        .store()
        .list("")
        .map_ok(|m| m.name)
        .try_collect()
        .await
        .expect("list");
    assert_eq!(names.len(), 3, "{backend}: {names:?}");

    // Subdictionaries keep the views apart too.
    let sub = multi.subdict(&key("shared"));
    assert_eq!(sub.codecs(), [Codec::Json, Codec::Bincode]);
    assert_eq!(
        sub.view::<String>(Codec::Json)
            .expect("view")
            .get(&key("name"))
            .await
            .expect("get"),
        "readable"
    );

    // Clearing one view leaves the other's entries.
    bin.clear().await.expect("clear bincode");
    assert_eq!(
        json.get(&k).await.expect("json survives"),
        "readable",
        "{backend}"
    );
    assert!(bin.is_empty().await.expect("is_empty"));

    match multi.view::<String>(Codec::Text) {
        Err(Error::CodecNotDeclared { codec, declared }) => {
            assert_eq!(codec, Codec::Text);
            assert_eq!(declared, [Codec::Json, Codec::Bincode]);
        }
        other => panic!("{backend}: an undeclared codec: {other:?}"),
    }
    json.clear().await.expect("clear json");
}

async fn overlapping_views(backend: &'static str) {
    let options = DictOptions {
        digest_len: 0,
        ..DictOptions::default()
    };
    let Some(b) = backends::open_with::<()>(backend, "multi", options).await else {
        return;
    };
    let multi = OverlappingMultiDict::new(&b.dict, &[Codec::Json, Codec::Bincode]).expect("multi");
    // Settings other than the codec come from the root dictionary.
    let json = multi.view::<String>(Codec::Json).expect("view");
    assert_eq!(json.options().digest_len, 0, "{backend}");
    views_share_a_root(&multi, backend).await;
}

macro_rules! multi_tests {
    ($($backend:ident),*) => {$(
        mod $backend {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn overlapping_views() {
                super::overlapping_views(stringify!($backend)).await;
            }
        }
    )*};
}

multi_tests!(memory, file, seaweedfs, moto, rclone);

mod memory_multi {
    use super::*;

    #[tokio::test]
    async fn from_a_url() {
        let multi = OverlappingMultiDict::open("mem://?codec=text", &[Codec::Json, Codec::Bincode])
            .await
            .expect("open");
        views_share_a_root(&multi, "memory").await;
        assert!(OverlappingMultiDict::open("ftp://x", &[Codec::Json])
            .await
            .is_err());
    }

    #[test]
    fn codecs_must_be_declared_once() {
        let root = MemDict::<()>::new();
        assert!(matches!(
            OverlappingMultiDict::new(&root, &[]),
            Err(Error::Config(_))
        ));
        match OverlappingMultiDict::new(&root, &[Codec::Json, Codec::Json]) {
            Err(Error::Config(msg)) => assert!(msg.contains("twice"), "{msg}"),
            other => panic!("{other:?}"),
        }
    }
}

mod file_multi {
    use super::*;

    #[tokio::test]
    async fn from_a_builder_and_a_url() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let multi = OverlappingMultiDict::from_file(
            FileDict::builder(dir.path()),
            &[Codec::Json, Codec::Bincode],
        )
        .await
        .expect("from_file");
        views_share_a_root(&multi, "file").await;

        let url = format!("file://{}", dir.path().display());
        let multi = OverlappingMultiDict::open(&url, &[Codec::Json, Codec::Bincode])
            .await
            .expect("open");
        views_share_a_root(&multi, "file").await;
    }
}

mod seaweedfs_multi {
    use super::*;

    #[tokio::test]
    async fn from_an_s3_builder() {
        let Some(server) = common::server("seaweedfs") else {
            return;
        };
        let multi = OverlappingMultiDict::from_s3(
            common::builder(&server, "multi-builder"),
            &[Codec::Json, Codec::Bincode],
        )
        .await
        .expect("from_s3");
        views_share_a_root(&multi, "seaweedfs").await;
    }
}

/// The contract suite through a view of a multi-dictionary whose other view holds an entry
/// under the same key names: a view is a plain dictionary that sees only its own codec.
mod views_contract {
    use super::*;
    use persidict::contract::{Fixture, FixtureOptions};
    use persidict::{Capabilities, PersiDict, Value};

    struct ViewFixture {
        backend: &'static str,
        keep: std::sync::Mutex<Vec<backends::Backend<()>>>,
    }

    #[async_trait::async_trait]
    impl Fixture for ViewFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            let root_options = DictOptions {
                append_only: options.append_only,
                ..DictOptions::default()
            };
            let b = backends::open_with::<()>(self.backend, "multi-contract", root_options)
                .await
                .expect("a local backend");
            let other = if options.codec == Codec::Json {
                Codec::Bincode
            } else {
                Codec::Json
            };
            let multi = OverlappingMultiDict::new(&b.dict, &[options.codec, other]).expect("multi");
            // Entries of the other view must stay invisible to the view under test.
            let stray = multi.view::<String>(other).expect("other view");
            for path in ["k", "a/b", "ao/first", "x/1"] {
                stray
                    .put(&key(path), "other codec".into())
                    .await
                    .expect("stray put");
            }
            self.keep.lock().expect("not poisoned").push(b);
            multi.view::<V>(options.codec).expect("declared")
        }

        fn enforces(&self) -> Capabilities {
            Capabilities::ALL
        }
    }

    mod memory_multi_view {
        use super::ViewFixture;
        persidict::contract_tests!(ViewFixture {
            backend: "memory",
            keep: Default::default()
        });
    }

    mod file_multi_view {
        use super::ViewFixture;
        persidict::contract_tests!(ViewFixture {
            backend: "file",
            keep: Default::default()
        });
    }
}
