-- The PostgreSQL store's first layout: messages, their copies, idempotency keys and the audit chain.
-- Times are RFC 3339 UTC text with milliseconds (as the SQLite store keeps them), so that text order is time
-- order and a record reads the same from either store.

CREATE TABLE messages (
    -- Arrival order across every instance (mailboxes list newest first by it).
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    message_id TEXT NOT NULL,
    standard TEXT NOT NULL,
    received_at TEXT NOT NULL,
    digest TEXT NOT NULL,
    response TEXT NOT NULL,
    -- The envelope as accepted (JSON text): every copy is made from it.
    envelope TEXT NOT NULL,
    envelope_digest TEXT NOT NULL,
    -- A messageId is its sender's once: two instances taking the same one at once meet here.
    UNIQUE (sender, message_id)
);

-- Every idempotency key, the message's own and one new to a messageId sent before: the primary key decides
-- which of two instances given the same key at once stores it.
CREATE TABLE idempotency (
    sender TEXT NOT NULL,
    key TEXT NOT NULL,
    digest TEXT NOT NULL,
    message TEXT NOT NULL REFERENCES messages (id),
    PRIMARY KEY (sender, key)
);

CREATE TABLE copies (
    seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
    message TEXT NOT NULL REFERENCES messages (id),
    recipient TEXT NOT NULL,
    role TEXT NOT NULL,
    -- What the copy loses (JSON list of redactions).
    redactions TEXT NOT NULL,
    push_url TEXT,
    format TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at TEXT NOT NULL,
    last_error TEXT,
    updated_at TEXT NOT NULL,
    -- The instance pushing the copy, and until when: no other instance takes it up before then.
    lease_owner TEXT,
    lease_until TEXT,
    PRIMARY KEY (message, recipient)
);
CREATE INDEX copies_by_recipient ON copies (recipient, seq);
CREATE INDEX copies_due ON copies (next_at) WHERE push_url IS NOT NULL AND state IN ('pending', 'failed');
CREATE INDEX copies_dead ON copies (seq) WHERE state = 'dead';
CREATE INDEX copies_waiting ON copies (state) WHERE state IN ('pending', 'failed');

CREATE TABLE audit (
    seq BIGINT PRIMARY KEY,
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

-- The chain's head, one row: every append locks it (FOR UPDATE) in its transaction, so that appends from every
-- instance follow one another and the chain stays one sequence.
CREATE TABLE audit_head (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (seq, hash) VALUES (0, '0000000000000000000000000000000000000000000000000000000000000000');
