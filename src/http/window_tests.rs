use reqwest::header::HeaderValue;

use super::*;

const MEMBERS: &str = "sentry.members";
const ORGS: &str = "sentry.organizations";

fn sentry(remaining: u64, reset_epoch: u64, limit: u64) -> Report {
    Report::from_headers(&sentry_headers(remaining, reset_epoch, limit)).expect("report")
}

fn sentry_headers(remaining: u64, reset_epoch: u64, limit: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("x-sentry-rate-limit-remaining", remaining),
        ("x-sentry-rate-limit-reset", reset_epoch),
        ("x-sentry-rate-limit-limit", limit),
    ] {
        h.insert(k, HeaderValue::from(v));
    }
    h
}

fn bucket(remaining: u64, reset_epoch: u64) -> Report {
    let mut h = HeaderMap::new();
    h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(reset_epoch));
    Report::from_headers(&h).expect("report")
}

fn takes(state: &mut State, endpoint: &'static str, now: Instant, n: usize) -> Vec<Numbers> {
    (0..n)
        .map(|_| state.try_take(endpoint, now, false).expect("room"))
        .collect()
}

fn left(state: &mut State, key: &'static str) -> Option<u64> {
    state.counter(key).window.map(|w| w.left)
}

fn epoch_now() -> u64 {
    u64::try_from(Utc::now().timestamp()).expect("after 1970")
}

#[test]
fn headers_of_either_api() {
    assert_eq!(
        sentry(3, 100, 40),
        Report {
            per_endpoint: true,
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
            per_endpoint: false,
            remaining: 5,
            reset_epoch: 9,
            refill: 1
        }),
        "a token bucket for the whole account, refilled gradually: one request first after its reset"
    );
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("lots"));
    assert_eq!(Report::from_headers(&h), None);
    // A fraction: the count rounded down, the reset up (never a wait that ends early).
    h.insert("x-ratelimit-remaining", HeaderValue::from_static("3.9"));
    h.insert(
        "x-ratelimit-reset",
        HeaderValue::from_static("1700000000.2"),
    );
    assert_eq!(
        Report::from_headers(&h).map(|r| (r.remaining, r.reset_epoch)),
        Some((3, 1_700_000_001))
    );
}

#[test]
fn what_was_sent_since_an_answered_request_is_spent_already() {
    let now = Instant::now();
    let reset = now + Duration::from_secs(1);
    let mut state = State::default();
    let tickets = takes(&mut state, MEMBERS, now, 8);
    // The first answer: 10 left when the server counted it, and 7 of ours came after.
    state.learn(sentry(10, 100, 40), reset, false, tickets[0]);
    assert_eq!(left(&mut state, MEMBERS), Some(3));
    // A later answer that would allow more changes nothing (both bound the truth from above);
    // one that knows worse lowers it.
    state.learn(sentry(20, 100, 40), reset, false, tickets[1]);
    assert_eq!(left(&mut state, MEMBERS), Some(3));
    state.learn(sentry(6, 100, 40), reset, false, tickets[2]);
    assert_eq!(left(&mut state, MEMBERS), Some(1));
    assert_eq!(takes(&mut state, MEMBERS, now, 1).len(), 1);
    assert_eq!(
        state.try_take(MEMBERS, now, false).err(),
        Some(Wait::Until(reset))
    );
    assert!(
        state.try_take(MEMBERS, now, true).is_ok(),
        "forced once the wait is over"
    );
}

#[test]
fn requests_answered_already_were_counted_before_a_late_answer() {
    let now = Instant::now();
    let reset = now + Duration::from_secs(1);
    let mut state = State::default();
    let tickets = takes(&mut state, MEMBERS, now, 5);
    // Requests 2 and 3 were answered first: the server counted them before request 1.
    state.answered(tickets[1]);
    state.answered(tickets[2]);
    // Request 1's answer: 10 left then, less requests 4 and 5, which may have arrived since.
    state.learn(sentry(10, 100, 40), reset, false, tickets[0]);
    assert_eq!(left(&mut state, MEMBERS), Some(8));
}

