//! Listing a prefix, its first-level "directories" in parallel.
//!
//! `ListObjectsV2` answers at most 1000 keys per request, and each page needs the
//! continuation token of the page before, so one pagination costs one round trip per 1000
//! keys, one after the other. [`list`] goes in three steps instead:
//!
//! 0. One plain page over `<root><prefix>`. When it holds everything (up to 1000 keys), it
//!    is the whole listing, one request; a reader that wants only its first object
//!    (`is_empty`, `popitem`) sends no more. Its keys are remembered: the steps below leave
//!    them out. (They bound nothing by key order: SeaweedFS lists `a/…` before `a.json`.)
//! 1. One pagination with `delimiter=/` over `<root><prefix>`, after the first page's last
//!    key, as its next page would start. Its objects (the first level: no `/` after the
//!    prefix) are yielded as each page arrives; its common prefixes (`<root><prefix>a/`,
//!    …) are gathered, with the directory the first page ended in. Flat keys have no
//!    common prefixes, so for them this pagination is the rest of the listing: the same
//!    requests as a plain one.
//! 2. The common prefixes, in key order, are cut into at most `concurrency` contiguous
//!    groups, and each group is listed as one key range, all ranges at once: `prefix =
//!    <root><prefix>`, `start-after =` the group's first common prefix (a key equal to a
//!    common prefix ends in `/`, never a valid name). A range stops paging at the first key
//!    that reaches the next group's first common prefix; the last runs to the end. Each
//!    key is kept only inside its range, on both bounds (a server that ignores
//!    `start-after` is still listed correctly, only with more pages), only below the
//!    first level (first-level objects that sort inside a range come from step 1), and
//!    only if the first page did not yield it.
//!
//! Requests: 1 for up to 1000 keys. Beyond: step 0's page; step 1's ⌈e / 1000⌉ pages, e
//! the first-level objects and common prefixes after the first page (at least one); a range over m
//! keys (in key order, first-level objects sorting inside it and the first page's keys
//! included) ⌊m/1000⌋ + 1 pages, the last range ⌈m/1000⌉ (at least one). Step 1 stays
//! sequential: 50,000 first-level prefixes are 50 pages before the ranges start. Pages
//! after a pagination's first are fetched one ahead of the reader
//! ([`read_ahead`](super::read_ahead)).
//!
//! Every object is yielded once: the ranges are disjoint, every key below a common prefix
//! lies in the range of that prefix's group, and the ranges leave out the first level.
//! Memory stays bounded: the common prefixes and the first page's keys are held, keys
//! never more than one page per range.

use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};

use std::collections::HashSet;
use std::sync::Arc;

use super::client::{ListPage, ListRequest, Listed, S3Client};
use crate::error::Result;
use crate::store::{check_name, ObjectMeta};

/// The delimiter of the first listing: `/`, which separates the segments of a name.
const DELIMITER: &str = "/";

/// Every object under `<root><prefix>`, named relative to `root`, in no particular order.
/// Objects this store could not address (`a//b`, `../x`) are left out.
pub(crate) fn list(
    client: S3Client,
    root: String,
    prefix: &str,
    concurrency: usize,
) -> BoxStream<'static, Result<ObjectMeta>> {
    let full = format!("{root}{prefix}");
    objects(client, full, concurrency.max(1))
        .map_ok(move |batch| {
            let metas: Vec<Result<ObjectMeta>> = batch
                .into_iter()
                .filter_map(|o| {
                    let name = o.key.strip_prefix(root.as_str())?;
                    // Objects this store could not address (`a//b`, `../x`) are not its
                    // own: leave them out rather than hand out unusable names.
                    check_name(name).ok()?;
                    Some(Ok(ObjectMeta {
                        name: name.to_owned(),
                        etag: o.etag,
                        size: o.size,
                        last_modified: o.last_modified,
                    }))
                })
                .collect();
            stream::iter(metas)
        })
        .try_flatten()
        .boxed()
}

/// The first-level directory (`<full>a/`) that `key` lies below, if it does.
fn directory_of(key: &str, full: &str) -> Option<String> {
    let rest = key.strip_prefix(full)?;
    let (dir, _) = rest.split_once(DELIMITER)?;
    Some(format!("{full}{dir}{DELIMITER}"))
}

/// Whether `key` lies below the first level under `full`: a `/` follows the prefix.
fn below_first_level(key: &str, full: &str) -> bool {
    key.strip_prefix(full)
        .is_some_and(|rest| rest.contains(DELIMITER))
}

