//! Report writers: one per output format, each taking a run's findings as they are made.
//!
//! For: turning a validation run into what a person or another tool reads — terminal diagnostics
//! ([`human`]), the JSON contract ([`json`]), one CSV row a finding for spreadsheets ([`csv`]), JUnit XML for
//! CI dashboards ([`junit`]), SARIF 2.1.0 for code-scanning tools ([`sarif`]) and a self-contained HTML page
//! for data officers ([`html`]). Each format is one [`ReportWriter`]: it is told the run, then each document
//! and its findings one by one, and keeps only running totals and bounded summaries (per rule, per document),
//! never the findings; text it must put out after totals it has not yet seen waits in a spool (`spool.rs`).
//! A whole [`Report`] is drawn by replaying it into the same writers ([`replay`], [`Renderer`]).
//!
//! Not for: deciding validity (the caller says what is valid and why), reading source files (findings carry
//! their own excerpts), or choosing where output goes (the caller passes a writer).

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;

pub mod csv;
pub mod html;
pub mod human;
pub mod json;
pub mod junit;
pub mod sarif;
pub(crate) mod spool;

use strum::VariantNames as _;

use crate::finding::{Counts, Finding, Severity};
use crate::model::{DocumentEnd, DocumentResult, DocumentStart, Report, RuleInfo, StandardRef, Tool};

/// The output formats the command line offers, in the order its help lists them.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase", parse_err_ty = String, parse_err_fn = unknown_format)]
pub enum OutputFormat {
    Human,
    Json,
    Csv,
    Junit,
    Sarif,
    Html,
}

impl OutputFormat {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the report shows a finding's source lines ([`Finding::excerpt`]); the others leave them out,
    /// so a run written only in them need not make any.
    pub fn shows_excerpts(self) -> bool {
        matches!(self, OutputFormat::Human | OutputFormat::Html)
    }
}

fn unknown_format(text: &str) -> String {
    crate::names::unknown("output format", text, OutputFormat::VARIANTS)
}

/// Takes a run as it happens: [`begin_run`](Self::begin_run), then for each document
/// [`begin_document`](Self::begin_document), its findings one by one in the order they are made and
/// [`end_document`](Self::end_document), and last [`finish`](Self::finish), which writes what is left and
/// flushes. A writer keeps no finding once its call returns.
pub trait ReportWriter {
    /// The run begins: the tool, and the run's standard (the one asked for, or the first detected).
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()>;
    fn begin_document(&mut self, document: &DocumentStart<'_>) -> io::Result<()>;
    fn finding(&mut self, finding: &Finding) -> io::Result<()>;
    /// The document's findings have all been given; `end` says what they came to.
    fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()>;
    /// The run is over; `rules` holds the metadata of the rules the run's standards define.
    fn finish(&mut self, rules: &[RuleInfo]) -> io::Result<()>;
}

/// What a writer may be asked beyond its format.
#[derive(Debug, Clone, Default)]
pub struct WriterOptions {
    /// Terminal colours in human output (the other formats never emit escapes).
    pub colour: bool,
    /// Human output shows at most this many findings and counts the rest; `None` shows all.
    pub max_findings: Option<usize>,
    /// Where spooled text is kept while the run goes on (the system's temporary folder when `None`).
    pub spool_dir: Option<PathBuf>,
}

/// The writer for `format`, writing to `out`.
pub fn writer<'a>(
    format: OutputFormat,
    options: &WriterOptions,
    out: Box<dyn io::Write + 'a>,
) -> Box<dyn ReportWriter + 'a> {
    match format {
        OutputFormat::Human => Box::new(human::HumanWriter::new(out, options.colour, options.max_findings)),
        OutputFormat::Json => Box::new(json::JsonWriter::new(out, options.spool_dir.clone())),
        OutputFormat::Csv => Box::new(csv::CsvWriter::new(out)),
        OutputFormat::Junit => Box::new(junit::JunitWriter::new(out, options.spool_dir.clone())),
        OutputFormat::Sarif => Box::new(sarif::SarifWriter::new(out, options.spool_dir.clone())),
        OutputFormat::Html => Box::new(html::HtmlWriter::new(out, options.spool_dir.clone())),
    }
}

