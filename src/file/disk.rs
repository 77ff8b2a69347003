//! The file-system work shared by [`FileDict`](super::FileDict) and
//! [`FileStore`](super::store::FileStore): opening the root, the lock stripes, hashing
//! reads, durable replacement of a file, removal with the directories it leaves empty, and
//! one level of a directory walk. The [module documentation](super) describes the layout
//! and the guarantees these implement; everything here is blocking and runs on tokio's
//! blocking pool ([`blocking`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::cond::ETag;
use crate::error::{Error, Result};

/// The start of every name the crate itself puts in the directory: the lock directory and
/// temporary files. `#` is not allowed in key parts, so no key can ever name one, and
/// listings skip them.
pub(crate) const RESERVED_PREFIX: &str = ".persidict#";
/// The directory of the lock stripes, under the root.
const LOCK_DIR: &str = ".persidict#locks";
/// How many lock stripes there are.
const LOCK_STRIPES: u64 = 64;
/// How often a write is retried when a concurrent delete removed its directory.
const MAX_WRITE_ATTEMPTS: u32 = 100;
/// The read buffer for hashing files.
const READ_CHUNK: usize = 64 * 1024;

/// The root directory of a dictionary or store, and the operations on files under it.
/// Paths are given relative to the root, `/`-separated; callers validate them first.
#[derive(Debug)]
pub(crate) struct Disk {
    /// The absolute, canonical root directory.
    root: PathBuf,
    /// `file://<root>`, for messages.
    location: String,
}

/// A file read and hashed.
pub(crate) struct Snapshot {
    /// The quoted hex SHA-256 of the bytes.
    pub(crate) etag: ETag,
    /// How many bytes were read.
    pub(crate) size: u64,
    /// The modification time of the file the bytes came from.
    pub(crate) modified: SystemTime,
    /// The bytes, when the caller asked to keep them.
    pub(crate) bytes: Option<Vec<u8>>,
}

/// What [`Disk::read`] found.
pub(crate) enum Contents {
    /// No regular file has the name (missing, or a directory).
    Absent,
    /// The file holds more bytes than the limit; they were not kept.
    TooLarge(u64),
    /// The file, hashed.
    Found(Snapshot),
}

/// One directory of a walk: the entries its caller chose, files with their metadata.
pub(crate) struct Level<F, D> {
    /// The regular files (symbolic links to files included).
    pub(crate) files: Vec<(F, fs::Metadata)>,
    /// The subdirectories (symbolic links to directories are not followed).
    pub(crate) dirs: Vec<D>,
}

/// The ETag of bytes whose SHA-256 is `hash`.
pub(crate) fn etag_of(hash: sha2::digest::Output<Sha256>) -> ETag {
    ETag::new(format!("\"{hash:x}\""))
}

/// The ETag of `bytes`.
pub(crate) fn etag_of_bytes(bytes: &[u8]) -> ETag {
    etag_of(Sha256::digest(bytes))
}

/// Whether `e` means that the path does not name anything (a missing file, or a path
/// through a file as if it were a directory).
pub(crate) fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}

/// `fsync` of a directory, so that a rename or unlink in it is durable. A directory that
/// is gone has nothing left to make durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir).and_then(|d| d.sync_all()) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Runs `f` on the blocking thread pool; a panic there becomes [`Error::Backend`]. The
/// blocking part cannot be interrupted, so an operation whose future is dropped still
/// completes (or not) as a whole.
pub(crate) async fn blocking<T: Send + 'static>(
    location: &str,
    operation: &'static str,
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) => Err(Error::backend(
            location,
            operation,
            if e.is_panic() {
                "the file-system task panicked"
            } else {
                "the file-system task was cancelled"
            },
            false,
        )),
    }
}

impl Disk {
    /// Opens `dir` as a root, creating it and its parents if missing.
    ///
    /// # Errors
    /// [`Error::Config`] when the path is not a directory; [`Error::Io`] or
    /// [`Error::PermissionDenied`] when it cannot be created or resolved.
    pub(crate) async fn open(dir: PathBuf) -> Result<Disk> {
        let endpoint = format!("file://{}", dir.display());
        let io_endpoint = endpoint.clone();
        let root = blocking(&endpoint, "open", move || {
            let io = |operation: &str, e: io::Error| {
                if e.kind() == io::ErrorKind::PermissionDenied {
                    Error::PermissionDenied {
                        endpoint: io_endpoint.clone(),
                        operation: operation.to_owned(),
                        message: e.to_string(),
                        request_id: None,
                    }
                } else {
                    Error::Io {
                        path: format!("{} ({operation})", dir.display()),
                        source: e,
                    }
                }
            };
            fs::create_dir_all(&dir).map_err(|e| io("create", e))?;
            let root = fs::canonicalize(&dir).map_err(|e| io("canonicalize", e))?;
            if !root.is_dir() {
                return Err(Error::Config(format!(
                    "{} is not a directory",
                    root.display()
                )));
            }
            Ok(root)
        })
        .await?;
        Ok(Disk {
            location: format!("file://{}", root.display()),
            root,
        })
    }

