//! The embedded store: one SQLite file in WAL mode. Every write goes through one writer thread, which takes
//! writes into an open transaction as they come and commits it as one group; a syncer thread then syncs the
//! log, and only then are the group's writes answered — so a write is on disk when its future resolves, and
//! many writes share one sync. While one group is being synced the next one fills (pipelined group commit).
//! The writer checkpoints between two transactions, most times leaving the sync of the database file to a
//! thread of its own (light checkpoints, see `writer::Writer::checkpoint`). Reads use their own connections and
//! never wait for the writer, only, before answering, for what they may have seen to be durable. Envelopes are
//! stored packed (LZ4).
//!
//! This file is the store as its users see it: opening it, and the [`Store`] methods, each a write sent to the
//! writer or a read on a reader connection. The rest is by concern: `schema` (the tables, their one layout, and
//! how a connection to the file is opened), `writer` (the writer thread: group commit and checkpoints), `sync`
//! (the syncer threads: what is durable), `sql` (the statements), `codec` (how envelopes are packed) and
//! `deferred_index` (the indexes of `messageId`s and idempotency keys, kept a little behind).
//!
//! Not for: any policy; it stores what it is given.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;

mod codec;
mod deferred_index;
#[cfg(test)]
mod fixtures;
mod schema;
mod sql;
mod sync;
mod writer;

use super::{Accepted, Attempt, BoxFuture, CopyRecord, MessageRecord, NewMessage, Store, StoreError, Transition};
use crate::audit::{Entry, Record};
use deferred_index::Deferred;
use sync::Durability;
use writer::{Input, Op, Prepared, ReplyTo};

/// The database file in a data folder.
pub fn database_path(data: &Path) -> PathBuf {
    data.join("caregate.db")
}

/// Its write-ahead log, which the syncer makes durable.
fn wal_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Now, as stored: RFC 3339 UTC with milliseconds, so that text order is time order.
pub fn now_text() -> String {
    timestamp(chrono::Utc::now())
}

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub struct SqliteStore {
    writer: Mutex<mpsc::Sender<Input>>,
    writer_thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    durability: Arc<Durability>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating when needed) the store in `data`, and starts its writer and syncer threads. A store of
    /// another layout is refused before anything is started or written.
    pub fn open(data: &Path, max_batch: usize) -> Result<Arc<SqliteStore>, StoreError> {
        std::fs::create_dir_all(data).map_err(|source| StoreError::Io { path: data.display().to_string(), source })?;
        let path = database_path(data);
        let conn = schema::open_store(&path)?;
        let indexes = Deferred::open(&conn)?;
        let durability = Arc::new(Durability::new());
        let (tx, writer_thread) = writer::start(conn, indexes, &path, max_batch, &durability)?;
        let readers = (0..4).map(|_| schema::open_connection(&path).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(SqliteStore {
            writer: Mutex::new(tx),
            writer_thread: Mutex::new(Some(writer_thread)),
            durability,
            readers,
            next_reader: AtomicUsize::new(0),
        }))
    }

    fn send<T: Send + 'static>(
        &self,
        op: Op,
        reply: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> ReplyTo,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let sent = match self.writer.lock() {
            Ok(writer) => writer.send(Input::Write(Box::new(op), reply(tx))).is_ok(),
            Err(_) => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(StoreError::WriterGone);
            }
            rx.await.map_err(|_| StoreError::WriterGone)?
        })
    }

    /// Runs a query on a reader connection, and answers once everything it may have seen is durable.
    fn read<T: Send + 'static>(
        self: &Arc<Self>,
        query: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let store = Arc::clone(self);
        Box::pin(async move {
            let reader = Arc::clone(&store);
            let found = tokio::task::spawn_blocking(move || {
                let i = reader.next_reader.fetch_add(1, Ordering::Relaxed) % reader.readers.len();
                let conn = reader.readers[i].lock().map_err(|_| StoreError::Corrupt("a reader panicked".into()))?;
                query(&conn)
            })
            .await
            .map_err(|_| StoreError::Corrupt("a read task panicked".into()))??;
            store.durability.settle().await?;
            Ok(found)
        })
    }
}

