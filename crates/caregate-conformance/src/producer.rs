//! Producer certification: scenario files say what a supplier's product must produce ("a referral for an
//! unborn child, consent refused, shared under s47"); the supplier saves its product's output, one file per
//! scenario (`<scenario id>.xml` or `.json`), in a folder. Each submission is validated, and every field the
//! scenario fixes is compared with what was produced; each difference is shown as a unified diff.
//!
//! ```toml
//! id = "unborn-consent-refused-s47"
//! title = "A referral for an unborn child, consent refused, shared under s47"
//! carried = true                              # the submission is an envelope around the document
//! requirements = ["REF-001", "REF-004", "ENV-002"]
//! absent = ["/body/child/dateOfBirth"]        # fields that must not be there
//! [fields]                                    # JSON Pointers into the submission's instance
//! "/legalBasis/consent" = "refused"
//! "/body/child/sex" = "U"
//! ```
//!
//! Not for: receivers (`receiver`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::evidence::{CaseResult, Evidence, Excerpt, FieldDiff, Input, Kind, Subject};
use super::suite::{Requirement, Suite};
use super::waiver::Waiver;
use super::ConformanceError;
use caregate_engine::finding::Severity;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

/// The producer requirements (stated in the envelope suite).
pub const CONFORMS: &str = "PRD-001";
pub const AS_FIXED: &str = "PRD-002";

/// One scenario.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub id: String,
    pub title: String,
    /// The submission is an envelope carrying a document of the standard (pointers start at the envelope).
    #[serde(default)]
    pub carried: bool,
    #[serde(default)]
    pub requirements: Vec<String>,
    /// JSON Pointer → the value it must have.
    #[serde(default)]
    pub fields: toml::Table,
    /// JSON Pointers that must not be present.
    #[serde(default)]
    pub absent: Vec<String>,
}

