//! The embedded store: one SQLite file in WAL mode. Every write goes through one writer thread, which takes
//! writes into an open transaction as they come and commits it as one group; a syncer thread then syncs the
//! log, and only then are the group's writes answered — so a write is on disk when its future resolves, and
//! many writes share one sync. While one group is being synced the next one fills (pipelined group commit).
//! The writer checkpoints between two transactions, most times leaving the sync of the database file to a
//! thread of its own (light checkpoints, see `Writer::checkpoint`). Reads use their own connections and never
//! wait for the writer, only, before answering, for what they may have seen to be durable. Envelopes are stored packed
//! (LZ4).
//!
//! Not for: any policy; it stores what it is given.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::types::{Type, ValueRef};
use rusqlite::{params, Connection, OptionalExtension, Row, Transaction, TransactionBehavior};
use serde_json::Value;
use tokio::sync::{oneshot, watch};

mod deferred_index;

use super::{
    copy_of, Accepted, Attempt, BoxFuture, CopyRecord, CopyState, MessageRecord, NewMessage, Store, StoreError,
    Transition,
};
use crate::audit::{Entry, Record, GENESIS};
use crate::policy::Redaction;
use deferred_index::Deferred;

/// The tables. `copies.content` is written empty and not read: a copy is made from its message's envelope and
/// its `redactions` whenever it is read or delivered; the column stays because the layout has it.
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
    envelope_digest TEXT,
    idempotency_key TEXT
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
-- Idempotency keys that name an earlier message (a key new to a messageId sent before); a message's own key
-- is kept in its row (`messages.idempotency_key`).
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

/// The layout `SCHEMA` makes (with `deferred_index`'s tables), as `PRAGMA user_version`: a message's
/// idempotency key in its row, its `messageId` and key indexed in `deferred_index`'s tables, each copy held as
/// its redactions. A store of another version, earlier or later, is refused.
const LAYOUT: i64 = 2;

/// Makes the tables of a new (empty) store, at `LAYOUT`; a store already at `LAYOUT` is left as it is. Anything
/// else — a store of another layout, or a database of something else under the store's name — is refused
/// unchanged.
fn make(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version = |conn: &Connection| conn.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    if version(conn)? == LAYOUT {
        return Ok(());
    }
    // Immediate, so that the version and the tables are read and made as one: a second process opening the same
    // new store waits, then finds it made.
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let found = version(&tx)?;
    if found != LAYOUT {
        let empty = !tx.prepare("SELECT 1 FROM sqlite_schema")?.exists([])?;
        if found != 0 || !empty {
            return Err(StoreError::Layout { path: path.display().to_string(), found, expected: LAYOUT });
        }
        tx.execute_batch(SCHEMA)?;
        tx.pragma_update(None, "user_version", LAYOUT)?;
    }
    tx.commit()?;
    Ok(())
}

/// How often the writer copies the WAL's committed pages into the database file. It does so itself, between two
/// transactions: a checkpoint on another connection, running beside the commits, held their syncs up for tens of
/// milliseconds. And since the writer then has the log to itself, its checkpoint copies every frame, so its next
/// transaction starts the log again from the beginning after a full checkpoint: the log stays small and is
/// rewritten in place. A light checkpoint pauses the writer for one copy of this long's writes; a full one also
/// for a sync of the database file (see `Writer::checkpoint`). With 8 KiB pages and LZ4-packed envelopes, 25 ms
/// (three runs each against 50 ms, BENCHMARKS.md) gave a lower p99 at 5,000 accepts a second (5.2 ms against
/// 7.7, medians) and a little more throughput (+2%); 12 ms no more than 25.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// How many light checkpoints the writer makes between two full ones (see `Writer::checkpoint`). A light one
/// leaves the sync of the database file to a thread of its own; a full one syncs it on the writer, as SQLite does,
/// and lets the log start again from its beginning, so the log grows to at most this many checkpoints' writes.
/// With random message ids, 7 gave ≈ 10 % more accepts a second than a full checkpoint every time; 31 and more no
/// more than 7 (BENCHMARKS.md, seventh session).
const LIGHT_CHECKPOINTS: u32 = 7;

/// The least time between two group commits. Every commit writes again the last page of each table and index
/// it touches (about ten), however few rows it adds; a short wait lets a group gather a few writes under a
/// moderate load (a heavy one gathers them while the last group is synced). Measured (one run each) at 1,000,
/// 5,000 and as many accepts a second as the machine takes: 1 ms added 0.7 ms to the median at 1,000/s for no
/// gain elsewhere; no wait at all gave a tenth less throughput.
const COMMIT_PACE: Duration = Duration::from_micros(300);

/// The size of a page of a new store's database file. At SQLite's default of 4 KiB, two messages fitted a page
/// only while their envelopes packed small (so LZ4 could not be used), and a checkpoint copied twice as many
/// pages. At 8 KiB the writer spent about a sixth less time per message under load; 16 KiB was no better and
/// wrote more (BENCHMARKS.md). A store made with other pages keeps them: the page size of a database in WAL
/// mode cannot be changed.
const PAGE_SIZE: i64 = 8192;

/// The memory the writer's connection keeps pages in, KiB (SQLite's default is 2 MB).
const WRITER_CACHE_KIB: i64 = 32 * 1024;

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

/// A write for the writer thread.
enum Op {
    /// A message, and the columns made from it on the caller's thread.
    Accept(Box<NewMessage>, Prepared),
    /// Which message a sender's idempotency key names (a read, made by the writer, which alone knows the
    /// keys not yet in their index's table).
    Idempotent {
        sender: String,
        key: String,
    },
    Audit(Vec<Record>),
    Transition {
        message: String,
        recipient: String,
        transition: Transition,
        record: Record,
    },
    Attempted {
        message: String,
        recipient: String,
        attempt: Attempt,
        record: Record,
    },
}

