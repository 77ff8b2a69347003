//! Reversible escaping of arbitrary strings into key parts.
//!
//! A key part may only hold `A-Z a-z 0-9 ( ) _ - ~ . =`, must be 1..=200 characters and
//! must not be `.` or `..`. [`escape_part`] turns *any* UTF-8 string (an e-mail address, a
//! URL, a path with spaces, text in any script, the empty string, `.` and `..`) into such a
//! part, and [`unescape_part`] turns it back. [`Key::escaped`] and [`Key::unescaped_parts`]
//! do the same for whole keys.
//!
//! # The rule
//!
//! An *escape sequence* is `=` followed by two characters from `0-9 A-F` (uppercase hex),
//! such as `=2F`. The *safe* characters are the ones a part may hold.
//!
//! 1. **Literal.** A string that is already a valid part (only safe characters, 1..=200 of
//!    them, not `.` or `..`) and contains no escape sequence is returned unchanged. So
//!    every key made of such parts, including every key of the Python layout that has no
//!    `=HH` in it, keeps its name.
//! 2. **Encoded.** Any other string is written byte by byte over its UTF-8 encoding: a safe
//!    byte other than `=` stands for itself; every other byte, and every `=`, becomes `=HH`
//!    with the byte's value in uppercase hex. Two inputs need a special form: the parts `.`
//!    and `..` write their dots as `=2E` (`=2E`, `=2E=2E`), and the empty string is written
//!    `=FF`. The byte `0xFF` never occurs in UTF-8, so no other string is written `=FF`.
//! 3. **Length.** When the result is over [`MAX_PART_LEN`] characters the input cannot be
//!    a part: [`escape_part`] returns an [`InvalidKey`] naming the input, with
//!    [`KeyRule::EscapedTooLong`]. Encoding triples every escaped byte, so a part holds up
//!    to 200 safe characters but only 66 bytes of others (22 characters of CJK text, which
//!    take three bytes each in UTF-8).
//!
//! A safe string that merely *looks* escaped is encoded, so it does not collide with the
//! string it looks like: `a=20b` (literal-looking, but `=20` is an escape sequence) becomes
//! `a=3D20b`, while `a b` becomes `a=20b`. Lowercase hex is not an escape sequence, so
//! `a=ff` stays `a=ff`.
//!
//! # Why it is injective
//!
//! Call an output *literal* if rule 1 produced it and *encoded* otherwise.
//!
//! - A literal output contains no escape sequence and equals its input, so two different
//!   inputs never give the same literal output.
//! - An encoded output always contains an escape sequence: its input either has a byte
//!   outside the safe set (written `=HH`), or contains an escape sequence and so a `=`
//!   (written `=3D`), or is empty (`=FF`), `.` or `..` (`=2E`). So no encoded output
//!   equals a literal one.
//! - In an encoded output every `=` starts an escape sequence (a literal `=` is always
//!   written `=3D`) and every other character is one byte. Reading it left to right is
//!   therefore unambiguous and gives back the input's UTF-8 bytes, except for `=FF`, whose
//!   byte `0xFF` is the encoding of no string and which stands for the empty string alone.
//!   So two different inputs never give the same encoded output either.
//!
//! [`unescape_part`] reads a part this way and then checks that escaping the result gives
//! the part back, so it accepts exactly the outputs of [`escape_part`] and is their
//! inverse: `unescape_part(p) == Some(s)` if and only if `escape_part(s) == Ok(p)`. A part
//! that no string escapes to (`a=3D`: `a=` escapes to itself) gives `None`.

use super::{validate_part, InvalidKey, Key, KeyRule, MAX_PART_LEN};

/// The escape character of [`escape_part`]: `=` followed by two uppercase hex digits.
pub const ESCAPE_CHAR: char = '=';

/// How [`escape_part`] writes the empty string: `0xFF` is never a byte of UTF-8.
const EMPTY_PART: &str = "=FF";

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// A safe byte that stands for itself in the encoded form (every safe one but `=`).
fn literal_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'(' | b')' | b'_' | b'-' | b'~' | b'.')
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `s` holds `=` followed by two uppercase hex digits anywhere.
fn has_escape_sequence(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| {
        w[0] == ESCAPE_CHAR as u8 && hex_value(w[1]).is_some() && hex_value(w[2]).is_some()
    })
}

fn push_escaped(out: &mut String, b: u8) {
    out.push(ESCAPE_CHAR);
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0F)]));
}

