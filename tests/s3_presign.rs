//! Presigned requests (`S3Dict::presign`), sent with a plain HTTP client
//! (`tests/common/http.rs`) by a holder without credentials: reads, writes, create-only
//! uploads that can never overwrite, expiry, and what signing costs (no request).

mod common;
#[path = "common/http.rs"]
mod http;

use std::time::Duration;

use persidict::prelude::*;
use persidict::s3::{Presign, PresignedRequest, MAX_PRESIGNED_EXPIRY};
use persidict::{Codec, S3Dict};

async fn dict(server: &str, test: &str, append_only: bool) -> Option<S3Dict<String>> {
    let s = common::server(server)?;
    let d = common::builder(&s, test)
        .codec(Codec::Json)
        .append_only(append_only)
        .build()
        .await
        .unwrap();
    Some(d)
}

async fn send(r: &PresignedRequest, body: &str) -> http::Answer {
    http::send(r.method, &r.url, &r.headers, body.as_bytes()).await
}

/// The stored form of `s` in a JSON dictionary.
fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);

/// The signed headers of `r` less `If-None-Match`: what a holder trying to overwrite sends.
fn without_if_none_match(r: &PresignedRequest) -> Vec<(String, String)> {
    r.headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("if-none-match"))
        .cloned()
        .collect()
}

/// GET, PUT and create-only PUT, each sent by a plain client; signing sends nothing.
async fn presigned_requests_work_without_credentials(server: &str) {
    let Some(d) = dict(server, "presign", false).await else {
        return;
    };
    let k = Key::try_from("reports/a").unwrap();
    d.put(&k, "first".into()).await.unwrap();
    // A probe may run once; after that, signing is local.
    d.capabilities().await.unwrap();
    let before = d.stats().snapshot().total();
    let get = d.presign(&k, Presign::Get, HOUR).await.unwrap();
    let put = d.presign(&k, Presign::Put, HOUR).await.unwrap();
    let k2 = Key::try_from("reports/b").unwrap();
    let insert = d.presign(&k2, Presign::Insert, HOUR).await.unwrap();
    assert_eq!(
        d.stats().snapshot().total(),
        before,
        "signing sends no request"
    );
    assert_eq!(
        (get.method, put.method, insert.method),
        ("GET", "PUT", "PUT")
    );
    assert!(insert
        .headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("if-none-match") && v == "*"));

    let a = send(&get, "").await;
    assert_eq!((a.status, a.body), (200, json("first").into_bytes()));

    let a = send(&put, &json("second")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(d.get(&k).await.unwrap(), "second");

    // The create-only upload: once, then refused, and the value stays.
    let a = send(&insert, &json("created")).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let again = send(&insert, &json("overwrite attempt")).await;
    assert_eq!(
        again.status,
        412,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(d.get(&k2).await.unwrap(), "created");
    // An insert signed for an existing key is refused too.
    let late = d.presign(&k, Presign::Insert, HOUR).await.unwrap();
    assert_eq!(send(&late, &json("late")).await.status, 412);
    assert_eq!(d.get(&k).await.unwrap(), "second");
    d.clear().await.unwrap();
}

#[tokio::test]
async fn seaweedfs_presigned_requests_work_without_credentials() {
    presigned_requests_work_without_credentials("seaweedfs").await;
}

#[tokio::test]
async fn moto_presigned_requests_work_without_credentials() {
    presigned_requests_work_without_credentials("moto").await;
}

/// SeaweedFS checks signatures: leaving out the signed `If-None-Match` or tampering with
/// the URL is refused, so a create-only upload cannot be turned into an overwrite, and an
/// expired request is refused.
#[tokio::test]
async fn seaweedfs_presigned_requests_cannot_be_altered_or_outlive_their_expiry() {
    let Some(d) = dict("seaweedfs", "presign-tamper", false).await else {
        return;
    };
    let k = Key::try_from("k").unwrap();
    d.put(&k, "kept".into()).await.unwrap();
    let insert = d.presign(&k, Presign::Insert, HOUR).await.unwrap();
    let without = without_if_none_match(&insert);
    let a = http::send("PUT", &insert.url, &without, json("overwrite").as_bytes()).await;
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    let other_key = insert.url.replacen(".json?", "x.json?", 1);
    let a = http::send("PUT", &other_key, &insert.headers, b"\"x\"").await;
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(d.get(&k).await.unwrap(), "kept");

    let get = d
        .presign(&k, Presign::Get, Duration::from_secs(1))
        .await
        .unwrap();
    assert_eq!(send(&get, "").await.status, 200);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let a = send(&get, "").await;
    assert_eq!(a.status, 403, "{}", String::from_utf8_lossy(&a.body));
    d.clear().await.unwrap();
}

/// What cannot be signed: an overwrite on an append-only dictionary, an expiry past
/// SigV4's 7 days.
#[tokio::test]
async fn seaweedfs_presigned_overwrites_of_append_only_dicts_and_long_expiries_are_refused() {
    let Some(d) = dict("seaweedfs", "presign-append-only", true).await else {
        return;
    };
    let k = Key::try_from("k").unwrap();
    let e = d.presign(&k, Presign::Put, HOUR).await.unwrap_err();
    assert!(matches!(e, Error::AppendOnly { .. }), "{e:?}");
    d.presign(&k, Presign::Insert, HOUR).await.unwrap();
    let e = d
        .presign(
            &k,
            Presign::Get,
            MAX_PRESIGNED_EXPIRY + Duration::from_secs(1),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e:?}");
    assert!(e.to_string().contains("7 days"), "{e}");
}

/// rclone ignores `If-None-Match: *`: a create-only upload cannot be promised there.
#[tokio::test]
async fn rclone_presigned_insert_is_unsupported() {
    let Some(d) = dict("rclone", "presign-rclone", false).await else {
        return;
    };
    let k = Key::try_from("k").unwrap();
    let e = d.presign(&k, Presign::Insert, HOUR).await.unwrap_err();
    assert!(
        matches!(
            e,
            Error::Unsupported {
                capability: persidict::Capability::PutIfAbsent,
                ..
            }
        ),
        "{e:?}"
    );
    // Reads and plain writes need no enforcement, and work.
    d.put(&k, "v".into()).await.unwrap();
    let get = d.presign(&k, Presign::Get, HOUR).await.unwrap();
    assert_eq!(send(&get, "").await.body, json("v").into_bytes());
    let put = d.presign(&k, Presign::Put, HOUR).await.unwrap();
    assert_eq!(send(&put, &json("w")).await.status, 200);
    assert_eq!(d.get(&k).await.unwrap(), "w");
}

/// moto does not check the signatures or expiry of presigned requests: whoever holds the
/// URL can leave out `If-None-Match: *` and overwrite, and use it after it expired. The
/// README's server table says so; on SeaweedFS and AWS the same requests are refused (see
/// the SeaweedFS test above).
#[tokio::test]
async fn moto_does_not_check_presigned_signatures() {
    let Some(d) = dict("moto", "presign-moto-signatures", false).await else {
        return;
    };
    let k = Key::try_from("k").unwrap();
    d.put(&k, "kept".into()).await.unwrap();
    let insert = d.presign(&k, Presign::Insert, HOUR).await.unwrap();
    assert_eq!(send(&insert, &json("refused")).await.status, 412);
    let without = without_if_none_match(&insert);
    let a = http::send("PUT", &insert.url, &without, json("overwritten").as_bytes()).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(d.get(&k).await.unwrap(), "overwritten");
    let get = d
        .presign(&k, Presign::Get, Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        send(&get, "").await.status,
        200,
        "expired, and still served"
    );
    d.clear().await.unwrap();
}
