//! UTC timestamps as Unix milliseconds, and their RFC 3339 text form.
//!
//! The lists and the manifest only need UTC instants; a dozen lines of civil-date
//! arithmetic (Howard Hinnant's algorithm) avoid a date-time dependency.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// A duration for people: `73.2 h` from an hour up, `12.5 min` below it, `3.4 s` below a
/// minute, so that a small age never reads as `0.0 h`.
pub fn format_span(ms: i64) -> String {
    let (value, unit) = span_unit(ms);
    format!("{value:.1} {unit}")
}

/// A configured limit: as [`format_span`], whole numbers without the decimal (`72 h`).
pub fn format_limit(ms: i64) -> String {
    let (value, unit) = span_unit(ms);
    let text = format!("{value:.1}");
    format!("{} {unit}", text.strip_suffix(".0").unwrap_or(&text))
}

fn span_unit(ms: i64) -> (f64, &'static str) {
    let ms = ms.max(0) as f64;
    if ms >= 3_600_000.0 {
        (ms / 3_600_000.0, "h")
    } else if ms >= 60_000.0 {
        (ms / 60_000.0, "min")
    } else {
        (ms / 1000.0, "s")
    }
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        s / 3600,
        s / 60 % 60,
        s % 60,
        ms.rem_euclid(1000)
    )
}

/// Parses Unix milliseconds (all digits) or RFC 3339 (`2026-11-23T10:00:00Z`,
/// fractional seconds and `±HH:MM` offsets allowed).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    let b = t.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = t.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let seps_ok = b[4] == b'-'
        && b[7] == b'-'
        && matches!(b[10], b'T' | b't' | b' ')
        && b[13] == b':'
        && b[16] == b':';
    if !seps_ok || !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60
    {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &t[start..i];
        if digits.is_empty() {
            return None;
        }
        frac_ms = format!("{digits:0<3}")[..3].parse::<i64>().ok()?;
    }
    let offset_min = match &t[i..] {
        "Z" | "z" => 0,
        off if off.len() == 6
            && (off.starts_with('+') || off.starts_with('-'))
            && off.as_bytes()[3] == b':' =>
        {
            let sign = if off.starts_with('-') { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) - offset_min * 60) * 1000 + frac_ms)
}

/// A shop's time zone: a fixed offset from UTC and the label shown after local times.
/// Russia has kept fixed offsets without summer time since 2014, so an offset is enough
/// for every Russian zone; they are named from Moscow time as shops name them (`МСК`,
/// `МСК+2` for Yekaterinburg, `МСК-1` for Kaliningrad).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeZone {
    /// Minutes east of UTC.
    pub offset_minutes: i32,
    /// Shown after a local time.
    pub label: String,
}

impl Default for TimeZone {
    /// Moscow: UTC+3, `МСК`.
    fn default() -> Self {
        TimeZone {
            offset_minutes: 180,
            label: "МСК".into(),
        }
    }
}

impl TimeZone {
    /// Reads `МСК`, `МСК+N`/`МСК-N` (also `MSK…`), `UTC`, or an offset `+05:00`/`-0130`
    /// (labelled `UTC+05:00`).
    pub fn parse(text: &str) -> Option<TimeZone> {
        let text = text.trim();
        for moscow in ["МСК", "MSK"] {
            if let Some(rest) = text.strip_prefix(moscow) {
                let hours: i32 = if rest.is_empty() {
                    0
                } else {
                    let (sign, n) = rest.split_at(1);
                    let n: i32 = n.parse().ok().filter(|n| (0..=12).contains(n))?;
                    match sign {
                        "+" => n,
                        "-" => -n,
                        _ => return None,
                    }
                };
                return Some(TimeZone {
                    offset_minutes: 180 + hours * 60,
                    label: format!("МСК{rest}"),
                });
            }
        }
        if text.eq_ignore_ascii_case("UTC") || text == "Z" {
            return Some(TimeZone {
                offset_minutes: 0,
                label: "UTC".into(),
            });
        }
        let (sign, rest) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        let digits: String = rest.chars().filter(|c| *c != ':').collect();
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (h, m): (i32, i32) = (digits[..2].parse().ok()?, digits[2..].parse().ok()?);
        if h > 14 || m > 59 {
            return None;
        }
        let offset = sign * (h * 60 + m);
        Some(TimeZone {
            offset_minutes: offset,
            label: format!("UTC{}{:02}:{:02}", if offset < 0 { '-' } else { '+' }, h, m),
        })
    }