/// Where a listing is.
enum Phase {
    /// The first page of a plain listing: when it holds everything (up to 1000 keys), it is
    /// the whole listing, one request as ever; a reader that wants only its first object
    /// (`is_empty`, `popitem`) sends no more.
    First(BoxStream<'static, Result<ListPage>>),
    /// The delimiter listing: its objects are yielded, its common prefixes gathered.
    /// `nested` records an object below the first level among them: a server that
    /// ignored the delimiter, whose listing is then already complete.
    Level {
        pages: BoxStream<'static, Result<ListPage>>,
        prefixes: Vec<String>,
        nested: bool,
    },
    /// The ranges below the common prefixes, merged as their pages arrive.
    Ranges(BoxStream<'static, Result<Vec<Listed>>>),
    /// Finished, or ended by an error.
    Done,
}

struct Listing {
    client: S3Client,
    /// `<root><prefix>`.
    full: String,
    concurrency: usize,
    /// The keys of the first page, yielded already. (Not a bound on key order: servers
    /// such as SeaweedFS list `a/…` before `a.json`.)
    seen: Arc<HashSet<String>>,
    phase: Phase,
}

/// The objects under `full`, one batch per page received.
fn objects(
    client: S3Client,
    full: String,
    concurrency: usize,
) -> BoxStream<'static, Result<Vec<Listed>>> {
    let first = client.list_pages(ListRequest {
        prefix: full.clone(),
        delimiter: None,
        start_after: None,
    });
    let listing = Listing {
        client,
        full,
        concurrency,
        seen: Arc::default(),
        phase: Phase::First(first),
    };
    stream::unfold(listing, |mut l| async move {
        loop {
            match std::mem::replace(&mut l.phase, Phase::Done) {
                Phase::First(mut pages) => {
                    let page = match pages.next().await? {
                        Ok(page) => page,
                        Err(e) => return Some((Err(e), l)),
                    };
                    if page.truncated {
                        // More than a page: the rest is listed level first, after the
                        // page's last key in the server's order, as its next page would
                        // be (the plain pagination is dropped unread on).
                        let last = page.objects.last().map(|o| o.key.clone());
                        l.seen = Arc::new(page.objects.iter().map(|o| o.key.clone()).collect());
                        let pages = l.client.list_pages(ListRequest {
                            prefix: l.full.clone(),
                            delimiter: Some(DELIMITER.to_owned()),
                            start_after: last.clone(),
                        });
                        // The directory of the last key may hold more keys after it,
                        // whether or not the server names it again after that key.
                        let prefixes = last
                            .as_deref()
                            .and_then(|last| directory_of(last, &l.full))
                            .into_iter()
                            .collect();
                        l.phase = Phase::Level {
                            pages,
                            prefixes,
                            nested: false,
                        };
                    }
                    return Some((Ok(page.objects), l));
                }
                Phase::Level {
                    mut pages,
                    mut prefixes,
                    mut nested,
                } => match pages.next().await {
                    Some(Ok(page)) => {
                        nested |= page
                            .objects
                            .iter()
                            .any(|o| below_first_level(&o.key, &l.full));
                        prefixes.extend(page.common_prefixes);
                        let fresh: Vec<Listed> = page
                            .objects
                            .into_iter()
                            .filter(|o| !l.seen.contains(&o.key))
                            .collect();
                        l.phase = Phase::Level {
                            pages,
                            prefixes,
                            nested,
                        };
                        return Some((Ok(fresh), l));
                    }
                    Some(Err(e)) => return Some((Err(e), l)),
                    None if nested || prefixes.is_empty() => return None,
                    None => {
                        l.phase = Phase::Ranges(ranges(
                            &l.client,
                            &l.full,
                            prefixes,
                            l.concurrency,
                            Arc::clone(&l.seen),
                        ));
                    }
                },
                Phase::Ranges(mut merged) => {
                    return match merged.next().await {
                        Some(Ok(batch)) => {
                            l.phase = Phase::Ranges(merged);
                            Some((Ok(batch), l))
                        }
                        // The other ranges are dropped with `merged`: their requests stop.
                        Some(Err(e)) => Some((Err(e), l)),
                        None => None,
                    };
                }
                Phase::Done => return None,
            }
        }
    })
    .boxed()
}

/// The first common prefix of each of at most `groups` contiguous groups of `prefixes`
/// (sorted, distinct), the groups as even in size as they can be.
fn group_starts(prefixes: &[String], groups: usize) -> Vec<String> {
    let n = prefixes.len();
    let groups = groups.clamp(1, n.max(1));
    (0..groups)
        .filter_map(|i| prefixes.get(i * n / groups).cloned())
        .collect()
}

/// Every key below the common prefixes `prefixes` of `full`: one range per group, all
/// listed at once.
fn ranges(
    client: &S3Client,
    full: &str,
    mut prefixes: Vec<String>,
    concurrency: usize,
    seen: Arc<HashSet<String>>,
) -> BoxStream<'static, Result<Vec<Listed>>> {
    // S3 sends them in key order already; a server that did not must not break the cut.
    prefixes.sort_unstable();
    prefixes.dedup();
    let starts = group_starts(&prefixes, concurrency);
    let ends = starts.iter().skip(1).cloned().map(Some).chain([None]);
    let ranges: Vec<_> = starts
        .iter()
        .cloned()
        .zip(ends)
        .map(|(start, end)| range(client, full.to_owned(), start, end, Arc::clone(&seen)))
        .collect();
    stream::select_all(ranges).boxed()
}

