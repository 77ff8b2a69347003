//! [`FileDictBuilder`]: the configuration of a [`FileDict`].

use std::path::PathBuf;
use std::sync::Arc;

use super::store::FileStore;
use super::FileDict;
use crate::codec::Codec;
use crate::dict::{DictOptions, PersiDict, Value, DEFAULT_MAX_VALUE_SIZE};
use crate::error::{Error, Result};
use crate::key::{Naming, DEFAULT_DIGEST_LEN};

impl FileDict<()> {
    /// Starts configuring a dictionary in `dir`; the value type is chosen by
    /// [`FileDictBuilder::build`].
    pub fn builder(dir: impl Into<PathBuf>) -> FileDictBuilder {
        FileDictBuilder {
            dir: dir.into(),
            codec: Codec::default(),
            digest_len: DEFAULT_DIGEST_LEN,
            append_only: false,
            max_value_size: DEFAULT_MAX_VALUE_SIZE,
        }
    }
}

/// Configures and builds a [`FileDict`].
#[must_use]
#[derive(Debug, Clone)]
pub struct FileDictBuilder {
    dir: PathBuf,
    codec: Codec,
    digest_len: usize,
    append_only: bool,
    max_value_size: u64,
}

impl FileDictBuilder {
    /// The value codec (default: bincode). Its extension ends every file name, so
    /// dictionaries of different codecs in one directory do not see each other's entries.
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// The signature length of key parts (default 4; 0 = unsigned names, Python persidict's
    /// layout). Note that most file systems limit a file name to 255 bytes: a 200-character
    /// part with a long signature and extension can pass that and gives [`Error::Io`].
    pub fn digest_len(mut self, digest_len: usize) -> Self {
        self.digest_len = digest_len;
        self
    }

    /// Values can be inserted, never overwritten or removed (default: off).
    pub fn append_only(mut self, on: bool) -> Self {
        self.append_only = on;
        self
    }

    /// The largest value accepted or read, in bytes (default 1 GiB); writing or reading a
    /// larger value gives [`Error::ValueTooLarge`]. `head`, `etag` and conditional
    /// operations with [`Retrieve::Never`](crate::Retrieve::Never) hash the file in chunks and work at any size.
    pub fn max_value_size(mut self, bytes: u64) -> Self {
        self.max_value_size = bytes;
        self
    }

    /// Builds the dictionary, creating the directory (and its parents) if missing.
    ///
    /// # Errors
    /// [`Error::Config`] for a `digest_len` over 52 or a path that is not a directory;
    /// [`Error::Io`] or [`Error::PermissionDenied`] when the directory cannot be created.
    pub async fn build<V: Value>(self) -> Result<FileDict<V>> {
        let options = DictOptions {
            codec: self.codec,
            digest_len: self.digest_len,
            append_only: self.append_only,
            max_value_size: self.max_value_size,
            ..DictOptions::default()
        };
        // Checked before the directory is created.
        Naming::new("", self.digest_len, self.codec.extension())
            .map_err(|e| Error::Config(format!("digest_len {}: {e}", self.digest_len)))?;
        let store = FileStore::open(self.dir).await?;
        let dict = PersiDict::with_options(Arc::new(store.clone()), options)?;
        Ok(FileDict { store, dict })
    }
}
