//! `caregate convert RETURN --to json` of a bulk return (the CIN census) converts it record by record as it is
//! read: the same JSON, byte for byte, and the same findings as converting the whole document, for a return
//! of any size (the read limit applies to each record, not to the return).

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use caregate_engine::convert::{self, Target};
use caregate_engine::document::Limits;
use caregate_engine::standard::Catalog;

const EXAMPLE: &str = "schemas/cin-census/2025-26/examples/valid/return.xml";

fn caregate() -> Command {
    let mut cmd = Command::cargo_bin("caregate").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

/// A generated return of `children` children, written in `dir`.
fn generate(dir: &Path, children: usize, seed: u64, invalid_rate: f64) -> PathBuf {
    let path = dir.join(format!("return-{children}-{seed}-{invalid_rate}.xml"));
    caregate()
        .args(["generate", "cin-census", "--count", &children.to_string(), "--seed", &seed.to_string()])
        .args(["--invalid-rate", &invalid_rate.to_string(), "--output"])
        .arg(&path)
        .assert()
        .success();
    path
}

/// What the whole-document conversion gives: the JSON, the finding lines as the command prints them, and
/// the exit code it gives them.
fn whole_document(path: &Path, bytes: &[u8]) -> (String, Vec<String>, i32) {
    let catalog = Catalog::embedded().unwrap();
    let limits = Limits { max_bytes: bytes.len(), ..Limits::default() };
    match convert::convert(bytes, Target::Json, None, &catalog, &limits) {
        Ok(conversion) => {
            let lines = conversion
                .findings
                .iter()
                .map(|f| {
                    let l = f.location.as_ref().unwrap();
                    format!("{}:{}:{}: {}[{}]: {}", path.display(), l.line, l.column, f.severity, f.rule, f.message)
                })
                .collect();
            (conversion.output, lines, if conversion.findings.is_empty() { 0 } else { 1 })
        }
        Err(convert::ConvertError::Unreadable(finding)) => {
            let l = finding.location.unwrap();
            (String::new(), vec![format!("{} (line {}, column {})", finding.message, l.line, l.column)], 2)
        }
        Err(e) => panic!("{e}"),
    }
}

/// The streamed conversion of the file: its JSON, its standard error's lines and its exit code. `max_bytes`
/// is set below the file's size, so that only the record-by-record conversion can read it.
fn streamed(path: &Path, max_bytes: usize) -> (String, Vec<String>, i32) {
    let out = caregate()
        .arg("convert")
        .arg(path)
        .args(["--to", "json", "--max-bytes", &max_bytes.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (String::from_utf8(out.stdout).unwrap(), stderr.lines().map(str::to_string).collect(), out.status.code().unwrap())
}

/// Converts `path` both ways and checks that the streamed conversion gives what the whole document's does.
fn assert_same_as_whole(path: &Path) -> (String, Vec<String>) {
    let bytes = std::fs::read(path).unwrap();
    let (json, findings, code) = whole_document(path, &bytes);
    assert_ne!(code, 2, "{findings:?}");
    let (streamed_json, stderr, streamed_code) = streamed(path, bytes.len() - 1);
    assert_eq!(streamed_code, code, "{stderr:?}");
    assert!(streamed_json == json, "the streamed JSON of {} differs from the whole document's", path.display());
    let (summary, printed) = stderr.split_last().unwrap();
    assert_eq!(printed, &findings[..]);
    if code == 0 {
        assert_eq!(summary, "converted as cin-census@2025-26 (round trip guaranteed)");
    } else {
        assert_eq!(
            summary,
            "converted as cin-census@2025-26, but the input does not conform: not round-trip guaranteed"
        );
    }
    (json, findings)
}

#[test]
fn generated_returns_stream_to_the_whole_documents_json() {
    let dir = tempfile::tempdir().unwrap();
    for (seed, invalid_rate) in [(3, 0.0), (11, 0.2), (2026, 0.2)] {
        let path = generate(dir.path(), 300, seed, invalid_rate);
        let (json, _) = assert_same_as_whole(&path);
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["Children"]["Child"].as_array().unwrap().len(), 300);
    }
}

#[test]
fn the_packs_example_return_streams_to_its_json() {
    let (json, findings) = assert_same_as_whole(Path::new(EXAMPLE));
    assert!(findings.is_empty());
    assert_eq!(json, std::fs::read_to_string("schemas/cin-census/2025-26/examples/valid/return.json").unwrap());
}

/// Replaces the `n`-th (0-based) occurrence of `from`.
fn replace_nth(text: &str, from: &str, to: &str, n: usize) -> String {
    let (at, _) = text.match_indices(from).nth(n).unwrap_or_else(|| panic!("no {from} #{n}"));
    format!("{}{to}{}", &text[..at], &text[at + from.len()..])
}

#[test]
fn records_the_fast_path_declines_give_the_whole_documents_findings() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 300, 5, 0.0)).unwrap();
    let text = replace_nth(&text, "<NumberOfPreviousCPP>", "<NumberOfPreviousCPP>three, not ", 4);
    let text = replace_nth(&text, "<NumberOfPreviousCPP>", "<NumberOfPreviousCPP>+", 30);
    let text = replace_nth(&text, "<NumberOfPreviousCPP>", "<NumberOfPreviousCPP>1.5", 40);
    let text = replace_nth(&text, "</Sex>", "</Sex><Nickname>Jo</Nickname>", 100);
    let text = replace_nth(&text, "<Sex>", "<Sex kind=\"legal\">", 150);
    let text = replace_nth(&text, "<Ethnicity>", "<Ethnicity><![CDATA[W]]>B&#82;", 151);
    let path = dir.path().join("faulty.xml");
    std::fs::write(&path, text).unwrap();
    let (_, findings) = assert_same_as_whole(&path);
    let mut rules: Vec<&str> =
        findings.iter().map(|f| f.split('[').nth(1).unwrap().split(']').next().unwrap()).collect();
    rules.sort_unstable();
    assert_eq!(rules, ["type", "type", "unknown-attribute", "unknown-element"], "{findings:#?}");
}

