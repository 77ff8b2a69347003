//! Conditional PUTs whose answer is lost, settled by the write ids the objects carry (the
//! S3 module's "lost answers" section), on SeaweedFS and moto through
//! `tests/common/proxy.rs`: a compare-and-swap that landed and was built upon, one that did
//! not land, the edge cases that must stay `OutcomeUnknown` (a plain put, a delete or
//! another client's write in between, a lineage truncated past our id), and inserts with
//! and without the append-only promise.

mod common;
#[path = "common/proxy.rs"]
mod proxy;

use std::time::Duration;

use bytes::Bytes;
use persidict::store::{DeleteResult, ObjectStore, Read, ReadOptions, WriteCondition, WriteResult};
use persidict::{Capabilities, ETag, Error, S3Store};
use proxy::{FaultRates, Proxy};

const CT: &str = "application/octet-stream";
const NAME: &str = "c.bin";
/// The ids a lineage keeps: the version's own and 47 before it.
const LINEAGE_IDS: usize = 48;

/// A store on a server: one talking to it directly, one through a proxy, on one root.
struct Setup {
    direct: S3Store,
    via: S3Store,
    proxy: Proxy,
}

async fn setup(server: &str, test: &str, append_only: bool) -> Option<Setup> {
    let srv = common::server(server)?;
    let direct = common::store(&srv, test).await;
    let proxy = Proxy::start(&srv.url, FaultRates::NONE, 1, Duration::ZERO).await;
    let via = persidict::S3DictBuilder::new(common::BUCKET)
        .endpoint_url(&proxy.url)
        .region("us-east-1")
        .root_prefix(direct.root().trim_end_matches('/'))
        .capabilities(Capabilities::ALL)
        .append_only(append_only)
        .build_store()
        .await
        .unwrap();
    Some(Setup { direct, via, proxy })
}

impl Setup {
    async fn write(&self, body: &str, condition: WriteCondition) -> WriteResult {
        self.direct
            .write(NAME, Bytes::from(body.to_owned()), CT, condition)
            .await
            .unwrap()
    }

    /// The current ETag, read from the server (so it carries the object's write ids).
    async fn current(&self) -> ETag {
        self.direct
            .head(NAME)
            .await
            .unwrap()
            .and_then(|m| m.etag)
            .expect("the object exists")
    }

    /// `n` compare-and-swaps on top of whatever is there, each on the ETag it read.
    async fn build_upon(&self, n: usize) {
        for i in 0..n {
            let e = self.current().await;
            let r = self
                .write(&format!("later-{i}"), WriteCondition::IfMatch(e))
                .await;
            assert!(matches!(r, WriteResult::Written(_)), "{r:?}");
        }
    }

    /// A PUT by another client, without persidict's metadata.
    async fn foreign_put(&self, body: &'static str) {
        self.direct
            .client()
            .put_object()
            .bucket(self.direct.bucket())
            .key(self.direct.object_key(NAME))
            .body(aws_sdk_s3::primitives::ByteStream::from_static(
                body.as_bytes(),
            ))
            .send()
            .await
            .unwrap();
    }

    async fn value(&self) -> Option<String> {
        match self
            .direct
            .read(NAME, ReadOptions::default())
            .await
            .unwrap()
        {
            Read::Found(o) => Some(String::from_utf8(o.body.to_vec()).unwrap()),
            Read::Absent => None,
            other => panic!("{other:?}"),
        }
    }

    /// Our write through the proxy, its answer dropped after the server answered; `meanwhile`
    /// runs while the client waits. Returns the result and the PUTs the proxy saw.
    async fn lost<F, Fut>(
        &self,
        body: &str,
        condition: WriteCondition,
        meanwhile: F,
    ) -> (Result<WriteResult, Error>, usize)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let puts_before = self.puts();
        let one = self.proxy.drop_next_answer("PUT");
        let task = tokio::spawn({
            let (via, body) = (self.via.clone(), Bytes::from(body.to_owned()));
            async move { via.write(NAME, body, CT, condition).await }
        });
        one.forwarded.notified().await;
        meanwhile().await;
        one.release.notify_one();
        let result = task.await.unwrap();
        (result, self.puts() - puts_before)
    }

    fn puts(&self) -> usize {
        self.proxy.log().iter().filter(|(m, _)| m == "PUT").count()
    }
}

fn written(r: WriteResult) -> ETag {
    match r {
        WriteResult::Written(e) => e,
        other => panic!("expected Written, got {other:?}"),
    }
}

