//! Side-by-side benchmark of `S3Dict` and the raw aws-sdk-s3 calls doing the same requests,
//! against one S3 endpoint. Run by `bench/compare.sh`, which also measures Python persidict
//! and prints the comparison.
//!
//! ```text
//! bench_compare run <endpoint> <bucket> <out.json>    # the measurements, as JSON rows
//! bench_compare fill <endpoint> <bucket> <prefix> <n> # n 100-byte entries, 128 PUTs in flight
//! bench_compare rss <endpoint> <bucket> <prefix> keys|values
//! bench_compare large <endpoint> <bucket> <prefix> <MiB>  # one value streamed up, then down
//! ```
//!
//! `BENCH_ONLY` (optional, comma-separated) limits `run` to the sections or operations
//! named: `small`, `large`, `bulk`, `counter`, or an operation's name (`get`, `contains`,
//! `put_if(Same)`, …).
//!
//! Each operation is measured for both implementations in alternating rounds (crate first,
//! then raw first, …) after a warmup. Client CPU is this process's user+system time from
//! `getrusage`; requests come from counting interceptors on each client.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use aws_sdk_s3::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use persidict::prelude::*;
use persidict::S3Dict;

/// A byte value that serializes as bytes (like `serde_bytes::ByteBuf`), so the raw codec
/// stores and reads it in one piece; a plain `Vec<u8>` goes through serde byte by byte.
#[derive(Debug, Clone, Default, PartialEq)]
struct Blob(Vec<u8>);

impl serde::Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> std::result::Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> std::result::Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

type Res<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

const SMALL: usize = 100;
const LARGE: usize = 1 << 20;
const BULK_N: usize = 10_000;
const STALE: &str = "\"00000000000000000000000000000000\"";

fn fail(msg: impl Into<String>) -> Box<dyn std::error::Error + Send + Sync> {
    msg.into().into()
}

fn ensure(ok: bool, msg: &str) -> Res<()> {
    if ok {
        Ok(())
    } else {
        Err(fail(msg))
    }
}

/// Counts every transmitted request of the raw client (as the crate's stats do).
#[derive(Debug)]
struct CountRequests(Arc<AtomicU64>);

impl Intercept for CountRequests {
    fn name(&self) -> &'static str {
        "bench::CountRequests"
    }
    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> std::result::Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

#[path = "support/cpu.rs"]
mod cpu;
use cpu::{cpu_micros, server_cpu_micros};
#[path = "support/raw.rs"]
mod raw;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Imp {
    Crate,
    Raw,
}

impl Imp {
    fn name(self) -> &'static str {
        match self {
            Imp::Crate => "persidict-rs",
            Imp::Raw => "aws-sdk-s3",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Get,
    Put,
    Contains,
    Delete,
    PutIfSame,
    PutIfChanged,
    GetIfHit,
    GetIfMiss,
    SetdefaultAbsent,
    SetdefaultPresent,
    Transform,
}

impl Op {
    const ALL: [Op; 11] = [
        Op::Get,
        Op::Put,
        Op::Contains,
        Op::Delete,
        Op::PutIfSame,
        Op::PutIfChanged,
        Op::GetIfHit,
        Op::GetIfMiss,
        Op::SetdefaultAbsent,
        Op::SetdefaultPresent,
        Op::Transform,
    ];
    fn name(self) -> &'static str {
        match self {
            Op::Get => "get",
            Op::Put => "put",
            Op::Contains => "contains",
            Op::Delete => "delete",
            Op::PutIfSame => "put_if(Same)",
            Op::PutIfChanged => "put_if(Changed)",
            Op::GetIfHit => "get_if(IfChanged) hit",
            Op::GetIfMiss => "get_if(IfChanged) miss",
            Op::SetdefaultAbsent => "setdefault (absent)",
            Op::SetdefaultPresent => "setdefault (present)",
            Op::Transform => "transform",
        }
    }
    fn needs_present(self) -> bool {
        !matches!(self, Op::Put | Op::SetdefaultAbsent)
    }
    /// Whether the crate's call takes a value (by value).
    fn takes_value(self) -> bool {
        matches!(
            self,
            Op::Put
                | Op::PutIfSame
                | Op::PutIfChanged
                | Op::SetdefaultAbsent
                | Op::SetdefaultPresent
        )
    }
}

#[derive(Debug, Default, Clone)]
struct Sample {
    ops: u64,
    secs: f64,
    cpu_us: f64,
    /// The server's CPU over the same time (`BENCH_SERVER_PID`), if known.
    server_cpu_us: Option<f64>,
    requests: u64,
    /// Each operation's own time in ms, where they were timed one by one.
    latencies_ms: Vec<f64>,
}

