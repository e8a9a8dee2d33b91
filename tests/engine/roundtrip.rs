//! Conversion is lossless for every document that conforms to its standard, in both directions, checked on
//! documents generated from each shipped standard's own schema:
//! JSON → XML → JSON gives the same value, and XML → JSON → XML an equivalent document.

use crate::common;

use std::sync::LazyLock;

use caregate_engine::convert::{self, Target};
use caregate_engine::document::{parse_xml, Limits, LineIndex};
use caregate_engine::instance::{self, from_xml, to_xml};
use caregate_engine::standard::Catalog;
use proptest::prelude::*;
use serde_json::Value;

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn strategy(reference: &str) -> BoxedStrategy<Value> {
    let pack = CATALOG.find(reference).expect("pack");
    common::instance(&pack.schema, &pack.schema, 0)
}

fn envelope_strategy() -> BoxedStrategy<Value> {
    (strategy("envelope"), prop_oneof![Just("referral@1.0"), Just("escr-document@1.0")])
        .prop_flat_map(|(envelope, body_standard)| {
            strategy(body_standard).prop_map(move |body| {
                let mut envelope = envelope.clone();
                envelope["standard"] = Value::String(body_standard.to_string());
                envelope["body"] = body;
                envelope
            })
        })
        .boxed()
}

