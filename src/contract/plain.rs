//! Plain operations: get/put, missing keys, listings, bulk operations, case and charset of
//! keys, codecs and encode errors.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use futures::stream::TryStreamExt;
use serde::{Deserialize, Serialize};

use super::{assert_not_found, key, open, read, sorted_keys, Fixture, FixtureOptions};
use crate::codec::Codec;
use crate::dict::{EntryMeta, Value};
use crate::error::Error;
use crate::key::{sign_part, Key, MAX_PART_LEN};

/// `get`/`put`/`delete`/`discard`/`contains`/`len`/`is_empty`/`get_opt`/`get_with_etag`/
/// `head`/`etag`/`timestamp` on present keys; `put` returns the entry's ETag, and the ETag
/// changes when the content does.
pub async fn get_put<F: Fixture>(f: &F) {
    let d = open::<F, String>(f).await;
    let d = &d;
    assert!(
        d.is_empty().await.expect("is_empty"),
        "a fresh dict is empty"
    );
    assert_eq!(d.len().await.expect("len"), 0);

    let k = key("greeting/en");
    let before = SystemTime::now();
    let e1 = d.put(&k, "hello".to_owned()).await.expect("put");
    let after = SystemTime::now();
    assert_eq!(d.get(&k).await.expect("get"), "hello");
    assert_eq!(
        d.get_opt(&k).await.expect("get_opt").as_deref(),
        Some("hello")
    );
    assert_eq!(read(d, &k).await, Some(("hello".to_owned(), e1.clone())));
    assert_eq!(d.etag(&k).await.expect("etag"), e1, "put returns the ETag");
    assert!(d.contains(&k).await.expect("contains"));
    assert_eq!(d.len().await.expect("len"), 1);
    assert!(!d.is_empty().await.expect("is_empty"));

    let meta = d
        .head(&k)
        .await
        .expect("head")
        .expect("head of a present key");
    assert_eq!(meta.key, k);
    assert_eq!(meta.etag.as_ref(), Some(&e1));
    assert!(meta.size > 0, "a non-empty value has a size");
    // S3 reports modification times truncated to the second.
    let slack = Duration::from_secs(5);
    let t = d.timestamp(&k).await.expect("timestamp");
    assert_eq!(t, meta.last_modified);
    assert!(
        t + slack >= before && t <= after + slack,
        "timestamp {t:?} is not near the time of the put ({before:?}..{after:?})"
    );

    let e2 = d.put(&k, "hello again".to_owned()).await.expect("put");
    assert_ne!(e1, e2, "the ETag changes when the content changes");
    assert_eq!(d.etag(&k).await.expect("etag"), e2);
    assert_eq!(d.get(&k).await.expect("get"), "hello again");
    assert_eq!(d.len().await.expect("len"), 1, "an overwrite adds no entry");

    let k2 = key("greeting/fr");
    d.put(&k2, "bonjour".to_owned()).await.expect("put");
    assert_eq!(d.len().await.expect("len"), 2);
    d.delete(&k).await.expect("delete of a present key");
    assert!(!d.contains(&k).await.expect("contains"));
    assert_eq!(d.get_opt(&k).await.expect("get_opt"), None);
    assert!(
        d.discard(&k2).await.expect("discard"),
        "discard reports a present key"
    );
    assert!(
        !d.discard(&k2).await.expect("discard"),
        "discard reports an absent key"
    );
    assert!(d.is_empty().await.expect("is_empty"));
}

/// Absent keys: `get`, `delete`, `etag` and `timestamp` give [`Error::NotFound`] naming the
/// key; `get_opt`, `head` and `get_with_etag` give `None`; `discard` gives `false`; a prefix
/// of a stored key is not a key.
pub async fn missing_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let k = key("nowhere/to/be/found");
    assert_not_found(d.get(&k).await, &k, "get");
    assert_not_found(d.delete(&k).await, &k, "delete");
    assert_not_found(d.etag(&k).await, &k, "etag");
    assert_not_found(d.timestamp(&k).await, &k, "timestamp");
    assert_eq!(d.get_opt(&k).await.expect("get_opt"), None);
    assert_eq!(d.get_with_etag(&k).await.expect("get_with_etag"), None);
    assert_eq!(d.head(&k).await.expect("head"), None);
    assert!(!d.contains(&k).await.expect("contains"));
    assert!(!d.discard(&k).await.expect("discard"));
    // A prefix of a stored key is not a key.
    d.put(&key("nowhere/to/be/found/really"), 1)
        .await
        .expect("put");
    assert!(!d.contains(&k).await.expect("contains"));
    assert_not_found(d.get(&k).await, &k, "get of a key that is only a prefix");
}

