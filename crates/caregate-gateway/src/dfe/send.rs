//! `caregate send dfe-csc-api`: a council's daily extract (JSON Lines or JSON arrays of children) to DfE's CSC
//! API, validated child by child, delta-aware, durable and audited.
//!
//! A run has two stages, side by side. **Intake** (a thread of its own): each extract is read child by child and
//! validated; a refused child is reported and audited; a child whose content DfE acknowledged last (same digest)
//! is left alone; every other child goes into the outbox (`outbox`), committed a group at a time, each child
//! committed before it can be sent. **Delivery**, as the groups are committed: the outbox is sent in
//! the order it was filled, in batches of at most the standard's `maxItems`, each batch with a bearer token
//! (renewed before it expires, and once on a 401) and the `SupplierKey`; a 413 or 400 splits the batch (a child
//! refused alone is reported); a 429 waits as `Retry-After` says, with jitter; a 5xx, a network error or an
//! answer that breaks off is retried with exponential backoff and jitter, up to the retry budget; a 403 stops
//! the run. A child leaves the outbox only in the transaction that stores DfE's receipt for its batch, so a
//! run killed at any point leaves each child acknowledged or waiting; the next run sends what waits first.
//!
//! Not for: terminals and exit codes (`cli`), validating (`caregate_engine::validate::payload`).

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;

use caregate_engine::finding::Finding;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::{Options, Validator};

use super::client::{Answer, DfeClient};
use super::outbox::{GroupOp, Outbox, OutboxError, Waiting, PURGED};
use crate::audit::{Event, Record};
use crate::config::Config;
use crate::store::sqlite::now_text;
use crate::store::{Store, StoreError};

/// Who the audit entries name as having acted.
const ACTOR: &str = "caregate-send";
/// The organisation DfE is in the audit log.
const DFE: &str = "DFE";
/// Children to send taken into the outbox in one transaction (a group of children with nothing to send is up to
/// twenty times larger).
const INTAKE_GROUP: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the configuration has no [outbound.dfe-csc-api] section")]
    NotConfigured,
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Busy(String),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
}

/// A child not sent, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Refused {
    pub la_child_id: Option<String>,
    /// The extract and where in it the child starts (empty for a child refused by DfE after an earlier run).
    pub extract: String,
    pub line: u32,
    pub column: u32,
    /// `validation` (caregate's check, before sending) or `dfe` (DfE's answer to the child sent alone).
    pub by: &'static str,
    pub findings: Vec<Finding>,
}

/// A receipt DfE gave, and stored.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    pub receipt: String,
    pub children: usize,
}

/// Where the run's time went: waiting on DfE (requests and answers), waiting between retries, and the rest.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timing {
    pub wall_ms: u64,
    /// Of which reading, validating and queueing the extracts (before anything is sent).
    pub intake_ms: u64,
    pub network_ms: u64,
    pub backoff_ms: u64,
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendReport {
    /// Children acknowledged by DfE in this run (purges not counted).
    pub sent: usize,
    /// Children whose content DfE acknowledged before: not sent.
    pub unchanged: usize,
    /// Purges acknowledged in this run.
    pub purged: usize,
    pub refused: Vec<Refused>,
    /// Batches acknowledged, and retries made.
    pub batches: usize,
    pub retries: usize,
    pub receipts: Vec<Receipt>,
    /// Children left in the outbox for the next run (when delivery could not finish).
    pub waiting: usize,
    /// Why delivery could not finish, when it could not.
    pub stopped: Option<String>,
    pub timing: Timing,
}

/// What sending one batch came to.
enum Delivered {
    Receipt(String),
    /// DfE refused the batch as a whole for what one of its children holds (400, 413): split it.
    Split(u16, String),
}

/// Why a run stopped sending.
struct Stop(String);

struct Sender<'a> {
    client: DfeClient,
    store: &'a dyn Store,
    report: SendReport,
}

