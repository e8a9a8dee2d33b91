//! Where accepted messages live until every recipient has them: one stored copy per recipient (already
//! redacted for it), its delivery state, the idempotency keys and the audit chain. [`Store`] is the seam; the
//! embedded default is [`sqlite::SqliteStore`] (WAL, group commit), and a PostgreSQL store can follow.
//!
//! Not for: deciding what goes into a copy (`policy`) or sending it (`delivery`).

pub mod sqlite;

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::audit::Record;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot create {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the store's writer has stopped")]
    WriterGone,
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

/// The delivery state of one recipient's copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
        match self {
            CopyState::Pending => "pending",
            CopyState::Delivered => "delivered",
            CopyState::Acknowledged => "acknowledged",
            CopyState::Failed => "failed",
            CopyState::Dead => "dead",
        }
    }
    pub fn parse(s: &str) -> Result<CopyState, StoreError> {
        Ok(match s {
            "pending" => CopyState::Pending,
            "delivered" => CopyState::Delivered,
            "acknowledged" => CopyState::Acknowledged,
            "failed" => CopyState::Failed,
            "dead" => CopyState::Dead,
            other => return Err(StoreError::Corrupt(format!("unknown copy state `{other}`"))),
        })
    }
}

/// A message to store: the envelope as received, and one copy per recipient.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: String,
    pub sender: String,
    pub standard: String,
    pub received_at: String,
    /// SHA-256 of the request body.
    pub digest: String,
    pub copies: Vec<NewCopy>,
    /// The answer given for it, kept for an idempotent repeat.
    pub response: Value,
    pub idempotency_key: Option<String>,
    /// Accept and redaction decisions, appended in the same transaction.
    pub audit: Vec<Record>,
}

#[derive(Debug, Clone)]
pub struct NewCopy {
    pub recipient: String,
    pub role: String,
    /// The delivered envelope (JSON instance) with its `redactions`, as JSON text.
    pub content: String,
    /// Where it is pushed; `None` for a mailbox.
    pub push_url: Option<String>,
    pub format: String,
}

/// What became of a store request.
#[derive(Debug, Clone, PartialEq)]
pub enum Accepted {
    /// Committed now.
    New,
    /// The same sender, key and body were accepted before: the first answer.
    Repeat(Value),
    /// The same sender and key came with another body.
    KeyConflict,
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
    Retry { error: String, next_at: String },
    /// Failed for the last time.
    Dead { error: String },
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
    /// Stores a message and its copies, its idempotency key and its audit entries, in one transaction.
    fn accept(&self, message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>>;
    /// A repeat of an idempotency key: the body digest and first answer, if the key was used by this sender.
    fn idempotent(&self, sender: &str, key: &str) -> BoxFuture<'_, Result<Option<(String, Value)>, StoreError>>;
    /// Appends audit entries on their own (rejections).
    fn audit(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>>;
    fn message(&self, id: &str) -> BoxFuture<'_, Result<Option<MessageRecord>, StoreError>>;
    /// The copies addressed to a recipient, newest first, without content.
    fn mailbox(&self, recipient: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>>;
    /// Moves a copy on (read → delivered, ack → acknowledged, replay → pending) and audits it. False when
    /// there is no such copy or the transition does not apply.
    fn transition(&self, message: &str, recipient: &str, transition: Transition, record: Record) -> BoxFuture<'_, Result<bool, StoreError>>;
    /// Push copies due for an attempt at `now`, oldest first.
    fn due(&self, now: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    /// Records a push attempt and its audit entry.
    fn attempted(&self, message: &str, recipient: &str, attempt: Attempt, record: Record) -> BoxFuture<'_, Result<(), StoreError>>;
    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>>;
    /// Copies waiting for delivery or collection (for the queue-depth gauge).
    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>>;
}
