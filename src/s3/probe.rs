//! Capability probes: which conditional requests an S3 endpoint really enforces.
//!
//! Each capability is probed once per (endpoint, bucket) per process and shared by every
//! dictionary on them; concurrent first uses wait for one probe. A capability counts as
//! supported only when the server *refused* the request with the wrong ETag (412, or 404
//! where that is the documented answer) *and* left the object intact. An accepted request
//! (200/204) means the header was ignored; 501 or 400 mean it is not implemented.
//!
//! Probe objects are named `<root>/persidict-probe-<random>.probe`: no codec uses the
//! `probe` extension, so no dictionary ever lists them, and they are always removed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_s3::primitives::ByteStream;
use tokio::sync::OnceCell;
use tracing::debug;

use super::classify::{classify, Answer};
use super::Shared;
use crate::dict::Capabilities;
use crate::error::Result;

type Registry = Mutex<HashMap<(String, String), Arc<OnceCell<Capabilities>>>>;

/// The process-wide cell for one (endpoint, bucket).
pub(crate) fn cell(endpoint: &str, bucket: &str) -> Arc<OnceCell<Capabilities>> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    let registry = REGISTRY.get_or_init(Registry::default);
    let mut map = registry.lock().unwrap_or_else(|p| p.into_inner());
    Arc::clone(
        map.entry((endpoint.to_owned(), bucket.to_owned()))
            .or_default(),
    )
}

/// How the server answered a request that carried a wrong precondition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Refused,
    Ignored,
    NotImplemented,
}

/// Probes the four conditional requests against a scratch object under `root`.
pub(crate) async fn probe(shared: &Shared, root: &str) -> Result<Capabilities> {
    let name = format!("{root}persidict-probe-{:016x}.probe", fastrand::u64(..));
    let result = run(shared, &name).await;
    // Always remove the scratch object, whatever happened above.
    let cleanup = shared
        .client
        .delete_object()
        .bucket(&shared.bucket)
        .key(&name)
        .send()
        .await;
    if let Err(e) = cleanup {
        debug!(object = %name, error = ?classify(&e), "probe cleanup failed");
    }
    let caps = result?;
    debug!(endpoint = %shared.endpoint, ?caps, "probed S3 capabilities");
    Ok(caps)
}

async fn run(shared: &Shared, name: &str) -> Result<Capabilities> {
    let c = &shared.client;
    let b = &shared.bucket;
    let wrong = "\"00000000000000000000000000000000\"";
    let mut etag = shared.probe_put(name, b"probe-0").await?;

    // 1. Insert-if-absent on an existing object.
    let answer = c
        .put_object()
        .bucket(b)
        .key(name)
        .if_none_match("*")
        .body(ByteStream::from_static(b"probe-1"))
        .send()
        .await;
    let put_if_absent = judge(answer.map(drop).map_err(|e| classify(&e)), false);
    let put_if_absent = shared.intact(name, &mut etag, put_if_absent).await?;

    // 2. Compare-and-swap with a wrong ETag.
    let answer = c
        .put_object()
        .bucket(b)
        .key(name)
        .if_match(wrong)
        .body(ByteStream::from_static(b"probe-2"))
        .send()
        .await;
    let put_if_match = judge(answer.map(drop).map_err(|e| classify(&e)), true);
    let put_if_match = shared.intact(name, &mut etag, put_if_match).await?;

    // 3. Compare-and-delete with a wrong ETag: the object must survive.
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match(wrong)
        .send()
        .await;
    let delete_if_match = judge(answer.map(drop).map_err(|e| classify(&e)), true);
    let delete_if_match = shared.intact(name, &mut etag, delete_if_match).await?;
    if delete_if_match != Verdict::Refused {
        // The object may be gone: put it back for the last probe.
        etag = shared.probe_put(name, b"probe-3").await?;
    }

    // 4. Revalidating read with the current ETag.
    let answer = c
        .get_object()
        .bucket(b)
        .key(name)
        .if_none_match(etag.as_str())
        .send()
        .await;
    let get_if_none_match = matches!(answer.map_err(|e| classify(&e)), Err(Answer::NotModified));

    // 5. Delete-if-exists: `If-Match: *` must delete an existing object (moto compares the
    //    asterisk literally and refuses) and be refused for an absent one.
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match("*")
        .send()
        .await;
    let deleted_existing = answer.is_ok() && shared.probe_head(name).await?.is_none();
    let answer = c
        .delete_object()
        .bucket(b)
        .key(name)
        .if_match("*")
        .send()
        .await;
    let refused_absent =
        judge(answer.map(drop).map_err(|e| classify(&e)), true) == Verdict::Refused;

    Ok(Capabilities {
        put_if_absent: put_if_absent == Verdict::Refused,
        put_if_match: put_if_match == Verdict::Refused,
        delete_if_match: delete_if_match == Verdict::Refused,
        get_if_none_match,
        delete_if_exists: deleted_existing && refused_absent,
    })
}

/// Classifies the answer to a request with a wrong precondition. `not_found_refuses`: a 404
/// is the documented refusal of `If-Match` (the object exists, so only a server comparing
/// the ETag says it).
fn judge(answer: std::result::Result<(), Answer>, not_found_refuses: bool) -> Verdict {
    match answer {
        Ok(()) => Verdict::Ignored,
        Err(Answer::PreconditionFailed) => Verdict::Refused,
        Err(Answer::NotFound) if not_found_refuses => Verdict::Refused,
        Err(_) => Verdict::NotImplemented,
    }
}

impl Shared {
    /// Checks that a refused request left the object as it was; a "refusal" that changed
    /// the object is no refusal. Updates `etag` to the object's current ETag.
    async fn intact(
        &self,
        name: &str,
        etag: &mut crate::ETag,
        verdict: Verdict,
    ) -> Result<Verdict> {
        let now = self.probe_head(name).await?;
        let intact = now.as_ref() == Some(&*etag);
        if let Some(e) = now {
            *etag = e;
        }
        Ok(if verdict == Verdict::Refused && !intact {
            Verdict::Ignored
        } else {
            verdict
        })
    }
}