pub(super) fn sample_keys() -> Vec<Key> {
    (0..25)
        .map(|i| match i % 3 {
            0 => key(&format!("single{i}")),
            1 => key(&format!("group{}/item{i}", i % 4)),
            _ => key(&format!("deep/g{}/leaf-{i}.json", i % 2)),
        })
        .collect()
}

/// `keys`, `values`, `items` and `len` over 25 keys of one to three parts; `clear`.
pub async fn keys_values_items<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let expected: BTreeMap<Key, u64> = sample_keys()
        .into_iter()
        .zip((0u64..).map(|i| i * 10 + 7))
        .collect();
    for (k, v) in &expected {
        d.put(k, *v).await.expect("put");
    }
    assert_eq!(d.len().await.expect("len"), expected.len());
    assert!(!d.is_empty().await.expect("is_empty"));
    assert_eq!(
        sorted_keys(d).await,
        expected.keys().cloned().collect::<Vec<_>>(),
        "keys() lists each key once"
    );
    let mut values: Vec<u64> = d.values().try_collect().await.expect("values()");
    values.sort_unstable();
    let mut want: Vec<u64> = expected.values().copied().collect();
    want.sort_unstable();
    assert_eq!(values, want);
    let items: Vec<(Key, u64)> = d.items().try_collect().await.expect("items()");
    assert_eq!(
        items.len(),
        expected.len(),
        "items() yields each entry once"
    );
    assert_eq!(items.into_iter().collect::<BTreeMap<_, _>>(), expected);
    let listed: Vec<EntryMeta> = d.list().try_collect().await.expect("list()");
    assert_eq!(listed.len(), expected.len());
    for m in &listed {
        assert!(
            expected.contains_key(&m.key),
            "list() yielded a stranger {}",
            m.key
        );
        if let Some(e) = &m.etag {
            assert_eq!(&d.etag(&m.key).await.expect("etag"), e, "list() ETag");
        }
    }

    d.clear().await.expect("clear");
    assert!(d.is_empty().await.expect("is_empty"));
    assert_eq!(d.len().await.expect("len"), 0);
    assert!(sorted_keys(d).await.is_empty());
    d.clear().await.expect("clear of an empty dict");
}

/// `get_many` (order kept, `None` where absent), `put_many`, `discard_many`.
pub async fn bulk_operations<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let items: Vec<(Key, u64)> = (0..40u64)
        .map(|i| (key(&format!("bulk/{i:02}")), i * i))
        .collect();
    d.put_many(items.clone()).await.expect("put_many");
    assert_eq!(d.len().await.expect("len"), 40);

    let missing = key("bulk/missing");
    let asked = vec![
        items[30].0.clone(),
        missing.clone(),
        items[3].0.clone(),
        items[17].0.clone(),
        items[3].0.clone(),
    ];
    assert_eq!(
        d.get_many(&asked).await.expect("get_many"),
        vec![Some(900), None, Some(9), Some(289), Some(9)],
        "get_many keeps the order of its keys"
    );
    assert!(d.get_many(&[]).await.expect("get_many").is_empty());

    let doomed: Vec<Key> = items[..10]
        .iter()
        .map(|(k, _)| k.clone())
        .chain([missing.clone(), key("elsewhere")])
        .collect();
    assert_eq!(
        d.discard_many(&doomed).await.expect("discard_many"),
        10,
        "discard_many counts the keys it removed"
    );
    assert_eq!(d.len().await.expect("len"), 30);
    assert_eq!(d.get_opt(&items[0].0).await.expect("get_opt"), None);
    assert_eq!(d.get_opt(&items[10].0).await.expect("get_opt"), Some(100));
}

/// Keys are case-sensitive: `aaAA`, `AAaa` and `aaaa` are three entries.
pub async fn case_sensitive_keys<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let names = ["aaAA", "AAaa", "aaaa", "Dir/x", "dir/x", "DIR/X"];
    for (i, n) in names.iter().enumerate() {
        d.put(&key(n), i as u64).await.expect("put");
    }
    assert_eq!(d.len().await.expect("len"), names.len());
    for (i, n) in names.iter().enumerate() {
        assert_eq!(d.get(&key(n)).await.expect("get"), i as u64, "{n}");
    }
    let mut want: Vec<Key> = names.iter().map(|n| key(n)).collect();
    want.sort();
    assert_eq!(sorted_keys(d).await, want);
    d.delete(&key("aaaa")).await.expect("delete");
    assert_eq!(d.get(&key("aaAA")).await.expect("get"), 0);
    assert_eq!(d.get(&key("AAaa")).await.expect("get"), 1);
}

