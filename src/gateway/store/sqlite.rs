//! The embedded store: one SQLite file in WAL mode with `synchronous=FULL`, so that a commit is on disk when
//! it returns. Every write goes through one writer thread that takes as many waiting requests as it can (up to
//! `max_batch`) into one transaction — group commit: under load many accepts share one fsync. Reads use their
//! own connections and never wait for the writer.
//!
//! Not for: any policy; it stores what it is given.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;
use tokio::sync::oneshot;

use super::{copy_of, Accepted, Attempt, BoxFuture, CopyRecord, CopyState, MessageRecord, NewMessage, Store, StoreError, Transition};
use crate::gateway::policy::Redaction;
use crate::gateway::audit::{Entry, Record, GENESIS};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    standard TEXT NOT NULL,
    received_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    response TEXT NOT NULL,
    message_id TEXT,
    envelope TEXT,
    envelope_digest TEXT
);
CREATE TABLE IF NOT EXISTS copies (
    message TEXT NOT NULL,
    recipient TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL DEFAULT '',
    push_url TEXT,
    format TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    redactions TEXT,
    UNIQUE (message, recipient)
);
CREATE INDEX IF NOT EXISTS copies_by_recipient ON copies (recipient);
CREATE INDEX IF NOT EXISTS copies_due ON copies (state, next_at) WHERE push_url IS NOT NULL;
CREATE TABLE IF NOT EXISTS idempotency (
    sender TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    message TEXT NOT NULL,
    PRIMARY KEY (sender, key)
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    message TEXT NOT NULL,
    recipient TEXT NOT NULL,
    digest TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
";

/// The layout `SCHEMA` makes, as `PRAGMA user_version`. Version 0 stored a whole redacted copy per recipient
/// (`copies.content`) and no envelope; its copies are read as they were stored, and its messages have no
/// `messageId`.
const LAYOUT: i64 = 1;

/// Brings a version-0 store to the current layout (columns added, nothing rewritten), then the indexes that
/// use the new columns.
fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version < LAYOUT {
        let has = |table: &str, column: &str| -> Result<bool, rusqlite::Error> {
            let mut statement = conn.prepare(&format!("SELECT 1 FROM pragma_table_info('{table}') WHERE name = ?1"))?;
            statement.exists(params![column])
        };
        let tx = conn.unchecked_transaction()?;
        for (table, column) in [("messages", "message_id"), ("messages", "envelope"), ("messages", "envelope_digest"), ("copies", "redactions")] {
            if !has(table, column)? {
                tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT"))?;
            }
        }
        tx.pragma_update(None, "user_version", LAYOUT)?;
        tx.commit()?;
    }
    conn.execute_batch("CREATE UNIQUE INDEX IF NOT EXISTS messages_by_sender_id ON messages (sender, message_id) WHERE message_id IS NOT NULL;")?;
    Ok(())
}

/// How often the checkpointer copies the WAL's committed pages into the database file, on its own thread and
/// connection, so that the writer never waits for it. A page written by many commits in that time (the end of
/// a table or an index) is copied once.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// Pages (4 KiB) of WAL after which the writer checkpoints itself (SQLite's default is 1,000). The checkpointer
/// has copied nearly all of them by then, so this is short, and it lets the WAL start again from its beginning
/// (which a checkpoint on another connection cannot, while commits keep coming).
const WRITER_CHECKPOINT_PAGES: i64 = 8192;

/// Pages (4 KiB) the writer's connection keeps in memory (SQLite's default is 500).
const WRITER_CACHE_PAGES: i64 = 8192;

/// The database file in a data folder.
pub fn database_path(data: &Path) -> PathBuf {
    data.join("caregate.db")
}

/// Now, as stored: RFC 3339 UTC with milliseconds, so that text order is time order.
pub fn now_text() -> String {
    timestamp(chrono::Utc::now())
}

pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A write for the writer thread.
enum Op {
    Accept(Box<NewMessage>),
    Audit(Vec<Record>),
    Transition { message: String, recipient: String, transition: Transition, record: Record },
    Attempted { message: String, recipient: String, attempt: Attempt, record: Record },
}

/// Where its answer goes.
enum ReplyTo {
    Accept(oneshot::Sender<Result<Accepted, StoreError>>),
    Unit(oneshot::Sender<Result<(), StoreError>>),
    Bool(oneshot::Sender<Result<bool, StoreError>>),
}

/// What a write came to (not yet committed).
enum Outcome {
    Accept(Accepted),
    Unit,
    Bool(bool),
}

