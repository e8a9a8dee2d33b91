//! Self-conformance: every case of a suite checked against caregate's own engine, as JSON-Schema-Test-Suite
//! is run by the validators it tests. A case passes when the verdict is as expected, every rule it names is
//! found, none it excludes is, and (for `exact` cases) no other rule is. For a standard that travels wrapped
//! in an envelope, each case is also checked in that form: receiver certification sends it so, and expects the
//! same verdict.
//!
//! Not for: certifying other products (`receiver`, `producer`, `gateway`).

use std::collections::BTreeSet;

use super::carry;
use super::evidence::{CaseResult, Evidence, Excerpt, Input, Kind, Subject};
use super::suite::{Case, Document, Inputs, Suite, Verdict};
use super::waiver::Waiver;
use caregate_engine::finding::{Finding, Severity};
use caregate_engine::reference::{OfstedProviders, PostcodeDirectory, References, OFSTED_PROVIDERS, POSTCODES};
use caregate_engine::standard::Catalog;
use caregate_engine::validate::tables::TableFile;
use caregate_engine::validate::{Options, Validator};

/// What the engine made of one document.
#[derive(Debug, Clone)]
pub struct Observed {
    pub verdict: Verdict,
    pub rules: BTreeSet<String>,
    pub findings: Vec<Finding>,
    /// For a table return given as CSV files, the file each finding (by index) is in.
    pub files: Vec<String>,
}

/// The validator of a case: the suite's standard as at the suite's time, with the case's run-time inputs
/// (params, reference data and last year's return, read from the suite's files) as `caregate validate` takes
/// them.
pub fn validator<'c>(suite: &Suite, catalog: &'c Catalog, case: &Case) -> Result<Validator<'c>, String> {
    let inputs: Inputs = suite.inputs(case);
    let options = Options { now: suite.now, standard: Some(suite.pack.clone()), ..Options::default() };
    let file = |path: &String| {
        suite.files.get(path).map(Vec::as_slice).ok_or_else(|| format!("the suite has no input file `{path}`"))
    };
    let mut references = References::default();
    for (name, path) in &inputs.references {
        match name.as_str() {
            POSTCODES => {
                let directory = PostcodeDirectory::load(std::io::Cursor::new(file(path)?.to_vec()))
                    .map_err(|e| format!("reference {name} = `{path}`: {e}"))?;
                references.postcodes = Some(std::sync::Arc::new(directory));
            }
            OFSTED_PROVIDERS => {
                let list =
                    OfstedProviders::read(file(path)?).map_err(|e| format!("reference {name} = `{path}`: {e}"))?;
                references.ofsted_providers = Some(std::sync::Arc::new(list));
            }
            other => return Err(format!("`{other}` is not reference data caregate knows")),
        }
    }
    let mut validator = Validator::new(catalog, options).with_params(inputs.params.clone()).with_references(references);
    if let Some(paths) = inputs.previous.as_ref().filter(|p| !p.is_empty()) {
        let files = paths
            .iter()
            .map(|path| Ok(TableFile { path: path.clone(), bytes: file(path)?.to_vec() }))
            .collect::<Result<Vec<_>, String>>()?;
        let previous = validator.read_previous(&suite.pack, files).map_err(|e| format!("previous = {paths:?}: {e}"))?;
        validator = validator.with_previous(previous);
    }
    Ok(validator)
}

/// Validates a case's document of the suite's standard as at the suite's time, with the case's inputs.
pub fn observe(suite: &Suite, catalog: &Catalog, case: &Case, document: &Document<'_>) -> Result<Observed, String> {
    let validator = validator(suite, catalog, case)?;
    let (findings, files) = match document {
        Document::File(bytes) => (validator.check(bytes).findings, Vec::new()),
        Document::Tables(files) => {
            let files: Vec<TableFile> =
                files.iter().map(|(path, bytes)| TableFile { path: path.to_string(), bytes: bytes.to_vec() }).collect();
            let mut findings = Vec::new();
            let mut paths = Vec::new();
            for result in validator.check_tables(&suite.pack, &files) {
                paths.extend(std::iter::repeat_n(result.path, result.findings.len()));
                findings.extend(result.findings);
            }
            (findings, paths)
        }
    };
    let verdict =
        if findings.iter().any(|f| f.severity == Severity::Error) { Verdict::Invalid } else { Verdict::Valid };
    let rules = findings.iter().map(|f| f.rule.clone()).collect();
    Ok(Observed { verdict, rules, findings, files })
}

/// How the case's expectation reads: `invalid, naming REF-005 (and nothing else)`.
pub fn expectation(case: &Case) -> String {
    let mut text = match case.verdict {
        Verdict::Any => "any verdict".to_string(),
        verdict => verdict.as_str().to_string(),
    };
    if !case.rules.is_empty() {
        text.push_str(&format!(", naming {}", case.rules.join(", ")));
        if case.exact {
            text.push_str(" (and no other rule)");
        }
    }
    if !case.absent.is_empty() {
        text.push_str(&format!("; not naming {}", case.absent.join(", ")));
    }
    text
}

fn describe(observed: &Observed) -> String {
    if observed.rules.is_empty() {
        format!("{}, no finding", observed.verdict.as_str())
    } else {
        format!("{}: {}", observed.verdict.as_str(), observed.rules.iter().cloned().collect::<Vec<_>>().join(", "))
    }
}

