//! The adaptation rule, value by value, and the limit's permits.

use std::time::Duration;

use reqwest::header::HeaderValue;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).expect("header value"));
    }
    h
}

const RANGE: Range = Range {
    start: 4,
    ceiling: 16,
};

fn answered(
    concurrent: Option<(u64, u64)>,
    window: Option<(u64, u64)>,
    sent_with: usize,
) -> Signal {
    Signal::Answered {
        budget: Budget { concurrent, window },
        sent_with,
        paced: false,
    }
}

#[test]
fn budgets_are_read_from_either_apis_headers_leniently() {
    let sentry = headers(&[
        ("x-sentry-rate-limit-limit", "40"),
        ("x-sentry-rate-limit-remaining", "39"),
        ("x-sentry-rate-limit-reset", "1795364401"),
        ("x-sentry-rate-limit-concurrentlimit", "25"),
        ("x-sentry-rate-limit-concurrentremaining", "24"),
    ]);
    assert_eq!(
        Budget::from_headers(&sentry),
        Budget {
            concurrent: Some((24, 25)),
            window: Some((39, 40)),
        }
    );
    // No concurrent limit configured: Sentry writes the literal `None`.
    let unconfigured = headers(&[
        ("x-sentry-rate-limit-concurrentlimit", "None"),
        ("x-sentry-rate-limit-concurrentremaining", "None"),
    ]);
    assert_eq!(Budget::from_headers(&unconfigured), Budget::default());
    let sentdm = headers(&[
        ("x-ratelimit-limit", "200"),
        ("x-ratelimit-remaining", "150"),
        ("x-ratelimit-reset", "1795364401"),
    ]);
    assert_eq!(Budget::from_headers(&sentdm).window, Some((150, 200)));
    // A limit of zero, or a remaining without its limit, plans nothing.
    let zero = headers(&[
        ("x-sentry-rate-limit-concurrentlimit", "0"),
        ("x-sentry-rate-limit-concurrentremaining", "0"),
        ("x-ratelimit-remaining", "3"),
    ]);
    assert_eq!(Budget::from_headers(&zero), Budget::default());
}

#[test]
fn without_budget_headers_the_limit_stays_at_the_configured_start() {
    let none = answered(None, None, 4);
    assert_eq!(next_limit(4, RANGE, none), 4);
    // After a 429 it climbs back to the start, one answer at a time, and no further.
    assert_eq!(next_limit(2, RANGE, none), 3);
    assert_eq!(next_limit(3, RANGE, none), 4);
}

#[test]
fn concurrent_room_raises_the_limit_one_answer_at_a_time_up_to_the_ceiling() {
    // Alone at 4 of 25: room for 25 - 3 reserved = 22; the ceiling is 16.
    let roomy = answered(Some((21, 25)), None, 4);
    assert_eq!(next_limit(4, RANGE, roomy), 5);
    assert_eq!(next_limit(15, RANGE, roomy), 16);
    assert_eq!(next_limit(16, RANGE, roomy), 16, "never above the ceiling");
    // A higher ceiling: never above the server's limit less its reserve.
    let wide = Range {
        start: 4,
        ceiling: 64,
    };
    let full = answered(Some((3, 25)), None, 22);
    assert_eq!(next_limit(22, wide, full), 22);
    assert_eq!(next_limit(30, wide, full), 22, "down to the room at once");
}

#[test]
fn other_callers_on_the_same_limit_shrink_the_room() {
    // 16 of ours in flight, but the server counted 24: 8 are someone else's. 25 - 8 - 3 = 14.
    let shared = answered(Some((1, 25)), None, 16);
    assert_eq!(next_limit(16, RANGE, shared), 14);
    // A small limit keeps one free.
    let small = answered(Some((0, 4)), None, 4);
    assert_eq!(next_limit(4, RANGE, small), 3);
}