/// Every `*.toml` of a folder, by file name order.
pub fn load_scenarios(dir: &Path) -> Result<Vec<(PathBuf, Vec<u8>, Scenario)>, ConformanceError> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| ConformanceError::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let mut scenarios = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path).map_err(|e| ConformanceError::io(&path, e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let scenario: Scenario = toml::from_str(&text).map_err(|e| ConformanceError::file(&path, e.to_string()))?;
        scenarios.push((path, bytes, scenario));
    }
    if scenarios.is_empty() {
        return Err(ConformanceError::file(dir, "holds no scenario (*.toml)"));
    }
    Ok(scenarios)
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

/// The differences between what a scenario fixes and an instance.
pub fn compare(scenario: &Scenario, instance: &Value) -> Vec<FieldDiff> {
    let mut diffs = Vec::new();
    for (pointer, expected) in &scenario.fields {
        let expected = serde_json::to_value(expected).unwrap_or(Value::Null);
        let produced = instance.pointer(pointer);
        if produced == Some(&expected) {
            continue;
        }
        let expected_text = pretty(&expected);
        let produced_text = produced.map(pretty).unwrap_or_else(|| "(absent)".to_string());
        diffs.push(field_diff(pointer, expected_text, produced_text));
    }
    for pointer in &scenario.absent {
        if let Some(produced) = instance.pointer(pointer) {
            diffs.push(field_diff(pointer, "(absent)".to_string(), pretty(produced)));
        }
    }
    diffs
}

fn field_diff(pointer: &str, expected: String, produced: String) -> FieldDiff {
    let (old, new) = (format!("{pointer}: {expected}\n"), format!("{pointer}: {produced}\n"));
    let diff = similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header("scenario", "submission")
        .to_string();
    FieldDiff { pointer: pointer.to_string(), expected, produced, diff }
}

/// Certifies a producer: each scenario of `scenarios` against its submission in `submissions`.
pub fn certify(
    suite: &Suite,
    others: &[Requirement],
    catalog: &Catalog,
    scenarios: &Path,
    submissions: &Path,
    supplier: &str,
    waivers: &[Waiver],
) -> Result<Evidence, ConformanceError> {
    let envelope = catalog.find("envelope@1.0");
    let mut cases = Vec::new();
    let mut inputs = Vec::new();
    let mut named: BTreeSet<String> = BTreeSet::new();
    for (path, bytes, scenario) in load_scenarios(scenarios)? {
        inputs.push(Input {
            name: format!("scenario {}", path.display()),
            sha256: caregate_engine::digest::sha256(&bytes),
        });
        let mut requirements = scenario.requirements.clone();
        named.extend(requirements.iter().cloned());
        requirements.extend([CONFORMS.to_string(), AS_FIXED.to_string()]);
        let found =
            ["xml", "json"].iter().map(|ext| submissions.join(format!("{}.{ext}", scenario.id))).find(|p| p.is_file());
        let expected = format!(
            "a conformant {}{} with {} field{} as fixed",
            suite.reference(),
            if scenario.carried { " in an envelope" } else { "" },
            scenario.fields.len() + scenario.absent.len(),
            if scenario.fields.len() + scenario.absent.len() == 1 { "" } else { "s" }
        );
        let mut case = CaseResult {
            id: scenario.id.clone(),
            title: Some(scenario.title.clone()),
            document: String::new(),
            sha256: String::new(),
            requirements,
            expected,
            observed: String::new(),
            passed: false,
            problems: Vec::new(),
            excerpt: None,
            diffs: Vec::new(),
        };
        let Some(file) = found else {
            case.document = format!("{}/{}.xml|json", submissions.display(), scenario.id);
            case.observed = "no submission".into();
            case.problems.push(format!(
                "no submission: expected {}.xml or {}.json in {}",
                scenario.id,
                scenario.id,
                submissions.display()
            ));
            cases.push(case);
            continue;
        };
        let submitted = std::fs::read(&file).map_err(|e| ConformanceError::io(&file, e))?;
        case.document = file.display().to_string();
        case.sha256 = caregate_engine::digest::sha256(&submitted);
        inputs.push(Input { name: format!("submission {}", file.display()), sha256: case.sha256.clone() });
        let standard = if scenario.carried { envelope.clone() } else { Some(suite.pack.clone()) };
        let options = Options { now: chrono::Utc::now().fixed_offset(), standard, ..Options::default() };
        let checked = Validator::new(catalog, options).check(&submitted);
        let errors: Vec<_> = checked.findings.iter().filter(|f| f.severity == Severity::Error).collect();
        for f in &errors {
            let at = f.location.as_ref().map(|l| format!(" (line {}, {})", l.line, l.path)).unwrap_or_default();
            case.problems.push(format!("{}: {}{at}", f.rule, f.message));
        }
        if scenario.carried {
            let body = checked.body_pack.as_ref().map(|p| p.reference());
            if body.as_deref() != Some(suite.reference().as_str()) {
                case.problems.push(format!(
                    "the envelope carries {}, not {}",
                    body.as_deref().unwrap_or("no known standard"),
                    suite.reference()
                ));
            }
        }
        let line = errors.first().and_then(|f| f.location.as_ref()).map(|l| l.line).unwrap_or(0);
        case.excerpt = Some(Excerpt::of(&String::from_utf8_lossy(&submitted), line, if line == 0 { 5 } else { 3 }));
        match &checked.instance {
            Some(instance) => case.diffs = compare(&scenario, instance),
            None => case.problems.push("the submission could not be read, so its fields could not be compared".into()),
        }
        for d in &case.diffs {
            case.problems.push(format!(
                "{}: the scenario fixes {} but the submission has {}",
                d.pointer,
                d.expected.replace('\n', " "),
                d.produced.replace('\n', " ")
            ));
        }
        case.observed = format!(
            "{} error finding{}, {} field{} not as fixed",
            errors.len(),
            if errors.len() == 1 { "" } else { "s" },
            case.diffs.len(),
            if case.diffs.len() == 1 { "" } else { "s" }
        );
        case.passed = case.problems.is_empty();
        cases.push(case);
    }
    let mut requirements = suite.requirements.clone();
    for r in others {
        let wanted = [CONFORMS, AS_FIXED].contains(&r.id.as_str()) || named.contains(&r.id);
        if wanted && !requirements.iter().any(|x| x.id == r.id) {
            requirements.push(r.clone());
        }
    }
    let subject = Subject { supplier: supplier.to_string(), endpoint: None };
    Ok(Evidence::assemble(Kind::Producer, suite, &requirements, subject, cases, inputs, waivers, chrono::Utc::now()))
}
