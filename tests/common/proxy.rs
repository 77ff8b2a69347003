//! A fault-injecting HTTP/1.1 proxy on 127.0.0.1, placed between an S3 client and a real
//! S3 server.
//!
//! Why HTTP-aware rather than a byte pipe: the faults that matter are per *request*
//! ("the server applied this PUT but the client never heard"), and the client keeps its
//! connections alive, so the proxy must know where each request and each answer ends. It
//! understands exactly what S3 clients and servers send: a request head, then a body framed
//! by `Content-Length` or `Transfer-Encoding: chunked` (or none); an answer framed the same
//! way, or by the end of the connection, with no body for `HEAD`, `1xx`, `204` and `304`.
//! `Expect: 100-continue` is answered by the proxy itself and removed from the forwarded
//! request. Each forwarded request gets its own upstream connection, so an upstream answer
//! without framing can be read to the end of the connection.
//!
//! For each request a seeded RNG picks at most one fault, at the configured rates:
//!
//! | fault | what the proxy does | did the server apply it? |
//! |---|---|---|
//! | `reset` | resets the client connection (RST) instead of forwarding | no |
//! | `slowdown` | answers `503 SlowDown` itself | no |
//! | `error500` | half of them: answers `500 InternalError` itself; the other half: forwards, then answers `500` instead of the real answer | no / yes |
//! | `delay` | forwards, then holds the answer for `delay` (past the client's timeout) | yes |
//! | `drop` | forwards, then resets the client connection instead of answering | yes |
//!
//! Every fault is counted, and so are forwarded requests, so that a test can print what it
//! survived.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How often each fault is injected, as probabilities per request (their sum must be ≤ 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct FaultRates {
    pub reset: f64,
    pub slowdown: f64,
    pub error500: f64,
    pub delay: f64,
    pub drop: f64,
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        reset: 0.0,
        slowdown: 0.0,
        error500: 0.0,
        delay: 0.0,
        drop: 0.0,
    };
}

/// What the proxy did, counted.
#[derive(Debug, Default)]
pub struct Counts {
    pub requests: AtomicU64,
    pub forwarded: AtomicU64,
    pub reset: AtomicU64,
    pub slowdown: AtomicU64,
    pub error500_not_forwarded: AtomicU64,
    pub error500_after_forwarding: AtomicU64,
    pub delay: AtomicU64,
    pub drop: AtomicU64,
    /// Writes (PUT/DELETE) the server answered with 2xx whose answer the client never got
    /// (delay, drop or a 500 after forwarding).
    pub writes_applied_unheard: AtomicU64,
}

/// A snapshot of [`Counts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountsSnapshot {
    pub requests: u64,
    pub forwarded: u64,
    pub reset: u64,
    pub slowdown: u64,
    pub error500_not_forwarded: u64,
    pub error500_after_forwarding: u64,
    pub delay: u64,
    pub drop: u64,
    pub writes_applied_unheard: u64,
}

impl CountsSnapshot {
    pub fn faults(&self) -> u64 {
        self.reset
            + self.slowdown
            + self.error500_not_forwarded
            + self.error500_after_forwarding
            + self.delay
            + self.drop
    }
}

impl std::fmt::Display for CountsSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "requests {} (forwarded {}), faults {}: reset {}, 503 SlowDown {}, 500 {} \
             (+{} after forwarding), delayed past timeout {}, answer dropped after forwarding {}; \
             writes applied but unheard {}",
            self.requests,
            self.forwarded,
            self.faults(),
            self.reset,
            self.slowdown,
            self.error500_not_forwarded,
            self.error500_after_forwarding,
            self.delay,
            self.drop,
            self.writes_applied_unheard
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    Reset,
    SlowDown,
    Error500 { forward: bool },
    Delay,
    Drop,
}

