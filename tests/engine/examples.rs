//! Every rule of every shipped standard has an example that breaks it and examples that pass it: the pack's
//! `examples/invalid/<RULE>.{xml,json}` must give exactly that rule, at the line and column that
//! `examples/invalid/locations.toml` records (checked also against roxmltree's own positions), and the
//! `examples/valid/` documents must give no finding at all.

use std::collections::BTreeSet;

use caregate_engine::finding::Finding;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};

fn pinned() -> Options {
    Options { now: chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z").unwrap(), ..Options::default() }
}

fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let at = f.location.as_ref().map(|l| format!("{}:{} {}", l.line, l.column, l.path)).unwrap_or_default();
            format!("  {} {} {} — {}", f.severity, f.rule, at, f.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn examples<'p>(pack: &'p StandardPack, folder: &str) -> Vec<(&'p String, &'p Vec<u8>)> {
    pack.files
        .files
        .iter()
        .filter(|(path, _)| path.starts_with(folder) && (path.ends_with(".xml") || path.ends_with(".json")))
        .collect()
}

#[test]
fn valid_examples_give_no_finding() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, pinned());
    let mut checked = 0;
    for pack in catalog.packs() {
        for (path, bytes) in examples(pack, "examples/valid/") {
            let result = validator.check(bytes);
            assert!(result.pack.is_some(), "{}/{path}: standard not recognised", pack.reference());
            assert!(
                result.findings.is_empty(),
                "{}/{path} should be valid but gives:\n{}",
                pack.reference(),
                describe(&result.findings)
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "only {checked} valid examples found");
}

#[test]
fn every_rule_has_an_xml_and_a_json_example_that_breaks_it() {
    let catalog = Catalog::embedded().unwrap();
    for pack in catalog.packs().iter().filter(|p| p.manifest.records.is_none()) {
        for rule in &pack.rules {
            for ext in ["xml", "json"] {
                let name = format!("examples/invalid/{}.{ext}", rule.id);
                assert!(pack.files.files.contains_key(&name), "{}: {} has no {name}", pack.reference(), rule.id);
            }
        }
    }
}

#[test]
fn invalid_examples_give_exactly_their_rule_where_recorded() {
    let catalog = Catalog::embedded().unwrap();
    let validator = Validator::new(&catalog, pinned());
    let mut checked = 0;
    for pack in catalog.packs() {
        if pack.manifest.records.is_some() {
            continue; // bulk standards keep their per-rule returns in the conformance suite
        }
        let locations: toml::Table = pack
            .files
            .files
            .get("examples/invalid/locations.toml")
            .map(|b| toml::from_str(std::str::from_utf8(b).unwrap()).unwrap())
            .unwrap_or_else(|| panic!("{} has no examples/invalid/locations.toml", pack.reference()));
        for (path, bytes) in examples(pack, "examples/invalid/") {
            let file = path.trim_start_matches("examples/invalid/");
            let rule = file.rsplit_once('.').map(|(stem, _)| stem).unwrap();
            let result = validator.check(bytes);
            let rules: BTreeSet<&str> = result.findings.iter().map(|f| f.rule.as_str()).collect();
            assert_eq!(
                rules,
                BTreeSet::from([rule]),
                "{}/{path} should give exactly {rule}, but gives:\n{}",
                pack.reference(),
                describe(&result.findings)
            );
            let finding = &result.findings[0];
            let location = finding.location.as_ref().unwrap_or_else(|| panic!("{path}: {rule} has no location"));
            let expected = locations.get(file).and_then(|v| v.as_str()).unwrap_or_else(|| {
                panic!(
                    "{}: locations.toml has no entry for {file}; found {}:{} {}",
                    pack.reference(),
                    location.line,
                    location.column,
                    location.path
                )
            });
            assert_eq!(
                format!("{}:{}", location.line, location.column),
                expected,
                "{}/{path}: {rule} located at {}:{} ({})",
                pack.reference(),
                location.line,
                location.column,
                location.path
            );
            if path.ends_with(".xml") {
                cross_check_xml(std::str::from_utf8(bytes).unwrap(), location, path);
            }
            checked += 1;
        }
    }
    assert!(checked >= 50, "only {checked} invalid examples found");
}

/// roxmltree, parsing the same text on its own, must find the element the location names at that line and
/// column.
fn cross_check_xml(text: &str, location: &caregate_engine::finding::Location, path: &str) {
    let doc = roxmltree::Document::parse(text).unwrap();
    let last = location.path.rsplit('/').next().unwrap_or_default();
    let name = last.split('[').next().unwrap_or_default();
    if name.starts_with('@') {
        return;
    }
    let found = doc.descendants().filter(|n| n.is_element()).find(|n| {
        let pos = doc.text_pos_at(n.range().start);
        pos.row == location.line && pos.col == location.column
    });
    let node = found.unwrap_or_else(|| panic!("{path}: no element starts at {}:{}", location.line, location.column));
    assert_eq!(
        node.tag_name().name(),
        name,
        "{path}: element at {}:{} is not {}",
        location.line,
        location.column,
        location.path
    );
}