/// Gives a whole report to `writer`, document by document and finding by finding.
pub fn replay(report: &Report, writer: &mut dyn ReportWriter) -> io::Result<()> {
    writer.begin_run(&report.tool, report.standard.as_ref())?;
    for doc in &report.documents {
        replay_document(doc, writer)?;
    }
    writer.finish(&report.rules)
}

/// Gives one checked document to `writer`: its start, its findings, its end.
pub fn replay_document(doc: &DocumentResult, writer: &mut dyn ReportWriter) -> io::Result<()> {
    writer.begin_document(&DocumentStart { path: &doc.path, format: &doc.format, standard: doc.standard.as_ref() })?;
    for finding in &doc.findings {
        writer.finding(finding)?;
    }
    writer.end_document(&DocumentEnd { counts: doc.counts, valid: doc.valid, records: doc.records })
}

/// Draws a whole [`Report`] in one format.
pub trait Renderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()>;
}

/// A format's writer over a finished report: [`replay`] into [`writer`].
#[derive(Debug, Clone)]
pub struct ReplayRenderer {
    pub format: OutputFormat,
    pub options: WriterOptions,
}

impl Renderer for ReplayRenderer {
    fn render(&self, report: &Report, out: &mut dyn io::Write) -> io::Result<()> {
        let mut w = writer(self.format, &self.options, Box::new(out));
        replay(report, w.as_mut())
    }
}

/// The renderer for `format`, showing every finding. `colour` only matters to [`OutputFormat::Human`];
/// the others never emit terminal escapes.
pub fn renderer(format: OutputFormat, colour: bool) -> Box<dyn Renderer> {
    Box::new(ReplayRenderer { format, options: WriterOptions { colour, ..WriterOptions::default() } })
}

// ---------------------------------------------------------------------------------------------------
// Shared helpers for the writers.

/// `1 error`, `3 errors`, `1 query`, `2 queries`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `12345` as `12,345`.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `3 errors, 1 query, 0 warnings`.
pub(crate) fn counts_phrase(c: &Counts) -> String {
    format!(
        "{}, {}, {}",
        plural(c.error, "error", "errors"),
        plural(c.query, "query", "queries"),
        plural(c.warning, "warning", "warnings")
    )
}

/// Adds `c` to `total`.
pub(crate) fn add_counts(total: &mut Counts, c: &Counts) {
    total.error += c.error;
    total.query += c.query;
    total.warning += c.warning;
}

/// The one-line verdict of a run of `total` documents of which `failing` have errors:
/// `✗ 2 of 5 documents have errors` or `✓ all 5 documents valid`, without the mark.
pub(crate) fn verdict_phrase(total: usize, failing: usize) -> (bool, String) {
    if total == 0 {
        return (true, "no documents validated".to_string());
    }
    if failing == 0 {
        let text =
            if total == 1 { "the document is valid".to_string() } else { format!("all {total} documents valid") };
        (true, text)
    } else {
        let noun = if total == 1 { "document" } else { "documents" };
        let verb = if failing == 1 { "has" } else { "have" };
        (false, format!("{failing} of {total} {noun} {verb} errors"))
    }
}

/// What a writer keeps of one rule's findings in place of the findings themselves.
#[derive(Debug, Clone)]
pub(crate) struct RuleCount {
    pub rule: String,
    /// The most severe of its findings.
    pub severity: Severity,
    pub count: usize,
    pub first_message: String,
    /// Whether every finding so far had `first_message`.
    pub same_message: bool,
    /// The first fix and clause a finding of the rule suggested.
    pub fix: Option<String>,
    pub clause: Option<String>,
}