/// Where its answer goes.
enum ReplyTo {
    Accept(oneshot::Sender<Result<Accepted, StoreError>>),
    Unit(oneshot::Sender<Result<(), StoreError>>),
    Bool(oneshot::Sender<Result<bool, StoreError>>),
    Found(oneshot::Sender<Result<Option<(String, String)>, StoreError>>),
}

/// What a write came to (not yet durable).
enum Written {
    Accept(Accepted),
    Unit,
    Bool(bool),
    /// A body digest and an answer.
    Found(Option<(String, String)>),
}

impl ReplyTo {
    fn send(self, outcome: Result<Written, StoreError>) {
        let mismatch = || StoreError::Corrupt("a write answered in the wrong kind".into());
        // A requester that has gone away (its connection closed) no longer needs the answer.
        match self {
            ReplyTo::Accept(tx) => {
                drop(tx.send(outcome.and_then(|o| if let Written::Accept(a) = o { Ok(a) } else { Err(mismatch()) })))
            }
            ReplyTo::Unit(tx) => {
                drop(tx.send(outcome.and_then(|o| if let Written::Unit = o { Ok(()) } else { Err(mismatch()) })))
            }
            ReplyTo::Bool(tx) => {
                drop(tx.send(outcome.and_then(|o| if let Written::Bool(b) = o { Ok(b) } else { Err(mismatch()) })))
            }
            ReplyTo::Found(tx) => {
                drop(tx.send(outcome.and_then(|o| if let Written::Found(f) = o { Ok(f) } else { Err(mismatch()) })))
            }
        }
    }
}

/// The columns of a message that the caller's thread makes, so that the writer, which every write waits for,
/// only stores them: the envelope packed (see [`pack`]) and each copy's redactions as JSON text.
struct Prepared {
    envelope: Vec<u8>,
    redactions: Vec<String>,
}

/// What the writer thread is told.
enum Input {
    Write(Box<Op>, ReplyTo),
    /// The syncer has made the last group durable, so the next may be committed.
    Synced,
    /// The database file has been synced since the last light checkpoint: the log may start again.
    DatabaseSynced,
    /// The store is being dropped: commit what is open, let the syncer finish, checkpoint, stop.
    Stop,
}

/// Writes committed in one transaction, answered once the WAL holding them is on disk.
struct Group {
    seq: u64,
    answers: Vec<(ReplyTo, Result<Written, StoreError>)>,
}

/// How far commits have gone: groups are numbered as they begin to commit, and a group is durable once the
/// syncer has synced the WAL after its commit. A read waits until what it may have seen is durable, so that no
/// one is shown a write that a power cut could still take back.
struct Durability {
    /// The number of the last group that began to commit (it may be visible to readers from then on).
    begun: AtomicU64,
    /// The number of the last group known durable, and whether a sync has failed (after which nothing is
    /// claimed durable again and every write is refused).
    durable: watch::Sender<(u64, bool)>,
}

impl Durability {
    fn failed(&self) -> bool {
        self.durable.borrow().1
    }

    /// Waits until every group begun so far is durable.
    async fn settle(&self) -> Result<(), StoreError> {
        let target = self.begun.load(Ordering::SeqCst);
        let mut durable = self.durable.subscribe();
        let failed = durable.wait_for(|&(seq, failed)| seq >= target || failed).await.map(|state| state.1);
        match failed {
            Ok(false) => Ok(()),
            _ => Err(StoreError::NotDurable),
        }
    }
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
        let conn = open_store(&path)?;
        let indexes = Deferred::open(&conn)?;
        // The writer's commits are made durable by the syncer (see `syncer`); SQLite still syncs around each
        // checkpoint, which the writer makes on its own schedule (`Writer::run`), never inside a commit.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Negative: a size in KiB rather than in pages.
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
        let durability = Arc::new(Durability { begun: AtomicU64::new(0), durable: watch::Sender::new((0, false)) });
        let (tx, rx) = mpsc::channel();
        let (to_syncer, groups) = mpsc::channel();
        // The threads' names fit the 15 bytes Linux keeps, so that top and perf tell them apart.
        let syncer = {
            let (wal, durability, writer) = (wal_path(&path), Arc::clone(&durability), tx.clone());
            std::thread::Builder::new()
                .name("cg-store-syncer".into())
                .spawn(move || syncer(&wal, &groups, &durability, &writer))
                .map_err(|source| StoreError::Io { path: "syncer thread".into(), source })?
        };
        let (to_database_syncer, requests) = mpsc::channel();
        let database_syncer = {
            let (database, durability, writer) = (path.clone(), Arc::clone(&durability), tx.clone());
            std::thread::Builder::new()
                .name("cg-store-dbsync".into())
                .spawn(move || database_syncer(&database, &requests, &durability, &writer))
                .map_err(|source| StoreError::Io { path: "database syncer thread".into(), source })?
        };
        let checkpoints = Checkpoints {
            guard: open_connection(&path)?,
            wal: wal_path(&path),
            database: path.clone(),
            to_database_syncer,
            guarded: false,
            light: 0,
        };
        let mut writer = Writer::new(conn, indexes, max_batch.max(1), Arc::clone(&durability), to_syncer, checkpoints)?;
        let writer_thread = std::thread::Builder::new()
            .name("cg-store-writer".into())
            .spawn(move || {
                writer.run(rx);
                drop(writer);
                // The writer has dropped its end of the syncers' channels: the syncer answers what it holds.
                drop(syncer.join());
                drop(database_syncer.join());
            })
            .map_err(|source| StoreError::Io { path: "writer thread".into(), source })?;
        let readers = (0..4).map(|_| open_connection(&path).map(Mutex::new)).collect::<Result<Vec<_>, _>>()?;
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

/// The store's first connection: the tables of a new store made, a store of another layout refused before
/// anything is written to it (WAL mode, too, is set only after), then as `open_connection`.
fn open_store(path: &Path) -> Result<Connection, StoreError> {
    let conn = connect(path)?;
    make(&conn, path)?;
    use_wal(&conn)?;
    Ok(conn)
}

/// A further connection to the store's file, which `open_store` has made: in WAL mode, every commit synced (the
/// writer relaxes that for its own).
fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = connect(path)?;
    use_wal(&conn)?;
    Ok(conn)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // Before anything creates the file; on an existing one it changes nothing.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    Ok(conn)
}

