//! `cp`, `mv`, `versions` and `restore`: server-side copies and version history.

use super::*;

/// The options of `cp` and `mv`.
fn copy_options(if_absent: bool) -> CopyOptions {
    if if_absent {
        CopyOptions::if_absent()
    } else {
        CopyOptions::new()
    }
}

pub(super) async fn copy(
    cli: &Cli,
    d: &PersiDict<Encoded>,
    from: &Key,
    to: &Key,
    if_absent: bool,
) -> Outcome {
    match d.copy(from, to, copy_options(if_absent)).await? {
        CopyResult::Copied(etag) => {
            if cli.json {
                emit(
                    &json!({ "from": from.to_string(), "to": to.to_string(), "etag": etag.as_str() }),
                );
            }
            Ok(())
        }
        CopyResult::SourceAbsent => Err(Error::NotFound { key: from.clone() }.into()),
        CopyResult::Refused => Err(Failure(format!("not copied: {to} exists"))),
        other => Err(Failure(format!("not copied: {other:?}"))),
    }
}

pub(super) async fn rename(
    cli: &Cli,
    d: &PersiDict<Encoded>,
    from: &Key,
    to: &Key,
    if_absent: bool,
) -> Outcome {
    match d.rename(from, to, copy_options(if_absent)).await? {
        Renamed::Renamed(etag) => {
            if cli.json {
                emit(
                    &json!({ "from": from.to_string(), "to": to.to_string(), "etag": etag.as_str() }),
                );
            }
            Ok(())
        }
        Renamed::CopiedSourceKept(_) => Err(Failure(format!(
            "copied to {to}, but {from} changed after the copy and was kept"
        ))),
        Renamed::SourceAbsent => Err(Error::NotFound { key: from.clone() }.into()),
        Renamed::Refused => Err(Failure(format!("not renamed: {to} exists"))),
        Renamed::SourceChanged => Err(Failure(format!(
            "not renamed: {from} changed while it was being copied; nothing changed"
        ))),
        other => Err(Failure(format!("not renamed: {other:?}"))),
    }
}

pub(super) async fn versions(cli: &Cli, d: &PersiDict<Encoded>, key: &Key) -> Outcome {
    let versions = d.versions(key).await?;
    if cli.json {
        let rows: Vec<serde_json::Value> = versions
            .iter()
            .map(|v| {
                json!({
                    "version_id": v.version_id,
                    "etag": v.etag.as_ref().map(|e| e.as_str()),
                    "size": v.size,
                    "last_modified": rfc3339(v.last_modified),
                    "is_latest": v.is_latest,
                    "is_delete_marker": v.is_delete_marker,
                })
            })
            .collect();
        emit(&json!(rows));
        return Ok(());
    }
    for v in &versions {
        let mut marks = Vec::new();
        if v.is_latest {
            marks.push("latest");
        }
        if v.is_delete_marker {
            marks.push("deleted");
        }
        let etag = v.etag.as_ref().map_or("-", |e| e.as_str());
        let line = format!(
            "{}\t{etag}\t{}\t{}\t{}",
            v.version_id,
            v.size,
            rfc3339(v.last_modified),
            marks.join(",")
        );
        println!("{}", line.trim_end());
    }
    Ok(())
}

pub(super) async fn restore(
    cli: &Cli,
    d: &PersiDict<Encoded>,
    key: &Key,
    version: &str,
    etag: Option<&str>,
) -> Outcome {
    let current = match etag {
        Some(e) => Some(persidict::ETag::from(e)),
        None => d.head(key).await?.and_then(|meta| meta.etag),
    };
    match d.restore_version(key, version, current.as_ref()).await? {
        CopyResult::Copied(etag) => {
            if cli.json {
                emit(
                    &json!({ "key": key.to_string(), "restored": version, "etag": etag.as_str() }),
                );
            }
            Ok(())
        }
        CopyResult::SourceAbsent => Err(Failure(format!(
            "not found: version {version} of key {key}"
        ))),
        CopyResult::Refused => Err(Failure(format!(
            "not restored: {key} changed; nothing was written"
        ))),
        other => Err(Failure(format!("not restored: {other:?}"))),
    }
}
