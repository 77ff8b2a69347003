//! A shared counter incremented by many concurrent tasks with compare-and-swap.
//!
//! ```text
//! cargo run --release --example cas_counter -- 's3://bucket/prefix?endpoint=http://127.0.0.1:8333' 8 25
//! ```
//!
//! Credentials come from the AWS environment variables; the bucket is created if missing.
//! The last line is `final=<n> expected=<tasks*increments>`; the exit status is 0 only if
//! they are equal. On a backend that cannot do atomic compare-and-swap it fails with the
//! `Unsupported` error before writing anything.

use std::process::ExitCode;
use std::sync::Arc;

use persidict::prelude::*;
use persidict::S3DictBuilder;

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

async fn run() -> persidict::Result<bool> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, tasks, increments] = args.as_slice() else {
        return Err(Error::Config(
            "usage: cas_counter <s3://bucket/prefix?endpoint=...> <TASKS> <INCREMENTS>".into(),
        ));
    };
    let number = |what: &str, s: &str| {
        s.parse::<u64>()
            .map_err(|_| Error::Config(format!("{what} must be a whole number, got {s:?}")))
    };
    let (tasks, increments) = (number("TASKS", tasks)?, number("INCREMENTS", increments)?);

    let dict = S3DictBuilder::from_url(url)?
        .create_bucket(true)
        .build::<u64>()
        .await?;
    // Fail before touching anything on a backend that would silently lose updates.
    let caps = dict.capabilities().await?;
    if !caps.put_if_match {
        return Err(Error::Unsupported {
            capability: persidict::Capability::PutIfMatch,
            endpoint: dict.info().location,
        });
    }
    let dict = Arc::new(dict);
    let key = Key::try_from("counter")?;
    dict.put(&key, 0).await?;

    let mut workers = Vec::new();
    for _ in 0..tasks {
        let (dict, key) = (Arc::clone(&dict), key.clone());
        workers.push(tokio::spawn(async move {
            for _ in 0..increments {
                let _done = dict
                    .transform(&key, |n| Write::Value(n.unwrap_or(0) + 1))
                    .await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for w in workers {
        w.await
            .map_err(|e| Error::Config(format!("a worker task failed: {e}")))??;
    }
    let total = dict.get(&key).await?;
    let expected = tasks * increments;
    println!("requests: {}", dict.stats().snapshot());
    println!("final={total} expected={expected}");
    Ok(total == expected)
}