/// What is wrong with `observed` for `case` (empty when the case passes).
pub fn judge(case: &Case, observed: &Observed) -> Vec<String> {
    let mut problems = Vec::new();
    if case.verdict != Verdict::Any && observed.verdict != case.verdict {
        let errors: Vec<String> = observed
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("{}: {}", f.rule, f.message))
            .collect();
        problems.push(format!(
            "expected {} but the document is {}{}",
            case.verdict.as_str(),
            observed.verdict.as_str(),
            if errors.is_empty() { String::new() } else { format!(" ({})", errors.join("; ")) }
        ));
    }
    for rule in &case.rules {
        if !observed.rules.contains(rule) {
            problems.push(format!("rule {rule} was not found"));
        }
    }
    for rule in &case.absent {
        if observed.rules.contains(rule) {
            problems.push(format!("rule {rule} was found but must not be"));
        }
    }
    if case.exact {
        let extra: Vec<&String> = observed.rules.iter().filter(|r| !case.rules.contains(r)).collect();
        if !extra.is_empty() {
            problems.push(format!(
                "other rules were found: {}",
                extra.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    problems
}

/// The lines of the document around the first finding of the case's first rule (or its opening lines); of a
/// table return's CSV files, those of the file that finding is in (or the first file's).
pub fn excerpt_for(case: &Case, observed: &Observed, document: &Document<'_>) -> Excerpt {
    let first = case.rules.iter().find_map(|rule| observed.findings.iter().position(|f| &f.rule == rule));
    let line = first.and_then(|i| observed.findings[i].location.as_ref()).map_or(0, |l| l.line);
    let bytes = match document {
        Document::File(bytes) => bytes,
        Document::Tables(files) => {
            let path = first.and_then(|i| observed.files.get(i));
            files.iter().find(|(p, _)| Some(*p) == path.map(String::as_str)).map_or(document.first_bytes(), |f| f.1)
        }
    };
    Excerpt::of(&String::from_utf8_lossy(bytes), line, if line == 0 { 5 } else { 3 })
}

/// The supplier of self-conformance evidence: caregate itself.
pub fn engine() -> String {
    format!("caregate {}", env!("CARGO_PKG_VERSION"))
}

/// Runs one suite against the engine; `supplier` names the evidence's subject (see [`engine`]).
pub fn run(suite: &Suite, catalog: &Catalog, supplier: &str, waivers: &[Waiver]) -> Evidence {
    let mut cases = Vec::new();
    let mut inputs = Vec::new();
    let created = suite.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut named = BTreeSet::new();
    for case in &suite.manifest.cases {
        // The input files the case is run with are evidence too, each named once.
        for path in suite.inputs(case).files() {
            if let Some(bytes) = suite.files.get(path).filter(|_| named.insert(path.clone())) {
                inputs.push(Input { name: format!("suite {path}"), sha256: caregate_engine::digest::sha256(bytes) });
            }
        }
        let (name, document) = match suite.document(case) {
            Ok(found) => found,
            Err(problem) => {
                cases.push(failed(case, problem));
                continue;
            }
        };
        let digest = document.sha256();
        inputs.push(Input { name: name.clone(), sha256: digest.clone() });
        let observed = match observe(suite, catalog, case, &document) {
            Ok(observed) => observed,
            Err(problem) => {
                cases.push(failed(case, format!("cannot be run: {problem}")));
                continue;
            }
        };
        let mut problems = judge(case, &observed);
        let bytes = document.first_bytes();
        if suite.manifest.carry.mode == "wrapped" && case.receiver {
            match carry::carry(suite, catalog, bytes, case.format(), &created) {
                Ok(carried) => {
                    let envelope = carried_observation(suite, catalog, &carried.bytes);
                    let wrong = judge(&Case { exact: false, ..case.clone() }, &envelope);
                    problems.extend(wrong.into_iter().map(|p| format!("carried in an envelope: {p}")));
                }
                Err(problem) => problems.push(format!("cannot be carried in an envelope: {problem}")),
            }
        }
        cases.push(CaseResult {
            id: case.id.clone(),
            title: case.title.clone(),
            document: name,
            sha256: digest,
            requirements: case.covers().to_vec(),
            expected: expectation(case),
            observed: describe(&observed),
            passed: problems.is_empty(),
            problems,
            excerpt: Some(excerpt_for(case, &observed, &document)),
            diffs: Vec::new(),
        });
    }
    let subject = Subject { supplier: supplier.to_string(), endpoint: None };
    let now = chrono::Utc::now();
    Evidence::assemble(Kind::SelfConformance, suite, &suite.requirements, subject, cases, inputs, waivers, now)
}

/// The engine's view of a carried case: the envelope validated as at the suite's time.
fn carried_observation(suite: &Suite, catalog: &Catalog, bytes: &[u8]) -> Observed {
    let options = Options { now: suite.now, standard: catalog.find("envelope@1.0"), ..Options::default() };
    let checked = Validator::new(catalog, options).check(bytes);
    let verdict = if checked.has_errors() { Verdict::Invalid } else { Verdict::Valid };
    Observed {
        verdict,
        rules: checked.findings.iter().map(|f| f.rule.clone()).collect(),
        findings: checked.findings,
        files: Vec::new(),
    }
}

fn failed(case: &Case, problem: String) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        document: case.document.clone(),
        sha256: String::new(),
        requirements: case.covers().to_vec(),
        expected: expectation(case),
        observed: "not run".into(),
        passed: false,
        problems: vec![problem],
        excerpt: None,
        diffs: Vec::new(),
    }
}
