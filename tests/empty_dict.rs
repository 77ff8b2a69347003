//! EmptyDict (an in-memory null object): every documented answer, and its byte store.
//! The contract suite does not apply: it reads back what it wrote.

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::store::{
    DeleteCondition, DeleteResult, EmptyStore, ObjectStore, Read, ReadOptions, WriteCondition,
    WriteResult,
};
use persidict::{Capabilities, EmptyDict};

fn key(path: &str) -> Key {
    path.parse().expect("a valid key")
}

#[tokio::test]
async fn memory_empty_dict_plain_operations() {
    let d = EmptyDict::<u64>::new();
    let k = key("a/b");
    let etag = d.put(&k, 1).await.unwrap();
    assert_eq!(
        d.put(&k, 1).await.unwrap(),
        etag,
        "the same bytes, the same ETag"
    );
    assert_ne!(d.put(&k, 2).await.unwrap(), etag);
    assert!(d.get(&k).await.unwrap_err().is_not_found());
    assert_eq!(d.get_opt(&k).await.unwrap(), None);
    assert_eq!(d.get_with_etag(&k).await.unwrap(), None);
    assert_eq!(d.get_with_timestamp(&k).await.unwrap(), None);
    assert_eq!(d.head(&k).await.unwrap(), None);
    assert!(!d.contains(&k).await.unwrap());
    assert!(d.etag(&k).await.unwrap_err().is_not_found());
    assert!(d.timestamp(&k).await.unwrap_err().is_not_found());
    assert!(!d.discard(&k).await.unwrap());
    assert!(d.delete(&k).await.unwrap_err().is_not_found());
    assert!(d.pop(&k).await.unwrap_err().is_not_found());
    assert_eq!(d.popitem().await.unwrap(), None);
    assert_eq!(d.setdefault(&k, 5).await.unwrap(), 5);
    assert!(!d.contains(&k).await.unwrap(), "setdefault kept nothing");
    d.put_many(vec![(key("x"), 1), (key("y"), 2)])
        .await
        .unwrap();
    assert_eq!(d.len().await.unwrap(), 0);
    assert!(d.is_empty().await.unwrap());
    assert!(d.keys().try_collect::<Vec<_>>().await.unwrap().is_empty());
    assert!(d.items().try_collect::<Vec<_>>().await.unwrap().is_empty());
    assert!(d.oldest_values(3).await.unwrap().is_empty());
    assert_eq!(d.get_many(&[key("x")]).await.unwrap(), vec![None]);
    d.clear().await.unwrap();
    d.delete_many(&[key("x")]).await.unwrap();
    assert_eq!(d.discard_many(&[key("x")]).await.unwrap(), 0);
    assert_eq!(d.random_key().await.unwrap(), None);
    assert_eq!(d.info().backend, "empty");
    assert_eq!(d.capabilities().await.unwrap(), Capabilities::ALL);
}

