//! Property tests of the key escaping: round trip, injectivity, the output's characters,
//! safe strings unchanged, the length limit as a typed error, never a panic.

use persidict::key::{escape_part, unescape_part, validate_part, KeyRule, MAX_PART_LEN};
use persidict::Key;
use proptest::prelude::*;

fn safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "()_-~.=".contains(c)
}

/// Whether `s` holds `=` and two uppercase hex digits.
fn looks_escaped(s: &str) -> bool {
    s.as_bytes().windows(3).any(|w| {
        w[0] == b'='
            && w[1..]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(b))
    })
}

/// Strings of every kind: any Unicode, safe text, things that look escaped, real escapes,
/// the special parts, and long ones near the limit.
fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[A-Za-z0-9()_\\-~.=]{0,210}",
        2 => "([a-z.]{0,3}=[0-9A-Fa-f]{0,2}){1,6}",
        2 => "[ -~]{0,70}",
        2 => "\\PC{0,30}",
        1 => prop::sample::select(vec!["", ".", "..", "...", "=", "==", "=FF", "=2E", "=3D"])
            .prop_map(str::to_owned),
        1 => "[@/ :?#&%+]{0,80}",
        1 => any::<String>().prop_map(|s| escape_part(&s).unwrap_or(s)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn round_trip(s in any_string()) {
        if let Ok(e) = escape_part(&s) {
            prop_assert_eq!(unescape_part(&e), Some(s));
        }
    }

    #[test]
    fn output_is_a_valid_part(s in any_string()) {
        if let Ok(e) = escape_part(&s) {
            prop_assert!(validate_part(&e).is_ok(), "{:?} -> {:?}", s, e);
            prop_assert!(e.chars().all(safe_char));
            prop_assert!((1..=MAX_PART_LEN).contains(&e.len()));
            prop_assert!(e != "." && e != "..");
        }
    }

    #[test]
    fn injective_on_pairs(a in any_string(), b in any_string()) {
        if let (Ok(ea), Ok(eb)) = (escape_part(&a), escape_part(&b)) {
            prop_assert_eq!(ea == eb, a == b, "{:?} {:?}", a, b);
        }
    }

    /// Neighbours: strings that differ in one place, which collide most easily.
    #[test]
    fn injective_on_neighbours(s in any_string(), i in any::<prop::sample::Index>(), c in any::<char>()) {
        let mut chars: Vec<char> = s.chars().collect();
        if chars.is_empty() {
            chars.push(c);
        } else {
            let at = i.index(chars.len());
            chars[at] = c;
        }
        let t: String = chars.into_iter().collect();
        if let (Ok(es), Ok(et)) = (escape_part(&s), escape_part(&t)) {
            prop_assert_eq!(es == et, s == t);
        }
    }

    #[test]
    fn safe_strings_stay_unchanged(s in "[A-Za-z0-9()_\\-~.=]{1,200}") {
        prop_assume!(s != "." && s != "..");
        if looks_escaped(&s) {
            // Encoded (its `=` become `=3D`), which may pass the limit.
            match escape_part(&s) {
                Ok(e) => prop_assert_ne!(e, s),
                Err(e) => prop_assert_eq!(e.rule, KeyRule::EscapedTooLong { len: e.part.len() + 2 * e.part.matches('=').count() }),
            }
        } else {
            prop_assert_eq!(escape_part(&s).unwrap(), s.clone());
            prop_assert_eq!(Key::escaped([&s]).unwrap(), Key::new([s.clone()]).unwrap());
        }
    }

    #[test]
    fn too_long_is_a_typed_error(s in any_string()) {
        match escape_part(&s) {
            Ok(e) => prop_assert!(e.len() <= MAX_PART_LEN),
            Err(err) => {
                prop_assert_eq!(&err.part, &s, "the error names the input");
                match &err.rule {
                    KeyRule::EscapedTooLong { len } => prop_assert!(*len > MAX_PART_LEN),
                    other => prop_assert!(false, "unexpected rule {:?}", other),
                }
                prop_assert!(err.to_string().contains("escaped"));
            }
        }
    }

    /// Anything `unescape_part` accepts is exactly what `escape_part` gives back; it never
    /// panics on arbitrary input.
    #[test]
    fn unescape_accepts_only_escapes(p in any_string()) {
        if let Some(s) = unescape_part(&p) {
            prop_assert_eq!(escape_part(&s), Ok(p));
        }
    }

    #[test]
    fn keys_round_trip(parts in prop::collection::vec(any_string(), 1..5)) {
        match Key::escaped(&parts) {
            Ok(k) => {
                prop_assert_eq!(k.len(), parts.len());
                prop_assert_eq!(k.unescaped_parts(), Some(parts.clone()));
                prop_assert_eq!(Key::new(k.parts().to_vec()), Ok(k.clone()));
            }
            Err(e) => {
                let too_long = matches!(e.rule, KeyRule::EscapedTooLong { .. });
                prop_assert!(too_long, "{:?}", e);
                prop_assert!(parts.contains(&e.part));
            }
        }
    }
}

#[test]
fn no_parts_is_a_typed_error() {
    let e = Key::escaped(Vec::<String>::new()).unwrap_err();
    assert_eq!(e.rule, KeyRule::NoParts);
}