impl Drop for SqliteStore {
    /// Commits what is open and waits for it to be durable and checkpointed, so that the store can be opened
    /// again at once.
    fn drop(&mut self) {
        if let Ok(writer) = self.writer.lock() {
            drop(writer.send(Input::Stop));
        }
        if let Some(thread) = self.writer_thread.lock().ok().and_then(|mut t| t.take()) {
            drop(thread.join());
        }
    }
}

/// Reads the whole audit log of a data folder, in order (for `caregate audit verify`).
pub fn read_audit(data: &Path) -> Result<Vec<Entry>, StoreError> {
    let path = database_path(data);
    if !path.exists() {
        return Err(StoreError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no gateway store here"),
        });
    }
    let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    sql::audit_entries(&conn)
}

impl Store for Arc<SqliteStore> {
    fn accept(&self, mut message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>> {
        // The envelope's text is not needed once packed, so it is freed here too.
        let envelope = codec::pack(&std::mem::take(&mut message.envelope));
        let redactions =
            message.copies.iter().map(|copy| serde_json::to_string(&copy.redactions)).collect::<Result<Vec<_>, _>>();
        match redactions {
            Ok(redactions) => {
                self.send(Op::Accept(Box::new(message), Prepared { envelope, redactions }), ReplyTo::Accept)
            }
            Err(error) => {
                Box::pin(std::future::ready(Err(StoreError::Corrupt(format!("a copy's redactions as JSON: {error}")))))
            }
        }
    }

    fn idempotent(&self, sender: &str, key: &str) -> BoxFuture<'_, Result<Option<(String, String)>, StoreError>> {
        let (sender, key) = (sender.to_string(), key.to_string());
        let found = self.send(Op::Idempotent { sender, key }, ReplyTo::Found);
        Box::pin(async move {
            let found = found.await?;
            // A key not found reveals nothing; one found names a message that must be durable before it is
            // answered for.
            if found.is_some() {
                self.durability.settle().await?;
            }
            Ok(found)
        })
    }

    fn audit(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.send(Op::Audit(records), ReplyTo::Unit)
    }

