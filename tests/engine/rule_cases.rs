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

/// Judges one rule's cases against its `expected.toml` (`want`): the fail case (named `fail.0`, its findings
/// `fail.1`) gives exactly those (rule, child) pairs of rule `code`, the pass case none of that rule; what is
/// wrong goes to `problems`.
pub fn judge(
    code: &str,
    want: &BTreeSet<(String, Option<String>)>,
    fail: (&str, &[Finding]),
    pass: (&str, &[Finding]),
    problems: &mut Vec<String>,
) {
    assert!(want.iter().all(|(rule, _)| rule == code), "{code}/expected.toml lists findings of another rule");
    assert!(!want.is_empty(), "{code}/expected.toml lists no finding");
    let of_rule: Vec<&Finding> = fail.1.iter().filter(|f| f.rule == code).collect();
    let got: BTreeSet<(String, Option<String>)> = of_rule.iter().map(|f| (f.rule.clone(), f.record.clone())).collect();
    if &got != want {
        problems.push(format!("{}: expected {want:?}, got:\n{}", fail.0, describe(&of_rule)));
    }
    let of_rule: Vec<&Finding> = pass.1.iter().filter(|f| f.rule == code).collect();
    if !of_rule.is_empty() {
        problems.push(format!("{} should give no {code}, but gives:\n{}", pass.0, describe(&of_rule)));
    }
}
