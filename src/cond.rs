//! The conditional-operation model: ETags, conditions, what to retrieve, what to write, and
//! the outcome that reports what happened.

use std::fmt;

/// An entity tag: an opaque version identifier, kept exactly as the backend returned it
/// (for S3 that includes the surrounding quotes).
///
/// An ETag read from S3 (or returned by an S3 write) also remembers the write ids the
/// object carries, so that a compare-and-swap conditioned on it can record them in the
/// object it writes; that settles a write whose answer was lost (the README's Reliability
/// section). They are not part of the ETag's identity: comparisons, hashing, ordering,
/// `Display` and serialization see the tag alone.
#[derive(Clone)]
pub struct ETag {
    tag: String,
    lineage: Option<Lineage>,
}

impl ETag {
    /// Wraps a backend's ETag string unchanged.
    pub fn new(s: impl Into<String>) -> Self {
        ETag {
            tag: s.into(),
            lineage: None,
        }
    }

    /// The ETag as the backend returned it.
    pub fn as_str(&self) -> &str {
        &self.tag
    }

    /// The write ids of the object version this ETag was read from, where known.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn lineage(&self) -> Option<&Lineage> {
        self.lineage.as_ref()
    }

    /// The same ETag, remembering the write ids of its object version.
    #[cfg_attr(not(feature = "s3"), allow(dead_code))]
    pub(crate) fn with_lineage(mut self, lineage: Option<Lineage>) -> Self {
        self.lineage = lineage;
        self
    }
}

impl PartialEq for ETag {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag
    }
}

impl Eq for ETag {}

impl std::hash::Hash for ETag {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.tag.hash(state);
    }
}

impl PartialOrd for ETag {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ETag {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.tag.cmp(&other.tag)
    }
}

impl serde::Serialize for ETag {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_newtype_struct("ETag", &self.tag)
    }
}

impl<'de> serde::Deserialize<'de> for ETag {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename = "ETag")]
        struct Tag(String);
        Tag::deserialize(deserializer).map(|Tag(tag)| ETag::new(tag))
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.tag)
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ETag({})", self.tag)
    }
}

impl From<String> for ETag {
    fn from(s: String) -> Self {
        ETag::new(s)
    }
}

impl From<&str> for ETag {
    fn from(s: &str) -> Self {
        ETag::new(s)
    }
}

/// The write ids an object version carries: the id of the write that stored it, then the
/// ids of the versions it replaced by compare-and-swap, most recent first, at most
/// [`Lineage::MAX_IDS`] in all. A version written without knowing what it replaced (a
/// plain put, an insert, another client's write) starts a lineage of its own.
///
/// Kept as the ids joined by `,`, the form S3 metadata stores them in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
pub(crate) struct Lineage(std::sync::Arc<str>);

#[cfg_attr(not(feature = "s3"), allow(dead_code))]
impl Lineage {
    /// The most ids a lineage keeps: the version's own and 47 before it (816 bytes of
    /// S3's 2 KB of user metadata). A lost answer is settled as long as fewer than 47
    /// later writes have landed on the key when the client looks: the attempt timeout
    /// bounds that time.
    pub(crate) const MAX_IDS: usize = 48;

    /// The lineage of a version written by `own` that replaced a version of lineage
    /// `replaced` (`None`: it did not know, or replaced nothing); the oldest ids beyond
    /// [`MAX_IDS`](Self::MAX_IDS) are dropped.
    pub(crate) fn new(own: &str, replaced: Option<&Lineage>) -> Lineage {
        let mut ids = own.to_owned();
        for id in replaced
            .into_iter()
            .flat_map(|r| r.ids())
            .take(Self::MAX_IDS - 1)
        {
            ids.push(',');
            ids.push_str(id);
        }
        Lineage(ids.into())
    }

    /// The lineage read from a version's metadata: its own write id and the ids it
    /// recorded before it. `None` without an own id; the recorded ids are dropped, and the
    /// lineage starts at the own id, when any of them is not a write id (hex, at most 64
    /// characters): a lineage is evidence only when it is exactly what a persidict write
    /// recorded.
    pub(crate) fn parse(own: Option<&str>, before: Option<&str>) -> Option<Lineage> {
        let own = own.filter(|id| is_write_id(id))?;
        let before = before.filter(|b| !b.is_empty());
        match before {
            // Never longer than a write would make it.
            Some(b) if b.split(',').all(is_write_id) => {
                Some(Lineage::new(own, Some(&Lineage(b.into()))))
            }
            _ => Some(Lineage(own.into())),
        }
    }

