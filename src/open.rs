//! Opening a dictionary from a URL: [`open`] and [`Opened`].
//!
//! | URL | dictionary |
//! |---|---|
//! | `s3://bucket/prefix?endpoint=…&region=…&codec=…&digest_len=N&append_only=true&capabilities=aws` | [`S3Dict`](crate::S3Dict), see [`S3DictBuilder::from_url`](crate::S3DictBuilder::from_url) for every parameter |
//! | `file:///abs/dir?codec=…&digest_len=N&append_only=…&max_value_size=BYTES&lock_timeout_ms=MS` | a [`FileDict`] on `/abs/dir` |
//! | `file://rel/dir?…` | a [`FileDict`] on `rel/dir`, relative to the current directory |
//! | `mem://?codec=…&append_only=…` | a new, empty [`MemDict`] |
//!
//! Parameters common to every scheme: `codec` (`bincode` (default), `json`, `raw`, `text`)
//! and `append_only` (`true`/`false`, default `false`).
//!
//! `file://` URLs have no host: everything between `file://` and `?` is the directory, so
//! three slashes make an absolute path and two a relative one; `%XX` escapes are decoded
//! (write a space as `%20`, `?` as `%3F`, `%` as `%25`). The directory is created if it
//! does not exist, as [`FileDictBuilder::build`](crate::FileDictBuilder::build) does.
//! `digest_len` defaults to 4, `max_value_size` to 1 GiB.
//!
//! `mem://` gives a fresh, empty in-memory dictionary on every call: two opens of `mem://`
//! never share entries (share a [`MemDict`] by cloning it instead). It takes no name or
//! path.
//!
//! Any other URL, an unknown parameter or a bad value is an [`Error::Config`] that names
//! the URL and what is wrong with it; nothing is sent anywhere before the URL is checked.

use crate::codec::Codec;
use crate::dict::{PersiDict, Value};
use crate::error::{Error, Result};
use crate::file::FileDict;
use crate::memory::MemDict;

/// Opens the dictionary a URL names (see the [module docs](self) for the schemes and their
/// parameters), as a plain [`PersiDict`].
///
/// `s3://` loads the AWS configuration but sends no request until the dictionary is used
/// (unless `create_bucket=true`).
///
/// ```
/// # tokio_test::block_on(async {
/// use persidict::prelude::*;
/// let d = persidict::open::<String>("mem://?codec=json").await?;
/// d.put(&Key::try_from("k")?, "v".into()).await?;
/// assert_eq!(d.info().codec, Codec::Json);
/// assert!(persidict::open::<String>("ftp://x").await.is_err());
/// # Ok::<(), persidict::Error>(()) }).unwrap();
/// ```
///
/// # Errors
/// [`Error::Config`] for an unknown scheme, an unknown parameter or a bad value; whatever
/// building the backend reports (for example a failed bucket creation).
pub async fn open<V: Value>(url: &str) -> Result<PersiDict<V>> {
    Ok(Opened::open(url).await?.into_dict())
}

/// A dictionary opened from a URL, keeping its concrete type, for callers that want
/// backend-specific features (an [`S3Dict`](crate::S3Dict)'s request statistics or probe
/// report).
#[derive(Debug)]
#[non_exhaustive]
pub enum Opened<V> {
    /// `mem://`.
    Memory(MemDict<V>),
    /// `file://`.
    File(FileDict<V>),
    /// `s3://`.
    #[cfg(feature = "s3")]
    #[cfg_attr(docsrs, doc(cfg(feature = "s3")))]
    S3(crate::S3Dict<V>),
}

impl<V: Value> Opened<V> {
    /// Opens the dictionary a URL names; see [`open`].
    ///
    /// # Errors
    /// As [`open`].
    pub async fn open(url: &str) -> Result<Opened<V>> {
        let (scheme, _) = url.split_once("://").ok_or_else(|| {
            bad(
                url,
                "not a dictionary URL; use s3://bucket/prefix, file:///path or mem://",
            )
        })?;
        match scheme {
            #[cfg(feature = "s3")]
            "s3" => Ok(Opened::S3(
                crate::S3DictBuilder::from_url(url)?.build().await?,
            )),
            #[cfg(not(feature = "s3"))]
            "s3" => Err(bad(url, "s3:// URLs need the crate's `s3` feature")),
            "mem" => open_memory(url),
            "file" => open_file(url).await,
            other => Err(bad(
                url,
                &format!("unknown scheme {other:?}; use s3://, file:// or mem://"),
            )),
        }
    }

    /// The dictionary as a plain [`PersiDict`].
    pub fn into_dict(self) -> PersiDict<V> {
        match self {
            Opened::Memory(d) => d.into(),
            Opened::File(d) => d.into(),
            #[cfg(feature = "s3")]
            Opened::S3(d) => d.into(),
        }
    }

    /// The dictionary as a plain [`PersiDict`], borrowed.
    pub fn as_dict(&self) -> &PersiDict<V> {
        match self {
            Opened::Memory(d) => d,
            Opened::File(d) => d,
            #[cfg(feature = "s3")]
            Opened::S3(d) => d,
        }
    }
}

fn bad(url: &str, why: &str) -> Error {
    Error::Config(format!("URL {url:?}: {why}"))
}

/// The `?name=value&…` parameters of a URL, and the part before them.
fn split_query(url: &str) -> (&str, Vec<(&str, &str)>) {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let params = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    (path, params)
}

