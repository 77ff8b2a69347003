//! The Rust peers of persidict on the benchmark's server: `object_store` (aws, conditional
//! put on) and `opendal` (services-s3), doing the single-key requests the crate's rows do.
//!
//! ```text
//! persidict-bench-peers <endpoint> <bucket> <out.json>
//! ```
//!
//! For each peer and value size (100 B, 1 MiB): get, put, contains (HEAD), delete,
//! insert-if-absent (`If-None-Match: *`) and compare-and-swap (`If-Match`), each over fresh
//! keys in alternating rounds, sequentially. Client CPU is this process's user+system time
//! (`getrusage`). The requests of each operation are counted in a short pass of their own
//! (10 keys) through the HTTP-aware proxy of the crate's tests (`tests/common/proxy.rs`,
//! without faults), which counts what it forwards. `BENCH_RTT_MS`
//! (the round trip the latency proxy adds) goes into every row, and scales the operations
//! per round down, as in the crate's benchmark.

use std::time::Instant;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion};
use opendal::Operator;

#[path = "../../../tests/common/proxy.rs"]
mod proxy;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SMALL: usize = 100;
const LARGE: usize = 1 << 20;
const OPS: [&str; 6] = ["get", "put", "contains", "delete", "insert", "cas"];

/// One peer's client.
#[derive(Clone)]
enum Peer {
    ObjectStore(std::sync::Arc<AmazonS3>),
    OpenDal(Operator),
}

impl Peer {
    fn connect(name: &str, endpoint: &str, bucket: &str) -> Res<Peer> {
        Ok(match name {
            "object_store" => Peer::ObjectStore(std::sync::Arc::new(
                AmazonS3Builder::new()
                    .with_endpoint(endpoint)
                    .with_bucket_name(bucket)
                    .with_region("us-east-1")
                    .with_access_key_id("test")
                    .with_secret_access_key("test")
                    .with_allow_http(true)
                    .with_virtual_hosted_style_request(false)
                    .with_conditional_put(S3ConditionalPut::ETagMatch)
                    .build()?,
            )),
            _ => {
                let builder = opendal::services::S3::default()
                    .endpoint(endpoint)
                    .bucket(bucket)
                    .region("us-east-1")
                    .access_key_id("test")
                    .secret_access_key("test")
                    .disable_config_load()
                    .disable_ec2_metadata();
                Peer::OpenDal(Operator::new(builder)?)
            }
        })
    }

    /// Writes `body`; the new ETag.
    async fn put(&self, key: &str, body: &Bytes, mode: Mode<'_>) -> Res<String> {
        match self {
            Peer::ObjectStore(s) => {
                let mode = match mode {
                    Mode::Overwrite => PutMode::Overwrite,
                    Mode::Create => PutMode::Create,
                    Mode::Update(e) => PutMode::Update(UpdateVersion {
                        e_tag: Some(e.to_owned()),
                        version: None,
                    }),
                };
                let opts = PutOptions {
                    mode,
                    ..Default::default()
                };
                let r = s
                    .put_opts(&Path::from(key), PutPayload::from(body.clone()), opts)
                    .await?;
                Ok(r.e_tag.unwrap_or_default())
            }
            Peer::OpenDal(op) => {
                let w = op.write_with(key, body.clone());
                let w = match mode {
                    Mode::Overwrite => w,
                    Mode::Create => w.if_not_exists(true),
                    Mode::Update(e) => w.if_match(e),
                };
                Ok(w.await?.etag().unwrap_or_default().to_owned())
            }
        }
    }

    async fn get(&self, key: &str) -> Res<usize> {
        match self {
            Peer::ObjectStore(s) => Ok(s.get(&Path::from(key)).await?.bytes().await?.len()),
            Peer::OpenDal(op) => Ok(op.read(key).await?.len()),
        }
    }

    async fn contains(&self, key: &str) -> Res<bool> {
        match self {
            Peer::ObjectStore(s) => Ok(s.head(&Path::from(key)).await.is_ok()),
            Peer::OpenDal(op) => Ok(op.exists(key).await?),
        }
    }

    async fn delete(&self, key: &str) -> Res<()> {
        match self {
            Peer::ObjectStore(s) => Ok(s.delete(&Path::from(key)).await?),
            Peer::OpenDal(op) => Ok(op.delete(key).await?),
        }
    }
}

#[derive(Clone, Copy)]
enum Mode<'a> {
    Overwrite,
    Create,
    Update(&'a str),
}

