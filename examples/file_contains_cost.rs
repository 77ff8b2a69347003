//! What `contains` costs on a large value in a [`FileDict`], with the ETag record and
//! without it (the record removed before each call, so the file is read and hashed, as it
//! was before records existed).
//!
//! ```text
//! cargo run --release --no-default-features --example file_contains_cost -- 64 20
//! ```
//!
//! Arguments: the value size in MiB (default 64) and the number of calls (default 20).
//! Prints the mean time per call for both. The record is an extended attribute on Linux;
//! elsewhere both figures are the hashing one.

use std::time::{Duration, Instant};

use persidict::prelude::*;

#[tokio::main]
async fn main() -> persidict::Result<()> {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let calls: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20);
    let dir = tempfile::tempdir().map_err(|e| Error::Io {
        path: "a temporary directory".to_owned(),
        source: e,
    })?;
    let d: FileDict<Vec<u8>> = FileDict::builder(dir.path())
        .codec(Codec::Raw)
        .build()
        .await?;
    let k = Key::new(["large"])?;
    let value: Vec<u8> = (0..mib << 20).map(|i| (i % 251) as u8).collect();
    let t = Instant::now();
    d.put(&k, value).await?;
    println!("put of {mib} MiB: {:.1?}", t.elapsed());

    let with_record = time(calls, || async {
        assert!(d.contains(&k).await?);
        Ok(())
    })
    .await?;
    let without_record = time(calls, || async {
        remove_record(dir.path());
        assert!(d.contains(&k).await?);
        Ok(())
    })
    .await?;
    println!("contains, {mib} MiB value, mean of {calls} calls:");
    println!("  with the ETag record:                  {with_record:>10.1?}");
    println!("  without it (read and hash, as before): {without_record:>10.1?}");
    Ok(())
}

async fn time<F, Fut>(calls: u32, mut f: F) -> persidict::Result<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = persidict::Result<()>>,
{
    let t = Instant::now();
    for _ in 0..calls {
        f().await?;
    }
    Ok(t.elapsed() / calls)
}

/// Removes the ETag record of every data file directly in `dir`.
fn remove_record(dir: &std::path::Path) {
    #[cfg(target_os = "linux")]
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        use std::os::unix::ffi::OsStrExt;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        if let Ok(p) = std::ffi::CString::new(path.as_os_str().as_bytes()) {
            // SAFETY: NUL-terminated strings.
            unsafe { libc::removexattr(p.as_ptr(), c"user.persidict.etag".as_ptr()) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = dir;
}
