//! `POST /v1/messages`: from request to durable acceptance. Content type, size and time limits; idempotency;
//! the engine validates the envelope and its body; the sender's authorisation; for each recipient, what its
//! copy loses; one transaction (envelope, copies, key, audit); then `202`, and not before. A `messageId` is a
//! sender's once: sent again with the same envelope it is the same message (the first answer), with another
//! envelope a conflict (409).
//!
//! Not for: reading or delivering copies (`routes`, `delivery`).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::audit::{Event, Record};
use super::auth::Principal;
use super::config::Sender;
use super::policy::{self, Circumstances};
use super::problem::Problem;
use super::store::{Accepted, NewCopy, NewMessage, StoreError};
use super::App;
use caregate_engine::digest::sha256;
use caregate_engine::document::{self, Format};
use caregate_engine::finding::{Finding, Location, Severity};
use caregate_engine::validate::{Options, Validator};

/// Documents larger than this are validated off the async workers.
const INLINE_VALIDATION_BYTES: usize = 64 * 1024;

/// The format a `Content-Type` names, if it names XML or JSON.
pub fn content_format(headers: &HeaderMap) -> Option<Format> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    match essence.as_str() {
        "application/json" => Some(Format::Json),
        "application/xml" | "text/xml" => Some(Format::Xml),
        e if e.ends_with("+json") => Some(Format::Json),
        e if e.ends_with("+xml") => Some(Format::Xml),
        _ => None,
    }
}

fn unsupported(detail: &str) -> Problem {
    Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported-media-type", detail)
}