#[test]
fn blank_items_of_a_wrapped_list_are_left_out_as_the_whole_document_leaves_them() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 300, 5, 0.0)).unwrap();
    // A blank factor first, one between two, and one with a value not of its code list after a blank: each
    // record converted in one parse, the items after a blank one numbered as the tree numbers them.
    let text =
        replace_nth(&text, "<AssessmentFactors>", "<AssessmentFactors></AssessmentFactors><AssessmentFactors>", 3);
    let text =
        replace_nth(&text, "</AssessmentFactors>", "</AssessmentFactors><AssessmentFactors>  </AssessmentFactors>", 20);
    let text = replace_nth(&text, "<AssessmentFactors>", "<AssessmentFactors/><AssessmentFactors>", 40);
    let path = dir.path().join("blank-items.xml");
    std::fs::write(&path, text).unwrap();
    assert_same_as_whole(&path);
}

#[test]
fn the_parts_outside_the_records_convert_and_report_as_in_the_whole_document() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 40, 8, 0.0)).unwrap();
    let cases = [
        ("stray text and a comment before the first record", text.replacen("<Children>", "<Children>oops<!-- first -->", 1)),
        ("a misspelt header element", text.replacen("<Source>", "<Sourse/><Source>", 1)),
        ("an attribute on the document element", text.replacen("<Message>", "<Message version=\"1\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:noNamespaceSchemaLocation=\"cin.xsd\">", 1)),
        ("an unknown element after the records", text.replacen("</Children>", "</Children>\n  <Footer>end</Footer>", 1)),
        ("text between records", replace_nth(&text, "<Child>", "between <Child>", 20)),
        ("a record in another namespace", replace_nth(&text, "<Child>", "<Child xmlns=\"urn:elsewhere\">", 10)),
        ("no records", text[..text.find("<Children>").unwrap()].to_string() + "<Children/>\n</Message>\n"),
        ("no record container", text[..text.find("<Children>").unwrap()].to_string() + "</Message>\n"),
        ("a byte order mark and CRLF line ends", format!("\u{feff}{}", text.replace('\n', "\r\n"))),
    ];
    for (what, text) in cases {
        let path = dir.path().join("frame.xml");
        std::fs::write(&path, &text).unwrap();
        let bytes = text.as_bytes();
        let (json, findings, code) = whole_document(&path, bytes);
        let (streamed_json, stderr, streamed_code) = streamed(&path, bytes.len().min(20_000));
        assert_eq!((streamed_code, &stderr[..stderr.len() - 1]), (code, &findings[..]), "{what}");
        assert!(streamed_json == json, "{what}: the JSON differs:\n{streamed_json}");
    }
}