    /// The ids, the version's own first.
    pub(crate) fn ids(&self) -> impl Iterator<Item = &str> {
        self.0.split(',')
    }

    /// The id of the write that stored the version.
    pub(crate) fn own(&self) -> &str {
        self.ids().next().unwrap_or_default()
    }

    /// The ids recorded before the own one, joined by `,` (empty when none).
    pub(crate) fn before(&self) -> &str {
        self.0.split_once(',').map_or("", |(_, rest)| rest)
    }

    /// Whether `id` is in the lineage.
    pub(crate) fn contains(&self, id: &str) -> bool {
        self.ids().any(|i| i == id)
    }
}

/// Whether `id` looks like a write id: 1 to 64 hex digits.
#[cfg_attr(not(feature = "s3"), allow(dead_code))]
fn is_write_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// How the caller's `expected` ETag is compared with the key's actual ETag.
///
/// `expected == None` means "the key is absent", so `Same` with `None` is
/// insert-if-absent and `Changed` with `None` is "only if present".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Condition {
    /// Always holds.
    #[default]
    Any,
    /// Holds when the actual ETag equals `expected` (absent equals absent).
    Same,
    /// Holds when the actual ETag differs from `expected`.
    Changed,
}

impl Condition {
    /// Whether the condition holds for `expected` against `actual`.
    pub fn holds(self, expected: Option<&ETag>, actual: Option<&ETag>) -> bool {
        match self {
            Condition::Any => true,
            Condition::Same => expected == actual,
            Condition::Changed => expected != actual,
        }
    }
}

/// Whether a conditional operation reports the key's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Retrieve {
    /// Always report the value.
    Always,
    /// Never report the value ([`Slot::NotRetrieved`] unless the key is absent).
    Never,
    /// Report it only when the actual ETag differs from `expected` — the caller already has
    /// the value otherwise. Saves the transfer (`304 Not Modified` on S3).
    #[default]
    IfChanged,
}

impl Retrieve {
    /// Whether the value must be fetched, given `expected` and the key's `actual` ETag.
    pub fn wants_value(self, expected: Option<&ETag>, actual: Option<&ETag>) -> bool {
        match self {
            Retrieve::Always => true,
            Retrieve::Never => false,
            Retrieve::IfChanged => expected != actual,
        }
    }
}

/// What [`put_if`](crate::PersiDict::put_if) writes when its condition holds.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Write<V> {
    /// Store this value.
    Value(V),
    /// Leave the key as it is; never creates a key.
    KeepCurrent,
    /// Delete the key (deleting an absent key changes nothing).
    DeleteCurrent,
}

/// A value slot in an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Slot<V> {
    /// The key is absent.
    Absent,
    /// The key is present but its value was not asked for (see [`Retrieve`]).
    #[default]
    NotRetrieved,
    /// The value.
    Present(V),
}

impl<V> Slot<V> {
    /// The value, if it was retrieved.
    pub fn into_option(self) -> Option<V> {
        match self {
            Slot::Present(v) => Some(v),
            _ => None,
        }
    }

    /// A reference to the value, if it was retrieved.
    pub fn as_ref(&self) -> Option<&V> {
        match self {
            Slot::Present(v) => Some(v),
            _ => None,
        }
    }

    /// True for [`Slot::Absent`].
    pub fn is_absent(&self) -> bool {
        matches!(self, Slot::Absent)
    }

    /// True for [`Slot::Present`].
    pub fn is_present(&self) -> bool {
        matches!(self, Slot::Present(_))
    }
}

/// What a conditional operation found and did.
///
/// * `satisfied` — whether the condition held against `actual_etag`.
/// * `actual_etag` — the key's ETag the condition was checked against (`None`: absent).
/// * `resulting_etag` — the key's ETag after the operation.
/// * `value` — the key's value *after* the operation, reported per [`Retrieve`]: when the
///   operation wrote a value the caller supplied, it is reported only with
///   [`Retrieve::Always`]; an absent key is always reported as [`Slot::Absent`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Outcome<V> {
    /// Whether the condition held.
    pub satisfied: bool,
    /// The ETag the condition was checked against.
    pub actual_etag: Option<ETag>,
    /// The ETag after the operation.
    pub resulting_etag: Option<ETag>,
    /// The value after the operation, per [`Retrieve`].
    pub value: Slot<V>,
}

