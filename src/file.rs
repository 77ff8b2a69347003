//! [`FileDict`]: the dictionary in a local directory, the crate's embedded default.
//!
//! # Layout
//! One file per key, under the same object names as [`S3Dict`](crate::S3Dict) with an empty
//! root prefix: `<dir>/<signed part 1>/.../<signed part n>.<codec extension>`. A directory
//! written by a `FileDict` can be copied into a bucket (or the other way round) and read by
//! the other backend. Files and directories the dictionary did not name — other extensions,
//! signatures that do not verify, temporary files, the lock directory, anything else a user
//! put there — are skipped by listings, never an error; reading a key whose file is corrupt
//! gives [`Error::Decode`](crate::Error::Decode).
//!
//! # Atomicity
//! Every mutation (`put`, `discard`, and every conditional operation) runs under an
//! exclusive OS file lock ([`File::lock`](std::fs::File::lock): `flock` on Unix,
//! `LockFileEx` on Windows) on one of 64 *lock stripe* files
//! `<dir>/.persidict#locks/NN.lock`, chosen by hashing the object name. The lock serialises mutations of one key across threads, tasks and OS processes,
//! so a conditional write reads the current file, checks the condition and writes or
//! deletes without a window for another writer; plain writes take the same lock so that
//! they cannot slip into a conditional write's window. The OS releases the locks of a
//! process that dies, so no stale lock survives a crash. Reads take no lock: files are
//! replaced whole (see below), so a reader sees the old or the new content, never a mix.
//! Every process must open the same root directory (not a subdirectory of it), since the
//! lock stripes live at the root. Locks are advisory and local: use a local file system,
//! not a network share whose locks are unreliable.
//!
//! # Writes
//! A value is written to a temporary file `.persidict#<random>.tmp` in the target's
//! directory (a name no listing picks up), flushed with `fsync`, renamed over the target,
//! and the directory is `fsync`ed, so that after `put` returns the value survives a power
//! loss and no partial file is ever visible under a key's name. Deletes unlink the file,
//! `fsync` the directory and remove directories they leave empty; a writer that finds its
//! directory removed meanwhile recreates it and tries again. A process killed during a write
//! can leave a temporary file behind; it is ignored (and keeps its directory from being
//! removed).
//!
//! # ETags
//! An ETag is the quoted lowercase hex SHA-256 of the file's bytes (as S3 uses MD5): exact,
//! strong, and different whenever the content differs; writing the same bytes again gives
//! the same ETag, exactly as on S3. Metadata such as modification time and inode would be
//! cheaper but is not safe (coarse timestamps, inode reuse). The cost: every operation that
//! reports an ETag reads and hashes the whole file — `head`, `contains`, `etag`,
//! `timestamp` and conditional operations included. Listings ([`PersiDict::list`](crate::PersiDict::list)) report
//! `etag: None` rather than read every file; size and modification time come from the file
//! system.
//!
//! # Cost per operation
//!
//! | operation | file-system work |
//! |---|---|
//! | `get`, `get_if`, `head`, `contains`, `etag`, `timestamp` | open + read and hash the file (no lock) |
//! | `put` | lock + temporary file, `fsync`, rename, directory `fsync` (append-only: + a `stat`) |
//! | `discard`, `delete` | lock + unlink + directory `fsync` |
//! | `put_if`, `setdefault_if`, `discard_if` | lock + read and hash + the write or unlink, if any |
//! | `keys`, `len`, `list` | one directory listing per directory + a `stat` per file |
//! | `values`, `items` | the listing + one read per entry, 32 at a time |
//!
//! A `FileDict` is the typed [`PersiDict`] over a [`FileStore`], the byte-level store
//! that does all of the above; a `FileStore` used directly sees the same objects under
//! the same locks.
//!
//! Blocking file IO runs on tokio's blocking thread pool
//! ([`spawn_blocking`](tokio::task::spawn_blocking)); an operation whose future is dropped
//! still completes (or not) as a whole, since the blocking part cannot be interrupted.

mod builder;
mod disk;
pub mod store;

use std::path::Path;

pub use self::builder::FileDictBuilder;
use self::store::FileStore;
pub use crate::dict::DEFAULT_MAX_VALUE_SIZE;
use crate::dict::{PersiDict, Value};
use crate::key::Key;

/// A dictionary whose entries are files in a local directory: a [`PersiDict`] over a
/// [`FileStore`]. Every [`PersiDict`] method is available through `Deref`.
///
/// Build one with [`FileDict::builder`]. Clones and subdictionaries share the directory.
/// Every conditional operation is atomic across threads and OS processes working on the
/// same root directory (see the [module documentation](self) for the locking, the ETags
/// and what each operation costs).
///
/// ```
/// # tokio_test::block_on(async {
/// use persidict::prelude::*;
///
/// let dir = std::env::temp_dir().join(format!("persidict-doc-{}", std::process::id()));
/// let d: FileDict<u64> = FileDict::builder(&dir).build().await?;
/// let k = Key::new(["counters", "visits"])?;
/// d.put(&k, 1).await?;
/// let t = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await?;
/// assert_eq!(t.value, Some(2));
/// d.clear().await?;
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), persidict::Error>(()) }).unwrap();
/// ```
pub struct FileDict<V> {
    store: FileStore,
    dict: PersiDict<V>,
}

impl<V> Clone for FileDict<V> {
    fn clone(&self) -> Self {
        FileDict {
            store: self.store.clone(),
            dict: self.dict.clone(),
        }
    }
}

impl<V> std::fmt::Debug for FileDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDict")
            .field("dir", &self.store.dir())
            .field("dict", &self.dict)
            .finish()
    }
}

impl<V: Value> FileDict<V> {
    /// A subdictionary as a `FileDict`, sharing the directory.
    pub fn subdict(&self, prefix: &Key) -> FileDict<V> {
        FileDict {
            store: self.store.clone(),
            dict: self.dict.subdict(prefix),
        }
    }

    /// The root directory (absolute) the dictionary was built on; a subdictionary reports
    /// its parent's root.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The store under the dictionary.
    pub fn file_store(&self) -> &FileStore {
        &self.store
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FileDict<u64>>();
};

crate::dict::typed_newtype!(FileDict<V>);
