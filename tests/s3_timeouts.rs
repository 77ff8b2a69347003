//! Bounded time: against a server that accepts connections and never answers, every
//! operation of an S3 dictionary ends with a typed error (`Error::Timeout`, or
//! `Error::OutcomeUnknown` for a conditional write that may have landed) within the
//! configured bounds; and a conditional write whose attempt timed out after it landed on
//! SeaweedFS is settled by its write id.
//!
//! The figures are printed, not asserted tightly (the machine is noisy): each operation
//! must end well within [`HANG`], a hang detector.

mod common;
#[path = "common/latency.rs"]
mod latency;
#[path = "common/proxy.rs"]
mod proxy;

use std::time::{Duration, Instant};

use aws_sdk_s3::config::retry::RetryConfig;
use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{Capabilities, S3Dict};
use tokio::net::TcpListener;

/// The attempt and connect timeouts of the test dictionaries.
const ATTEMPT: Duration = Duration::from_millis(300);
/// The SDK's attempts per request.
const ATTEMPTS: u32 = 2;
/// A hang detector, not a speed check.
const HANG: Duration = Duration::from_secs(30);

/// A listener on 127.0.0.1 that accepts every connection and never answers (nor closes);
/// its `http://` URL.
async fn hung_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = listener.accept().await {
            held.push(conn);
        }
    });
    url
}

async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", "test", None, None, "tests",
        ))
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .load()
        .await
}

/// A dictionary on `url` with short timeouts and `ATTEMPTS` attempts; `declared`
/// capabilities, or probing when `None`.
async fn dict(url: &str, declared: Option<Capabilities>) -> S3Dict<String> {
    let mut b = S3Dict::builder("persidict-test")
        .sdk_config(sdk_config().await)
        .endpoint_url(url)
        .root_prefix(common::fresh_prefix("timeouts"))
        .connect_timeout(ATTEMPT)
        .attempt_timeout(ATTEMPT)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(50)),
        );
    if let Some(c) = declared {
        b = b.capabilities(c);
    }
    b.build().await.expect("building sends nothing")
}

/// Runs `op`, prints how long it took, checks it ended within [`HANG`], and returns its
/// result.
async fn timed<T>(what: &str, op: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = tokio::time::timeout(HANG, op)
        .await
        .unwrap_or_else(|_| panic!("{what} hung for {HANG:?}"));
    eprintln!(
        "{what}: ended after {:?} (attempt timeout {ATTEMPT:?}, {ATTEMPTS} attempts)",
        start.elapsed()
    );
    out
}

