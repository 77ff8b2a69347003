//! Version history on versioned buckets: listing the versions of a key, reading one, and
//! what the probe does so that it leaves none of its own behind.
//!
//! Whether the bucket keeps versions is asked once per store (`GetBucketVersioning`):
//! `Enabled` or `Suspended` (old versions stay readable) count as versioned; a bucket
//! whose versioning was never turned on, or a server without the API (rclone answers
//! `501`), does not, and the version operations answer
//! [`Error::Unsupported`](crate::Error::Unsupported) for
//! [`Capability::Versioning`](crate::Capability::Versioning).
//!
//! | operation | request |
//! |---|---|
//! | `versions(name)` | ⌈n/1000⌉ `ListObjectVersions` with the object key as prefix (other keys sharing it are left out) |
//! | `read_version(name, id)` | GET `?versionId=id` |
//! | `restore_version(name, id, …)` | `CopyObject` from `?versionId=id` (see [`copy`](super::copy)) |
//!
//! (+ one `GetBucketVersioning` on a store's first version operation.)
//!
//! A delete on a versioned bucket removes nothing: it adds a delete marker and keeps every
//! version, which is what an audit store wants. Only the capability probe deletes by
//! version id, and only its own scratch objects ([`purge`]).

use std::time::SystemTime;

use aws_sdk_s3::types::Delete;
use aws_sdk_s3::types::{BucketVersioningStatus, ObjectIdentifier, VersioningConfiguration};

use super::classify::{classify, Answer};
use super::client::{listed_etag, S3Client};
use crate::error::{Capability, Error, Result};
use crate::store::ObjectVersion;

/// Whether the bucket keeps versions (`GetBucketVersioning` says `Enabled` or
/// `Suspended`).
pub(crate) async fn versioned(client: &S3Client) -> Result<bool> {
    match client
        .sdk
        .get_bucket_versioning()
        .bucket(&client.bucket)
        .send()
        .await
    {
        Ok(out) => Ok(matches!(
            out.status(),
            Some(BucketVersioningStatus::Enabled | BucketVersioningStatus::Suspended)
        )),
        Err(e) => match classify(&e) {
            // A server without versioning.
            Answer::NotImplemented(_) | Answer::BadRequest(_) => Ok(false),
            // moto 5 answers 200 with a document whose root element the SDK does not
            // accept (`GetBucketVersioningResponse`); its `<Status>` is what counts.
            _ if e.raw_response().is_some_and(|r| r.status().as_u16() == 200) => {
                let body = e
                    .raw_response()
                    .and_then(|r| r.body().bytes())
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                Ok(body.contains("<Status>Enabled</Status>")
                    || body.contains("<Status>Suspended</Status>"))
            }
            _ => Err(client.error("GetBucketVersioning", e)),
        },
    }
}

/// Turns versioning on for the bucket (`PutBucketVersioning`).
pub(crate) async fn enable(client: &S3Client) -> Result<()> {
    let config = VersioningConfiguration::builder()
        .status(BucketVersioningStatus::Enabled)
        .build();
    match client
        .sdk
        .put_bucket_versioning()
        .bucket(&client.bucket)
        .versioning_configuration(config)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) => match classify(&e) {
            Answer::NotImplemented(_) | Answer::BadRequest(_) => Err(Error::Unsupported {
                capability: Capability::Versioning,
                endpoint: client.endpoint.clone(),
            }),
            _ => Err(client.error("PutBucketVersioning", e)),
        },
    }
}

/// One entry of a `ListObjectVersions` answer, before filtering.
struct Listed {
    key: String,
    version: ObjectVersion,
}

fn time(t: Option<&aws_sdk_s3::primitives::DateTime>) -> SystemTime {
    t.and_then(|t| SystemTime::try_from(*t).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH)
}

/// Every version and delete marker whose key starts with `prefix`, page by page.
async fn list_prefix(client: &S3Client, prefix: &str) -> Result<Vec<Listed>> {
    let mut listed = Vec::new();
    let (mut key_marker, mut version_marker): (Option<String>, Option<String>) = (None, None);
    loop {
        let out = client
            .sdk
            .list_object_versions()
            .bucket(&client.bucket)
            .prefix(prefix)
            .set_key_marker(key_marker.take())
            .set_version_id_marker(version_marker.take())
            .send()
            .await
            .map_err(|e| match classify(&e) {
                Answer::NotImplemented(_) => Error::Unsupported {
                    capability: Capability::Versioning,
                    endpoint: client.endpoint.clone(),
                },
                _ => client.error("ListObjectVersions", e),
            })?;
        for v in out.versions() {
            let Some(key) = v.key() else { continue };
            listed.push(Listed {
                key: key.to_owned(),
                version: ObjectVersion::new(
                    v.version_id().unwrap_or("null"),
                    v.e_tag().map(listed_etag),
                    v.size().unwrap_or(0).max(0) as u64,
                    time(v.last_modified()),
                    v.is_latest().unwrap_or(false),
                    false,
                ),
            });
        }
        for m in out.delete_markers() {
            let Some(key) = m.key() else { continue };
            listed.push(Listed {
                key: key.to_owned(),
                version: ObjectVersion::new(
                    m.version_id().unwrap_or("null"),
                    None,
                    0,
                    time(m.last_modified()),
                    m.is_latest().unwrap_or(false),
                    true,
                ),
            });
        }
        if out.is_truncated() != Some(true) {
            return Ok(listed);
        }
        key_marker = out.next_key_marker().map(str::to_owned);
        version_marker = out.next_version_id_marker().map(str::to_owned);
        if key_marker.is_none() && version_marker.is_none() {
            // A truncated page without markers would list the same page forever.
            return Err(Error::backend(
                &client.endpoint,
                "ListObjectVersions",
                format!("{prefix}: a truncated page named no marker to go on from"),
                false,
            ));
        }
    }
}

/// Every version of the object `key`, the current one first, then newest first.
pub(crate) async fn list(client: &S3Client, key: &str) -> Result<Vec<ObjectVersion>> {
    let mut versions: Vec<ObjectVersion> = list_prefix(client, key)
        .await?
        .into_iter()
        .filter(|l| l.key == key)
        .map(|l| l.version)
        .collect();
    versions.sort_by(|a, b| {
        b.is_latest
            .cmp(&a.is_latest)
            .then(b.last_modified.cmp(&a.last_modified))
    });
    Ok(versions)
}

/// Deletes every version and delete marker whose key starts with `prefix`, by version
/// id (the probe's own scratch objects: on a versioned bucket a plain delete leaves them
/// as noncurrent versions). Best effort: failures are logged, never returned, and a
/// server without the API (rclone) has nothing to remove.
pub(crate) async fn purge(client: &S3Client, prefix: &str) {
    let listed = match list_prefix(client, prefix).await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::debug!(prefix, error = %e, "listing the probe's versions failed");
            return;
        }
    };
    for batch in listed.chunks(1000) {
        let identifiers: std::result::Result<Vec<_>, _> = batch
            .iter()
            .map(|l| {
                ObjectIdentifier::builder()
                    .key(&l.key)
                    .version_id(&l.version.version_id)
                    .build()
            })
            .collect();
        let delete = identifiers.and_then(|objects| {
            Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
        });
        let sent = match delete {
            Ok(delete) => client
                .sdk
                .delete_objects()
                .bucket(&client.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| client.error("DeleteObjects", e).to_string())
                .and_then(|out| match out.errors().first() {
                    None => Ok(()),
                    Some(first) => Err(format!("{first:?}")),
                }),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            tracing::debug!(prefix, error = %e, "removing the probe's versions failed");
        }
    }
}
