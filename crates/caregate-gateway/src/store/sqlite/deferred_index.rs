//! An index of the messages table by sender and a column whose values are random keys: the `messageId` (which
//! message a sender's `messageId` names, so that a message sent again is answered as the first and another under
//! the same `messageId` is refused) and the `Idempotency-Key` it came with.
//!
//! Both are UUIDs, most often random (version 4), so a B-tree index kept in step with the messages table puts
//! each new entry on a random leaf page; once the index has more leaves than a group commit has messages, every
//! message rewrites a page of its own, and SQLite's log holds whole pages: with 8 KiB pages, 8 KiB of log per
//! message, and as much again at the checkpoint (BENCHMARKS.md: the closed loop fell from
//! ≈ 14,800 to ≈ 8,500 accepts a second). So the index is kept a little behind, as a derived copy of the
//! messages table:
//! - a committed message's entry waits in memory (`pending`) and is looked up there;
//! - each group commit also writes a slice of the waiting entries into the table: the next
//!   `1 / SWEEP_COMMITS` of them in key order, going on from where the last slice ended and round again, so
//!   that under a steady load about `SWEEP_COMMITS` commits' entries wait, and those written together share
//!   leaf pages;
//! - the table records how far through the messages table (by rowid) it is complete, in the same transaction;
//!   on opening, the messages past that are indexed again — nothing that a crash loses from memory was ever
//!   only there.
//!
//! - a filter of the keys the table holds (a Bloom filter, added to as keys come, and made from the table on a
//!   thread of its own when the index opens) answers most lookups of a key new to the gateway, as nearly every
//!   message's is, without a search of the table: with random keys, that search read a page of its own, and in
//!   a store of 700,000 messages cost ≈ 4.5 % of the gateway's CPU, rising as the store grew. A false positive
//!   costs only the search; until the filter is made (≈ 0.3 s a million keys), every lookup searches.
//!
//! Not for: deciding what a repeat or a conflict is (the writer's `accept`); it only says which message it is.
//! Nor for keys that name an earlier message (an `Idempotency-Key` new to a `messageId` sent before), which
//! the `idempotency` table keeps.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::hash::BuildHasher;
use std::ops::Bound;
use std::sync::mpsc;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::store::StoreError;

/// Every deferred index's watermark: every message up to `up_to` (by rowid) is in it.
const WATERMARKS: &str = "
CREATE TABLE IF NOT EXISTS deferred_indexes (
    name TEXT PRIMARY KEY,
    up_to INTEGER NOT NULL
);
";

/// An index, and the column of the messages table it indexes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Indexed {
    /// The index's table.
    pub table: &'static str,
    pub column: &'static str,
}

pub(crate) const MESSAGE_IDS: Indexed = Indexed { table: "message_ids", column: "message_id" };
pub(crate) const IDEMPOTENCY_KEYS: Indexed = Indexed { table: "idempotency_keys", column: "idempotency_key" };

/// Each group commit writes this fraction (one in so many) of the waiting entries, so that under a steady load
/// about this many commits' entries wait. The more entries wait, the more of them share a leaf page when
/// written; under a heavy load, with groups of tens of messages, a hundred thousand or more wait (≈ 30 MB).
/// With random ids, one store for four 12 s closed-loop rounds, two runs each: 4096 gave ≈ 5 % more accepts a
/// second than 1024 and no worse a p99 at 5,000/s (BENCHMARKS.md).
const SWEEP_COMMITS: usize = 4096;

/// The most entries that wait in memory (≈ 150 bytes each); past it a commit writes the excess too.
const MAX_PENDING: usize = 1 << 18;

/// How far the stored watermark must fall behind before it is written again: each write rewrites a page of
/// its own, and a watermark that lags only means more messages indexed again on opening.
const WATERMARK_STEP: i64 = 4096;

