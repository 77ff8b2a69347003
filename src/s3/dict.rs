//! [`S3Dict`]: the typed dictionary over an [`S3Store`].

use std::sync::Arc;

use super::config::S3DictBuilder;
use super::presign::{Presign, PresignedRequest};
use super::probe::ProbeReport;
use super::stats::RequestStats;
use super::store::S3Store;
use crate::dict::{DictOptions, PersiDict, Value};
use crate::error::Result;
use crate::key::Key;

/// A dictionary whose entries are objects in an S3 bucket: a [`PersiDict`] over an
/// [`S3Store`]. Every [`PersiDict`] method is available through `Deref`; this type adds
/// what is particular to S3 (request counters, the client, the probe report).
///
/// Build one with [`S3Dict::builder`]. Clones and subdictionaries share one client, one
/// request counter and the probed capabilities.
///
/// ```no_run
/// # async fn demo() -> persidict::Result<()> {
/// use persidict::prelude::*;
/// use persidict::S3Dict;
///
/// let d: S3Dict<String> = S3Dict::builder("my-bucket")
///     .root_prefix("app/cache")
///     .endpoint_url("http://127.0.0.1:8333")
///     .build()
///     .await?;
/// d.put(&Key::try_from("greeting")?, "hello".into()).await?;
/// # Ok(()) }
/// ```
pub struct S3Dict<V> {
    store: S3Store,
    /// The subdictionary prefix, in key parts.
    prefix: Vec<String>,
    dict: PersiDict<V>,
}

impl<V> Clone for S3Dict<V> {
    fn clone(&self) -> Self {
        S3Dict {
            store: self.store.clone(),
            prefix: self.prefix.clone(),
            dict: self.dict.clone(),
        }
    }
}

impl<V> std::fmt::Debug for S3Dict<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Dict")
            .field("endpoint", &self.store.endpoint())
            .field("root", &self.store.root())
            .field("prefix", &self.prefix)
            .field("dict", &self.dict)
            .finish_non_exhaustive()
    }
}

impl S3Dict<()> {
    /// Starts configuring a dictionary on `bucket`; the value type is chosen by
    /// [`S3DictBuilder::build`].
    pub fn builder(bucket: impl Into<String>) -> S3DictBuilder {
        S3DictBuilder::new(bucket)
    }
}

impl S3DictBuilder {
    /// Builds the dictionary (loads the AWS configuration; no request is sent unless the
    /// bucket is to be created).
    ///
    /// # Errors
    /// [`Error::Config`](crate::Error::Config) for an empty bucket name, a bad root prefix
    /// or a `digest_len` over 52; what creating the bucket reports.
    pub async fn build<V: Value>(self) -> Result<S3Dict<V>> {
        let (store, settings) = self.connect().await?;
        let options = DictOptions {
            codec: settings.codec,
            digest_len: settings.digest_len,
            append_only: settings.append_only,
            max_value_size: settings.max_value_size,
            concurrency: settings.concurrency,
        };
        let dict = PersiDict::with_options(Arc::new(store.clone()), options)?;
        Ok(S3Dict {
            store,
            prefix: Vec::new(),
            dict,
        })
    }
}

impl<V: Value> S3Dict<V> {
    /// The request and byte counters of this dictionary's client, shared with its clones
    /// and subdictionaries. A dictionary built with
    /// [`S3DictBuilder::client`]`(other.client().clone())` gets counters of its own, and
    /// its requests are counted by `other`'s counters too (the client keeps `other`'s
    /// counting interceptor).
    pub fn stats(&self) -> &RequestStats {
        self.store.stats()
    }

    /// The bucket.
    pub fn bucket(&self) -> &str {
        self.store.bucket()
    }

    /// The underlying S3 client.
    pub fn client(&self) -> &aws_sdk_s3::Client {
        self.store.client()
    }

    /// The store under the dictionary.
    pub fn s3_store(&self) -> &S3Store {
        &self.store
    }

    /// A subdictionary as an `S3Dict`, sharing the client.
    pub fn subdict(&self, prefix: &Key) -> S3Dict<V> {
        S3Dict {
            store: self.store.clone(),
            prefix: [self.prefix.as_slice(), prefix.parts()].concat(),
            dict: self.dict.subdict(prefix),
        }
    }

    /// The S3 object key of `key` (root prefix and subdictionary prefix included).
    pub fn object_name(&self, key: &Key) -> Result<String> {
        let name = self.dict.object_name(key)?;
        let dir = self.dict_prefix();
        Ok(self.store.object_key(&format!("{dir}{name}")))
    }

    /// The signed name prefix of this subdictionary below the root (empty or ending in
    /// `/`).
    fn dict_prefix(&self) -> String {
        self.dict.naming().dir_prefix(&self.prefix)
    }

    /// Signs a request for `key` that anyone holding it can send with a plain HTTP client
    /// until it expires: read the value ([`Presign::Get`]), write it ([`Presign::Put`]),
    /// or create it only ([`Presign::Insert`], `If-None-Match: *` signed, so the holder
    /// can never overwrite). A PUT's body must be the value encoded with this
    /// dictionary's codec; its `Content-Type` is signed. Sends no request (an `Insert`
    /// may probe the endpoint once); see [`presign`](super::presign).
    ///
    /// ```no_run
    /// # async fn demo(d: persidict::S3Dict<String>) -> persidict::Result<()> {
    /// use std::time::Duration;
    /// use persidict::s3::Presign;
    /// use persidict::Key;
    ///
    /// let upload = d
    ///     .presign(&Key::try_from("reports/2026")?, Presign::Insert, Duration::from_secs(3600))
    ///     .await?;
    /// println!("{}", upload.curl("report.bin")); // one upload, never an overwrite
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`Error::AppendOnly`](crate::Error::AppendOnly) for a `Put` on an append-only
    /// dictionary (use `Insert`); [`Error::Unsupported`](crate::Error::Unsupported) for
    /// an `Insert` where `If-None-Match: *` is not enforced; [`Error::Config`](crate::Error::Config)
    /// for an expiry over [`MAX_PRESIGNED_EXPIRY`](super::MAX_PRESIGNED_EXPIRY).
    #[doc(alias = "presigned_url")]
    pub async fn presign(
        &self,
        key: &Key,
        what: Presign,
        expires_in: std::time::Duration,
    ) -> Result<PresignedRequest> {
        let options = self.dict.options();
        if what == Presign::Put && options.append_only {
            return Err(crate::Error::append_only(key, "presigned overwrite"));
        }
        let name = format!("{}{}", self.dict_prefix(), self.dict.object_name(key)?);
        let content_type = options.codec.content_type();
        self.store
            .presign(&name, what, content_type, expires_in)
            .await
    }

    /// Runs the capability probe now and reports, for each capability, the request sent,
    /// the server's answer and the verdict (the CLI's `probe`).
    pub async fn probe_report(&self) -> Result<ProbeReport> {
        self.store.probe_report().await
    }
}

/// Checks at compile time that dictionaries can move between tasks.
const _: () = {
    const fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<S3Dict<u64>>();
};

crate::dict::typed_newtype!(S3Dict<V>);
