//! The server's rate-limit window, counted on our side: how many requests it has left for us
//! and when it resets, so a source stops sending when the window is spent instead of learning
//! it from 429s.
//!
//! Every answer says what the window had left when the server counted that request
//! (`X-Sentry-Rate-Limit-Remaining`, `X-RateLimit-Remaining`) and when it resets (`…-Reset`,
//! epoch seconds). By the time the answer is read, our requests sent after it have spent more,
//! so the estimate is what it said less every request we sent since — the server counts at
//! arrival, and ours arrive before their answers. Each request then takes one from the
//! estimate before it is sent; at none left, requests wait for the reset.
//!
//! At the reset Sentry's fixed window is whole again (`X-Sentry-Rate-Limit-Limit`). Sent.dm's
//! `X-RateLimit-Reset` belongs to a token bucket that refills gradually, so there one request
//! goes first and its answer tells the rest. A source with client-side pacing does not use
//! this: its pacer spends the budget evenly already.

use std::sync::Mutex;
use std::time::Duration;

use chrono::Utc;
use reqwest::header::HeaderMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::body::header_u64;

/// How long after the reset second we start sending again: clocks synchronised by NTP agree
/// to a few milliseconds, and a request that arrives early is answered 429 and retried.
const RESET_MARGIN: Duration = Duration::from_millis(50);

/// How long requests wait for an answer to say what a new window holds before sending anyway:
/// a server that stops sending the headers must not stop the run.
const NEWS_TIMEOUT: Duration = Duration::from_secs(1);

/// One source's view of the server's window.
#[derive(Debug)]
pub(crate) struct WindowBudget {
    state: Mutex<State>,
    news: Notify,
    /// The longest a server's reset may hold us (`max_retry_wait`).
    max_wait: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// Requests sent so far (their tickets).
    taken: u64,
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
    /// Requests it has left for us, at most.
    left: u64,
    /// What a new window holds before any answer says: Sentry's limit, or one request.
    refill: u64,
}

/// A request's place among those sent: the answer to it is compared with what was sent after.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(u64);

/// What one answer's headers say of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Report {
    remaining: u64,
    reset_epoch: u64,
    refill: u64,
}

impl Report {
    fn from_headers(headers: &HeaderMap) -> Option<Report> {
        if let (Some(remaining), Some(reset_epoch)) = (
            header_u64(headers, "x-sentry-rate-limit-remaining"),
            header_u64(headers, "x-sentry-rate-limit-reset"),
        ) {
            let limit = header_u64(headers, "x-sentry-rate-limit-limit").unwrap_or(1);
            return Some(Report {
                remaining,
                reset_epoch,
                refill: limit.max(1),
            });
        }
        Some(Report {
            remaining: header_u64(headers, "x-ratelimit-remaining")?,
            reset_epoch: header_u64(headers, "x-ratelimit-reset")?,
            refill: 1,
        })
    }
}

/// What a request must wait for before it may be sent.
enum Wait {
    Until(Instant),
    News,
}

impl WindowBudget {
    pub(crate) fn new(max_wait: Duration) -> WindowBudget {
        WindowBudget {
            state: Mutex::new(State::default()),
            news: Notify::new(),
            max_wait,
        }
    }

    /// Wait until the window has room for one more request, and take it.
    pub(crate) async fn take(&self) -> Ticket {
        loop {
            let (wait, news) = {
                let mut state = self.lock();
                match state.try_take(Instant::now()) {
                    Ok(ticket) => return ticket,
                    // Registered before the lock is let go, so no answer is missed.
                    Err(wait) => (wait, self.news.notified()),
                }
            };
            match wait {
                Wait::Until(at) => tokio::time::sleep_until(at).await,
                Wait::News => {
                    if tokio::time::timeout(NEWS_TIMEOUT, news).await.is_err() {
                        self.lock().window = None;
                    }
                }
            }
        }
    }