/// The least size of the filter of stored keys, in bits (8 MiB): at 7 hashes a key, by the textbook formula,
/// fewer than 1 % false positives up to ≈ 6 million keys and ≈ 12 % at 13 million. A store with more messages
/// when it opens gets a filter of 16 bits for each (a message has at most one key in each index), up to
/// `MAX_FILTER_BITS`. The unit tests' filter is small, so that their lookups meet false positives too.
const MIN_FILTER_BITS: usize = if cfg!(test) { 1 << 10 } else { 1 << 26 };
/// 256 MiB, reached by a store of 134 million messages; a size a 32-bit `usize` holds too.
const MAX_FILTER_BITS: usize = 1 << 31;
const FILTER_HASHES: u32 = 7;

/// A sender and one of its keys (a `messageId` or an `Idempotency-Key`), ordered as the index's table orders
/// them: by sender, then key. `pending`'s B-tree compares a new key with several of its own on each level,
/// over a hundred thousand keys under load; with only the strings, each comparison reads two of them from
/// elsewhere in memory, and that was half the cost of keeping the index (≈ 1.4 % of the gateway's CPU).
/// So the first bytes of both, as the table would compare them (`sender`, a zero byte, `key`), are held in
/// the entry itself, and the strings are read only when those are the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
struct Key {
    head: u128,
    sender: String,
    key: String,
}

impl Key {
    fn new(sender: &str, key: &str) -> Key {
        let mut head = [0u8; 16];
        let joined = sender.bytes().chain(std::iter::once(0)).chain(key.bytes());
        for (slot, byte) in head.iter_mut().zip(joined) {
            *slot = byte;
        }
        Key { head: u128::from_be_bytes(head), sender: sender.to_string(), key: key.to_string() }
    }
}

/// The head first, then the strings. For a sender without a zero byte, this is the table's order; for any
/// other it is still a total order that agrees with equality, which is all a lookup needs.
impl Ord for Key {
    fn cmp(&self, other: &Key) -> std::cmp::Ordering {
        self.head
            .cmp(&other.head)
            .then_with(|| (self.sender.as_str(), self.key.as_str()).cmp(&(other.sender.as_str(), other.key.as_str())))
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

pub(crate) struct DeferredIndex {
    indexed: Indexed,
    /// Its statements.
    find: String,
    insert: String,

    /// Committed entries not yet in the table, to the rowid of their message.
    pending: BTreeMap<Key, i64>,
    /// The rowids of `pending`, for the watermark.
    rowids: BTreeSet<i64>,
    /// Entries of the open transaction.
    open: HashMap<Key, i64>,
    /// How many entries of `open` and `pending` have each hash: most lookups are of keys new to the gateway, and
    /// the hash tells them apart at once, where the search of `pending`'s B-tree, a hundred thousand keys and
    /// more under load, compares a key on each of its levels.
    hashes: HashMap<u64, u32>,
    hasher: RandomState,
    /// The hashes of the keys the table holds.
    stored: Stored,
    /// Entries the open transaction has written into the table.
    written: Vec<(Key, i64)>,
    /// The watermark the open transaction has stored, if it stored one.
    storing: Option<i64>,
    /// The last key the sweep wrote.
    cursor: Option<Key>,
    /// The watermark as committed: every message up to this rowid is in the table.
    up_to: i64,
    /// `SWEEP_COMMITS`, `MAX_PENDING` and `WATERMARK_STEP` (smaller in tests).
    sweep_commits: usize,
    max_pending: usize,
    watermark_step: i64,
}

impl DeferredIndex {
    /// Makes the index's table when needed, and indexes every message past its watermark.
    pub(crate) fn open(conn: &Connection, indexed: Indexed) -> Result<DeferredIndex, StoreError> {
        let Indexed { table, column } = indexed;
        conn.execute_batch(WATERMARKS)?;
        conn.execute_batch(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                 sender TEXT NOT NULL,
                 key TEXT NOT NULL,
                 message INTEGER NOT NULL,
                 PRIMARY KEY (sender, key)
             ) WITHOUT ROWID;
             INSERT OR IGNORE INTO deferred_indexes (name, up_to) VALUES ('{table}', 0);"
        ))?;
        let tx = conn.unchecked_transaction()?;
        let up_to: i64 = tx.query_row("SELECT up_to FROM deferred_indexes WHERE name = ?1", [table], |r| r.get(0))?;
        // Sorted, so that a long backlog goes in leaf by leaf.
        tx.execute(
            &format!(
                "INSERT INTO {table} (sender, key, message)
                   SELECT sender, {column}, rowid FROM messages WHERE rowid > ?1 AND {column} IS NOT NULL ORDER BY sender, {column}
                 ON CONFLICT (sender, key) DO NOTHING"
            ),
            [up_to],
        )?;
        let last: i64 = tx.query_row("SELECT coalesce(max(rowid), 0) FROM messages", [], |r| r.get(0))?;
        let up_to = up_to.max(last);
        tx.execute("UPDATE deferred_indexes SET up_to = ?1 WHERE name = ?2", params![up_to, table])?;
        tx.commit()?;
        let hasher = RandomState::new();
        let stored = Stored::open(conn, table, &hasher, last)?;
        Ok(DeferredIndex {
            indexed,
            find: format!("SELECT message FROM {table} WHERE sender = ?1 AND key = ?2"),
            insert: format!(
                "INSERT INTO {table} (sender, key, message) VALUES (?1, ?2, ?3) ON CONFLICT (sender, key) DO NOTHING"
            ),
            pending: BTreeMap::new(),
            rowids: BTreeSet::new(),
            open: HashMap::new(),
            hashes: HashMap::new(),
            hasher,
            stored,
            written: Vec::new(),
            storing: None,
            cursor: None,
            up_to,
            sweep_commits: SWEEP_COMMITS,
            max_pending: MAX_PENDING,
            watermark_step: WATERMARK_STEP,
        })
    }

