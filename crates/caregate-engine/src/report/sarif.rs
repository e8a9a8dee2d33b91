//! SARIF 2.1.0 for code-scanning tools: one run, a rule table with one entry per distinct rule id
//! found, and one result per finding with its physical (file, line, column) and logical (XPath or
//! JSON Pointer) location.
//!
//! The rule table comes before the results and is complete only at the end: results are spooled as the
//! findings come (each knows its rule's index, given in order of first appearance) and copied after it.

use std::io::{self, Write};
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::json::{pretty, split_at_array};
use super::spool::Spool;
use super::{rule_info, ReportWriter, RuleTally};
use crate::finding::{Finding, Severity};
use crate::model::{DocumentEnd, DocumentStart, RuleInfo, StandardRef, Tool};

pub const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// How deep a result sits in the log: `runs[0].results[i]`.
const RESULT_DEPTH: usize = 4;

/// Writes a SARIF log; see the module documentation.
pub struct SarifWriter<'a> {
    out: Box<dyn Write + 'a>,
    tool: Tool,
    standard: Option<StandardRef>,
    rules: RuleTally,
    path: String,
    results: Spool,
    count: usize,
}

impl<'a> SarifWriter<'a> {
    pub fn new(out: Box<dyn Write + 'a>, spool_dir: Option<PathBuf>) -> Self {
        SarifWriter {
            out,
            tool: Tool { name: String::new(), version: String::new() },
            standard: None,
            rules: RuleTally::default(),
            path: String::new(),
            results: Spool::new(spool_dir),
            count: 0,
        }
    }
}

impl ReportWriter for SarifWriter<'_> {
    fn begin_run(&mut self, tool: &Tool, standard: Option<&StandardRef>) -> io::Result<()> {
        self.tool = tool.clone();
        self.standard = standard.cloned();
        Ok(())
    }

    fn begin_document(&mut self, d: &DocumentStart<'_>) -> io::Result<()> {
        self.path = d.path.to_string();
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        let rule_index = self.rules.add(f);
        let text = pretty(&result(&self.path, f, rule_index), RESULT_DEPTH)?;
        let sep = if self.count == 0 { "\n" } else { ",\n" };
        write!(self.results.group(0), "{sep}{}{text}", "  ".repeat(RESULT_DEPTH))?;
        self.count += 1;
        Ok(())
    }

    fn end_document(&mut self, _end: &DocumentEnd) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, infos: &[RuleInfo]) -> io::Result<()> {
        let rules: Vec<Value> =
            self.rules.rules.iter().map(|r| rule(&r.rule, rule_info(infos, &r.rule), r.fix.as_deref())).collect();
        let (head, tail) = split_at_array(&pretty(&log(&self.tool, self.standard.as_ref(), rules), 0)?, "results", 3)?;
        self.out.write_all(head.as_bytes())?;
        self.results.drain(0, &mut self.out)?;
        if self.count > 0 {
            write!(self.out, "\n{}", "  ".repeat(RESULT_DEPTH - 1))?;
        }
        writeln!(self.out, "]{tail}")?;
        self.out.flush()
    }
}

/// SARIF's level for a severity: a query asks for a look (warning), a warning informs (note).
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Query => "warning",
        Severity::Warning => "note",
    }
}

/// The SARIF log with its rule table and no results.
fn log(tool: &Tool, standard: Option<&StandardRef>, rules: Vec<Value>) -> Value {
    let mut driver = Map::new();
    driver.insert("name".into(), json!(tool.name));
    driver.insert("version".into(), json!(tool.version));
    driver.insert("rules".into(), Value::Array(rules));

    let mut run = Map::new();
    run.insert("tool".into(), json!({ "driver": driver }));
    run.insert("columnKind".into(), json!("unicodeCodePoints"));
    run.insert("results".into(), Value::Array(Vec::new()));
    if let Some(s) = standard {
        run.insert(
            "properties".into(),
            json!({ "standard": { "id": s.id, "version": s.version, "digest": s.digest } }),
        );
    }

    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [Value::Object(run)],
    })
}

