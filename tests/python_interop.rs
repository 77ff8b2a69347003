//! Interop with Python persidict's S3 layout: a `BasicS3Dict` with
//! `serialization_format="json"` and an `S3Dict` with `digest_len(0)` and `Codec::Json`
//! read each other's entries, on SeaweedFS.
//!
//! The Python side is `tests/python/interop.py`, run with `PERSIDICT_TEST_PYTHON` (a Python
//! with persidict installed). With `PERSIDICT_REQUIRE_S3=1` a missing interpreter or a
//! missing persidict package is a failure, never a skip.

mod common;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::{Command, Stdio};

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::S3Dict;
use serde_json::{json, Value as Json};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/interop.py");

fn required() -> bool {
    std::env::var("PERSIDICT_REQUIRE_S3").as_deref() == Ok("1")
}

/// The Python interpreter and the SeaweedFS server, or `None` (a skip) when not configured.
fn setup() -> Option<(String, common::Server)> {
    let server = common::server("seaweedfs")?;
    let python = match std::env::var("PERSIDICT_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ if required() => panic!("PERSIDICT_REQUIRE_S3=1 but PERSIDICT_TEST_PYTHON is not set"),
        _ => {
            eprintln!("skipped: PERSIDICT_TEST_PYTHON is not set");
            return None;
        }
    };
    let version = python_run(&python, &server, &["version"], None);
    eprintln!("Python persidict {}", version.trim());
    Some((python, server))
}

