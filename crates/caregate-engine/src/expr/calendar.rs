//! Dates for rules: parsing date text, adding days and years, ages, and working days.

use chrono::{DateTime, Datelike, Duration, FixedOffset, Months, NaiveDate, Weekday};

/// `YYYY-MM-DD`, or the date part of an RFC 3339 date-time as written (its local date, whatever the
/// offset).
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() < 10 {
        return None;
    }
    let d = |i: usize| -> Option<u32> {
        let c = b[i];
        c.is_ascii_digit().then(|| u32::from(c - b'0'))
    };
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = d(0)? * 1000 + d(1)? * 100 + d(2)? * 10 + d(3)?;
    let month = d(5)? * 10 + d(6)?;
    let day = d(8)? * 10 + d(9)?;
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if b.len() == 10 {
        return Some(date);
    }
    // A date-time: the whole text must be valid RFC 3339.
    parse_timestamp(s).map(|t| t.date_naive())
}

/// An RFC 3339 instant (`2025-05-01T10:00:00+01:00`, `...Z`).
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

pub fn add_days(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    d.checked_add_signed(Duration::try_days(n)?)
}

/// Adds whole years; 29 February plus a year that is not a leap year gives 28 February.
pub fn add_years(d: NaiveDate, n: i64) -> Option<NaiveDate> {
    let months = u32::try_from(n.unsigned_abs().checked_mul(12)?).ok()?;
    if n >= 0 {
        d.checked_add_months(Months::new(months))
    } else {
        d.checked_sub_months(Months::new(months))
    }
}

/// `b - a` in days.
pub fn days_between(a: NaiveDate, b: NaiveDate) -> i64 {
    (b - a).num_days()
}

/// Whole years from `a` to `b`, counted as an age: before the anniversary in `b`'s year, one less.
/// Someone born on 29 February reaches a new age on 1 March in years that are not leap years.
/// When `b` is before `a` the result is the negative of `years_between(b, a)`.
pub fn years_between(a: NaiveDate, b: NaiveDate) -> i64 {
    if b < a {
        return -years_between(b, a);
    }
    let mut years = i64::from(b.year()) - i64::from(a.year());
    if (b.month(), b.day()) < (a.month(), a.day()) {
        years -= 1;
    }
    years
}

