//! Terminal diagnostics in the style of rustc and miette: a header per finding, where it is, the
//! source lines with the spot underlined, notes; then a summary by rule and per document, and the verdict.
//!
//! Written as the findings come. A messy return has hundreds of thousands of findings, more than a person
//! reads at a terminal: with a limit, the first findings are shown and the rest counted ("… and 12,345 more
//! findings"), and the summary by rule (code, severity, count, message, most frequent first) says what the
//! rest are about. Only that summary and one line per document are kept until the end.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{
    add_counts, counts_phrase, excerpt_lines, rule_info, thousands, verdict_phrase, visible, ReportWriter, RuleTally,
};
use crate::finding::{Counts, Finding, Severity};
use crate::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};

/// How many of a return-level finding's records are named before the rest are counted.
const RECORDS_NAMED: usize = 5;

/// The styles in use; all plain when colour is off.
struct Palette {
    bold: Style,
    gutter: Style,
    good: Style,
    bad: Style,
    error: Style,
    query: Style,
    warning: Style,
}

impl Palette {
    fn new(colour: bool) -> Self {
        if !colour {
            let p = Style::new();
            return Palette { bold: p, gutter: p, good: p, bad: p, error: p, query: p, warning: p };
        }
        let fg = |c: AnsiColor| Style::new().fg_color(Some(c.into()));
        Palette {
            bold: Style::new().bold(),
            gutter: fg(AnsiColor::Blue).bold(),
            good: fg(AnsiColor::Green).bold(),
            bad: fg(AnsiColor::Red).bold(),
            error: fg(AnsiColor::Red).bold(),
            query: fg(AnsiColor::Yellow).bold(),
            warning: fg(AnsiColor::Cyan).bold(),
        }
    }
    fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Error => self.error,
            Severity::Query => self.query,
            Severity::Warning => self.warning,
        }
    }
}

/// One document's line in the closing summary.
struct DocumentLine {
    path: String,
    counts: Counts,
    records: Option<usize>,
}

/// Writes for a person at a terminal; with colour, severities are red (error), yellow (query) and cyan
/// (warning), and headers bold.
pub struct HumanWriter<'a> {
    out: Box<dyn Write + 'a>,
    palette: Palette,
    /// Findings shown at most; `None` shows all.
    max_findings: Option<usize>,
    shown: usize,
    /// The path of the document whose findings are coming.
    path: String,
    documents: Vec<DocumentLine>,
    rules: RuleTally,
    failing: usize,
}

impl<'a> HumanWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>, colour: bool, max_findings: Option<usize>) -> Self {
        HumanWriter {
            out,
            palette: Palette::new(colour),
            max_findings,
            shown: 0,
            path: String::new(),
            documents: Vec::new(),
            rules: RuleTally::default(),
            failing: 0,
        }
    }
}

impl ReportWriter for HumanWriter<'_> {
    fn begin_run(&mut self, _tool: &Tool, _standard: Option<&StandardRef>) -> io::Result<()> {
        Ok(())
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.path = d.path.to_string();
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.rules.add(f);
        if self.max_findings.is_some_and(|max| self.shown >= max) {
            return Ok(());
        }
        self.shown += 1;
        write_finding(&mut self.out, &self.palette, &self.path, f)
    }

    fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()> {
        self.failing += usize::from(!end.valid);
        let path = std::mem::take(&mut self.path);
        self.documents.push(DocumentLine { path, counts: end.counts, records: end.records });
        Ok(())
    }

    fn finish(&mut self, rules: &[RuleInfo]) -> io::Result<()> {
        let p = &self.palette;
        let out = &mut self.out;
        let total: usize = self.rules.rules.iter().map(|r| r.count).sum();
        if total > self.shown {
            let more = total - self.shown;
            let noun = if more == 1 { "finding" } else { "findings" };
            let shown = if self.shown == 0 {
                "no finding shown".to_string()
            } else {
                format!("the first {} shown", thousands(self.shown))
            };
            writeln!(
                out,
                "{} ({shown}; --max-findings sets how many)\n",
                paint(p.bold, &format!("\u{2026} and {} more {noun}", thousands(more)))
            )?;
        }
        write_rule_summary(out, p, &self.rules, rules)?;
        let mut totals = Counts::default();
        for doc in &self.documents {
            write_doc_summary(out, p, doc)?;
            add_counts(&mut totals, &doc.counts);
        }
        let (ok, text) = verdict_phrase(self.documents.len(), self.failing);
        let totals = counts_phrase(&totals);
        if ok {
            writeln!(out, "{} ({totals})", paint(p.good, &format!("\u{2713} {text}")))?;
        } else {
            writeln!(out, "{} ({totals})", paint(p.bad, &format!("\u{2717} {text}")))?;
        }
        out.flush()
    }
}

