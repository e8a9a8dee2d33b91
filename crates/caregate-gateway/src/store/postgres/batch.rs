//! Group commit of accepts on PostgreSQL: the accepts waiting when a writer is free are stored in one
//! transaction, a few statements for all of them (each over arrays), so that the audit chain's head row —
//! which every instance's appends take in turn — is locked once per group rather than once per message, and a
//! message costs no round trips of its own. Every accept in a group is answered after the group commits.
//!
//! What a group cannot decide on its own is left to the one-message path (`accept_once`), after the group
//! commits: two messages of one group under the same `messageId` or key, and a message that met another
//! instance's write of its `messageId` or key (the unique constraint made the group wait for that write; the
//! one-message path then finds it).
//!
//! Not for: anything but accepts (the other writes are one small transaction each).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use deadpool_postgres::{Pool, Transaction};
use tokio::sync::{mpsc, oneshot, Mutex};

use super::{accept_once, append, prepared, same_envelope, ACCEPT_TRIES};
use crate::store::{Accepted, NewMessage, StoreError};

/// An accept waiting for its group.
pub(super) struct Pending {
    pub message: NewMessage,
    /// Each copy's redactions, as JSON text.
    pub redactions: Vec<String>,
    pub reply: oneshot::Sender<Result<Accepted, StoreError>>,
}

/// Writers per instance: while one group commits, the next is prepared.
const WRITERS: usize = 2;

