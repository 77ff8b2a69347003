//! `persidict`: list, read, write, probe, export and import persidict dictionaries from the
//! command line. Built with the `cli` feature.

mod copies;
mod tree;
mod values;

use std::io::{IsTerminal, Read, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use futures::TryStreamExt;
use persidict::store::{WriteCondition, WriteResult};
use persidict::{
    Codec, CopyOptions, CopyResult, Encoded, EntryMeta, Error, Key, Opened, PersiDict, Renamed,
};
use serde_json::json;

use self::copies::{copy, rename, restore, versions};
use self::values::{get, put};

const AFTER_HELP: &str = "\
URLs:
  s3://bucket/prefix?endpoint=URL&region=R&codec=C&digest_len=N&append_only=true&capabilities=aws
  file:///abs/dir?codec=C&digest_len=N&append_only=true   (file://rel/dir: relative)
  mem://?codec=C&append_only=true   (a new, empty dictionary for this one command)
  Codecs: bincode (default), json, raw, text. Credentials come from the standard AWS
  chain (AWS_ACCESS_KEY_ID, profiles, SSO, ...); AWS_ENDPOINT_URL is honoured.
  Timeouts: connect_timeout_ms (default 3100), attempt_timeout_ms (default 30000, and
  1 s more per MiB for a PUT), or --connect-timeout-ms / --attempt-timeout-ms.

Keys are written a/b/c: parts of 1-200 characters from A-Z a-z 0-9 ( ) _ - ~ . =
With --escape any text works: each /-separated part is escaped (persidict's reversible
=HH escaping, which leaves safe parts unchanged), and ls shows keys unescaped. A / always
separates parts on the command line, so a part holding / cannot be given or shown exactly.

Values are the stored bytes, whatever the codec: `get` writes them to stdout verbatim
(json: the JSON text, text: the text, raw and bincode: the bytes; a newline is added for
json and text when stdout is a terminal); `put` stores VALUE (or stdin with `-`) verbatim,
after checking that json is valid JSON and text is UTF-8. --hex reads and writes hex.
Raw and text values stream: `get` writes them as they arrive and `put -` sends stdin as it
is read (a multipart upload on S3 above multipart_threshold), in bounded memory.

Exit status: 0 done, 1 the operation failed (the error on stderr, one line), 2 usage error.";

#[derive(Debug, Parser)]
#[command(name = "persidict", version, about = "Read, write, list, probe, export and import persidict dictionaries (S3, files, memory).", after_help = AFTER_HELP)]
struct Cli {
    /// Machine-readable JSON output on stdout (and JSON request counts on stderr with --stats).
    #[arg(long, global = true)]
    json: bool,
    /// Print the S3 requests sent, by kind, on stderr when done.
    #[arg(long, global = true)]
    stats: bool,
    /// No progress bars (they are also hidden when stderr is not a terminal).
    #[arg(long, short, global = true)]
    quiet: bool,
    /// Keys are arbitrary text: escape each /-separated part of KEY, and show keys
    /// unescaped in `ls`.
    #[arg(long, global = true)]
    escape: bool,
    /// S3: the connect timeout in milliseconds (default 3100; overrides the URL's
    /// connect_timeout_ms).
    #[arg(long, global = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout_ms: Option<u64>,
    /// S3: the per-attempt timeout in milliseconds (default 30000, and 1 s more per MiB
    /// for a PUT; overrides the URL's attempt_timeout_ms). The SDK makes 3 attempts.
    #[arg(long, global = true, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    attempt_timeout_ms: Option<u64>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List the keys, sorted (with --long: key, size in bytes, last modified in RFC 3339
    /// UTC, ETag).
    Ls {
        /// The dictionary URL.
        url: String,
        /// Show size, last-modified time and ETag.
        #[arg(long, short)]
        long: bool,
    },
    /// Print the stored value of KEY (exit status 1 if absent).
    Get {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
        /// Print the bytes as lowercase hex.
        #[arg(long)]
        hex: bool,
        /// Print this version of KEY instead of the current value (versioned buckets;
        /// see `versions`).
        #[arg(long, value_name = "ID")]
        version: Option<String>,
    },
    /// Store VALUE (or stdin with `-`) under KEY, as the stored bytes.
    Put {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
        /// The value, or `-` to read it from stdin.
        value: String,
        /// The value is hex (whitespace ignored).
        #[arg(long)]
        hex: bool,
    },
    /// Remove KEY (exit status 1 if absent, unless --force).
    Rm {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
        /// An absent key is not an error.
        #[arg(long, short)]
        force: bool,
    },
    /// Copy the value of KEY to NEWKEY on the server (S3: one CopyObject, the value never
    /// passes through this machine). NEWKEY is replaced unless --if-absent.
    Cp {
        /// The dictionary URL.
        url: String,
        /// The key to copy, as a/b/c.
        key: String,
        /// The key to copy to.
        new_key: String,
        /// Copy only if NEWKEY is absent (If-None-Match: *); exit status 1 if it exists.
        #[arg(long, short = 'n')]
        if_absent: bool,
    },
    /// Rename KEY to NEWKEY: a copy pinned to KEY's ETag, then a delete of KEY only if it
    /// still has that ETag. Two requests, never atomic: exit status 1, saying so, if KEY
    /// changed in between and was kept.
    Mv {
        /// The dictionary URL.
        url: String,
        /// The key to rename, as a/b/c.
        key: String,
        /// Its new name.
        new_key: String,
        /// Rename only if NEWKEY is absent (If-None-Match: *); exit status 1 if it exists.
        #[arg(long, short = 'n')]
        if_absent: bool,
    },
    /// List the versions of KEY on a versioned bucket, the current one first: version
    /// id, ETag (`-` for a delete marker), size, last modified (RFC 3339 UTC), and
    /// `latest` / `deleted` marks.
    Versions {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
    },
    /// Make version ID of KEY current again (a new version; the history is kept), only if
    /// KEY still has the ETag given with --etag, or, without it, the ETag a HEAD reads now
    /// (absent: only if KEY is still absent). Exit status 1 if KEY changed.
    Restore {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
        /// The version id to restore (see `versions`).
        version: String,
        /// The ETag KEY must still have.
        #[arg(long)]
        etag: Option<String>,
    },
    /// Print the number of entries.
    Count {
        /// The dictionary URL.
        url: String,
    },
    /// Probe which conditional requests an S3 endpoint enforces, refuses or ignores (sends
    /// about 34 requests on two scratch objects, even with capabilities=aws).
    Probe {
        /// The dictionary URL.
        url: String,
    },
    /// Sign a request for KEY that anyone can send without credentials until it expires
    /// (s3:// only; nothing is sent): prints a curl command line, or with --json the
    /// method, URL and the headers to send. An insert is a PUT that can only create KEY,
    /// never overwrite it. A PUT's body is the stored bytes.
    Presign {
        /// The dictionary URL.
        url: String,
        /// The key, as a/b/c.
        key: String,
        /// What the request does.
        #[arg(long, value_enum, default_value_t = PresignArg::Get)]
        method: PresignArg,
        /// Seconds until it expires (at most 604800, 7 days).
        #[arg(long, default_value_t = 3600, value_parser = clap::value_parser!(u64).range(1..=604_800))]
        expires_secs: u64,
    },
    /// Copy every entry into a plain directory tree: DIR/<part>/.../<last part>.<ext>
    /// holding the stored bytes (existing files are never overwritten). The tree is the
    /// layout of file://DIR?digest_len=0 with the same codec.
    Export {
        /// The dictionary URL.
        url: String,
        /// The directory to write (created if needed).
        dir: PathBuf,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
    },
    /// Store every file of a tree written by `export` (the files ending in the URL codec's
    /// extension) into the dictionary, overwriting existing keys.
    Import {
        /// The directory to read.
        dir: PathBuf,
        /// The dictionary URL.
        url: String,
        /// Requests in flight at once.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
        concurrency: u16,
    },
}

/// What a presigned request does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum PresignArg {
    /// Read the value.
    Get,
    /// Write the value, replacing what is there.
    Put,
    /// Create the key only (a PUT signed with If-None-Match: *).
    Insert,
}