fn assert_timeout(what: &str, e: &Error) {
    match e {
        Error::Timeout { after, .. } => {
            assert!(e.is_retryable(), "{what}: a timeout is retryable");
            assert!(*after > Duration::ZERO, "{what}: {e}");
            let line = e.to_string();
            assert!(!line.contains('\n'), "{what}: one line: {line}");
            assert!(line.contains("timed out"), "{what}: {line}");
            eprintln!("{what}: {line}");
        }
        other => panic!("{what}: expected Error::Timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn hung_server_every_operation_times_out_with_a_typed_error() {
    let url = hung_server().await;
    let d = dict(&url, Some(Capabilities::ALL)).await;
    let k = Key::try_from("k").unwrap();

    let e = timed("get", d.get(&k)).await.expect_err("get");
    assert_timeout("get", &e);
    let e = timed("put", d.put(&k, "v".into())).await.expect_err("put");
    assert_timeout("put", &e);
    let e = timed("contains", d.contains(&k))
        .await
        .expect_err("contains");
    assert_timeout("contains", &e);
    let e = timed("len", d.len()).await.expect_err("len");
    assert_timeout("len", &e);
    let e = timed("keys", d.keys().try_collect::<Vec<_>>())
        .await
        .expect_err("keys");
    assert_timeout("keys", &e);
    let e = timed("transform", d.transform(&k, |_| Write::Value("x".into())))
        .await
        .expect_err("transform");
    assert_timeout("transform", &e);
}

#[tokio::test]
async fn hung_server_conditional_writes_end_in_outcome_unknown() {
    let url = hung_server().await;
    let d = dict(&url, Some(Capabilities::ALL)).await;
    let k = Key::try_from("k").unwrap();
    let e = timed(
        "put_if (insert)",
        d.put_if(
            &k,
            Write::Value("v".into()),
            Condition::Same,
            None,
            Retrieve::Never,
        ),
    )
    .await
    .expect_err("put_if");
    // The PUT may have landed and the read-back timed out too: never "refused".
    assert!(e.is_outcome_unknown(), "{e:?}");
    assert!(e.to_string().contains("timed out"), "{e}");
    eprintln!("put_if: {e}");
    let etag = ETag::new("\"0123\"");
    let e = timed(
        "put_if (swap)",
        d.put_if(
            &k,
            Write::Value("w".into()),
            Condition::Same,
            Some(&etag),
            Retrieve::Never,
        ),
    )
    .await
    .expect_err("put_if");
    assert!(e.is_outcome_unknown(), "{e:?}");
    let e = timed("discard_if", d.discard_if(&k, Condition::Same, Some(&etag)))
        .await
        .expect_err("discard_if");
    assert!(e.is_outcome_unknown(), "{e:?}");
}

#[tokio::test]
async fn hung_server_probe_times_out_and_is_not_remembered() {
    let url = hung_server().await;
    let d = dict(&url, None).await;
    let e = timed("capabilities (probe)", d.capabilities())
        .await
        .expect_err("probe");
    assert_timeout("capabilities", &e);
    // A timeout may pass: the next call probes again (and times out again), rather than
    // repeating a remembered failure at once.
    let before = d.stats().snapshot();
    let e = timed("capabilities again", d.capabilities())
        .await
        .expect_err("probe");
    assert_timeout("capabilities again", &e);
    assert!(
        d.stats().snapshot().since(&before).total() > 0,
        "probed again"
    );
    let k = Key::try_from("k").unwrap();
    let e = timed("put_if (probing)", d.insert(&k, "v".into()))
        .await
        .expect_err("insert");
    assert_timeout("insert", &e);
}

#[tokio::test]
async fn hung_server_default_timeouts_bound_a_call() {
    // No timeouts configured: the defaults (3.1 s connect, 30 s per attempt, 3 attempts)
    // bound a call at about 90 s plus backoff; a short attempt timeout from the URL must
    // take effect through the same table.
    let url = hung_server().await;
    let d = persidict::open::<String>(&format!(
        "s3://persidict-test/p?endpoint={url}&attempt_timeout_ms=200&capabilities=aws"
    ))
    .await
    .expect("open");
    let e = timed("get via URL", d.get(&Key::try_from("k").unwrap()))
        .await
        .expect_err("get");
    assert_timeout("get via URL", &e);
    match e {
        Error::Timeout { after, .. } => assert_eq!(after, Duration::from_millis(200)),
        _ => unreachable!(),
    }
}

/// A conditional PUT lands on SeaweedFS, and its answer is held past the attempt timeout:
/// the attempt times out, the read-back finds this write's id, and the write is reported
/// written (not refused, not unknown).
#[tokio::test]
async fn seaweedfs_timed_out_conditional_put_is_settled_by_its_write_id() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let direct: S3Dict<String> = common::open(&s, "timeout-settled").await;
    let prefix = direct.s3_store().root().to_owned();
    let proxy = proxy::Proxy::start(&s.url, proxy::FaultRates::NONE, 1, Duration::ZERO).await;
    let d: S3Dict<String> = S3Dict::builder(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(prefix)
        .capabilities(common::enforced(&s))
        .attempt_timeout(ATTEMPT)
        .build()
        .await
        .expect("build");
    let held = proxy.drop_next_answer("PUT");
    let k = Key::try_from("k").unwrap();
    let out = timed(
        "put_if through a held answer",
        d.put_if(
            &k,
            Write::Value("v".into()),
            Condition::Same,
            None,
            Retrieve::Never,
        ),
    )
    .await
    .expect("settled by the write id");
    held.release.notify_one();
    assert!(out.satisfied && out.mutated(), "{out:?}");
    assert_eq!(direct.get(&k).await.unwrap(), "v");
    assert_eq!(out.resulting_etag, Some(direct.etag(&k).await.unwrap()));
}

/// The command-line tool against a hung server exits non-zero within the bound, with a
/// one-line message.
#[cfg(feature = "cli")]
#[tokio::test]
async fn hung_server_cli_exits_with_a_one_line_timeout() {
    let url = hung_server().await;
    for args in [
        vec!["get", "--attempt-timeout-ms", "300"],
        vec!["ls", "--attempt-timeout-ms", "300"],
        vec!["probe", "--attempt-timeout-ms", "300"],
    ] {
        let dict = format!("s3://persidict-test/p?endpoint={url}");
        let mut full: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        full.insert(1, dict);
        if full[0] == "get" {
            full.insert(2, "k".into());
        }
        let start = Instant::now();
        let run = full.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_persidict"))
                .args(&run)
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_REGION", "us-east-1")
                .output()
                .expect("the binary runs")
        })
        .await
        .expect("joined");
        let took = start.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!(
            "persidict {}: exit {:?} after {took:?}: {stderr}",
            full.join(" "),
            out.status.code()
        );
        assert!(took < HANG, "{took:?}");
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.starts_with("persidict: "), "{stderr}");
        assert!(stderr.contains("timed out"), "{stderr}");
    }
}