/// Both directions for one conforming instance.
fn round_trips(reference: &str, value: &Value) -> Result<(), TestCaseError> {
    let pack = CATALOG.find(reference).expect("pack");
    prop_assert!(pack.validator.is_valid(value), "the generator made a non-conforming instance: {value}");
    // JSON → XML → JSON.
    let written = to_xml(value, &pack, &CATALOG);
    prop_assert!(written.omissions.is_empty(), "omitted: {:?}", written.omissions);
    let doc = parse_xml(written.xml.as_bytes(), &Limits::default()).map_err(|f| TestCaseError::fail(f.message))?;
    let lines = LineIndex::new(written.xml.as_bytes());
    let back = from_xml(&doc.root, &pack, &CATALOG, &lines);
    prop_assert!(back.findings.is_empty(), "findings: {:?}\n{}", back.findings, written.xml);
    prop_assert_eq!(&back.value, value, "JSON → XML → JSON changed the value; XML was:\n{}", written.xml);
    // XML → JSON → XML, starting from the XML without indentation (another spelling of the same document).
    let compact = written.xml.lines().map(str::trim_start).collect::<Vec<_>>().join("");
    let json = convert::convert(compact.as_bytes(), Target::Json, Some(pack.clone()), &CATALOG, &Limits::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(json.round_trip, "findings: {:?}", json.findings);
    let xml = convert::convert(json.output.as_bytes(), Target::Xml, Some(pack.clone()), &CATALOG, &Limits::default())
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(xml.round_trip, "findings: {:?}", xml.findings);
    prop_assert_eq!(common::canonical_xml(&compact), common::canonical_xml(&xml.output));
    // The streaming fast path gives exactly the tree path's text, or declines (embedded documents).
    let tree = serde_json::to_string_pretty(&back.value).unwrap() + "\n";
    match instance::stream::xml_to_json(written.xml.as_bytes(), &pack, &Limits::default()) {
        Some(fast) => prop_assert_eq!(fast, tree),
        None => prop_assert!(reference == "envelope", "the fast path declined a conforming {reference}"),
    }
    // And its value form (what bulk validation reads) is the tree path's value.
    let binding = &pack.binding;
    if let Some(fast) = instance::stream::element_to_value(
        written.xml.as_bytes(),
        &binding.root,
        &binding.node,
        &binding.namespace,
        &Limits::default(),
    ) {
        prop_assert_eq!(&fast, &back.value);
    }
    same_as_tree(reference, &written.xml)?;
    Ok(())
}

/// Every pointer into `value`, the value itself included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                pointers(v, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                pointers(v, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// The one-parse conversion of a record (what bulk validation reads) agrees with the tree path wherever it
/// takes the XML: the same value, every node at the same span and XPath, and the same faults at the same
/// places. Returns whether it took it.
fn same_as_tree(reference: &str, xml: &str) -> Result<bool, TestCaseError> {
    let pack = CATALOG.find(reference).expect("pack");
    let binding = &pack.binding;
    let Some(record) = instance::stream::element_to_record(
        xml.as_bytes(),
        &binding.root,
        &binding.node,
        &binding.namespace,
        &Limits::default(),
    ) else {
        return Ok(false);
    };
    let doc = parse_xml(xml.as_bytes(), &Limits::default())
        .map_err(|f| TestCaseError::fail(format!("the fast path took XML the tree refuses: {}", f.message)))?;
    let lines = LineIndex::new(xml.as_bytes());
    let tree = instance::from_xml_part(&doc.root, &binding.node, &binding.namespace, &CATALOG, &lines, "");
    prop_assert_eq!(&record.value, &tree.value, "values differ for\n{}", xml);
    let (fast_map, tree_map) = (instance::SourceMap::Xml(record.source), instance::SourceMap::Xml(tree.source));
    let mut all = Vec::new();
    pointers(&tree.value, String::new(), &mut all);
    for pointer in all {
        let (a, b) = (fast_map.place(&record.value, &pointer), tree_map.place(&tree.value, &pointer));
        prop_assert_eq!(
            (a.span, &a.path, a.exact),
            (b.span, &b.path, b.exact),
            "places differ at {} in\n{}",
            pointer,
            xml
        );
    }
    let described = |f: &caregate_engine::finding::Finding| {
        let l = f.location.clone().unwrap_or_default();
        (f.rule.clone(), f.message.clone(), f.fix.clone(), l.path, l.span)
    };
    let fast_faults: Vec<_> = record.faults.iter().map(described).collect();
    let tree_faults: Vec<_> = tree.findings.iter().map(described).collect();
    prop_assert_eq!(fast_faults, tree_faults, "faults differ for\n{}", xml);
    Ok(true)
}

/// Spoils a conforming document the way real returns are spoilt: the text of the `n`th value replaced by
/// `text` (a value not of its datatype, a blank), or an element the standard does not have put before the
/// `n`th element.
fn spoil(xml: &str, n: usize, unknown: bool, text: &str) -> String {
    if unknown {
        let starts: Vec<usize> =
            xml.match_indices('<').map(|(i, _)| i).filter(|&i| !xml[i..].starts_with("</") && i > 0).collect();
        let Some(&at) = starts.get(n % starts.len().max(1)) else { return xml.to_string() };
        return format!("{}<Unexpected><Inner>x</Inner></Unexpected>{}", &xml[..at], &xml[at..]);
    }
    let values: Vec<(usize, usize)> = xml
        .match_indices('>')
        .filter_map(|(i, _)| {
            let rest = &xml[i + 1..];
            let end = rest.find('<')?;
            (end > 0 && !rest[..end].trim().is_empty()).then_some((i + 1, i + 1 + end))
        })
        .collect();
    let Some(&(from, to)) = values.get(n % values.len().max(1)) else { return xml.to_string() };
    format!("{}{text}{}", &xml[..from], &xml[to..])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn a_spoilt_record_reads_in_one_parse_as_the_tree_reads_it(
        value in strategy("referral"),
        n in 0usize..400,
        unknown in any::<bool>(),
        text in prop_oneof![Just(""), Just("   "), Just("not-a-number"), Just("2025-13-45"), Just("maybe")],
    ) {
        let pack = CATALOG.find("referral").expect("pack");
        let written = to_xml(&value, &pack, &CATALOG);
        same_as_tree("referral", &spoil(&written.xml, n, unknown, text))?;
    }

    #[test]
    fn referral_round_trips(value in strategy("referral")) {
        round_trips("referral", &value)?;
    }

    #[test]
    fn escr_document_round_trips(value in strategy("escr-document")) {
        round_trips("escr-document", &value)?;
    }

    #[test]
    fn envelope_with_its_body_round_trips(value in envelope_strategy()) {
        round_trips("envelope", &value)?;
    }
}

#[test]
fn the_fast_path_declines_what_it_cannot_convert_exactly() {
    let pack = CATALOG.find("referral").unwrap();
    let fast = |xml: &str| instance::stream::xml_to_json(xml.as_bytes(), &pack, &Limits::default());
    let ok = r#"<Referral xmlns="urn:caregate:referral:1"><Child><Name><Given>A &amp; B</Given><Given>C</Given><Family>D</Family></Name></Child></Referral>"#;
    let out = fast(ok).expect("a simple referral is taken");
    assert!(out.contains("\"given\": [\n        \"A & B\",\n        \"C\"\n      ]"), "{out}");
    for broken in [
        r#"<Referral xmlns="urn:caregate:referral:1"><Child><Name><Family>D</Family><Given>A</Given></Name></Child></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Chld/></Referral>"#,
        r#"<Referral xmlns="urn:other"><Child/></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Child><Name><Family>D</Family><Family>E</Family></Name></Child></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Concern><ImmediateRisk>maybe</ImmediateRisk></Concern></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1">text<Child/></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Child>"#,
        // End tags that do not match: an error to the fast path's tokenizer, on which it declines.
        r#"<Referral xmlns="urn:caregate:referral:1"><Child><Name><Family>D</Given></Name></Child></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Child></Chld></Referral>"#,
        r#"<Referral xmlns="urn:caregate:referral:1"><Child/></Child></Referral>"#,
    ] {
        assert_eq!(fast(broken), None, "{broken}");
    }
    // Deeper than the limit: declined, as the tree refuses it.
    let shallow = Limits { max_depth: 3, ..Limits::default() };
    let deep = r#"<Referral xmlns="urn:caregate:referral:1"><Child><Name><Family>D</Family></Name></Child></Referral>"#;
    assert!(fast(deep).is_some());
    assert_eq!(instance::stream::xml_to_json(deep.as_bytes(), &pack, &shallow), None);
}

#[test]
fn a_document_of_no_known_standard_converts_by_the_generic_convention() {
    let xml = br#"<Note xmlns="urn:example:other" id="7"><To>Ann</To><To>Bo</To><Body>Hi &amp; bye</Body></Note>"#;
    let json = convert::convert(xml, Target::Json, None, &CATALOG, &Limits::default()).unwrap();
    assert!(json.standard.is_none());
    assert!(!json.round_trip, "generic conversions are never promised to round-trip");
    let value: Value = serde_json::from_str(&json.output).unwrap();
    assert_eq!(value, serde_json::json!({"Note": {"@id": "7", "To": ["Ann", "Bo"], "Body": "Hi & bye"}}));
    let back = convert::convert(json.output.as_bytes(), Target::Xml, None, &CATALOG, &Limits::default()).unwrap();
    assert!(back.output.contains("<To>Ann</To>") && back.output.contains("id=\"7\""), "{}", back.output);
}

#[test]
fn the_one_parse_conversion_reports_faults_the_fast_path_declines() {
    let pack = CATALOG.find("referral").unwrap();
    let b = &pack.binding;
    for (xml, rule) in [
        (r#"<Referral xmlns="urn:caregate:referral:1"><Chld/></Referral>"#, "unknown-element"),
        (r#"<Referral xmlns="urn:caregate:referral:1"><Chld><Name>x</Name></Chld></Referral>"#, "unknown-element"),
        (
            r#"<Referral xmlns="urn:caregate:referral:1"><Concern><ImmediateRisk>maybe</ImmediateRisk></Concern></Referral>"#,
            "type",
        ),
        (r#"<Referral xmlns="urn:caregate:referral:1"><Concern><ImmediateRisk/></Concern></Referral>"#, "type"),
    ] {
        let record =
            instance::stream::element_to_record(xml.as_bytes(), &b.root, &b.node, &b.namespace, &Limits::default())
                .unwrap_or_else(|| panic!("the one-parse conversion declined {xml}"));
        assert_eq!(record.faults.iter().map(|f| f.rule.as_str()).collect::<Vec<_>>(), vec![rule], "{xml}");
        assert!(same_as_tree("referral", xml).unwrap(), "{xml}");
    }
}