/// `findings by rule:` and a line per rule, most findings first: code, severity, count and the rule's wording.
fn write_rule_summary(out: &mut dyn Write, p: &Palette, tally: &RuleTally, infos: &[RuleInfo]) -> io::Result<()> {
    if tally.rules.is_empty() {
        return Ok(());
    }
    let order = tally.by_count();
    let code_width = tally.rules.iter().map(|r| one_line(&r.rule).chars().count()).max().unwrap_or(0);
    let count_width = tally.rules.iter().map(|r| thousands(r.count).len()).max().unwrap_or(0);
    writeln!(out, "{}", paint(p.bold, "findings by rule:"))?;
    for r in order.into_iter().map(|i| &tally.rules[i]) {
        let code = format!("{:<code_width$}", one_line(&r.rule));
        let severity = format!("{:<7}", r.severity.as_str());
        let wording = one_line(&r.wording(rule_info(infos, &r.rule)));
        writeln!(
            out,
            "  {}  {}  {:>count_width$}  {wording}",
            paint(p.bold, &code),
            paint(p.severity(r.severity), &severity),
            thousands(r.count)
        )?;
    }
    writeln!(out)
}

/// `text` in `style`, reset afterwards (nothing added for a plain style).
fn paint(style: Style, text: &str) -> String {
    if style == Style::new() {
        text.to_string()
    } else {
        format!("{}{text}{}", style.render(), style.render_reset())
    }
}

fn write_doc_summary(out: &mut dyn Write, p: &Palette, doc: &DocumentLine) -> io::Result<()> {
    let path = visible(&doc.path);
    let counts = counts_phrase(&doc.counts);
    let records = match doc.records {
        Some(n) if n != 1 => format!(" in {n} records"),
        _ => String::new(),
    };
    writeln!(out, "{}: {counts}{records}", paint(p.bold, &path))
}

fn write_finding(out: &mut dyn Write, p: &Palette, path: &str, f: &Finding) -> io::Result<()> {
    let sev = p.severity(f.severity);
    let head = format!("{}[{}]", f.severity.as_str(), visible(&f.rule));
    writeln!(out, "{}{}", paint(sev, &head), paint(p.bold, &format!(": {}", one_line(&f.message))))?;

    let lines = excerpt_lines(f);
    let width =
        lines.iter().map(|l| l.number).chain(f.location.as_ref().map(|l| l.line)).max().unwrap_or(0).to_string().len();
    let pad = " ".repeat(width);
    let bar = paint(p.gutter, "|");

    writeln!(out, "{pad}{} {}", paint(p.gutter, "-->"), where_text(path, f))?;

    if !lines.is_empty() {
        writeln!(out, "{pad} {bar}")?;
        for line in &lines {
            let number = paint(p.gutter, &format!("{:>width$}", line.number));
            if line.text.is_empty() {
                writeln!(out, "{number} {bar}")?;
            } else {
                writeln!(out, "{number} {bar} {}", line.text)?;
            }
            if let Some((start, len)) = line.mark {
                let carets = paint(sev, &"^".repeat(len));
                writeln!(out, "{pad} {bar} {}{carets}", " ".repeat(start))?;
            }
        }
        writeln!(out, "{pad} {bar}")?;
    }

    let eq = paint(p.gutter, "=");
    if let Some(record) = &f.record {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "record"), one_line(record))?;
    }
    if !f.records.is_empty() {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "records"), records_named(&f.records))?;
    }
    if let Some(fix) = &f.fix {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "help"), one_line(fix))?;
    }
    if let Some(clause) = &f.clause {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "clause"), one_line(clause))?;
    }
    writeln!(out)
}

