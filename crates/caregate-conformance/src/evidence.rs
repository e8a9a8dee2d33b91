//! The evidence of one conformance run — `reports/<run-id>/report.json` — and how its requirements are judged
//! from its cases. Every input is named with its SHA-256, so that the run can be repeated and checked: the tool
//! version, the standard pack, the suite, and every document, scenario and submission read.
//!
//! The JSON form is a contract (suppliers keep it, standards bodies compare it): change it only by adding fields.
//! Not for: drawing it (`render`) or signing it (`signature`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::suite::{Level, Requirement, Suite};
use super::waiver::Waiver;
use super::ConformanceError;
use caregate_engine::model::{StandardRef, Tool};

/// The format tag of `report.json`.
pub const FORMAT: &str = "caregate-conformance/1";

/// What was certified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// caregate's own engine against the suite.
    #[serde(rename = "self-conformance")]
    SelfConformance,
    Receiver,
    Producer,
    Gateway,
}

impl Kind {
    /// The certification command whose requirements (`verified-by`) this kind of run checks, if any.
    pub fn command(self) -> Option<&'static str> {
        match self {
            Kind::SelfConformance => None,
            Kind::Receiver => Some("certify receiver"),
            Kind::Producer => Some("certify producer"),
            Kind::Gateway => Some("certify gateway"),
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Kind::SelfConformance => "Self-conformance of the caregate engine",
            Kind::Receiver => "Receiver certification",
            Kind::Producer => "Producer certification",
            Kind::Gateway => "Gateway protocol certification",
        }
    }
}

/// Pass, fail, waived (a failure an unexpired waiver covers) or untested (no case of it ran).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Waived,
    Untested,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What a run says of the subject as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Every requirement of the suite passed or is waived.
    Conformant,
    /// None failed, but some were not tested: what was not tested is not vouched for.
    Incomplete,
    /// Some failed, or nothing was tested.
    NotConformant,
}

impl Outcome {
    /// The verdict as reports write it.
    pub fn title(self) -> &'static str {
        match self {
            Outcome::Conformant => "CONFORMANT",
            Outcome::Incomplete => "INCOMPLETE",
            Outcome::NotConformant => "NOT CONFORMANT",
        }
    }

    /// The verdict of a run with these counts.
    pub fn of(summary: &Summary) -> Outcome {
        if summary.failed > 0 || summary.passed + summary.waived == 0 {
            Outcome::NotConformant
        } else if summary.untested > 0 {
            Outcome::Incomplete
        } else {
            Outcome::Conformant
        }
    }
}

/// Who and what was certified.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The supplier's name, as waivers and the matrix know it.
    pub supplier: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// A file read by the run, with its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Input {
    pub name: String,
    pub sha256: String,
}

/// The suite the run used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteRef {
    pub origin: String,
    pub sha256: String,
}

/// A few lines of a document, the interesting one marked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excerpt {
    pub first_line: u32,
    pub lines: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
}

impl Excerpt {
    /// Lines around `line` (1-based) of `text`, or its first lines when `line` is 0.
    pub fn of(text: &str, line: u32, around: u32) -> Excerpt {
        let all: Vec<&str> = text.lines().collect();
        let (from, to) = if line == 0 {
            (1, (around * 2 + 1).min(all.len() as u32))
        } else {
            (line.saturating_sub(around).max(1), (line + around).min(all.len() as u32))
        };
        let lines =
            (from..=to).filter_map(|n| all.get(n as usize - 1)).map(|l| l.chars().take(160).collect()).collect();
        Excerpt { first_line: from, lines, mark: (line > 0).then_some(line) }
    }
}

/// One field a producer's submission has otherwise than its scenario fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDiff {
    /// JSON Pointer into the document's instance.
    pub pointer: String,
    /// What the scenario fixes, as JSON.
    pub expected: String,
    /// What was produced, as JSON (`(absent)` when the field is missing).
    pub produced: String,
    /// A unified diff, expected (−) against produced (+).
    pub diff: String,
}

/// One case of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseResult {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The document, as the suite names it.
    pub document: String,
    pub sha256: String,
    pub requirements: Vec<String>,
    /// What was expected, in words (`invalid, naming REF-005`, `2xx`).
    pub expected: String,
    /// What was observed, in words.
    pub observed: String,
    pub passed: bool,
    /// Why it failed, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excerpt: Option<Excerpt>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diffs: Vec<FieldDiff>,
}

/// One requirement's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementResult {
    pub id: String,
    pub level: Level,
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    pub status: Status,
    /// The cases that test it in this run.
    pub cases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiver: Option<Waiver>,
    /// Why the status is what it is, where it is not plain (e.g. an expired waiver).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Counts for the summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub requirements: usize,
    pub passed: usize,
    pub failed: usize,
    pub waived: usize,
    pub untested: usize,
    pub cases: usize,
    pub cases_passed: usize,
    pub cases_failed: usize,
}

/// An Ed25519 signature over the report's canonical form (see `signature`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub algorithm: String,
    /// `sha256:` of the public key's 32 bytes, to tell which key to verify with.
    pub key_id: String,
    /// Base64 of the 64-byte signature.
    pub value: String,
}

/// `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub format: String,
    pub run_id: String,
    pub kind: Kind,
    pub created: String,
    pub tool: Tool,
    pub subject: Subject,
    pub standard: StandardRef,
    pub suite: SuiteRef,
    /// True when every requirement of the suite passed or is waived (the verdict is CONFORMANT).
    pub conformant: bool,
    /// CONFORMANT, INCOMPLETE (none failed, some untested: listed in `untested`) or NOT CONFORMANT.
    pub verdict: Outcome,
    /// The requirements no case of this run tested, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untested: Vec<String>,
    pub summary: Summary,
    pub requirements: Vec<RequirementResult>,
    pub cases: Vec<CaseResult>,
    pub inputs: Vec<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// A run id: the time, then a short random part (`20261120T093000Z-1a2b3c`).
