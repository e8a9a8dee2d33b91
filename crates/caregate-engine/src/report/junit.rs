//! JUnit XML for CI dashboards: one `<testsuite>` for the standard, one `<testcase>` per document.
//! Each error finding is a `<failure>`; queries and warnings are listed in the test case's
//! `<system-out>`, so they are visible without failing the build.
//!
//! The suite's totals come first in the file and are known only at the end: the test cases are spooled as
//! the findings come (a document's queries and warnings in a spool of their own, since they follow its
//! failures), and copied after the header.

use std::io::{self, Write};
use std::path::PathBuf;

use super::spool::Spool;
use super::{counts_phrase, place, ReportWriter};
use crate::finding::{Finding, Severity};
use crate::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};

/// Writes JUnit XML; see the module documentation.
pub struct JunitWriter<'a> {
    out: Box<dyn Write + 'a>,
    tool: Tool,
    standard: Option<StandardRef>,
    /// The test cases written so far.
    cases: Spool,
    /// The current document's queries and warnings, as `<system-out>` text (escaped).
    others: Spool,
    /// The current document: its path, its test case's class name, and whether its `<testcase>` is open.
    path: String,
    classname: String,
    open: bool,
    documents: usize,
    failing: usize,
}

impl<'a> JunitWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>, spool_dir: Option<PathBuf>) -> Self {
        JunitWriter {
            out,
            tool: Tool { name: String::new(), version: String::new() },
            standard: None,
            cases: Spool::new(spool_dir.clone()),
            others: Spool::new(spool_dir),
            path: String::new(),
            classname: String::new(),
            open: false,
            documents: 0,
            failing: 0,
        }
    }

    fn suite(&self) -> &str {
        self.standard.as_ref().map_or("caregate", |s| s.id.as_str())
    }
}

impl ReportWriter for JunitWriter<'_> {
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()> {
        self.tool = tool.clone();
        self.standard = standard.cloned();
        Ok(())
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.path = d.path.to_string();
        self.classname = d.standard.map_or_else(|| self.suite().to_string(), |s| s.id.clone());
        self.open = false;
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        if !self.open {
            writeln!(
                self.cases.group(0),
                r#"    <testcase name="{}" classname="{}">"#,
                attr(&self.path),
                attr(&self.classname)
            )?;
            self.open = true;
        }
        if f.severity == Severity::Error {
            writeln!(
                self.cases.group(0),
                r#"      <failure message="{}" type="{}">{}</failure>"#,
                attr(&f.message),
                attr(&f.rule),
                text(&detail(&self.path, f))
            )?;
        } else {
            let mut body = format!("{}[{}]: {}\n", f.severity, f.rule, f.message);
            for line in detail(&self.path, f).lines() {
                body.push_str("  ");
                body.push_str(line);
                body.push('\n');
            }
            self.others.append(0, text(&body).as_bytes())?;
        }
        Ok(())
    }

    fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()> {
        self.documents += 1;
        self.failing += usize::from(!end.valid);
        let mut cases = self.cases.group(0);
        if !self.open {
            return writeln!(
                cases,
                r#"    <testcase name="{}" classname="{}"/>"#,
                attr(&self.path),
                attr(&self.classname)
            );
        }
        if !self.others.is_empty(0) {
            let head = format!("{}: {}\n", self.path, counts_phrase(&end.counts));
            write!(cases, "      <system-out>{}", text(&head))?;
            self.others.drain(0, &mut cases)?;
            writeln!(cases, "</system-out>")?;
        }
        writeln!(cases, "    </testcase>")
    }

    fn finish(&mut self, _rules: &[RuleInfo]) -> io::Result<()> {
        let suite = self.suite().to_string();
        let tests = self.documents;
        // As in the JUnit schema, `failures` counts failed test cases (documents), not findings.
        let failures = self.failing;
        let out = &mut self.out;
        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="0">"#,
            attr(&self.tool.name)
        )?;
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#,
            attr(&suite)
        )?;
        writeln!(out, "    <properties>")?;
        property(out, "tool", &format!("{} {}", self.tool.name, self.tool.version))?;
        if let Some(s) = &self.standard {
            property(out, "standard.id", &s.id)?;
            property(out, "standard.version", &s.version)?;
            property(out, "standard.digest", &s.digest)?;
        }
        writeln!(out, "    </properties>")?;
        self.cases.drain(0, out)?;
        writeln!(out, "  </testsuite>")?;
        writeln!(out, "</testsuites>")?;
        out.flush()
    }
}

