//! The XSD datatypes an imported pack keeps as text in its instance — `xs:date`, `xs:dateTime`, `xs:gYear` —
//! checked as XML Schema 1.0 says, as JSON Schema formats (`xsd:date`, `xsd:dateTime`, `xsd:gYear`) that every
//! pack's validator knows.
//!
//! For: the lexical space of those types (a date may carry a time zone, `2024-03-31Z`, `2024-03-31+01:00`;
//! 30 February is no date). Whitespace around the value is refused: XML Schema says to collapse it, but
//! libxml2 (`xmllint --schema`, what suppliers check with) rejects ` 2024-03-31`, and a pack must judge as
//! libxml2 does. Not for: the numeric and boolean types, which the binding reads into JSON numbers and
//! booleans, whitespace collapsed as both XML Schema and libxml2 have it (`instance::from_xml`).
//!
//! Hand-written: the `chrono` parsers take RFC 3339 and ISO 8601 forms, which differ from XSD's (a date with
//! a time zone, a year of more than four digits, `24:00:00`), and no crate checks XSD's lexical spaces.

/// Whether a text is in a datatype's lexical space.
pub type LexicalCheck = fn(&str) -> bool;

/// The JSON Schema `format` of each XSD datatype kept as text, with its check.
pub const FORMATS: [(&str, LexicalCheck); 3] =
    [("xsd:date", is_date), ("xsd:dateTime", is_date_time), ("xsd:gYear", is_g_year)];

/// `-?YYYY-MM-DD` with an optional time zone.
pub fn is_date(text: &str) -> bool {
    match date_part(text) {
        Some(rest) => zone(rest),
        None => false,
    }
}

/// `-?YYYY-MM-DDThh:mm:ss(.s+)?` with an optional time zone.
pub fn is_date_time(text: &str) -> bool {
    let Some(rest) = date_part(text) else { return false };
    let Some(rest) = rest.strip_prefix('T') else { return false };
    let Some((hour, minute, second, rest)) = time_part(rest) else { return false };
    // 24:00:00 is midnight at the end of the day; no other time of hour 24.
    if hour == 24 && (minute != 0 || second != 0.0) {
        return false;
    }
    zone(rest)
}

/// `-?YYYY` with an optional time zone.
pub fn is_g_year(text: &str) -> bool {
    match year_part(text) {
        Some((_, rest)) => zone(rest),
        None => false,
    }
}

/// The year (at least four digits, no leading zero past four, not 0000) and what follows it.
fn year_part(text: &str) -> Option<(i64, &str)> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits < 4 || (digits > 4 && body.starts_with('0')) {
        return None;
    }
    let year: i64 = body[..digits].parse().ok()?;
    if year == 0 {
        return None;
    }
    Some((if negative { -year } else { year }, &body[digits..]))
}

/// A whole date; returns what follows it.
fn date_part(text: &str) -> Option<&str> {
    let (year, rest) = year_part(text)?;
    let rest = rest.strip_prefix('-')?;
    let (month, rest) = two_digits(rest)?;
    let rest = rest.strip_prefix('-')?;
    let (day, rest) = two_digits(rest)?;
    if !(1..=12).contains(&month) || day < 1 || day > days_in(year, month) {
        return None;
    }
    Some(rest)
}

/// `hh:mm:ss(.s+)?`; returns hour, minute, second and what follows.
fn time_part(text: &str) -> Option<(u32, u32, f64, &str)> {
    let (hour, rest) = two_digits(text)?;
    let rest = rest.strip_prefix(':')?;
    let (minute, rest) = two_digits(rest)?;
    let rest = rest.strip_prefix(':')?;
    let (whole, mut rest) = two_digits(rest)?;
    let mut second = f64::from(whole);
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        second += format!("0.{}", &fraction[..digits]).parse::<f64>().ok()?;
        rest = &fraction[digits..];
    }
    if hour > 24 || minute > 59 || whole > 59 {
        return None;
    }
    Some((hour, minute, second, rest))
}

/// Nothing, `Z`, or `±hh:mm` within ±14:00.
fn zone(text: &str) -> bool {
    if text.is_empty() || text == "Z" {
        return true;
    }
    let Some(rest) = text.strip_prefix(['+', '-']) else { return false };
    let Some((hours, rest)) = two_digits(rest) else { return false };
    let Some(rest) = rest.strip_prefix(':') else { return false };
    let Some((minutes, rest)) = two_digits(rest) else { return false };
    rest.is_empty() && minutes <= 59 && (hours < 14 || (hours == 14 && minutes == 0))
}

fn two_digits(text: &str) -> Option<(u32, &str)> {
    let bytes = text.as_bytes();
    if bytes.len() < 2 || !bytes[0].is_ascii_digit() || !bytes[1].is_ascii_digit() {
        return None;
    }
    Some((u32::from(bytes[0] - b'0') * 10 + u32::from(bytes[1] - b'0'), &text[2..]))
}

fn days_in(year: i64, month: u32) -> u32 {
    match month {
        2 => {
            // XSD 1.0 counts years as written, with no year 0: -0001 is the year before 0001 and a leap year.
            let y = if year < 0 { year + 1 } else { year };
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_xml_schema_has_them() {
        for good in ["2024-02-29", "2024-03-31Z", "2024-03-31+01:00", "-0044-03-15", "12024-01-01"] {
            assert!(is_date(good), "{good}");
        }
        for bad in ["2023-02-29", "2024-02-30", "2024-13-01", "0000-01-01", "24-01-01", "2024-1-01", "2024-01-01+15:00"]
        {
            assert!(!is_date(bad), "{bad}");
        }
        for bad in ["", " 2024-03-31", "2024-01-01T00:00:00", "02024-01-01", "2024-01-01 Z"] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn date_times_and_years() {
        assert!(is_date_time("2024-01-31T23:59:59.5Z"));
        assert!(is_date_time("2024-01-31T24:00:00"));
        assert!(!is_date_time("2024-01-31T24:00:01"));
        assert!(!is_date_time("2024-01-31T12:60:00"));
        assert!(!is_date_time("2024-01-31"));
        assert!(is_g_year("2024"));
        assert!(is_g_year("2024+05:30"));
        assert!(!is_g_year("224"));
    }
}
