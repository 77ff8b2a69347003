//! The file-system work shared by [`FileDict`](super::FileDict) and
//! [`FileStore`](super::store::FileStore): opening the root (finding the lock root, removing
//! dead writers' temporary files, probing case sensitivity), the lock stripes with a bounded
//! wait, hashing reads, the ETag record of a file, durable replacement of a file, removal
//! with the directories it leaves empty, and one level of a directory walk. The [module documentation](super) describes the layout
//! and the guarantees these implement; everything here is blocking and runs on tokio's
//! blocking pool ([`blocking`]).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};

use crate::cond::ETag;
use crate::error::{Error, Result};

/// The start of every name the crate itself puts in the directory: the lock directory and
/// temporary files. `#` is not allowed in key parts, so no key can ever name one, and
/// listings skip them.
pub(crate) const RESERVED_PREFIX: &str = ".persidict#";
/// The directory of the lock stripes, under the lock root; it also holds [`TMP_DIR`].
pub(crate) const LOCK_DIR: &str = ".persidict#locks";
/// The directory of the temporary files of writes in flight, under [`LOCK_DIR`].
const TMP_DIR: &str = "tmp";
/// The longest pause between two attempts to take a lock that is held.
const MAX_LOCK_BACKOFF: Duration = Duration::from_millis(20);
/// How long a lock is waited for by default.
pub(crate) const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(30);
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
    /// The directory whose [`LOCK_DIR`] this root uses: the nearest ancestor (or the root
    /// itself) that has one when the root is opened, else the root.
    lock_root: PathBuf,
    /// The root relative to `lock_root`, `/`-terminated (`""` when they are the same), so
    /// that a name here and the same file named from the lock root share a stripe.
    lock_prefix: String,
    /// How long a lock is waited for before [`Error::LockTimeout`].
    lock_timeout: Duration,
}

/// The exclusive locks an operation holds; released when dropped (the files are closed),
/// or by the OS when the process dies.
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct LockGuard {
    _files: Vec<File>,
}

/// Whether file names that differ only in case name different files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CaseBehaviour {
    /// `a` and `A` are two files.
    Sensitive,
    /// `a` and `A` are one file.
    Insensitive,
    /// The probe could not be made (a read-only directory, for example).
    Unknown,
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
    /// The file's ETag record names the ETag the caller already has (this one); nothing
    /// was read.
    Unchanged(ETag),
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

/// The lock root of `root`: `root` itself when it has a lock directory, else the nearest
/// ancestor that has one (with `root` relative to it, `/`-terminated), else `root`.
fn find_lock_root(root: &Path) -> (PathBuf, String) {
    for ancestor in root.ancestors() {
        if ancestor.join(LOCK_DIR).is_dir() {
            let mut prefix = String::new();
            if let Ok(below) = root.strip_prefix(ancestor) {
                for part in below.components() {
                    prefix.push_str(&part.as_os_str().to_string_lossy());
                    prefix.push('/');
                }
            }
            return (ancestor.to_path_buf(), prefix);
        }
    }
    (root.to_path_buf(), String::new())
}

/// What identifies one version of a file's bytes in its metadata: a replacement changes
/// the inode, an edit in place the modification time (and usually the size).
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    size: u64,
    mtime_sec: i64,
    mtime_nsec: i64,
    ino: u64,
}

#[cfg(target_os = "linux")]
fn stamp(meta: &fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        size: meta.len(),
        mtime_sec: meta.mtime(),
        mtime_nsec: meta.mtime_nsec(),
        ino: meta.ino(),
    }
}

/// The ETag record: `v1 <size> <mtime s> <mtime ns> <inode> <etag>`.
fn record_text(stamp: &Stamp, etag: &ETag) -> String {
    format!(
        "v1 {} {} {} {} {}",
        stamp.size,
        stamp.mtime_sec,
        stamp.mtime_nsec,
        stamp.ino,
        etag.as_str()
    )
}

