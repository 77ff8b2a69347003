//! Keys: validated sequences of safe parts, how they become object names, and the
//! reversible escaping ([`escape_part`], [`Key::escaped`]) that makes any string a part.

use std::fmt;

pub mod escape;

pub use escape::{escape_part, unescape_part, ESCAPE_CHAR};

use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};

/// The longest key part, in characters.
pub const MAX_PART_LEN: usize = 200;
/// The longest object name S3 accepts, in bytes.
pub const MAX_OBJECT_NAME_LEN: usize = 1024;
/// The longest signature suffix: the length of an unpadded base32 SHA-256 digest.
pub const MAX_DIGEST_LEN: usize = 52;
/// The default signature length (`digest_len`).
pub const DEFAULT_DIGEST_LEN: usize = 4;

/// The rule a key part broke; carried by [`InvalidKey`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyRule {
    /// A key needs at least one part.
    NoParts,
    /// A part must not be empty.
    EmptyPart,
    /// A part is at most [`MAX_PART_LEN`] characters.
    TooLong {
        /// The part's length.
        len: usize,
    },
    /// A part may only hold `A-Z a-z 0-9 ( ) _ - ~ . =`.
    ForbiddenChar {
        /// The first character that is not allowed.
        ch: char,
    },
    /// `.` and `..` are not parts.
    DotPart,
    /// The whole object name must fit S3's 1024-byte limit.
    ObjectNameTooLong {
        /// The object name's length in bytes.
        len: usize,
    },
    /// [`escape_part`] would make a part over [`MAX_PART_LEN`] characters of this string
    /// (each byte outside `A-Z a-z 0-9 ( ) _ - ~ .` takes three).
    EscapedTooLong {
        /// The escaped part's length.
        len: usize,
    },
}

impl fmt::Display for KeyRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRule::NoParts => write!(f, "a key needs at least one part"),
            KeyRule::EmptyPart => write!(f, "a part must not be empty"),
            KeyRule::TooLong { len } => {
                write!(
                    f,
                    "a part is at most {MAX_PART_LEN} characters, this one has {len}"
                )
            }
            KeyRule::ForbiddenChar { ch } => write!(
                f,
                "character {ch:?} is not allowed; a part may only hold A-Z a-z 0-9 ( ) _ - ~ . ="
            ),
            KeyRule::DotPart => write!(f, "\".\" and \"..\" are not allowed as parts"),
            KeyRule::ObjectNameTooLong { len } => write!(
                f,
                "the object name would be {len} bytes, over S3's limit of {MAX_OBJECT_NAME_LEN}"
            ),
            KeyRule::EscapedTooLong { len } => write!(
                f,
                "escaped, this part would be {len} characters, over the limit of {MAX_PART_LEN} \
                 (each byte outside A-Z a-z 0-9 ( ) _ - ~ . takes three)"
            ),
        }
    }
}

/// A key (or key part) that breaks the naming rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid key part {part:?}: {rule}")]
pub struct InvalidKey {
    /// The offending part (or the whole key, joined with `/`, for length limits).
    pub part: String,
    /// The rule it broke.
    pub rule: KeyRule,
}

fn allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '(' | ')' | '_' | '-' | '~' | '.' | '=')
}

/// Checks one key part against the naming rules.
pub fn validate_part(part: &str) -> Result<(), InvalidKey> {
    let fail = |rule| {
        Err(InvalidKey {
            part: part.to_owned(),
            rule,
        })
    };
    if part.is_empty() {
        return fail(KeyRule::EmptyPart);
    }
    if let Some(ch) = part.chars().find(|&c| !allowed_char(c)) {
        return fail(KeyRule::ForbiddenChar { ch });
    }
    // All characters are ASCII from here on, so bytes == characters.
    if part.len() > MAX_PART_LEN {
        return fail(KeyRule::TooLong { len: part.len() });
    }
    if part == "." || part == ".." {
        return fail(KeyRule::DotPart);
    }
    Ok(())
}