fn use_wal(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

/// Syncs a file as it is now (opened each time): a full `fsync`, as SQLite's own.
fn sync_file(path: &Path) -> std::io::Result<()> {
    File::open(path).and_then(|f| f.sync_all())
}

/// The syncer's loop: takes every group committed since its last sync, syncs the WAL (which holds them all),
/// tells the writer it may commit the next group, then answers. Should a sync fail, nothing written since the
/// last good one is claimed durable: those writes and every later one are refused.
fn syncer(wal: &Path, groups: &mpsc::Receiver<Group>, durability: &Durability, writer: &mpsc::Sender<Input>) {
    while let Ok(first) = groups.recv() {
        let mut synced = vec![first];
        synced.extend(groups.try_iter());
        let last = synced.iter().map(|g| g.seq).max().unwrap_or_default();
        let result =
            if durability.failed() { Err(std::io::Error::other("an earlier sync failed")) } else { sync_file(wal) };
        drop(writer.send(Input::Synced));
        match result {
            Ok(()) => {
                durability.durable.send_modify(|state| state.0 = state.0.max(last));
                for (reply, outcome) in synced.into_iter().flat_map(|g| g.answers) {
                    reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, "syncing the write-ahead log failed; the store refuses writes from now on");
                durability.durable.send_modify(|state| state.1 = true);
                for (reply, _) in synced.into_iter().flat_map(|g| g.answers) {
                    reply.send(Err(StoreError::NotDurable));
                }
            }
        }
    }
}

/// The database syncer's loop: syncs the database file after each light checkpoint, then tells the writer, which
/// may then let the log start again. Should a sync fail, the store refuses writes from then on, and the writer is
/// not told: the log keeps every frame.
fn database_syncer(
    database: &Path,
    requests: &mpsc::Receiver<()>,
    durability: &Durability,
    writer: &mpsc::Sender<Input>,
) {
    // One request at a time: the writer makes no light checkpoint while the last one's sync is outstanding.
    while requests.recv().is_ok() {
        match sync_file(database) {
            Ok(()) => drop(writer.send(Input::DatabaseSynced)),
            Err(error) => {
                tracing::error!(%error, "syncing the database file failed; the store refuses writes from now on");
                durability.durable.send_modify(|state| state.1 = true);
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
    let mut statement = conn.prepare(
        "SELECT seq, at, event, actor, message, recipient, digest, detail, prev, hash FROM audit ORDER BY rowid",
    )?;
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

/// The audit chain's head: the next sequence number and the last hash.
type Head = (i64, String);

/// A transaction in progress: the writes made in it, and the chain's head after them.
struct Open {
    writes: Vec<(Op, ReplyTo, Written)>,
    head: Head,
}

/// The one writer: takes writes as they come into an open transaction (one failing write fails only itself:
/// see `write`); commits it as soon as the syncer is free — group commit, with the next group filling while
/// the last one is synced; and checkpoints between two transactions.
struct Writer {
    conn: Connection,
    indexes: Deferred,
    max_batch: usize,
    /// The chain's head as committed.
    head: Head,
    open: Option<Open>,
    /// Whether a committed group is with the syncer.
    syncing: bool,
    /// When the last group was committed.
    committed_at: Instant,
    /// Whether anything was committed since the last checkpoint, and when that was.
    unchecked: bool,
    checkpointed: Instant,
    durability: Arc<Durability>,
    to_syncer: mpsc::Sender<Group>,
    checkpoints: Checkpoints,
}

/// What the writer's checkpoints need besides its connection.
struct Checkpoints {
    /// A connection whose read transaction, held from a light checkpoint until the database file is synced,
    /// keeps SQLite from starting the log again over frames whose pages may not be on disk yet.
    guard: Connection,
    wal: PathBuf,
    database: PathBuf,
    to_database_syncer: mpsc::Sender<()>,
    /// Whether the guard holds its read transaction.
    guarded: bool,
    /// Light checkpoints since the last full one.
    light: u32,
}

impl Writer {
    fn new(
        conn: Connection,
        indexes: Deferred,
        max_batch: usize,
        durability: Arc<Durability>,
        to_syncer: mpsc::Sender<Group>,
        checkpoints: Checkpoints,
    ) -> Result<Writer, StoreError> {
        let head: Option<Head> = conn
            .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        let head = head.map(|(seq, hash)| (seq + 1, hash)).unwrap_or_else(|| (1, GENESIS.into()));
        Ok(Writer {
            conn,
            indexes,
            max_batch,
            head,
            open: None,
            syncing: false,
            committed_at: Instant::now(),
            unchecked: false,
            checkpointed: Instant::now(),
            durability,
            to_syncer,
            checkpoints,
        })
    }

    fn run(&mut self, rx: mpsc::Receiver<Input>) {
        let mut stopping = false;
        while !stopping || self.syncing {
            let now = Instant::now();
            let checkpoint_at = self.checkpointed + CHECKPOINT_EVERY;
            if self.open.is_none() && self.unchecked && checkpoint_at <= now {
                self.checkpoint();
                continue;
            }
            // Wait for input; but commit the open group once the syncer is free and the pace allows, and
            // checkpoint when it is time even if no write comes.
            let due = match &self.open {
                Some(_) => (!self.syncing).then(|| (self.committed_at + COMMIT_PACE).max(now)),
                None => self.unchecked.then_some(checkpoint_at),
            };
            let input = match due {
                Some(at) if at <= now => None,
                Some(at) => match rx.recv_timeout(at - now) {
                    Ok(input) => Some(input),
                    Err(mpsc::RecvTimeoutError::Timeout) => None,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(input) => Some(input),
                    Err(_) => break,
                },
            };
            match input {
                Some(input) => {
                    stopping |= self.take(input);
                    while let Ok(input) = rx.try_recv() {
                        stopping |= self.take(input);
                    }
                }
                None if self.open.is_some() && !self.syncing => self.commit(),
                None => {}
            }
        }
        // The deferred indexes' waiting entries are written too, so that the next opening has none to make again.
        if self.open.is_none() && self.indexes.waiting() > 0 {
            match self.conn.execute_batch("BEGIN IMMEDIATE") {
                Ok(()) => self.open = Some(Open { writes: Vec::new(), head: self.head.clone() }),
                Err(error) => {
                    tracing::warn!(%error, "the deferred indexes are left to be made again at the next opening")
                }
            }
        }
        self.commit_group(true);
        // Last, a full checkpoint, once the database file holds what the light ones copied.
        if self.checkpoints.guarded {
            if let Err(error) = sync_file(&self.checkpoints.database) {
                tracing::error!(%error, "syncing the database file failed; its log is kept whole");
                return;
            }
            self.release_guard();
        }
        if let Err(error) = self.full_checkpoint() {
            tracing::warn!(%error, "the last checkpoint failed; the log is kept for the next start");
        }
    }

    /// Takes one input; true for `Stop`.
    fn take(&mut self, input: Input) -> bool {
        match input {
            Input::Write(op, reply) => self.write(*op, reply),
            Input::Synced => self.syncing = false,
            Input::DatabaseSynced => self.release_guard(),
            Input::Stop => return true,
        }
        false
    }

    /// Makes one write in the open transaction, beginning one if needed. A write that fails is answered at
    /// once; since it may have left part of itself in the transaction, the transaction is rolled back and the
    /// writes before it made again. The idempotency lookup (`Op::Idempotent`) is a read, made here because only
    /// the writer knows the keys still waiting in memory.
    fn write(&mut self, op: Op, reply: ReplyTo) {
        if self.durability.failed() {
            reply.send(Err(StoreError::NotDurable));
            return;
        }
        if let Op::Idempotent { sender, key } = &op {
            // A read, answered at once; but what it found may be in the open transaction, or in a group not yet
            // synced, so a find is answered with the open group, once durable (the caller settles the other).
            let found = idempotent(&self.conn, &self.indexes, sender, key);
            match (found, &mut self.open) {
                (Ok(Some(answer)), Some(open)) => open.writes.push((op, reply, Written::Found(Some(answer)))),
                (found, _) => reply.send(found.map(Written::Found)),
            }
            return;
        }
        match self.make(op, reply) {
            Ok(count) => {
                if count >= self.max_batch && !self.syncing {
                    self.commit();
                }
            }
            Err((reply, error)) => {
                reply.send(Err(error));
                self.redo();
            }
        }
    }

    /// Applies one write in the open transaction (begun now if there is none); the number of writes it then
    /// holds, or the write's answer back with its error.
    fn make(&mut self, op: Op, reply: ReplyTo) -> Result<usize, (ReplyTo, StoreError)> {
        if self.open.is_none() {
            if let Err(error) = self.conn.execute_batch("BEGIN IMMEDIATE") {
                return Err((reply, error.into()));
            }
            self.open = Some(Open { writes: Vec::with_capacity(self.max_batch), head: self.head.clone() });
        }
        let Writer { conn, indexes, open: Some(open), .. } = self else {
            return Err((reply, StoreError::Corrupt("no open transaction".into())));
        };
        let mut head = open.head.clone();
        match apply(conn, indexes, &mut head, &op) {
            Ok(outcome) => {
                open.head = head;
                open.writes.push((op, reply, outcome));
                Ok(open.writes.len())
            }
            Err(error) => Err((reply, error)),
        }
    }

    /// Rolls back the open transaction and makes its writes again in a new one. Should one of them fail now
    /// (what succeeded once should not), all of them are failed rather than guessed at.
    fn redo(&mut self) {
        let given_up = || Err(StoreError::Corrupt("a write made again failed; its transaction was given up".into()));
        drop(self.conn.execute_batch("ROLLBACK"));
        self.indexes.rolled_back();
        let Some(Open { writes, .. }) = self.open.take() else { return };
        let mut failed = false;
        for (op, reply, _) in writes {
            let reply = if failed {
                reply
            } else {
                match self.make(op, reply) {
                    Ok(_) => continue,
                    Err((reply, _)) => {
                        failed = true;
                        reply
                    }
                }
            };
            reply.send(given_up());
        }
        if failed {
            drop(self.conn.execute_batch("ROLLBACK"));
            self.indexes.rolled_back();
            for (_, reply, _) in self.open.take().map(|open| open.writes).unwrap_or_default() {
                reply.send(given_up());
            }
        }
    }

    /// Commits the open transaction and hands its group to the syncer.
    fn commit(&mut self) {
        self.commit_group(false);
    }

    /// Commits the open transaction, with the deferred indexes' next slices (or, when `all`, every waiting
    /// entry), and hands its group to the syncer.
    fn commit_group(&mut self, all: bool) {
        let Some(open) = self.open.take() else { return };
        if let Err(error) = self.indexes.write(&self.conn, all) {
            // Its entries wait on in memory; those it wrote before failing are written again, harmlessly.
            tracing::warn!(%error, "writing the deferred indexes' waiting entries failed");
        }
        // Numbered before it can be seen, so that a reader who sees it waits for it.
        let seq = self.durability.begun.fetch_add(1, Ordering::SeqCst) + 1;
        let answers = match self.conn.execute_batch("COMMIT") {
            Ok(()) => {
                self.indexes.committed();
                self.head = open.head;
                self.committed_at = Instant::now();
                self.unchecked = true;
                open.writes.into_iter().map(|(_, reply, outcome)| (reply, Ok(outcome))).collect()
            }
            Err(error) => {
                tracing::error!(%error, "a group commit failed");
                drop(self.conn.execute_batch("ROLLBACK"));
                self.indexes.rolled_back();
                let reason = error.to_string();
                open.writes
                    .into_iter()
                    .map(|(_, reply, _)| (reply, Err(StoreError::Corrupt(format!("the commit failed: {reason}")))))
                    .collect()
            }
        };
        self.syncing = true;
        if let Err(mpsc::SendError(group)) = self.to_syncer.send(Group { seq, answers }) {
            self.syncing = false;
            for (reply, _) in group.answers {
                reply.send(Err(StoreError::WriterGone));
            }
        }
    }

    /// Copies the log's committed pages into the database file. Most checkpoints are light: the copy only, with
    /// the sync of the database file left to the database syncer, so that the writer goes on committing meanwhile;
    /// a guard's read transaction keeps the log from starting again over those pages until they are synced. Every
    /// `LIGHT_CHECKPOINTS + 1`-th is full: SQLite syncs the log and the database itself, and the next transaction starts
    /// the log again from its beginning (passive: a reader still using old pages is not waited for; the log then
    /// goes on, and is started again another time). With random message ids, each checkpoint has hundreds of
    /// scattered pages to sync, and a writer that waited for that sync every time lost a third of its rate
    /// (BENCHMARKS.md, seventh session).
    fn checkpoint(&mut self) {
        if self.checkpoints.guarded {
            // The last light checkpoint's pages are not synced yet: try again next time.
            self.checkpointed = Instant::now();
            return;
        }
        let result =
            if self.checkpoints.light < LIGHT_CHECKPOINTS { self.light_checkpoint() } else { self.full_checkpoint() };
        if let Err(error) = result {
            tracing::warn!(%error, "a checkpoint failed; the next one will copy what it did not");
        }
        (self.unchecked, self.checkpointed) = (false, Instant::now());
    }

    fn full_checkpoint(&mut self) -> Result<(), StoreError> {
        self.checkpoints.light = 0;
        self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    fn light_checkpoint(&mut self) -> Result<(), StoreError> {
        // A page may be copied only once its frame is on disk, and the syncer may still be syncing the last group.
        if self.syncing {
            let wal = &self.checkpoints.wal;
            sync_file(wal).map_err(|source| StoreError::Io { path: wal.display().to_string(), source })?;
        }
        // The guard's read begins before the copy, so that it holds on to every frame copied.
        let guard = &self.checkpoints.guard;
        guard.execute_batch("BEGIN")?;
        if let Err(error) = guard.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())) {
            drop(guard.execute_batch("ROLLBACK"));
            return Err(error.into());
        }
        self.checkpoints.guarded = true;
        self.conn.pragma_update(None, "synchronous", "OFF")?;
        let copied = self.conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        copied?;
        self.checkpoints.light += 1;
        // Should the database syncer be gone, the guard stays: the log keeps every frame.
        if self.checkpoints.to_database_syncer.send(()).is_err() {
            tracing::warn!("the database syncer has stopped; the log is kept whole");
        }
        Ok(())
    }

    /// Ends the guard's read transaction: the database file holds what the last light checkpoint copied.
    fn release_guard(&mut self) {
        if let Err(error) = self.checkpoints.guard.execute_batch("COMMIT") {
            tracing::warn!(%error, "the checkpoint guard's read could not be ended");
            return;
        }
        self.checkpoints.guarded = false;
    }
}

fn apply(conn: &Connection, indexes: &mut Deferred, chain: &mut Head, op: &Op) -> Result<Written, StoreError> {
    Ok(match op {
        Op::Accept(message, prepared) => Written::Accept(accept(conn, indexes, chain, message, prepared)?),
        Op::Idempotent { sender, key } => Written::Found(idempotent(conn, indexes, sender, key)?),
        Op::Audit(records) => {
            append(conn, chain, records)?;
            Written::Unit
        }
        Op::Transition { message, recipient, transition, record } => {
            Written::Bool(apply_transition(conn, chain, message, recipient, *transition, record)?)
        }
        Op::Attempted { message, recipient, attempt, record } => {
            attempted(conn, chain, message, recipient, attempt, record)?;
            Written::Unit
        }
    })
}

/// Appends records to the audit chain, in order, all at one time. One `INSERT` per entry: a statement that
/// writes several rows makes SQLite keep a statement journal of every page it touches, which cost more than
/// the statements saved (BENCHMARKS.md, ninth session).
fn append(conn: &Connection, chain: &mut Head, records: &[Record]) -> Result<(), StoreError> {
    let at = now_text();
    let mut insert = conn.prepare_cached("INSERT INTO audit (seq, at, event, actor, message, recipient, digest, detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?;
    for record in records {
        let entry = Entry::chain(record, chain.0, at.clone(), &chain.1);
        insert.execute(params![
            entry.seq,
            entry.at,
            entry.event,
            entry.actor,
            entry.message,
            entry.recipient,
            entry.digest,
            entry.detail,
            entry.prev,
            entry.hash
        ])?;
        *chain = (entry.seq + 1, entry.hash);
    }
    Ok(())
}

/// Whether message `rowid`'s stored envelope is, as JSON, the one `packed` holds: the same message sent again
/// laid out anew, with its members in another order, or in the other format. Asked only when the two texts
/// differ, which a supplier's retry seldom makes them.
fn same_envelope(conn: &Connection, rowid: i64, packed: &[u8]) -> Result<bool, StoreError> {
    let stored = conn
        .prepare_cached("SELECT envelope FROM messages WHERE rowid = ?1")?
        .query_row([rowid], |r| unpack(r, 0))
        .optional()?;
    let Some(stored) = stored else { return Ok(false) };
    let text = unpack_text(packed).map_err(|e| StoreError::Corrupt(format!("a packed envelope: {e}")))?;
    let sent: Value =
        serde_json::from_slice(&text).map_err(|e| StoreError::Corrupt(format!("an accepted envelope as JSON: {e}")))?;
    Ok(stored == sent)
}

/// The body digest and the answer of the message a sender's idempotency key names, if it names one.
fn idempotent(
    conn: &Connection,
    indexes: &Deferred,
    sender: &str,
    key: &str,
) -> Result<Option<(String, String)>, StoreError> {
    Ok(match indexes.keys.find(conn, sender, key)? {
        Some(rowid) => conn.prepare_cached("SELECT digest, response FROM messages WHERE rowid = ?1")?.query_row([rowid], |r| Ok((r.get(0)?, r.get(1)?))).optional()?,
        None => conn
            .prepare_cached("SELECT i.digest, m.response FROM idempotency i JOIN messages m ON m.id = i.message WHERE i.sender = ?1 AND i.key = ?2")?
            .query_row(params![sender, key], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?,
    })
}

fn accept(
    conn: &Connection,
    indexes: &mut Deferred,
    chain: &mut Head,
    message: &NewMessage,
    prepared: &Prepared,
) -> Result<Accepted, StoreError> {
    if let Some(key) = &message.idempotency_key {
        if let Some((digest, response)) = idempotent(conn, indexes, &message.sender, key)? {
            return Ok(if digest == message.digest { Accepted::Repeat(response) } else { Accepted::KeyConflict });
        }
    }
    let earlier: Option<(i64, String, Option<String>, String)> =
        match indexes.ids.find(conn, &message.sender, &message.message_id)? {
            Some(rowid) => conn
                .prepare_cached("SELECT id, envelope_digest, response FROM messages WHERE rowid = ?1")?
                .query_row([rowid], |r| Ok((rowid, r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?,
            None => None,
        };
    if let Some((rowid, id, digest, response)) = earlier {
        let same_text = digest.as_deref() == Some(message.envelope_digest.as_str());
        if !same_text && !same_envelope(conn, rowid, &prepared.envelope)? {
            return Ok(Accepted::MessageIdConflict);
        }
        // A new key for the same message: the key names the first.
        if let Some(key) = &message.idempotency_key {
            conn.prepare_cached("INSERT INTO idempotency (sender, key, digest, message) VALUES (?1, ?2, ?3, ?4)")?
                .execute(params![message.sender, key, message.digest, id])?;
        }
        return Ok(Accepted::Repeat(response));
    }
    conn.prepare_cached(
        "INSERT INTO messages (id, sender, message_id, standard, received_at, digest, response, envelope, envelope_digest, idempotency_key) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        message.id,
        message.sender,
        message.message_id,
        message.standard,
        message.received_at,
        message.digest,
        message.response,
        prepared.envelope,
        message.envelope_digest,
        message.idempotency_key
    ])?;
    let rowid = conn.last_insert_rowid();
    indexes.ids.add(&message.sender, &message.message_id, rowid);
    if let Some(key) = &message.idempotency_key {
        indexes.keys.add(&message.sender, key, rowid);
    }
    let mut insert = conn.prepare_cached(
        "INSERT INTO copies (message, recipient, role, content, redactions, push_url, format, state, attempts, next_at, updated_at) VALUES (?1, ?2, ?3, '', ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
    )?;
    for (copy, redactions) in message.copies.iter().zip(&prepared.redactions) {
        insert.execute(params![
            message.id,
            copy.recipient,
            copy.role,
            redactions,
            copy.push_url,
            copy.format,
            message.received_at
        ])?;
    }
    append(conn, chain, &message.audit)?;
    Ok(Accepted::New)
}

fn apply_transition(
    conn: &Connection,
    chain: &mut Head,
    message: &str,
    recipient: &str,
    transition: Transition,
    record: &Record,
) -> Result<bool, StoreError> {
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
    append(conn, chain, std::slice::from_ref(record))?;
    Ok(true)
}

fn attempted(
    conn: &Connection,
    chain: &mut Head,
    message: &str,
    recipient: &str,
    attempt: &Attempt,
    record: &Record,
) -> Result<(), StoreError> {
    let now = now_text();
    let (state, next_at, error) = match attempt {
        Attempt::Delivered => ("delivered", now.clone(), None),
        Attempt::Retry { error, next_at } => ("failed", next_at.clone(), Some(error.clone())),
        Attempt::Dead { error } => ("dead", now.clone(), Some(error.clone())),
    };
    conn.prepare_cached("UPDATE copies SET state = ?3, attempts = attempts + 1, next_at = ?4, last_error = ?5, updated_at = ?6 WHERE message = ?1 AND recipient = ?2")?
        .execute(params![message, recipient, state, next_at, error, now])?;
    append(conn, chain, std::slice::from_ref(record))
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
        state: CopyState::parse(&state)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, Type::Text, Box::new(e)))?,
        attempts: r.get(7)?,
        last_error: r.get(8)?,
        updated_at: r.get(9)?,
        push_url: r.get(10)?,
        format: r.get(11)?,
        content,
    })
}

/// An envelope (JSON text) as stored: LZ4-compressed, kept as a BLOB of its length (4 bytes, little
/// endian) and the LZ4 block. A referral's envelope goes from 2.6 KB to 1.9 KB in about 4 µs (as sent, with
/// one space of indentation a level, from 3.3 KB to 2.1 KB in 3.9 µs); zstd at its
/// fastest level made it 1.4 KB but took 11 µs, which under load cost more than the smaller rows saved (see
/// BENCHMARKS.md).
fn pack(envelope: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(envelope.as_bytes())
}

/// The largest envelope unpacked: far beyond the largest document the gateway takes.
const UNPACKED_LIMIT: usize = 256 << 20;

/// The envelope's JSON text from a packed BLOB: made only as large as it says it is, up to the limit.
fn unpack_text(packed: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let (length, block) = packed.split_first_chunk::<4>().ok_or("a packed envelope shorter than its length")?;
    let size = usize::try_from(u32::from_le_bytes(*length))?;
    if size > UNPACKED_LIMIT {
        return Err(format!("a packed envelope that says it is larger than {UNPACKED_LIMIT} bytes").into());
    }
    let text = lz4_flex::block::decompress(block, size)?;
    if text.len() != size {
        return Err(format!("a packed envelope that says it is {size} bytes but unpacks to {}", text.len()).into());
    }
    Ok(text)
}

/// The envelope in `column`, which holds it packed; anything else there (no envelope, or one stored otherwise)
/// is an error.
fn unpack(r: &Row<'_>, column: usize) -> Result<Value, rusqlite::Error> {
    let broken =
        |e: Box<dyn std::error::Error + Send + Sync>, kind| rusqlite::Error::FromSqlConversionFailure(column, kind, e);
    match r.get_ref(column)? {
        ValueRef::Blob(packed) => {
            let text = unpack_text(packed).map_err(|e| broken(e, Type::Blob))?;
            serde_json::from_slice(&text).map_err(|e| broken(Box::new(e), Type::Blob))
        }
        other => Err(broken(format!("an envelope stored as {:?}", other.data_type()).into(), other.data_type())),
    }
}

/// The copy, from columns 12 and 13: the message's envelope less the copy's redactions.
fn copy_content(r: &Row<'_>) -> Result<Value, rusqlite::Error> {
    let envelope = unpack(r, 12)?;
    let redactions: String = r.get(13)?;
    let redactions: Vec<Redaction> = serde_json::from_str(&redactions)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(13, Type::Text, Box::new(e)))?;
    Ok(copy_of(envelope, &redactions))
}

fn copies(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
    with_content: bool,
) -> Result<Vec<CopyRecord>, StoreError> {
    let content = if with_content { ", m.envelope, c.redactions" } else { "" };
    let sql = format!("SELECT {COPY_COLUMNS}{content} FROM copies c JOIN messages m ON m.id = c.message {filter}");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params, |r| copy_row(r, with_content))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

impl Store for Arc<SqliteStore> {
    fn accept(&self, mut message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>> {
        // The envelope's text is not needed once packed, so it is freed here too.
        let envelope = pack(&std::mem::take(&mut message.envelope));
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
        self.read(move |conn| {
            copies(
                conn,
                "WHERE c.recipient = ?1 ORDER BY c.rowid DESC LIMIT ?2",
                params![recipient, limit as i64],
                false,
            )
        })
    }

    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        self.read(move |conn| {
            Ok(copies(conn, "WHERE c.message = ?1 AND c.recipient = ?2", params![message, recipient], true)?
                .into_iter()
                .next())
        })
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
        self.read(move |conn| {
            copies(
                conn,
                "WHERE c.push_url IS NOT NULL AND c.state IN ('pending', 'failed') AND c.next_at <= ?1 ORDER BY c.next_at LIMIT ?2",
                params![now, limit as i64],
                true,
            )
        })
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
        self.read(|conn| copies(conn, "WHERE c.state = 'dead' ORDER BY c.rowid", [], false))
    }

    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.read(|conn| {
            let n: i64 =
                conn.query_row("SELECT count(*) FROM copies WHERE state IN ('pending', 'failed')", [], |r| r.get(0))?;
            Ok(n.max(0) as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{verify, Event, Verdict};
    use crate::store::NewCopy;

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

    #[tokio::test]
    async fn messages_written_across_light_and_full_checkpoints_are_all_there_after_a_restart() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        // More checkpoint intervals than a full cycle of light checkpoints.
        for round in 0..(LIGHT_CHECKPOINTS + 3) {
            let writes = (0..10).map(|i| store.accept(message(&format!("r{round}m{i}"), None, "d")));
            for result in futures_join(writes).await {
                assert_eq!(result.expect("stored"), Accepted::New);
            }
            tokio::time::sleep(CHECKPOINT_EVERY * 2).await;
        }
        drop(store);
        let store = SqliteStore::open(dir.path(), 64).expect("reopens");
        let expected = (LIGHT_CHECKPOINTS as usize + 3) * 10;
        assert_eq!(store.mailbox("RJ1", 10_000).await.expect("reads").len(), expected);
        assert_eq!(verify(read_audit(dir.path()).expect("reads")), Verdict::Intact { entries: expected });
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

    fn layout(data: &Path) -> i64 {
        let conn = Connection::open(database_path(data)).expect("opens");
        conn.pragma_query_value(None, "user_version", |r| r.get(0)).expect("reads")
    }

    #[test]
    fn a_new_store_is_made_in_the_layout_with_large_pages() {
        let dir = tempfile::tempdir().expect("temp dir");
        drop(SqliteStore::open(dir.path(), 64).expect("opens"));
        assert_eq!(layout(dir.path()), LAYOUT);
        let conn = Connection::open(database_path(dir.path())).expect("opens");
        let page_size: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0)).expect("reads");
        assert_eq!(page_size, PAGE_SIZE);
        drop(conn);
        drop(SqliteStore::open(dir.path(), 64).expect("opens again"));
        assert_eq!(layout(dir.path()), LAYOUT);
    }

    #[test]
    fn a_store_of_another_layout_is_refused_and_left_as_it_is() {
        for found in [1, LAYOUT + 1] {
            let dir = tempfile::tempdir().expect("temp dir");
            drop(SqliteStore::open(dir.path(), 64).expect("opens"));
            let conn = Connection::open(database_path(dir.path())).expect("opens");
            conn.pragma_update(None, "user_version", found).expect("sets the layout");
            drop(conn);
            let opened = SqliteStore::open(dir.path(), 64);
            assert!(
                matches!(&opened, Err(StoreError::Layout { found: f, expected: LAYOUT, .. }) if *f == found),
                "layout {found}: {:?}",
                opened.as_ref().err()
            );
            let message = opened.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains(&format!("has layout {found}")), "{message}");
            assert_eq!(layout(dir.path()), found, "the store is not changed");
        }
        // Tables but no layout: an earlier store, or another program's database under the store's name.
        let dir = tempfile::tempdir().expect("temp dir");
        let conn = Connection::open(database_path(dir.path())).expect("creates");
        conn.execute_batch("CREATE TABLE messages (id TEXT PRIMARY KEY);").expect("a table");
        drop(conn);
        let opened = SqliteStore::open(dir.path(), 64);
        assert!(matches!(opened, Err(StoreError::Layout { found: 0, .. })), "{:?}", opened.as_ref().err());
        let conn = Connection::open(database_path(dir.path())).expect("opens");
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))
            .expect("counts");
        let mode: String = conn.pragma_query_value(None, "journal_mode", |r| r.get(0)).expect("reads");
        assert_eq!((layout(dir.path()), tables, mode.as_str()), (0, 1, "delete"), "nothing is changed in it");
    }

    #[tokio::test]
    async fn envelopes_are_stored_packed_and_read_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        let big = NewMessage {
            envelope: serde_json::json!({"body": {"a": "x".repeat(4000), "b": 2}}).to_string(),
            ..message("packed", None, "d")
        };
        assert_eq!(store.accept(big).await.expect("stored"), Accepted::New);
        let copy = store.copy("packed", "RJ1").await.expect("reads").expect("stored");
        assert_eq!(copy.content["body"], serde_json::json!({"a": "x".repeat(4000)}));
        let conn = Connection::open(database_path(dir.path())).expect("opens");
        let (kind, size): (String, i64) = conn
            .query_row("SELECT typeof(envelope), length(envelope) FROM messages WHERE id = 'packed'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("stored");
        assert_eq!(kind, "blob");
        assert!(size < 1000, "4 KB of repeated text packs small, not {size} bytes");
    }

    #[test]
    fn only_a_packed_envelope_is_read() {
        use rusqlite::types::Value as Sql;
        let conn = Connection::open_in_memory().expect("opens");
        let read = |value: Sql| conn.query_row("SELECT ?1", [value], |r| unpack(r, 0));
        assert_eq!(read(Sql::Blob(pack(r#"{"a":1}"#))).expect("unpacks"), serde_json::json!({"a": 1}));
        assert!(read(Sql::Text(r#"{"a":1}"#.into())).is_err(), "JSON text, not packed");
        assert!(read(Sql::Null).is_err(), "no envelope");
    }

    #[test]
    fn a_damaged_packed_envelope_is_an_error_not_a_large_allocation() {
        let packed = pack(r#"{"a":"hello hello hello hello"}"#);
        assert_eq!(unpack_text(&packed).expect("unpacks"), br#"{"a":"hello hello hello hello"}"#);
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack_text(&huge).is_err(), "a length beyond the limit is refused before anything is made");
        let mut longer = packed.clone();
        longer[..4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(unpack_text(&longer).is_err(), "a block that does not fill the stated length");
        assert!(unpack_text(&packed[..packed.len() - 3]).is_err(), "a cut block");
        assert!(unpack_text(&[1, 0]).is_err(), "shorter than its length prefix");
    }

    #[tokio::test]
    async fn a_read_waits_until_what_it_may_have_seen_is_durable() {
        let durability = Durability { begun: AtomicU64::new(2), durable: watch::Sender::new((1, false)) };
        let waiting = tokio::time::timeout(Duration::from_millis(50), durability.settle()).await;
        assert!(waiting.is_err(), "group 2 has begun but is not durable yet");
        let settle = durability.settle();
        durability.durable.send_modify(|state| state.0 = 2);
        assert!(settle.await.is_ok());
    }

    #[test]
    fn a_failed_sync_answers_not_durable_and_nothing_after_is_claimed_durable() {
        let dir = tempfile::tempdir().expect("temp dir");
        let durability = Arc::new(Durability { begun: AtomicU64::new(1), durable: watch::Sender::new((0, false)) });
        let (to_syncer, groups) = mpsc::channel();
        let (writer, told) = mpsc::channel();
        let (reply, answer) = oneshot::channel();
        to_syncer.send(Group { seq: 1, answers: vec![(ReplyTo::Unit(reply), Ok(Written::Unit))] }).expect("sent");
        drop(to_syncer);
        // There is no log to sync at this path, so the sync fails.
        syncer(&dir.path().join("missing-wal"), &groups, &durability, &writer);
        assert!(matches!(answer.blocking_recv(), Ok(Err(StoreError::NotDurable))));
        assert!(matches!(told.try_recv(), Ok(Input::Synced)), "the writer is told the syncer is free");
        assert!(durability.failed());
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        assert!(
            matches!(runtime.block_on(durability.settle()), Err(StoreError::NotDurable)),
            "nor is anything read claimed durable"
        );
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