/// Working days (Monday to Friday, not a holiday) after `a` up to and including `b`.
/// When `b` is before `a` the result is the negative of `working_days(b, a)`; when equal, 0.
/// `holidays` must be sorted, without duplicates, and hold weekdays only (see [`prepare_holidays`]).
pub fn working_days(a: NaiveDate, b: NaiveDate, holidays: &[NaiveDate]) -> i64 {
    if b < a {
        return -working_days(b, a, holidays);
    }
    let total = (b - a).num_days();
    let weeks = total / 7;
    let mut count = weeks * 5;
    // The remaining days after the full weeks: a + 7*weeks + 1 ..= b, fewer than 7.
    // Full weeks leave the weekday unchanged.
    let mut wd = a.weekday();
    for _ in 0..(total - weeks * 7) {
        wd = wd.succ();
        if !matches!(wd, Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
    }
    // Holidays in (a, b].
    let lo = holidays.partition_point(|h| *h <= a);
    let hi = holidays.partition_point(|h| *h <= b);
    count - (hi.saturating_sub(lo)) as i64
}

/// Sorts and dedups holidays, keeping only those on weekdays (a holiday at the weekend takes no
/// working day away; substitute days are listed by the calendar itself).
pub fn prepare_holidays(mut holidays: Vec<NaiveDate>) -> Vec<NaiveDate> {
    holidays.retain(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun));
    holidays.sort_unstable();
    holidays.dedup();
    holidays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn parses_dates_and_date_times() {
        assert_eq!(d("2025-05-01"), NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        assert_eq!(d("2025-05-01T10:00:00+01:00"), NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        // the local date as written, not the UTC date
        assert_eq!(d("2025-05-01T00:30:00+01:00"), NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        assert_eq!(d("2025-05-01T23:30:00-05:00"), NaiveDate::from_ymd_opt(2025, 5, 1).unwrap());
        for bad in ["2025-5-1", "2025-02-30", "01/05/2025", "2025-05-01T", "2025-05-01 junk", "", "２０２５-05-01"]
        {
            assert_eq!(parse_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn calendar_dates() {
        for date in ["2024-02-29", "2023-12-31", "0001-01-01", "9999-12-31"] {
            assert!(parse_date(date).is_some(), "{date}");
        }
        for text in [
            "2023-02-29",
            "2023-13-01",
            "2023-00-10",
            "2023-01-32",
            "2023/01/01",
            "2023-1-01",
            "23-01-01",
            "2023-01-011",
            "",
            "+023-01-01",
        ] {
            assert!(parse_date(text).is_none(), "{text}");
        }
    }

    proptest::proptest! {
        /// Over every text of the form `dddd-dd-dd`, the same verdict as chrono's parser.
        #[test]
        fn agrees_with_chrono(year in 0u32..10000, month in 0u32..100, day in 0u32..100) {
            let text = format!("{year:04}-{month:02}-{day:02}");
            proptest::prop_assert_eq!(parse_date(&text).is_some(), NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_ok());
        }
    }

    #[test]
    fn adds_years_clamping_leap_day() {
        assert_eq!(add_years(d("2024-02-29"), 1), Some(d("2025-02-28")));
        assert_eq!(add_years(d("2024-02-29"), 4), Some(d("2028-02-29")));
        assert_eq!(add_years(d("2024-02-29"), -1), Some(d("2023-02-28")));
        assert_eq!(add_years(d("2020-06-15"), 18), Some(d("2038-06-15")));
        assert_eq!(add_years(d("2020-06-15"), i64::MAX), None);
        assert_eq!(add_days(d("2024-12-31"), 1), Some(d("2025-01-01")));
        assert_eq!(add_days(d("2024-12-31"), i64::MAX), None);
    }

    #[test]
    fn ages() {
        assert_eq!(years_between(d("2010-06-15"), d("2025-06-14")), 14);
        assert_eq!(years_between(d("2010-06-15"), d("2025-06-15")), 15);
        assert_eq!(years_between(d("2008-02-29"), d("2025-02-28")), 16);
        assert_eq!(years_between(d("2008-02-29"), d("2025-03-01")), 17);
        assert_eq!(years_between(d("2025-06-15"), d("2010-06-15")), -15);
        assert_eq!(days_between(d("2025-01-01"), d("2025-03-01")), 59);
        assert_eq!(days_between(d("2025-03-01"), d("2025-01-01")), -59);
    }

    fn naive_working_days(a: NaiveDate, b: NaiveDate, holidays: &[NaiveDate]) -> i64 {
        let mut n = 0;
        let mut x = a;
        while x < b {
            x = x.succ_opt().unwrap();
            if !matches!(x.weekday(), Weekday::Sat | Weekday::Sun) && !holidays.contains(&x) {
                n += 1;
            }
        }
        n
    }

    #[test]
    fn working_days_match_counting_day_by_day() {
        let hol =
            prepare_holidays(vec![d("2025-05-05"), d("2025-05-26"), d("2025-05-26"), d("2025-05-31"), d("2025-12-25")]);
        assert_eq!(hol.len(), 3);
        let start = d("2025-04-20");
        for i in 0..60 {
            for j in 0..60 {
                let a = add_days(start, i).unwrap();
                let b = add_days(start, j).unwrap();
                let expected = if b >= a { naive_working_days(a, b, &hol) } else { -naive_working_days(b, a, &hol) };
                assert_eq!(working_days(a, b, &hol), expected, "{a} .. {b}");
            }
        }
        // Friday to Monday: one working day; Friday to the bank-holiday Monday: none.
        assert_eq!(working_days(d("2025-05-09"), d("2025-05-12"), &hol), 1);
        assert_eq!(working_days(d("2025-05-02"), d("2025-05-05"), &hol), 0);
        assert_eq!(working_days(d("2025-05-02"), d("2025-05-02"), &hol), 0);
    }
}
