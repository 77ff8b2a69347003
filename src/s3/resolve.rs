//! Lost answers: what a conditional request did when the answer to one of its attempts
//! never arrived.
//!
//! An attempt whose fate is unknown (a timeout, a reset or closed connection, a `500`, an
//! unreadable answer; see [`classify::transient`](super::classify::transient)) may have
//! been applied by the server. The send loop
//! ([`S3Client::conditional`](super::client::S3Client::conditional)) calls one of the
//! functions here before it does anything else, and they decide with one HEAD:
//!
//! | request | the HEAD finds | result |
//! |---|---|---|
//! | PUT `If-None-Match: *` or `If-Match: e` | an object carrying this write's id | `Written(its ETag)`: the write landed |
//! | the same | anything else, or the HEAD fails | [`Error::OutcomeUnknown`] |
//! | DELETE `If-Match: *` | no object | `Deleted`: the key is gone |
//! | the same | an object | send again |
//! | DELETE `If-Match: e` | an object with ETag `e` | send again |
//! | the same | no object, another ETag, or the HEAD fails | [`Error::OutcomeUnknown`] |
//!
//! A conditional PUT is never sent again after a lost answer. Our write may have landed
//! and been replaced since: an increment lands, its answer is lost, another writer
//! restores the old bytes, so the object has the very ETag our `If-Match` named. Sending
//! again would apply the increment twice; only the write id can prove that ours is in.
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

use super::client::{Lost, S3Client};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::store::{DeleteResult, WriteResult};

/// After a lost answer to a conditional PUT of `key` (store name `name`) carrying
/// `write_id`: `Written` when the object carries that id, else [`Error::OutcomeUnknown`]:
/// a conditional PUT is never sent again after a lost answer.
pub(crate) async fn put(
    client: &S3Client,
    name: &str,
    key: &str,
    write_id: &str,
    why: String,
) -> Result<WriteResult> {
    match client.head(key).await {
        Ok(Some(head)) if head.write_id.as_deref() == Some(write_id) => {
            tracing::debug!(object = %key, "a conditional PUT whose answer was lost had landed: settled by its write id");
            Ok(WriteResult::Written(head.etag))
        }
        Ok(found) => Err(unknown(
            name,
            "PUT",
            format!(
                "{why}, and the object {}: this write may have landed and been replaced since",
                if found.is_some() {
                    "does not carry this write's id"
                } else {
                    "is absent"
                }
            ),
        )),
        Err(e) => Err(unknown(
            name,
            "PUT",
            format!("{why}, and the object could not be read back: {e}"),
        )),
    }
}

/// After a lost answer to `DELETE If-Match: *`: `Deleted` when the object is gone, send
/// again when it is there.
pub(crate) async fn delete_if_exists(
    client: &S3Client,
    name: &str,
    key: &str,
    why: String,
) -> Result<Lost<DeleteResult>> {
    match client.head(key).await {
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
    match client.head(key).await {
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

fn unknown(name: &str, operation: &'static str, reason: String) -> Error {
    Error::OutcomeUnknown {
        key: name.to_owned(),
        operation,
        reason,
    }
}
