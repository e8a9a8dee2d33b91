//! `caregate send dfe-csc-api`: a council's daily extract (JSON Lines or JSON arrays of children) to DfE's CSC
//! API, validated child by child, delta-aware, durable and audited.
//!
//! A run has two stages. **Intake**: each extract is read child by child and validated; a refused child is
//! reported and audited; a child whose content DfE acknowledged last (same digest) is left alone; every other
//! child goes into the outbox (`outbox`), committed before anything is sent. **Delivery**: the outbox is sent in
//! the order it was filled, in batches of at most the standard's `maxItems`, each batch with a bearer token
//! (renewed before it expires, and once on a 401) and the `SupplierKey`; a 413 or 400 splits the batch (a child
//! refused alone is reported); a 429 waits as `Retry-After` says, with jitter; a 5xx, a network error or an
//! answer that breaks off is retried with exponential backoff and jitter, up to the retry budget; a 403 stops
//! the run. A child leaves the outbox only in the transaction that stores DfE's receipt for its batch, so a
//! run killed at any point leaves each child acknowledged or waiting; the next run sends what waits first.
//!
//! Not for: terminals and exit codes (`cli`), validating (`caregate_engine::validate::payload`).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::RngExt as _;
use serde::Serialize;
use serde_json::Value;

use caregate_engine::finding::Finding;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};

use super::outbox::{Outbox, OutboxError, Waiting, PURGED};
use crate::audit::{Event, Record};
use crate::config::{read_secret, Config, DfeOutbound};
use crate::store::sqlite::now_text;
use crate::store::{Store, StoreError};

/// Who the audit entries name as having acted.
const ACTOR: &str = "caregate-send";
/// The organisation DfE is in the audit log.
const DFE: &str = "DFE";
/// A token is renewed when it has less than this left.
const RENEW_BEFORE: Duration = Duration::from_secs(60);
/// Children of an extract taken into the outbox in one transaction.
const INTAKE_GROUP: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the configuration has no [outbound.dfe-csc-api] section")]
    NotConfigured,
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// A child not sent, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub la_child_id: Option<String>,
    /// The extract and where in it the child starts (empty for a child refused by DfE after an earlier run).
    pub extract: String,
    pub line: u32,
    pub column: u32,
    /// `validation` (caregate's check, before sending) or `dfe` (DfE's answer to the child sent alone).
    pub by: &'static str,
    pub findings: Vec<Finding>,
}

/// A receipt DfE gave, and stored.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub receipt: String,
    pub children: usize,
}

/// Where the run's time went: waiting on DfE (requests and answers), waiting between retries, and the rest.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    pub wall_ms: u64,
    /// Of which reading, validating and queueing the extracts (before anything is sent).
    pub intake_ms: u64,
    pub network_ms: u64,
    pub backoff_ms: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    /// Children acknowledged by DfE in this run (purges not counted).
    pub sent: usize,
    /// Children whose content DfE acknowledged before: not sent.
    pub unchanged: usize,
    /// Purges acknowledged in this run.
    pub purged: usize,
    pub refused: Vec<Refused>,
    /// Batches acknowledged, and retries made.
    pub batches: usize,
    pub retries: usize,
    pub receipts: Vec<Receipt>,
    /// Children left in the outbox for the next run (when delivery could not finish).
    pub waiting: usize,
    /// Why delivery could not finish, when it could not.
    pub stopped: Option<String>,
    pub timing: Timing,
}

/// What sending one batch came to.
enum Delivered {
    Receipt(String),
    /// DfE refused the batch as a whole for what one of its children holds (400, 413): split it.
    Split(u16, String),
}

/// Why a run stopped sending.
struct Stop(String);

struct Sender<'a> {
    config: &'a DfeOutbound,
    client: reqwest::Client,
    url: String,
    client_secret: String,
    supplier_key: String,
    token: Option<(String, Instant)>,
    store: &'a dyn Store,
    report: SendReport,
}

