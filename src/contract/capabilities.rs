//! What the fixture declares against what the backend reports and does.

use super::{assert_unsupported, key, open, read, Fixture};
use crate::cond::{Condition, ETag, Retrieve, Slot, Write};
use crate::dict::PersiDict;
use crate::store::{Capabilities, DeleteCondition, DeleteResult, Read, ReadOptions};

/// The capabilities the fixture declares, after checking that the backend's
/// `capabilities()` report every one of them.
pub(super) async fn declared<F: Fixture, V: crate::dict::Value>(
    f: &F,
    d: &PersiDict<V>,
) -> Capabilities {
    let want = f.enforces();
    let reported = d
        .capabilities()
        .await
        .expect("capabilities() of a working backend");
    let checks = [
        ("put_if_absent", want.put_if_absent, reported.put_if_absent),
        ("put_if_match", want.put_if_match, reported.put_if_match),
        (
            "delete_if_match",
            want.delete_if_match,
            reported.delete_if_match,
        ),
        (
            "get_if_none_match",
            want.get_if_none_match,
            reported.get_if_none_match,
        ),
        (
            "delete_if_exists",
            want.delete_if_exists,
            reported.delete_if_exists,
        ),
        (
            "delete_many_if_match",
            want.delete_many_if_match,
            reported.delete_many_if_match,
        ),
        (
            "copy_if_absent",
            want.copy_if_absent,
            reported.copy_if_absent,
        ),
        ("copy_if_match", want.copy_if_match, reported.copy_if_match),
        (
            "copy_source_if_match",
            want.copy_source_if_match,
            reported.copy_source_if_match,
        ),
    ];
    for (name, wanted, has) in checks {
        assert!(
            has || !wanted,
            "the fixture declares that the backend enforces {name}, but its \
             capabilities() report {reported:?}"
        );
    }
    want
}

/// Whether the fixture declares that `d` enforces conditional writes. When it does not,
/// checks that each conditional write whose request the fixture declares unenforced fails
/// with [`Error::Unsupported`](crate::Error::Unsupported) and leaves the entry as it was;
/// the caller then stops. When it does, the backend must report them too, and the caller's
/// operations fail on any `Unsupported`.
pub(super) async fn enforces_conditional_writes<F: Fixture>(f: &F, d: &PersiDict<u64>) -> bool {
    let caps = declared(f, d).await;
    if caps.conditional_writes() {
        return true;
    }
    let k = key("unsupported-probe");
    let etag = d
        .put(&k, 1)
        .await
        .expect("plain put works on every backend");
    let wrong = ETag::new("\"wrong-etag\"");
    if !caps.put_if_match {
        assert_unsupported(
            d.put_if(
                &k,
                Write::Value(2),
                Condition::Same,
                Some(&wrong),
                Retrieve::Never,
            )
            .await,
            "put_if(Same, Some(etag))",
        );
        assert_unsupported(
            d.transform(&k, |n| Write::Value(n.unwrap_or(0) + 1)).await,
            "transform",
        );
        assert_unsupported(
            d.compare_and_swap(&k, Some(&wrong), Some(2)).await,
            "compare_and_swap(Some(etag))",
        );
    }
    if !caps.put_if_absent {
        assert_unsupported(
            d.put_if(&k, Write::Value(2), Condition::Same, None, Retrieve::Never)
                .await,
            "put_if(Same, None)",
        );
        assert_unsupported(
            d.setdefault_if(&k, 2, Condition::Same, None, Retrieve::Never)
                .await,
            "setdefault_if(Same, None)",
        );
        assert_unsupported(d.setdefault(&k, 2).await, "setdefault");
        assert_unsupported(d.insert(&k, 2).await, "insert");
    }
    if !caps.delete_if_match {
        assert_unsupported(
            d.discard_if(&k, Condition::Same, Some(&wrong)).await,
            "discard_if(Same, Some(etag))",
        );
        assert_unsupported(d.pop(&k).await, "pop");
        assert_unsupported(d.delete_if(&k, &wrong).await, "delete_if");
        assert_unsupported(
            d.discard_many_if(&[(k.clone(), wrong.clone())]).await,
            "discard_many_if",
        );
    }
    assert_eq!(
        read(d, &k).await,
        Some((1, etag)),
        "a refused conditional write changed the entry"
    );
    d.delete(&k)
        .await
        .expect("plain delete works on every backend");
    false
}

