//! Inputs that the fuzz targets (tests/fuzz, run by scripts/fuzz.sh) found to break a promise of the engine,
//! each fed through the same API as the target that found it, with the answer it must now give.

use std::io::BufReader;

use caregate::document::records::Splitter;
use caregate::document::{parse_json, parse_json_value, Limits};
use caregate::finding::Finding;
use serde_json::Value;

/// The refusal that ends reading `input` as a CIN census return, `chunk` bytes at a time (0: all at once).
fn return_refusal(input: &[u8], chunk: usize) -> Finding {
    let path = ["Message", "Children", "Child"].map(String::from).to_vec();
    let mut splitter = if chunk == 0 {
        Splitter::new(
            Box::new(input) as Box<dyn std::io::BufRead>,
            path,
            Limits::default(),
        )
    } else {
        Splitter::new(
            Box::new(BufReader::with_capacity(chunk, input)) as Box<dyn std::io::BufRead>,
            path,
            Limits::default(),
        )
    };
    loop {
        match splitter.next_piece() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("the return is read without a refusal"),
            Err(refusal) => return refusal,
        }
    }
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
        (
            b"<Message>\n<Children>\n<Child/>\n          < x</Children></Message>",
            "does not start a tag",
            (4, 11),
        ),
        (
            b"<Message>\n<Children>\n\n   <!-- never closed\n\n",
            "ends inside a comment",
            (4, 4),
        ),
        (
            b"<Message>\n  <Children>\n    <Child a=\"never closed>\n</Child>",
            "ends inside an attribute value",
            (3, 14),
        ),
    ];
    for (input, message, at) in cases {
        for chunk in 0..=16 {
            let refusal = return_refusal(input, chunk);
            assert_eq!(refusal.rule, "xml-not-well-formed");
            assert!(refusal.message.contains(message), "{}", refusal.message);
            assert_eq!(
                line_column(&refusal),
                at,
                "read {chunk} bytes at a time: {}",
                refusal.message
            );
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
        assert_eq!(
            parse_json_value(text.as_bytes(), &Limits::default()).unwrap(),
            theirs,
            "{text}"
        );
    }
}