struct State {
    upstream: String,
    rates: FaultRates,
    delay: Duration,
    rng: Mutex<fastrand::Rng>,
    counts: Counts,
    /// `(method, path)` of every request, for tests that check what was touched.
    log: Mutex<Vec<(String, String)>>,
    /// Faults are injected only while this is true.
    active: std::sync::atomic::AtomicBool,
    /// A one-shot "drop this answer" for the next request with this method.
    one_drop: Mutex<Option<OneDrop>>,
    /// A one-shot "reset instead of forwarding" for the next request with this method.
    one_reset: Mutex<Option<String>>,
}

/// The next request with `method` is forwarded; once the server has answered, the proxy
/// signals `forwarded`, waits for `release`, then resets the client connection instead of
/// answering (so the server applied the request and the client never hears).
#[derive(Clone)]
pub struct OneDrop {
    method: String,
    pub forwarded: Arc<tokio::sync::Notify>,
    pub release: Arc<tokio::sync::Notify>,
}

impl OneDrop {
    /// Whether the request `method path` is the one armed for.
    fn matches(&self, method: &str, path: &str) -> bool {
        match self.method.split_once(' ') {
            Some((m, within)) => m == method && path.contains(within),
            None => self.method == method,
        }
    }
}

/// A running proxy; it stops when dropped.
pub struct Proxy {
    pub url: String,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Starts a proxy to `upstream` (`http://host:port`) with the given fault rates, RNG
    /// seed and answer delay (for the `delay` fault).
    pub async fn start(upstream: &str, rates: FaultRates, seed: u64, delay: Duration) -> Proxy {
        let sum = rates.reset + rates.slowdown + rates.error500 + rates.delay + rates.drop;
        assert!(sum <= 1.0, "fault rates add up to {sum} > 1");
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        let state = Arc::new(State {
            upstream,
            rates,
            delay,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            counts: Counts::default(),
            log: Mutex::new(Vec::new()),
            active: std::sync::atomic::AtomicBool::new(true),
            one_drop: Mutex::new(None),
            one_reset: Mutex::new(None),
        });
        let st = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let st = Arc::clone(&st);
                tokio::spawn(async move {
                    let _ = serve(st, conn).await;
                });
            }
        });
        Proxy { url, state, task }
    }

    pub fn counts(&self) -> CountsSnapshot {
        let c = &self.state.counts;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CountsSnapshot {
            requests: g(&c.requests),
            forwarded: g(&c.forwarded),
            reset: g(&c.reset),
            slowdown: g(&c.slowdown),
            error500_not_forwarded: g(&c.error500_not_forwarded),
            error500_after_forwarding: g(&c.error500_after_forwarding),
            delay: g(&c.delay),
            drop: g(&c.drop),
            writes_applied_unheard: g(&c.writes_applied_unheard),
        }
    }

    /// Every request seen so far, as `(method, path)`.
    pub fn log(&self) -> Vec<(String, String)> {
        self.state.log.lock().unwrap().clone()
    }

    /// Arms a one-shot drop of the answer to the next `method` request; see [`OneDrop`].
    /// `method` may be followed by a space and text the request's path must contain
    /// (`"POST uploadId="`: the next `CompleteMultipartUpload`).
    pub fn drop_next_answer(&self, method: &str) -> OneDrop {
        let one = OneDrop {
            method: method.to_owned(),
            forwarded: Arc::new(tokio::sync::Notify::new()),
            release: Arc::new(tokio::sync::Notify::new()),
        };
        *self.state.one_drop.lock().unwrap() = Some(one.clone());
        one
    }

    /// Arms a one-shot reset of the client connection, instead of forwarding, for the next
    /// `method` request: the server never sees it, the client cannot tell.
    pub fn reset_next_request(&self, method: &str) {
        *self.state.one_reset.lock().unwrap() = Some(method.to_owned());
    }

    /// Switches fault injection on or off (requests are always forwarded when off).
    pub fn set_faults(&self, on: bool) {
        self.state.active.store(on, Ordering::SeqCst);
    }
}