#[tokio::test]
async fn a_ticket_is_unanswered_until_dropped() {
    let budget = WindowBudget::new(Duration::from_secs(60));
    let first = budget.take(MEMBERS).await;
    let second = budget.take(MEMBERS).await;
    let unanswered = |budget: &WindowBudget| -> Vec<u64> {
        let mut state = budget.lock();
        let own = state.counter(MEMBERS).unanswered.iter().copied().collect();
        let whole: Vec<u64> = state
            .counter(WHOLE_SOURCE)
            .unanswered
            .iter()
            .copied()
            .collect();
        assert_eq!(own, whole);
        own
    };
    assert_eq!(unanswered(&budget), [1, 2]);
    drop(first);
    assert_eq!(unanswered(&budget), [2]);
    drop(second);
    assert!(unanswered(&budget).is_empty());
}

#[test]
fn sentry_counts_each_endpoint_and_sentdm_the_whole_source() {
    let now = Instant::now();
    let reset = now + Duration::from_secs(1);
    let mut state = State::default();
    let ticket = takes(&mut state, MEMBERS, now, 1)[0];
    state.learn(sentry(0, 100, 40), reset, false, ticket);
    assert!(state.try_take(MEMBERS, now, false).is_err());
    assert!(
        state.try_take(ORGS, now, false).is_ok(),
        "another endpoint has its own window"
    );
    let ticket = takes(&mut state, ORGS, now, 1)[0];
    state.learn(bucket(0, 100), reset, false, ticket);
    assert_eq!(
        state.try_take(ORGS, now, false).err(),
        Some(Wait::Until(reset)),
        "an account-wide pool holds every endpoint"
    );
}

#[test]
fn old_news_is_ignored_and_a_spent_window_is_whole_at_its_reset() {
    let now = Instant::now();
    let reset = now + Duration::from_secs(1);
    let mut state = State::default();
    let tickets = takes(&mut state, MEMBERS, now, 2);
    state.learn(sentry(0, 100, 40), reset, false, tickets[1]);
    assert!(state.try_take(MEMBERS, now, false).is_err());
    // An answer about the window before says nothing of this one.
    state.learn(sentry(30, 99, 40), reset, false, tickets[0]);
    assert!(state.try_take(MEMBERS, now, false).is_err());
    // At the reset Sentry's window holds its whole limit again.
    let later = reset + Duration::from_millis(1);
    assert_eq!(takes(&mut state, MEMBERS, later, 40).len(), 40);
    assert_eq!(
        state.try_take(MEMBERS, later, false).err(),
        Some(Wait::News),
        "the next window's end is not known until an answer says"
    );
    // The first answer of the new window: what it said less the 39 sent after it.
    let next = later + Duration::from_secs(1);
    state.learn(
        sentry(39, 101, 40),
        next,
        false,
        Numbers {
            own: 3,
            ..tickets[0]
        },
    );
    assert_eq!(
        state.try_take(MEMBERS, later, false).err(),
        Some(Wait::Until(next))
    );
    // Answers about a window that is over are dropped before they get here.
    let budget = WindowBudget::new(Duration::from_secs(60));
    assert!(budget.reset_instant(epoch_now() - 5).is_none());
}

#[test]
fn a_reset_beyond_the_longest_wait_is_asked_about_again_not_refilled() {
    let now = Instant::now();
    let capped_at = now + Duration::from_secs(60);
    let mut state = State::default();
    let ticket = takes(&mut state, MEMBERS, now, 1)[0];
    // Spent until an hour from now; we wait at most a minute.
    state.learn(sentry(0, 100, 40), capped_at, true, ticket);
    let later = capped_at + Duration::from_millis(1);
    let probe = takes(&mut state, MEMBERS, later, 1)[0];
    assert_eq!(
        state.try_take(MEMBERS, later, false).err(),
        Some(Wait::News),
        "one request asks; the rest wait for its answer"
    );
    // Its answer: the same window, still spent; the wait starts again.
    let again = later + Duration::from_secs(60);
    state.learn(sentry(0, 100, 40), again, true, probe);
    assert_eq!(
        state.try_take(MEMBERS, later, false).err(),
        Some(Wait::Until(again))
    );
    // At the next capped reset the probe finds a new window with room: it is used at once.
    let after = again + Duration::from_millis(1);
    let probe = takes(&mut state, MEMBERS, after, 1)[0];
    state.learn(
        sentry(39, 101, 40),
        after + Duration::from_secs(1),
        false,
        probe,
    );
    assert_eq!(left(&mut state, MEMBERS), Some(39));
}

