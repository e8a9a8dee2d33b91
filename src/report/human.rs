//! Terminal diagnostics in the style of rustc and miette: a header per finding, where it is, the
//! source lines with the spot underlined, notes, and a summary per document and for the run.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::model::{DocumentResult, Report};
use super::{counts_phrase, excerpt_lines, verdict_phrase, visible, Renderer};
use crate::finding::{Finding, Severity};

/// Renders for a person at a terminal; with `colour`, severities are red (error), yellow (query) and
/// cyan (warning), and headers bold.
#[derive(Debug, Clone, Copy, Default)]
pub struct HumanRenderer {
    pub colour: bool,
}

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

/// `text` in `style`, reset afterwards (nothing added for a plain style).
fn paint(style: Style, text: &str) -> String {
    if style == Style::new() {
        text.to_string()
    } else {
        format!("{}{text}{}", style.render(), style.render_reset())
    }
}

impl Renderer for HumanRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let p = Palette::new(self.colour);
        for doc in &report.documents {
            for finding in &doc.findings {
                write_finding(out, &p, doc, finding)?;
            }
        }
        for doc in &report.documents {
            write_doc_summary(out, &p, doc)?;
        }
        let (ok, text) = verdict_phrase(report);
        let totals = counts_phrase(&report.counts());
        if ok {
            writeln!(out, "{} ({totals})", paint(p.good, &format!("\u{2713} {text}")))
        } else {
            writeln!(out, "{} ({totals})", paint(p.bad, &format!("\u{2717} {text}")))
        }
    }
}

fn write_doc_summary(out: &mut dyn Write, p: &Palette, doc: &DocumentResult) -> io::Result<()> {
    let path = visible(&doc.path);
    let counts = counts_phrase(&doc.counts);
    let records = match doc.records {
        Some(n) if n != 1 => format!(" in {n} records"),
        _ => String::new(),
    };
    writeln!(out, "{}: {counts}{records}", paint(p.bold, &path))
}

fn write_finding(out: &mut dyn Write, p: &Palette, doc: &DocumentResult, f: &Finding) -> io::Result<()> {
    let sev = p.severity(f.severity);
    let head = format!("{}[{}]", f.severity.as_str(), visible(&f.rule));
    writeln!(out, "{}{}", paint(sev, &head), paint(p.bold, &format!(": {}", one_line(&f.message))))?;

    let lines = excerpt_lines(f);
    let width = lines
        .iter()
        .map(|l| l.number)
        .chain(f.location.as_ref().map(|l| l.line))
        .max()
        .unwrap_or(0)
        .to_string()
        .len();
    let pad = " ".repeat(width);
    let bar = paint(p.gutter, "|");

    writeln!(out, "{pad}{} {}", paint(p.gutter, "-->"), where_text(doc, f))?;

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
    if let Some(fix) = &f.fix {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "help"), one_line(fix))?;
    }
    if let Some(clause) = &f.clause {
        writeln!(out, "{pad} {eq} {}: {}", paint(p.bold, "clause"), one_line(clause))?;
    }
    writeln!(out)
}

/// `referral.xml:12:5 (/Referral/Child/NhsNumber)`, `referral.xml:12`, or just `referral.xml`.
fn where_text(doc: &DocumentResult, f: &Finding) -> String {
    let place = visible(&super::place(&doc.path, f));
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
    use crate::report::testutil::{render_to_string, sample_report};

    fn plain() -> String {
        render_to_string(&HumanRenderer { colour: false }, &sample_report())
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
        assert!(out.contains(
            "error[required]: The referral has no <ReferralSource> element.\n --> referral.xml\n\n"
        ));
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

        let mut r = sample_report();
        for d in &mut r.documents {
            d.findings.clear();
            d.counts = Default::default();
            d.valid = true;
        }
        let ok = render_to_string(&HumanRenderer { colour: false }, &r);
        assert_eq!(
            ok,
            "referral.xml: 0 errors, 0 queries, 0 warnings\nreferral-2.json: 0 errors, 0 queries, 0 warnings\n\u{2713} all 2 documents valid (0 errors, 0 queries, 0 warnings)\n"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        assert!(!plain().contains('\u{1b}'));
        let coloured = render_to_string(&HumanRenderer { colour: true }, &sample_report());
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
        let out = render_to_string(&HumanRenderer { colour: false }, &r);
        assert!(!out.contains('\u{1b}'));
        assert!(out.contains("bad \u{FFFD}[2J clear"));
    }
}