/// Escapes any string into a valid key part, reversibly (see the [module docs](crate::key::escape) for
/// the rule and why it is injective).
///
/// A valid part without an escape sequence (`=` and two uppercase hex digits) comes back
/// unchanged; anything else is encoded with `=HH` per UTF-8 byte. The one error is a
/// result over [`MAX_PART_LEN`] characters: an [`InvalidKey`] whose `part` is the input
/// and whose rule is [`KeyRule::EscapedTooLong`].
///
/// ```
/// use persidict::key::{escape_part, unescape_part};
///
/// assert_eq!(escape_part("users")?, "users"); // safe: unchanged
/// assert_eq!(escape_part("ann@example.com")?, "ann=40example.com");
/// assert_eq!(escape_part("my file.txt")?, "my=20file.txt");
/// assert_eq!(escape_part("")?, "=FF");
/// assert_eq!(escape_part("..")?, "=2E=2E");
/// assert_eq!(escape_part("a=20b")?, "a=3D20b"); // looks escaped: its `=` is escaped
/// assert_eq!(unescape_part("ann=40example.com").as_deref(), Some("ann@example.com"));
/// assert!(escape_part(&"é".repeat(100)).is_err()); // 600 characters escaped
/// # Ok::<(), persidict::InvalidKey>(())
/// ```
#[doc(alias = "percent_encode")]
#[doc(alias = "quote")]
pub fn escape_part(s: &str) -> Result<String, InvalidKey> {
    if validate_part(s).is_ok() && !has_escape_sequence(s) {
        return Ok(s.to_owned());
    }
    let out = if s.is_empty() {
        EMPTY_PART.to_owned()
    } else if s == "." || s == ".." {
        "=2E".repeat(s.len())
    } else {
        let mut out = String::with_capacity(s.len() * 3);
        for &b in s.as_bytes() {
            if literal_byte(b) {
                out.push(char::from(b));
            } else {
                push_escaped(&mut out, b);
            }
        }
        out
    };
    // Only ASCII is pushed, so bytes == characters.
    if out.len() > MAX_PART_LEN {
        return Err(InvalidKey {
            part: s.to_owned(),
            rule: KeyRule::EscapedTooLong { len: out.len() },
        });
    }
    Ok(out)
}