/// The backend's `capabilities()` report every capability the fixture declares, and one
/// operation per capability behaves accordingly: enforced where declared, answered
/// [`Error::Unsupported`](crate::Error::Unsupported) where the fixture declares it is not
/// (insert-if-absent, compare-and-swap, compare-and-delete). Revalidating reads
/// (`get_if_none_match`) and `DELETE If-Match: *` (`delete_if_exists`) are checked where
/// declared; without them a store may answer reads whole and deletes with HEAD + DELETE.
pub async fn declared_capabilities<F: Fixture>(f: &F) {
    let d = &open::<F, u64>(f).await;
    let caps = declared(f, d).await;
    let k = key("caps/present");
    let fresh = key("caps/fresh");
    let mut etag = d.put(&k, 1).await.expect("plain put");
    let wrong = ETag::new("\"wrong-etag\"");

    if caps.put_if_absent {
        assert!(
            !d.insert(&k, 2).await.expect("insert on a present key"),
            "insert-if-absent overwrote a present key"
        );
        assert!(
            d.insert(&fresh, 3).await.expect("insert on an absent key"),
            "insert-if-absent refused an absent key"
        );
        assert_eq!(d.get(&fresh).await.expect("get"), 3);
        assert!(d.discard(&fresh).await.expect("discard"));
    } else {
        assert_unsupported(d.insert(&fresh, 3).await, "insert");
        assert!(!d.contains(&fresh).await.expect("contains"));
    }
    assert_eq!(read(d, &k).await, Some((1, etag.clone())));

    if caps.put_if_match {
        let refused = d
            .compare_and_swap(&k, Some(&wrong), Some(4))
            .await
            .expect("compare_and_swap with a wrong ETag")
            .expect_err("compare-and-swap with a wrong ETag swapped");
        assert_eq!(refused.current, Some(1));
        assert_eq!(refused.etag.as_ref(), Some(&etag));
        let swapped = d
            .compare_and_swap(&k, Some(&etag), Some(5))
            .await
            .expect("compare_and_swap with the current ETag")
            .unwrap_or_else(|c| panic!("compare-and-swap with the current ETag refused: {c:?}"))
            .expect("a swap to a value has an ETag");
        assert_ne!(swapped, etag, "the ETag changes when the content changes");
        assert_eq!(read(d, &k).await, Some((5, swapped.clone())));
        etag = swapped;
    } else {
        assert_unsupported(
            d.compare_and_swap(&k, Some(&etag), Some(5)).await,
            "compare_and_swap",
        );
    }
    let value = d.get(&k).await.expect("get");

    let name = d.object_name(&k).expect("object_name");
    let revalidated = d
        .store()
        .read(
            &name,
            ReadOptions {
                if_none_match: Some(etag.clone()),
                max_size: None,
            },
        )
        .await;
    if caps.get_if_none_match {
        match revalidated.expect("a read with If-None-Match") {
            Read::NotModified { etag: e } => assert_eq!(e, etag, "NotModified names the ETag"),
            other => panic!("a read with the current ETag as If-None-Match gave {other:?}"),
        }
    }
    // Whether the store revalidates or not, the dictionary reports the right thing.
    let out = d
        .get_if(&k, Condition::Any, Some(&etag), Retrieve::IfChanged)
        .await;
    if caps.get_if_none_match {
        let out = out.expect("get_if(IfChanged)");
        assert_eq!(out.value, Slot::NotRetrieved);
        assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    }

    if caps.delete_if_exists {
        let absent = d.object_name(&fresh).expect("object_name");
        assert_eq!(
            d.store()
                .delete(&absent, DeleteCondition::IfExists)
                .await
                .expect("DELETE If-Match: * of an absent object"),
            DeleteResult::Refused,
        );
        d.put(&fresh, 6).await.expect("plain put");
        assert_eq!(
            d.store()
                .delete(&absent, DeleteCondition::IfExists)
                .await
                .expect("DELETE If-Match: * of a present object"),
            DeleteResult::Deleted,
        );
        assert!(!d.contains(&fresh).await.expect("contains"));
    }

    if caps.delete_if_match {
        assert!(
            !d.delete_if(&k, &wrong).await.expect("delete_if(wrong)"),
            "compare-and-delete with a wrong ETag deleted"
        );
        assert_eq!(read(d, &k).await, Some((value, etag.clone())));
        assert!(
            d.delete_if(&k, &etag).await.expect("delete_if(current)"),
            "compare-and-delete with the current ETag refused"
        );
        assert!(!d.contains(&k).await.expect("contains"));
    } else {
        assert_unsupported(d.delete_if(&k, &etag).await, "delete_if");
        assert_eq!(read(d, &k).await, Some((value, etag)));
        assert!(d.discard(&k).await.expect("discard"));
    }
    assert!(d.is_empty().await.expect("is_empty"));
}
