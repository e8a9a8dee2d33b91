//! Where accepted messages live until every recipient has them: the accepted envelope, stored once; one stored
//! copy per recipient, held as the list of fields removed for it (the copy itself is the envelope less those
//! fields, made the same way whenever it is read or delivered); its delivery state; the idempotency keys and
//! the audit chain. [`Store`] is the seam; the embedded default is [`sqlite::SqliteStore`] (WAL, group
//! commit); [`postgres::PostgresStore`] is the store several gateway instances share.
//!
//! Not for: deciding what goes into a copy (`policy`) or sending it (`delivery`).

pub mod lock;
pub mod postgres;
pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::audit::{Entry, Record};
use super::policy::Redaction;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("database: {0}")]
    Postgres(String),
    /// The database cannot be reached now (down, restarting, unreachable): nothing was written, and the same
    /// request may succeed later.
    #[error("the database cannot be reached: {0}")]
    Unavailable(String),
    /// `[store]` cannot be used as it is (a URL, a password, TLS).
    #[error("{0}")]
    Config(String),
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("the store could not make a write durable (a sync of its log failed), so it takes no more")]
    NotDurable,
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
    /// The store was made in another layout than the one this build keeps; it is left as it is.
    #[error("the store {path} has layout {found}, but this caregate opens only layout {expected}")]
    Layout { path: String, found: i64, expected: i64 },
}

/// The delivery state of one recipient's copy.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter, strum::EnumString, strum::IntoStaticStr,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum CopyState {
    /// Waiting in the mailbox, or for its push.
    Pending,
    /// Read from the mailbox, or accepted by the push recipient.
    Delivered,
    Acknowledged,
    /// The last push attempt failed; another will follow.
    Failed,
    /// Every push attempt failed; waiting for an administrator's replay.
    Dead,
}

impl CopyState {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
    /// The state a stored name stands for; any other name means the store was altered.
    pub fn parse(s: &str) -> Result<CopyState, StoreError> {
        s.parse().map_err(|_| StoreError::Corrupt(format!("unknown copy state `{s}`")))
    }
}

/// A message to store: the envelope as accepted, and one copy per recipient.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub sender: String,
    /// The envelope's `messageId`: unique per sender, so a second message under it is a repeat or a conflict.
    pub message_id: String,
    pub standard: String,
    pub received_at: String,
    /// SHA-256 of the request body.
    pub digest: String,
    /// The envelope (JSON instance) as accepted, as JSON text: every copy is made from it. A JSON envelope is
    /// kept as it was sent; an XML one as its JSON form.
    pub envelope: String,
    /// SHA-256 of `envelope`. The same message sent again as the same text has the same; sent laid out anew,
    /// or in the other format, the store compares the envelopes themselves.
    pub envelope_digest: String,
    pub copies: Vec<NewCopy>,
    /// The answer given for it (JSON text), kept for a repeat.
    pub response: String,
    pub idempotency_key: Option<String>,
    /// Accept and redaction decisions, appended in the same transaction.
    pub audit: Vec<Record>,
}

/// One recipient's copy: what is removed from the envelope for it.
#[derive(Debug, Clone)]
pub struct NewCopy {
    pub recipient: String,
    pub role: String,
    pub redactions: Vec<Redaction>,
    /// Where it is pushed; `None` for a mailbox.
    pub push_url: Option<String>,
    pub format: String,
}

/// The copy a recipient is given: the envelope without the fields its redactions name, and with the list of
/// them as `redactions`.
pub fn copy_of(mut envelope: Value, redactions: &[Redaction]) -> Value {
    for redaction in redactions {
        redaction.remove_from(&mut envelope);
    }
    if let Value::Object(map) = &mut envelope {
        map.insert("redactions".into(), serde_json::to_value(redactions).unwrap_or_default());
    }
    envelope
}

