//! What is durable, and the threads that make it so. The syncer syncs the write-ahead log after group commits
//! (every group committed since its last sync shares one) and only then has their writes answered; the database
//! syncer syncs the database file after each light checkpoint. [`Durability`] records how far commits are on
//! disk, so that a read answers only once what it may have seen is. A failed sync is final: nothing written
//! since the last good one, nor anything later, is claimed durable, and every write is refused.
//!
//! Not for: deciding when to commit or checkpoint (`writer`), which tells these threads what to sync.

use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use tokio::sync::watch;

use super::writer::{Input, ReplyTo, Written};
use crate::store::StoreError;

/// How far commits have gone: groups are numbered as they begin to commit, and a group is durable once the
/// syncer has synced the WAL after its commit. A read waits until what it may have seen is durable, so that no
/// one is shown a write that a power cut could still take back.
pub(super) struct Durability {
    /// The number of the last group that began to commit (it may be visible to readers from then on).
    pub(super) begun: AtomicU64,
    /// The number of the last group known durable, and whether a sync has failed (after which nothing is
    /// claimed durable again and every write is refused).
    pub(super) durable: watch::Sender<(u64, bool)>,
}

impl Durability {
    /// Nothing begun, nothing failed.
    pub(super) fn new() -> Durability {
        Durability { begun: AtomicU64::new(0), durable: watch::Sender::new((0, false)) }
    }

    pub(super) fn failed(&self) -> bool {
        self.durable.borrow().1
    }

    /// Waits until every group begun so far is durable.
    pub(super) async fn settle(&self) -> Result<(), StoreError> {
        let target = self.begun.load(Ordering::SeqCst);
        let mut durable = self.durable.subscribe();
        let failed = durable.wait_for(|&(seq, failed)| seq >= target || failed).await.map(|state| state.1);
        match failed {
            Ok(false) => Ok(()),
            _ => Err(StoreError::NotDurable),
        }
    }
}

/// Writes committed in one transaction, answered once the WAL holding them is on disk.
pub(super) struct Group {
    pub(super) seq: u64,
    pub(super) answers: Vec<(ReplyTo, Result<Written, StoreError>)>,
}

/// Syncs a file as it is now (opened each time): a full `fsync`, as SQLite's own.
pub(super) fn sync_file(path: &Path) -> std::io::Result<()> {
    File::open(path).and_then(|f| f.sync_all())
}

/// The syncer's loop: takes every group committed since its last sync, syncs the WAL (which holds them all),
/// tells the writer it may commit the next group, then answers. Should a sync fail, nothing written since the
/// last good one is claimed durable: those writes and every later one are refused.
pub(super) fn syncer(
    wal: &Path,
    groups: &mpsc::Receiver<Group>,
    durability: &Durability,
    writer: &mpsc::Sender<Input>,
) {
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
pub(super) fn database_syncer(
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::oneshot;

    use super::*;

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
}