impl RuleCount {
    /// The rule's wording for a summary: the standard's own when the rule is known, else the message its
    /// findings share, else the first one as an example.
    pub fn wording(&self, info: Option<&RuleInfo>) -> String {
        match info {
            Some(info) => info.description.clone(),
            None if self.same_message => self.first_message.clone(),
            None => format!("e.g. {}", self.first_message),
        }
    }
}

/// Per-rule running totals, in order of first appearance; bounded by the number of rules, not findings.
#[derive(Debug, Default)]
pub(crate) struct RuleTally {
    index: HashMap<String, usize>,
    pub rules: Vec<RuleCount>,
}

impl RuleTally {
    /// Counts `f` and returns its rule's position (in order of first appearance).
    pub fn add(&mut self, f: &Finding) -> usize {
        if let Some(&i) = self.index.get(f.rule.as_str()) {
            let r = &mut self.rules[i];
            r.count += 1;
            r.severity = r.severity.min(f.severity);
            r.same_message &= r.first_message == f.message;
            if r.fix.is_none() {
                r.fix.clone_from(&f.fix);
            }
            if r.clause.is_none() {
                r.clause.clone_from(&f.clause);
            }
            return i;
        }
        let i = self.rules.len();
        self.index.insert(f.rule.clone(), i);
        self.rules.push(RuleCount {
            rule: f.rule.clone(),
            severity: f.severity,
            count: 1,
            first_message: f.message.clone(),
            same_message: true,
            fix: f.fix.clone(),
            clause: f.clause.clone(),
        });
        i
    }

    /// Positions of the rules, most findings first; ties by severity, then code.
    pub fn by_count(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.rules.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&self.rules[a], &self.rules[b]);
            b.count.cmp(&a.count).then(a.severity.cmp(&b.severity)).then_with(|| a.rule.cmp(&b.rule))
        });
        order
    }
}

/// The metadata of rule `id`, when the run's standards define it.
pub(crate) fn rule_info<'r>(rules: &'r [RuleInfo], id: &str) -> Option<&'r RuleInfo> {
    rules.iter().find(|r| r.id == id)
}

/// Tabs in excerpts are shown as this many spaces, so carets line up.
const TAB_WIDTH: usize = 4;

/// One source line of an excerpt, ready to draw: tabs expanded, control characters made visible, and
/// where the finding is on this line, the marked range in characters of `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExcerptLine {
    pub number: u32,
    pub text: String,
    /// `(start, len)` in characters of `text`; `len` is at least 1.
    pub mark: Option<(usize, usize)>,
}

impl ExcerptLine {
    /// `text` cut into before / marked / after, for renderers that highlight inline.
    pub fn split(&self) -> (&str, &str, &str) {
        let Some((start, len)) = self.mark else {
            return (self.text.as_str(), "", "");
        };
        let a = char_to_byte(&self.text, start);
        let b = char_to_byte(&self.text, start + len);
        (&self.text[..a], &self.text[a..b], &self.text[b..])
    }
}

/// Byte offset of the `n`th character of `s` (or `s.len()` past the end).
fn char_to_byte(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(i, _)| i)
}

/// Replace characters that would disturb a terminal or a page (escape sequences, bells, carriage
/// returns) with visible stand-ins. Tabs and newlines are left for the caller.
pub(crate) fn visible(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\t' | '\n' => c,
            c if c.is_control() => '\u{FFFD}',
            c => c,
        })
        .collect()
}

/// Shown where an excerpt's line was cut, before or after the characters it keeps.
const CUT: char = '\u{2026}';

