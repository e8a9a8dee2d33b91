//! What the store's tests share: a message to store, and a way to send writes together so that the writer takes
//! them into one group.
//!
//! Not for: anything but tests (compiled only for them).

use crate::audit::{Event, Record};
use crate::policy::Redaction;
use crate::store::{NewCopy, NewMessage};

use super::now_text;

/// A message from 201 to RJ1 (health, which loses `/body/b`); its `messageId` is its id.
pub(super) fn message(id: &str, key: Option<&str>, digest: &str) -> NewMessage {
    NewMessage {
        id: id.into(),
        sender: "201".into(),
        message_id: id.into(),
        standard: "referral@1.0".into(),
        received_at: now_text(),
        digest: digest.into(),
        envelope: r#"{"messageId":"x","body":{"a":1,"b":2}}"#.into(),
        envelope_digest: digest.into(),
        copies: vec![NewCopy {
            recipient: "RJ1".into(),
            role: "health".into(),
            redactions: vec![Redaction { path: "/body/b".into(), reason: "need-to-know".into() }],
            push_url: None,
            format: "json".into(),
        }],
        response: format!(r#"{{"id":"{id}"}}"#),
        idempotency_key: key.map(String::from),
        audit: vec![Record::new(Event::Accept, "201").message(id)],
    }
}

/// Awaits every future, in order. The store sends a write to its writer when the write is called, not when it is
/// polled, so writes made together reach the writer together, whatever order they are awaited in.
pub(super) async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut out = Vec::new();
    let pending: Vec<F> = futures.collect();
    for f in pending {
        out.push(f.await);
    }
    out
}
