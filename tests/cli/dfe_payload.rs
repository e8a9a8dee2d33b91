//! A DfE CSC API payload (a JSON array of children, or JSON Lines) validated child by child: a bad child gives
//! its findings, located in the file and named by its `la_child_id`, and the children after it are still
//! checked.

use assert_cmd::Command;
use serde_json::{json, Value};

const NOW: &str = "2026-11-20T10:00:00Z";
const CHILD: &str = "schemas/dfe-csc-api/1.0.1/examples/valid/child.json";

/// Three children as one JSON line each; the second born on a date that does not exist and of a sex no
/// census list has.
fn children() -> Vec<String> {
    let child: Value = serde_json::from_str(&std::fs::read_to_string(CHILD).unwrap()).unwrap();
    (0..3)
        .map(|i| {
            let mut c = child.clone();
            c["la_child_id"] = json!(format!("C{i}"));
            if i == 1 {
                c["child_details"]["date_of_birth"] = json!("2016-02-30");
                c["child_details"]["sex"] = json!("X");
            }
            serde_json::to_string(&c).unwrap()
        })
        .collect()
}

fn report(file: &std::path::Path) -> (Option<i32>, Value) {
    let out = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--now", NOW, "--standard", "dfe-csc-api", "--format", "json"])
        .arg(file)
        .output()
        .unwrap();
    (out.status.code(), serde_json::from_slice(&out.stdout).unwrap())
}

fn findings(report: &Value) -> Vec<String> {
    report["documents"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {}:{}",
                f["record"].as_str().unwrap_or("-"),
                f["rule"].as_str().unwrap(),
                f["severity"].as_str().unwrap(),
                f["location"]["line"],
                f["location"]["column"]
            )
        })
        .collect()
}

#[test]
fn json_lines_are_checked_child_by_child() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("extract.jsonl");
    std::fs::write(&file, children().join("\n") + "\n").unwrap();
    let (code, report) = report(&file);
    assert_eq!(code, Some(1));
    assert_eq!(report["documents"][0]["records"], 3);
    let line = &children()[1];
    let dob = line.find("2016-02-30").unwrap(); // the value's first character, after its opening quote
    let sex = line.find("\"X\"").unwrap() + 1;
    assert_eq!(findings(&report), [format!("C1 format error 2:{dob}"), format!("C1 CSC-C01 warning 2:{sex}")]);
}

#[test]
fn an_array_is_checked_child_by_child() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.json");
    std::fs::write(&file, format!("[\n{}\n]\n", children().join(",\n"))).unwrap();
    let (code, report) = report(&file);
    assert_eq!(code, Some(1));
    assert_eq!(report["documents"][0]["records"], 3);
    let line = &children()[1];
    let dob = line.find("2016-02-30").unwrap();
    assert_eq!(findings(&report)[0], format!("C1 format error 3:{dob}"));
}

#[test]
fn a_payload_of_good_children_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.json");
    let good: Vec<String> = children().into_iter().enumerate().filter(|(i, _)| *i != 1).map(|(_, c)| c).collect();
    std::fs::write(&file, format!("[{}]", good.join(","))).unwrap();
    let (code, report) = report(&file);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["documents"][0]["records"], 2);
}

#[test]
fn a_fault_between_children_is_located_and_the_rest_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("payload.json");
    let c = children();
    std::fs::write(&file, format!("[{}\n{}]", c[0], c[2])).unwrap();
    let (code, report) = report(&file);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&report), ["- payload error 2:1"]);
    assert_eq!(report["documents"][0]["records"], 2);
}