    /// Learn from the answer to the request `ticket` was taken for.
    pub(crate) fn observe(&self, headers: &HeaderMap, ticket: Ticket) {
        let Some(report) = Report::from_headers(headers) else {
            return;
        };
        let Some(reset_at) = self.reset_instant(report.reset_epoch) else {
            return;
        };
        self.lock().learn(report, reset_at, ticket);
        self.news.notify_waiters();
    }

    /// When, on our clock, a window ending at `reset_epoch` (server time) will have reset;
    /// `None` if it already has (the answer is about a window that is over).
    fn reset_instant(&self, reset_epoch: u64) -> Option<Instant> {
        let now_ms = u64::try_from(Utc::now().timestamp_millis()).ok()?;
        let until = Duration::from_millis(reset_epoch.checked_mul(1000)?.checked_sub(now_ms)?);
        Some(Instant::now() + until.saturating_add(RESET_MARGIN).min(self.max_wait))
    }

    /// The state stays whole whatever panicked while holding it: every step leaves it valid.
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn try_take(&mut self, now: Instant) -> Result<Ticket, Wait> {
        if let Some(window) = &mut self.window {
            if window.reset_at.is_some_and(|at| now >= at) {
                window.reset_at = None;
                window.left = window.refill;
            }
            match (window.left, window.reset_at) {
                (0, Some(at)) => return Err(Wait::Until(at)),
                (0, None) => return Err(Wait::News),
                _ => window.left -= 1,
            }
        }
        self.taken += 1;
        Ok(Ticket(self.taken))
    }