    fn civil(&self, ms: i64) -> (i64, i64, i64, i64, i64) {
        let local = ms.div_euclid(1000) + i64::from(self.offset_minutes) * 60;
        let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
        let (y, m, d) = civil_from_days(days);
        (y, m, d, secs / 3600, secs / 60 % 60)
    }

    /// A time as the shop's staff read it: `06.12.2026 03:51 МСК`.
    pub fn format(&self, ms: i64) -> String {
        let (y, mo, d, h, mi) = self.civil(ms);
        format!("{d:02}.{mo:02}.{y:04} {h:02}:{mi:02} {}", self.label)
    }

    /// The local date of a time, `YYYY-MM-DD` (a day's counts are kept by it).
    pub fn date(&self, ms: i64) -> String {
        let (y, mo, d, _, _) = self.civil(ms);
        format!("{y:04}-{mo:02}-{d:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times_read_as_the_shop_reads_them() {
        let t = parse_timestamp("2026-12-06T00:51:29.779Z").unwrap();
        let moscow = TimeZone::default();
        assert_eq!(moscow.format(t), "06.12.2026 03:51 МСК");
        assert_eq!(moscow.date(t), "2026-12-06");
        let yekaterinburg = TimeZone::parse("МСК+2").unwrap();
        assert_eq!(yekaterinburg.format(t), "06.12.2026 05:51 МСК+2");
        let kaliningrad = TimeZone::parse("MSK-1").unwrap();
        assert_eq!(kaliningrad.offset_minutes, 120);
        assert_eq!(
            TimeZone::parse("UTC").unwrap().format(t),
            "06.12.2026 00:51 UTC"
        );
        let late = TimeZone::parse("-05:00").unwrap();
        assert_eq!(late.format(t), "05.12.2026 19:51 UTC-05:00");
        assert_eq!(late.date(t), "2026-12-05");
        for bad in ["", "МСК+", "МСК*2", "+5", "+25:00", "Moscow"] {
            assert_eq!(TimeZone::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn spans_read_right_at_every_scale() {
        assert_eq!(format_span(73 * 3_600_000 + 720_000), "73.2 h");
        assert_eq!(format_span(120 * 3_600_000), "120.0 h");
        assert_eq!(format_limit(72 * 3_600_000), "72 h");
        assert_eq!(format_limit(3_600), "3.6 s");
        assert_eq!(format_span(750_000), "12.5 min");
        assert_eq!(format_span(3_400), "3.4 s");
        assert_eq!(format_span(-5), "0.0 s");
    }

    #[test]
    fn round_trip_and_forms() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:00Z"), Some(0));
        let ms = parse_timestamp("2026-11-23T10:00:00.250Z").unwrap();
        assert_eq!(format_rfc3339(ms), "2026-11-23T10:00:00.250Z");
        assert_eq!(
            parse_timestamp("2026-11-23T13:00:00+03:00"),
            parse_timestamp("2026-11-23T10:00:00Z")
        );
        assert_eq!(parse_timestamp("1795428000000"), Some(1_795_428_000_000));
        assert_eq!(
            format_rfc3339(1_795_428_000_000),
            "2026-11-23T10:00:00.000Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-23T10:00:00",
            "2026-11-23T10:00:00.Z",
            "2026-11-23T10:00:00+0é00",
            "2026-11-23T10:00:00é",
            "2026-11-23T1é:00:00Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
