//! persidict's conditional semantics, written once, over any [`ObjectStore`].
//!
//! Each function turns a (`Condition`, expected ETag, [`Retrieve`], [`Write`]) into the
//! fewest precondition requests on the byte core, and builds the [`Outcome`] from the
//! answers. Every backend gets exactly these semantics; a backend only says what its
//! server refused. The typed dictionary ([`crate::PersiDict`]) encodes and decodes around
//! these functions; users who store bytes can call them directly.
//!
//! | operation | requests (where the store enforces the preconditions) |
//! |---|---|
//! | [`get_if`] | 1 GET (`If-None-Match: e` for `IfChanged` with `Some(e)`), or 1 HEAD for `Retrieve::Never` |
//! | [`put_if`] `Same` | 1 PUT `If-Match: e` / `If-None-Match: *`; a refusal + 1 GET or HEAD |
//! | [`put_if`] `Any`, `Changed` | 1 HEAD + 1 PUT conditioned on the ETag the HEAD saw |
//! | [`setdefault_if`] | 1 PUT `If-None-Match: *` (+ 1 GET or HEAD when the key exists) |
//! | [`discard_if`] `Same, Some(e)` | 1 DELETE `If-Match: e` |
//! | [`discard`] | 1 DELETE `If-Match: *` with [`Capabilities::delete_if_exists`], else HEAD + DELETE `If-Match` |
//! | [`pop`] | 1 GET + 1 DELETE `If-Match` |
//!
//! # Atomicity
//! Every outcome is atomic with respect to the `actual_etag` it reports: where a HEAD
//! learns the actual ETag, the write that follows is conditioned on exactly that ETag, and
//! a refusal re-observes the key and evaluates the condition again. An operation whose
//! condition does not hold on the re-observed state returns that outcome at once, so a
//! condition that fails is never an error however busy the key is. One whose condition
//! keeps holding while the key keeps changing under it (only `Any` and `Changed`, or an
//! insert that keeps finding the key deleted) tries [`MAX_ATTEMPTS`] times with jittered
//! backoff, then gives [`Error::ConcurrencyConflict`] having written nothing.

use std::time::Duration;

use bytes::Bytes;

use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::error::{Error, Result};
use crate::store::{
    Capabilities, DeleteCondition, DeleteResult, ObjectStore, Read, ReadOptions, WriteCondition,
    WriteResult,
};

/// How often an operation re-evaluates its condition after losing a race, at most.
pub const MAX_ATTEMPTS: u32 = 50;

/// A value to write: its bytes and the `Content-Type` to store them with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    /// The bytes.
    pub bytes: Bytes,
    /// The content type.
    pub content_type: &'static str,
}

/// What a conditional operation is about: a store, one object name in it, and the largest
/// body to read.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The store.
    pub store: &'a dyn ObjectStore,
    /// The object name.
    pub name: &'a str,
    /// Reads of larger bodies give [`Error::ValueTooLarge`] (through `too_large`).
    pub max_size: Option<u64>,
    /// Makes the error for a body of `size` bytes over `max_size`.
    pub too_large: &'a (dyn Fn(u64) -> Error + Sync),
    /// Names the operation's subject in [`Error::ConcurrencyConflict`].
    pub contended: &'a (dyn Fn(u32) -> Error + Sync),
}

/// What one observation of the key found.
struct State {
    etag: Option<ETag>,
    /// The value as far as this observation saw it (`NotRetrieved`: present, not fetched).
    value: Slot<Bytes>,
}

impl Target<'_> {
    /// One read of the key: a HEAD when the value is not wanted, else a GET
    /// (`If-None-Match: expected` when the value is wanted only if it changed).
    async fn observe(&self, expected: Option<&ETag>, retrieve: Retrieve) -> Result<State> {
        if retrieve == Retrieve::Never {
            return self.peek().await;
        }
        let if_none_match = match retrieve {
            Retrieve::IfChanged => expected.cloned(),
            _ => None,
        };
        let options = ReadOptions {
            if_none_match,
            max_size: self.max_size,
        };
        Ok(match self.store.read(self.name, options).await? {
            Read::Absent => State {
                etag: None,
                value: Slot::Absent,
            },
            Read::NotModified { etag } => State {
                etag: Some(etag),
                value: Slot::NotRetrieved,
            },
            Read::Found(object) => {
                let etag = object.meta.etag;
                // A server that ignores If-None-Match sends the same object again.
                let value = if retrieve.wants_value(expected, etag.as_ref()) {
                    Slot::Present(object.body)
                } else {
                    Slot::NotRetrieved
                };
                State { etag, value }
            }
            Read::TooLarge { size } => return Err((self.too_large)(size)),
        })
    }

    /// A HEAD.
    async fn peek(&self) -> Result<State> {
        Ok(match self.store.head(self.name).await? {
            None => State {
                etag: None,
                value: Slot::Absent,
            },
            Some(meta) => State {
                etag: meta.etag,
                value: Slot::NotRetrieved,
            },
        })
    }
}

