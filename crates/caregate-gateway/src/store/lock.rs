//! One process at a time writes a data folder's audit chain: the gateway (`caregate serve`) or a send
//! (`caregate send`). The chain's head is held by its one writer, so a second writer would fork it. Each takes
//! the folder's lock (`caregate.lock`, a SQLite file held in a write transaction) for as long as it runs; the
//! operating system lets it go when the process ends, however it ends (SIGKILL included), so a lock is never
//! left behind.
//!
//! Not for: anything within one process (the store's writer thread orders its own writes).

use std::path::Path;

use rusqlite::Connection;

/// A data folder's lock, held until dropped.
pub struct DataLock {
    /// In a mutex only so that the gateway's state may be shared between threads; it is never used again.
    _held: std::sync::Mutex<Connection>,
}

impl DataLock {
    /// Takes the lock of `data` for `who` (said in the refusal of another); the reason when it is held.
    pub fn take(data: &Path, who: &str) -> Result<DataLock, String> {
        std::fs::create_dir_all(data).map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        let path = data.join("caregate.lock");
        let conn = Connection::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        // Refused at once when held: waiting would only wait for the other to end.
        conn.busy_timeout(std::time::Duration::ZERO).map_err(|e| format!("{}: {e}", path.display()))?;
        let taken = conn
            .execute_batch("CREATE TABLE IF NOT EXISTS holder (who TEXT NOT NULL)")
            .and_then(|()| conn.execute_batch("BEGIN EXCLUSIVE"));
        match taken {
            Ok(()) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(e.code, rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) =>
            {
                return Err(format!(
                    "{} is in use by another caregate (a running gateway or send); {who} needs it alone",
                    data.display()
                ))
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        }
        Ok(DataLock { _held: std::sync::Mutex::new(conn) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_folder_is_held_by_one_at_a_time() {
        let dir = tempfile::tempdir().expect("a folder");
        let first = DataLock::take(dir.path(), "a send").expect("free");
        let refused = DataLock::take(dir.path(), "a send").err().unwrap_or_default();
        assert!(refused.contains("is in use by another caregate"), "{refused}");
        drop(first);
        assert!(DataLock::take(dir.path(), "a send").is_ok());
    }
}