#[tokio::test]
async fn memory_empty_dict_conditional_operations() {
    let d = EmptyDict::<u64>::new();
    let k = key("c");
    assert!(
        d.insert(&k, 1).await.unwrap(),
        "an insert is satisfied: the key was absent"
    );
    assert!(
        !d.contains(&k).await.unwrap(),
        "and the key is still absent afterwards"
    );

    let out = d
        .put_if(&k, Write::Value(1), Condition::Same, None, Retrieve::Always)
        .await
        .unwrap();
    assert!(out.satisfied && out.mutated());
    assert_eq!(out.actual_etag, None);
    assert!(out.resulting_etag.is_some());
    assert_eq!(out.value, Slot::Present(1));

    let e = out.resulting_etag.clone().unwrap();
    let out = d
        .put_if(
            &k,
            Write::Value(2),
            Condition::Same,
            Some(&e),
            Retrieve::IfChanged,
        )
        .await
        .unwrap();
    assert!(!out.satisfied && !out.mutated());
    assert_eq!((out.actual_etag, out.value), (None, Slot::Absent));

    for c in [Condition::Any, Condition::Changed] {
        let out = d
            .put_if(&k, Write::Value(3), c, Some(&e), Retrieve::Never)
            .await
            .unwrap();
        assert!(out.satisfied, "{c:?}");
        assert_eq!(out.actual_etag, None);
        assert!(out.resulting_etag.is_some());
    }
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Always,
        )
        .await
        .unwrap();
    assert!(out.satisfied && !out.mutated());
    let out = d
        .put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Same,
            None,
            Retrieve::Never,
        )
        .await
        .unwrap();
    assert!(out.satisfied && !out.mutated());

    let out = d
        .get_if(&k, Condition::Same, None, Retrieve::Always)
        .await
        .unwrap();
    assert!(out.satisfied);
    assert_eq!(out.value, Slot::Absent);

    let out = d.discard_if(&k, Condition::Same, Some(&e)).await.unwrap();
    assert!(!out.satisfied);
    assert!(!d.delete_if(&k, &e).await.unwrap());

    let out = d
        .setdefault_if(&k, 4, Condition::Same, None, Retrieve::Always)
        .await
        .unwrap();
    assert!(out.satisfied && out.mutated());
    assert_eq!(out.value, Slot::Present(4));

    let mut calls = 0;
    let t = d
        .transform(&k, |n| {
            calls += 1;
            assert_eq!(n, None);
            Write::Value(9)
        })
        .await
        .unwrap();
    assert_eq!(calls, 1);
    assert_eq!(t.value, Some(9));
    assert!(!d.contains(&k).await.unwrap());

    match d.compare_and_swap(&k, Some(&e), Some(1)).await {
        Ok(Err(conflict)) => assert_eq!((conflict.current, conflict.etag), (None, None)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn memory_empty_dict_checks_keys_and_encodes_values() {
    // Bad input is reported as anywhere else.
    assert!("a//b".parse::<Key>().is_err());
    let text = EmptyDict::<Vec<u8>>::with_codec(Codec::Text);
    assert!(matches!(
        text.put(&key("t"), vec![1, 2]).await,
        Err(Error::Encode { .. })
    ));
    let sub = EmptyDict::<u64>::new().subdict(&key("p"));
    sub.put(&key("q"), 1).await.unwrap();
    assert!(sub.is_empty().await.unwrap());
}

#[tokio::test]
async fn memory_empty_store_answers() {
    let s = EmptyStore::new();
    let body = bytes::Bytes::from_static(b"x");
    for c in [WriteCondition::Always, WriteCondition::IfAbsent] {
        assert!(matches!(
            s.write("a.bin", body.clone(), "t", c).await.unwrap(),
            WriteResult::Written(_)
        ));
    }
    let WriteResult::Written(e) = s
        .write("a.bin", body.clone(), "t", WriteCondition::Always)
        .await
        .unwrap()
    else {
        unreachable!()
    };
    assert_eq!(
        s.write("a.bin", body, "t", WriteCondition::IfMatch(e.clone()))
            .await
            .unwrap(),
        WriteResult::Refused
    );
    assert_eq!(
        s.read("a.bin", ReadOptions::default()).await.unwrap(),
        Read::Absent
    );
    assert_eq!(s.head("a.bin").await.unwrap(), None);
    assert_eq!(
        s.delete("a.bin", DeleteCondition::Always).await.unwrap(),
        DeleteResult::Deleted
    );
    assert_eq!(
        s.delete("a.bin", DeleteCondition::IfExists).await.unwrap(),
        DeleteResult::Refused
    );
    assert_eq!(
        s.delete("a.bin", DeleteCondition::IfMatch(e))
            .await
            .unwrap(),
        DeleteResult::Refused
    );
    assert!(s.list("").try_collect::<Vec<_>>().await.unwrap().is_empty());
    s.delete_many(vec!["a.bin".into()]).await.unwrap();
    assert!(s.head("../escape").await.is_err(), "names are checked");
}
