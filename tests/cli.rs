//! The `persidict` binary, run as a user runs it: on file:// and mem:// dictionaries and on
//! every local S3 server.
#![cfg(feature = "cli")]

mod common;
#[path = "common/http.rs"]
mod http;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use persidict::prelude::*;
use persidict::{Encoded, FileDict};

/// Runs the binary with `args`, feeding `stdin`.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_persidict"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("stdin written");
    child.wait_with_output().expect("the binary ends")
}

/// Runs the binary and expects exit status 0; returns stdout.
fn ok(args: &[&str]) -> Vec<u8> {
    ok_in(args, b"")
}

fn ok_in(args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let out = run(args, stdin);
    assert!(
        out.status.success(),
        "{args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs the binary and expects exit status `code`; returns stderr.
fn fails(args: &[&str], code: i32) -> String {
    let out = run(args, b"");
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}: stdout {:?}, stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).expect("UTF-8 stderr")
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8 stdout")
}

fn json(bytes: Vec<u8>) -> serde_json::Value {
    serde_json::from_slice(&bytes).expect("JSON stdout")
}

fn file_url(dir: &Path, params: &str) -> String {
    format!("file://{}?{params}", dir.display())
}

/// put then get returns the stored bytes for every codec; stdin and hex work; bad values
/// for the codec are refused.
#[test]
fn file_put_get_round_trips_per_codec() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let u = file_url(dir, "codec=json");
    ok(&["put", &u, "cfg/main", r#"{"port": 8080, "ratio": 0.1}"#]);
    assert_eq!(
        ok(&["get", &u, "cfg/main"]),
        br#"{"port": 8080, "ratio": 0.1}"#
    );
    let got = json(ok(&["--json", "get", &u, "cfg/main"]));
    assert_eq!(got["value"]["port"], 8080);
    assert_eq!(got["key"], "cfg/main");
    // Whitespace around the JSON text (a trailing newline from stdin) is not stored.
    ok_in(&["put", &u, "cfg/b", "-"], b"[1, 2]\n");
    assert_eq!(ok(&["get", &u, "cfg/b"]), b"[1, 2]");
    assert!(fails(&["put", &u, "cfg/c", "{not json"], 1).contains("not valid JSON"));

    let u = file_url(dir, "codec=text");
    ok(&["put", &u, "greeting", "héllo wörld"]);
    assert_eq!(text(ok(&["get", &u, "greeting"])), "héllo wörld");
    assert_eq!(
        json(ok(&["--json", "get", &u, "greeting"]))["value"],
        "héllo wörld"
    );
    assert!(fails(&["put", &u, "bad", "--hex", "ff"], 1).contains("not UTF-8"));

    let u = file_url(dir, "codec=raw");
    let bytes: Vec<u8> = (0..=255).collect();
    ok_in(&["put", &u, "blob", "-"], &bytes);
    assert_eq!(ok(&["get", &u, "blob"]), bytes);
    let hex = text(ok(&["get", &u, "blob", "--hex"]));
    assert_eq!(hex.len(), 513);
    assert!(
        hex.starts_with("000102") && hex.ends_with("feff\n"),
        "{hex}"
    );
    ok(&["put", &u, "h", "--hex", "00 ff 10"]);
    assert_eq!(ok(&["get", &u, "h"]), [0, 0xff, 0x10]);
    assert_eq!(ok(&["get", &u, "h", "--hex"]), b"00ff10\n");
    let got = json(ok(&["--json", "get", &u, "h"]));
    assert_eq!(got["value_base64"], "AP8Q");

    // bincode: the bytes a typed dictionary wrote, verbatim, and readable by it after a put.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let typed: FileDict<Vec<u32>> = rt
        .block_on(FileDict::builder(dir).codec(Codec::Bincode).build())
        .unwrap();
    let k = Key::parse_path("nums/a").unwrap();
    rt.block_on(typed.put(&k, vec![1, 300, 70000])).unwrap();
    let u = file_url(dir, "codec=bincode");
    let stored = ok(&["get", &u, "nums/a"]);
    assert_eq!(
        stored,
        Codec::Bincode.encode(&vec![1u32, 300, 70000]).unwrap()
    );
    ok_in(&["put", &u, "nums/b", "-"], &stored);
    let k = Key::parse_path("nums/b").unwrap();
    assert_eq!(rt.block_on(typed.get(&k)).unwrap(), vec![1, 300, 70000]);
}

#[test]
fn file_ls_count_rm() {
    let tmp = tempfile::tempdir().unwrap();
    let u = file_url(tmp.path(), "codec=text&digest_len=0");
    assert_eq!(text(ok(&["count", &u])), "0\n");
    for k in ["b/x", "a", "b/y.z"] {
        ok(&["put", &u, k, "value"]);
    }
    assert_eq!(text(ok(&["ls", &u])), "a\nb/x\nb/y.z\n");
    assert_eq!(
        json(ok(&["ls", &u, "--json"])),
        serde_json::json!(["a", "b/x", "b/y.z"])
    );
    let long = text(ok(&["ls", "--long", &u]));
    let lines: Vec<&str> = long.lines().collect();
    assert_eq!(lines.len(), 4, "{long}");
    assert!(
        lines[0].starts_with("KEY") && lines[0].contains("LAST-MODIFIED"),
        "{long}"
    );
    let cols: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(cols[..2], ["a", "5"], "{long}");
    assert!(
        cols[2].ends_with('Z') && cols[2].len() == 20,
        "RFC 3339 UTC: {long}"
    );
    let entries = json(ok(&["ls", "-l", "--json", &u]));
    assert_eq!(entries[2]["key"], "b/y.z");
    assert_eq!(entries[2]["size"], 5);
    assert_eq!(json(ok(&["count", "--json", &u]))["count"], 3);

    ok(&["rm", &u, "b/x"]);
    assert_eq!(text(ok(&["count", &u])), "2\n");
    assert!(fails(&["rm", &u, "b/x"], 1).contains("not found: key b/x"));
    ok(&["rm", "-f", &u, "b/x"]);
    assert_eq!(
        json(ok(&["--json", "rm", "-f", &u, "b/x"]))["removed"],
        serde_json::json!(false)
    );
    // The plain layout: digest_len=0 names are the keys.
    assert!(tmp.path().join("b/y.z.txt").is_file());
}

#[test]
fn file_errors_have_exit_codes_and_one_line_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let u = file_url(tmp.path(), "codec=json");
    let e = fails(&["get", &u, "a/b"], 1);
    assert_eq!(e.trim(), "persidict: not found: key a/b");
    let e = fails(&["get", &u, "a//b"], 1);
    assert!(
        e.contains("invalid key part") && e.contains("must not be empty"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    let e = fails(&["put", &u, "../x", "1"], 1);
    assert!(e.contains("invalid key part"), "{e}");
    let e = fails(&["ls", "ftp://host/x"], 1);
    assert!(e.contains("unknown scheme \"ftp\""), "{e}");
    let e = fails(&["ls", &file_url(tmp.path(), "codec=yaml")], 1);
    assert!(e.contains("unknown codec"), "{e}");
    let e = fails(&["count", "s3://b?colour=red"], 1);
    assert!(e.contains("unknown parameter \"colour\""), "{e}");
    // Usage errors: exit status 2.
    fails(&["frobnicate"], 2);
    fails(&["get", &u], 2);
    fails(&["export", &u, "d", "--concurrency", "0"], 2);
    let e = fails(&["ls", &u, "--stats", "--bogus"], 2);
    assert!(e.contains("--bogus"), "{e}");
    assert!(!e.contains("panicked"));
    // Stats on a non-S3 dictionary say there are none.
    let out = run(&["count", &u, "--stats"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("requests: none"));
}

#[test]
fn memory_urls_work_within_one_invocation() {
    assert_eq!(text(ok(&["count", "mem://?codec=json"])), "0\n");
    assert_eq!(text(ok(&["ls", "mem://"])), "");
    let probe = text(ok(&["probe", "mem://"]));
    assert!(probe.contains("not probed"), "{probe}");
    assert_eq!(probe.matches("enforced").count(), 8, "{probe}");
    let e = fails(&["count", "mem://named"], 1);
    assert!(e.contains("takes no name"), "{e}");
}

#[test]
fn file_export_import_round_trip() {
    let tmp = tempfile::tempdir().unwrap();
    let src = file_url(&tmp.path().join("src"), "codec=json");
    for i in 0..40 {
        ok(&[
            "put",
            &src,
            &format!("p{}/k{i}", i % 3),
            &format!("{{\"i\":{i}}}"),
        ]);
    }
    let out = tmp.path().join("out");
    let out_s = out.to_str().unwrap();
    let report = json(ok(&["--json", "export", &src, out_s, "--concurrency", "4"]));
    assert_eq!(report["exported"], 40);
    assert_eq!(
        std::fs::read(out.join("p1/k1.json")).unwrap(),
        br#"{"i":1}"#
    );
    // Export never overwrites.
    assert!(fails(&["export", &src, out_s], 1).contains("already exists"));
    // The tree is a FileDict with digest_len=0.
    let as_dict = file_url(&out, "codec=json&digest_len=0");
    assert_eq!(text(ok(&["count", &as_dict])), "40\n");

    std::fs::write(out.join("README.md"), "not an entry").unwrap();
    let dst = file_url(&tmp.path().join("dst"), "codec=json");
    let report = json(ok(&["--json", "import", out_s, &dst]));
    assert_eq!(
        (report["imported"].as_u64(), report["skipped"].as_u64()),
        (Some(40), Some(1))
    );
    assert_eq!(ok(&["ls", "--json", &src]), ok(&["ls", "--json", &dst]));
    assert_eq!(ok(&["get", &dst, "p2/k38"]), br#"{"i":38}"#);
}

/// An S3 URL for `server` under a fresh prefix.
fn s3_url(server: &common::Server, test: &str, params: &str) -> String {
    format!(
        "s3://{}/{}?endpoint={}&region=us-east-1&{params}",
        common::BUCKET,
        common::fresh_prefix(test),
        server.url
    )
}

fn s3_round_trip(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let u = s3_url(&s, "cli", "codec=json&create_bucket=true");
    ok(&["put", &u, "a/b", r#"{"x":1}"#]);
    // Without create_bucket, so that only the operation's own requests are counted.
    let u = u.replace("&create_bucket=true", "");
    let out = run(&["--stats", "put", &u, "a/c", "[1]"], b"");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "requests: PUT=1 sent=3B received=0B (total 1)"
    );
    let out = run(&["--stats", "--json", "get", &u, "a/b"], b"");
    assert_eq!(json(out.stdout)["value"]["x"], 1);
    let stats: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        (stats["requests"]["GET"].as_u64(), stats["total"].as_u64()),
        (Some(1), Some(1))
    );
    let out = run(&["--stats", "count", &u], b"");
    assert_eq!(text(out.stdout), "2\n");
    // The listing's size depends on the server: only the count of requests is fixed.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("requests: LIST=1 sent=0B received=")
            && stderr.trim().ends_with("(total 1)"),
        "{stderr}"
    );
    let entries = json(ok(&["ls", "-l", "--json", &u]));
    assert_eq!(entries[0]["key"], "a/b");
    assert_eq!(entries[0]["size"], 7);
    assert!(entries[0]["etag"].as_str().unwrap().starts_with('"'));
    ok(&["rm", &u, "a/b"]);
    assert!(fails(&["get", &u, "a/b"], 1).contains("not found: key a/b"));
    assert!(fails(&["rm", &u, "a/b"], 1).contains("not found: key a/b"));
    assert_eq!(text(ok(&["ls", &u])), "a/c\n");
}

#[test]
fn seaweedfs_cli_round_trip() {
    s3_round_trip("seaweedfs");
}

#[test]
fn moto_cli_round_trip() {
    s3_round_trip("moto");
}

#[test]
fn rclone_cli_round_trip() {
    s3_round_trip("rclone");
}

/// `probe` sends real requests even with capabilities=aws, and prints each verdict.
fn s3_probe(server: &str, verdicts: [&str; 9]) {
    let Some(s) = common::server(server) else {
        return;
    };
    let u = s3_url(&s, "probe", "capabilities=aws&create_bucket=true");
    let table = text(ok(&["probe", &u]));
    println!("{server}:\n{table}");
    let names = [
        "put_if_absent",
        "put_if_match",
        "delete_if_match",
        "get_if_none_match",
        "delete_if_exists",
        "delete_many_if_match",
        "copy_if_absent",
        "copy_if_match",
        "copy_source_if_match",
    ];
    let rows: Vec<&str> = table.lines().skip(2).collect();
    assert_eq!(rows.len(), 9, "{table}");
    for ((row, name), verdict) in rows.iter().zip(names).zip(verdicts) {
        assert!(row.starts_with(name), "{table}");
        assert!(row.ends_with(verdict), "{name}: {table}");
    }
    let report = json(ok(&["probe", "--json", &u]));
    let got: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(got, verdicts);
    assert_eq!(report["probed"], true);
    // Nothing of the probe is left for a dictionary to see.
    assert_eq!(text(ok(&["count", &u])), "0\n");
}

#[test]
fn seaweedfs_cli_probe_enforces_everything() {
    s3_probe("seaweedfs", ["enforced"; 9]);
}

#[test]
fn moto_cli_probe_refuses_if_match_star() {
    s3_probe(
        "moto",
        [
            "enforced", "enforced", "enforced", "enforced", "refused", "ignored", "ignored",
            "ignored", "ignored",
        ],
    );
}

#[test]
fn rclone_cli_probe_ignores_conditional_writes() {
    s3_probe(
        "rclone",
        [
            "ignored", "ignored", "ignored", "enforced", "ignored", "ignored", "ignored",
            "ignored", "ignored",
        ],
    );
}

fn s3_export_import(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let src = s3_url(&s, "export", "codec=bincode&create_bucket=true");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let typed: PersiDict<(String, u64)> = rt.block_on(persidict::open(&src)).unwrap();
    for i in 0..30u64 {
        let k = Key::new([format!("g{}", i % 4), format!("k{i}")]).unwrap();
        rt.block_on(typed.put(&k, (format!("v{i}"), i))).unwrap();
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tree");
    let dir_s = dir.to_str().unwrap();
    assert_eq!(
        text(ok(&["export", "--quiet", &src, dir_s])),
        format!("exported 30 entries to {dir_s}\n")
    );
    let dst = s3_url(&s, "import", "codec=bincode");
    let report = json(ok(&["--json", "import", dir_s, &dst, "--concurrency", "8"]));
    assert_eq!(report["imported"], 30);
    let copy: PersiDict<(String, u64)> = rt.block_on(persidict::open(&dst)).unwrap();
    let k = Key::parse_path("g3/k7").unwrap();
    assert_eq!(rt.block_on(copy.get(&k)).unwrap(), ("v7".to_string(), 7));
    assert_eq!(rt.block_on(copy.len()).unwrap(), 30);
    // Byte for byte: the same stored values, hence the same ETags (MD5 of the body).
    let listing = |u: &str| {
        let v = json(ok(&["ls", "-l", "--json", u]));
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| (e["key"].clone(), e["etag"].clone(), e["size"].clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(listing(&src), listing(&dst));
    let raw: PersiDict<Encoded> = rt.block_on(persidict::open(&dst)).unwrap();
    assert_eq!(
        rt.block_on(raw.get(&k)).unwrap().0,
        Codec::Bincode.encode(&("v7", 7u64)).unwrap()
    );
}

#[test]
fn seaweedfs_cli_export_import_round_trip() {
    s3_export_import("seaweedfs");
}

#[test]
fn moto_cli_export_import_round_trip() {
    s3_export_import("moto");
}

#[test]
fn rclone_cli_export_import_round_trip() {
    s3_export_import("rclone");
}

/// `--escape` makes any text a key: parts are escaped on the way in and shown unescaped by
/// `ls`; without it the same keys are refused, and `ls` shows the stored names.
#[test]
fn file_escape_flag_round_trips() {
    let tmp = tempfile::tempdir().unwrap();
    let u = file_url(tmp.path(), "codec=text&digest_len=0");
    for k in [
        "users/ann@example.com",
        "docs/my file.txt",
        "日本語",
        "plain",
    ] {
        ok(&["--escape", "put", &u, k, k]);
        assert_eq!(text(ok(&["get", "--escape", &u, k])), k);
    }
    // Sorted by stored name: `=E6...` comes first.
    assert_eq!(
        text(ok(&["ls", "--escape", &u])),
        "日本語\ndocs/my file.txt\nplain\nusers/ann@example.com\n"
    );
    assert_eq!(
        json(ok(&["ls", "--escape", "--json", &u]))[3],
        "users/ann@example.com"
    );
    assert_eq!(
        text(ok(&["ls", &u])),
        "=E6=97=A5=E6=9C=AC=E8=AA=9E\ndocs/my=20file.txt\nplain\nusers/ann=40example.com\n"
    );
    assert_eq!(text(ok(&["get", &u, "plain"])), "plain");
    assert!(fails(&["get", &u, "docs/my file.txt"], 1).contains("not allowed"));
    ok(&["rm", "--escape", &u, "docs/my file.txt"]);
    assert_eq!(text(ok(&["count", &u])), "3\n");
    assert!(tmp.path().join("users/ann=40example.com.txt").is_file());
}

/// `presign` prints a request anyone can send without credentials; an insert can create
/// the key once and never overwrite it.
#[test]
fn seaweedfs_cli_presign() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let u = s3_url(&s, "cli-presign", "codec=text&create_bucket=true");
    ok(&["put", &u, "a/k", "hello"]);
    let line = text(ok(&["presign", &u, "a/k"]));
    assert!(line.starts_with("curl --fail-with-body -X GET "), "{line}");
    let send = |signed: &serde_json::Value, body: &[u8]| {
        let headers: Vec<(String, String)> = signed["headers"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
            .collect();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(http::send(
            signed["method"].as_str().unwrap(),
            signed["url"].as_str().unwrap(),
            &headers,
            body,
        ))
    };
    let get = json(ok(&[
        "presign",
        "--json",
        &u,
        "a/k",
        "--expires-secs",
        "60",
    ]));
    assert_eq!(get["method"], "GET");
    assert_eq!(get["expires_in_secs"], 60);
    let a = send(&get, b"");
    assert_eq!((a.status, a.body), (200, b"hello".to_vec()));

    let insert = json(ok(&[
        "presign", "--json", "--method", "insert", &u, "a/new",
    ]));
    assert_eq!(insert["method"], "PUT");
    assert_eq!(insert["headers"]["if-none-match"], "*");
    assert_eq!(send(&insert, b"created").status, 200);
    assert_eq!(send(&insert, b"again").status, 412);
    assert_eq!(text(ok(&["get", &u, "a/new"])), "created");

    let e = fails(&["presign", "--expires-secs", "604801", &u, "a/k"], 2);
    assert!(e.contains("604801"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = fails(&["presign", &file_url(dir.path(), ""), "a/k"], 1);
    assert!(e.contains("need an s3:// dictionary"), "{e}");
}

/// `cp` and `mv` within one dictionary, with and without --if-absent.
fn cp_mv(u: &str) {
    ok(&["put", u, "a", "one"]);
    ok(&["cp", u, "a", "b"]);
    assert_eq!(text(ok(&["get", u, "b"])), "one");
    ok(&["put", u, "a", "two"]);
    let e = fails(&["cp", "-n", u, "a", "b"], 1);
    assert!(e.contains("not copied: b exists"), "{e}");
    assert_eq!(text(ok(&["get", u, "b"])), "one");
    ok(&["mv", u, "a", "c"]);
    assert!(fails(&["get", u, "a"], 1).contains("not found: key a"));
    assert_eq!(text(ok(&["get", u, "c"])), "two");
    let e = fails(&["mv", "--if-absent", u, "c", "b"], 1);
    assert!(e.contains("not renamed: b exists"), "{e}");
    assert!(fails(&["cp", u, "missing", "d"], 1).contains("not found: key missing"));
    assert!(fails(&["mv", u, "missing", "d"], 1).contains("not found: key missing"));
    let moved = json(ok(&["--json", "mv", u, "c", "d"]));
    assert_eq!(
        (moved["from"].as_str(), moved["to"].as_str()),
        (Some("c"), Some("d"))
    );
    assert_eq!(text(ok(&["ls", u])), "b\nd\n");
}

#[test]
fn file_cli_cp_mv() {
    let dir = tempfile::tempdir().unwrap();
    cp_mv(&file_url(dir.path(), "codec=text"));
}

#[test]
fn seaweedfs_cli_cp_mv() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let u = s3_url(
        &s,
        "cli-cp",
        "codec=text&create_bucket=true&capabilities=aws",
    );
    cp_mv(&u);
    // A copy is one CopyObject: the value never passes through the client (what it
    // receives is the CopyObjectResult document).
    let u = u.replace("&create_bucket=true", "");
    let out = run(&["--stats", "cp", &u, "b", "e"], b"");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("requests: CopyObject=1 sent=0B received=")
            && stderr.trim().ends_with("(total 1)"),
        "{stderr}"
    );
}

#[test]
fn moto_cli_cp_without_if_absent_only() {
    let Some(s) = common::server("moto") else {
        return;
    };
    let u = s3_url(&s, "cli-cp", "codec=text&create_bucket=true");
    ok(&["put", &u, "a", "one"]);
    ok(&["cp", &u, "a", "b"]);
    assert_eq!(text(ok(&["get", &u, "b"])), "one");
    let e = fails(&["cp", "-n", &u, "a", "c"], 1);
    assert!(e.contains("not supported"), "{e}");
    let e = fails(&["mv", &u, "a", "c"], 1);
    assert!(e.contains("not supported"), "{e}");
}

/// `versions`, `get --version` and `restore` on a versioned bucket.
#[test]
fn seaweedfs_cli_versions_and_restore() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let u = format!(
        "s3://persidict-versioned/{}?endpoint={}&region=us-east-1&codec=text&create_bucket=true&versioning=true",
        common::fresh_prefix("cli-versions"),
        s.url
    );
    ok(&["put", &u, "a", "one"]);
    ok(&["put", &u, "a", "two"]);
    ok(&["rm", &u, "a"]);
    let listed = text(ok(&["versions", &u, "a"]));
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{listed}");
    assert_eq!(
        (rows[0][1], rows[0][4]),
        ("-", "latest,deleted"),
        "{listed}"
    );
    let oldest = rows[2][0];
    assert_eq!(text(ok(&["get", &u, "a", "--version", oldest])), "one");
    let e = fails(&["get", &u, "a", "--version", "no-such-version"], 1);
    assert!(e.contains("not found: version"), "{e}");
    ok(&["restore", &u, "a", oldest]);
    assert_eq!(text(ok(&["get", &u, "a"])), "one");
    let e = fails(
        &[
            "restore",
            &u,
            "a",
            rows[1][0],
            "--etag",
            "\"0123456789abcdef0123456789abcdef\"",
        ],
        1,
    );
    assert!(e.contains("not restored: a changed"), "{e}");
    let json_rows = json(ok(&["--json", "versions", &u, "a"]));
    assert_eq!(json_rows.as_array().unwrap().len(), 4);
}

#[test]
fn rclone_cli_versions_are_unsupported() {
    let Some(s) = common::server("rclone") else {
        return;
    };
    let u = s3_url(&s, "cli-versions", "codec=text&create_bucket=true");
    ok(&["put", &u, "a", "one"]);
    let e = fails(&["versions", &u, "a"], 1);
    assert!(e.contains("object versions"), "{e}");
}

/// `put -` streams stdin and `get` streams to stdout: a raw value over the multipart
/// threshold is a multipart upload, and comes back byte for byte.
#[test]
fn seaweedfs_cli_streams_large_values() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let u = s3_url(
        &s,
        "cli-stream",
        "codec=raw&multipart_threshold=5MiB&part_size=5MiB",
    );
    // Creating the bucket is a PUT of its own: done first, not counted below.
    ok(&["count", &format!("{u}&create_bucket=true")]);
    let body: Vec<u8> = (0..12 * 1024 * 1024 + 7).map(|i| (i % 251) as u8).collect();
    let out = run(&["--json", "--stats", "put", &u, "big/v", "-"], &body);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let put = json(out.stdout);
    assert_eq!(put["size"], body.len());
    let stats = json(out.stderr);
    assert_eq!(stats["requests"]["CreateMultipartUpload"], 1, "{stats}");
    assert_eq!(stats["requests"]["UploadPart"], 3, "{stats}");
    assert_eq!(stats["requests"]["CompleteMultipartUpload"], 1, "{stats}");
    assert_eq!(stats["requests"]["PUT"], 0, "{stats}");
    let got = ok(&["get", &u, "big/v"]);
    assert!(got == body, "the value came back different");
    let e = fails(&["get", &u, "big/absent"], 1);
    assert!(e.contains("big/absent"), "{e}");
}

/// Streamed `put -` and `get` on files: the same bytes, and text must be UTF-8.
#[test]
fn file_cli_streams_values() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = file_url(tmp.path(), "codec=raw");
    let body: Vec<u8> = (0..300_000).map(|i| (i % 256) as u8).collect();
    ok_in(&["put", &raw, "v", "-"], &body);
    assert!(ok(&["get", &raw, "v"]) == body);
    let txt = file_url(tmp.path(), "codec=text");
    ok_in(&["put", &txt, "t", "-"], "grüße".as_bytes());
    assert_eq!(text(ok(&["get", &txt, "t"])), "grüße");
    let out = run(&["put", &txt, "bad", "-"], b"ok \xff");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("UTF-8"));
    assert!(fails(&["get", &txt, "bad"], 1).contains("bad"));
}