pub async fn submit(app: Arc<App>, principal: Principal, headers: HeaderMap, body: Bytes) -> Response {
    let started = Instant::now();
    let Principal::Organisation(organisation) = principal else {
        return refuse(
            &app,
            "admin",
            "http-403",
            None,
            Problem::forbidden("The administrator does not send messages."),
        )
        .await;
    };
    let Some(sender) = app.config.senders.iter().find(|s| s.organisation == organisation) else {
        return refuse(
            &app,
            &organisation,
            "http-403",
            None,
            Problem::forbidden("This organisation is not configured to send."),
        )
        .await;
    };
    let declared = match content_format(&headers) {
        Some(format) => format,
        None => {
            let problem = unsupported("Send the envelope as application/json or application/xml.");
            return refuse(&app, &organisation, "http-415", None, problem).await;
        }
    };
    let body_digest = sha256(&body);
    if document::sniff(&body).is_some_and(|f| f != declared) {
        let problem = unsupported(&format!("The Content-Type says {declared} but the body is not {declared}."));
        return refuse(&app, &organisation, "http-415", Some(&body_digest), problem).await;
    }
    let key = match idempotency_key(&headers) {
        Ok(key) => key,
        Err(problem) => return refuse(&app, &organisation, "http-400", Some(&body_digest), problem).await,
    };
    if let Some(key) = &key {
        match app.store.idempotent(&organisation, key).await {
            Ok(Some((digest, response))) if digest == body_digest => return accepted(response),
            Ok(Some(_)) => return key_conflict(&app, &organisation, &body_digest).await,
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "idempotency lookup failed");
                return store_failed(&error);
            }
        }
    }
    let large = body.len() > INLINE_VALIDATION_BYTES;
    let checked = {
        let app = Arc::clone(&app);
        let bytes = body.clone();
        let run = move || {
            let options = Options { limits: app.limits, now: chrono::Utc::now().fixed_offset(), standard: None };
            let mut validator = Validator::new(&app.catalog, options);
            // A refusal answers in JSON, which has no source lines.
            validator.excerpts = false;
            validator.check(&bytes)
        };
        if large {
            match tokio::task::spawn_blocking(run).await {
                Ok(checked) => checked,
                Err(_) => return Problem::internal().into_response(),
            }
        } else {
            run()
        }
    };
    let sent_as = checked.format;
    let mut findings = checked.findings;
    let is_envelope = checked.pack.as_ref().is_some_and(|p| p.id() == app.envelope.id());
    let (Some(envelope), true) = (checked.instance, is_envelope) else {
        if !findings.iter().any(|f| f.severity == Severity::Error) {
            findings.push(
                Finding::error(
                    "not-an-envelope",
                    "The gateway routes envelopes (urn:caregate:envelope:1); this document is not one.",
                )
                .with_fix("Wrap the document in an envelope that names its standard, sender and recipients."),
            );
        }
        return refuse(&app, &organisation, "", Some(&body_digest), Problem::invalid(findings)).await;
    };
    if let Err(problem) = authorise(&app, sender, &envelope) {
        return refuse(&app, &organisation, "http-403", Some(&body_digest), problem).await;
    }
    if envelope.get("redactions").is_some() {
        findings.push(
            Finding::error(
                "redactions-from-sender",
                "The envelope carries `redactions`, which only the gateway adds to a delivered copy.",
            )
            .with_fix("Remove `redactions` (<Redactions>); the gateway records what it removes for each recipient.")
            .with_location(Location {
                line: 0,
                column: 0,
                path: "/redactions".into(),
                pointer: Some("/redactions".into()),
                span: None,
            }),
        );
    }
    let recipients = recipients(&envelope);
    for (i, (code, role)) in recipients.iter().enumerate() {
        if let Some(org) = app.config.organisation(code) {
            if &org.role != role {
                let pointer = format!("/recipients/{i}/role");
                findings.push(
                    Finding::error(
                        "recipient-role",
                        format!("Organisation {code} is registered as `{}`, not `{role}`.", org.role),
                    )
                    .with_fix(format!(
                        "Address {code} as `{}`: what a recipient may see follows its registered role.",
                        org.role
                    ))
                    .with_location(Location {
                        line: 0,
                        column: 0,
                        path: pointer.clone(),
                        pointer: Some(pointer),
                        span: None,
                    }),
                );
            }
        }
    }
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return refuse(&app, &organisation, "", Some(&body_digest), Problem::invalid(findings)).await;
    }
    let Some(body_pack) = checked.body_pack else {
        return refuse(&app, &organisation, "body-standard", Some(&body_digest), Problem::invalid(findings)).await;
    };
    let id = time_ordered_id();
    let received_at = super::store::sqlite::now_text();
    // serde_json's `to_string` writes bytes; a value's `Display` goes through the slower formatter.
    let answer = Answer { id: &id, status: "accepted", received_at: &received_at, digest: &body_digest };
    let Ok(response) = serde_json::to_string(&answer) else {
        tracing::error!("an accepted message's answer could not be written as JSON");
        return Problem::internal().into_response();
    };
    // A JSON envelope is stored as it was sent: its text is what the instance just checked was parsed from, and
    // its digest is the body's. An XML one is stored as its JSON form.
    let sent_text = match sent_as {
        Some(Format::Json) => std::str::from_utf8(document::without_bom(&body)).ok(),
        _ => None,
    };
    let (envelope_text, envelope_digest) = match sent_text {
        Some(text) if text.len() == body.len() => (text.to_string(), body_digest.clone()),
        Some(text) => (text.to_string(), sha256(text.as_bytes())),
        None => match serde_json::to_string(&envelope) {
            Ok(text) => {
                let digest = sha256(text.as_bytes());
                (text, digest)
            }
            Err(_) => {
                tracing::error!("an accepted envelope could not be written as JSON");
                return Problem::internal().into_response();
            }
        },
    };
    let standard = body_pack.reference();
    let when = Circumstances::of(&envelope);
    let empty = Value::Object(Default::default());
    let body_value = envelope.get("body").unwrap_or(&empty);
    let mut audit = Vec::with_capacity(recipients.len() + 1);
    audit.push(
        Record::new(Event::Accept, &organisation).message(&id).digest(&body_digest).detail(format!(
            "{standard} to {}",
            recipients.iter().map(|(c, _)| c.as_str()).collect::<Vec<_>>().join(",")
        )),
    );
    let mut copies: Vec<NewCopy> = Vec::with_capacity(recipients.len());
    for (code, _) in &recipients {
        let Some(org) = app.config.organisation(code) else { continue };
        let redactions = policy::redactions(body_value, &body_pack, &org.role, when, &app.clearance, "/body");
        let decision = redactions.iter().map(|r| format!("{} {}", r.reason, r.path)).collect::<Vec<_>>().join("; ");
        // The copy is the envelope whose digest this is, less what the detail lists.
        audit.push(
            Record::new(Event::Redaction, "gateway").message(&id).recipient(code).digest(&envelope_digest).detail(
                format!("{}: {}", org.role, if decision.is_empty() { "nothing removed".into() } else { decision }),
            ),
        );
        copies.push(NewCopy {
            recipient: code.clone(),
            role: org.role.clone(),
            redactions,
            push_url: org.push_url().map(String::from),
            format: org.format.clone(),
        });
    }
    let push = copies.iter().any(|c| c.push_url.is_some());
    let message = NewMessage {
        id,
        sender: organisation.clone(),
        message_id: envelope.get("messageId").and_then(Value::as_str).unwrap_or_default().to_string(),
        standard,
        received_at,
        digest: body_digest.clone(),
        envelope: envelope_text,
        envelope_digest,
        copies,
        response: response.clone(),
        idempotency_key: key,
        audit,
    };
    drop(envelope);
    match app.store.accept(message).await {
        Ok(Accepted::New) => {
            app.metrics.accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            app.metrics.accept_latency.observe(started.elapsed());
            if push {
                app.delivery_wake.notify_one();
            }
            accepted(response)
        }
        Ok(Accepted::Repeat(first)) => accepted(first),
        Ok(Accepted::KeyConflict) => key_conflict(&app, &organisation, &body_digest).await,
        Ok(Accepted::MessageIdConflict) => {
            let problem = Problem::new(
                StatusCode::CONFLICT,
                "message-id-reused",
                "This sender sent another message under this messageId before; a new message needs a new messageId.",
            );
            refuse(&app, &organisation, "http-409", Some(&body_digest), problem).await
        }
        Err(error) => {
            tracing::error!(%error, "storing an accepted message failed");
            store_failed(&error)
        }
    }
}

