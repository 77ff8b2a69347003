//! Append-only dictionaries: inserts, never overwrites or removals.

use super::capabilities::declared;
use super::{assert_append_only, assert_unsupported, key, read, Fixture, FixtureOptions};
use crate::cond::{Condition, Retrieve, Slot, Write};
use crate::error::Error;

/// An append-only dictionary inserts but never overwrites or removes.
pub async fn append_only<F: Fixture>(f: &F) {
    let d = f.open::<u64>(FixtureOptions::append_only()).await;
    let d = &d;
    assert!(
        d.info().append_only,
        "the fixture ignored append_only = true"
    );
    let k = key("ao/first");
    let caps = declared(f, d).await;
    if !caps.conditional_writes() {
        if !caps.put_if_absent {
            assert_unsupported(d.put(&k, 1).await, "put on an append-only dict");
            assert!(
                !d.contains(&k).await.expect("contains"),
                "a refused put stored"
            );
        }
        return;
    }

    let etag = d.put(&k, 1).await.expect("put inserts");
    let intact = |what: &'static str| {
        let etag = etag.clone();
        let k = k.clone();
        async move {
            assert_eq!(
                read(d, &k).await,
                Some((1, etag)),
                "{what} changed the entry"
            );
        }
    };
    assert_append_only(d.put(&k, 2).await, &k, "put on an existing key");
    intact("put").await;
    assert_append_only(d.delete(&k).await, &k, "delete");
    assert_append_only(d.discard(&k).await, &k, "discard");
    assert_append_only(d.pop(&k).await, &k, "pop");
    assert_append_only(
        d.discard_if(&k, Condition::Same, Some(&etag)).await,
        &k,
        "discard_if",
    );
    assert!(
        matches!(d.clear().await, Err(Error::AppendOnly { .. })),
        "clear"
    );
    intact("removals").await;

    for (c, e) in [
        (Condition::Any, None),
        (Condition::Same, Some(&etag)),
        (Condition::Changed, None),
    ] {
        assert_append_only(
            d.put_if(&k, Write::Value(2), c, e, Retrieve::Never).await,
            &k,
            "put_if(Value) whose condition holds on an existing key",
        );
    }
    assert_append_only(
        d.put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await,
        &k,
        "put_if(DeleteCurrent)",
    );
    intact("overwrites").await;

    let out = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            None,
            Retrieve::IfChanged,
        )
        .await
        .expect("put_if(Same, None) on an existing key is an outcome");
    assert!(!out.satisfied && !out.mutated());
    assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    assert_eq!(out.value, Slot::Present(1));
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await
        .expect("put_if(KeepCurrent)");
    assert!(out.satisfied && !out.mutated());
    intact("KeepCurrent").await;

    let k2 = key("ao/second");
    let out = d
        .put_if(&k2, Write::Value(5), Condition::Same, None, Retrieve::Never)
        .await
        .expect("put_if(Same, None) inserts");
    assert!(out.satisfied && out.mutated());
    let out = d
        .put_if(&k2, Write::Value(6), Condition::Same, None, Retrieve::Never)
        .await
        .expect("put_if(Same, None) again");
    assert!(!out.satisfied && !out.mutated());
    assert_eq!(d.get(&k2).await.expect("get"), 5);

    let k3 = key("ao/third");
    assert_eq!(d.setdefault(&k3, 7).await.expect("setdefault inserts"), 7);
    assert_eq!(d.setdefault(&k3, 8).await.expect("setdefault"), 7);

    let k4 = key("ao/fourth");
    let t = d
        .transform(&k4, |n| Write::Value(n.unwrap_or(0) + 1))
        .await
        .expect("transform creates");
    assert_eq!(t.value, Some(1));
    assert_append_only(
        d.transform(&k4, |n| Write::Value(n.unwrap_or(0) + 1)).await,
        &k4,
        "transform of an existing key",
    );
    assert_eq!(
        d.get_many(&[k.clone(), k2, k3, k4])
            .await
            .expect("get_many"),
        vec![Some(1), Some(5), Some(7), Some(1)]
    );
    assert_eq!(d.len().await.expect("len"), 4);
}

/// The part of [`append_only`] that holds for every dictionary that never removes, whatever
/// it does with a second write of a key: inserts, removals refused with
/// [`Error::AppendOnly`], refused inserts reported as outcomes, `KeepCurrent`,
/// `setdefault`, a `transform` that creates. A write-once dictionary
/// ([`WriteOnceDict`](crate::WriteOnceDict)), which accepts a repeated write of the same
/// value and refuses a different one with its own error, passes this and not
/// [`append_only`]. Not part of [`contract_tests!`](crate::contract_tests): it is implied
/// by [`append_only`].
pub async fn append_only_removals<F: Fixture>(f: &F) {
    let d = f.open::<u64>(FixtureOptions::append_only()).await;
    let d = &d;
    assert!(
        d.info().append_only,
        "the fixture ignored append_only = true"
    );
    let k = key("aor/first");
    let caps = declared(f, d).await;
    if !caps.put_if_absent {
        assert_unsupported(d.put(&k, 1).await, "put on an append-only dict");
        assert!(
            !d.contains(&k).await.expect("contains"),
            "a refused put stored"
        );
        return;
    }

    let etag = d.put(&k, 1).await.expect("put inserts");
    assert_append_only(d.delete(&k).await, &k, "delete");
    assert_append_only(d.discard(&k).await, &k, "discard");
    assert_append_only(d.pop(&k).await, &k, "pop");
    assert_append_only(
        d.discard_if(&k, Condition::Same, Some(&etag)).await,
        &k,
        "discard_if",
    );
    assert_append_only(
        d.put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await,
        &k,
        "put_if(DeleteCurrent)",
    );
    assert_append_only(d.popitem().await, &k, "popitem");
    assert!(
        matches!(d.clear().await, Err(Error::AppendOnly { .. })),
        "clear"
    );
    assert!(
        matches!(
            d.delete_many(std::slice::from_ref(&k)).await,
            Err(Error::AppendOnly { .. })
        ),
        "delete_many"
    );
    assert_eq!(
        read(d, &k).await,
        Some((1, etag.clone())),
        "removals changed the entry"
    );

    let out = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            None,
            Retrieve::IfChanged,
        )
        .await
        .expect("put_if(Same, None) on an existing key is an outcome");
    assert!(!out.satisfied && !out.mutated());
    assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    assert_eq!(out.value, Slot::Present(1));
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Never,
        )
        .await
        .expect("put_if(KeepCurrent)");
    assert!(out.satisfied && !out.mutated());
    assert!(!d.insert(&k, 3).await.expect("insert of an existing key"));
    assert_eq!(
        read(d, &k).await,
        Some((1, etag)),
        "refused inserts changed the entry"
    );

    let k2 = key("aor/second");
    assert!(d.insert(&k2, 5).await.expect("insert"));
    let k3 = key("aor/third");
    assert_eq!(d.setdefault(&k3, 7).await.expect("setdefault inserts"), 7);
    assert_eq!(d.setdefault(&k3, 8).await.expect("setdefault"), 7);
    let k4 = key("aor/fourth");
    let t = d
        .transform(&k4, |n| Write::Value(n.unwrap_or(0) + 1))
        .await
        .expect("transform creates");
    assert_eq!(t.value, Some(1));
    assert_eq!(
        d.get_many(&[k, k2, k3, k4]).await.expect("get_many"),
        vec![Some(1), Some(5), Some(7), Some(1)]
    );
    assert_eq!(d.len().await.expect("len"), 4);
}
