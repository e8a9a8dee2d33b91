//! The statements the store runs, and its rows as the store's records. The writer's: a message accepted with
//! its copies (or found to repeat or conflict with one before), a copy's transitions and delivery attempts,
//! audit entries appended to the chain, and the lookup of an idempotency key. The readers': a message, copies
//! (with or without their content), the depth of the queue, the audit log.
//!
//! Not for: when any of it runs or commits (`writer`; each write function runs inside the writer's open
//! transaction), nor the tables' layout (`schema`).

use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::codec::{unpack, unpack_text};
use super::deferred_index::Deferred;
use super::now_text;
use super::writer::Prepared;
use crate::audit::{Entry, Record, GENESIS};
use crate::policy::Redaction;
use crate::store::{
    copy_of, Accepted, Attempt, CopyRecord, CopyState, MessageRecord, NewMessage, StoreError, Transition,
};

/// The audit chain's head: the next sequence number and the last hash.
pub(super) type Head = (i64, String);

/// The chain's head as stored: after its last entry, or the genesis of an empty chain.
pub(super) fn head(conn: &Connection) -> Result<Head, StoreError> {
    let head: Option<Head> = conn
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(head.map(|(seq, hash)| (seq + 1, hash)).unwrap_or_else(|| (1, GENESIS.into())))
}

/// Appends records to the audit chain, in order, all at one time. One `INSERT` per entry: a statement that
/// writes several rows makes SQLite keep a statement journal of every page it touches, which cost more than
/// the statements saved (BENCHMARKS.md).
pub(super) fn append(conn: &Connection, chain: &mut Head, records: &[Record]) -> Result<(), StoreError> {
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

/// The body digest and the answer of the message a sender's idempotency key names, if it names one: a
/// message's own key is in its deferred index, a key new to a `messageId` sent before in `idempotency`.
pub(super) fn idempotent(
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

/// Stores a message, its copies and its audit records; or, for one sent before (under its idempotency key or
/// its `messageId`), answers whether it repeats or conflicts with that one, and stores of it at most a new
/// idempotency key naming the first.
pub(super) fn accept(
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

/// Moves a copy on (read, acknowledged, replayed) and audits it; false, and nothing audited, when the copy does
/// not exist or its state does not allow it.
pub(super) fn transition(
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

/// Records a push attempt's outcome on its copy, and audits it.
pub(super) fn attempted(
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

/// A message and its copies (without their content).
pub(super) fn message(conn: &Connection, id: String) -> Result<Option<MessageRecord>, StoreError> {
    let head: Option<(String, String, String, String)> = conn
        .prepare_cached("SELECT sender, standard, received_at, digest FROM messages WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .optional()?;
    let Some((sender, standard, received_at, digest)) = head else { return Ok(None) };
    let copies = copies(conn, "WHERE c.message = ?1 ORDER BY c.rowid", params![id], false)?;
    Ok(Some(MessageRecord { id, sender, standard, received_at, digest, copies }))
}

/// A recipient's copies, newest first (without their content).
pub(super) fn mailbox(conn: &Connection, recipient: &str, limit: usize) -> Result<Vec<CopyRecord>, StoreError> {
    copies(conn, "WHERE c.recipient = ?1 ORDER BY c.rowid DESC LIMIT ?2", params![recipient, limit as i64], false)
}

/// One recipient's copy of a message, with its content.
pub(super) fn copy(conn: &Connection, message: &str, recipient: &str) -> Result<Option<CopyRecord>, StoreError> {
    Ok(copies(conn, "WHERE c.message = ?1 AND c.recipient = ?2", params![message, recipient], true)?.into_iter().next())
}

/// The copies due a push attempt at `now`, soonest due first, with their content.
pub(super) fn due(conn: &Connection, now: &str, limit: usize) -> Result<Vec<CopyRecord>, StoreError> {
    copies(
        conn,
        "WHERE c.push_url IS NOT NULL AND c.state IN ('pending', 'failed') AND c.next_at <= ?1 ORDER BY c.next_at LIMIT ?2",
        params![now, limit as i64],
        true,
    )
}

/// The copies whose every push attempt failed (without their content).
pub(super) fn dead_letters(conn: &Connection) -> Result<Vec<CopyRecord>, StoreError> {
    copies(conn, "WHERE c.state = 'dead' ORDER BY c.rowid", [], false)
}

/// How many copies wait to be delivered.
pub(super) fn queue_depth(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 =
        conn.query_row("SELECT count(*) FROM copies WHERE state IN ('pending', 'failed')", [], |r| r.get(0))?;
    Ok(n.max(0) as u64)
}

/// The whole audit log, in order.
pub(super) fn audit_entries(conn: &Connection) -> Result<Vec<Entry>, StoreError> {
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

const COPY_COLUMNS: &str = "c.message, m.sender, m.standard, m.received_at, c.recipient, c.role, c.state, c.attempts, c.last_error, c.updated_at, c.push_url, c.format";

/// Copies, each with its message's columns, chosen and ordered by `filter`; with their content, the envelope
/// and redactions are read too.
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

/// The copy, from columns 12 and 13: the message's envelope less the copy's redactions.
fn copy_content(r: &Row<'_>) -> Result<Value, rusqlite::Error> {
    let envelope = unpack(r, 12)?;
    let redactions: String = r.get(13)?;
    let redactions: Vec<Redaction> = serde_json::from_str(&redactions)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(13, Type::Text, Box::new(e)))?;
    Ok(copy_of(envelope, &redactions))
}
