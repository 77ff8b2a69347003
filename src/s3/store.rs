//! [`S3Store`]: the [`ObjectStore`] on Amazon S3 or any S3-compatible server.
//!
//! Names are relative to the root prefix: the object key is `<root><name>`. Each trait
//! method is one request, as the byte core promises:
//!
//! | method | request |
//! |---|---|
//! | `read` | GET (`If-None-Match: e` when asked; 304 = unchanged, no body) |
//! | `head` | HEAD |
//! | `write` `Always` / `IfAbsent` / `IfMatch(e)` | PUT / PUT `If-None-Match: *` / PUT `If-Match: e` |
//! | `delete` `Always` / `IfExists` / `IfMatch(e)` | DELETE / DELETE `If-Match: *` / DELETE `If-Match: e` |
//! | `list` | up to 1000 names: 1 ListObjectsV2; flat names: ⌈n/1000⌉; more, below the first level: a plain page, a `delimiter=/` listing after it, then its directories in at most `concurrency` key ranges at once (see `listing.rs`) |
//! | `delete_many` | ⌈n/1000⌉ DeleteObjects, at most `concurrency` in flight |
//! | `delete_many_if` | ⌈n/1000⌉ DeleteObjects with an `ETag` per object where the server honours it (probed), else n DELETE `If-Match`; at most `concurrency` in flight |
//! | `copy`, `copy_from` another `S3Store` on the same endpoint | CopyObject (`x-amz-copy-source-if-match`, `If-None-Match: *`, `If-Match` as asked; see [`copy`](super::copy)); + 1 HEAD of the source when refused |
//! | `copy_from` any other store | GET + PUT |
//!
//! A conditional request is only sent where the endpoint enforces it (probed once per
//! endpoint and bucket, see [`super::probe`], or declared); otherwise the answer is
//! [`Error::Unsupported`], unless the racy fallback was opted in to
//! ([`S3DictBuilder::allow_racy_fallback`](super::config::S3DictBuilder::allow_racy_fallback)):
//! then a HEAD checks the precondition and an unconditional request follows, and another
//! writer can slip in between. `If-None-Match: <etag>` is never sent on a PUT (AWS answers
//! 501). A conditional request whose answer was lost is never sent again blindly: one
//! HEAD settles it (see [`resolve`](super::resolve)). Every PUT carries a fresh write id,
//! the same on all attempts of one write, in its user metadata
//! (`x-amz-meta-persidict-write-id`); a `write(IfMatch(e))` whose ETag `e` was read from
//! this store also records the write ids of the version it replaces
//! (`x-amz-meta-persidict-write-chain`), and the ETag it returns remembers both, so that
//! a compare-and-swap on it chains on.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use super::client::{new_write_id, Attempted, Got, Head, Lost, S3Client};
use super::copy::{Copier, CopyFrom, CopyTo};
use super::copy_parts::{self, PartCopy};
use super::listing;
use super::multipart::probe::MultipartCapabilities;
use super::multipart::{self, Complete, MultipartSettings, MAX_PART_SIZE};
use super::presign::{self, Presign, PresignedRequest};
use super::probe::{self, Cell, ProbeReport};
use super::ranged;
use super::resolve::{self, ConditionalPut, Made};
use super::stats::RequestStats;
use super::versions;
use crate::cond::{ETag, Lineage};
use crate::error::{Capability, Error, Result};
use crate::store::{
    check_name, copy_by_reading, unsupported, Capabilities, Chunks, CopyResult, CopySource,
    DeleteCondition, DeleteResult, Object, ObjectMeta, ObjectStore, ObjectVersion, Read,
    ReadOptions, ReadStream, StoreInfo, WriteCondition, WriteResult, MAX_NAME_LEN,
};

/// The most names one `DeleteObjects` request takes.
const DELETE_BATCH: usize = 1000;

