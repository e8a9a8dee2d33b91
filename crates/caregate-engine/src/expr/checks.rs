//! Identifier and format checks that standards name: NHS number, UPN, postcode, email, phone, and
//! base64 payload digests.

use base64::Engine;
use sha2::{Digest, Sha256};

/// NHS number: exactly 10 digits; weights 10..2 on digits 1–9; check = 11 − (sum mod 11), 11 → 0,
/// 10 → never valid; the check must equal digit 10.
pub fn nhs_number_valid(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..9].iter().enumerate().map(|(i, c)| u32::from(c - b'0') * (10 - i as u32)).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == u32::from(b[9] - b'0')
}

/// The letters a UPN uses, in the order that gives each its value.
const UPN_LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPQRTUVWXYZ";

fn upn_letter_value(c: u8) -> Option<u32> {
    UPN_LETTERS.iter().position(|l| *l == c).map(|p| p as u32)
}

/// The check letter a UPN's characters 2–13 call for (`body` is those 12 characters), or `None`
/// when they are not of the right shape.
pub fn upn_check_letter(body: &[u8]) -> Option<u8> {
    if body.len() != 12 || !body[..11].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut sum = 0u32;
    for (i, c) in body.iter().enumerate() {
        let value = if c.is_ascii_digit() { u32::from(c - b'0') } else { upn_letter_value(*c)? };
        sum += value * (i as u32 + 2);
    }
    Some(UPN_LETTERS[(sum % 23) as usize])
}

/// DfE unique pupil number: 13 characters, upper case; the first is the check letter; characters
/// 2–12 digits; character 13 a digit, or a letter for a temporary UPN. Characters 2–13 are weighted
/// 2..13 (a letter counts as its index in `ABCDEFGHJKLMNPQRTUVWXYZ`); the sum mod 23 indexes that
/// alphabet to give the check letter.
pub fn upn_valid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 13 && upn_check_letter(&b[1..]) == Some(b[0])
}

/// UK postcode shape, case-insensitive, with at most one space before the inward code:
/// `A9 9AA`, `A99 9AA`, `AA9 9AA`, `AA99 9AA`, `A9A 9AA`, `AA9A 9AA`, and `GIR 0AA`, with the letter
/// restrictions of the Royal Mail format (no Q, V, X first; no I, J, Z second; inward letters not
/// C, I, K, M, O, V).
pub fn uk_postcode(s: &str) -> bool {
    let mut buf = [0u8; 8];
    let b = s.as_bytes();
    if !(5..=8).contains(&b.len()) {
        return false;
    }
    for (o, c) in buf.iter_mut().zip(b) {
        *o = c.to_ascii_uppercase();
    }
    let b = &buf[..b.len()];
    let (outward, inward) = b.split_at(b.len() - 3);
    let outward = match outward.strip_suffix(b" ") {
        Some(o) => o,
        None => outward,
    };
    if outward == b"GIR" && inward == b"0AA" {
        return true;
    }
    let inward_ok =
        inward[0].is_ascii_digit() && inward[1..].iter().all(|c| c.is_ascii_uppercase() && !b"CIKMOV".contains(c));
    if !inward_ok {
        return false;
    }
    let letter = |c: u8, not: &[u8]| c.is_ascii_uppercase() && !not.contains(&c);
    let digit = |c: u8| c.is_ascii_digit();
    match *outward {
        [a, b] => letter(a, b"QVX") && digit(b),
        [a, b, c] => {
            letter(a, b"QVX")
                && ((digit(b) && digit(c))
                    || (letter(b, b"IJZ") && digit(c))
                    || (digit(b) && b"ABCDEFGHJKPSTUW".contains(&c)))
        }
        [a, b, c, d] => {
            letter(a, b"QVX") && letter(b, b"IJZ") && digit(c) && (digit(d) || b"ABEHMNPRVWXY".contains(&d))
        }
        _ => false,
    }
}

/// A practical email check: `local@domain.tld`, one `@`, no spaces or control characters; the local
/// part at most 64 characters, not starting or ending with a dot nor holding `..`; the domain made of
/// at least two dot-separated labels of letters, digits and hyphens (not at either end of a label),
/// ending in an alphabetic top-level label of at least two letters.
pub fn email(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else { return false };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || domain.len() > 253 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
    };
    let tld = labels[labels.len() - 1];
    labels.iter().all(|l| label_ok(l)) && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
}

/// UK phone number: digits and spaces only, beginning with `0` or `+44`; with `+44` read as `0`,
/// 10 or 11 digits in all.
pub fn uk_phone(s: &str) -> bool {
    let (rest, digits_before) = if let Some(r) = s.strip_prefix("+44") {
        (r, 1)
    } else if s.starts_with('0') {
        (s, 0)
    } else {
        return false;
    };
    if !rest.bytes().all(|c| c.is_ascii_digit() || c == b' ') {
        return false;
    }
    let digits = digits_before + rest.bytes().filter(u8::is_ascii_digit).count();
    (10..=11).contains(&digits)
}

/// Decodes standard base64 (with padding; ASCII whitespace such as line breaks is ignored).
pub fn decode_base64(data: &str) -> Option<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    if data.bytes().any(|c| c.is_ascii_whitespace()) {
        let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        engine.decode(compact).ok()
    } else {
        engine.decode(data).ok()
    }
}