    /// The rowid of the message a sender sent under `key`, as the open transaction sees it.
    pub(crate) fn find(&self, conn: &Connection, sender: &str, key: &str) -> Result<Option<i64>, StoreError> {
        let hash = self.hasher.hash_one((sender, key));
        if self.hashes.contains_key(&hash) {
            let owned = Key::new(sender, key);
            if let Some(&rowid) = self.open.get(&owned).or_else(|| self.pending.get(&owned)) {
                return Ok(Some(rowid));
            }
        }
        if let Stored::Made(filter) = &self.stored {
            if !filter.contains_hash(hash) {
                return Ok(None);
            }
        }
        Ok(conn.prepare_cached(&self.find)?.query_row(params![sender, key], |r| r.get(0)).optional()?)
    }

    /// A message stored in the open transaction.
    pub(crate) fn add(&mut self, sender: &str, key: &str, rowid: i64) {
        if self.open.insert(Key::new(sender, key), rowid).is_none() {
            let hash = self.hasher.hash_one((sender, key));
            *self.hashes.entry(hash).or_default() += 1;
            // Before it can reach the table: the sweep writes only what was added.
            self.stored.insert(hash);
        }
    }

    /// One entry fewer with the hash of `key`.
    fn unhash(&mut self, key: &Key) {
        let hash = self.hasher.hash_one((key.sender.as_str(), key.key.as_str()));
        if let Some(count) = self.hashes.get_mut(&hash) {
            *count -= 1;
            if *count == 0 {
                self.hashes.remove(&hash);
            }
        }
    }

