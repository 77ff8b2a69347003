//! The quickstart: a dictionary, plain and conditional operations, a subdictionary.
//!
//! ```text
//! cargo run --example quickstart                      # files in target/quickstart-data
//! cargo run --example quickstart -- /some/directory   # files in that directory
//! cargo run --example quickstart -- mem://            # in memory
//! cargo run --example quickstart -- 's3://bucket/prefix?endpoint=http://127.0.0.1:8333'
//! ```
//!
//! The dictionary is cleared at the start and at the end, so the example can be run again.

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::S3DictBuilder;

#[tokio::main]
async fn main() -> persidict::Result<()> {
    let target = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/quickstart-data".to_owned());
    let dict: PersiDict<String> = if target.starts_with("s3://") {
        S3DictBuilder::from_url(&target)?
            .create_bucket(true)
            .build()
            .await?
            .into()
    } else if target == "mem://" {
        MemDict::new().into()
    } else {
        let dir = target.strip_prefix("file://").unwrap_or(&target);
        FileDict::builder(dir).build().await?.into()
    };
    println!("dictionary: {}", dict.info().location);
    dict.clear().await?;

    // Plain dictionary operations.
    let greeting = Key::new(["greetings", "en"])?;
    dict.put(&greeting, "hello".to_string()).await?;
    println!("get {greeting} -> {}", dict.get(&greeting).await?);
    println!(
        "contains greetings/fr -> {}",
        dict.contains(&Key::parse_path("greetings/fr")?).await?
    );

    // Insert-if-absent: only the first writer wins.
    let lock = Key::try_from("leader")?;
    let first = dict
        .put_if(
            &lock,
            Write::Value("worker-1".into()),
            Condition::Same,
            None,
            Retrieve::Never,
        )
        .await?;
    let second = dict
        .put_if(
            &lock,
            Write::Value("worker-2".into()),
            Condition::Same,
            None,
            Retrieve::Always,
        )
        .await?;
    println!(
        "insert-if-absent: first satisfied={}, second satisfied={} (current value {:?})",
        first.satisfied,
        second.satisfied,
        second.value.as_ref()
    );

    // Compare-and-swap on the ETag, and the retrying read-modify-write built on it.
    let etag = dict.etag(&greeting).await?;
    let swapped = dict
        .put_if(
            &greeting,
            Write::Value("hi".into()),
            Condition::Same,
            Some(&etag),
            Retrieve::Never,
        )
        .await?;
    println!(
        "compare-and-swap: satisfied={} mutated={}",
        swapped.satisfied,
        swapped.mutated()
    );
    let t = dict
        .transform(&greeting, |v| {
            Write::Value(format!("{}!", v.unwrap_or_default()))
        })
        .await?;
    println!("transform -> {:?} after {} attempt(s)", t.value, t.attempts);

    // Subdictionaries share storage under a key prefix.
    let greetings = dict.get_subdict(&Key::try_from("greetings")?)?;
    let mut keys: Vec<Key> = greetings.keys().try_collect().await?;
    keys.sort();
    println!("subdict greetings: {keys:?}");

    println!("len = {}", dict.len().await?);
    dict.clear().await?;
    println!("after clear: len = {}", dict.len().await?);
    Ok(())
}
