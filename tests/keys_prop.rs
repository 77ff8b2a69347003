//! Property tests of keys and object names: round trips, injectivity, confinement under the
//! root prefix, and rejection of names this scheme did not make.

use persidict::key::{sign_part, unsign_part, KeyRule, Naming, MAX_OBJECT_NAME_LEN};
use persidict::Key;
use proptest::prelude::*;
use proptest::sample::{select, Index};

const DIGEST_LENS: [usize; 5] = [0, 1, 4, 8, 52];
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A valid key part: any allowed characters, things that look signed (`x_saav`), and real
/// signed forms of other parts.
fn part() -> impl Strategy<Value = String> {
    let plain = "[A-Za-z0-9()_\\-~.=]{1,200}".prop_filter("not . or ..", |p| p != "." && p != "..");
    let looks_signed = "[A-Za-z0-9.]{1,12}_[a-z2-7]{1,8}";
    let signed = ("[A-Za-z0-9]{1,40}", select(&DIGEST_LENS[1..]))
        .prop_map(|(p, n)| sign_part(&p, n))
        .prop_filter("at most 200 characters", |p| p.len() <= 200);
    prop_oneof![4 => plain, 2 => looks_signed, 1 => signed, 1 => "[a-zA-Z]{1,3}"]
}

fn key() -> impl Strategy<Value = Key> {
    prop::collection::vec(part(), 1..5).prop_map(|parts| Key::new(parts).expect("valid parts"))
}

fn root() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("/".to_owned()),
        "[a-z0-9]{1,8}(/[a-zA-Z0-9._=-]{1,8}){0,2}/?",
        "/[a-z]{1,8}/",
    ]
    .prop_filter("root parts follow the key-part rules", |r| {
        r.split('/').all(|p| p != "." && p != "..")
    })
}

fn naming() -> impl Strategy<Value = Naming> {
    (
        root(),
        select(&DIGEST_LENS[..]),
        select(&["bincode", "json", "bin", "txt"][..]),
    )
        .prop_map(|(root, digest_len, ext)| {
            Naming::new(&root, digest_len, ext).expect("a valid naming")
        })
}

/// Checks the shape of an object name: under the root, no empty, `.` or `..` segment.
fn assert_confined(n: &Naming, name: &str) {
    assert!(
        name.starts_with(n.root()),
        "{name:?} is not under {:?}",
        n.root()
    );
    assert!(!name.starts_with('/'), "{name:?} starts with /");
    assert!(!name.contains("//"), "{name:?} has an empty segment");
    for seg in name.split('/') {
        assert!(
            seg != "." && seg != ".." && !seg.is_empty(),
            "{name:?} has segment {seg:?}"
        );
    }
    assert!(name.len() <= MAX_OBJECT_NAME_LEN);
}

/// The object name, or `None` after checking that it was refused for its length only.
fn name_of(n: &Naming, k: &Key) -> Option<String> {
    match n.object_name(k) {
        Ok(name) => {
            assert_confined(n, &name);
            Some(name)
        }
        Err(e) => {
            let KeyRule::ObjectNameTooLong { len } = e.rule else {
                panic!("object_name({k:?}) failed for another reason: {e}");
            };
            assert!(len > MAX_OBJECT_NAME_LEN);
            None
        }
    }
}