    /// Just before the open transaction commits: writes the sweep's next slice of waiting entries (all of them
    /// when `all`), and the watermark when it has moved far enough (or `all`). Nothing changes in memory until
    /// the commit is known to have succeeded (`committed`).
    pub(crate) fn write(&mut self, conn: &Connection, all: bool) -> Result<(), StoreError> {
        let count = if all {
            self.pending.len()
        } else {
            self.pending.len().div_ceil(self.sweep_commits) + self.pending.len().saturating_sub(self.max_pending)
        };
        // From just past the last key written, and round again from the start.
        let (after, from_start) = match &self.cursor {
            Some(key) => (
                self.pending.range::<Key, _>((Bound::Excluded(key), Bound::Unbounded)),
                self.pending.range::<Key, _>((Bound::Unbounded, Bound::Included(key))),
            ),
            None => (self.pending.range::<Key, _>(..), self.pending.range::<Key, _>(..Key::default())),
        };
        let slice: Vec<(Key, i64)> =
            after.chain(from_start).take(count).map(|(key, &rowid)| (key.clone(), rowid)).collect();
        let mut insert = conn.prepare_cached(&self.insert)?;
        for (key, rowid) in slice {
            insert.execute(params![key.sender, key.key, rowid])?;
            self.written.push((key, rowid));
        }
        let written: HashSet<i64> = self.written.iter().map(|&(_, rowid)| rowid).collect();
        let waiting = self.rowids.iter().copied().find(|rowid| !written.contains(rowid));
        let oldest = waiting.into_iter().chain(self.open.values().copied()).min();
        let complete = match oldest {
            Some(rowid) => rowid - 1,
            None => conn.query_row("SELECT coalesce(max(rowid), 0) FROM messages", [], |r| r.get(0))?,
        };
        if complete >= self.up_to + self.watermark_step || (all && complete > self.up_to) {
            conn.prepare_cached("UPDATE deferred_indexes SET up_to = ?1 WHERE name = ?2")?
                .execute(params![complete, self.indexed.table])?;
            self.storing = Some(complete);
        }
        Ok(())
    }

    /// The open transaction committed: its entries wait, and those it wrote no longer do.
    pub(crate) fn committed(&mut self) {
        self.stored.take_made();
        for (key, rowid) in self.open.drain() {
            self.rowids.insert(rowid);
            if self.pending.insert(key, rowid).is_some() {
                // Not met: a key is added only when not found. Its hash is then counted twice, which costs a search
                // of `pending` now and then, never a wrong answer.
                tracing::warn!("a deferred index's waiting key was added again");
            }
        }
        for (key, rowid) in std::mem::take(&mut self.written) {
            if self.pending.get(&key) == Some(&rowid) {
                self.pending.remove(&key);
                self.rowids.remove(&rowid);
                self.unhash(&key);
            }
            self.cursor = Some(key);
        }
        if let Some(up_to) = self.storing.take() {
            self.up_to = up_to;
        }
    }

    /// The open transaction was rolled back: nothing it did happened.
    pub(crate) fn rolled_back(&mut self) {
        for (key, _) in std::mem::take(&mut self.open) {
            self.unhash(&key);
        }
        self.written.clear();
        self.storing = None;
    }

    /// How many entries wait in memory.
    pub(crate) fn waiting(&self) -> usize {
        self.pending.len()
    }
}

/// The filter of the keys a table holds: the hash of each (and of some keys it does not hold: those of
/// rolled-back transactions, and false positives), so that a key whose hash it has not seen is in neither the
/// table nor memory.
enum Stored {
    /// Being made from the table on a thread of its own; the keys added since the index opened are in `recent`.
    Making {
        recent: fastbloom::BloomFilter,
        made: mpsc::Receiver<Result<fastbloom::BloomFilter, StoreError>>,
    },
    Made(fastbloom::BloomFilter),
    /// It could not be made: every lookup not answered from memory searches the table.
    Unknown,
}

