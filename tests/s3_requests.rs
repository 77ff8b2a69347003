//! Requests per operation on servers that enforce conditional requests: the minimums of
//! the design table, counted by the client's request counter.

mod common;

use persidict::prelude::*;
use persidict::s3::{RequestKind, StatsSnapshot};
use persidict::S3Dict;

use RequestKind::{Delete, DeleteObjects, Get, Head, List, Put};

/// Runs `op` and returns the requests it sent.
async fn count<F: std::future::Future<Output = T>, T>(
    d: &S3Dict<u64>,
    op: F,
) -> (T, StatsSnapshot) {
    let before = d.stats().snapshot();
    let out = op.await;
    (out, d.stats().snapshot().since(&before))
}

fn expect(what: &str, got: StatsSnapshot, want: &[(RequestKind, u64)]) {
    let total: u64 = want.iter().map(|(_, n)| n).sum();
    for (kind, n) in want {
        assert_eq!(got.get(*kind), *n, "{what}: {kind} requests (all: {got})");
    }
    assert_eq!(got.total(), total, "{what}: total requests (all: {got})");
    println!("{what:<44} {got}");
}

/// A clear of 1000–2000 keys whose listing goes by ranges: 2 DeleteObjects, and the
/// LISTs of the listing, or one fewer: the first page's 1000 keys are deleted while the
/// listing goes on, and when that lands before the range that lists them again starts,
/// that range has a page less to read.
fn expect_clear(what: &str, got: StatsSnapshot, lists: u64) {
    let listed = got.get(List);
    assert!(
        listed == lists || listed == lists - 1,
        "{what}: {lists} or {} LIST requests (all: {got})",
        lists - 1
    );
    expect(what, got, &[(List, listed), (DeleteObjects, 2)]);
}

