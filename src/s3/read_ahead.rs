//! Listing pages fetched one ahead of their reader.
//!
//! A `ListObjectsV2` paginator asks for page k+1 only when its reader wants it. A reader
//! such as [`PersiDict::values`](crate::PersiDict::values) hands page k's names to reads
//! in flight and would otherwise ask for the next page only when it runs out of names,
//! leaving its reads idle for one round trip per page. [`read_ahead`] drives the pages in
//! a task of their own, at most `ahead` pages in front of the reader, so the next page is
//! on its way while the current one is being read. The first page is fetched on demand
//! alone, so that a reader wanting only it sends one request, as without read-ahead.

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use tokio::sync::mpsc;

/// `pages`: the first on demand; once the reader asks for the second, a spawned task
/// fetches the rest, up to `ahead` (at least 1) pages before the reader takes them. A
/// reader that stops after the first page (`is_empty`, a first match) costs no extra
/// request; one that stops later may cost one page it did not read. The task ends after
/// the last page, after an error (which the reader gets in order), or when the reader
/// drops the stream. Outside a Tokio runtime every page is fetched on demand.
pub(crate) fn read_ahead<T: Send + 'static>(
    pages: impl Stream<Item = T> + Send + 'static,
    ahead: usize,
) -> BoxStream<'static, T> {
    enum State<T> {
        First(BoxStream<'static, T>),
        Rest(BoxStream<'static, T>),
        Ahead(mpsc::Receiver<T>),
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return pages.boxed();
    };
    futures::stream::unfold(State::First(pages.boxed()), move |state| {
        let runtime = runtime.clone();
        async move {
            match state {
                State::First(mut pages) => {
                    let page = pages.next().await?;
                    Some((page, State::Rest(pages)))
                }
                State::Rest(mut pages) => {
                    let (tx, mut rx) = mpsc::channel(ahead.max(1));
                    runtime.spawn(async move {
                        while let Some(page) = pages.next().await {
                            if tx.send(page).await.is_err() {
                                // The reader is gone.
                                break;
                            }
                        }
                    });
                    let page = rx.recv().await?;
                    Some((page, State::Ahead(rx)))
                }
                State::Ahead(mut rx) => {
                    let page = rx.recv().await?;
                    Some((page, State::Ahead(rx)))
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// A stream of `n` pages that counts how many have been produced.
    fn counted(n: usize, produced: Arc<AtomicUsize>) -> impl Stream<Item = usize> + Send {
        futures::stream::iter(0..n).map(move |i| {
            produced.fetch_add(1, Ordering::SeqCst);
            i
        })
    }

    #[tokio::test]
    async fn the_next_page_is_fetched_before_the_reader_asks() {
        let produced = Arc::new(AtomicUsize::new(0));
        let mut s = read_ahead(counted(10, Arc::clone(&produced)), 1);
        assert_eq!(s.next().await, Some(0));
        // Nothing is fetched before the reader asks for a second page.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(produced.load(Ordering::SeqCst), 1);
        assert_eq!(s.next().await, Some(1));
        // Page 2 waits in the channel and page 3 in the task's hands, unasked for.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(produced.load(Ordering::SeqCst), 4);
        let rest: Vec<usize> = s.collect().await;
        assert_eq!(rest, (2..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn dropping_the_reader_stops_the_fetching() {
        let produced = Arc::new(AtomicUsize::new(0));
        let mut s = read_ahead(counted(1000, Arc::clone(&produced)), 1);
        assert_eq!(s.next().await, Some(0));
        assert_eq!(s.next().await, Some(1));
        drop(s);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(produced.load(Ordering::SeqCst) <= 5, "it went on fetching");
    }

    #[test]
    fn outside_a_runtime_the_pages_come_on_demand() {
        let produced = Arc::new(AtomicUsize::new(0));
        let s = read_ahead(counted(3, Arc::clone(&produced)), 1);
        assert_eq!(produced.load(Ordering::SeqCst), 0);
        let all: Vec<usize> = futures::executor::block_on(s.collect());
        assert_eq!(all, vec![0, 1, 2]);
    }
}
