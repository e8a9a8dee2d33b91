//! How an envelope is stored: its JSON text LZ4-packed into a BLOB, and read back into no more memory than the
//! BLOB says it needs, up to a limit, so that a damaged row is an error and never a large allocation.
//!
//! Not for: the copies made from an envelope (`store::copy_of`), nor which columns hold what (`sql`).

use rusqlite::types::{Type, ValueRef};
use rusqlite::Row;
use serde_json::Value;

/// An envelope (JSON text) as stored: LZ4-compressed, kept as a BLOB of its length (4 bytes, little
/// endian) and the LZ4 block. A referral's envelope goes from 2.6 KB to 1.9 KB in about 4 µs (as sent, with
/// one space of indentation a level, from 3.3 KB to 2.1 KB in 3.9 µs); zstd at its
/// fastest level made it 1.4 KB but took 11 µs, which under load cost more than the smaller rows saved (see
/// BENCHMARKS.md).
pub(super) fn pack(envelope: &str) -> Vec<u8> {
    lz4_flex::block::compress_prepend_size(envelope.as_bytes())
}

/// The largest envelope unpacked: far beyond the largest document the gateway takes.
const UNPACKED_LIMIT: usize = 256 << 20;

/// The envelope's JSON text from a packed BLOB: made only as large as it says it is, up to the limit.
pub(super) fn unpack_text(packed: &[u8]) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
    let (length, block) = packed.split_first_chunk::<4>().ok_or("a packed envelope shorter than its length")?;
    let size = usize::try_from(u32::from_le_bytes(*length))?;
    if size > UNPACKED_LIMIT {
        return Err(format!("a packed envelope that says it is larger than {UNPACKED_LIMIT} bytes").into());
    }
    let text = lz4_flex::block::decompress(block, size)?;
    if text.len() != size {
        return Err(format!("a packed envelope that says it is {size} bytes but unpacks to {}", text.len()).into());
    }
    Ok(text)
}

/// The envelope in `column`, which holds it packed; anything else there (no envelope, or one stored otherwise)
/// is an error.
pub(super) fn unpack(r: &Row<'_>, column: usize) -> Result<Value, rusqlite::Error> {
    let broken =
        |e: Box<dyn std::error::Error + Send + Sync>, kind| rusqlite::Error::FromSqlConversionFailure(column, kind, e);
    match r.get_ref(column)? {
        ValueRef::Blob(packed) => {
            let text = unpack_text(packed).map_err(|e| broken(e, Type::Blob))?;
            serde_json::from_slice(&text).map_err(|e| broken(Box::new(e), Type::Blob))
        }
        other => Err(broken(format!("an envelope stored as {:?}", other.data_type()).into(), other.data_type())),
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;
    use crate::store::sqlite::fixtures::message;
    use crate::store::sqlite::{database_path, SqliteStore};
    use crate::store::{Accepted, NewMessage, Store};

    #[tokio::test]
    async fn envelopes_are_stored_packed_and_read_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SqliteStore::open(dir.path(), 64).expect("opens");
        let big = NewMessage {
            envelope: serde_json::json!({"body": {"a": "x".repeat(4000), "b": 2}}).to_string(),
            ..message("packed", None, "d")
        };
        assert_eq!(store.accept(big).await.expect("stored"), Accepted::New);
        let copy = store.copy("packed", "RJ1").await.expect("reads").expect("stored");
        assert_eq!(copy.content["body"], serde_json::json!({"a": "x".repeat(4000)}));
        let conn = Connection::open(database_path(dir.path())).expect("opens");
        let (kind, size): (String, i64) = conn
            .query_row("SELECT typeof(envelope), length(envelope) FROM messages WHERE id = 'packed'", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .expect("stored");
        assert_eq!(kind, "blob");
        assert!(size < 1000, "4 KB of repeated text packs small, not {size} bytes");
    }

    #[test]
    fn only_a_packed_envelope_is_read() {
        use rusqlite::types::Value as Sql;
        let conn = Connection::open_in_memory().expect("opens");
        let read = |value: Sql| conn.query_row("SELECT ?1", [value], |r| unpack(r, 0));
        assert_eq!(read(Sql::Blob(pack(r#"{"a":1}"#))).expect("unpacks"), serde_json::json!({"a": 1}));
        assert!(read(Sql::Text(r#"{"a":1}"#.into())).is_err(), "JSON text, not packed");
        assert!(read(Sql::Null).is_err(), "no envelope");
    }

    #[test]
    fn a_damaged_packed_envelope_is_an_error_not_a_large_allocation() {
        let packed = pack(r#"{"a":"hello hello hello hello"}"#);
        assert_eq!(unpack_text(&packed).expect("unpacks"), br#"{"a":"hello hello hello hello"}"#);
        let mut huge = packed.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(unpack_text(&huge).is_err(), "a length beyond the limit is refused before anything is made");
        let mut longer = packed.clone();
        longer[..4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(unpack_text(&longer).is_err(), "a block that does not fill the stated length");
        assert!(unpack_text(&packed[..packed.len() - 3]).is_err(), "a cut block");
        assert!(unpack_text(&[1, 0]).is_err(), "shorter than its length prefix");
    }
}
