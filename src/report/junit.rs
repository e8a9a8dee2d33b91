//! JUnit XML for CI dashboards: one `<testsuite>` for the standard, one `<testcase>` per document.
//! Each error finding is a `<failure>`; queries and warnings are listed in the test case's
//! `<system-out>`, so they are visible without failing the build.

use std::io::{self, Write};

use super::model::{DocumentResult, Report};
use super::{counts_phrase, place, Renderer};
use crate::finding::{Finding, Severity};

#[derive(Debug, Clone, Copy, Default)]
pub struct JunitRenderer;

impl Renderer for JunitRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        let suite = report.standard.as_ref().map_or("caregate", |s| s.id.as_str());
        let tests = report.documents.len();
        // As in the JUnit schema, `failures` counts failed test cases (documents), not findings.
        let failures = report.documents.iter().filter(|d| !d.valid).count();

        writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
        writeln!(
            out,
            r#"<testsuites name="{}" tests="{tests}" failures="{failures}" errors="0">"#,
            attr(&report.tool.name)
        )?;
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{tests}" failures="{failures}" errors="0" skipped="0">"#,
            attr(suite)
        )?;
        writeln!(out, "    <properties>")?;
        property(out, "tool", &format!("{} {}", report.tool.name, report.tool.version))?;
        if let Some(s) = &report.standard {
            property(out, "standard.id", &s.id)?;
            property(out, "standard.version", &s.version)?;
            property(out, "standard.digest", &s.digest)?;
        }
        writeln!(out, "    </properties>")?;
        for doc in &report.documents {
            let classname = doc.standard.as_ref().map_or(suite, |s| s.id.as_str());
            write_case(out, doc, classname)?;
        }
        writeln!(out, "  </testsuite>")?;
        writeln!(out, "</testsuites>")
    }
}

fn property(out: &mut dyn Write, name: &str, value: &str) -> io::Result<()> {
    writeln!(out, r#"      <property name="{}" value="{}"/>"#, attr(name), attr(value))
}

fn write_case(out: &mut dyn Write, doc: &DocumentResult, classname: &str) -> io::Result<()> {
    write!(out, r#"    <testcase name="{}" classname="{}""#, attr(&doc.path), attr(classname))?;
    let others: Vec<&Finding> = doc.findings.iter().filter(|f| f.severity != Severity::Error).collect();
    if doc.findings.is_empty() {
        return writeln!(out, "/>");
    }
    writeln!(out, ">")?;
    for f in doc.findings.iter().filter(|f| f.severity == Severity::Error) {
        writeln!(
            out,
            r#"      <failure message="{}" type="{}">{}</failure>"#,
            attr(&f.message),
            attr(&f.rule),
            text(&detail(doc, f))
        )?;
    }
    if !others.is_empty() {
        let mut body = format!("{}: {}\n", doc.path, counts_phrase(&doc.counts));
        for f in others {
            body.push_str(&format!("{}[{}]: {}\n", f.severity, f.rule, f.message));
            for line in detail(doc, f).lines() {
                body.push_str("  ");
                body.push_str(line);
                body.push('\n');
            }
        }
        writeln!(out, "      <system-out>{}</system-out>", text(&body))?;
    }
    writeln!(out, "    </testcase>")
}

/// Where the finding is and what else is known: a few `key: value` lines.
fn detail(doc: &DocumentResult, f: &Finding) -> String {
    let mut s = format!("at {}", place(&doc.path, f));
    if let Some(l) = f.location.as_ref().filter(|l| !l.path.is_empty()) {
        s.push_str(&format!(" ({})", l.path));
    }
    s.push('\n');
    for (key, value) in [("record", &f.record), ("help", &f.fix), ("clause", &f.clause)] {
        if let Some(v) = value {
            s.push_str(&format!("{key}: {v}\n"));
        }
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
    use crate::report::testutil::{render_to_string, sample_report};

    #[test]
    fn parses_and_counts_failures() {
        let xml = render_to_string(&JunitRenderer, &sample_report());
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
        assert_eq!(
            failures[0].attribute("message"),
            Some("The NHS number 9434765918 fails its Modulus 11 check.")
        );
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
        let xml = render_to_string(&JunitRenderer, &r);
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
        let xml = render_to_string(&JunitRenderer, &r);
        assert!(xml.contains(r#"<testcase name="referral-2.json" classname="csc-referral"/>"#));
    }
}