fn assert_unknown(r: Result<WriteResult, Error>, why: &str) {
    match r {
        Err(Error::OutcomeUnknown {
            key,
            operation,
            reason,
        }) => {
            assert_eq!((key.as_str(), operation), (NAME, "PUT"));
            assert!(reason.contains(why), "{reason}");
        }
        other => panic!("expected OutcomeUnknown ({why}), got {other:?}"),
    }
}

/// A compare-and-swap lands, its answer is lost, and `later` compare-and-swaps build on
/// it before the client looks: our id is still in the lineage (`later` < 48), so it landed;
/// with 48 or more, our id has been pushed out and nothing can tell.
async fn landed_and_built_upon(server: &str, later: usize) {
    let Some(s) = setup(server, "lineage-built-upon", false).await else {
        return;
    };
    let e0 = written(s.write("v0", WriteCondition::Always).await);
    let (result, puts) = s
        .lost("ours", WriteCondition::IfMatch(e0), || s.build_upon(later))
        .await;
    assert_eq!(puts, 1, "never sent again");
    assert_eq!(s.value().await.unwrap(), format!("later-{}", later - 1));
    if later < LINEAGE_IDS {
        let etag = written(result.unwrap());
        // The ETag our write made, though the object has moved on: S3's digest of the
        // bytes, as a fresh write of the same bytes shows.
        let same = written(s.write("ours", WriteCondition::Always).await);
        assert_eq!(etag, same);
    } else {
        assert_unknown(result, "lineage does not reach back");
    }
}

#[tokio::test]
async fn seaweedfs_lost_answer_of_a_write_built_upon_is_settled_by_the_lineage() {
    landed_and_built_upon("seaweedfs", 3).await;
}

#[tokio::test]
async fn moto_lost_answer_of_a_write_built_upon_is_settled_by_the_lineage() {
    landed_and_built_upon("moto", 3).await;
}

#[tokio::test]
async fn seaweedfs_lineage_keeps_our_id_through_47_later_writes() {
    landed_and_built_upon("seaweedfs", LINEAGE_IDS - 1).await;
}

#[tokio::test]
async fn seaweedfs_lineage_truncated_past_our_id_is_outcome_unknown() {
    landed_and_built_upon("seaweedfs", LINEAGE_IDS).await;
}

#[tokio::test]
async fn moto_lineage_truncated_past_our_id_is_outcome_unknown() {
    landed_and_built_upon("moto", LINEAGE_IDS).await;
}

/// Another writer's compare-and-swap gets in first; ours is refused and the refusal is
/// lost. The object's lineage reaches back to the version ours replaced, without our id:
/// it did not land, and the answer is a plain refusal.
async fn refused_and_lost(server: &str) {
    let Some(s) = setup(server, "lineage-not-landed", false).await else {
        return;
    };
    written(s.write("v0", WriteCondition::Always).await);
    let e0 = s.current().await;
    s.build_upon(1).await;
    let (result, puts) = s
        .lost("ours", WriteCondition::IfMatch(e0), || async {})
        .await;
    assert_eq!(result.unwrap(), WriteResult::Refused);
    assert_eq!(puts, 1);
    assert_eq!(s.value().await.unwrap(), "later-0");
}

#[tokio::test]
async fn seaweedfs_lost_refusal_is_settled_by_the_lineage() {
    refused_and_lost("seaweedfs").await;
}

#[tokio::test]
async fn moto_lost_refusal_is_settled_by_the_lineage() {
    refused_and_lost("moto").await;
}

/// A compare-and-swap whose request never reached the server (the connection reset before
/// forwarding): the HEAD finds the very version it replaces, so it is sent again and lands.
async fn never_sent_is_sent_again(server: &str) {
    let Some(s) = setup(server, "lineage-resend", false).await else {
        return;
    };
    let e0 = written(s.write("v0", WriteCondition::Always).await);
    s.proxy.reset_next_request("PUT");
    let result = s
        .via
        .write(
            NAME,
            Bytes::from_static(b"ours"),
            CT,
            WriteCondition::IfMatch(e0),
        )
        .await;
    written(result.unwrap());
    assert_eq!(s.puts(), 2, "the reset attempt and the one sent again");
    assert_eq!(s.value().await.unwrap(), "ours");
}

#[tokio::test]
async fn seaweedfs_compare_and_swap_that_never_arrived_is_sent_again() {
    never_sent_is_sent_again("seaweedfs").await;
}