    /// The absolute root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `file://<root>`.
    pub(crate) fn location(&self) -> &str {
        &self.location
    }

    /// The error for `e` during `operation` on `path`: [`Error::PermissionDenied`] for
    /// `EACCES` (so callers can tell it apart), else [`Error::Io`] naming both.
    pub(crate) fn io_error(&self, operation: &str, path: &Path, e: io::Error) -> Error {
        if e.kind() == io::ErrorKind::PermissionDenied {
            Error::PermissionDenied {
                endpoint: self.location.clone(),
                operation: format!("{operation} {}", path.display()),
                message: e.to_string(),
                request_id: None,
            }
        } else {
            Error::Io {
                path: format!("{} ({operation})", path.display()),
                source: e,
            }
        }
    }

    /// The absolute path of `rel`.
    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// Takes the exclusive lock of the stripe of object `rel`; released when the returned
    /// file is dropped (closed), or by the OS when the process dies.
    pub(crate) fn lock(&self, rel: &str) -> Result<File> {
        let hash = Sha256::digest(rel.as_bytes());
        let n = hash[..8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            % LOCK_STRIPES;
        let dir = self.root.join(LOCK_DIR);
        let path = dir.join(format!("{n:02}.lock"));
        let open = || {
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
        };
        let file = match open() {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(&dir).map_err(|e| self.io_error("create", &dir, e))?;
                open().map_err(|e| self.io_error("open lock", &path, e))?
            }
            Err(e) => return Err(self.io_error("open lock", &path, e)),
        };
        file.lock().map_err(|e| self.io_error("lock", &path, e))?;
        Ok(file)
    }

    /// Whether a regular file (or a symbolic link to one) has the name `rel`.
    pub(crate) fn exists(&self, rel: &str) -> Result<bool> {
        let path = self.path(rel);
        match fs::metadata(&path) {
            Ok(meta) => Ok(meta.is_file()),
            Err(e) if is_absent(&e) => Ok(false),
            Err(e) => Err(self.io_error("stat", &path, e)),
        }
    }

