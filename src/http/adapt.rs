//! Adaptive concurrency: how many scopes of one source are fetched at once. It starts at the
//! configured `concurrency`, rises while the server's budget headers say there is room (Sentry's
//! `X-Sentry-Rate-Limit-ConcurrentRemaining`/`-ConcurrentLimit`, and the window's `Remaining`
//! from either API), drops to what they leave before the server has to refuse, and halves on a
//! 429. It never exceeds `max_concurrency`. A server that sends no budget headers (self-hosted
//! Sentry) leaves it at `concurrency`: nothing then says more would be welcome.
//!
//! The rule is [`next_limit`], a pure function of the current limit and one answer's headers,
//! so it can be tested without a server; [`ConcurrencyLimit`] applies it to a semaphore whose
//! permits the scope tasks hold while they run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::header_u64;

/// What one answer's headers say of the server's budgets, each as `(remaining, limit)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Budget {
    /// Concurrent requests (Sentry only). Sentry counts the answered request itself as in flight.
    pub concurrent: Option<(u64, u64)>,
    /// Requests left in the rate-limit window (Sentry's fixed window, Sent.dm's bucket).
    pub window: Option<(u64, u64)>,
}

impl Budget {
    /// Read leniently: Sentry sends the literal `None` when no concurrent limit is configured,
    /// which reads as no header, and a limit of 0 is no limit we can plan with.
    pub(crate) fn from_headers(headers: &HeaderMap) -> Budget {
        let pair = |remaining: &str, limit: &str| {
            let limit = header_u64(headers, limit).filter(|l| *l > 0)?;
            Some((header_u64(headers, remaining)?, limit))
        };
        Budget {
            concurrent: pair(
                "x-sentry-rate-limit-concurrentremaining",
                "x-sentry-rate-limit-concurrentlimit",
            ),
            window: pair("x-sentry-rate-limit-remaining", "x-sentry-rate-limit-limit")
                .or_else(|| pair("x-ratelimit-remaining", "x-ratelimit-limit")),
        }
    }
}

/// What one answer tells the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    /// Refused for rate (429): too many already.
    RateLimited,
    /// Answered. `sent_with`: our requests in flight when it was sent, itself included.
    /// `paced`: the source has client-side pacing, which spends the window on its own.
    Answered {
        budget: Budget,
        sent_with: usize,
        paced: bool,
    },
}

/// Where the limit may go: `start` (the configured `concurrency`, kept while no header says
/// otherwise) and `ceiling` (`max_concurrency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Range {
    pub start: usize,
    pub ceiling: usize,
}

/// The next limit after one answer: a 429 halves it; otherwise it moves towards what the
/// budgets leave room for (capped by the ceiling) — up by one per answer (so a round of `n`
/// answers can nearly double it), down at once (the budget is already short).
pub(crate) fn next_limit(current: usize, range: Range, signal: Signal) -> usize {
    let ceiling = range.ceiling.max(1);
    let target = match signal {
        Signal::RateLimited => return (current / 2).clamp(1, ceiling),
        Signal::Answered {
            budget,
            sent_with,
            paced,
        } => room(budget, sent_with, paced, range.start).unwrap_or(range.start),
    };
    let target = target.clamp(1, ceiling);
    if target > current {
        current + 1
    } else {
        target
    }
}

/// How many of our requests the budgets leave room for, or `None` when no header says.
fn room(budget: Budget, sent_with: usize, paced: bool, start: usize) -> Option<usize> {
    let concurrent = budget.concurrent.map(|(remaining, limit)| {
        // When the server counted this request it had `limit - remaining` in flight, at most
        // `sent_with` of them ours; the rest belong to other callers sharing the limit. Keep an
        // eighth of the limit free for them, and for answers that arrive late with old news.
        let ours = sent_with.max(1) as u64;
        let others = limit.saturating_sub(remaining).saturating_sub(ours);
        let reserve = (limit / 8).max(1);
        limit.saturating_sub(others).saturating_sub(reserve)
    });
    let window = budget.window.map(|(remaining, _)| {
        // Half of what the window has left: every request in flight spends one, and the
        // answers showing the window drained arrive a round late. A paced source's pacer
        // already spreads the window, so its near-empty bucket does not cut below the start.
        let half = remaining / 2;
        if paced { half.max(start as u64) } else { half }
    });
    let room = match (concurrent, window) {
        (None, None) => return None,
        (Some(c), Some(w)) => c.min(w),
        (Some(one), None) | (None, Some(one)) => one,
    };
    Some(usize::try_from(room).unwrap_or(usize::MAX))
}

/// The limit of one source: a semaphore of `limit` permits, one per scope being fetched, and
/// the count of our requests in flight (what the server's concurrent count is compared with).
#[derive(Debug)]
pub(crate) struct ConcurrencyLimit {
    permits: Arc<Semaphore>,
    state: Mutex<State>,
    range: Range,
    /// Our requests in flight now.
    in_flight: AtomicUsize,
}