impl Stored {
    /// Starts making the filter of `table`'s keys: on a thread with a connection of its own, so that opening a
    /// large store does not wait for it; on `conn` itself when the database has no file (tests).
    /// `messages`: the last rowid of the messages table, an upper bound on the keys in `table`.
    fn open(conn: &Connection, table: &'static str, hasher: &RandomState, messages: i64) -> Result<Stored, StoreError> {
        // A filter of 16 bits a key, for the messages stored so far (each has at most one key in each index).
        let wanted = usize::try_from(messages).unwrap_or(usize::MAX).saturating_mul(16);
        let bits =
            wanted.max(MIN_FILTER_BITS).checked_next_power_of_two().unwrap_or(MAX_FILTER_BITS).min(MAX_FILTER_BITS);
        let empty = move || fastbloom::BloomFilter::with_num_bits(bits).hashes(FILTER_HASHES);
        let path = conn.path().filter(|p| !p.is_empty()).map(std::path::PathBuf::from);
        let Some(path) = path else { return Ok(Stored::Made(scan(conn, table, hasher, empty())?)) };
        let (tx, made) = mpsc::channel();
        let hasher = hasher.clone();
        std::thread::Builder::new()
            .name("cg-index-filter".into())
            .spawn(move || {
                let filter = Connection::open_with_flags(
                    &path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )
                .map_err(StoreError::from)
                .and_then(|conn| scan(&conn, table, &hasher, empty()));
                drop(tx.send(filter));
            })
            .map_err(|source| StoreError::Io { path: "index filter thread".into(), source })?;
        Ok(Stored::Making { recent: empty(), made })
    }

    fn insert(&mut self, hash: u64) {
        match self {
            Stored::Making { recent: filter, .. } | Stored::Made(filter) => {
                filter.insert_hash(hash);
            }
            Stored::Unknown => {}
        }
    }

    /// Takes the filter made from the table, if it is ready, with the keys added since.
    fn take_made(&mut self) {
        let Stored::Making { recent, made } = self else { return };
        *self = match made.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return,
            Ok(Ok(mut filter))
                if filter.num_bits() == recent.num_bits() && filter.num_hashes() == recent.num_hashes() =>
            {
                filter.union(recent);
                Stored::Made(filter)
            }
            Ok(Ok(_)) => {
                tracing::warn!("an index filter was made of another size; lookups search the table");
                Stored::Unknown
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "an index filter could not be made; lookups search the table");
                Stored::Unknown
            }
            Err(mpsc::TryRecvError::Disconnected) => {
                tracing::warn!("the index filter's thread stopped; lookups search the table");
                Stored::Unknown
            }
        };
    }
}

/// `filter` with the hash of every key in `table` added.
fn scan(
    conn: &Connection,
    table: &str,
    hasher: &RandomState,
    mut filter: fastbloom::BloomFilter,
) -> Result<fastbloom::BloomFilter, StoreError> {
    let mut statement = conn.prepare(&format!("SELECT sender, key FROM {table}"))?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let text = |i| {
            row.get_ref(i)
                .map_err(StoreError::from)?
                .as_str()
                .map_err(|e| StoreError::Corrupt(format!("a key in {table}: {e}")))
        };
        let (sender, key) = (text(0)?, text(1)?);
        filter.insert_hash(hasher.hash_one((sender, key)));
    }
    Ok(filter)
}

/// The store's two deferred indexes, written, committed and rolled back together with the writer's transactions.
pub(crate) struct Deferred {
    /// Messages by sender and `messageId`.
    pub ids: DeferredIndex,
    /// Messages by sender and the `Idempotency-Key` they came with.
    pub keys: DeferredIndex,
}

impl Deferred {
    pub(crate) fn open(conn: &Connection) -> Result<Deferred, StoreError> {
        Ok(Deferred {
            ids: DeferredIndex::open(conn, MESSAGE_IDS)?,
            keys: DeferredIndex::open(conn, IDEMPOTENCY_KEYS)?,
        })
    }

    pub(crate) fn write(&mut self, conn: &Connection, all: bool) -> Result<(), StoreError> {
        self.ids.write(conn, all)?;
        self.keys.write(conn, all)
    }

    pub(crate) fn committed(&mut self) {
        self.ids.committed();
        self.keys.committed();
    }

    pub(crate) fn rolled_back(&mut self) {
        self.ids.rolled_back();
        self.keys.rolled_back();
    }

