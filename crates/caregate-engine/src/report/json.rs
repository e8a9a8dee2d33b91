//! The JSON contract: a [`Report`] exactly as its serde attributes say, pretty-printed, ending in a newline.
//! Other tools read this; its shape is decided in `model.rs` and `finding.rs`, not here.
//!
//! Written as the run goes: the run's members before the documents as soon as the run begins; each finding
//! as it comes, into a spool, since a document's `valid` and `counts` come before its `findings` and are
//! known only at its end. The text is the same, byte for byte, as serde's pretty printing of the whole
//! [`Report`] (tested below).

use std::io::{self, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::spool::Spool;
use super::ReportWriter;
use crate::finding::Finding;
use crate::model::{DocumentEnd, DocumentResult, DocumentStart, Report, RuleInfo, StandardRef, Tool};

/// Indentation of one nesting level in serde_json's pretty printing.
const INDENT: &str = "  ";

/// Writes the JSON report as a run goes; see the module documentation.
pub struct JsonWriter<'a> {
    out: Box<dyn Write + 'a>,
    /// The run's text after its documents (`]` excluded), once the run has begun.
    run_tail: String,
    documents: usize,
    /// The document being written: its start, as owned values.
    document: Option<(String, String, Option<StandardRef>)>,
    findings: usize,
    spool: Spool,
}

impl<'a> JsonWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>, spool_dir: Option<PathBuf>) -> Self {
        JsonWriter {
            out,
            run_tail: String::new(),
            documents: 0,
            document: None,
            findings: 0,
            spool: Spool::new(spool_dir),
        }
    }
}

impl ReportWriter for JsonWriter<'_> {
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()> {
        let run = Report { tool: tool.clone(), standard: standard.cloned(), documents: Vec::new(), rules: Vec::new() };
        let (head, tail) = split_at_array(&pretty(&run, 0)?, "documents", 1)?;
        self.out.write_all(head.as_bytes())?;
        self.run_tail = tail;
        Ok(())
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.document = Some((d.path.to_string(), d.format.to_string(), d.standard.cloned()));
        self.findings = 0;
        Ok(())
    }

    fn finding(&mut self, finding: &Finding) -> io::Result<()> {
        let text = pretty(finding, 4)?;
        let sep = if self.findings == 0 { "\n" } else { ",\n" };
        let mut spooled = self.spool.group(0);
        write!(spooled, "{sep}{}{text}", INDENT.repeat(4))?;
        self.findings += 1;
        Ok(())
    }

    fn end_document(&mut self, end: &DocumentEnd) -> io::Result<()> {
        let (path, format, standard) = self.document.take().unwrap_or_default();
        let doc = DocumentResult {
            path,
            format,
            valid: end.valid,
            counts: end.counts,
            findings: Vec::new(),
            standard,
            records: end.records,
        };
        let (head, tail) = split_at_array(&pretty(&doc, 2)?, "findings", 3)?;
        let sep = if self.documents == 0 { "\n" } else { ",\n" };
        write!(self.out, "{sep}{}{head}", INDENT.repeat(2))?;
        self.spool.drain(0, &mut self.out)?;
        if self.findings > 0 {
            write!(self.out, "\n{}", INDENT.repeat(3))?;
        }
        write!(self.out, "]{tail}")?;
        self.documents += 1;
        Ok(())
    }

    fn finish(&mut self, _rules: &[RuleInfo]) -> io::Result<()> {
        if self.documents > 0 {
            write!(self.out, "\n{INDENT}")?;
        }
        writeln!(self.out, "]{}", self.run_tail)?;
        self.out.flush()
    }
}

/// `value` pretty-printed as serde_json does, as if nested `depth` levels deep (every line after the first
/// indented by that much).
pub(crate) fn pretty<T: Serialize + ?Sized>(value: &T, depth: usize) -> io::Result<String> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::from)?;
    if depth == 0 {
        return Ok(text);
    }
    // A string in JSON text has its line breaks escaped: every raw one is between two values.
    Ok(text.replace('\n', &format!("\n{}", INDENT.repeat(depth))))
}

