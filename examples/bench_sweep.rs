//! Bulk operations against a distant server: how many requests in flight pay, and how
//! fast `len`/`keys` list 100,000 keys. Run by `bench/compare.sh --rtt MS`, which puts the
//! server behind the latency proxy and passes the proxy's connection counter.
//!
//! ```text
//! bench_sweep concurrency <endpoint> <bucket> <keys> <c1,c2,…> [<connections file>]
//! bench_sweep listing <endpoint> <bucket> <keys> [<fill endpoint>]
//! ```
//!
//! `concurrency` fills `keys` entries of 100 bytes, then for each concurrency opens a new
//! dictionary (its own connection pool) and runs `get_many`, `values` and `put_many`
//! over them, twice, reporting the second (warm) round; the new connections the proxy
//! accepted during each round come from its counter file. `listing` fills `keys`
//! hierarchical keys (16 first-level prefixes) and as many flat ones (through `fill
//! endpoint` if given, e.g. the server without the proxy), then times `len` and `keys`
//! of the crate against raw sequential `ListObjectsV2` paging. Both print JSON rows.

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use futures::{StreamExt, TryStreamExt};
use persidict::prelude::*;
use persidict::S3Dict;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::{busy_share, cpu_micros, machine_ticks, server_cpu_micros};
#[path = "support/raw.rs"]
mod raw;

