//! The conditional table (`get_if`, `put_if`, `setdefault_if`, `discard_if` over every
//! condition, expected ETag, state and retrieve), the jokers, and `setdefault`.

use futures::stream::{self, StreamExt, TryStreamExt};

use super::capabilities::enforces_conditional_writes;
use super::{assert_not_found, key, open, read, Fixture};
use crate::cond::{Condition, ETag, Outcome, Retrieve, Slot, Write};
use crate::dict::PersiDict;
use crate::error::Result;
use crate::key::Key;

/// `setdefault` inserts only when absent; `pop` returns the value and removes the key,
/// [`Error::NotFound`](crate::Error::NotFound) when absent.
pub async fn setdefault_and_pop<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    if !enforces_conditional_writes(f, d).await {
        return;
    }
    let k = key("sd/k");
    assert_eq!(d.setdefault(&k, 5).await.expect("setdefault"), 5);
    assert_eq!(d.get(&k).await.expect("get"), 5);
    let etag = d.etag(&k).await.expect("etag");
    assert_eq!(
        d.setdefault(&k, 9).await.expect("setdefault"),
        5,
        "never overwrites"
    );
    assert_eq!(read(d, &k).await, Some((5, etag)));
    assert_eq!(d.pop(&k).await.expect("pop"), 5);
    assert!(!d.contains(&k).await.expect("contains"));
    assert_not_found(d.pop(&k).await, &k, "pop of an absent key");
}

// ---------------------------------------------------------------------------------------
// The conditional table

const STALE: u64 = 1;
const CURRENT: u64 = 2;
const WRITTEN: u64 = 3;
pub(super) const CONDITIONS: [Condition; 3] = [Condition::Any, Condition::Same, Condition::Changed];
const RETRIEVES: [Retrieve; 3] = [Retrieve::Always, Retrieve::Never, Retrieve::IfChanged];

/// Which ETag the caller passes as `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    /// `None`: "I think the key is absent".
    Absent,
    /// The key's current ETag (only for present keys; for absent ones it is `Absent`).
    Current,
    /// An ETag the key had before its current state.
    Stale,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    GetIf,
    PutValue,
    PutKeep,
    PutDelete,
    SetdefaultIf,
    DiscardIf,
}

#[derive(Debug, Clone, Copy)]
struct Case {
    op: Op,
    present: bool,
    expected: Expected,
    condition: Condition,
    retrieve: Retrieve,
}

/// The state a case starts from.
struct Situation {
    key: Key,
    actual: Option<ETag>,
    expected: Option<ETag>,
}

enum After {
    Unchanged,
    Written(u64),
    Deleted,
}

struct Want {
    satisfied: bool,
    value: Slot<u64>,
    after: After,
}

fn cases(op: Op) -> Vec<Case> {
    let retrieves: &[Retrieve] = if op == Op::DiscardIf {
        &[Retrieve::Never]
    } else {
        &RETRIEVES
    };
    let mut out = Vec::new();
    for present in [false, true] {
        for expected in [Expected::Absent, Expected::Current, Expected::Stale] {
            if !present && expected == Expected::Current {
                continue;
            }
            for condition in CONDITIONS {
                for &retrieve in retrieves {
                    out.push(Case {
                        op,
                        present,
                        expected,
                        condition,
                        retrieve,
                    });
                }
            }
        }
    }
    out
}

/// Writes `STALE`, then either `CURRENT` (present) or deletes the key (absent).
async fn prepare(d: &PersiDict<u64>, k: Key, case: &Case) -> Situation {
    let stale = d.put(&k, STALE).await.expect("put");
    let actual = if case.present {
        let e = d.put(&k, CURRENT).await.expect("put");
        assert_ne!(e, stale, "the ETag changes when the content changes");
        Some(e)
    } else {
        d.delete(&k).await.expect("delete");
        None
    };
    let expected = match case.expected {
        Expected::Absent => None,
        Expected::Current => actual.clone(),
        Expected::Stale => Some(stale),
    };
    Situation {
        key: k,
        actual,
        expected,
    }
}

async fn apply(d: &PersiDict<u64>, case: &Case, s: &Situation) -> Result<Outcome<u64>> {
    let (k, c, e, r) = (&s.key, case.condition, s.expected.as_ref(), case.retrieve);
    match case.op {
        Op::GetIf => d.get_if(k, c, e, r).await,
        Op::PutValue => d.put_if(k, Write::Value(WRITTEN), c, e, r).await,
        Op::PutKeep => d.put_if(k, Write::KeepCurrent, c, e, r).await,
        Op::PutDelete => d.put_if(k, Write::DeleteCurrent, c, e, r).await,
        Op::SetdefaultIf => d.setdefault_if(k, WRITTEN, c, e, r).await,
        Op::DiscardIf => d.discard_if(k, c, e).await,
    }
}