fn rule(id: &str, info: Option<&RuleInfo>, fix: Option<&str>) -> Value {
    let mut r = Map::new();
    r.insert("id".into(), json!(id));
    if let Some(info) = info {
        r.insert("shortDescription".into(), json!({ "text": info.description }));
        let full = match &info.clause {
            Some(clause) => format!("{} Clause: {clause}.", info.description),
            None => info.description.clone(),
        };
        r.insert("fullDescription".into(), json!({ "text": full }));
        r.insert("defaultConfiguration".into(), json!({ "level": level(info.severity) }));
        if let Some(clause) = &info.clause {
            r.insert("properties".into(), json!({ "clause": clause }));
        }
    }
    if let Some(help) = info.and_then(|i| i.help.as_deref()).or(fix) {
        r.insert("help".into(), json!({ "text": help }));
    }
    Value::Object(r)
}

fn result(path: &str, f: &Finding, rule_index: usize) -> Value {
    let mut r = Map::new();
    r.insert("ruleId".into(), json!(f.rule));
    r.insert("ruleIndex".into(), json!(rule_index));
    r.insert("level".into(), json!(level(f.severity)));
    r.insert("message".into(), json!({ "text": f.message }));

    let mut location = Map::new();
    let mut physical = Map::new();
    physical.insert("artifactLocation".into(), json!({ "uri": path_to_uri(path) }));
    if let Some(l) = &f.location {
        let mut region = Map::new();
        if l.line > 0 {
            region.insert("startLine".into(), json!(l.line));
            if l.column > 0 {
                region.insert("startColumn".into(), json!(l.column));
            }
        }
        if let Some(span) = l.span {
            region.insert("byteOffset".into(), json!(span.start));
            region.insert("byteLength".into(), json!(span.end.saturating_sub(span.start)));
        }
        if !region.is_empty() {
            physical.insert("region".into(), Value::Object(region));
        }
        if !l.path.is_empty() {
            location.insert("logicalLocations".into(), json!([{ "fullyQualifiedName": l.path }]));
        }
    }
    location.insert("physicalLocation".into(), Value::Object(physical));
    r.insert("locations".into(), json!([Value::Object(location)]));

    let mut fingerprint = format!("{}|{}", f.rule, path);
    if let Some(l) = &f.location {
        fingerprint.push('|');
        fingerprint.push_str(&l.path);
    }
    if let Some(record) = &f.record {
        fingerprint.push('|');
        fingerprint.push_str(record);
    }
    r.insert("partialFingerprints".into(), json!({ "caregateLocation/v1": fingerprint }));

    let mut props = Map::new();
    for (key, value) in [("record", &f.record), ("clause", &f.clause), ("fix", &f.fix)] {
        if let Some(v) = value {
            props.insert(key.into(), json!(v));
        }
    }
    if let Some(pointer) = f.location.as_ref().and_then(|l| l.pointer.as_ref()) {
        props.insert("pointer".into(), json!(pointer));
    }
    if !f.records.is_empty() {
        props.insert("records".into(), json!(f.records));
    }
    props.insert("severity".into(), json!(f.severity.as_str()));
    r.insert("properties".into(), Value::Object(props));
    Value::Object(r)
}

