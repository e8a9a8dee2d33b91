//! The business rules of the SSDA903 2025-26 pack, each against its conformance case:
//! `conformance-suite/ssda903/2025-26/cases/<code>/` holds a fail document (`fail.xml`, or `fail/` when the
//! return's XML form cannot say the change) that must give exactly the findings of that rule that
//! `expected.toml` lists (as rule and child), a pass document that gives none of that rule, and the shared base
//! return (from which every case is made, see `tools/make_cases.py`) no finding at all. Each document is
//! validated as `caregate suite run` validates it: with the suite's run-time inputs (the council's code, the
//! postcode file and last year's return), so that the rules that read them run.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::rule_cases::{describe, expected, judge};
use caregate_conformance::{run, suite};
use caregate_engine::finding::Finding;
use caregate_engine::standard::Catalog;

const PACK: &str = "ssda903@2025-26";

fn suites_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance-suite")
}

fn case_dirs() -> Vec<PathBuf> {
    let dir = suites_dir().join("ssda903/2025-26/cases");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// The findings of the suite's case `id`, validated as the suite runs it.
fn findings(catalog: &Catalog, suite: &suite::Suite, id: &str) -> Vec<Finding> {
    let case = suite
        .manifest
        .cases
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("suite.toml has no case `{id}`: run tools/make_cases.py"));
    let (_, document) = suite.document(case).unwrap_or_else(|e| panic!("{e}"));
    run::observe(suite, catalog, case, &document).unwrap_or_else(|e| panic!("case `{id}` cannot be run: {e}")).findings
}

fn load() -> (Catalog, suite::Suite) {
    let catalog = Catalog::embedded().unwrap();
    let suites = suite::load_all(&catalog, Some(&suites_dir())).unwrap();
    let found = suite::find(&suites, PACK).unwrap().clone();
    (catalog, found)
}

#[test]
fn the_base_return_has_no_finding_with_every_input_given() {
    let (catalog, suite) = load();
    let inputs = &suite.manifest.inputs;
    assert!(inputs.params.contains_key("la_code") && inputs.references.contains_key("postcodes"));
    assert!(inputs.references.contains_key("ofsted-providers"), "the suite gives Ofsted's provider list");
    assert!(inputs.previous.as_ref().is_some_and(|p| !p.is_empty()), "the suite gives last year's return");
    // The XML base, and its CSV form with the social worker episodes the XML form has no place for.
    for id in ["base-return", "base-return-sw"] {
        let found = findings(&catalog, &suite, id);
        // No finding at all: no rule is left unrun for want of an input (`rules-not-run`), and none fails; but
        // the CSV form, as DfE's, has no UASC status (an optional Header column), so the two rules that read it
        // are not run there, and it says so.
        let status_not_given = |f: &&Finding| {
            id == "base-return-sw"
                && f.rule == "rules-not-run"
                && f.message.starts_with("2 rules of ssda903@2025-26 were not run")
                && f.message.contains("the Header table's column UASC: 105, 303.")
        };
        let all: Vec<&Finding> = found.iter().filter(|f| !status_not_given(f)).collect();
        assert!(all.is_empty(), "{id} should have no finding but gives:\n{}", describe(&all));
        if id == "base-return-sw" {
            assert!(found.iter().any(|f| status_not_given(&f)), "{id}: 105 and 303 said not run: {found:#?}");
        }
    }
}

#[test]
fn every_rule_fails_and_passes_its_case() {
    let (catalog, suite) = load();
    let mut problems = Vec::new();
    for dir in case_dirs() {
        let code = dir.file_name().unwrap().to_string_lossy().to_string();
        let fail = findings(&catalog, &suite, &format!("{code}-fail"));
        let pass = findings(&catalog, &suite, &format!("{code}-pass"));
        let (fail_name, pass_name) = (format!("{code} fail"), format!("{code} pass"));
        judge(&code, &expected(&dir), (&fail_name, &fail), (&pass_name, &pass), &mut problems);
    }
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

#[test]
fn every_rule_of_the_pack_has_a_case_and_every_case_a_rule() {
    let (_, suite) = load();
    let ids: BTreeSet<String> = suite.pack.rules.iter().map(|r| r.id.clone()).collect();
    let cases: BTreeSet<String> =
        case_dirs().iter().map(|d| d.file_name().unwrap().to_string_lossy().to_string()).collect();
    let without: Vec<&String> = ids.difference(&cases).collect();
    let stray: Vec<&String> = cases.difference(&ids).collect();
    assert!(
        without.is_empty() && stray.is_empty(),
        "rules without a case: {without:?}; cases without a rule: {stray:?}"
    );
}
