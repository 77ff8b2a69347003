//! Subdictionaries: their names, and what a prefix isolates.

use std::collections::BTreeSet;

use super::plain::sample_keys;
use super::{key, open, sorted_keys, Fixture};

/// `subdicts` names the first parts of multi-part keys, sorted and once each.
pub async fn subdicts<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    assert!(d.subdicts().await.expect("subdicts").is_empty());
    for k in sample_keys() {
        d.put(&k, 1).await.expect("put");
    }
    let want: BTreeSet<String> = sample_keys()
        .iter()
        .filter(|k| k.len() > 1)
        .map(|k| k.parts()[0].clone())
        .collect();
    assert_eq!(
        d.subdicts().await.expect("subdicts"),
        want.into_iter().collect::<Vec<_>>()
    );
}

/// A subdictionary sees exactly the keys under its prefix, with the prefix removed; writes
/// through it show in the parent and the other way round; siblings are isolated.
pub async fn subdict_isolation<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let users = d.get_subdict(&key("users")).expect("get_subdict");
    let groups = d.get_subdict(&key("groups")).expect("get_subdict");

    users.put(&key("42"), 1).await.expect("put via subdict");
    assert_eq!(d.get(&key("users/42")).await.expect("get via parent"), 1);
    d.put(&key("users/7/profile"), 2)
        .await
        .expect("put via parent");
    assert_eq!(
        users.get(&key("7/profile")).await.expect("get via subdict"),
        2
    );
    // Same name as the prefix, but a key of the parent, not of the subdict.
    d.put(&key("users"), 3).await.expect("put");
    d.put(&key("usersx/1"), 4).await.expect("put");
    groups.put(&key("42"), 5).await.expect("put via sibling");

    assert_eq!(
        users.get(&key("42")).await.expect("get"),
        1,
        "siblings are isolated"
    );
    assert_eq!(
        groups.get(&key("42")).await.expect("get"),
        5,
        "siblings are isolated"
    );
    assert!(!groups.contains(&key("7/profile")).await.expect("contains"));
    assert_eq!(users.len().await.expect("len"), 2);
    assert_eq!(sorted_keys(&users).await, vec![key("42"), key("7/profile")]);
    assert_eq!(groups.len().await.expect("len"), 1);
    assert_eq!(d.len().await.expect("len"), 5);
    assert_eq!(
        users.subdicts().await.expect("subdicts"),
        vec!["7".to_owned()]
    );

    // Nested subdicts and multi-part prefixes name the same entries.
    let nested = users.get_subdict(&key("7")).expect("get_subdict");
    let direct = d.get_subdict(&key("users/7")).expect("get_subdict");
    nested.put(&key("settings"), 6).await.expect("put");
    assert_eq!(direct.get(&key("settings")).await.expect("get"), 6);
    assert_eq!(d.get(&key("users/7/settings")).await.expect("get"), 6);
    assert_eq!(direct.len().await.expect("len"), 2);

    // Removal through a subdict reaches the parent; clear stays inside the prefix.
    assert!(users.discard(&key("42")).await.expect("discard"));
    assert!(!d.contains(&key("users/42")).await.expect("contains"));
    users.clear().await.expect("clear");
    assert!(users.is_empty().await.expect("is_empty"));
    assert_eq!(
        sorted_keys(d).await,
        vec![key("groups/42"), key("users"), key("usersx/1")],
        "a subdict's clear removes only its own entries"
    );
}