#[test]
fn a_token_bucket_sends_one_request_after_its_reset() {
    let now = Instant::now();
    let mut state = State::default();
    let ticket = takes(&mut state, MEMBERS, now, 1)[0];
    state.learn(bucket(0, 100), now, false, ticket);
    let probe = takes(&mut state, MEMBERS, now, 1)[0];
    assert_eq!(state.try_take(ORGS, now, false).err(), Some(Wait::News));
    // The probe's answer says what the bucket holds now: that many go.
    state.answered(probe);
    state.learn(bucket(5, 101), now + Duration::from_secs(1), false, probe);
    assert_eq!(takes(&mut state, ORGS, now, 5).len(), 5);
    assert!(state.try_take(ORGS, now, false).is_err());
}

#[test]
fn a_forced_request_after_the_reset_counts_in_the_new_window() {
    let now = Instant::now();
    let reset = now + Duration::from_secs(1);
    let mut state = State::default();
    let ticket = takes(&mut state, MEMBERS, now, 1)[0];
    state.learn(sentry(0, 100, 3), reset, false, ticket);
    let later = reset + Duration::from_millis(1);
    assert!(state.try_take(MEMBERS, later, true).is_ok());
    assert_eq!(
        left(&mut state, MEMBERS),
        Some(2),
        "refilled to 3, one taken"
    );
}

#[test]
fn resets_are_read_in_seconds_with_the_margin_and_capped() {
    let budget = WindowBudget::new(Duration::from_secs(60));
    let before = Instant::now();
    let (at, capped) = budget.reset_instant(epoch_now() + 2).expect("ahead");
    assert!(!capped);
    let wait = at - before;
    // Two seconds from the start of this second, and the margin: 1.05–2.05 s from now.
    let slack = Duration::from_millis(10);
    assert!(
        wait + slack >= Duration::from_secs(1) + RESET_MARGIN
            && wait <= Duration::from_secs(2) + RESET_MARGIN + slack,
        "{wait:?}"
    );
    let (far, capped) = budget.reset_instant(u64::MAX).expect("capped");
    assert!(capped);
    assert!(far <= Instant::now() + Duration::from_secs(60));
}

/// Real time (tokio's paused clock would need its `test-util` feature, which would make every
/// crate built on tokio compile twice in CI): lower bounds exact, upper bounds generous.
const SLACK: Duration = Duration::from_secs(2);

fn within(elapsed: Duration, at_least: Duration) -> bool {
    elapsed >= at_least && elapsed < at_least + SLACK
}

#[tokio::test]
async fn waiting_requests_go_at_the_reset_and_a_silent_server_does_not_stop_them() {
    let budget = WindowBudget::new(Duration::from_secs(60));
    let ticket = budget.take(MEMBERS).await;
    let reset = Duration::from_millis(300);
    budget.lock().learn(
        sentry(0, 100, 1),
        Instant::now() + reset,
        false,
        ticket.numbers,
    );
    let start = Instant::now();
    budget.take(MEMBERS).await;
    assert!(
        within(start.elapsed(), reset),
        "held until the reset: {:?}",
        start.elapsed()
    );
    // The window's one request is spent and no answer comes: after a while, send anyway.
    budget.take(MEMBERS).await;
    assert!(
        within(start.elapsed(), reset + NEWS_TIMEOUT),
        "{:?}",
        start.elapsed()
    );
    // Both waits are counted, for the log of the source: each from when its request was first
    // held, a moment after the window was learned.
    let (waits, waited) = budget.waited();
    assert_eq!(waits, 2);
    assert!(
        waited + Duration::from_millis(200) >= reset + NEWS_TIMEOUT
            && waited < reset + NEWS_TIMEOUT + SLACK,
        "{waited:?}"
    );
}

