//! What each setting of aws-sdk-s3 costs per request, in client CPU: raw SDK calls under
//! variants of the configuration this crate uses, against one S3 endpoint.
//!
//! ```text
//! sdk_cost <endpoint> <bucket> [rounds]      # prints one Markdown table
//! ```
//!
//! Every variant does the same sequential requests (GET, HEAD and PUT of 100 bytes, GET
//! and PUT of 1 MiB) on its own client; the variants take turns, one batch each per
//! round, and the table shows the median CPU µs per request (user + system time of this
//! process, `getrusage`) and ops/s. `bench/compare.sh` does not run it; it answers "what
//! does turning X off buy" when choosing the client configuration. For a profile of one
//! kind of request, `SDK_COST_FIRST=1 SDK_COST_OPS="GET 100 B"` runs the crate's
//! configuration and that request alone (e.g. under `perf record`);
//! `SDK_COST_RUNTIME=current_thread` runs on one thread instead of two workers.

use std::time::Instant;

use aws_sdk_s3::config::endpoint::{Endpoint, EndpointFuture, Params, ResolveEndpoint};
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::config::StalledStreamProtectionConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use bytes::Bytes;

type Res<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[path = "support/cpu.rs"]
mod cpu;
use cpu::cpu_micros;
#[path = "support/raw.rs"]
mod raw;

/// An endpoint resolver that answers every request with one endpoint worked out once by
/// the SDK's own rules (so the signing properties are the SDK's).
#[derive(Debug)]
struct FixedEndpoint(Endpoint);

impl ResolveEndpoint for FixedEndpoint {
    fn resolve_endpoint<'a>(&'a self, _params: &'a Params) -> EndpointFuture<'a> {
        EndpointFuture::ready(Ok(self.0.clone()))
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Variant {
    name: &'static str,
    fixed_endpoint: bool,
    no_stalled_stream: bool,
    unsigned_payload: bool,
    no_timeouts: bool,
    no_retries: bool,
    override_per_request: bool,
}

async fn client(endpoint: &str, bucket: &str, v: Variant) -> Res<Client> {
    let mut conf = raw::raw_config(endpoint).await;
    if !v.no_timeouts {
        conf = conf.timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_millis(3100))
                .operation_attempt_timeout(std::time::Duration::from_secs(30))
                .build(),
        );
    }
    if v.no_stalled_stream {
        conf = conf.stalled_stream_protection(StalledStreamProtectionConfig::disabled());
    }
    if v.no_retries {
        conf = conf.retry_config(RetryConfig::disabled());
    }
    if v.fixed_endpoint {
        let params = Params::builder()
            .bucket(bucket)
            .region("us-east-1")
            .endpoint(endpoint)
            .force_path_style(true)
            .build()?;
        let resolved = aws_sdk_s3::config::endpoint::DefaultResolver::new()
            .resolve_endpoint(&params)
            .await?;
        conf = conf.endpoint_resolver(FixedEndpoint(resolved));
    }
    Ok(Client::from_conf(conf.build()))
}

#[derive(Clone, Copy)]
enum Op {
    Get,
    Head,
    Put,
}

