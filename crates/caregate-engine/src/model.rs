//! The report every writer draws: what was validated, against which standard, and what was found.
//! The JSON form of [`Report`] is a contract that other tools read; change it only by adding fields.

use serde::{Deserialize, Serialize};

use crate::finding::{Counts, Finding, Severity};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

impl Tool {
    pub fn caregate() -> Self {
        Tool { name: "caregate".into(), version: env!("CARGO_PKG_VERSION").into() }
    }
}

/// A standard pack, named by id, version and the SHA-256 over its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StandardRef {
    pub id: String,
    pub version: String,
    pub digest: String,
}

/// What a renderer needs to know of a rule it names (for SARIF's rule table, HTML's rule groups).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleInfo {
    pub id: String,
    pub severity: Severity,
    /// The rule's message as the standard words it (without per-finding values).
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clause: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub help: Option<String>,
}

/// The result for one document (one file, or `-` for standard input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentResult {
    pub path: String,
    /// `xml` or `json`.
    pub format: String,
    /// True when there is no finding of severity error.
    pub valid: bool,
    pub counts: Counts,
    pub findings: Vec<Finding>,
    /// The standard this document was validated against, when it differs per document.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub standard: Option<StandardRef>,
    /// Records validated (children in a census return); 1 for a single message.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub records: Option<usize>,
}

impl DocumentResult {
    pub fn new(path: impl Into<String>, format: impl Into<String>, findings: Vec<Finding>) -> Self {
        let counts = Counts::of(&findings);
        DocumentResult {
            path: path.into(),
            format: format.into(),
            valid: counts.error == 0,
            counts,
            findings,
            standard: None,
            records: None,
        }
    }
}

/// What a report writer is told as a document begins.
#[derive(Debug, Clone, Copy)]
pub struct DocumentStart<'a> {
    pub path: &'a str,
    /// `xml` or `json`.
    pub format: &'a str,
    /// The standard this document is validated against, when one is known.
    pub standard: Option<&'a StandardRef>,
}

/// What a report writer is told once a document's findings have all been given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DocumentEnd {
    pub counts: Counts,
    /// True when there is no finding of severity error.
    pub valid: bool,
    /// Records validated (children in a census return).
    pub records: Option<usize>,
}

/// A whole validation run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub tool: Tool,
    /// The standard of the run: the one asked for, or the first detected.
    pub standard: Option<StandardRef>,
    pub documents: Vec<DocumentResult>,
    /// Metadata of every rule any finding names; for renderers, not part of the JSON contract.
    #[serde(skip)]
    pub rules: Vec<RuleInfo>,
}

impl Report {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for d in &self.documents {
            c.error += d.counts.error;
            c.query += d.counts.query;
            c.warning += d.counts.warning;
        }
        c
    }
    pub fn has_errors(&self) -> bool {
        self.documents.iter().any(|d| !d.valid)
    }
}