#[tokio::test]
async fn moto_compare_and_swap_that_never_arrived_is_sent_again() {
    never_sent_is_sent_again("moto").await;
}

/// What may come between our landed compare-and-swap and the client's look, and leaves
/// the outcome unknown: none of them records what it replaced.
#[derive(Debug, Clone, Copy)]
enum Between {
    PlainPut,
    Delete,
    Foreign,
}

async fn broken_lineage(server: &str, between: Between) {
    let Some(s) = setup(server, "lineage-broken", false).await else {
        return;
    };
    let e0 = written(s.write("v0", WriteCondition::Always).await);
    let (result, puts) = s
        .lost("ours", WriteCondition::IfMatch(e0), || async {
            match between {
                Between::PlainPut => {
                    written(s.write("plain", WriteCondition::Always).await);
                }
                Between::Delete => {
                    let _ = s
                        .direct
                        .delete(NAME, persidict::store::DeleteCondition::Always)
                        .await
                        .unwrap();
                }
                Between::Foreign => s.foreign_put("foreign").await,
            }
        })
        .await;
    assert_eq!(puts, 1, "never sent again");
    let why = match between {
        Between::PlainPut => "lineage does not reach back",
        Between::Delete => "the object is gone",
        Between::Foreign => "carries no write ids",
    };
    assert_unknown(result, why);
}

#[tokio::test]
async fn seaweedfs_plain_put_in_between_is_outcome_unknown() {
    broken_lineage("seaweedfs", Between::PlainPut).await;
}

#[tokio::test]
async fn seaweedfs_delete_in_between_is_outcome_unknown() {
    broken_lineage("seaweedfs", Between::Delete).await;
}

#[tokio::test]
async fn seaweedfs_foreign_write_in_between_is_outcome_unknown() {
    broken_lineage("seaweedfs", Between::Foreign).await;
}

#[tokio::test]
async fn moto_plain_put_in_between_is_outcome_unknown() {
    broken_lineage("moto", Between::PlainPut).await;
}

#[tokio::test]
async fn moto_delete_in_between_is_outcome_unknown() {
    broken_lineage("moto", Between::Delete).await;
}

#[tokio::test]
async fn moto_foreign_write_in_between_is_outcome_unknown() {
    broken_lineage("moto", Between::Foreign).await;
}

/// Another client's write (no write ids) gets in first; ours is refused and the refusal is
/// lost: nothing can tell, since the version ours replaced has no successor on record.
#[tokio::test]
async fn seaweedfs_foreign_write_before_a_lost_refusal_is_outcome_unknown() {
    let Some(s) = setup("seaweedfs", "lineage-foreign-first", false).await else {
        return;
    };
    let e0 = written(s.write("v0", WriteCondition::Always).await);
    s.foreign_put("foreign").await;
    let (result, _) = s
        .lost("ours", WriteCondition::IfMatch(e0), || async {})
        .await;
    assert_unknown(result, "carries no write ids");
    assert_eq!(s.value().await.unwrap(), "foreign");
}

/// An insert loses its race and the refusal is lost. With the append-only promise the
/// object there proves ours did not land; without it a delete could have removed ours.
async fn lost_insert_refusal(server: &str, append_only: bool) {
    let Some(s) = setup(server, "lineage-insert", append_only).await else {
        return;
    };
    written(s.write("first", WriteCondition::IfAbsent).await);
    let (result, puts) = s.lost("ours", WriteCondition::IfAbsent, || async {}).await;
    assert_eq!(puts, 1);
    if append_only {
        assert_eq!(result.unwrap(), WriteResult::Refused);
    } else {
        assert_unknown(result, "only an append-only store proves it");
    }
    assert_eq!(s.value().await.unwrap(), "first");
}

#[tokio::test]
async fn seaweedfs_lost_insert_refusal_in_an_append_only_store_is_a_refusal() {
    lost_insert_refusal("seaweedfs", true).await;
}

#[tokio::test]
async fn moto_lost_insert_refusal_in_an_append_only_store_is_a_refusal() {
    lost_insert_refusal("moto", true).await;
}

#[tokio::test]
async fn seaweedfs_lost_insert_refusal_elsewhere_is_outcome_unknown() {
    lost_insert_refusal("seaweedfs", false).await;
}