/// A file path as a relative URI reference: forward slashes, and characters a URI cannot hold
/// percent-encoded. Standard input (`-`) stays `-`.
pub fn path_to_uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    // A drive letter (`C:`) would read as a URI scheme; `/C:/…` is a path.
    let drive = bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':';
    if drive {
        out.push('/');
    }
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(b as char),
            b':' if drive && i == 1 => out.push(':'),
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b'@' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testutil::{render, sample_report};
    use crate::report::OutputFormat;

    fn log() -> Value {
        let text = render(OutputFormat::Sarif, &sample_report());
        serde_json::from_str(&text).expect("SARIF is JSON")
    }

    #[test]
    fn top_level_and_driver() {
        let v = log();
        assert_eq!(v["$schema"], SCHEMA);
        assert_eq!(v["version"], "2.1.0");
        let runs = v["runs"].as_array().expect("runs");
        assert_eq!(runs.len(), 1);
        let driver = &runs[0]["tool"]["driver"];
        assert_eq!(driver["name"], "caregate");
        assert_eq!(driver["version"], "0.1.0");
        let ids: Vec<&str> =
            driver["rules"].as_array().expect("rules").iter().filter_map(|r| r["id"].as_str()).collect();
        assert_eq!(ids, ["REF-005", "REF-010", "required", "REF-099"]);
        assert_eq!(
            driver["rules"][0]["shortDescription"]["text"],
            "An NHS number must pass its Modulus 11 check digit."
        );
        assert_eq!(driver["rules"][0]["help"]["text"], "Re-key the NHS number from the child's health record.");
        assert_eq!(driver["rules"][0]["defaultConfiguration"]["level"], "error");
        assert_eq!(driver["rules"][2], json!({ "id": "required" }));
        // Without rule metadata, a finding's fix still gives the rule its help text.
        let mut r = sample_report();
        r.rules.clear();
        let bare: Value = serde_json::from_str(&render(OutputFormat::Sarif, &r)).expect("SARIF is JSON");
        assert_eq!(
            bare["runs"][0]["tool"]["driver"]["rules"][0],
            json!({ "id": "REF-005", "help": { "text": "Check the number against the child's NHS record and correct the typing." } })
        );
    }

    #[test]
    fn results_levels_indexes_and_locations() {
        let v = log();
        let results = v["runs"][0]["results"].as_array().expect("results");
        assert_eq!(results.len(), 5);
        let rules = v["runs"][0]["tool"]["driver"]["rules"].as_array().expect("rules");
        for r in results {
            let i = r["ruleIndex"].as_u64().expect("index") as usize;
            assert_eq!(rules[i]["id"], r["ruleId"]);
        }
        let levels: Vec<&str> = results.iter().filter_map(|r| r["level"].as_str()).collect();
        assert_eq!(levels, ["error", "warning", "error", "error", "note"]);

        let first = &results[0];
        assert_eq!(first["ruleIndex"], 0);
        assert_eq!(first["message"]["text"], "The NHS number 9434765918 fails its Modulus 11 check.");
        let loc = &first["locations"][0];
        assert_eq!(loc["physicalLocation"]["artifactLocation"]["uri"], "referral.xml");
        assert_eq!(loc["physicalLocation"]["region"]["startLine"], 12);
        assert_eq!(loc["physicalLocation"]["region"]["startColumn"], 18);
        assert_eq!(loc["logicalLocations"][0]["fullyQualifiedName"], "/Referral/Child/NhsNumber");
        assert_eq!(first["properties"]["record"], "C-1042");

        // No location: the artifact alone, no region.
        let missing = &results[2];
        assert_eq!(missing["ruleIndex"], 2);
        assert!(missing["locations"][0]["physicalLocation"].get("region").is_none());
        assert!(missing["locations"][0].get("logicalLocations").is_none());
        assert_eq!(results[4]["ruleIndex"], 3);
        assert_eq!(results[4]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "referral-2.json");
    }

    #[test]
    fn written_as_it_goes_it_is_pretty_json_throughout() {
        let mut r = sample_report();
        r.documents[0].findings[2].records = vec!["A1".into(), "A2".into()];
        let text = render(OutputFormat::Sarif, &r);
        let value: Value = serde_json::from_str(&text).expect("SARIF is JSON");
        assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&value).unwrap()));
        assert_eq!(value["runs"][0]["results"][2]["properties"]["records"], json!(["A1", "A2"]));

        for d in &mut r.documents {
            d.findings.clear();
        }
        r.standard = None;
        let text = render(OutputFormat::Sarif, &r);
        let value: Value = serde_json::from_str(&text).expect("SARIF is JSON");
        assert_eq!(text, format!("{}\n", serde_json::to_string_pretty(&value).unwrap()));
        assert_eq!(value["runs"][0]["results"], json!([]));
        assert_eq!(value["runs"][0]["tool"]["driver"]["rules"], json!([]));
    }

    #[test]
    fn uris() {
        assert_eq!(path_to_uri("dir/referral.xml"), "dir/referral.xml");
        assert_eq!(path_to_uri("my files\\a#1.xml"), "my%20files/a%231.xml");
        assert_eq!(path_to_uri("C:\\data\\r.xml"), "/C:/data/r.xml");
        assert_eq!(path_to_uri("\u{e9}.xml"), "%C3%A9.xml");
        assert_eq!(path_to_uri("-"), "-");
    }
}
