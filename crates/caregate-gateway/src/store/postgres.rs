//! The shared store: PostgreSQL, for several gateway instances behind a load balancer. Every write is a
//! transaction that commits before its future resolves (so a 202 follows a commit), on a pooled connection
//! (deadpool over tokio-postgres; a connection the database dropped is replaced on its next use). Accepts are
//! committed in groups (`batch`): those waiting when a writer is free go into one transaction. What makes
//! several instances one gateway lives in the database:
//!
//! - a `messageId` or idempotency key is stored once: a unique constraint decides between two instances given
//!   it at once, and the loser answers as the winner did (a repeat) or 409, as a single instance does;
//! - a push copy is taken for delivery by one instance at a time (`FOR UPDATE SKIP LOCKED`, and a lease — the
//!   instance and until when — written in the same statement); a dead instance's leases run out and another
//!   instance takes its copies up;
//! - the audit chain has one head row, locked (`FOR UPDATE`) by every append until its transaction commits, so
//!   appends from every instance follow one another as one sequence.
//!
//! The tables are made and changed by versioned migrations (`migrations/NNNN_name.sql`, compiled in), applied at
//! start under an advisory lock, so two instances starting together do not race.
//!
//! Not for: any policy (it stores what it is given), nor the embedded default ([`super::sqlite`]).

mod batch;

use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Transaction;
use deadpool_postgres::{Pool, Runtime};
use serde_json::Value;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::Row;

use super::sqlite::{now_text, timestamp};
use super::{
    copy_of, Accepted, Attempt, BoxFuture, CopyRecord, CopyState, MessageRecord, NewMessage, Store, StoreError,
    Transition,
};
use crate::audit::{Entry, Record};
use crate::config::{read_ca_file, read_secret, StoreConfig};
use crate::policy::Redaction;

/// The migrations, in order: version, name, SQL. A database already past the last is refused unchanged.
const MIGRATIONS: &[(i64, &str, &str)] =
    &[(1, "messages_copies_audit", include_str!("postgres/migrations/0001_messages_copies_audit.sql"))];

/// The advisory lock the migrations are applied under (any constant the gateway alone uses: "caregate").
const MIGRATION_LOCK: i64 = 0x6361_7265_6761_7465;

/// How long a connection to the database may take, and a request may wait for a pooled one, before the store
/// answers that the database is unavailable (and intake answers 503).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How many times an accept that met another instance's write of the same key is tried again (each time it
/// finds what the other committed).
const ACCEPT_TRIES: usize = 4;

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        let unavailable = error.is_closed()
            || match error.code() {
                // Connection exceptions, the server shutting down or starting, too many connections.
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || code.starts_with("57P") || code == "53300"
                }
                None => std::error::Error::source(&error).is_some_and(|s| s.is::<std::io::Error>()),
            };
        if unavailable {
            StoreError::Unavailable(reason(&error))
        } else {
            StoreError::Postgres(reason(&error))
        }
    }
}

/// Every failure to get a connection is the database being unavailable: down, restarting, refusing
/// connections (a database closed to them answers SQLSTATE 55000, not a connection exception), or the pool
/// waiting too long for one.
impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> StoreError {
        match error {
            deadpool_postgres::PoolError::Backend(error) => StoreError::Unavailable(reason(&error)),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

/// An error and its causes (tokio-postgres says "db error" and puts the server's message in the cause).
fn reason(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}

/// Whether `store.url` can be used: a `postgres://` URL that names a host and a database and holds no password
/// (which would then be kept in the configuration file). The reason when it cannot.
pub fn check_url(url: &str) -> Result<(), String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(format!("`{url}` is not a postgres:// URL"));
    }
    let config = tokio_postgres::Config::from_str(url).map_err(|e| format!("is not usable: {}", reason(&e)))?;
    if config.get_password().is_some() {
        return Err("holds a password: give it in store.password_file or the environment (store.password_env or PGPASSWORD), not in the configuration".into());
    }
    if config.get_hosts().is_empty() {
        return Err("names no host".into());
    }
    if config.get_dbname().is_none() {
        return Err("names no database (postgres://user@host:port/database)".into());
    }
    Ok(())
}

