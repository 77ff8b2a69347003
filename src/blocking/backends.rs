//! The blocking backend types ([`MemDict`], [`FileDict`], `S3Dict`), their builders, and
//! [`open`].

use std::path::PathBuf;

use super::{run, PersiDict};
use crate::codec::Codec;
use crate::dict::Value;
use crate::error::Result;
use crate::key::Key;

/// The conversions of a blocking backend type whose field `async_dict` is its async twin
/// and `dict` the blocking [`PersiDict`] over the same store: `Deref` to the latter (so
/// every dictionary method is there), `AsRef`, `From` both ways, `into_dict`, `as_async`
/// and `into_async`.
macro_rules! blocking_newtype {
    ($name:ident, $async_name:ty) => {
        impl<V> std::ops::Deref for $name<V> {
            type Target = PersiDict<V>;
            fn deref(&self) -> &PersiDict<V> {
                &self.dict
            }
        }

        impl<V> AsRef<PersiDict<V>> for $name<V> {
            fn as_ref(&self) -> &PersiDict<V> {
                &self.dict
            }
        }

        impl<V> From<$name<V>> for PersiDict<V> {
            fn from(d: $name<V>) -> PersiDict<V> {
                d.dict
            }
        }

        impl<V> From<$async_name> for $name<V> {
            fn from(async_dict: $async_name) -> $name<V> {
                $name {
                    dict: PersiDict::from(crate::PersiDict::from(async_dict.clone())),
                    async_dict,
                }
            }
        }

        impl<V> From<$name<V>> for $async_name {
            fn from(d: $name<V>) -> $async_name {
                d.async_dict
            }
        }

        impl<V> Clone for $name<V> {
            fn clone(&self) -> Self {
                $name {
                    async_dict: self.async_dict.clone(),
                    dict: self.dict.clone(),
                }
            }
        }

        impl<V> std::fmt::Debug for $name<V> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(concat!("blocking::", stringify!($name)))
                    .field(&self.async_dict)
                    .finish()
            }
        }

        impl<V> $name<V> {
            /// The dictionary as a plain blocking [`PersiDict`].
            pub fn into_dict(self) -> PersiDict<V> {
                self.dict
            }

            /// The async twin of this dictionary (same store), for async code.
            pub fn as_async(&self) -> &$async_name {
                &self.async_dict
            }

            /// The async twin of this dictionary.
            pub fn into_async(self) -> $async_name {
                self.async_dict
            }
        }
    };
}

/// Declares builder setters that forward to the async builder's setter of the same name.
macro_rules! forward_setters {
    ($async_builder:literal; $(fn $name:ident($arg:ident: $ty:ty);)*) => {$(
        #[doc = concat!("[`", $async_builder, "::", stringify!($name), "`](crate::",
            $async_builder, "::", stringify!($name), ").")]
        pub fn $name(self, $arg: $ty) -> Self {
            Self(self.0.$name($arg))
        }
    )*};
}

/// The blocking twin of [`crate::MemDict`]: an in-memory dictionary, the reference
/// implementation. Every blocking [`PersiDict`] method is available through `Deref`.
///
/// ```
/// use persidict::blocking::MemDict;
/// use persidict::Key;
///
/// let d = MemDict::<u64>::new();
/// d.put(&Key::try_from("a")?, 1)?;
/// assert_eq!(d.len()?, 1);
/// # Ok::<(), persidict::Error>(())
/// ```
pub struct MemDict<V> {
    async_dict: crate::MemDict<V>,
    dict: PersiDict<V>,
}

blocking_newtype!(MemDict, crate::MemDict<V>);

impl<V: Value> Default for MemDict<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Value> MemDict<V> {
    /// An empty dictionary with the default codec (bincode); see
    /// [`MemDict::new`](crate::MemDict::new).
    pub fn new() -> Self {
        crate::MemDict::new().into()
    }

    /// The same store seen through another codec.
    #[must_use]
    pub fn with_codec(self, codec: Codec) -> Self {
        self.async_dict.with_codec(codec).into()
    }

    /// The same store, append-only (or not).
    #[must_use]
    pub fn with_append_only(self, append_only: bool) -> Self {
        self.async_dict.with_append_only(append_only).into()
    }