/// The excerpt of a finding as lines to draw, with the finding's line marked: from `location.column`
/// (1-based, in characters) for the span's length in characters, at least one character, limited to
/// the characters the excerpt kept (a mark may sit one past the end, where something is missing). A line
/// the excerpt cut shows [`CUT`] on the side where characters are left out.
pub(crate) fn excerpt_lines(finding: &Finding) -> Vec<ExcerptLine> {
    let Some(excerpt) = &finding.excerpt else {
        return Vec::new();
    };
    let loc = finding.location.as_ref();
    excerpt
        .lines
        .iter()
        .enumerate()
        .map(|(i, window)| {
            let number = excerpt.first_line.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            let raw = window.text.trim_end_matches(['\r', '\n']);
            let (shown, mark) = match loc.filter(|l| l.line == number && l.line > 0) {
                // The mark's column counted from the window's first character.
                Some(l) => mark_line(
                    raw,
                    l.column.saturating_sub(window.column.saturating_sub(1)),
                    l.span.map(|s| s.end.saturating_sub(s.start)),
                ),
                None => (expand_tabs(raw).0, None),
            };
            let mut text = String::with_capacity(shown.len() + 2 * CUT.len_utf8());
            if window.cut_before() {
                text.push(CUT);
            }
            text.push_str(&shown);
            if window.cut_after {
                text.push(CUT);
            }
            let shift = usize::from(window.cut_before());
            ExcerptLine { number, text, mark: mark.map(|(start, len)| (start + shift, len)) }
        })
        .collect()
}

/// Expand tabs and make control characters visible; also return, for each raw character, the
/// display column it starts at (plus one entry for the end of the line).
fn expand_tabs(raw: &str) -> (String, Vec<usize>) {
    let mut text = String::with_capacity(raw.len());
    let mut starts = Vec::with_capacity(raw.len() + 1);
    let mut col = 0usize;
    for c in raw.chars() {
        starts.push(col);
        if c == '\t' {
            let n = TAB_WIDTH - col % TAB_WIDTH;
            text.extend(std::iter::repeat_n(' ', n));
            col += n;
        } else {
            text.push(if c.is_control() { '\u{FFFD}' } else { c });
            col += 1;
        }
    }
    starts.push(col);
    (text, starts)
}

fn mark_line(raw: &str, column: u32, span_bytes: Option<usize>) -> (String, Option<(usize, usize)>) {
    let (text, starts) = expand_tabs(raw);
    let raw_chars = starts.len() - 1;
    // 0-based character index into the raw line, clamped to one past its end.
    let start_char = (column.max(1) as usize - 1).min(raw_chars);
    // The span's length in characters: the characters of the line its bytes cover.
    let len_chars = match span_bytes {
        Some(bytes) if bytes > 0 => {
            let from = char_to_byte(raw, start_char);
            let mut to = (from + bytes).min(raw.len());
            while !raw.is_char_boundary(to) {
                to += 1;
            }
            raw[from..to].chars().count()
        }
        _ => 0,
    };
    let end_char = (start_char + len_chars).min(raw_chars);
    let start = starts[start_char];
    let end = starts[end_char];
    let len = end.saturating_sub(start).max(1);
    (text, Some((start, len)))
}

