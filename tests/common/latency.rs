//! A delaying TCP proxy on 127.0.0.1: every byte crosses it `one_way` later than it
//! arrived, in each direction, so a loopback server looks `2 × one_way` away (the round
//! trip of a distant S3). Bytes keep their order; the end of a stream is passed on after
//! the same delay; nothing else changes. It counts the connections it accepted, so a
//! benchmark can tell whether a client reused them.
//!
//! Accepting and connecting run on tokio. With a delay, each direction of a connection
//! is then a pair of OS threads (64 KiB stacks) on blocking sockets: a reader stamping
//! each chunk with the time it is due and a writer sending it then. Tokio's timer would
//! not do: it ticks in whole milliseconds and rounds up, making each direction up to 1 ms
//! late (a GET behind a 10 ms round trip took 15 ms). The writer sleeps with
//! `std::thread::sleep` (a high-resolution timer, its thread's timer slack cut to 1 ns on
//! Linux) until shortly before the due time, by as much as such sleeps have lately been
//! overslept (a virtual CPU woken from idle takes 30–150 µs), and waits the rest awake:
//! at most 100 µs, and little when the machine is busy and wakes promptly. The delay is a
//! pipeline, not a stall, so the proxy carries thousands of requests per second whatever
//! the delay. The threads end when their connection closes, or when the proxy is dropped,
//! which closes the connections it relays. With a zero delay it is a plain relay on tokio
//! (256 KiB buffers).
//!
//! Measured on 2026-12-05 on a 2-core machine, quiet but for a SeaweedFS server, with
//! `cargo run --release --example latency_check`: 100-byte ping-pongs with an echo server
//! in the same process, each direction's lateness (measured minus intended, loopback and
//! the echo server's own time included), median / p99 in µs:
//!
//! | one way  | client→server | server→client |
//! |----------|---------------|---------------|
//! | direct   | 7 / 29        | 7 / 29        |
//! | 0 ms     | 35 / 57       | 32 / 50       |
//! | 0.5 ms   | 36 / 87       | 35 / 85       |
//! | 2 ms     | 43 / 106      | 42 / 123      |
//! | 5 ms     | 60 / 198      | 66 / 212      |
//! | 20 ms    | 111 / 197     | 117 / 550     |
//!
//! (the longer the machine idles between pings, the slower every thread wakes). 64
//! connections each sending 100-byte requests answered by 100 bytes complete 150,000
//! requests/s directly, 74,000 through the proxy without delay, and 16,600 at 1 ms each
//! way (at most 32,000 fit in the round trips; the proxy's threads then cost about 100 µs
//! of CPU per request).
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// The largest chunk read at once (and the buffers of the zero-delay relay).
const CHUNK: usize = 256 << 10;

/// Stack of each relay thread: they keep their buffers on the heap.
const THREAD_STACK: usize = 64 << 10;

/// A running proxy; it stops when dropped: it no longer accepts, and it closes the
/// connections it relays.
pub struct LatencyProxy {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    accepted: Arc<AtomicU64>,
    open: Arc<Mutex<Open>>,
    task: tokio::task::JoinHandle<()>,
}

/// The sockets of the delayed connections, so that dropping the proxy can close them.
#[derive(Default)]
struct Open {
    stopped: bool,
    sockets: Vec<Weak<std::net::TcpStream>>,
}

impl Drop for LatencyProxy {
    fn drop(&mut self) {
        // Aborting the accept task drops the listener and the zero-delay relays with it.
        self.task.abort();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.stopped = true;
        for socket in open.sockets.drain(..).filter_map(|s| s.upgrade()) {
            // Wakes the readers (end of stream) and fails the writers, so the threads end.
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}

impl LatencyProxy {
    /// Starts a proxy to `upstream` (`host:port` or `http://host:port`) on `port` (0: any
    /// free port), delaying each direction by `one_way`.
    pub async fn start(upstream: &str, port: u16, one_way: Duration) -> io::Result<Self> {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let accepted = Arc::new(AtomicU64::new(0));
        let open = Arc::new(Mutex::new(Open::default()));
        let (counter, registry) = (Arc::clone(&accepted), Arc::clone(&open));
        let task = tokio::spawn(async move {
            // Owned here, so that aborting this task aborts the relays too.
            let mut relays = JoinSet::new();
            while let Ok((client, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                while relays.try_join_next().is_some() {}
                let (upstream, registry) = (upstream.clone(), Arc::clone(&registry));
                relays.spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let _ = relay(client, server, one_way, &registry).await;
                    }
                });
            }
        });
        Ok(LatencyProxy {
            url,
            accepted,
            open,
            task,
        })
    }

