//! Receiver certification: every case of a suite sent, as the gateway's push delivery carries it (the
//! envelope around the document, `Idempotency-Key` = the message id), to a supplier's receiving endpoint.
//! Conformant documents must be accepted (2xx), the others refused (4xx); a refusal of the content (400 or
//! 422) in problem+json must name the rules broken (in `findings[].rule`, or in its `detail`).
//!
//! Not for: carrying (`carry`) or self-conformance (`run`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use super::evidence::{CaseResult, Evidence, Input, Kind, Subject};
use super::suite::{Document, Requirement, Suite, Verdict};
use super::waiver::Waiver;
use super::{carry, run, ConformanceError};
use caregate_engine::standard::Catalog;

/// The transport requirements a receiver is certified against (stated in the envelope suite).
pub const ACCEPTS: &str = "RCV-001";
pub const REFUSES: &str = "RCV-002";
pub const NAMES_RULES: &str = "RCV-003";

/// Where and how to send.
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub endpoint: String,
    /// The bearer token sent when no sender-specific one is given.
    pub token: Option<String>,
    /// Bearer tokens by the envelope's sending organisation (a receiver that authenticates each sender).
    pub tokens_by_sender: BTreeMap<String, String>,
    /// Only cases of this format (`xml` or `json`).
    pub format: Option<String>,
    pub supplier: String,
    pub timeout: Duration,
    /// Headers sent with every case (DfE's CSC API: `SupplierKey`).
    pub headers: Vec<(String, String)>,
}

/// What the receiver answered.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub problem: Option<Value>,
}

impl Answer {
    /// The rule ids a problem+json answer names.
    pub fn named_rules(&self, wanted: &[String]) -> BTreeSet<String> {
        let Some(problem) = &self.problem else { return BTreeSet::new() };
        let mut named: BTreeSet<String> = problem
            .get("findings")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("rule").and_then(Value::as_str).map(String::from))
            .collect();
        let detail = problem.get("detail").and_then(Value::as_str).unwrap_or_default();
        for rule in wanted {
            if detail.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).any(|w| w == rule) {
                named.insert(rule.clone());
            }
        }
        named
    }
}

