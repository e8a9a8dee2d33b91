//! Hostile and broken input, through the real binary: each is refused with one located finding and a clear
//! rule code, before any other work; nothing panics.

use std::io::Write as _;

use assert_cmd::Command;
use serde_json::Value;

fn validate(bytes: &[u8], extra: &[&str]) -> (i32, Value) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(bytes).unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--format", "json"])
        .args(extra)
        .arg(file.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap_or(-1), report)
}

/// The only finding of the only document: its rule, line and column.
fn only_finding(report: &Value) -> (String, u64, u64) {
    let findings = report["documents"][0]["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "expected one finding, got {findings:#?}");
    let f = &findings[0];
    (
        f["rule"].as_str().unwrap().to_string(),
        f["location"]["line"].as_u64().unwrap_or(0),
        f["location"]["column"].as_u64().unwrap_or(0),
    )
}

/// The policy itself is tested against every reader in the engine (`document::hostile`); here, what a user of
/// the command sees: exit status 1 and one finding at the DOCTYPE, nothing expanded.
#[test]
fn a_doctype_is_refused_at_its_place_and_nothing_is_expanded() {
    let mut laughs = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 { "lol".to_string() } else { format!("lol{}", i - 1) };
        laughs.push_str(&format!(" <!ENTITY lol{i} \"{}\">\n", format!("&{prev};").repeat(10)));
    }
    laughs.push_str("]>\n<Referral xmlns=\"urn:caregate:referral:1\">&lol9;</Referral>\n");
    let external = "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<Referral xmlns=\"urn:caregate:referral:1\">&xxe;</Referral>";
    for xml in [laughs.as_str(), external] {
        let (code, report) = validate(xml.as_bytes(), &[]);
        assert_eq!(code, 1);
        assert_eq!(only_finding(&report), ("xml-doctype".into(), 2, 1));
        assert!(!report.to_string().contains("root:") && !report.to_string().contains("lollol"), "expanded");
    }
}

#[test]
fn ten_thousand_deep_xml_and_json_are_refused() {
    let xml = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
    let (code, report) = validate(xml.as_bytes(), &[]);
    assert_eq!(code, 1);
    let (rule, line, column) = only_finding(&report);
    assert_eq!(rule, "too-deep");
    assert_eq!((line, column), (1, 3 * 64 + 1), "the first element past the 64th level");
    let json = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (code, report) = validate(json.as_bytes(), &[]);
    assert_eq!(code, 1);
    assert_eq!(only_finding(&report).0, "too-deep");
}

#[test]
fn depth_limit_is_configurable() {
    let xml = format!("{}{}", "<a>".repeat(10), "</a>".repeat(10));
    let (_, report) = validate(xml.as_bytes(), &["--max-depth", "5"]);
    assert_eq!(only_finding(&report).0, "too-deep");
}

#[test]
fn a_depth_limit_past_what_can_be_checked_is_refused() {
    let deepest = format!("{}{}", "<a>".repeat(256), "</a>".repeat(256));
    let (_, report) = validate(deepest.as_bytes(), &["--max-depth", "256"]);
    assert_eq!(only_finding(&report).0, "unknown-standard", "256 levels are read");
    for depth in ["257", "100000", "0"] {
        let output = Command::cargo_bin("caregate")
            .unwrap()
            .args(["validate", "--max-depth", depth, "-"])
            .write_stdin("<a/>")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("must be from 1 to 256 levels, not {depth}")), "{stderr}");
    }
}

#[test]
fn a_100_mb_input_is_refused_unread() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    let chunk = vec![b' '; 1 << 20];
    file.write_all(b"<Referral xmlns=\"urn:caregate:referral:1\">").unwrap();
    for _ in 0..100 {
        file.write_all(&chunk).unwrap();
    }
    file.write_all(b"</Referral>").unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--format", "json"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(only_finding(&report).0, "input-too-large");
    let size = file.as_file().metadata().unwrap().len();
    assert_eq!(
        report["documents"][0]["findings"][0]["message"],
        format!("The file is {size} bytes, which is more than the 10485760 bytes accepted; it was refused unread.")
    );
}

#[test]
fn a_100_mb_input_on_standard_input_is_refused_too() {
    let mut input = b"{\"child\": \"".to_vec();
    input.resize(100 * 1024 * 1024, b'x');
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["validate", "--format", "json", "-"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(only_finding(&report).0, "input-too-large");
    // Reading stopped past the limit: its size is not known.
    assert_eq!(
        report["documents"][0]["findings"][0]["message"],
        "The file is more than the 10485760 bytes accepted; it was refused unread."
    );
}

#[test]
fn convert_refuses_a_file_over_the_limit_with_its_size() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(format!("{{\"a\": \"{}\"}}", "x".repeat(150)).as_bytes()).unwrap();
    let output = Command::cargo_bin("caregate")
        .unwrap()
        .args(["convert", "--to", "xml", "--max-bytes", "100"])
        .arg(file.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("The file is 159 bytes, which is more than the 100 bytes accepted"), "{stderr}");
}

#[test]
fn invalid_utf8_is_located_at_the_bad_byte() {
    let mut bytes = b"<Referral xmlns=\"urn:caregate:referral:1\">\n  <Child>caf".to_vec();
    bytes.push(0xFF);
    bytes.extend_from_slice(b"</Child>\n</Referral>");
    let (code, report) = validate(&bytes, &[]);
    assert_eq!(code, 1);
    assert_eq!(only_finding(&report), ("invalid-utf8".into(), 2, 13));
}

#[test]
fn undeclared_entity_and_broken_documents_are_located() {
    let (_, report) = validate(b"<Referral xmlns=\"urn:caregate:referral:1\">\n &nbsp;</Referral>", &[]);
    assert_eq!(only_finding(&report).0, "xml-undeclared-entity");
    let (_, report) = validate(b"<Referral xmlns=\"urn:caregate:referral:1\">\n  <Child>\n</Referral>", &[]);
    let (rule, line, _) = only_finding(&report);
    assert_eq!((rule.as_str(), line), ("xml-not-well-formed", 3));
    let (_, report) = validate(b"{\"child\": {\"sex\": \"F\",}}", &["--standard", "referral"]);
    assert_eq!(only_finding(&report).0, "json-not-well-formed");
    let (_, report) = validate(b"{\"child\": 1, \"child\": 2}", &["--standard", "referral"]);
    assert_eq!(only_finding(&report).0, "json-duplicate-key");
}

#[test]
fn garbage_is_neither_xml_nor_json() {
    let (code, report) = validate(b"\x00\x01binary", &[]);
    assert_eq!(code, 1);
    assert_eq!(only_finding(&report).0, "unknown-format");
}