    fn learn(&mut self, report: Report, reset_at: Instant, ticket: Ticket) {
        let estimate = report
            .remaining
            .saturating_sub(self.taken.saturating_sub(ticket.0));
        let fresh = Window {
            reset_epoch: report.reset_epoch,
            reset_at: Some(reset_at),
            left: estimate,
            refill: report.refill,
        };
        let window = match self.window {
            None => fresh,
            // About a window before ours, or about the one we have seen reset: old news (its
            // answers still arrive after the reset, and would make the new window look spent).
            Some(w)
                if report.reset_epoch < w.reset_epoch
                    || (report.reset_epoch == w.reset_epoch && w.reset_at.is_none()) =>
            {
                return;
            }
            // The same window: both are upper bounds, the lower is nearer the truth.
            Some(w) if report.reset_epoch == w.reset_epoch => Window {
                left: w.left.min(estimate),
                ..w
            },
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
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn sentry(remaining: u64, reset_epoch: u64, limit: u64) -> Report {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("x-sentry-rate-limit-remaining", remaining),
            ("x-sentry-rate-limit-reset", reset_epoch),
            ("x-sentry-rate-limit-limit", limit),
        ] {
            h.insert(k, HeaderValue::from(v));
        }
        Report::from_headers(&h).expect("report")
    }

    fn takes(state: &mut State, now: Instant, n: usize) -> Vec<Ticket> {
        (0..n)
            .map(|_| state.try_take(now).ok().expect("room"))
            .collect()
    }

    #[test]
    fn headers_of_either_api() {
        assert_eq!(
            sentry(3, 100, 40),
            Report {
                remaining: 3,
                reset_epoch: 100,
                refill: 40
            }
        );
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from(5));
        assert_eq!(Report::from_headers(&h), None, "no reset, no window");
        h.insert("x-ratelimit-reset", HeaderValue::from(9));
        h.insert("x-ratelimit-limit", HeaderValue::from(600));
        assert_eq!(
            Report::from_headers(&h),
            Some(Report {
                remaining: 5,
                reset_epoch: 9,
                refill: 1
            }),
            "a token bucket refills gradually: one request first after its reset"
        );
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("lots"));
        assert_eq!(Report::from_headers(&h), None);
    }

    #[test]
    fn what_was_sent_since_an_answered_request_is_spent_already() {
        let now = Instant::now();
        let reset = now + Duration::from_secs(1);
        let mut state = State::default();
        let tickets = takes(&mut state, now, 8);
        // The first answer: 10 left when the server counted it, and 7 of ours came after.
        state.learn(sentry(10, 100, 40), reset, tickets[0]);
        // An answer sent later that knows no better changes nothing; one that knows worse
        // lowers it.
        state.learn(sentry(9, 100, 40), reset, tickets[1]);
        assert_eq!(state.window.map(|w| w.left), Some(3));
        state.learn(sentry(6, 100, 40), reset, tickets[2]);
        assert_eq!(state.window.map(|w| w.left), Some(1));
        assert_eq!(takes(&mut state, now, 1).len(), 1);
        assert!(matches!(state.try_take(now), Err(Wait::Until(at)) if at == reset));
    }

    #[test]
    fn old_news_is_ignored_and_a_spent_window_is_whole_at_its_reset() {
        let now = Instant::now();
        let reset = now + Duration::from_secs(1);
        let mut state = State::default();
        let tickets = takes(&mut state, now, 2);
        state.learn(sentry(0, 100, 40), reset, tickets[1]);
        assert!(matches!(state.try_take(now), Err(Wait::Until(_))));
        // An answer about the window before says nothing of this one.
        state.learn(sentry(30, 99, 40), reset, tickets[0]);
        assert!(state.try_take(now).is_err());
        // At the reset Sentry's window holds its whole limit again.
        let later = reset + Duration::from_millis(1);
        assert_eq!(takes(&mut state, later, 10).len(), 10);
        // The last answers about the window that reset arrive after it: they do not count
        // against the new one.
        state.learn(sentry(0, 100, 40), reset, tickets[1]);
        assert_eq!(takes(&mut state, later, 30).len(), 30);
        assert!(
            matches!(state.try_take(later), Err(Wait::News)),
            "the next window's end is not known until an answer says"
        );
        // The first answer of the new window: what it said less the 39 sent after it.
        let next = later + Duration::from_secs(1);
        state.learn(sentry(39, 101, 40), next, Ticket(3));
        assert!(matches!(state.try_take(later), Err(Wait::Until(at)) if at == next));
    }

    #[test]
    fn a_token_bucket_sends_one_request_after_its_reset() {
        let now = Instant::now();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", HeaderValue::from(0));
        h.insert("x-ratelimit-reset", HeaderValue::from(100));
        let report = Report::from_headers(&h).expect("report");
        let mut state = State::default();
        let ticket = takes(&mut state, now, 1)[0];
        state.learn(report, now, ticket);
        assert_eq!(takes(&mut state, now, 1).len(), 1);
        assert!(matches!(state.try_take(now), Err(Wait::News)));
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_requests_go_at_the_reset_and_a_silent_server_does_not_stop_them() {
        let budget = WindowBudget::new(Duration::from_secs(60));
        let ticket = budget.take().await;
        budget.lock().learn(
            sentry(0, 100, 1),
            Instant::now() + Duration::from_secs(2),
            ticket,
        );
        let start = Instant::now();
        budget.take().await;
        assert_eq!(
            start.elapsed(),
            Duration::from_secs(2),
            "held until the reset"
        );
        // The window's one request is spent and no answer comes: after a while, send anyway.
        budget.take().await;
        assert_eq!(start.elapsed(), Duration::from_secs(2) + NEWS_TIMEOUT);
    }

    #[test]
    fn a_reset_far_away_is_capped_and_one_gone_by_is_no_news() {
        let budget = WindowBudget::new(Duration::from_secs(60));
        let now_epoch = u64::try_from(Utc::now().timestamp()).expect("after 1970");
        assert!(budget.reset_instant(now_epoch - 5).is_none());
        let far = budget.reset_instant(u64::MAX / 2000).expect("capped");
        assert!(far <= Instant::now() + Duration::from_secs(60));
        assert!(
            budget.reset_instant(u64::MAX).is_none(),
            "overflows: ignored"
        );
    }
}