/// Runs the interop script; panics with its stderr if it fails.
fn python_run(python: &str, server: &common::Server, args: &[&str], stdin: Option<&str>) -> String {
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .env("AWS_ENDPOINT_URL", &server.url)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_SESSION_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    pipe.write_all(stdin.unwrap_or("").as_bytes())
        .expect("writing to the script");
    drop(pipe);
    let out = child.wait_with_output().expect("the script ran");
    assert!(
        out.status.success(),
        "{python} {SCRIPT} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// JSON-native values of every kind, under flat and nested keys.
fn data_set() -> BTreeMap<String, Json> {
    let entries = [
        ("text", json!("hello")),
        (
            "unicode",
            json!("päivää, 世界 🌍 \"quoted\"\n\ttabs \\ slash /"),
        ),
        ("empty_string", json!("")),
        ("zero", json!(0)),
        ("negative", json!(-42)),
        ("i64_min", json!(i64::MIN)),
        ("u64_max", json!(u64::MAX)),
        ("one_point_zero", json!(1.0)),
        ("tenth", json!(0.1)),
        ("sum", json!(0.1 + 0.2)),
        ("huge", json!(1e300)),
        ("tiny", json!(5e-324)),
        ("negative_float", json!(-2.5e-8)),
        ("true", json!(true)),
        ("false", json!(false)),
        ("list", json!([1, "two", 3.5, null, false, [], {}])),
        ("empty_list", json!([])),
        ("empty_map", json!({})),
        (
            "map",
            json!({"name": "x", "n": 3, "nested": {"list": [1, {"deep": [null]}]}}),
        ),
        (
            "users/42/profile",
            json!({"name": "Ann", "tags": ["a", "b"]}),
        ),
        ("users/42/score", json!(99.5)),
        ("Mixed.Case_key-1~(x)=y", json!("charset")),
        ("a/b/c/d/e", json!([[["deep"]]])),
    ];
    entries
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

async fn rust_dict(server: &common::Server, bucket: &str, root: &str) -> S3Dict<Json> {
    S3Dict::builder(bucket)
        .endpoint_url(&server.url)
        .region("us-east-1")
        .root_prefix(root)
        .digest_len(0)
        .codec(Codec::Json)
        .create_bucket(true)
        .build()
        .await
        .unwrap_or_else(|e| panic!("opening an S3Dict on {}: {e}", server.name))
}

async fn rust_read_all(d: &S3Dict<Json>) -> BTreeMap<String, Json> {
    d.items()
        .map_ok(|(k, v)| (k.to_path(), v))
        .try_collect()
        .await
        .expect("reading every entry")
}

async fn rust_write_all(d: &S3Dict<Json>, data: &BTreeMap<String, Json>) {
    for (path, value) in data {
        d.put(&Key::parse_path(path).unwrap(), value.clone())
            .await
            .unwrap();
    }
}

fn python_write(
    python: &str,
    server: &common::Server,
    bucket: &str,
    root: &str,
    data: &BTreeMap<String, Json>,
) {
    let input = serde_json::to_string(data).unwrap();
    python_run(python, server, &["write", bucket, root], Some(&input));
}

fn python_read(
    python: &str,
    server: &common::Server,
    bucket: &str,
    root: &str,
) -> BTreeMap<String, Json> {
    let out = python_run(python, server, &["read", bucket, root], None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("Python's output {out:?}: {e}"))
}

#[track_caller]
fn assert_same(got: &BTreeMap<String, Json>, want: &BTreeMap<String, Json>, what: &str) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{what}: key sets differ"
    );
    for (k, v) in want {
        assert_eq!(&got[k], v, "{what}: value of {k}");
    }
}

#[tokio::test]
async fn python_writes_rust_reads() {
    let Some((python, server)) = setup() else {
        return;
    };
    let root = common::fresh_prefix("interop-py-to-rs");
    let data = data_set();
    python_write(&python, &server, common::BUCKET, &root, &data);
    let d = rust_dict(&server, common::BUCKET, &root).await;
    assert_same(
        &rust_read_all(&d).await,
        &data,
        "Rust reading Python's entries",
    );
    // Single reads and a subdictionary see the same objects.
    let k = Key::parse_path("users/42/score").unwrap();
    assert_eq!(d.get(&k).await.unwrap(), json!(99.5));
    let users = d.subdict(&Key::try_from("users").unwrap());
    assert_eq!(users.len().await.unwrap(), 2);
    // An entry Rust then overwrites reads back in Python.
    d.put(&k, json!([1.5, "rust"])).await.unwrap();
    let back = python_read(&python, &server, common::BUCKET, &root);
    assert_eq!(back["users/42/score"], json!([1.5, "rust"]));
}

#[tokio::test]
async fn rust_writes_python_reads() {
    let Some((python, server)) = setup() else {
        return;
    };
    let root = common::fresh_prefix("interop-rs-to-py");
    let data = data_set();
    let d = rust_dict(&server, common::BUCKET, &root).await;
    rust_write_all(&d, &data).await;
    assert_same(
        &python_read(&python, &server, common::BUCKET, &root),
        &data,
        "Python reading Rust's entries",
    );
}

/// An empty root prefix (the whole bucket), in a bucket of its own, both ways.
#[tokio::test]
async fn empty_root_prefix_both_ways() {
    let Some((python, server)) = setup() else {
        return;
    };
    let bucket = format!("persidict-interop-{:08x}", fastrand::u32(..));
    let data = data_set();
    let (from_python, from_rust): (BTreeMap<_, _>, BTreeMap<_, _>) = data
        .into_iter()
        .enumerate()
        .partition(|(i, _)| i.is_multiple_of(2));
    let strip = |m: BTreeMap<usize, (String, Json)>| -> BTreeMap<String, Json> {
        m.into_values().collect()
    };
    let (from_python, from_rust) = (strip(from_python), strip(from_rust));
    let d = rust_dict(&server, &bucket, "").await;
    python_write(&python, &server, &bucket, "", &from_python);
    rust_write_all(&d, &from_rust).await;
    let mut all = from_python.clone();
    all.extend(from_rust.clone());
    let rust_view = rust_read_all(&d).await;
    let python_view = python_read(&python, &server, &bucket, "");
    python_run(&python, &server, &["drop-bucket", &bucket], None);
    assert_same(&rust_view, &all, "Rust reading the whole bucket");
    assert_same(&python_view, &all, "Python reading the whole bucket");
}
