//! [`WriteOnce`]: a store where each object is written once, and writing it again with the
//! same bytes is accepted without a write.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

use super::{
    Capabilities, CopyResult, CopySource, DeleteCondition, DeleteResult, ObjectMeta, ObjectStore,
    Read, ReadOptions, StoreInfo, WriteCondition, WriteResult,
};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::semantics::MAX_ATTEMPTS;

/// How often [`WriteOnce`] found a repeated write and compared it, shared by clones and
/// subdictionaries of one write-once dictionary.
#[derive(Debug, Default)]
pub struct WriteOnceStats {
    repeats: AtomicU64,
    checks: AtomicU64,
    conflicts: AtomicU64,
}

impl WriteOnceStats {
    /// Writes that found the object already there (refused inserts).
    pub fn repeats(&self) -> u64 {
        self.repeats.load(Ordering::Relaxed)
    }

    /// Repeats that were checked: the stored bytes read back and compared.
    pub fn checks(&self) -> u64 {
        self.checks.load(Ordering::Relaxed)
    }

    /// Checks that found different bytes ([`Error::WriteOnceConflict`]); conditional
    /// writes, which always compare, are not counted.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }
}

/// What a write-once write did ([`WriteOnce::put_once`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// The object was absent and is now written, with this ETag.
    Written(ETag),
    /// The object was already there: nothing was written.
    Repeated {
        /// Whether the stored bytes were read back and found equal to the ones given
        /// (with probability [`WriteOnce::p_consistency_checks`]); `false`: not compared.
        checked: bool,
        /// The stored object's ETag, when the check read it.
        etag: Option<ETag>,
    },
}

/// Forwards every request to `inner`, except those that would replace or remove an object:
///
/// | request | becomes |
/// |---|---|
/// | `write(Always)` | `write(IfAbsent)` (`PUT If-None-Match: *`); a refusal is a repeat: with probability `p_consistency_checks` one GET compares the bytes ([`Error::WriteOnceConflict`] when they differ), then the answer is [`WriteResult::Written`] with the stored ETag (without a check, one HEAD learns it) |
/// | `write(IfAbsent)` | forwarded: a refusal is an answer, not an error |
/// | `write(IfMatch(e))` | no write: one GET; [`WriteResult::Refused`] unless `e` is current; then [`WriteResult::Written`]`(e)` when the bytes are the same, else [`Error::WriteOnceConflict`] (always checked: it is a conditional write) |
/// | `delete`, a non-empty `delete_many` | [`Error::AppendOnly`] (`"delete"`), nothing sent |
///
/// A `copy` to a write-once store reads the source and writes it through these rules (the
/// default [`ObjectStore::copy`]), so a repeated copy is compared like a repeated write.
///
/// [`put_once`](WriteOnce::put_once) is the write the typed
/// [`WriteOnceDict`](crate::WriteOnceDict) sends: like `write(Always)`, but an unchecked
/// repeat costs exactly the one refused insert.
///
/// The store reports itself append-only ([`StoreInfo::append_only`]). On a store that
/// enforces insert-if-absent the first write wins against every concurrent writer; a store
/// that does not (rclone) answers [`Error::Unsupported`].
///
/// The comparison is of the encoded bytes: a value whose encoding is not deterministic
/// (a `HashMap` in JSON) can be reported as a conflict with an equal value; prefer ordered
/// maps in write-once values.
#[derive(Debug, Clone)]
pub struct WriteOnce {
    inner: Arc<dyn ObjectStore>,
    p_consistency_checks: f64,
    stats: Arc<WriteOnceStats>,
}

impl WriteOnce {
    /// `inner`, write-once, comparing repeated writes with probability
    /// `p_consistency_checks` (0.0: never read back; 1.0: always).
    ///
    /// # Errors
    /// [`Error::Config`] when `p_consistency_checks` is not in `0.0..=1.0`.
    pub fn new(inner: Arc<dyn ObjectStore>, p_consistency_checks: f64) -> Result<WriteOnce> {
        WriteOnce::with_stats(inner, p_consistency_checks, Arc::default())
    }

    /// As [`new`](WriteOnce::new), counting into `stats` (shared with other stores).
    ///
    /// # Errors
    /// As [`new`](WriteOnce::new).
    pub fn with_stats(
        inner: Arc<dyn ObjectStore>,
        p_consistency_checks: f64,
        stats: Arc<WriteOnceStats>,
    ) -> Result<WriteOnce> {
        if !(0.0..=1.0).contains(&p_consistency_checks) {
            return Err(Error::Config(format!(
                "p_consistency_checks must be between 0.0 and 1.0, got {p_consistency_checks}"
            )));
        }
        Ok(WriteOnce {
            inner,
            p_consistency_checks,
            stats,
        })
    }

    /// The probability that a repeated write is read back and compared.
    pub fn p_consistency_checks(&self) -> f64 {
        self.p_consistency_checks
    }