#[test]
fn a_header_after_the_records_follows_them_with_the_same_value() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 30, 9, 0.0)).unwrap();
    let (start, end) = (text.find("<Header>").unwrap(), text.find("</Header>").unwrap() + "</Header>".len());
    let header = &text[start..end];
    let moved =
        format!("{}{}", &text[..start], &text[end..]).replacen("</Children>", &format!("</Children>{header}"), 1);
    let path = dir.path().join("late-header.xml");
    std::fs::write(&path, &moved).unwrap();
    let (json, findings, code) = whole_document(&path, moved.as_bytes());
    assert_eq!(code, 1);
    assert!(findings.iter().any(|f| f.contains("error[element-order]")), "{findings:?}");
    let (streamed_json, stderr, streamed_code) = streamed(&path, 20_000);
    assert_eq!((streamed_code, &stderr[..stderr.len() - 1]), (code, &findings[..]));
    let value: serde_json::Value = serde_json::from_str(&streamed_json).unwrap();
    assert_eq!(value, serde_json::from_str::<serde_json::Value>(&json).unwrap());
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["Children", "Header"], "written where it stands: after the records");
}

#[test]
fn records_of_a_repeated_container_are_all_written() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 20, 10, 0.0)).unwrap();
    let split = replace_nth(&text, "<Child>", "</Children><Children><Child>", 12);
    let path = dir.path().join("two-containers.xml");
    std::fs::write(&path, &split).unwrap();
    let (json, findings, code) = whole_document(&path, split.as_bytes());
    let (streamed_json, stderr, streamed_code) = streamed(&path, 20_000);
    assert_eq!((streamed_code, &stderr[..stderr.len() - 1]), (code, &findings[..]));
    assert!(findings.len() == 1 && findings[0].contains("error[duplicate-element]"), "{findings:?}");
    let children = |json: &str| {
        serde_json::from_str::<serde_json::Value>(json).unwrap()["Children"]["Child"].as_array().unwrap().len()
    };
    assert_eq!(
        (children(&json), children(&streamed_json)),
        (12, 20),
        "the whole document's conversion drops the second"
    );
}

#[test]
fn standard_input_streams_as_a_file_does() {
    let bytes = std::fs::read(EXAMPLE).unwrap();
    let (json, _, _) = whole_document(Path::new("-"), &bytes);
    let out =
        caregate().args(["convert", "-", "--to", "json", "--max-bytes", "4000"]).write_stdin(bytes).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8(out.stdout).unwrap() == json);
}

