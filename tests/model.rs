//! Model-based test: random operation sequences against [`MemDict`] and [`FileDict`],
//! checked step by step against a `BTreeMap` model of what each operation must do.

use std::collections::BTreeMap;

use futures::TryStreamExt;
use persidict::prelude::*;
use proptest::prelude::*;
use proptest::sample::Index;

/// The key space: four keys, one of which is a prefix of another's path and one differs
/// only by case.
const KEYS: [&str; 4] = ["a", "b", "b/c", "B"];

fn key(i: usize) -> Key {
    Key::parse_path(KEYS[i]).expect("a valid key")
}

/// Which ETag an operation passes as `expected`.
#[derive(Debug, Clone)]
enum Pick {
    /// `None`.
    Absent,
    /// The key's current ETag (`None` when absent).
    Current,
    /// Some ETag returned earlier, by any key.
    Seen(Index),
    /// An ETag no backend ever returned.
    Bogus,
}

#[derive(Debug, Clone)]
enum Op {
    Put(usize, u64),
    Get(usize),
    Delete(usize),
    Discard(usize),
    PutIf(usize, Write<u64>, Condition, Pick, Retrieve),
    SetdefaultIf(usize, u64, Condition, Pick, Retrieve),
    DiscardIf(usize, Condition, Pick),
    GetIf(usize, Condition, Pick, Retrieve),
    CheckAll,
}

fn condition() -> impl Strategy<Value = Condition> {
    prop_oneof![
        Just(Condition::Any),
        Just(Condition::Same),
        Just(Condition::Changed)
    ]
}

fn retrieve() -> impl Strategy<Value = Retrieve> {
    prop_oneof![
        Just(Retrieve::Always),
        Just(Retrieve::Never),
        Just(Retrieve::IfChanged)
    ]
}

fn pick() -> impl Strategy<Value = Pick> {
    prop_oneof![
        2 => Just(Pick::Absent),
        4 => Just(Pick::Current),
        3 => any::<Index>().prop_map(Pick::Seen),
        1 => Just(Pick::Bogus),
    ]
}