    /// Reads and hashes the file `rel`, keeping its bytes if `keep`. A file over `limit`
    /// bytes is not read at all ([`Contents::TooLarge`]); hashing streams through the file
    /// in chunks, so with no limit and `keep == false` it works at any size.
    pub(crate) fn read(&self, rel: &str, limit: u64, keep: bool) -> Result<Contents> {
        let path = self.path(rel);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Ok(Contents::Absent),
            Err(e) => return Err(self.io_error("open", &path, e)),
        };
        // Metadata of the open file: the same inode the bytes come from, even if the file
        // is replaced meanwhile.
        let meta = file
            .metadata()
            .map_err(|e| self.io_error("stat", &path, e))?;
        if !meta.is_file() {
            return Ok(Contents::Absent);
        }
        if meta.len() > limit {
            return Ok(Contents::TooLarge(meta.len()));
        }
        let mut hasher = Sha256::new();
        let mut bytes = keep.then(|| Vec::with_capacity(meta.len() as usize));
        let mut buf = vec![0u8; READ_CHUNK];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read", &path, e)),
            };
            size += n as u64;
            if size > limit {
                // Someone is appending to the file in place (this crate never does).
                return Ok(Contents::TooLarge(size));
            }
            hasher.update(&buf[..n]);
            if let Some(b) = &mut bytes {
                b.extend_from_slice(&buf[..n]);
            }
        }
        Ok(Contents::Found(Snapshot {
            etag: etag_of(hasher.finalize()),
            size,
            modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            bytes,
        }))
    }

    /// Creates the missing directories between the root and the file `rel`, making each
    /// new directory entry durable.
    fn ensure_dirs(&self, rel: &str) -> Result<()> {
        let Some((dirs, _)) = rel.rsplit_once('/') else {
            return Ok(());
        };
        let parent = self.path(dirs);
        if parent.is_dir() {
            return Ok(());
        }
        fs::create_dir_all(&parent).map_err(|e| self.io_error("create", &parent, e))?;
        let mut dir = self.root.clone();
        sync_dir(&dir).map_err(|e| self.io_error("fsync", &dir, e))?;
        for part in dirs.split('/') {
            dir.push(part);
            sync_dir(&dir).map_err(|e| self.io_error("fsync", &dir, e))?;
        }
        Ok(())
    }

    /// Replaces the file `rel` with `bytes`: temporary file, `fsync`, rename, directory
    /// `fsync`. The caller holds the name's lock.
    pub(crate) fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let target = self.path(rel);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            self.ensure_dirs(rel)?;
            let tmp = parent.join(format!("{RESERVED_PREFIX}{:016x}.tmp", fastrand::u64(..)));
            let mut file = match OpenOptions::new().write(true).create_new(true).open(&tmp) {
                Ok(f) => f,
                // A concurrent delete removed the (empty) directory: create it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < MAX_WRITE_ATTEMPTS => {
                    continue
                }
                Err(e) => return Err(self.io_error("create", &tmp, e)),
            };
            let written = file.write_all(bytes).and_then(|()| file.sync_all());
            drop(file);
            if let Err(e) = written {
                let _ = fs::remove_file(&tmp);
                return Err(self.io_error("write", &tmp, e));
            }
            match fs::rename(&tmp, &target) {
                Ok(()) => {
                    return sync_dir(&parent).map_err(|e| self.io_error("fsync", &parent, e));
                }
                Err(e) => {
                    let _ = fs::remove_file(&tmp);
                    if e.kind() == io::ErrorKind::NotFound && attempt < MAX_WRITE_ATTEMPTS {
                        continue;
                    }
                    return Err(self.io_error("rename", &target, e));
                }
            }
        }
        Err(self.io_error(
            "write",
            &target,
            io::Error::other("its directory kept disappearing"),
        ))
    }

    /// Unlinks the file `rel`; `false` when it was absent. Removes the directories it
    /// leaves empty (never the root). The caller holds the name's lock.
    pub(crate) fn remove(&self, rel: &str) -> Result<bool> {
        let target = self.path(rel);
        match fs::remove_file(&target) {
            Ok(()) => {}
            Err(e) if is_absent(&e) || e.kind() == io::ErrorKind::IsADirectory => return Ok(false),
            Err(e) => return Err(self.io_error("remove", &target, e)),
        }
        let parent = target.parent().unwrap_or(&self.root);
        sync_dir(parent).map_err(|e| self.io_error("fsync", parent, e))?;
        // Best effort: a directory that is not empty (or that a writer is filling) stays.
        let mut dirs: Vec<&str> = rel.split('/').collect();
        dirs.pop();
        while !dirs.is_empty() {
            let dir = self.path(&dirs.join("/"));
            if fs::remove_dir(&dir).is_err() {
                break;
            }
            dirs.pop();
            let _ = sync_dir(dir.parent().unwrap_or(&self.root));
        }
        Ok(true)
    }

    /// Lists the directory `rel` (a `/`-terminated prefix, or empty for the root). Each
    /// entry name that is UTF-8 and not reserved is offered to `file` or `dir`, which
    /// return what to keep (or `None` to skip it); a kept file's metadata follows symbolic
    /// links, and a file deleted meanwhile is skipped. A directory that vanished is empty.
    pub(crate) fn read_level<F, D>(
        &self,
        rel: &str,
        mut file: impl FnMut(&str) -> Option<F>,
        mut dir: impl FnMut(&str) -> Option<D>,
    ) -> Result<Level<F, D>> {
        let path = self.path(rel);
        let mut level = Level {
            files: Vec::new(),
            dirs: Vec::new(),
        };
        let entries = match fs::read_dir(&path) {
            Ok(entries) => entries,
            Err(e) if is_absent(&e) => return Ok(level),
            Err(e) => return Err(self.io_error("list", &path, e)),
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) if is_absent(&e) => continue,
                Err(e) => return Err(self.io_error("list", &path, e)),
            };
            // Names that are not UTF-8 cannot be object names, so they are not ours.
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if name.starts_with(RESERVED_PREFIX) {
                continue;
            }
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_dir() {
                level.dirs.extend(dir(&name));
            } else if let Some(kept) = file(&name) {
                match fs::metadata(entry.path()) {
                    Ok(meta) if meta.is_file() => level.files.push((kept, meta)),
                    Ok(_) => {}
                    Err(e) if is_absent(&e) => {}
                    Err(e) => return Err(self.io_error("stat", &entry.path(), e)),
                }
            }
        }
        Ok(level)
    }
}