/// The answer when the store failed: 503 with `Retry-After` when its database cannot be reached (nothing was
/// written: the accept's transaction did not commit), else 500.
fn store_failed(error: &StoreError) -> Response {
    match error {
        StoreError::Unavailable(_) => Problem::unavailable().into_response(),
        _ => Problem::internal().into_response(),
    }
}

/// The answer to an accepted message (`202`), kept to be given again to a repeat.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    id: &'a str,
    status: &'static str,
    received_at: &'a str,
    digest: &'a str,
}

/// A new message id: a UUID (version 7) that starts with the time, so that the store's indexes grow at one
/// end rather than everywhere.
fn time_ordered_id() -> String {
    let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
    uuid::Builder::from_unix_timestamp_millis(millis, &rand::random::<[u8; 10]>()).into_uuid().to_string()
}

/// `202 Accepted` with the answer (JSON text).
fn accepted(response: String) -> Response {
    (StatusCode::ACCEPTED, [(header::CONTENT_TYPE, "application/json")], response).into_response()
}

async fn key_conflict(app: &Arc<App>, organisation: &str, body_digest: &str) -> Response {
    let problem = Problem::new(
        StatusCode::CONFLICT,
        "idempotency-key-reused",
        "This Idempotency-Key was used before with a different body; use a new key for a new message.",
    );
    refuse(app, organisation, "http-409", Some(body_digest), problem).await
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, Problem> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    match value.to_str() {
        Ok(key) if (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(key.to_string()))
        }
        _ => Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "bad-idempotency-key",
            "An Idempotency-Key is 1 to 255 visible ASCII characters.",
        )),
    }
}

/// `(organisation, role)` of each recipient, as the envelope lists them.
fn recipients(envelope: &Value) -> Vec<(String, String)> {
    envelope
        .get("recipients")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|r| {
                    let field = |name| r.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
                    (field("organisation"), field("role"))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The security policy's rule 2: only as itself, only its standards, only its recipients.
fn authorise(app: &App, sender: &Sender, envelope: &Value) -> Result<(), Problem> {
    let claimed = envelope.pointer("/sender/organisation").and_then(Value::as_str).unwrap_or_default();
    if claimed != sender.organisation {
        return Err(Problem::forbidden(format!(
            "The envelope's sender is `{claimed}` but the token is {}'s; an organisation may send only as itself.",
            sender.organisation
        )));
    }
    let standard = envelope.get("standard").and_then(Value::as_str).unwrap_or_default();
    if !sender.may_send(standard) {
        return Err(Problem::forbidden(format!("{} is not configured to send `{standard}`.", sender.organisation)));
    }
    for (code, _) in recipients(envelope) {
        if !sender.may_address(&code) || app.config.organisation(&code).is_none() {
            return Err(Problem::forbidden(format!("{} may not address `{code}`.", sender.organisation)));
        }
    }
    Ok(())
}

/// Counts, audits and answers a refusal. `rule` names the metric label when the problem has no findings.
async fn refuse(app: &Arc<App>, actor: &str, rule: &str, body_digest: Option<&str>, problem: Problem) -> Response {
    let codes: Vec<String> = match &problem.findings {
        // Of every finding, listed in the answer or not.
        Some(listed) => listed.error_rules.clone(),
        None => vec![if rule.is_empty() { format!("http-{}", problem.status) } else { rule.to_string() }],
    };
    for code in &codes {
        app.metrics.rejected(code);
    }
    let record = Record::new(Event::Reject, actor).digest(body_digest.unwrap_or_default()).detail(format!(
        "{} {}",
        problem.status,
        codes.join(",")
    ));
    if let Err(error) = app.store.audit(vec![record]).await {
        tracing::error!(%error, "auditing a refusal failed");
    }
    problem.into_response()
}