/// Sends the extracts as `config`'s `[outbound.dfe-csc-api]` says, after what an earlier run left waiting. The
/// intake runs on a thread of its own beside the delivery (so it needs a multi-threaded runtime).
pub async fn run(
    config: &Config,
    catalog: &Catalog,
    store: &dyn Store,
    extracts: &[PathBuf],
) -> Result<SendReport, SendError> {
    let started = Instant::now();
    let dfe = config.outbound.dfe_csc_api.as_ref().ok_or(SendError::NotConfigured)?;
    let pack = catalog.find(&dfe.standard).ok_or_else(|| SendError::Config(format!("no standard {}", dfe.standard)))?;
    let payload = pack
        .manifest
        .payload
        .as_ref()
        .ok_or_else(|| SendError::Config(format!("{} is not taken by an API", dfe.standard)))?;
    let most = payload.max_items.map_or(100, |m| usize::try_from(m).unwrap_or(100));
    let batch_size = dfe.batch_size.unwrap_or(most).clamp(1, most);
    // Alone on the data folder: its audit chain takes one writer (the lock goes when the run ends).
    let _lock = crate::store::lock::DataLock::take(&config.store.data, "a send").map_err(SendError::Busy)?;
    let client = DfeClient::new(dfe, &pack).map_err(|e| SendError::Config(e.0))?;
    let mut outbox = Outbox::open(&config.store.data, dfe.la_code)?;
    // The intake writes through a connection of its own, on a thread of its own, while delivery sends what it
    // has committed: the validation of the extract overlaps the waiting on DfE.
    let intake_outbox = Outbox::open(&config.store.data, dfe.la_code)?;
    let mut sender = Sender { client, store, report: SendReport::default() };
    // Refusals a stopped run stored but did not audit are audited before this run stores any.
    audit_refusals(store, &outbox, " (audited by the run after the one that refused it)").await?;
    let progress = Progress::default();
    let runtime = tokio::runtime::Handle::current();
    let (taken, delivered, intake_ms) = tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            let (pack, progress) = (&pack, &progress);
            let intake = scope.spawn(move || {
                let taken = intake(pack, catalog, &intake_outbox, extracts, progress);
                progress.finish();
                (taken, millis(started.elapsed()))
            });
            let delivered = runtime.block_on(sender.deliver(&mut outbox, batch_size, progress));
            match intake.join() {
                Ok((taken, intake_ms)) => (taken, delivered, intake_ms),
                Err(_) => (Err(SendError::Config("the intake stopped unexpectedly".into())), delivered, 0),
            }
        })
    });
    let taken = taken?;
    sender.report.timing.intake_ms = intake_ms;
    sender.report.unchanged = taken.unchanged;
    sender.report.refused.splice(0..0, taken.refused);
    audit_refusals(store, &outbox, "").await?;
    if let Err(Stop(why)) = delivered? {
        sender.report.stopped = Some(why);
    }
    sender.report.waiting = outbox.waiting()?;
    let waited = sender.client.waited;
    sender.report.retries += waited.token_retries;
    sender.report.timing.network_ms = millis(waited.network);
    sender.report.timing.backoff_ms = millis(waited.backoff);
    sender.report.timing.wall_ms = millis(started.elapsed());
    Ok(sender.report)
}

/// What the outbox and `acknowledged` know a child's content by: its canonical digest, or [`PURGED`] for a
/// purge (whatever else the purge record holds).
fn digest_of(value: &Value) -> String {
    if value.get("purge").and_then(Value::as_bool) == Some(true) {
        PURGED.to_string()
    } else {
        caregate_engine::digest::json(value)
    }
}

/// Reads and validates every extract into the outbox, written a group at a time (each group told to `progress`,
/// so that delivery sends what is written while the intake goes on). The validation is done outside the
/// group's short write transaction, so that delivery's acknowledgements are never kept waiting long.
fn intake(
    pack: &Arc<StandardPack>,
    catalog: &Catalog,
    outbox: &Outbox,
    extracts: &[PathBuf],
    progress: &Progress,
) -> Result<Intake, SendError> {
    let validator = Validator::new(catalog, Options { standard: Some(Arc::clone(pack)), ..Options::default() });
    let mut taken = Intake::default();
    for extract in extracts {
        let name = extract.display().to_string();
        let file = std::fs::File::open(extract).map_err(|source| SendError::Read { path: extract.clone(), source })?;
        let reader = std::io::BufReader::with_capacity(1 << 16, file);
        let mut failed: Option<OutboxError> = None;
        let mut group: Vec<GroupOp> = Vec::with_capacity(INTAKE_GROUP);
        // Children in `group` to be sent.
        let mut queued = 0usize;
        let failed_lookup = std::cell::RefCell::new(None);
        // A child DfE acknowledged with this content is passed over unchecked: it was checked when sent.
        let mut pass_over = |key: &str, value: &Value| match outbox.acknowledged_as(key, &digest_of(value)) {
            Ok(unchanged) => unchanged,
            Err(error) => {
                *failed_lookup.borrow_mut() = Some(error);
                false
            }
        };
        let taken = &mut taken;
        validator
            .check_payload_where(reader, &mut pass_over, &mut |record| {
                if failed.is_some() {
                    return;
                }
                if record.refused() || record.key.is_none() {
                    let rules: Vec<&str> = record.findings.iter().map(|f| f.rule.as_str()).collect();
                    // Stored with the group the child is read in, its audit entry written from the outbox.
                    group.push(GroupOp::Refuse {
                        digest: caregate_engine::digest::sha256(&record.bytes),
                        detail: format!("validation {}", rules.join(" ")),
                        at: now_text(),
                    });
                    taken.refused.push(Refused {
                        la_child_id: record.key.clone(),
                        extract: name.clone(),
                        line: record.line,
                        column: record.column,
                        by: "validation",
                        findings: record.findings,
                    });
                    return;
                }
                let (Some(key), Some(value)) = (record.key, &record.value) else { return };
                let digest = digest_of(value);
                if !record.checked {
                    taken.unchanged += 1;
                    // What an earlier run left waiting for this child is older than what DfE holds of it.
                    group.push(GroupOp::Forget { la_child_id: key });
                } else {
                    match outbox.acknowledged_as(&key, &digest) {
                        // Checked, though DfE holds it (its digest was not known before the check): not sent.
                        Ok(true) => {
                            taken.unchanged += 1;
                            group.push(GroupOp::Forget { la_child_id: key });
                        }
                        Ok(false) => {
                            let purge = value.get("purge").and_then(Value::as_bool) == Some(true);
                            group.push(GroupOp::Queue { la_child_id: key, digest, body: record.bytes, purge });
                            queued += 1;
                        }
                        Err(error) => failed = Some(error),
                    }
                }
                // A group is written once it holds a batch's worth to send, or many children with nothing to send
                // (each write is a sync to disk; a delta run is mostly the latter).
                if queued >= INTAKE_GROUP || group.len() >= INTAKE_GROUP * 20 {
                    queued = 0;
                    match outbox.write_group(&group) {
                        Ok(()) => progress.committed.notify_one(),
                        Err(error) => failed = Some(error),
                    }
                    group.clear();
                }
            })
            .map_err(|source| SendError::Read { path: extract.clone(), source })?;
        if let Some(error) = failed.or_else(|| failed_lookup.into_inner()) {
            return Err(error.into());
        }
        outbox.write_group(&group)?;
        progress.committed.notify_one();
    }
    Ok(taken)
}