/// A dictionary key: a non-empty sequence of parts, each 1 to 200 characters from
/// `A-Z a-z 0-9 ( ) _ - ~ . =` and neither `.` nor `..`.
///
/// Keys are case-sensitive. Build them with [`Key::new`] or `TryFrom` from safe parts, or
/// with [`Key::escaped`] from arbitrary strings (see [`escape_part`]):
///
/// ```
/// use persidict::Key;
/// let a = Key::new(["users", "42"])?;
/// let b = Key::try_from("config")?;
/// let c = Key::parse_path("users/42")?;
/// let d: Key = "users/42".parse()?;
/// assert_eq!(a, c);
/// assert_eq!(c, d);
/// assert_eq!(Key::try_from("users/42")?, d);
/// assert_eq!(b.parts(), ["config"]);
/// assert!(Key::new(["../etc"]).is_err());
/// # Ok::<(), persidict::InvalidKey>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    parts: Vec<String>,
}

impl Key {
    /// A key from its parts; every part is validated.
    pub fn new<I, S>(parts: I) -> Result<Self, InvalidKey>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let parts: Vec<String> = parts.into_iter().map(Into::into).collect();
        if parts.is_empty() {
            return Err(InvalidKey {
                part: String::new(),
                rule: KeyRule::NoParts,
            });
        }
        for p in &parts {
            validate_part(p)?;
        }
        Ok(Key { parts })
    }

    /// A key from a `/`-separated path such as `users/42`.
    pub fn parse_path(path: &str) -> Result<Self, InvalidKey> {
        Key::new(path.split('/'))
    }

    /// The parts, in order.
    pub fn parts(&self) -> &[String] {
        &self.parts
    }

    /// The number of parts (at least one).
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Always false: a key has at least one part. Present for symmetry with `len`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// This key with `prefix`'s parts put in front.
    pub fn prefixed(&self, prefix: &[String]) -> Key {
        let mut parts = Vec::with_capacity(prefix.len() + self.parts.len());
        parts.extend_from_slice(prefix);
        parts.extend_from_slice(&self.parts);
        Key { parts }
    }

    /// This key without its first `n` parts, if `prefix` matches them and a part remains.
    pub fn strip_prefix(&self, prefix: &[String]) -> Option<Key> {
        if self.parts.len() > prefix.len() && self.parts[..prefix.len()] == *prefix {
            Some(Key {
                parts: self.parts[prefix.len()..].to_vec(),
            })
        } else {
            None
        }
    }

    /// The parts joined with `/`.
    pub fn to_path(&self) -> String {
        self.parts.join("/")
    }

    pub(crate) fn from_validated(parts: Vec<String>) -> Key {
        debug_assert!(!parts.is_empty());
        Key { parts }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_path())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({:?})", self.to_path())
    }
}

impl std::str::FromStr for Key {
    type Err = InvalidKey;
    /// A key from a `/`-separated path: `"users/42".parse()` is `["users", "42"]`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Key::parse_path(s)
    }
}

impl TryFrom<&str> for Key {
    type Error = InvalidKey;
    /// A key from a `/`-separated path, as [`Key::parse_path`]: `"users/42"` has two
    /// parts, `"config"` one.
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Key::parse_path(s)
    }
}

impl TryFrom<String> for Key {
    type Error = InvalidKey;
    /// As `TryFrom<&str>`: a `/`-separated path.
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Key::parse_path(&s)
    }
}

impl TryFrom<&String> for Key {
    type Error = InvalidKey;
    /// As `TryFrom<&str>`: a `/`-separated path.
    fn try_from(s: &String) -> Result<Self, Self::Error> {
        Key::parse_path(s)
    }
}

impl<S: Into<String> + Clone, const N: usize> TryFrom<[S; N]> for Key {
    type Error = InvalidKey;
    fn try_from(parts: [S; N]) -> Result<Self, Self::Error> {
        Key::new(parts)
    }
}

impl<S: Into<String> + Clone> TryFrom<&[S]> for Key {
    type Error = InvalidKey;
    fn try_from(parts: &[S]) -> Result<Self, Self::Error> {
        Key::new(parts.iter().cloned())
    }
}