/// A short place for a finding: `referral.xml:12:5`, `referral.xml:12`, or just the file.
pub(crate) fn place(path: &str, finding: &Finding) -> String {
    match &finding.location {
        Some(l) if l.line > 0 && l.column > 0 => format!("{path}:{}:{}", l.line, l.column),
        Some(l) if l.line > 0 => format!("{path}:{}", l.line),
        _ => path.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A small report shared by the renderers' tests: two documents, findings with and without
    //! location, excerpt, record and fix.
    use crate::finding::{Excerpt, Finding, LineWindow, Location, Severity, Span};
    use crate::model::{DocumentResult, Report, RuleInfo, StandardRef, Tool};

    pub fn sample_report() -> Report {
        let nhs = Finding::error("REF-005", "The NHS number 9434765918 fails its Modulus 11 check.")
            .with_location(Location {
                line: 12,
                column: 18,
                path: "/Referral/Child/NhsNumber".into(),
                pointer: Some("/child/nhsNumber".into()),
                span: Some(Span::new(300, 310)),
            })
            .with_record("C-1042")
            .with_fix("Check the number against the child's NHS record and correct the typing.")
            .with_clause("Referral standard 4.2.1");
        let nhs = Finding {
            excerpt: Some(Excerpt {
                first_line: 11,
                lines: vec![
                    LineWindow::whole("    <Child>"),
                    LineWindow::whole("      <NhsNumber>9434765918</NhsNumber>"),
                    LineWindow::whole("      <Surname>O'Neil & Sons</Surname>"),
                ],
            }),
            ..nhs
        };
        let dob = Finding::new("REF-010", Severity::Query, "The date of birth 2031-01-01 is in the future.")
            .with_location(Location {
                line: 14,
                column: 7,
                path: "/Referral/Child/DateOfBirth".into(),
                pointer: None,
                span: None,
            })
            .with_record("C-1042");
        let missing = Finding::error("required", "The referral has no <ReferralSource> element.");
        let script =
            Finding::new("REF-099", Severity::Warning, "Free text contains <script>alert(\"x\")</script> & more.")
                .with_location(Location {
                    line: 3,
                    column: 1,
                    path: "/Referral/Notes".into(),
                    pointer: None,
                    span: None,
                });
        let nhs2 = Finding::error("REF-005", "The NHS number 1234567890 fails its Modulus 11 check.").with_location(
            Location {
                line: 40,
                column: 3,
                path: "/Referral/Carer/NhsNumber".into(),
                pointer: None,
                span: Some(Span::new(900, 910)),
            },
        );

        let first = DocumentResult::new("referral.xml", "xml", vec![nhs, dob, missing, nhs2]);
        let second = DocumentResult::new("referral-2.json", "json", vec![script]);
        Report {
            tool: Tool { name: "caregate".into(), version: "0.1.0".into() },
            standard: Some(StandardRef {
                id: "csc-referral".into(),
                version: "1.2.0".into(),
                digest: "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into(),
            }),
            documents: vec![first, second],
            rules: vec![
                RuleInfo {
                    id: "REF-005".into(),
                    severity: Severity::Error,
                    description: "An NHS number must pass its Modulus 11 check digit.".into(),
                    clause: Some("Referral standard 4.2.1".into()),
                    help: Some("Re-key the NHS number from the child's health record.".into()),
                },
                RuleInfo {
                    id: "REF-010".into(),
                    severity: Severity::Query,
                    description: "A date of birth should not be in the future.".into(),
                    clause: None,
                    help: None,
                },
            ],
        }
    }

    pub fn render_to_string(r: &dyn super::Renderer, report: &Report) -> String {
        let mut out = Vec::new();
        r.render(report, &mut out).expect("render to a Vec cannot fail");
        String::from_utf8(out).expect("renderers write UTF-8")
    }

    /// `report` in `format`, every finding shown, without colour.
    pub fn render(format: super::OutputFormat, report: &Report) -> String {
        render_to_string(super::renderer(format, false).as_ref(), report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::LineIndex;
    use crate::finding::{Excerpt, LineWindow, Location, Span};
    use strum::IntoEnumIterator as _;

    #[test]
    fn format_names_round_trip() {
        for f in OutputFormat::iter() {
            assert_eq!(f.to_string().parse::<OutputFormat>(), Ok(f));
        }
        assert!("xml".parse::<OutputFormat>().is_err());
        assert_eq!(
            "x".parse::<OutputFormat>(),
            Err("unknown output format `x` (expected human, json, csv, junit, sarif or html)".to_string())
        );
    }

    fn located(line: &str, column: u32, span: Option<Span>) -> Finding {
        Finding {
            excerpt: Some(Excerpt { first_line: 5, lines: vec![LineWindow::whole("before"), LineWindow::whole(line)] }),
            ..Finding::error("x", "m").with_location(Location {
                line: 6,
                column,
                path: String::new(),
                pointer: None,
                span,
            })
        }
    }

    #[test]
    fn mark_covers_span_in_characters() {
        // "é" is two bytes: a 4-byte span from column 3 covers "éa" plus one more char = 3 chars.
        let lines = excerpt_lines(&located("ab\u{e9}abc", 3, Some(Span::new(10, 14))));
        assert_eq!(lines[0].mark, None);
        assert_eq!(lines[1].mark, Some((2, 3)));
        assert_eq!(lines[1].split(), ("ab", "\u{e9}ab", "c"));
    }

    #[test]
    fn mark_is_at_least_one_and_limited_to_line() {
        let point = excerpt_lines(&located("abc", 2, None));
        assert_eq!(point[1].mark, Some((1, 1)));
        let long = excerpt_lines(&located("abc", 2, Some(Span::new(0, 100))));
        assert_eq!(long[1].mark, Some((1, 2)));
        let past = excerpt_lines(&located("abc", 9, None));
        assert_eq!(past[1].mark, Some((3, 1)));
    }

    #[test]
    fn tabs_expand_and_shift_the_mark() {
        let lines = excerpt_lines(&located("\tx\u{1b}y", 2, Some(Span::new(0, 1))));
        assert_eq!(lines[1].text, "    x\u{FFFD}y");
        assert_eq!(lines[1].mark, Some((4, 1)));
    }

    /// A finding at byte `at` of `source` for `len` bytes, located and excerpted as validation does it.
    fn found_in(source: &str, at: usize, len: usize) -> Finding {
        let index = LineIndex::new(source.as_bytes());
        let (line, column) = index.locate(at);
        Finding {
            excerpt: Some(index.excerpt(line, column, 1)),
            ..Finding::error("x", "m").with_location(Location {
                line,
                column,
                path: String::new(),
                pointer: None,
                span: Some(Span::new(at, at + len)),
            })
        }
    }

    #[test]
    fn a_cut_line_shows_where_it_was_cut_and_marks_the_right_characters() {
        // One line of 500 KB: multi-byte characters and tabs before the finding, which is `<Bad>` deep inside.
        let filler = "ab\u{e9}\tc\u{20ac}".repeat(50_000);
        let source = format!("<R>{filler}<Bad>x</Bad>{filler}</R>\n<next/>");
        let at = source.find("<Bad>").expect("present");
        let lines = excerpt_lines(&found_in(&source, at, "<Bad>".len()));
        assert_eq!(lines.len(), 2);
        let hit = &lines[0];
        assert!(hit.text.starts_with(CUT) && hit.text.ends_with(CUT), "{:?}", hit.text);
        // At most the window, its tabs expanded, and the two marks of the cut.
        assert!(hit.text.chars().count() <= Excerpt::WIDTH * TAB_WIDTH + 2);
        assert!(hit.text.len() < 600, "{} bytes", hit.text.len());
        assert_eq!(hit.split().1, "<Bad>");
        // The caret row of the human renderer: `start` display columns in, under `<Bad>`.
        let (start, len) = hit.mark.expect("marked");
        assert_eq!(hit.text.chars().skip(start).take(len).collect::<String>(), "<Bad>");
        // The next line is read through the same columns, which it does not reach.
        assert_eq!(lines[1].text, CUT.to_string());
        assert_eq!(lines[1].mark, None);
    }

    #[test]
    fn short_lines_are_drawn_whole() {
        let source = "<R>\n  <Bad>x</Bad>\n</R>";
        let lines = excerpt_lines(&found_in(source, 6, 5));
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["<R>", "  <Bad>x</Bad>", "</R>"]);
        assert_eq!(lines[1].mark, Some((2, 5)));
    }

    #[test]
    fn verdicts() {
        assert_eq!(verdict_phrase(2, 1), (false, "1 of 2 documents has errors".to_string()));
        assert_eq!(verdict_phrase(2, 0), (true, "all 2 documents valid".to_string()));
        assert_eq!(verdict_phrase(1, 0), (true, "the document is valid".to_string()));
        assert_eq!(verdict_phrase(0, 0), (true, "no documents validated".to_string()));
        assert_eq!(counts_phrase(&Counts { error: 1, query: 2, warning: 0 }), "1 error, 2 queries, 0 warnings");
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(12345), "12,345");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn rule_tally_keeps_counts_not_findings() {
        let mut tally = RuleTally::default();
        let a = Finding::new("A", Severity::Query, "one").with_fix("fix a");
        let b = Finding::error("B", "b");
        assert_eq!(tally.add(&b), 0);
        assert_eq!(tally.add(&a), 1);
        assert_eq!(tally.add(&Finding::error("A", "two")), 1);
        assert_eq!(tally.add(&a), 1);
        let r = &tally.rules[1];
        assert_eq!((r.count, r.severity, r.same_message), (3, Severity::Error, false));
        assert_eq!(r.fix.as_deref(), Some("fix a"));
        assert_eq!(r.wording(None), "e.g. one");
        assert_eq!(tally.rules[0].wording(None), "b");
        assert_eq!(tally.by_count(), [1, 0]);
        let info = RuleInfo {
            id: "A".into(),
            severity: Severity::Query,
            description: "The rule's words.".into(),
            clause: None,
            help: None,
        };
        assert_eq!(r.wording(Some(&info)), "The rule's words.");
    }

    #[test]
    fn replay_gives_every_document_and_finding_in_order() {
        /// Records the calls it is given.
        #[derive(Default)]
        struct Calls(Vec<String>);
        impl ReportWriter for Calls {
            fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()> {
                self.0.push(format!("run {} {:?}", tool.name, standard.map(|s| s.id.as_str())));
                Ok(())
            }
            fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
                self.0.push(format!("doc {} {}", d.path, d.format));
                Ok(())
            }
            fn finding(&mut self, f: &Finding) -> io::Result<()> {
                self.0.push(f.rule.clone());
                Ok(())
            }
            fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()> {
                self.0.push(format!("end {} {}", end.counts.error, end.valid));
                Ok(())
            }
            fn finish(&mut self, rules: &[RuleInfo]) -> io::Result<()> {
                self.0.push(format!("finish {}", rules.len()));
                Ok(())
            }
        }
        let mut calls = Calls::default();
        replay(&testutil::sample_report(), &mut calls).unwrap();
        assert_eq!(
            calls.0,
            [
                "run caregate Some(\"csc-referral\")",
                "doc referral.xml xml",
                "REF-005",
                "REF-010",
                "required",
                "REF-005",
                "end 3 false",
                "doc referral-2.json json",
                "REF-099",
                "end 0 true",
                "finish 2",
            ]
        );
    }

    #[test]
    fn write_samples_when_asked() {
        // `CAREGATE_REPORT_SAMPLES=/tmp/samples cargo test` writes the sample report in every format,
        // to look at (the HTML in a browser, the SARIF through a schema validator).
        let Ok(dir) = std::env::var("CAREGATE_REPORT_SAMPLES") else { return };
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir).expect("create sample directory");
        let report = testutil::sample_report();
        for format in OutputFormat::iter() {
            let ext = match format {
                OutputFormat::Human => "txt",
                OutputFormat::Junit => "xml",
                other => other.as_str(),
            };
            let text = testutil::render_to_string(renderer(format, false).as_ref(), &report);
            std::fs::write(dir.join(format!("report-sample.{ext}")), text).expect("write sample");
        }
        // A harder case for layout: long names, a long source line, a tab, no standard.
        let mut hard = report.clone();
        hard.standard = None;
        hard.documents[0].path = "returns/2025-26/very-long-directory-name-for-the-autumn-census/cin-census-return-local-authority-318-final-v3.xml".into();
        hard.documents[0].records = Some(4213);
        if let Some(ex) = hard.documents[0].findings[0].excerpt.as_mut() {
            ex.lines[0] = LineWindow::whole(format!("\t<Child><Notes>{}</Notes>", "word ".repeat(60)));
        }
        let text = testutil::render_to_string(renderer(OutputFormat::Html, false).as_ref(), &hard);
        std::fs::write(dir.join("report-hard.html"), text).expect("write sample");
        let coloured = testutil::render_to_string(renderer(OutputFormat::Human, true).as_ref(), &report);
        std::fs::write(dir.join("report-sample.ansi"), coloured).expect("write sample");
    }
}
