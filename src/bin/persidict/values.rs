//! `get` and `put`: values as their stored bytes, streamed for the raw and text codecs.

use super::*;

pub(super) async fn get(
    cli: &Cli,
    d: &PersiDict<Encoded>,
    key: &Key,
    hex: bool,
    version: Option<&str>,
) -> Outcome {
    if version.is_none() && !cli.json && !hex && matches!(d.info().codec, Codec::Raw | Codec::Text)
    {
        return get_streamed(d, key).await;
    }
    let (value, etag) = match version {
        None => d
            .get_with_etag(key)
            .await?
            .map(|(value, etag)| (value, Some(etag))),
        Some(id) => d.get_version(key, id).await?.map(|value| (value, None)),
    }
    .ok_or_else(|| match version {
        None => Failure::from(Error::NotFound { key: key.clone() }),
        Some(id) => Failure(format!("not found: version {id} of key {key}")),
    })?;
    let bytes = value.into_bytes();
    let codec = d.info().codec;
    if cli.json {
        let mut out = json!({
            "key": key.to_string(),
            "codec": codec.name(),
            "size": bytes.len(),
        });
        match (&etag, version) {
            (Some(etag), _) => out["etag"] = json!(etag.as_str()),
            (None, Some(id)) => out["version_id"] = json!(id),
            (None, None) => {}
        }
        let parsed_json = match codec {
            Codec::Json if !hex => serde_json::from_slice::<serde_json::Value>(&bytes).ok(),
            _ => None,
        };
        let text = match codec {
            Codec::Text if !hex => std::str::from_utf8(&bytes).ok(),
            _ => None,
        };
        if let Some(v) = parsed_json {
            out["value"] = v;
        } else if let Some(t) = text {
            out["value"] = json!(t);
        } else if hex {
            out["value_hex"] = json!(data_encoding::HEXLOWER.encode(&bytes));
        } else {
            out["value_base64"] = json!(data_encoding::BASE64.encode(&bytes));
        }
        emit(&out);
        return Ok(());
    }
    let mut stdout = std::io::stdout().lock();
    let write = if hex {
        writeln!(stdout, "{}", data_encoding::HEXLOWER.encode(&bytes))
    } else {
        stdout.write_all(&bytes).and_then(|()| {
            let textual = matches!(codec, Codec::Json | Codec::Text);
            if textual && std::io::stdout().is_terminal() && !bytes.ends_with(b"\n") {
                stdout.write_all(b"\n")
            } else {
                Ok(())
            }
        })
    };
    write
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure(format!("writing to stdout: {e}")))
}

/// `get` of a raw or text value: streamed to stdout as it arrives, so a value of any size
/// passes in bounded memory.
async fn get_streamed(d: &PersiDict<Encoded>, key: &Key) -> Outcome {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;
    let mut object = d
        .get_stream(key)
        .await?
        .ok_or_else(|| Error::NotFound { key: key.clone() })?;
    let mut stdout = tokio::io::stdout();
    let written = |e: std::io::Error| Failure(format!("writing to stdout: {e}"));
    let mut last = None;
    while let Some(chunk) = object.chunks.next().await {
        let chunk = chunk?;
        last = chunk.last().copied().or(last);
        stdout.write_all(&chunk).await.map_err(written)?;
    }
    let textual = d.info().codec == Codec::Text;
    if textual && std::io::stdout().is_terminal() && last.is_some_and(|b| b != b'\n') {
        stdout.write_all(b"\n").await.map_err(written)?;
    }
    stdout.flush().await.map_err(written)
}

/// `put -` of a raw or text value: stdin streamed to the store (a multipart upload on S3
/// above its threshold), so a value of any size passes in bounded memory.
async fn put_streamed(cli: &Cli, d: &PersiDict<Encoded>, key: &Key) -> Outcome {
    use futures::StreamExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    let size = std::sync::Arc::new(AtomicU64::new(0));
    let counted = std::sync::Arc::clone(&size);
    let chunks = persidict::store::chunks_from_reader(tokio::io::stdin(), "stdin")
        .inspect(move |c| {
            if let Ok(c) = c {
                counted.fetch_add(c.len() as u64, Ordering::Relaxed);
            }
        })
        .boxed();
    let etag = match d.put_stream(key, chunks, WriteCondition::Always).await? {
        WriteResult::Written(etag) => etag,
        WriteResult::Refused => {
            return Err(Failure(format!(
                "{key}: the store refused an unconditional write"
            )))
        }
    };
    if cli.json {
        let size = size.load(Ordering::Relaxed);
        emit(&json!({ "key": key.to_string(), "etag": etag.as_str(), "size": size }));
    }
    Ok(())
}

pub(super) async fn put(
    cli: &Cli,
    d: &PersiDict<Encoded>,
    key: &Key,
    value: &str,
    hex: bool,
) -> Outcome {
    if value == "-" && !hex && matches!(d.info().codec, Codec::Raw | Codec::Text) {
        return put_streamed(cli, d, key).await;
    }
    let mut bytes = if value == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Failure(format!("reading stdin: {e}")))?;
        buf
    } else {
        value.as_bytes().to_vec()
    };
    if hex {
        let digits: Vec<u8> = bytes
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        bytes = data_encoding::HEXLOWER_PERMISSIVE
            .decode(&digits)
            .map_err(|e| Failure(format!("the value is not hex: {e}")))?;
    }
    let codec = d.info().codec;
    match codec {
        Codec::Json => {
            // Stored as given (numbers keep their exact text), surrounding whitespace aside.
            let start = bytes
                .iter()
                .position(|b| !b.is_ascii_whitespace())
                .unwrap_or(bytes.len());
            let end = bytes
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(start, |i| i + 1);
            bytes = bytes[start..end].to_vec();
            serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).map_err(|e| {
                Failure(format!(
                    "the value is not valid JSON for the json codec: {e}"
                ))
            })?;
        }
        Codec::Text => {
            std::str::from_utf8(&bytes).map_err(|e| {
                Failure(format!(
                    "the value is not UTF-8 text for the text codec: {e}"
                ))
            })?;
        }
        _ => {}
    }
    let size = bytes.len();
    let etag = d.put(key, Encoded(bytes)).await?;
    if cli.json {
        emit(&json!({ "key": key.to_string(), "etag": etag.as_str(), "size": size }));
    }
    Ok(())
}