/// What the intake found, apart from what it queued.
#[derive(Default)]
struct Intake {
    unchanged: usize,
    refused: Vec<Refused>,
}

/// Writes the audit entries of the refusals the outbox holds, then forgets them there: each refusal is in the
/// chain at least once (twice if a run stops between writing the entries and forgetting them). `note` follows
/// each entry's detail.
async fn audit_refusals(store: &dyn Store, outbox: &Outbox, note: &str) -> Result<(), SendError> {
    let waiting = outbox.unaudited_refusals()?;
    let Some(last) = waiting.last().map(|r| r.id) else { return Ok(()) };
    let entries = waiting
        .into_iter()
        .map(|r| {
            let detail = if note.is_empty() { r.detail } else { format!("{} (refused {}){note}", r.detail, r.at) };
            Record::new(Event::OutboundRefusal, ACTOR).recipient(DFE).digest(r.digest).detail(detail)
        })
        .collect();
    store.audit(entries).await?;
    outbox.refusals_audited(last)?;
    Ok(())
}

/// How far the intake is: woken at each commit, and done once the last is made (or the intake failed).
#[derive(Default)]
struct Progress {
    committed: tokio::sync::Notify,
    done: std::sync::atomic::AtomicBool,
}

impl Progress {
    fn finish(&self) {
        self.done.store(true, std::sync::atomic::Ordering::SeqCst);
        self.committed.notify_one();
    }