    /// How many client connections the proxy has accepted.
    pub fn connections(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    one_way: Duration,
    open: &Mutex<Open>,
) -> io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    if one_way.is_zero() {
        tokio::io::copy_bidirectional_with_sizes(&mut client, &mut server, CHUNK, CHUNK).await?;
        return Ok(());
    }
    let client = Arc::new(blocking(client)?);
    let server = Arc::new(blocking(server)?);
    {
        let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
        if open.stopped {
            return Ok(());
        }
        open.sockets.retain(|s| s.strong_count() > 0);
        open.sockets.push(Arc::downgrade(&client));
        open.sockets.push(Arc::downgrade(&server));
    }
    let started =
        direction(&client, &server, one_way).and_then(|()| direction(&server, &client, one_way));
    if started.is_err() {
        // Ends whichever threads did start.
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    }
    started
}

fn blocking(stream: TcpStream) -> io::Result<std::net::TcpStream> {
    let stream = stream.into_std()?;
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// One direction: a reader thread stamps each chunk with its due time, `one_way` after
/// it arrived, and a writer thread sends it then, in order; the end of the stream is
/// passed on (as a shutdown of the write side) after the same delay.
fn direction(
    from: &Arc<std::net::TcpStream>,
    to: &Arc<std::net::TcpStream>,
    one_way: Duration,
) -> io::Result<()> {
    // An empty chunk is the end of the stream.
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let reader_from = Arc::clone(from);
    std::thread::Builder::new()
        .name("latency-read".into())
        .stack_size(THREAD_STACK)
        .spawn(move || read_side(&reader_from, &tx, one_way))?;
    let (writer_from, writer_to) = (Arc::clone(from), Arc::clone(to));
    std::thread::Builder::new()
        .name("latency-write".into())
        .stack_size(THREAD_STACK)
        .spawn(move || write_side(&writer_from, &writer_to, &rx))?;
    Ok(())
}

fn read_side(from: &std::net::TcpStream, tx: &mpsc::Sender<(Instant, Vec<u8>)>, one_way: Duration) {
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match (&*from).read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A reset ends the stream like a close.
            Err(_) => 0,
        };
        let due = Instant::now() + one_way;
        if tx.send((due, buf[..n].to_vec())).is_err() || n == 0 {
            return;
        }
    }
}

fn write_side(
    from: &std::net::TcpStream,
    to: &std::net::TcpStream,
    rx: &mpsc::Receiver<(Instant, Vec<u8>)>,
) {
    precise_sleeps();
    for (due, chunk) in rx {
        sleep_until(due);
        if chunk.is_empty() {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        if (&*to).write_all(&chunk).is_err() {
            // Nobody takes this direction any more: stop reading it, which ends the reader.
            let _ = from.shutdown(Shutdown::Read);
            return;
        }
    }
}

/// How late `std::thread::sleep` wakes up on this machine (a moving average, in ns): a
/// virtual CPU woken from idle can take 50–150 µs after its timer.
static WAKE_LATENESS_NS: AtomicU64 = AtomicU64::new(0);

/// The most a writer waits awake for its deadline.
const MAX_SPIN: Duration = Duration::from_micros(100);

/// Sleeps until about the usual wake-up lateness before `due`, then waits the rest
/// awake, so a writer is neither late by the lateness nor busy for more than [`MAX_SPIN`].
fn sleep_until(due: Instant) {
    let now = Instant::now();
    if now >= due {
        return;
    }
    let margin = Duration::from_nanos(WAKE_LATENESS_NS.load(Ordering::Relaxed)).min(MAX_SPIN);
    if let Some(nap) = (due - now).checked_sub(margin).filter(|nap| !nap.is_zero()) {
        let wake = now + nap;
        std::thread::sleep(nap);
        let late = Instant::now().saturating_duration_since(wake).as_nanos();
        let late = u64::try_from(late)
            .unwrap_or(u64::MAX)
            .min(4 * MAX_SPIN.as_nanos() as u64);
        // Races between writers lose an update at worst.
        let average = WAKE_LATENESS_NS.load(Ordering::Relaxed);
        WAKE_LATENESS_NS.store(average - average / 8 + late / 8, Ordering::Relaxed);
    }
    while Instant::now() < due {
        std::hint::spin_loop();
    }
}

/// Linux lets a sleeping thread wake up to its timer slack (50 µs by default) late, to
/// batch wake-ups; the writers want their deadline.
fn precise_sleeps() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes an integer and affects only the calling thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}