/// The jittered backoff before attempt `attempt + 1`.
fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(2u64 << attempt.min(7)).min(Duration::from_millis(250));
    cap.mul_f64(fastrand::f64())
}

/// The value slot after writing `body` ourselves.
fn written(body: &Body, retrieve: Retrieve) -> Slot<Bytes> {
    if retrieve == Retrieve::Always {
        Slot::Present(body.bytes.clone())
    } else {
        Slot::NotRetrieved
    }
}

/// Reads the key if `condition` holds for `expected`; never mutates.
pub async fn get_if(
    t: Target<'_>,
    condition: Condition,
    expected: Option<&ETag>,
    retrieve: Retrieve,
) -> Result<Outcome<Bytes>> {
    let state = t.observe(expected, retrieve).await?;
    let satisfied = condition.holds(expected, state.etag.as_ref());
    Ok(Outcome::unchanged(satisfied, state.etag, state.value))
}

/// Writes, keeps or deletes the key if `condition` holds for `expected`; when it does not
/// hold nothing changes and the current value is reported per `retrieve`.
pub async fn put_if(
    t: Target<'_>,
    write: Write<Body>,
    condition: Condition,
    expected: Option<&ETag>,
    retrieve: Retrieve,
) -> Result<Outcome<Bytes>> {
    let body = match write {
        // Keeping the value never creates a key: a read is all it takes.
        Write::KeepCurrent => return get_if(t, condition, expected, retrieve).await,
        Write::Value(body) => Some(body),
        Write::DeleteCurrent => None,
    };
    // What we know of the key; `None` before the first observation.
    let mut known: Option<State> = None;
    for attempt in 1..=MAX_ATTEMPTS {
        let state = match known.take() {
            Some(state) => state,
            // `Same` conditions the request on `expected` itself: no HEAD needed, a wrong
            // guess is refused by the store. Not for deleting an expected-absent key: no
            // request would refuse it, so look first.
            None if condition == Condition::Same && (body.is_some() || expected.is_some()) => {
                State {
                    etag: expected.cloned(),
                    value: Slot::NotRetrieved,
                }
            }
            None => t.peek().await?,
        };
        if !condition.holds(expected, state.etag.as_ref()) {
            // Report the value per `retrieve`, reading it if this observation did not.
            let wants = state.etag.is_some() && retrieve.wants_value(expected, state.etag.as_ref());
            if !wants {
                let value = absent_or_not_retrieved(&state);
                return Ok(Outcome::unchanged(false, state.etag, value));
            }
            if state.value.is_present() {
                return Ok(Outcome::unchanged(false, state.etag, state.value));
            }
            let fresh = t.observe(expected, retrieve).await?;
            if !condition.holds(expected, fresh.etag.as_ref()) {
                return Ok(Outcome::unchanged(false, fresh.etag, fresh.value));
            }
            // The key changed between the two reads, and now the condition holds.
            known = Some(fresh);
            continue;
        }
        if attempt > 1 {
            // An earlier write lost a race and the condition still holds: back off before
            // trying again.
            tokio::time::sleep(backoff(attempt)).await;
        }
        let actual = state.etag;
        let applied = match &body {
            Some(body) => {
                let pre = match &actual {
                    Some(e) => WriteCondition::IfMatch(e.clone()),
                    None => WriteCondition::IfAbsent,
                };
                match t
                    .store
                    .write(t.name, body.bytes.clone(), body.content_type, pre)
                    .await?
                {
                    WriteResult::Written(etag) => Some((Some(etag), written(body, retrieve))),
                    WriteResult::Refused => None,
                }
            }
            None => match &actual {
                // Deleting an absent key changes nothing.
                None => Some((None, Slot::Absent)),
                Some(e) => match t
                    .store
                    .delete(t.name, DeleteCondition::IfMatch(e.clone()))
                    .await?
                {
                    DeleteResult::Deleted => Some((None, Slot::Absent)),
                    DeleteResult::Refused => None,
                },
            },
        };
        if let Some((resulting_etag, value)) = applied {
            return Ok(Outcome {
                satisfied: true,
                actual_etag: actual,
                resulting_etag,
                value,
            });
        }
        // Refused: the key is not as assumed. Look again; the read may already carry the
        // value to report.
        known = Some(t.observe(expected, retrieve).await?);
    }
    Err((t.contended)(MAX_ATTEMPTS))
}

