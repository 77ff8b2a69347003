//! Streamed values: `put_stream` and `get_stream` with each write condition.

use bytes::Bytes;
use futures::stream::{self, StreamExt};

use super::capabilities::declared;
use super::{assert_unsupported, key, Fixture, FixtureOptions};
use crate::codec::Codec;
use crate::cond::ETag;
use crate::dict::PersiDict;
use crate::error::{Error, Result};
use crate::store::{chunks_from_bytes, Chunks, WriteCondition, WriteResult};

fn chunks(parts: &[&'static [u8]]) -> Chunks {
    let parts: Vec<Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
    stream::iter(parts).boxed()
}

async fn streamed(d: &PersiDict<Vec<u8>>, k: &crate::key::Key) -> Option<(Vec<u8>, ETag)> {
    let object = d.get_stream(k).await.expect("get_stream")?;
    let etag = object.etag().cloned().expect("a streamed read has an ETag");
    let whole = object.collect().await.expect("reading the stream");
    Some((whole.body.to_vec(), etag))
}

/// Streamed writes store exactly the bytes of their chunks, under each write condition
/// the backend enforces; a stream that fails midway stores nothing; codecs that do not
/// stream are refused.
pub async fn streamed_values<F: Fixture>(f: &F) {
    let d: PersiDict<Vec<u8>> = f.open(FixtureOptions::codec(Codec::Raw)).await;
    let caps = declared(f, &d).await;
    let k = key("streams/a");
    assert!(d.get_stream(&k).await.expect("get_stream").is_none());

    let written = d
        .put_stream(
            &k,
            chunks(&[b"hello ", b"", b"streamed ", b"world"]),
            WriteCondition::Always,
        )
        .await
        .expect("put_stream");
    let WriteResult::Written(etag) = written else {
        panic!("an unconditional streamed write was refused");
    };
    assert_eq!(
        streamed(&d, &k).await,
        Some((b"hello streamed world".to_vec(), etag.clone()))
    );
    assert_eq!(d.get(&k).await.expect("get"), b"hello streamed world");

    // A stream that fails midway stores nothing.
    let failing: Chunks = stream::iter(vec![
        Ok(Bytes::from_static(b"partial")),
        Err(Error::Config("the source failed".into())),
    ])
    .boxed();
    assert!(d
        .put_stream(&k, failing, WriteCondition::Always)
        .await
        .is_err());
    assert_eq!(d.get(&k).await.expect("get"), b"hello streamed world");

    let insert = d
        .put_stream(&k, chunks_from_bytes("again"), WriteCondition::IfAbsent)
        .await;
    let swap = d
        .put_stream(
            &k,
            chunks_from_bytes("swapped"),
            WriteCondition::IfMatch(etag.clone()),
        )
        .await;
    if caps.put_if_absent {
        assert_eq!(insert.expect("streamed insert"), WriteResult::Refused);
        let fresh = key("streams/b");
        let inserted = d
            .put_stream(&fresh, chunks_from_bytes("new"), WriteCondition::IfAbsent)
            .await
            .expect("streamed insert");
        assert!(matches!(inserted, WriteResult::Written(_)));
        assert_eq!(d.get(&fresh).await.expect("get"), b"new");
    } else {
        assert_unsupported(insert, "put_stream(IfAbsent)");
    }
    if caps.put_if_match {
        let WriteResult::Written(now) = swap.expect("streamed compare-and-swap") else {
            panic!("a streamed compare-and-swap on the current ETag was refused");
        };
        assert_eq!(streamed(&d, &k).await, Some((b"swapped".to_vec(), now)));
        let stale = d
            .put_stream(
                &k,
                chunks_from_bytes("stale"),
                WriteCondition::IfMatch(etag),
            )
            .await
            .expect("streamed compare-and-swap");
        assert_eq!(stale, WriteResult::Refused);
        assert_eq!(d.get(&k).await.expect("get"), b"swapped");
    } else {
        assert_unsupported(swap, "put_stream(IfMatch)");
    }

    // Values that are decoded whole do not stream.
    let json: PersiDict<Vec<u8>> = d.with_codec(Codec::Json);
    for refused in [
        json.put_stream(&k, chunks_from_bytes("[1]"), WriteCondition::Always)
            .await
            .err(),
        json.get_stream(&k).await.err(),
    ] {
        assert!(matches!(refused, Some(Error::Config(_))), "{refused:?}");
    }
}