/// Certifies a receiver against `suite`; `transport` holds the RCV requirements (the envelope suite's).
pub async fn certify(
    suite: &Suite,
    transport: &[Requirement],
    catalog: &Catalog,
    target: &Target,
    waivers: &[Waiver],
) -> Result<Evidence, ConformanceError> {
    if !matches!(suite.manifest.carry.mode.as_str(), "as-is" | "wrapped" | "payload") {
        let reason = suite.manifest.carry.reason.clone().unwrap_or_default();
        return Err(ConformanceError::Suite {
            suite: suite.reference(),
            message: format!("not carried to receivers: {reason}"),
        });
    }
    let client = reqwest::Client::builder()
        .timeout(if target.timeout.is_zero() { Duration::from_secs(30) } else { target.timeout })
        .build()
        .map_err(|e| ConformanceError::Http(e.to_string()))?;
    let mut cases = Vec::new();
    let mut inputs = Vec::new();
    for case in suite.manifest.cases.iter().filter(|c| c.receiver && c.verdict != Verdict::Any) {
        if target.format.as_deref().is_some_and(|f| f != case.format()) {
            continue;
        }
        // A receiver is sent one document: a table return's CSV files are not.
        let Ok((name, document @ Document::File(bytes))) = suite.document(case) else { continue };
        let digest = caregate_engine::digest::sha256(bytes);
        inputs.push(Input { name: name.clone(), sha256: digest.clone() });
        let Ok(observed) = run::observe(suite, catalog, case, &document) else { continue };
        let mut requirements = case.covers().to_vec();
        requirements.push(if case.verdict == Verdict::Valid { ACCEPTS } else { REFUSES }.to_string());
        let expected = match case.verdict {
            Verdict::Valid => "accepted (2xx)".to_string(),
            _ => format!("refused (4xx); a problem+json answer names {}", case.rules.join(", ")),
        };
        let created = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let carried = match carry::carry(suite, catalog, bytes, case.format(), &created) {
            Ok(carried) => carried,
            Err(problem) => {
                cases.push(result(
                    case,
                    &name,
                    &digest,
                    requirements,
                    expected,
                    "not sent".into(),
                    vec![problem],
                    &observed,
                    bytes,
                ));
                continue;
            }
        };
        let token = carried.sender.as_ref().and_then(|s| target.tokens_by_sender.get(s)).or(target.token.as_ref());
        let mut request = client
            .post(&target.endpoint)
            .header("content-type", carried.content_type)
            .header("idempotency-key", &carried.message_id)
            .body(carried.bytes.clone());
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        for (name, value) in &target.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let problem_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/problem+json"));
                let body = response.bytes().await.unwrap_or_default();
                let problem = if problem_type { serde_json::from_slice::<Value>(&body).ok() } else { None };
                Answer { status, problem }
            }
            Err(error) => {
                let problem = format!("the endpoint could not be reached: {error}");
                cases.push(result(
                    case,
                    &name,
                    &digest,
                    requirements,
                    expected,
                    "no answer".into(),
                    vec![problem],
                    &observed,
                    bytes,
                ));
                continue;
            }
        };
        let mut problems = Vec::new();
        let mut observed_text = format!("{}", answer.status);
        match case.verdict {
            Verdict::Valid if !(200..300).contains(&answer.status) => {
                problems.push(format!("a conformant document was answered {} instead of being accepted", answer.status))
            }
            Verdict::Invalid if !(400..500).contains(&answer.status) => problems.push(format!(
                "a document that breaks {} was answered {} instead of being refused (4xx)",
                case.rules.join(", "),
                answer.status
            )),
            _ => {}
        }
        if answer.problem.is_some() {
            let named = answer.named_rules(&case.rules);
            observed_text.push_str(&format!(
                " problem+json{}",
                if named.is_empty() {
                    String::new()
                } else {
                    format!(" naming {}", named.iter().cloned().collect::<Vec<_>>().join(", "))
                }
            ));
            // Only a refusal of the content (400, 422) is expected to name rules: 401, 403, 409, 413 or 415
            // refuse for another reason, before the content is judged.
            if case.verdict == Verdict::Invalid && matches!(answer.status, 400 | 422) {
                requirements.push(NAMES_RULES.to_string());
                let missing: Vec<&String> = case.rules.iter().filter(|r| !named.contains(*r)).collect();
                if !missing.is_empty() {
                    problems.push(format!(
                        "the problem+json refusal does not name {}",
                        missing.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        cases.push(result(case, &name, &digest, requirements, expected, observed_text, problems, &observed, bytes));
    }
    let mut requirements = suite.requirements.clone();
    requirements.extend(transport.iter().filter(|r| [ACCEPTS, REFUSES, NAMES_RULES].contains(&r.id.as_str())).cloned());
    let subject = Subject { supplier: target.supplier.clone(), endpoint: Some(target.endpoint.clone()) };
    Ok(Evidence::assemble(Kind::Receiver, suite, &requirements, subject, cases, inputs, waivers, chrono::Utc::now()))
}

#[allow(clippy::too_many_arguments)]
fn result(
    case: &super::suite::Case,
    name: &str,
    digest: &str,
    requirements: Vec<String>,
    expected: String,
    observed: String,
    problems: Vec<String>,
    engine: &run::Observed,
    bytes: &[u8],
) -> CaseResult {
    CaseResult {
        id: case.id.clone(),
        title: case.title.clone(),
        document: name.to_string(),
        sha256: digest.to_string(),
        requirements,
        expected,
        observed,
        passed: problems.is_empty(),
        problems,
        excerpt: Some(run::excerpt_for(case, engine, &Document::File(bytes))),
        diffs: Vec::new(),
    }
}
