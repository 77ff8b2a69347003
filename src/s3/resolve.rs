//! Lost answers: what a conditional request did when the answer to one of its attempts
//! never arrived.
//!
//! An attempt whose fate is unknown (a timeout, a reset or closed connection, a `500`, an
//! unreadable answer; see [`classify::transient`](super::classify::transient)) may have
//! been applied by the server. The send loop
//! ([`S3Client::conditional`](super::client::S3Client::conditional)) calls one of the
//! functions here before it does anything else, and they decide with one HEAD. The same
//! HEAD settles a refusal that follows a lost answer: it may be our own write refusing its
//! retry.
//!
//! # Write ids and lineages
//! Every PUT carries a fresh write id (`x-amz-meta-persidict-write-id`), the same on all
//! attempts of one write. A compare-and-swap (`If-Match: e`) whose ETag `e` was read from
//! S3 knows the write ids of the version it replaces, and records them after its own
//! (`x-amz-meta-persidict-write-chain`, most recent first, 48 ids in all; see
//! [`Lineage`]). So the object at a key tells which writes it was built on, back through
//! every compare-and-swap since the last write that did not know what it replaced (a
//! plain put, an insert, another client's write). Then, for a PUT of write id `w`
//! conditioned on a version with write id `p`:
//!
//! | request | the HEAD finds | result |
//! |---|---|---|
//! | any conditional PUT | an object whose lineage holds `w` | `Written`: the write landed (and may have been built upon since) |
//! | PUT `If-Match: e` | the version `p` itself, still at `e` | send again: the write did not land |
//! | the same | an object whose lineage holds `p` but not `w` | `Refused`: the write did not land, the key moved on |
//! | PUT `If-None-Match: *`, append-only | no object | send again |
//! | the same | an object whose lineage does not hold `w` | `Refused` |
//! | anything else (no lineage, a lineage without `p`, an insert outside append-only, the HEAD fails) | | [`Error::OutcomeUnknown`] |
//!
//! Why each "did not land" holds:
//! - Write ids are unique, so the version `p` is at the key only until something replaces
//!   it: had `w` landed on it, `p` would be gone for good.
//! - A version whose lineage reaches back to `p` without `w` descends from `p` through
//!   compare-and-swaps that each replaced the version it had read: had `w` landed, the
//!   write that replaced it would have recorded `w`. This rests on ETags naming versions:
//!   S3's ETag is a digest of the bytes, so a key whose value comes back to bytes it held
//!   while our write was in flight can make a writer replace a version other than the one
//!   it read, and its lineage then skips a version. Keys whose values do not repeat
//!   (counters, logs, versioned records) never meet this; where values do repeat, a
//!   lineage can in rare interleavings call a landed write "not landed", and the
//!   operation is then applied again.
//! - Truncation keeps the newest ids, so a lineage that still holds `p` would also hold
//!   `w`, which is newer.
//! - An insert is conditioned on "absent", and a delete brings "absent" back: a key that
//!   holds another object now may have held ours in between. Only where nothing is ever
//!   removed or replaced (a store built with
//!   [`append_only`](super::config::S3DictBuilder::append_only), the caller's promise for
//!   every client of the bucket prefix) does "not ours" prove "not landed".
//!
//! A plain put in between, a delete in between, or a foreign write (no lineage) leaves
//! [`Error::OutcomeUnknown`]: nothing can tell whether ours came first.
//!
//! A conditional PUT is never sent again blindly. An increment lands, its answer is lost,
//! another writer restores the old bytes: the object has the very ETag our `If-Match`
//! named, and sending again would apply the increment twice; only write ids can tell.
//!
//! # Deletes
//! | request | the HEAD finds | result |
//! |---|---|---|
//! | DELETE `If-Match: *` | no object | `Deleted`: the key is gone |
//! | the same | an object | send again |
//! | DELETE `If-Match: e` | an object with ETag `e` | send again |
//! | the same | no object, another ETag, or the HEAD fails | [`Error::OutcomeUnknown`] |
//!
//! | `DeleteObjects`, each object with its ETag | every object still at its ETag | send again |
//! | the same | any object gone or changed, or a HEAD fails | [`Error::OutcomeUnknown`] (one HEAD per object) |
//!
//! A DELETE leaves no id behind. `If-Match: e` finding `e` still there means our delete
//! did not run (only an identical re-create in between, same bytes and hence same ETag,
//! could fool this, and deleting it again is then what a later delete would do);
//! finding it gone or changed cannot say who did it. For `If-Match: *` "gone" is all the
//! caller asked: the key no longer exists, whoever removed it. Likewise a refusal of a
//! later attempt of `If-Match: *` (the key is absent) counts as deleted.
//!
//! Attempts that were certainly not applied (`503 SlowDown` and other throttling,
//! connection refused, `409` conflicts) are sent again without a HEAD. Unconditional
//! PUTs and DELETEs keep the SDK's own retries: repeating them is harmless.

