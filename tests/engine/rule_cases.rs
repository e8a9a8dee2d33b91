//! What the per-rule conformance cases of the census suites share (`cin_rules`, `ssda903_rules`): reading a
//! case's `expected.toml` and showing findings when a case goes wrong.

use std::collections::BTreeSet;
use std::path::Path;

use caregate_engine::finding::Finding;

/// The findings as a case's failure shows them, one per line: severity, rule, child, place and message.
pub fn describe(findings: &[&Finding]) -> String {
    findings
        .iter()
        .map(|f| {
            let at = f.location.as_ref().map(|l| format!("{}:{} {}", l.line, l.column, l.path)).unwrap_or_default();
            format!("    {} {} [{}] {at}: {}", f.severity, f.rule, f.record.as_deref().unwrap_or("-"), f.message)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The (rule, child) pairs the case folder's `expected.toml` lists.
pub fn expected(dir: &Path) -> BTreeSet<(String, Option<String>)> {
    let text = std::fs::read_to_string(dir.join("expected.toml")).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{}/expected.toml: {e}", dir.display()));
    table["fail"]
        .as_array()
        .expect("`fail` is a list")
        .iter()
        .map(|row| {
            let rule = row["rule"].as_str().expect("rule is text").to_string();
            let child = row.get("child").map(|c| c.as_str().expect("child is text").to_string());
            (rule, child)
        })
        .collect()
}