/// Where the store's database is, as an operator names it: `host:port, database NAME as USER` (never the
/// password).
pub fn describe(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let port = config.get_ports().get(i).or(config.get_ports().first()).copied().unwrap_or(5432);
            match host {
                Host::Tcp(name) => format!("{name}:{port}"),
                #[cfg(unix)]
                Host::Unix(path) => format!("{}:{port}", path.display()),
            }
        })
        .collect();
    format!(
        "PostgreSQL at {}, database {} as {}",
        hosts.join(","),
        config.get_dbname().unwrap_or("(none)"),
        config.get_user().unwrap_or("(the login user)")
    )
}

/// The connection settings `[store]` makes: its URL, the password from where it is kept, the TLS mode.
pub fn connection(store: &StoreConfig) -> Result<tokio_postgres::Config, String> {
    let url = store.url.as_deref().ok_or("store.url is not set")?;
    check_url(url).map_err(|why| format!("store.url {why}"))?;
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| reason(&e))?;
    let password = match (&store.password_file, &store.password_env) {
        (Some(path), _) => Some(read_secret(path).map_err(|why| format!("store.password_file: {why}"))?),
        (None, Some(name)) => {
            Some(std::env::var(name).map_err(|_| format!("store.password_env names {name}, which is not set"))?)
        }
        (None, None) => std::env::var("PGPASSWORD").ok(),
    };
    if let Some(password) = password {
        config.password(password);
    }
    config.ssl_mode(match store.sslmode.as_str() {
        "disable" => SslMode::Disable,
        "require" => SslMode::Require,
        _ => SslMode::Prefer,
    });
    config.connect_timeout(CONNECT_TIMEOUT);
    config.application_name("caregate");
    Ok(config)
}

/// TLS to the database with rustls: the server's certificate verified against the platform's roots and
/// `store.ca_file`.
fn tls(store: &StoreConfig) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(path) = &store.ca_file {
        let ders = read_ca_file(path).map_err(|why| format!("store.ca_file `{}` {why}", path.display()))?;
        roots.add_parsable_certificates(ders);
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Connects once to the database `[store]` names, changing nothing (for `caregate config check`): where it is
/// and the layout it is at, or why it cannot be reached (the database named, never the password).
pub async fn probe(store: &StoreConfig) -> Result<String, StoreError> {
    let config = connection(store).map_err(StoreError::Config)?;
    let target = describe(&config);
    let tls = tls(store).map_err(StoreError::Config)?;
    let named = |error: tokio_postgres::Error| match StoreError::from(error) {
        StoreError::Unavailable(why) => StoreError::Unavailable(format!("{target}: {why}")),
        StoreError::Postgres(why) => StoreError::Postgres(format!("{target}: {why}")),
        other => other,
    };
    let (client, connection) = config.connect(tls).await.map_err(named)?;
    let driver = tokio::spawn(connection);
    let made: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await
        .map_err(named)?
        .try_get(0)
        .map_err(named)?;
    let layout: i64 = if made {
        client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[])
            .await
            .map_err(named)?
            .try_get(0)
            .map_err(named)?
    } else {
        0
    };
    drop(client);
    drop(driver.await);
    let expected = MIGRATIONS.last().map_or(0, |m| m.0);
    Ok(match layout {
        0 => format!("{target}: reachable, empty (the gateway makes its tables at start, layout {expected})"),
        n if n == expected => format!("{target}: reachable, layout {n}"),
        n if n < expected => format!("{target}: reachable, layout {n} (the gateway brings it to {expected} at start)"),
        n => return Err(StoreError::Layout { path: target, found: n, expected }),
    })
}

pub struct PostgresStore {
    pool: Pool,
    /// The accepts' group-commit writers (`batch`).
    accepts: tokio::sync::mpsc::UnboundedSender<batch::Pending>,
    /// This instance, as written in the leases it takes.
    instance: String,
    lease: chrono::Duration,
    /// Where the database is (for messages).
    target: String,
}

impl PostgresStore {
    /// Connects to the database `[store]` names, applies the migrations it lacks, and keeps a pool of
    /// connections to it. Fails, naming the database and the driver's reason, when it cannot be reached.
    pub async fn open(store: &StoreConfig) -> Result<Arc<PostgresStore>, StoreError> {
        let config = connection(store).map_err(StoreError::Config)?;
        let target = describe(&config);
        let tls = tls(store).map_err(StoreError::Config)?;
        let manager = deadpool_postgres::Manager::new(config, tls);
        let pool = Pool::builder(manager)
            .max_size(store.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let store = PostgresStore {
            accepts: batch::start(pool.clone(), store.max_batch),
            pool,
            instance: uuid::Uuid::new_v4().to_string(),
            lease: chrono::Duration::milliseconds(store.lease_ms.min(i64::MAX as u64) as i64),
            target,
        };
        store.migrate().await.map_err(|e| store.naming(e))?;
        Ok(Arc::new(store))
    }

    /// An error that says which database it came from.
    fn naming(&self, error: StoreError) -> StoreError {
        match error {
            StoreError::Unavailable(why) => StoreError::Unavailable(format!("{}: {why}", self.target)),
            StoreError::Postgres(why) => StoreError::Postgres(format!("{}: {why}", self.target)),
            other => other,
        }
    }

    /// Where the database is.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The layout the database is at (the last migration applied).
    pub async fn layout(&self) -> Result<i64, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?;
        Ok(row.try_get(0)?)
    }