/// `A1, A2, A3, A4, A5 and 95 more`: the first records behind a return-level finding, the rest counted.
fn records_named(records: &[String]) -> String {
    let named: Vec<String> = records.iter().take(RECORDS_NAMED).map(|r| one_line(r)).collect();
    match records.len().saturating_sub(RECORDS_NAMED) {
        0 => named.join(", "),
        more => format!("{} and {} more", named.join(", "), thousands(more)),
    }
}

/// `referral.xml:12:5 (/Referral/Child/NhsNumber)`, `referral.xml:12`, or just `referral.xml`.
fn where_text(path: &str, f: &Finding) -> String {
    let place = visible(&super::place(path, f));
    match &f.location {
        Some(l) if !l.path.is_empty() => format!("{place} ({})", one_line(&l.path)),
        _ => place,
    }
}

/// Data from the document shown on one line, with nothing a terminal would act on.
fn one_line(s: &str) -> String {
    visible(s).replace(['\n', '\t'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Report;
    use crate::report::testutil::{render, sample_report};
    use crate::report::{replay, OutputFormat};

    fn plain() -> String {
        render(OutputFormat::Human, &sample_report())
    }

    fn with(report: &Report, colour: bool, max_findings: Option<usize>) -> String {
        let mut out = Vec::new();
        let mut w = HumanWriter::new(Box::new(&mut out), colour, max_findings);
        replay(report, &mut w).expect("write to a Vec");
        drop(w);
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn header_location_and_caret_line() {
        let out = plain();
        let lines: Vec<&str> = out.lines().collect();
        let head = lines
            .iter()
            .position(|l| *l == "error[REF-005]: The NHS number 9434765918 fails its Modulus 11 check.")
            .expect("header present");
        assert_eq!(lines[head + 1], "  --> referral.xml:12:18 (/Referral/Child/NhsNumber)");
        assert_eq!(lines[head + 2], "   |");
        assert_eq!(lines[head + 3], "11 |     <Child>");
        assert_eq!(lines[head + 4], "12 |       <NhsNumber>9434765918</NhsNumber>");
        // Column 18 is the first digit; the span is 10 bytes, so 10 carets under the digits.
        assert_eq!(lines[head + 5], format!("   | {}{}", " ".repeat(17), "^".repeat(10)));
        let caret_col = lines[head + 5].find('^').expect("caret");
        assert_eq!(&lines[head + 4][caret_col..caret_col + 10], "9434765918");
        assert_eq!(lines[head + 6], "13 |       <Surname>O'Neil & Sons</Surname>");
        assert_eq!(lines[head + 7], "   |");
        assert_eq!(lines[head + 8], "   = record: C-1042");
        assert_eq!(
            lines[head + 9],
            "   = help: Check the number against the child's NHS record and correct the typing."
        );
        assert_eq!(lines[head + 10], "   = clause: Referral standard 4.2.1");
    }

    #[test]
    fn findings_without_location_or_excerpt_print_cleanly() {
        let out = plain();
        assert!(out.contains("error[required]: The referral has no <ReferralSource> element.\n --> referral.xml\n\n"));
        assert!(out.contains(
            "query[REF-010]: The date of birth 2031-01-01 is in the future.\n  --> referral.xml:14:7 (/Referral/Child/DateOfBirth)\n   = record: C-1042\n\n"
        ));
    }

    #[test]
    fn summaries() {
        let out = plain();
        assert!(out.contains("\nreferral.xml: 3 errors, 1 query, 0 warnings\n"));
        assert!(out.contains("\nreferral-2.json: 0 errors, 0 queries, 1 warning\n"));
        assert!(out.ends_with("\u{2717} 1 of 2 documents has errors (3 errors, 1 query, 1 warning)\n"));
        assert!(!out.contains("more finding"));

        let mut r = sample_report();
        for d in &mut r.documents {
            d.findings.clear();
            d.counts = Default::default();
            d.valid = true;
        }
        let ok = render(OutputFormat::Human, &r);
        assert_eq!(
            ok,
            "referral.xml: 0 errors, 0 queries, 0 warnings\nreferral-2.json: 0 errors, 0 queries, 0 warnings\n\u{2713} all 2 documents valid (0 errors, 0 queries, 0 warnings)\n"
        );
    }

    #[test]
    fn summary_by_rule_most_frequent_first() {
        let out = plain();
        let summary = out.split("findings by rule:\n").nth(1).expect("a summary by rule");
        let lines: Vec<&str> = summary.lines().take(5).collect();
        // The rule's own wording where the standard defines it, else its findings' message.
        assert_eq!(
            lines[..4],
            [
                "  REF-005   error    2  An NHS number must pass its Modulus 11 check digit.",
                "  required  error    1  The referral has no <ReferralSource> element.",
                "  REF-010   query    1  A date of birth should not be in the future.",
                "  REF-099   warning  1  Free text contains <script>alert(\"x\")</script> & more.",
            ]
        );
        assert_eq!(lines[4], "");
        assert!(summary.starts_with("  REF-005") && summary.contains("\nreferral.xml: 3 errors"));
    }

    #[test]
    fn at_most_max_findings_are_shown_and_the_rest_counted() {
        let mut r = sample_report();
        let template = r.documents[0].findings[2].clone();
        r.documents[0].findings.extend(
            (0..12_344)
                .map(|i| Finding { message: format!("The referral has no <Part{i}> element."), ..template.clone() }),
        );
        r.documents[0].counts = Counts::of(&r.documents[0].findings);
        let out = with(&r, false, Some(3));
        assert_eq!(out.matches("\n  --> ").count() + out.matches("\n --> ").count(), 3);
        assert!(out.starts_with("error[REF-005]"));
        assert!(
            out.contains("\n\u{2026} and 12,346 more findings (the first 3 shown; --max-findings sets how many)\n"),
            "{out}"
        );
        assert!(out.contains("  required  error    12,345  e.g. The referral has no <ReferralSource> element.\n"));
        assert!(out.contains("\nreferral.xml: 12347 errors, 1 query, 0 warnings\n"));

        let none = with(&r, false, Some(0));
        assert!(none.starts_with("\u{2026} and 12,349 more findings (no finding shown;"));
        let all = with(&r, false, None);
        assert_eq!(all.matches("-->").count(), 12_349);
        assert!(!all.contains("more findings"));
    }

    #[test]
    fn return_level_findings_name_their_first_records() {
        let mut r = sample_report();
        r.documents[0].findings[2].records = (1..=100).map(|i| format!("A{i}")).collect();
        r.documents[1].findings[0].records = vec!["B1".into(), "B\u{1b}2".into()];
        let out = render(OutputFormat::Human, &r);
        assert!(out.contains(" --> referral.xml\n  = records: A1, A2, A3, A4, A5 and 95 more\n"), "{out}");
        assert!(out.contains(" --> referral-2.json:3:1 (/Referral/Notes)\n  = records: B1, B\u{FFFD}2\n"), "{out}");
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!plain().contains('\u{1b}'));
        let coloured = with(&sample_report(), true, None);
        let red = Style::new().fg_color(Some(AnsiColor::Red.into())).bold();
        assert!(coloured.contains(&format!("{}error[REF-005]{}", red.render(), red.render_reset())));
        let yellow = Style::new().fg_color(Some(AnsiColor::Yellow.into())).bold();
        assert!(coloured.contains(&format!("{}query[REF-010]", yellow.render())));
        let cyan = Style::new().fg_color(Some(AnsiColor::Cyan.into())).bold();
        assert!(coloured.contains(&format!("{}warning[REF-099]", cyan.render())));
    }

    #[test]
    fn escape_sequences_in_data_are_neutralised() {
        let mut r = sample_report();
        r.documents[1].findings[0].message = "bad \u{1b}[2J clear".into();
        r.documents[1].findings[0].rule = "R\u{1b}[2J".into();
        let out = render(OutputFormat::Human, &r);
        assert!(!out.contains('\u{1b}'));
        assert!(out.contains("bad \u{FFFD}[2J clear"));
    }
}