    /// A subdictionary sharing this store, as a `MemDict`.
    pub fn subdict(&self, prefix: &Key) -> MemDict<V> {
        self.async_dict.subdict(prefix).into()
    }

    /// The store under the dictionary.
    pub fn mem_store(&self) -> &crate::store::MemStore {
        self.async_dict.mem_store()
    }
}

/// The blocking twin of [`crate::FileDict`]: a dictionary in a local directory, atomic
/// across threads and processes (see [`crate::file`]). Every blocking [`PersiDict`]
/// method is available through `Deref`.
///
/// ```
/// use persidict::blocking::FileDict;
/// use persidict::{Codec, Key};
///
/// let dir = std::env::temp_dir().join(format!("persidict-blocking-doc-{}", std::process::id()));
/// let d: FileDict<String> = FileDict::builder(&dir).codec(Codec::Json).build()?;
/// d.put(&Key::try_from("k")?, "v".into())?;
/// assert_eq!(d.get(&Key::try_from("k")?)?, "v");
/// d.clear()?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), persidict::Error>(())
/// ```
pub struct FileDict<V> {
    async_dict: crate::FileDict<V>,
    dict: PersiDict<V>,
}

blocking_newtype!(FileDict, crate::FileDict<V>);

impl FileDict<()> {
    /// Starts configuring a dictionary in `dir`; see
    /// [`FileDict::builder`](crate::FileDict::builder).
    pub fn builder(dir: impl Into<PathBuf>) -> FileDictBuilder {
        FileDictBuilder(crate::FileDict::builder(dir))
    }
}

impl<V: Value> FileDict<V> {
    /// A subdictionary as a `FileDict`, sharing the directory.
    pub fn subdict(&self, prefix: &Key) -> FileDict<V> {
        self.async_dict.subdict(prefix).into()
    }

    /// The root directory (absolute) the dictionary was built on.
    pub fn dir(&self) -> &std::path::Path {
        self.async_dict.dir()
    }

    /// The store under the dictionary.
    pub fn file_store(&self) -> &crate::file::store::FileStore {
        self.async_dict.file_store()
    }
}

/// Configures and builds a blocking [`FileDict`]: the setters of
/// [`crate::FileDictBuilder`], and a [`build`](FileDictBuilder::build) that blocks.
#[must_use]
#[derive(Debug, Clone)]
pub struct FileDictBuilder(crate::FileDictBuilder);

impl From<crate::FileDictBuilder> for FileDictBuilder {
    fn from(b: crate::FileDictBuilder) -> Self {
        FileDictBuilder(b)
    }
}

impl FileDictBuilder {
    forward_setters! { "FileDictBuilder";
        fn codec(codec: Codec);
        fn digest_len(digest_len: usize);
        fn append_only(on: bool);
        fn max_value_size(bytes: u64);
        fn lock_timeout(timeout: std::time::Duration);
    }

    /// Builds the dictionary, creating the directory (and its parents) if missing; see
    /// [`FileDictBuilder::build`](crate::FileDictBuilder::build).
    ///
    /// # Errors
    /// As the async one.
    ///
    /// # Panics
    /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
    #[track_caller]
    pub fn build<V: Value>(self) -> Result<FileDict<V>> {
        run("FileDictBuilder::build", self.0.build()).map(FileDict::from)
    }
}

#[cfg(feature = "s3")]
pub use self::s3::{S3Dict, S3DictBuilder};

#[cfg(feature = "s3")]
mod s3 {
    use aws_sdk_s3::config::retry::RetryConfig;
    use aws_sdk_s3::config::timeout::TimeoutConfig;

    use super::super::{run, PersiDict};
    use crate::codec::Codec;
    use crate::dict::Value;
    use crate::error::Result;
    use crate::key::Key;
    use crate::s3::{ProbeReport, RequestStats, S3Store};
    use crate::store::Capabilities;