    /// Applies every migration the database lacks, in order, each in the transaction that records it, all under
    /// an advisory lock: an instance starting beside another waits, then finds them applied.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
        // Made only when missing: a role with only the gateway's grants (`postgres/grants.sql`) may not create
        // a table even when it exists, so a database its owner has migrated is opened without DDL.
        let made: bool = tx.query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[]).await?.try_get(0)?;
        if !made {
            tx.batch_execute(
                "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )
            .await?;
        }
        let found: i64 =
            tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await?.try_get(0)?;
        let expected = MIGRATIONS.last().map_or(0, |m| m.0);
        if found > expected {
            return Err(StoreError::Layout { path: self.target.clone(), found, expected });
        }
        for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
            tx.batch_execute(sql).await?;
            tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn accept_message(&self, message: NewMessage) -> Result<Accepted, StoreError> {
        let redactions = message
            .copies
            .iter()
            .map(|copy| serde_json::to_string(&copy.redactions))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Corrupt(format!("a copy's redactions as JSON: {e}")))?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.accepts.send(batch::Pending { message, redactions, reply }).map_err(|_| StoreError::WriterGone)?;
        answer.await.map_err(|_| StoreError::WriterGone)?
    }

    async fn idempotent_key(&self, sender: &str, key: &str) -> Result<Option<(String, String)>, StoreError> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT i.digest, m.response FROM idempotency i JOIN messages m ON m.id = i.message WHERE i.sender = $1 AND i.key = $2",
                &[&sender, &key],
            )
            .await?;
        Ok(match row {
            Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
            None => None,
        })
    }

    async fn append_only(&self, records: Vec<Record>) -> Result<(), StoreError> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        append(&tx, &records).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn message_record(&self, id: String) -> Result<Option<MessageRecord>, StoreError> {
        let client = self.pool.get().await?;
        let Some(row) = client
            .query_opt("SELECT sender, standard, received_at, digest FROM messages WHERE id = $1", &[&id])
            .await?
        else {
            return Ok(None);
        };
        let (sender, standard, received_at, digest) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        let rows = client.query(&copies_query("WHERE c.message = $1 ORDER BY c.seq", false), &[&id]).await?;
        let copies = rows.iter().map(|r| copy_row(r, false)).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(MessageRecord { id, sender, standard, received_at, digest, copies }))
    }

    async fn select_copies(
        &self,
        filter: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
        with_content: bool,
    ) -> Result<Vec<CopyRecord>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&copies_query(filter, with_content)).await?;
        let rows = client.query(&statement, params).await?;
        rows.iter().map(|r| copy_row(r, with_content)).collect()
    }

    async fn change(
        &self,
        message: String,
        recipient: String,
        transition: Transition,
        record: Record,
    ) -> Result<bool, StoreError> {
        let now = now_text();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let sql = match transition {
            // Reading again is no change of state, but is audited all the same.
            Transition::Read => "UPDATE copies SET state = CASE WHEN state = 'pending' AND push_url IS NULL THEN 'delivered' ELSE state END, updated_at = $3 WHERE message = $1 AND recipient = $2",
            Transition::Ack => "UPDATE copies SET state = 'acknowledged', updated_at = $3 WHERE message = $1 AND recipient = $2 AND state IN ('pending', 'delivered', 'acknowledged')",
            Transition::Replay => "UPDATE copies SET state = 'pending', attempts = 0, next_at = $3, updated_at = $3, lease_owner = NULL, lease_until = NULL WHERE message = $1 AND recipient = $2 AND state = 'dead'",
        };
        if tx.execute(&prepared(&tx, sql).await?, &[&message, &recipient, &now]).await? == 0 {
            return Ok(false);
        }
        append(&tx, std::slice::from_ref(&record)).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Takes the push copies due at `now` that no live instance holds, for this instance, with a lease.
    async fn claim(&self, now: String, limit: usize) -> Result<Vec<CopyRecord>, StoreError> {
        let until = timestamp(chrono::Utc::now() + self.lease);
        let limit = limit.min(i64::MAX as usize) as i64;
        let sql = format!(
            "WITH due AS (SELECT message, recipient FROM copies WHERE push_url IS NOT NULL AND state IN ('pending', 'failed') AND next_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) ORDER BY next_at LIMIT $2 FOR UPDATE SKIP LOCKED), \
             c AS (UPDATE copies SET lease_owner = $3, lease_until = $4 FROM due WHERE copies.message = due.message AND copies.recipient = due.recipient RETURNING copies.*) \
             SELECT {COPY_COLUMNS}, m.envelope, c.redactions FROM c JOIN messages m ON m.id = c.message ORDER BY c.next_at"
        );
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&sql).await?;
        let rows = client.query(&statement, &[&now, &limit, &self.instance, &until]).await?;
        rows.iter().map(|r| copy_row(r, true)).collect()
    }

    async fn record_attempt(
        &self,
        message: String,
        recipient: String,
        attempt: Attempt,
        record: Record,
    ) -> Result<(), StoreError> {
        let now = now_text();
        let (state, next_at, error) = match attempt {
            Attempt::Delivered => ("delivered", now.clone(), None),
            Attempt::Retry { error, next_at } => ("failed", next_at, Some(error)),
            Attempt::Dead { error } => ("dead", now.clone(), Some(error)),
        };
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        tx.execute(&prepared(&tx, "UPDATE copies SET state = $3, attempts = attempts + 1, next_at = $4, last_error = $5, updated_at = $6, lease_owner = NULL, lease_until = NULL WHERE message = $1 AND recipient = $2").await?,
            &[&message, &recipient, &state, &next_at, &error, &now],
        )
        .await?;
        append(&tx, std::slice::from_ref(&record)).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn depth(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM copies WHERE state IN ('pending', 'failed')", &[])
            .await?
            .try_get(0)?;
        Ok(n.max(0) as u64)
    }

    /// The whole audit chain, in order.
    pub async fn audit_entries(&self) -> Result<Vec<Entry>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT seq, at, event, actor, message, recipient, digest, detail, prev, hash FROM audit ORDER BY seq",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(Entry {
                    seq: r.try_get(0)?,
                    at: r.try_get(1)?,
                    event: r.try_get(2)?,
                    actor: r.try_get(3)?,
                    message: r.try_get(4)?,
                    recipient: r.try_get(5)?,
                    digest: r.try_get(6)?,
                    detail: r.try_get(7)?,
                    prev: r.try_get(8)?,
                    hash: r.try_get(9)?,
                })
            })
            .collect()
    }
}

