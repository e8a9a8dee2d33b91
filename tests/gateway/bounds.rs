//! Bounds: what one message can make the gateway hold and answer. The real `caregate serve` on a random port is
//! sent a minified envelope (one line of about 500 KB) with thousands of findings: the refusal lists the first
//! 100 of them with the count of all, and the server's peak memory stays far from the size of a finding times
//! the length of the line (which it reached when every finding carried its whole line as an excerpt).

use crate::common;

use std::process::Command;

use caregate_gateway::problem::MAX_FINDINGS;
use common::{serve, write_demo_config};
use serde_json::{json, Value};

const FULL: &str = include_str!("../../schemas/envelope/1.0/examples/valid/full.json");

/// The most the gateway may hold at its peak, in KiB, having answered the envelope below. A debug build holds
/// about 95 MB once started and about 127 MB at its peak after this envelope; when every finding carried its
/// whole line and a refusal listed every finding, the same envelope took it to 1.7 GB (and a 1.5 MB answer).
const PEAK_KIB: u64 = 256 * 1024;

/// The shipped referral from 201 to RJ1, its household grown to at least `bytes` of JSON on one line with
/// members whose relationship is no code of the standard's (one `enum` error each), none of them with parental
/// responsibility. Returns the text and the number of members.
fn one_line_envelope(bytes: usize) -> (String, usize) {
    let mut envelope: Value = serde_json::from_str(FULL).expect("example parses");
    envelope["sender"]["organisation"] = "201".into();
    envelope["recipients"] = json!([{"organisation": "RJ1", "role": "health"}]);
    let member = json!({
        "name": {"given": ["Claire"], "family": "Samplechild"},
        "relationship": "neighbour",
        "dateOfBirth": "1988-05-21",
        "parentalResponsibility": false,
        "livesWithChild": true
    });
    envelope["body"]["household"] = json!([]);
    let base = envelope.to_string().len();
    // Each member and the comma before it.
    let members = bytes.saturating_sub(base).div_ceil(member.to_string().len() + 1);
    envelope["body"]["household"] = Value::Array(vec![member; members]);
    let text = envelope.to_string();
    assert!(!text.contains('\n') && text.len() >= bytes, "{} bytes", text.len());
    (text, members)
}

/// The peak resident memory of a process, in KiB (`VmHWM` in /proc/PID/status).
#[cfg(target_os = "linux")]
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process's status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in kB")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_line_envelope_with_thousands_of_findings_gets_a_bounded_refusal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = write_demo_config(dir.path(), "bounds", |_| {});
    let (mut gateway, address) = serve(&config, &dir.path().join("data"));
    let (envelope, members) = one_line_envelope(500 * 1024);
    assert!(members > 3000, "{members} members");

    let response = reqwest::Client::new()
        .post(format!("http://{address}/v1/messages"))
        .bearer_auth("bounds-201")
        .header("content-type", "application/json")
        .body(envelope)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), reqwest::StatusCode::UNPROCESSABLE_ENTITY);
    let problem: Value = response.json().await.expect("problem+json");
    #[cfg(target_os = "linux")]
    let peak = peak_kib(gateway.id());
    gateway.kill().expect("stops");
    gateway.wait().expect("reaped");

    // (a) The first 100 findings, in document order, and the count of them all.
    let findings = problem["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), MAX_FINDINGS);
    for (i, finding) in findings.iter().enumerate() {
        assert_eq!(finding["rule"], "enum", "{finding}");
        assert_eq!(finding["location"]["pointer"], format!("/body/household/{i}/relationship"));
        assert_eq!(finding["location"]["line"], 1);
    }
    // One error a member, and the household's one query: no one in it has parental responsibility (REF-010).
    assert_eq!(problem["total"], members + 1);
    assert_eq!(problem["counts"], json!({"error": members, "query": 1, "warning": 0}));
    assert_eq!(
        problem["detail"],
        format!(
            "The message was refused: {members} error findings. The first 100 of {} findings are listed.",
            members + 1
        )
    );

    // (b) The gateway's peak memory does not grow with findings times the line.
    #[cfg(target_os = "linux")]
    assert!(peak < PEAK_KIB, "the gateway's peak resident memory was {peak} KiB");
}

#[test]
fn config_check_refuses_limits_that_could_crash_the_gateway() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write_demo_config(dir.path(), "bounds", |config| {
        config.limits.max_depth = 100_000;
        config.limits.rate_per_second = 1e-300;
        config.limits.burst = f64::NAN;
    });
    let output =
        Command::new(env!("CARGO_BIN_EXE_caregate")).args(["config", "check"]).arg(&path).output().expect("runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for expected in [
        "limits.max_depth must be from 1 to 256 levels, not 100000",
        "limits.rate_per_second must be a number of messages a second of at least 1/86400 (one a day), not 1e-300",
        "limits.burst must be a number of messages of at least 1, not NaN",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
}
