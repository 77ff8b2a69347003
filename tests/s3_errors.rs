//! Typed, one-line errors for a misconfigured S3 client: rejected credentials, a missing
//! bucket, a wrong region, an endpoint that does not speak S3, a host that does not
//! resolve, a refused connection, a failed TLS handshake. The answers that are hard to get
//! from a real server come from tiny HTTP servers started here on 127.0.0.1.

mod common;

use std::error::Error as _;
use std::time::Duration;

use aws_sdk_s3::config::retry::RetryConfig;
use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::{Capabilities, S3Dict};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

async fn sdk_config(secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            "test", secret, None, None, "tests",
        ))
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .load()
        .await
}

/// A dictionary on `url` with test credentials (secret `secret`), one attempt per request
/// and declared capabilities (no probe).
async fn dict_with(url: &str, bucket: &str, secret: &str) -> S3Dict<String> {
    S3Dict::builder(bucket)
        .sdk_config(sdk_config(secret).await)
        .endpoint_url(url)
        .root_prefix(common::fresh_prefix("errors"))
        .capabilities(Capabilities::ALL)
        .attempt_timeout(Duration::from_secs(5))
        .retry_config(RetryConfig::standard().with_max_attempts(1))
        .build()
        .await
        .expect("building sends nothing")
}

async fn dict(url: &str) -> S3Dict<String> {
    dict_with(url, "persidict-test", "test").await
}

/// A server on 127.0.0.1 that answers every request with `response` (a whole HTTP/1.1
/// answer, `Connection: close`) once it has read the request head and body; a TLS hello
/// (first byte 0x16) gets the same bytes at once. Its `http://` URL.
async fn answering(response: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    if seen[0] == 0x16 || complete(&seen) {
                        break;
                    }
                }
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
                // Let the client read the answer before the socket goes away.
                tokio::time::sleep(Duration::from_millis(200)).await;
            });
        }
    });
    url
}

/// Whether `seen` holds a whole request: the head and `Content-Length` bytes of body.
fn complete(seen: &[u8]) -> bool {
    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    seen.len() >= end + 4 + length
}

