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
//! exclusive OS file lock ([`File::try_lock`](std::fs::File::try_lock): `flock` on Unix,
//! `LockFileEx` on Windows) on one of 64 *lock stripe* files
//! `<lock root>/.persidict#locks/NN.lock`, chosen by hashing the object name. The lock
//! serialises mutations of one key across threads, tasks and OS processes, so a conditional
//! write reads the current file, checks the condition and writes or deletes without a
//! window for another writer; plain writes take the same lock so that they cannot slip into
//! a conditional write's window. The OS releases the locks of a process that dies, so no
//! stale lock survives a crash. Reads take no lock: files are replaced whole (see below), so
//! a reader sees the old or the new content, never a mix. Locks are advisory and local: use
//! a local file system, not a network share whose locks are unreliable (nor one directory
//! shared by several machines).
//!
//! **Bounded waits.** A held lock is tried again with a jittered, growing pause (up to
//! 20 ms) for at most the builder's [`lock_timeout`](FileDictBuilder::lock_timeout)
//! (default 30 s, counted once per operation over all the locks it takes), then the
//! operation fails with [`Error::LockTimeout`](crate::Error::LockTimeout) naming the lock
//! file, and nothing is written. No thread blocks forever behind a hung writer.
//!
//! **Nested directories.** The lock directory is made when a dictionary is opened. A
//! dictionary opened on a *subdirectory* of another dictionary's directory shares that
//! dictionary's locks: opening walks up from the directory to the nearest ancestor that has
//! a `.persidict#locks` directory (the *lock root*, [`FileStore::lock_root`]) and locks the
//! name prefixed with the path from there, the same stripe the enclosing dictionary takes
//! for the same file. In the other order — an enclosing dictionary opened after one on its
//! subdirectory made its own lock directory — every write or delete also takes the stripe
//! of each lock directory it finds in the directories between the lock root and the file
//! (one `stat` per directory level of the name), outermost first, so the two still exclude
//! each other and cannot deadlock. Both are found through the file system, so they hold for
//! dictionaries in other processes too; a lock directory created *after* a dictionary was
//! opened on a subdirectory of it is seen only by dictionaries opened later.
//!
//! # Writes
//! A value is written to a temporary file `.persidict#<pid>-<random>.tmp` in
//! `<lock root>/.persidict#locks/tmp/`, recorded with its ETag (below), flushed with
//! `fsync`, renamed over the target, and the target's directory is `fsync`ed, so that after
//! `put` returns the value survives a power loss and no partial file is ever visible under a
//! key's name. (Where the target is on another file system than the lock directory, a mount
//! point inside the dictionary, the temporary file is made beside the target instead.)
//! Deletes unlink the file, `fsync` the directory and remove directories they leave empty; a
//! writer that finds its directory removed meanwhile recreates it and tries again.
//!
//! **Crashes.** A writer holds an exclusive lock on its temporary file from its creation to
//! the rename. A writer killed in the middle of a write leaves the file behind, but the OS
//! releases its lock; opening a dictionary (building a `FileDict`, or
//! [`FileStore::open`]) removes every temporary file in the lock directory's `tmp/` whose
//! lock it can take, and none whose lock is held, so a live writer's file is never removed,
//! whatever its age and whichever process (or thread of the same process) it belongs to.
//! PIDs play no part (the PID in the name is for people), so PID reuse cannot fool it. The
//! limits are those of the locks: on a network file system whose locks do not reach other
//! machines, a writer on another machine looks dead, so such directories must not be shared
//! between machines. Temporary files made beside their target (the mount-point case above),
//! or by versions before this layout, are not removed, only skipped by listings.
//!
//! # ETags
//! An ETag is the quoted lowercase hex SHA-256 of the file's bytes (as S3 uses MD5): exact,
//! strong, and different whenever the content differs; writing the same bytes again gives
//! the same ETag, exactly as on S3.
//!
//! **The ETag record.** So that `head`, `contains`, `etag`, `timestamp` and the ETag check of
//! a conditional write need not read the file, every write records the ETag in the file's
//! extended attribute `user.persidict.etag` (Linux), together with the file's size,
//! modification time (to the nanosecond) and inode at the time of recording:
//! `v1 <size> <mtime s> <mtime ns> <inode> <etag>`. A record is used only when all three still
//! match the open file; a file replaced by someone else is another inode (even if it carries
//! a copied record and the same size and time), and a file edited in place gets a new
//! modification time. Otherwise (no record, a stale or foreign one, a file system without
//! user extended attributes such as some `tmpfs` and network mounts, or another OS) the file
//! is read and hashed as before, and `head` then makes the record, if the file did not
//! change while it was hashed and may be changed by us (best effort). The limit: an edit in
//! place that keeps the size and lands within the file system's timestamp granularity of the
//! recorded write (a few milliseconds on kernels with coarse timestamps), or a tool that
//! edits a file and sets its modification time back, is not seen; such edits are not a
//! dictionary's own, whose writes always replace the inode. Listings
//! ([`PersiDict::list`](crate::PersiDict::list)) report `etag: None` rather than open every
//! file; size and modification time come from the file system.
//!
//! **Case.** With unsigned names (`digest_len = 0`), keys that differ only in case would share
//! one file on a case-insensitive file system, so building such a dictionary probes the
//! directory (a temporary file created under one case, looked up under the other and
//! removed) and refuses `digest_len = 0` there with [`Error::Config`](crate::Error::Config);
//! signed names are safe, as the signature of each part differs. A probe that cannot be made
//! (a read-only directory) lets the build through with a logged warning.
//!
//! # Cost per operation
//!
//! | operation | file-system work |
//! |---|---|
//! | `get`, `get_if` | open + read and hash the file (no lock); `get_if(Retrieve::IfChanged)` of an unchanged file: open + `fstat` + the ETag record |
//! | `head`, `contains`, `etag`, `timestamp`, `get_if(Retrieve::Never)` | open + `fstat` + read the ETag record; without a valid record, read and hash |
//! | `put` | lock + temporary file, ETag record, `fsync`, rename, directory `fsync` (append-only: + a `stat`) |
//! | `discard`, `delete` | lock + unlink + directory `fsync` |
//! | `put_if`, `setdefault_if`, `discard_if` | lock + the ETag as `head` finds it + the write or unlink, if any |
//! | `keys`, `len`, `list` | one directory listing per directory + a `stat` per file |
//! | `values`, `items` | the listing + one read per entry, 32 at a time |
//! | opening | `canonicalize` + a `stat` per ancestor directory + the lock directory + a listing of its `tmp/` (+ the case probe for `digest_len = 0`) |
//!
//! Measured with `cargo run --release --no-default-features --example file_contains_cost`:
//! `contains` on a 64 MiB value takes about 45 µs with the record and about 53 ms without it
//! (reading and hashing from the page cache).
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
