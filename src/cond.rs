//! The conditional-operation model: ETags, conditions, what to retrieve, what to write, and
//! the outcome that reports what happened.

use std::fmt;

/// An entity tag: an opaque version identifier, kept exactly as the backend returned it
/// (for S3 that includes the surrounding quotes).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct ETag(String);

impl ETag {
    /// Wraps a backend's ETag string unchanged.
    pub fn new(s: impl Into<String>) -> Self {
        ETag(s.into())
    }

    /// The ETag as the backend returned it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ETag({})", self.0)
    }
}

impl From<String> for ETag {
    fn from(s: String) -> Self {
        ETag(s)
    }
}

impl From<&str> for ETag {
    fn from(s: &str) -> Self {
        ETag(s.to_owned())
    }
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
}