/// A 429 says the window is spent even when its count says otherwise, unless Sentry says it
/// refused for too many requests at once (its concurrency limit, not the window).
#[test]
fn a_refusal_spends_the_window_unless_it_was_for_concurrency() {
    let budget = WindowBudget::new(Duration::from_secs(60));
    let reset = epoch_now() + 10;
    let numbers = budget
        .lock()
        .try_take(MEMBERS, Instant::now(), false)
        .expect("room");
    budget.observe_numbers(false, &sentry_headers(5, reset, 40), numbers);
    assert_eq!(
        left(&mut budget.lock(), MEMBERS),
        Some(5),
        "an answer's count"
    );
    budget.observe_numbers(true, &sentry_headers(5, reset, 40), numbers);
    assert_eq!(left(&mut budget.lock(), MEMBERS), Some(0), "refused: spent");
    assert!(matches!(
        budget.lock().try_take(MEMBERS, Instant::now(), false),
        Err(Wait::Until(_))
    ));

    // Sentry counts its concurrent requests below zero too.
    for (concurrent_left, spent) in [("0", false), ("-2", false), ("3", true), ("many", true)] {
        let budget = WindowBudget::new(Duration::from_secs(60));
        let numbers = budget
            .lock()
            .try_take(MEMBERS, Instant::now(), false)
            .expect("room");
        let mut headers = sentry_headers(5, reset, 40);
        headers.insert(
            "x-sentry-rate-limit-concurrentremaining",
            HeaderValue::from_static(concurrent_left),
        );
        budget.observe_numbers(true, &headers, numbers);
        assert_eq!(
            left(&mut budget.lock(), MEMBERS),
            Some(if spent { 0 } else { 5 }),
            "concurrent requests left: {concurrent_left}"
        );
    }
}

#[tokio::test]
async fn an_answer_from_the_server_releases_or_holds_waiting_requests() {
    let budget = std::sync::Arc::new(WindowBudget::new(Duration::from_secs(60)));
    let ticket = budget.take(MEMBERS).await.numbers;
    // Real headers: spent, resetting in about ten seconds.
    budget.observe_numbers(false, &sentry_headers(0, epoch_now() + 10, 40), ticket);
    let waiting = tokio::spawn({
        let budget = std::sync::Arc::clone(&budget);
        async move { budget.take(MEMBERS).await.numbers }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "held: the window is spent");
    // A later answer says a newer window has begun with room: the request goes at once.
    budget.observe_numbers(false, &sentry_headers(5, epoch_now() + 11, 40), ticket);
    tokio::time::timeout(SLACK, waiting)
        .await
        .expect("released by the answer, not the reset")
        .expect("task");
}

#[tokio::test]
async fn no_request_waits_longer_than_the_longest_wait_in_all() {
    let max_wait = Duration::from_millis(400);
    let budget = std::sync::Arc::new(WindowBudget::new(max_wait));
    let ticket = budget.take(MEMBERS).await.numbers;
    budget.observe_numbers(false, &sentry_headers(0, epoch_now() + 3600, 40), ticket);
    let start = Instant::now();
    let waiting = tokio::spawn({
        let budget = std::sync::Arc::clone(&budget);
        async move { budget.take(MEMBERS).await.numbers }
    });
    // A server that keeps saying "spent, an hour from now" re-arms the wait each time.
    let rearming = tokio::spawn({
        let budget = std::sync::Arc::clone(&budget);
        async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                budget.observe_numbers(false, &sentry_headers(0, epoch_now() + 3600, 40), ticket);
            }
        }
    });
    tokio::time::timeout(max_wait + SLACK, waiting)
        .await
        .expect("sent by the deadline")
        .expect("task");
    rearming.abort();
    assert!(within(start.elapsed(), max_wait), "{:?}", start.elapsed());
}
