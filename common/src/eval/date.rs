//! Date operands for rule operators: strict RFC 3339 timestamps or epoch
//! milliseconds, both reduced to milliseconds since the Unix epoch
//! (1970-01-01T00:00:00Z). The TypeScript SDK implements the same
//! definition; this text is the cross-language specification.
//!
//! # Accepted strings
//!
//! Only the RFC 3339 §5.6 `date-time` production, byte for byte:
//!
//! ```text
//! YYYY-MM-DD T HH:MM:SS [.F+] (Z | +HH:MM | -HH:MM)
//! ```
//!
//! with no spaces between the parts shown, and nothing before or after.
//!
//! - Every digit is an ASCII digit `0`-`9`; every field has exactly the width
//!   shown (`YYYY` is 4 digits, the others 2). Any other character, including
//!   a non-ASCII digit or whitespace, makes the string invalid.
//! - `YYYY` is `0000`-`9999` (proleptic Gregorian calendar; year `0000` is a
//!   leap year). `MM` is `01`-`12`. `DD` is `01` to the length of that month,
//!   with February having 29 days in leap years (divisible by 4, except
//!   centuries not divisible by 400) and 28 otherwise.
//! - The separator is `T` or lower-case `t` (RFC 3339 §5.6 allows either).
//!   A space or any other separator is invalid.
//! - `HH` is `00`-`23` (`24:00:00` is invalid), `MM` is `00`-`59`, and `SS` is
//!   `00`-`60`. Seconds are required.
//! - **Leap second:** `SS = 60` is accepted at any hour and minute (no
//!   leap-second table is consulted) and is computed like any other second
//!   value, so `23:59:60Z` equals `00:00:00Z` of the next day and `12:30:60Z`
//!   equals `12:31:00Z`.
//! - The optional fraction is a `.` followed by one or more digits (any
//!   number). Only the first three digits count: further digits are
//!   **truncated**, never rounded (`.9999` is 999 ms). `.5` is 500 ms and
//!   `.05` is 50 ms.
//! - The offset is required: `Z`, lower-case `z`, or `+HH:MM` / `-HH:MM` with
//!   `HH` `00`-`23` and `MM` `00`-`59`. `-00:00` is accepted and means UTC,
//!   like `Z`.
//!
//! No other ISO 8601 form is accepted: no date-only or time-only strings, no
//! week or ordinal dates, no basic format without separators, no `+HHMM` or
//! `+HH` offsets, no `,` before the fraction, no expanded years, and no
//! number-looking strings (`"1700000000000"` is not a date string).
//!
//! # Value
//!
//! The result is the exact integer
//!
//! ```text
//! days_from_civil(YYYY, MM, DD) * 86_400_000
//!   + HH * 3_600_000 + MM * 60_000 + SS * 1_000 + first three fraction digits (ms)
//!   - sign * (offset HH * 3_600_000 + offset MM * 60_000)
//! ```
//!
//! where `days_from_civil` is Howard Hinnant's algorithm (days since
//! 1970-01-01 in the proleptic Gregorian calendar) and `sign` is +1 for `+`,
//! -1 for `-`, and 0 for `Z`. Because the fraction is always added to a whole
//! number of milliseconds, truncating its extra digits is the same as taking
//! the **floor** of the exact instant in milliseconds, for instants before
//! the epoch too (`1969-12-31T23:59:59.9999Z` is -1 ms, not 0).
//!
//! Every accepted string gives a value within about ±2.6e14 ms, far inside
//! ±2^53, so it is exact as an `f64` (what JavaScript uses).
//!
//! # Numbers
//!
//! A JSON number is taken as epoch milliseconds as it is: any finite `f64`,
//! fractional or negative, without rounding or range checks. NaN and the
//! infinities are invalid.
//!
//! # Comparison
//!
//! Rule operators compare the `f64` millisecond values from
//! [`date_ms_from_str`] and [`date_ms_from_number`].
//!
//! # Cost
//!
//! Parsing works on the bytes of the input, does not allocate, runs in time
//! linear in the input, and never panics.

/// Milliseconds in a day.
const MS_PER_DAY: i64 = 86_400_000;

