//! Copies and renames of keys: the preconditions and what each result reports.

use super::{assert_append_only, assert_unsupported, key, open, read, Fixture, FixtureOptions};
use crate::cond::ETag;
use crate::dict::{CopyOptions, Renamed};
use crate::error::Error;
use crate::store::CopyResult;

/// `copy` honours its preconditions and reports each refusal; `rename` moves a value and
/// refuses what a copy refuses; an append-only dictionary copies only to absent keys and
/// never renames. Where the fixture declares the copy preconditions unenforced, a plain
/// copy still works and the conditional ones answer [`Error::Unsupported`].
pub async fn copy_and_rename<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let (a, b, c, missing) = (key("a"), key("b"), key("c"), key("missing"));
    let ea = d.put(&a, 1).await.expect("put(a)");
    let plain = d
        .copy(&a, &b, CopyOptions::new())
        .await
        .expect("copy(a, b)");
    assert!(plain.is_copied(), "a plain copy: {plain:?}");
    assert_eq!(read(&d, &b).await.map(|(v, _)| v), Some(1));
    assert_eq!(
        d.copy(&missing, &c, CopyOptions::new())
            .await
            .expect("copy(missing)"),
        CopyResult::SourceAbsent
    );
    let caps = f.enforces();
    if !(caps.copy_if_absent && caps.copy_if_match && caps.copy_source_if_match) {
        assert_unsupported(
            d.copy(&a, &b, CopyOptions::if_absent()).await,
            "copy(if_absent)",
        );
        assert_unsupported(
            d.copy(&a, &b, CopyOptions::new().source_etag(ea)).await,
            "copy pinned to the source",
        );
        assert_unsupported(d.rename(&a, &c, CopyOptions::new()).await, "rename");
        assert!(
            d.contains(&a).await.expect("contains(a)"),
            "nothing renamed"
        );
        d.clear().await.expect("clear");
        return;
    }

    // The destination's condition.
    assert_eq!(
        d.copy(&a, &b, CopyOptions::if_absent())
            .await
            .expect("copy(if_absent)"),
        CopyResult::Refused
    );
    let (_, eb) = read(&d, &b).await.expect("b");
    d.put(&a, 2).await.expect("put(a, 2)");
    // (Not `ea`: b holds the bytes a held, so on stores whose ETags are digests of the
    // bytes it has that very ETag.)
    let stale = CopyOptions::if_match(ETag::new("\"0123456789abcdef0123456789abcdef\""));
    assert_eq!(
        d.copy(&a, &b, stale).await.expect("copy(if_match stale)"),
        CopyResult::Refused
    );
    assert_eq!(
        read(&d, &b).await.map(|(v, _)| v),
        Some(1),
        "refusals change nothing"
    );
    let swapped = d
        .copy(&a, &b, CopyOptions::if_match(eb))
        .await
        .expect("copy(if_match)");
    let (v, eb2) = read(&d, &b).await.expect("b");
    assert_eq!(
        (v, swapped.etag()),
        (2, Some(&eb2)),
        "the copy reports the new ETag"
    );
    assert!(d
        .copy(&a, &c, CopyOptions::if_absent())
        .await
        .expect("copy(if_absent) to an absent key")
        .is_copied());

    // The source's ETag (a holds 2 now, so the ETag of 1 is stale).
    assert_eq!(
        d.copy(&a, &b, CopyOptions::new().source_etag(ea))
            .await
            .expect("copy pinned to a stale source"),
        CopyResult::SourceChanged
    );
    assert_eq!(read(&d, &b).await.map(|(v, _)| v), Some(2));

    // Renames.
    let moved = d
        .rename(&c, &key("d"), CopyOptions::if_absent())
        .await
        .expect("rename");
    assert!(moved.is_renamed(), "{moved:?}");
    assert!(
        !d.contains(&c).await.expect("contains(c)"),
        "the source is gone"
    );
    assert_eq!(read(&d, &key("d")).await.map(|(v, _)| v), Some(2));
    assert_eq!(
        d.rename(&a, &b, CopyOptions::if_absent())
            .await
            .expect("rename onto b"),
        Renamed::Refused
    );
    assert!(
        d.contains(&a).await.expect("contains(a)"),
        "a refused rename keeps the source"
    );
    assert_eq!(
        d.rename(&missing, &c, CopyOptions::new())
            .await
            .expect("rename(missing)"),
        Renamed::SourceAbsent
    );
    assert!(matches!(
        d.rename(&a, &a, CopyOptions::new()).await,
        Err(Error::Config(_))
    ));

    // Between dictionaries of the backend.
    let other = open::<F, u64>(f).await;
    assert!(d
        .copy_to(&a, &other, &a, CopyOptions::if_absent())
        .await
        .expect("copy_to")
        .is_copied());
    assert_eq!(read(&other, &a).await.map(|(v, _)| v), Some(2));
    let moved = d
        .rename_to(&b, &other, &b, CopyOptions::if_absent())
        .await
        .expect("rename_to");
    assert!(moved.is_renamed(), "{moved:?}");
    assert!(!d.contains(&b).await.expect("contains(b)"));
    assert_eq!(read(&other, &b).await.map(|(v, _)| v), Some(2));

    // Append-only: a copy inserts, never replaces; nothing is renamed.
    let log = f.open::<u64>(FixtureOptions::append_only()).await;
    log.put(&a, 1).await.expect("insert");
    assert!(log
        .copy(&a, &b, CopyOptions::new())
        .await
        .expect("append-only copy to an absent key")
        .is_copied());
    assert_append_only(
        log.copy(&a, &b, CopyOptions::new()).await,
        &b,
        "append-only copy",
    );
    assert_eq!(
        log.copy(&a, &b, CopyOptions::if_absent())
            .await
            .expect("copy(if_absent)"),
        CopyResult::Refused
    );
    assert_append_only(
        log.rename(&a, &c, CopyOptions::new()).await,
        &a,
        "append-only rename",
    );
    d.clear().await.expect("clear");
    other.clear().await.expect("clear");
}
