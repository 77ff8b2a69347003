//! An append-only audit log: concurrent writers append events under unique, time-ordered
//! keys; nothing can be overwritten; a reader lists the events in time order.
//!
//! ```text
//! cargo run --example audit_log                      # files in a temporary directory
//! cargo run --example audit_log -- 's3://bucket/prefix?endpoint=http://127.0.0.1:8333'
//! ```
//!
//! The example checks that every appended event is listed exactly once, in time order, and
//! exits non-zero otherwise.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{FileDict, S3DictBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    writer: String,
    seq: u32,
    action: String,
}

const WRITERS: u32 = 4;
const EVENTS_PER_WRITER: u32 = 10;

/// `<unix nanos, 20 digits>-<writer>-<seq>`: unique, and sorting the keys sorts by time.
fn event_key(writer: &str, seq: u32) -> Result<Key, Error> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| Error::Config(format!("clock before 1970: {e}")))?
        .as_nanos();
    Ok(Key::new([
        "events",
        &format!("{nanos:020}-{writer}-{seq:04}"),
    ])?)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

async fn run() -> Result<bool, Error> {
    let tmp = tempfile::tempdir().map_err(|e| Error::Config(e.to_string()))?;
    let log: PersiDict<Event> = match std::env::args().nth(1) {
        Some(url) => S3DictBuilder::from_url(&url)?
            .append_only(true)
            .create_bucket(true)
            .build::<Event>()
            .await?
            .into(),
        None => FileDict::builder(tmp.path())
            .append_only(true)
            .build::<Event>()
            .await?
            .into(),
    };
    println!("audit log: {}", log.info().location);

    // Concurrent appenders.
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let log = log.clone();
        writers.push(tokio::spawn(async move {
            let writer = format!("w{w}");
            for seq in 0..EVENTS_PER_WRITER {
                let event = Event {
                    writer: writer.clone(),
                    seq,
                    action: format!("{writer} did thing {seq}"),
                };
                log.put(&event_key(&writer, seq)?, event).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for w in writers {
        w.await
            .map_err(|e| Error::Config(format!("a writer failed: {e}")))??;
    }

    // History cannot be rewritten.
    let first = log
        .oldest_keys(1)
        .await?
        .pop()
        .ok_or_else(|| Error::Config("empty log".into()))?;
    let forged = Event {
        writer: "mallory".into(),
        seq: 0,
        action: "nothing happened".into(),
    };
    match log.put(&first, forged).await {
        Err(e @ Error::AppendOnly { .. }) => println!("overwrite refused: {e}"),
        other => {
            println!("overwrite was NOT refused: {other:?}");
            return Ok(false);
        }
    }

    // The reader: every event, in time order (the key order).
    let mut events: Vec<(Key, Event)> = log.items().try_collect().await?;
    events.sort_by(|a, b| a.0.cmp(&b.0));
    for (key, event) in events.iter().take(3) {
        println!("{key}: {}", event.action);
    }
    println!("... {} events in all", events.len());

    // Every appended event exactly once, and each writer's events in its own order.
    let mut seen: BTreeMap<(String, u32), u32> = BTreeMap::new();
    let mut last_seq: BTreeMap<String, u32> = BTreeMap::new();
    let mut in_order = true;
    for (_, e) in &events {
        *seen.entry((e.writer.clone(), e.seq)).or_default() += 1;
        if let Some(prev) = last_seq.insert(e.writer.clone(), e.seq) {
            in_order &= prev < e.seq;
        }
    }
    let complete =
        seen.len() as u32 == WRITERS * EVENTS_PER_WRITER && seen.values().all(|&n| n == 1);
    println!("each event exactly once: {complete}; in time order: {in_order}");
    Ok(complete && in_order)
}