    pub(crate) fn waiting(&self) -> usize {
        self.ids.waiting() + self.keys.waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn store() -> Connection {
        let conn = Connection::open_in_memory().expect("opens");
        conn.execute_batch("CREATE TABLE messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL, message_id TEXT);")
            .expect("a messages table");
        conn
    }

    /// Stores messages `from..to` of sender 201 (`messageId` `m<i>`), in one transaction that commits or not.
    fn group(conn: &Connection, ids: &mut DeferredIndex, from: usize, to: usize, commits: bool) {
        conn.execute_batch("BEGIN").expect("begins");
        for i in from..to {
            conn.execute("INSERT INTO messages (id, sender, message_id) VALUES (?1, '201', ?1)", [format!("m{i}")])
                .expect("stored");
            ids.add("201", &format!("m{i}"), conn.last_insert_rowid());
        }
        ids.write(conn, false).expect("writes its slice");
        if commits {
            conn.execute_batch("COMMIT").expect("commits");
            ids.committed();
        } else {
            conn.execute_batch("ROLLBACK").expect("rolls back");
            ids.rolled_back();
        }
    }

    fn found(conn: &Connection, ids: &DeferredIndex, i: usize) -> Option<String> {
        let rowid = ids.find(conn, "201", &format!("m{i}")).expect("looks up")?;
        conn.query_row("SELECT id FROM messages WHERE rowid = ?1", [rowid], |r| r.get(0)).optional().expect("reads")
    }

    fn in_table(conn: &Connection) -> usize {
        conn.query_row("SELECT count(*) FROM message_ids", [], |r| r.get::<_, i64>(0)).expect("counts") as usize
    }

    #[test]
    fn each_commit_writes_its_share_of_the_waiting_entries_in_key_order() {
        let conn = store();
        let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
        ids.sweep_commits = 8;
        group(&conn, &mut ids, 0, 100, true);
        assert_eq!((ids.waiting(), in_table(&conn)), (100, 0), "a group's own entries wait");
        group(&conn, &mut ids, 0, 0, true);
        assert_eq!((ids.waiting(), in_table(&conn)), (87, 13), "an eighth, rounded up");
        let first: Vec<String> = conn
            .prepare("SELECT key FROM message_ids")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
            .expect("reads");
        let mut expected: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
        expected.sort();
        assert_eq!(first, expected[..13]);
        for _ in 0..100 {
            group(&conn, &mut ids, 0, 0, true);
        }
        assert_eq!((ids.waiting(), in_table(&conn)), (0, 100));
        assert!((0..100).all(|i| found(&conn, &ids, i) == Some(format!("m{i}"))));
    }

    #[test]
    fn past_the_most_that_may_wait_a_commit_writes_the_excess_too() {
        let conn = store();
        let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
        (ids.sweep_commits, ids.max_pending) = (1000, 10);
        group(&conn, &mut ids, 0, 50, true);
        group(&conn, &mut ids, 50, 50, true);
        assert_eq!((ids.waiting(), in_table(&conn)), (9, 41), "one for its share of 50, and the 40 beyond 10");
    }

    #[test]
    fn a_rolled_back_group_leaves_nothing_and_its_slice_waits_on() {
        let conn = store();
        let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
        ids.sweep_commits = 1;
        group(&conn, &mut ids, 0, 10, true);
        group(&conn, &mut ids, 10, 20, false);
        assert_eq!(
            (ids.waiting(), in_table(&conn)),
            (10, 0),
            "the slice written by the rolled-back group is not taken as written"
        );
        assert_eq!(found(&conn, &ids, 15), None);
        assert_eq!(found(&conn, &ids, 5), Some("m5".into()));
        group(&conn, &mut ids, 20, 20, true);
        assert_eq!((ids.waiting(), in_table(&conn)), (0, 10));
    }

    #[test]
    fn messages_stored_before_the_index_was_made_are_indexed_when_it_is() {
        let conn = store();
        conn.execute_batch("INSERT INTO messages VALUES ('a', '201', 'x'), ('b', '202', 'x'), ('old', '201', NULL);")
            .expect("stored before");
        let ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
        assert_eq!(in_table(&conn), 2, "a message without a messageId has no entry");
        assert_eq!(ids.find(&conn, "202", "x").expect("looks up"), Some(2));
    }

    #[test]
    fn a_store_on_disk_makes_its_filter_aside_and_then_finds_the_keys_its_table_held() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = dir.path().join("store.db");
        let conn = Connection::open(&path).expect("opens");
        conn.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE messages (id TEXT PRIMARY KEY, sender TEXT NOT NULL, message_id TEXT);").expect("a messages table");
        let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
        group(&conn, &mut ids, 0, 300, true);
        let (waiting, written) = (ids.waiting(), in_table(&conn));
        drop(ids);
        assert_eq!(waiting + written, 300);
        // Opened again: the 300 are in the table (made again from the messages past the watermark, or swept).
        let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens again");
        assert!(matches!(ids.stored, Stored::Making { .. }), "a store with a file makes its filter on a thread");
        let mut next = 300;
        for _ in 0..500 {
            if matches!(ids.stored, Stored::Made(_)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            group(&conn, &mut ids, next, next + 1, true);
            next += 1;
        }
        assert!(matches!(ids.stored, Stored::Made(_)), "the filter was made");
        // Every waiting entry written: each lookup now passes the filter, for the keys added while it was made too.
        conn.execute_batch("BEGIN").expect("begins");
        ids.write(&conn, true).expect("writes every waiting entry");
        conn.execute_batch("COMMIT").expect("commits");
        ids.committed();
        assert_eq!(ids.waiting(), 0);
        for i in 0..next {
            assert!(ids.find(&conn, "201", &format!("m{i}")).expect("looks up").is_some(), "m{i} is found");
        }
        assert_eq!(ids.find(&conn, "201", "never sent").expect("looks up"), None);
    }

    proptest! {
        /// Keys sort as the table sorts them, by sender and then key (SQLite's TEXT order is their bytes'),
        /// whether they differ in their first bytes or only past them.
        #[test]
        fn keys_sort_as_the_table_does(
            a in ("[0-9A-Z]{1,6}", "[0-9a-f-]{0,40}"),
            b in ("[0-9A-Z]{1,6}", "[0-9a-f-]{0,40}"),
            shared in "[0-9a-f]{0,20}",
        ) {
            let (a, b) = ((a.0, format!("{shared}{}", a.1)), (b.0, format!("{shared}{}", b.1)));
            let (ka, kb) = (Key::new(&a.0, &a.1), Key::new(&b.0, &b.1));
            prop_assert_eq!(ka.cmp(&kb), a.cmp(&b));
            prop_assert_eq!(ka == kb, a == b);
        }

        /// Whatever groups commit or roll back, and wherever the process stops (what waits in memory is lost),
        /// the index opened again finds exactly the committed messages.
        #[test]
        fn after_a_crash_the_index_finds_every_committed_message_and_no_other(
            groups in prop::collection::vec((0usize..40, any::<bool>()), 1..40),
            sweep in 1usize..16,
            step in 1i64..64,
            last_all in any::<bool>(),
        ) {
            let conn = store();
            let mut ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens");
            (ids.sweep_commits, ids.watermark_step) = (sweep, step);
            let (mut next, mut committed) = (0, Vec::new());
            for (size, commits) in groups {
                group(&conn, &mut ids, next, next + size, commits);
                if commits {
                    committed.extend(next..next + size);
                }
                next += size;
            }
            prop_assert_eq!(ids.hashes.values().map(|&n| n as usize).sum::<usize>(), ids.open.len() + ids.pending.len(), "every waiting entry's hash, and no other");
            if last_all {
                conn.execute_batch("BEGIN").expect("begins");
                ids.write(&conn, true).expect("writes all");
                conn.execute_batch("COMMIT").expect("commits");
                ids.committed();
                prop_assert_eq!(ids.waiting(), 0);
            }
            drop(ids);
            let ids = DeferredIndex::open(&conn, MESSAGE_IDS).expect("opens again");
            prop_assert_eq!(in_table(&conn), committed.len());
            for i in 0..next {
                let expected = committed.contains(&i).then(|| format!("m{i}"));
                prop_assert_eq!(found(&conn, &ids, i), expected);
            }
        }
    }
}
