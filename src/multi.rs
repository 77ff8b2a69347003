//! [`OverlappingMultiDict`]: several dictionaries on one root that differ only in codec.
//!
//! Each view is a [`PersiDict`] over the same store (the same directory, bucket and
//! prefix, or memory), with the same settings (digest length, append-only, size limit,
//! concurrency) and its own [`Codec`]. The codec's extension is part of every object name
//! (`a_xxxx.json`, `a_xxxx.bin`), so the views *overlap* in place but not in content: each
//! view sees only the objects of its own codec. The same key can hold a JSON value in one
//! view and a bincode value in another; clearing one view leaves the others' entries.
//!
//! ```
//! # tokio_test::block_on(async {
//! use persidict::prelude::*;
//! use persidict::OverlappingMultiDict;
//!
//! let multi = OverlappingMultiDict::new(&MemDict::<()>::new(), &[Codec::Json, Codec::Bincode])?;
//! let json = multi.view::<String>(Codec::Json)?;
//! let bin = multi.view::<u64>(Codec::Bincode)?;
//! let k = Key::try_from("report")?;
//! json.put(&k, "readable".into()).await?;
//! bin.put(&k, 7).await?;
//! assert_eq!(json.get(&k).await?, "readable");
//! assert_eq!(bin.get(&k).await?, 7);
//! assert_eq!(json.len().await?, 1); // only its own codec's objects
//! assert!(matches!(multi.view::<String>(Codec::Text), Err(Error::CodecNotDeclared { .. })));
//! # Ok::<(), persidict::Error>(()) }).unwrap();
//! ```

use std::sync::Arc;

use crate::codec::Codec;
use crate::dict::{DictOptions, PersiDict, Value};
use crate::error::{Error, Result};
use crate::file::FileDictBuilder;
use crate::key::Key;
use crate::store::ObjectStore;

/// One root shared by views that differ only in codec; see the
/// [module documentation](self). Cheap to clone.
#[derive(Debug, Clone)]
pub struct OverlappingMultiDict {
    /// A dictionary over the root; its codec is replaced in each view.
    root: PersiDict<()>,
    codecs: Vec<Codec>,
}

impl OverlappingMultiDict {
    /// Views of `dict`'s store with `dict`'s settings, one per codec of `codecs`. `dict`'s
    /// own codec does not matter (it is a view only if it is in `codecs`).
    ///
    /// # Errors
    /// [`Error::Config`] when `codecs` is empty or names a codec twice.
    pub fn new<V: Value>(
        dict: &impl AsRef<PersiDict<V>>,
        codecs: &[Codec],
    ) -> Result<OverlappingMultiDict> {
        let dict = dict.as_ref();
        OverlappingMultiDict::over_store(Arc::clone(dict.store()), dict.options(), codecs)
    }

    /// Views of `store` with `options` (whose codec is replaced in each view), one per codec
    /// of `codecs`.
    ///
    /// # Errors
    /// [`Error::Config`] when `codecs` is empty or names a codec twice, or for a
    /// `digest_len` over 52.
    pub fn over_store(
        store: Arc<dyn ObjectStore>,
        options: DictOptions,
        codecs: &[Codec],
    ) -> Result<OverlappingMultiDict> {
        if codecs.is_empty() {
            return Err(Error::Config(
                "an overlapping multi-dictionary needs at least one codec".to_owned(),
            ));
        }
        for (i, c) in codecs.iter().enumerate() {
            if codecs[..i].contains(c) {
                return Err(Error::Config(format!(
                    "codec {c} is declared twice for one overlapping multi-dictionary"
                )));
            }
        }
        Ok(OverlappingMultiDict {
            root: PersiDict::with_options(store, options)?,
            codecs: codecs.to_vec(),
        })
    }

    /// Builds the directory's dictionary and its views, one per codec of `codecs` (the
    /// builder's codec does not matter).
    ///
    /// # Errors
    /// As [`FileDictBuilder::build`], and as [`new`](OverlappingMultiDict::new).
    pub async fn from_file(
        builder: FileDictBuilder,
        codecs: &[Codec],
    ) -> Result<OverlappingMultiDict> {
        let dict = builder.build::<()>().await?;
        OverlappingMultiDict::new(&dict, codecs)
    }

    /// Builds the bucket's dictionary and its views, one per codec of `codecs` (the
    /// builder's codec does not matter).
    ///
    /// # Errors
    /// As [`S3DictBuilder::build`](crate::S3DictBuilder::build), and as
    /// [`new`](OverlappingMultiDict::new).
    #[cfg(feature = "s3")]
    pub async fn from_s3(
        builder: crate::S3DictBuilder,
        codecs: &[Codec],
    ) -> Result<OverlappingMultiDict> {
        let dict = builder.build::<()>().await?;
        OverlappingMultiDict::new(&dict, codecs)
    }

    /// Opens the dictionary a URL names ([`open`](crate::open())) and makes its views, one
    /// per codec of `codecs` (a `codec=` parameter of the URL does not matter).
    ///
    /// # Errors
    /// As [`open`](crate::open()), and as [`new`](OverlappingMultiDict::new).
    pub async fn open(url: &str, codecs: &[Codec]) -> Result<OverlappingMultiDict> {
        let dict = crate::open::<()>(url).await?;
        OverlappingMultiDict::new(&dict, codecs)
    }

    /// The declared codecs, in the order given.
    pub fn codecs(&self) -> &[Codec] {
        &self.codecs
    }

    /// The view of values of type `V` with `codec`.
    ///
    /// # Errors
    /// [`Error::CodecNotDeclared`] for a codec that was not declared.
    pub fn view<V: Value>(&self, codec: Codec) -> Result<PersiDict<V>> {
        if !self.codecs.contains(&codec) {
            return Err(Error::CodecNotDeclared {
                codec,
                declared: self.codecs.clone(),
            });
        }
        Ok(self.root.with_codec(codec))
    }

    /// The multi-dictionary over the keys that start with `prefix`, with the same codecs.
    pub fn subdict(&self, prefix: &Key) -> OverlappingMultiDict {
        OverlappingMultiDict {
            root: self.root.subdict(prefix),
            codecs: self.codecs.clone(),
        }
    }

    /// The store all views share.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        self.root.store()
    }
}
