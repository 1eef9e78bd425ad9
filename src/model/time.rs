//! Timestamps as every report writes them: RFC 3339, UTC, `Z`.

use chrono::{DateTime, Utc};
use serde::Serializer;

/// Serialise a timestamp as RFC 3339 in UTC, the format every report uses.
pub fn serialize_time<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(TimeText::new(t).as_str()),
        None => s.serialize_none(),
    }
}

/// Serialise a timestamp that is always there (a report's `as_of`), as [`serialize_time`] does.
pub fn serialize_time_value<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(TimeText::new(t).as_str())
}

/// RFC 3339, UTC, `Z`, with as many fractional digits as the value needs (0, 3, 6 or 9).
pub fn format_time(t: &DateTime<Utc>) -> String {
    TimeText::new(t).as_str().to_string()
}

/// For people: `2026-11-25 10:47:34 UTC`, to the second. Machines get [`format_time`].
pub fn format_human(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A timestamp formatted on the stack. Reports format millions of them; chrono's formatter
/// allocates a `String` each time, this does not.
pub struct TimeText {
    buf: [u8; 30],
    len: usize,
}

impl TimeText {
    pub fn new(t: &DateTime<Utc>) -> TimeText {
        use chrono::{Datelike, Timelike};
        let year = t.year();
        // Years outside 0..=9999 never come from these APIs; keep chrono's exact output for them.
        if !(0..=9999).contains(&year) {
            let text = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            let mut out = TimeText {
                buf: [0; 30],
                len: text.len().min(30),
            };
            out.buf[..out.len].copy_from_slice(&text.as_bytes()[..out.len]);
            return out;
        }
        let mut out = TimeText {
            buf: [0; 30],
            len: 0,
        };
        out.digits(year as u32, 4);
        out.byte(b'-');
        out.digits(t.month(), 2);
        out.byte(b'-');
        out.digits(t.day(), 2);
        out.byte(b'T');
        out.digits(t.hour(), 2);
        out.byte(b':');
        out.digits(t.minute(), 2);
        out.byte(b':');
        // A leap second is carried in the nanoseconds (>= 1e9), as chrono prints it.
        let nanos = t.nanosecond();
        let (secs, frac) = if nanos >= 1_000_000_000 {
            (60, nanos - 1_000_000_000)
        } else {
            (t.second(), nanos)
        };
        out.digits(secs, 2);
        if frac != 0 {
            out.byte(b'.');
            if frac % 1_000_000 == 0 {
                out.digits(frac / 1_000_000, 3);
            } else if frac % 1_000 == 0 {
                out.digits(frac / 1_000, 6);
            } else {
                out.digits(frac, 9);
            }
        }
        out.byte(b'Z');
        out
    }

    fn byte(&mut self, b: u8) {
        self.buf[self.len] = b;
        self.len += 1;
    }

    /// `n` in exactly `width` decimal digits, zero-padded.
    fn digits(&mut self, n: u32, width: usize) {
        let mut v = n;
        for i in (0..width).rev() {
            self.buf[self.len + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
        self.len += width;
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The stack formatter writes exactly what chrono's RFC 3339 (AutoSi, Z) writes.
        #[test]
        fn time_text_matches_chrono(secs in -62_135_596_800i64..253_402_300_799, nanos in 0u32..1_000_000_000, round in 0u8..4) {
            let nanos = match round { 0 => 0, 1 => nanos / 1_000_000 * 1_000_000, 2 => nanos / 1_000 * 1_000, _ => nanos };
            let t = DateTime::<Utc>::from_timestamp(secs, nanos).unwrap();
            let text = TimeText::new(&t);
            prop_assert_eq!(text.as_str(), t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
        }
    }
}
