//! Server-side copies: the `CopyObject` behind [`S3Store`](super::S3Store)'s `copy`,
//! `copy_from` and `restore_version`, the bytes staying on the server.
//!
//! Every copy is sent with `x-amz-metadata-directive: REPLACE`, so that it is a write of
//! this store like a PUT: a fresh write id (`x-amz-meta-persidict-write-id`), the write
//! chain of a compare-and-swap (`x-amz-meta-persidict-write-chain`), the content type
//! given, and the dictionary's [`ObjectSettings`] (encryption, storage class, tags with
//! `x-amz-tagging-directive: REPLACE`, `Cache-Control`, metadata) — never the source's.
//!
//! | copy | request | needs |
//! |---|---|---|
//! | `Always`, not pinned | `CopyObject` (the SDK retries it) | nothing |
//! | pinned to the source's ETag | `x-amz-copy-source-if-match: <etag>` | [`Capabilities::copy_source_if_match`] |
//! | `IfAbsent` | `If-None-Match: *` | [`Capabilities::copy_if_absent`] |
//! | `IfMatch(e)` | `If-Match: e` | [`Capabilities::copy_if_match`] |
//!
//! A copy with a precondition goes through the one conditional send loop
//! ([`S3Client::conditional`]); a lost answer is settled with one HEAD of the destination,
//! by its write id, exactly as for a PUT ([`resolve`](super::resolve)). `412` and `404`
//! refuse the copy, but S3 answers them for both preconditions (and `404` for a missing
//! source too), so a refusal costs one HEAD of the source to report which one failed.
//! Where the endpoint does not enforce a precondition the copy answers
//! [`Error::Unsupported`], unless the racy fallback is on: then HEADs check the
//! preconditions and an unconditional `CopyObject` follows (another writer can slip in
//! between). AWS answers some failed copies `200 OK` with an `<Error>` body; the SDK turns
//! those into errors with their S3 code, classified like any other answer (an
//! `InternalError` in a `200` is a lost answer, settled by the HEAD).
//!
//! Objects over 5 GiB cannot be copied by one `CopyObject`: those, and any source over
//! [`MultipartSettings::copy_threshold`](super::MultipartSettings::copy_threshold), are
//! copied in parts (see [`copy_parts`](super::copy_parts)).

use aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder;
use aws_sdk_s3::types::{MetadataDirective, TaggingDirective};

use super::classify::{classify, Answer};
use super::client::{
    listed_etag, new_write_id, no_sdk_retries, Attempted, Lost, S3Client, WRITE_CHAIN, WRITE_ID,
};
use super::resolve::{self, ConditionalPut, Made};
use super::settings::{apply_settings, ObjectSettings};
use crate::cond::{ETag, Lineage};
use crate::error::{Capability, Error, Result};
use crate::store::{Capabilities, CopyResult, WriteCondition, WriteResult};

/// The source of a `CopyObject`: a bucket, a full object key, and a version where one is
/// copied.
#[derive(Debug, Clone)]
pub(crate) struct CopyFrom {
    pub(crate) bucket: String,
    pub(crate) key: String,
    pub(crate) version_id: Option<String>,
}

impl CopyFrom {
    /// The `x-amz-copy-source` header: `bucket/key`, percent-encoded, with
    /// `?versionId=` where a version is copied.
    pub(crate) fn header(&self) -> String {
        let mut source = format!("{}/{}", encode(&self.bucket), encode(&self.key));
        if let Some(version) = &self.version_id {
            source.push_str("?versionId=");
            source.push_str(&encode(version));
        }
        source
    }
}

/// The source's ETag and size (of its version, where one is copied), or `None` when
/// absent: one HEAD.
pub(crate) async fn source_head(client: &S3Client, from: &CopyFrom) -> Result<Option<(ETag, u64)>> {
    let answer = client
        .sdk
        .head_object()
        .bucket(&from.bucket)
        .key(&from.key)
        .set_version_id(from.version_id.clone())
        .send()
        .await;
    match answer {
        Ok(out) => Ok(Some((
            client.etag("HEAD", &from.key, out.e_tag())?,
            out.content_length().unwrap_or(0).max(0) as u64,
        ))),
        Err(e) => match classify(&e) {
            Answer::NotFound => Ok(None),
            // A version id that is not one of the key's: S3 answers 400.
            Answer::BadRequest(_) if from.version_id.is_some() => Ok(None),
            _ => Err(client.error("HEAD", e)),
        },
    }
}

/// Percent-encodes everything but unreserved characters and `/` (an object key in
/// `x-amz-copy-source`).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One copy to the store's destination: what [`Copier::copy`] needs of the store.
pub(crate) struct Copier<'a> {
    pub(crate) client: &'a S3Client,
    pub(crate) capabilities: Capabilities,
    pub(crate) racy_fallback: bool,
    pub(crate) append_only: bool,
}

