//! Presigned requests: a GET or PUT of one object, signed in advance with the store's
//! credentials, that anyone holding it can send with a plain HTTP client until it
//! expires.
//!
//! | [`Presign`] | request | the holder can |
//! |---|---|---|
//! | `Get` | `GET` | read the object |
//! | `Put` | `PUT`, `Content-Type` and the [object settings](super::settings) signed | write the object, replacing what is there |
//! | `Insert` | the same and `If-None-Match: *` | create the object only: where it exists the server answers `412` and keeps it |
//!
//! Signing is local: no request is sent (an `Insert` makes sure, once per endpoint and
//! bucket, that the server enforces `If-None-Match: *`, which may probe it). The signed
//! headers are part of the signature: the holder must send them as
//! [`PresignedRequest::headers`] lists them, and a server that checks signatures refuses
//! the request (`403`) when one is left out or changed, so an `Insert` cannot be turned
//! into an overwrite. Objects written through a presigned PUT carry no write id: for lost
//! answers they are another client's writes (see the README's Reliability section).
//!
//! SigV4 lets a presigned request live at most 7 days; a longer `expires_in` is an
//! [`Error::Config`]. A request signed with temporary credentials stops working when they
//! expire, whatever `expires_in` says.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;

use super::client::S3Client;
use crate::error::{Error, Result};

/// The longest a presigned request may live (SigV4's limit).
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a presigned request lets its holder do with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Presign {
    /// Read it (`GET`).
    Get,
    /// Write it, replacing whatever is there (`PUT`).
    Put,
    /// Create it only (`PUT` with `If-None-Match: *` signed): where the object exists the
    /// server refuses (`412`) and keeps it.
    #[doc(alias = "create_only")]
    Insert,
}

/// A request signed in advance (see [`S3Store::presign`](super::S3Store::presign)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// `GET` or `PUT`.
    pub method: &'static str,
    /// The URL, with the signature in its query string.
    pub url: String,
    /// The headers the holder must send, exactly: they are signed (`Host` excluded, which
    /// every HTTP client sends from the URL).
    pub headers: Vec<(String, String)>,
    /// How long it is valid from when it was signed.
    pub expires_in: Duration,
}

impl PresignedRequest {
    /// A `curl` command line that sends the request (a PUT reads the body from the file
    /// named `body`, or standard input for `-`).
    pub fn curl(&self, body: &str) -> String {
        let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
        let mut line = format!("curl --fail-with-body -X {}", self.method);
        for (name, value) in &self.headers {
            line.push_str(&format!(" -H {}", quote(&format!("{name}: {value}"))));
        }
        if self.method == "PUT" {
            line.push_str(&format!(" --data-binary {}", quote(&format!("@{body}"))));
        }
        line.push(' ');
        line.push_str(&quote(&self.url));
        line
    }
}

/// Signs `what` on the object `key` (root prefix included) for `expires_in`; a PUT is
/// signed with `content_type`.
pub(crate) async fn sign(
    client: &S3Client,
    key: &str,
    what: Presign,
    content_type: &str,
    expires_in: Duration,
) -> Result<PresignedRequest> {
    if expires_in > MAX_PRESIGNED_EXPIRY || expires_in.is_zero() {
        return Err(Error::Config(format!(
            "a presigned request must expire within 1 s to 7 days, not {expires_in:?}"
        )));
    }
    let config = PresigningConfig::expires_in(expires_in)
        .map_err(|e| Error::Config(format!("presigned request expiry {expires_in:?}: {e}")))?;
    let signed = match what {
        Presign::Get => client
            .sdk
            .get_object()
            .bucket(&client.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| client.error("presign GET", e))?,
        Presign::Put | Presign::Insert => {
            let request = client.objects.apply(
                client
                    .sdk
                    .put_object()
                    .bucket(&client.bucket)
                    .key(key)
                    .content_type(content_type),
            );
            let request = if what == Presign::Insert {
                request.if_none_match("*")
            } else {
                request
            };
            request
                .presigned(config)
                .await
                .map_err(|e| client.error("presign PUT", e))?
        }
    };
    Ok(PresignedRequest {
        method: if what == Presign::Get { "GET" } else { "PUT" },
        url: signed.uri().to_owned(),
        headers: signed
            .headers()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect(),
        expires_in,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curl_lines_quote_what_the_shell_would_read() {
        let r = PresignedRequest {
            method: "PUT",
            url: "http://h/b/k?X-Amz-Signature=ab&x=it's".into(),
            headers: vec![("if-none-match".into(), "*".into())],
            expires_in: Duration::from_secs(60),
        };
        assert_eq!(
            r.curl("-"),
            r"curl --fail-with-body -X PUT -H 'if-none-match: *' --data-binary '@-' 'http://h/b/k?X-Amz-Signature=ab&x=it'\''s'"
        );
    }
}