/// The expected result, from DESIGN.md section 3, independently of any backend.
fn want(case: &Case, s: &Situation) -> Want {
    let (expected, actual) = (s.expected.as_ref(), s.actual.as_ref());
    let holds = match case.condition {
        Condition::Any => true,
        Condition::Same => expected == actual,
        Condition::Changed => expected != actual,
    };
    let fetch = match case.retrieve {
        Retrieve::Always => true,
        Retrieve::Never => false,
        Retrieve::IfChanged => expected != actual,
    };
    let found = match (case.present, fetch) {
        (false, _) => Slot::Absent,
        (true, true) => Slot::Present(CURRENT),
        (true, false) => Slot::NotRetrieved,
    };
    let unchanged = Want {
        satisfied: holds,
        value: found,
        after: After::Unchanged,
    };
    let written = Want {
        satisfied: true,
        value: if case.retrieve == Retrieve::Always {
            Slot::Present(WRITTEN)
        } else {
            Slot::NotRetrieved
        },
        after: After::Written(WRITTEN),
    };
    let deleted = Want {
        satisfied: true,
        value: Slot::Absent,
        after: After::Deleted,
    };
    match case.op {
        Op::GetIf | Op::PutKeep => unchanged,
        Op::PutValue if holds => written,
        Op::SetdefaultIf if holds && !case.present => written,
        Op::PutDelete | Op::DiscardIf if holds => deleted,
        // discard_if reports no value: NotRetrieved for a present key it kept.
        Op::DiscardIf => Want {
            value: if case.present {
                Slot::NotRetrieved
            } else {
                Slot::Absent
            },
            ..unchanged
        },
        Op::PutValue | Op::SetdefaultIf | Op::PutDelete => unchanged,
    }
}

async fn check_case(d: &PersiDict<u64>, i: usize, case: Case) {
    let k = key(&format!("table/{:?}/{i}", case.op));
    let s = prepare(d, k, &case).await;
    let label = format!(
        "{:?} on {} key, {:?} with expected={:?} ({:?}), retrieve={:?}",
        case.op,
        if case.present {
            "a present"
        } else {
            "an absent"
        },
        case.condition,
        case.expected,
        s.expected,
        case.retrieve
    );
    let out = apply(d, &case, &s)
        .await
        .unwrap_or_else(|e| panic!("{label}: unexpected error {e}"));
    let w = want(&case, &s);
    assert_eq!(out.satisfied, w.satisfied, "{label}: satisfied ({out:?})");
    assert_eq!(out.actual_etag, s.actual, "{label}: actual_etag ({out:?})");
    assert_eq!(out.value, w.value, "{label}: value ({out:?})");
    let now = read(d, &s.key).await;
    match w.after {
        After::Unchanged => {
            assert_eq!(
                out.resulting_etag, s.actual,
                "{label}: resulting_etag ({out:?})"
            );
            assert!(!out.mutated(), "{label}: mutated ({out:?})");
            let before = s.actual.clone().map(|e| (CURRENT, e));
            assert_eq!(now, before, "{label}: the entry changed");
        }
        After::Written(v) => {
            let e = out
                .resulting_etag
                .clone()
                .unwrap_or_else(|| panic!("{label}: no resulting_etag after a write"));
            assert!(out.mutated(), "{label}: mutated ({out:?})");
            assert_eq!(now, Some((v, e)), "{label}: the entry after the write");
        }
        After::Deleted => {
            assert_eq!(
                out.resulting_etag, None,
                "{label}: resulting_etag ({out:?})"
            );
            assert_eq!(out.mutated(), case.present, "{label}: mutated ({out:?})");
            assert_eq!(now, None, "{label}: the entry survived");
        }
    }
}

async fn run_table(d: &PersiDict<u64>, ops: &[Op]) {
    let all: Vec<Case> = ops.iter().flat_map(|&op| cases(op)).collect();
    stream::iter(all.into_iter().enumerate())
        .for_each_concurrent(8, |(i, case)| check_case(d, i, case))
        .await;
}

/// The full table of `get_if`: conditions × expected ETags × absent/present × retrieve.
pub async fn conditional_get_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    run_table(&d, &[Op::GetIf]).await;
}

/// The full table of `put_if` with `Write::Value`, `KeepCurrent` and `DeleteCurrent`.
pub async fn conditional_put_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    run_table(&d, &[Op::PutValue, Op::PutKeep, Op::PutDelete]).await;
}

/// The full table of `setdefault_if`.
pub async fn conditional_setdefault_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    run_table(&d, &[Op::SetdefaultIf]).await;
}

/// The full table of `discard_if`.
pub async fn conditional_discard_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    run_table(&d, &[Op::DiscardIf]).await;
}