impl Sample {
    fn add(&mut self, o: Sample) {
        // The server's CPU is known for the sum only where it is for every part.
        self.server_cpu_us = if self.ops == 0 {
            o.server_cpu_us
        } else {
            self.server_cpu_us.zip(o.server_cpu_us).map(|(a, b)| a + b)
        };
        self.ops += o.ops;
        self.secs += o.secs;
        self.cpu_us += o.cpu_us;
        self.requests += o.requests;
        self.latencies_ms.extend(o.latencies_ms);
    }

    /// The median of the operations' own times, if they were timed one by one.
    fn median_ms(&self) -> Option<f64> {
        let mut l = self.latencies_ms.clone();
        l.sort_by(f64::total_cmp);
        l.get(l.len() / 2).copied()
    }
}

/// The clocks at the start of a measurement: wall time, this process's CPU and the
/// server's.
struct Meter {
    t0: Instant,
    cpu0: f64,
    server0: Option<f64>,
}

impl Meter {
    fn start() -> Self {
        Meter {
            server0: server_cpu_micros(),
            cpu0: cpu_micros(),
            t0: Instant::now(),
        }
    }

    /// What `ops` operations sending `requests` requests took since the start.
    fn sample(&self, ops: u64, requests: u64) -> Sample {
        let secs = self.t0.elapsed().as_secs_f64();
        let cpu_us = cpu_micros() - self.cpu0;
        let server_cpu_us = match (self.server0, server_cpu_micros()) {
            (Some(a), Some(b)) => Some(b - a),
            _ => None,
        };
        Sample {
            ops,
            secs,
            cpu_us,
            server_cpu_us,
            requests,
            latencies_ms: Vec::new(),
        }
    }
}

struct Ctx {
    endpoint: String,
    bucket: String,
    dict: S3Dict<Blob>,
    raw: Client,
    raw_requests: Arc<AtomicU64>,
    run: String,
}

impl Ctx {
    fn requests(&self, imp: Imp) -> u64 {
        match imp {
            Imp::Crate => self.dict.stats().snapshot().total(),
            Imp::Raw => self.raw_requests.load(Ordering::Relaxed),
        }
    }

    /// Times `work` (which performs `ops` operations) and counts its requests.
    async fn measure<F: Future<Output = Res<()>>>(
        &self,
        imp: Imp,
        ops: u64,
        work: F,
    ) -> Res<Sample> {
        self.measure_each(imp, ops, async { work.await.map(|()| Vec::new()) })
            .await
    }

    /// As [`measure`](Self::measure), for work that also returns each operation's own
    /// time in ms.
    async fn measure_each<F: Future<Output = Res<Vec<f64>>>>(
        &self,
        imp: Imp,
        ops: u64,
        work: F,
    ) -> Res<Sample> {
        let r0 = self.requests(imp);
        let meter = Meter::start();
        let latencies_ms = work.await?;
        Ok(Sample {
            latencies_ms,
            ..meter.sample(ops, self.requests(imp) - r0)
        })
    }

    async fn raw_put(&self, name: &str, body: Bytes) -> Res<String> {
        let out = raw_put_request(&self.raw, &self.bucket, name)
            .body(ByteStream::from(body))
            .send()
            .await?;
        Ok(out.e_tag().unwrap_or_default().to_owned())
    }

    async fn raw_get(&self, name: &str) -> Res<(Bytes, String)> {
        let out = self
            .raw
            .get_object()
            .bucket(&self.bucket)
            .key(name)
            .send()
            .await?;
        let etag = out.e_tag().unwrap_or_default().to_owned();
        Ok((out.body.collect().await?.into_bytes(), etag))
    }

    /// PUTs `names` with `concurrency` in flight; returns the ETags in order.
    async fn raw_fill(
        &self,
        names: &[String],
        body: &Bytes,
        concurrency: usize,
    ) -> Res<Vec<String>> {
        futures::stream::iter(names.iter().map(|n| self.raw_put(n, body.clone())))
            .buffered(concurrency)
            .try_collect()
            .await
    }

