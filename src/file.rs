//! [`FileDict`]: the dictionary in a local directory, the crate's embedded default.
//!
//! # Layout
//! One file per key, under the same object names as [`S3Dict`](crate::S3Dict) with an empty
//! root prefix: `<dir>/<signed part 1>/.../<signed part n>.<codec extension>`. A directory
//! written by a `FileDict` can be copied into a bucket (or the other way round) and read by
//! the other backend. Files and directories the dictionary did not name — other extensions,
//! signatures that do not verify, temporary files, the lock directory, anything else a user
//! put there — are skipped by listings, never an error; reading a key whose file is corrupt
//! gives [`Error::Decode`].
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
//! `timestamp` and conditional operations included. Listings ([`PersiDict::list`]) report
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
//! The byte-level [`FileStore`](store::FileStore) keeps objects in the same layout, under
//! the same locks, with the same writes and ETags, so a `FileDict` and a `FileStore` on one
//! directory see each other's objects and exclude each other's mutations.
//!
//! Blocking file IO runs on tokio's blocking thread pool
//! ([`spawn_blocking`](tokio::task::spawn_blocking)); an operation whose future is dropped
//! still completes (or not) as a whole, since the blocking part cannot be interrupted.

mod builder;
mod disk;
pub mod store;

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use self::disk::{etag_of_bytes, Contents, Disk, Level, Snapshot};
use crate::codec::Codec;
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::{Capabilities, DictInfo, EntryMeta, PersiDict, Value};
use crate::error::{Error, Result};
use crate::key::{unsign_part, Key, Naming};

pub use self::builder::FileDictBuilder;
pub use crate::dict::DEFAULT_MAX_VALUE_SIZE;

/// State shared by a dictionary, its clones and its subdictionaries.
#[derive(Debug)]
struct Shared {
    /// The root directory and the file operations under it.
    disk: Disk,
    max_value_size: u64,
}

/// What a locked update does once it has seen the current state.
enum Action {
    Keep,
    Store(Vec<u8>),
    Remove,
}

impl Shared {
    /// Reads and hashes the file of `key`, keeping its bytes if `keep`. `None` when absent.
    /// The size limit applies only to kept bytes: hashing streams through the file, so
    /// `head` and ETag-only observations work on files of any size.
    fn read(&self, rel: &str, key: &Key, keep: bool) -> Result<Option<Snapshot>> {
        let limit = if keep { self.max_value_size } else { u64::MAX };
        match self.disk.read(rel, limit, keep)? {
            Contents::Absent => Ok(None),
            Contents::TooLarge(size) => Err(Error::ValueTooLarge {
                key: key.clone(),
                size,
                max: self.max_value_size,
            }),
            Contents::Found(snapshot) => Ok(Some(snapshot)),
        }
    }

    /// Runs one mutation of `rel` under its lock: reads the current state (keeping the bytes
    /// if `keep`), lets `decide` choose, and applies the choice. Returns the state found and
    /// the ETag afterwards.
    fn update(
        &self,
        rel: &str,
        key: &Key,
        keep: bool,
        decide: impl FnOnce(Option<&Snapshot>) -> Result<Action>,
    ) -> Result<(Option<Snapshot>, Option<ETag>)> {
        let _lock = self.disk.lock(rel)?;
        let before = self.read(rel, key, keep)?;
        let after = match decide(before.as_ref())? {
            Action::Keep => before.as_ref().map(|s| s.etag.clone()),
            Action::Store(bytes) => {
                self.disk.write(rel, &bytes)?;
                Some(etag_of_bytes(&bytes))
            }
            Action::Remove => {
                self.disk.remove(rel)?;
                None
            }
        };
        Ok((before, after))
    }
}

/// A dictionary whose entries are files in a local directory.
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
    shared: Arc<Shared>,
    naming: Arc<Naming>,
    prefix: Vec<String>,
    codec: Codec,
    append_only: bool,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for FileDict<V> {
    fn clone(&self) -> Self {
        FileDict {
            shared: Arc::clone(&self.shared),
            naming: Arc::clone(&self.naming),
            prefix: self.prefix.clone(),
            codec: self.codec,
            append_only: self.append_only,
            _values: PhantomData,
        }
    }
}