    fn finished(&self) -> bool {
        self.done.load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Sender<'_> {
    /// Sends what waits in the outbox, batch by batch; `Err(Stop)` when delivery cannot finish.
    async fn deliver(
        &mut self,
        outbox: &mut Outbox,
        batch_size: usize,
        progress: &Progress,
    ) -> Result<Result<(), Stop>, SendError> {
        // Receipts a stopped run stored but did not audit are audited first: every receipt is in the chain at
        // least once (twice if a run stops between writing the entries and marking them written).
        for missed in outbox.unaudited()? {
            let purged = missed.purged.iter().map(String::as_str);
            let note = " (audited by the run after the one that received it)";
            let audit = receipt_audit(&missed.receipt, missed.children, &missed.body_digest, purged, note);
            self.store.audit(audit).await?;
            outbox.audited(&missed.receipt)?;
        }
        let mut queue: VecDeque<Vec<Waiting>> = VecDeque::new();
        let mut after = 0i64;
        loop {
            if queue.is_empty() {
                // Read whether the intake is done before looking: what it committed before is then seen.
                let done = progress.finished();
                let next = outbox.next(after, batch_size)?;
                let Some(last) = next.last() else {
                    if done {
                        return Ok(Ok(()));
                    }
                    // A commit wakes this at once; the timeout only bounds a wake-up missed.
                    let _ = tokio::time::timeout(Duration::from_millis(50), progress.committed.notified()).await;
                    continue;
                };
                // A batch is sent full while the intake goes on, unless nothing more is coming.
                if next.len() < batch_size && !done {
                    let _ = tokio::time::timeout(Duration::from_millis(50), progress.committed.notified()).await;
                    continue;
                }
                after = last.seq;
                queue.push_back(next);
            }
            let Some(batch) = queue.pop_front() else { continue };
            let mut body = Vec::with_capacity(batch.iter().map(|c| c.body.len() + 1).sum::<usize>() + 2);
            body.push(b'[');
            for (i, child) in batch.iter().enumerate() {
                if i > 0 {
                    body.push(b',');
                }
                body.extend_from_slice(&child.body);
            }
            body.push(b']');
            let body_digest = caregate_engine::digest::sha256(&body);
            match self.send(body, &body_digest).await? {
                Err(stop) => return Ok(Err(stop)),
                Ok(Delivered::Receipt(receipt)) => {
                    outbox.acknowledge(&receipt, &body_digest, &batch, &now_text())?;
                    let purges = batch.iter().filter(|c| c.purge).count();
                    self.report.sent += batch.len() - purges;
                    self.report.purged += purges;
                    self.report.batches += 1;
                    self.report.receipts.push(Receipt { receipt: receipt.clone(), children: batch.len() });
                    let purged = batch.iter().filter(|c| c.purge).map(|c| c.la_child_id.as_str());
                    let audit = receipt_audit(&receipt, batch.len(), &body_digest, purged, "");
                    self.store.audit(audit).await?;
                    outbox.audited(&receipt)?;
                }
                Ok(Delivered::Split(..)) if batch.len() > 1 => {
                    // Halves go first, in order, so the outbox's order is kept.
                    let mut first = batch;
                    let second = first.split_off(first.len() / 2);
                    queue.push_front(second);
                    queue.push_front(first);
                }
                Ok(Delivered::Split(status, answer)) => {
                    // DfE refuses this child on its own: sent again as it is, it would be refused again.
                    let Some(child) = batch.into_iter().next() else { continue };
                    let digest = caregate_engine::digest::sha256(&child.body);
                    outbox.drop_refused(child.seq, &digest, &format!("dfe {status}"), &now_text())?;
                    audit_refusals(self.store, outbox, "").await?;
                    let finding = Finding::error(
                        "dfe-refused",
                        format!(
                            "DfE refused this child sent on its own ({status}): {}",
                            answer.chars().take(500).collect::<String>()
                        ),
                    );
                    self.report.refused.push(Refused {
                        la_child_id: Some(child.la_child_id),
                        extract: String::new(),
                        line: 0,
                        column: 0,
                        by: "dfe",
                        findings: vec![finding],
                    });
                }
            }
        }
    }

    /// One batch until DfE answers it for good: its receipt, a split, or a stop; each attempt audited.
    async fn send(&mut self, body: Vec<u8>, body_digest: &str) -> Result<Result<Delivered, Stop>, SendError> {
        // Shared, not copied, by each attempt.
        let body = axum::body::Bytes::from(body);
        let mut attempt = 0u32;
        loop {
            let answer = self.client.post(body.clone()).await;
            self.store
                .audit(vec![Record::new(Event::OutboundBatch, ACTOR)
                    .recipient(DFE)
                    .digest(body_digest)
                    .detail(answer.audit_detail())])
                .await?;
            let (why, after) = match answer {
                Answer::Receipt(receipt) => return Ok(Ok(Delivered::Receipt(receipt))),
                Answer::Split { status, answer } => return Ok(Ok(Delivered::Split(status, answer))),
                Answer::Stop { why, .. } => return Ok(Err(Stop(why))),
                Answer::Retry { why, after, .. } => (why, after),
            };
            attempt += 1;
            if attempt > self.client.config.max_retries {
                return Ok(Err(Stop(format!(
                    "the retry budget ran out: {} retries of one batch, the last answered {why}",
                    self.client.config.max_retries
                ))));
            }
            self.report.retries += 1;
            let delay = match after {
                Some(after) => self.client.retry_after(after),
                None => self.client.backoff(attempt),
            };
            tokio::time::sleep(delay).await;
            self.client.waited.backoff += delay;
        }
    }
}

/// The audit entries of a receipt: the receipt, and a purge entry for each child it purged.
fn receipt_audit<'a>(
    receipt: &str,
    children: usize,
    body_digest: &str,
    purged: impl Iterator<Item = &'a str>,
    note: &str,
) -> Vec<Record> {
    let mut audit = vec![Record::new(Event::OutboundReceipt, ACTOR)
        .recipient(DFE)
        .digest(body_digest.to_string())
        .detail(format!("receipt {receipt} children {children}{note}"))];
    for la_child_id in purged {
        audit.push(
            Record::new(Event::OutboundPurge, ACTOR)
                .recipient(DFE)
                .digest(caregate_engine::digest::sha256(la_child_id.as_bytes()))
                .detail(format!("receipt {receipt}{note}")),
        );
    }
    audit
}
