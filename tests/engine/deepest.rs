//! The deepest documents any depth limit accepts ([`Limits::DEEPEST`] levels) are parsed, validated, converted
//! and dropped on a thread with a 2 MiB stack — the default of a spawned thread, of a gateway worker and of
//! the test harness — without overflowing it: the stages after the iterative parsers recurse once a level.
//! One level more is refused as too deep.

use caregate_engine::convert::{self, Target};
use caregate_engine::document::{self, Limits};
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

/// Documents nested `depth` levels: generic XML and JSON (arrays, objects), and documents of known standards
/// with the nesting inside them (unknown content of a referral's child, an unknown member of an envelope's body).
fn documents(depth: usize) -> Vec<(&'static str, String)> {
    let inner = depth - 2;
    vec![
        ("xml", format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth))),
        ("json arrays", format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
        ("json objects", format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth))),
        (
            "referral",
            format!(
                "<Referral xmlns=\"urn:caregate:referral:1\"><Child>{}{}</Child></Referral>",
                "<a>".repeat(inner),
                "</a>".repeat(inner)
            ),
        ),
        (
            "envelope",
            FULL.replacen(
                "\"body\": {",
                &format!("\"body\": {{\"deep\": {}1{},", "{\"a\":".repeat(inner), "}".repeat(inner)),
                1,
            ),
        ),
    ]
}

/// Runs `work` on a thread with a 2 MiB stack; a stack overflow aborts the test process, failing it.
fn on_a_small_stack(work: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(work)
        .expect("a thread")
        .join()
        .expect("the work finishes");
}

/// The limits that accept the deepest documents, and a validator of `catalog` under them.
fn at_the_deepest(catalog: &Catalog) -> (Limits, Validator<'_>) {
    let limits = Limits { max_depth: Limits::DEEPEST, ..Limits::default() };
    (limits, Validator::new(catalog, Options { limits, ..Options::default() }))
}

#[test]
fn the_deepest_documents_allowed_are_checked_converted_and_dropped_on_a_2_mib_stack() {
    on_a_small_stack(|| {
        let catalog = Catalog::embedded().expect("packs load");
        let (limits, validator) = at_the_deepest(&catalog);
        for (what, text) in documents(Limits::DEEPEST) {
            let bytes = text.as_bytes();
            match document::sniff(bytes) {
                Some(document::Format::Xml) => drop(document::parse_xml(bytes, &limits).expect(what)),
                Some(document::Format::Json) => drop(document::parse_json(bytes, &limits).expect(what)),
                None => panic!("{what} is neither XML nor JSON"),
            }
            let checked = validator.check(bytes);
            assert!(checked.findings.iter().all(|f| f.rule != "too-deep"), "{what}: {:?}", checked.findings);
            let to = if bytes.starts_with(b"<") { Target::Json } else { Target::Xml };
            let converted = convert::convert(bytes, to, None, &catalog, &limits).map_err(|e| format!("{e:?}"));
            assert!(converted.is_ok_and(|c| !c.output.is_empty()), "{what} converts");
        }
    });
}

#[test]
fn one_level_deeper_than_the_deepest_is_refused() {
    let catalog = Catalog::embedded().expect("packs load");
    let (_, validator) = at_the_deepest(&catalog);
    for (what, text) in documents(Limits::DEEPEST + 1) {
        let checked = validator.check(text.as_bytes());
        assert!(checked.findings.iter().any(|f| f.rule == "too-deep"), "{what}: {:?}", checked.findings);
    }
}