/// What one copy asks for.
pub(crate) struct CopyTo<'a> {
    /// The destination's store name, for errors.
    pub(crate) name: &'a str,
    /// The destination's full object key.
    pub(crate) key: &'a str,
    pub(crate) source_etag: Option<ETag>,
    pub(crate) content_type: &'a str,
    pub(crate) condition: WriteCondition,
}

impl Copier<'_> {
    /// Copies `from` to `to.key` if the preconditions hold: the one place every
    /// server-side copy is sent.
    pub(crate) async fn copy(&self, from: &CopyFrom, to: CopyTo<'_>) -> Result<CopyResult> {
        let (if_match, destination) = match &to.condition {
            WriteCondition::Always => (None, None),
            WriteCondition::IfAbsent => (None, Some(Capability::CopyIfAbsent)),
            WriteCondition::IfMatch(e) => (Some(e.clone()), Some(Capability::CopyIfMatch)),
        };
        let pinned = to
            .source_etag
            .is_some()
            .then_some(Capability::CopySourceIfMatch);
        let needed: Vec<Capability> = destination.into_iter().chain(pinned).collect();
        // One write id for the logical copy, the same on every attempt; a
        // compare-and-swap records the ids of the version it replaces after it.
        let lineage = Lineage::new(&new_write_id(), if_match.as_ref().and_then(ETag::lineage));
        if let Some(missing) = self.capabilities.missing(&needed).first() {
            if !self.racy_fallback {
                return Err(Error::Unsupported {
                    capability: *missing,
                    endpoint: self.client.endpoint.clone(),
                });
            }
            return self.emulated(from, &to, &lineage).await;
        }
        if needed.is_empty() {
            return self.plain(from, &to, &lineage).await;
        }
        let capability = needed[0];
        let client = self.client;
        let sent = client
            .conditional(
                "CopyObject",
                to.key,
                capability,
                if from.version_id.is_some() {
                    // S3 answers 400 to a version id it cannot parse: no such version.
                    |a| {
                        matches!(
                            a,
                            Answer::PreconditionFailed | Answer::NotFound | Answer::BadRequest(_)
                        )
                    }
                } else {
                    |a| matches!(a, Answer::PreconditionFailed | Answer::NotFound)
                },
                || {
                    let request = self.request(from, &to, &lineage);
                    let request = match (&to.condition, &to.source_etag) {
                        (WriteCondition::IfAbsent, _) => request.if_none_match("*"),
                        (WriteCondition::IfMatch(e), _) => request.if_match(e.as_str()),
                        _ => request,
                    };
                    let request = match &to.source_etag {
                        Some(e) => request.copy_source_if_match(e.as_str()),
                        None => request,
                    };
                    request
                        .customize()
                        .config_override(no_sdk_retries(aws_sdk_s3::config::Builder::new()))
                        .send()
                },
                client.timeouts.bounds(),
                |why| self.settle(&to, &lineage, if_match.as_ref(), why),
            )
            .await?;
        match sent {
            Attempted::Applied(out) => self.copied(&to, out.copy_object_result(), &lineage),
            Attempted::Settled(result) => Ok(result),
            Attempted::Refused { after_lost: false } => self.refusal(from, &to).await,
            // A refusal after a lost answer may be our own copy refusing its retry.
            Attempted::Refused { after_lost: true } => {
                let why = "an earlier attempt's answer was lost, then a later one was refused";
                match self
                    .settle(&to, &lineage, if_match.as_ref(), why.into())
                    .await?
                {
                    Lost::Settled(result) => Ok(result),
                    Lost::Resend => self.refusal(from, &to).await,
                }
            }
        }
    }

    /// A `CopyObject` of `from` to `to` with the lineage, content type and object
    /// settings, without preconditions yet.
    fn request(
        &self,
        from: &CopyFrom,
        to: &CopyTo<'_>,
        lineage: &Lineage,
    ) -> CopyObjectFluentBuilder {
        let request = self
            .client
            .sdk
            .copy_object()
            .bucket(&self.client.bucket)
            .key(to.key)
            .copy_source(from.header())
            .metadata_directive(MetadataDirective::Replace)
            .content_type(to.content_type)
            .metadata(WRITE_ID, lineage.own());
        let request = match lineage.before() {
            "" => request,
            before => request.metadata(WRITE_CHAIN, before),
        };
        apply(&self.client.objects, request)
    }

    /// The ETag of an applied copy.
    fn copied(
        &self,
        to: &CopyTo<'_>,
        result: Option<&aws_sdk_s3::types::CopyObjectResult>,
        lineage: &Lineage,
    ) -> Result<CopyResult> {
        // SeaweedFS answers the copy's ETag without the quotes its HEAD answers carry.
        let etag = self
            .client
            .etag("CopyObject", to.key, result.and_then(|r| r.e_tag()))?;
        Ok(CopyResult::Copied(
            listed_etag(etag.as_str()).with_lineage(Some(lineage.clone())),
        ))
    }

    /// An unconditional copy, which the SDK retries (repeating it is harmless).
    async fn plain(
        &self,
        from: &CopyFrom,
        to: &CopyTo<'_>,
        lineage: &Lineage,
    ) -> Result<CopyResult> {
        match self.request(from, to, lineage).send().await {
            Ok(out) => self.copied(to, out.copy_object_result(), lineage),
            Err(e) => match classify(&e) {
                Answer::NotFound => Ok(CopyResult::SourceAbsent),
                // S3 answers 400 to a version id it cannot parse: no such version.
                Answer::BadRequest(_) if from.version_id.is_some() => Ok(CopyResult::SourceAbsent),
                _ => Err(self.client.error("CopyObject", e)),
            },
        }
    }

    /// The racy fallback: HEADs check the preconditions, then an unconditional copy.
    async fn emulated(
        &self,
        from: &CopyFrom,
        to: &CopyTo<'_>,
        lineage: &Lineage,
    ) -> Result<CopyResult> {
        if let Some(pinned) = &to.source_etag {
            match self.source(from).await? {
                None => return Ok(CopyResult::SourceAbsent),
                Some(now) if now != *pinned => return Ok(CopyResult::SourceChanged),
                Some(_) => {}
            }
        }
        if to.condition != WriteCondition::Always {
            let current = self.client.head(to.key).await?.map(|h| h.etag);
            if !to.condition.holds(current.as_ref()) {
                return Ok(CopyResult::Refused);
            }
        }
        self.plain(from, to, lineage).await
    }

    /// Which precondition refused a copy (`412` and `404` do not say): one HEAD of the
    /// source.
    async fn refusal(&self, from: &CopyFrom, to: &CopyTo<'_>) -> Result<CopyResult> {
        Ok(match self.source(from).await? {
            None => CopyResult::SourceAbsent,
            Some(now) if to.source_etag.as_ref().is_some_and(|p| *p != now) => {
                CopyResult::SourceChanged
            }
            // The source holds; so the destination's condition failed. (Without one, the
            // source must have changed and changed back, or appeared, since.)
            Some(_) if to.condition != WriteCondition::Always => CopyResult::Refused,
            Some(_) => CopyResult::SourceChanged,
        })
    }

    /// The source's ETag (of its version, where one is copied), or `None` when absent.
    async fn source(&self, from: &CopyFrom) -> Result<Option<ETag>> {
        Ok(source_head(self.client, from).await?.map(|(etag, _)| etag))
    }

    /// After a lost answer (see the module docs): the destination's write ids settle it.
    async fn settle(
        &self,
        to: &CopyTo<'_>,
        lineage: &Lineage,
        replaces: Option<&ETag>,
        why: String,
    ) -> Result<Lost<CopyResult>> {
        if to.condition == WriteCondition::Always {
            // Pinned to the source only: sending again is harmless unless ours landed
            // (then a changed source would refuse the resend), which its write id tells.
            return Ok(match self.client.head(to.key).await {
                Ok(Some(head)) if head.lineage().is_some_and(|l| l.contains(lineage.own())) => {
                    Lost::Settled(CopyResult::Copied(
                        head.etag.with_lineage(Some(lineage.clone())),
                    ))
                }
                _ => Lost::Resend,
            });
        }
        let put = ConditionalPut {
            name: to.name,
            key: to.key,
            made: Made::Copy(to.source_etag.as_ref()),
            lineage,
            replaces,
            append_only: self.append_only,
        };
        Ok(match resolve::put(self.client, &put, why).await? {
            Lost::Settled(WriteResult::Written(etag)) => Lost::Settled(CopyResult::Copied(etag)),
            Lost::Settled(WriteResult::Refused) => Lost::Settled(CopyResult::Refused),
            Lost::Resend => Lost::Resend,
        })
    }
}

/// `request` with the object settings, as every PUT carries them; tags replace the
/// source's (`x-amz-tagging-directive: REPLACE`), so a copy never carries another
/// dictionary's tags.
fn apply(settings: &ObjectSettings, request: CopyObjectFluentBuilder) -> CopyObjectFluentBuilder {
    apply_settings!(
        settings,
        request.tagging_directive(TaggingDirective::Replace)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_sources_are_percent_encoded() {
        let from = CopyFrom {
            bucket: "b".into(),
            key: "root dir/a(1)=x.bin".into(),
            version_id: Some("v+1".into()),
        };
        assert_eq!(
            from.header(),
            "b/root%20dir/a%281%29%3Dx.bin?versionId=v%2B1"
        );
    }
}
