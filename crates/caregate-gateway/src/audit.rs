//! The audit log: every accept, reject, redaction decision, delivery attempt, mailbox read and acknowledgement,
//! as a hash chain. Each entry carries the hash of the one before, so that any edit, deletion or reordering is
//! detected by [`verify`]. Entries hold digests and codes, never message content.
//!
//! Not for: storing entries (the store appends them in the same transaction as what they record).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The hash the first entry chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::EnumIter)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Event {
    Accept,
    Reject,
    Redaction,
    DeliveryAttempt,
    Read,
    Ack,
    Replay,
    /// A batch sent to a national collection (DfE), with the status it was answered.
    OutboundBatch,
    /// A national collection's receipt for a batch, stored: its children are delivered.
    OutboundReceipt,
    /// A child of an extract refused (by validation, or by the collection), with the rule codes.
    OutboundRefusal,
    /// A child's purge acknowledged by the collection.
    OutboundPurge,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// An entry before it is chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub event: Event,
    /// Who acted: an organisation code, `admin`, `gateway`, or `anonymous`.
    pub actor: String,
    /// The gateway's message id, when there is one.
    pub message: String,
    /// The recipient organisation concerned, when there is one.
    pub recipient: String,
    /// A SHA-256, when there is one: of the request body (accept, reject), of the stored envelope a copy is
    /// made from (redaction; the detail lists what the copy loses), or of a copy as delivered or read.
    pub digest: String,
    /// Codes only: a status, rule codes, redacted paths, an outcome.
    pub detail: String,
}

impl Record {
    pub fn new(event: Event, actor: impl Into<String>) -> Record {
        Record {
            event,
            actor: actor.into(),
            message: String::new(),
            recipient: String::new(),
            digest: String::new(),
            detail: String::new(),
        }
    }
    pub fn message(mut self, id: impl Into<String>) -> Record {
        self.message = id.into();
        self
    }
    pub fn recipient(mut self, code: impl Into<String>) -> Record {
        self.recipient = code.into();
        self
    }
    pub fn digest(mut self, digest: impl Into<String>) -> Record {
        self.digest = digest.into();
        self
    }
    pub fn detail(mut self, detail: impl Into<String>) -> Record {
        self.detail = detail.into();
        self
    }
}

/// A chained entry, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: i64,
    pub at: String,
    pub event: String,
    pub actor: String,
    pub message: String,
    pub recipient: String,
    pub digest: String,
    pub detail: String,
    pub prev: String,
    pub hash: String,
}

impl Entry {
    /// Chains `record` after the entry whose hash is `prev`.
    pub fn chain(record: &Record, seq: i64, at: String, prev: &str) -> Entry {
        let mut entry = Entry {
            seq,
            at,
            event: record.event.as_str().into(),
            actor: record.actor.clone(),
            message: record.message.clone(),
            recipient: record.recipient.clone(),
            digest: record.digest.clone(),
            detail: record.detail.clone(),
            prev: prev.into(),
            hash: String::new(),
        };
        entry.hash = entry.compute_hash();
        entry
    }

    /// SHA-256 over the previous hash and every field, each length-prefixed so that no two entries collide.
    pub fn compute_hash(&self) -> String {
        let mut hasher = Sha256::new();
        let seq = self.seq.to_string();
        for part in [
            &self.prev,
            &seq,
            &self.at,
            &self.event,
            &self.actor,
            &self.message,
            &self.recipient,
            &self.digest,
            &self.detail,
        ] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hex::encode(hasher.finalize())
    }
}

/// The verdict on a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Intact {
        entries: usize,
    },
    /// The first entry that does not follow from the ones before it.
    Broken {
        seq: i64,
        position: usize,
        reason: String,
    },
}

/// Checks a log, given in storage order (ascending `seq`).
pub fn verify(entries: impl IntoIterator<Item = Entry>) -> Verdict {
    let mut prev = GENESIS.to_string();
    let mut count = 0;
    for (position, entry) in entries.into_iter().enumerate() {
        let expected_seq = position as i64 + 1;
        let broken = |reason: String| Verdict::Broken { seq: entry.seq, position: position + 1, reason };
        if entry.compute_hash() != entry.hash {
            return broken("its content does not match its hash (the entry was edited)".into());
        }
        if entry.prev != prev {
            return broken(format!(
                "it chains to {} but the entry before it has hash {} (an entry was deleted, inserted or moved)",
                short(&entry.prev),
                short(&prev)
            ));
        }
        if entry.seq != expected_seq {
            return broken(format!(
                "its sequence number is {} where {} was expected (an entry is missing or moved)",
                entry.seq, expected_seq
            ));
        }
        prev = entry.hash;
        count += 1;
    }
    Verdict::Intact { entries: count }
}

