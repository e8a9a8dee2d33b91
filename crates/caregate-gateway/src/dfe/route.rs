//! The gateway's route to DfE: a message of the standard `dfe-csc-api` addressed to an organisation whose
//! delivery is `dfe-csc-api` (DfE, `DFE`) is delivered as one child to DfE's CSC API, through the same client
//! and outbox as `caregate send`: a child whose content DfE acknowledged is not sent again, and the copy is
//! recorded as delivered only once DfE's receipt is stored. Retries follow the gateway's delivery schedule.
//!
//! Not for: a daily extract (`send`).

use std::sync::Mutex;

use serde_json::Value;

use caregate_engine::standard::Catalog;

use super::client::{Answer, DfeClient};
use super::outbox::{Outbox, Waiting, PURGED};
use crate::config::Config;
use crate::store::sqlite::now_text;

/// The route, built when the gateway starts with `[outbound.dfe-csc-api]` configured.
pub struct DfeRoute {
    client: tokio::sync::Mutex<DfeClient>,
    outbox: Mutex<Outbox>,
    /// The standard a message must be of to go this way (`dfe-csc-api@1.0.1`).
    pub standard: String,
}

/// What became of one copy.
pub enum Outcome {
    /// DfE's receipt, stored; or `unchanged` when DfE holds this content already.
    Delivered(String),
    /// Not delivered, to be tried again on the gateway's schedule.
    Retry(String),
    /// Never deliverable as it is.
    Dead(String),
}

impl DfeRoute {
    /// The route of `config`, when it has one; the reason when it has one that cannot be built.
    pub fn new(config: &Config, catalog: &Catalog) -> Result<Option<DfeRoute>, String> {
        let Some(dfe) = &config.outbound.dfe_csc_api else { return Ok(None) };
        let pack = catalog.find(&dfe.standard).ok_or_else(|| format!("no standard {}", dfe.standard))?;
        let client = DfeClient::new(dfe, &pack).map_err(|e| e.0)?;
        let outbox = Outbox::open(&config.store.data, dfe.la_code).map_err(|e| e.to_string())?;
        Ok(Some(DfeRoute {
            client: tokio::sync::Mutex::new(client),
            outbox: Mutex::new(outbox),
            standard: pack.reference(),
        }))
    }

    fn outbox(&self) -> std::sync::MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Delivers the child a copy's envelope carries.
    pub async fn deliver(&self, standard: &str, envelope: &Value) -> Outcome {
        if standard != self.standard {
            return Outcome::Dead(format!("only {} messages go to DfE, not {standard}", self.standard));
        }
        let Some(child) = envelope.get("body") else { return Outcome::Dead("the envelope has no body".into()) };
        let Some(key) = child.get("la_child_id").and_then(Value::as_str) else {
            return Outcome::Dead("the child has no la_child_id".into());
        };
        let purge = child.get("purge").and_then(Value::as_bool) == Some(true);
        let digest = if purge { PURGED.to_string() } else { caregate_engine::digest::json(child) };
        match self.outbox().unchanged(key, &digest) {
            Ok(true) => return Outcome::Delivered("unchanged: DfE holds this content".into()),
            Ok(false) => {}
            Err(error) => return Outcome::Retry(error.to_string()),
        }
        let mut body = b"[".to_vec();
        body.extend_from_slice(child.to_string().as_bytes());
        body.push(b']');
        let body_digest = caregate_engine::digest::sha256(&body);
        // One request at a time: the token is shared, and DfE limits a council's rate.
        let answer = self.client.lock().await.post(body.into()).await;
        match answer {
            Answer::Receipt(receipt) => {
                let sent = Waiting { seq: -1, la_child_id: key.to_string(), digest, body: Vec::new(), purge };
                match self.outbox().acknowledge(&receipt, &body_digest, &[sent], &now_text()) {
                    Ok(()) => Outcome::Delivered(format!("receipt {receipt}")),
                    // DfE stored it, but caregate could not record so: sent again, it is stored again.
                    Err(error) => Outcome::Retry(format!("receipt {receipt} not stored: {error}")),
                }
            }
            Answer::Split { status, answer } => Outcome::Dead(format!(
                "DfE refused the child ({status}): {}",
                answer.chars().take(300).collect::<String>()
            )),
            Answer::Retry { why, .. } => Outcome::Retry(format!("DfE: {why}")),
            Answer::Stop { why, .. } => Outcome::Retry(why),
        }
    }
}
