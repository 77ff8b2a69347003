//! [`FileStore`]: an [`ObjectStore`] in a local directory.
//!
//! The layout, locking, durability and ETags are those of the [module documentation](super):
//! one file per object name under the root, every write and delete under the exclusive lock
//! of the name's stripe (waited for at most [`FileStoreOptions::with_lock_timeout`]), values
//! replaced whole through an `fsync`ed temporary file, ETags the quoted hex SHA-256 of the
//! bytes, kept in an ETag record so that `head` need not read the file. Every precondition
//! is enforced exactly, across threads, tasks and OS processes on the same root or on
//! directories nested in one another ([`Capabilities::ALL`]).
//!
//! Names are checked with [`check_name`]; in addition no `/`-separated segment may start
//! with `.persidict#`, the start of the lock directory and the temporary files, so that no
//! name can reach them. A file system cannot hold both `a` and `a/b`, which S3 can: writing
//! one while the other exists gives [`Error::Io`].
//!
//! | request | file-system work |
//! |---|---|
//! | `read` | open + read and hash the file (no lock); with `if_none_match` naming the ETag record's ETag, open + `fstat` + the record |
//! | `head` | open + `fstat` + read the ETag record; read and hash only without a valid record |
//! | `write` `Always`, `IfAbsent` | lock (+ a `stat`) + temporary file, ETag record, `fsync`, rename, directory `fsync` |
//! | `write` `IfMatch` | lock + `head` + the write above, if it holds |
//! | `delete` `Always`, `IfExists` | lock + unlink + directory `fsync` |
//! | `delete` `IfMatch` | lock + `head` + the unlink, if it holds |
//! | `list` | one directory listing per directory under the prefix + a `stat` per file |
//! | `delete_many` | one lock + unlink per name |

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::disk::{
    self, etag_of_bytes, CaseBehaviour, Contents, Disk, Snapshot, DEFAULT_LOCK_TIMEOUT,
    RESERVED_PREFIX,
};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::store::{
    check_name, Capabilities, DeleteCondition, DeleteResult, Object, ObjectMeta, ObjectStore, Read,
    ReadOptions, StoreInfo, WriteCondition, WriteResult, MAX_NAME_LEN,
};

/// Objects as files in a local directory: the byte-level store under
/// [`FileDict`](crate::FileDict).
///
/// Open one with [`FileStore::open`]; clones share the directory. See the
/// [module documentation](self) for what each request costs.
///
/// ```
/// # tokio_test::block_on(async {
/// use persidict::file::store::FileStore;
/// use persidict::store::{ObjectStore, WriteCondition, WriteResult};
///
/// let dir = std::env::temp_dir().join(format!("persidict-store-doc-{}", std::process::id()));
/// let store = FileStore::open(&dir).await?;
/// let first = store
///     .write("a/b.bin", b"hi".to_vec().into(), "application/octet-stream", WriteCondition::IfAbsent)
///     .await?;
/// assert!(matches!(first, WriteResult::Written(_)));
/// # std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), persidict::Error>(()) }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FileStore {
    disk: Arc<Disk>,
}

/// Settings of a [`FileStore`], for [`FileStore::open_with`].
///
/// ```
/// use std::time::Duration;
/// use persidict::file::store::FileStoreOptions;
///
/// let options = FileStoreOptions::default().with_lock_timeout(Duration::from_secs(5));
/// assert_eq!(options.lock_timeout(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileStoreOptions {
    lock_timeout: Duration,
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        FileStoreOptions {
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
        }
    }
}

impl FileStoreOptions {
    /// How long an operation waits for a file lock held by another writer before it fails
    /// with [`Error::LockTimeout`] (default 30 s).
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.lock_timeout = timeout;
        self
    }

    /// The lock timeout.
    pub fn lock_timeout(&self) -> Duration {
        self.lock_timeout
    }
}

impl FileStore {
    /// Opens the store in `dir` with the default [`FileStoreOptions`], creating the
    /// directory and its parents if missing. See [`FileStore::open_with`].
    ///
    /// # Errors
    /// [`Error::Config`] when the path is not a directory; [`Error::Io`] or
    /// [`Error::PermissionDenied`] when it cannot be created or resolved.
    pub async fn open(dir: impl Into<PathBuf>) -> Result<FileStore> {
        FileStore::open_with(dir, FileStoreOptions::default()).await
    }

