//! `caregate send dfe-csc-api` against the DfE stand-in (`caregate dfe-double`), both the real binary: every
//! valid child delivered once acknowledged, refused children reported, deltas, purges, faults retried, access
//! refused, the retry budget, batches split, and a sender killed with SIGKILL that loses no child.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const CHILD: &str = "schemas/dfe-csc-api/1.0.1/examples/valid/child.json";

/// The stand-in, killed when dropped.
struct Double {
    child: Child,
    address: String,
}

impl Drop for Double {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn double(args: &[&str]) -> Double {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["dfe-double", "--listen", "127.0.0.1:0"])
        .args(if args.contains(&"--retry-after") { &[][..] } else { &["--retry-after", "0"][..] })
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the stand-in starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("a line").expect("readable");
    let address = first.rsplit("http://").next().expect("an address").trim().to_string();
    std::thread::spawn(move || for _ in lines {});
    Double { child, address }
}

impl Double {
    /// What the stand-in holds and saw.
    fn state(&self) -> Value {
        let (_, body) = http(&self.address, "GET /_double/state", &[], "");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"))
    }

    /// The digest the stand-in holds for each child of council 201.
    fn held(&self) -> std::collections::BTreeMap<String, String> {
        let state = self.state();
        state["held"]["201"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
            .unwrap_or_default()
    }
}

/// One HTTP/1.1 request (`request` is its method and path), answered and the connection closed: the status
/// line and the body.
fn http(address: &str, request: &str, headers: &[(&str, &str)], body: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(address).expect("connects");
    let mut head = format!("{request} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    write!(stream, "{head}Content-Length: {}\r\n\r\n{body}", body.len()).expect("asks");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("reads");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().next().unwrap_or_default().to_string(), body.to_string())
}

/// A folder with the secrets and a configuration of `[store]` and `[outbound.dfe-csc-api]` alone.
fn setup(double: &Double, supplier_key: &str, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a folder");
    std::fs::write(dir.path().join("secret"), "caregate-test-secret\n").expect("writes");
    std::fs::write(dir.path().join("key"), format!("{supplier_key}\n")).expect("writes");
    let config = format!(
        "[store]\ndata = \"{data}\"\n\n[outbound.dfe-csc-api]\nla_code = 201\n\
         endpoint = \"http://{a}/children-in-social-care-data-receiver/1\"\n\
         token_url = \"http://{a}/oauth2/v2.0/token\"\nclient_id = \"caregate-test\"\n\
         client_secret_file = \"{dir}/secret\"\nsupplier_key_file = \"{dir}/key\"\nbase_delay_ms = 5\nmax_delay_ms = 50\n{extra}\n",
        data = dir.path().join("data").display(),
        a = double.address,
        dir = dir.path().display(),
    );
    std::fs::write(dir.path().join("caregate.toml"), config).expect("writes");
    dir
}

/// `count` children (`C0`, `C1`, …), as values.
fn children(count: usize) -> Vec<Value> {
    let child: Value = serde_json::from_str(&std::fs::read_to_string(CHILD).expect("reads")).expect("JSON");
    (0..count)
        .map(|i| {
            let mut c = child.clone();
            c["la_child_id"] = json!(format!("C{i}"));
            c["child_details"]["first_name"] = json!(format!("Name{i}"));
            c
        })
        .collect()
}

fn write_extract(dir: &Path, name: &str, records: &[Value]) -> PathBuf {
    let path = dir.join(name);
    let text: String = records.iter().map(|r| serde_json::to_string(r).expect("JSON") + "\n").collect();
    std::fs::write(&path, text).expect("writes");
    path
}

fn send_command(dir: &Path, extract: &Path, format: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caregate"));
    command.args(["send", "dfe-csc-api", "--format", format, "--config"]).arg(dir.join("caregate.toml")).arg(extract);
    command
}

/// Runs a send to its end: its exit code and its JSON report.
fn send(dir: &Path, extract: &Path) -> (i32, Value) {
    let out = send_command(dir, extract, "json").output().expect("runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), report)
}

fn digests(records: &[Value]) -> std::collections::BTreeMap<String, String> {
    records
        .iter()
        .map(|c| (c["la_child_id"].as_str().unwrap_or_default().to_string(), caregate_engine::digest::json(c)))
        .collect()
}

#[test]
fn every_valid_child_is_delivered_and_a_bad_one_refused_where_it_is() {
    let double = double(&[]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let mut records = children(250);
    records[7]["child_details"]["date_of_birth"] = json!("2016-02-30");
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["sent"], 249);
    assert_eq!(report["batches"], 3);
    assert_eq!(report["receipts"].as_array().map(Vec::len), Some(3));
    let refused = &report["refused"][0];
    assert_eq!(refused["la_child_id"], "C7");
    assert_eq!(refused["by"], "validation");
    assert_eq!((refused["line"].as_u64(), refused["findings"][0]["rule"].as_str()), (Some(8), Some("format")));
    assert_eq!(refused["findings"][0]["location"]["line"], 8);
    let mut expected = digests(&records);
    expected.remove("C7");
    assert_eq!(double.held(), expected);
    let state = double.state();
    assert!(state["seen"]["largest_batch"].as_u64() <= Some(100), "{state}");
    // The audit chain holds each batch and receipt, and the refusal, and is intact.
    let audit = Command::new(env!("CARGO_BIN_EXE_caregate"))
        .args(["audit", "verify", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&audit.stdout).trim(), "OK: 7 audit entries, chain intact");
}

/// A refusal is stored with the work the intake commits; one a stopped run stored but did not audit is audited
/// by the next run, once.
#[test]
fn a_refusal_stored_but_not_audited_is_audited_by_the_next_run() {
    let double = double(&[]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let mut records = children(20);
    records[7]["child_details"]["date_of_birth"] = json!("2016-02-30");
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 1, "{report}");
    let data = dir.path().join("data");
    let verify = || {
        let out = Command::new(env!("CARGO_BIN_EXE_caregate")).args(["audit", "verify", "--data"]).arg(&data).output();
        String::from_utf8_lossy(&out.expect("runs").stdout).trim().to_string()
    };
    // One batch (its attempt and receipt) and the refusal; nothing waits in the outbox for an entry.
    assert_eq!(verify(), "OK: 3 audit entries, chain intact");
    let outbox = rusqlite::Connection::open(data.join("outbound-dfe-csc-api.sqlite")).unwrap();
    let pending = |outbox: &rusqlite::Connection| -> i64 {
        outbox.query_row("SELECT count(*) FROM refusals", [], |r| r.get(0)).unwrap()
    };
    assert_eq!(pending(&outbox), 0);
    // As if a run had stored a refusal and been stopped before writing its entry.
    outbox
        .execute(
            "INSERT INTO refusals (la_code, digest, detail, at) VALUES (201, 'sha256:x', 'validation format', '2026-12-04T10:00:00Z')",
            [],
        )
        .unwrap();
    let (code, again) = send(dir.path(), &extract);
    assert_eq!((code, again["sent"].as_u64()), (1, Some(0)), "{again}");
    // The stored refusal and this run's own refusal of the same bad child.
    assert_eq!(verify(), "OK: 5 audit entries, chain intact");
    assert_eq!(pending(&outbox), 0);
}

#[test]
fn a_receipt_stored_but_not_audited_is_audited_by_the_next_run() {
    let double = double(&[]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let mut records = children(120);
    records[4] = json!({"la_child_id": "C4", "purge": true});
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 0, "{report}");
    let verify = || {
        let out = Command::new(env!("CARGO_BIN_EXE_caregate"))
            .args(["audit", "verify", "--data"])
            .arg(dir.path().join("data"))
            .output()
            .expect("runs");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Two batches (each attempt and receipt audited) and the purge.
    assert_eq!(verify(), "OK: 5 audit entries, chain intact");
    // As if the run had been stopped after DfE's first receipt was stored and before its entries were written.
    let outbox = rusqlite::Connection::open(dir.path().join("data/outbound-dfe-csc-api.sqlite")).unwrap();
    let first = report["receipts"][0]["receipt"].as_str().unwrap().to_string();
    assert_eq!(outbox.execute("UPDATE receipts SET audited = 0 WHERE receipt = ?1", [&first]).unwrap(), 1);
    drop(outbox);
    let (code, again) = send(dir.path(), &extract);
    assert_eq!((code, again["sent"].as_u64()), (0, Some(0)), "{again}");
    // The receipt and the purge it carried are written again, and only once.
    assert_eq!(verify(), "OK: 7 audit entries, chain intact");
    let (_, once_more) = send(dir.path(), &extract);
    assert_eq!(once_more["sent"], 0);
    assert_eq!(verify(), "OK: 7 audit entries, chain intact");
}

#[test]
fn a_second_run_sends_only_what_changed_and_the_purges() {
    let double = double(&[]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let mut records = children(120);
    let first = write_extract(dir.path(), "day1.jsonl", &records);
    assert_eq!(send(dir.path(), &first).0, 0);
    // The next day: C3 changed, C5 to be purged, C9 missing (not purged on that account).
    records[3]["child_details"]["surname"] = json!("Changed");
    records[5] = json!({"la_child_id": "C5", "purge": true});
    records.remove(9);
    let second = write_extract(dir.path(), "day2.jsonl", &records);
    let (code, report) = send(dir.path(), &second);
    assert_eq!(code, 0, "{report}");
    assert_eq!((report["sent"].as_u64(), report["purged"].as_u64()), (Some(1), Some(1)));
    assert_eq!(report["unchanged"], 117);
    let held = double.held();
    assert!(!held.contains_key("C5") && held.contains_key("C9"));
    assert_eq!(held["C3"], caregate_engine::digest::json(&records[3]));
    // A third run of the same extract sends nothing: the purge too was acknowledged.
    let (code, report) = send(dir.path(), &second);
    assert_eq!((code, report["sent"].as_u64(), report["purged"].as_u64()), (0, Some(0), Some(0)));
    assert_eq!(report["unchanged"], 119);
}

#[test]
fn faults_are_retried_and_the_token_renewed_and_nothing_is_lost() {
    let double = double(&["--faults", "429,500,lost,401,ok,lost,429"]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let records = children(300);
    let extract = write_extract(dir.path(), "extract.json", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["sent"], 300);
    // 429, 500, lost, lost, 429: retried; the 401 renews the token without counting as a retry.
    assert_eq!(report["retries"], 5);
    assert_eq!(double.held(), digests(&records));
    let state = double.state();
    assert_eq!(state["seen"]["tokens_issued"], 2);
    // The two batches whose answers were lost were stored, and stored again when resent.
    assert_eq!(state["seen"]["repeated"], 200);
}

#[test]
fn access_refused_stops_the_run_and_keeps_the_children_waiting() {
    let double = double(&[]);
    let dir = setup(&double, "not-the-supplier", "");
    let extract = write_extract(dir.path(), "extract.jsonl", &children(10));
    let out = send_command(dir.path(), &extract, "human").output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("DfE refused access (403): check the SupplierKey"), "{text}");
    assert!(text.contains("10 children wait in the outbox"), "{text}");
    assert!(double.held().is_empty());
}

#[test]
fn when_the_retry_budget_runs_out_the_next_run_finishes() {
    let double = double(&["--faults", "500,500,500"]);
    let dir = setup(&double, "caregate-test-supplier", "max_retries = 2");
    let records = children(150);
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 2, "{report}");
    assert!(report["stopped"].as_str().is_some_and(|s| s.contains("retry budget ran out")), "{report}");
    assert_eq!(report["waiting"], 150);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 0, "{report}");
    assert_eq!((report["sent"].as_u64(), report["waiting"].as_u64()), (Some(150), Some(0)));
    assert_eq!(double.held(), digests(&records));
}

#[test]
fn a_413_splits_the_batch() {
    let double = double(&["--max-items", "30"]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let records = children(100);
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 0, "{report}");
    // 100 → 50 + 50 → four of 25.
    assert_eq!(report["batches"], 4);
    assert_eq!(double.held(), digests(&records));
    assert_eq!(double.state()["seen"]["statuses"]["413"], 3);
}

#[test]
fn a_sender_killed_at_any_point_loses_no_child() {
    // Every other request waits a second (429, Retry-After: 1), so that each run is killed mid-way.
    let double = double(&["--faults", "ok,429", "--cycle", "--retry-after", "1"]);
    let dir = setup(&double, "caregate-test-supplier", "");
    let records = children(1000);
    let extract = write_extract(dir.path(), "extract.jsonl", &records);
    for after in [300u64, 1300, 2600] {
        let mut run = send_command(dir.path(), &extract, "json")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("runs");
        std::thread::sleep(Duration::from_millis(after));
        run.kill().expect("SIGKILL");
        run.wait().expect("reaped");
    }
    let partial = double.held().len();
    assert!(partial < 1000, "the runs were not killed mid-way ({partial} delivered)");
    let (code, report) = send(dir.path(), &extract);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["waiting"], 0);
    assert_eq!(double.held(), digests(&records));
    // Nothing acknowledged was sent again, but what was in flight at a kill.
    let state = double.state();
    assert!(state["seen"]["repeated"].as_u64() <= Some(300), "{state}");
}

#[test]
fn config_check_explains_a_bad_section() {
    let dir = tempfile::tempdir().expect("a folder");
    let config = dir.path().join("caregate.toml");
    std::fs::write(
        &config,
        "[outbound.dfe-csc-api]\nla_code = 2010\nendpoint = \"ftp://x\"\ntoken_url = \"https://login.example/t\"\n\
         client_id = \"\"\nclient_secret_file = \"/no/such/secret\"\nsupplier_key_file = \"/no/such/key\"\nbatch_size = 101\n",
    )
    .expect("writes");
    let out =
        Command::new(env!("CARGO_BIN_EXE_caregate")).args(["config", "check"]).arg(&config).output().expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    for said in [
        "la_code 2010 is not a DfE local authority code (from 0 to 999)",
        "batch_size must be from 1 to 100, not 101",
        "endpoint `ftp://x` is not an http or https URL",
        "client_id is empty",
        "client_secret_file: cannot read /no/such/secret",
        "supplier_key_file: cannot read /no/such/key",
    ] {
        assert!(text.contains(said), "{said} not in:\n{text}");
    }
}

#[test]
fn the_gateway_delivers_a_message_to_dfe_by_the_same_route() {
    let double = double(&["--faults", "500"]);
    let dir = setup(&double, "caregate-test-supplier", "");
    // The gateway: council 201 may send dfe-csc-api messages to DfE, delivered by [outbound.dfe-csc-api].
    let token_hash = caregate_engine::digest::sha256(b"token-of-201");
    let config = std::fs::read_to_string(dir.path().join("caregate.toml")).expect("reads");
    let config = format!(
        "listen = \"127.0.0.1:0\"\n[delivery]\nbase_delay_ms = 10\nmax_delay_ms = 50\n\
         [[organisations]]\ncode = \"201\"\nname = \"A council\"\nrole = \"social-care\"\n\
         [[organisations]]\ncode = \"DFE\"\nname = \"Department for Education\"\nrole = \"other\"\ndelivery = \"dfe-csc-api\"\n\
         [[senders]]\norganisation = \"201\"\ntoken_hash = \"{token_hash}\"\nstandards = [\"dfe-csc-api@1.0.1\"]\nrecipients = [\"DFE\"]\n{config}"
    );
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, config).expect("writes");
    let check =
        Command::new(env!("CARGO_BIN_EXE_caregate")).args(["config", "check"]).arg(&path).output().expect("runs");
    assert_eq!(check.status.code(), Some(0), "{}", String::from_utf8_lossy(&check.stdout));
    let (mut gateway, address) = crate::common::serve(&path, &dir.path().join("data"));
    let child = children(1).remove(0);
    let envelope = json!({
        "messageId": "0b9e6f6a-2d51-4c8e-9f0a-6a3c1d2e4b58",
        "created": "2026-11-20T09:30:00Z",
        "standard": "dfe-csc-api@1.0.1",
        "sender": {"organisation": "201", "system": "case-system/1.0"},
        "recipients": [{"organisation": "DFE", "role": "other"}],
        "protectiveMarking": "OFFICIAL-SENSITIVE",
        "legalBasis": {"consent": "not-sought", "statute": ["CA2004-S11"], "reason": "The CSC data collection."},
        "urgency": "routine",
        "body": child,
    });
    let body = serde_json::to_string(&envelope).expect("JSON");
    let headers = [("Authorization", "Bearer token-of-201"), ("Content-Type", "application/json")];
    let (status, answer) = http(&address, "POST /v1/messages", &headers, &body);
    assert_eq!(status, "HTTP/1.1 202 Accepted", "{answer}");
    // The first push is answered 500, the next delivers: DfE then holds the child.
    let mut held = Default::default();
    for _ in 0..100 {
        held = double.held();
        if !held.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A send on the gateway's data folder while the gateway runs is refused: the audit chain has one writer.
    let extract = write_extract(dir.path(), "extract.jsonl", &children(2));
    let refused = send_command(dir.path(), &extract, "json").output().expect("runs");
    let _ = gateway.kill();
    let _ = gateway.wait();
    assert_eq!(held, digests(&[child]));
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is in use by another caregate"));
    // Once the gateway has stopped, the send runs.
    assert_eq!(send(dir.path(), &extract).0, 0);
}

/// A token from the stand-in's token endpoint.
fn token(double: &Double) -> String {
    let body = "grant_type=client_credentials&client_id=caregate-test&client_secret=caregate-test-secret";
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let (_, text) = http(&double.address, "POST /oauth2/v2.0/token", &headers, body);
    let answer: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    answer["access_token"].as_str().expect("a token").to_string()
}

#[test]
fn the_stand_in_is_certified_a_conformant_receiver_of_the_suite() {
    let double = double(&[]);
    let token = token(&double);
    let reports = tempfile::tempdir().expect("a folder");
    let certify = |key: &str| {
        Command::new(env!("CARGO_BIN_EXE_caregate"))
            .args(["certify", "receiver", "--standard", "dfe-csc-api", "--endpoint"])
            .arg(format!("http://{}/children_social_care_data/201/children", double.address))
            .args(["--token", &token, "--header", &format!("SupplierKey={key}"), "--output"])
            .arg(reports.path())
            .output()
            .expect("runs")
    };
    let out = certify("caregate-test-supplier");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("CONFORMANT") && text.contains("cases: 33/33 passed"), "{text}");
    // Without the supplier's key every child is refused (403): not conformant.
    let out = certify("someone-else");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
}