/// A failure of the command: one line on stderr and exit status 1.
#[derive(Debug)]
struct Failure(String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure(match e {
            Error::NotFound { key } => format!("not found: key {key}"),
            other => with_causes(&other),
        })
    }
}

/// The error's message followed by `: <cause>` for each error of its `source()` chain that
/// adds something: a cause whose text is already in the line, that only names a kind of
/// failure, or that is a structure's dump, is left out.
fn with_causes(err: &(dyn std::error::Error + 'static)) -> String {
    // What the SDK's wrappers say without saying anything.
    const EMPTY: &[&str] = &[
        "dispatch failure",
        "service error",
        "response error",
        "io error",
        "other",
        "unhandled error",
        "request has timed out",
        "timeout",
    ];
    let mut line = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        let text = e
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let lower = text.to_ascii_lowercase();
        // A structure's dump (the SDK's error metadata prints as one) says again what
        // the line already says from the answer.
        let dump = text.ends_with('}') && text.contains(" { ");
        let unhandled = lower.starts_with("unhandled error");
        if !text.is_empty()
            && !dump
            && !unhandled
            && !EMPTY.contains(&lower.as_str())
            && !line.to_ascii_lowercase().contains(&lower)
        {
            line.push_str(": ");
            line.push_str(&text);
        }
        cur = e.source();
    }
    line
}

