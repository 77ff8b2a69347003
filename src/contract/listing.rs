//! Listings by modification time, and random keys.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{key, open, Fixture};
use crate::key::Key;

/// `oldest_keys`/`newest_keys` order by modification time (writes 1.1 s apart, since S3
/// reports times to the second).
pub async fn oldest_newest_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    assert!(d.oldest_keys(3).await.expect("oldest_keys").is_empty());
    // Key order is the reverse of time order, so sorting by key would fail.
    let first = key("c-first");
    let second = key("b-second");
    let third = key("a-third");
    d.put(&first, 1).await.expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    d.put(&second, 2).await.expect("put");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    d.put(&third, 3).await.expect("put");
    assert_eq!(
        d.oldest_keys(2).await.expect("oldest_keys"),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        d.newest_keys(2).await.expect("newest_keys"),
        vec![third.clone(), second.clone()]
    );
    assert_eq!(
        d.oldest_keys(10).await.expect("oldest_keys"),
        vec![first.clone(), second.clone(), third.clone()]
    );
    assert!(d.newest_keys(0).await.expect("newest_keys").is_empty());
    assert!(
        d.timestamp(&first).await.expect("timestamp")
            < d.timestamp(&third).await.expect("timestamp")
    );
}

/// `random_key` is `None` when empty and a member otherwise.
pub async fn random_key<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    assert_eq!(d.random_key().await.expect("random_key"), None);
    let keys: BTreeSet<Key> = (0..5).map(|i| key(&format!("r/{i}"))).collect();
    for k in &keys {
        d.put(k, 0).await.expect("put");
    }
    for _ in 0..10 {
        let k = d.random_key().await.expect("random_key").expect("a key");
        assert!(keys.contains(&k), "random_key gave a stranger {k}");
    }
}
