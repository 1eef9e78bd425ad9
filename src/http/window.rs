//! The server's rate-limit windows, counted on our side: how many requests each has left for
//! us and when it resets, so a source stops sending when a window is spent instead of learning
//! it from 429s.
//!
//! Every answer says what its window had left when the server counted that request
//! (`X-Sentry-Rate-Limit-Remaining`, `X-RateLimit-Remaining`) and when it resets (`…-Reset`,
//! epoch seconds). By the time the answer is read, our requests sent after it and not answered
//! yet may have spent more, so the estimate is what it said less those. Requests sent after it
//! and answered already are left out: most were counted before it (a server answers in about the
//! order it counts), and subtracting them too left a tenth of every window unused. The rare one
//! counted after it — or sent later than numbered, or never answered — can make the estimate
//! too high by at most our requests in flight, until the next answers lower it again (the
//! estimate keeps the lowest). Each request takes one from the estimate before it is sent; at
//! none left, the window's requests wait for its reset.
//!
//! Sentry keeps a window per endpoint (its rate-limit key is the caller and the endpoint), whole
//! again at its reset (`X-Sentry-Rate-Limit-Limit`). Sent.dm's `X-RateLimit-*` describe one pool
//! for the whole account, a token bucket that refills gradually: after its reset one request
//! goes first and its answer tells the rest. A source with client-side pacing does not use
//! this: its pacer spends the budget evenly already.
//!
//! No request waits here longer than `max_retry_wait` in all: past it, it is sent, and a 429
//! is handled as any other.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::body::{header_epoch, header_str, header_u64};

/// How long after the reset second we start sending again: clocks synchronised by NTP agree
/// to a few milliseconds, and a request that arrives early is answered 429 and retried.
const RESET_MARGIN: Duration = Duration::from_millis(50);

/// How long requests wait for an answer to say what a new window holds before sending anyway:
/// a server that stops sending the headers must not stop the run.
const NEWS_TIMEOUT: Duration = Duration::from_secs(1);

/// The key of the window every endpoint of the source shares (Sent.dm's account pool).
const WHOLE_SOURCE: &str = "";

/// One source's view of the server's windows.
#[derive(Debug)]
pub(crate) struct WindowBudget {
    state: Mutex<State>,
    news: Notify,
    /// The longest a request waits here (`max_retry_wait`).
    max_wait: Duration,
    /// Waits for a spent window, and how long in all (milliseconds): for the log. A request
    /// may wait more than once (again after a pause, on each retry).
    waits: AtomicU64,
    waited_ms: AtomicU64,
}

/// One counter per window key: the source's endpoints (Sentry), and the whole source (Sent.dm).
#[derive(Debug, Default)]
struct State {
    counters: Vec<Counter>,
}

#[derive(Debug)]
struct Counter {
    key: &'static str,
    /// Requests sent under this key so far (their numbers).
    taken: u64,
    /// The numbers of those not answered yet.
    unanswered: BTreeSet<u64>,
    window: Option<Window>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    /// The reset the server announced for it, in epoch seconds: answers about an older window
    /// are old news.
    reset_epoch: u64,
    /// When we may send again after it is spent; `None` once it has passed and the next
    /// window's reset is not known yet.
    reset_at: Option<Instant>,
    /// The server's reset was further away than we wait (`max_retry_wait`): at our reset the
    /// window is still spent, so one request goes to ask.
    capped: bool,
    /// Requests it has left for us, at most.
    left: u64,
    /// What a new window holds before any answer says: Sentry's limit, or one request.
    refill: u64,
}

/// A request's place among those sent to its endpoint and to the whole source: the answer to it
/// is compared with what was sent after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Numbers {
    endpoint: &'static str,
    own: u64,
    whole: u64,
}

/// A request counted against its windows: unanswered until dropped.
pub(crate) struct Ticket<'a> {
    budget: &'a WindowBudget,
    numbers: Numbers,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.budget.lock().answered(self.numbers);
    }
}

/// What one answer's headers say of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Report {
    /// Sentry's window is the endpoint's; Sent.dm's the whole source's.
    per_endpoint: bool,
    remaining: u64,
    reset_epoch: u64,
    refill: u64,
}

impl Report {
    fn from_headers(headers: &HeaderMap) -> Option<Report> {
        if let (Some(remaining), Some(reset_epoch)) = (
            header_u64(headers, "x-sentry-rate-limit-remaining"),
            header_epoch(headers, "x-sentry-rate-limit-reset"),
        ) {
            let limit = header_u64(headers, "x-sentry-rate-limit-limit").unwrap_or(1);
            return Some(Report {
                per_endpoint: true,
                remaining,
                reset_epoch,
                refill: limit.max(1),
            });
        }
        Some(Report {
            per_endpoint: false,
            remaining: header_u64(headers, "x-ratelimit-remaining")?,
            reset_epoch: header_epoch(headers, "x-ratelimit-reset")?,
            refill: 1,
        })
    }
}

/// What a request must wait for before it may be sent.
#[derive(Debug, PartialEq, Eq)]
enum Wait {
    Until(Instant),
    News,
}

