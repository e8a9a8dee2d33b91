//! Inputs that the fuzz targets (tests/fuzz, run by scripts/fuzz.sh) found to break a promise of the engine,
//! each fed through the same API as the target that found it, with the answer it must now give.

use std::io::BufReader;

use caregate_engine::document::records::Splitter;
use caregate_engine::document::{parse_json, parse_json_value, Limits};
use caregate_engine::finding::Finding;
use serde_json::Value;

/// The refusal that ends reading `input` as a CIN census return within `limits`, `chunk` bytes at a time
/// (0: all at once).
fn return_refusal_within(input: &[u8], chunk: usize, limits: Limits) -> Finding {
    let path = ["Message", "Children", "Child"].map(String::from).to_vec();
    let input: Box<dyn std::io::BufRead> =
        if chunk == 0 { Box::new(input) } else { Box::new(BufReader::with_capacity(chunk, input)) };
    let mut splitter = Splitter::new(input, path, limits);
    loop {
        match splitter.next_piece() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the return is read without a refusal"),
            Err(refusal) => return refusal,
        }
    }
}

fn return_refusal(input: &[u8], chunk: usize) -> Finding {
    return_refusal_within(input, chunk, Limits::default())
}

fn line_column(finding: &Finding) -> (u32, u32) {
    let location = finding.location.as_ref().expect("the refusal is located");
    (location.line, location.column)
}

/// Found by the `records` target: markup the splitter cannot read was located where the reading had got to,
/// which depends on how many bytes each read gave, so a file and the same bytes in memory disagreed.
#[test]
fn markup_a_return_cannot_hold_is_located_where_it_starts_however_the_return_is_read() {
    let cases: [(&[u8], &str, (u32, u32)); 3] = [
        (b"<Message>\n<Children>\n<Child/>\n          < x</Children></Message>", "does not start a tag", (4, 11)),
        (b"<Message>\n<Children>\n\n   <!-- never closed\n\n", "ends inside a comment", (4, 4)),
        (b"<Message>\n  <Children>\n    <Child a=\"never closed>\n</Child>", "ends inside an attribute value", (3, 14)),
    ];
    for (input, message, at) in cases {
        for chunk in 0..=16 {
            let refusal = return_refusal(input, chunk);
            assert_eq!(refusal.rule, "xml-not-well-formed");
            assert!(refusal.message.contains(message), "{}", refusal.message);
            assert_eq!(line_column(&refusal), at, "read {chunk} bytes at a time: {}", refusal.message);
        }
    }
}

/// Found by the `json` target: `-0` was read as the integer 0, where serde_json, whose values the reader gives,
/// reads the float -0.0.
#[test]
fn minus_zero_is_read_as_serde_json_reads_it() {
    for text in ["-0", "[-0, 0, -1]", "{\"a\": -0}"] {
        let theirs: Value = serde_json::from_str(text).unwrap();
        let ours = parse_json(text.as_bytes(), &Limits::default()).unwrap();
        assert_eq!(ours.value, theirs, "{text}");
        assert_eq!(parse_json_value(text.as_bytes(), &Limits::default()).unwrap(), theirs, "{text}");
    }
}

/// Found by the `records` target: a record past the size limit was refused as too large when the return was
/// read a little at a time, but read whole, scanning went on past the limit to another refusal later in the
/// record (nesting too deep, a comment never closed), or none at all for a long comment between records.
#[test]
fn a_return_is_too_large_at_the_same_place_however_it_is_read() {
    let limits = Limits { max_bytes: 64, max_depth: 6 };
    let text = "x".repeat(80);
    let cases = [
        (format!("<Message><Children>\n<Child>{text}<a><b><c><d/></c></b></a></Child></Children></Message>"), (2, 1)),
        (format!("<Message><Children>\n<Child>{text}<!-- never closed"), (2, 1)),
        (format!("<Message>\n  <!--{text}-->\n<Children><Child/></Children></Message>"), (2, 3)),
    ];
    for (input, at) in cases {
        for chunk in 0..=16 {
            let refusal = return_refusal_within(input.as_bytes(), chunk, limits);
            assert_eq!(refusal.rule, "input-too-large", "read {chunk} bytes at a time: {}", refusal.message);
            assert_eq!(line_column(&refusal), at, "read {chunk} bytes at a time");
        }
    }
}

/// `tables`: a value led by whitespace other than a space or a tab (here a vertical tab) kept it, while its
/// trailing whitespace of any kind went; a CSV value now has no whitespace of any kind around it.
#[test]
fn a_csv_value_has_no_whitespace_of_any_kind_around_it() {
    let input = b"CHILD,DOB,REVIEW,REVIEW_CODE\r\nLA0001,\x0b\0\0/2025,PN1 \xc2\xa0\r\n";
    let table = caregate_engine::document::csv::parse_csv(input, &Limits::default()).unwrap();
    let values: Vec<&str> = table.rows[0].fields.iter().map(|f| table.value(f)).collect();
    assert_eq!(values, ["LA0001", "\0\0/2025", "PN1"]);
}
