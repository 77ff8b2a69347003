//! The short verbs: `insert`, `compare_and_swap`, `delete_if`, and keys parsed from paths.

use super::capabilities::enforces_conditional_writes;
use super::{key, open, read, Fixture};
use crate::cond::ETag;
use crate::key::Key;

/// `Key` parses `/`-separated paths (`FromStr`, `TryFrom<&str>`); `insert` stores only
/// when absent; `compare_and_swap` swaps only on the expected ETag (`None`: absent) and on
/// a refusal reports the current value and ETag; `delete_if` deletes only on the expected
/// ETag.
pub async fn short_verbs<F: Fixture>(f: &F) {
    // Keys from paths, whatever the backend.
    let parsed: Key = "a/b".parse().expect("\"a/b\" is a valid key");
    assert_eq!(parsed.len(), 2, "\"a/b\" has two parts");
    assert_eq!(parsed.parts(), ["a", "b"]);
    assert_eq!(parsed, Key::new(["a", "b"]).expect("a valid key"));
    let tried = Key::try_from("a/b").expect("TryFrom<&str>");
    assert_eq!(tried, parsed);
    assert_eq!(parsed.to_path(), "a/b");
    assert_eq!("config".parse::<Key>().expect("one part").len(), 1);
    for bad in ["", "a//b", "/a", "a/", "a/../b", "a b"] {
        assert!(bad.parse::<Key>().is_err(), "{bad:?} parsed as a key");
        assert!(Key::try_from(bad).is_err(), "{bad:?} converted to a key");
    }

    let d = &open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, d).await {
        return;
    }

    // insert: only when absent.
    let k: Key = "verbs/insert".parse().expect("a valid key");
    assert!(
        d.insert(&k, 1).await.expect("insert"),
        "insert of an absent key"
    );
    let etag = d.etag(&k).await.expect("etag");
    assert!(
        !d.insert(&k, 2).await.expect("insert"),
        "insert of a present key"
    );
    assert_eq!(read(d, &k).await, Some((1, etag)), "insert overwrote");

    // compare_and_swap: absent -> value -> value -> absent, refusals report the current state.
    let k = key("verbs/cas");
    let first = d
        .compare_and_swap(&k, None, Some(10))
        .await
        .expect("compare_and_swap")
        .unwrap_or_else(|c| panic!("compare_and_swap(None) on an absent key refused: {c:?}"))
        .expect("a swap to a value has an ETag");
    assert_eq!(read(d, &k).await, Some((10, first.clone())));
    let refused = d
        .compare_and_swap(&k, None, Some(11))
        .await
        .expect("compare_and_swap")
        .expect_err("compare_and_swap(None) on a present key swapped");
    assert_eq!(refused.current, Some(10));
    assert_eq!(refused.etag.as_ref(), Some(&first));
    let stale = ETag::new("\"stale-etag\"");
    let refused = d
        .compare_and_swap(&k, Some(&stale), Some(12))
        .await
        .expect("compare_and_swap")
        .expect_err("compare_and_swap with a wrong ETag swapped");
    assert_eq!(refused.current, Some(10));
    assert_eq!(refused.etag.as_ref(), Some(&first));
    assert_eq!(read(d, &k).await, Some((10, first.clone())));
    let second = d
        .compare_and_swap(&k, Some(&first), Some(13))
        .await
        .expect("compare_and_swap")
        .unwrap_or_else(|c| panic!("compare_and_swap with the current ETag refused: {c:?}"))
        .expect("a swap to a value has an ETag");
    assert_ne!(second, first, "the ETag changes when the content changes");
    assert_eq!(read(d, &k).await, Some((13, second.clone())));
    let refused = d
        .compare_and_swap(&k, Some(&first), None)
        .await
        .expect("compare_and_swap")
        .expect_err("a delete with a stale ETag swapped");
    assert_eq!(
        (refused.current, refused.etag.as_ref()),
        (Some(13), Some(&second))
    );
    let gone = d
        .compare_and_swap(&k, Some(&second), None)
        .await
        .expect("compare_and_swap")
        .unwrap_or_else(|c| panic!("a delete with the current ETag refused: {c:?}"));
    assert_eq!(gone, None, "no ETag after a delete");
    assert!(!d.contains(&k).await.expect("contains"));
    let refused = d
        .compare_and_swap(&k, Some(&second), Some(14))
        .await
        .expect("compare_and_swap")
        .expect_err("compare_and_swap with an ETag on an absent key swapped");
    assert_eq!((refused.current, refused.etag), (None, None));
    assert!(!d.contains(&k).await.expect("contains"));

    // delete_if: only on the expected ETag.
    let k = key("verbs/delete_if");
    let etag = d.put(&k, 20).await.expect("put");
    assert!(
        !d.delete_if(&k, &stale).await.expect("delete_if"),
        "delete_if with a wrong ETag deleted"
    );
    assert_eq!(read(d, &k).await, Some((20, etag.clone())));
    assert!(
        d.delete_if(&k, &etag).await.expect("delete_if"),
        "delete_if with the current ETag"
    );
    assert!(!d.contains(&k).await.expect("contains"));
    assert!(
        !d.delete_if(&k, &etag).await.expect("delete_if"),
        "delete_if of an absent key"
    );
}