async fn single_key_table(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "requests").await;
    let caps = d.capabilities().await.unwrap();
    assert!(
        caps.conditional_writes(),
        "{server} should enforce conditional writes"
    );
    let k = Key::try_from("k").unwrap();
    let missing = Key::try_from("missing").unwrap();

    let (e1, n) = count(&d, d.put(&k, 1)).await;
    let e1 = e1.unwrap();
    expect("put", n, &[(Put, 1)]);
    let body = Codec::Bincode.encode(&1u64).unwrap().len() as u64;
    assert_eq!(
        (n.bytes_sent(), n.bytes_received()),
        (body, 0),
        "put: body bytes sent and received ({n})"
    );
    let (_, n) = count(&d, d.get(&k)).await;
    expect("get", n, &[(Get, 1)]);
    assert_eq!(
        (n.bytes_sent(), n.bytes_received()),
        (0, body),
        "get: body bytes sent and received ({n})"
    );
    let (_, n) = count(&d, d.contains(&k)).await;
    expect("contains", n, &[(Head, 1)]);
    assert_eq!(
        (n.bytes_sent(), n.bytes_received()),
        (0, 0),
        "contains: a HEAD has no body ({n})"
    );
    let (_, n) = count(&d, d.etag(&k)).await;
    expect("etag", n, &[(Head, 1)]);
    let (_, n) = count(&d, d.timestamp(&k)).await;
    expect("timestamp", n, &[(Head, 1)]);

    let (o, n) = count(
        &d,
        d.get_if(&k, Condition::Same, Some(&e1), Retrieve::IfChanged),
    )
    .await;
    let o = o.unwrap();
    assert!(o.satisfied && !o.value.is_present());
    expect("get_if(Same, Some(current), IfChanged) hit", n, &[(Get, 1)]);
    let stale = ETag::from("\"0123456789abcdef0123456789abcdef\"");
    let (o, n) = count(
        &d,
        d.get_if(&k, Condition::Same, Some(&stale), Retrieve::IfChanged),
    )
    .await;
    assert_eq!(o.unwrap().value, Slot::Present(1));
    expect("get_if(Same, Some(stale), IfChanged) miss", n, &[(Get, 1)]);
    let (_, n) = count(&d, d.get_if(&k, Condition::Any, None, Retrieve::Never)).await;
    expect("get_if(_, _, Never)", n, &[(Head, 1)]);

    let (o, n) = count(
        &d,
        d.put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            Some(&e1),
            Retrieve::Never,
        ),
    )
    .await;
    let o = o.unwrap();
    assert!(o.satisfied);
    expect("put_if(Same, Some(e), Value)", n, &[(Put, 1)]);
    let e2 = o.resulting_etag.unwrap();
    let (o, n) = count(
        &d,
        d.put_if(
            &k,
            Write::Value(3),
            Condition::Same,
            Some(&e1),
            Retrieve::Never,
        ),
    )
    .await;
    assert!(!o.unwrap().satisfied);
    expect(
        "put_if(Same, Some(stale), Value) refused",
        n,
        &[(Put, 1), (Head, 1)],
    );

    let k2 = Key::try_from("k2").unwrap();
    let (o, n) = count(
        &d,
        d.put_if(&k2, Write::Value(1), Condition::Same, None, Retrieve::Never),
    )
    .await;
    assert!(o.unwrap().satisfied);
    expect("put_if(Same, None, Value)", n, &[(Put, 1)]);

    let (o, n) = count(
        &d,
        d.put_if(
            &k,
            Write::Value(4),
            Condition::Changed,
            Some(&e1),
            Retrieve::Never,
        ),
    )
    .await;
    assert!(o.unwrap().satisfied);
    expect("put_if(Changed, Some(e), Value)", n, &[(Head, 1), (Put, 1)]);
    let (o, n) = count(
        &d,
        d.put_if(&k, Write::Value(5), Condition::Any, None, Retrieve::Never),
    )
    .await;
    assert!(o.unwrap().satisfied);
    expect("put_if(Any, _, Value)", n, &[(Head, 1), (Put, 1)]);
    let _ = e2;

    let k3 = Key::try_from("k3").unwrap();
    let (v, n) = count(&d, d.setdefault(&k3, 7)).await;
    assert_eq!(v.unwrap(), 7);
    expect("setdefault (absent)", n, &[(Put, 1)]);
    let (v, n) = count(&d, d.setdefault(&k3, 8)).await;
    assert_eq!(v.unwrap(), 7);
    expect("setdefault (present)", n, &[(Put, 1), (Get, 1)]);

    let e3 = d.etag(&k3).await.unwrap();
    let (o, n) = count(&d, d.discard_if(&k3, Condition::Same, Some(&e3))).await;
    assert!(o.unwrap().satisfied);
    expect("discard_if(Same, Some(e))", n, &[(Delete, 1)]);

    // One DELETE If-Match: * where the server supports it (AWS, SeaweedFS); moto compares
    // the asterisk literally, so there it is HEAD + DELETE If-Match: <etag>.
    let (r, n) = count(&d, d.delete(&k2)).await;
    r.unwrap();
    if caps.delete_if_exists {
        expect("delete (present)", n, &[(Delete, 1)]);
    } else {
        expect(
            "delete (present), no If-Match: *",
            n,
            &[(Head, 1), (Delete, 1)],
        );
    }
    let (r, n) = count(&d, d.discard(&missing)).await;
    assert!(!r.unwrap());
    if caps.delete_if_exists {
        expect("discard (absent)", n, &[(Delete, 1)]);
    } else {
        expect("discard (absent), no If-Match: *", n, &[(Head, 1)]);
    }
    let (r, n) = count(&d, d.get_opt(&missing)).await;
    assert_eq!(r.unwrap(), None);
    expect("get (absent)", n, &[(Get, 1)]);

    let log: S3Dict<u64> = common::builder(&s, "requests-log")
        .append_only(true)
        .build()
        .await
        .unwrap();
    log.capabilities().await.unwrap();
    let (r, n) = count(&log, log.put(&k, 1)).await;
    r.unwrap();
    expect("put on an append-only dict", n, &[(Put, 1)]);
    d.clear().await.unwrap();
}

#[tokio::test]
async fn single_key_requests_seaweedfs() {
    single_key_table("seaweedfs").await;
}

#[tokio::test]
async fn single_key_requests_moto() {
    single_key_table("moto").await;
}

/// LIST pages of 1000 and DeleteObjects batches of up to 1000. Every key is below one
/// first-level directory (`k/`): a listing is 1 LIST with `delimiter=/`, which finds it,
/// then ⌈1100/1000⌉ LIST over its one key range.
/// LISTs of 1100 keys below one directory `k/`: a plain first page (1000 keys); more
/// follow, so 1 page with `delimiter=/` after it (naming `k/`); then the range of `k/`
/// from its start, 2 pages (the first page's keys are listed again and left out: servers
/// do not all list in byte order, so the first page bounds nothing).
const LIST_1100: u64 = 1 + 1 + 2;