/// What became of a store request.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Committed now.
    New,
    /// The same sender sent this before — under the same idempotency key with the same body, or under the same
    /// `messageId` with the same envelope: the first answer (JSON text).
    Repeat(String),
    /// The same sender and key came with another body.
    KeyConflict,
    /// The same sender and `messageId` came with another envelope.
    MessageIdConflict,
}

/// One recipient's copy, as stored.
#[derive(Debug, Clone, Serialize)]
pub struct CopyRecord {
    pub message: String,
    pub sender: String,
    pub standard: String,
    pub received_at: String,
    pub recipient: String,
    pub role: String,
    pub state: CopyState,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub updated_at: String,
    pub push_url: Option<String>,
    pub format: String,
    #[serde(skip)]
    pub content: Value,
}

/// A message as its sender sees it.
#[derive(Debug, Clone, Serialize)]
pub struct MessageRecord {
    pub id: String,
    pub sender: String,
    pub standard: String,
    pub received_at: String,
    pub digest: String,
    pub copies: Vec<CopyRecord>,
}

/// The outcome of one push attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    Delivered,
    /// Failed; try again at this time (RFC 3339).
    Retry {
        error: String,
        next_at: String,
    },
    /// Failed for the last time.
    Dead {
        error: String,
    },
}

/// Something happened to a copy: mailbox read, acknowledgement, replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Read,
    Ack,
    Replay,
}

/// The storage seam. Writes are durable when their future resolves.
pub trait Store: Send + Sync + 'static {
    /// Stores a message and its copies, its idempotency key and its audit entries, in one transaction — unless
    /// it repeats an earlier one (by idempotency key or `messageId`).
    fn accept(&self, message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>>;
    /// A repeat of an idempotency key: the body digest and first answer (JSON text), if this sender used the key.
    fn idempotent(&self, sender: &str, key: &str) -> BoxFuture<'_, Result<Option<(String, String)>, StoreError>>;
    /// Appends audit entries on their own (rejections).
    fn audit(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>>;
    fn message(&self, id: &str) -> BoxFuture<'_, Result<Option<MessageRecord>, StoreError>>;
    /// The copies addressed to a recipient, newest first, without content.
    fn mailbox(&self, recipient: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>>;
    /// Moves a copy on (read → delivered, ack → acknowledged, replay → pending) and audits it. False when
    /// there is no such copy or the transition does not apply.
    fn transition(
        &self,
        message: &str,
        recipient: &str,
        transition: Transition,
        record: Record,
    ) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Push copies due for an attempt at `now`, oldest first. A store several gateways share hands each copy to
    /// one of them at a time (a lease that ends after `store.lease_ms`, or when the attempt is recorded).
    fn due(&self, now: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    /// Records a push attempt and its audit entry.
    fn attempted(
        &self,
        message: &str,
        recipient: &str,
        attempt: Attempt,
        record: Record,
    ) -> BoxFuture<'_, Result<(), StoreError>>;
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    /// Copies waiting for delivery or collection (for the queue-depth gauge).
    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
    /// The whole audit chain, in order.
    fn audit_log(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>>;
    /// Whether `due` hands copies out under a lease (a store shared by several gateways): then a gateway asks
    /// for no more than it can start pushing at once, so that none waits out its lease unsent.
    fn leases(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator as _;

    #[test]
    fn copy_state_names_are_pinned() {
        // Stored in the database: renaming a state would make every stored copy in it unreadable.
        let names: Vec<&str> = CopyState::iter().map(CopyState::as_str).collect();
        assert_eq!(names, ["pending", "delivered", "acknowledged", "failed", "dead"]);
        for state in CopyState::iter() {
            assert_eq!(CopyState::parse(state.as_str()).ok(), Some(state));
            assert_eq!(serde_json::to_value(state).ok(), Some(state.as_str().into()));
        }
        assert!(
            matches!(CopyState::parse("Pending"), Err(StoreError::Corrupt(m)) if m == "unknown copy state `Pending`")
        );
    }
}
