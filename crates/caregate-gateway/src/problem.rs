//! Refusals as RFC 9457 `application/problem+json`; a 422 carries findings in the JSON report's shape: the
//! first [`MAX_FINDINGS`], errors first, with how many there were in all, so that an answer's size does not grow
//! with what a sender sent.
//!
//! Not for: deciding to refuse.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use caregate_engine::finding::{Counts, Finding, Severity};

/// The most findings one refusal lists.
pub const MAX_FINDINGS: usize = 100;

#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// What a refusal of the message's content lists: `findings`, with `total` and `counts` of them all.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Box<Listed>>,
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

/// The findings a refusal lists, and what it says of all of them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed {
    /// The first [`MAX_FINDINGS`] findings: errors, then queries, then warnings, each in document order.
    pub findings: Vec<Finding>,
    /// How many findings there were in all, listed or not.
    pub total: usize,
    /// How many there were of each severity.
    pub counts: Counts,
    /// The rule codes of every error finding, sorted and each once (for metrics and the audit).
    #[serde(skip)]
    pub error_rules: Vec<String>,
}

/// How long a sender is asked to wait when the database cannot be reached: a pooled connection is tried again
/// on every request, so a database back from a restart is used at once.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 1;

impl Problem {
    pub fn new(status: StatusCode, slug: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("https://caregate.invalid/problems/{slug}"),
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            findings: None,
            retry_after: None,
        }
    }
    pub fn unauthorised() -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "A valid bearer token is required (Authorization: Bearer <token>).",
        )
    }
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", detail)
    }
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "The gateway could not complete the request; nothing was accepted.",
        )
    }
    /// The store's database cannot be reached: nothing was stored, and the same request may be sent again
    /// after `Retry-After`.
    pub fn unavailable() -> Problem {
        let mut problem = Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store-unavailable",
            "The gateway cannot reach its database just now; nothing was accepted. Send the same request again later.",
        );
        problem.retry_after = Some(UNAVAILABLE_RETRY_AFTER_SECONDS);
        problem
    }
    pub fn invalid(mut findings: Vec<Finding>) -> Problem {
        let counts = Counts::of(&findings);
        let total = findings.len();
        let mut error_rules: Vec<String> =
            findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.rule.clone()).collect();
        error_rules.sort();
        error_rules.dedup();
        // Stable: each severity stays in document order.
        findings.sort_by_key(|f| f.severity);
        findings.truncate(MAX_FINDINGS);
        let errors = counts.error;
        let listed = if total > findings.len() {
            format!(" The first {} of {total} findings are listed.", findings.len())
        } else {
            String::new()
        };
        let mut problem = Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-message",
            format!("The message was refused: {errors} error finding{}.{listed}", if errors == 1 { "" } else { "s" }),
        );
        problem.findings = Some(Box::new(Listed { findings, total, counts, error_rules }));
        problem
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_lists_the_first_findings_errors_first_and_counts_them_all() {
        let mut findings: Vec<Finding> =
            (0..150).map(|i| Finding::new("W-1", Severity::Warning, format!("warning {i}"))).collect();
        findings.extend((0..250).map(|i| Finding::error(if i % 2 == 0 { "E-2" } else { "E-1" }, format!("error {i}"))));
        findings.push(Finding::new("Q-1", Severity::Query, "query"));
        let problem = Problem::invalid(findings);
        let refused = problem.findings.as_deref().expect("findings");
        let listed = &refused.findings;
        assert_eq!(listed.len(), MAX_FINDINGS);
        assert!(listed.iter().all(|f| f.severity == Severity::Error));
        assert_eq!(listed[0].message, "error 0");
        assert_eq!(listed[99].message, "error 99");
        assert_eq!((refused.total, refused.counts), (401, Counts { error: 250, query: 1, warning: 150 }));
        assert_eq!(refused.error_rules, ["E-1", "E-2"]);
        assert_eq!(
            problem.detail,
            "The message was refused: 250 error findings. The first 100 of 401 findings are listed."
        );
        let body: serde_json::Value = serde_json::to_value(&problem).expect("serialises");
        assert_eq!(body["findings"].as_array().map(Vec::len), Some(MAX_FINDINGS));
        assert_eq!(body["total"], 401);
        assert_eq!(body["counts"], serde_json::json!({"error": 250, "query": 1, "warning": 150}));
        assert!(body.get("errorRules").is_none() && body.get("error_rules").is_none());
    }

    #[test]
    fn a_short_refusal_lists_every_finding() {
        let problem =
            Problem::invalid(vec![Finding::new("Q-1", Severity::Query, "query"), Finding::error("E-1", "error")]);
        let listed: Vec<&str> = problem.findings.iter().flat_map(|l| &l.findings).map(|f| f.rule.as_str()).collect();
        assert_eq!(listed, ["E-1", "Q-1"]);
        assert_eq!(problem.findings.as_ref().map(|l| l.total), Some(2));
        assert_eq!(problem.detail, "The message was refused: 1 error finding.");
        let plain = serde_json::to_value(Problem::forbidden("no")).expect("serialises");
        assert!(plain.get("total").is_none() && plain.get("counts").is_none() && plain.get("findings").is_none());
    }
}