/// One try at an accept, in one transaction. `None` when another instance stored the same `messageId` or
/// key first (the unique constraint made this one wait for it to commit): the next try finds that message.
async fn accept_once(pool: &Pool, message: &NewMessage, redactions: &[String]) -> Result<Option<Accepted>, StoreError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    if let Some(key) = &message.idempotency_key {
        if let Some((digest, response)) = idempotent(&tx, &message.sender, key).await? {
            let accepted = if digest == message.digest { Accepted::Repeat(response) } else { Accepted::KeyConflict };
            return Ok(Some(accepted));
        }
    }
    let earlier = tx
        .query_opt(
            &prepared(
                &tx,
                "SELECT id, envelope_digest, response, envelope FROM messages WHERE sender = $1 AND message_id = $2",
            )
            .await?,
            &[&message.sender, &message.message_id],
        )
        .await?;
    if let Some(row) = earlier {
        let (id, digest, response, envelope): (String, String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
        if digest != message.envelope_digest && !same_envelope(&envelope, &message.envelope)? {
            return Ok(Some(Accepted::MessageIdConflict));
        }
        // A new key for the same message: the key names the first.
        if let Some(key) = &message.idempotency_key {
            let stored = tx.execute(&prepared(&tx, "INSERT INTO idempotency (sender, key, digest, message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING").await?,
                    &[&message.sender, key, &message.digest, &id],
                )
                .await?;
            if stored == 0 {
                return Ok(None);
            }
            tx.commit().await?;
        }
        return Ok(Some(Accepted::Repeat(response)));
    }
    let stored = tx.execute(&prepared(&tx, "INSERT INTO messages (id, sender, message_id, standard, received_at, digest, response, envelope, envelope_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING").await?,
            &[
                &message.id,
                &message.sender,
                &message.message_id,
                &message.standard,
                &message.received_at,
                &message.digest,
                &message.response,
                &message.envelope,
                &message.envelope_digest,
            ],
        )
        .await?;
    if stored == 0 {
        return Ok(None);
    }
    if let Some(key) = &message.idempotency_key {
        let stored = tx.execute(&prepared(&tx, "INSERT INTO idempotency (sender, key, digest, message) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING").await?,
                &[&message.sender, key, &message.digest, &message.id],
            )
            .await?;
        if stored == 0 {
            return Ok(None);
        }
    }
    let recipients: Vec<&str> = message.copies.iter().map(|c| c.recipient.as_str()).collect();
    let roles: Vec<&str> = message.copies.iter().map(|c| c.role.as_str()).collect();
    let push_urls: Vec<Option<&str>> = message.copies.iter().map(|c| c.push_url.as_deref()).collect();
    let formats: Vec<&str> = message.copies.iter().map(|c| c.format.as_str()).collect();
    tx.execute(&prepared(&tx, "INSERT INTO copies (message, recipient, role, redactions, push_url, format, state, next_at, updated_at) SELECT $1, r, o, x, u, f, 'pending', $7, $7 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS c (r, o, x, u, f, n) ORDER BY n").await?,
        &[&message.id, &recipients, &roles, &redactions, &push_urls, &formats, &message.received_at],
    )
    .await?;
    append(&tx, &message.audit).await?;
    tx.commit().await?;
    Ok(Some(Accepted::New))
}