    fn message(&self, id: &str) -> BoxFuture<'_, Result<Option<MessageRecord>, StoreError>> {
        let id = id.to_string();
        self.read(move |conn| sql::message(conn, id))
    }

    fn mailbox(&self, recipient: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        let recipient = recipient.to_string();
        self.read(move |conn| sql::mailbox(conn, &recipient, limit))
    }

    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.read(move |conn| sql::copy(conn, &message, &recipient))
    }

    fn transition(
        &self,
        message: &str,
        recipient: &str,
        transition: Transition,
        record: Record,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.send(Op::Transition { message, recipient, transition, record }, ReplyTo::Bool)
    }

    fn due(&self, now: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        let now = now.to_string();
        self.read(move |conn| sql::due(conn, &now, limit))
    }

    fn attempted(
        &self,
        message: &str,
        recipient: &str,
        attempt: Attempt,
        record: Record,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.send(Op::Attempted { message, recipient, attempt, record }, ReplyTo::Unit)
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        self.read(sql::dead_letters)
    }

    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.read(sql::queue_depth)
    }

    fn audit_log(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        self.read(sql::audit_entries)
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{futures_join, message};
    use super::*;
    use crate::audit::{verify, Event, Verdict};
    use crate::store::CopyState;

    #[tokio::test]
    async fn accepts_are_durable_idempotent_and_audited() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        let many = (0..50).map(|i| store.accept(message(&format!("m{i}"), None, "d")));
        for result in futures_join(many).await {
            assert_eq!(result.expect("stored"), Accepted::New);
        }
        assert_eq!(store.accept(message("k1", Some("key"), "d1")).await.expect("stored"), Accepted::New);
        assert_eq!(
            store.idempotent("201", "key").await.expect("looks up"),
            Some(("d1".into(), r#"{"id":"k1"}"#.into()))
        );
        assert_eq!(store.idempotent("202", "key").await.expect("looks up"), None, "a key is its sender's");
        assert_eq!(
            store.accept(message("k2", Some("key"), "d1")).await.expect("stored"),
            Accepted::Repeat(r#"{"id":"k1"}"#.into())
        );
        assert_eq!(store.accept(message("k3", Some("key"), "d2")).await.expect("stored"), Accepted::KeyConflict);
        // A key new to a message sent before names that message.
        let with_new_key =
            NewMessage { id: "k1-again".into(), message_id: "k1".into(), ..message("k1", Some("other-key"), "d1") };
        assert_eq!(store.accept(with_new_key).await.expect("stored"), Accepted::Repeat(r#"{"id":"k1"}"#.into()));
        assert_eq!(
            store.idempotent("201", "other-key").await.expect("looks up"),
            Some(("d1".into(), r#"{"id":"k1"}"#.into()))
        );
        // A messageId is a sender's once: the same envelope again is the first message, another is a conflict.
        let again = NewMessage { id: "m3-again".into(), message_id: "m3".into(), ..message("m3", None, "d") };
        assert_eq!(store.accept(again).await.expect("stored"), Accepted::Repeat(r#"{"id":"m3"}"#.into()));
        // Laid out anew (another digest), it is still the same envelope.
        let laid_out = r#"{ "body": { "b": 2, "a": 1 }, "messageId": "x" }"#;
        let relaid = NewMessage {
            id: "m3-relaid".into(),
            message_id: "m3".into(),
            envelope: laid_out.into(),
            ..message("m3", None, "e")
        };
        assert_eq!(store.accept(relaid).await.expect("stored"), Accepted::Repeat(r#"{"id":"m3"}"#.into()));
        let changed = r#"{"messageId":"x","body":{"a":1,"b":3}}"#;
        let other = NewMessage {
            id: "m3-other".into(),
            message_id: "m3".into(),
            envelope: changed.into(),
            ..message("m3", None, "e")
        };
        assert_eq!(store.accept(other).await.expect("stored"), Accepted::MessageIdConflict);
        assert_eq!(store.mailbox("RJ1", 1000).await.expect("reads").len(), 51);
        let read = Record::new(Event::Read, "RJ1").message("m3");
        assert!(store.transition("m3", "RJ1", Transition::Read, read.clone()).await.expect("writes"));
        assert!(!store.transition("m3", "POL01", Transition::Read, read).await.expect("writes"));
        let copy = store.copy("m3", "RJ1").await.expect("reads").expect("exists");
        let expected = serde_json::json!({"messageId": "x", "body": {"a": 1}, "redactions": [{"path": "/body/b", "reason": "need-to-know"}]});
        assert_eq!((copy.state, copy.content), (CopyState::Delivered, expected));
        assert_eq!(verify(read_audit(dir.path()).expect("reads")), Verdict::Intact { entries: 52 });
        drop(store);
        // The chain continues across a restart, and the keys are known.
        let store = SqliteStore::open(dir.path(), 64).expect("reopens");
        assert_eq!(
            store.idempotent("201", "key").await.expect("looks up"),
            Some(("d1".into(), r#"{"id":"k1"}"#.into()))
        );
        assert_eq!(
            store.idempotent("201", "other-key").await.expect("looks up"),
            Some(("d1".into(), r#"{"id":"k1"}"#.into()))
        );
        store.audit(vec![Record::new(Event::Reject, "anonymous")]).await.expect("writes");
        assert_eq!(verify(read_audit(dir.path()).expect("reads")), Verdict::Intact { entries: 53 });
    }
}
