//! The probe of conditional copies (`CopyObject` with `If-None-Match: *`, `If-Match` and
//! `x-amz-copy-source-if-match`): AWS has enforced them since 2025, SeaweedFS does, moto
//! and rclone ignore them. The probe object is the source; the copies go to a second
//! scratch object ([`destination`]), removed with the first.

use aws_sdk_s3::operation::copy_object::builders::CopyObjectFluentBuilder;
use aws_sdk_s3::types::MetadataDirective;

use super::{judge, sent, with_success, Probe, ProbeCheck, ProbeVerdict, Sent, StatusCapture};
use crate::cond::ETag;
use crate::error::Result;
use crate::s3::client::{new_write_id, WRITE_ID};
use crate::s3::copy::encode;

/// The scratch object the probe copies to: next to the probe object, with the same
/// extension, so that no dictionary lists it either.
pub(super) fn destination(probe_key: &str) -> String {
    format!("{}-copy.probe", probe_key.trim_end_matches(".probe"))
}

/// What the destination holds: its write id and ETag.
struct Held {
    write_id: Option<String>,
    etag: Option<ETag>,
}

impl Probe<'_> {
    /// Sends one copy of the probe object to the destination, `with` its precondition;
    /// the answer and the write id the copy carried.
    async fn send_copy(
        &self,
        with: impl FnOnce(CopyObjectFluentBuilder) -> CopyObjectFluentBuilder,
    ) -> Result<(Sent, String)> {
        let id = new_write_id();
        let capture = StatusCapture::default();
        let request = self
            .client
            .sdk
            .copy_object()
            .bucket(&self.client.bucket)
            .key(destination(self.key))
            .copy_source(format!(
                "{}/{}",
                encode(&self.client.bucket),
                encode(self.key)
            ))
            .metadata_directive(MetadataDirective::Replace)
            .metadata(WRITE_ID, &id);
        let result = with(request)
            .customize()
            .interceptor(capture.clone())
            .send()
            .await;
        let sent = sent(self.client, "CopyObject", &capture, result, |o| {
            o.copy_object_result()
                .and_then(|r| r.e_tag())
                .map(ETag::new)
        })?;
        Ok((sent, id))
    }

    /// One HEAD of the destination.
    async fn held(&self) -> Result<Held> {
        let out = self
            .client
            .sdk
            .head_object()
            .bucket(&self.client.bucket)
            .key(destination(self.key))
            .send()
            .await;
        Ok(match out {
            Ok(out) => Held {
                write_id: out.metadata().and_then(|m| m.get(WRITE_ID)).cloned(),
                etag: out.e_tag().map(ETag::new),
            },
            Err(_) => Held {
                write_id: None,
                etag: None,
            },
        })
    }

    /// `verdict`, unless the refused copy replaced the destination anyway (its write id
    /// is no longer `last`, the last applied copy's). A server that keeps no metadata on
    /// copies cannot be checked this way; its answer stands.
    async fn copy_intact(
        &self,
        verdict: ProbeVerdict,
        last: &str,
    ) -> Result<(ProbeVerdict, Held, &'static str)> {
        let held = self.held().await?;
        let intact = held.write_id.as_deref().is_none_or(|id| id == last);
        Ok(match (verdict, intact) {
            (ProbeVerdict::Enforced, false) => {
                (ProbeVerdict::Ignored, held, "destination overwritten")
            }
            (v, true) => (v, held, "destination intact"),
            (v, false) => (v, held, "destination overwritten"),
        })
    }

    /// The checks of `copy_if_absent`, `copy_if_match` and `copy_source_if_match`.
    pub(super) async fn copy_checks(&self) -> Result<Vec<ProbeCheck>> {
        let wrong = "\"00000000000000000000000000000000\"";
        let source = self.recreate(b"probe-7").await?;
        let mut checks = Vec::with_capacity(3);

        // 7. Copy if absent: applied to the absent destination, refused once it exists.
        let (create, mut last) = self.send_copy(|r| r.if_none_match("*")).await?;
        let (again, again_id) = self.send_copy(|r| r.if_none_match("*")).await?;
        let (verdict, _, fate) = self.copy_intact(judge(&again, false), &last).await?;
        if again.accepted() {
            last = again_id;
        }
        checks.push(ProbeCheck {
            capability: "copy_if_absent",
            request: "CopyObject If-None-Match: * (absent, then exists)",
            answer: format!("{}; then {}, {fate}", create.described, again.described),
            verdict: with_success(verdict, create.accepted()),
        });

        // 8. Copy as a compare-and-swap: refused with a wrong ETag, applied with the
        //    current one.
        let (wrong_copy, wrong_id) = self.send_copy(|r| r.if_match(wrong)).await?;
        let (verdict, held, fate) = self.copy_intact(judge(&wrong_copy, true), &last).await?;
        if wrong_copy.accepted() {
            last = wrong_id;
        }
        let current = held.etag.map(|e| e.as_str().to_owned()).unwrap_or_default();
        let (right, right_id) = self.send_copy(|r| r.if_match(current)).await?;
        if right.accepted() {
            last = right_id;
        }
        checks.push(ProbeCheck {
            capability: "copy_if_match",
            request: "CopyObject If-Match: <wrong etag>, then <current etag>",
            answer: format!("{}, {fate}; then {}", wrong_copy.described, right.described),
            verdict: with_success(verdict, right.accepted()),
        });

        // 9. Copy pinned to the source: refused with a wrong source ETag, applied with
        //    the source's.
        let (wrong_source, _) = self.send_copy(|r| r.copy_source_if_match(wrong)).await?;
        let (verdict, _, fate) = self.copy_intact(judge(&wrong_source, false), &last).await?;
        let (pinned, _) = self
            .send_copy(|r| r.copy_source_if_match(source.as_str()))
            .await?;
        checks.push(ProbeCheck {
            capability: "copy_source_if_match",
            request: "CopyObject x-amz-copy-source-if-match: <wrong etag>, then <source etag>",
            answer: format!(
                "{}, {fate}; then {}",
                wrong_source.described, pinned.described
            ),
            verdict: with_success(verdict, pinned.accepted()),
        });
        Ok(checks)
    }
}
