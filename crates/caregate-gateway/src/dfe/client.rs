//! One request to DfE's CSC API at a time: a batch POSTed with a bearer token (renewed before it expires, and
//! once when DfE answers 401) and the `SupplierKey`, and DfE's answer said as what to do next. Retrying is the
//! caller's: `send` (a daily extract) retries within the run, the gateway's delivery on its own schedule.
//!
//! Not for: deciding what to send (`send`, `delivery`), or keeping what was acknowledged (`outbox`).

use std::time::{Duration, Instant};

use axum::body::Bytes;
use rand::RngExt as _;
use serde_json::Value;

use caregate_engine::standard::StandardPack;

use crate::config::{read_secret, DfeOutbound};

/// The longest `Retry-After` honoured.
pub const MOST_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// A token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// What DfE's answer to one batch says to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Stored: DfE's receipt (a UUID).
    Receipt(String),
    /// Refused for what a child of it holds (400) or its size (413): split it; a child alone is refused.
    Split { status: u16, answer: String },
    /// Not stored, or not known to be: send it again, after `after` when DfE said (`Retry-After`).
    Retry { status: u16, why: String, after: Option<Duration> },
    /// Sending cannot go on until someone acts (access refused, credentials refused, an answer not retried).
    Stop { status: u16, why: String },
}

impl Answer {
    /// The status and what became of the answer, as the audit chain records an attempt.
    pub fn audit_detail(&self) -> String {
        match self {
            Answer::Receipt(_) => "200".into(),
            Answer::Split { status, .. } | Answer::Stop { status, .. } => status.to_string(),
            Answer::Retry { status: 0, .. } => "network-error".into(),
            Answer::Retry { status, why, .. } if why.contains("lost") => format!("{status} answer-lost"),
            Answer::Retry { status, .. } => status.to_string(),
        }
    }
}

/// Time spent waiting on DfE, and between retries of a token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waited {
    pub network: Duration,
    pub backoff: Duration,
    pub token_retries: usize,
}