fn rtt_ms() -> f64 {
    std::env::var("BENCH_RTT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `n` operations per round on loopback, fewer behind a delay, never under 8.
fn scaled(n: usize) -> usize {
    let rtt = rtt_ms();
    if rtt <= 2.0 {
        return n;
    }
    ((n as f64 * 2.0 / rtt).ceil() as usize).max(8)
}

fn cpu_us() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let t = |v: libc::timeval| v.tv_sec as f64 * 1e6 + v.tv_usec as f64;
    t(u.ru_utime) + t(u.ru_stime)
}

#[derive(Default, Clone, Copy)]
struct Sample {
    ops: u64,
    secs: f64,
    cpu_us: f64,
}

/// Runs `op` over `n` fresh keys (prepared first where the operation needs objects), the
/// preparation not measured.
async fn round(peer: &Peer, op: &str, size: usize, n: usize, tag: &str) -> Res<Sample> {
    let body = Bytes::from(vec![b'x'; size]);
    let keys: Vec<String> = (0..n)
        .map(|i| format!("peers/{tag}/{op}-{i:05}.bin"))
        .collect();
    let mut etags = Vec::with_capacity(n);
    if op != "put" && op != "insert" {
        for k in &keys {
            etags.push(peer.put(k, &body, Mode::Overwrite).await?);
        }
    }
    let (t0, c0) = (Instant::now(), cpu_us());
    for (i, k) in keys.iter().enumerate() {
        match op {
            "get" => assert_eq!(peer.get(k).await?, size),
            "put" => drop(peer.put(k, &body, Mode::Overwrite).await?),
            "contains" => assert!(peer.contains(k).await?),
            "delete" => peer.delete(k).await?,
            "insert" => drop(peer.put(k, &body, Mode::Create).await?),
            "cas" => drop(peer.put(k, &body, Mode::Update(&etags[i])).await?),
            other => return Err(format!("unknown operation {other}").into()),
        }
    }
    let sample = Sample {
        ops: n as u64,
        secs: t0.elapsed().as_secs_f64(),
        cpu_us: cpu_us() - c0,
    };
    for k in &keys {
        let _ = peer.delete(k).await;
    }
    Ok(sample)
}

/// The requests one `op` sends per key, counted through the proxy: the preparation (one
/// PUT per key) and the cleanup (one DELETE per key) of the round are taken off.
async fn requests_per_op(
    name: &str,
    endpoint: &str,
    bucket: &str,
    op: &str,
    size: usize,
    tag: &str,
) -> Res<f64> {
    let proxy = proxy::Proxy::start(
        endpoint,
        proxy::FaultRates::NONE,
        1,
        std::time::Duration::ZERO,
    )
    .await;
    let peer = Peer::connect(name, &proxy.url, bucket)?;
    let n = 10;
    round(&peer, op, size, n, tag).await?;
    let prepared = if op == "put" || op == "insert" { 0 } else { n };
    let forwarded = proxy.counts().forwarded as f64;
    Ok((forwarded - (prepared + n) as f64) / n as f64)
}

async fn run(endpoint: &str, bucket: &str, out: &str) -> Res<()> {
    let run = format!("{:08x}", fastrand::u32(..));
    let mut rows = Vec::new();
    for name in ["object_store", "opendal"] {
        let peer = Peer::connect(name, endpoint, bucket)?;
        // Warm the client: connections, credentials.
        round(&peer, "put", SMALL, scaled(50), &format!("{run}/warm")).await?;
        for (size, per_round, rounds) in [(SMALL, scaled(200), 4), (LARGE, scaled(32), 4)] {
            for op in OPS {
                let mut total = Sample::default();
                for r in 0..rounds {
                    let s = round(&peer, op, size, per_round, &format!("{run}/{name}-{r}")).await?;
                    total.ops += s.ops;
                    total.secs += s.secs;
                    total.cpu_us += s.cpu_us;
                }
                let tag = format!("{run}/{name}-count");
                let requests_per_op =
                    requests_per_op(name, endpoint, bucket, op, size, &tag).await?;
                let ops = total.ops.max(1) as f64;
                // Named as the crate's rows that send the same request.
                let label = match op {
                    "insert" => "setdefault (absent)",
                    "cas" => "put_if(Same)",
                    other => other,
                };
                let row = serde_json::json!({
                    "op": label, "impl": name, "value_size": size, "n": total.ops,
                    "ops_per_s": ops / total.secs.max(1e-9),
                    "requests_per_op": requests_per_op,
                    "cpu_us_per_op": total.cpu_us / ops,
                    "rtt_ms": rtt_ms(),
                    "note": "",
                });
                eprintln!(
                    "  {:<10} {:<13} {:>8} B  {:>9.1} ops/s  {:>8.1} us CPU/op  {:.2} req/op",
                    op,
                    name,
                    size,
                    row["ops_per_s"].as_f64().unwrap_or(0.0),
                    row["cpu_us_per_op"].as_f64().unwrap_or(0.0),
                    requests_per_op
                );
                rows.push(row);
            }
        }
    }
    std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, bucket, out] = args.as_slice() else {
        return Err("usage: persidict-bench-peers <endpoint> <bucket> <out.json>".into());
    };
    opendal::install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run(endpoint, bucket, out))
}