/// Objects in an S3 bucket under a root prefix: an [`ObjectStore`].
///
/// Connect one with
/// [`S3DictBuilder::build_store`](super::config::S3DictBuilder::build_store). Clones share
/// the client, the request counters and the probed capabilities.
#[derive(Clone)]
pub struct S3Store {
    inner: Arc<Inner>,
}

struct Inner {
    client: S3Client,
    /// The endpoint URL (`s3` for AWS's own), for [`StoreInfo::location`].
    endpoint_url: String,
    /// Empty or ending in `/`.
    root: String,
    stats: Arc<RequestStats>,
    capabilities: Cell,
    racy_fallback: bool,
    concurrency: usize,
    /// The caller's promise that nothing under the root is ever replaced or removed; it
    /// settles inserts whose answer was lost.
    append_only: bool,
    multipart: MultipartSettings,
    multipart_capabilities: multipart::probe::Cell,
    /// Whether the bucket keeps versions, asked on the first version operation.
    versioned: tokio::sync::OnceCell<bool>,
}

/// What [`S3Store::new`] is made of.
pub(crate) struct StoreParts {
    pub(crate) client: S3Client,
    pub(crate) endpoint_url: String,
    pub(crate) root: String,
    pub(crate) stats: Arc<RequestStats>,
    pub(crate) capabilities: Cell,
    pub(crate) racy_fallback: bool,
    pub(crate) concurrency: usize,
    pub(crate) append_only: bool,
    pub(crate) multipart: MultipartSettings,
    pub(crate) multipart_capabilities: multipart::probe::Cell,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Store")
            .field("endpoint", &self.inner.client.endpoint)
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

/// Whether the store sends a precondition, emulates it (racy), or must refuse.
enum Mode {
    Enforced,
    Emulated,
}

impl S3Store {
    pub(crate) fn new(parts: StoreParts) -> S3Store {
        S3Store {
            inner: Arc::new(Inner {
                client: parts.client,
                endpoint_url: parts.endpoint_url,
                root: parts.root,
                stats: parts.stats,
                capabilities: parts.capabilities,
                racy_fallback: parts.racy_fallback,
                concurrency: parts.concurrency.max(1),
                append_only: parts.append_only,
                multipart: parts.multipart,
                multipart_capabilities: parts.multipart_capabilities,
                versioned: tokio::sync::OnceCell::new(),
            }),
        }
    }

    /// The request and byte counters of this store's client, shared with its clones.
    pub fn stats(&self) -> &RequestStats {
        &self.inner.stats
    }

    /// The SDK client (with this store's request counter among its interceptors).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.inner.client.sdk
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        &self.inner.client.bucket
    }

    /// The root prefix: empty or ending in `/`.
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    /// `<endpoint url>/<bucket>`, as error messages name it.
    pub fn endpoint(&self) -> &str {
        &self.inner.client.endpoint
    }

    /// The object key of `name`: the root prefix followed by the name.
    pub fn object_key(&self, name: &str) -> String {
        format!("{}{name}", self.inner.root)
    }

    /// Probes the endpoint now and reports, for each capability, the request sent, the
    /// server's answer and the verdict; see [`ProbeReport`].
    ///
    /// This always sends the probe requests (about 34 small requests on two scratch
    /// objects under the root prefix, removed afterwards, even if this future is dropped), even
    /// when the capabilities were declared or already probed: its point is to measure the
    /// server. A store that had not probed yet keeps this result instead of probing again.
    ///
    /// # Errors
    /// A typed error when the scratch object cannot be written or read back (permissions,
    /// missing bucket, network).
    pub async fn probe_report(&self) -> Result<ProbeReport> {
        probe::report(
            &self.inner.capabilities,
            &self.inner.client,
            &self.inner.root,
        )
        .await
    }

    /// Which conditions of `CompleteMultipartUpload` the endpoint enforces, probing them
    /// first if nobody has in this process (about 15 small requests; see
    /// [`multipart::probe`]). Declared capabilities cover multipart uploads too.
    ///
    /// # Errors
    /// A typed error when the probe's uploads fail (permissions, network).
    pub async fn multipart_capabilities(&self) -> Result<MultipartCapabilities> {
        multipart::probe::capabilities(
            &self.inner.multipart_capabilities,
            &self.inner.client,
            &self.inner.root,
        )
        .await
    }