/// The string `part` is the escape of, or `None` when [`escape_part`] gives `part` for no
/// string (it is not a valid part, or it holds an escape sequence but is not in the
/// encoded form [`escape_part`] writes, such as `a=3D`, `=3d` or `=C3`).
///
/// A valid part without an escape sequence is its own unescape. Exactly inverse to
/// [`escape_part`]: `unescape_part(p) == Some(s)` if and only if `escape_part(s) == Ok(p)`.
///
/// ```
/// use persidict::key::unescape_part;
///
/// assert_eq!(unescape_part("users").as_deref(), Some("users"));
/// assert_eq!(unescape_part("a=2Fb").as_deref(), Some("a/b"));
/// assert_eq!(unescape_part("=E6=97=A5").as_deref(), Some("日"));
/// assert_eq!(unescape_part("=FF").as_deref(), Some(""));
/// assert_eq!(unescape_part("a=3D"), None); // `a=` escapes to itself
/// assert_eq!(unescape_part("a b"), None); // not a part
/// ```
#[doc(alias = "percent_decode")]
#[doc(alias = "unquote")]
pub fn unescape_part(part: &str) -> Option<String> {
    validate_part(part).ok()?;
    if !has_escape_sequence(part) {
        return Some(part.to_owned());
    }
    if part == EMPTY_PART {
        return Some(String::new());
    }
    let bytes = part.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == ESCAPE_CHAR as u8 {
            let hi = hex_value(*bytes.get(i + 1)?)?;
            let lo = hex_value(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let s = String::from_utf8(out).ok()?;
    // Only the canonical form is accepted, so that unescaping is injective too.
    (escape_part(&s).ok()? == part).then_some(s)
}

impl Key {
    /// A key whose parts are arbitrary strings, each escaped with [`escape_part`]: e-mail
    /// addresses, URLs, paths with spaces, any script, even `""`, `.` and `..`. Parts that
    /// are already valid and hold no escape sequence (`=` and two uppercase hex digits)
    /// are kept as they are, so `Key::escaped(["users", "42"])` equals
    /// `Key::new(["users", "42"])`.
    ///
    /// Errors: no parts ([`KeyRule::NoParts`]), or a part too long once escaped
    /// ([`KeyRule::EscapedTooLong`], naming the unescaped input).
    ///
    /// ```
    /// use persidict::Key;
    ///
    /// let k = Key::escaped(["users", "ann@example.com", "notes/2024 Q1.txt"])?;
    /// assert_eq!(k.to_path(), "users/ann=40example.com/notes=2F2024=20Q1.txt");
    /// assert_eq!(
    ///     k.unescaped_parts().unwrap(),
    ///     ["users", "ann@example.com", "notes/2024 Q1.txt"]
    /// );
    /// assert_eq!(Key::escaped(["users", "42"])?, Key::new(["users", "42"])?);
    /// # Ok::<(), persidict::InvalidKey>(())
    /// ```
    #[doc(alias = "from_strings")]
    pub fn escaped<I, S>(parts: I) -> Result<Key, InvalidKey>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let parts = parts
            .into_iter()
            .map(|p| escape_part(p.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if parts.is_empty() {
            return Err(InvalidKey {
                part: String::new(),
                rule: KeyRule::NoParts,
            });
        }
        Ok(Key::from_validated(parts))
    }

    /// The strings this key's parts are the escapes of (the inverse of [`Key::escaped`]),
    /// or `None` when some part is the escape of no string; that only happens for keys
    /// not made with [`Key::escaped`] whose parts hold `=HH` (such as `a=3D`). Every part
    /// without `=HH` comes back as it is.
    ///
    /// ```
    /// use persidict::Key;
    ///
    /// let k = Key::escaped(["", ".", "日本語"])?;
    /// assert_eq!(k.unescaped_parts().unwrap(), ["", ".", "日本語"]);
    /// assert_eq!(Key::new(["a", "b"])?.unescaped_parts().unwrap(), ["a", "b"]);
    /// assert_eq!(Key::new(["a=3D"])?.unescaped_parts(), None);
    /// # Ok::<(), persidict::InvalidKey>(())
    /// ```
    pub fn unescaped_parts(&self) -> Option<Vec<String>> {
        self.parts().iter().map(|p| unescape_part(p)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples() {
        let cases = [
            ("abc", "abc"),
            ("a=b", "a=b"),
            ("a=ff", "a=ff"),
            ("a=FF", "a=3DFF"),
            ("=FF", "=3DFF"),
            ("", "=FF"),
            (".", "=2E"),
            ("..", "=2E=2E"),
            ("...", "..."),
            ("a b", "a=20b"),
            ("a=20b", "a=3D20b"),
            ("x/y", "x=2Fy"),
            ("ü", "=C3=BC"),
        ];
        for (input, escaped) in cases {
            assert_eq!(escape_part(input).unwrap(), escaped, "{input:?}");
            assert_eq!(
                unescape_part(escaped).as_deref(),
                Some(input),
                "{escaped:?}"
            );
        }
    }

    #[test]
    fn non_canonical_parts_are_refused() {
        for p in [
            "a=3D",
            "=3d",
            "=C3",
            "=2E=2E=2E",
            "=FF=FF",
            "=41",
            "a=20",
            "é",
        ] {
            if let Some(s) = unescape_part(p) {
                assert_eq!(escape_part(&s).unwrap(), p, "{p:?}");
            }
        }
        assert_eq!(unescape_part("a=3D"), None);
        assert_eq!(unescape_part("=41"), None, "A is written literally");
        assert_eq!(unescape_part("=2E=2E=2E"), None, "... is written literally");
        assert_eq!(unescape_part("a=20").as_deref(), Some("a "));
    }

    #[test]
    fn limits() {
        assert_eq!(escape_part(&"x".repeat(200)).unwrap().len(), 200);
        let e = escape_part(&"x".repeat(201)).unwrap_err();
        assert_eq!(e.rule, KeyRule::EscapedTooLong { len: 201 });
        assert_eq!(e.part, "x".repeat(201));
        assert_eq!(escape_part(&" ".repeat(66)).unwrap().len(), 198);
        assert_eq!(
            escape_part(&" ".repeat(67)).unwrap_err().rule,
            KeyRule::EscapedTooLong { len: 201 }
        );
        assert_eq!(
            Key::escaped(Vec::<String>::new()).unwrap_err().rule,
            KeyRule::NoParts
        );
    }
}
