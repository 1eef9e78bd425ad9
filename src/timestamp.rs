//! Lenient timestamp parsing and the day arithmetic the rules use.
//!
//! Sentry sends `2021-07-06T21:13:58.375239Z` (0–6 fractional digits), Sent.dm sends
//! `2025-09-11T21:50:49.7725221+00:00` (7 digits). We accept 0–9 fractional digits, any offset,
//! and — because old self-hosted servers have been seen to do it — no offset at all (read as UTC).

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};

/// Parse an API timestamp. Returns `None` for anything that is not a recognisable instant.
pub fn parse_timestamp(raw: &str) -> Option<DateTime<Utc>> {
    let s = raw.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    // No offset: a naive date-time, taken as UTC.
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    None
}

/// Parse a command-line `--as-of` value: RFC 3339 with an offset, nothing looser.
pub(crate) fn parse_as_of(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            format!("`{raw}` is not an RFC 3339 instant such as 2026-11-01T00:00:00Z ({e})")
        })
}

/// "Older than N days": strictly more than N × 24 h before `as_of`, as every rule documents it.
pub(crate) fn older_than_days(t: DateTime<Utc>, as_of: DateTime<Utc>, days: u32) -> bool {
    as_of - t > TimeDelta::days(i64::from(days))
}

/// Whole days from `t` to `as_of`, rounded down (negative when `t` is after `as_of`).
pub(crate) fn whole_days(t: DateTime<Utc>, as_of: DateTime<Utc>) -> i64 {
    (as_of - t).num_days()
}

/// `YYYY-MM-DD` of an instant, in UTC.
pub(crate) fn date(t: DateTime<Utc>) -> String {
    let text = crate::model::TimeText::new(&t);
    text.as_str()
        .get(..10)
        .map_or_else(|| t.format("%Y-%m-%d").to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn parses_sentry_and_sentdm_shapes() {
        let sentdm = parse_timestamp("2025-09-11T21:50:49.7725221+00:00").unwrap();
        assert_eq!(sentdm.timestamp_subsec_nanos(), 772_522_100);
        let sentry = parse_timestamp("2021-07-06T21:13:58.375239Z").unwrap();
        assert_eq!(sentry.timestamp_subsec_micros(), 375_239);
        let whole = parse_timestamp("2019-05-09T18:06:01Z").unwrap();
        assert_eq!(whole, Utc.with_ymd_and_hms(2019, 5, 9, 18, 6, 1).unwrap());
        let nine = parse_timestamp("2019-05-09T18:06:01.123456789-02:30").unwrap();
        assert_eq!(
            nine,
            Utc.with_ymd_and_hms(2019, 5, 9, 20, 36, 1).unwrap()
                + TimeDelta::nanoseconds(123_456_789)
        );
        let naive = parse_timestamp("2019-05-09T18:06:01.5").unwrap();
        assert_eq!(naive.timestamp_subsec_millis(), 500);
    }

    #[test]
    fn rejects_garbage() {
        for bad in ["", "  ", "yesterday", "2019-13-01T00:00:00Z", "2019-05-09"] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn older_than_is_strict() {
        let as_of = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
        let exactly = as_of - TimeDelta::days(90);
        assert!(!older_than_days(exactly, as_of, 90));
        assert!(older_than_days(
            exactly - TimeDelta::nanoseconds(1),
            as_of,
            90
        ));
        assert!(!older_than_days(exactly + TimeDelta::hours(1), as_of, 90));
        assert!(older_than_days(exactly - TimeDelta::hours(1), as_of, 90));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn never_panics(s in ".{0,64}") {
            let _ = parse_timestamp(&s);
        }

        /// Any instant, written with 0–9 fractional digits and any offset, reads back as the
        /// same instant (truncated to the digits written).
        #[test]
        fn round_trips(
            secs in 0i64..4_102_444_800, // 1970 … 2100
            nanos in 0u32..1_000_000_000,
            digits in 0usize..=9,
            offset_min in -840i32..=840,
            zulu in any::<bool>(),
        ) {
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let frac = if digits == 0 { String::new() } else { format!(".{:09}", nanos)[..=digits].to_string() };
            let offset = chrono::FixedOffset::east_opt(offset_min * 60).unwrap();
            let local = t.with_timezone(&offset);
            let suffix = if zulu && offset_min == 0 {
                "Z".to_string()
            } else {
                let sign = if offset_min < 0 { '-' } else { '+' };
                format!("{sign}{:02}:{:02}", offset_min.abs() / 60, offset_min.abs() % 60)
            };
            let text = format!("{}{frac}{suffix}", local.format("%Y-%m-%dT%H:%M:%S"));
            let parsed = parse_timestamp(&text).unwrap();
            let kept = if digits == 0 { 0 } else { nanos / 10u32.pow(9 - digits as u32) * 10u32.pow(9 - digits as u32) };
            prop_assert_eq!(parsed, DateTime::<Utc>::from_timestamp(secs, kept).unwrap());
        }
    }
}