fn parse_codec(url: &str, value: &str) -> Result<Codec> {
    value
        .parse()
        .map_err(|e: crate::codec::CodecError| bad(url, &format!("codec={value:?}: {e}")))
}

/// A boolean URL parameter: `true`/`1`/`yes` or `false`/`0`/`no`.
pub(crate) fn parse_flag(url: &str, name: &str, value: &str) -> Result<bool> {
    match value {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(bad(url, &format!("{name}={value:?} is not true or false"))),
    }
}

fn open_memory<V: Value>(url: &str) -> Result<Opened<V>> {
    let (path, params) = split_query(url);
    let rest = path.strip_prefix("mem://").unwrap_or(path);
    if !rest.is_empty() {
        return Err(bad(
            url,
            &format!(
                "mem:// takes no name or path (found {rest:?}): each open gives a new, empty dictionary"
            ),
        ));
    }
    let mut codec = Codec::default();
    let mut append_only = false;
    for (name, value) in params {
        match name {
            "codec" => codec = parse_codec(url, value)?,
            "append_only" => append_only = parse_flag(url, name, value)?,
            _ => {
                return Err(bad(
                    url,
                    &format!("unknown parameter {name:?} (mem:// takes codec and append_only)"),
                ))
            }
        }
    }
    Ok(Opened::Memory(
        MemDict::new()
            .with_codec(codec)
            .with_append_only(append_only),
    ))
}

async fn open_file<V: Value>(url: &str) -> Result<Opened<V>> {
    let (path, params) = split_query(url);
    let raw = path.strip_prefix("file://").unwrap_or(path);
    if raw.is_empty() {
        return Err(bad(
            url,
            "no directory; use file:///absolute/dir or file://relative/dir",
        ));
    }
    let dir = percent_decode(raw).ok_or_else(|| {
        bad(
            url,
            "bad %-escape in the path (use %XX with two hex digits, giving UTF-8)",
        )
    })?;
    let mut builder = FileDict::builder(dir);
    for (name, value) in params {
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| bad(url, &format!("{name}={v:?} is not a number")))
        };
        builder = match name {
            "codec" => builder.codec(parse_codec(url, value)?),
            "append_only" => builder.append_only(parse_flag(url, name, value)?),
            "digest_len" => builder.digest_len(
                usize::try_from(number(value)?)
                    .map_err(|_| bad(url, &format!("digest_len={value:?} is too large")))?,
            ),
            "max_value_size" => builder.max_value_size(number(value)?),
            "lock_timeout_ms" => {
                builder.lock_timeout(std::time::Duration::from_millis(number(value)?))
            }
            _ => {
                return Err(bad(
                    url,
                    &format!(
                        "unknown parameter {name:?} (file:// takes codec, digest_len, append_only, max_value_size and lock_timeout_ms)"
                    ),
                ))
            }
        };
    }
    builder
        .build()
        .await
        .map(Opened::File)
        .map_err(|e| match e {
            Error::Config(m) => bad(url, &m),
            other => other,
        })
}

/// Decodes `%XX` escapes; `None` for a malformed escape or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_error(url: &str) -> String {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        match rt.block_on(open::<u64>(url)) {
            Err(Error::Config(m)) => m,
            Err(e) => panic!("{url}: not a config error: {e}"),
            Ok(_) => panic!("{url}: opened"),
        }
    }

    #[test]
    fn bad_urls_name_the_problem() {
        assert!(config_error("nothing").contains("not a dictionary URL"));
        assert!(config_error("ftp://host/x").contains("unknown scheme \"ftp\""));
        assert!(config_error("mem://name").contains("takes no name"));
        assert!(config_error("mem://?codec=yaml").contains("unknown codec"));
        assert!(config_error("mem://?append_only=maybe").contains("not true or false"));
        assert!(config_error("mem://?digest_len=2").contains("unknown parameter \"digest_len\""));
        assert!(config_error("s3://?codec=json").contains("no bucket"));
        assert!(config_error("s3://b?colour=red").contains("unknown parameter"));
        assert!(config_error("mem://?x").contains("\"mem://?x\""));
        assert!(config_error("file://").contains("no directory"));
        assert!(config_error("file:///tmp/x%zz").contains("%-escape"));
        assert!(config_error("file:///tmp/x?digest_len=x").contains("not a number"));
        assert!(config_error("file:///tmp/x?digest_len=99").contains("digest_len"));
        assert!(config_error("file:///tmp/x?region=eu").contains("unknown parameter"));
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("a%20b%2F").as_deref(), Some("a b/"));
        assert_eq!(percent_decode("%"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn file_urls_open_the_directory() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let tmp = tempfile::tempdir().expect("tempdir");
        let url = format!(
            "file://{}/my%20dir?codec=json&digest_len=0&append_only=true",
            tmp.path().display()
        );
        let d = rt.block_on(open::<u32>(&url)).expect("opens");
        let info = d.info();
        assert_eq!(
            (info.backend, info.codec, info.append_only),
            ("file", Codec::Json, true)
        );
        let k = crate::Key::try_from("k").expect("key");
        rt.block_on(d.put(&k, 7)).expect("put");
        assert_eq!(
            std::fs::read(tmp.path().join("my dir/k.json")).expect("file"),
            b"7"
        );
    }

    #[test]
    fn memory_urls_apply_their_parameters() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let d = rt
            .block_on(open::<String>("mem://?codec=text&append_only=true"))
            .expect("opens");
        let info = d.info();
        assert_eq!(
            (info.backend, info.codec, info.append_only),
            ("memory", Codec::Text, true)
        );
    }
}