fn rtt_ms() -> f64 {
    std::env::var("BENCH_RTT_MS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.0)
}

/// The proxy's count of accepted connections (0 without a counter file). The proxy
/// rewrites the file every 100 ms, so this waits for a fresh figure first.
async fn connections(file: Option<&str>) -> u64 {
    let Some(file) = file else { return 0 };
    tokio::time::sleep(Duration::from_millis(250)).await;
    std::fs::read_to_string(file)
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

async fn open(endpoint: &str, bucket: &str, prefix: &str, conc: usize) -> Res<S3Dict<Vec<u8>>> {
    Ok(S3Dict::builder(bucket)
        .endpoint_url(endpoint)
        .region("us-east-1")
        .root_prefix(prefix)
        .codec(Codec::Raw)
        .concurrency(conc)
        .create_bucket(true)
        .build()
        .await?)
}

async fn raw_client(endpoint: &str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(raw::raw_config(endpoint).await.build())
}

/// Writes 100-byte objects under the dictionary's names of `keys`, 256 in flight.
async fn fill(endpoint: &str, bucket: &str, d: &S3Dict<Vec<u8>>, keys: &[Key]) -> Res<()> {
    let raw = raw_client(endpoint).await;
    let t0 = Instant::now();
    let names = keys
        .iter()
        .map(|k| d.object_name(k))
        .collect::<persidict::Result<Vec<_>>>()?;
    futures::stream::iter(names.into_iter().map(|name| {
        let req = raw
            .put_object()
            .bucket(bucket)
            .key(name)
            .body(ByteStream::from(vec![7u8; 100]));
        async move { req.send().await }
    }))
    .buffer_unordered(256)
    .try_collect::<Vec<_>>()
    .await?;
    eprintln!(
        "bench_sweep: filled {} keys in {:.1} s",
        keys.len(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

fn flat_keys(n: usize) -> Res<Vec<Key>> {
    Ok((0..n)
        .map(|i| Key::new([format!("k{i:06}")]))
        .collect::<Result<_, persidict::InvalidKey>>()?)
}

fn row(op: &str, imp: &str, conc: usize, n: usize, secs: f64, cpu: f64) -> serde_json::Value {
    serde_json::json!({
        "op": op, "impl": imp, "concurrency": conc, "keys": n, "rtt_ms": rtt_ms(),
        "secs": secs, "ops_per_s": n as f64 / secs, "cpu_us_per_op": cpu / n as f64,
    })
}

async fn concurrency(args: &[String]) -> Res<()> {
    let [endpoint, bucket, n, levels, rest @ ..] = args else {
        return Err("usage: bench_sweep concurrency <endpoint> <bucket> <keys> <c1,c2,…>".into());
    };
    let n: usize = n.parse()?;
    let counter = rest.first().map(String::as_str);
    let prefix = format!("sweep-{:08x}", fastrand::u32(..));
    let ks = flat_keys(n)?;
    fill(
        endpoint,
        bucket,
        &open(endpoint, bucket, &prefix, 1).await?,
        &ks,
    )
    .await?;
    for conc in levels.split(',') {
        let conc: usize = conc.parse()?;
        let d = open(endpoint, bucket, &prefix, conc).await?;
        d.capabilities().await?;
        for op in ["get_many", "values", "put_many"] {
            let (mut last, mut opened) = (None, 0);
            for round in 0..2 {
                let before = connections(counter).await;
                let (server0, machine0) = (server_cpu_micros(), machine_ticks());
                let (t0, c0) = (Instant::now(), cpu_micros());
                match op {
                    "get_many" => {
                        let got = d.get_many(&ks).await?;
                        assert!(got.iter().all(Option::is_some), "get_many missed a key");
                    }
                    "values" => {
                        let seen = d.values().try_fold(0, |n, _| async move { Ok(n + 1) });
                        assert_eq!(seen.await?, n, "values");
                    }
                    _ => {
                        let items = ks.iter().map(|k| (k.clone(), vec![8u8; 100])).collect();
                        d.put_many(items).await?;
                    }
                }
                let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_micros() - c0);
                let (server1, machine1) = (server_cpu_micros(), machine_ticks());
                let new = connections(counter).await - before;
                if round == 0 {
                    opened = new;
                }
                let mut r = row(op, "rs", conc, n, secs, cpu);
                r["new_connections"] = new.into();
                r["new_connections_first_round"] = opened.into();
                // How busy the cores were (client, server and proxy together), and the
                // server's share of it: where the plateau comes from.
                r["machine_busy"] = busy_share(machine0, machine1).into();
                r["server_cpu_us_per_op"] =
                    server0.zip(server1).map(|(a, b)| (b - a) / n as f64).into();
                last = Some(r);
            }
            println!("{}", last.unwrap_or_default());
        }
    }
    Ok(())
}

/// `len` of the raw client: `ListObjectsV2` pages one after the other.
async fn raw_len(raw: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Res<usize> {
    let mut pages = raw
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    let mut n = 0;
    while let Some(page) = pages.next().await {
        n += page?.contents().len();
    }
    Ok(n)
}

async fn listing(args: &[String]) -> Res<()> {
    let [endpoint, bucket, n, rest @ ..] = args else {
        return Err(
            "usage: bench_sweep listing <endpoint> <bucket> <keys> [<fill endpoint>]".into(),
        );
    };
    let n: usize = n.parse()?;
    let fill_endpoint = rest.first().unwrap_or(endpoint);
    let run = format!("list-{:08x}", fastrand::u32(..));
    let raw = raw_client(endpoint).await;
    for layout in ["hierarchical", "flat"] {
        let prefix = format!("{run}/{layout}");
        let ks: Vec<Key> = match layout {
            "flat" => flat_keys(n)?,
            _ => (0..n)
                .map(|i| Key::new([format!("p{:02}", i % 16), format!("k{i:06}")]))
                .collect::<Result<_, persidict::InvalidKey>>()?,
        };
        fill(
            fill_endpoint,
            bucket,
            &open(endpoint, bucket, &prefix, 1).await?,
            &ks,
        )
        .await?;
        let d = open(
            endpoint,
            bucket,
            &prefix,
            persidict::dict::DEFAULT_CONCURRENCY,
        )
        .await?;
        d.capabilities().await?;
        let _ = d.get_opt(&ks[0]).await?;
        for op in ["len", "keys"] {
            let stats = d.stats().snapshot();
            let (t0, c0) = (Instant::now(), cpu_micros());
            let seen = match op {
                "len" => d.len().await?,
                _ => {
                    d.keys()
                        .try_fold(0, |n, _| async move { Ok(n + 1) })
                        .await?
                }
            };
            assert_eq!(seen, n, "{op} of {layout} keys");
            let (secs, cpu) = (t0.elapsed().as_secs_f64(), cpu_micros() - c0);
            let mut r = row(op, "rs", persidict::dict::DEFAULT_CONCURRENCY, n, secs, cpu);
            r["layout"] = layout.into();
            r["requests"] = d.stats().snapshot().since(&stats).total().into();
            println!("{r}");
        }
        let (t0, c0) = (Instant::now(), cpu_micros());
        assert_eq!(raw_len(&raw, bucket, &format!("{prefix}/")).await?, n);
        let mut r = row(
            "len",
            "raw",
            1,
            n,
            t0.elapsed().as_secs_f64(),
            cpu_micros() - c0,
        );
        r["layout"] = layout.into();
        r["requests"] = n.div_ceil(1000).into();
        println!("{r}");
    }
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        match args.first().map(String::as_str) {
            Some("concurrency") => concurrency(&args[1..]).await,
            Some("listing") => listing(&args[1..]).await,
            _ => Err("usage: bench_sweep concurrency|listing …; see the file's docs".into()),
        }
    })
}
