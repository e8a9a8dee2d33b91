//! Gateway protocol certification (`caregate certify gateway`): checks any implementation of the gateway
//! protocol — caregate's own included — over HTTP: authentication refusals, who may send as whom, redactions
//! only from the gateway, idempotency, the mailbox, and problem responses. Each check is one case of the
//! evidence, named after the requirement of the envelope suite it verifies (`verified-by = "certify gateway"`).
//!
//! Not for: receivers of push delivery (`receiver`).

use std::time::Duration;

use serde_json::{json, Value};

use super::evidence::{CaseResult, Evidence, Input, Kind, Subject};
use super::suite::Suite;
use super::waiver::Waiver;
use super::ConformanceError;
use caregate_engine::standard::Catalog;

/// The requirement ids the checks verify.
pub const CHECKS: [&str; 10] = [
    "GW-AUTH-01",
    "GW-AUTH-02",
    "GW-AUTH-03",
    "GW-SEC-01",
    "GW-IDEM-01",
    "GW-IDEM-02",
    "GW-MBX-01",
    "GW-MBX-02",
    "GW-PROB-01",
    "GW-PROB-02",
];

/// Whether a check verifies requirement `id`.
pub fn verifies(id: &str) -> bool {
    CHECKS.contains(&id)
}

/// The gateway under test.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    /// A sending organisation's token, and that organisation.
    pub token: String,
    pub sender: String,
    pub recipient: String,
    pub role: String,
    pub recipient_token: Option<String>,
    pub supplier: String,
}

struct Reply {
    status: u16,
    problem: bool,
    body: Value,
}

struct Probe<'a> {
    client: reqwest::Client,
    target: &'a Target,
}

impl Probe<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.target.url.trim_end_matches('/'))
    }
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        content_type: Option<&str>,
        key: Option<&str>,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, String> {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(|e| format!("no answer: {e}"))?;
        let status = response.status().as_u16();
        let problem = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/problem+json"));
        let bytes = response.bytes().await.unwrap_or_default();
        Ok(Reply { status, problem, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null) })
    }
    async fn post(
        &self,
        token: Option<&str>,
        content_type: &str,
        key: Option<&str>,
        body: &Value,
    ) -> Result<Reply, String> {
        self.send(
            reqwest::Method::POST,
            "/v1/messages",
            token,
            Some(content_type),
            key,
            Some(serde_json::to_vec_pretty(body).unwrap_or_default()),
        )
        .await
    }
}

/// A conformant envelope from the target's sender to its recipient, from the envelope pack's minimal example.
fn message(envelope: &Suite, target: &Target) -> Result<Value, ConformanceError> {
    let bytes =
        envelope.pack.files.files.get("examples/valid/minimal.json").ok_or_else(|| ConformanceError::Suite {
            suite: envelope.reference(),
            message: "the pack has no examples/valid/minimal.json".into(),
        })?;
    let mut value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ConformanceError::Suite { suite: envelope.reference(), message: e.to_string() })?;
    value["messageId"] = json!(uuid::Uuid::new_v4().to_string());
    value["created"] = json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    value["sender"]["organisation"] = json!(target.sender);
    value["recipients"] = json!([{"organisation": target.recipient, "role": target.role}]);
    Ok(value)
}

fn fresh(mut value: Value) -> Value {
    value["messageId"] = json!(uuid::Uuid::new_v4().to_string());
    value
}

fn check(id: &str, title: &str, expected: &str, outcome: Result<(String, Vec<String>), String>) -> CaseResult {
    let (observed, problems) = match outcome {
        Ok(found) => found,
        Err(problem) => ("no answer".to_string(), vec![problem]),
    };
    CaseResult {
        id: id.to_string(),
        title: Some(title.to_string()),
        document: "HTTP exchange".into(),
        sha256: String::new(),
        requirements: vec![id.to_string()],
        expected: expected.to_string(),
        observed,
        passed: problems.is_empty(),
        problems,
        excerpt: None,
        diffs: Vec::new(),
    }
}

fn expect_status(reply: &Reply, wanted: u16, problem: bool) -> (String, Vec<String>) {
    let mut problems = Vec::new();
    if reply.status != wanted {
        problems.push(format!("answered {} instead of {wanted}", reply.status));
    }
    if problem && !reply.problem {
        problems.push("the refusal is not application/problem+json".into());
    }
    (format!("{}{}", reply.status, if reply.problem { " problem+json" } else { "" }), problems)
}

