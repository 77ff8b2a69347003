//! Whether an endpoint enforces the conditions of `CompleteMultipartUpload`: probed once
//! per endpoint and bucket per process, on the first conditional multipart write.
//!
//! Four small uploads of one part each on a scratch object (`<root>persidict-probe-
//! <random>.probe`, removed afterwards), each completed with a condition:
//!
//! | completion | must be |
//! |---|---|
//! | `If-None-Match: *`, object absent | applied |
//! | `If-None-Match: *`, object exists | refused (412) |
//! | `If-Match: <another etag>` | refused (412, or 404) |
//! | `If-Match: <current etag>` | applied |
//!
//! A condition counts as enforced only when both of its rows hold; an upload that is not
//! completed is aborted, and the scratch object is deleted, with its versions and delete
//! marker on a versioned bucket. About 16 requests in all. A failure is not remembered: the next
//! conditional multipart write probes again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use tokio::sync::OnceCell;
use tracing::debug;

use super::super::classify::{classify, Answer};
use super::super::client::{new_write_id, S3Client, UnsignedBody, WRITE_ID};
use crate::cond::ETag;
use crate::error::{Error, Result};

/// Which conditions of `CompleteMultipartUpload` an endpoint enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MultipartCapabilities {
    /// `If-None-Match: *` refuses to complete over an existing object.
    pub if_absent: bool,
    /// `If-Match: <etag>` refuses to complete over another version.
    pub if_match: bool,
}

/// The probed (or declared) multipart capabilities of one endpoint and bucket.
pub(crate) type Cell = Arc<OnceCell<MultipartCapabilities>>;

/// The process-wide cell for one (endpoint, bucket).
pub(crate) fn cell(endpoint: &str, bucket: &str) -> Cell {
    static REGISTRY: OnceLock<Mutex<HashMap<(String, String), Cell>>> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Default::default);
    // A panic while holding the lock cannot leave a half-made entry: safe to keep using.
    let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        map.entry((endpoint.to_owned(), bucket.to_owned()))
            .or_default(),
    )
}

/// A cell holding declared capabilities: nothing is ever probed.
pub(crate) fn declared(capabilities: MultipartCapabilities) -> Cell {
    Arc::new(OnceCell::new_with(Some(capabilities)))
}

/// The capabilities in `cell`, probing under `root` first if nobody has yet.
pub(crate) async fn capabilities(
    cell: &Cell,
    client: &S3Client,
    root: &str,
) -> Result<MultipartCapabilities> {
    cell.get_or_try_init(|| spawned(client.clone(), root.to_owned()))
        .await
        .copied()
}

/// Runs the probe in a task of its own, so that a dropped caller leaves nothing behind.
async fn spawned(client: S3Client, root: String) -> Result<MultipartCapabilities> {
    let endpoint = client.endpoint.clone();
    tokio::spawn(async move {
        let key = format!("{root}persidict-probe-{:016x}.probe", fastrand::u64(..));
        let probed = probe(&client, &key).await;
        if let Err(e) = client.delete(&key).await {
            debug!(object = %key, error = %e, "multipart probe cleanup failed");
        }
        // On a versioned bucket the uploads and the delete leave versions and a delete
        // marker: remove them by version id, as the capability probe does.
        super::super::versions::purge(&client, key.trim_end_matches(".probe")).await;
        debug!(endpoint = %client.endpoint, ?probed, "probed multipart conditions");
        probed
    })
    .await
    .unwrap_or_else(|e| {
        Err(Error::backend(
            endpoint,
            "multipart capability probe",
            format!("the probe task ended abnormally: {e}"),
            false,
        ))
    })
}

/// What a server did with one conditional completion.
#[derive(Debug)]
enum Completed {
    Applied,
    /// 412, or 404 for `If-Match`.
    Refused,
    /// Any other refusal (501, 400): the condition is not implemented.
    NotImplemented,
}

async fn probe(client: &S3Client, key: &str) -> Result<MultipartCapabilities> {
    let insert_absent = complete(client, key, None).await?;
    let insert_exists = complete(client, key, None).await?;
    let wrong = ETag::new("\"00000000000000000000000000000000\"");
    let match_wrong = complete(client, key, Some(&wrong)).await?;
    let current = client.head(key).await?.map(|h| h.etag).unwrap_or(wrong);
    let match_current = complete(client, key, Some(&current)).await?;
    Ok(MultipartCapabilities {
        if_absent: matches!(
            (insert_absent, insert_exists),
            (Completed::Applied, Completed::Refused)
        ),
        if_match: matches!(
            (match_wrong, match_current),
            (Completed::Refused, Completed::Applied)
        ),
    })
}

/// One upload of one small part, completed with `If-Match: <if_match>` or (`None`)
/// `If-None-Match: *`; aborted unless it completed.
async fn complete(client: &S3Client, key: &str, if_match: Option<&ETag>) -> Result<Completed> {
    let created = client
        .sdk
        .create_multipart_upload()
        .bucket(&client.bucket)
        .key(key)
        .metadata(WRITE_ID, new_write_id())
        .send()
        .await
        .map_err(|e| super::create_error(client, key, e))?;
    let id = created.upload_id().unwrap_or_default().to_owned();
    let result = async {
        let part = client
            .sdk
            .upload_part()
            .bucket(&client.bucket)
            .key(key)
            .upload_id(&id)
            .part_number(1)
            .body(ByteStream::from_static(b"persidict multipart probe"))
            .customize()
            .signed_if(client.sign_payload)
            .send()
            .await
            .map_err(|e| client.error("UploadPart", e))?;
        let request = client
            .sdk
            .complete_multipart_upload()
            .bucket(&client.bucket)
            .key(key)
            .upload_id(&id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .parts(
                        CompletedPart::builder()
                            .part_number(1)
                            .set_e_tag(part.e_tag().map(str::to_owned))
                            .build(),
                    )
                    .build(),
            );
        let request = match if_match {
            Some(e) => request.if_match(e.as_str()),
            None => request.if_none_match("*"),
        };
        match request.send().await {
            Ok(_) => Ok(Completed::Applied),
            Err(e) => match classify(&e) {
                Answer::PreconditionFailed => Ok(Completed::Refused),
                Answer::NotFound if if_match.is_some() => Ok(Completed::Refused),
                Answer::NotImplemented(_) | Answer::BadRequest(_) => Ok(Completed::NotImplemented),
                _ => Err(client.error("CompleteMultipartUpload", e)),
            },
        }
    }
    .await;
    if !matches!(result, Ok(Completed::Applied)) {
        let _ = client
            .sdk
            .abort_multipart_upload()
            .bucket(&client.bucket)
            .key(key)
            .upload_id(&id)
            .send()
            .await;
    }
    result
}