fn absent_or_not_retrieved(state: &State) -> Slot<Bytes> {
    if state.etag.is_none() {
        Slot::Absent
    } else {
        Slot::NotRetrieved
    }
}

/// Inserts `default` only if the key is absent and `condition` holds; never overwrites.
pub async fn setdefault_if(
    t: Target<'_>,
    default: Body,
    condition: Condition,
    expected: Option<&ETag>,
    retrieve: Retrieve,
) -> Result<Outcome<Bytes>> {
    if !condition.holds(expected, None) {
        // Inserting needs the key absent, and then the condition fails: a read will do.
        return get_if(t, condition, expected, retrieve).await;
    }
    for attempt in 1..=MAX_ATTEMPTS {
        match t
            .store
            .write(
                t.name,
                default.bytes.clone(),
                default.content_type,
                WriteCondition::IfAbsent,
            )
            .await?
        {
            WriteResult::Written(etag) => {
                return Ok(Outcome {
                    satisfied: true,
                    actual_etag: None,
                    resulting_etag: Some(etag),
                    value: written(&default, retrieve),
                })
            }
            WriteResult::Refused => {
                let state = t.observe(expected, retrieve).await?;
                if state.etag.is_some() {
                    let satisfied = condition.holds(expected, state.etag.as_ref());
                    return Ok(Outcome::unchanged(satisfied, state.etag, state.value));
                }
                // Deleted between the refusal and the read: try the insert again.
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
    }
    Err((t.contended)(MAX_ATTEMPTS))
}

/// Deletes the key if `condition` holds for `expected`. The outcome's value is
/// [`Slot::Absent`] when the key is absent afterwards.
pub async fn discard_if(
    t: Target<'_>,
    condition: Condition,
    expected: Option<&ETag>,
) -> Result<Outcome<Bytes>> {
    put_if(
        t,
        Write::DeleteCurrent,
        condition,
        expected,
        Retrieve::Never,
    )
    .await
}

/// Stores `body` unconditionally and returns its ETag.
pub async fn put(t: Target<'_>, body: Body) -> Result<ETag> {
    match t
        .store
        .write(
            t.name,
            body.bytes,
            body.content_type,
            WriteCondition::Always,
        )
        .await?
    {
        WriteResult::Written(etag) => Ok(etag),
        WriteResult::Refused => Err(Error::backend(
            t.store.info().location,
            "PUT",
            format!("{}: the store refused an unconditional write", t.name),
            false,
        )),
    }
}

/// Removes the key if present; reports whether it was.
///
/// With [`Capabilities::delete_if_exists`] one `DELETE If-Match: *` both deletes and
/// tells. Otherwise a HEAD finds the ETag and the DELETE is conditioned on it (where
/// compare-and-delete is enforced), so the answer is exact; a refusal means the key was
/// rewritten meanwhile, and it looks again (bounded, with backoff). Where nothing is
/// enforced the DELETE is plain and the answer is what the HEAD saw.
pub async fn discard(t: Target<'_>, caps: Capabilities) -> Result<bool> {
    if caps.delete_if_exists {
        return Ok(
            t.store.delete(t.name, DeleteCondition::IfExists).await? == DeleteResult::Deleted
        );
    }
    for attempt in 1..=MAX_ATTEMPTS {
        let Some(meta) = t.store.head(t.name).await? else {
            return Ok(false);
        };
        let condition = match meta.etag {
            Some(e) if caps.delete_if_match => DeleteCondition::IfMatch(e),
            _ => DeleteCondition::Always,
        };
        if t.store.delete(t.name, condition).await? == DeleteResult::Deleted {
            return Ok(true);
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
    Err((t.contended)(MAX_ATTEMPTS))
}

/// Removes the key and returns the bytes removed, or `None` when it is absent: a GET, then
/// a DELETE conditioned on the ETag read, so the bytes returned are exactly the ones
/// removed and no two callers pop the same value. Bounded, with backoff, when writers keep
/// changing the key in between.
pub async fn pop(t: Target<'_>) -> Result<Option<Bytes>> {
    for attempt in 1..=MAX_ATTEMPTS {
        let state = t.observe(None, Retrieve::Always).await?;
        let (Some(etag), Slot::Present(bytes)) = (state.etag, state.value) else {
            return Ok(None);
        };
        match t
            .store
            .delete(t.name, DeleteCondition::IfMatch(etag))
            .await?
        {
            DeleteResult::Deleted => return Ok(Some(bytes)),
            DeleteResult::Refused => tokio::time::sleep(backoff(attempt)).await,
        }
    }
    Err((t.contended)(MAX_ATTEMPTS))
}
