//! The shared vocabulary of every stage: a [`Finding`] is one thing wrong (or doubtful) with a document,
//! with a stable rule code, a severity, a practitioner's message and a location in the file the user sent.
//!
//! Not for: deciding anything. Parsers, the structure check, the rules and the gateway policy all produce
//! findings; the report renderers consume them.

use serde::{Deserialize, Serialize};
use strum::VariantNames as _;

/// How serious a finding is. `Error` blocks acceptance; `Query` asks the sender to confirm; `Warning` informs.
/// Its name (`error`, `query`, `warning`) is the same in rule packs, reports and JSON.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase", parse_err_ty = String, parse_err_fn = unknown_severity)]
pub enum Severity {
    Error,
    Query,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_severity(text: &str) -> String {
    crate::names::unknown("severity", text, Severity::VARIANTS)
}

/// A half-open byte range `[start, end)` in the bytes the user sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end: end.max(start) }
    }
    pub fn point(at: usize) -> Self {
        Span { start: at, end: at }
    }
}

/// Where a finding is, in the file the user sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Location {
    /// 1-based line in the source file.
    pub line: u32,
    /// 1-based column, counted in characters (not bytes).
    pub column: u32,
    /// Path in the source: an XPath for XML (`/Referral/Child/NhsNumber`), a JSON Pointer for JSON.
    pub path: String,
    /// JSON Pointer into the canonical instance (the standard's JSON form), where the finding has one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pointer: Option<String>,
    /// The byte span in the source; used by renderers to underline, not part of the JSON contract.
    #[serde(skip)]
    pub span: Option<Span>,
}

/// A few source lines around a finding, captured when the finding is located, so that renderers can show
/// them without holding the whole source.
///
/// Every line is cut to the same window of columns, at most [`Excerpt::WIDTH`] characters wide, around the
/// finding's column: an excerpt's size does not grow with the length of its lines, so a minified document
/// (one line of megabytes) with thousands of findings costs thousands of small excerpts, not thousands of
/// copies of the line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Excerpt {
    /// Line number of `lines[0]`.
    pub first_line: u32,
    pub lines: Vec<LineWindow>,
}

impl Excerpt {
    /// The most characters of one line an excerpt keeps.
    pub const WIDTH: usize = 120;

    /// The excerpt of a piece of a file that starts at `line` and `column` (1-based) of the file, renumbered
    /// from the piece's lines and columns into the file's: the piece's first line starts `column - 1`
    /// characters into the file's line.
    pub fn placed_at(mut self, line: u32, column: u32) -> Excerpt {
        if self.first_line == 1 {
            if let Some(first) = self.lines.first_mut() {
                first.column = first.column.saturating_add(column.saturating_sub(1));
            }
        }
        self.first_line = self.first_line.saturating_add(line.saturating_sub(1));
        self
    }
}

/// The part of one source line that an excerpt shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineWindow {
    /// The characters shown, without the line ending; each byte that is not UTF-8 is one U+FFFD, as columns
    /// count it.
    pub text: String,
    /// 1-based column, in characters, at which `text` starts in the source line; above 1, the line was cut
    /// before `text`. A line shorter than the window's start has an empty `text` at that column.
    pub column: u32,
    /// The line goes on after `text`.
    pub cut_after: bool,
}

impl LineWindow {
    /// A whole line, not cut.
    pub fn whole(text: impl Into<String>) -> LineWindow {
        LineWindow { text: text.into(), column: 1, cut_after: false }
    }

    /// The line has characters before `text`.
    pub fn cut_before(&self) -> bool {
        self.column > 1
    }
}

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable rule code: a standard's rule id (`REF-005`, `8510`) or a structural code (`required`, `enum`,
    /// `pattern`, `xml-not-well-formed`, …).
    pub rule: String,
    pub severity: Severity,
    /// One sentence a practitioner can act on.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<Location>,
    /// The record key (e.g. a child's `LAchildID`) where the standard has records.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub record: Option<String>,
    /// The clause of the standard that the rule enforces.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub clause: Option<String>,
    /// A suggested fix.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fix: Option<String>,
    /// For a finding about a whole return (a share, a count across children): the records behind it (e.g. the
    /// `LAchildID`s of the children counted), in file order. Empty for a finding about one record.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub records: Vec<String>,
    #[serde(skip)]
    pub excerpt: Option<Excerpt>,
}

impl Finding {
    pub fn new(rule: impl Into<String>, severity: Severity, message: impl Into<String>) -> Self {
        Finding {
            rule: rule.into(),
            severity,
            message: message.into(),
            location: None,
            record: None,
            clause: None,
            fix: None,
            records: Vec::new(),
            excerpt: None,
        }
    }
    pub fn error(rule: impl Into<String>, message: impl Into<String>) -> Self {
        Finding::new(rule, Severity::Error, message)
    }
    pub fn with_location(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
    pub fn with_fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
    pub fn with_clause(mut self, clause: impl Into<String>) -> Self {
        self.clause = Some(clause.into());
        self
    }
    pub fn with_record(mut self, record: impl Into<String>) -> Self {
        self.record = Some(record.into());
        self
    }
}

/// Counts of findings by severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Counts {
    pub error: usize,
    pub query: usize,
    pub warning: usize,
}

impl Counts {
    pub fn of(findings: &[Finding]) -> Self {
        let mut c = Counts::default();
        for f in findings {
            c.add(f.severity);
        }
        c
    }
    pub fn add(&mut self, s: Severity) {
        match s {
            Severity::Error => self.error += 1,
            Severity::Query => self.query += 1,
            Severity::Warning => self.warning += 1,
        }
    }
}
