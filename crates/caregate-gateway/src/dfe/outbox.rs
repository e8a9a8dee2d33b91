//! What the sender keeps between runs, in one SQLite file of the data folder (`outbound-dfe-csc-api.sqlite`):
//!
//! - `acknowledged`: for each child (`la_code`, `la_child_id`), the digest of the content DfE acknowledged
//!   last (or `purged`) and the receipt that did: a child whose content has that digest is not sent again;
//! - `outbox`: the children to send, in the order they were read, each with its body; a child leaves it only
//!   in the transaction that stores DfE's receipt for its batch;
//! - `receipts`: DfE's receipts, one a batch;
//! - `refusals`: the audit entries of children refused (by validation, or by DfE for what they hold), kept
//!   until the audit chain has them: a refusal is stored in the same transaction that takes its child out of
//!   the run's work, so that a run stopped before writing its entry leaves it for the next run to write.
//!
//! Every write is a transaction synced to disk (WAL, `synchronous = FULL`) before the sender goes on, so a run
//! killed at any point leaves each child either acknowledged, or in the outbox for the next run to send.
//!
//! Not for: the gateway's messages (`store`), or the audit chain (the gateway's store holds it).

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension as _};

/// The digest recorded for a child whose purge DfE acknowledged.
pub const PURGED: &str = "purged";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("{path}: {source}")]
    Sql { path: PathBuf, source: rusqlite::Error },
    #[error("cannot create {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// A child waiting to be sent.
#[derive(Debug, Clone)]
pub struct Waiting {
    pub seq: i64,
    pub la_child_id: String,
    pub digest: String,
    pub body: Vec<u8>,
    pub purge: bool,
}

pub struct Outbox {
    conn: Connection,
    path: PathBuf,
    la_code: u32,
}

