//! Items with timestamps, values by age and `popitem` on every backend; `popitem` raced by
//! several tasks returns every entry exactly once.

#[path = "common/backends.rs"]
mod backends;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::DictOptions;

fn key(path: &str) -> Key {
    path.parse().expect("a valid key")
}

/// Three entries written more than a second apart (S3 reports times to the second).
async fn values_by_age(backend: &'static str) {
    let Some(b) = backends::open::<String>(backend, "ordering").await else {
        return;
    };
    let d = &b.dict;
    for (i, name) in ["first", "second", "third"].into_iter().enumerate() {
        if i > 0 {
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        d.put(&key(&format!("age/{name}")), name.to_owned())
            .await
            .expect("put");
    }
    assert_eq!(
        d.oldest_values(2).await.expect("oldest"),
        ["first", "second"],
        "{backend}"
    );
    assert_eq!(
        d.newest_values(2).await.expect("newest"),
        ["third", "second"],
        "{backend}"
    );
    assert_eq!(d.oldest_values(10).await.expect("oldest").len(), 3);
    assert!(d.newest_values(0).await.expect("newest").is_empty());

    let mut items: Vec<(Key, String, std::time::SystemTime)> = d
        .items_with_timestamps()
        .try_collect()
        .await
        .expect("items with timestamps");
    items.sort_by_key(|(_, _, t)| *t);
    let names: Vec<&str> = items.iter().map(|(_, v, _)| v.as_str()).collect();
    assert_eq!(names, ["first", "second", "third"], "{backend}");
    for (k, v, t) in &items {
        assert_eq!(k, &key(&format!("age/{v}")));
        assert_eq!(
            d.timestamp(k).await.expect("timestamp"),
            *t,
            "{backend}: {k}"
        );
        let (value, at) = d
            .get_with_timestamp(k)
            .await
            .expect("get")
            .expect("present");
        assert_eq!((&value, at), (v, *t));
    }
    assert_eq!(
        d.get_with_timestamp(&key("age/none"))
            .await
            .expect("absent"),
        None
    );
}

/// `popitem` takes every entry once, then reports `None`.
async fn popitem_drains(backend: &'static str) {
    let Some(b) = backends::open::<u64>(backend, "popitem").await else {
        return;
    };
    let d = &b.dict;
    assert_eq!(d.popitem().await.expect("popitem on empty"), None);
    let mut want = BTreeMap::new();
    for i in 0..5u64 {
        let k = key(&format!("p/{i}"));
        d.put(&k, i * 10).await.expect("put");
        want.insert(k, i * 10);
    }
    let mut got = BTreeMap::new();
    while let Some((k, v)) = d.popitem().await.expect("popitem") {
        assert!(got.insert(k, v).is_none(), "{backend}: popped twice");
    }
    assert_eq!(got, want, "{backend}");
    assert!(d.is_empty().await.expect("is_empty"));
}

/// Several tasks race `popitem` on one dictionary: every entry comes out exactly once.
async fn popitem_race(backend: &'static str) {
    let Some(b) = backends::open::<u64>(backend, "popitem-race").await else {
        return;
    };
    let n = 60u64;
    let items: Vec<(Key, u64)> = (0..n).map(|i| (key(&format!("race/{i:03}")), i)).collect();
    b.dict.put_many(items).await.expect("put_many");
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let d = b.dict.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while let Some(entry) = d.popitem().await.expect("a racing popitem") {
                    mine.push(entry);
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<u64> = Vec::new();
    for t in tasks {
        for (k, v) in t.await.expect("the task") {
            assert_eq!(
                k,
                key(&format!("race/{v:03}")),
                "{backend}: key and value belong together"
            );
            all.push(v);
        }
    }
    all.sort_unstable();
    assert_eq!(
        all,
        (0..n).collect::<Vec<_>>(),
        "{backend}: every entry exactly once"
    );
    assert!(b.dict.is_empty().await.expect("is_empty"));
}

/// An append-only dictionary refuses `popitem` and keeps its entries.
async fn popitem_append_only(backend: &'static str) {
    let options = DictOptions {
        append_only: true,
        ..DictOptions::default()
    };
    let Some(b) = backends::open_with::<u64>(backend, "popitem-ao", options).await else {
        return;
    };
    assert_eq!(b.dict.popitem().await.expect("empty"), None);
    let k = key("ao/k");
    b.dict.put(&k, 1).await.expect("put");
    match b.dict.popitem().await {
        Err(Error::AppendOnly { key, operation }) => {
            assert_eq!((key.as_str(), operation), ("ao/k", "popitem"))
        }
        other => panic!("{backend}: {other:?}"),
    }
    assert_eq!(b.dict.get(&k).await.expect("kept"), 1);
}

macro_rules! ordering_tests {
    ($($backend:ident),*) => {$(
        mod $backend {
            const B: &str = stringify!($backend);

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn values_by_age() {
                super::values_by_age(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn popitem_drains() {
                super::popitem_drains(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 6)]
            async fn popitem_race() {
                super::popitem_race(B).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn popitem_append_only() {
                super::popitem_append_only(B).await;
            }
        }
    )*};
}

ordering_tests!(memory, file, seaweedfs, moto);

/// rclone ignores conditional deletes, so `popitem` (whose atomicity rests on
/// `DELETE If-Match`) is refused there; listings and timestamps work.
mod rclone {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn values_by_age() {
        super::values_by_age("rclone").await;
    }

    #[tokio::test]
    async fn popitem_is_unsupported() {
        let Some(b) = backends::open::<u64>("rclone", "popitem-rclone").await else {
            return;
        };
        let k = key("r/k");
        b.dict.put(&k, 1).await.expect("put");
        assert!(b
            .dict
            .popitem()
            .await
            .expect_err("unsupported")
            .is_unsupported());
        assert_eq!(b.dict.get(&k).await.expect("kept"), 1);
    }
}