async fn batch(c: &Client, v: Variant, bucket: &str, op: Op, size: usize, n: usize) -> Res<()> {
    let key = format!("sdk-cost/{size}");
    let body = Bytes::from(vec![b'x'; size]);
    for _ in 0..n {
        match op {
            Op::Get => {
                let out = c.get_object().bucket(bucket).key(&key).send().await?;
                let got = out.body.collect().await?.into_bytes();
                assert_eq!(got.len(), size);
            }
            Op::Head => {
                c.head_object().bucket(bucket).key(&key).send().await?;
            }
            Op::Put => {
                let req = c
                    .put_object()
                    .bucket(bucket)
                    .key(&key)
                    .body(ByteStream::from(body.clone()));
                match (v.unsigned_payload, v.override_per_request) {
                    (false, false) => req.send().await.map(drop)?,
                    (true, false) => req
                        .customize()
                        .disable_payload_signing()
                        .send()
                        .await
                        .map(drop)?,
                    (unsigned, true) => {
                        let over = aws_sdk_s3::config::Builder::new()
                            .retry_config(RetryConfig::disabled())
                            .timeout_config(
                                TimeoutConfig::builder()
                                    .operation_attempt_timeout(std::time::Duration::from_secs(31))
                                    .build(),
                            );
                        let req = req.customize().config_override(over);
                        let req = if unsigned {
                            req.disable_payload_signing()
                        } else {
                            req
                        };
                        req.send().await.map(drop)?
                    }
                }
            }
        }
    }
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() -> Res<()> {
    // Two workers, as the benchmark and its peers run; SDK_COST_RUNTIME=current_thread
    // runs everything on this thread.
    let mut rt = match std::env::var("SDK_COST_RUNTIME").as_deref() {
        Ok("current_thread") => tokio::runtime::Builder::new_current_thread(),
        _ => {
            let mut b = tokio::runtime::Builder::new_multi_thread();
            b.worker_threads(2);
            b
        }
    };
    rt.enable_all().build()?.block_on(run())
}

async fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, bucket, rest @ ..] = args.as_slice() else {
        return Err("usage: sdk_cost <endpoint> <bucket> [rounds]".into());
    };
    let rounds: usize = rest.first().map_or(Ok(5), |s| s.parse())?;
    let base = Variant {
        name: "as the crate configures it",
        ..Variant::default()
    };
    let variants = [
        base,
        Variant {
            name: "+ fixed endpoint",
            fixed_endpoint: true,
            ..base
        },
        Variant {
            name: "+ no stalled-stream protection",
            no_stalled_stream: true,
            ..base
        },
        Variant {
            name: "+ unsigned payload",
            unsigned_payload: true,
            ..base
        },
        Variant {
            name: "+ no timeouts",
            no_timeouts: true,
            ..base
        },
        Variant {
            name: "+ no retries",
            no_retries: true,
            ..base
        },
        Variant {
            name: "+ a config override on each PUT",
            override_per_request: true,
            ..base
        },
        Variant {
            name: "all of the above but the override",
            fixed_endpoint: true,
            no_stalled_stream: true,
            unsigned_payload: true,
            no_timeouts: true,
            no_retries: true,
            override_per_request: false,
        },
    ];
    // SDK_COST_FIRST=N keeps the first N variants (1: the crate's configuration alone).
    let keep = std::env::var("SDK_COST_FIRST")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(variants.len());
    let variants = &variants[..keep.clamp(1, variants.len())];
    let mut clients = Vec::new();
    for &v in variants {
        clients.push(client(endpoint, bucket, v).await?);
    }
    let c0 = &clients[0];
    let _ = c0.create_bucket().bucket(bucket).send().await;
    let ops = [
        ("GET 100 B", Op::Get, 100, 400),
        ("HEAD", Op::Head, 100, 400),
        ("PUT 100 B", Op::Put, 100, 400),
        ("GET 1 MiB", Op::Get, 1 << 20, 40),
        ("PUT 1 MiB", Op::Put, 1 << 20, 40),
    ];
    // SDK_COST_OPS="GET 100 B,PUT 100 B" keeps the operations named (for a profile).
    let ops: Vec<_> = match std::env::var("SDK_COST_OPS") {
        Ok(only) => ops
            .into_iter()
            .filter(|(name, ..)| only.split(',').any(|o| o.trim() == *name))
            .collect(),
        Err(_) => ops.to_vec(),
    };
    for &(_, _, size, _) in &ops {
        batch(c0, base, bucket, Op::Put, size, 1).await?;
    }
    // cpu[variant][op], rate[variant][op]: one figure per round.
    let mut cpu = vec![vec![Vec::new(); ops.len()]; variants.len()];
    let mut rate = cpu.clone();
    for round in 0..=rounds {
        for (i, (c, &v)) in clients.iter().zip(variants).enumerate() {
            for (j, &(_, op, size, n)) in ops.iter().enumerate() {
                let (t0, c0) = (Instant::now(), cpu_micros());
                batch(c, v, bucket, op, size, n).await?;
                if round > 0 {
                    cpu[i][j].push((cpu_micros() - c0) / n as f64);
                    rate[i][j].push(n as f64 / t0.elapsed().as_secs_f64());
                }
            }
        }
    }
    print!("| configuration |");
    for (name, ..) in &ops {
        print!(" {name} CPU µs (ops/s) |");
    }
    println!();
    println!("|---|{}", "--:|".repeat(ops.len()));
    for (i, v) in variants.iter().enumerate() {
        print!("| {} |", v.name);
        for j in 0..ops.len() {
            print!(
                " {:.1} ({:.0}) |",
                median(cpu[i][j].clone()),
                median(rate[i][j].clone())
            );
        }
        println!();
    }
    Ok(())
}
