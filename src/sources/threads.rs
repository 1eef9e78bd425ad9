//! Replayed scopes parsed on every core. A live fetch waits on the network, and one task
//! interleaves many scopes well; a replay waits on nothing, and its time is parsing and
//! normalising JSON — work a single task does on one core. So on replay, with a runtime that
//! has worker threads, the scopes of a source are shared among threads, each taking the next
//! scope not yet taken and driving it to its end; the results come back in the scopes' order.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Handle, RuntimeFlavor};

use super::{PageSource, SourceContext};
use crate::model::ScopeResult;

impl SourceContext<'_> {
    /// Whether [`fetch_on_threads`](Self::fetch_on_threads) may run these scopes: a replay of
    /// more than one scope, inside a multi-threaded runtime (a current-thread runtime, as in
    /// unit tests, cannot lend its thread while others drive its futures).
    pub(super) fn parallel_replay(&self, scopes: usize) -> bool {
        matches!(self.fetcher.source, PageSource::Replay(_))
            && scopes > 1
            && Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
    }

    /// Every scope through `fetch`, on as many threads as there are cores; `(index, result)`.
    pub(super) fn fetch_on_threads<'s, F, Fut>(
        &'s self,
        scopes: &'s [String],
        fetch: &F,
    ) -> Vec<(usize, ScopeResult)>
    where
        F: Fn(&'s str) -> Fut + Sync,
        Fut: Future<Output = ScopeResult>,
    {
        let handle = Handle::current();
        let next = AtomicUsize::new(0);
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(scopes.len());
        let take_scopes = || {
            let mut done = Vec::new();
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(scope) = scopes.get(index) else {
                    break;
                };
                let result = handle.block_on(fetch(scope));
                self.progress
                    .scope_done(result.outcome.as_ref().map_or(0, Vec::len));
                done.push((index, result));
            }
            done
        };
        // This thread only waits for the others; the runtime is told so, and lends its work to
        // another thread meanwhile.
        tokio::task::block_in_place(|| {
            std::thread::scope(|s| {
                let workers: Vec<_> = (0..threads).map(|_| s.spawn(take_scopes)).collect();
                workers
                    .into_iter()
                    // A panic in a parser is a bug: it goes on as it would have on this thread.
                    .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        })
    }
}