impl State {
    fn pick(&self) -> Fault {
        if !self.active.load(Ordering::SeqCst) {
            return Fault::None;
        }
        let mut rng = self.rng.lock().unwrap();
        let x = rng.f64();
        let r = self.rates;
        let mut edge = r.reset;
        if x < edge {
            return Fault::Reset;
        }
        edge += r.slowdown;
        if x < edge {
            return Fault::SlowDown;
        }
        edge += r.error500;
        if x < edge {
            return Fault::Error500 {
                forward: rng.bool(),
            };
        }
        edge += r.delay;
        if x < edge {
            return Fault::Delay;
        }
        edge += r.drop;
        if x < edge {
            return Fault::Drop;
        }
        Fault::None
    }

    fn count(&self, f: impl Fn(&Counts) -> &AtomicU64) {
        f(&self.counts).fetch_add(1, Ordering::Relaxed);
    }
}

/// A connection with a read buffer.
struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(stream: TcpStream) -> Conn {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads more bytes into the buffer; `false` at the end of the stream.
    async fn fill(&mut self) -> std::io::Result<bool> {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.stream.read(&mut chunk).await?;
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(n > 0)
    }

    /// The bytes up to and including the first `\r\n\r\n`; `None` at a clean end.
    async fn read_head(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                return Ok(Some(self.buf.drain(..i + 4).collect()));
            }
            if !self.fill().await? {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::ErrorKind::UnexpectedEof.into())
                };
            }
        }
    }

    async fn read_exact(&mut self, n: usize) -> std::io::Result<Vec<u8>> {
        while self.buf.len() < n {
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    async fn read_line(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                return Ok(self.buf.drain(..i + 2).collect());
            }
            if !self.fill().await? {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
    }

    /// A chunked body, raw (framing included), through the last chunk and its trailers.
    async fn read_chunked(&mut self) -> std::io::Result<Vec<u8>> {
        let mut raw = Vec::new();
        loop {
            let line = self.read_line().await?;
            let text = String::from_utf8_lossy(&line);
            let size_hex = text
                .trim()
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let size = usize::from_str_radix(&size_hex, 16)
                .map_err(|_| std::io::Error::other(format!("bad chunk size {size_hex:?}")))?;
            raw.extend_from_slice(&line);
            if size == 0 {
                // Trailers, up to an empty line.
                loop {
                    let t = self.read_line().await?;
                    raw.extend_from_slice(&t);
                    if t == b"\r\n" {
                        return Ok(raw);
                    }
                }
            }
            raw.extend_from_slice(&self.read_exact(size + 2).await?);
        }
    }

    async fn read_to_end(&mut self) -> std::io::Result<Vec<u8>> {
        while self.fill().await? {}
        Ok(std::mem::take(&mut self.buf))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A parsed message head: the first line and the headers.
struct Head {
    first_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(raw: &[u8]) -> std::io::Result<Head> {
        let text = std::str::from_utf8(raw).map_err(std::io::Error::other)?;
        let mut lines = text.split("\r\n");
        let first_line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter(|l| !l.is_empty())
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Ok(Head {
            first_line,
            headers,
        })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn chunked(&self) -> bool {
        self.get("transfer-encoding")
            .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    fn content_length(&self) -> Option<usize> {
        self.get("content-length").and_then(|v| v.parse().ok())
    }
}

/// Reads a body framed as `head` says; `until_eof` for answers without framing.
async fn read_body(conn: &mut Conn, head: &Head, until_eof: bool) -> std::io::Result<Vec<u8>> {
    if head.chunked() {
        conn.read_chunked().await
    } else if let Some(n) = head.content_length() {
        conn.read_exact(n).await
    } else if until_eof {
        conn.read_to_end().await
    } else {
        Ok(Vec::new())
    }
}

/// Removes the `Expect` header from a raw request head.
fn without_expect(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for line in text.split_inclusive("\r\n") {
        if !line.to_ascii_lowercase().starts_with("expect:") {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn canned(status: u16, reason: &str, code: &str) -> Vec<u8> {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code>\
         <Message>injected by the test proxy</Message></Error>"
    );
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn serve(st: Arc<State>, conn: TcpStream) -> std::io::Result<()> {
    let _ = conn.set_nodelay(true);
    let mut client = Conn::new(conn);
    loop {
        let Some(raw_head) = client.read_head().await? else {
            return Ok(());
        };
        let head = Head::parse(&raw_head)?;
        let mut parts = head.first_line.split(' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        st.log.lock().unwrap().push((method.clone(), path.clone()));
        if head
            .get("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            client
                .stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        let body = read_body(&mut client, &head, false).await?;
        st.count(|c| &c.requests);
        let reset_this = {
            let mut one = st.one_reset.lock().unwrap();
            one.take_if(|m| *m == method).is_some()
        };
        let fault = if reset_this { Fault::Reset } else { st.pick() };
        match fault {
            Fault::Reset => {
                st.count(|c| &c.reset);
                let _ = client.stream.set_zero_linger();
                return Ok(());
            }
            Fault::SlowDown => {
                st.count(|c| &c.slowdown);
                client
                    .stream
                    .write_all(&canned(503, "Slow Down", "SlowDown"))
                    .await?;
                continue;
            }
            Fault::Error500 { forward: false } => {
                st.count(|c| &c.error500_not_forwarded);
                client
                    .stream
                    .write_all(&canned(500, "Internal Server Error", "InternalError"))
                    .await?;
                continue;
            }
            _ => {}
        }
        // Forward on a fresh upstream connection.
        let mut up = Conn::new(TcpStream::connect(&st.upstream).await?);
        let _ = up.stream.set_nodelay(true);
        up.stream.write_all(&without_expect(&raw_head)).await?;
        up.stream.write_all(&body).await?;
        let answer_head_raw = loop {
            let Some(h) = up.read_head().await? else {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            };
            // An interim 1xx answer is followed by the real one.
            if !h.starts_with(b"HTTP/1.1 1") && !h.starts_with(b"HTTP/1.0 1") {
                break h;
            }
        };
        let answer_head = Head::parse(&answer_head_raw)?;
        let status: u16 = answer_head
            .first_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let no_body = method == "HEAD" || status == 204 || status == 304;
        let answer_body = if no_body {
            Vec::new()
        } else {
            read_body(&mut up, &answer_head, true).await?
        };
        let until_eof =
            !no_body && !answer_head.chunked() && answer_head.content_length().is_none();
        st.count(|c| &c.forwarded);
        let armed = {
            let mut one = st.one_drop.lock().unwrap();
            if one.as_ref().is_some_and(|o| o.matches(&method, &path)) {
                one.take()
            } else {
                None
            }
        };
        if let Some(one) = armed {
            one.forwarded.notify_one();
            one.release.notified().await;
            st.count(|c| &c.drop);
            let _ = client.stream.set_zero_linger();
            return Ok(());
        }
        let applied_write =
            matches!(method.as_str(), "PUT" | "DELETE" | "POST") && (200..300).contains(&status);
        match fault {
            Fault::Drop => {
                st.count(|c| &c.drop);
                if applied_write {
                    st.count(|c| &c.writes_applied_unheard);
                }
                let _ = client.stream.set_zero_linger();
                return Ok(());
            }
            Fault::Error500 { forward: true } => {
                st.count(|c| &c.error500_after_forwarding);
                if applied_write {
                    st.count(|c| &c.writes_applied_unheard);
                }
                client
                    .stream
                    .write_all(&canned(500, "Internal Server Error", "InternalError"))
                    .await?;
                continue;
            }
            Fault::Delay => {
                st.count(|c| &c.delay);
                if applied_write {
                    st.count(|c| &c.writes_applied_unheard);
                }
                tokio::time::sleep(st.delay).await;
            }
            _ => {}
        }
        client.stream.write_all(&answer_head_raw).await?;
        client.stream.write_all(&answer_body).await?;
        if until_eof {
            // The answer was framed by the end of the connection: end ours too.
            return Ok(());
        }
    }
}