    /// Every object name under `prefix`, page by page.
    async fn raw_list_count(&self, prefix: &str, mut each: impl FnMut(&str)) -> Res<usize> {
        let mut pages = self
            .raw
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let mut n = 0;
        while let Some(page) = pages.next().await {
            for o in page?.contents() {
                if let Some(k) = o.key() {
                    each(k);
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn keys(n: usize) -> Res<Vec<Key>> {
    (0..n)
        .map(|i| Key::new([format!("k{i:06}")]).map_err(|e| fail(e.to_string())))
        .collect()
}

fn value(size: usize, seed: u8) -> Vec<u8> {
    (0..size)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

async fn single_crate(c: &Ctx, op: Op, size: usize, n: usize, tag: &str) -> Res<Sample> {
    let d = c.dict.subdict(&Key::new(["single", tag])?);
    let ks = keys(n)?;
    let v = Blob(value(size, 1));
    // The same setup as the raw side's (raw PUTs of one shared body, under the crate's
    // object names), so that neither starts its timed part with a different heap.
    let etags: Vec<ETag> = if op.needs_present() {
        let names = ks
            .iter()
            .map(|k| d.object_name(k))
            .collect::<persidict::Result<Vec<_>>>()?;
        let body = Bytes::from(v.0.clone());
        c.raw_fill(&names, &body, 16)
            .await?
            .into_iter()
            .map(ETag::from)
            .collect()
    } else {
        Vec::new()
    };
    let stale = ETag::from(STALE);
    let d = &d;
    // The values the operations take by value, made before the clock starts (the raw
    // calls share one `Bytes`), so that copying them is not counted as the crate's work.
    let mut values: Vec<Blob> = if op.takes_value() {
        vec![v; n]
    } else {
        Vec::new()
    };
    let work = async {
        let mut latencies = Vec::with_capacity(n);
        for (i, k) in ks.iter().enumerate() {
            let t0 = Instant::now();
            let mut v = || std::mem::take(&mut values[i]);
            match op {
                Op::Get => ensure(d.get(k).await?.0.len() == size, "get: wrong size")?,
                Op::Put => drop(d.put(k, v()).await?),
                Op::Contains => ensure(d.contains(k).await?, "contains: absent")?,
                Op::Delete => d.delete(k).await?,
                Op::PutIfSame => {
                    let o = d
                        .put_if(
                            k,
                            Write::Value(v()),
                            Condition::Same,
                            Some(&etags[i]),
                            Retrieve::Never,
                        )
                        .await?;
                    ensure(o.satisfied, "put_if(Same) refused")?
                }
                Op::PutIfChanged => {
                    let o = d
                        .put_if(
                            k,
                            Write::Value(v()),
                            Condition::Changed,
                            Some(&stale),
                            Retrieve::Never,
                        )
                        .await?;
                    ensure(o.satisfied, "put_if(Changed) refused")?
                }
                Op::GetIfHit => {
                    let o = d
                        .get_if(k, Condition::Same, Some(&etags[i]), Retrieve::IfChanged)
                        .await?;
                    ensure(o.satisfied && !o.value.is_present(), "get_if hit fetched")?
                }
                Op::GetIfMiss => {
                    let o = d
                        .get_if(k, Condition::Same, Some(&stale), Retrieve::IfChanged)
                        .await?;
                    ensure(o.value.is_present(), "get_if miss did not fetch")?
                }
                Op::SetdefaultAbsent | Op::SetdefaultPresent => {
                    ensure(d.setdefault(k, v()).await?.0.len() == size, "setdefault")?
                }
                Op::Transform => {
                    let t = d
                        .transform(k, |cur| {
                            let mut cur = cur.unwrap_or_default();
                            if let Some(b) = cur.0.first_mut() {
                                *b = b.wrapping_add(1);
                            }
                            Write::Value(cur)
                        })
                        .await?;
                    ensure(t.attempts == 1, "transform retried without contention")?
                }
            }
            latencies.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        Ok(latencies)
    };
    c.measure_each(Imp::Crate, n as u64, work).await
}

async fn single_raw(c: &Ctx, op: Op, size: usize, n: usize, tag: &str) -> Res<Sample> {
    let names: Vec<String> = (0..n)
        .map(|i| format!("{}/raw/{tag}/k{i:06}.bin", c.run))
        .collect();
    let body = Bytes::from(value(size, 2));
    let etags = if op.needs_present() {
        c.raw_fill(&names, &body, 16).await?
    } else {
        Vec::new()
    };
    let b = &c.bucket;
    let work = async {
        let mut latencies = Vec::with_capacity(n);
        for (i, name) in names.iter().enumerate() {
            let t0 = Instant::now();
            match op {
                Op::Get => ensure(c.raw_get(name).await?.0.len() == size, "get: wrong size")?,
                Op::Put => drop(c.raw_put(name, body.clone()).await?),
                Op::Contains => {
                    c.raw.head_object().bucket(b).key(name).send().await?;
                }
                Op::Delete => {
                    c.raw
                        .delete_object()
                        .bucket(b)
                        .key(name)
                        .if_match("*")
                        .send()
                        .await?;
                }
                Op::PutIfSame => {
                    raw_put_request(&c.raw, b, name)
                        .if_match(&etags[i])
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await?;
                }
                Op::PutIfChanged => {
                    let h = c.raw.head_object().bucket(b).key(name).send().await?;
                    let actual = h.e_tag().unwrap_or_default();
                    ensure(actual != STALE, "unchanged")?;
                    raw_put_request(&c.raw, b, name)
                        .if_match(actual)
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await?;
                }
                Op::GetIfHit => {
                    let r = c
                        .raw
                        .get_object()
                        .bucket(b)
                        .key(name)
                        .if_none_match(&etags[i])
                        .send()
                        .await;
                    let not_modified = matches!(&r, Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(304));
                    ensure(not_modified, "get_if hit: expected 304")?
                }
                Op::GetIfMiss => {
                    let out = c
                        .raw
                        .get_object()
                        .bucket(b)
                        .key(name)
                        .if_none_match(STALE)
                        .send()
                        .await?;
                    ensure(out.body.collect().await?.into_bytes().len() == size, "miss")?
                }
                Op::SetdefaultAbsent | Op::SetdefaultPresent => {
                    let r = raw_put_request(&c.raw, b, name)
                        .if_none_match("*")
                        .body(ByteStream::from(body.clone()))
                        .send()
                        .await;
                    match r {
                        Ok(_) => ensure(op == Op::SetdefaultAbsent, "setdefault inserted")?,
                        Err(e) if e.raw_response().map(|r| r.status().as_u16()) == Some(412) => {
                            ensure(c.raw_get(name).await?.0.len() == size, "setdefault read")?
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                Op::Transform => {
                    let (cur, etag) = c.raw_get(name).await?;
                    let mut next = cur.to_vec();
                    if let Some(x) = next.first_mut() {
                        *x = x.wrapping_add(1);
                    }
                    raw_put_request(&c.raw, b, name)
                        .if_match(etag)
                        .body(ByteStream::from(next))
                        .send()
                        .await?;
                }
            }
            latencies.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        Ok(latencies)
    };
    c.measure_each(Imp::Raw, n as u64, work).await
}

#[derive(serde::Serialize)]
struct Row {
    op: String,
    #[serde(rename = "impl")]
    imp: String,
    value_size: usize,
    n: u64,
    ops_per_s: f64,
    requests_per_op: f64,
    cpu_us_per_op: f64,
    /// The server's CPU µs per operation (when `BENCH_SERVER_PID` names it).
    #[serde(skip_serializing_if = "Option::is_none")]
    server_cpu_us_per_op: Option<f64>,
    /// The median of the operations' own times in ms (single-key rows).
    #[serde(skip_serializing_if = "Option::is_none")]
    median_ms: Option<f64>,
    /// The round-trip time the latency proxy added (`BENCH_RTT_MS`; 0: direct).
    rtt_ms: f64,
    note: String,
}

/// The round-trip time the benchmark runs behind (`BENCH_RTT_MS`, set by
/// `bench/compare.sh --rtt`; 0: the server directly).
fn rtt_ms() -> f64 {
    std::env::var("BENCH_RTT_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

/// `n` operations per round on loopback, fewer behind a delay (each operation then waits
/// for at least one round trip), never under 8.
fn scaled(n: usize) -> usize {
    let rtt = rtt_ms();
    if rtt <= 2.0 {
        return n;
    }
    ((n as f64 * 2.0 / rtt).ceil() as usize).max(8)
}

fn row(op: &str, imp: Imp, size: usize, s: &Sample, note: &str) -> Row {
    let ops = s.ops.max(1) as f64;
    let r = Row {
        op: op.to_owned(),
        imp: imp.name().to_owned(),
        value_size: size,
        n: s.ops,
        ops_per_s: ops / s.secs.max(1e-9),
        requests_per_op: s.requests as f64 / ops,
        cpu_us_per_op: s.cpu_us / ops,
        server_cpu_us_per_op: s.server_cpu_us.map(|us| us / ops),
        median_ms: s.median_ms(),
        rtt_ms: rtt_ms(),
        note: note.to_owned(),
    };
    eprintln!(
        "  {:<24} {:<13} {:>8} B  {:>9.1} ops/s  {:>7.4} req/op  {:>8.1} us CPU/op",
        r.op, r.imp, size, r.ops_per_s, r.requests_per_op, r.cpu_us_per_op
    );
    r
}

async fn single_ops(
    c: &Ctx,
    size: usize,
    per_round: usize,
    rounds: usize,
    rows: &mut Vec<Row>,
) -> Res<()> {
    for op in Op::ALL.into_iter().filter(|op| selected(op.name())) {
        let mut acc = [Sample::default(), Sample::default()];
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Imp::Crate, Imp::Raw]
            } else {
                [Imp::Raw, Imp::Crate]
            };
            for imp in order {
                let tag = format!("{}-{size}-{round}", op_slug(op));
                let s = match imp {
                    Imp::Crate => single_crate(c, op, size, per_round, &tag).await?,
                    Imp::Raw => single_raw(c, op, size, per_round, &tag).await?,
                };
                acc[(imp == Imp::Raw) as usize].add(s);
            }
        }
        rows.push(row(op.name(), Imp::Crate, size, &acc[0], ""));
        rows.push(row(op.name(), Imp::Raw, size, &acc[1], ""));
    }
    Ok(())
}

/// Whether `BENCH_ONLY` (unset: everything) selects a section or a single-key operation.
/// Naming only operations runs them in both single-key sections; naming only sections
/// runs every operation of those.
fn selected(name: &str) -> bool {
    const SECTIONS: [&str; 4] = ["small", "large", "bulk", "counter"];
    let Ok(only) = std::env::var("BENCH_ONLY") else {
        return true;
    };
    let items: Vec<&str> = only.split(',').map(str::trim).collect();
    let any_section = items.iter().any(|i| SECTIONS.contains(i));
    let any_op = items.iter().any(|i| !SECTIONS.contains(i));
    items.contains(&name)
        || if SECTIONS.contains(&name) {
            !any_section && matches!(name, "small" | "large")
        } else {
            !any_op
        }
}

fn op_slug(op: Op) -> String {
    op.name()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// len, keys, values, get_many and clear over `BULK_N` keys of 100 bytes; the raw client
/// reads and deletes the very objects the dictionary wrote.
async fn bulk_ops(c: &Ctx, rows: &mut Vec<Row>) -> Res<()> {
    let d = c.dict.subdict(&Key::new(["bulk"])?);
    let ks = keys(BULK_N)?;
    let names: Vec<String> = ks
        .iter()
        .map(|k| d.object_name(k))
        .collect::<persidict::Result<_>>()?;
    let dir = names[0]
        .rsplit_once('/')
        .map(|(dir, _)| format!("{dir}/"))
        .ok_or_else(|| fail("no dir"))?;
    let body = Bytes::from(value(SMALL, 3));
    c.raw_fill(&names, &body, 64).await?;
    let n = BULK_N as u64;
    let note = "per key, 10k keys";
    let inflight = d.concurrency();
    // Non-destructive operations: two alternating rounds each.
    for (op, rounds) in [("len", 2), ("keys", 2), ("values", 2), ("get_many", 1)] {
        let mut acc = [Sample::default(), Sample::default()];
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Imp::Crate, Imp::Raw]
            } else {
                [Imp::Raw, Imp::Crate]
            };
            for imp in order {
                let s = match (op, imp) {
                    ("len", Imp::Crate) => {
                        c.measure(imp, n, async { ensure(d.len().await? == BULK_N, "len") })
                            .await?
                    }
                    ("len", Imp::Raw) => {
                        c.measure(imp, n, async {
                            ensure(c.raw_list_count(&dir, |_| ()).await? == BULK_N, "len")
                        })
                        .await?
                    }
                    ("keys", Imp::Crate) => {
                        c.measure(imp, n, async {
                            let mut seen = 0;
                            let mut s = d.keys();
                            while let Some(k) = s.try_next().await? {
                                seen += k.len();
                            }
                            ensure(seen == BULK_N, "keys")
                        })
                        .await?
                    }
                    ("keys", Imp::Raw) => {
                        c.measure(imp, n, async {
                            let mut seen = 0;
                            c.raw_list_count(&dir, |name| seen += usize::from(!name.is_empty()))
                                .await?;
                            ensure(seen == BULK_N, "keys")
                        })
                        .await?
                    }
                    ("values", Imp::Crate) => {
                        c.measure(imp, n, async {
                            let bytes = d
                                .values()
                                .try_fold(0usize, |acc, v| async move { Ok(acc + v.0.len()) })
                                .await?;
                            ensure(bytes == BULK_N * SMALL, "values")
                        })
                        .await?
                    }
                    ("values", Imp::Raw) => {
                        c.measure(imp, n, async {
                            // LIST pages, GETs of each page's objects, as many in flight as the crate.
                            let mut pages = c
                                .raw
                                .list_objects_v2()
                                .bucket(&c.bucket)
                                .prefix(&dir)
                                .into_paginator()
                                .send();
                            let mut bytes = 0;
                            while let Some(page) = pages.next().await {
                                let page = page?;
                                let gets: Vec<_> = page
                                    .contents()
                                    .iter()
                                    .filter_map(|o| o.key())
                                    .map(|k| c.raw_get(k))
                                    .collect();
                                bytes += futures::stream::iter(gets)
                                    .buffer_unordered(inflight)
                                    .try_fold(
                                        0usize,
                                        |acc, (v, _)| async move { Ok(acc + v.len()) },
                                    )
                                    .await?;
                            }
                            ensure(bytes == BULK_N * SMALL, "values")
                        })
                        .await?
                    }
                    ("get_many", Imp::Crate) => {
                        c.measure(imp, n, async {
                            let got = d.get_many(&ks).await?;
                            ensure(got.iter().all(|v| v.is_some()), "get_many")
                        })
                        .await?
                    }
                    (_, _) => {
                        c.measure(imp, n, async {
                            let gets: Vec<_> = names.iter().map(|k| c.raw_get(k)).collect();
                            let got: Vec<_> = futures::stream::iter(gets)
                                .buffered(inflight)
                                .try_collect()
                                .await?;
                            ensure(got.len() == BULK_N, "get_many")
                        })
                        .await?
                    }
                };
                acc[(imp == Imp::Raw) as usize].add(s);
            }
        }
        rows.push(row(op, Imp::Crate, SMALL, &acc[0], note));
        rows.push(row(op, Imp::Raw, SMALL, &acc[1], note));
    }
    // clear: the crate first (the objects are there), then refill for the raw client.
    let s = c
        .measure(Imp::Crate, n, async {
            d.clear().await?;
            Ok(())
        })
        .await?;
    ensure(d.is_empty().await?, "clear left entries")?;
    rows.push(row("clear", Imp::Crate, SMALL, &s, note));
    c.raw_fill(&names, &body, 64).await?;
    let s = c
        .measure(Imp::Raw, n, async {
            let mut pages = c
                .raw
                .list_objects_v2()
                .bucket(&c.bucket)
                .prefix(&dir)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let objects = page?
                    .contents()
                    .iter()
                    .filter_map(|o| o.key())
                    .map(|k| ObjectIdentifier::builder().key(k).build())
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                if objects.is_empty() {
                    continue;
                }
                let delete = Delete::builder()
                    .set_objects(Some(objects))
                    .quiet(true)
                    .build()?;
                c.raw
                    .delete_objects()
                    .bucket(&c.bucket)
                    .delete(delete)
                    .send()
                    .await?;
            }
            Ok(())
        })
        .await?;
    ensure(d.is_empty().await?, "raw clear left entries")?;
    rows.push(row("clear", Imp::Raw, SMALL, &s, note));
    Ok(())
}

/// 4 workers x 25 increments of one counter.
async fn contended(c: &Ctx, rows: &mut Vec<Row>) -> Res<()> {
    const WORKERS: usize = 4;
    const EACH: usize = 25;
    let total = (WORKERS * EACH) as u64;
    let counters: S3Dict<u64> = S3Dict::builder(&c.bucket)
        .endpoint_url(&c.endpoint)
        .root_prefix(format!("{}/counter", c.run))
        .build()
        .await?;
    counters.capabilities().await?;
    let k = Key::try_from("hits")?;
    counters.put(&k, 0).await?;
    let r0 = counters.stats().snapshot().total();
    let meter = Meter::start();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let d = counters.clone();
            let k = k.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    let _ = d
                        .transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))
                        .await?;
                }
                Ok::<_, persidict::Error>(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let s = meter.sample(total, counters.stats().snapshot().total() - r0);
    ensure(
        counters.get(&k).await? == total,
        "crate counter lost increments",
    )?;
    rows.push(row(
        "contended counter 4x25",
        Imp::Crate,
        8,
        &s,
        "per increment",
    ));

    // Raw: GET, PUT If-Match, on 412 back off (same policy as transform) and retry.
    let name = format!("{}/counter-raw/hits.bin", c.run);
    c.raw_put(&name, Bytes::from_static(b"0")).await?;
    let r0 = c.raw_requests.load(Ordering::Relaxed);
    let meter = Meter::start();
    let policy = persidict::RetryPolicy::default();
    let tasks: Vec<_> = (0..WORKERS)
        .map(|_| {
            let raw = c.raw.clone();
            let bucket = c.bucket.clone();
            let name = name.clone();
            tokio::spawn(async move {
                for _ in 0..EACH {
                    let mut attempt = 1;
                    loop {
                        let out = raw.get_object().bucket(&bucket).key(&name).send().await?;
                        let etag = out.e_tag().unwrap_or_default().to_owned();
                        let body = out.body.collect().await?.into_bytes();
                        let n: u64 = std::str::from_utf8(&body)?.parse()?;
                        let r = raw_put_request(&raw, &bucket, &name)
                            .if_match(etag)
                            .body(ByteStream::from((n + 1).to_string().into_bytes()))
                            .send()
                            .await;
                        match r {
                            Ok(_) => break,
                            Err(e)
                                if matches!(
                                    e.raw_response().map(|r| r.status().as_u16()),
                                    Some(412 | 409)
                                ) =>
                            {
                                tokio::time::sleep(policy.backoff(attempt)).await;
                                attempt += 1;
                            }
                            Err(e) => {
                                return Err(Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                            }
                        }
                    }
                }
                Ok(())
            })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    let s = meter.sample(total, c.raw_requests.load(Ordering::Relaxed) - r0);
    let (body, _) = c.raw_get(&name).await?;
    ensure(
        std::str::from_utf8(&body)?.parse::<u64>()? == total,
        "raw counter lost increments",
    )?;
    rows.push(row(
        "contended counter 4x25",
        Imp::Raw,
        8,
        &s,
        "per increment",
    ));
    Ok(())
}

/// A PUT carrying what the crate's PUTs carry: the content type and a random write id in
/// the user metadata (so the HEAD and GET answers are alike too).
fn raw_put_request(client: &Client, bucket: &str, name: &str) -> PutObjectFluentBuilder {
    client
        .put_object()
        .bucket(bucket)
        .key(name)
        .content_type("application/octet-stream")
        .metadata("persidict-write-id", format!("{:032x}", fastrand::u128(..)))
}

/// The raw client, its requests counted into `counter`.
async fn raw_client(endpoint: &str, counter: Arc<AtomicU64>) -> Client {
    let conf = raw::raw_config(endpoint)
        .await
        .interceptor(CountRequests(counter))
        .build();
    Client::from_conf(conf)
}

/// The dictionary under test; `BENCH_CONCURRENCY` overrides its default requests in flight.
async fn open(endpoint: &str, bucket: &str, prefix: &str) -> Res<S3Dict<Blob>> {
    let mut builder = S3Dict::builder(bucket);
    if let Ok(n) = std::env::var("BENCH_CONCURRENCY") {
        builder = builder.concurrency(n.parse()?);
    }
    Ok(builder
        .endpoint_url(endpoint)
        .region("us-east-1")
        .root_prefix(prefix)
        .codec(Codec::Raw)
        .create_bucket(true)
        .build()
        .await?)
}

async fn run(endpoint: &str, bucket: &str, out: &str) -> Res<()> {
    let run = format!("rs-{:08x}", fastrand::u32(..));
    let dict = open(endpoint, bucket, &run).await?;
    dict.capabilities().await?;
    let raw_requests = Arc::new(AtomicU64::new(0));
    let raw = raw_client(endpoint, Arc::clone(&raw_requests)).await;
    let c = Ctx {
        endpoint: endpoint.to_owned(),
        bucket: bucket.to_owned(),
        dict,
        raw,
        raw_requests,
        run,
    };
    let t0 = Instant::now();
    // Warmup: connections, the capability probe, caches on both sides.
    for op in [Op::Put, Op::Get, Op::Contains] {
        single_crate(&c, op, SMALL, scaled(100), "warm").await?;
        single_raw(&c, op, SMALL, scaled(100), "warm").await?;
    }
    let mut rows = Vec::new();
    if selected("small") {
        eprintln!("single-key operations, {SMALL}-byte values");
        single_ops(&c, SMALL, scaled(200), 4, &mut rows).await?;
    }
    if selected("large") {
        eprintln!("single-key operations, 1 MiB values");
        single_ops(&c, LARGE, scaled(32), 4, &mut rows).await?;
    }
    if selected("bulk") {
        eprintln!("bulk operations over {BULK_N} keys");
        bulk_ops(&c, &mut rows).await?;
    }
    if selected("counter") {
        eprintln!("contended counter");
        contended(&c, &mut rows).await?;
    }
    eprintln!("rust measurements took {:.0} s", t0.elapsed().as_secs_f64());
    std::fs::write(out, serde_json::to_string_pretty(&rows)?)?;
    Ok(())
}

/// `n` 100-byte entries under `prefix`, written by raw PUTs with 128 in flight (the names
/// are the dictionary's own).
async fn fill(endpoint: &str, bucket: &str, prefix: &str, n: usize) -> Res<()> {
    let d = open(endpoint, bucket, prefix).await?;
    let raw = raw_client(endpoint, Arc::new(AtomicU64::new(0))).await;
    let body = Bytes::from(value(SMALL, 4));
    let t0 = Instant::now();
    let names: Vec<String> = keys(n)?
        .iter()
        .map(|k| d.object_name(k))
        .collect::<persidict::Result<_>>()?;
    futures::stream::iter(names.into_iter().map(|name| {
        let raw = raw.clone();
        let body = body.clone();
        let bucket = bucket.to_owned();
        async move {
            raw_put_request(&raw, &bucket, &name)
                .body(ByteStream::from(body))
                .send()
                .await
        }
    }))
    .buffer_unordered(128)
    .try_collect::<Vec<_>>()
    .await?;
    eprintln!("filled {n} keys in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Iterates every key (or value) under `prefix` and prints the peak RSS as JSON.
async fn rss(endpoint: &str, bucket: &str, prefix: &str, mode: &str) -> Res<()> {
    let d = open(endpoint, bucket, prefix).await?;
    d.capabilities().await?;
    // Warm the client (connection pool, TLS-free HTTP stack) before the baseline.
    let _ = d.len().await?;
    let before = vm_hwm_kb();
    let t0 = Instant::now();
    let n = match mode {
        "keys" => {
            d.keys()
                .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                .await?
        }
        "values" => {
            d.values()
                .try_fold(0usize, |n, _| async move { Ok(n + 1) })
                .await?
        }
        _ => return Err(fail("mode is keys or values")),
    };
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "mode": mode, "entries": n, "secs": secs,
            "vm_hwm_kb_before": before, "vm_hwm_kb": vm_hwm_kb(),
            "requests": d.stats().snapshot().total(),
        })
    );
    Ok(())
}

/// Resets the peak RSS (`VmHWM`) to the current RSS (Linux: `clear_refs` mode 5).
fn reset_vm_hwm() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// Streams one value of `mib` MiB up (generated as it is sent, never held) and back down
/// (consumed as it arrives), and prints the peak RSS of each direction as JSON lines.
async fn large(endpoint: &str, bucket: &str, prefix: &str, mib: usize) -> Res<()> {
    use persidict::store::{Chunks, WriteCondition, WriteResult};
    let d = open(endpoint, bucket, prefix).await?;
    d.capabilities().await?;
    let k = Key::try_from("large/value")?;
    // Warm the client with one small streamed write and read.
    let warm = Key::try_from("large/warm")?;
    let _ = d
        .put_stream(
            &warm,
            persidict::store::chunks_from_bytes("warm"),
            WriteCondition::Always,
        )
        .await?;
    let _ = d.get_stream(&warm).await?;
    let chunk = |i: usize| Bytes::from(vec![(i % 251) as u8; 1 << 20]);
    let chunks: Chunks = futures::stream::iter((0..mib).map(move |i| Ok(chunk(i)))).boxed();
    let report = |mode: &str, secs: f64, before: u64, requests: u64| {
        println!(
            "{}",
            serde_json::json!({
                "mode": mode, "mib": mib, "secs": secs,
                "vm_hwm_kb_before": before, "vm_hwm_kb": vm_hwm_kb(), "requests": requests,
                "part_size": d.s3_store().multipart_settings().part_size,
                "parts_in_flight": d.s3_store().multipart_settings().parts_in_flight,
            })
        );
    };
    reset_vm_hwm();
    let before = vm_hwm_kb();
    let stats = d.stats().snapshot();
    let t0 = Instant::now();
    let written = d.put_stream(&k, chunks, WriteCondition::Always).await?;
    if !matches!(written, WriteResult::Written(_)) {
        return Err(fail("the streamed write was refused"));
    }
    report(
        "large-put",
        t0.elapsed().as_secs_f64(),
        before,
        d.stats().snapshot().since(&stats).total(),
    );

    reset_vm_hwm();
    let before = vm_hwm_kb();
    let stats = d.stats().snapshot();
    let t0 = Instant::now();
    let mut object = d
        .get_stream(&k)
        .await?
        .ok_or_else(|| fail("the value is gone"))?;
    let (mut len, mut offset_ok) = (0usize, true);
    while let Some(c) = object.chunks.next().await {
        let c = c?;
        // Every byte of MiB i is i % 251.
        offset_ok &= c
            .iter()
            .enumerate()
            .all(|(j, b)| *b == (((len + j) >> 20) % 251) as u8);
        len += c.len();
    }
    if len != mib << 20 || !offset_ok {
        return Err(fail(format!("read back {len} bytes, intact: {offset_ok}")));
    }
    report(
        "large-get",
        t0.elapsed().as_secs_f64(),
        before,
        d.stats().snapshot().since(&stats).total(),
    );
    d.delete(&k).await?;
    Ok(())
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let a = |i: usize| {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| fail("missing argument; see the file's docs"))
    };
    rt.block_on(async {
        match a(0)? {
            "run" => run(a(1)?, a(2)?, a(3)?).await,
            "fill" => fill(a(1)?, a(2)?, a(3)?, a(4)?.parse()?).await,
            "rss" => rss(a(1)?, a(2)?, a(3)?, a(4)?).await,
            "large" => large(a(1)?, a(2)?, a(3)?, a(4)?.parse()?).await,
            other => Err(fail(format!("unknown command {other:?}"))),
        }
    })?;
    // The SDK keeps idle connections; do not wait for them.
    let _ = Duration::ZERO;
    Ok(())
}