    /// The counters of repeats and checks.
    pub fn stats(&self) -> &Arc<WriteOnceStats> {
        &self.stats
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    fn draw_check(&self) -> bool {
        // `fastrand::f64()` is in [0, 1): 1.0 always checks, 0.0 never does.
        self.p_consistency_checks > 0.0 && fastrand::f64() < self.p_consistency_checks
    }

    /// Writes `body` under `name` unless an object is there (one `PUT If-None-Match: *`);
    /// a repeat is compared with probability [`p_consistency_checks`](WriteOnce::p_consistency_checks)
    /// (one GET).
    ///
    /// # Errors
    /// [`Error::WriteOnceConflict`] when a check finds other bytes; [`Error::Unsupported`]
    /// from a store that cannot insert-if-absent.
    pub async fn put_once(&self, name: &str, body: Bytes, content_type: &str) -> Result<Stored> {
        for _ in 0..MAX_ATTEMPTS {
            match self
                .inner
                .write(name, body.clone(), content_type, WriteCondition::IfAbsent)
                .await?
            {
                WriteResult::Written(etag) => return Ok(Stored::Written(etag)),
                WriteResult::Refused => {}
            }
            self.stats.repeats.fetch_add(1, Ordering::Relaxed);
            if !self.draw_check() {
                return Ok(Stored::Repeated {
                    checked: false,
                    etag: None,
                });
            }
            self.stats.checks.fetch_add(1, Ordering::Relaxed);
            match self.compare(name, &body).await? {
                // Removed by someone else since the refusal (write-once forbids it, but
                // the inner store may be shared): insert again.
                None => continue,
                Some(etag) => {
                    return Ok(Stored::Repeated {
                        checked: true,
                        etag: Some(etag),
                    })
                }
            }
        }
        Err(Error::backend(
            self.inner.info().location,
            "PUT",
            format!("{name}: the object kept disappearing between the insert and the read"),
            true,
        ))
    }

    /// Reads `name` and compares it with `body`: its ETag when equal, `None` when absent,
    /// [`Error::WriteOnceConflict`] when different.
    async fn compare(&self, name: &str, body: &Bytes) -> Result<Option<ETag>> {
        let options = ReadOptions {
            if_none_match: None,
            // A larger object differs: no need to transfer it.
            max_size: Some(body.len() as u64),
        };
        match self.inner.read(name, options).await? {
            Read::Absent => Ok(None),
            Read::Found(object) if object.body == *body => {
                Ok(Some(object.meta.etag.ok_or_else(|| {
                    Error::backend(
                        self.inner.info().location,
                        "GET",
                        format!("{name}: the store reported no ETag"),
                        false,
                    )
                })?))
            }
            Read::Found(_) | Read::TooLarge { .. } | Read::NotModified { .. } => {
                self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
                Err(Error::WriteOnceConflict {
                    key: name.to_owned(),
                })
            }
        }
    }
}

#[async_trait]
impl ObjectStore for WriteOnce {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            append_only: true,
            ..self.inner.info()
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        self.inner.capabilities().await
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        self.inner.read(name, options).await
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        self.inner.head(name).await
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        match condition {
            WriteCondition::Always => {
                for _ in 0..MAX_ATTEMPTS {
                    match self.put_once(name, body.clone(), content_type).await? {
                        Stored::Written(etag)
                        | Stored::Repeated {
                            etag: Some(etag), ..
                        } => return Ok(WriteResult::Written(etag)),
                        // The caller wants the ETag: one HEAD learns it.
                        Stored::Repeated { etag: None, .. } => {
                            if let Some(ObjectMeta { etag: Some(e), .. }) =
                                self.inner.head(name).await?
                            {
                                return Ok(WriteResult::Written(e));
                            }
                        }
                    }
                }
                Err(Error::backend(
                    self.inner.info().location,
                    "PUT",
                    format!("{name}: the object kept disappearing between the insert and the HEAD"),
                    true,
                ))
            }
            WriteCondition::IfMatch(expected) => {
                let options = ReadOptions {
                    if_none_match: None,
                    max_size: Some(body.len() as u64),
                };
                match self.inner.read(name, options).await? {
                    Read::Found(object) if object.meta.etag.as_ref() == Some(&expected) => {
                        if object.body == body {
                            Ok(WriteResult::Written(expected))
                        } else {
                            Err(Error::WriteOnceConflict {
                                key: name.to_owned(),
                            })
                        }
                    }
                    Read::TooLarge { .. } => {
                        // Larger than the body, so different, whatever its ETag: refuse
                        // unless it is the expected version.
                        match self.inner.head(name).await? {
                            Some(meta) if meta.etag.as_ref() == Some(&expected) => {
                                Err(Error::WriteOnceConflict {
                                    key: name.to_owned(),
                                })
                            }
                            _ => Ok(WriteResult::Refused),
                        }
                    }
                    _ => Ok(WriteResult::Refused),
                }
            }
            other => self.inner.write(name, body, content_type, other).await,
        }
    }

    async fn delete(&self, name: &str, _condition: DeleteCondition) -> Result<DeleteResult> {
        Err(Error::AppendOnly {
            key: name.to_owned(),
            operation: "delete",
        })
    }

    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn copy_source(&self, name: &str) -> Option<CopySource> {
        self.inner.copy_source(name)
    }

    async fn versions(&self, name: &str) -> Result<Vec<super::ObjectVersion>> {
        self.inner.versions(name).await
    }

    async fn read_version(
        &self,
        name: &str,
        version_id: &str,
        options: ReadOptions,
    ) -> Result<Read> {
        self.inner.read_version(name, version_id, options).await
    }

    /// Refused: restoring an old version writes the object again.
    async fn restore_version(
        &self,
        name: &str,
        _version_id: &str,
        _content_type: &str,
        _condition: WriteCondition,
    ) -> Result<CopyResult> {
        Err(Error::AppendOnly {
            key: name.to_owned(),
            operation: "restore",
        })
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        match names.first() {
            Some(name) => Err(Error::AppendOnly {
                key: name.clone(),
                operation: "delete",
            }),
            None => Ok(()),
        }
    }
}