impl<V> std::fmt::Debug for FileDict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileDict")
            .field("dir", &self.shared.disk.root())
            .field("prefix", &self.prefix)
            .field("codec", &self.codec)
            .field("digest_len", &self.naming.digest_len())
            .field("append_only", &self.append_only)
            .finish_non_exhaustive()
    }
}

impl<V: Value> FileDict<V> {
    /// A subdictionary as a `FileDict`, sharing the directory.
    pub fn subdict(&self, prefix: &Key) -> FileDict<V> {
        let mut d = self.clone();
        d.prefix.extend_from_slice(prefix.parts());
        d
    }

    /// The root directory (absolute) the dictionary was built on; a subdictionary reports
    /// its parent's root.
    pub fn dir(&self) -> &Path {
        self.shared.disk.root()
    }

    /// The file name of `key`, relative to the root directory, `/`-separated.
    fn object_name(&self, key: &Key) -> Result<String> {
        Ok(self.naming.object_name(&key.prefixed(&self.prefix))?)
    }

    fn encode(&self, key: &Key, value: &V) -> Result<Vec<u8>> {
        self.codec
            .encode_within(key, value, self.shared.max_value_size)
    }

    /// The value slot after writing `bytes` ourselves (decoded before anything is written,
    /// so that a value that does not round-trip stores nothing).
    fn written_slot(&self, key: &Key, bytes: &[u8], retrieve: Retrieve) -> Result<Slot<V>> {
        self.codec.written_slot(key, bytes, retrieve)
    }

    /// The value slot of an entry that the operation left as it was.
    fn report(
        &self,
        key: &Key,
        found: Option<Snapshot>,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Slot<V>> {
        Ok(match found {
            None => Slot::Absent,
            Some(s) if retrieve.wants_value(expected, Some(&s.etag)) => match s.bytes {
                Some(bytes) => Slot::Present(self.codec.decode_owned_for(key, bytes)?),
                None => Slot::NotRetrieved,
            },
            Some(_) => Slot::NotRetrieved,
        })
    }

    /// Runs `f` on the blocking thread pool; a panic there becomes an error.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Shared) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let shared = Arc::clone(&self.shared);
        disk::blocking(self.shared.disk.location(), operation, move || f(&shared)).await
    }

    /// Runs [`Shared::update`] on the blocking pool.
    async fn update(
        &self,
        operation: &'static str,
        key: &Key,
        keep: bool,
        decide: impl FnOnce(Option<&Snapshot>) -> Result<Action> + Send + 'static,
    ) -> Result<(Option<Snapshot>, Option<ETag>)> {
        let rel = self.object_name(key)?;
        let key = key.clone();
        self.blocking(operation, move |s| s.update(&rel, &key, keep, decide))
            .await
    }

    /// The names of the subdirectories of `rel` (a directory prefix ending in `/` or
    /// empty) that hold at least one entry of this dictionary, unsigned.
    fn subdirs_with_entries(shared: &Shared, naming: &Naming, rel: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let subdirs = read_level(shared, naming, rel, false)?.dirs;
        for (part, sub) in subdirs {
            // A depth-first search that stops at the first entry.
            let mut pending = vec![sub];
            while let Some(dir) = pending.pop() {
                let level = read_level(shared, naming, &dir, true)?;
                if !level.files.is_empty() {
                    names.push(part);
                    break;
                }
                pending.extend(level.dirs.into_iter().map(|(_, d)| d));
            }
        }
        names.sort();
        Ok(names)
    }
}

/// One directory of a listing: the files whose names parse as keys (with their metadata,
/// when `files` is true) and the subdirectories whose names are signed parts, as
/// `(part, relative prefix ending in /)`. A directory that vanished is empty.
fn read_level(
    shared: &Shared,
    naming: &Naming,
    rel: &str,
    files: bool,
) -> Result<Level<Key, (String, String)>> {
    shared.disk.read_level(
        rel,
        |name| {
            if files {
                naming.parse_object_name(&format!("{rel}{name}"))
            } else {
                None
            }
        },
        |name| unsign_part(name, naming.digest_len()).map(|part| (part, format!("{rel}{name}/"))),
    )
}