fn http(status: &str, content_type: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Checks that `e` prints as one line, has a cause chain where expected, and shows it.
fn one_line(what: &str, e: &Error) -> String {
    let line = e.to_string();
    assert!(!line.contains('\n'), "{what}: {line}");
    assert!(
        !line.contains("DispatchFailure"),
        "{what}: a Debug dump: {line}"
    );
    assert!(
        !line.contains("ConnectorError"),
        "{what}: a Debug dump: {line}"
    );
    eprintln!("{what}: {line}");
    line
}

#[tokio::test]
async fn local_server_html_endpoint_is_not_s3() {
    let page = "<!DOCTYPE html><html><body><h1>It works!</h1></body></html>";
    let url = answering(http("200 OK", "text/html; charset=utf-8", "", page)).await;
    let d = dict(&url).await;
    let k = Key::try_from("k").unwrap();
    let e = d.get(&k).await.expect_err("get");
    assert!(matches!(e, Error::NotS3 { .. }), "{e:?}");
    one_line("get on an HTML server", &e);
    let e = d.keys().try_collect::<Vec<_>>().await.expect_err("keys");
    assert!(matches!(e, Error::NotS3 { .. }), "{e:?}");
    one_line("keys on an HTML server", &e);
    let e = d.put(&k, "v".into()).await.expect_err("put");
    assert!(matches!(e, Error::NotS3 { .. }), "{e:?}");
    assert!(!e.is_retryable());
    // A web server's 404 page is not a missing key.
    let url = answering(http("404 Not Found", "text/html", "", page)).await;
    let e = dict(&url).await.get(&k).await.expect_err("get");
    assert!(matches!(e, Error::NotS3 { .. }), "{e:?}");
}

#[tokio::test]
async fn local_server_permanent_redirect_names_the_region() {
    // S3's answer to a request for a bucket in another region; the region is in the
    // <Endpoint> only (no x-amz-bucket-region header here).
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>PermanentRedirect</Code>\
                <Message>The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.</Message>\
                <Endpoint>persidict-test.s3.eu-west-1.amazonaws.com</Endpoint><Bucket>persidict-test</Bucket>\
                <RequestId>R1</RequestId></Error>";
    let url = answering(http("301 Moved Permanently", "application/xml", "", body)).await;
    let d = dict(&url).await;
    let e = d.get(&Key::try_from("k").unwrap()).await.expect_err("get");
    match &e {
        Error::WrongRegion { region, .. } => assert_eq!(region.as_deref(), Some("eu-west-1")),
        other => panic!("{other:?}"),
    }
    assert!(one_line("301", &e).contains("use region=eu-west-1"));
    // With the header, on a listing.
    let url = answering(http(
        "301 Moved Permanently",
        "application/xml",
        "x-amz-bucket-region: ap-south-1\r\n",
        body,
    ))
    .await;
    let e = dict(&url).await.len().await.expect_err("len");
    match &e {
        Error::WrongRegion { region, .. } => assert_eq!(region.as_deref(), Some("ap-south-1")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn local_server_authorization_header_malformed_names_the_region() {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AuthorizationHeaderMalformed</Code>\
                <Message>The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'</Message>\
                <Region>eu-central-1</Region><RequestId>R2</RequestId></Error>";
    let url = answering(http("400 Bad Request", "application/xml", "", body)).await;
    let d = dict(&url).await;
    let k = Key::try_from("k").unwrap();
    let e = d.get(&k).await.expect_err("get");
    match &e {
        Error::WrongRegion { region, .. } => {
            assert_eq!(region.as_deref(), Some("eu-central-1"))
        }
        other => panic!("{other:?}"),
    }
    assert!(one_line("400 AuthorizationHeaderMalformed", &e).contains("use region=eu-central-1"));
    // On a conditional write too: a 400 there is not a missing capability.
    let e = d.insert(&k, "v".into()).await.expect_err("insert");
    assert!(matches!(e, Error::WrongRegion { .. }), "{e:?}");
}

#[tokio::test]
async fn local_server_tls_to_a_plain_http_server_fails_the_handshake() {
    let url = answering(http("200 OK", "text/html", "", "<html></html>")).await;
    let url = url.replace("http://", "https://");
    let e = dict(&url)
        .await
        .get(&Key::try_from("k").unwrap())
        .await
        .expect_err("get");
    match &e {
        Error::Unreachable { reason, .. } => assert!(reason.contains("TLS"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(e.source().is_some(), "the cause is kept");
    one_line("TLS", &e);
}

#[tokio::test]
async fn local_server_unresolvable_host_and_refused_connection() {
    // `.invalid` never resolves (RFC 2606): no traffic leaves the machine.
    let d = dict("http://nonexistent.invalid:9").await;
    let e = d.get(&Key::try_from("k").unwrap()).await.expect_err("get");
    match &e {
        Error::Unreachable { reason, .. } => assert!(reason.contains("resolve"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(e.source().is_some());
    one_line("DNS", &e);

    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let d = dict(&format!("http://127.0.0.1:{port}")).await;
    let e = d.get(&Key::try_from("k").unwrap()).await.expect_err("get");
    match &e {
        Error::Unreachable { reason, .. } => assert!(reason.contains("refused"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable(), "the server may be starting");
    one_line("refused", &e);
    // A conditional write whose request never left is not "unknown".
    let e = d
        .insert(&Key::try_from("k").unwrap(), "v".into())
        .await
        .expect_err("insert");
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
}

#[tokio::test]
async fn seaweedfs_wrong_credentials_are_rejected() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d = dict_with(&s.url, common::BUCKET, "wrong").await;
    let k = Key::try_from("k").unwrap();
    let e = d.get(&k).await.expect_err("get");
    match &e {
        Error::PermissionDenied { message, .. } => {
            assert!(message.contains("credentials were rejected"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    one_line("wrong credentials", &e);
    let e = d.put(&k, "v".into()).await.expect_err("put");
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
}

async fn missing_bucket(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let bucket = format!("persidict-missing-{:08x}", fastrand::u32(..));
    let d = dict_with(&s.url, &bucket, "test").await;
    let k = Key::try_from("k").unwrap();
    let e = d.get(&k).await.expect_err("get");
    assert!(matches!(e, Error::BucketNotFound { .. }), "{e:?}");
    one_line("missing bucket", &e);
    let e = d.len().await.expect_err("len");
    assert!(matches!(e, Error::BucketNotFound { .. }), "{e:?}");
    if server != "seaweedfs" {
        // SeaweedFS creates a missing bucket on the first PUT into it.
        let e = d.put(&k, "v".into()).await.expect_err("put");
        assert!(matches!(e, Error::BucketNotFound { .. }), "{e:?}");
    }
}

#[tokio::test]
async fn seaweedfs_missing_bucket() {
    missing_bucket("seaweedfs").await;
}

#[tokio::test]
async fn moto_missing_bucket() {
    missing_bucket("moto").await;
}

/// The command-line tool with no credentials anywhere says so, on one line.
#[cfg(feature = "cli")]
#[test]
fn local_server_cli_without_credentials_says_none_were_found() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("s3://persidict-test/p?endpoint=http://127.0.0.1:{port}");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_persidict"));
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ] {
        cmd.env_remove(var);
    }
    let out = cmd
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["ls", &url])
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stderr}");
    assert!(!out.status.success());
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("persidict: "), "{stderr}");
    assert!(stderr.contains("no AWS credentials were found"), "{stderr}");
    assert!(!stderr.contains("DispatchFailure"), "{stderr}");
}
