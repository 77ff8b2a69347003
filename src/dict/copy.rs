//! Copies and renames of keys, inside one dictionary and between dictionaries: on S3 a
//! server-side `CopyObject`, the value never passing through the client.
//!
//! | operation | requests on S3 (where the preconditions are enforced) |
//! |---|---|
//! | [`copy`](PersiDict::copy) | 1 CopyObject (+ 1 HEAD of the source when refused) |
//! | [`copy_to`](PersiDict::copy_to) a dictionary on the same endpoint | the same; another backend: GET + PUT |
//! | [`rename`](PersiDict::rename) | HEAD (skipped when the source's ETag is given) + CopyObject pinned to it + DELETE `If-Match` |
//!
//! # Renames are two writes
//! A rename is a copy pinned to the source's ETag, then `DELETE If-Match: <that ETag>`
//! of the source. No S3 request moves an object, so a rename is never atomic on S3:
//! between the two requests both keys hold the value, and a crash (or a lost connection)
//! between them leaves both. Run the same rename again to finish it: the copy is refused
//! or repeated, and the delete removes the source if it is still the version copied. A
//! writer that changes the source between the copy and the delete keeps its change: the
//! delete is refused and [`Renamed::CopiedSourceKept`] says so.

use super::{PersiDict, Value};
use crate::cond::ETag;
use crate::error::{Error, Result};
use crate::key::Key;
use crate::store::{CopyResult, DeleteCondition, DeleteResult, WriteCondition};

/// The preconditions of a copy or rename: the destination's [`WriteCondition`] (default
/// [`WriteCondition::Always`]) and, optionally, the ETag the source must still have.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct CopyOptions {
    /// The source must still have this ETag (`x-amz-copy-source-if-match`); else the
    /// copy reports [`CopyResult::SourceChanged`].
    pub source_etag: Option<ETag>,
    /// What the destination must be for the copy to be made.
    pub condition: WriteCondition,
}

impl Default for CopyOptions {
    fn default() -> Self {
        CopyOptions {
            source_etag: None,
            condition: WriteCondition::Always,
        }
    }
}

impl CopyOptions {
    /// Copy whatever the destination holds (it is replaced).
    pub fn new() -> Self {
        Self::default()
    }

    /// Copy only if the destination is absent (`If-None-Match: *`).
    #[doc(alias = "no_clobber")]
    pub fn if_absent() -> Self {
        CopyOptions {
            condition: WriteCondition::IfAbsent,
            ..Self::default()
        }
    }

    /// Copy only if the destination still has `etag` (`If-Match`): a compare-and-swap
    /// of the destination.
    pub fn if_match(etag: ETag) -> Self {
        CopyOptions {
            condition: WriteCondition::IfMatch(etag),
            ..Self::default()
        }
    }

    /// Copy only the version of the source with `etag`.
    pub fn source_etag(mut self, etag: ETag) -> Self {
        self.source_etag = Some(etag);
        self
    }
}

/// What a [`rename`](PersiDict::rename) did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
#[non_exhaustive]
pub enum Renamed {
    /// The value moved: the destination holds it with this ETag and the source is gone.
    Renamed(ETag),
    /// The destination holds a copy (with this ETag), but the source changed after the
    /// copy, so the delete was refused and the source was kept with its new value.
    CopiedSourceKept(ETag),
    /// The destination's condition did not hold; nothing changed.
    Refused,
    /// The source is absent; nothing changed.
    SourceAbsent,
    /// The source changed before the copy (it no longer had the ETag given, or read);
    /// nothing changed. Try again.
    SourceChanged,
}

impl Renamed {
    /// Whether the source is gone and the destination holds its value.
    pub fn is_renamed(&self) -> bool {
        matches!(self, Renamed::Renamed(_))
    }
}

impl<V: Value> PersiDict<V> {
    /// Copies the value of `from` to `to` if the preconditions of `options` hold (on S3
    /// one `CopyObject`, the value staying on the server; see the module docs of
    /// [`crate::s3`]). A precondition that does not hold is a [`CopyResult`], not an
    /// error.
    ///
    /// ```
    /// # tokio_test::block_on(async {
    /// use persidict::prelude::*;
    /// use persidict::dict::CopyOptions;
    ///
    /// let d = MemDict::<String>::new();
    /// let (a, b) = (Key::try_from("a")?, Key::try_from("b")?);
    /// d.put(&a, "hello".into()).await?;
    /// assert!(d.copy(&a, &b, CopyOptions::if_absent()).await?.is_copied());
    /// assert!(!d.copy(&a, &b, CopyOptions::if_absent()).await?.is_copied()); // b exists
    /// assert_eq!(d.get(&b).await?, "hello");
    /// # Ok::<(), persidict::Error>(()) }).unwrap();
    /// ```
    ///
    /// # Errors
    /// [`Error::Unsupported`] where the store cannot enforce a precondition asked for
    /// (on S3: `CopyObject` with `If-None-Match: *`, `If-Match` or
    /// `x-amz-copy-source-if-match`; probed); [`Error::AppendOnly`] for a copy that would
    /// replace a value of an append-only dictionary.
    #[doc(alias = "cp")]
    pub async fn copy(&self, from: &Key, to: &Key, options: CopyOptions) -> Result<CopyResult> {
        self.copy_to(from, self, to, options).await
    }