    /// Opens the store in `dir`, creating the directory and its parents if missing. Opening
    /// finds the lock root (the directory itself, or the nearest enclosing directory with a
    /// lock directory, whose locks it then shares), makes the lock directory, and removes
    /// the temporary files of writers that died (see the [module documentation](super)).
    ///
    /// # Errors
    /// [`Error::Config`] when the path is not a directory; [`Error::Io`] or
    /// [`Error::PermissionDenied`] when it cannot be created or resolved.
    pub async fn open_with(
        dir: impl Into<PathBuf>,
        options: FileStoreOptions,
    ) -> Result<FileStore> {
        Ok(FileStore {
            disk: Arc::new(Disk::open(dir.into(), options.lock_timeout).await?),
        })
    }

    /// Whether the root's file system tells names apart by case (probed with a temporary
    /// file that is removed again).
    pub(crate) async fn case_behaviour(&self) -> Result<CaseBehaviour> {
        self.blocking("probe case", |disk| Ok(disk.case_behaviour()))
            .await
    }

    /// The directory whose lock stripes the store uses: its root, or the enclosing
    /// dictionary directory it shares locks with.
    pub fn lock_root(&self) -> &Path {
        self.disk.lock_root()
    }

    /// The root directory, absolute and canonical.
    pub fn dir(&self) -> &Path {
        self.disk.root()
    }

    /// Runs `f` on the blocking thread pool; a panic there becomes [`Error::Backend`].
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Disk) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let disk = Arc::clone(&self.disk);
        disk::blocking(self.disk.location(), operation, move || f(&disk)).await
    }
}

/// Checks `name` with [`check_name`] and refuses the names reserved for the store's own
/// files, which a write or delete would otherwise clobber.
fn check(name: &str) -> Result<()> {
    check_name(name)?;
    if name.split('/').any(|s| s.starts_with(RESERVED_PREFIX)) {
        return Err(Error::Config(format!(
            "object name {name:?} is not valid: a segment starting with {RESERVED_PREFIX:?} \
             is reserved for the file store's locks and temporary files"
        )));
    }
    Ok(())
}

/// The ETag of the file `rel` right now, from its ETag record or else by hashing it in
/// chunks; `None` when absent.
fn current_etag(disk: &Disk, rel: &str) -> Result<Option<ETag>> {
    Ok(disk.head(rel)?.map(|snapshot| snapshot.etag))
}

fn meta_of(name: String, snapshot: &Snapshot) -> ObjectMeta {
    ObjectMeta {
        name,
        etag: Some(snapshot.etag.clone()),
        size: snapshot.size,
        last_modified: snapshot.modified,
    }
}

/// The state of a listing between two directories: the names still to visit, deepest
/// last (a depth-first walk holds one directory's entries at a time).
struct Walk {
    disk: Arc<Disk>,
    prefix: Arc<str>,
    pending: Vec<String>,
}

impl Walk {
    /// Lists the next directory that holds matching files; `None` when the walk is done.
    async fn next_files(mut self) -> Option<(Result<Vec<ObjectMeta>>, Option<Walk>)> {
        while let Some(dir) = self.pending.pop() {
            let disk = Arc::clone(&self.disk);
            let prefix = Arc::clone(&self.prefix);
            let level = disk::blocking(self.disk.location(), "list", move || {
                disk.read_level(
                    &dir,
                    |name| {
                        let rel = format!("{dir}{name}");
                        rel.starts_with(&*prefix).then_some(rel)
                    },
                    // Only the start directory can hold subdirectories outside the prefix
                    // (`a/bc/` for the prefix `a/b`); below them every name matches.
                    |name| {
                        let sub = format!("{dir}{name}/");
                        (sub.starts_with(&*prefix) || prefix.starts_with(&sub)).then_some(sub)
                    },
                )
            })
            .await;
            match level {
                Ok(level) => {
                    // Reversed so that the walk visits subdirectories in listing order.
                    self.pending.extend(level.dirs.into_iter().rev());
                    if level.files.is_empty() {
                        continue;
                    }
                    let metas = level
                        .files
                        .into_iter()
                        .map(|(name, meta)| ObjectMeta {
                            name,
                            // Computing it would read every file.
                            etag: None,
                            size: meta.len(),
                            last_modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                        })
                        .collect();
                    return Some((Ok(metas), Some(self)));
                }
                Err(e) => return Some((Err(e), None)),
            }
        }
        None
    }
}