#[tokio::test]
async fn bulk_requests_seaweedfs() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "bulk").await;
    d.capabilities().await.unwrap();
    let n = 1100u64;
    let items: Vec<(Key, u64)> = (0..n)
        .map(|i| (Key::new(["k", &format!("{i:05}")]).unwrap(), i))
        .collect();
    let (r, c) = count(&d, d.put_many(items)).await;
    r.unwrap();
    expect("put_many(1100)", c, &[(Put, n)]);
    let (len, c) = count(&d, d.len()).await;
    assert_eq!(len.unwrap(), n as usize);
    expect("len(1100)", c, &[(List, LIST_1100)]);
    let (keys, c) = count(&d, d.keys().try_collect::<Vec<_>>()).await;
    assert_eq!(keys.unwrap().len(), n as usize);
    expect("keys(1100)", c, &[(List, LIST_1100)]);
    let (vals, c) = count(&d, d.values().try_collect::<Vec<_>>()).await;
    let mut vals = vals.unwrap();
    vals.sort();
    assert_eq!(vals, (0..n).collect::<Vec<_>>());
    expect("values(1100)", c, &[(List, LIST_1100), (Get, n)]);
    let all: Vec<Key> = (0..n)
        .map(|i| Key::new(["k", &format!("{i:05}")]).unwrap())
        .collect();
    let (got, c) = count(&d, d.get_many(&all)).await;
    assert_eq!(
        got.unwrap(),
        (0..n).map(Some).collect::<Vec<_>>(),
        "get_many keeps the order of its keys"
    );
    expect("get_many(1100)", c, &[(Get, n)]);
    let (r, c) = count(&d, d.clear()).await;
    r.unwrap();
    expect_clear("clear(1100)", c, LIST_1100);
    assert_eq!(d.len().await.unwrap(), 0);

    // delete_many: DeleteObjects batches of 1000, absent keys included, nothing else.
    let items: Vec<(Key, u64)> = all.iter().take(1050).map(|k| (k.clone(), 1)).collect();
    d.put_many(items).await.unwrap();
    let (r, c) = count(&d, d.delete_many(&all)).await;
    r.unwrap();
    expect("delete_many(1100, 1050 present)", c, &[(DeleteObjects, 2)]);
    assert!(
        c.bytes_sent() > 1100 * 10,
        "delete_many sends the names ({c})"
    );
    assert_eq!(d.len().await.unwrap(), 0, "delete_many removed every key");
    let (r, c) = count(&d, d.delete_many(&[])).await;
    r.unwrap();
    expect("delete_many(0)", c, &[]);
}

/// Keys below several first-level directories (one of them over a page) and flat keys:
/// `len`, `keys`, `values` and `clear` list with 1 LIST `delimiter=/` (the flat keys and
/// the 3 directories), then one key range per directory at once: 2 pages for the one of
/// 1100 keys, 1 for each other.
async fn hierarchical_listing_table(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "hierarchical").await;
    d.capabilities().await.unwrap();
    let mut items: Vec<(Key, u64)> = (0..1100u64)
        .map(|i| (Key::new(["a", &format!("{i:05}")]).unwrap(), i))
        .collect();
    for dir in ["b", "c"] {
        items.extend((0..5u64).map(|i| (Key::new([dir, &i.to_string()]).unwrap(), i)));
    }
    items.push((Key::try_from("top").unwrap(), 7));
    items.push((Key::try_from("a").unwrap(), 8));
    let n = items.len() as u64;
    let mut want: Vec<Key> = items.iter().map(|(k, _)| k.clone()).collect();
    want.sort();
    let mut want_values: Vec<u64> = items.iter().map(|(_, v)| *v).collect();
    want_values.sort();
    d.put_many(items).await.unwrap();

    // The first page, the delimiter page after it, then ranges [a/, b/) (2 pages: the
    // 1100 keys of a/ from the start), [b/, c/) and [c/, end).
    let lists = 1 + 1 + 2 + 1 + 1;
    let (len, c) = count(&d, d.len()).await;
    assert_eq!(len.unwrap(), n as usize);
    expect("len(1112, 3 directories)", c, &[(List, lists)]);
    let (keys, c) = count(&d, d.keys().try_collect::<Vec<_>>()).await;
    let mut keys = keys.unwrap();
    keys.sort();
    assert_eq!(keys, want, "every key once");
    expect("keys(1112, 3 directories)", c, &[(List, lists)]);
    let (vals, c) = count(&d, d.values().try_collect::<Vec<_>>()).await;
    let mut vals = vals.unwrap();
    vals.sort();
    assert_eq!(vals, want_values);
    expect("values(1112, 3 directories)", c, &[(List, lists), (Get, n)]);
    let (r, c) = count(&d, d.clear()).await;
    r.unwrap();
    expect_clear("clear(1112, 3 directories)", c, lists);
    assert!(d.is_empty().await.unwrap());
}

#[tokio::test]
async fn hierarchical_listing_requests_seaweedfs() {
    hierarchical_listing_table("seaweedfs").await;
}