/// Every allowed character, 200-character parts, parts that look like extensions or
/// signatures, and a part next to its own signed form, all round-trip through `put`/`keys`.
pub async fn key_charset<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    let long = "x".repeat(MAX_PART_LEN);
    let every = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789()_-~.=";
    let parts: Vec<Vec<String>> = vec![
        vec![every.to_owned()],
        vec![long.clone()],
        vec![long.clone(), "L".repeat(MAX_PART_LEN)],
        vec!["a.json".to_owned()],
        vec!["a".to_owned()],
        vec!["a.json".to_owned(), "b.bincode".to_owned()],
        vec!["x_saav".to_owned()],
        vec!["x".to_owned()],
        vec!["x".to_owned(), "x_saav".to_owned()],
        vec![sign_part("abc", 4)],
        vec!["abc".to_owned()],
        vec![
            "...".to_owned(),
            ".hidden".to_owned(),
            "trailing.".to_owned(),
        ],
        vec![
            "~".to_owned(),
            "=".to_owned(),
            "(x)".to_owned(),
            "-".to_owned(),
            "_".to_owned(),
        ],
    ];
    let keys: Vec<Key> = parts
        .into_iter()
        .map(|p| Key::new(p).expect("a valid key"))
        .collect();
    for (i, k) in keys.iter().enumerate() {
        d.put(k, i as u64).await.expect("put");
    }
    assert_eq!(
        d.len().await.expect("len"),
        keys.len(),
        "no two keys collide"
    );
    let mut want = keys.clone();
    want.sort();
    assert_eq!(sorted_keys(d).await, want);
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(d.get(k).await.expect("get"), i as u64, "{k}");
    }
    assert!(Key::new([&*"y".repeat(MAX_PART_LEN + 1)]).is_err());
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Record {
    id: u32,
    name: String,
    tags: Vec<String>,
    score: Option<i64>,
    nested: BTreeMap<String, Vec<u8>>,
}

fn record(i: u32) -> Record {
    Record {
        id: i,
        name: format!("record {i} — ünïcode ✓"),
        tags: vec!["a".into(), "b \"quoted\"".into()],
        score: i.is_multiple_of(2).then_some(-(i as i64)),
        nested: BTreeMap::from([("k".to_owned(), vec![0, 1, 255])]),
    }
}

async fn round_trip<F: Fixture, V>(f: &F, codec: Codec, values: Vec<V>)
where
    V: Value + Clone + PartialEq + Debug,
{
    let d = f.open::<V>(FixtureOptions::codec(codec)).await;
    assert_eq!(
        d.info().codec,
        codec,
        "the fixture ignored the codec option"
    );
    let want: BTreeMap<Key, V> = values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (key(&format!("codec/{i}")), v))
        .collect();
    for (k, v) in &want {
        d.put(k, v.clone()).await.expect("put");
    }
    for (k, v) in &want {
        assert_eq!(
            &d.get(k).await.expect("get"),
            v,
            "{codec} round trip of {k}"
        );
    }
    let items: BTreeMap<Key, V> = d.items().try_collect().await.expect("items()");
    assert_eq!(items, want, "{codec} items()");
}

/// Each codec round-trips its kind of value: bincode and JSON any serde value, text
/// strings, raw bytes.
pub async fn codecs<F: Fixture>(f: &F) {
    round_trip(f, Codec::Bincode, vec![record(1), record(2)]).await;
    round_trip(f, Codec::Json, vec![record(3), record(4)]).await;
    round_trip(f, Codec::Json, vec![u64::MAX, 0]).await;
    round_trip(
        f,
        Codec::Text,
        vec![
            "plain".to_owned(),
            "ünïcode ✓ and\nnew lines\r\n".to_owned(),
            "{\"not\": \"json\"}".to_owned(),
        ],
    )
    .await;
    round_trip(
        f,
        Codec::Raw,
        vec![
            (0..=255u8).collect::<Vec<u8>>(),
            vec![0xff, 0xfe, 0],
            vec![7],
        ],
    )
    .await;
}

/// A value the codec cannot encode is [`Error::Encode`] and stores nothing.
pub async fn encode_errors_store_nothing<F: Fixture>(f: &F) {
    let text = f.open::<u64>(FixtureOptions::codec(Codec::Text)).await;
    let k = key("enc/number");
    match text.put(&k, 42).await {
        Err(Error::Encode { key, codec, .. }) => {
            assert_eq!(key, k);
            assert_eq!(codec, Codec::Text.name());
        }
        other => panic!("the text codec given a number: expected Error::Encode, got {other:?}"),
    }
    assert!(!text.contains(&k).await.expect("contains"));
    assert!(text.is_empty().await.expect("is_empty"));

    let raw = f.open::<String>(FixtureOptions::codec(Codec::Raw)).await;
    let k = key("enc/string");
    assert!(
        matches!(
            raw.put(&k, "text".to_owned()).await,
            Err(Error::Encode { .. })
        ),
        "the raw codec given a string"
    );
    assert!(raw.is_empty().await.expect("is_empty"));
}