#[test]
fn a_draining_window_brings_the_limit_down_before_it_is_spent() {
    // Half of what is left: 40 left allows 20 (ceiling 16); 10 left allows 5; none left, 1.
    assert_eq!(next_limit(8, RANGE, answered(None, Some((40, 40)), 8)), 9);
    assert_eq!(next_limit(16, RANGE, answered(None, Some((10, 40)), 16)), 5);
    assert_eq!(next_limit(5, RANGE, answered(None, Some((0, 40)), 5)), 1);
    // Both budgets: the smaller room wins.
    let both = answered(Some((21, 25)), Some((12, 40)), 4);
    assert_eq!(next_limit(8, RANGE, both), 6);
}

#[test]
fn a_paced_sources_window_never_cuts_below_the_start() {
    let paced = |remaining| Signal::Answered {
        budget: Budget {
            concurrent: None,
            window: Some((remaining, 200)),
        },
        sent_with: 4,
        paced: true,
    };
    assert_eq!(
        next_limit(4, RANGE, paced(0)),
        4,
        "the pacer spends the window"
    );
    assert_eq!(
        next_limit(4, RANGE, paced(40)),
        5,
        "an ample bucket lets it rise"
    );
}

#[test]
fn a_429_halves_the_limit_but_never_below_one() {
    assert_eq!(next_limit(16, RANGE, Signal::RateLimited), 8);
    assert_eq!(next_limit(3, RANGE, Signal::RateLimited), 1);
    assert_eq!(next_limit(1, RANGE, Signal::RateLimited), 1);
}

#[test]
fn a_crowded_round_of_429s_halves_the_limit_once() {
    let limit = ConcurrencyLimit::new(16, 16);
    let sent: Vec<Sent> = (0..3).map(|_| limit.sending().1).collect();
    for s in sent {
        limit.apply(Signal::RateLimited, s.cuts);
    }
    assert_eq!(
        limit.current(),
        8,
        "the three were sent before the first cut"
    );
    let (_, after) = limit.sending();
    limit.apply(Signal::RateLimited, after.cuts);
    assert_eq!(limit.current(), 4, "one sent after it counts");
}

#[tokio::test]
async fn permits_follow_the_limit_up_and_down() {
    let limit = Arc::new(ConcurrencyLimit::new(2, 8));
    let a = Arc::clone(&limit).acquire().await;
    let b = Arc::clone(&limit).acquire().await;
    let third = tokio::spawn(Arc::clone(&limit).acquire());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!third.is_finished(), "a third scope waits at a limit of 2");
    limit.apply(answered(Some((20, 25)), None, 2), 0);
    let c = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the raised limit lets it run")
        .expect("task");
    assert_eq!((limit.current(), limit.peak()), (3, 3));
    // Down to 1 while 3 run: the permits come out of circulation as the scopes finish.
    limit.apply(Signal::RateLimited, 0);
    assert_eq!(limit.current(), 1);
    drop((a, b));
    let fourth = tokio::spawn(Arc::clone(&limit).acquire());
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!fourth.is_finished(), "one still runs at a limit of 1");
    drop(c);
    tokio::time::timeout(Duration::from_secs(5), fourth)
        .await
        .expect("its turn once the last one finishes")
        .expect("task");
}

#[tokio::test]
async fn a_live_client_rises_on_room_and_halves_on_a_429() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/roomy"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("[]")
                .insert_header("x-sentry-rate-limit-concurrentlimit", "25")
                .insert_header("x-sentry-rate-limit-concurrentremaining", "24"),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited"))
        .respond_with(ResponseTemplate::new(429).set_body_string("\"slow down\""))
        .mount(&server)
        .await;
    let settings = crate::http::FetchSettings {
        concurrency: 4,
        max_concurrency: 16,
        max_attempts: 1,
        ..Default::default()
    };
    let client =
        crate::http::SourceClient::new(settings, HeaderMap::new(), &server.uri()).expect("client");
    let url = |p: &str| url::Url::parse(&format!("{}{p}", server.uri())).expect("url");
    for _ in 0..8 {
        client
            .get("test", &url("/roomy"), &[], true)
            .await
            .expect("answer");
    }
    assert_eq!(
        client.scope_limit().current(),
        12,
        "one more per answer with room"
    );
    let answer = client
        .get("test", &url("/limited"), &[], true)
        .await
        .expect("answer");
    assert_eq!(answer.status, 429);
    assert_eq!(client.scope_limit().current(), 6, "halved by the 429");
}