impl<S: Into<String>> TryFrom<Vec<S>> for Key {
    type Error = InvalidKey;
    fn try_from(parts: Vec<S>) -> Result<Self, Self::Error> {
        Key::new(parts)
    }
}

impl From<&Key> for Key {
    fn from(k: &Key) -> Key {
        k.clone()
    }
}

/// Lowercase unpadded base32 of the SHA-256 of `part`, cut to `digest_len` characters.
fn digest(part: &str, digest_len: usize) -> String {
    let hash = Sha256::digest(part.as_bytes());
    let mut s = BASE32_NOPAD.encode(&hash);
    s.truncate(digest_len);
    s.make_ascii_lowercase();
    s
}

/// Signs one part: appends `_` and a `digest_len`-character digest. With `digest_len == 0`
/// the part is returned unchanged (the unsigned layout).
///
/// The suffix is always appended, so `sign("abc")` and `sign("abc_<digest>")` differ and
/// signing is injective.
pub fn sign_part(part: &str, digest_len: usize) -> String {
    if digest_len == 0 {
        return part.to_owned();
    }
    let mut s = String::with_capacity(part.len() + 1 + digest_len);
    s.push_str(part);
    s.push('_');
    s.push_str(&digest(part, digest_len));
    s
}

/// Reverses [`sign_part`]: strips exactly one suffix after verifying it. `None` when the
/// name is not a valid signed part (a foreign object).
pub fn unsign_part(name: &str, digest_len: usize) -> Option<String> {
    let part = if digest_len == 0 {
        name
    } else {
        let cut = name.len().checked_sub(digest_len + 1)?;
        if !name.is_char_boundary(cut) || name.as_bytes()[cut] != b'_' {
            return None;
        }
        let (part, suffix) = (&name[..cut], &name[cut + 1..]);
        if digest(part, digest_len) != suffix {
            return None;
        }
        part
    };
    validate_part(part).ok()?;
    Some(part.to_owned())
}

/// How keys become object names under one root prefix:
/// `<root>/<signed part 1>/.../<signed part n>.<extension>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naming {
    root: String,
    digest_len: usize,
    extension: String,
}

impl Naming {
    /// A naming scheme. `root` is a `/`-separated prefix (may be empty; its parts follow the
    /// key-part rules but are not signed); `digest_len` is at most [`MAX_DIGEST_LEN`].
    pub fn new(root: &str, digest_len: usize, extension: &str) -> Result<Self, InvalidKey> {
        if digest_len > MAX_DIGEST_LEN {
            return Err(InvalidKey {
                part: format!("digest_len={digest_len}"),
                rule: KeyRule::TooLong { len: digest_len },
            });
        }
        let trimmed = root.trim_matches('/');
        let mut root = String::new();
        if !trimmed.is_empty() {
            for p in trimmed.split('/') {
                validate_part(p)?;
            }
            root.push_str(trimmed);
            root.push('/');
        }
        validate_part(extension)?;
        Ok(Naming {
            root,
            digest_len,
            extension: extension.to_owned(),
        })
    }

    /// The root prefix, empty or ending in `/`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The signature length.
    pub fn digest_len(&self) -> usize {
        self.digest_len
    }

    /// The object-name extension (without the dot).
    pub fn extension(&self) -> &str {
        &self.extension
    }

    /// The object-name prefix of a subdictionary (ends in `/`), below the root.
    pub fn dir_prefix(&self, parts: &[String]) -> String {
        let mut s = self.root.clone();
        for p in parts {
            s.push_str(&sign_part(p, self.digest_len));
            s.push('/');
        }
        s
    }

    /// The object name of `key`; checks S3's 1024-byte limit.
    pub fn object_name(&self, key: &Key) -> Result<String, InvalidKey> {
        self.object_name_within(key, MAX_OBJECT_NAME_LEN)
    }