/// `discard_many_if`: one outcome per key, in order; only the keys still at their ETag go.
pub async fn batch_discard_if<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    if !enforces_conditional_writes(f, &d).await {
        return;
    }
    let keys: Vec<Key> = (0..5).map(|i| key(&format!("batch/{i}"))).collect();
    let mut etags = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        etags.push(d.put(k, i as u64).await.expect("put"));
    }
    // Key 1 changes after its ETag was read; key 3 is deleted; key 4 is asked twice.
    d.put(&keys[1], 10).await.expect("put");
    d.delete(&keys[3]).await.expect("delete");
    let asked = vec![
        (keys[0].clone(), etags[0].clone()),
        (keys[1].clone(), etags[1].clone()),
        (keys[2].clone(), etags[2].clone()),
        (keys[3].clone(), etags[3].clone()),
        (key("batch/never"), etags[0].clone()),
        (keys[4].clone(), etags[4].clone()),
    ];
    let deleted = d.discard_many_if(&asked).await.expect("discard_many_if");
    assert_eq!(deleted, [true, false, true, false, false, true]);
    let mut left: Vec<Key> = d.keys().try_collect().await.expect("keys");
    left.sort();
    assert_eq!(left, [keys[1].clone()]);
    assert_eq!(d.get(&keys[1]).await.expect("get"), 10);
    assert_eq!(
        d.discard_many_if(&[]).await.expect("nothing to do"),
        Vec::<bool>::new()
    );
    d.clear().await.expect("clear");
}

/// `KeepCurrent` never creates a key and leaves a present one; `DeleteCurrent` deletes, and
/// on an absent key is not a mutation.
pub async fn jokers<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    if !enforces_conditional_writes(f, d).await {
        return;
    }
    let k = key("jokers/k");
    let bogus = ETag::new("\"bogus\"");

    for (c, e, holds) in [
        (Condition::Any, None, true),
        (Condition::Same, None, true),
        (Condition::Changed, Some(&bogus), true),
        (Condition::Same, Some(&bogus), false),
        (Condition::Changed, None, false),
    ] {
        let out = d
            .put_if(&k, Write::KeepCurrent, c, e, Retrieve::Always)
            .await
            .expect("put_if(KeepCurrent)");
        assert_eq!(
            out.satisfied, holds,
            "KeepCurrent {c:?} {e:?} on an absent key"
        );
        assert_eq!(
            (out.actual_etag.clone(), out.resulting_etag.clone()),
            (None, None)
        );
        assert!(!out.mutated());
        assert_eq!(out.value, Slot::Absent);
        assert!(
            !d.contains(&k).await.expect("contains"),
            "KeepCurrent created a key"
        );
    }

    let etag = d.put(&k, 10).await.expect("put");
    let out = d
        .put_if(
            &k,
            Write::KeepCurrent,
            Condition::Any,
            None,
            Retrieve::Always,
        )
        .await
        .expect("put_if(KeepCurrent)");
    assert!(out.satisfied && !out.mutated());
    assert_eq!(out.resulting_etag.as_ref(), Some(&etag));
    assert_eq!(out.value, Slot::Present(10));
    assert_eq!(read(d, &k).await, Some((10, etag.clone())));

    let out = d
        .put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Same,
            Some(&etag),
            Retrieve::Always,
        )
        .await
        .expect("put_if(DeleteCurrent)");
    assert!(out.satisfied && out.mutated());
    assert_eq!(out.actual_etag.as_ref(), Some(&etag));
    assert_eq!(out.resulting_etag, None);
    assert_eq!(out.value, Slot::Absent);
    assert!(!d.contains(&k).await.expect("contains"));

    let out = d
        .put_if(
            &k,
            Write::DeleteCurrent,
            Condition::Any,
            None,
            Retrieve::Always,
        )
        .await
        .expect("put_if(DeleteCurrent) on an absent key");
    assert!(
        out.satisfied,
        "DeleteCurrent with Any on an absent key holds"
    );
    assert!(!out.mutated(), "deleting an absent key is not a mutation");
    assert_eq!((out.actual_etag, out.resulting_etag), (None, None));
    assert_eq!(out.value, Slot::Absent);
}

/// `setdefault_if` never overwrites a present key, whatever the condition.
pub async fn setdefault_never_overwrites<F: Fixture>(f: &F) {
    let d = open::<F, u64>(f).await;
    let d = &d;
    if !enforces_conditional_writes(f, d).await {
        return;
    }
    let k = key("sdno/k");
    let stale = d.put(&k, 1).await.expect("put");
    let etag = d.put(&k, 2).await.expect("put");
    for c in CONDITIONS {
        for e in [None, Some(&etag), Some(&stale)] {
            let out = d
                .setdefault_if(&k, 99, c, e, Retrieve::Always)
                .await
                .expect("setdefault_if");
            assert_eq!(out.satisfied, c.holds(e, Some(&etag)), "{c:?} {e:?}");
            assert!(!out.mutated(), "setdefault_if {c:?} {e:?} overwrote");
            assert_eq!(out.value, Slot::Present(2));
            assert_eq!(read(d, &k).await, Some((2, etag.clone())));
        }
    }
}