/// Runs every check against the gateway.
pub async fn certify(
    envelope: &Suite,
    catalog: &Catalog,
    target: &Target,
    waivers: &[Waiver],
) -> Result<Evidence, ConformanceError> {
    let _ = catalog;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| ConformanceError::Http(e.to_string()))?;
    let probe = Probe { client, target };
    let base = message(envelope, target)?;
    let token = Some(target.token.as_str());
    let mut cases = Vec::new();
    let inputs = vec![Input {
        name: "message (from envelope 1.0 examples/valid/minimal.json)".into(),
        sha256: caregate_engine::digest::sha256(base.to_string().as_bytes()),
    }];

    let r =
        probe.post(None, "application/json", None, &fresh(base.clone())).await.map(|r| expect_status(&r, 401, true));
    cases.push(check("GW-AUTH-01", "A message without a bearer token", "401 problem+json", r));
    let wrong = format!("not-a-token-{}", uuid::Uuid::new_v4());
    let r = probe
        .post(Some(&wrong), "application/json", None, &fresh(base.clone()))
        .await
        .map(|r| expect_status(&r, 401, true));
    cases.push(check("GW-AUTH-02", "A message with an unknown bearer token", "401 problem+json", r));
    let mut other = fresh(base.clone());
    other["sender"]["organisation"] = json!(if target.sender == "ZZZ99" { "ZZZ98" } else { "ZZZ99" });
    let r = probe.post(token, "application/json", None, &other).await.map(|r| expect_status(&r, 403, true));
    cases.push(check("GW-AUTH-03", "An envelope naming another organisation as its sender", "403 problem+json", r));
    let mut redacted = fresh(base.clone());
    redacted["redactions"] = json!([{"path": "/body/child/address", "reason": "need-to-know"}]);
    let r = probe.post(token, "application/json", None, &redacted).await.map(|r| {
        let (observed, mut problems) = expect_status(&r, r.status, true);
        if !(400..500).contains(&r.status) {
            problems.push(format!("answered {} instead of refusing (4xx)", r.status));
        }
        (observed, problems)
    });
    cases.push(check("GW-SEC-01", "An envelope that carries redactions from its sender", "4xx problem+json", r));
    let mut broken = fresh(base.clone());
    broken["legalBasis"] = json!({"consent": "not-sought"});
    let r = probe.post(token, "application/json", None, &broken).await.map(|r| {
        let (observed, mut problems) = expect_status(&r, 422, true);
        let named = r
            .body
            .get("findings")
            .and_then(Value::as_array)
            .is_some_and(|f| f.iter().any(|f| f.get("rule").and_then(Value::as_str) == Some("ENV-001")));
        if !named {
            problems.push("the problem's findings do not name ENV-001".into());
        }
        (observed, problems)
    });
    cases.push(check(
        "GW-PROB-01",
        "An envelope sharing without consent and without a reason (breaks ENV-001)",
        "422 problem+json naming ENV-001",
        r,
    ));
    let r = probe
        .send(reqwest::Method::POST, "/v1/messages", token, Some("text/plain"), None, Some(b"hello".to_vec()))
        .await
        .map(|r| expect_status(&r, 415, true));
    cases.push(check("GW-PROB-02", "A body sent as text/plain", "415 problem+json", r));

    let first = fresh(base.clone());
    let key = first["messageId"].as_str().unwrap_or_default().to_string();
    let mut accepted_id = None;
    let r = async {
        let one = probe.post(token, "application/json", Some(&key), &first).await?;
        let two = probe.post(token, "application/json", Some(&key), &first).await?;
        let mut problems = Vec::new();
        if !(200..300).contains(&one.status) {
            problems.push(format!(
                "the first sending was answered {} ({})",
                one.status,
                one.body.get("detail").and_then(Value::as_str).unwrap_or("")
            ));
        }
        if !(200..300).contains(&two.status) {
            problems.push(format!("the repeat was answered {}", two.status));
        }
        let (a, b) = (one.body.get("id").cloned(), two.body.get("id").cloned());
        if a.is_none() || a != b {
            problems.push(format!(
                "the repeat's answer names message {} but the first named {}",
                b.unwrap_or(Value::Null),
                a.clone().unwrap_or(Value::Null)
            ));
        }
        accepted_id = a.and_then(|v| v.as_str().map(String::from));
        Ok::<_, String>((format!("{} then {}", one.status, two.status), problems))
    }
    .await;
    cases.push(check(
        "GW-IDEM-01",
        "The same message sent twice with one Idempotency-Key",
        "2xx twice, naming the same message",
        r,
    ));
    let r = probe
        .post(token, "application/json", Some(&key), &fresh(first.clone()))
        .await
        .map(|r| expect_status(&r, 409, true));
    cases.push(check("GW-IDEM-02", "A different message under a used Idempotency-Key", "409 problem+json", r));
    let r = probe
        .send(reqwest::Method::GET, "/v1/mailbox", None, None, None, None)
        .await
        .map(|r| expect_status(&r, 401, true));
    cases.push(check("GW-MBX-02", "The mailbox read without a token", "401 problem+json", r));
    if let (Some(recipient_token), Some(id)) = (&target.recipient_token, &accepted_id) {
        let r = async {
            let list = probe.send(reqwest::Method::GET, "/v1/mailbox", Some(recipient_token), None, None, None).await?;
            let listed = list
                .body
                .get("messages")
                .and_then(Value::as_array)
                .is_some_and(|m| m.iter().any(|m| m.get("id").and_then(Value::as_str) == Some(id)));
            let read = probe
                .send(reqwest::Method::GET, &format!("/v1/mailbox/{id}"), Some(recipient_token), None, None, None)
                .await?;
            let ack = probe
                .send(reqwest::Method::POST, &format!("/v1/mailbox/{id}/ack"), Some(recipient_token), None, None, None)
                .await?;
            let mut problems = Vec::new();
            if !listed {
                problems.push(format!("message {id} is not in the recipient's mailbox"));
            }
            if read.status != 200 {
                problems.push(format!("reading it was answered {}", read.status));
            }
            if !(200..300).contains(&ack.status) {
                problems.push(format!("acknowledging it was answered {}", ack.status));
            }
            Ok::<_, String>((format!("listed: {listed}; read {}; ack {}", read.status, ack.status), problems))
        }
        .await;
        cases.push(check(
            "GW-MBX-01",
            "The accepted message in the recipient's mailbox: listed, read, acknowledged",
            "listed; 200; 2xx",
            r,
        ));
    }
    let requirements: Vec<_> = envelope.requirements.iter().filter(|r| verifies(&r.id)).cloned().collect();
    let subject = Subject { supplier: target.supplier.clone(), endpoint: Some(target.url.clone()) };
    Ok(Evidence::assemble(Kind::Gateway, envelope, &requirements, subject, cases, inputs, waivers, chrono::Utc::now()))
}