fn write() -> impl Strategy<Value = Write<u64>> {
    prop_oneof![
        3 => (0..4u64).prop_map(Write::Value),
        1 => Just(Write::KeepCurrent),
        1 => Just(Write::DeleteCurrent),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let k = 0..KEYS.len();
    let v = 0..4u64;
    prop_oneof![
        3 => (k.clone(), v.clone()).prop_map(|(k, v)| Op::Put(k, v)),
        1 => k.clone().prop_map(Op::Get),
        1 => k.clone().prop_map(Op::Delete),
        1 => k.clone().prop_map(Op::Discard),
        6 => (k.clone(), write(), condition(), pick(), retrieve())
            .prop_map(|(k, w, c, p, r)| Op::PutIf(k, w, c, p, r)),
        3 => (k.clone(), v, condition(), pick(), retrieve())
            .prop_map(|(k, v, c, p, r)| Op::SetdefaultIf(k, v, c, p, r)),
        2 => (k.clone(), condition(), pick()).prop_map(|(k, c, p)| Op::DiscardIf(k, c, p)),
        3 => (k, condition(), pick(), retrieve()).prop_map(|(k, c, p, r)| Op::GetIf(k, c, p, r)),
        1 => Just(Op::CheckAll),
    ]
}

/// What the dictionary must hold: per key, the value and the ETag the dictionary returned
/// when it was written; and every ETag seen so far.
#[derive(Default)]
struct Model {
    append_only: bool,
    /// ETags are content hashes (FileDict): writing the same value again gives the same
    /// ETag, but different values never share one. Otherwise every write gives a new ETag.
    content_etags: bool,
    /// For content ETags: the value each ETag was seen with.
    by_etag: BTreeMap<ETag, u64>,
    entries: BTreeMap<usize, (u64, ETag)>,
    seen: Vec<ETag>,
}

impl Model {
    fn expected(&self, k: usize, p: &Pick) -> Option<ETag> {
        match p {
            Pick::Absent => None,
            Pick::Current => self.entries.get(&k).map(|(_, e)| e.clone()),
            Pick::Seen(i) if !self.seen.is_empty() => Some(i.get(&self.seen).clone()),
            Pick::Seen(_) => None,
            Pick::Bogus => Some(ETag::new("\"bogus\"")),
        }
    }

    fn actual(&self, k: usize) -> Option<ETag> {
        self.entries.get(&k).map(|(_, e)| e.clone())
    }

    /// Records the ETag of a new write, which must differ from every earlier one.
    fn written(&mut self, k: usize, v: u64, etag: Option<ETag>, what: &str) {
        let etag = etag.unwrap_or_else(|| panic!("{what}: a write reports its ETag"));
        if self.content_etags {
            let first = *self.by_etag.entry(etag.clone()).or_insert(v);
            assert_eq!(first, v, "{what}: two values share the ETag {etag:?}");
        } else {
            assert!(
                !self.seen.contains(&etag),
                "{what}: a write reused the ETag {etag:?}"
            );
        }
        self.seen.push(etag.clone());
        self.entries.insert(k, (v, etag));
    }

    /// The value slot of an entry left as it was.
    fn report(&self, k: usize, expected: Option<&ETag>, r: Retrieve) -> Slot<u64> {
        match self.entries.get(&k) {
            None => Slot::Absent,
            Some((v, e)) => {
                let fetch = match r {
                    Retrieve::Always => true,
                    Retrieve::Never => false,
                    _ => expected != Some(e),
                };
                if fetch {
                    Slot::Present(*v)
                } else {
                    Slot::NotRetrieved
                }
            }
        }
    }
}

fn holds(c: Condition, expected: Option<&ETag>, actual: Option<&ETag>) -> bool {
    match c {
        Condition::Same => expected == actual,
        Condition::Changed => expected != actual,
        _ => true,
    }
}

#[track_caller]
fn assert_append_only<T: std::fmt::Debug>(r: persidict::Result<T>, what: &str) {
    assert!(
        matches!(r, Err(Error::AppendOnly { .. })),
        "{what}: expected AppendOnly, got {r:?}"
    );
}

/// An outcome that must have left the key as the model has it.
#[track_caller]
fn assert_unchanged(
    out: &Outcome<u64>,
    m: &Model,
    k: usize,
    satisfied: bool,
    value: Slot<u64>,
    what: &str,
) {
    let actual = m.actual(k);
    assert_eq!(out.satisfied, satisfied, "{what}: satisfied ({out:?})");
    assert_eq!(out.actual_etag, actual, "{what}: actual_etag ({out:?})");
    assert_eq!(
        out.resulting_etag, actual,
        "{what}: resulting_etag ({out:?})"
    );
    assert!(!out.mutated(), "{what}: mutated ({out:?})");
    assert_eq!(out.value, value, "{what}: value ({out:?})");
}

async fn step(d: &PersiDict<u64>, m: &mut Model, op: &Op) {
    let what = format!("{op:?}");
    let what = what.as_str();
    match op {
        Op::Put(k, v) => {
            let r = d.put(&key(*k), *v).await;
            if m.append_only && m.entries.contains_key(k) {
                assert_append_only(r, what);
            } else {
                let e = r.unwrap_or_else(|e| panic!("{what}: {e}"));
                m.written(*k, *v, Some(e), what);
            }
        }
        Op::Get(k) => {
            let r = d.get(&key(*k)).await;
            match m.entries.get(k) {
                Some((v, _)) => assert_eq!(r.ok(), Some(*v), "{what}"),
                None => assert!(
                    matches!(&r, Err(Error::NotFound { key: nf }) if *nf == key(*k)),
                    "{what}: expected NotFound, got {r:?}"
                ),
            }
        }
        Op::Delete(k) => {
            let r = d.delete(&key(*k)).await;
            if m.append_only {
                assert_append_only(r, what);
            } else if m.entries.remove(k).is_some() {
                r.unwrap_or_else(|e| panic!("{what}: {e}"));
            } else {
                assert!(
                    r.is_err_and(|e| e.is_not_found()),
                    "{what}: expected NotFound"
                );
            }
        }
        Op::Discard(k) => {
            let r = d.discard(&key(*k)).await;
            if m.append_only {
                assert_append_only(r, what);
            } else {
                let was = m.entries.remove(k).is_some();
                assert_eq!(r.ok(), Some(was), "{what}");
            }
        }
        Op::PutIf(k, w, c, p, r) => {
            let exp = m.expected(*k, p);
            let act = m.actual(*k);
            let res = d.put_if(&key(*k), w.clone(), *c, exp.as_ref(), *r).await;
            if m.append_only && matches!(w, Write::DeleteCurrent) {
                return assert_append_only(res, what);
            }
            let h = holds(*c, exp.as_ref(), act.as_ref());
            if h && m.append_only && act.is_some() && matches!(w, Write::Value(_)) {
                return assert_append_only(res, what);
            }
            let out = res.unwrap_or_else(|e| panic!("{what}: {e}"));
            if !h {
                let value = m.report(*k, exp.as_ref(), *r);
                return assert_unchanged(&out, m, *k, false, value, what);
            }
            match w {
                Write::Value(v) => {
                    assert!(out.satisfied, "{what}: satisfied");
                    assert_eq!(out.actual_etag, act, "{what}: actual_etag");
                    let want = if *r == Retrieve::Always {
                        Slot::Present(*v)
                    } else {
                        Slot::NotRetrieved
                    };
                    assert_eq!(out.value, want, "{what}: value");
                    // Rewriting the same value keeps a content ETag.
                    let same = m.content_etags && m.entries.get(k).map(|(old, _)| old) == Some(v);
                    assert_eq!(out.mutated(), !same, "{what}: mutated");
                    m.written(*k, *v, out.resulting_etag, what);
                }
                Write::KeepCurrent => {
                    let value = m.report(*k, exp.as_ref(), *r);
                    assert_unchanged(&out, m, *k, true, value, what);
                }
                _ => {
                    assert!(out.satisfied, "{what}: satisfied");
                    assert_eq!(out.actual_etag, act, "{what}: actual_etag");
                    assert_eq!(out.resulting_etag, None, "{what}: resulting_etag");
                    assert_eq!(out.mutated(), act.is_some(), "{what}: mutated");
                    assert_eq!(out.value, Slot::Absent, "{what}: value");
                    m.entries.remove(k);
                }
            }
        }
        Op::SetdefaultIf(k, v, c, p, r) => {
            let exp = m.expected(*k, p);
            let act = m.actual(*k);
            let out = d
                .setdefault_if(&key(*k), *v, *c, exp.as_ref(), *r)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let h = holds(*c, exp.as_ref(), act.as_ref());
            if h && act.is_none() {
                assert!(out.satisfied, "{what}: satisfied");
                assert_eq!(out.actual_etag, None, "{what}: actual_etag");
                let want = if *r == Retrieve::Always {
                    Slot::Present(*v)
                } else {
                    Slot::NotRetrieved
                };
                assert_eq!(out.value, want, "{what}: value");
                m.written(*k, *v, out.resulting_etag, what);
            } else {
                let value = m.report(*k, exp.as_ref(), *r);
                assert_unchanged(&out, m, *k, h, value, what);
            }
        }
        Op::DiscardIf(k, c, p) => {
            let exp = m.expected(*k, p);
            let act = m.actual(*k);
            let res = d.discard_if(&key(*k), *c, exp.as_ref()).await;
            if m.append_only {
                return assert_append_only(res, what);
            }
            let out = res.unwrap_or_else(|e| panic!("{what}: {e}"));
            if holds(*c, exp.as_ref(), act.as_ref()) {
                assert!(out.satisfied, "{what}: satisfied");
                assert_eq!(out.actual_etag, act, "{what}: actual_etag");
                assert_eq!(out.resulting_etag, None, "{what}: resulting_etag");
                assert_eq!(out.value, Slot::Absent, "{what}: value");
                m.entries.remove(k);
            } else {
                let value = if act.is_some() {
                    Slot::NotRetrieved
                } else {
                    Slot::Absent
                };
                assert_unchanged(&out, m, *k, false, value, what);
            }
        }
        Op::GetIf(k, c, p, r) => {
            let exp = m.expected(*k, p);
            let act = m.actual(*k);
            let out = d
                .get_if(&key(*k), *c, exp.as_ref(), *r)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let h = holds(*c, exp.as_ref(), act.as_ref());
            let value = m.report(*k, exp.as_ref(), *r);
            assert_unchanged(&out, m, *k, h, value, what);
        }
        Op::CheckAll => {
            let mut items: Vec<(Key, u64)> = d.items().try_collect().await.expect("items");
            items.sort();
            let mut want: Vec<(Key, u64)> =
                m.entries.iter().map(|(k, (v, _))| (key(*k), *v)).collect();
            want.sort();
            assert_eq!(items, want, "items()");
            assert_eq!(d.len().await.expect("len"), m.entries.len(), "len()");
        }
    }
    // After every step, every key reads back as the model has it.
    for (i, _) in KEYS.iter().enumerate() {
        let got = d.get_with_etag(&key(i)).await.expect("get_with_etag");
        let want = m.entries.get(&i).cloned();
        assert_eq!(got, want, "after {what}: state of {}", KEYS[i]);
    }
}

fn run(append_only: bool, files: bool, ops: &[Op]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    rt.block_on(async {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let d: PersiDict<u64> = if files {
            FileDict::builder(tmp.path())
                .append_only(append_only)
                .build::<u64>()
                .await
                .expect("a FileDict")
                .into()
        } else {
            MemDict::<u64>::new().with_append_only(append_only).into()
        };
        let mut m = Model {
            append_only,
            content_etags: files,
            ..Model::default()
        };
        for op in ops {
            step(&d, &mut m, op).await;
        }
        step(&d, &mut m, &Op::CheckAll).await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn memdict_matches_the_model(ops in prop::collection::vec(op(), 0..=40)) {
        run(false, false, &ops);
    }

    #[test]
    fn append_only_memdict_matches_the_model(ops in prop::collection::vec(op(), 0..=40)) {
        run(true, false, &ops);
    }
}

proptest! {
    // Fewer cases: every write to a file is fsynced.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn filedict_matches_the_model(ops in prop::collection::vec(op(), 0..=40)) {
        run(false, true, &ops);
    }

    #[test]
    fn append_only_filedict_matches_the_model(ops in prop::collection::vec(op(), 0..=40)) {
        run(true, true, &ops);
    }
}