pub struct DfeClient {
    pub config: DfeOutbound,
    client: reqwest::Client,
    url: String,
    client_secret: String,
    supplier_key: String,
    token: Option<(String, Instant)>,
    pub waited: Waited,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

impl DfeClient {
    /// A client for the route `config` describes, sending as `pack` (its `[payload]` names the operation).
    pub fn new(config: &DfeOutbound, pack: &StandardPack) -> Result<DfeClient, ClientError> {
        let payload = pack
            .manifest
            .payload
            .as_ref()
            .ok_or_else(|| ClientError(format!("{} is not taken by an API", config.standard)))?;
        let path = payload
            .path
            .as_deref()
            .ok_or_else(|| ClientError(format!("{} names no operation", config.standard)))?
            .replace("{la_code}", &format!("{:03}", config.la_code));
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms))
            .build()
            .map_err(|e| ClientError(format!("cannot make an HTTP client: {e}")))?;
        Ok(DfeClient {
            url: format!("{}{}", config.endpoint.trim_end_matches('/'), path),
            client_secret: read_secret(&config.client_secret_file).map_err(ClientError)?,
            supplier_key: read_secret(&config.supplier_key_file).map_err(ClientError)?,
            config: config.clone(),
            client,
            token: None,
            waited: Waited::default(),
        })
    }

    /// The delay before retry `attempt` (1-based): base·2^(attempt−1), at most the maximum, plus up to a
    /// quarter at random so that councils retrying together do not stay in step.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let delay = self.config.base_delay_ms.saturating_mul(1u64 << exponent).min(self.config.max_delay_ms);
        jittered(Duration::from_millis(delay))
    }

    /// The wait DfE asked for (`Retry-After`), jittered so that councils told the same do not come back in step.
    /// It is honoured even beyond `max_delay_ms` (coming back sooner would only be refused again), up to
    /// [`MOST_RETRY_AFTER`], past which an answer is taken for a mistake.
    pub fn retry_after(&self, after: Duration) -> Duration {
        jittered(after.min(MOST_RETRY_AFTER))
    }

    /// One batch (a JSON array), with one renewal of the token if DfE refuses it.
    pub async fn post(&mut self, body: Bytes) -> Answer {
        let mut renewed = false;
        loop {
            let token = match self.bearer().await {
                Ok(token) => token,
                Err(why) => return Answer::Stop { status: 0, why },
            };
            let started = Instant::now();
            let sent = self
                .client
                .post(&self.url)
                .bearer_auth(&token)
                .header("SupplierKey", &self.supplier_key)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await;
            let answer = match sent {
                Err(error) => Answer::Retry { status: 0, why: format!("network {}", error_kind(&error)), after: None },
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let after = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = answer.bytes().await;
                    match (status, text) {
                        (200, Ok(text)) => match receipt(&text) {
                            Some(receipt) => Answer::Receipt(receipt),
                            None => Answer::Retry { status, why: "200 without a receipt".into(), after: None },
                        },
                        (200, Err(_)) => Answer::Retry { status, why: "200 whose answer was lost".into(), after: None },
                        (401, _) if !renewed => {
                            // The token was refused before it said it would expire: renew it, once.
                            self.waited.network += started.elapsed();
                            renewed = true;
                            self.token = None;
                            continue;
                        }
                        (401, _) => Answer::Stop {
                            status,
                            why: "DfE refused a token it had just issued (401 twice): check the client id and scope"
                                .into(),
                        },
                        (403, _) => Answer::Stop {
                            status,
                            why: format!(
                                "DfE refused access (403): check the SupplierKey in {} and that la_code {:03} is the council's",
                                self.config.supplier_key_file.display(),
                                self.config.la_code
                            ),
                        },
                        (400 | 413, text) => Answer::Split {
                            status,
                            answer: text.map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default(),
                        },
                        (429, _) => Answer::Retry { status, why: "429".into(), after },
                        (500..=599, _) => Answer::Retry { status, why: status.to_string(), after: None },
                        (other, _) => Answer::Stop {
                            status: other,
                            why: format!("DfE answered {other}, which is not retried"),
                        },
                    }
                }
            };
            self.waited.network += started.elapsed();
            return answer;
        }
    }

    /// A bearer token good for a while yet: the one held, or a new one (client credentials grant), retried as
    /// a batch is; the reason when none can be had.
    async fn bearer(&mut self) -> Result<String, String> {
        if let Some((token, expires)) = &self.token {
            if expires.saturating_duration_since(Instant::now()) > RENEW_BEFORE {
                return Ok(token.clone());
            }
        }
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", self.config.client_id.as_str()),
            ("client_secret", self.client_secret.as_str()),
        ];
        if let Some(scope) = &self.config.scope {
            form.push(("scope", scope.as_str()));
        }
        let encoded = form.iter().map(|(k, v)| format!("{}={}", percent(k), percent(v))).collect::<Vec<_>>().join("&");
        let mut attempt = 0u32;
        loop {
            let started = Instant::now();
            let answer = self
                .client
                .post(&self.config.token_url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(encoded.clone())
                .send()
                .await;
            let outcome = match answer {
                Ok(answer) if answer.status().is_success() => match answer.bytes().await {
                    Ok(text) => match serde_json::from_slice::<Value>(&text).ok().as_ref().and_then(token_of) {
                        Some(found) => Ok(found),
                        None => Err("its answer holds no access_token".to_string()),
                    },
                    Err(error) => Err(format!("its answer was lost: {}", error_kind(&error))),
                },
                Ok(answer) if matches!(answer.status().as_u16(), 400 | 401 | 403) => {
                    return Err(format!(
                        "DfE's token endpoint refused the client credentials ({}): check client_id and {}",
                        answer.status().as_u16(),
                        self.config.client_secret_file.display()
                    ))
                }
                Ok(answer) => Err(format!("it answered {}", answer.status().as_u16())),
                Err(error) => Err(format!("network {}", error_kind(&error))),
            };
            self.waited.network += started.elapsed();
            match outcome {
                Ok((token, lifetime)) => {
                    self.token = Some((token.clone(), Instant::now() + lifetime));
                    return Ok(token);
                }
                Err(why) => {
                    attempt += 1;
                    if attempt > self.config.max_retries {
                        return Err(format!("the retry budget ran out getting a token: {why}"));
                    }
                    self.waited.token_retries += 1;
                    let delay = self.backoff(attempt);
                    tokio::time::sleep(delay).await;
                    self.waited.backoff += delay;
                }
            }
        }
    }
}

/// A token and how long it is good for, from a token endpoint's answer.
fn token_of(value: &Value) -> Option<(String, Duration)> {
    let token = value.get("access_token")?.as_str()?.to_string();
    let seconds = match value.get("expires_in") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    }
    .unwrap_or(300);
    Some((token, Duration::from_secs(seconds)))
}

/// DfE's receipt: a JSON string holding a UUID.
fn receipt(text: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(text).ok()?;
    let receipt = value.as_str()?;
    uuid::Uuid::parse_str(receipt).ok().map(|_| receipt.to_string())
}

fn jittered(delay: Duration) -> Duration {
    let jitter: f64 = rand::rng().random();
    delay + delay.mul_f64(0.25 * jitter)
}

/// What kind of failure an HTTP error was, in words that hold no secret.
fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection refused or unreachable"
    } else if error.is_body() || error.is_decode() {
        "answer broken off"
    } else {
        "error"
    }
}

/// `application/x-www-form-urlencoded` encoding of one name or value.
fn percent(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_percent_encoded() {
        assert_eq!(percent("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(percent("api://x/.default"), "api%3A%2F%2Fx%2F.default");
    }

    #[test]
    fn a_receipt_is_a_json_string_holding_a_uuid() {
        assert_eq!(
            receipt(br#""bc3b85b6-6469-4c77-a22d-38d0524c5d87""#).as_deref(),
            Some("bc3b85b6-6469-4c77-a22d-38d0524c5d87")
        );
        assert_eq!(receipt(b"\"not a uuid\""), None);
        assert_eq!(receipt(b"\"bc3b"), None);
    }

    #[test]
    fn a_token_answer_gives_the_token_and_its_lifetime() {
        let value = serde_json::json!({"access_token": "t", "expires_in": "3599"});
        assert_eq!(token_of(&value), Some(("t".to_string(), Duration::from_secs(3599))));
        assert_eq!(token_of(&serde_json::json!({"token": "t"})), None);
    }
}
