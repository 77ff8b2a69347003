//! Fuzz-style tests, bounded in time: random and hostile input to key parsing, signing,
//! object naming and the decoders. Nothing may panic; every key stays under its root
//! prefix; every parsed object name is exactly the name of the key it stands for; decoders
//! refuse hostile length prefixes without allocating what they claim (at most serde's
//! 1 MiB up-front reservation, see `SERDE_CAP`).
//!
//! A counting global allocator measures the largest single allocation while decoding, so
//! "without allocating it" is checked, not assumed. Each property runs a fixed number of
//! cases (a few seconds in all).

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use persidict::key::{sign_part, unsign_part, Naming, MAX_DIGEST_LEN, MAX_OBJECT_NAME_LEN};
use persidict::{Codec, Key};
use proptest::prelude::*;

/// Records the largest single allocation made while `TRACKING` is on.
struct Counting;

static TRACKING: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if TRACKING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        }
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if TRACKING.load(Ordering::Relaxed) {
            LARGEST.fetch_max(new_size, Ordering::Relaxed);
        }
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The largest single allocation `f` makes (other threads of the test binary may add
/// small ones; none of them come near the limits checked here).
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    LARGEST.store(0, Ordering::SeqCst);
    TRACKING.store(true, Ordering::SeqCst);
    let out = f();
    TRACKING.store(false, Ordering::SeqCst);
    (out, LARGEST.load(Ordering::SeqCst))
}

/// Strings full of what could break out of a prefix or confuse a parser.
fn hostile_string() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "/", "//", ".", "..", "../", "./", "\\", "%2e", "%2f", "\0", "\n", "\r", "\t", " ", "_",
        "_aaaa", ".bincode", ".json", "é", "𝄞", "\u{202e}", "~", "=", "(", ")", "-", "a", "Z", "9",
        "probe", ".probe",
    ]);
    prop_oneof![
        prop::collection::vec(atoms, 0..12).prop_map(|v| v.concat()),
        any::<String>(),
        "[ -~]{0,40}",
    ]
}

fn namings() -> Vec<Naming> {
    let mut out = Vec::new();
    for root in ["", "root/", "a/b/c", "/lead/trail/"] {
        for digest_len in [0, 1, 4, 8, MAX_DIGEST_LEN] {
            for ext in ["bincode", "json", "bin", "txt"] {
                out.push(Naming::new(root, digest_len, ext).unwrap());
            }
        }
    }
    out
}