/// Parses a strict RFC 3339 `date-time` (see the module documentation) into
/// milliseconds since the Unix epoch, truncating sub-millisecond digits
/// (equivalently, the floor of the exact instant).
///
/// Returns `None` for anything that is not such a timestamp. Never allocates
/// and never panics.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    // Fixed-width prefix "YYYY-MM-DDTHH:MM:SS" is 19 bytes.
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }

    // Optional fraction: '.' then one or more digits; keep the first three.
    let mut i = 19;
    let mut frac_ms = 0;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                frac_ms = frac_ms * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        let n = i - start;
        if n == 0 {
            return None;
        }
        // Scale a 1- or 2-digit fraction to milliseconds.
        for _ in n..3 {
            frac_ms *= 10;
        }
    }

    // Required offset.
    let offset_ms = match b.get(i)? {
        b'Z' | b'z' if b.len() == i + 1 => 0,
        &sign @ (b'+' | b'-') if b.len() == i + 6 => {
            let oh = digits(b, i + 1, 2)?;
            let om = digits(b, i + 4, 2)?;
            if b[i + 3] != b':' || oh > 23 || om > 59 {
                return None;
            }
            let magnitude = oh * 3_600_000 + om * 60_000;
            if sign == b'+' { magnitude } else { -magnitude }
        }
        _ => return None,
    };

    Some(
        days_from_civil(year, month, day) * MS_PER_DAY
            + hour * 3_600_000
            + minute * 60_000
            + second * 1_000
            + frac_ms
            - offset_ms,
    )
}

/// A date operand given as a JSON string: a strict RFC 3339 timestamp (see
/// the module documentation), as epoch milliseconds.
///
/// The value is an integer, exactly representable. Returns `None` for any
/// other string, including numeric strings.
pub fn date_ms_from_str(s: &str) -> Option<f64> {
    // |ms| < 2^53 for every accepted string, so this conversion is exact.
    parse_rfc3339_ms(s).map(|ms| ms as f64)
}

/// A date operand given as a JSON number: epoch milliseconds, used as it is.
///
/// Returns `Some(n)` for any finite `n` and `None` for NaN and the infinities.
pub fn date_ms_from_number(n: f64) -> Option<f64> {
    n.is_finite().then_some(n)
}

/// Reads `len` ASCII digits at `b[at..at + len]` as a number; `None` if out of
/// bounds or any byte is not an ASCII digit.
fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let field = b.get(at..at.checked_add(len)?)?;
    field.iter().try_fold(0i64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
    })
}

