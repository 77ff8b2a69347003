//! Keys made from arbitrary strings with `Key::escaped`, stored and listed on every backend:
//! e-mail addresses, URLs, paths with spaces, non-Latin text, and the parts no plain key
//! can have (`""`, `.`, `..`, a string that looks escaped).

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use futures::TryStreamExt;
use persidict::prelude::*;
use persidict::S3Dict;

/// The unescaped keys the tests store, each as its parts.
fn originals() -> Vec<Vec<&'static str>> {
    vec![
        vec!["users", "ann.lee+tag@example.com"],
        vec!["users", "Bob O'Neil <bob@example.org>"],
        vec!["https://example.org/a/b?q=1&r=two#frag"],
        vec!["docs", "My Documents/report 2024 (final).pdf"],
        vec!["C:\\Program Files\\x"],
        vec!["日本語のテキスト"],
        vec!["Ελληνικά", "кириллица", "עברית"],
        vec!["emoji 🎉"],
        vec!["", ".", ".."],
        vec!["a b"],
        vec!["a=20b"],
        vec!["plain_safe-key.v1"],
    ]
}

/// Stores one value per key, then checks reads, the listing (unescaped, exactly the keys
/// stored), and that safe keys kept their plain names.
async fn store_and_list(d: &PersiDict<String>) {
    let mut expected = BTreeSet::new();
    for parts in originals() {
        let k = Key::escaped(&parts).expect("short enough to escape");
        assert!(
            k.to_path()
                .chars()
                .all(|c| c == '/' || c.is_ascii_alphanumeric() || "()_-~.=".contains(c)),
            "{k}"
        );
        d.put(&k, parts.join("|")).await.expect("put");
        expected.insert(parts.iter().map(|p| p.to_string()).collect::<Vec<_>>());
    }
    assert_eq!(expected.len(), originals().len(), "all keys distinct");

    let listed: Vec<Key> = d.keys().try_collect().await.expect("keys");
    let unescaped: BTreeSet<Vec<String>> = listed
        .iter()
        .map(|k| k.unescaped_parts().expect("every listed key was escaped"))
        .collect();
    assert_eq!(unescaped, expected);
    assert_eq!(d.len().await.expect("len"), expected.len());

    for parts in originals() {
        let k = Key::escaped(&parts).expect("escape");
        assert_eq!(d.get(&k).await.expect("get"), parts.join("|"), "{parts:?}");
    }
    assert_eq!(
        Key::escaped(["plain_safe-key.v1"]).unwrap(),
        Key::new(["plain_safe-key.v1"]).unwrap()
    );
    // "a b" and "a=20b" are different keys.
    let a = d.get(&Key::escaped(["a b"]).unwrap()).await.unwrap();
    let b = d.get(&Key::escaped(["a=20b"]).unwrap()).await.unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("a b", "a=20b"));

    // Subdictionaries under an escaped prefix see the escaped keys below it.
    let users = d.subdict(&Key::escaped(["users"]).unwrap());
    let mut below: Vec<String> = users
        .keys()
        .map_ok(|k| k.unescaped_parts().unwrap().join("/"))
        .try_collect()
        .await
        .unwrap();
    below.sort();
    assert_eq!(
        below,
        ["Bob O'Neil <bob@example.org>", "ann.lee+tag@example.com"]
    );
    d.clear().await.expect("clear");
}

#[tokio::test]
async fn escaped_keys_memory() {
    let d = MemDict::<String>::new();
    store_and_list(&d).await;
}

fn files_under(dir: &Path, out: &mut Vec<String>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let e = e.expect("dir entry");
        let p = e.path();
        if e.file_name().to_string_lossy().starts_with(".persidict#") {
            continue; // the store's own lock stripes
        }
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p.to_string_lossy().into_owned());
        }
    }
}

#[tokio::test]
async fn escaped_keys_file() {
    for digest_len in [4, 0] {
        let tmp = tempfile::tempdir().expect("tempdir");
        let d: FileDict<String> = FileDict::builder(tmp.path())
            .digest_len(digest_len)
            .build()
            .await
            .expect("FileDict");
        // Every file name stays inside the directory and uses only safe characters.
        for parts in originals() {
            d.put(&Key::escaped(&parts).unwrap(), String::new())
                .await
                .unwrap();
        }
        let mut files = Vec::new();
        files_under(tmp.path(), &mut files);
        assert_eq!(files.len(), originals().len());
        for f in &files {
            let rel = f
                .strip_prefix(&*tmp.path().to_string_lossy())
                .expect("inside the directory");
            assert!(
                rel.chars()
                    .all(|c| c == '/' || c.is_ascii_alphanumeric() || "()_-~.=".contains(c)),
                "{rel}"
            );
        }
        d.clear().await.unwrap();
        store_and_list(&d).await;
    }
}

#[tokio::test]
async fn escaped_keys_seaweedfs() {
    let Some(s) = common::server("seaweedfs") else {
        return;
    };
    let d: S3Dict<String> = common::open(&s, "escaped-keys").await;
    store_and_list(&d).await;
}

#[tokio::test]
async fn escaped_keys_moto() {
    let Some(s) = common::server("moto") else {
        return;
    };
    let d: S3Dict<String> = common::open(&s, "escaped-keys").await;
    store_and_list(&d).await;
}

#[tokio::test]
async fn escaped_keys_unsigned_moto() {
    let Some(s) = common::server("moto") else {
        return;
    };
    let d: S3Dict<String> = common::builder(&s, "escaped-keys-unsigned")
        .digest_len(0)
        .build()
        .await
        .expect("S3Dict");
    store_and_list(&d).await;
}
