//! [`EmptyStore`]: a store that keeps nothing.

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt};
use sha2::{Digest, Sha256};

use super::{
    check_name, Capabilities, DeleteCondition, DeleteResult, ObjectMeta, ObjectStore, Read,
    ReadOptions, StoreInfo, WriteCondition, WriteResult, MAX_NAME_LEN,
};
use crate::cond::ETag;
use crate::error::Result;

/// A store that keeps nothing: the null object among stores. It is always empty, and every
/// request is answered as a store would answer it if each write vanished at once:
///
/// | request | answer |
/// |---|---|
/// | `read`, `head` | absent |
/// | `write(Always)`, `write(IfAbsent)` | [`WriteResult::Written`] (the object is absent, so an insert's condition holds), with the ETag `"e<hex SHA-256 of the body>"`; nothing is kept |
/// | `write(IfMatch(_))` | [`WriteResult::Refused`]: no object has that ETag |
/// | `delete(Always)` | [`DeleteResult::Deleted`] |
/// | `delete(IfExists)`, `delete(IfMatch(_))` | [`DeleteResult::Refused`]: nothing exists |
/// | `list` | empty; `delete_many`: nothing to do |
///
/// It enforces every precondition ([`Capabilities::ALL`]) trivially. Names are still
/// checked ([`check_name`]), so a bad name is an error here as anywhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmptyStore;

impl EmptyStore {
    /// The store.
    pub fn new() -> EmptyStore {
        EmptyStore
    }
}

fn etag_of(body: &[u8]) -> ETag {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    ETag::new(format!("\"e{hex}\""))
}

#[async_trait]
impl ObjectStore for EmptyStore {
    fn info(&self) -> StoreInfo {
        StoreInfo {
            backend: "empty",
            location: "empty://".to_owned(),
            append_only: false,
            max_name_len: MAX_NAME_LEN,
        }
    }

    async fn capabilities(&self) -> Result<Capabilities> {
        Ok(Capabilities::ALL)
    }

    async fn read(&self, name: &str, _options: ReadOptions) -> Result<Read> {
        check_name(name)?;
        Ok(Read::Absent)
    }

    async fn head(&self, name: &str) -> Result<Option<ObjectMeta>> {
        check_name(name)?;
        Ok(None)
    }

    async fn write(
        &self,
        name: &str,
        body: Bytes,
        _content_type: &str,
        condition: WriteCondition,
    ) -> Result<WriteResult> {
        check_name(name)?;
        Ok(if condition.holds(None) {
            WriteResult::Written(etag_of(&body))
        } else {
            WriteResult::Refused
        })
    }

    async fn delete(&self, name: &str, condition: DeleteCondition) -> Result<DeleteResult> {
        check_name(name)?;
        Ok(if condition.holds(None) {
            DeleteResult::Deleted
        } else {
            DeleteResult::Refused
        })
    }

    fn list(&self, _prefix: &str) -> BoxStream<'static, Result<ObjectMeta>> {
        stream::empty().boxed()
    }

    async fn delete_many(&self, names: Vec<String>) -> Result<()> {
        names.iter().try_for_each(|n| check_name(n))
    }
}