fn is_leap_year(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Days in `month` (1-12) of `year`, proleptic Gregorian.
fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's `days_from_civil`: days since 1970-01-01 of the proleptic
/// Gregorian date `y-m-d` (`m` 1-12, `d` 1-31).
/// <https://howardhinnant.github.io/date_algorithms.html#days_from_civil>
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = (if y >= 0 { y } else { y - 399 }) / 400;
    let yoe = y - era * 400; // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    fn ms(s: &str) -> Option<i64> {
        parse_rfc3339_ms(s)
    }

    #[test]
    fn epoch_and_simple_values() {
        assert_eq!(ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(ms("1970-01-01T00:00:01Z"), Some(1_000));
        assert_eq!(ms("2000-01-01T00:00:00Z"), Some(946_684_800_000));
        assert_eq!(ms("2024-02-29T12:00:00Z"), Some(1_709_208_000_000));
        assert_eq!(ms("1969-12-31T23:59:59Z"), Some(-1_000));
        assert_eq!(ms("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
        assert_eq!(ms("9999-12-31T23:59:59.999Z"), Some(253_402_300_799_999));
    }

    #[test]
    fn days_from_civil_matches_known_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(0, 3, 1), -719_468);
        assert_eq!(days_from_civil(0, 1, 1), -719_528);
        // Consecutive dates are consecutive days across a whole 400-year era.
        let mut expected = days_from_civil(1600, 1, 1);
        for y in 1600..2001 {
            for m in 1..=12 {
                for d in 1..=days_in_month(y, m) {
                    assert_eq!(days_from_civil(y, m, d), expected, "{y}-{m}-{d}");
                    expected += 1;
                }
            }
        }
    }

    #[test]
    fn offsets() {
        let utc = ms("2024-06-01T12:00:00Z");
        assert_eq!(ms("2024-06-01T14:30:00+02:30"), utc);
        assert_eq!(ms("2024-06-01T07:00:00-05:00"), utc);
        assert_eq!(ms("2024-06-01T12:00:00+00:00"), utc);
        assert_eq!(ms("2024-06-01T12:00:00-00:00"), utc);
        assert_eq!(ms("2024-06-02T11:59:00+23:59"), utc);
        assert_eq!(ms("2024-05-31T12:01:00-23:59"), utc);
        for bad in [
            "2024-06-01T12:00:00+24:00",
            "2024-06-01T12:00:00+02:60",
            "2024-06-01T12:00:00+0200",
            "2024-06-01T12:00:00+02",
            "2024-06-01T12:00:00+2:00",
            "2024-06-01T12:00:00 +02:00",
            "2024-06-01T12:00:00",
            "2024-06-01T12:00:00UTC",
            "2024-06-01T12:00:00ZZ",
            "2024-06-01T12:00:00+02:00Z",
            "2024-06-01T12:00:00Z+02:00",
            "2024-06-01T12:00:00*02:00",
        ] {
            assert_eq!(ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn fractions_truncate() {
        let base = 1_717_243_200_000; // 2024-06-01T12:00:00Z
        assert_eq!(ms("2024-06-01T12:00:00.5Z"), Some(base + 500));
        assert_eq!(ms("2024-06-01T12:00:00.05Z"), Some(base + 50));
        assert_eq!(ms("2024-06-01T12:00:00.123Z"), Some(base + 123));
        assert_eq!(ms("2024-06-01T12:00:00.1239Z"), Some(base + 123));
        assert_eq!(ms("2024-06-01T12:00:00.999999999999Z"), Some(base + 999));
        assert_eq!(ms("2024-06-01T12:00:00.000Z"), Some(base));
        assert_eq!(ms("2024-06-01T12:00:00.0001Z"), Some(base));
        // Floor before the epoch.
        assert_eq!(ms("1969-12-31T23:59:59.9999Z"), Some(-1));
        assert_eq!(ms("1969-12-31T23:59:59.0009Z"), Some(-1_000));
        for bad in [
            "2024-06-01T12:00:00.Z",
            "2024-06-01T12:00:00,5Z",
            "2024-06-01T12:00:00.5.5Z",
            "2024-06-01T12:00:00.+01:00",
            "2024-06-01T12:00:00.5",
            "2024-06-01T12:00:00.a",
        ] {
            assert_eq!(ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn leap_second_counts_as_next_second() {
        assert_eq!(ms("2016-12-31T23:59:60Z"), ms("2017-01-01T00:00:00Z"));
        assert_eq!(ms("2016-12-31T23:59:60.5Z"), ms("2017-01-01T00:00:00.5Z"));
        assert_eq!(ms("2024-06-01T12:30:60Z"), ms("2024-06-01T12:31:00Z"));
        assert_eq!(ms("2024-06-01T12:00:61Z"), None);
    }

    #[test]
    fn lowercase_t_and_z() {
        let upper = ms("2024-06-01T12:00:00Z");
        assert!(upper.is_some());
        assert_eq!(ms("2024-06-01t12:00:00z"), upper);
        assert_eq!(ms("2024-06-01t12:00:00Z"), upper);
        assert_eq!(ms("2024-06-01T12:00:00z"), upper);
    }

    #[test]
    fn calendar_validation() {
        assert!(ms("2024-02-29T00:00:00Z").is_some());
        assert!(ms("2000-02-29T00:00:00Z").is_some());
        assert!(ms("0000-02-29T00:00:00Z").is_some());
        assert!(ms("1600-02-29T00:00:00Z").is_some());
        for bad in [
            "2023-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2024-02-30T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2024-06-31T00:00:00Z",
            "2024-09-31T00:00:00Z",
            "2024-11-31T00:00:00Z",
            "2024-01-32T00:00:00Z",
            "2024-01-00T00:00:00Z",
            "2024-00-10T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T23:60:00Z",
            "2024-01-01T99:00:00Z",
        ] {
            assert_eq!(ms(bad), None, "{bad:?}");
        }
        for m in 1..=12 {
            let last = days_in_month(2023, m);
            assert!(ms(&format!("2023-{m:02}-{last:02}T00:00:00Z")).is_some());
            assert!(ms(&format!("2023-{m:02}-{:02}T00:00:00Z", last + 1)).is_none());
        }
    }

    #[test]
    fn rejects_other_forms() {
        for bad in [
            "",
            "2024-06-01",
            "12:00:00Z",
            "2024-06-01 12:00:00Z",
            "2024-06-01_12:00:00Z",
            "2024-06-01T12:00Z",
            "2024-06-01T12Z",
            "20240601T120000Z",
            "2024-1-01T12:00:00Z",
            "2024-01-1T12:00:00Z",
            "24-01-01T12:00:00Z",
            "+2024-01-01T12:00:00Z",
            "-0001-01-01T12:00:00Z",
            "12024-01-01T12:00:00Z",
            "2024-W01-1T12:00:00Z",
            "2024-001T12:00:00Z",
            " 2024-06-01T12:00:00Z",
            "2024-06-01T12:00:00Z ",
            "2024-06-01T12:00:00Z\n",
            "2024-06-01T12:00:00Zjunk",
            "2024-06-01T12:00:00+01:00:00",
            "2024/06/01T12:00:00Z",
            "2024-06-01T12.00.00Z",
            "２０２４-06-01T12:00:00Z",
            "2024-06-01T12:00:0٠Z",
            "1700000000000",
            "2024-06-01T12:00:00.\u{0665}Z",
        ] {
            assert_eq!(ms(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn json_operand_helpers() {
        assert_eq!(
            date_ms_from_str("2024-02-29T12:00:00Z"),
            Some(1_709_208_000_000.0)
        );
        assert_eq!(date_ms_from_str("1709208000000"), None);
        assert_eq!(
            date_ms_from_number(1_709_208_000_000.0),
            Some(1_709_208_000_000.0)
        );
        assert_eq!(date_ms_from_number(-1.5), Some(-1.5));
        assert_eq!(date_ms_from_number(0.25), Some(0.25));
        assert_eq!(date_ms_from_number(f64::MAX), Some(f64::MAX));
        assert_eq!(date_ms_from_number(f64::NAN), None);
        assert_eq!(date_ms_from_number(f64::INFINITY), None);
        assert_eq!(date_ms_from_number(f64::NEG_INFINITY), None);
    }

    // ---- property tests -------------------------------------------------

    /// A valid timestamp's parts; seconds 0-59 (leap seconds are covered by
    /// unit tests because the `time` crate treats them differently).
    #[derive(Debug, Clone)]
    struct Parts {
        year: i64,
        month: i64,
        day: i64,
        hour: i64,
        minute: i64,
        second: i64,
        fraction: String,
        offset: Option<(bool, i64, i64)>,
        lower: bool,
    }

    impl Parts {
        fn text(&self) -> String {
            let (t, z) = if self.lower { ('t', 'z') } else { ('T', 'Z') };
            let mut s = format!(
                "{:04}-{:02}-{:02}{t}{:02}:{:02}:{:02}",
                self.year, self.month, self.day, self.hour, self.minute, self.second
            );
            if !self.fraction.is_empty() {
                s.push('.');
                s.push_str(&self.fraction);
            }
            match self.offset {
                None => s.push(z),
                Some((neg, h, m)) => {
                    s.push_str(&format!("{}{h:02}:{m:02}", if neg { '-' } else { '+' }))
                }
            }
            s
        }
    }

    fn parts() -> impl Strategy<Value = Parts> {
        (
            (0i64..=9999, 1i64..=12, 0usize..31),
            (0i64..=23, 0i64..=59, 0i64..=59),
            "[0-9]{0,12}",
            proptest::option::of((any::<bool>(), 0i64..=23, 0i64..=59)),
            any::<bool>(),
        )
            .prop_map(
                |((year, month, d), (hour, minute, second), fraction, offset, lower)| Parts {
                    year,
                    month,
                    // Map the index onto a valid day of this month.
                    day: (d as i64) % days_in_month(year, month) + 1,
                    hour,
                    minute,
                    second,
                    fraction,
                    offset,
                    lower,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn never_panics_on_any_string(s in any::<String>()) {
            let _ = parse_rfc3339_ms(&s);
            let _ = date_ms_from_str(&s);
        }

        #[test]
        fn never_panics_on_near_timestamps(
            s in "[0-9]{0,5}[-:.+tTzZ ]?[0-9]{0,3}[-:.+tTzZ]?[0-9]{0,3}[-:.+tTzZ]?[0-9]{0,3}[-:.+tTzZ]?[0-9]{0,3}[-:.+tTzZ]?[0-9]{0,4}[-:.+zZ]?[0-9]{0,3}[:]?[0-9]{0,3}"
        ) {
            let _ = parse_rfc3339_ms(&s);
        }

        #[test]
        fn never_panics_on_mutated_valid(p in parts(), at in any::<prop::sample::Index>(), c in any::<char>()) {
            let mut s = p.text();
            let i = at.index(s.len());
            s.replace_range(i..=i, c.encode_utf8(&mut [0; 4]));
            let _ = parse_rfc3339_ms(&s);
            s.truncate(i);
            let _ = parse_rfc3339_ms(&s);
        }

        #[test]
        fn never_panics_on_any_number(n in any::<f64>()) {
            let r = date_ms_from_number(n);
            prop_assert_eq!(r.is_some(), n.is_finite());
        }

        /// Cross-check against the `time` crate on valid timestamps. `time`
        /// keeps nanoseconds, so its value is floored to milliseconds
        /// (`div_euclid`), which is what truncating the fraction means here.
        #[test]
        fn agrees_with_time_crate(p in parts()) {
            let s = p.text();
            let ours = parse_rfc3339_ms(&s);
            prop_assert!(ours.is_some(), "{} should parse", s);
            let theirs = OffsetDateTime::parse(&s, &Rfc3339)
                .map(|t| t.unix_timestamp_nanos().div_euclid(1_000_000) as i64);
            prop_assert!(theirs.is_ok(), "time rejected {}: {:?}", s, theirs);
            prop_assert_eq!(ours, theirs.ok(), "{}", s);
        }

        /// On near-valid strings (random field widths, values and
        /// separators), this module and `time` agree on validity and value,
        /// except for second `60` and a space separator, which they treat
        /// differently (see `documented_differences_from_time_crate`).
        #[test]
        fn validity_agrees_with_time_crate(
            s in "[0-9]{3,5}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,4})?([Zz]|[+-][0-2][0-9]:[0-6][0-9]|[+-][0-9]{2,4})?"
        ) {
            let ours = parse_rfc3339_ms(&s);
            let theirs = OffsetDateTime::parse(&s, &Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp_nanos().div_euclid(1_000_000) as i64);
            let leap = s.get(17..19) == Some("60");
            let space = s.get(10..11) == Some(" ");
            if space {
                // `time` also takes a space separator; the spec here does not.
                prop_assert_eq!(ours, None, "{}", s);
            } else if !leap {
                prop_assert_eq!(ours, theirs, "{}", s);
            }
        }

        /// Values are monotonic in the civil time for a fixed offset.
        #[test]
        fn later_civil_time_is_later(p in parts(), q in parts()) {
            let mut q = q;
            q.offset = p.offset;
            let (a, b) = (ms(&p.text()).unwrap(), ms(&q.text()).unwrap());
            let key = |p: &Parts| {
                let frac: String = p.fraction.chars().chain("000".chars()).take(3).collect();
                (p.year, p.month, p.day, p.hour, p.minute, p.second, frac)
            };
            prop_assert_eq!(a.cmp(&b), key(&p).cmp(&key(&q)));
        }
    }

    /// Where the `time` crate's RFC 3339 parser differs from this module.
    /// `time` accepts a space instead of `T` (RFC 3339 §5.6 lets applications
    /// do so); this module does not.
    /// `time` accepts a leap second only at 23:59:60 UTC (after applying the
    /// offset) and then represents it as 23:59:59.999_999_999 rather than
    /// the next second, dropping any fraction; this module accepts :60
    /// anywhere and counts it as the next second (fraction kept), so results
    /// differ at the end of the day and `time` rejects other :60 values.
    #[test]
    fn documented_differences_from_time_crate() {
        let t = |s: &str| {
            OffsetDateTime::parse(s, &Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp_nanos().div_euclid(1_000_000) as i64)
        };
        let leap = "2016-12-31T23:59:60Z";
        assert_eq!(ms(leap), Some(1_483_228_800_000));
        assert_eq!(t(leap), Some(1_483_228_799_999));
        let leap_frac = "2016-12-31T23:59:60.5Z";
        assert_eq!(ms(leap_frac), Some(1_483_228_800_500));
        assert_eq!(t(leap_frac), Some(1_483_228_799_999));
        let space = "2024-06-01 12:00:00Z";
        assert_eq!(ms(space), None);
        assert_eq!(t(space), Some(1_717_243_200_000));
        let mid_day = "2024-06-01T12:30:60Z";
        assert_eq!(ms(mid_day), Some(1_717_245_060_000));
        assert_eq!(t(mid_day), None);
    }
}