type Command = (Op, ReplyTo);

impl ReplyTo {
    fn send(self, outcome: Result<Outcome, StoreError>) {
        let mismatch = || StoreError::Corrupt("a write answered in the wrong kind".into());
        // A requester that has gone away (its connection closed) no longer needs the answer.
        match self {
            ReplyTo::Accept(tx) => drop(tx.send(outcome.and_then(|o| if let Outcome::Accept(a) = o { Ok(a) } else { Err(mismatch()) }))),
            ReplyTo::Unit(tx) => drop(tx.send(outcome.and_then(|o| if let Outcome::Unit = o { Ok(()) } else { Err(mismatch()) }))),
            ReplyTo::Bool(tx) => drop(tx.send(outcome.and_then(|o| if let Outcome::Bool(b) = o { Ok(b) } else { Err(mismatch()) }))),
        }
    }
}

pub struct SqliteStore {
    writer: Mutex<mpsc::Sender<Command>>,
    /// Dropped with the store, which ends the checkpointer.
    _checkpointer: mpsc::Sender<()>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
}

impl SqliteStore {
    /// Opens (creating when needed) the store in `data`, and starts its writer thread.
    pub fn open(data: &Path, max_batch: usize) -> Result<Arc<SqliteStore>, StoreError> {
        std::fs::create_dir_all(data).map_err(|source| StoreError::Io { path: data.display().to_string(), source })?;
        let path = database_path(data);
        let conn = open_connection(&path)?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "cache_size", WRITER_CACHE_PAGES)?;
        let mut writer = Writer::new(conn, max_batch.max(1))?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("caregate-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|source| StoreError::Io { path: "writer thread".into(), source })?;
        let checkpointer = open_connection(&path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("caregate-store-checkpointer".into())
            .spawn(move || checkpoint(&checkpointer, &stopped))
            .map_err(|source| StoreError::Io { path: "checkpointer thread".into(), source })?;
        let readers = (0..4).map(|_| open_connection(&path).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(SqliteStore { writer: Mutex::new(tx), _checkpointer: stop, readers, next_reader: AtomicUsize::new(0) }))
    }

    fn send<T: Send + 'static>(
        &self,
        op: Op,
        reply: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> ReplyTo,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let sent = match self.writer.lock() {
            Ok(writer) => writer.send((op, reply(tx))).is_ok(),
            Err(_) => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(StoreError::WriterGone);
            }
            rx.await.map_err(|_| StoreError::WriterGone)?
        })
    }

    fn read<T: Send + 'static>(
        self: &Arc<Self>,
        query: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, StoreError>> {
        let store = Arc::clone(self);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let i = store.next_reader.fetch_add(1, Ordering::Relaxed) % store.readers.len();
                let conn = store.readers[i].lock().map_err(|_| StoreError::Corrupt("a reader panicked".into()))?;
                query(&conn)
            })
            .await
            .map_err(|_| StoreError::Corrupt("a read task panicked".into()))?
        })
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// The checkpointer's loop: a passive checkpoint (it never blocks the writer or a reader) every
/// [`CHECKPOINT_EVERY`], until the store is dropped; and one after another while the WAL nears the writer's
/// own checkpoint, so that little is left for that one to copy.
fn checkpoint(conn: &Connection, stop: &mpsc::Receiver<()>) {
    let mut wait = CHECKPOINT_EVERY;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(wait) {
        // Busy, pages in the WAL, pages copied.
        match conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get::<_, i64>(1)) {
            Ok(pages) if pages > WRITER_CHECKPOINT_PAGES / 2 => wait = std::time::Duration::from_millis(1),
            Ok(_) => wait = CHECKPOINT_EVERY,
            Err(error) => {
                wait = CHECKPOINT_EVERY;
                tracing::warn!(%error, "a background checkpoint failed; the writer's own will follow");
            }
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
    let mut statement = conn.prepare("SELECT seq, at, event, actor, message, recipient, digest, detail, prev, hash FROM audit ORDER BY rowid")?;
    let rows = statement.query_map([], |r| {
        Ok(Entry {
            seq: r.get(0)?,
            at: r.get(1)?,
            event: r.get(2)?,
            actor: r.get(3)?,
            message: r.get(4)?,
            recipient: r.get(5)?,
            digest: r.get(6)?,
            detail: r.get(7)?,
            prev: r.get(8)?,
            hash: r.get(9)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

struct Writer {
    conn: Connection,
    max_batch: usize,
    /// The chain's head: the next sequence number and the last hash (committed).
    next_seq: i64,
    last_hash: String,
}

impl Writer {
    fn new(conn: Connection, max_batch: usize) -> Result<Writer, StoreError> {
        let mut writer = Writer { conn, max_batch, next_seq: 1, last_hash: GENESIS.into() };
        writer.load_head()?;
        Ok(writer)
    }

    fn load_head(&mut self) -> Result<(), StoreError> {
        let head: Option<(i64, String)> =
            self.conn.query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        (self.next_seq, self.last_hash) = match head {
            Some((seq, hash)) => (seq + 1, hash),
            None => (1, GENESIS.into()),
        };
        Ok(())
    }

    fn run(&mut self, rx: mpsc::Receiver<Command>) {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            while batch.len() < self.max_batch {
                match rx.try_recv() {
                    Ok(command) => batch.push(command),
                    Err(_) => break,
                }
            }
            self.commit(batch);
        }
    }

    /// Group commit: the whole batch in one transaction. Should any write in it fail, the batch is rolled back
    /// and each write is made again in a transaction of its own, so that one bad write fails only itself.
    fn commit(&mut self, batch: Vec<Command>) {
        let head = (self.next_seq, self.last_hash.clone());
        let together = (|| -> Result<Option<Vec<Outcome>>, rusqlite::Error> {
            let tx = self.conn.transaction()?;
            let mut chain = head.clone();
            let mut outcomes = Vec::with_capacity(batch.len());
            for (op, _) in &batch {
                match apply(&tx, &mut chain, op) {
                    Ok(outcome) => outcomes.push(outcome),
                    Err(_) => return Ok(None),
                }
            }
            tx.commit()?;
            (self.next_seq, self.last_hash) = chain;
            Ok(Some(outcomes))
        })();
        match together {
            Ok(Some(outcomes)) => {
                for ((_, reply), outcome) in batch.into_iter().zip(outcomes) {
                    reply.send(Ok(outcome));
                }
            }
            failed => {
                if let Err(error) = failed {
                    tracing::warn!(%error, "a group commit failed; committing its writes one by one");
                }
                (self.next_seq, self.last_hash) = head;
                for (op, reply) in batch {
                    reply.send(self.commit_one(&op));
                }
            }
        }
    }

    fn commit_one(&mut self, op: &Op) -> Result<Outcome, StoreError> {
        let tx = self.conn.transaction()?;
        let mut chain = (self.next_seq, self.last_hash.clone());
        let outcome = apply(&tx, &mut chain, op)?;
        tx.commit()?;
        (self.next_seq, self.last_hash) = chain;
        Ok(outcome)
    }
}

fn apply(conn: &Connection, chain: &mut (i64, String), op: &Op) -> Result<Outcome, StoreError> {
    Ok(match op {
        Op::Accept(message) => Outcome::Accept(accept(conn, chain, message)?),
        Op::Audit(records) => {
            records.iter().try_for_each(|r| append(conn, chain, r))?;
            Outcome::Unit
        }
        Op::Transition { message, recipient, transition, record } => {
            Outcome::Bool(apply_transition(conn, chain, message, recipient, *transition, record)?)
        }
        Op::Attempted { message, recipient, attempt, record } => {
            attempted(conn, chain, message, recipient, attempt, record)?;
            Outcome::Unit
        }
    })
}

fn append(conn: &Connection, chain: &mut (i64, String), record: &Record) -> Result<(), StoreError> {
    let entry = Entry::chain(record, chain.0, now_text(), &chain.1);
    conn.prepare_cached("INSERT INTO audit (seq, at, event, actor, message, recipient, digest, detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?
        .execute(params![entry.seq, entry.at, entry.event, entry.actor, entry.message, entry.recipient, entry.digest, entry.detail, entry.prev, entry.hash])?;
    *chain = (entry.seq + 1, entry.hash);
    Ok(())
}

fn accept(conn: &Connection, chain: &mut (i64, String), message: &NewMessage) -> Result<Accepted, StoreError> {
    if let Some(key) = &message.idempotency_key {
        let earlier: Option<(String, String)> = conn
            .prepare_cached("SELECT i.digest, m.response FROM idempotency i JOIN messages m ON m.id = i.message WHERE i.sender = ?1 AND i.key = ?2")?
            .query_row(params![message.sender, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        if let Some((digest, response)) = earlier {
            return Ok(if digest == message.digest { Accepted::Repeat(response) } else { Accepted::KeyConflict });
        }
    }
    let earlier: Option<(String, Option<String>, String)> = conn
        .prepare_cached("SELECT id, envelope_digest, response FROM messages WHERE sender = ?1 AND message_id = ?2")?
        .query_row(params![message.sender, message.message_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    if let Some((id, digest, response)) = earlier {
        if digest.as_deref() != Some(message.envelope_digest.as_str()) {
            return Ok(Accepted::MessageIdConflict);
        }
        // A new key for the same message: the key names the first.
        if let Some(key) = &message.idempotency_key {
            conn.prepare_cached("INSERT INTO idempotency (sender, key, digest, message) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![message.sender, key, message.digest, id])?;
        }
        return Ok(Accepted::Repeat(response));
    }
    if let Some(key) = &message.idempotency_key {
        conn.prepare_cached("INSERT INTO idempotency (sender, key, digest, message) VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![message.sender, key, message.digest, message.id])?;
    }
    conn.prepare_cached(
        "INSERT INTO messages (id, sender, message_id, standard, received_at, digest, response, envelope, envelope_digest) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        message.id,
        message.sender,
        message.message_id,
        message.standard,
        message.received_at,
        message.digest,
        message.response,
        message.envelope,
        message.envelope_digest
    ])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO copies (message, recipient, role, content, redactions, push_url, format, state, attempts, next_at, updated_at) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
    )?;
    for copy in &message.copies {
        let redactions = serde_json::to_string(&copy.redactions).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        insert.execute(params![message.id, copy.recipient, copy.role, redactions, copy.push_url, copy.format, message.received_at])?;
    }
    for record in &message.audit {
        append(conn, chain, record)?;
    }
    Ok(Accepted::New)
}

fn apply_transition(conn: &Connection, chain: &mut (i64, String), message: &str, recipient: &str, transition: Transition, record: &Record) -> Result<bool, StoreError> {
    let now = now_text();
    let changed = match transition {
        // Reading again is no change of state, but is audited all the same.
        Transition::Read => conn
            .prepare_cached("UPDATE copies SET state = CASE WHEN state = 'pending' AND push_url IS NULL THEN 'delivered' ELSE state END, updated_at = ?3 WHERE message = ?1 AND recipient = ?2")?
            .execute(params![message, recipient, now])?,
        Transition::Ack => conn
            .prepare_cached("UPDATE copies SET state = 'acknowledged', updated_at = ?3 WHERE message = ?1 AND recipient = ?2 AND state IN ('pending', 'delivered', 'acknowledged')")?
            .execute(params![message, recipient, now])?,
        Transition::Replay => conn
            .prepare_cached("UPDATE copies SET state = 'pending', attempts = 0, next_at = ?3, updated_at = ?3 WHERE message = ?1 AND recipient = ?2 AND state = 'dead'")?
            .execute(params![message, recipient, now])?,
    };
    if changed == 0 {
        return Ok(false);
    }
    append(conn, chain, record)?;
    Ok(true)
}

fn attempted(conn: &Connection, chain: &mut (i64, String), message: &str, recipient: &str, attempt: &Attempt, record: &Record) -> Result<(), StoreError> {
    let now = now_text();
    let (state, next_at, error) = match attempt {
        Attempt::Delivered => ("delivered", now.clone(), None),
        Attempt::Retry { error, next_at } => ("failed", next_at.clone(), Some(error.clone())),
        Attempt::Dead { error } => ("dead", now.clone(), Some(error.clone())),
    };
    conn.prepare_cached("UPDATE copies SET state = ?3, attempts = attempts + 1, next_at = ?4, last_error = ?5, updated_at = ?6 WHERE message = ?1 AND recipient = ?2")?
        .execute(params![message, recipient, state, next_at, error, now])?;
    append(conn, chain, record)
}

const COPY_COLUMNS: &str = "c.message, m.sender, m.standard, m.received_at, c.recipient, c.role, c.state, c.attempts, c.last_error, c.updated_at, c.push_url, c.format";

fn copy_row(r: &Row<'_>, with_content: bool) -> Result<CopyRecord, rusqlite::Error> {
    let state: String = r.get(6)?;
    let content = if with_content { copy_content(r)? } else { Value::Null };
    Ok(CopyRecord {
        message: r.get(0)?,
        sender: r.get(1)?,
        standard: r.get(2)?,
        received_at: r.get(3)?,
        recipient: r.get(4)?,
        role: r.get(5)?,
        state: CopyState::parse(&state).map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e)))?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        updated_at: r.get(9)?,
        push_url: r.get(10)?,
        format: r.get(11)?,
        content,
    })
}

/// The copy, from columns 12 to 14: the message's envelope less the copy's redactions; or, stored before the
/// envelope was kept, the whole copy.
fn copy_content(r: &Row<'_>) -> Result<Value, rusqlite::Error> {
    fn parse<T: serde::de::DeserializeOwned>(column: usize, text: &str) -> Result<T, rusqlite::Error> {
        serde_json::from_str(text).map_err(|e| rusqlite::Error::FromSqlConversionFailure(column, rusqlite::types::Type::Text, Box::new(e)))
    }
    let envelope: Option<String> = r.get(12)?;
    let redactions: Option<String> = r.get(13)?;
    match (envelope, redactions) {
        (Some(envelope), Some(redactions)) => {
            let redactions: Vec<Redaction> = parse(13, &redactions)?;
            Ok(copy_of(parse(12, &envelope)?, &redactions))
        }
        _ => parse(14, &r.get::<_, String>(14)?),
    }
}

fn copies(conn: &Connection, filter: &str, params: impl rusqlite::Params, with_content: bool) -> Result<Vec<CopyRecord>, StoreError> {
    let content = if with_content { ", m.envelope, c.redactions, c.content" } else { "" };
    let sql = format!("SELECT {COPY_COLUMNS}{content} FROM copies c JOIN messages m ON m.id = c.message {filter}");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params, |r| copy_row(r, with_content))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl Store for Arc<SqliteStore> {
    fn accept(&self, message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>> {
        self.send(Op::Accept(Box::new(message)), ReplyTo::Accept)
    }

    fn idempotent(&self, sender: &str, key: &str) -> BoxFuture<'_, Result<Option<(String, String)>, StoreError>> {
        let (sender, key) = (sender.to_string(), key.to_string());
        self.read(move |conn| {
            Ok(conn
                .prepare_cached("SELECT i.digest, m.response FROM idempotency i JOIN messages m ON m.id = i.message WHERE i.sender = ?1 AND i.key = ?2")?
                .query_row(params![sender, key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?)
        })
    }

    fn audit(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        self.send(Op::Audit(records), ReplyTo::Unit)
    }

    fn message(&self, id: &str) -> BoxFuture<'_, Result<Option<MessageRecord>, StoreError>> {
        let id = id.to_string();
        self.read(move |conn| {
            let head: Option<(String, String, String, String)> = conn
                .prepare_cached("SELECT sender, standard, received_at, digest FROM messages WHERE id = ?1")?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .optional()?;
            let Some((sender, standard, received_at, digest)) = head else { return Ok(None) };
            let copies = copies(conn, "WHERE c.message = ?1 ORDER BY c.rowid", params![id], false)?;
            Ok(Some(MessageRecord { id, sender, standard, received_at, digest, copies }))
        })
    }

    fn mailbox(&self, recipient: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        let recipient = recipient.to_string();
        self.read(move |conn| copies(conn, "WHERE c.recipient = ?1 ORDER BY c.rowid DESC LIMIT ?2", params![recipient, limit as i64], false))
    }

    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.read(move |conn| Ok(copies(conn, "WHERE c.message = ?1 AND c.recipient = ?2", params![message, recipient], true)?.into_iter().next()))
    }

    fn transition(&self, message: &str, recipient: &str, transition: Transition, record: Record) -> BoxFuture<'_, Result<bool, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.send(Op::Transition { message, recipient, transition, record }, ReplyTo::Bool)
    }

    fn due(&self, now: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        let now = now.to_string();
        self.read(move |conn| {
            copies(
                conn,
                "WHERE c.push_url IS NOT NULL AND c.state IN ('pending', 'failed') AND c.next_at <= ?1 ORDER BY c.next_at LIMIT ?2",
                params![now, limit as i64],
                true,
            )
        })
    }

    fn attempted(&self, message: &str, recipient: &str, attempt: Attempt, record: Record) -> BoxFuture<'_, Result<(), StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.send(Op::Attempted { message, recipient, attempt, record }, ReplyTo::Unit)
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        self.read(|conn| copies(conn, "WHERE c.state = 'dead' ORDER BY c.rowid", [], false))
    }

    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.read(|conn| {
            let n: i64 = conn.query_row("SELECT count(*) FROM copies WHERE state IN ('pending', 'failed')", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::audit::{verify, Event, Verdict};
    use crate::gateway::store::NewCopy;

    /// A message from 201 to RJ1 (health, which loses `/body/b`); its `messageId` is its id.
    fn message(id: &str, key: Option<&str>, digest: &str) -> NewMessage {
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

    #[tokio::test]
    async fn accepts_are_durable_idempotent_and_audited() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        let many = (0..50).map(|i| store.accept(message(&format!("m{i}"), None, "d")));
        for result in futures_join(many).await {
            assert_eq!(result.expect("stored"), Accepted::New);
        }
        assert_eq!(store.accept(message("k1", Some("key"), "d1")).await.expect("stored"), Accepted::New);
        assert_eq!(store.accept(message("k2", Some("key"), "d1")).await.expect("stored"), Accepted::Repeat(r#"{"id":"k1"}"#.into()));
        assert_eq!(store.accept(message("k3", Some("key"), "d2")).await.expect("stored"), Accepted::KeyConflict);
        // A messageId is a sender's once: the same envelope again is the first message, another is a conflict.
        let again = NewMessage { id: "m3-again".into(), message_id: "m3".into(), ..message("m3", None, "d") };
        assert_eq!(store.accept(again).await.expect("stored"), Accepted::Repeat(r#"{"id":"m3"}"#.into()));
        let other = NewMessage { id: "m3-other".into(), message_id: "m3".into(), ..message("m3", None, "e") };
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
        // The chain continues across a restart.
        let store = SqliteStore::open(dir.path(), 64).expect("reopens");
        store.audit(vec![Record::new(Event::Reject, "anonymous")]).await.expect("writes");
        assert_eq!(verify(read_audit(dir.path()).expect("reads")), Verdict::Intact { entries: 53 });
    }

    #[tokio::test]
    async fn one_bad_write_in_a_group_fails_only_itself() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        // Sent together, so committed as one group; the second repeats the first's id (not its messageId).
        let clash = NewMessage { message_id: "a2".into(), ..message("a", None, "d") };
        let writes = [message("a", None, "d"), clash, message("b", None, "d")].map(|m| store.accept(m));
        let results = futures_join(writes.into_iter()).await;
        assert_eq!(results[0].as_ref().ok(), Some(&Accepted::New));
        assert!(matches!(results[1], Err(StoreError::Database(_))), "{:?}", results[1]);
        assert_eq!(results[2].as_ref().ok(), Some(&Accepted::New));
        assert_eq!(store.mailbox("RJ1", 10).await.expect("reads").len(), 2);
        assert_eq!(verify(read_audit(dir.path()).expect("reads")), Verdict::Intact { entries: 2 });
    }

    #[tokio::test]
    async fn a_store_of_the_first_layout_keeps_its_copies_and_takes_new_messages() {
        let dir = tempfile::tempdir().expect("temp dir");
        {
            let conn = Connection::open(database_path(dir.path())).expect("creates");
            conn.execute_batch(
                "CREATE TABLE messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL, standard TEXT NOT NULL, received_at TEXT NOT NULL, digest TEXT NOT NULL, response TEXT NOT NULL);
                 CREATE TABLE copies (message TEXT NOT NULL, recipient TEXT NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL, push_url TEXT, format TEXT NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at TEXT NOT NULL, last_error TEXT, updated_at TEXT NOT NULL, UNIQUE (message, recipient));
                 INSERT INTO messages VALUES ('old', '201', 'referral@1.0', '2026-01-01T00:00:00.000Z', 'd', '{}');
                 INSERT INTO copies (message, recipient, role, content, format, state, next_at, updated_at) VALUES ('old', 'RJ1', 'health', '{\"a\":1,\"redactions\":[]}', 'json', 'pending', '', '');",
            )
            .expect("the first layout");
        }
        let store = SqliteStore::open(dir.path(), 64).expect("opens and migrates");
        let copy = store.copy("old", "RJ1").await.expect("reads").expect("kept");
        assert_eq!(copy.content, serde_json::json!({"a": 1, "redactions": []}));
        assert_eq!(store.accept(message("new", None, "d")).await.expect("stored"), Accepted::New);
        let copy = store.copy("new", "RJ1").await.expect("reads").expect("stored");
        assert_eq!(copy.content["body"], serde_json::json!({"a": 1}));
        drop(store);
        SqliteStore::open(dir.path(), 64).expect("opens again");
    }

    async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
        let mut out = Vec::new();
        let pending: Vec<F> = futures.collect();
        for f in pending {
            out.push(f.await);
        }
        out
    }
}