/// Sends the extracts as `config`'s `[outbound.dfe-csc-api]` says, after what an earlier run left waiting.
pub async fn run(
    config: &Config,
    catalog: &Catalog,
    store: &dyn Store,
    extracts: &[PathBuf],
) -> Result<SendReport, SendError> {
    let started = Instant::now();
    let dfe = config.outbound.dfe_csc_api.as_ref().ok_or(SendError::NotConfigured)?;
    let pack = catalog.find(&dfe.standard).ok_or_else(|| SendError::Config(format!("no standard {}", dfe.standard)))?;
    let payload = pack
        .manifest
        .payload
        .as_ref()
        .ok_or_else(|| SendError::Config(format!("{} is not taken by an API", dfe.standard)))?;
    let most = payload.max_items.map_or(100, |m| usize::try_from(m).unwrap_or(100));
    let batch_size = dfe.batch_size.unwrap_or(most).clamp(1, most);
    let path = payload
        .path
        .as_deref()
        .ok_or_else(|| SendError::Config(format!("{} names no operation", dfe.standard)))?
        .replace("{la_code}", &format!("{:03}", dfe.la_code));
    let url = format!("{}{}", dfe.endpoint.trim_end_matches('/'), path);
    let client_secret = read_secret(&dfe.client_secret_file).map_err(SendError::Config)?;
    let supplier_key = read_secret(&dfe.supplier_key_file).map_err(SendError::Config)?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_millis(dfe.timeout_ms))
        .build()
        .map_err(|e| SendError::Config(format!("cannot make an HTTP client: {e}")))?;
    let mut outbox = Outbox::open(&config.store.data, dfe.la_code)?;
    let mut sender = Sender {
        config: dfe,
        client,
        url,
        client_secret,
        supplier_key,
        token: None,
        store,
        report: SendReport::default(),
    };
    sender.intake(&pack, catalog, &outbox, extracts).await?;
    sender.report.timing.intake_ms = millis(started.elapsed());
    if let Err(Stop(why)) = sender.deliver(&mut outbox, batch_size).await? {
        sender.report.stopped = Some(why);
    }
    sender.report.waiting = outbox.waiting()?;
    sender.report.timing.wall_ms = millis(started.elapsed());
    Ok(sender.report)
}