/// An insert that lands and whose answer is lost is ours by its write id; one that never
/// reached an append-only store is sent again.
#[tokio::test]
async fn seaweedfs_lost_inserts_that_landed_or_never_arrived() {
    let Some(s) = setup("seaweedfs", "lineage-insert-landed", true).await else {
        return;
    };
    let (result, _) = s.lost("ours", WriteCondition::IfAbsent, || async {}).await;
    let etag = written(result.unwrap());
    assert_eq!(
        Some(etag),
        s.direct.head(NAME).await.unwrap().and_then(|m| m.etag)
    );

    let other = "other.bin";
    s.proxy.reset_next_request("PUT");
    let puts = s.puts();
    let r = s
        .via
        .write(
            other,
            Bytes::from_static(b"x"),
            CT,
            WriteCondition::IfAbsent,
        )
        .await;
    written(r.unwrap());
    assert_eq!(
        s.puts() - puts,
        2,
        "the reset attempt and the one sent again"
    );
}

/// A compare-and-swap records the write ids of the version it replaced after its own, in
/// the object's user metadata; a plain put records its own alone.
#[tokio::test]
async fn seaweedfs_writes_record_their_lineage_in_the_metadata() {
    let Some(s) = setup("seaweedfs", "lineage-metadata", false).await else {
        return;
    };
    let metadata = || async {
        let out = s
            .direct
            .client()
            .head_object()
            .bucket(s.direct.bucket())
            .key(s.direct.object_key(NAME))
            .send()
            .await
            .unwrap();
        let m = out.metadata().cloned().unwrap_or_default();
        (
            m.get("persidict-write-id").cloned().unwrap(),
            m.get("persidict-write-chain").cloned(),
        )
    };
    written(s.write("v0", WriteCondition::Always).await);
    let (id0, chain0) = metadata().await;
    assert_eq!(chain0, None, "a plain put knows nothing it replaced");
    s.build_upon(1).await;
    let (id1, chain1) = metadata().await;
    assert_eq!(chain1.as_deref(), Some(id0.as_str()));
    s.build_upon(1).await;
    let (_, chain2) = metadata().await;
    assert_eq!(chain2, Some(format!("{id1},{id0}")));
    // A compare-and-swap on the ETag our own write returned chains on too.
    let e = written(
        s.write("v3", WriteCondition::IfMatch(s.current().await))
            .await,
    );
    let (id3, _) = metadata().await;
    written(s.write("v4", WriteCondition::IfMatch(e)).await);
    let (_, chain4) = metadata().await;
    assert!(chain4.unwrap().starts_with(&format!("{id3},")));
}

/// A conditional `DeleteObjects` whose answer is lost: where every object is still at its
/// ETag (the request never arrived) it is sent again; where they are gone, nothing can
/// tell who deleted them.
#[tokio::test]
async fn seaweedfs_lost_answers_of_conditional_batch_deletes() {
    let Some(s) = setup("seaweedfs", "lineage-batch-delete", false).await else {
        return;
    };
    let mut objects = Vec::new();
    for name in ["b/1.bin", "b/2.bin", "b/3.bin"] {
        let e = written(
            s.direct
                .write(name, Bytes::from_static(b"x"), CT, WriteCondition::Always)
                .await
                .unwrap(),
        );
        objects.push((name.to_owned(), e));
    }
    let posts = || s.proxy.log().iter().filter(|(m, _)| m == "POST").count();

    // Reset before it reaches the server: all still there, sent again, all deleted.
    s.proxy.reset_next_request("POST");
    let before = posts();
    let results = s.via.delete_many_if(objects[..2].to_vec()).await.unwrap();
    assert_eq!(results, [DeleteResult::Deleted, DeleteResult::Deleted]);
    assert_eq!(
        posts() - before,
        2,
        "the reset batch and the one sent again"
    );

    // Applied, answer dropped: the object is gone, which the client cannot tell apart
    // from another client's delete.
    let one = s.proxy.drop_next_answer("POST");
    let task = tokio::spawn({
        let (via, last) = (s.via.clone(), objects[2].clone());
        async move { via.delete_many_if(vec![last]).await }
    });
    one.forwarded.notified().await;
    one.release.notify_one();
    match task.await.unwrap() {
        Err(Error::OutcomeUnknown { key, operation, .. }) => {
            assert_eq!((key.as_str(), operation), ("b/3.bin", "DeleteObjects"));
        }
        other => panic!("expected OutcomeUnknown, got {other:?}"),
    }
    assert_eq!(s.direct.head("b/3.bin").await.unwrap(), None);
}
