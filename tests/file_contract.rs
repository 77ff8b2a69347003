//! The contract suite against [`FileDict`], each dictionary in a fresh temporary directory.

use persidict::contract::{Fixture, FixtureOptions};
use persidict::{Capabilities, FileDict, PersiDict, Value};

/// Opens every dictionary in its own temporary directory; the directories are removed when
/// the fixture is dropped at the end of its test.
struct FileFixture {
    dirs: std::sync::Mutex<Vec<tempfile::TempDir>>,
}

impl FileFixture {
    fn new() -> Self {
        FileFixture {
            dirs: std::sync::Mutex::new(Vec::new()),
        }
    }

    async fn open_file<V: Value>(&self, options: FixtureOptions) -> FileDict<V> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let d = FileDict::builder(dir.path())
            .codec(options.codec)
            .append_only(options.append_only)
            .build()
            .await
            .expect("a FileDict in a fresh directory");
        self.dirs.lock().expect("not poisoned").push(dir);
        d
    }
}

#[async_trait::async_trait]
impl Fixture for FileFixture {
    async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
        self.open_file(options).await.into()
    }

    fn enforces(&self) -> Capabilities {
        Capabilities::ALL
    }
}

mod file {
    use super::FileFixture;
    persidict::contract_tests!(FileFixture::new());
}

/// The suite through a subdictionary: a prefix must change nothing but where entries live.
mod file_under_a_prefix {
    use super::*;
    use persidict::Key;

    struct PrefixedFixture(FileFixture);

    #[async_trait::async_trait]
    impl Fixture for PrefixedFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            let root = self.0.open_file::<V>(options).await;
            let prefix = Key::new(["tenant", "a"]).expect("a valid prefix");
            root.subdict(&prefix).into()
        }

        fn enforces(&self) -> Capabilities {
            Capabilities::ALL
        }
    }

    persidict::contract_tests!(PrefixedFixture(FileFixture::new()));
}

/// The suite on unsigned names (`digest_len = 0`), Python persidict's layout.
mod file_unsigned {
    use super::*;

    struct UnsignedFixture(std::sync::Mutex<Vec<tempfile::TempDir>>);

    #[async_trait::async_trait]
    impl Fixture for UnsignedFixture {
        async fn open<V: Value>(&self, options: FixtureOptions) -> PersiDict<V> {
            let dir = tempfile::tempdir().expect("a temporary directory");
            let d = FileDict::builder(dir.path())
                .codec(options.codec)
                .append_only(options.append_only)
                .digest_len(0)
                .build::<V>()
                .await
                .expect("a FileDict in a fresh directory");
            self.0.lock().expect("not poisoned").push(dir);
            d.into()
        }

        fn enforces(&self) -> Capabilities {
            Capabilities::ALL
        }
    }

    persidict::contract_tests!(UnsignedFixture(Default::default()));
}