fn flip_case(k: &Key, which_part: Index, which_char: Index) -> Key {
    let mut parts = k.parts().to_vec();
    let p = which_part.get(&parts).clone();
    let i = which_char.index(p.len());
    let flipped: String = p
        .chars()
        .enumerate()
        .map(|(j, c)| {
            if j != i {
                c
            } else if c.is_ascii_lowercase() {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let slot = which_part.index(parts.len());
    parts[slot] = flipped;
    Key::new(parts).expect("case flips keep a part valid")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn object_names_round_trip(n in naming(), k in key()) {
        if let Some(name) = name_of(&n, &k) {
            prop_assert_eq!(n.parse_object_name(&name), Some(k));
        }
    }

    #[test]
    fn parts_round_trip_through_signing(p in part(), digest_len in select(&DIGEST_LENS[..])) {
        let signed = sign_part(&p, digest_len);
        prop_assert_eq!(unsign_part(&signed, digest_len), Some(p.clone()));
        if digest_len > 0 {
            prop_assert_eq!(signed.len(), p.len() + 1 + digest_len);
            prop_assert_ne!(signed, p);
        } else {
            prop_assert_eq!(signed, p);
        }
    }

    #[test]
    fn distinct_keys_have_distinct_names(n in naming(), a in key(), b in key()) {
        prop_assume!(a != b);
        if let (Some(x), Some(y)) = (name_of(&n, &a), name_of(&n, &b)) {
            prop_assert_ne!(x, y);
        }
    }

    #[test]
    fn near_collisions_have_distinct_names(n in naming(), k in key(), which in any::<Index>()) {
        let i = which.index(k.len());
        let p = &k.parts()[i];
        let with = |replacement: String| {
            let mut parts = k.parts().to_vec();
            parts[i] = replacement;
            Key::new(parts).ok()
        };
        let mut longer = k.parts().to_vec();
        longer.push(n.extension().to_owned());
        let variants = [
            // The part's own signed form ("add if absent" signing would collide here).
            with(sign_part(p, n.digest_len())),
            with(sign_part(p, 4)),
            // The part with the format extension appended.
            with(format!("{p}.{}", n.extension())),
            Key::new(longer).ok(),
            (k.len() > 1).then(|| Key::new(k.parts()[..k.len() - 1].to_vec()).expect("valid")),
        ];
        let Some(name) = name_of(&n, &k) else { return Ok(()) };
        for v in variants.into_iter().flatten().filter(|v| *v != k) {
            if let Some(other) = name_of(&n, &v) {
                prop_assert_ne!(&name, &other, "{:?} and {:?}", k, v);
            }
        }
    }

    #[test]
    fn case_variants_have_distinct_names(
        n in naming(),
        k in key(),
        which_part in any::<Index>(),
        which_char in any::<Index>(),
    ) {
        let v = flip_case(&k, which_part, which_char);
        prop_assume!(v != k);
        if let (Some(x), Some(y)) = (name_of(&n, &k), name_of(&n, &v)) {
            prop_assert_ne!(x, y);
        }
    }

    #[test]
    fn arbitrary_input_is_rejected_or_confined(
        n in naming(),
        parts in prop::collection::vec(
            prop_oneof![
                any::<String>(),
                "[./\\\\a-z%~é\u{0}]{0,12}",
                Just("..".to_owned()),
                Just("../../etc/passwd".to_owned()),
            ],
            0..4,
        ),
        path in "[./a-zA-Z\\\\]{0,24}",
    ) {
        // The error type is `InvalidKey`; a key that is accepted stays under the root.
        let accepted = [Key::new(parts), Key::parse_path(&path)];
        for k in accepted.into_iter().flatten() {
            for p in k.parts() {
                prop_assert!(p != "." && p != ".." && !p.contains('/') && !p.contains('\\'));
            }
            if let Some(name) = name_of(&n, &k) {
                prop_assert_eq!(n.parse_object_name(&name), Some(k));
            }
        }
    }

    #[test]
    fn names_with_a_wrong_suffix_are_rejected(
        root in root(),
        digest_len in select(&DIGEST_LENS[1..]),
        k in key(),
        which in any::<Index>(),
        wrong in prop::collection::vec(select(BASE32), 52),
    ) {
        let n = Naming::new(&root, digest_len, "json").expect("a valid naming");
        let mut segments: Vec<String> =
            k.parts().iter().map(|p| sign_part(p, digest_len)).collect();
        let i = which.index(segments.len());
        let part = &k.parts()[i];
        let wrong = String::from_utf8(wrong[..digest_len].to_vec()).expect("ASCII");
        prop_assume!(wrong != sign_part(part, digest_len)[part.len() + 1..]);
        segments[i] = format!("{part}_{wrong}");
        let name = format!("{}{}.json", n.root(), segments.join("/"));
        prop_assert_eq!(n.parse_object_name(&name), None);
    }

    #[test]
    fn other_schemes_names_are_rejected(
        root in root(),
        lens in (select(&DIGEST_LENS[1..]), select(&DIGEST_LENS[1..])),
        k in key(),
    ) {
        let (mine, theirs) = lens;
        prop_assume!(mine != theirs);
        let n = Naming::new(&root, mine, "json").expect("a valid naming");
        let other = Naming::new(&root, theirs, "json").expect("a valid naming");
        if let Some(name) = name_of(&other, &k) {
            let parsed = n.parse_object_name(&name);
            prop_assert_eq!(parsed, None, "digest_len {} read {:?}", mine, name);
        }
        let txt = Naming::new(&root, mine, "txt").expect("a valid naming");
        if let Some(name) = name_of(&txt, &k) {
            prop_assert_eq!(n.parse_object_name(&name), None, "json naming read {:?}", name);
        }
        let elsewhere = Naming::new(&format!("{}/elsewhere", root.trim_matches('/')), mine, "json")
            .expect("a valid naming");
        if let Some(name) = name_of(&elsewhere, &k) {
            prop_assert_ne!(n.parse_object_name(&name), Some(k), "{:?} escaped its root", name);
        }
    }
}