    /// The blocking twin of [`crate::S3Dict`]: a dictionary on Amazon S3 or an
    /// S3-compatible store. Every blocking [`PersiDict`] method is available through
    /// `Deref`; this type adds the request counters ([`stats`](S3Dict::stats)), the
    /// client and the probe report.
    ///
    /// ```no_run
    /// use persidict::blocking::S3Dict;
    /// use persidict::Key;
    ///
    /// let d: S3Dict<String> = S3Dict::builder("my-bucket")
    ///     .root_prefix("app/cache")
    ///     .endpoint_url("http://127.0.0.1:8333")
    ///     .build()?;
    /// d.put(&Key::try_from("greeting")?, "hello".into())?;
    /// println!("{}", d.stats().snapshot());
    /// # Ok::<(), persidict::Error>(())
    /// ```
    pub struct S3Dict<V> {
        async_dict: crate::S3Dict<V>,
        dict: PersiDict<V>,
    }

    blocking_newtype!(S3Dict, crate::S3Dict<V>);

    impl S3Dict<()> {
        /// Starts configuring a dictionary on `bucket`; see
        /// [`S3Dict::builder`](crate::S3Dict::builder).
        pub fn builder(bucket: impl Into<String>) -> S3DictBuilder {
            S3DictBuilder::new(bucket)
        }
    }

    impl<V: Value> S3Dict<V> {
        /// The request and byte counters of this dictionary's client; see
        /// [`S3Dict::stats`](crate::S3Dict::stats).
        pub fn stats(&self) -> &RequestStats {
            self.async_dict.stats()
        }

        /// The bucket.
        pub fn bucket(&self) -> &str {
            self.async_dict.bucket()
        }

        /// The underlying S3 client.
        pub fn client(&self) -> &aws_sdk_s3::Client {
            self.async_dict.client()
        }

        /// The store under the dictionary.
        pub fn s3_store(&self) -> &S3Store {
            self.async_dict.s3_store()
        }

        /// A subdictionary as an `S3Dict`, sharing the client.
        pub fn subdict(&self, prefix: &Key) -> S3Dict<V> {
            self.async_dict.subdict(prefix).into()
        }

        /// The S3 object key of `key` (root prefix and subdictionary prefix included);
        /// see [`S3Dict::object_name`](crate::S3Dict::object_name).
        pub fn object_name(&self, key: &Key) -> Result<String> {
            self.async_dict.object_name(key)
        }

        /// [`S3Dict::probe_report`](crate::S3Dict::probe_report), blocking.
        ///
        /// # Panics
        /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
        #[track_caller]
        pub fn probe_report(&self) -> Result<ProbeReport> {
            run("S3Dict::probe_report", self.async_dict.probe_report())
        }

        /// [`S3Dict::presign`](crate::S3Dict::presign), blocking.
        ///
        /// # Panics
        /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
        #[track_caller]
        pub fn presign(
            &self,
            key: &Key,
            what: crate::s3::Presign,
            expires_in: std::time::Duration,
        ) -> Result<crate::s3::PresignedRequest> {
            run(
                "S3Dict::presign",
                self.async_dict.presign(key, what, expires_in),
            )
        }
    }

    /// Configures and builds a blocking [`S3Dict`]: the settings of
    /// [`crate::S3DictBuilder`] (from code or from an `s3://` URL), and a
    /// [`build`](S3DictBuilder::build) that blocks.
    #[must_use]
    pub struct S3DictBuilder(crate::S3DictBuilder);

