//! A shared counter incremented from plain threads with the blocking API: no async
//! runtime in sight.
//!
//! ```text
//! cargo run --features blocking --example blocking_counter -- [URL] [THREADS] [INCREMENTS]
//! ```
//!
//! `URL` defaults to a `FileDict` in `target/blocking-counter-data`; any `file://`, `mem://`
//! or `s3://…?endpoint=…&create_bucket=true` URL works. The last line is
//! `final=<n> expected=<threads*increments>`; the exit status is 0 only if they are equal.

use std::process::ExitCode;
use std::thread;

use persidict::{Key, Write};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "file://target/blocking-counter-data".to_owned());
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let increments: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(25);
    match run(&url, threads, increments) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(url: &str, threads: usize, increments: usize) -> persidict::Result<bool> {
    let d = persidict::blocking::open::<u64>(url)?;
    let k = Key::new(["counters", "blocking"])?;
    d.discard(&k)?;
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (d, k) = (d.clone(), k.clone());
            thread::spawn(move || -> persidict::Result<()> {
                for _ in 0..increments {
                    let _ = d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1))?;
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        w.join().expect("a worker thread panicked")?;
    }
    let total = d.get(&k)?;
    let expected = (threads * increments) as u64;
    d.discard(&k)?;
    println!("final={total} expected={expected}");
    Ok(total == expected)
}
