//! Compute-once memoization shared by many workers: whoever claims a result first with an
//! insert-if-absent computes it; everybody else waits for the stored result.
//!
//! ```text
//! cargo run --example cas_cache                      # files in a temporary directory
//! cargo run --example cas_cache -- 's3://bucket/prefix?endpoint=http://127.0.0.1:8333'
//! ```
//!
//! Each key is computed exactly once however many workers ask for it; the example checks
//! that and exits non-zero otherwise. Waiting workers poll through a [`CachedDict`], so on
//! S3 each poll of an unchanged entry is one conditional GET answered `304` with no body.
//! (A worker that dies after claiming leaves `Computing` behind; a real system would add a
//! deadline to the claim.)

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use persidict::prelude::*;
use persidict::{CachedDict, FileDict, S3Dict, S3DictBuilder};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
enum Memo {
    Computing,
    Done(u64),
}

const WORKERS: usize = 8;
const INPUTS: std::ops::RangeInclusive<u64> = 24..=30;

/// The expensive function.
fn fib(n: u64) -> u64 {
    if n < 2 {
        n
    } else {
        fib(n - 1) + fib(n - 2)
    }
}

type Computations = Arc<Mutex<BTreeMap<u64, u32>>>;

/// `fib(n)`, computed by at most one worker across every process sharing `dict`.
async fn memo_fib(
    dict: &PersiDict<Memo>,
    n: u64,
    computations: &Computations,
) -> Result<u64, Error> {
    let key = Key::new(["fib", &n.to_string()])?;
    // Claim the computation: insert-if-absent succeeds for exactly one caller.
    let claim = dict
        .put_if(
            &key,
            Write::Value(Memo::Computing),
            Condition::Same,
            None,
            Retrieve::Always,
        )
        .await?;
    if claim.satisfied {
        *computations.lock().unwrap().entry(n).or_default() += 1;
        let value = tokio::task::spawn_blocking(move || fib(n))
            .await
            .map_err(|e| Error::Config(format!("the computation failed: {e}")))?;
        // Store the result over our own claim (compare-and-swap on the claim's ETag).
        let stored = dict
            .put_if(
                &key,
                Write::Value(Memo::Done(value)),
                Condition::Same,
                claim.resulting_etag.as_ref(),
                Retrieve::Never,
            )
            .await?;
        assert!(stored.satisfied, "nobody else writes a claimed key");
        return Ok(value);
    }
    // Somebody else computes it: wait for the result.
    let mut current = claim.value.into_option();
    loop {
        match current {
            Some(Memo::Done(value)) => return Ok(value),
            Some(Memo::Computing) => tokio::time::sleep(Duration::from_millis(5)).await,
            None => return Err(Error::NotFound { key }),
        }
        current = dict.get_opt(&key).await?;
    }
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
    let s3: Option<S3Dict<Memo>> = match std::env::args().nth(1) {
        Some(url) => Some(
            S3DictBuilder::from_url(&url)?
                .create_bucket(true)
                .build()
                .await?,
        ),
        None => None,
    };
    let tmp = tempfile::tempdir().map_err(|e| Error::Config(e.to_string()))?;
    let inner: PersiDict<Memo> = match &s3 {
        Some(d) => d.clone().into(),
        None => FileDict::builder(tmp.path()).build().await?.into(),
    };
    let dict = Arc::new(CachedDict::new(inner));
    println!("dictionary: {}", dict.info().location);
    if !dict.capabilities().await?.put_if_absent {
        return Err(Error::Unsupported {
            capability: persidict::Capability::PutIfAbsent,
            endpoint: dict.info().location,
        });
    }

    let computations = Computations::default();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (dict, computations) = (Arc::clone(&dict), Arc::clone(&computations));
        workers.push(tokio::spawn(async move {
            let mut results = Vec::new();
            for n in INPUTS {
                results.push(memo_fib(&dict, n, &computations).await?);
            }
            Ok::<_, Error>(results)
        }));
    }
    let expected: Vec<u64> = INPUTS.map(fib).collect();
    let mut ok = true;
    for w in workers {
        let results = w
            .await
            .map_err(|e| Error::Config(format!("a worker failed: {e}")))??;
        ok &= results == expected;
    }
    let computations = computations.lock().unwrap().clone();
    for n in INPUTS {
        let times = computations.get(&n).copied().unwrap_or(0);
        println!("fib/{n} = {} computed {times} time(s)", fib(n));
        ok &= times == 1;
    }
    if let Some(d) = &s3 {
        println!("requests: {}", d.stats().snapshot());
    }
    let cache = dict.stats().snapshot();
    println!(
        "cache: {} reads answered from the cache after revalidation, {} refreshed, {} misses",
        cache.revalidated, cache.refreshed, cache.misses
    );
    println!(
        "{WORKERS} workers, {} keys: {}",
        INPUTS.count(),
        if ok { "each computed once" } else { "FAILED" }
    );
    Ok(ok)
}