#[derive(Debug)]
struct State {
    limit: usize,
    /// Permits to take out of circulation as scopes finish: the limit fell below the number
    /// of scopes already running.
    debt: usize,
    /// The highest limit reached, for the log.
    peak: usize,
    /// Counts the cuts: a 429 to a request sent before the last cut is old news (one crowded
    /// round answers several 429s at once, and should halve the limit once, not collapse it).
    cuts: u64,
}

/// What a request knew when it was sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sent {
    /// Our requests in flight then, itself included.
    pub with: usize,
    /// The cuts made by then.
    cuts: u64,
}

impl ConcurrencyLimit {
    pub(crate) fn new(start: usize, ceiling: usize) -> ConcurrencyLimit {
        let start = start.max(1);
        let ceiling = ceiling.max(start);
        ConcurrencyLimit {
            permits: Arc::new(Semaphore::new(start)),
            state: Mutex::new(State {
                limit: start,
                debt: 0,
                peak: start,
                cuts: 0,
            }),
            range: Range { start, ceiling },
            in_flight: AtomicUsize::new(0),
        }
    }

    /// The most scopes that may ever run at once.
    pub(crate) fn ceiling(&self) -> usize {
        self.range.ceiling
    }

    /// The limit now.
    #[cfg(test)]
    pub(crate) fn current(&self) -> usize {
        self.state.lock().map_or(self.range.start, |s| s.limit)
    }

    /// The highest limit reached so far.
    pub(crate) fn peak(&self) -> usize {
        self.state.lock().map_or(self.range.start, |s| s.peak)
    }

    /// Wait for a scope's turn; the permit is given back when it is dropped. Permits are handed
    /// out in the order they were asked for (the semaphore is fair), so scopes start in order.
    pub(crate) async fn acquire(self: Arc<Self>) -> ScopePermit {
        // The semaphore is never closed; were it, running unlimited beats never running.
        let permit = Arc::clone(&self.permits).acquire_owned().await.ok();
        ScopePermit {
            permit,
            limit: self,
        }
    }

    /// Count a request as in flight until the guard is dropped.
    pub(crate) fn sending(&self) -> (InFlight<'_>, Sent) {
        let with = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        let cuts = self.state.lock().map_or(0, |s| s.cuts);
        (InFlight(self), Sent { with, cuts })
    }

    /// Apply what the answer to a request said (its status and headers).
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap, sent: Sent, paced: bool) {
        let signal = if status == StatusCode::TOO_MANY_REQUESTS {
            Signal::RateLimited
        } else {
            Signal::Answered {
                budget: Budget::from_headers(headers),
                sent_with: sent.with,
                paced,
            }
        };
        self.apply(signal, sent.cuts);
    }

    /// `sent_cuts`: the cuts made when the request answered was sent.
    fn apply(&self, signal: Signal, sent_cuts: u64) {
        let Ok(mut state) = self.state.lock() else {
            return;
        };
        if signal == Signal::RateLimited && sent_cuts < state.cuts {
            return;
        }
        let next = next_limit(state.limit, self.range, signal);
        if next == state.limit {
            return;
        }
        tracing::debug!(
            from = state.limit,
            to = next,
            rate_limited = signal == Signal::RateLimited,
            "concurrency limit changed"
        );
        self.resize(&mut state, next);
    }

    /// Add permits (repaying any debt first) or take them away (those not in use now, the rest
    /// as the scopes holding them finish).
    fn resize(&self, state: &mut State, next: usize) {
        if next > state.limit {
            let mut add = next - state.limit;
            let repaid = add.min(state.debt);
            state.debt -= repaid;
            add -= repaid;
            self.permits.add_permits(add);
        } else {
            state.cuts += 1;
            let cut = state.limit - next;
            let taken = self.permits.forget_permits(cut);
            state.debt += cut - taken;
        }
        state.limit = next;
        state.peak = state.peak.max(next);
    }

    fn release(&self, permit: OwnedSemaphorePermit) {
        if let Ok(mut state) = self.state.lock()
            && state.debt > 0
        {
            state.debt -= 1;
            permit.forget();
        }
    }
}

/// A scope's turn: while it is held the scope counts against the limit.
#[derive(Debug)]
pub(crate) struct ScopePermit {
    permit: Option<OwnedSemaphorePermit>,
    limit: Arc<ConcurrencyLimit>,
}

impl Drop for ScopePermit {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.limit.release(permit);
        }
    }
}

/// One request of ours in flight.
pub(crate) struct InFlight<'a>(&'a ConcurrencyLimit);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
#[path = "adapt_tests.rs"]
mod tests;
