//! The records of a bulk return are first looked at in batches (each rule over the whole batch before the next
//! rule); a record's findings must not depend on which records share its batch. Checked by validating a
//! generated return with many faulty children, then the same children in the reverse order: every record gets
//! the same findings either way.

use std::collections::BTreeMap;

use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

/// (rule, child, message) → how many times, for the findings that belong to a child.
fn record_findings(catalog: &Catalog, xml: &str) -> BTreeMap<(String, String, String), usize> {
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339("2026-05-15T10:00:00Z").unwrap(),
        standard: Some(catalog.find("cin-census@2025-26").expect("pack")),
        ..Options::default()
    };
    let mut counts = BTreeMap::new();
    for finding in Validator::new(catalog, options).check(xml.as_bytes()).findings {
        if let Some(child) = finding.record {
            *counts.entry((finding.rule, child, finding.message)).or_insert(0) += 1;
        }
    }
    counts
}

/// The same return with its children in the reverse order.
fn reversed(xml: &str) -> String {
    let first = xml.find("<Child>").expect("a child");
    let end = xml.rfind("</Child>").expect("a child's end") + "</Child>".len();
    let children: Vec<&str> = xml[first..end].split_inclusive("</Child>").map(|c| c.trim_start()).collect();
    let mut out = xml[..first].to_string();
    for child in children.iter().rev() {
        out.push_str(child);
        out.push('\n');
    }
    out.push_str(&xml[end..]);
    out
}

#[test]
fn a_records_findings_do_not_depend_on_its_neighbours_in_a_batch() {
    let catalog = Catalog::embedded().expect("catalogue");
    let pack = catalog.find("cin-census@2025-26").expect("pack");
    let mut bytes = Vec::new();
    caregate_generate::cin::write_return(&pack, 150, 11, 0.4, &mut bytes).expect("generated return");
    let xml = String::from_utf8(bytes).expect("UTF-8");
    let turned = reversed(&xml);
    assert_eq!(turned.matches("<Child>").count(), 150);
    assert_ne!(turned, xml);

    let forward = record_findings(&catalog, &xml);
    let children: std::collections::BTreeSet<&String> = forward.keys().map(|(_, child, _)| child).collect();
    assert!(children.len() >= 20, "faults on many children, in several batches: {}", children.len());
    assert_eq!(forward, record_findings(&catalog, &turned));
}