/// An object name is under the root, has no empty, `.` or `..` segment, and fits S3.
fn assert_confined(n: &Naming, name: &str) {
    assert!(
        name.starts_with(n.root()),
        "{name:?} escapes {:?}",
        n.root()
    );
    assert!(name.len() <= MAX_OBJECT_NAME_LEN);
    let rest = &name[n.root().len()..];
    assert!(!rest.is_empty() && !rest.starts_with('/'), "{name:?}");
    for seg in rest.split('/') {
        assert!(!seg.is_empty() && seg != "." && seg != "..", "{name:?}");
        assert!(seg.bytes().all(|b| b.is_ascii_graphic()), "{name:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any parts: a typed error, or a key whose names stay under every root.
    #[test]
    fn memory_fuzz_keys_never_escape_the_root(parts in prop::collection::vec(hostile_string(), 0..6)) {
        match Key::new(parts.iter()) {
            Err(e) => prop_assert!(!e.to_string().is_empty()),
            Ok(k) => {
                for n in namings() {
                    if let Ok(name) = n.object_name(&k) {
                        assert_confined(&n, &name);
                        prop_assert_eq!(n.parse_object_name(&name), Some(k.clone()));
                    }
                }
            }
        }
    }

    /// Any path: parsed or refused, never a panic; a parsed path has safe parts.
    #[test]
    fn memory_fuzz_key_paths_parse_or_fail_cleanly(path in hostile_string()) {
        if let Ok(k) = Key::parse_path(&path) {
            prop_assert_eq!(k.to_path(), path);
            for p in k.parts() {
                prop_assert!(p != "." && p != ".." && !p.contains('/'));
            }
        }
    }

    /// Any object name: either not ours, or exactly the name of the key it parses to.
    #[test]
    fn memory_fuzz_object_names_parse_only_to_their_own_key(
        tail in hostile_string(),
        which in any::<prop::sample::Index>(),
        with_root in any::<bool>(),
    ) {
        let all = namings();
        let n = which.get(&all);
        let name = if with_root { format!("{}{tail}", n.root()) } else { tail };
        if let Some(k) = n.parse_object_name(&name) {
            match n.object_name(&k) {
                Ok(again) => {
                    prop_assert_eq!(&again, &name);
                    assert_confined(n, &again);
                }
                // Parsing accepts what S3 could never have stored; the key is still safe.
                Err(e) => prop_assert!(name.len() > MAX_OBJECT_NAME_LEN, "{e}"),
            }
        }
    }

    /// Signing round-trips; unsigning anything else is `None` or the one part it signs to.
    #[test]
    fn memory_fuzz_signing(s in hostile_string(), digest_len in 0..=MAX_DIGEST_LEN) {
        if let Some(p) = unsign_part(&s, digest_len) {
            prop_assert_eq!(sign_part(&p, digest_len), s.clone());
        }
        if Key::new([s.as_str()]).is_ok() {
            prop_assert_eq!(unsign_part(&sign_part(&s, digest_len), digest_len), Some(s));
        }
    }

    /// Random bytes into every decoder, for several value types: an error or a value,
    /// never a panic, and never an allocation far beyond the input.
    #[test]
    fn memory_fuzz_decoders_are_bounded(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let (_, largest) = largest_allocation(|| {
            for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
                let _ = codec.decode::<Vec<u64>>(&bytes);
                let _ = codec.decode::<Vec<String>>(&bytes);
                let _ = codec.decode::<BTreeMap<String, Vec<u8>>>(&bytes);
                let _ = codec.decode::<(String, Vec<Vec<u32>>)>(&bytes);
                let _ = codec.decode::<String>(&bytes);
            }
        });
        prop_assert!(largest <= SERDE_CAP, "{largest} bytes allocated for {} input bytes", bytes.len());
    }
}

/// The most serde's collection visitors reserve up front whatever length a prefix claims
/// (`serde::de::size_hint::cautious`: 1 MiB). bincode's size limit (the object's size,
/// set by the codec) stops the decoding at the first element past the end; so a hostile
/// object costs at most this much per nesting level, never what its prefix claims.
const SERDE_CAP: usize = 1 << 20;

/// A bincode varint length prefix (`253` + u64 little-endian).
fn varint_u64(n: u64) -> Vec<u8> {
    let mut v = vec![253];
    v.extend_from_slice(&n.to_le_bytes());
    v
}

#[test]
fn memory_fuzz_hostile_length_prefixes_fail_fast_without_allocating() {
    let huge = [1u64 << 60, u64::MAX, 1 << 40, 1 << 32];
    for n in huge {
        let prefix = varint_u64(n);
        let mut with_tail = prefix.clone();
        with_tail.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        for bytes in [prefix.clone(), with_tail] {
            let (results, largest) = largest_allocation(|| {
                [
                    Codec::Bincode.decode::<Vec<u64>>(&bytes).is_err(),
                    Codec::Bincode.decode::<Vec<u8>>(&bytes).is_err(),
                    Codec::Bincode.decode::<String>(&bytes).is_err(),
                    Codec::Bincode.decode::<Vec<String>>(&bytes).is_err(),
                    Codec::Bincode.decode::<BTreeMap<u64, u64>>(&bytes).is_err(),
                    Codec::Bincode.decode::<Vec<(u64, u64)>>(&bytes).is_err(),
                ]
            });
            assert!(results.iter().all(|e| *e), "length {n}: {results:?}");
            assert!(
                largest <= SERDE_CAP,
                "length {n}: allocated {largest} bytes"
            );
        }
    }
    // Nested: an outer vector of one element whose inner vector claims 2^60 elements.
    let mut nested = vec![1u8];
    nested.extend(varint_u64(1 << 60));
    let (r, largest) = largest_allocation(|| Codec::Bincode.decode::<Vec<Vec<u64>>>(&nested));
    assert!(r.is_err());
    assert!(largest <= SERDE_CAP, "allocated {largest} bytes");
    // Through the crate's error type: a typed `Decode` naming the codec.
    let err = persidict::Error::Decode {
        key: Key::try_from("k").unwrap(),
        codec: "bincode",
        reason: Codec::Bincode
            .decode::<Vec<u64>>(&varint_u64(1 << 60))
            .unwrap_err()
            .0,
    };
    assert!(err.to_string().contains("bincode"));
}

#[test]
fn memory_fuzz_deeply_nested_json_is_an_error_not_a_stack_overflow() {
    for depth in [1_000, 100_000] {
        let doc = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(Codec::Json
            .decode::<serde_json::Value>(doc.as_bytes())
            .is_err());
        assert!(Codec::Json.decode::<Vec<Vec<u8>>>(doc.as_bytes()).is_err());
        let doc = "{\"a\":".repeat(depth);
        assert!(Codec::Json
            .decode::<serde_json::Value>(doc.as_bytes())
            .is_err());
    }
}
