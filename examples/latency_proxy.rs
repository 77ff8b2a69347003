//! A delaying TCP proxy for benchmarks: makes a loopback S3 server look like a distant one.
//!
//! ```text
//! latency_proxy <listen-port> <upstream host:port> <one-way delay ms> [<stats file>]
//! ```
//!
//! Every byte crosses the proxy `delay` later than it arrived, in each direction, so the
//! round trip grows by twice the delay (the delay may be fractional, e.g. `0.5`). Each
//! direction is late by tens of µs, not the up-to-1 ms of tokio's timer: the timed writes
//! run on OS threads with high-resolution sleeps (see `tests/common/latency.rs`, and
//! `examples/latency_check.rs` for the measured precision and throughput). It runs until
//! killed; with a stats file it writes the number of connections it accepted there every
//! 100 ms (a client that keeps its connections alive opens few). `bench/compare.sh --rtt
//! MS` runs it.

#[path = "../tests/common/latency.rs"]
mod latency;

use std::time::Duration;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, upstream, delay_ms, rest @ ..] = args.as_slice() else {
        return Err(
            "usage: latency_proxy <listen-port> <upstream host:port> <one-way ms> [<stats file>]"
                .into(),
        );
    };
    let port: u16 = port.parse()?;
    let one_way = Duration::from_secs_f64(delay_ms.parse::<f64>()? / 1000.0);
    let stats = rest.first().cloned();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let proxy = latency::LatencyProxy::start(upstream, port, one_way).await?;
        eprintln!(
            "latency_proxy: {} -> {upstream}, {one_way:?} each way",
            proxy.url
        );
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if let Some(path) = &stats {
                std::fs::write(path, format!("{}\n", proxy.connections()))?;
            }
        }
    })
}