pub fn run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &random[..6])
}

impl Evidence {
    /// Judges every requirement from the cases (a requirement passes when every case of it passed) and
    /// applies the waivers for `subject.supplier` as at `today`. A requirement another certification command
    /// verifies (`verified-by`) is not this run's to judge, and is left out.
    #[allow(clippy::too_many_arguments)]
    pub fn assemble(
        kind: Kind,
        suite: &Suite,
        requirements: &[Requirement],
        subject: Subject,
        cases: Vec<CaseResult>,
        mut inputs: Vec<Input>,
        waivers: &[Waiver],
        now: chrono::DateTime<chrono::Utc>,
    ) -> Evidence {
        let mut by_requirement: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
        for case in &cases {
            for id in &case.requirements {
                by_requirement.entry(id.as_str()).or_default().push(case);
            }
        }
        let today = now.date_naive();
        let results: Vec<RequirementResult> = requirements
            .iter()
            .filter(|r| r.verified_by.as_deref().is_none_or(|by| Some(by) == kind.command()))
            .map(|r| {
                let of = by_requirement.get(r.id.as_str()).cloned().unwrap_or_default();
                let mut status = if of.is_empty() {
                    Status::Untested
                } else if of.iter().all(|c| c.passed) {
                    Status::Pass
                } else {
                    Status::Fail
                };
                let mut waiver = None;
                let mut note = None;
                if status == Status::Fail {
                    if let Some(w) = super::waiver::applicable(waivers, &r.id, &subject.supplier) {
                        if w.holds_on(today) {
                            status = Status::Waived;
                        } else {
                            note = Some(format!("The waiver expired on {}; the failure stands.", w.expires));
                        }
                        waiver = Some(w.clone());
                    }
                }
                RequirementResult {
                    id: r.id.clone(),
                    level: r.level,
                    text: r.text.clone(),
                    clause: r.clause.clone(),
                    status,
                    cases: of.iter().map(|c| c.id.clone()).collect(),
                    waiver,
                    note,
                }
            })
            .collect();
        let count = |s: Status| results.iter().filter(|r| r.status == s).count();
        let summary = Summary {
            requirements: results.len(),
            passed: count(Status::Pass),
            failed: count(Status::Fail),
            waived: count(Status::Waived),
            untested: count(Status::Untested),
            cases: cases.len(),
            cases_passed: cases.iter().filter(|c| c.passed).count(),
            cases_failed: cases.iter().filter(|c| !c.passed).count(),
        };
        inputs.sort_by(|a, b| a.name.cmp(&b.name));
        inputs.dedup();
        Evidence {
            format: FORMAT.into(),
            run_id: run_id(now),
            kind,
            created: now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            tool: Tool::caregate(),
            subject,
            standard: suite.pack.standard_ref(),
            suite: SuiteRef { origin: suite.origin.clone(), sha256: suite.digest.clone() },
            conformant: Outcome::of(&summary) == Outcome::Conformant,
            verdict: Outcome::of(&summary),
            untested: results.iter().filter(|r| r.status == Status::Untested).map(|r| r.id.clone()).collect(),
            summary,
            requirements: results,
            cases,
            inputs,
            signature: None,
        }
    }

    /// The requirement result with this id.
    pub fn requirement(&self, id: &str) -> Option<&RequirementResult> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// The ids of requirements with this status.
    pub fn with_status(&self, status: Status) -> Vec<&str> {
        self.requirements.iter().filter(|r| r.status == status).map(|r| r.id.as_str()).collect()
    }

    /// `report.json` as caregate writes it: pretty JSON, fields in the order of this struct, a final newline.
    /// `report verify` requires the file to be exactly this, so that no byte of it can change unnoticed.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    pub fn read(path: &Path) -> Result<Evidence, ConformanceError> {
        let bytes = std::fs::read(path).map_err(|e| ConformanceError::io(path, e))?;
        serde_json::from_slice(&bytes)
            .map_err(|e| ConformanceError::file(path, format!("not a caregate conformance report: {e}")))
    }

    /// The files written beside `report.json`, each rendered from the report alone.
    fn renderings(&self) -> [(&'static str, String); 2] {
        [("report.html", super::render::html(self)), ("junit.xml", super::render::junit(self))]
    }

    /// The files beside `report.json` in `dir` (`report.html`, `junit.xml`) that are not what this report
    /// renders as: changed after it was written, so a signature over the JSON does not vouch for them. A file
    /// that is not there is not checked.
    pub fn changed_renderings(&self, dir: &Path) -> Result<Vec<&'static str>, ConformanceError> {
        let mut changed = Vec::new();
        for (name, text) in self.renderings() {
            let path = dir.join(name);
            match std::fs::read(&path) {
                Ok(bytes) if bytes == text.as_bytes() => {}
                Ok(_) => changed.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(ConformanceError::io(&path, e)),
            }
        }
        Ok(changed)
    }

    /// Writes `report.json`, `report.html` and `junit.xml` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, ConformanceError> {
        std::fs::create_dir_all(dir).map_err(|e| ConformanceError::io(dir, e))?;
        let [html, junit] = self.renderings();
        let files = [("report.json", self.to_json()), html, junit];
        let mut written = Vec::new();
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| ConformanceError::io(&path, e))?;
            written.push(path);
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn status_names_are_the_serde_names() {
        // The HTML report shows `as_str` (strum) and report.json holds serde's: the two must name alike.
        for status in Status::iter() {
            assert_eq!(serde_json::to_value(status).ok(), Some(status.as_str().into()));
        }
    }
}