    /// The object name of `key`, at most `max_len` bytes (what is left of S3's 1024 below
    /// a store's root and a subdictionary's prefix).
    pub fn object_name_within(&self, key: &Key, max_len: usize) -> Result<String, InvalidKey> {
        let mut s = self.root.clone();
        for (i, p) in key.parts().iter().enumerate() {
            if i > 0 {
                s.push('/');
            }
            s.push_str(&sign_part(p, self.digest_len));
        }
        s.push('.');
        s.push_str(&self.extension);
        if s.len() > max_len {
            return Err(InvalidKey {
                part: key.to_path(),
                rule: KeyRule::ObjectNameTooLong {
                    len: s.len() + MAX_OBJECT_NAME_LEN - max_len.min(MAX_OBJECT_NAME_LEN),
                },
            });
        }
        Ok(s)
    }

    /// The key an object name stands for, or `None` for any name this scheme did not make
    /// (another root, another extension, a signature that does not verify).
    pub fn parse_object_name(&self, name: &str) -> Option<Key> {
        let rest = name.strip_prefix(self.root.as_str())?;
        let rest = rest.strip_suffix(self.extension.as_str())?;
        let rest = rest.strip_suffix('.')?;
        let parts = rest
            .split('/')
            .map(|p| unsign_part(p, self.digest_len))
            .collect::<Option<Vec<_>>>()?;
        Some(Key::from_validated(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_the_part() {
        let e = Key::new(["ok", "no/slash"]).unwrap_err();
        assert_eq!(e.part, "no/slash");
        assert_eq!(e.rule, KeyRule::ForbiddenChar { ch: '/' });
        assert_eq!(Key::new([""]).unwrap_err().rule, KeyRule::EmptyPart);
        assert_eq!(Key::new([".."]).unwrap_err().rule, KeyRule::DotPart);
        assert_eq!(Key::new(["."]).unwrap_err().rule, KeyRule::DotPart);
        assert_eq!(
            Key::new(Vec::<String>::new()).unwrap_err().rule,
            KeyRule::NoParts
        );
        assert_eq!(
            Key::new(["é"]).unwrap_err().rule,
            KeyRule::ForbiddenChar { ch: 'é' }
        );
        assert_eq!(
            Key::new(["a\n"]).unwrap_err().rule,
            KeyRule::ForbiddenChar { ch: '\n' }
        );
        let long = "x".repeat(201);
        assert_eq!(
            Key::new([long]).unwrap_err().rule,
            KeyRule::TooLong { len: 201 }
        );
        assert!(Key::new(["x".repeat(200)]).is_ok());
        assert!(Key::new(["A-z_0.9(~)="]).is_ok());
    }

    #[test]
    fn suffix_is_always_appended() {
        let s = sign_part("abc", 4);
        assert_eq!(s.len(), 8);
        assert_ne!(sign_part(&s, 4), s);
        assert_eq!(
            unsign_part(&sign_part(&s, 4), 4).as_deref(),
            Some(s.as_str())
        );
        assert_eq!(unsign_part("abc_zzzz", 4), None);
        assert_eq!(sign_part("abc", 0), "abc");
    }

    #[test]
    fn object_names() {
        let n = Naming::new("/root/x/", 0, "json").unwrap();
        let k = Key::new(["a", "b.json"]).unwrap();
        assert_eq!(n.object_name(&k).unwrap(), "root/x/a/b.json.json");
        assert_eq!(n.parse_object_name("root/x/a/b.json.json"), Some(k));
        assert_eq!(n.parse_object_name("root/x/a/b.txt"), None);
        assert_eq!(n.parse_object_name("root/y/a.json"), None);
        assert_eq!(n.parse_object_name("root/x/.json"), None);
        assert_eq!(n.parse_object_name("root/x//a.json"), None);
        let long = Key::new(vec!["x".repeat(200); 6]).unwrap();
        assert!(matches!(
            n.object_name(&long).unwrap_err().rule,
            KeyRule::ObjectNameTooLong { .. }
        ));
        assert!(Naming::new("a/../b", 4, "json").is_err());
    }
}