/// The body digest and first answer of the message a sender's idempotency key names.
async fn idempotent(tx: &Transaction<'_>, sender: &str, key: &str) -> Result<Option<(String, String)>, StoreError> {
    let row = tx.query_opt(&prepared(tx, "SELECT i.digest, m.response FROM idempotency i JOIN messages m ON m.id = i.message WHERE i.sender = $1 AND i.key = $2").await?,
            &[&sender, &key],
        )
        .await?;
    Ok(match row {
        Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
        None => None,
    })
}

/// A statement prepared once per pooled connection (the pool keeps it), so that running it costs one round trip
/// rather than two: tokio-postgres prepares a statement given as text each time it runs it.
async fn prepared(tx: &Transaction<'_>, sql: &str) -> Result<tokio_postgres::Statement, StoreError> {
    Ok(tx.prepare_cached(sql).await?)
}

/// Whether two envelopes (JSON text) are the same JSON: the same message sent again laid out anew.
fn same_envelope(stored: &str, sent: &str) -> Result<bool, StoreError> {
    let parse = |text: &str| {
        serde_json::from_str::<Value>(text).map_err(|e| StoreError::Corrupt(format!("an envelope as JSON: {e}")))
    };
    Ok(parse(stored)? == parse(sent)?)
}

/// Appends records to the audit chain in the caller's transaction. The head row stays locked until that
/// transaction ends, so no other instance appends between the read of the head and the commit; it is locked
/// last of everything the transaction writes, to hold it as briefly as can be.
async fn append(tx: &Transaction<'_>, records: &[Record]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let head = tx.query_one(&prepared(tx, "SELECT seq, hash FROM audit_head FOR UPDATE").await?, &[]).await?;
    let (mut seq, mut prev): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    let at = now_text();
    let entries: Vec<Entry> = records
        .iter()
        .map(|record| {
            seq += 1;
            let entry = Entry::chain(record, seq, at.clone(), &prev);
            prev = entry.hash.clone();
            entry
        })
        .collect();
    let column = |f: fn(&Entry) -> &str| entries.iter().map(f).collect::<Vec<&str>>();
    let seqs: Vec<i64> = entries.iter().map(|e| e.seq).collect();
    tx.execute(&prepared(tx, "WITH added AS (INSERT INTO audit (seq, at, event, actor, message, recipient, digest, detail, prev, hash) SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])) UPDATE audit_head SET seq = $11, hash = $12").await?,
        &[
            &seqs,
            &column(|e| &e.at),
            &column(|e| &e.event),
            &column(|e| &e.actor),
            &column(|e| &e.message),
            &column(|e| &e.recipient),
            &column(|e| &e.digest),
            &column(|e| &e.detail),
            &column(|e| &e.prev),
            &column(|e| &e.hash),
            &seq,
            &prev,
        ],
    )
    .await?;
    Ok(())
}