use bytes::Bytes;
use md5::{Digest, Md5};

use super::client::{Head, Lost, S3Client};
use crate::cond::{ETag, Lineage};
use crate::error::{Error, Result};
use crate::store::{DeleteResult, WriteResult};

/// A conditional PUT, as far as settling it after a lost answer needs to know.
pub(crate) struct ConditionalPut<'a> {
    /// The store name, for errors.
    pub(crate) name: &'a str,
    /// The object key.
    pub(crate) key: &'a str,
    /// What the write stores.
    pub(crate) made: Made<'a>,
    /// The lineage the PUT recorded: its write id first.
    pub(crate) lineage: &'a Lineage,
    /// `If-Match: e`: the version it replaces; `None` for `If-None-Match: *`.
    pub(crate) replaces: Option<&'a ETag>,
    /// Whether nothing under the store's root is ever replaced or removed.
    pub(crate) append_only: bool,
}

/// What a conditional write stores, for the ETag it made.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Made<'a> {
    /// A PUT of these bytes.
    Body(&'a Bytes),
    /// A multipart upload, whose ETag is computed from its parts' ETags.
    Multipart(&'a ETag),
    /// A server-side copy of a source with this ETag, where known (a single-part copy
    /// keeps the source's ETag: S3's digest of the same bytes).
    Copy(Option<&'a ETag>),
}

impl Made<'_> {
    /// The ETag S3 gave the write, for a write that others have built upon since; for a
    /// copy of a source whose ETag is not known, an ETag that names no version (a
    /// compare-and-swap on it is refused, as it should be: the version is gone).
    fn etag(self) -> ETag {
        match self {
            Made::Body(body) => single_put_etag(body),
            Made::Multipart(etag) => etag.clone(),
            Made::Copy(Some(source)) => source.clone(),
            Made::Copy(None) => ETag::new("\"persidict-superseded-copy\""),
        }
    }
}

/// After a lost answer to a conditional PUT (see the module docs): `Written`, `Refused`,
/// send again, or [`Error::OutcomeUnknown`].
pub(crate) async fn put(
    client: &S3Client,
    put: &ConditionalPut<'_>,
    why: String,
) -> Result<Lost<WriteResult>> {
    let found = match read_back(client, put.key).await {
        Ok(found) => found,
        Err(e) => {
            return Err(unknown(
                put.name,
                "PUT",
                format!("{why}, and the object could not be read back: {e}"),
            ))
        }
    };
    let ours = put.lineage.own();
    let lineage = found.as_ref().and_then(Head::lineage);
    if let Some(lineage) = lineage.filter(|l| l.contains(ours)) {
        let built_upon = lineage.own() != ours;
        let etag = match &found {
            // The object is ours: its ETag is the one our write made.
            Some(head) if !built_upon => head.etag.clone(),
            // Built upon since: the ETag our write made is S3's digest of the body.
            _ => put.made.etag(),
        };
        tracing::debug!(object = %put.key, built_upon, "a conditional PUT whose answer was lost had landed: settled by its write id");
        return Ok(Lost::Settled(WriteResult::Written(
            etag.with_lineage(Some(put.lineage.clone())),
        )));
    }
    let not_landed = |resend: bool| {
        tracing::debug!(object = %put.key, resend, "a conditional PUT whose answer was lost did not land: settled by the lineage");
        Ok(if resend {
            Lost::Resend
        } else {
            Lost::Settled(WriteResult::Refused)
        })
    };
    let reason = match (put.replaces, &found) {
        (Some(replaced), Some(head)) => {
            match (replaced.lineage().map(Lineage::own), lineage) {
                (Some(p), Some(now)) if now.own() == p && head.etag == *replaced => {
                    return not_landed(true)
                }
                (Some(p), Some(now)) if now.contains(p) => return not_landed(false),
                (None, _) => "the version it replaced carried no write id",
                (Some(_), Some(_)) => "the object's lineage does not reach back to the version this write replaced: a write that did not build on it came in between",
                (Some(_), None) => "the object carries no write ids: another client wrote it",
            }
        }
        (Some(_), None) => "the object is gone: a delete came in between",
        (None, None) if put.append_only => return not_landed(true),
        (None, Some(_)) if put.append_only => return not_landed(false),
        (None, _) => "an insert's object may have been deleted since (only an append-only store proves it did not land)",
    };
    Err(unknown(
        put.name,
        "PUT",
        format!("{why}, and this write's id is not in the object's lineage: {reason}"),
    ))
}

/// The ETag S3 gives a single-part PUT of `body` (unencrypted or SSE-S3): its MD5 in hex,
/// quoted. For another ETag scheme it names no version, and a compare-and-swap on it is
/// refused, as it should be: the version is gone.
fn single_put_etag(body: &[u8]) -> ETag {
    ETag::new(format!(
        "\"{}\"",
        data_encoding::HEXLOWER.encode(&Md5::digest(body))
    ))
}

/// After a lost answer to `DELETE If-Match: *`: `Deleted` when the object is gone, send
/// again when it is there.
pub(crate) async fn delete_if_exists(
    client: &S3Client,
    name: &str,
    key: &str,
    why: String,
) -> Result<Lost<DeleteResult>> {
    match read_back(client, key).await {
        Ok(None) => Ok(Lost::Settled(DeleteResult::Deleted)),
        Ok(Some(_)) => Ok(Lost::Resend),
        Err(e) => Err(unknown(
            name,
            "DELETE",
            format!("{why}, and the object could not be looked up: {e}"),
        )),
    }
}

/// After a lost answer to `DELETE If-Match: <etag>`: send again when the object still has
/// `etag`, else [`Error::OutcomeUnknown`] (it may be gone or changed because of us).
pub(crate) async fn delete_if_match(
    client: &S3Client,
    name: &str,
    key: &str,
    etag: &ETag,
    why: String,
) -> Result<Lost<DeleteResult>> {
    match read_back(client, key).await {
        Ok(Some(head)) if &head.etag == etag => Ok(Lost::Resend),
        Ok(found) => Err(unknown(
            name,
            "DELETE",
            format!(
                "{why}, and the object is {}: our delete may have removed it",
                if found.is_some() {
                    "now another version"
                } else {
                    "gone"
                }
            ),
        )),
        Err(e) => Err(unknown(
            name,
            "DELETE",
            format!("{why}, and the object could not be looked up: {e}"),
        )),
    }
}

/// After a lost answer to a `DeleteObjects` of `objects` (store name, object key, ETag),
/// each conditioned on its ETag: send again when every object still has its ETag (the
/// batch did not run), else [`Error::OutcomeUnknown`] naming the first object that is
/// gone or changed (the batch may have deleted it).
pub(crate) async fn delete_batch(
    client: &S3Client,
    objects: &[(&str, &str, &ETag)],
    why: String,
) -> Result<Lost<Vec<DeleteResult>>> {
    let mut moved = Vec::new();
    for (name, key, etag) in objects {
        match read_back(client, key).await {
            Ok(Some(head)) if &head.etag == *etag => {}
            Ok(_) => moved.push(*name),
            Err(e) => {
                return Err(unknown(
                    name,
                    "DeleteObjects",
                    format!("{why}, and the object could not be looked up: {e}"),
                ))
            }
        }
    }
    match moved.first() {
        None => Ok(Lost::Resend),
        Some(first) => Err(unknown(
            first,
            "DeleteObjects",
            format!(
                "{why}, and {} of the batch's {} objects are gone or changed: the batch may have deleted them",
                moved.len(),
                objects.len()
            ),
        )),
    }
}

/// How often the HEAD that settles a lost answer is sent, at most, while its failure may
/// pass (each is one SDK call with the SDK's own retries).
const READ_BACK_TRIES: u32 = 3;

/// The HEAD that settles a lost answer, sent again while its failure may pass: a lost
/// answer left unsettled costs the caller far more than a few HEADs.
async fn read_back(client: &S3Client, key: &str) -> Result<Option<Head>> {
    let mut tries = 0;
    loop {
        tries += 1;
        match client.head(key).await {
            Err(e) if e.is_retryable() && tries < READ_BACK_TRIES => {
                tracing::debug!(object = %key, error = %e, "reading back a write whose answer was lost: trying again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(tries))).await;
            }
            found => return found,
        }
    }
}

fn unknown(name: &str, operation: &'static str, reason: String) -> Error {
    Error::OutcomeUnknown {
        key: name.to_owned(),
        operation,
        reason,
    }
}