    impl std::fmt::Debug for S3DictBuilder {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_tuple("blocking::S3DictBuilder")
                .field(&self.0)
                .finish()
        }
    }

    impl From<crate::S3DictBuilder> for S3DictBuilder {
        fn from(b: crate::S3DictBuilder) -> Self {
            S3DictBuilder(b)
        }
    }

    impl S3DictBuilder {
        /// A builder for `bucket`; see [`S3DictBuilder::new`](crate::S3DictBuilder::new).
        pub fn new(bucket: impl Into<String>) -> Self {
            S3DictBuilder(crate::S3DictBuilder::new(bucket))
        }

        /// A builder from an `s3://bucket/prefix?…` URL; see
        /// [`S3DictBuilder::from_url`](crate::S3DictBuilder::from_url) for the parameters.
        ///
        /// # Errors
        /// [`Error::Config`](crate::Error::Config) naming what is wrong with the URL.
        pub fn from_url(url: &str) -> Result<Self> {
            crate::S3DictBuilder::from_url(url).map(S3DictBuilder)
        }

        forward_setters! { "S3DictBuilder";
            fn root_prefix(prefix: impl Into<String>);
            fn region(region: impl Into<String>);
            fn endpoint_url(url: impl Into<String>);
            fn force_path_style(on: bool);
            fn checksums_when_required(on: bool);
            fn retry_config(retry: RetryConfig);
            fn timeout_config(timeout: TimeoutConfig);
            fn connect_timeout(timeout: std::time::Duration);
            fn attempt_timeout(timeout: std::time::Duration);
            fn codec(codec: Codec);
            fn digest_len(digest_len: usize);
            fn append_only(on: bool);
            fn capabilities(capabilities: Capabilities);
            fn allow_racy_fallback(on: bool);
            fn create_bucket(on: bool);
            fn client(client: aws_sdk_s3::Client);
            fn sdk_config(config: aws_config::SdkConfig);
            fn max_value_size(bytes: u64);
            fn concurrency(requests: usize);
            fn object_settings(settings: crate::s3::ObjectSettings);
        }

        /// Builds the dictionary on the shared runtime; see
        /// [`S3DictBuilder::build`](crate::S3DictBuilder::build).
        ///
        /// # Errors
        /// As the async one.
        ///
        /// # Panics
        /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
        #[track_caller]
        pub fn build<V: Value>(self) -> Result<S3Dict<V>> {
            run("S3DictBuilder::build", self.0.build()).map(S3Dict::from)
        }
    }
}

/// A blocking dictionary opened from a URL, keeping its concrete type: the twin of
/// [`crate::Opened`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Opened<V> {
    /// `mem://`.
    Memory(MemDict<V>),
    /// `file://`.
    File(FileDict<V>),
    /// `s3://`.
    #[cfg(feature = "s3")]
    S3(S3Dict<V>),
}

impl<V> From<crate::Opened<V>> for Opened<V> {
    fn from(opened: crate::Opened<V>) -> Self {
        match opened {
            crate::Opened::Memory(d) => Opened::Memory(d.into()),
            crate::Opened::File(d) => Opened::File(d.into()),
            #[cfg(feature = "s3")]
            crate::Opened::S3(d) => Opened::S3(d.into()),
        }
    }
}

impl<V: Value> Opened<V> {
    /// Opens the dictionary a URL names; see [`crate::open()`] for the schemes and
    /// parameters.
    ///
    /// # Errors
    /// As [`crate::open()`].
    ///
    /// # Panics
    /// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
    #[track_caller]
    pub fn open(url: &str) -> Result<Opened<V>> {
        run("Opened::open", crate::Opened::open(url)).map(Opened::from)
    }

    /// The dictionary as a plain blocking [`PersiDict`].
    pub fn into_dict(self) -> PersiDict<V> {
        match self {
            Opened::Memory(d) => d.into(),
            Opened::File(d) => d.into(),
            #[cfg(feature = "s3")]
            Opened::S3(d) => d.into(),
        }
    }

    /// The dictionary as a plain blocking [`PersiDict`], borrowed.
    pub fn as_dict(&self) -> &PersiDict<V> {
        match self {
            Opened::Memory(d) => d,
            Opened::File(d) => d,
            #[cfg(feature = "s3")]
            Opened::S3(d) => d,
        }
    }
}

/// Opens the dictionary a URL names (`s3://…`, `file://…`, `mem://`), as a plain blocking
/// [`PersiDict`]: the twin of [`crate::open()`], with the same schemes and parameters.
///
/// ```
/// use persidict::{Codec, Key};
/// let d = persidict::blocking::open::<String>("mem://?codec=json")?;
/// d.put(&Key::try_from("k")?, "v".into())?;
/// assert_eq!(d.info().codec, Codec::Json);
/// assert!(persidict::blocking::open::<String>("ftp://x").is_err());
/// # Ok::<(), persidict::Error>(())
/// ```
///
/// # Errors
/// As [`crate::open()`].
///
/// # Panics
/// On a thread inside a tokio runtime (see the [module docs](crate::blocking)).
#[track_caller]
pub fn open<V: Value>(url: &str) -> Result<PersiDict<V>> {
    Opened::open(url).map(Opened::into_dict)
}
