//! The store's file and tables: the SQL schema, the one layout it is kept in (`PRAGMA user_version`), and how a
//! connection to the file is opened (page size, WAL). A store is made in this layout or opened in it; a store of
//! any other is refused as it is, never converted.
//!
//! Not for: the statements that read and write rows (`sql`), nor the deferred indexes' own tables, which
//! `deferred_index` makes when it opens.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, Transaction, TransactionBehavior};

use crate::store::StoreError;

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
pub(super) const LAYOUT: i64 = 2;

/// The size of a page of a new store's database file. At SQLite's default of 4 KiB, two messages fitted a page
/// only while their envelopes packed small (so LZ4 could not be used), and a checkpoint copied twice as many
/// pages. At 8 KiB the writer spent about a sixth less time per message under load; 16 KiB was no better and
/// wrote more (BENCHMARKS.md). A store made with other pages keeps them: the page size of a database in WAL
/// mode cannot be changed.
pub(super) const PAGE_SIZE: i64 = 8192;

/// The store's first connection: the tables of a new store made, a store of another layout refused before
/// anything is written to it (WAL mode, too, is set only after), then as `open_connection`.
pub(super) fn open_store(path: &Path) -> Result<Connection, StoreError> {
    let conn = connect(path)?;
    make(&conn, path)?;
    use_wal(&conn)?;
    Ok(conn)
}

/// A further connection to the store's file, which `open_store` has made: in WAL mode, every commit synced (the
/// writer relaxes that for its own, see `writer::start`).
pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::{database_path, SqliteStore};

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
}
