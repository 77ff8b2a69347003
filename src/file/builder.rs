//! [`FileDictBuilder`]: the configuration of a [`FileDict`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::disk::{CaseBehaviour, DEFAULT_LOCK_TIMEOUT};
use super::store::{FileStore, FileStoreOptions};
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
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
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
    lock_timeout: Duration,
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
    ///
    /// With 0, keys that differ only in case (`Report` and `report`) would share one file on
    /// a case-insensitive file system (the default on macOS and Windows), so
    /// [`build`](Self::build) probes the directory and refuses 0 there with
    /// [`Error::Config`]; signed names are safe, since the signature of each part differs.
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

    /// How long an operation waits for a file lock that another thread or process holds
    /// before it fails with [`Error::LockTimeout`] (default 30 s). A lock is held only for
    /// the duration of one write or delete (and the OS releases the locks of a process that
    /// dies), so the wait runs out only behind a writer stuck in a hung file system or a
    /// very long queue of writers on keys of one lock stripe.
    pub fn lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// Builds the dictionary, creating the directory (and its parents) if missing, finding
    /// the lock root and removing the temporary files of writers that died (see the
    /// [module documentation](super)). With `digest_len(0)` it probes whether the file
    /// system is case-sensitive, with a temporary file it removes again.
    ///
    /// # Errors
    /// [`Error::Config`] for a `digest_len` over 52, for `digest_len(0)` on a
    /// case-insensitive file system, or a path that is not a directory; [`Error::Io`] or
    /// [`Error::PermissionDenied`] when the directory cannot be created.
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
        let store = FileStore::open_with(
            self.dir,
            FileStoreOptions::default().with_lock_timeout(self.lock_timeout),
        )
        .await?;
        if self.digest_len == 0 {
            check_case_rule(store.case_behaviour().await?, self.digest_len, store.dir())?;
        }
        let dict = PersiDict::with_options(Arc::new(store.clone()), options)?;
        Ok(FileDict { store, dict })
    }
}

/// Refuses unsigned names (`digest_len == 0`) on a file system found case-insensitive,
/// where two keys differing only in case would share a file. A probe that could not be made
/// (a read-only directory) is let through with a warning logged by the probe: such a
/// dictionary cannot write, and refusing it would lock out readers of a valid directory.
fn check_case_rule(case: CaseBehaviour, digest_len: usize, dir: &Path) -> Result<()> {
    if digest_len == 0 && case == CaseBehaviour::Insensitive {
        return Err(Error::Config(format!(
            "digest_len 0 (unsigned names) is refused on {}: its file system is \
             case-insensitive, so keys that differ only in case would share one file; use \
             signed names (digest_len 1 or more, default 4) or a case-sensitive file system",
            dir.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_case_rule_refuses_unsigned_names_on_a_case_insensitive_file_system() {
        let dir = Path::new("/data/dict");
        let refused = check_case_rule(CaseBehaviour::Insensitive, 0, dir);
        match refused {
            Err(Error::Config(message)) => {
                assert!(message.contains("/data/dict"), "{message}");
                assert!(message.contains("case-insensitive"), "{message}");
                assert!(message.contains("digest_len 0"), "{message}");
            }
            other => panic!("expected Error::Config, got {other:?}"),
        }
        // Signed names are safe there; unsigned ones are fine where case matters, and where
        // the probe could not be made.
        assert!(check_case_rule(CaseBehaviour::Insensitive, 4, dir).is_ok());
        assert!(check_case_rule(CaseBehaviour::Insensitive, 1, dir).is_ok());
        assert!(check_case_rule(CaseBehaviour::Sensitive, 0, dir).is_ok());
        assert!(check_case_rule(CaseBehaviour::Unknown, 0, dir).is_ok());
    }
}