impl<V> Outcome<V> {
    /// True when the operation changed the key (its ETag changed).
    pub fn mutated(&self) -> bool {
        self.resulting_etag != self.actual_etag
    }

    /// An outcome that changed nothing: the key is as it was found.
    pub fn unchanged(satisfied: bool, actual: Option<ETag>, value: Slot<V>) -> Self {
        Outcome {
            satisfied,
            resulting_etag: actual.clone(),
            actual_etag: actual,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions() {
        let a = ETag::from("a");
        let b = ETag::from("b");
        assert!(Condition::Same.holds(None, None));
        assert!(Condition::Same.holds(Some(&a), Some(&a)));
        assert!(!Condition::Same.holds(Some(&a), Some(&b)));
        assert!(!Condition::Same.holds(None, Some(&b)));
        assert!(Condition::Changed.holds(None, Some(&b)));
        assert!(!Condition::Changed.holds(None, None));
        assert!(Condition::Any.holds(Some(&a), None));
        assert!(Retrieve::IfChanged.wants_value(Some(&a), Some(&b)));
        assert!(!Retrieve::IfChanged.wants_value(Some(&a), Some(&a)));
    }

    fn id(n: usize) -> String {
        format!("{n:016x}")
    }

    #[test]
    fn lineages_keep_the_newest_ids() {
        let first = Lineage::new(&id(0), None);
        assert_eq!((first.own(), first.before()), (id(0).as_str(), ""));
        let mut l = first;
        for n in 1..100 {
            l = Lineage::new(&id(n), Some(&l));
        }
        let ids: Vec<&str> = l.ids().collect();
        assert_eq!(ids.len(), Lineage::MAX_IDS);
        assert_eq!(ids[0], id(99));
        let oldest = 99 - (Lineage::MAX_IDS - 1);
        assert_eq!(ids[Lineage::MAX_IDS - 1], id(oldest));
        assert!(l.contains(&id(oldest)) && !l.contains(&id(oldest - 1)));
        // With 64-bit ids, and room left in S3's 2 KB of user metadata.
        assert!(l.0.len() <= 48 * 17, "{}", l.0.len());
        // What a write records reads back the same.
        assert_eq!(Lineage::parse(Some(l.own()), Some(l.before())), Some(l));
    }

    #[test]
    fn lineages_read_back_only_what_a_write_records() {
        let own = id(1);
        assert_eq!(Lineage::parse(None, Some(&id(2))), None);
        assert_eq!(Lineage::parse(Some("not hex"), None), None);
        let alone = Lineage::parse(Some(&own), None).unwrap();
        assert_eq!(alone.ids().collect::<Vec<_>>(), [own.as_str()]);
        // A recorded id that is not a write id voids what was recorded, not the own id.
        for bad in ["x", ",", "abc,,def", "abc, def"] {
            let l = Lineage::parse(Some(&own), Some(bad)).unwrap();
            assert_eq!(l.ids().collect::<Vec<_>>(), [own.as_str()], "{bad:?}");
        }
        // An over-long record is cut to what a write would keep.
        let long: Vec<String> = (2..100).map(id).collect();
        let l = Lineage::parse(Some(&own), Some(&long.join(","))).unwrap();
        assert_eq!(l.ids().count(), Lineage::MAX_IDS);
    }

    #[test]
    fn an_etag_is_its_tag_alone() {
        let plain = ETag::from("\"abc\"");
        let with = plain.clone().with_lineage(Some(Lineage::new(&id(7), None)));
        assert_eq!(plain, with);
        assert_eq!(with.lineage().map(Lineage::own), Some(id(7).as_str()));
        let hasher = std::hash::RandomState::new();
        use std::hash::BuildHasher;
        assert_eq!(hasher.hash_one(&with), hasher.hash_one(&plain));
        assert_eq!(hasher.hash_one(&plain), hasher.hash_one(plain.as_str()));
        assert_eq!(format!("{with}"), "\"abc\"");
        let json = serde_json::to_string(&with).unwrap();
        assert_eq!(json, "\"\\\"abc\\\"\"");
        let back: ETag = serde_json::from_str(&json).unwrap();
        assert_eq!(back, plain);
        assert!(back.lineage().is_none());
    }
}