/// Whether Sentry says none of its concurrent requests was left (it counts below zero too).
fn refused_for_concurrency(headers: &HeaderMap) -> bool {
    header_str(headers, "x-sentry-rate-limit-concurrentremaining")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .is_some_and(|left| left <= 0)
}

/// A request's wait for a window, counted when it ends, however it ends.
struct WaitClock<'a> {
    budget: &'a WindowBudget,
    since: Option<Instant>,
}

impl Drop for WaitClock<'_> {
    fn drop(&mut self) {
        if let Some(since) = self.since {
            self.budget.count_wait(since.elapsed());
        }
    }
}

/// Say at debug level that a request waits for a spent window (once per wait).
fn log_wait(key: &'static str, wait: &Wait) {
    let window = if key == WHOLE_SOURCE {
        "the source's"
    } else {
        key
    };
    match wait {
        Wait::Until(at) => tracing::debug!(
            window,
            wait_ms = at.saturating_duration_since(Instant::now()).as_millis() as u64,
            "rate-limit window spent; the request waits for its reset"
        ),
        Wait::News => tracing::debug!(
            window,
            "rate-limit window reset; the request waits for an answer to say what the new one holds"
        ),
    }
}

impl WindowBudget {
    pub(crate) fn new(max_wait: Duration) -> WindowBudget {
        WindowBudget {
            state: Mutex::new(State::default()),
            news: Notify::new(),
            max_wait,
            waits: AtomicU64::new(0),
            waited_ms: AtomicU64::new(0),
        }
    }

    /// How many times a request waited for a window, and how long in all.
    pub(crate) fn waited(&self) -> (u64, Duration) {
        (
            self.waits.load(Ordering::Relaxed),
            Duration::from_millis(self.waited_ms.load(Ordering::Relaxed)),
        )
    }

    /// Wait until the windows `endpoint` counts against have room for one more request, and
    /// take it; after `max_retry_wait` of waiting, take it anyway.
    pub(crate) async fn take(&self, endpoint: &'static str) -> Ticket<'_> {
        let deadline = Instant::now() + self.max_wait;
        // Set once: answers that say nothing new must not keep extending it.
        let mut news_deadline = None;
        // Counted when the wait ends, sent or given up.
        let mut waiting = WaitClock {
            budget: self,
            since: None,
        };
        loop {
            let (wait, news) = {
                let mut state = self.lock();
                let now = Instant::now();
                match state.try_take(endpoint, now, now >= deadline) {
                    Ok(numbers) => {
                        return Ticket {
                            budget: self,
                            numbers,
                        };
                    }
                    Err(wait) => {
                        if waiting.since.is_none() {
                            waiting.since = Some(now);
                            log_wait(state.spent_window(endpoint), &wait);
                        }
                        // Registered before the lock is let go, so no answer is missed.
                        (wait, self.news.notified())
                    }
                }
            };
            match wait {
                // A new answer may show the window open sooner (another caller's reset, a
                // capped wait): look again at each.
                Wait::Until(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at.min(deadline)) => {}
                        () = news => {}
                    }
                }
                Wait::News => {
                    let until = *news_deadline
                        .get_or_insert_with(|| (Instant::now() + NEWS_TIMEOUT).min(deadline));
                    if tokio::time::timeout_at(until, news).await.is_err() {
                        self.lock().forget_unknown_windows(endpoint);
                    }
                }
            }
        }
    }

    fn count_wait(&self, waited: Duration) {
        self.waits.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(waited.as_millis()).unwrap_or(u64::MAX);
        // Saturating: a sum that wrapped would log a short wait for a long one.
        let _ = self
            .waited_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |sum| {
                Some(sum.saturating_add(ms))
            });
    }

    /// Learn from the answer to the request `ticket` was taken for.
    pub(crate) fn observe(&self, status: StatusCode, headers: &HeaderMap, ticket: &Ticket<'_>) {
        self.observe_numbers(
            status == StatusCode::TOO_MANY_REQUESTS,
            headers,
            ticket.numbers,
        );
    }

    /// `refused`: the answer is a 429.
    fn observe_numbers(&self, refused: bool, headers: &HeaderMap, numbers: Numbers) {
        let Some(mut report) = Report::from_headers(headers) else {
            return;
        };
        // A refusal says the window is spent, whatever count it gives — unless Sentry says it
        // refused for too many requests at once, which its concurrency limit handles.
        if refused && !refused_for_concurrency(headers) {
            report.remaining = 0;
        }
        let Some((reset_at, capped)) = self.reset_instant(report.reset_epoch) else {
            return;
        };
        self.lock().learn(report, reset_at, capped, numbers);
        self.news.notify_waiters();
    }

    /// When, on our clock, a window ending at `reset_epoch` (server time) will have reset, and
    /// whether that was further than we wait; `None` if it already has (the answer is about a
    /// window that is over).
    fn reset_instant(&self, reset_epoch: u64) -> Option<(Instant, bool)> {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).ok()?;
        let reset_ms = reset_epoch.saturating_mul(1000);
        let until =
            Duration::from_millis(reset_ms.checked_sub(now_ms)?).saturating_add(RESET_MARGIN);
        let capped = until > self.max_wait;
        Some((Instant::now() + until.min(self.max_wait), capped))
    }

    /// The state stays whole whatever panicked while holding it: every step leaves it valid.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn counter(&mut self, key: &'static str) -> &mut Counter {
        let at = match self.counters.iter().position(|c| c.key == key) {
            Some(at) => at,
            None => {
                self.counters.push(Counter {
                    key,
                    taken: 0,
                    unanswered: BTreeSet::new(),
                    window: None,
                });
                self.counters.len() - 1
            }
        };
        &mut self.counters[at]
    }

    /// Take a ticket if both windows the endpoint counts against have room (or `force`).
    fn try_take(
        &mut self,
        endpoint: &'static str,
        now: Instant,
        force: bool,
    ) -> Result<Numbers, Wait> {
        for key in [endpoint, WHOLE_SOURCE] {
            // Looked at even when forced: a window whose reset has passed starts counting anew.
            if let (Some(wait), false) = (self.counter(key).wait(now), force) {
                return Err(wait);
            }
        }
        Ok(Numbers {
            endpoint,
            own: self.counter(endpoint).take(),
            whole: self.counter(WHOLE_SOURCE).take(),
        })
    }

    fn learn(&mut self, report: Report, reset_at: Instant, capped: bool, numbers: Numbers) {
        let (key, number) = if report.per_endpoint {
            (numbers.endpoint, numbers.own)
        } else {
            (WHOLE_SOURCE, numbers.whole)
        };
        self.counter(key).learn(report, reset_at, capped, number);
    }

    /// The request is answered, or failed: no longer one that may yet spend a window.
    fn answered(&mut self, numbers: Numbers) {
        self.counter(numbers.endpoint)
            .unanswered
            .remove(&numbers.own);
        self.counter(WHOLE_SOURCE).unanswered.remove(&numbers.whole);
    }

    /// The window that holds a request for `endpoint` back: its own, or the whole source's.
    fn spent_window(&mut self, endpoint: &'static str) -> &'static str {
        [endpoint, WHOLE_SOURCE]
            .into_iter()
            .find(|key| self.counter(key).window.is_some_and(|w| w.left == 0))
            .unwrap_or(endpoint)
    }

    /// No answer came to say what the new windows hold: stop counting them until one does.
    fn forget_unknown_windows(&mut self, endpoint: &'static str) {
        for key in [endpoint, WHOLE_SOURCE] {
            let counter = self.counter(key);
            if counter
                .window
                .is_some_and(|w| w.left == 0 && w.reset_at.is_none())
            {
                counter.window = None;
            }
        }
    }
}