impl From<persidict::InvalidKey> for Failure {
    fn from(e: persidict::InvalidKey) -> Self {
        Failure(e.to_string())
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("persidict: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            // One line, whatever the error's own formatting.
            let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("persidict: {line}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Outcome {
    let url = match &cli.command {
        Command::Ls { url, .. }
        | Command::Get { url, .. }
        | Command::Put { url, .. }
        | Command::Rm { url, .. }
        | Command::Cp { url, .. }
        | Command::Mv { url, .. }
        | Command::Versions { url, .. }
        | Command::Restore { url, .. }
        | Command::Count { url }
        | Command::Probe { url }
        | Command::Presign { url, .. }
        | Command::Export { url, .. }
        | Command::Import { url, .. } => url.clone(),
    };
    let url = with_timeouts(&cli, url);
    let dict: Opened<Encoded> = Opened::open(&url).await?;
    let result = command(&cli, &dict).await;
    if cli.stats {
        print_stats(&cli, &dict);
    }
    result
}

/// An `s3://` URL with the timeout flags appended as URL parameters (the last of a
/// repeated parameter wins, so the flags override the URL).
fn with_timeouts(cli: &Cli, mut url: String) -> String {
    if !url.starts_with("s3://") {
        return url;
    }
    for (name, value) in [
        ("connect_timeout_ms", cli.connect_timeout_ms),
        ("attempt_timeout_ms", cli.attempt_timeout_ms),
    ] {
        if let Some(ms) = value {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&format!("{name}={ms}"));
        }
    }
    url
}

async fn command(cli: &Cli, dict: &Opened<Encoded>) -> Outcome {
    let d = dict.as_dict();
    match &cli.command {
        Command::Ls { long, .. } => ls(cli, d, *long).await,
        Command::Get {
            key, hex, version, ..
        } => get(cli, d, &parse_key(cli, key)?, *hex, version.as_deref()).await,
        Command::Versions { key, .. } => versions(cli, d, &parse_key(cli, key)?).await,
        Command::Restore {
            key, version, etag, ..
        } => restore(cli, d, &parse_key(cli, key)?, version, etag.as_deref()).await,
        Command::Put {
            key, value, hex, ..
        } => put(cli, d, &parse_key(cli, key)?, value, *hex).await,
        Command::Rm { key, force, .. } => {
            let key = parse_key(cli, key)?;
            let removed = d.discard(&key).await?;
            if !removed && !force {
                return Err(Error::NotFound { key }.into());
            }
            if cli.json {
                emit(&json!({ "key": key.to_string(), "removed": removed }));
            }
            Ok(())
        }
        Command::Cp {
            key,
            new_key,
            if_absent,
            ..
        } => {
            copy(
                cli,
                d,
                &parse_key(cli, key)?,
                &parse_key(cli, new_key)?,
                *if_absent,
            )
            .await
        }
        Command::Mv {
            key,
            new_key,
            if_absent,
            ..
        } => {
            rename(
                cli,
                d,
                &parse_key(cli, key)?,
                &parse_key(cli, new_key)?,
                *if_absent,
            )
            .await
        }
        Command::Count { .. } => {
            let n = d.len().await?;
            if cli.json {
                emit(&json!({ "count": n }));
            } else {
                println!("{n}");
            }
            Ok(())
        }
        Command::Probe { .. } => probe(cli, dict).await,
        Command::Presign {
            key,
            method,
            expires_secs,
            ..
        } => presign(cli, dict, &parse_key(cli, key)?, *method, *expires_secs).await,
        Command::Export {
            dir, concurrency, ..
        } => {
            let n = tree::export(d, dir, usize::from(*concurrency), progress_hidden(cli)).await?;
            if cli.json {
                emit(&json!({ "exported": n, "dir": dir.display().to_string() }));
            } else {
                println!("exported {n} entries to {}", dir.display());
            }
            Ok(())
        }
        Command::Import {
            dir, concurrency, ..
        } => {
            let (n, skipped) =
                tree::import(d, dir, usize::from(*concurrency), progress_hidden(cli)).await?;
            if cli.json {
                emit(
                    &json!({ "imported": n, "skipped": skipped, "dir": dir.display().to_string() }),
                );
            } else {
                println!(
                    "imported {n} entries from {} ({skipped} other files skipped)",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

fn progress_hidden(cli: &Cli) -> bool {
    cli.quiet || !std::io::stderr().is_terminal()
}

fn emit(value: &serde_json::Value) {
    println!("{value}");
}

fn print_stats(cli: &Cli, dict: &Opened<Encoded>) {
    match dict {
        Opened::S3(d) => {
            let s = d.stats().snapshot();
            if cli.json {
                let mut counts = serde_json::Map::new();
                for kind in persidict::s3::RequestKind::ALL {
                    counts.insert(kind.to_string(), json!(s.get(kind)));
                }
                eprintln!("{}", json!({ "requests": counts, "total": s.total() }));
            } else {
                eprintln!("requests: {s} (total {})", s.total());
            }
        }
        _ => {
            if cli.json {
                eprintln!("{}", json!({ "requests": null, "total": 0 }));
            } else {
                eprintln!("requests: none (not an S3 dictionary)");
            }
        }
    }
}

/// KEY as given on the command line: a `/`-separated path, each part escaped with
/// `--escape`.
fn parse_key(cli: &Cli, key: &str) -> std::result::Result<Key, persidict::InvalidKey> {
    if cli.escape {
        Key::escaped(key.split('/'))
    } else {
        Key::parse_path(key)
    }
}

/// A key as `ls` shows it: unescaped with `--escape` (as stored when it is the escape of
/// no text).
fn show_key(cli: &Cli, key: &Key) -> String {
    match cli.escape.then(|| key.unescaped_parts()).flatten() {
        Some(parts) => parts.join("/"),
        None => key.to_string(),
    }
}

async fn ls(cli: &Cli, d: &PersiDict<Encoded>, long: bool) -> Outcome {
    let mut entries: Vec<EntryMeta> = d.list().try_collect().await?;
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    let etag = |m: &EntryMeta| m.etag.as_ref().map(|e| e.as_str().to_owned());
    if cli.json {
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|m| {
                if long {
                    json!({
                        "key": show_key(cli, &m.key),
                        "size": m.size,
                        "last_modified": rfc3339(m.last_modified),
                        "etag": etag(m),
                    })
                } else {
                    json!(show_key(cli, &m.key))
                }
            })
            .collect();
        emit(&serde_json::Value::Array(items));
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    if !long {
        for m in &entries {
            let _ = writeln!(out, "{}", show_key(cli, &m.key));
        }
        return Ok(());
    }
    let rows: Vec<[String; 4]> = entries
        .iter()
        .map(|m| {
            [
                show_key(cli, &m.key),
                m.size.to_string(),
                rfc3339(m.last_modified),
                etag(m).unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    let key_w = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(3);
    let size_w = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).max(4);
    let _ = writeln!(
        out,
        "{:<key_w$}  {:>size_w$}  {:<20}  ETAG",
        "KEY", "SIZE", "LAST-MODIFIED"
    );
    for [key, size, modified, etag] in rows {
        let _ = writeln!(
            out,
            "{key:<key_w$}  {size:>size_w$}  {modified:<20}  {etag}"
        );
    }
    Ok(())
}

async fn presign(
    cli: &Cli,
    dict: &Opened<Encoded>,
    key: &Key,
    method: PresignArg,
    expires_secs: u64,
) -> Outcome {
    let Opened::S3(d) = dict else {
        return Err(Failure(
            "presigned requests need an s3:// dictionary".to_owned(),
        ));
    };
    let what = match method {
        PresignArg::Get => persidict::s3::Presign::Get,
        PresignArg::Put => persidict::s3::Presign::Put,
        PresignArg::Insert => persidict::s3::Presign::Insert,
    };
    let signed = d
        .presign(key, what, std::time::Duration::from_secs(expires_secs))
        .await?;
    if cli.json {
        let headers: serde_json::Map<String, serde_json::Value> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), json!(v)))
            .collect();
        emit(&json!({
            "key": key.to_string(),
            "method": signed.method,
            "url": signed.url,
            "headers": headers,
            "expires_in_secs": expires_secs,
        }));
    } else {
        println!("{}", signed.curl("-"));
    }
    Ok(())
}

async fn probe(cli: &Cli, dict: &Opened<Encoded>) -> Outcome {
    match dict {
        Opened::S3(d) => {
            let report = d.probe_report().await?;
            if cli.json {
                let checks: Vec<serde_json::Value> = report
                    .checks
                    .iter()
                    .map(|c| {
                        json!({
                            "capability": c.capability,
                            "request": c.request,
                            "answer": c.answer,
                            "verdict": c.verdict.name(),
                        })
                    })
                    .collect();
                emit(&json!({ "endpoint": report.endpoint, "probed": true, "checks": checks }));
            } else {
                print!("{report}");
            }
        }
        other => {
            let d = other.as_dict();
            let caps = d.capabilities().await?;
            let info = d.info();
            let rows = [
                ("put_if_absent", caps.put_if_absent),
                ("put_if_match", caps.put_if_match),
                ("delete_if_match", caps.delete_if_match),
                ("get_if_none_match", caps.get_if_none_match),
                ("delete_if_exists", caps.delete_if_exists),
                ("copy_if_absent", caps.copy_if_absent),
                ("copy_if_match", caps.copy_if_match),
                ("copy_source_if_match", caps.copy_source_if_match),
            ];
            let verdict = |on: bool| if on { "enforced" } else { "ignored" };
            if cli.json {
                let checks: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|(name, on)| json!({ "capability": name, "request": null, "answer": null, "verdict": verdict(*on) }))
                    .collect();
                emit(&json!({ "endpoint": info.location, "probed": false, "checks": checks }));
            } else {
                println!(
                    "endpoint: {} ({} backend: not probed, conditions are checked in-process)",
                    info.location, info.backend
                );
                println!("{:<20}  verdict", "capability");
                for (name, on) in rows {
                    println!("{name:<20}  {}", verdict(on));
                }
            }
        }
    }
    Ok(())
}

/// `t` as RFC 3339 UTC to the second, e.g. `2024-05-01T12:00:00Z`.
fn rfc3339(t: SystemTime) -> String {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_827_696); // a leap day
        assert_eq!(rfc3339(t), "2000-02-29T12:34:56Z");
        let t = UNIX_EPOCH + Duration::from_secs(4_102_444_799);
        assert_eq!(rfc3339(t), "2099-12-31T23:59:59Z");
    }

    #[derive(Debug)]
    struct Chain(&'static str, Option<Box<Chain>>);

    impl std::fmt::Display for Chain {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Chain {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|c| c as _)
        }
    }

    #[test]
    fn causes_are_added_once_without_dumps() {
        let chain = |texts: &[&'static str]| {
            texts
                .iter()
                .rev()
                .fold(None, |inner, t| Some(Box::new(Chain(t, inner))))
                .expect("a chain")
        };
        let e = chain(&[
            "ep: PUT failed: HTTP 500 InternalError: try again",
            "service error",
            "unhandled error (InternalError)",
            "Error { code: \"InternalError\", message: \"try again\" }",
        ]);
        assert_eq!(
            with_causes(e.as_ref()),
            "ep: PUT failed: HTTP 500 InternalError: try again"
        );
        let e = chain(&[
            "ep: GET: cannot reach the endpoint: connection refused",
            "dispatch failure",
            "client error (Connect)",
            "tcp connect error: Connection refused (os error 111)",
            "Connection refused (os error 111)",
        ]);
        assert_eq!(
            with_causes(e.as_ref()),
            "ep: GET: cannot reach the endpoint: connection refused: client error (Connect): \
             tcp connect error: Connection refused (os error 111)"
        );
    }

    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