/// Parses a record written by [`record_text`]; `None` for anything else.
fn parse_record(text: &[u8]) -> Option<(Stamp, ETag)> {
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.split(' ');
    if fields.next()? != "v1" {
        return None;
    }
    let stamp = Stamp {
        size: fields.next()?.parse().ok()?,
        mtime_sec: fields.next()?.parse().ok()?,
        mtime_nsec: fields.next()?.parse().ok()?,
        ino: fields.next()?.parse().ok()?,
    };
    let etag = fields.next()?;
    // A quoted 64-digit lowercase hex SHA-256, and nothing after it.
    let hex = etag.strip_prefix('"')?.strip_suffix('"')?;
    let valid = hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid || fields.next().is_some() {
        return None;
    }
    Some((stamp, ETag::new(etag)))
}

/// The ETag record of a file, in its extended attribute `user.persidict.etag` (Linux).
#[cfg(target_os = "linux")]
mod etag_attr {
    use std::ffi::CStr;
    use std::fs::File;
    use std::io;
    use std::os::fd::AsRawFd;

    const NAME: &CStr = c"user.persidict.etag";
    /// Longer than any record.
    const MAX_LEN: usize = 256;

    /// The attribute's value; `None` when it is missing or unreadable.
    pub(super) fn get(file: &File) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_LEN];
        // SAFETY: the descriptor is open for the call, the name is NUL-terminated, and the
        // kernel writes at most `buf.len()` bytes into `buf`.
        let n = unsafe {
            libc::fgetxattr(
                file.as_raw_fd(),
                NAME.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        let n = usize::try_from(n).ok()?;
        buf.get(..n).map(<[u8]>::to_vec)
    }

    /// Sets the attribute (`ENOTSUP` where the file system has no user attributes).
    pub(super) fn set(file: &File, value: &[u8]) -> io::Result<()> {
        // SAFETY: the descriptor is open for the call, the name is NUL-terminated, and the
        // kernel reads exactly `value.len()` bytes from `value`.
        let rc = unsafe {
            libc::fsetxattr(
                file.as_raw_fd(),
                NAME.as_ptr(),
                value.as_ptr().cast(),
                value.len(),
                0,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// The ETag recorded on the open `file` whose metadata is `meta`, if the record is there
/// and was made for exactly this size, modification time and inode; else `None`.
fn recorded_etag(file: &File, meta: &fs::Metadata) -> Option<ETag> {
    #[cfg(target_os = "linux")]
    {
        let (recorded, etag) = parse_record(&etag_attr::get(file)?)?;
        (recorded == stamp(meta)).then_some(etag)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, meta, parse_record);
        None
    }
}

/// Records `etag` on the open `file` for its current metadata. Best effort: a file system
/// without user extended attributes (or a file we may not change) keeps no record, and its
/// ETag is computed by hashing.
fn record_etag(file: &File, etag: &ETag) {
    #[cfg(target_os = "linux")]
    {
        let Ok(meta) = file.metadata() else {
            return;
        };
        let text = record_text(&stamp(&meta), etag);
        if let Err(e) = etag_attr::set(file, text.as_bytes()) {
            tracing::trace!(error = %e, "cannot record the ETag in an extended attribute");
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, etag, record_text);
    }
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
    pub(crate) async fn open(dir: PathBuf, lock_timeout: Duration) -> Result<Disk> {
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
            let (lock_root, lock_prefix) = find_lock_root(&root);
            Ok((root, lock_root, lock_prefix))
        })
        .await?;
        let (root, lock_root, lock_prefix) = root;
        let disk = Disk {
            location: format!("file://{}", root.display()),
            root,
            lock_root,
            lock_prefix,
            lock_timeout,
        };
        let location = disk.location.clone();
        let disk = blocking(&location, "open", move || {
            // Made now rather than at the first write, so that a dictionary opened later on
            // a subdirectory finds it and shares the stripes. A read-only directory has no
            // writes to lock: failing here is not an error.
            let dir = disk.lock_root.join(LOCK_DIR);
            if let Err(e) = fs::create_dir_all(&dir) {
                tracing::debug!(dir = %dir.display(), error = %e, "cannot create the lock directory");
            }
            disk.remove_dead_temporaries();
            Ok(disk)
        })
        .await?;
        if !disk.lock_prefix.is_empty() {
            tracing::debug!(
                root = %disk.root.display(),
                lock_root = %disk.lock_root.display(),
                "the directory is inside another dictionary's: using its locks"
            );
        }
        Ok(disk)
    }

    /// Removes the temporary files of writers that died (their lock is free), never a live
    /// writer's (it holds the lock of its temporary file until the file is renamed).
    /// Best effort: whatever cannot be removed stays, for the next open.
    fn remove_dead_temporaries(&self) {
        let dir = self.lock_root.join(LOCK_DIR).join(TMP_DIR);
        let Ok(entries) = fs::read_dir(&dir) else {
            return;
        };
        let mut removed = 0u32;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_temporary = entry
                .file_name()
                .to_str()
                .is_some_and(|n| n.starts_with(RESERVED_PREFIX) && n.ends_with(".tmp"));
            if !is_temporary {
                continue;
            }
            // The file may be gone (renamed into place, or removed by another opener).
            let Ok(file) = File::open(&path) else {
                continue;
            };
            match file.try_lock() {
                Ok(()) => {
                    // Unlinked by name while its lock is held: a writer that renamed the file
                    // meanwhile left no file under this name, so nothing of it is removed.
                    match fs::remove_file(&path) {
                        Ok(()) => removed += 1,
                        Err(e) if is_absent(&e) => {}
                        Err(e) => {
                            tracing::debug!(path = %path.display(), error = %e, "cannot remove a dead writer's temporary file");
                        }
                    }
                }
                // A live writer.
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => {
                    tracing::debug!(path = %path.display(), error = %e, "cannot test a temporary file's lock");
                }
            }
        }
        if removed > 0 {
            tracing::info!(
                dir = %dir.display(),
                removed,
                "removed temporary files of writers that died"
            );
        }
    }

    /// Whether this root's file system tells names apart by case: creates a probe file
    /// (a reserved name, so no listing sees it), looks for it under the name in the other
    /// case, and removes it.
    pub(crate) fn case_behaviour(&self) -> CaseBehaviour {
        let token = format!("{:016x}", fastrand::u64(..));
        let lower = format!("{RESERVED_PREFIX}case-probe-{token}.tmp");
        let upper = lower.to_uppercase();
        let probe = self.root.join(&lower);
        if let Err(e) = OpenOptions::new().write(true).create_new(true).open(&probe) {
            tracing::warn!(
                dir = %self.root.display(),
                error = %e,
                "cannot probe whether the file system is case-sensitive"
            );
            return CaseBehaviour::Unknown;
        }
        let other = fs::symlink_metadata(self.root.join(&upper));
        if let Err(e) = fs::remove_file(&probe) {
            tracing::warn!(path = %probe.display(), error = %e, "cannot remove the case probe");
        }
        match other {
            Ok(_) => CaseBehaviour::Insensitive,
            Err(e) if is_absent(&e) => CaseBehaviour::Sensitive,
            Err(_) => CaseBehaviour::Unknown,
        }
    }

    /// The absolute root directory.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// The directory whose lock stripes this root uses.
    pub(crate) fn lock_root(&self) -> &Path {
        &self.lock_root
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

    /// Takes the exclusive lock of the stripe of object `rel` at the lock root, and the
    /// stripe of every dictionary root between the lock root and the file that has a lock
    /// directory of its own (one opened before an enclosing one existed), outermost first
    /// (every process takes them in this order, so they cannot deadlock). Each is waited
    /// for at most the lock timeout in all.
    pub(crate) fn lock(&self, rel: &str) -> Result<LockGuard> {
        let deadline = Instant::now() + self.lock_timeout;
        let full = format!("{}{rel}", self.lock_prefix);
        let mut files = vec![self.lock_stripe(&self.lock_root, &full, deadline)?];
        let mut nested = self.lock_root.clone();
        let mut parts: Vec<&str> = full.split('/').collect();
        parts.pop();
        for (i, part) in parts.iter().enumerate() {
            nested.push(part);
            if nested.join(LOCK_DIR).is_dir() {
                let below = full.split('/').skip(i + 1).collect::<Vec<_>>().join("/");
                files.push(self.lock_stripe(&nested, &below, deadline)?);
            }
        }
        Ok(LockGuard { _files: files })
    }

    /// Takes the lock of the stripe of `name` in the lock directory of `root`.
    fn lock_stripe(&self, root: &Path, name: &str, deadline: Instant) -> Result<File> {
        let hash = Sha256::digest(name.as_bytes());
        let n = hash[..8]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            % LOCK_STRIPES;
        let dir = root.join(LOCK_DIR);
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
        self.wait_for_lock(&file, &path, deadline)?;
        Ok(file)
    }

    /// Takes the exclusive lock of `file`, trying again with a growing pause until
    /// `deadline`, then [`Error::LockTimeout`].
    fn wait_for_lock(&self, file: &File, path: &Path, deadline: Instant) -> Result<()> {
        let started = Instant::now();
        let mut pause = Duration::from_micros(200);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(()),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(self.io_error("lock", path, e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::LockTimeout {
                    lock: path.display().to_string(),
                    waited: now - started,
                });
            }
            // Jittered so that waiters do not wake together.
            let jittered = pause.mul_f64(0.5 + fastrand::f64());
            std::thread::sleep(jittered.min(deadline - now));
            pause = (pause * 2).min(MAX_LOCK_BACKOFF);
        }
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

    /// Reads and hashes the file `rel`, keeping its bytes if `keep`. A file whose valid
    /// ETag record names `unless` is not read at all ([`Contents::Unchanged`]), nor is a
    /// file over `limit` bytes ([`Contents::TooLarge`]); hashing streams through the file in
    /// chunks, so with no limit and `keep == false` it works at any size.
    pub(crate) fn read(
        &self,
        rel: &str,
        limit: u64,
        keep: bool,
        unless: Option<&ETag>,
    ) -> Result<Contents> {
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
        if let Some(wanted) = unless {
            if let Some(etag) = recorded_etag(&file, &meta).filter(|e| e == wanted) {
                return Ok(Contents::Unchanged(etag));
            }
        }
        if meta.len() > limit {
            return Ok(Contents::TooLarge(meta.len()));
        }
        self.hash_open(&path, &mut file, &meta, limit, keep)
    }

    /// The metadata of the file `rel` with its ETag, without reading its bytes when the
    /// file carries a valid ETag record; else hashed as [`Disk::read`] does (and the record
    /// made, when the file did not change while it was hashed).
    pub(crate) fn head(&self, rel: &str) -> Result<Option<Snapshot>> {
        let path = self.path(rel);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if is_absent(&e) => return Ok(None),
            Err(e) => return Err(self.io_error("open", &path, e)),
        };
        let meta = file
            .metadata()
            .map_err(|e| self.io_error("stat", &path, e))?;
        if !meta.is_file() {
            return Ok(None);
        }
        if let Some(etag) = recorded_etag(&file, &meta) {
            return Ok(Some(Snapshot {
                etag,
                size: meta.len(),
                modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                bytes: None,
            }));
        }
        let snapshot = match self.hash_open(&path, &mut file, &meta, u64::MAX, false)? {
            Contents::Found(snapshot) => snapshot,
            // Unreachable without a limit or an ETag; absent is the safe reading.
            Contents::Absent | Contents::TooLarge(_) | Contents::Unchanged(_) => return Ok(None),
        };
        // A file written before records existed, or by someone else: record what was read,
        // unless the file changed meanwhile.
        #[cfg(target_os = "linux")]
        if file
            .metadata()
            .is_ok_and(|after| stamp(&after) == stamp(&meta))
        {
            record_etag(&file, &snapshot.etag);
        }
        Ok(Some(snapshot))
    }

    /// Hashes the open `file` (whose metadata is `meta`) from its start.
    fn hash_open(
        &self,
        path: &Path,
        file: &mut File,
        meta: &fs::Metadata,
        limit: u64,
        keep: bool,
    ) -> Result<Contents> {
        let mut hasher = Sha256::new();
        let mut bytes = keep.then(|| Vec::with_capacity(meta.len() as usize));
        let mut buf = vec![0u8; READ_CHUNK];
        let mut size = 0u64;
        loop {
            let n = match file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error("read", path, e)),
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
        let mut attempt = 1;
        loop {
            match fs::create_dir_all(&parent) {
                Ok(()) => break,
                // A concurrent delete removed an ancestor it had emptied, between its
                // creation and that of its child: create them again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && attempt < MAX_WRITE_ATTEMPTS => {
                    attempt += 1;
                }
                Err(e) => return Err(self.io_error("create", &parent, e)),
            }
        }
        let mut dir = self.root.clone();
        sync_dir(&dir).map_err(|e| self.io_error("fsync", &dir, e))?;
        for part in dirs.split('/') {
            dir.push(part);
            sync_dir(&dir).map_err(|e| self.io_error("fsync", &dir, e))?;
        }
        Ok(())
    }

    /// Replaces the file `rel` with `bytes`, whose ETag is `etag`: a temporary file in the
    /// lock directory's `tmp/`, locked while it exists, written, its ETag recorded,
    /// `fsync`, renamed over the target, directory `fsync`. The caller holds the name's
    /// lock. Where the target is on another file system than the lock directory (a mount
    /// point inside the dictionary) the temporary file is made beside the target instead.
    pub(crate) fn write(&self, rel: &str, bytes: &[u8], etag: &ETag) -> Result<()> {
        let target = self.path(rel);
        let parent = target.parent().unwrap_or(&self.root).to_path_buf();
        let shared_tmp = self.lock_root.join(LOCK_DIR).join(TMP_DIR);
        let mut beside_target = false;
        let deadline = Instant::now() + self.lock_timeout;
        for attempt in 1..=MAX_WRITE_ATTEMPTS {
            let retry = attempt < MAX_WRITE_ATTEMPTS;
            self.ensure_dirs(rel)?;
            let tmp_dir = if beside_target { &parent } else { &shared_tmp };
            let tmp = tmp_dir.join(format!(
                "{RESERVED_PREFIX}{}-{:016x}.tmp",
                std::process::id(),
                fastrand::u64(..)
            ));
            let create = || OpenOptions::new().write(true).create_new(true).open(&tmp);
            let mut file = match create() {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::NotFound && !beside_target => {
                    fs::create_dir_all(&shared_tmp)
                        .map_err(|e| self.io_error("create", &shared_tmp, e))?;
                    create().map_err(|e| self.io_error("create", &tmp, e))?
                }
                // A concurrent delete removed the (empty) directory: create it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound && retry => continue,
                Err(e) => return Err(self.io_error("create", &tmp, e)),
            };
            // Held until the rename: an opener that finds the lock free knows the writer is
            // gone. (An opener that took it in the instant before, and removed the file, makes
            // the rename below fail with NotFound: the write is then made again.)
            if let Err(e) = self.wait_for_lock(&file, &tmp, deadline) {
                drop(file);
                let _ = fs::remove_file(&tmp);
                return Err(e);
            }
            let written = file.write_all(bytes).and_then(|()| {
                record_etag(&file, etag);
                file.sync_all()
            });
            if let Err(e) = written {
                drop(file);
                let _ = fs::remove_file(&tmp);
                return Err(self.io_error("write", &tmp, e));
            }
            match fs::rename(&tmp, &target) {
                Ok(()) => {
                    drop(file);
                    return sync_dir(&parent).map_err(|e| self.io_error("fsync", &parent, e));
                }
                Err(e) => {
                    drop(file);
                    let _ = fs::remove_file(&tmp);
                    if e.kind() == io::ErrorKind::CrossesDevices && !beside_target {
                        beside_target = true;
                        continue;
                    }
                    if e.kind() == io::ErrorKind::NotFound && retry {
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
