//! The one writer thread, which every write goes through. It takes writes into an open transaction as they come
//! (one failing write fails only itself), commits them as one group as soon as the syncer is free — pipelined
//! group commit: the next group fills while the last one is synced — and hands each group to the syncer, which
//! answers its writes once they are durable. Between two transactions it checkpoints the log into the database
//! file, most times lightly, leaving the sync of the database file to a thread of its own.
//!
//! Not for: the SQL of each write (`sql`), nor syncing (`sync`); nor reads, which use connections of their own,
//! save the idempotency lookup, which only the writer can answer.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::deferred_index::Deferred;
use super::sql::{self, Head};
use super::sync::{self, sync_file, Durability, Group};
use super::{schema, wal_path};
use crate::audit::Record;
use crate::store::{Accepted, Attempt, NewMessage, StoreError, Transition};

/// How often the writer copies the WAL's committed pages into the database file. It does so itself, between two
/// transactions: a checkpoint on another connection, running beside the commits, held their syncs up for tens of
/// milliseconds. And since the writer then has the log to itself, its checkpoint copies every frame, so its next
/// transaction starts the log again from the beginning after a full checkpoint: the log stays small and is
/// rewritten in place. A light checkpoint pauses the writer for one copy of this long's writes; a full one also
/// for a sync of the database file (see `Writer::checkpoint`). With 8 KiB pages and LZ4-packed envelopes, 25 ms
/// (three runs each against 50 ms, BENCHMARKS.md) gave a lower p99 at 5,000 accepts a second (5.2 ms against
/// 7.7, medians) and a little more throughput (+2%); 12 ms no more than 25.
pub(super) const CHECKPOINT_EVERY: Duration = Duration::from_millis(25);

/// How many light checkpoints the writer makes between two full ones (see `Writer::checkpoint`). A light one
/// leaves the sync of the database file to a thread of its own; a full one syncs it on the writer, as SQLite does,
/// and lets the log start again from its beginning, so the log grows to at most this many checkpoints' writes.
/// With random message ids, 7 gave ≈ 10 % more accepts a second than a full checkpoint every time; 31 and more no
/// more than 7 (BENCHMARKS.md).
pub(super) const LIGHT_CHECKPOINTS: u32 = 7;

/// The least time between two group commits. Every commit writes again the last page of each table and index
/// it touches (about ten), however few rows it adds; a short wait lets a group gather a few writes under a
/// moderate load (a heavy one gathers them while the last group is synced). Measured (one run each) at 1,000,
/// 5,000 and as many accepts a second as the machine takes: 1 ms added 0.7 ms to the median at 1,000/s for no
/// gain elsewhere; no wait at all gave a tenth less throughput.
const COMMIT_PACE: Duration = Duration::from_micros(300);

/// The memory the writer's connection keeps pages in, KiB (SQLite's default is 2 MB).
const WRITER_CACHE_KIB: i64 = 32 * 1024;

/// A write for the writer thread.
pub(super) enum Op {
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
pub(super) enum ReplyTo {
    Accept(oneshot::Sender<Result<Accepted, StoreError>>),
    Unit(oneshot::Sender<Result<(), StoreError>>),
    Bool(oneshot::Sender<Result<bool, StoreError>>),
    Found(oneshot::Sender<Result<Option<(String, String)>, StoreError>>),
}

/// What a write came to (not yet durable).
pub(super) enum Written {
    Accept(Accepted),
    Unit,
    Bool(bool),
    /// A body digest and an answer.
    Found(Option<(String, String)>),
}

impl ReplyTo {
    pub(super) fn send(self, outcome: Result<Written, StoreError>) {
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
/// only stores them: the envelope packed (see `codec::pack`) and each copy's redactions as JSON text.
pub(super) struct Prepared {
    pub(super) envelope: Vec<u8>,
    pub(super) redactions: Vec<String>,
}

/// What the writer thread is told.
pub(super) enum Input {
    Write(Box<Op>, ReplyTo),
    /// The syncer has made the last group durable, so the next may be committed.
    Synced,
    /// The database file has been synced since the last light checkpoint: the log may start again.
    DatabaseSynced,
    /// The store is being dropped: commit what is open, let the syncer finish, checkpoint, stop.
    Stop,
}

/// Starts the writer on `conn` (the store's first connection, its tables made), with the syncer and the database
/// syncer; the writer's input, and its thread, which ends once both syncers have.
pub(super) fn start(
    conn: Connection,
    indexes: Deferred,
    path: &Path,
    max_batch: usize,
    durability: &Arc<Durability>,
) -> Result<(mpsc::Sender<Input>, JoinHandle<()>), StoreError> {
    // The writer's commits are made durable by the syncer (see `sync::syncer`); SQLite still syncs around each
    // checkpoint, which the writer makes on its own schedule (`Writer::run`), never inside a commit.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    // Negative: a size in KiB rather than in pages.
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    let (tx, rx) = mpsc::channel();
    let (to_syncer, groups) = mpsc::channel();
    // The threads' names fit the 15 bytes Linux keeps, so that top and perf tell them apart.
    let syncer = {
        let (wal, durability, writer) = (wal_path(path), Arc::clone(durability), tx.clone());
        std::thread::Builder::new()
            .name("cg-store-syncer".into())
            .spawn(move || sync::syncer(&wal, &groups, &durability, &writer))
            .map_err(|source| StoreError::Io { path: "syncer thread".into(), source })?
    };
    let (to_database_syncer, requests) = mpsc::channel();
    let database_syncer = {
        let (database, durability, writer) = (path.to_path_buf(), Arc::clone(durability), tx.clone());
        std::thread::Builder::new()
            .name("cg-store-dbsync".into())
            .spawn(move || sync::database_syncer(&database, &requests, &durability, &writer))
            .map_err(|source| StoreError::Io { path: "database syncer thread".into(), source })?
    };
    let checkpoints = Checkpoints {
        guard: schema::open_connection(path)?,
        wal: wal_path(path),
        database: path.to_path_buf(),
        to_database_syncer,
        guarded: false,
        light: 0,
    };
    let mut writer = Writer::new(conn, indexes, max_batch.max(1), Arc::clone(durability), to_syncer, checkpoints)?;
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
    Ok((tx, writer_thread))
}

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
        let head = sql::head(&conn)?;
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
            let found = sql::idempotent(&self.conn, &self.indexes, sender, key);
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
    /// (BENCHMARKS.md).
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

/// Makes one write's statements (in the open transaction).
fn apply(conn: &Connection, indexes: &mut Deferred, chain: &mut Head, op: &Op) -> Result<Written, StoreError> {
    Ok(match op {
        Op::Accept(message, prepared) => Written::Accept(sql::accept(conn, indexes, chain, message, prepared)?),
        Op::Idempotent { sender, key } => Written::Found(sql::idempotent(conn, indexes, sender, key)?),
        Op::Audit(records) => {
            sql::append(conn, chain, records)?;
            Written::Unit
        }
        Op::Transition { message, recipient, transition, record } => {
            Written::Bool(sql::transition(conn, chain, message, recipient, *transition, record)?)
        }
        Op::Attempted { message, recipient, attempt, record } => {
            sql::attempted(conn, chain, message, recipient, attempt, record)?;
            Written::Unit
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{verify, Verdict};
    use crate::store::sqlite::fixtures::{futures_join, message};
    use crate::store::sqlite::{read_audit, SqliteStore};
    use crate::store::Store;

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
}