#[async_trait]
impl ObjectStore for FileStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "file",
            location: self.disk.location().to_owned(),
            append_only: false,
            max_name_len: MAX_NAME_LEN,
        }
    }

    /// Everything is enforced, through file locks.
    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }

    /// Reads and hashes the file. A file whose ETag record names the ETag in
    /// [`ReadOptions::if_none_match`] is answered [`Read::NotModified`] without reading it.
    /// Its length is checked against [`ReadOptions::max_size`] before any byte is read; a
    /// file over it that still has the ETag in [`ReadOptions::if_none_match`] is hashed
    /// without keeping its bytes and answered [`Read::NotModified`], as the answer does not
    /// depend on the limit.
    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        check(name)?;
        let name = name.to_owned();
        self.blocking("read", move |disk| {
            let limit = options.max_size.unwrap_or(u64::MAX);
            let unless = options.if_none_match.as_ref();
            let snapshot = match disk.read(&name, limit, true, unless)? {
                Contents::Absent => return Ok(Read::Absent),
                Contents::Unchanged(etag) => return Ok(Read::NotModified { etag }),
                Contents::TooLarge(size) => {
                    return Ok(match options.if_none_match {
                        Some(wanted) if current_etag(disk, &name)?.as_ref() == Some(&wanted) => {
                            Read::NotModified { etag: wanted }
                        }
                        _ => Read::TooLarge { size },
                    })
                }
                Contents::Found(snapshot) => snapshot,
            };
            if options.if_none_match.as_ref() == Some(&snapshot.etag) {
                return Ok(Read::NotModified {
                    etag: snapshot.etag,
                });
            }
            let meta = meta_of(name, &snapshot);
            Ok(Read::Found(Object {
                meta,
                body: Bytes::from(snapshot.bytes.unwrap_or_default()),
            }))
        })
        .await
    }

    /// Takes the ETag from the file's ETag record when it matches the file's size,
    /// modification time and inode; else hashes the file in chunks (at any size) and
    /// records it.
    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        check(name)?;
        let name = name.to_owned();
        self.blocking("head", move |disk| {
            Ok(disk.head(&name)?.map(|snapshot| meta_of(name, &snapshot)))
        })
        .await
    }

    /// Writes under the name's lock; the content type is not stored (a file has none).
    async fn write(
        &self,
        name: &str,
        body: Bytes,
        _content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        check(name)?;
        let name = name.to_owned();
        self.blocking("write", move |disk| {
            let _lock = disk.lock(&name)?;
            let holds = match &condition {
                WriteCondition::Always => true,
                WriteCondition::IfAbsent => !disk.exists(&name)?,
                WriteCondition::IfMatch(wanted) => {
                    current_etag(disk, &name)?.as_ref() == Some(wanted)
                }
            };
            if !holds {
                return Ok(WriteResult::Refused);
            }
            let etag = etag_of_bytes(&body);
            disk.write(&name, &body, &etag)?;
            Ok(WriteResult::Written(etag))
        })
        .await
    }

    /// Deletes under the name's lock and removes the directories left empty.
    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        check(name)?;
        let name = name.to_owned();
        self.blocking("delete", move |disk| {
            let _lock = disk.lock(&name)?;
            let existed = match &condition {
                DeleteCondition::Always => {
                    disk.remove(&name)?;
                    return Ok(DeleteResult::Deleted);
                }
                // The unlink itself tells whether there was a file, under the lock.
                DeleteCondition::IfExists => disk.remove(&name)?,
                DeleteCondition::IfMatch(wanted) => {
                    current_etag(disk, &name)?.as_ref() == Some(wanted) && disk.remove(&name)?
                }
            };
            Ok(if existed {
                DeleteResult::Deleted
            } else {
                DeleteResult::Refused
            })
        })
        .await
    }

    /// Walks the directory tree from the deepest directory `prefix` names whole, one
    /// directory at a time on the blocking pool, so memory is bounded by the largest
    /// directory plus the pending subdirectories. Entries report `etag: None`; size and
    /// modification time come from the file system. Temporary files, the lock directory,
    /// names that are not UTF-8 and anything that is not a regular file (or a symbolic
    /// link to one) are skipped. A prefix no valid name can start with lists nothing.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        let start = match prefix.rfind('/') {
            Some(end) => &prefix[..=end],
            None => "",
        };
        // A directory part that is not a valid name (`../`, `/`, `a//`) is one no object
        // name starts with, and must not be joined to the root.
        if !start.is_empty() && check(&start[..start.len() - 1]).is_err() {
            return stream::empty().boxed();
        }
        let walk = Walk {
            disk: Arc::clone(&self.disk),
            prefix: Arc::from(prefix),
            pending: vec![start.to_owned()],
        };
        stream::unfold(Some(walk), |walk| async move { walk?.next_files().await })
            .map_ok(|metas: Vec<ObjectMeta>| stream::iter(metas.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    }

    /// Deletes the names one by one, each under its lock, in one blocking task. Every name
    /// is checked before anything is deleted.
    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        for name in &names {
            check(name)?;
        }
        self.blocking("delete_many", move |disk| {
            for name in &names {
                let _lock = disk.lock(name)?;
                disk.remove(name)?;
            }
            Ok(())
        })
        .await
    }
}

/// Checks at compile time that stores can be shared between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<FileStore>();
};