/// Cuts pretty JSON text at the empty array member `key`, written at `depth` levels of indentation: the text
/// up to and including its `[`, and the text after its `]`.
pub(crate) fn split_at_array(text: &str, key: &str, depth: usize) -> io::Result<(String, String)> {
    let member = format!("\n{}\"{key}\": []", INDENT.repeat(depth));
    let at = text
        .find(&member)
        .ok_or_else(|| io::Error::other(format!("the report has no `{key}` member to write into")))?;
    let open = at + member.len() - 1;
    Ok((text[..open].to_string(), text[open + 1..].to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::report::testutil::{render, sample_report};
    use crate::report::OutputFormat;

    /// The contract: serde's pretty printing of the whole report.
    fn serde_text(report: &Report) -> String {
        let mut text = serde_json::to_string_pretty(report).unwrap();
        text.push('\n');
        text
    }

    #[test]
    fn round_trips_and_keeps_the_contract() {
        let report = sample_report();
        let text = render(OutputFormat::Json, &report);
        assert!(text.ends_with("}\n"));

        let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let keys: Vec<&str> = value.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(keys, ["tool", "standard", "documents"]);
        let doc = &value["documents"][0];
        let doc_keys: Vec<&str> = doc.as_object().expect("object").keys().map(String::as_str).collect();
        assert_eq!(doc_keys, ["path", "format", "valid", "counts", "findings"]);
        assert_eq!(doc["counts"], serde_json::json!({"error": 3, "query": 1, "warning": 0}));
        assert_eq!(value["standard"]["id"], "csc-referral");
        assert_eq!(doc["findings"][0]["severity"], "error");
        assert_eq!(doc["findings"][0]["location"]["line"], 12);
        assert!(doc["findings"][0]["location"].get("span").is_none());
        assert!(doc["findings"][0].get("excerpt").is_none());

        // What is not in the contract (excerpts, spans, rule metadata) does not come back.
        let back: Report = serde_json::from_str(&text).expect("deserialises");
        let mut expected = report.clone();
        expected.rules.clear();
        for f in expected.documents.iter_mut().flat_map(|d| d.findings.iter_mut()) {
            f.excerpt = None;
            if let Some(l) = &mut f.location {
                l.span = None;
            }
        }
        assert_eq!(back, expected);
    }

    #[test]
    fn written_as_it_goes_it_is_serdes_text_byte_for_byte() {
        let report = sample_report();
        assert_eq!(render(OutputFormat::Json, &report), serde_text(&report));

        // Every optional part: no standard, a document without findings, per-document standards and
        // records, records behind a return-level finding, no documents at all.
        let mut varied = report.clone();
        varied.standard = None;
        varied.documents[1].findings.clear();
        varied.documents[1].counts = Default::default();
        varied.documents[0].standard = report.standard.clone();
        varied.documents[0].records = Some(4213);
        varied.documents[0].findings[2].records = vec!["C-1".into(), "C-\"2\"\n".into()];
        varied.documents[0].findings[1].severity = Severity::Warning;
        assert_eq!(render(OutputFormat::Json, &varied), serde_text(&varied));

        let mut empty = report.clone();
        empty.documents.clear();
        assert_eq!(render(OutputFormat::Json, &empty), serde_text(&empty));
    }

    #[test]
    fn large_documents_spool_and_still_match() {
        let mut report = sample_report();
        let template = report.documents[0].findings[0].clone();
        report.documents[0].findings =
            (0..20_000).map(|i| Finding { message: format!("finding {i}"), ..template.clone() }).collect();
        report.documents[0].counts = crate::finding::Counts::of(&report.documents[0].findings);
        assert_eq!(render(OutputFormat::Json, &report), serde_text(&report));
    }

    #[test]
    fn split_needs_the_member() {
        let (head, tail) = split_at_array("{\n  \"a\": [],\n  \"b\": 1\n}", "a", 1).unwrap();
        assert_eq!(head, "{\n  \"a\": [");
        assert_eq!(tail, ",\n  \"b\": 1\n}");
        assert!(split_at_array("{\n  \"a\": [1]\n}", "a", 1).is_err());
    }
}