fn property(out: &mut dyn Write, name: &str, value: &str) -> io::Result<()> {
    writeln!(out, r#"      <property name="{}" value="{}"/>"#, attr(name), attr(value))
}

/// Where the finding is and what else is known: a few `key: value` lines.
fn detail(path: &str, f: &Finding) -> String {
    let mut s = format!("at {}", place(path, f));
    if let Some(l) = f.location.as_ref().filter(|l| !l.path.is_empty()) {
        s.push_str(&format!(" ({})", l.path));
    }
    s.push('\n');
    for (key, value) in [("record", &f.record), ("help", &f.fix), ("clause", &f.clause)] {
        if let Some(v) = value {
            s.push_str(&format!("{key}: {v}\n"));
        }
    }
    if !f.records.is_empty() {
        s.push_str(&format!("records: {}\n", f.records.join(", ")));
    }
    s
}

/// Escape for XML 1.0 character data. Characters XML 1.0 does not allow at all (most C0 controls,
/// U+FFFE, U+FFFF) are replaced with U+FFFD.
pub(crate) fn text(s: &str) -> String {
    escape(s, false)
}

/// Escape for an XML 1.0 attribute value in double quotes; tabs and line breaks become character
/// references so that attribute-value normalisation keeps them.
pub(crate) fn attr(s: &str) -> String {
    escape(s, true)
}

fn escape(s: &str, in_attr: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\'' if in_attr => out.push_str("&apos;"),
            '\t' if in_attr => out.push_str("&#9;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{render, sample_report};
    use crate::report::OutputFormat;

    #[test]
    fn parses_and_counts_failures() {
        let xml = render(OutputFormat::Junit, &sample_report());
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "testsuites");
        let suite = root.children().find(|n| n.has_tag_name("testsuite")).expect("suite");
        assert_eq!(suite.attribute("name"), Some("csc-referral"));
        assert_eq!(suite.attribute("tests"), Some("2"));
        assert_eq!(suite.attribute("failures"), Some("1"));

        let cases: Vec<_> = suite.children().filter(|n| n.has_tag_name("testcase")).collect();
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].attribute("name"), Some("referral.xml"));
        assert_eq!(cases[0].attribute("classname"), Some("csc-referral"));

        let failures: Vec<_> = cases[0].children().filter(|n| n.has_tag_name("failure")).collect();
        assert_eq!(failures.len(), 3);
        assert_eq!(failures[0].attribute("type"), Some("REF-005"));
        assert_eq!(failures[0].attribute("message"), Some("The NHS number 9434765918 fails its Modulus 11 check."));
        let body = failures[0].text().expect("detail");
        assert!(body.contains("at referral.xml:12:18 (/Referral/Child/NhsNumber)"));
        assert!(body.contains("record: C-1042"));
        assert_eq!(failures[1].attribute("message"), Some("The referral has no <ReferralSource> element."));

        let out1 = cases[0].children().find(|n| n.has_tag_name("system-out")).expect("queries listed");
        assert!(out1.text().unwrap_or("").contains("query[REF-010]: The date of birth"));

        assert_eq!(cases[1].children().filter(|n| n.has_tag_name("failure")).count(), 0);
        let out2 = cases[1].children().find(|n| n.has_tag_name("system-out")).expect("warning listed");
        assert!(out2.text().unwrap_or("").contains("<script>alert(\"x\")</script> & more."));
    }

    #[test]
    fn escapes_and_drops_forbidden_characters() {
        assert_eq!(attr("a<b>&\"c'\n"), "a&lt;b&gt;&amp;&quot;c&apos;&#10;");
        assert_eq!(text("x\u{0}y\u{1b}z\u{FFFF}"), "x\u{FFFD}y\u{FFFD}z\u{FFFD}");

        let mut r = sample_report();
        r.documents[0].path = "odd\u{7}\"name\".xml".into();
        r.documents[0].findings[0].message = "nul \u{0} and tab\tand\r\nnewline".into();
        let xml = render(OutputFormat::Junit, &r);
        let doc = roxmltree::Document::parse(&xml).expect("still well-formed");
        let failure = doc.descendants().find(|n| n.has_tag_name("failure")).expect("failure");
        assert_eq!(failure.attribute("message"), Some("nul \u{FFFD} and tab\tand\r\nnewline"));
        let case = doc.descendants().find(|n| n.has_tag_name("testcase")).expect("case");
        assert_eq!(case.attribute("name"), Some("odd\u{FFFD}\"name\".xml"));
    }

    #[test]
    fn clean_documents_are_empty_cases() {
        let mut r = sample_report();
        r.documents[1].findings.clear();
        let xml = render(OutputFormat::Junit, &r);
        assert!(xml.contains(r#"<testcase name="referral-2.json" classname="csc-referral"/>"#));
    }
}