/// What an anchor vouches for: the chain's last entry when it was taken (its sequence number, which is how many
/// entries the chain had, and its hash). Kept apart from the store (published, signed, sent to an auditor), it
/// shows a chain cut short or rewritten from that entry back, which the chain alone cannot: deleting its
/// tail leaves a shorter chain that is still intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: i64,
    pub hash: String,
    pub at: String,
}

/// The head of a chain (its last entry), `None` when it is empty. Meaningful only for a chain [`verify`] found
/// intact.
pub fn head(entries: &[Entry]) -> Option<Head> {
    entries.last().map(|e| Head { seq: e.seq, hash: e.hash.clone(), at: e.at.clone() })
}

/// Whether an intact chain still holds the entry `anchor` vouches for: `Err` says how it does not.
pub fn check_anchor(entries: &[Entry], anchor: &Head) -> Result<(), String> {
    let found = usize::try_from(anchor.seq - 1).ok().and_then(|i| entries.get(i)).filter(|e| e.seq == anchor.seq);
    match found {
        None => Err(format!(
            "the chain has {} entries, but the anchor taken at {} vouches for {}: entries were deleted from its end",
            entries.len(),
            anchor.at,
            anchor.seq
        )),
        Some(entry) if entry.hash != anchor.hash => Err(format!(
            "entry {} has hash {}, but the anchor taken at {} vouches for {}: the chain was rewritten up to it",
            anchor.seq,
            short(&entry.hash),
            anchor.at,
            short(&anchor.hash)
        )),
        Some(_) => Ok(()),
    }
}

fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_anchor_shows_a_tail_deleted_or_a_chain_rewritten() {
        let entries = log(5);
        let anchor = head(&entries).expect("a head");
        assert_eq!((anchor.seq, anchor.hash.as_str()), (5, entries[4].hash.as_str()));
        assert_eq!(check_anchor(&entries, &anchor), Ok(()));
        // The chain grows after the anchor: still vouched for.
        assert_eq!(check_anchor(&log(8), &anchor), Ok(()));
        // Its last two entries deleted: intact on its own, but short of the anchor.
        let cut = &entries[..3];
        assert_eq!(verify(cut.to_vec()), Verdict::Intact { entries: 3 });
        assert!(check_anchor(cut, &anchor)
            .is_err_and(|e| e.contains("the chain has 3 entries") && e.contains("vouches for 5")));
        // Rewritten from the start, consistently (every hash recomputed): intact, but not the anchored chain.
        let mut prev = GENESIS.to_string();
        let rewritten: Vec<Entry> = (1..=5)
            .map(|seq| {
                let e = Entry::chain(
                    &Record::new(Event::Accept, "201").message(format!("forged{seq}")),
                    seq,
                    "t".into(),
                    &prev,
                );
                prev = e.hash.clone();
                e
            })
            .collect();
        assert_eq!(verify(rewritten.clone()), Verdict::Intact { entries: 5 });
        assert!(check_anchor(&rewritten, &anchor).is_err_and(|e| e.contains("rewritten")));
        assert_eq!(head(&[]), None);
    }

    fn log(n: usize) -> Vec<Entry> {
        let mut prev = GENESIS.to_string();
        (1..=n as i64)
            .map(|seq| {
                let entry = Entry::chain(
                    &Record::new(Event::Accept, "201").message(format!("m{seq}")),
                    seq,
                    "2026-11-25T00:00:00Z".into(),
                    &prev,
                );
                prev = entry.hash.clone();
                entry
            })
            .collect()
    }

    #[test]
    fn an_untouched_log_is_intact() {
        assert_eq!(verify(log(5)), Verdict::Intact { entries: 5 });
        assert_eq!(verify(Vec::new()), Verdict::Intact { entries: 0 });
    }

    #[test]
    fn edits_deletions_and_reordering_are_named() {
        let mut edited = log(5);
        edited[2].actor = "POL01".into();
        assert!(matches!(verify(edited), Verdict::Broken { seq: 3, .. }));
        let mut deleted = log(5);
        deleted.remove(1);
        assert!(matches!(verify(deleted), Verdict::Broken { seq: 3, .. }));
        let mut reordered = log(5);
        reordered.swap(1, 3);
        assert!(matches!(verify(reordered), Verdict::Broken { seq: 4, .. }));
    }

    #[test]
    fn event_names_are_pinned() {
        use strum::IntoEnumIterator as _;
        // The name is hashed into each entry: renaming an event would break the chain of every stored log.
        let names: Vec<&str> = Event::iter().map(Event::as_str).collect();
        assert_eq!(
            names,
            [
                "accept",
                "reject",
                "redaction",
                "delivery-attempt",
                "read",
                "ack",
                "replay",
                "outbound-batch",
                "outbound-receipt",
                "outbound-refusal",
                "outbound-purge"
            ]
        );
        for event in Event::iter() {
            assert_eq!(serde_json::to_value(event).ok(), Some(event.as_str().into()));
        }
    }
}