/// Starts the writers; they end when every sender of the channel is dropped (the store with it).
pub(super) fn start(pool: Pool, max_batch: usize) -> mpsc::UnboundedSender<Pending> {
    let (tx, rx) = mpsc::unbounded_channel();
    let rx = Arc::new(Mutex::new(rx));
    for _ in 0..WRITERS {
        let (pool, rx) = (pool.clone(), Arc::clone(&rx));
        tokio::spawn(async move {
            loop {
                let mut group = Vec::new();
                {
                    let mut rx = rx.lock().await;
                    let Some(first) = rx.recv().await else { return };
                    group.push(first);
                    while group.len() < max_batch.max(1) {
                        match rx.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                }
                write(&pool, group).await;
            }
        });
    }
    tx
}

/// Stores a group and answers each of its accepts.
async fn write(pool: &Pool, group: Vec<Pending>) {
    let outcomes = match commit(pool, &group).await {
        Ok(outcomes) => outcomes,
        // Nothing of the group was written; none of it can be now.
        Err(StoreError::Unavailable(why)) => {
            for pending in group {
                drop(pending.reply.send(Err(StoreError::Unavailable(why.clone()))));
            }
            return;
        }
        // Something in the group the database refused: each on its own, so that only that one fails.
        Err(error) => {
            tracing::warn!(%error, "a group of accepts failed; storing each on its own");
            vec![None; group.len()]
        }
    };
    for (pending, outcome) in group.into_iter().zip(outcomes) {
        let answer = match outcome {
            Some(accepted) => Ok(accepted),
            None => alone(pool, &pending.message, &pending.redactions).await,
        };
        drop(pending.reply.send(answer));
    }
}

/// The one-message path, tried again while it meets another instance's write of the same `messageId` or key.
async fn alone(pool: &Pool, message: &NewMessage, redactions: &[String]) -> Result<Accepted, StoreError> {
    for _ in 0..ACCEPT_TRIES {
        if let Some(accepted) = accept_once(pool, message, redactions).await? {
            return Ok(accepted);
        }
    }
    Err(StoreError::Postgres(format!(
        "message {} kept meeting other writes of its messageId or idempotency key",
        message.id
    )))
}

/// One transaction for the group: each accept's answer, or `None` for one left to the one-message path.
async fn commit(pool: &Pool, group: &[Pending]) -> Result<Vec<Option<Accepted>>, StoreError> {
    let messages: Vec<&NewMessage> = group.iter().map(|p| &p.message).collect();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut outcome: Vec<Option<Accepted>> = vec![None; messages.len()];
    let mut alone = vec![false; messages.len()];

    // Keys sent before: the first answer, or a conflict.
    let keyed: Vec<usize> = (0..messages.len()).filter(|&i| messages[i].idempotency_key.is_some()).collect();
    if !keyed.is_empty() {
        let senders: Vec<&str> = keyed.iter().map(|&i| messages[i].sender.as_str()).collect();
        let keys: Vec<&str> = keyed.iter().map(|&i| messages[i].idempotency_key.as_deref().unwrap_or("")).collect();
        let rows = tx.query(&prepared(&tx, "SELECT i.sender, i.key, i.digest, m.response FROM unnest($1::text[], $2::text[]) AS k (sender, key) JOIN idempotency i ON i.sender = k.sender AND i.key = k.key JOIN messages m ON m.id = i.message").await?,
                &[&senders, &keys],
            )
            .await?;
        let mut found = HashMap::new();
        for row in rows {
            let (sender, key, digest, response): (String, String, String, String) =
                (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            found.insert((sender, key), (digest, response));
        }
        for &i in &keyed {
            let key = (messages[i].sender.clone(), messages[i].idempotency_key.clone().unwrap_or_default());
            if let Some((digest, response)) = found.get(&key) {
                outcome[i] = Some(if *digest == messages[i].digest {
                    Accepted::Repeat(response.clone())
                } else {
                    Accepted::KeyConflict
                });
            }
        }
    }

    // `messageId`s sent before: the first answer (a new key naming the first message), or a conflict.
    let open: Vec<usize> = (0..messages.len()).filter(|&i| outcome[i].is_none()).collect();
    let mut new_keys: Vec<(usize, String)> = Vec::new();
    if !open.is_empty() {
        let senders: Vec<&str> = open.iter().map(|&i| messages[i].sender.as_str()).collect();
        let ids: Vec<&str> = open.iter().map(|&i| messages[i].message_id.as_str()).collect();
        let rows = tx.query(&prepared(&tx, "SELECT m.sender, m.message_id, m.id, m.envelope_digest, m.response, m.envelope FROM unnest($1::text[], $2::text[]) AS k (sender, message_id) JOIN messages m ON m.sender = k.sender AND m.message_id = k.message_id").await?,
                &[&senders, &ids],
            )
            .await?;
        let mut found = HashMap::new();
        for row in rows {
            let (sender, message_id): (String, String) = (row.try_get(0)?, row.try_get(1)?);
            let earlier: (String, String, String, String) =
                (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?, row.try_get(5)?);
            found.insert((sender, message_id), earlier);
        }
        for &i in &open {
            let m = messages[i];
            let Some((id, digest, response, envelope)) = found.get(&(m.sender.clone(), m.message_id.clone())) else {
                continue;
            };
            if *digest != m.envelope_digest && !same_envelope(envelope, &m.envelope)? {
                outcome[i] = Some(Accepted::MessageIdConflict);
            } else {
                if m.idempotency_key.is_some() {
                    new_keys.push((i, id.clone()));
                }
                outcome[i] = Some(Accepted::Repeat(response.clone()));
            }
        }
    }

    // The new messages; two of the group under one messageId or key are left to the one-message path.
    let mut ids_seen = HashSet::new();
    let mut keys_seen = HashSet::new();
    new_keys.retain(|(i, _)| {
        let m = messages[*i];
        let first = keys_seen.insert((m.sender.as_str(), m.idempotency_key.as_deref().unwrap_or("")));
        if !first {
            alone[*i] = true;
        }
        first
    });
    let mut fresh: Vec<usize> = Vec::new();
    for i in 0..messages.len() {
        if outcome[i].is_some() || alone[i] {
            continue;
        }
        let m = messages[i];
        let id_first = ids_seen.insert((m.sender.as_str(), m.message_id.as_str()));
        let key_first = m.idempotency_key.as_deref().is_none_or(|k| keys_seen.insert((m.sender.as_str(), k)));
        if id_first && key_first {
            fresh.push(i);
        } else {
            alone[i] = true;
        }
    }

    // Rows in, under a savepoint: what met another instance's write is taken out of the group, and the rest
    // written again.
    let mut stored = false;
    for _ in 0..3 {
        tx.batch_execute("SAVEPOINT group_rows").await?;
        let (met_messages, met_keys) = insert_rows(&tx, &messages, &fresh, &new_keys).await?;
        if met_messages.is_empty() && met_keys.is_empty() {
            tx.batch_execute("RELEASE SAVEPOINT group_rows").await?;
            stored = true;
            break;
        }
        tx.batch_execute("ROLLBACK TO SAVEPOINT group_rows").await?;
        for &i in met_messages.iter().chain(&met_keys) {
            alone[i] = true;
        }
        fresh.retain(|i| !alone[*i]);
        new_keys.retain(|(i, _)| !alone[*i]);
    }
    if !stored {
        for &i in fresh.iter().chain(new_keys.iter().map(|(i, _)| i)) {
            alone[i] = true;
        }
        fresh.clear();
    }
    for i in 0..messages.len() {
        if alone[i] {
            outcome[i] = None;
        }
    }

    if !fresh.is_empty() {
        insert_copies(&tx, &messages, &fresh, group).await?;
        let records: Vec<_> = fresh.iter().flat_map(|&i| messages[i].audit.iter().cloned()).collect();
        append(&tx, &records).await?;
    }
    tx.commit().await?;
    for &i in &fresh {
        outcome[i] = Some(Accepted::New);
    }
    Ok(outcome)
}

/// Inserts the group's new messages and keys; the positions (in the group) of the messages, and of the keys,
/// that met another instance's write of the same `messageId` or key.
async fn insert_rows(
    tx: &Transaction<'_>,
    messages: &[&NewMessage],
    fresh: &[usize],
    new_keys: &[(usize, String)],
) -> Result<(Vec<usize>, Vec<usize>), StoreError> {
    let column = |f: fn(&NewMessage) -> &str| fresh.iter().map(|&i| f(messages[i])).collect::<Vec<&str>>();
    let inserted = tx.query(&prepared(tx, "INSERT INTO messages (id, sender, message_id, standard, received_at, digest, response, envelope, envelope_digest) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) ON CONFLICT DO NOTHING RETURNING id").await?,
            &[
                &column(|m| &m.id),
                &column(|m| &m.sender),
                &column(|m| &m.message_id),
                &column(|m| &m.standard),
                &column(|m| &m.received_at),
                &column(|m| &m.digest),
                &column(|m| &m.response),
                &column(|m| &m.envelope),
                &column(|m| &m.envelope_digest),
            ],
        )
        .await?;
    let inserted: HashSet<String> = inserted.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?;
    let met_messages: Vec<usize> = fresh.iter().copied().filter(|&i| !inserted.contains(&messages[i].id)).collect();
    // Each key with the message it names: a new message's own, or the first message of a messageId sent before.
    let keys: Vec<(usize, &str)> = fresh
        .iter()
        .filter(|&&i| messages[i].idempotency_key.is_some())
        .map(|&i| (i, messages[i].id.as_str()))
        .chain(new_keys.iter().map(|(i, id)| (*i, id.as_str())))
        .collect();
    let mut met_keys = Vec::new();
    if !keys.is_empty() {
        let senders: Vec<&str> = keys.iter().map(|(i, _)| messages[*i].sender.as_str()).collect();
        let names: Vec<&str> =
            keys.iter().map(|(i, _)| messages[*i].idempotency_key.as_deref().unwrap_or("")).collect();
        let digests: Vec<&str> = keys.iter().map(|(i, _)| messages[*i].digest.as_str()).collect();
        let named: Vec<&str> = keys.iter().map(|(_, id)| *id).collect();
        let stored = tx.query(&prepared(tx, "INSERT INTO idempotency (sender, key, digest, message) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k (sender, key, digest, message) WHERE EXISTS (SELECT 1 FROM messages m WHERE m.id = k.message) ON CONFLICT DO NOTHING RETURNING sender, key").await?,
                &[&senders, &names, &digests, &named],
            )
            .await?;
        let stored: HashSet<(String, String)> =
            stored.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, StoreError>>()?;
        met_keys = keys
            .iter()
            .map(|(i, _)| *i)
            .filter(|&i| {
                let key = (messages[i].sender.clone(), messages[i].idempotency_key.clone().unwrap_or_default());
                !stored.contains(&key) && !met_messages.contains(&i)
            })
            .collect();
    }
    Ok((met_messages, met_keys))
}

/// Every copy of the group's new messages, in one statement, in the group's order.
async fn insert_copies(
    tx: &Transaction<'_>,
    messages: &[&NewMessage],
    fresh: &[usize],
    group: &[Pending],
) -> Result<(), StoreError> {
    let mut columns: [Vec<Option<&str>>; 7] = Default::default();
    for &i in fresh {
        let m = messages[i];
        for (copy, redactions) in m.copies.iter().zip(&group[i].redactions) {
            let row = [
                Some(m.id.as_str()),
                Some(copy.recipient.as_str()),
                Some(copy.role.as_str()),
                Some(redactions.as_str()),
                copy.push_url.as_deref(),
                Some(copy.format.as_str()),
                Some(m.received_at.as_str()),
            ];
            for (column, value) in columns.iter_mut().zip(row) {
                column.push(value);
            }
        }
    }
    let [ids, recipients, roles, redactions, push_urls, formats, received] = &columns;
    tx.execute(&prepared(tx, "INSERT INTO copies (message, recipient, role, redactions, push_url, format, state, next_at, updated_at) SELECT m, r, o, x, u, f, 'pending', t, t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS c (m, r, o, x, u, f, t, n) ORDER BY n").await?,
        &[ids, recipients, roles, redactions, push_urls, formats, received],
    )
    .await?;
    Ok(())
}