#[async_trait]
impl<V: Value> PersiDict<V> for FileDict<V> {
    fn info(&self) -> DictInfo {
        let dir = self.naming.dir_prefix(&self.prefix);
        let mut location = self.shared.disk.location().to_owned();
        if !dir.is_empty() {
            location.push('/');
            location.push_str(dir.trim_end_matches('/'));
        }
        DictInfo {
            backend: "file",
            location,
            codec: self.codec,
            append_only: self.append_only,
        }
    }

    /// Everything is enforced, through file locks.
    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }

    async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let rel = self.object_name(key)?;
        let k = key.clone();
        let keep = retrieve != Retrieve::Never;
        let found = self
            .blocking("get", move |s| s.read(&rel, &k, keep))
            .await?;
        let actual = found.as_ref().map(|s| s.etag.clone());
        let satisfied = condition.holds(expected, actual.as_ref());
        let value = self.report(key, found, expected, retrieve)?;
        Ok(Outcome::unchanged(satisfied, actual, value))
    }

    async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        if self.append_only && matches!(write, Write::DeleteCurrent) {
            return Err(Error::append_only(key, "delete"));
        }
        let (bytes, written) = match &write {
            Write::Value(v) => {
                let bytes = self.encode(key, v)?;
                let slot = self.written_slot(key, &bytes, retrieve)?;
                (Some(bytes), Some(slot))
            }
            _ => (None, None),
        };
        let remove = matches!(write, Write::DeleteCurrent);
        let expected_owned = expected.cloned();
        let append_only = self.append_only;
        let k = key.clone();
        let (found, after) = self
            .update("put_if", key, retrieve != Retrieve::Never, move |found| {
                if !condition.holds(expected_owned.as_ref(), found.map(|s| &s.etag)) {
                    return Ok(Action::Keep);
                }
                Ok(match bytes {
                    Some(_) if append_only && found.is_some() => {
                        return Err(Error::append_only(&k, "overwrite"))
                    }
                    Some(bytes) => Action::Store(bytes),
                    None if remove => Action::Remove,
                    None => Action::Keep,
                })
            })
            .await?;
        let actual = found.as_ref().map(|s| s.etag.clone());
        if !condition.holds(expected, actual.as_ref()) {
            let value = self.report(key, found, expected, retrieve)?;
            return Ok(Outcome::unchanged(false, actual, value));
        }
        Ok(match written {
            Some(value) => Outcome {
                satisfied: true,
                actual_etag: actual,
                resulting_etag: after,
                value,
            },
            None if remove => Outcome {
                satisfied: true,
                actual_etag: actual,
                resulting_etag: None,
                value: Slot::Absent,
            },
            None => {
                let value = self.report(key, found, expected, retrieve)?;
                Outcome::unchanged(true, actual, value)
            }
        })
    }

    async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let bytes = self.encode(key, &default)?;
        let written = self.written_slot(key, &bytes, retrieve)?;
        let expected_owned = expected.cloned();
        let (found, after) = self
            .update(
                "setdefault_if",
                key,
                retrieve != Retrieve::Never,
                move |found| {
                    Ok(
                        match (found, condition.holds(expected_owned.as_ref(), None)) {
                            (None, true) => Action::Store(bytes),
                            _ => Action::Keep,
                        },
                    )
                },
            )
            .await?;
        let actual = found.as_ref().map(|s| s.etag.clone());
        let satisfied = condition.holds(expected, actual.as_ref());
        if !satisfied || found.is_some() {
            let value = self.report(key, found, expected, retrieve)?;
            return Ok(Outcome::unchanged(satisfied, actual, value));
        }
        Ok(Outcome {
            satisfied: true,
            actual_etag: None,
            resulting_etag: after,
            value: written,
        })
    }

    async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>> {
        if self.append_only {
            return Err(Error::append_only(key, "delete"));
        }
        let expected_owned = expected.cloned();
        let (found, _) = self
            .update("discard_if", key, false, move |found| {
                Ok(
                    if condition.holds(expected_owned.as_ref(), found.map(|s| &s.etag)) {
                        Action::Remove
                    } else {
                        Action::Keep
                    },
                )
            })
            .await?;
        let actual = found.as_ref().map(|s| s.etag.clone());
        if !condition.holds(expected, actual.as_ref()) {
            let value = if actual.is_some() {
                Slot::NotRetrieved
            } else {
                Slot::Absent
            };
            return Ok(Outcome::unchanged(false, actual, value));
        }
        Ok(Outcome {
            satisfied: true,
            actual_etag: actual,
            resulting_etag: None,
            value: Slot::Absent,
        })
    }

    async fn put(&self, key: &Key, value: V) -> Result<ETag> {
        let rel = self.object_name(key)?;
        let bytes = self.encode(key, &value)?;
        let append_only = self.append_only;
        let k = key.clone();
        self.blocking("put", move |s| {
            let _lock = s.disk.lock(&rel)?;
            if append_only && s.disk.exists(&rel)? {
                return Err(Error::append_only(&k, "overwrite"));
            }
            s.disk.write(&rel, &bytes)?;
            Ok(etag_of_bytes(&bytes))
        })
        .await
    }

    async fn discard(&self, key: &Key) -> Result<bool> {
        if self.append_only {
            return Err(Error::append_only(key, "delete"));
        }
        let rel = self.object_name(key)?;
        self.blocking("discard", move |s| {
            let _lock = s.disk.lock(&rel)?;
            s.disk.remove(&rel)
        })
        .await
    }

    async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        let rel = self.object_name(key)?;
        let k = key.clone();
        let found = self
            .blocking("head", move |s| s.read(&rel, &k, false))
            .await?;
        Ok(found.map(|s| EntryMeta {
            key: key.clone(),
            etag: Some(s.etag),
            size: s.size,
            last_modified: s.modified,
        }))
    }

    /// Walks the directory tree depth-first, one directory at a time (memory is bounded by
    /// the largest directory plus the pending subdirectories). Entries report `etag: None`:
    /// computing it would read every file; use [`PersiDict::etag`] or `head` for one key.
    fn list(&self) -> BoxStream<'_, Result<EntryMeta>> {
        let start = self.naming.dir_prefix(&self.prefix);
        stream::unfold(Some(vec![start]), move |pending| async move {
            let mut pending = pending?;
            while let Some(dir) = pending.pop() {
                let naming = Arc::clone(&self.naming);
                let level = self
                    .blocking("list", move |s| read_level(s, &naming, &dir, true))
                    .await;
                match level {
                    Ok(Level { files, dirs }) => {
                        // Reversed so that the walk visits subdirectories in listing order.
                        pending.extend(dirs.into_iter().rev().map(|(_, d)| d));
                        let entries: Vec<EntryMeta> = files
                            .into_iter()
                            .filter_map(|(key, meta)| {
                                Some(EntryMeta {
                                    key: key.strip_prefix(&self.prefix)?,
                                    etag: None,
                                    size: meta.len(),
                                    last_modified: meta
                                        .modified()
                                        .unwrap_or(SystemTime::UNIX_EPOCH),
                                })
                            })
                            .collect();
                        if !entries.is_empty() {
                            return Some((Ok(entries), Some(pending)));
                        }
                    }
                    Err(e) => return Some((Err(e), None)),
                }
            }
            None
        })
        .map_ok(|entries| stream::iter(entries.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    fn get_subdict(&self, prefix: &Key) -> Result<Box<dyn PersiDict<V>>> {
        Ok(Box::new(self.subdict(prefix)))
    }

    /// The names of the subdirectories that hold at least one entry (directories left
    /// without entries, for example by a crashed writer's temporary file, are not named).
    async fn subdicts(&self) -> Result<Vec<String>> {
        let start = self.naming.dir_prefix(&self.prefix);
        let naming = Arc::clone(&self.naming);
        self.blocking("subdicts", move |s| {
            Self::subdirs_with_entries(s, &naming, &start)
        })
        .await
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FileDict<u64>>();
};