const COPY_COLUMNS: &str = "c.message, m.sender, m.standard, m.received_at, c.recipient, c.role, c.state, c.attempts, c.last_error, c.updated_at, c.push_url, c.format";

fn copies_query(filter: &str, with_content: bool) -> String {
    let content = if with_content { ", m.envelope, c.redactions" } else { "" };
    format!("SELECT {COPY_COLUMNS}{content} FROM copies c JOIN messages m ON m.id = c.message {filter}")
}

fn copy_row(r: &Row, with_content: bool) -> Result<CopyRecord, StoreError> {
    let state: String = r.try_get(6)?;
    let attempts: i32 = r.try_get(7)?;
    let content = if with_content {
        let envelope: String = r.try_get(12)?;
        let redactions: String = r.try_get(13)?;
        let envelope: Value =
            serde_json::from_str(&envelope).map_err(|e| StoreError::Corrupt(format!("a stored envelope: {e}")))?;
        let redactions: Vec<Redaction> = serde_json::from_str(&redactions)
            .map_err(|e| StoreError::Corrupt(format!("a copy's stored redactions: {e}")))?;
        copy_of(envelope, &redactions)
    } else {
        Value::Null
    };
    Ok(CopyRecord {
        message: r.try_get(0)?,
        sender: r.try_get(1)?,
        standard: r.try_get(2)?,
        received_at: r.try_get(3)?,
        recipient: r.try_get(4)?,
        role: r.try_get(5)?,
        state: CopyState::parse(&state)?,
        attempts: attempts.max(0) as u32,
        last_error: r.try_get(8)?,
        updated_at: r.try_get(9)?,
        push_url: r.try_get(10)?,
        format: r.try_get(11)?,
        content,
    })
}

impl Store for Arc<PostgresStore> {
    fn accept(&self, message: NewMessage) -> BoxFuture<'_, Result<Accepted, StoreError>> {
        Box::pin(self.accept_message(message))
    }

    fn idempotent(&self, sender: &str, key: &str) -> BoxFuture<'_, Result<Option<(String, String)>, StoreError>> {
        let (sender, key) = (sender.to_string(), key.to_string());
        Box::pin(async move { self.idempotent_key(&sender, &key).await })
    }

    fn audit(&self, records: Vec<Record>) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.append_only(records))
    }

    fn message(&self, id: &str) -> BoxFuture<'_, Result<Option<MessageRecord>, StoreError>> {
        Box::pin(self.message_record(id.to_string()))
    }

    fn mailbox(&self, recipient: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        let recipient = recipient.to_string();
        let limit = limit.min(i64::MAX as usize) as i64;
        Box::pin(async move {
            self.select_copies("WHERE c.recipient = $1 ORDER BY c.seq DESC LIMIT $2", &[&recipient, &limit], false)
                .await
        })
    }

    fn copy(&self, message: &str, recipient: &str) -> BoxFuture<'_, Result<Option<CopyRecord>, StoreError>> {
        let (message, recipient) = (message.to_string(), recipient.to_string());
        Box::pin(async move {
            let found =
                self.select_copies("WHERE c.message = $1 AND c.recipient = $2", &[&message, &recipient], true).await?;
            Ok(found.into_iter().next())
        })
    }

    fn transition(
        &self,
        message: &str,
        recipient: &str,
        transition: Transition,
        record: Record,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(self.change(message.to_string(), recipient.to_string(), transition, record))
    }

    fn due(&self, now: &str, limit: usize) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        Box::pin(self.claim(now.to_string(), limit))
    }

    fn attempted(
        &self,
        message: &str,
        recipient: &str,
        attempt: Attempt,
        record: Record,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(self.record_attempt(message.to_string(), recipient.to_string(), attempt, record))
    }

    fn dead_letters(&self) -> BoxFuture<'_, Result<Vec<CopyRecord>, StoreError>> {
        Box::pin(async move { self.select_copies("WHERE c.state = 'dead' ORDER BY c.seq", &[], false).await })
    }

    fn queue_depth(&self) -> BoxFuture<'_, Result<u64, StoreError>> {
        Box::pin(self.depth())
    }

    fn audit_log(&self) -> BoxFuture<'_, Result<Vec<Entry>, StoreError>> {
        Box::pin(self.audit_entries())
    }

    fn leases(&self) -> bool {
        true
    }
}