    /// Copies the value of `from` in this dictionary to `to` in `dest`, as
    /// [`copy`](PersiDict::copy) does. Between S3 dictionaries on the same endpoint the
    /// copy is one `CopyObject` (the destination's credentials must be allowed to read
    /// the source); between other backends the value is read and written (GET + PUT).
    /// The bytes are copied as stored, so the two dictionaries must use the same codec.
    ///
    /// # Errors
    /// [`Error::Config`] when the codecs differ; as [`copy`](PersiDict::copy).
    pub async fn copy_to(
        &self,
        from: &Key,
        dest: &PersiDict<V>,
        to: &Key,
        options: CopyOptions,
    ) -> Result<CopyResult> {
        let (from_name, to_name) = self.copy_names(from, dest, to)?;
        dest.store
            .copy_from(
                &*self.store,
                &from_name,
                &to_name,
                options.source_etag,
                dest.options.codec.content_type(),
                options.condition,
            )
            .await
            .map_err(|e| e.for_key(&to_name, to).for_key(&from_name, from))
    }

    /// Moves the value of `from` to `to` if the destination's condition of `options`
    /// holds: a copy pinned to the source's ETag (the one given in `options`, else one
    /// HEAD reads it), then `DELETE If-Match: <that ETag>` of the source. Never atomic
    /// on S3 (see the module docs of [`crate::dict`]): [`Renamed`] says what happened.
    ///
    /// # Errors
    /// [`Error::AppendOnly`] on an append-only dictionary (nothing is sent);
    /// [`Error::Config`] for a rename of a key to itself; as [`copy`](PersiDict::copy).
    #[doc(alias = "mv")]
    #[doc(alias = "move")]
    pub async fn rename(&self, from: &Key, to: &Key, options: CopyOptions) -> Result<Renamed> {
        self.rename_to(from, self, to, options).await
    }

    /// [`rename`](PersiDict::rename) to `to` in another dictionary `dest` (the copy as
    /// in [`copy_to`](PersiDict::copy_to)).
    ///
    /// # Errors
    /// As [`rename`](PersiDict::rename) and [`copy_to`](PersiDict::copy_to).
    pub async fn rename_to(
        &self,
        from: &Key,
        dest: &PersiDict<V>,
        to: &Key,
        options: CopyOptions,
    ) -> Result<Renamed> {
        self.refuse_removal(from, "rename")?;
        let (from_name, to_name) = self.copy_names(from, dest, to)?;
        // The same object: the same name in the same store, or where the stores say where
        // they keep objects (S3: bucket and key), the same place.
        let same_object = (from_name == to_name
            && std::sync::Arc::ptr_eq(&self.store, &dest.store))
            || self
                .store
                .copy_source(&from_name)
                .is_some_and(|here| Some(here) == dest.store.copy_source(&to_name));
        if same_object {
            return Err(Error::Config(format!(
                "rename of {from} to itself: the delete after the copy would remove the value"
            )));
        }
        let source_etag = match options.source_etag {
            Some(etag) => etag,
            None => match self.store.head(&from_name).await? {
                None => return Ok(Renamed::SourceAbsent),
                Some(meta) => meta.etag.ok_or_else(|| {
                    Error::backend(
                        self.store.info().location,
                        "HEAD",
                        format!("{from}: the store reported no ETag"),
                        false,
                    )
                })?,
            },
        };
        let copied = self
            .copy_to(
                from,
                dest,
                to,
                CopyOptions {
                    source_etag: Some(source_etag.clone()),
                    condition: options.condition,
                },
            )
            .await?;
        let etag = match copied {
            CopyResult::Copied(etag) => etag,
            CopyResult::Refused => return Ok(Renamed::Refused),
            CopyResult::SourceAbsent => return Ok(Renamed::SourceAbsent),
            CopyResult::SourceChanged => return Ok(Renamed::SourceChanged),
        };
        let deleted = self
            .store
            .delete(&from_name, DeleteCondition::IfMatch(source_etag))
            .await
            .map_err(|e| e.for_key(&from_name, from))?;
        Ok(match deleted {
            DeleteResult::Deleted => Renamed::Renamed(etag),
            DeleteResult::Refused => Renamed::CopiedSourceKept(etag),
        })
    }

    /// The object names of a copy's source and destination; the codecs must agree.
    fn copy_names(&self, from: &Key, dest: &PersiDict<V>, to: &Key) -> Result<(String, String)> {
        if self.options.codec != dest.options.codec {
            return Err(Error::Config(format!(
                "cannot copy {from} from a {} dictionary to a {} one: values are copied as \
                 stored, so both must use the same codec",
                self.options.codec, dest.options.codec
            )));
        }
        Ok((self.object_name(from)?, dest.object_name(to)?))
    }
}
