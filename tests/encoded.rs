//! `Encoded` values are the stored bytes, for every codec and backend: writing a typed value
//! and reading `Encoded` gives exactly `codec.encode(value)`, and writing
//! `Encoded(codec.encode(value))` and reading the typed value gives the value back.

mod common;

use std::collections::BTreeMap;
use std::fmt::Debug;

use persidict::prelude::*;
use persidict::{Encoded, FileDict, Value};
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sample {
    name: String,
    numbers: Vec<u32>,
    signed: Option<i64>,
    flags: BTreeMap<String, bool>,
    ratio: f64,
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        any::<String>(),
        prop::collection::vec(any::<u32>(), 0..8),
        any::<Option<i64>>(),
        prop::collection::btree_map("[a-z]{0,6}", any::<bool>(), 0..4),
        prop::num::f64::NORMAL | prop::num::f64::ZERO,
    )
        .prop_map(|(name, numbers, signed, flags, ratio)| Sample {
            name,
            numbers,
            signed,
            flags,
            ratio,
        })
}

/// Both directions through two dictionaries that share storage: `typed` and `raw`.
async fn both_ways<V: Value + Clone + PartialEq + Debug>(
    codec: Codec,
    typed: &PersiDict<V>,
    raw: &PersiDict<Encoded>,
    value: V,
) -> Result<(), TestCaseError> {
    let encoded = codec.encode(&value).expect("encodes");
    let k = Key::try_from("typed-first").expect("key");
    typed.put(&k, value.clone()).await.expect("typed put");
    prop_assert_eq!(
        &raw.get(&k).await.expect("raw get").0,
        &encoded,
        "{}",
        codec
    );

    let k = Key::try_from("raw-first").expect("key");
    raw.put(&k, Encoded(encoded.clone()))
        .await
        .expect("raw put");
    prop_assert_eq!(typed.get(&k).await.expect("typed get"), value, "{}", codec);
    Ok(())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

async fn file_pair<V: Value>(
    dir: &std::path::Path,
    codec: Codec,
) -> (FileDict<V>, FileDict<Encoded>) {
    let typed = FileDict::builder(dir)
        .codec(codec)
        .build()
        .await
        .expect("typed");
    let raw = FileDict::builder(dir)
        .codec(codec)
        .build()
        .await
        .expect("raw");
    (typed, raw)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn codecs_pass_encoded_verbatim(v in sample(), b in prop::collection::vec(any::<u8>(), 0..64), s in any::<String>()) {
        for codec in [Codec::Bincode, Codec::Json] {
            let bytes = codec.encode(&v).expect("encode");
            prop_assert_eq!(codec.decode::<Encoded>(&bytes).expect("decode").0, bytes.clone());
            prop_assert_eq!(codec.encode(&Encoded(bytes.clone())).expect("encode"), bytes.clone());
            prop_assert_eq!(codec.decode::<Sample>(&codec.encode(&Encoded(bytes)).expect("encode")).expect("decode"), v.clone());
        }
        for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
            prop_assert_eq!(codec.encode(&Encoded(b.clone())).expect("encode"), b.clone());
            prop_assert_eq!(codec.decode::<Encoded>(&b).expect("decode").0, b.clone());
        }
        prop_assert_eq!(Codec::Text.decode::<Encoded>(s.as_bytes()).expect("decode").0, s.as_bytes());
    }

    #[test]
    fn file_dicts_of_encoded_see_the_stored_bytes(v in sample(), b in prop::collection::vec(any::<u8>(), 0..64), s in any::<String>()) {
        rt().block_on(async {
            let tmp = tempfile::tempdir().expect("tempdir");
            for codec in [Codec::Bincode, Codec::Json] {
                let (typed, raw) = file_pair::<Sample>(tmp.path(), codec).await;
                both_ways(codec, &typed, &raw, v.clone()).await?;
            }
            let (typed, raw) = file_pair::<Vec<u8>>(tmp.path(), Codec::Raw).await;
            both_ways(Codec::Raw, &typed, &raw, b).await?;
            let (typed, raw) = file_pair::<String>(tmp.path(), Codec::Text).await;
            both_ways(Codec::Text, &typed, &raw, s).await
        })?;
    }
}

/// The same on an S3 server, with fewer cases (each is eight round trips to the server).
fn s3_both_ways(server: &str) {
    let Some(s) = common::server(server) else {
        return;
    };
    let rt = rt();
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(8));
    let values = (
        sample(),
        prop::collection::vec(any::<u8>(), 0..64),
        any::<String>(),
    );
    let result = runner.run(&values, |(v, bytes, text)| {
        rt.block_on(async {
            let prefix = common::fresh_prefix("encoded");
            let builder = |codec: Codec| {
                persidict::S3Dict::builder(common::BUCKET)
                    .endpoint_url(&s.url)
                    .region("us-east-1")
                    .root_prefix(prefix.clone())
                    .create_bucket(true)
                    .codec(codec)
            };
            let raw = |codec| async move { builder(codec).build::<Encoded>().await.expect("raw") };
            for codec in [Codec::Bincode, Codec::Json] {
                let typed = builder(codec).build::<Sample>().await.expect("typed");
                both_ways(codec, &*typed, &*raw(codec).await, v.clone()).await?;
            }
            let typed = builder(Codec::Raw).build::<Vec<u8>>().await.expect("typed");
            both_ways(Codec::Raw, &*typed, &*raw(Codec::Raw).await, bytes).await?;
            let typed = builder(Codec::Text).build::<String>().await.expect("typed");
            both_ways(Codec::Text, &*typed, &*raw(Codec::Text).await, text).await
        })
    });
    if let Err(e) = result {
        panic!("{server}: {e}");
    }
}

#[test]
fn seaweedfs_dicts_of_encoded_see_the_stored_bytes() {
    s3_both_ways("seaweedfs");
}

#[test]
fn moto_dicts_of_encoded_see_the_stored_bytes() {
    s3_both_ways("moto");
}

#[test]
fn rclone_dicts_of_encoded_see_the_stored_bytes() {
    s3_both_ways("rclone");
}

/// A memory dictionary stores `Encoded` values as they are, whatever its codec.
#[tokio::test]
async fn memory_dict_of_encoded_stores_the_bytes() {
    for codec in [Codec::Bincode, Codec::Json, Codec::Raw, Codec::Text] {
        let d = MemDict::<Encoded>::new().with_codec(codec);
        let k = Key::try_from("k").unwrap();
        // Not valid in any codec but raw: stored anyway, as it is.
        let stored = vec![0xff, b'h', 0, b'{'];
        d.put(&k, Encoded(stored.clone())).await.unwrap();
        assert_eq!(d.get(&k).await.unwrap().0, stored);
        assert_eq!(d.head(&k).await.unwrap().unwrap().size, stored.len() as u64);
    }
}