/// One range being listed.
struct Range {
    pages: BoxStream<'static, Result<ListPage>>,
    full: String,
    start: String,
    end: Option<String>,
    /// The keys the first page yielded.
    seen: Arc<HashSet<String>>,
}

impl Range {
    /// Whether `key` is this range's: within its bounds, after the first page, and below
    /// the first level.
    fn holds(&self, key: &str) -> bool {
        key >= self.start.as_str()
            && self.end.as_deref().is_none_or(|end| key < end)
            && below_first_level(key, &self.full)
            && !self.seen.contains(key)
    }
}

/// The keys below the first level of `full` in `[start, end)` (to the end when `end` is
/// `None`), one batch per page.
fn range(
    client: &S3Client,
    full: String,
    start: String,
    end: Option<String>,
    seen: Arc<HashSet<String>>,
) -> BoxStream<'static, Result<Vec<Listed>>> {
    let pages = client.list_pages(ListRequest {
        prefix: full.clone(),
        delimiter: None,
        start_after: Some(start.clone()),
    });
    let range = Range {
        pages,
        full,
        start,
        end,
        seen,
    };
    stream::unfold(Some(range), |range| async move {
        let mut range = range?;
        let page = match range.pages.next().await? {
            Ok(page) => page,
            Err(e) => return Some((Err(e), None)),
        };
        // Keys come in order: once one reaches the end, the next pages are past it.
        let past_end = range
            .end
            .as_deref()
            .is_some_and(|end| page.objects.iter().any(|o| o.key.as_str() >= end));
        let batch: Vec<Listed> = page
            .objects
            .into_iter()
            .filter(|o| range.holds(&o.key))
            .collect();
        Some((Ok(batch), (!past_end).then_some(range)))
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn groups_are_contiguous_and_at_most_as_many_as_asked() {
        let p = names(&["a/", "b/", "c/", "d/", "e/"]);
        assert_eq!(group_starts(&p, 2), names(&["a/", "c/"]));
        assert_eq!(group_starts(&p, 5), p);
        assert_eq!(group_starts(&p, 32), p);
        assert_eq!(group_starts(&p, 1), names(&["a/"]));
        assert_eq!(group_starts(&p, 0), names(&["a/"]));
        assert!(group_starts(&[], 4).is_empty());
        let many: Vec<String> = (0..50_000).map(|i| format!("{i:05}/")).collect();
        let starts = group_starts(&many, 32);
        assert_eq!(starts.len(), 32);
        assert_eq!(starts[0], "00000/");
        assert!(starts.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_first_level_is_told_from_below_it() {
        assert!(below_first_level("r/p/a/x", "r/p/"));
        assert!(!below_first_level("r/p/a.json", "r/p/"));
        assert!(below_first_level("r/pa/x", "r/p"));
        assert!(!below_first_level("r/pa", "r/p"));
        assert!(!below_first_level("other/a/x", "r/"));
        assert_eq!(directory_of("r/p/a/x/y", "r/p/").as_deref(), Some("r/p/a/"));
        assert_eq!(directory_of("r/p/a.json", "r/p/"), None);
        assert_eq!(directory_of("r/pa/x", "r/p").as_deref(), Some("r/pa/"));
    }
}