    /// The multipart settings: the threshold, part size and parts in flight of streamed
    /// writes and reads.
    pub fn multipart_settings(&self) -> &MultipartSettings {
        &self.inner.multipart
    }

    /// Signs a request for the object `name` that anyone holding it can send until it
    /// expires (see [`presign`](super::presign)); a PUT is signed with `content_type`. No
    /// request is sent, except that an [`Presign::Insert`] needs the capabilities (probed
    /// once per endpoint and bucket, unless declared).
    ///
    /// # Errors
    /// [`Error::Config`] for an expiry over 7 days; [`Error::Unsupported`] for an
    /// `Insert` where `If-None-Match: *` is not enforced (its holder could overwrite).
    pub async fn presign(
        &self,
        name: &str,
        what: Presign,
        content_type: &str,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        check_name(name)?;
        if what == Presign::Insert && !self.capabilities().await?.put_if_absent {
            return Err(unsupported(
                Capability::PutIfAbsent,
                &self.unsupported_info(),
            ));
        }
        presign::sign(
            &self.inner.client,
            &self.object_key(name),
            what,
            content_type,
            expires_in,
        )
        .await
    }

    /// How a request needing `capability` (`enforced`: whether the endpoint has it) is
    /// sent.
    fn mode(&self, enforced: bool, capability: Capability) -> Result<Mode> {
        if enforced {
            Ok(Mode::Enforced)
        } else if self.inner.racy_fallback {
            Ok(Mode::Emulated)
        } else {
            Err(unsupported(capability, &self.unsupported_info()))
        }
    }

    /// [`Error::Unsupported`] names the endpoint label, like every other error.
    fn unsupported_info(&self) -> StoreInfo {
        StoreInfo {
            location: self.inner.client.endpoint.clone(),
            ..self.info()
        }
    }

    /// The current ETag, for the racy fallback.
    async fn current(&self, key: &str) -> Result<Option<ETag>> {
        Ok(self.inner.client.head(key).await?.map(|h| h.etag))
    }

    /// Copies `from` to the object `to` on the server (see [`copy`](super::copy)).
    async fn copy_object(
        &self,
        from: &CopyFrom,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        check_name(to)?;
        let key = self.object_key(to);
        let parts = |source_etag: Option<ETag>| PartCopy {
            name: to,
            key: &key,
            source_etag,
            content_type,
            condition: condition.clone(),
        };
        // Sources over the copy threshold are copied in parts; below 5 GiB that takes a
        // HEAD of the source first.
        if self.inner.multipart.copy_threshold < MAX_PART_SIZE {
            let found = match copy_parts::source(self, from, source_etag.as_ref()).await? {
                Ok(found) => found,
                Err(ended) => return Ok(ended),
            };
            if found.1 > self.inner.multipart.copy_threshold {
                return copy_parts::copy(self, from, found, parts(source_etag)).await;
            }
        }
        let copier = Copier {
            client: &self.inner.client,
            capabilities: self.capabilities().await?,
            racy_fallback: self.inner.racy_fallback,
            append_only: self.inner.append_only,
        };
        let pinned = source_etag.clone();
        let one = CopyTo {
            name: to,
            key: &key,
            source_etag,
            content_type,
            condition: condition.clone(),
        };
        match copier.copy(from, one).await {
            // Too large for one CopyObject (over 5 GiB on AWS): in parts.
            Err(e) if copy_parts::too_large(&e) => {
                let found = match copy_parts::source(self, from, pinned.as_ref()).await? {
                    Ok(found) => found,
                    Err(ended) => return Ok(ended),
                };
                copy_parts::copy(self, from, found, parts(pinned)).await
            }
            other => other,
        }
    }