/// A listener whose accept queue is full and never drained: new connections are never
/// set up, so the connect timeout ends each attempt.
#[tokio::test]
async fn hung_server_connect_timeout_is_a_typed_timeout() {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let addr = socket.local_addr().expect("address");
    let _listener = socket.listen(0).expect("listen");
    // Fill the accept queue; later handshakes get no answer.
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(c)) = tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            fillers.push(c);
        }
    }
    let connect = Duration::from_millis(100);
    let d: S3Dict<String> = S3Dict::builder("persidict-test")
        .sdk_config(sdk_config().await)
        .endpoint_url(format!("http://{addr}"))
        .capabilities(Capabilities::ALL)
        .connect_timeout(connect)
        .attempt_timeout(Duration::from_secs(2))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build()
        .await
        .expect("build");
    let e = timed("get (connect)", d.get(&Key::try_from("k").unwrap()))
        .await
        .expect_err("get");
    eprintln!("get (connect): {e}");
    match &e {
        Error::Timeout { after, what, .. } => {
            assert_eq!((*what, *after), ("no connection", connect), "{e}")
        }
        other => panic!("expected Error::Timeout, got {other:?}"),
    }
}

/// The benchmark's latency proxy adds its delay in each direction and relays everything
/// else: a HEAD through 20 ms each way takes at least 40 ms, the answers are the server's,
/// and a client reuses its connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seaweedfs_latency_proxy_delays_each_direction() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let proxy = latency::LatencyProxy::start(&s.url, 0, Duration::from_millis(20))
        .await
        .unwrap();
    let direct: S3Dict<String> = common::open(&s, "latency").await;
    let via: S3Dict<String> = S3Dict::builder(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(direct.s3_store().root().trim_end_matches('/'))
        .capabilities(common::enforced(&s))
        .build()
        .await
        .unwrap();
    let k = Key::try_from("k").unwrap();
    direct.put(&k, "v".into()).await.unwrap();
    for _ in 0..20 {
        let t0 = Instant::now();
        assert!(via.contains(&k).await.unwrap());
        assert!(
            t0.elapsed() >= Duration::from_millis(40),
            "{:?}",
            t0.elapsed()
        );
    }
    assert_eq!(via.get(&k).await.unwrap(), "v");
    // The client keeps its connection alive (one, unless a request raced the return of
    // the previous connection to the pool): far fewer than the 21 requests.
    let opened = proxy.connections();
    assert!(
        (1..=5).contains(&opened),
        "{opened} connections for 21 requests"
    );
}
