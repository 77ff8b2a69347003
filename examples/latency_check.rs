//! Measures the benchmark's latency proxy (`tests/common/latency.rs`) against an echo
//! server in the same process on 127.0.0.1.
//!
//! ```text
//! cargo run --release --example latency_check [-- <seconds per throughput run>]
//! ```
//!
//! Precision: one connection sends 100 bytes and waits for their echo, again and again,
//! directly and through the proxy at one-way delays of 0, 0.5, 2, 5 and 20 ms. The echo
//! server notes when each request arrived, which splits the round trip into its two
//! directions; each is printed as its lateness (measured minus intended) in µs, median and
//! 99th percentile. Throughput: 64 connections each send 100-byte requests answered by 100
//! bytes for a few seconds (3 by default), directly, through the proxy without delay, and
//! through it at 1 ms each way (where at most 64 requests fit in a round trip).

#[path = "../tests/common/latency.rs"]
mod latency;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

const MESSAGE: usize = 100;
const CONNECTIONS: usize = 64;

fn main() -> Res<()> {
    let seconds: f64 = match std::env::args().nth(1) {
        Some(s) => s.parse()?,
        None => 3.0,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let echo = stamping_echo_server()?;
    println!("precision, {MESSAGE}-byte ping-pong; lateness in µs, median / p99");
    println!("| one way | client→server | server→client | round trip | samples |");
    println!("|---|---|---|---|---|");
    precision(echo.0, &echo.1, None)?;
    for one_way_ms in [0.0, 0.5, 2.0, 5.0, 20.0] {
        let one_way = Duration::from_secs_f64(one_way_ms / 1000.0);
        let proxy = rt.block_on(latency::LatencyProxy::start(
            &echo.0.to_string(),
            0,
            one_way,
        ))?;
        precision(proxy_addr(&proxy)?, &echo.1, Some(one_way))?;
    }

    let run = Duration::from_secs_f64(seconds);
    println!("\nthroughput, {CONNECTIONS} connections, {MESSAGE}-byte requests and answers");
    println!("| path | requests/s | CPU µs per request (whole process) |");
    println!("|---|---|---|");
    let server = rt.block_on(echo_server())?;
    let (direct, cpu) = rt.block_on(throughput(server, run))?;
    println!("| direct | {direct:.0} | {cpu:.1} |");
    for one_way_ms in [0, 1] {
        let one_way = Duration::from_millis(one_way_ms);
        let proxy = rt.block_on(latency::LatencyProxy::start(
            &server.to_string(),
            0,
            one_way,
        ))?;
        let (via, cpu) = rt.block_on(throughput(proxy_addr(&proxy)?, run))?;
        let bound = if one_way.is_zero() {
            String::new()
        } else {
            let ideal = CONNECTIONS as f64 / (2.0 * one_way.as_secs_f64());
            format!(" (at most {ideal:.0})")
        };
        println!("| proxy, {one_way_ms} ms each way | {via:.0}{bound} | {cpu:.1} |");
    }
    Ok(())
}

fn proxy_addr(proxy: &latency::LatencyProxy) -> Res<SocketAddr> {
    Ok(proxy.url.trim_start_matches("http://").parse()?)
}

/// An echo server on blocking sockets for one connection at a time, sending the time each
/// request had fully arrived on the channel.
fn stamping_echo_server() -> Res<(SocketAddr, mpsc::Receiver<Instant>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let _ = conn.set_nodelay(true);
            let mut buf = [0u8; MESSAGE];
            while conn.read_exact(&mut buf).is_ok() {
                if tx.send(Instant::now()).is_err() || conn.write_all(&buf).is_err() {
                    break;
                }
            }
        }
    });
    Ok((addr, rx))
}

/// One row of the precision table: ping-pongs for about two seconds (100 to 1000 of them).
fn precision(
    target: SocketAddr,
    arrivals: &mpsc::Receiver<Instant>,
    one_way: Option<Duration>,
) -> Res<()> {
    let delay = one_way.unwrap_or_default();
    let samples = (2.0 / (2.0 * delay.as_secs_f64() + 1e-4)).clamp(100.0, 1000.0) as usize;
    let mut conn = std::net::TcpStream::connect(target)?;
    conn.set_nodelay(true)?;
    let (mut up, mut down, mut round) = (Vec::new(), Vec::new(), Vec::new());
    let late = |d: Duration| (d.as_secs_f64() - delay.as_secs_f64()) * 1e6;
    let mut buf = [7u8; MESSAGE];
    for i in 0..samples + 10 {
        let sent = Instant::now();
        conn.write_all(&buf)?;
        conn.read_exact(&mut buf)?;
        let back = Instant::now();
        let arrived = arrivals.recv()?;
        // The first few warm the connection up.
        if i >= 10 {
            up.push(late(arrived - sent));
            down.push(late(back - arrived));
            round.push(late(back - sent) - delay.as_secs_f64() * 1e6);
        }
    }
    let name = match one_way {
        None => "direct".to_owned(),
        Some(d) => format!("proxy {} ms", d.as_secs_f64() * 1000.0),
    };
    println!(
        "| {name} | {} | {} | {} | {samples} |",
        quantiles(&mut up),
        quantiles(&mut down),
        quantiles(&mut round)
    );
    Ok(())
}

fn quantiles(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    format!("{:.0} / {:.0}", at(0.5), at(0.99))
}

/// An echo server on tokio for many connections.
async fn echo_server() -> Res<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = conn.set_nodelay(true);
                let mut buf = [0u8; MESSAGE];
                while conn.read_exact(&mut buf).await.is_ok() {
                    if conn.write_all(&buf).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    Ok(addr)
}

/// Requests per second that [`CONNECTIONS`] connections complete in `run`, each waiting for
/// its answer before sending the next request, and the CPU time the process spent per
/// request in µs.
async fn throughput(target: SocketAddr, run: Duration) -> Res<(f64, f64)> {
    let cpu = cpu_time();
    let start = Instant::now();
    let deadline = start + run;
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CONNECTIONS {
        clients.spawn(async move {
            let mut conn = tokio::net::TcpStream::connect(target).await?;
            conn.set_nodelay(true)?;
            let mut buf = [7u8; MESSAGE];
            let mut done = 0u64;
            while Instant::now() < deadline {
                conn.write_all(&buf).await?;
                conn.read_exact(&mut buf).await?;
                done += 1;
            }
            Ok::<u64, std::io::Error>(done)
        });
    }
    let mut total = 0;
    while let Some(done) = clients.join_next().await {
        total += done??;
    }
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    Ok((
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64() * 1e6 / total as f64,
    ))
}

/// User and system CPU time of the process so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage only fills the struct it is given.
    let usage = unsafe {
        let mut usage = std::mem::zeroed::<libc::rusage>();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    time(usage.ru_utime) + time(usage.ru_stime)
}
