//! The 109 business rules of the DfE Children in Need census 2025-26, each against its conformance case:
//! `conformance-suite/cin-census/2025-26/cases/<code>/fail.xml` must give exactly the findings of that rule
//! that `expected.toml` lists (as rule and child), `pass.xml` none of that rule, and the shared base return
//! (from which every case is made, see `tools/make_cases.py`) no error at all.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::rule_cases::{describe, expected, judge};
use caregate_engine::finding::{Finding, Severity};
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};

const PACK: &str = "cin-census@2025-26";

fn suite() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite/cin-census/2025-26")
}

fn pack(catalog: &Catalog) -> Arc<StandardPack> {
    catalog.find(PACK).unwrap_or_else(|| panic!("{PACK} is not in the embedded catalogue"))
}

fn check(catalog: &Catalog, path: &Path) -> Vec<Finding> {
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339("2026-05-15T10:00:00Z").unwrap(),
        standard: Some(pack(catalog)),
        ..Options::default()
    };
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Validator::new(catalog, options).check(&bytes).findings
}

fn case_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(suite().join("cases")).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn the_base_return_has_no_error() {
    let catalog = Catalog::embedded().unwrap();
    let findings = check(&catalog, &suite().join("base.xml"));
    let errors: Vec<&Finding> = findings.iter().filter(|f| f.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "base.xml should have no error but gives:\n{}", describe(&errors));
    let all: Vec<&Finding> = findings.iter().collect();
    assert!(all.is_empty(), "base.xml should have no finding at all (queries included) but gives:\n{}", describe(&all));
}

#[test]
fn every_rule_fails_and_passes_its_case() {
    let catalog = Catalog::embedded().unwrap();
    let mut problems = Vec::new();
    for dir in case_dirs() {
        let code = dir.file_name().unwrap().to_string_lossy().to_string();
        let fail = check(&catalog, &dir.join("fail.xml"));
        let pass = check(&catalog, &dir.join("pass.xml"));
        let (fail_name, pass_name) = (format!("{code}/fail.xml"), format!("{code}/pass.xml"));
        judge(&code, &expected(&dir), (&fail_name, &fail), (&pass_name, &pass), &mut problems);
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn the_pack_has_the_109_dfe_rules_and_a_case_for_each() {
    let catalog = Catalog::embedded().unwrap();
    let pack = pack(&catalog);
    let ids: BTreeSet<String> = pack.rules.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids.len(), 109, "the pack has {} distinct rule ids", ids.len());
    let queries = ids.iter().filter(|id| id.ends_with('Q')).count();
    assert_eq!(queries, 26, "26 of the DfE rules are queries");
    for rule in &pack.rules {
        let query = rule.id.ends_with('Q');
        assert_eq!(rule.severity == Severity::Query, query, "rule {} has severity {}", rule.id, rule.severity);
        assert_eq!(rule.clause.as_deref(), Some(format!("CIN census 2025-26 rule {}", rule.id).as_str()));
        assert!(rule.fix.is_some(), "rule {} has no fix", rule.id);
    }
    let cases: BTreeSet<String> =
        case_dirs().iter().map(|d| d.file_name().unwrap().to_string_lossy().to_string()).collect();
    assert_eq!(ids, cases, "rules without a case, or cases without a rule");
}

/// A rule that cannot be evaluated (a type mismatch, a date compared with text) does not apply and says
/// nothing: on well-formed returns, every rule at every node must hold, be violated, or read an absent field.
#[test]
fn no_rule_fails_to_evaluate_on_the_base_or_any_case() {
    use caregate_engine::expr::Outcome;
    use caregate_engine::validate::business::{Clock, Context};

    let catalog = Catalog::embedded().unwrap();
    let pack = pack(&catalog);
    let options = Options { standard: Some(pack.clone()), ..Options::default() };
    let validator = Validator::new(&catalog, options);
    let now = chrono::DateTime::parse_from_rfc3339("2026-05-15T10:00:00Z").unwrap();
    let mut files = vec![suite().join("base.xml")];
    for dir in case_dirs() {
        files.push(dir.join("fail.xml"));
        files.push(dir.join("pass.xml"));
    }
    let mut problems = BTreeSet::new();
    for file in &files {
        // The whole return as one instance (the validator itself streams it record by record).
        let bytes = std::fs::read(file).unwrap();
        let _ = &validator;
        let json = caregate_engine::convert::convert(
            &bytes,
            caregate_engine::convert::Target::Json,
            Some(pack.clone()),
            &catalog,
            &Default::default(),
        )
        .unwrap_or_else(|e| panic!("{}: not read: {e}", file.display()));
        let instance: serde_json::Value = serde_json::from_str(&json.output).unwrap();
        let clock = Clock::new(&now);
        let mut context =
            Context::new(&instance, None, &clock, &pack.params, caregate_engine::reference::References::none());
        context.gather(&pack);
        for rule in &pack.rules {
            rule.context.for_each(&instance, |pointer, node| {
                let vars = [
                    node,
                    &instance,
                    context.envelope,
                    &context.as_of,
                    &context.now,
                    context.params,
                    context.agg.as_ref(),
                ];
                if let Outcome::NotApplicable(Some(reason)) | Outcome::Failed(reason) = rule.program.check(&vars) {
                    let case = file.strip_prefix(suite()).unwrap().display().to_string();
                    problems.insert(format!("{} at {case}{pointer}: {reason}", rule.id));
                }
            });
        }
    }
    let shown: Vec<&String> = problems.iter().take(40).collect();
    assert!(problems.is_empty(), "{} evaluation failure(s):\n{:#?}", problems.len(), shown);
}
