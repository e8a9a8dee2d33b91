//! One CSV row a finding, for spreadsheets: RFC 4180 (comma-separated, fields quoted when they hold a comma,
//! a quote or a line break, CRLF line ends), UTF-8, written as the findings come.
//!
//! The header is always `file,rule,severity,record,line,column,path,message,fix`: `file` is the document's
//! path (there even with one document, so that every report has the same columns); `record` the record's
//! key, or for a finding about a whole return the keys of the records behind it, separated by spaces;
//! `line` and `column` are empty where the finding has no place in the file; `path` is the XPath or JSON
//! Pointer of the field.
//!
//! Data officers open this in Excel, where a cell that starts with `=`, `+`, `-` or `@` (or a tab or carriage
//! return) is taken as a formula: such a cell is written with a leading `'`, which Excel shows as text.

use std::borrow::Cow;
use std::io::{self, Write};

use super::ReportWriter;
use crate::finding::Finding;
use crate::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};

/// The columns, in order.
pub const HEADER: [&str; 9] = ["file", "rule", "severity", "record", "line", "column", "path", "message", "fix"];

/// Writes one row a finding; see the module documentation.
pub struct CsvWriter<'a> {
    csv: ::csv::Writer<Box<dyn Write + 'a>>,
    path: String,
}

impl<'a> CsvWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>) -> Self {
        let csv = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(out);
        CsvWriter { csv, path: String::new() }
    }
}

impl ReportWriter for CsvWriter<'_> {
    fn begin_run(&mut self, _tool: &Tool, _standard: Option<&StandardRef>) -> io::Result<()> {
        self.csv.write_record(HEADER).map_err(io::Error::from)
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.path = d.path.to_string();
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        let record = match &f.record {
            Some(record) => Cow::Borrowed(record.as_str()),
            None => Cow::Owned(f.records.join(" ")),
        };
        let (line, column, path) = match &f.location {
            Some(l) => (
                if l.line > 0 { l.line.to_string() } else { String::new() },
                if l.line > 0 && l.column > 0 { l.column.to_string() } else { String::new() },
                l.path.as_str(),
            ),
            None => (String::new(), String::new(), ""),
        };
        let row = [
            cell(&self.path),
            cell(&f.rule),
            Cow::Borrowed(f.severity.as_str()),
            cell(&record),
            Cow::Owned(line),
            Cow::Owned(column),
            cell(path),
            cell(&f.message),
            cell(f.fix.as_deref().unwrap_or_default()),
        ];
        self.csv.write_record(row.iter().map(|c| c.as_bytes())).map_err(io::Error::from)
    }

    fn end_document(&mut self, _end: &DocumentEnd) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, _rules: &[RuleInfo]) -> io::Result<()> {
        self.csv.flush()
    }
}

/// `text` as a cell a spreadsheet shows as text: a leading `'` where it would otherwise start a formula.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{render, sample_report};
    use crate::report::OutputFormat;

    fn rows(text: &str) -> Vec<Vec<String>> {
        let mut reader = ::csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
        reader.records().map(|r| r.expect("a CSV record").iter().map(String::from).collect()).collect()
    }

    #[test]
    fn one_row_a_finding_under_the_header() {
        let text = render(OutputFormat::Csv, &sample_report());
        assert!(text.starts_with("file,rule,severity,record,line,column,path,message,fix\r\n"));
        let rows = rows(&text);
        assert_eq!(rows[0], HEADER);
        assert_eq!(rows.len(), 1 + 5);
        assert_eq!(
            rows[1],
            [
                "referral.xml",
                "REF-005",
                "error",
                "C-1042",
                "12",
                "18",
                "/Referral/Child/NhsNumber",
                "The NHS number 9434765918 fails its Modulus 11 check.",
                "Check the number against the child's NHS record and correct the typing.",
            ]
        );
        // No location: empty line, column and path.
        assert_eq!(rows[3][1..7], ["required", "error", "", "", "", ""]);
        // Quotes and commas are quoted as RFC 4180 says, and read back whole.
        assert_eq!(rows[5][0], "referral-2.json");
        assert_eq!(rows[5][7], "Free text contains <script>alert(\"x\")</script> & more.");
        assert!(text.contains("\"Free text contains <script>alert(\"\"x\"\")</script> & more.\""));
    }

    #[test]
    fn formulas_are_defused_and_records_listed() {
        let mut report = sample_report();
        report.documents[0].path = "=HYPERLINK(\"http://x\")".into();
        report.documents[0].findings[0].message = "+1 more, \"quoted\"\nnext line".into();
        report.documents[0].findings[0].record = Some("-2".into());
        report.documents[0].findings[1].record = Some("@SUM(A1)".into());
        report.documents[0].findings[2].records = vec!["A1".into(), "A2".into(), "A3".into()];
        report.documents[1].findings[0].message = "\tTab".into();
        let rows = rows(&render(OutputFormat::Csv, &report));
        assert_eq!(rows[1][0], "'=HYPERLINK(\"http://x\")");
        assert_eq!(rows[1][3], "'-2");
        assert_eq!(rows[1][7], "'+1 more, \"quoted\"\nnext line");
        assert_eq!(rows[2][3], "'@SUM(A1)");
        assert_eq!(rows[3][3], "A1 A2 A3");
        assert_eq!(rows[5][7], "'\tTab");
        // Numbers and ordinary text are left alone.
        assert_eq!(rows[1][4], "12");
        assert_eq!(cell("Caf\u{e9} = shop"), "Caf\u{e9} = shop");
    }

    #[test]
    fn no_findings_is_the_header_alone() {
        let mut report = sample_report();
        for d in &mut report.documents {
            d.findings.clear();
        }
        assert_eq!(render(OutputFormat::Csv, &report), format!("{}\r\n", HEADER.join(",")));
    }
}
