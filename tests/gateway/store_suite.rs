//! The store's behaviour, one suite run on both stores: the embedded SQLite store and PostgreSQL. Intake with
//! idempotency, copies per recipient with redaction, mailbox read and acknowledge, message status, push
//! delivery with retry, dead letters and replay, and the audit chain. Then what PostgreSQL adds, with two stores
//! on one database as two gateway instances: one copy pushed by one instance at a time (a lease another takes
//! up when it runs out), and the same message sent to both at once stored once.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use caregate_gateway::audit::{verify, Event, Record, Verdict};
use caregate_gateway::policy::Redaction;
use caregate_gateway::store::postgres::PostgresStore;
use caregate_gateway::store::sqlite::{now_text, timestamp, SqliteStore};
use caregate_gateway::store::{Accepted, Attempt, CopyState, NewCopy, NewMessage, Store, Transition};
use common::postgres::TestDatabase;
use serde_json::json;

/// A message from 201 to RJ1 (health, which loses `/body/b`, a mailbox) and, when `push` is given, to POL01 by
/// push; its `messageId` is its id, and its one audit record is its accept.
fn message(id: &str, key: Option<&str>, digest: &str, push: Option<&str>) -> NewMessage {
    let mut copies = vec![NewCopy {
        recipient: "RJ1".into(),
        role: "health".into(),
        redactions: vec![Redaction { path: "/body/b".into(), reason: "need-to-know".into() }],
        push_url: None,
        format: "json".into(),
    }];
    if let Some(url) = push {
        copies.push(NewCopy {
            recipient: "POL01".into(),
            role: "police".into(),
            redactions: Vec::new(),
            push_url: Some(url.into()),
            format: "json".into(),
        });
    }
    NewMessage {
        id: id.into(),
        sender: "201".into(),
        message_id: id.into(),
        standard: "referral@1.0".into(),
        received_at: now_text(),
        digest: digest.into(),
        envelope: r#"{"messageId":"x","body":{"a":1,"b":2}}"#.into(),
        envelope_digest: digest.into(),
        copies,
        response: format!(r#"{{"id":"{id}"}}"#),
        idempotency_key: key.map(String::from),
        audit: vec![Record::new(Event::Accept, "201").message(id)],
    }
}

fn repeat(id: &str) -> Accepted {
    Accepted::Repeat(format!(r#"{{"id":"{id}"}}"#))
}

/// The suite: what every store does, whatever keeps it.
async fn suite(store: Arc<dyn Store>) {
    let mut audited = 0;
    // Intake, many at once.
    let mut pending = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        pending.push(tokio::spawn(async move { store.accept(message(&format!("m{i}"), None, "d", None)).await }));
    }
    for accepted in pending {
        assert_eq!(accepted.await.expect("task").expect("stored"), Accepted::New);
        audited += 1;
    }
    // Idempotency keys: a sender's own; the same body again is the first answer, another body a conflict.
    assert_eq!(store.accept(message("k1", Some("key"), "d1", None)).await.expect("stored"), Accepted::New);
    audited += 1;
    assert_eq!(store.idempotent("201", "key").await.expect("looks up"), Some(("d1".into(), r#"{"id":"k1"}"#.into())));
    assert_eq!(store.idempotent("202", "key").await.expect("looks up"), None, "a key is its sender's");
    assert_eq!(store.accept(message("k2", Some("key"), "d1", None)).await.expect("stored"), repeat("k1"));
    assert_eq!(store.accept(message("k3", Some("key"), "d2", None)).await.expect("stored"), Accepted::KeyConflict);
    // A key new to a message sent before names that message.
    let with_new_key =
        NewMessage { id: "k1-again".into(), message_id: "k1".into(), ..message("k1", Some("other-key"), "d1", None) };
    assert_eq!(store.accept(with_new_key).await.expect("stored"), repeat("k1"));
    assert_eq!(
        store.idempotent("201", "other-key").await.expect("looks up"),
        Some(("d1".into(), r#"{"id":"k1"}"#.into()))
    );
    // A messageId is a sender's once: the same envelope again (laid out anew too) is the first message, another
    // envelope a conflict.
    let again = NewMessage { id: "m3-again".into(), ..message("m3", None, "d", None) };
    assert_eq!(store.accept(again).await.expect("stored"), repeat("m3"));
    let relaid = NewMessage {
        id: "m3-relaid".into(),
        envelope: r#"{ "body": { "b": 2, "a": 1 }, "messageId": "x" }"#.into(),
        ..message("m3", None, "e", None)
    };
    assert_eq!(store.accept(relaid).await.expect("stored"), repeat("m3"));
    let other = NewMessage {
        id: "m3-other".into(),
        envelope: r#"{"messageId":"x","body":{"a":1,"b":3}}"#.into(),
        ..message("m3", None, "e", None)
    };
    assert_eq!(store.accept(other).await.expect("stored"), Accepted::MessageIdConflict);

    // The mailbox, newest first; a copy is the envelope less its redactions, which it lists.
    let mailbox = store.mailbox("RJ1", 1000).await.expect("reads");
    assert_eq!(mailbox.len(), 21);
    assert_eq!(mailbox[0].message, "k1", "newest first");
    assert_eq!(store.mailbox("RJ1", 5).await.expect("reads").len(), 5);
    let read = Record::new(Event::Read, "RJ1").message("m3");
    assert!(store.transition("m3", "RJ1", Transition::Read, read.clone()).await.expect("writes"));
    audited += 1;
    assert!(!store.transition("m3", "POL01", Transition::Read, read).await.expect("writes"), "no such copy");
    let copy = store.copy("m3", "RJ1").await.expect("reads").expect("exists");
    let expected =
        json!({"messageId": "x", "body": {"a": 1}, "redactions": [{"path": "/body/b", "reason": "need-to-know"}]});
    assert_eq!((copy.state, copy.content), (CopyState::Delivered, expected));
    let ack = Record::new(Event::Ack, "RJ1").message("m3");
    assert!(store.transition("m3", "RJ1", Transition::Ack, ack).await.expect("writes"));
    audited += 1;
    // Message status: every copy, with its state.
    let status = store.message("m3").await.expect("reads").expect("exists");
    assert_eq!((status.sender.as_str(), status.digest.as_str(), status.copies.len()), ("201", "d", 1));
    assert_eq!(status.copies[0].state, CopyState::Acknowledged);
    assert!(store.message("nothing").await.expect("reads").is_none());

    // The same message many times at once (one group, where a store groups its writes): stored once, and every
    // other answer is the first one.
    let same: Vec<_> = (0..6)
        .map(|i| {
            let store = Arc::clone(&store);
            let copy = NewMessage {
                id: format!("dup{i}"),
                response: format!(r#"{{"id":"dup{i}"}}"#),
                ..message("dup", Some("dup-key"), "dd", None)
            };
            tokio::spawn(async move { store.accept(copy).await })
        })
        .collect();
    let mut answers = Vec::new();
    for accepted in same {
        answers.push(accepted.await.expect("task").expect("stored"));
    }
    let first: Vec<usize> = (0..6).filter(|&i| answers[i] == Accepted::New).collect();
    assert_eq!(first.len(), 1, "{answers:?}");
    let winner = format!("dup{}", first[0]);
    assert!(answers.iter().all(|a| *a == Accepted::New || *a == repeat(&winner)), "{answers:?}");
    audited += 1;

    // Push delivery: due, retried, dead-lettered, replayed, delivered.
    assert_eq!(
        store.accept(message("p1", None, "d", Some("http://127.0.0.1:9/inbox"))).await.expect("stored"),
        Accepted::New
    );
    audited += 1;
    let depth = store.queue_depth().await.expect("counts");
    assert_eq!(depth, 20 + 1 + 2, "the 21 mailbox copies less m3's (acknowledged), dup's, and p1's two");
    let attempt =
        |detail: &str| Record::new(Event::DeliveryAttempt, "gateway").message("p1").recipient("POL01").detail(detail);
    let due = store.due(&now_text(), 256).await.expect("reads");
    assert_eq!(due.iter().map(|c| (c.message.as_str(), c.recipient.as_str())).collect::<Vec<_>>(), [("p1", "POL01")]);
    assert_eq!(due[0].content, json!({"messageId": "x", "body": {"a": 1, "b": 2}, "redactions": []}));
    let soon = timestamp(chrono::Utc::now() - chrono::Duration::milliseconds(1));
    let retry = Attempt::Retry { error: "the recipient answered 503".into(), next_at: soon };
    store.attempted("p1", "POL01", retry, attempt("retry")).await.expect("writes");
    audited += 1;
    let later = timestamp(chrono::Utc::now() + chrono::Duration::seconds(60));
    let due = store.due(&now_text(), 256).await.expect("reads");
    assert_eq!((due.len(), due[0].attempts, due[0].state), (1, 1, CopyState::Failed), "retried when due");
    assert!(store
        .due(&timestamp(chrono::Utc::now() - chrono::Duration::seconds(60)), 256)
        .await
        .expect("reads")
        .is_empty());
    store.attempted("p1", "POL01", Attempt::Dead { error: "gone".into() }, attempt("dead")).await.expect("writes");
    audited += 1;
    assert!(store.due(&later, 256).await.expect("reads").is_empty(), "a dead letter is not due");
    let dead = store.dead_letters().await.expect("reads");
    assert_eq!(
        dead.iter().map(|c| (c.message.as_str(), c.last_error.as_deref())).collect::<Vec<_>>(),
        [("p1", Some("gone"))]
    );
    let replay = Record::new(Event::Replay, "admin").message("p1").recipient("POL01");
    assert!(store.transition("p1", "POL01", Transition::Replay, replay.clone()).await.expect("writes"));
    audited += 1;
    assert!(!store.transition("p1", "POL01", Transition::Replay, replay).await.expect("writes"), "only a dead letter");
    assert!(store.dead_letters().await.expect("reads").is_empty());
    let due = store.due(&now_text(), 256).await.expect("reads");
    assert_eq!((due.len(), due[0].attempts, due[0].state), (1, 0, CopyState::Pending), "replayed afresh");
    store.attempted("p1", "POL01", Attempt::Delivered, attempt("delivered")).await.expect("writes");
    audited += 1;
    assert!(store.due(&later, 256).await.expect("reads").is_empty());
    assert_eq!(store.copy("p1", "POL01").await.expect("reads").expect("exists").state, CopyState::Delivered);

    // The audit chain: every write above that audits, in one intact sequence; refusals appended on their own.
    store.audit(vec![Record::new(Event::Reject, "anonymous").detail("401")]).await.expect("writes");
    audited += 1;
    let log = store.audit_log().await.expect("reads");
    assert_eq!(verify(log), Verdict::Intact { entries: audited });
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_suite_holds_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(dir.path(), 64).expect("opens");
    suite(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_suite_holds_on_postgres() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let store = PostgresStore::open(&database.store_config(dir.path())).await.expect("opens");
    suite(Arc::new(store)).await;
    // Opened again (a restart, or a second instance), the migrations are not applied twice.
    let again = PostgresStore::open(&database.store_config(dir.path())).await.expect("opens again");
    assert_eq!(again.layout().await.expect("reads"), 1);
    assert_eq!(database.count("SELECT count(*) FROM schema_migrations"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_starting_together_migrate_once() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = database.store_config(dir.path());
    let opening: Vec<_> = (0..4)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move { PostgresStore::open(&config).await.map(|_| ()) })
        })
        .collect();
    for opened in opening {
        opened.await.expect("task").expect("opens");
    }
    assert_eq!(database.count("SELECT count(*) FROM schema_migrations"), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_copy_is_held_by_one_instance_until_its_lease_runs_out() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = database.store_config(dir.path());
    config.lease_ms = 1500;
    let (one, two) =
        (PostgresStore::open(&config).await.expect("opens"), PostgresStore::open(&config).await.expect("opens"));
    for i in 0..10 {
        let accepted = one.accept(message(&format!("p{i}"), None, "d", Some("http://127.0.0.1:9/inbox"))).await;
        assert_eq!(accepted.expect("stored"), Accepted::New);
    }
    // Both look at once: each copy goes to one of them.
    let (a, b) = tokio::join!(one.due(&now_text(), 5), two.due(&now_text(), 5));
    let (a, b) = (a.expect("claims"), b.expect("claims"));
    assert_eq!((a.len(), b.len()), (5, 5));
    let mut all: Vec<&str> = a.iter().chain(&b).map(|c| c.message.as_str()).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 10, "no copy handed to both");
    assert!(two.due(&now_text(), 256).await.expect("claims").is_empty(), "all held");
    // The first instance records one attempt and dies with the rest in hand: they wait out its lease, then the
    // other takes them up (with its own, whose lease ran out too: a lease outlives any one push).
    let first = &a[0];
    let record = Record::new(Event::DeliveryAttempt, "gateway").message(&first.message).recipient("POL01");
    one.attempted(&first.message, "POL01", Attempt::Delivered, record).await.expect("writes");
    drop(one);
    assert!(two.due(&now_text(), 256).await.expect("claims").is_empty(), "leases still run");
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let mut taken_up: Vec<String> =
        two.due(&now_text(), 256).await.expect("claims").into_iter().map(|c| c.message).collect();
    let mut expected: Vec<String> = a[1..].iter().chain(&b).map(|c| c.message.clone()).collect();
    taken_up.sort_unstable();
    expected.sort_unstable();
    assert_eq!(taken_up, expected, "every copy not delivered, the dead instance's among them");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_message_sent_to_two_instances_at_once_is_stored_once() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = database.store_config(dir.path());
    let one: Arc<dyn Store> = Arc::new(PostgresStore::open(&config).await.expect("opens"));
    let two: Arc<dyn Store> = Arc::new(PostgresStore::open(&config).await.expect("opens"));
    for i in 0..40 {
        // The same messageId under the same key (each instance makes its own gateway id), and every other pair
        // without a key.
        let key = (i % 2 == 0).then(|| format!("key{i}"));
        let first =
            NewMessage { id: format!("a{i}"), message_id: format!("m{i}"), ..message("", key.as_deref(), "d", None) };
        let second = NewMessage { id: format!("b{i}"), ..first.clone() };
        let first = NewMessage { response: format!(r#"{{"id":"a{i}"}}"#), ..first };
        let second = NewMessage { response: format!(r#"{{"id":"b{i}"}}"#), ..second };
        let (x, y) = tokio::join!(one.accept(first), two.accept(second));
        let answers = [x.expect("stored"), y.expect("stored")];
        let new = answers.iter().filter(|a| **a == Accepted::New).count();
        assert_eq!(new, 1, "pair {i}: {answers:?}");
        let winner = if answers[0] == Accepted::New { format!("a{i}") } else { format!("b{i}") };
        assert!(answers.contains(&repeat(&winner)), "pair {i}: the loser answers as the winner did: {answers:?}");
    }
    assert_eq!(database.count("SELECT count(*) FROM messages"), 40);
    assert_eq!(verify(one.audit_log().await.expect("reads")), Verdict::Intact { entries: 40 });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_role_with_only_the_gateways_grants_runs_the_suite_and_cannot_rewrite_the_audit() {
    let database = TestDatabase::new();
    let dir = tempfile::tempdir().expect("temp dir");
    // The owner (the role of CAREGATE_TEST_POSTGRES) makes the tables.
    drop(PostgresStore::open(&database.store_config(dir.path())).await.expect("the owner migrates"));
    let role = format!("{}_app", database.name);
    database.admin(&format!("CREATE ROLE {role} LOGIN PASSWORD 'app-password'"));
    let _dropped = DropRole(&database, role.clone());
    let grants =
        include_str!("../../crates/caregate-gateway/src/store/postgres/grants.sql").replace("caregate_app", &role);
    database.in_database(&grants);
    assert!(database.as_role(&role, "app-password", "CREATE TABLE t (x int)").contains("permission denied"));
    let config = database.store_config_as(dir.path(), &role, Some("app-password"));
    let store = PostgresStore::open(&config).await.expect("the gateway's role opens a migrated database");
    suite(Arc::new(Arc::clone(&store))).await;
    let refused = database.as_role(&role, "app-password", "DELETE FROM audit");
    assert!(refused.contains("permission denied"), "{refused}");
    let refused = database.as_role(&role, "app-password", "UPDATE audit SET detail = ''");
    assert!(refused.contains("permission denied"), "{refused}");
}

/// Drops a test's role when the test ends (after its database, which the role's grants are in).
struct DropRole<'a>(&'a TestDatabase, String);

impl Drop for DropRole<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.0.drop_database();
            self.0.admin(&format!("DROP ROLE IF EXISTS {}", self.1));
        }
    }
}