const SCHEMA: &str = "
PRAGMA journal_mode = WAL;
PRAGMA synchronous = FULL;
CREATE TABLE IF NOT EXISTS acknowledged (
    la_code INTEGER NOT NULL, la_child_id TEXT NOT NULL, digest TEXT NOT NULL, receipt TEXT NOT NULL,
    at TEXT NOT NULL, PRIMARY KEY (la_code, la_child_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, la_code INTEGER NOT NULL, la_child_id TEXT NOT NULL,
    digest TEXT NOT NULL, body BLOB NOT NULL, purge INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS outbox_child ON outbox (la_code, la_child_id);
CREATE TABLE IF NOT EXISTS receipts (
    receipt TEXT PRIMARY KEY, la_code INTEGER NOT NULL, children INTEGER NOT NULL, body_digest TEXT NOT NULL,
    at TEXT NOT NULL, audited INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS refusals (
    id INTEGER PRIMARY KEY AUTOINCREMENT, la_code INTEGER NOT NULL, digest TEXT NOT NULL, detail TEXT NOT NULL,
    at TEXT NOT NULL);
";

/// A refusal waiting for its audit entry: the digest of the child's bytes as the extract held them (or as
/// sent), what refused it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub id: i64,
    pub digest: String,
    pub detail: String,
    pub at: String,
}

/// A receipt stored without its audit entries: the run was stopped between the two (the outbox and the audit
/// chain are separate databases), and the next run writes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unaudited {
    pub receipt: String,
    pub children: usize,
    pub body_digest: String,
    /// The children the batch purged, as far as the outbox still says so (a later receipt for a child
    /// replaces what it says of it).
    pub purged: Vec<String>,
}

/// What one child of an extract comes to in the outbox.
#[derive(Debug, Clone)]
pub enum GroupOp {
    /// DfE holds it as it is: nothing waits for it.
    Forget { la_child_id: String },
    /// To be sent.
    Queue { la_child_id: String, digest: String, body: Vec<u8>, purge: bool },
    /// Refused by validation: not sent; its audit entry waits in `refusals` until written.
    Refuse { digest: String, detail: String, at: String },
}

impl Outbox {
    /// Opens (or makes) the outbox of `data` for the council `la_code`.
    pub fn open(data: &Path, la_code: u32) -> Result<Outbox, OutboxError> {
        let path = data.join("outbound-dfe-csc-api.sqlite");
        let sql = |source| OutboxError::Sql { path: path.clone(), source };
        std::fs::create_dir_all(data).map_err(|source| OutboxError::Io { path: data.to_path_buf(), source })?;
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(sql)?;
        conn.execute_batch(SCHEMA).map_err(sql)?;
        // An outbox made before receipts were marked audited: its receipts were audited as they came.
        let has_audited: bool = conn
            .query_row("SELECT count(*) FROM pragma_table_info('receipts') WHERE name = 'audited'", [], |r| r.get(0))
            .map_err(sql)?;
        if !has_audited {
            conn.execute_batch("ALTER TABLE receipts ADD COLUMN audited INTEGER NOT NULL DEFAULT 1").map_err(sql)?;
        }
        Ok(Outbox { conn, path, la_code })
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        |source| OutboxError::Sql { path: self.path.clone(), source }
    }

    /// Whether DfE acknowledged this content (or this purge) of the child last. Reads only.
    pub fn acknowledged_as(&self, la_child_id: &str, digest: &str) -> Result<bool, OutboxError> {
        let acknowledged: Option<String> = self
            .conn
            .prepare_cached("SELECT digest FROM acknowledged WHERE la_code = ?1 AND la_child_id = ?2")
            .and_then(|mut s| s.query_row(params![self.la_code, la_child_id], |r| r.get(0)).optional())
            .map_err(self.sql())?;
        Ok(acknowledged.as_deref() == Some(digest))
    }

    /// Writes what a group of an extract's children comes to, in one short transaction.
    pub fn write_group(&self, group: &[GroupOp]) -> Result<(), OutboxError> {
        if group.is_empty() {
            return Ok(());
        }
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(self.sql())?;
        let written = group.iter().try_for_each(|op| match op {
            GroupOp::Forget { la_child_id } => self.forget(la_child_id),
            // Looked at again here, in the transaction: the delivery may have had DfE acknowledge this very
            // content since the intake looked (a child left waiting by an earlier run), and it is not sent twice.
            GroupOp::Queue { la_child_id, digest, .. } if self.acknowledged_as(la_child_id, digest)? => {
                self.forget(la_child_id)
            }
            GroupOp::Queue { la_child_id, digest, body, purge } => self.queue(la_child_id, digest, body, *purge),
            GroupOp::Refuse { digest, detail, at } => self.refusal(digest, detail, at),
        });
        match written {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(self.sql()),
            Err(error) => {
                // The group is written whole or not at all; the next run reads the extract again.
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    /// Takes out what waits for a child DfE holds as it is.
    fn forget(&self, la_child_id: &str) -> Result<(), OutboxError> {
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE la_code = ?1 AND la_child_id = ?2")
            .and_then(|mut s| s.execute(params![self.la_code, la_child_id]))
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Whether DfE acknowledged this content (or this purge) of the child last; if so, what an earlier run left
    /// waiting for it is older than what DfE holds, and leaves the outbox.
    pub fn unchanged(&self, la_child_id: &str, digest: &str) -> Result<bool, OutboxError> {
        if !self.acknowledged_as(la_child_id, digest)? {
            return Ok(false);
        }
        self.forget(la_child_id)?;
        Ok(true)
    }

    /// Takes a child of an extract into the outbox, in place of what an earlier extract left there for it. New
    /// content gets a new `seq`, so that a batch of the old one, acknowledged meanwhile, takes only the old one
    /// out; the same content keeps its place.
    fn queue(&self, la_child_id: &str, digest: &str, body: &[u8], purge: bool) -> Result<(), OutboxError> {
        let waiting: Option<String> = self
            .conn
            .prepare_cached("SELECT digest FROM outbox WHERE la_code = ?1 AND la_child_id = ?2")
            .and_then(|mut s| s.query_row(params![self.la_code, la_child_id], |r| r.get(0)).optional())
            .map_err(self.sql())?;
        if waiting.as_deref() == Some(digest) {
            // Waiting already as it is (left by an earlier run): it keeps its place, and is sent once.
            return Ok(());
        }
        self.conn
            .prepare_cached("DELETE FROM outbox WHERE la_code = ?1 AND la_child_id = ?2")
            .and_then(|mut s| s.execute(params![self.la_code, la_child_id]))
            .map_err(self.sql())?;
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (la_code, la_child_id, digest, body, purge) VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut s| s.execute(params![self.la_code, la_child_id, digest, body, purge]))
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The next children waiting after `after` (a `seq`), at most `limit`, in the order they were read.
    pub fn next(&self, after: i64, limit: usize) -> Result<Vec<Waiting>, OutboxError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT seq, la_child_id, digest, body, purge FROM outbox WHERE la_code = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )
            .map_err(self.sql())?;
        let rows = statement
            .query_map(params![self.la_code, after, i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(Waiting {
                    seq: r.get(0)?,
                    la_child_id: r.get(1)?,
                    digest: r.get(2)?,
                    body: r.get(3)?,
                    purge: r.get(4)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// How many children wait.
    pub fn waiting(&self) -> Result<usize, OutboxError> {
        self.conn
            .query_row("SELECT count(*) FROM outbox WHERE la_code = ?1", params![self.la_code], |r| r.get::<_, i64>(0))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(self.sql())
    }

    /// Stores DfE's receipt for a batch and, in the same transaction, each child of it as acknowledged (a
    /// purge as [`PURGED`]) and out of the outbox.
    pub fn acknowledge(
        &mut self,
        receipt: &str,
        body_digest: &str,
        batch: &[Waiting],
        at: &str,
    ) -> Result<(), OutboxError> {
        let path = self.path.clone();
        let sql = |source| OutboxError::Sql { path: path.clone(), source };
        // Immediate: the write lock is waited for (the intake may hold it), never refused as a stale snapshot.
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(sql)?;
        tx.execute(
            "INSERT OR REPLACE INTO receipts (receipt, la_code, children, body_digest, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![receipt, self.la_code, i64::try_from(batch.len()).unwrap_or(i64::MAX), body_digest, at],
        )
        .map_err(sql)?;
        {
            let mut ack = tx
                .prepare_cached(
                    "INSERT INTO acknowledged (la_code, la_child_id, digest, receipt, at) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (la_code, la_child_id) DO UPDATE SET digest = excluded.digest,
                     receipt = excluded.receipt, at = excluded.at",
                )
                .map_err(sql)?;
            // Only the outbox entry sent leaves: one an extract put there since (not while this run sends) would
            // have another seq.
            let mut out = tx.prepare_cached("DELETE FROM outbox WHERE seq = ?1").map_err(sql)?;
            for child in batch {
                let digest = if child.purge { PURGED } else { child.digest.as_str() };
                ack.execute(params![self.la_code, child.la_child_id, digest, receipt, at]).map_err(sql)?;
                out.execute(params![child.seq]).map_err(sql)?;
            }
        }
        tx.commit().map_err(sql)
    }

    /// The receipts of this council stored but not yet audited, oldest first.
    pub fn unaudited(&self) -> Result<Vec<Unaudited>, OutboxError> {
        let mut receipts = self
            .conn
            .prepare_cached("SELECT receipt, children, body_digest FROM receipts WHERE la_code = ?1 AND audited = 0 ORDER BY at, receipt")
            .map_err(self.sql())?;
        let rows = receipts
            .query_map(params![self.la_code], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
            })
            .map_err(self.sql())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.sql())?;
        let mut purges = self
            .conn
            .prepare_cached("SELECT la_child_id FROM acknowledged WHERE la_code = ?1 AND receipt = ?2 AND digest = ?3 ORDER BY la_child_id")
            .map_err(self.sql())?;
        let mut out = Vec::with_capacity(rows.len());
        for (receipt, children, body_digest) in rows {
            let purged = purges
                .query_map(params![self.la_code, receipt, PURGED], |r| r.get::<_, String>(0))
                .map_err(self.sql())?
                .collect::<Result<Vec<_>, _>>()
                .map_err(self.sql())?;
            out.push(Unaudited { receipt, children: usize::try_from(children).unwrap_or(0), body_digest, purged });
        }
        Ok(out)
    }

    /// Marks a receipt's audit entries written.
    pub fn audited(&self, receipt: &str) -> Result<(), OutboxError> {
        self.conn
            .execute(
                "UPDATE receipts SET audited = 1 WHERE receipt = ?1 AND la_code = ?2",
                params![receipt, self.la_code],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Takes a child out of the outbox without its being acknowledged: DfE refused it (400 or 413 for it alone),
    /// so sending it again as it is would be refused again. Its refusal waits for its audit entry, stored in
    /// the same transaction.
    pub fn drop_refused(&self, seq: i64, digest: &str, detail: &str, at: &str) -> Result<(), OutboxError> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(self.sql())?;
        let written = self
            .conn
            .execute("DELETE FROM outbox WHERE seq = ?1", params![seq])
            .map_err(self.sql())
            .and_then(|_| self.refusal(digest, detail, at));
        match written {
            Ok(()) => self.conn.execute_batch("COMMIT").map_err(self.sql()),
            Err(error) => {
                let _ = self.conn.execute_batch("ROLLBACK");
                Err(error)
            }
        }
    }

    /// Stores a refusal until its audit entry is written (inside the caller's transaction).
    fn refusal(&self, digest: &str, detail: &str, at: &str) -> Result<(), OutboxError> {
        self.conn
            .prepare_cached("INSERT INTO refusals (la_code, digest, detail, at) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| s.execute(params![self.la_code, digest, detail, at]))
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The refusals of this council whose audit entries are not yet written, oldest first.
    pub fn unaudited_refusals(&self) -> Result<Vec<Refusal>, OutboxError> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, digest, detail, at FROM refusals WHERE la_code = ?1 ORDER BY id")
            .map_err(self.sql())?;
        let rows = statement
            .query_map(params![self.la_code], |r| {
                Ok(Refusal { id: r.get(0)?, digest: r.get(1)?, detail: r.get(2)?, at: r.get(3)? })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Forgets the refusals up to `id` (as [`Outbox::unaudited_refusals`] gave them): their entries are written.
    pub fn refusals_audited(&self, id: i64) -> Result<(), OutboxError> {
        self.conn
            .execute("DELETE FROM refusals WHERE la_code = ?1 AND id <= ?2", params![self.la_code, id])
            .map(|_| ())
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(seq: i64, id: &str, purge: bool) -> Waiting {
        Waiting { seq, la_child_id: id.into(), digest: format!("d-{id}"), body: b"{}".to_vec(), purge }
    }

    #[test]
    fn a_receipt_stays_unaudited_until_marked_and_names_its_purges() {
        let dir = tempfile::tempdir().unwrap();
        let mut outbox = Outbox::open(dir.path(), 201).unwrap();
        assert!(outbox.unaudited().unwrap().is_empty());
        let batch = [waiting(1, "A1", false), waiting(2, "B2", true), waiting(3, "C3", true)];
        outbox.acknowledge("r-1", "sha256:x", &batch, "2026-12-04T10:00:00Z").unwrap();
        outbox.acknowledge("r-2", "sha256:y", &[waiting(4, "D4", false)], "2026-12-04T10:00:01Z").unwrap();
        outbox.audited("r-2").unwrap();
        // A stop between storing r-1 and auditing it: the next run finds it, with its purges.
        let reopened = Outbox::open(dir.path(), 201).unwrap();
        let missed = reopened.unaudited().unwrap();
        assert_eq!(
            missed,
            [Unaudited {
                receipt: "r-1".into(),
                children: 3,
                body_digest: "sha256:x".into(),
                purged: vec!["B2".into(), "C3".into()],
            }]
        );
        // Another council's outbox in the same folder does not see it.
        assert!(Outbox::open(dir.path(), 202).unwrap().unaudited().unwrap().is_empty());
        reopened.audited("r-1").unwrap();
        assert!(reopened.unaudited().unwrap().is_empty());
    }

    #[test]
    fn a_refusal_waits_for_its_audit_entry_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 201).unwrap();
        let refuse = |d: &str| GroupOp::Refuse { digest: d.into(), detail: "validation format".into(), at: "t".into() };
        let queue =
            GroupOp::Queue { la_child_id: "A1".into(), digest: "d-A1".into(), body: b"{}".to_vec(), purge: false };
        outbox.write_group(&[refuse("sha256:a"), queue]).unwrap();
        outbox.drop_refused(outbox.next(0, 10).unwrap()[0].seq, "sha256:b", "dfe 400", "u").unwrap();
        assert_eq!(outbox.waiting().unwrap(), 0);
        // A stop before the entries were written: the next run finds both, in order; another council none.
        let reopened = Outbox::open(dir.path(), 201).unwrap();
        let waiting = reopened.unaudited_refusals().unwrap();
        let seen: Vec<(&str, &str)> = waiting.iter().map(|r| (r.digest.as_str(), r.detail.as_str())).collect();
        assert_eq!(seen, [("sha256:a", "validation format"), ("sha256:b", "dfe 400")]);
        assert!(Outbox::open(dir.path(), 202).unwrap().unaudited_refusals().unwrap().is_empty());
        // One written, then a new one stored: only the written one goes.
        reopened.refusals_audited(waiting[0].id).unwrap();
        reopened.write_group(&[refuse("sha256:c")]).unwrap();
        let left: Vec<String> = reopened.unaudited_refusals().unwrap().into_iter().map(|r| r.digest).collect();
        assert_eq!(left, ["sha256:b", "sha256:c"]);
    }

    #[test]
    fn an_outbox_made_before_receipts_were_marked_takes_its_receipts_as_audited() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("outbound-dfe-csc-api.sqlite")).unwrap();
        conn.execute_batch(
            "CREATE TABLE receipts (receipt TEXT PRIMARY KEY, la_code INTEGER NOT NULL, children INTEGER NOT NULL,
             body_digest TEXT NOT NULL, at TEXT NOT NULL);
             INSERT INTO receipts VALUES ('old', 201, 1, 'sha256:z', '2026-12-01T00:00:00Z');",
        )
        .unwrap();
        drop(conn);
        let outbox = Outbox::open(dir.path(), 201).unwrap();
        assert!(outbox.unaudited().unwrap().is_empty());
    }
}