    /// How a multipart upload under `condition` is completed: with the condition where the
    /// endpoint enforces it on `CompleteMultipartUpload` (probed once), emulated where the
    /// racy fallback is on, else [`Error::Unsupported`].
    pub(crate) async fn multipart_complete<'c>(
        &self,
        condition: &'c WriteCondition,
    ) -> Result<Complete<'c>> {
        let (if_match, capability) = match condition {
            WriteCondition::Always => return Ok(Complete::Always),
            WriteCondition::IfAbsent => (None, Capability::MultipartIfAbsent),
            WriteCondition::IfMatch(e) => (Some(e), Capability::MultipartIfMatch),
        };
        let caps = self.multipart_capabilities().await?;
        let enforced = match capability {
            Capability::MultipartIfAbsent => caps.if_absent,
            _ => caps.if_match,
        };
        Ok(match (self.mode(enforced, capability)?, if_match) {
            (Mode::Emulated, expected) => Complete::Emulated(expected),
            (Mode::Enforced, Some(e)) => Complete::IfMatch(e),
            (Mode::Enforced, None) => Complete::IfAbsent,
        })
    }

    /// The client, for the modules that send this store's requests.
    pub(crate) fn s3_client(&self) -> &S3Client {
        &self.inner.client
    }

    /// Whether the store was built with the append-only promise.
    pub(crate) fn is_append_only(&self) -> bool {
        self.inner.append_only
    }

    /// [`Error::Unsupported`] for [`Capability::Versioning`] unless the bucket keeps
    /// versions (asked once per store and its clones).
    async fn require_versions(&self) -> Result<()> {
        let client = &self.inner.client;
        let on = self
            .inner
            .versioned
            .get_or_try_init(|| versions::versioned(client))
            .await?;
        if *on {
            Ok(())
        } else {
            Err(unsupported(
                Capability::Versioning,
                &self.unsupported_info(),
            ))
        }
    }

    fn meta(name: &str, head: Head) -> ObjectMeta {
        ObjectMeta {
            name: name.to_owned(),
            etag: Some(head.etag),
            size: head.size,
            last_modified: head.last_modified,
        }
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "s3",
            location: format!(
                "s3://{}/{} ({})",
                self.inner.client.bucket, self.inner.root, self.inner.endpoint_url
            ),
            append_only: false,
            max_name_len: MAX_NAME_LEN.saturating_sub(self.inner.root.len()),
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        probe::capabilities(
            &self.inner.capabilities,
            &self.inner.client,
            &self.inner.root,
        )
        .await
    }

    async fn read(&self, name: &str, options: ReadOptions) -> Result<Read> {
        check_name(name)?;
        let key = self.object_key(name);
        let got = self
            .inner
            .client
            .get(&key, options.if_none_match.as_ref(), options.max_size)
            .await?;
        Ok(match got {
            Got::Absent => Read::Absent,
            Got::NotModified => Read::NotModified {
                etag: options
                    .if_none_match
                    .expect("a 304 is only taken for a GET with If-None-Match"),
            },
            Got::TooLarge { size } => Read::TooLarge { size },
            Got::Found { head, body } => Read::Found(Object {
                meta: Self::meta(name, head),
                body,
            }),
        })
    }

    async fn read_stream(&self, name: &str, options: ReadOptions) -> Result<ReadStream> {
        check_name(name)?;
        let key = self.object_key(name);
        ranged::read(
            &self.inner.client,
            &self.inner.multipart,
            name,
            &key,
            options,
        )
        .await
    }

    async fn write_stream(
        &self,
        name: &str,
        mut chunks: Chunks,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        check_name(name)?;
        let settings = &self.inner.multipart;
        // Up to the threshold the value is one PUT.
        let mut first = BytesMut::new();
        while first.len() as u64 <= settings.threshold {
            match chunks.next().await {
                Some(chunk) => first.extend_from_slice(&chunk?),
                None => {
                    return self
                        .write(name, first.freeze(), content_type, condition)
                        .await
                }
            }
        }
        let key = self.object_key(name);
        let complete = self.multipart_complete(&condition).await?;
        let lineage = Lineage::new(&new_write_id(), complete.replaces().and_then(ETag::lineage));
        multipart::Upload {
            client: &self.inner.client,
            settings,
            name,
            key: &key,
            content_type,
            lineage: &lineage,
            append_only: self.inner.append_only,
        }
        .run(first, chunks, complete)
        .await
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        check_name(name)?;
        let key = self.object_key(name);
        Ok(self
            .inner
            .client
            .head(&key)
            .await?
            .map(|head| Self::meta(name, head)))
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        check_name(name)?;
        let key = self.object_key(name);
        let client = &self.inner.client;
        let (if_match, capability) = match &condition {
            WriteCondition::Always => (None, None),
            WriteCondition::IfAbsent => (None, Some(Capability::PutIfAbsent)),
            WriteCondition::IfMatch(e) => (Some(e), Some(Capability::PutIfMatch)),
        };
        // One write id for the logical write, the same on every attempt; a
        // compare-and-swap records the ids of the version it replaces after it.
        let lineage = Lineage::new(&new_write_id(), if_match.and_then(ETag::lineage));
        let written = |etag: ETag| {
            Ok(WriteResult::Written(
                etag.with_lineage(Some(lineage.clone())),
            ))
        };
        let Some(capability) = capability else {
            return written(client.put(&key, &body, content_type, &lineage).await?);
        };
        let caps = self.capabilities().await?;
        if let Mode::Emulated = self.mode(caps.has(capability), capability)? {
            // Racy: another writer can change the object between the HEAD and the PUT.
            if self.current(&key).await?.as_ref() != if_match {
                return Ok(WriteResult::Refused);
            }
            return written(client.put(&key, &body, content_type, &lineage).await?);
        }
        let put = ConditionalPut {
            name,
            key: &key,
            made: Made::Body(&body),
            lineage: &lineage,
            replaces: if_match,
            append_only: self.inner.append_only,
        };
        let sent = client
            .put_conditional(&key, &body, content_type, &lineage, if_match, |why| {
                resolve::put(client, &put, why)
            })
            .await?;
        match sent {
            Attempted::Applied(etag) => written(etag),
            Attempted::Settled(result) => Ok(result),
            Attempted::Refused { after_lost: false } => Ok(WriteResult::Refused),
            // A refusal after a lost answer may be our own write refusing its retry.
            Attempted::Refused { after_lost: true } => {
                let why = "an earlier attempt's answer was lost, then a later one was refused";
                match resolve::put(client, &put, why.into()).await? {
                    Lost::Settled(result) => Ok(result),
                    // Not landed, and the refusal came from a change since undone (the
                    // version we replace is back): the caller looks again.
                    Lost::Resend => Ok(WriteResult::Refused),
                }
            }
        }
    }

    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        check_name(name)?;
        let key = self.object_key(name);
        let client = &self.inner.client;
        match condition {
            DeleteCondition::Always => {
                client.delete(&key).await?;
                Ok(DeleteResult::Deleted)
            }
            DeleteCondition::IfExists => {
                let caps = self.capabilities().await?;
                if !caps.delete_if_exists {
                    if !self.inner.racy_fallback {
                        return Err(Error::Config(format!(
                            "{}: DELETE If-Match: * is not enforced here; delete with \
                             DeleteCondition::IfMatch and the ETag a HEAD found instead",
                            self.endpoint()
                        )));
                    }
                    // Racy: the object can be re-created between the HEAD and the DELETE.
                    if self.current(&key).await?.is_none() {
                        return Ok(DeleteResult::Refused);
                    }
                    client.delete(&key).await?;
                    return Ok(DeleteResult::Deleted);
                }
                let sent = client
                    .delete_conditional(&key, "*", |why| {
                        resolve::delete_if_exists(client, name, &key, why)
                    })
                    .await?;
                Ok(match sent {
                    Attempted::Applied(()) => DeleteResult::Deleted,
                    Attempted::Settled(result) => result,
                    Attempted::Refused { after_lost: false } => DeleteResult::Refused,
                    // The key is absent now, whoever removed it: all `IfExists` asks.
                    Attempted::Refused { after_lost: true } => DeleteResult::Deleted,
                })
            }
            DeleteCondition::IfMatch(etag) => {
                let caps = self.capabilities().await?;
                let capability = Capability::DeleteIfMatch;
                if let Mode::Emulated = self.mode(caps.has(capability), capability)? {
                    // Racy: the object can change between the HEAD and the DELETE.
                    if self.current(&key).await? != Some(etag) {
                        return Ok(DeleteResult::Refused);
                    }
                    client.delete(&key).await?;
                    return Ok(DeleteResult::Deleted);
                }
                let sent = client
                    .delete_conditional(&key, etag.as_str(), |why| {
                        resolve::delete_if_match(client, name, &key, &etag, why)
                    })
                    .await?;
                Ok(match sent {
                    Attempted::Applied(()) => DeleteResult::Deleted,
                    Attempted::Settled(result) => result,
                    // After a lost answer the resolver saw the object still at `etag`
                    // before allowing the resend, so the refusal is someone else's change.
                    Attempted::Refused { .. } => DeleteResult::Refused,
                })
            }
        }
    }

    /// Every object whose name starts with `prefix`, in no particular order: one plain
    /// `ListObjectsV2` page; when more follow, a pagination with `delimiter=/` after it
    /// yields the first level (no `/` after `prefix`) and finds the first-level
    /// "directories"; these are then cut into at most `concurrency` contiguous key ranges,
    /// listed at once (see `listing.rs`).
    ///
    /// Up to 1000 names cost 1 LIST, and a caller that stops after the first object
    /// (`is_empty`) sends 1. Flat names cost ⌈n/1000⌉ LIST pages, as a plain listing.
    /// Beyond the first page, names below the first level cost the delimiter listing's
    /// pages (one per 1000 first-level objects and directories, one after the other) and
    /// ⌊m/1000⌋ + 1 pages per range of m keys (first-level objects that sort inside it and
    /// the first page's keys counted), with `concurrency` in flight instead of one.
    fn list(&self, prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        listing::list(
            self.inner.client.clone(),
            self.inner.root.clone(),
            prefix,
            self.inner.concurrency,
        )
    }

    async fn delete_many_if(&self, objects: Vec<(String, ETag)>) -> Result<Vec<DeleteResult>> {
        for (name, _) in &objects {
            check_name(name)?;
        }
        let caps = self.capabilities().await?;
        let concurrency = self.inner.concurrency;
        if !caps.delete_many_if_match {
            // One `DELETE If-Match` each (refused as unsupported where that is not
            // enforced either).
            return stream::iter(objects)
                .map(|(name, etag)| async move {
                    self.delete(&name, DeleteCondition::IfMatch(etag)).await
                })
                .buffered(concurrency)
                .try_collect()
                .await;
        }
        let client = &self.inner.client;
        let batches: Vec<Vec<(String, String, ETag)>> = objects
            .chunks(DELETE_BATCH)
            .map(|batch| {
                batch
                    .iter()
                    .map(|(name, etag)| (name.clone(), self.object_key(name), etag.clone()))
                    .collect()
            })
            .collect();
        let results: Vec<Vec<DeleteResult>> = stream::iter(batches)
            .map(|batch| async move {
                let keyed: Vec<(String, ETag)> = batch
                    .iter()
                    .map(|(_, k, e)| (k.clone(), e.clone()))
                    .collect();
                let named: Vec<(&str, &str, &ETag)> = batch
                    .iter()
                    .map(|(n, k, e)| (n.as_str(), k.as_str(), e))
                    .collect();
                let sent = client
                    .delete_objects_if(&keyed, |why| resolve::delete_batch(client, &named, why))
                    .await?;
                match sent {
                    Attempted::Applied(results) | Attempted::Settled(results) => Ok(results),
                    Attempted::Refused { .. } => Err(Error::backend(
                        self.endpoint(),
                        "DeleteObjects",
                        "the batch was refused as a whole".to_owned(),
                        false,
                    )),
                }
            })
            .buffered(concurrency)
            .try_collect()
            .await?;
        Ok(results.into_iter().flatten().collect())
    }

    async fn copy(
        &self,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        check_name(from)?;
        let from = CopyFrom {
            bucket: self.bucket().to_owned(),
            key: self.object_key(from),
            version_id: None,
        };
        self.copy_object(&from, to, source_etag, content_type, condition)
            .await
    }

    /// Copies on the server when `source` keeps the object in a bucket on this endpoint
    /// (another [`S3Store`], wrapped or not: the credentials of this store must be
    /// allowed to read it); from any other store it reads and writes.
    async fn copy_from(
        &self,
        source: &dyn ObjectStore,
        from: &str,
        to: &str,
        source_etag: Option<ETag>,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        match source.copy_source(from) {
            Some(found) if found.backend == "s3" && found.endpoint == self.inner.endpoint_url => {
                let from = CopyFrom {
                    bucket: found.bucket,
                    key: found.key,
                    version_id: None,
                };
                self.copy_object(&from, to, source_etag, content_type, condition)
                    .await
            }
            _ => {
                copy_by_reading(
                    source,
                    self,
                    from,
                    to,
                    source_etag.as_ref(),
                    content_type,
                    condition,
                )
                .await
            }
        }
    }

    fn copy_source(&self, name: &str) -> Option<CopySource> {
        check_name(name).ok()?;
        Some(CopySource {
            backend: "s3",
            endpoint: self.inner.endpoint_url.clone(),
            bucket: self.bucket().to_owned(),
            key: self.object_key(name),
        })
    }

    async fn versions(&self, name: &str) -> Result<Vec<ObjectVersion>> {
        check_name(name)?;
        self.require_versions().await?;
        versions::list(&self.inner.client, &self.object_key(name)).await
    }

    async fn read_version(
        &self,
        name: &str,
        version_id: &str,
        options: ReadOptions,
    ) -> Result<Read> {
        check_name(name)?;
        self.require_versions().await?;
        let key = self.object_key(name);
        let got = self
            .inner
            .client
            .get_version(
                &key,
                Some(version_id),
                options.if_none_match.as_ref(),
                options.max_size,
            )
            .await?;
        Ok(match got {
            Got::Absent => Read::Absent,
            Got::NotModified => Read::NotModified {
                etag: options
                    .if_none_match
                    .expect("a 304 is only taken for a GET with If-None-Match"),
            },
            Got::TooLarge { size } => Read::TooLarge { size },
            Got::Found { head, body } => Read::Found(Object {
                meta: Self::meta(name, head),
                body,
            }),
        })
    }

    async fn restore_version(
        &self,
        name: &str,
        version_id: &str,
        content_type: &str,
        condition: WriteCondition,
    ) -> Result<CopyResult> {
        check_name(name)?;
        self.require_versions().await?;
        let from = CopyFrom {
            bucket: self.bucket().to_owned(),
            key: self.object_key(name),
            version_id: Some(version_id.to_owned()),
        };
        self.copy_object(&from, name, None, content_type, condition)
            .await
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        // Every name first, so that a bad one fails the call before anything is deleted.
        for name in &names {
            check_name(name)?;
        }
        let batches: Vec<Vec<String>> = names
            .chunks(DELETE_BATCH)
            .map(|batch| batch.iter().map(|n| self.object_key(n)).collect())
            .collect();
        let client = &self.inner.client;
        stream::iter(batches)
            .map(|batch| client.delete_objects(batch))
            .buffer_unordered(self.inner.concurrency)
            .try_collect::<()>()
            .await
    }
}

/// Checks at compile time that stores can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<S3Store>();
};
