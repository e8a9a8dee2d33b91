//! The JSON contract: the [`Report`] exactly as its serde attributes say, pretty-printed, ending in a
//! newline. Other tools read this; its shape is decided in `model.rs` and `finding.rs`, not here.

use std::io::{self, Write};

use super::model::Report;
use super::Renderer;

#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl Renderer for JsonRenderer {
    fn render(&self, report: &Report, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::from)?;
        out.write_all(b"\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{render_to_string, sample_report};

    #[test]
    fn round_trips_and_keeps_the_contract() {
        let report = sample_report();
        let text = render_to_string(&JsonRenderer, &report);
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
}