/// What the outbox and `acknowledged` know a child's content by: its canonical digest, or [`PURGED`] for a
/// purge (whatever else the purge record holds).
fn digest_of(value: &Value) -> String {
    if value.get("purge").and_then(Value::as_bool) == Some(true) {
        PURGED.to_string()
    } else {
        caregate_engine::digest::json(value)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Sender<'_> {
    /// Reads and validates every extract into the outbox; refusals are reported and audited.
    async fn intake(
        &mut self,
        pack: &Arc<StandardPack>,
        catalog: &Catalog,
        outbox: &Outbox,
        extracts: &[PathBuf],
    ) -> Result<(), SendError> {
        let validator = Validator::new(catalog, Options { standard: Some(Arc::clone(pack)), ..Options::default() });
        let mut audit = Vec::new();
        for extract in extracts {
            let name = extract.display().to_string();
            let file =
                std::fs::File::open(extract).map_err(|source| SendError::Read { path: extract.clone(), source })?;
            let reader = std::io::BufReader::with_capacity(1 << 16, file);
            let mut failed: Option<OutboxError> = None;
            let mut in_group = 0usize;
            outbox.begin()?;
            let report = &mut self.report;
            let failed_lookup = std::cell::RefCell::new(None);
            // A child DfE acknowledged with this content is passed over unchecked: it was checked when sent.
            let mut pass_over = |key: &str, value: &Value| match outbox.unchanged(key, &digest_of(value)) {
                Ok(unchanged) => unchanged,
                Err(error) => {
                    *failed_lookup.borrow_mut() = Some(error);
                    false
                }
            };
            validator
                .check_payload_where(reader, &mut pass_over, &mut |record| {
                    if failed.is_some() {
                        return;
                    }
                    if !record.checked {
                        report.unchanged += 1;
                        return;
                    }
                    if record.refused() || record.key.is_none() {
                        let rules: Vec<&str> = record.findings.iter().map(|f| f.rule.as_str()).collect();
                        audit.push(
                            Record::new(Event::OutboundRefusal, ACTOR)
                                .recipient(DFE)
                                .digest(caregate_engine::digest::sha256(&record.bytes))
                                .detail(format!("validation {}", rules.join(" "))),
                        );
                        report.refused.push(Refused {
                            la_child_id: record.key.clone(),
                            extract: name.clone(),
                            line: record.line,
                            column: record.column,
                            by: "validation",
                            findings: record.findings,
                        });
                        return;
                    }
                    let (Some(key), Some(value)) = (&record.key, &record.value) else { return };
                    let purge = value.get("purge").and_then(Value::as_bool) == Some(true);
                    let digest = digest_of(value);
                    let queued = match outbox.unchanged(key, &digest) {
                        // Checked, though DfE holds it (its digest was not known before the check): not sent.
                        Ok(true) => {
                            report.unchanged += 1;
                            Ok(())
                        }
                        Ok(false) => outbox.queue(key, &digest, &record.bytes, purge),
                        Err(error) => Err(error),
                    };
                    if let Err(error) = queued {
                        failed = Some(error);
                    }
                    in_group += 1;
                    if in_group == INTAKE_GROUP {
                        in_group = 0;
                        if let Err(error) = outbox.commit().and_then(|()| outbox.begin()) {
                            failed = Some(error);
                        }
                    }
                })
                .map_err(|source| SendError::Read { path: extract.clone(), source })?;
            if let Some(error) = failed.or_else(|| failed_lookup.into_inner()) {
                return Err(error.into());
            }
            outbox.commit()?;
        }
        if !audit.is_empty() {
            self.store.audit(audit).await?;
        }
        Ok(())
    }

    /// Sends what waits in the outbox, batch by batch; `Err(Stop)` when delivery cannot finish.
    async fn deliver(&mut self, outbox: &mut Outbox, batch_size: usize) -> Result<Result<(), Stop>, SendError> {
        let mut queue: VecDeque<Vec<Waiting>> = VecDeque::new();
        let mut after = 0i64;
        loop {
            if queue.is_empty() {
                let next = outbox.next(after, batch_size)?;
                let Some(last) = next.last() else { return Ok(Ok(())) };
                after = last.seq;
                queue.push_back(next);
            }
            let Some(batch) = queue.pop_front() else { continue };
            let mut body = Vec::with_capacity(batch.iter().map(|c| c.body.len() + 1).sum::<usize>() + 2);
            body.push(b'[');
            for (i, child) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&child.body);
            }
            body.push(b']');
            let body_digest = caregate_engine::digest::sha256(&body);
            match self.send(body, &body_digest).await? {
                Err(stop) => return Ok(Err(stop)),
                Ok(Delivered::Receipt(receipt)) => {
                    outbox.acknowledge(&receipt, &body_digest, &batch, &now_text())?;
                    let purges = batch.iter().filter(|c| c.purge).count();
                    self.report.sent += batch.len() - purges;
                    self.report.purged += purges;
                    self.report.batches += 1;
                    self.report.receipts.push(Receipt { receipt: receipt.clone(), children: batch.len() });
                    let mut audit = vec![Record::new(Event::OutboundReceipt, ACTOR)
                        .recipient(DFE)
                        .digest(body_digest.clone())
                        .detail(format!("receipt {receipt} children {}", batch.len()))];
                    for child in batch.iter().filter(|c| c.purge) {
                        audit.push(
                            Record::new(Event::OutboundPurge, ACTOR)
                                .recipient(DFE)
                                .digest(caregate_engine::digest::sha256(child.la_child_id.as_bytes()))
                                .detail(format!("receipt {receipt}")),
                        );
                    }
                    self.store.audit(audit).await?;
                }
                Ok(Delivered::Split(..)) if batch.len() > 1 => {
                    // Halves go first, in order, so the outbox's order is kept.
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Ok(Delivered::Split(status, answer)) => {
                    // DfE refuses this child on its own: sent again as it is, it would be refused again.
                    let Some(child) = batch.into_iter().next() else { continue };
                    outbox.drop_refused(child.seq)?;
                    self.store
                        .audit(vec![Record::new(Event::OutboundRefusal, ACTOR)
                            .recipient(DFE)
                            .digest(caregate_engine::digest::sha256(&child.body))
                            .detail(format!("dfe {status}"))])
                        .await?;
                    let finding = Finding::error(
                        "dfe-refused",
                        format!(
                            "DfE refused this child sent on its own ({status}): {}",
                            answer.chars().take(500).collect::<String>()
                        ),
                    );
                    self.report.refused.push(Refused {
                        la_child_id: Some(child.la_child_id),
                        extract: String::new(),
                        line: 0,
                        column: 0,
                        by: "dfe",
                        findings: vec![finding],
                    });
                }
            }
        }
    }

    /// The delay before retry `attempt` (1-based): base·2^(attempt−1), at most the maximum, plus up to a
    /// quarter at random so that councils retrying together do not stay in step.
    fn backoff(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(30);
        let delay = self.config.base_delay_ms.saturating_mul(1u64 << exponent).min(self.config.max_delay_ms);
        jittered(Duration::from_millis(delay))
    }

    async fn wait(&mut self, delay: Duration) {
        tokio::time::sleep(delay).await;
        self.report.timing.backoff_ms += millis(delay);
    }

    /// One batch until DfE answers it for good: its receipt, a split, or a stop.
    async fn send(&mut self, body: Vec<u8>, body_digest: &str) -> Result<Result<Delivered, Stop>, SendError> {
        // Shared, not copied, by each attempt.
        let body = axum::body::Bytes::from(body);
        let mut attempt = 0u32;
        let mut renewed = false;
        loop {
            let token = match self.bearer().await {
                Ok(token) => token,
                Err(stop) => return Ok(Err(stop)),
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
            let (status, retry): (String, Option<Duration>) = match sent {
                Err(error) => (format!("network {}", error_kind(&error)), None),
                Ok(answer) => {
                    let status = answer.status().as_u16();
                    let retry_after = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .map(Duration::from_secs);
                    let text = answer.bytes().await;
                    self.report.timing.network_ms += millis(started.elapsed());
                    self.audit_attempt(body_digest, status, text.is_err()).await?;
                    match (status, text) {
                        (200, Ok(text)) => match receipt(&text) {
                            Some(receipt) => return Ok(Ok(Delivered::Receipt(receipt))),
                            None => ("200 without a receipt".to_string(), None),
                        },
                        (200, Err(_)) => ("200 whose answer was lost".to_string(), None),
                        (401, _) if !renewed => {
                            // The token was refused before it said it would expire: renew it once.
                            renewed = true;
                            self.token = None;
                            continue;
                        }
                        (401, _) => {
                            return Ok(Err(Stop(
                                "DfE refused a token it had just issued (401 twice): check the client id and scope"
                                    .into(),
                            )))
                        }
                        (403, _) => {
                            return Ok(Err(Stop(format!(
                                "DfE refused access (403): check the SupplierKey in {} and that la_code {:03} is the council's",
                                self.config.supplier_key_file.display(),
                                self.config.la_code
                            ))))
                        }
                        (400 | 413, text) => {
                            let answer = text.map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
                            return Ok(Ok(Delivered::Split(status, answer)));
                        }
                        (429, _) => ("429".to_string(), retry_after),
                        (500..=599, _) => (status.to_string(), None),
                        (other, _) => {
                            return Ok(Err(Stop(format!("DfE answered {other}, which the sender does not retry"))))
                        }
                    }
                }
            };
            if status.starts_with("network") {
                self.report.timing.network_ms += millis(started.elapsed());
                self.audit_attempt(body_digest, 0, true).await?;
            }
            attempt += 1;
            if attempt > self.config.max_retries {
                return Ok(Err(Stop(format!(
                    "the retry budget ran out: {} retries of one batch, the last answered {status}",
                    self.config.max_retries
                ))));
            }
            self.report.retries += 1;
            let delay = match retry {
                Some(after) => jittered(after.min(Duration::from_millis(self.config.max_delay_ms))),
                None => self.backoff(attempt),
            };
            self.wait(delay).await;
        }
    }

    async fn audit_attempt(&self, body_digest: &str, status: u16, lost: bool) -> Result<(), SendError> {
        let detail = match (status, lost) {
            (0, _) => "network-error".to_string(),
            (s, true) => format!("{s} answer-lost"),
            (s, false) => s.to_string(),
        };
        self.store
            .audit(vec![Record::new(Event::OutboundBatch, ACTOR).recipient(DFE).digest(body_digest).detail(detail)])
            .await?;
        Ok(())
    }

    /// A bearer token good for a while yet: the one held, or a new one (client credentials grant).
    async fn bearer(&mut self) -> Result<String, Stop> {
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
                    return Err(Stop(format!(
                        "DfE's token endpoint refused the client credentials ({}): check client_id and {}",
                        answer.status().as_u16(),
                        self.config.client_secret_file.display()
                    )))
                }
                Ok(answer) => Err(format!("it answered {}", answer.status().as_u16())),
                Err(error) => Err(format!("network {}", error_kind(&error))),
            };
            self.report.timing.network_ms += millis(started.elapsed());
            match outcome {
                Ok((token, lifetime)) => {
                    self.token = Some((token.clone(), Instant::now() + lifetime));
                    return Ok(token);
                }
                Err(why) => {
                    attempt += 1;
                    if attempt > self.config.max_retries {
                        return Err(Stop(format!("the retry budget ran out getting a token: {why}")));
                    }
                    self.report.retries += 1;
                    let delay = self.backoff(attempt);
                    self.wait(delay).await;
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

/// What kind of failure an HTTP error was, in words that hold no secret (a URL may carry none, but a body
/// could).
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
