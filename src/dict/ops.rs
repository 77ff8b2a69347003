//! The single-key operations of [`PersiDict`]: plain and conditional reads and writes.

use std::time::SystemTime;

use super::{target, EntryMeta, PersiDict, Value};
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::error::{Error, Result};
use crate::key::Key;
use crate::semantics;

impl<V: Value> PersiDict<V> {
    /// Reads `key` if `condition` holds for `expected`; never mutates.
    pub async fn get_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        target!(self, key, name, t);
        let out = semantics::get_if(t, condition, expected, retrieve)
            .await
            .map_err(|e| e.for_key(&name, key))?;
        self.decode_outcome(key, out)
    }

    /// Writes, keeps or deletes `key` if `condition` holds for `expected`. When it does not
    /// hold nothing changes and the current value is reported per `retrieve`.
    ///
    /// With [`Retrieve::Always`] a written value is decoded from its encoding before
    /// anything is written, so a value that does not round-trip through the codec stores
    /// nothing.
    #[doc(alias = "cas")]
    pub async fn put_if(
        &self,
        key: &Key,
        write: Write<V>,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let (write, mine) = match write {
            Write::Value(v) => {
                let body = self.encode(key, &v)?;
                let mine = self.written_value(key, &body.bytes, retrieve)?;
                (Write::Value(body), Some(mine))
            }
            Write::KeepCurrent => (Write::KeepCurrent, None),
            Write::DeleteCurrent => {
                self.refuse_removal(key, "delete")?;
                (Write::DeleteCurrent, None)
            }
        };
        target!(self, key, name, t);
        let out = semantics::put_if(t, write, condition, expected, retrieve)
            .await
            .map_err(|e| e.for_key(&name, key))?;
        match mine {
            // A satisfied value write wrote our value.
            Some(mine) if out.satisfied => Ok(Outcome {
                satisfied: true,
                actual_etag: out.actual_etag,
                resulting_etag: out.resulting_etag,
                value: mine,
            }),
            _ => self.decode_outcome(key, out),
        }
    }

    /// Inserts `default` only if `key` is absent and `condition` holds; never overwrites.
    pub async fn setdefault_if(
        &self,
        key: &Key,
        default: V,
        condition: Condition,
        expected: Option<&ETag>,
        retrieve: Retrieve,
    ) -> Result<Outcome<V>> {
        let body = self.encode(key, &default)?;
        let mine = self.written_value(key, &body.bytes, retrieve)?;
        target!(self, key, name, t);
        let out = semantics::setdefault_if(t, body, condition, expected, retrieve)
            .await
            .map_err(|e| e.for_key(&name, key))?;
        if out.satisfied && out.actual_etag.is_none() && out.resulting_etag.is_some() {
            // Inserted: the value is ours.
            return Ok(Outcome {
                satisfied: true,
                actual_etag: None,
                resulting_etag: out.resulting_etag,
                value: mine,
            });
        }
        self.decode_outcome(key, out)
    }

    /// Deletes `key` if `condition` holds for `expected`. The outcome's value is
    /// [`Slot::Absent`] when the key is absent afterwards.
    pub async fn discard_if(
        &self,
        key: &Key,
        condition: Condition,
        expected: Option<&ETag>,
    ) -> Result<Outcome<V>> {
        self.refuse_removal(key, "delete")?;
        target!(self, key, name, t);
        let out = semantics::discard_if(t, condition, expected)
            .await
            .map_err(|e| e.for_key(&name, key))?;
        self.decode_outcome(key, out)
    }

    /// Stores `value` under `key` and returns the new ETag.
    pub async fn put(&self, key: &Key, value: V) -> Result<ETag> {
        let body = self.encode(key, &value)?;
        target!(self, key, name, t);
        semantics::put(t, body)
            .await
            .map_err(|e| e.for_key(&name, key))
    }

    /// Removes `key` if present; reports whether it was.
    pub async fn discard(&self, key: &Key) -> Result<bool> {
        self.refuse_removal(key, "delete")?;
        target!(self, key, name, t);
        let caps = self.store.capabilities().await?;
        semantics::discard(t, caps)
            .await
            .map_err(|e| e.for_key(&name, key))
    }

    /// Removes `key`; [`Error::NotFound`] if it is absent.
    pub async fn delete(&self, key: &Key) -> Result<()> {
        if self.discard(key).await? {
            Ok(())
        } else {
            Err(Error::NotFound { key: key.clone() })
        }
    }

    /// The value of `key`; [`Error::NotFound`] if it is absent.
    pub async fn get(&self, key: &Key) -> Result<V> {
        self.get_opt(key)
            .await?
            .ok_or_else(|| Error::NotFound { key: key.clone() })
    }

    /// The value of `key`, or `None` if it is absent.
    pub async fn get_opt(&self, key: &Key) -> Result<Option<V>> {
        Ok(self.get_with_etag(key).await?.map(|(v, _)| v))
    }

    /// The value and ETag of `key` from one read, or `None` if it is absent.
    pub async fn get_with_etag(&self, key: &Key) -> Result<Option<(V, ETag)>> {
        let out = self
            .get_if(key, Condition::Any, None, Retrieve::Always)
            .await?;
        Ok(match (out.value, out.actual_etag) {
            (Slot::Present(v), Some(e)) => Some((v, e)),
            _ => None,
        })
    }

    /// The entry's metadata without its value, or `None` if absent.
    pub async fn head(&self, key: &Key) -> Result<Option<EntryMeta>> {
        let name = self.object_name(key)?;
        Ok(self.store.head(&name).await?.map(|meta| EntryMeta {
            key: key.clone(),
            etag: meta.etag,
            size: meta.size,
            last_modified: meta.last_modified,
        }))
    }

    /// Whether `key` is present.
    pub async fn contains(&self, key: &Key) -> Result<bool> {
        Ok(self.head(key).await?.is_some())
    }

    /// The ETag of `key`; [`Error::NotFound`] if it is absent.
    pub async fn etag(&self, key: &Key) -> Result<ETag> {
        match self.head(key).await? {
            Some(EntryMeta { etag: Some(e), .. }) => Ok(e),
            Some(_) => Err(Error::backend(
                self.store.info().location,
                "HEAD",
                format!("the store reported no ETag for {key}"),
                false,
            )),
            None => Err(Error::NotFound { key: key.clone() }),
        }
    }

    /// When `key` was last written; [`Error::NotFound`] if it is absent.
    pub async fn timestamp(&self, key: &Key) -> Result<SystemTime> {
        match self.head(key).await? {
            Some(m) => Ok(m.last_modified),
            None => Err(Error::NotFound { key: key.clone() }),
        }
    }

    /// The value of `key`, inserting `default` first if the key is absent (one
    /// `PUT If-None-Match: *`, plus one GET when the key exists).
    pub async fn setdefault(&self, key: &Key, default: V) -> Result<V> {
        let out = self
            .setdefault_if(key, default, Condition::Any, None, Retrieve::Always)
            .await?;
        match out.value {
            Slot::Present(v) => Ok(v),
            // `setdefault_if` inserts again when the key vanishes after a refused insert,
            // and reads with `Always`: a present value is always reported.
            _ => Err(Error::ConcurrencyConflict {
                key: key.clone(),
                attempts: semantics::MAX_ATTEMPTS,
            }),
        }
    }

    /// Removes `key` and returns its value; [`Error::NotFound`] if it is absent. Atomic: the
    /// value returned is exactly the one removed, and two callers never pop the same value.
    pub async fn pop(&self, key: &Key) -> Result<V> {
        self.refuse_removal(key, "pop")?;
        target!(self, key, name, t);
        match semantics::pop(t).await.map_err(|e| e.for_key(&name, key))? {
            Some(bytes) => self.decode(key, bytes),
            None => Err(Error::NotFound { key: key.clone() }),
        }
    }

    /// Insert-if-absent: stores `value` only if `key` is absent (one
    /// `PUT If-None-Match: *`) and reports whether it did.
    #[doc(alias = "insert_if_absent")]
    #[doc(alias = "put_if_absent")]
    #[doc(alias = "create")]
    pub async fn insert(&self, key: &Key, value: V) -> Result<bool> {
        let out = self
            .put_if(
                key,
                Write::Value(value),
                Condition::Same,
                None,
                Retrieve::Never,
            )
            .await?;
        Ok(out.satisfied)
    }

    /// Deletes `key` only if its ETag is still `etag` (one `DELETE If-Match`); reports
    /// whether it did.
    #[doc(alias = "delete_if_match")]
    #[doc(alias = "compare_and_delete")]
    pub async fn delete_if(&self, key: &Key, etag: &ETag) -> Result<bool> {
        Ok(self
            .discard_if(key, Condition::Same, Some(etag))
            .await?
            .satisfied)
    }

    /// The slot a write reports for its own value: decoded from `bytes` with
    /// [`Retrieve::Always`], else not retrieved.
    fn written_value(
        &self,
        key: &Key,
        bytes: &bytes::Bytes,
        retrieve: Retrieve,
    ) -> Result<Slot<V>> {
        Ok(if retrieve == Retrieve::Always {
            Slot::Present(self.decode(key, bytes.clone())?)
        } else {
            Slot::NotRetrieved
        })
    }
}
