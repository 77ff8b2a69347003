//! How long one small request takes when the machine has been idle before it: the part of
//! a distant server's round trip that is not the network's.
//!
//! ```text
//! idle_latency <endpoint> <bucket> [gaps ms, comma-separated; default 0,1,5,10,40]
//! ```
//!
//! One raw aws-sdk-s3 client (configured as `bench_compare`'s) writes one 100-byte object,
//! then for each gap sends 200 GETs of it one after the other, waiting that long before
//! each; it prints the median, 10th and 90th percentile of a GET's time in ms. With no gap
//! the client and the server run back to back; with one, every process on the path wakes
//! from idle for each request, as they do behind the latency proxy, where each request
//! waits a round trip before the next. `bench/compare.sh` runs it on the server directly
//! and appends the table to `target/bench/compare.md`: it splits the time a request takes
//! behind the proxy over the floor of (requests x RTT).

use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;

#[path = "support/raw.rs"]
mod raw;

type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const GETS: usize = 200;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, bucket, rest @ ..] = args.as_slice() else {
        return Err("usage: idle_latency <endpoint> <bucket> [gaps ms, comma-separated]".into());
    };
    let gaps: Vec<u64> = match rest.first() {
        Some(list) => list
            .split(',')
            .map(|g| g.trim().parse())
            .collect::<Result<_, _>>()?,
        None => vec![0, 1, 5, 10, 40],
    };
    // Two workers, as in the benchmarks.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(endpoint, bucket, &gaps))
}

async fn run(endpoint: &str, bucket: &str, gaps: &[u64]) -> Res<()> {
    let client = aws_sdk_s3::Client::from_conf(raw::raw_config(endpoint).await.build());
    // The bucket may exist already; a real failure shows at the PUT.
    let _ = client.create_bucket().bucket(bucket).send().await;
    client
        .put_object()
        .bucket(bucket)
        .key("idle-latency/k")
        .body(ByteStream::from(vec![7u8; 100]))
        .send()
        .await?;
    println!("| gap before each GET | median ms | p10 ms | p90 ms |");
    println!("|--:|--:|--:|--:|");
    for &gap in gaps {
        let mut times = Vec::with_capacity(GETS);
        for _ in 0..GETS {
            if gap > 0 {
                tokio::time::sleep(Duration::from_millis(gap)).await;
            }
            let t0 = Instant::now();
            let out = client
                .get_object()
                .bucket(bucket)
                .key("idle-latency/k")
                .send()
                .await?;
            out.body.collect().await?;
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let at = |q: usize| times[(GETS - 1) * q / 100];
        println!(
            "| {gap} ms | {:.2} | {:.2} | {:.2} |",
            at(50),
            at(10),
            at(90)
        );
    }
    Ok(())
}