#[tokio::test]
async fn hierarchical_listing_requests_moto() {
    hierarchical_listing_table("moto").await;
}

/// `concurrency` is a builder setting that reaches the trait's hint, and bulk operations
/// work with a single request in flight.
#[tokio::test]
async fn concurrency_setting_seaweedfs() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::builder(&s, "concurrency")
        .concurrency(1)
        .build()
        .await
        .unwrap();
    assert_eq!(d.concurrency(), 1);
    let items: Vec<(Key, u64)> = (0..20u64)
        .map(|i| (Key::new(["c", &i.to_string()]).unwrap(), i))
        .collect();
    d.put_many(items).await.unwrap();
    let mut vals: Vec<u64> = d.values().try_collect().await.unwrap();
    vals.sort();
    assert_eq!(vals, (0..20).collect::<Vec<_>>());
    d.clear().await.unwrap();
    assert!(d.is_empty().await.unwrap());
    let url = format!(
        "s3://{}/{}?endpoint={}&concurrency=7",
        common::BUCKET,
        common::fresh_prefix("concurrency-url"),
        s.url
    );
    let from_url: S3Dict<u64> = persidict::S3DictBuilder::from_url(&url)
        .unwrap()
        .build()
        .await
        .unwrap();
    assert_eq!(from_url.concurrency(), 7);
    for bad in ["0", "x", ""] {
        assert!(
            persidict::S3DictBuilder::from_url(&format!("s3://b?concurrency={bad}")).is_err(),
            "concurrency={bad:?} must be refused"
        );
    }
}

/// `delete_many` and `clear` on an append-only dictionary are refused before anything is
/// sent; an empty `delete_many` is fine.
#[tokio::test]
async fn bulk_append_only_seaweedfs() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<u64> = common::builder(&s, "bulk-log")
        .append_only(true)
        .build()
        .await
        .unwrap();
    let k = Key::try_from("k").unwrap();
    d.put(&k, 1).await.unwrap();
    let (r, c) = count(&d, d.delete_many(std::slice::from_ref(&k))).await;
    assert!(
        matches!(r, Err(persidict::Error::AppendOnly { .. })),
        "{r:?}"
    );
    expect("delete_many on an append-only dict", c, &[]);
    d.delete_many(&[]).await.unwrap();
    assert!(matches!(
        d.clear().await,
        Err(persidict::Error::AppendOnly { .. })
    ));
    assert_eq!(d.get(&k).await.unwrap(), 1, "nothing was removed");
}

use futures::TryStreamExt;

/// `discard_many_if` of `n` keys, each with the ETag read before: the ones changed since
/// stay. `batched`: the server honours DeleteObjects' per-object ETags (SeaweedFS), so it
/// sends ⌈n/1000⌉ DeleteObjects; else (moto) one DELETE `If-Match` per key.
async fn discard_many_if_requests(server: &str, batched: bool) {
    let Some(s) = common::server(server) else {
        return;
    };
    let d: S3Dict<u64> = common::open(&s, "discard-many-if").await;
    let caps = d.capabilities().await.unwrap();
    assert_eq!(caps.delete_many_if_match, batched, "{caps:?}");
    let n = if batched { 1100u64 } else { 60 };
    let keys: Vec<Key> = (0..n)
        .map(|i| Key::new(["k", &format!("{i:05}")]).unwrap())
        .collect();
    d.put_many(keys.iter().map(|k| (k.clone(), 1)).collect())
        .await
        .unwrap();
    let mut asked: Vec<(Key, persidict::ETag)> = Vec::new();
    for k in &keys {
        asked.push((k.clone(), d.etag(k).await.unwrap()));
    }
    // Every tenth key changes after its ETag was read.
    for k in keys.iter().step_by(10) {
        d.put(k, 2).await.unwrap();
    }
    let (r, c) = count(&d, d.discard_many_if(&asked)).await;
    let deleted = r.unwrap();
    assert_eq!(
        deleted,
        (0..n).map(|i| i % 10 != 0).collect::<Vec<_>>(),
        "one outcome per key, in order"
    );
    if batched {
        expect("discard_many_if(1100), batched", c, &[(DeleteObjects, 2)]);
    } else {
        expect("discard_many_if(60), per key", c, &[(Delete, n)]);
    }
    assert_eq!(d.len().await.unwrap(), n.div_ceil(10) as usize);
    d.clear().await.unwrap();
}

#[tokio::test]
async fn discard_many_if_requests_seaweedfs() {
    discard_many_if_requests("seaweedfs", true).await;
}

#[tokio::test]
async fn discard_many_if_requests_moto() {
    discard_many_if_requests("moto", false).await;
}
