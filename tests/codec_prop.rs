//! Property tests of the codecs: every value round-trips, and no input makes a decoder panic.

use std::collections::BTreeMap;

use persidict::Codec;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
    numbers: Vec<u32>,
    signed: Option<i64>,
    flags: BTreeMap<String, bool>,
    bytes: Vec<u8>,
    ratio: f64,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kind {
    Unit,
    Tuple(u8, String),
    Struct { x: i16 },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Unit),
        (any::<u8>(), any::<String>()).prop_map(|(a, b)| Kind::Tuple(a, b)),
        any::<i16>().prop_map(|x| Kind::Struct { x }),
    ]
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        any::<String>(),
        prop::collection::vec(any::<u32>(), 0..8),
        any::<Option<i64>>(),
        prop::collection::btree_map(any::<String>(), any::<bool>(), 0..4),
        prop::collection::vec(any::<u8>(), 0..32),
        prop::num::f64::NORMAL | prop::num::f64::ZERO | prop::num::f64::SUBNORMAL,
        kind(),
    )
        .prop_map(
            |(name, numbers, signed, flags, bytes, ratio, kind)| Sample {
                name,
                numbers,
                signed,
                flags,
                bytes,
                ratio,
                kind,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn structured_values_round_trip(v in sample()) {
        let bytes = Codec::Bincode.encode(&v).expect("encode");
        prop_assert_eq!(Codec::Bincode.decode::<Sample>(&bytes).expect("decode"), v.clone());

        let bytes = Codec::Json.encode(&v).expect("encode");
        // Exact, floats included: serde_json is built with `float_roundtrip`.
        prop_assert_eq!(Codec::Json.decode::<Sample>(&bytes).expect("decode"), v);
    }

    #[test]
    fn text_round_trips_any_string(s in any::<String>()) {
        let bytes = Codec::Text.encode(&s).expect("encode");
        prop_assert_eq!(&bytes, s.as_bytes(), "text is stored as it is");
        prop_assert_eq!(Codec::Text.decode::<String>(&bytes).expect("decode"), s);
    }

    #[test]
    fn raw_round_trips_any_bytes(b in prop::collection::vec(any::<u8>(), 0..256)) {
        let bytes = Codec::Raw.encode(&b).expect("encode");
        prop_assert_eq!(&bytes, &b, "bytes are stored as they are");
        prop_assert_eq!(Codec::Raw.decode::<Vec<u8>>(&bytes).expect("decode"), b);
    }

    #[test]
    fn owned_and_borrowed_decoding_agree(b in prop::collection::vec(any::<u8>(), 0..64)) {
        // Whatever the bytes, decoding from an owned buffer gives what decoding from a
        // slice gives: the same value, or an error with the same message.
        fn agree<V: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
            codec: Codec,
            b: &[u8],
        ) -> Result<(), TestCaseError> {
            prop_assert_eq!(codec.decode_owned::<V>(b.to_vec()), codec.decode::<V>(b), "{}", codec);
            Ok(())
        }
        for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
            agree::<Sample>(codec, &b)?;
            agree::<Vec<u8>>(codec, &b)?;
            agree::<String>(codec, &b)?;
            agree::<persidict::Encoded>(codec, &b)?;
            agree::<Option<u16>>(codec, &b)?;
        }
    }

    #[test]
    fn decoding_garbage_fails_cleanly(b in prop::collection::vec(any::<u8>(), 0..64)) {
        for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
            // Only the absence of a panic (or a runaway allocation) matters here.
            let _ = codec.decode::<Sample>(&b);
            let _ = codec.decode::<Vec<u64>>(&b);
            let _ = codec.decode::<String>(&b);
            let _ = codec.decode::<BTreeMap<String, Vec<String>>>(&b);
        }
    }
}
