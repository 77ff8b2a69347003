//! `export` and `import`: a dictionary as a plain directory tree.
//!
//! Key `a/b/c` of a dictionary with codec extension `json` is the file `DIR/a/b/c.json`,
//! holding the stored bytes. Key parts only use `A-Z a-z 0-9 ( ) _ - ~ . =`, so every key is
//! a valid relative path; on a case-insensitive file system keys that differ only in case
//! would share a file, which export detects (it never overwrites a file) and reports.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use futures::{stream, StreamExt, TryStreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use persidict::{Encoded, Key, PersiDict};

use crate::Failure;

fn bar(len: u64, verb: &str, hidden: bool) -> ProgressBar {
    let target = if hidden {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    let style = ProgressStyle::with_template(&format!(
        "{verb} {{bar:40}} {{pos}}/{{len}} entries, {{per_sec}}, eta {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

fn io_failure(path: &Path, what: &str, e: std::io::Error) -> Failure {
    Failure(format!("{what} {}: {e}", path.display()))
}

/// Writes every entry of `d` under `dir`; returns how many were written. Entries deleted
/// while the export runs are skipped.
pub(crate) async fn export(
    d: &PersiDict<Encoded>,
    dir: &Path,
    concurrency: usize,
    hidden: bool,
) -> Result<usize, Failure> {
    let ext = d.info().codec.extension();
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io_failure(dir, "creating", e))?;
    let keys: Vec<Key> = d.keys().try_collect().await?;
    let bar = bar(keys.len() as u64, "export", hidden);
    let written = stream::iter(keys)
        .map(|key| {
            let bar = &bar;
            async move {
                let Some(value) = d.get_opt(&key).await? else {
                    bar.inc(1);
                    return Ok::<usize, Failure>(0);
                };
                let (last, parents) = key.parts().split_last().expect("keys have parts");
                let mut path: PathBuf = dir.to_path_buf();
                path.extend(parents);
                path.push(format!("{last}.{ext}"));
                if let Some(parent) = path.parent() {
                    tokio::fs::create_dir_all(parent)
                        .await
                        .map_err(|e| io_failure(parent, "creating", e))?;
                }
                write_new(&path, value.as_bytes()).await?;
                bar.inc(1);
                Ok(1)
            }
        })
        .buffer_unordered(concurrency)
        .try_fold(0usize, |n, k| async move { Ok(n + k) })
        .await;
    bar.finish_and_clear();
    written
}

async fn write_new(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .await
        .map_err(|e| {
            if e.kind() == ErrorKind::AlreadyExists {
                Failure(format!(
                    "{} already exists; export never overwrites files (export into an empty directory)",
                    path.display()
                ))
            } else {
                io_failure(path, "creating", e)
            }
        })?;
    file.write_all(bytes)
        .await
        .map_err(|e| io_failure(path, "writing", e))?;
    file.flush()
        .await
        .map_err(|e| io_failure(path, "writing", e))
}

/// Every file under `dir` whose name ends in `.<ext>`, with its key; and how many other
/// files there were.
fn scan(dir: &Path, ext: &str) -> Result<(Vec<(Key, PathBuf)>, usize), Failure> {
    let suffix = format!(".{ext}");
    let mut found = Vec::new();
    let mut skipped = 0;
    let mut pending = vec![(dir.to_path_buf(), Vec::<String>::new())];
    while let Some((path, parts)) = pending.pop() {
        let entries = std::fs::read_dir(&path).map_err(|e| io_failure(&path, "reading", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| io_failure(&path, "reading", e))?;
            let file_type = entry
                .file_type()
                .map_err(|e| io_failure(&entry.path(), "reading", e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                skipped += 1;
                continue;
            };
            let mut parts = parts.clone();
            if file_type.is_dir() {
                parts.push(name);
                pending.push((entry.path(), parts));
            } else if let Some(stem) = name.strip_suffix(&suffix).filter(|s| !s.is_empty()) {
                parts.push(stem.to_owned());
                let key = Key::new(parts)
                    .map_err(|e| Failure(format!("{}: not a key: {e}", entry.path().display())))?;
                found.push((key, entry.path()));
            } else {
                skipped += 1;
            }
        }
    }
    found.sort();
    Ok((found, skipped))
}

/// Stores every `.<ext>` file under `dir` into `d`; returns how many were stored and how
/// many other files were skipped.
pub(crate) async fn import(
    d: &PersiDict<Encoded>,
    dir: &Path,
    concurrency: usize,
    hidden: bool,
) -> Result<(usize, usize), Failure> {
    let ext = d.info().codec.extension();
    let (files, skipped) = scan(dir, ext)?;
    let bar = bar(files.len() as u64, "import", hidden);
    let stored = stream::iter(files)
        .map(|(key, path)| {
            let bar = &bar;
            async move {
                let bytes = tokio::fs::read(&path)
                    .await
                    .map_err(|e| io_failure(&path, "reading", e))?;
                d.put(&key, Encoded(bytes)).await?;
                bar.inc(1);
                Ok::<usize, Failure>(1)
            }
        })
        .buffer_unordered(concurrency)
        .try_fold(0usize, |n, k| async move { Ok(n + k) })
        .await;
    bar.finish_and_clear();
    Ok((stored?, skipped))
}
