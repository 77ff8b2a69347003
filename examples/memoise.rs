//! Memoising a deterministic function across processes with a write-once dictionary:
//! whoever computes a result first stores it, every later identical result is accepted for
//! one request, and a sampled check catches a function that is not deterministic.
//!
//! ```text
//! cargo run --example memoise                      # files in target/memoise-data
//! cargo run --example memoise -- mem://            # in memory
//! cargo run --example memoise -- 's3://bucket/prefix?endpoint=http://127.0.0.1:8333'
//! ```
//!
//! Run it twice on the same directory or bucket: the second run computes nothing. A
//! write-once dictionary never removes, so the results stay (remove the directory or
//! prefix by hand to start over).

use persidict::prelude::*;
use persidict::WriteOnceDict;

/// The expensive, deterministic function.
fn collatz_steps(mut n: u64) -> u64 {
    let mut steps = 0;
    while n != 1 {
        n = if n.is_multiple_of(2) {
            n / 2
        } else {
            3 * n + 1
        };
        steps += 1;
    }
    steps
}

#[tokio::main]
async fn main() -> persidict::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "file://target/memoise-data".to_owned());
    let target = if target.contains("://") {
        target
    } else {
        format!("file://{target}")
    };
    // Check one repeat in four.
    let memo =
        WriteOnceDict::with_p_consistency_checks(persidict::open::<u64>(&target).await?, 0.25)?;
    println!("results: {}", memo.info().location);

    let (mut computed, mut reused) = (0, 0);
    for n in 1..=50u64 {
        let k = Key::new(["collatz", &n.to_string()])?;
        if memo.get_opt(&k).await?.is_some() {
            reused += 1;
            continue;
        }
        // Two processes may both get here; the first write wins, the second is a repeat.
        memo.put(&k, collatz_steps(n)).await?;
        computed += 1;
    }
    // Writing a known result again costs one refused insert (plus a GET when checked).
    let k27 = Key::new(["collatz", "27"])?;
    memo.put(&k27, collatz_steps(27)).await?;
    println!(
        "computed {computed}, reused {reused}; collatz(27) = {} steps; {} consistency checks",
        memo.get(&k27).await?,
        memo.consistency_checks()
    );
    Ok(())
}