#[test]
fn the_output_file_appears_only_when_the_conversion_is_complete() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 200, 4, 0.0)).unwrap();
    let out_path = dir.path().join("out.json");
    let path = dir.path().join("return.xml");
    std::fs::write(&path, &text).unwrap();
    caregate()
        .arg("convert")
        .arg(&path)
        .args(["--to", "json", "--max-bytes", "50000", "-o"])
        .arg(&out_path)
        .assert()
        .code(0);
    let bytes = text.as_bytes();
    assert!(std::fs::read_to_string(&out_path).unwrap() == whole_document(&path, bytes).0);

    // An undeclared entity deep in the file: found where the whole document's parse finds it.
    std::fs::remove_file(&out_path).unwrap();
    let broken = replace_nth(&text, "<LAchildID>", "<LAchildID>&nbsp;", 150);
    std::fs::write(&path, &broken).unwrap();
    let (_, refusal, code) = whole_document(&path, broken.as_bytes());
    assert_eq!(code, 2);
    let out = caregate()
        .arg("convert")
        .arg(&path)
        .args(["--to", "json", "--max-bytes", "50000", "-o"])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains(&refusal[0]), "{stderr}\nexpected: {}", refusal[0]);
    assert!(!out_path.exists(), "no partial output under the name asked for");
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 2, "nor under another name: {names:?}");

    // A mismatched end tag: refused, and the JSON on standard output says it is incomplete.
    let broken = replace_nth(&text, "</LAchildID>", "</LAchildId>", 120);
    std::fs::write(&path, &broken).unwrap();
    let out = caregate().arg("convert").arg(&path).args(["--to", "json", "--max-bytes", "50000"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("`</LAchildId>` closes `<LAchildID>`") && stderr.contains("incomplete"), "{stderr}");
}

#[test]
fn a_refusal_outside_the_records_is_located_as_in_the_whole_document() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(generate(dir.path(), 30, 13, 0.0)).unwrap();
    let path = dir.path().join("refused.xml");
    for broken in [
        text.replacen("<Year>", "<Year>&bogus;", 1),
        text.replacen("</Children>", "</Children>\n  <Footer>\n    &bogus;</Footer>", 1),
        replace_nth(&text, "<Child>", "&bogus;<Child>", 17),
    ] {
        std::fs::write(&path, &broken).unwrap();
        let (_, refusal, code) = whole_document(&path, broken.as_bytes());
        assert_eq!(code, 2);
        let (_, stderr, streamed_code) = streamed(&path, 20_000);
        assert_eq!(streamed_code, 2);
        assert!(stderr.iter().any(|line| line.contains(&refusal[0])), "{stderr:?}\nexpected: {}", refusal[0]);
    }
}

#[test]
fn the_read_limit_applies_to_each_record() {
    let out = caregate().args(["convert", EXAMPLE, "--to", "json", "--max-bytes", "600"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("larger than 600 bytes"), "{stderr}");
}

#[test]
fn a_json_return_over_the_limit_is_refused_saying_it_is_read_whole() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("return.json");
    caregate()
        .arg("convert")
        .arg(generate(dir.path(), 100, 6, 0.0))
        .args(["--to", "json", "-o"])
        .arg(&json_path)
        .assert()
        .code(0);
    let size = std::fs::metadata(&json_path).unwrap().len();
    let out = caregate()
        .arg("convert")
        .arg(&json_path)
        .args(["--to", "xml", "--max-bytes", &(size / 2).to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("JSON is read whole") && stderr.contains("--max-bytes"), "{stderr}");
    caregate().arg("convert").arg(&json_path).args(["--to", "xml"]).assert().code(0);
}

/// The highest resident set size (VmHWM, in KiB) the command reaches, read from /proc while it runs.
#[cfg(target_os = "linux")]
fn peak_memory_kib(mut command: std::process::Command) -> (u64, std::process::ExitStatus) {
    let mut child = command.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak = peak.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_return_over_the_read_limit_converts_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let convert = |path: &Path| {
        let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("caregate"));
        command.arg("convert").arg(path).args(["--to", "json", "-o"]).arg(dir.path().join("out.json"));
        let (peak, status) = peak_memory_kib(command);
        assert!(status.success());
        peak
    };
    let small = convert(&generate(dir.path(), 300, 12, 0.0));
    let big_return = generate(dir.path(), 8_000, 12, 0.0);
    let size = std::fs::metadata(&big_return).unwrap().len();
    assert!(size > Limits::default().max_bytes as u64, "{size} bytes: over the default read limit");
    let big = convert(&big_return);
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("out.json")).unwrap()).unwrap();
    assert_eq!(json["Children"]["Child"].as_array().unwrap().len(), 8_000);
    // Reading the whole return would hold its 11 MB and its 20 MB of JSON at least.
    assert!(big < small + 20 * 1024, "peak memory {big} KiB for {size} bytes, {small} KiB for 300 children");
}