/// Lowercase hex SHA-256 of the decoded data, or `None` when the text is not valid base64.
pub fn sha256_base64(data: &str) -> Option<String> {
    let bytes = decode_base64(data)?;
    let digest = Sha256::digest(&bytes);
    let mut out = String::with_capacity(64);
    for byte in digest.iter() {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nhs_numbers() {
        assert!(nhs_number_valid("9434765919"));
        assert!(!nhs_number_valid("9434765918"));
        assert!(nhs_number_valid("4010232137"));
        assert!(!nhs_number_valid("943476591"));
        assert!(!nhs_number_valid("94347659190"));
        assert!(!nhs_number_valid("943 476 5919"));
        assert!(!nhs_number_valid("94347659a9"));
        // sum gives check 10: never valid, whatever digit 10 is
        // 000000001x: sum = 2, 11 - 2 = 9 -> valid with 9
        assert!(nhs_number_valid("0000000019"));
        // 000000006x: sum = 12 -> 12 mod 11 = 1 -> check 10 -> invalid for any last digit
        for last in 0..10 {
            assert!(!nhs_number_valid(&format!("000000006{last}")));
        }
        // sum mod 11 == 0 -> check 11 -> 0
        assert!(nhs_number_valid("0000000000"));
    }

    fn make_upn(body: &str) -> String {
        let letter = upn_check_letter(body.as_bytes()).unwrap();
        format!("{}{body}", char::from(letter))
    }

    #[test]
    fn upns() {
        // computed by hand: 201 2345 6789 0 -> weights 2..13
        let body = "201234567890";
        let sum: u32 = body.bytes().enumerate().map(|(i, c)| u32::from(c - b'0') * (i as u32 + 2)).sum();
        let expected = UPN_LETTERS[(sum % 23) as usize];
        let upn = make_upn(body);
        assert_eq!(upn.as_bytes()[0], expected);
        assert!(upn_valid(&upn));
        // any other letter is wrong
        for l in UPN_LETTERS.iter().filter(|l| **l != expected) {
            assert!(!upn_valid(&format!("{}{body}", char::from(*l))));
        }
        // temporary UPN with a letter in position 13
        let temp = make_upn("20123456789A");
        assert!(upn_valid(&temp));
        let t = temp.as_bytes();
        let sum: u32 = t[1..12].iter().enumerate().map(|(i, c)| u32::from(c - b'0') * (i as u32 + 2)).sum();
        assert_eq!(t[0], UPN_LETTERS[(sum % 23) as usize], "A counts 0");
        let temp_b = make_upn("20123456789B");
        assert_eq!(
            upn_letter_value(temp_b.as_bytes()[0]).unwrap(),
            (upn_letter_value(t[0]).unwrap() + 13) % 23,
            "B counts 1, weight 13"
        );
        assert!(!upn_valid("20123456789012"));
        assert!(!upn_valid(&upn[..12]));
        assert!(!upn_valid(&format!("{}2012345678I0", &upn[..1])));
        assert!(!upn_valid(&upn.to_lowercase()));
        assert!(!upn_valid("I201234567890"));
    }

    #[test]
    fn postcodes() {
        for good in [
            "SW1A 1AA", "m1 1ae", "B338TH", "GIR 0AA", "gir0aa", "EC1A 1BB", "W1A 0AX", "CR2 6XH", "DN55 1PT",
            "LS1 4AP",
        ] {
            assert!(uk_postcode(good), "{good}");
        }
        for bad in [
            "SW1A  1AA",
            " SW1A 1AA",
            "SW1A 1AA ",
            "QW1 1AA",
            "SW1A 1CA",
            "12345",
            "SW1A",
            "",
            "SW1A-1AA",
            "AAA1 1AA",
            "A1 AAA",
        ] {
            assert!(!uk_postcode(bad), "{bad}");
        }
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "first.last+tag@example.org.uk", "x_y@sub-domain.example.com"] {
            assert!(email(good), "{good}");
        }
        for bad in [
            "a@b",
            "a b@c.com",
            "a@@b.com",
            "a@b@c.com",
            "@b.com",
            "a@.com",
            "a@b.c",
            "a@-b.com",
            ".a@b.com",
            "a..b@c.com",
            "a@b.c0m",
            "",
        ] {
            assert!(!email(bad), "{bad}");
        }
    }

    #[test]
    fn phones() {
        for good in ["020 7946 0000", "01632960000", "+44 20 7946 0000", "+447700900000", "0161 496 0000"] {
            assert!(uk_phone(good), "{good}");
        }
        for bad in [
            "20 7946 0000",
            "020-7946-0000",
            "+44 (0)20 7946 0000",
            "0207946000000",
            "012345678",
            "+1 202 555 0100",
            "+44",
        ] {
            assert!(!uk_phone(bad), "{bad}");
        }
    }

    #[test]
    fn base64_digests() {
        // "hello" -> aGVsbG8=
        assert_eq!(
            sha256_base64("aGVsbG8=").as_deref(),
            Some("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
        );
        assert_eq!(sha256_base64("aGVs\nbG8="), sha256_base64("aGVsbG8="));
        assert_eq!(sha256_base64("not base64!"), None);
        assert_eq!(decode_base64("aGVsbG8=").map(|b| b.len()), Some(5));
        assert_eq!(decode_base64("").map(|b| b.len()), Some(0));
    }
}
