//! In-process hot paths: key signing and parsing, the codecs, and MemDict operations.
//! Run with `cargo bench --bench hot_paths`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use persidict::key::Naming;
use persidict::prelude::*;
use persidict::Encoded;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Record {
    id: u64,
    name: String,
    tags: Vec<String>,
    score: f64,
}

fn record() -> Record {
    Record {
        id: 42,
        name: "a record of about a hundred bytes".into(),
        tags: vec!["alpha".into(), "beta".into(), "gamma".into()],
        score: 0.75,
    }
}

fn keys(c: &mut Criterion) {
    let naming = Naming::new("app/cache", 4, "bincode").unwrap();
    let key = Key::new(["users", "u-000042", "profile"]).unwrap();
    let name = naming.object_name(&key).unwrap();
    let mut g = c.benchmark_group("key");
    g.bench_function("sign 3-part object name", |b| {
        b.iter(|| naming.object_name(black_box(&key)).unwrap())
    });
    g.bench_function("parse and verify 3-part object name", |b| {
        b.iter(|| naming.parse_object_name(black_box(&name)).unwrap())
    });
    g.bench_function("validate 3-part key", |b| {
        b.iter(|| Key::new(black_box(["users", "u-000042", "profile"])).unwrap())
    });
    g.finish();
}

fn codecs(c: &mut Criterion) {
    let r = record();
    let mut g = c.benchmark_group("codec");
    for codec in [Codec::Bincode, Codec::Json] {
        let bytes = codec.encode(&r).unwrap();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(format!("{} encode record", codec.name()), |b| {
            b.iter(|| codec.encode(black_box(&r)).unwrap())
        });
        g.bench_function(format!("{} decode record", codec.name()), |b| {
            b.iter(|| codec.decode::<Record>(black_box(&bytes)).unwrap())
        });
    }
    let big: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("raw encode 1 MiB", |b| {
        b.iter(|| Codec::Raw.encode(black_box(&big)).unwrap())
    });
    let encoded = Codec::Raw.encode(&big).unwrap();
    g.bench_function("raw decode 1 MiB", |b| {
        b.iter(|| Codec::Raw.decode::<Vec<u8>>(black_box(&encoded)).unwrap())
    });
    // A byte-buffer type from a slice (one copy) and from an owned buffer (taken over, as
    // the S3 and file reads do).
    g.bench_function("raw decode 1 MiB as Encoded", |b| {
        b.iter(|| Codec::Raw.decode::<Encoded>(black_box(&encoded)).unwrap())
    });
    g.bench_function("raw decode_owned 1 MiB as Encoded", |b| {
        b.iter_batched(
            || encoded.clone(),
            |owned| Codec::Raw.decode_owned::<Encoded>(owned).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

fn memdict(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let d = MemDict::<Record>::new();
    let ks: Vec<Key> = (0..1000)
        .map(|i| Key::new(["k", &i.to_string()]).unwrap())
        .collect();
    rt.block_on(async {
        for k in &ks {
            d.put(k, record()).await.unwrap();
        }
    });
    let r = record();
    let mut g = c.benchmark_group("memdict");
    let mut i = 0usize;
    g.bench_function("get", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % ks.len();
            let k = &ks[i];
            let d = &d;
            async move { d.get(k).await.unwrap() }
        })
    });
    g.bench_function("put", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % ks.len();
            let (k, d, r) = (&ks[i], &d, r.clone());
            async move { d.put(k, r).await.unwrap() }
        })
    });
    g.bench_function("put_if(Same) via transform", |b| {
        b.to_async(&rt).iter(|| {
            i = (i + 1) % ks.len();
            let (k, d) = (&ks[i], &d);
            async move {
                d.transform(k, |cur| {
                    let mut cur = cur.unwrap_or_else(record);
                    cur.id += 1;
                    Write::Value(cur)
                })
                .await
                .unwrap()
            }
        })
    });
    // A plain `Vec<u8>` value of 1 MiB with the raw codec: stored and read in one piece.
    let bytes = MemDict::<Vec<u8>>::new().with_codec(Codec::Raw);
    let big: Vec<u8> = (0..1 << 20).map(|i| i as u8).collect();
    let k = &ks[0];
    rt.block_on(bytes.put(k, big.clone())).unwrap();
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("raw Vec<u8> get 1 MiB", |b| {
        b.to_async(&rt).iter(|| {
            let d = &bytes;
            async move { d.get(k).await.unwrap() }
        })
    });
    g.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    targets = keys, codecs, memdict
}
criterion_main!(hot_paths);
