//! A bulk return is checked in one pass when the rules inside its records read the aggregates only as
//! duplicate checks, and in two when one reads them otherwise; either way every record sees the aggregates of
//! the whole return. Checked on the census's base return with two children made to share an id, and on a copy
//! of the census pack given one more rule that reads a count over the whole return.

use std::path::Path;

use caregate_engine::finding::Finding;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

fn check(catalog: &Catalog, reference: &str, bytes: &[u8]) -> Vec<Finding> {
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339("2026-05-15T10:00:00Z").unwrap(),
        standard: Some(catalog.find(reference).expect("pack")),
        ..Options::default()
    };
    Validator::new(catalog, options).check(bytes).findings
}

fn base() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/cin-census/2025-26/base.xml");
    std::fs::read_to_string(path).expect("base return")
}

fn child_ids(xml: &str) -> Vec<String> {
    xml.split("<LAchildID>").skip(1).filter_map(|s| s.split("</LAchildID>").next()).map(str::to_string).collect()
}

#[test]
fn duplicate_ids_far_apart_are_found_on_both_children() {
    let catalog = Catalog::embedded().expect("catalogue");
    let xml = base();
    let ids = child_ids(&xml);
    assert!(ids.len() >= 3, "the base return has several children");
    let (first, last) = (ids[0].clone(), ids[ids.len() - 1].clone());
    // The last child takes the first one's id.
    let at = xml.rfind(&format!("<LAchildID>{last}</LAchildID>")).expect("last id");
    let mut twin = xml.clone();
    twin.replace_range(
        at..at + format!("<LAchildID>{last}</LAchildID>").len(),
        &format!("<LAchildID>{first}</LAchildID>"),
    );
    let found: Vec<(String, Option<String>)> = check(&catalog, "cin-census@2025-26", twin.as_bytes())
        .into_iter()
        .filter(|f| f.rule == "8510")
        .map(|f| (f.rule, f.record))
        .collect();
    assert_eq!(found, vec![("8510".to_string(), Some(first.clone())), ("8510".to_string(), Some(first))]);
    assert!(check(&catalog, "cin-census@2025-26", xml.as_bytes()).iter().all(|f| f.rule != "8510"));
}

/// A copy of the census pack in a temporary folder, with `extra` added to its rules.
fn pack_with_rule(extra: &str) -> tempfile::TempDir {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/cin-census/2025-26");
    let dir = tempfile::tempdir().expect("temp dir");
    let pack = dir.path().join("cin-census/2025-26");
    std::fs::create_dir_all(pack.join("examples")).expect("pack dir");
    for entry in std::fs::read_dir(&source).expect("pack files").flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), pack.join(entry.file_name())).expect("copy");
        }
    }
    let mut rules = std::fs::read_to_string(pack.join("rules.toml")).expect("rules");
    rules.push_str(extra);
    std::fs::write(pack.join("rules.toml"), rules).expect("write rules");
    dir
}

#[test]
fn a_rule_inside_records_that_reads_the_records_through_root_is_refused_at_load() {
    let dir = pack_with_rule(
        r#"
[[rule]]
id = "TEST-SIBLINGS"
severity = "warning"
context = "/Children/Child/*"
expression = "size(root.Children.Child) < 3"
message = "Reads the other children."
"#,
    );
    let mut catalog = Catalog::embedded().expect("catalogue");
    let error = catalog.add_dir(dir.path()).expect_err("the pack is refused").to_string();
    assert!(error.contains("TEST-SIBLINGS") && error.contains("root.Children"), "{error}");
}

#[test]
fn a_rule_reading_a_whole_return_count_inside_records_gets_two_passes() {
    let dir = pack_with_rule(
        r#"
[[rule]]
id = "TEST-COUNT"
severity = "warning"
context = "/Children/Child/*"
expression = "agg.childCount < 3"
message = "This return has three or more children."
"#,
    );
    let mut catalog = Catalog::embedded().expect("catalogue");
    catalog.add_dir(dir.path()).expect("the changed pack loads");
    let xml = base();
    let children = child_ids(&xml).len();
    assert!(children >= 3);
    let found = check(&catalog, "cin-census@2025-26", xml.as_bytes());
    let count = found.iter().filter(|f| f.rule == "TEST-COUNT").count();
    assert_eq!(count, children, "every child sees the count of the whole return");
}