impl Counter {
    /// What a request must wait for, or `None` if the window has room (or is not known).
    fn wait(&mut self, now: Instant) -> Option<Wait> {
        let window = self.window.as_mut()?;
        if window.reset_at.is_some_and(|at| now >= at) {
            window.reset_at = None;
            window.left = if window.capped { 1 } else { window.refill };
        }
        match (window.left, window.reset_at) {
            (0, Some(at)) => Some(Wait::Until(at)),
            (0, None) => Some(Wait::News),
            _ => None,
        }
    }

    fn take(&mut self) -> u64 {
        if let Some(window) = &mut self.window {
            window.left = window.left.saturating_sub(1);
        }
        self.taken += 1;
        self.unanswered.insert(self.taken);
        self.taken
    }

    fn learn(&mut self, report: Report, reset_at: Instant, capped: bool, number: u64) {
        let sent_since = self.unanswered.range(number + 1..).count() as u64;
        let estimate = report.remaining.saturating_sub(sent_since);
        let fresh = Window {
            reset_epoch: report.reset_epoch,
            reset_at: Some(reset_at),
            capped,
            left: estimate,
            refill: report.refill,
        };
        let window = match self.window {
            None => fresh,
            // About a window before ours: old news.
            Some(w) if report.reset_epoch < w.reset_epoch => return,
            // The same window: both are upper bounds, the lower is nearer the truth. Its reset
            // is still ahead (an answer about a window that is over never gets here), so if
            // our wait for it was cut short, this one sets it again.
            Some(w) if report.reset_epoch == w.reset_epoch => Window {
                left: w.left.min(estimate),
                reset_at: Some(w.reset_at.map_or(reset_at, |at| at.max(reset_at))),
                capped,
                ..w
            },
            // The window after the one we saw reset, when the reset let one request ask: its
            // answer tells what the window holds.
            Some(w) if w.reset_at.is_none() && (w.capped || w.refill <= 1) => fresh,
            // The window after the one we saw reset: we have counted our requests in it since.
            Some(w) if w.reset_at.is_none() => Window {
                left: w.left.min(estimate),
                ..fresh
            },
            // A newer window we had not seen begin.
            Some(_) => fresh,
        };
        self.window = Some(window);
    }
}

#[cfg(test)]
#[path = "window_tests.rs"]
mod tests;
