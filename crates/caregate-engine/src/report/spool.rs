//! Text a report writer makes now but must put out later: after a header that needs totals (JUnit, SARIF,
//! HTML, a JSON document's counts), or gathered by rule while findings arrive in file order (HTML).
//!
//! For: keeping a writer's memory bounded whatever the number of findings. Each group's text is held in
//! memory up to [`HOLD_PER_GROUP`] bytes (all groups together up to [`HOLD_TOTAL`]) and beyond that written
//! in chunks to one anonymous temporary file, read back group by group when asked.
//!
//! Not for: findings themselves (writers spool the text they have already rendered), or anything read
//! again after the run (the temporary file disappears when the spool is dropped).

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::scratch::{scratch, Scratch};

/// Bytes one group keeps in memory before its text goes to the temporary file.
const HOLD_PER_GROUP: usize = 256 * 1024;
/// Bytes all groups together keep in memory; past it, every group's held text goes to the file.
const HOLD_TOTAL: usize = 8 * 1024 * 1024;

/// Text in numbered groups, each read back in the order it was written.
pub(crate) struct Spool {
    groups: Vec<Group>,
    held: usize,
    /// Where the temporary file is made (the system's temporary folder when `None`).
    dir: Option<PathBuf>,
    file: Option<Scratch>,
    /// The file's length: every chunk is appended at this offset.
    file_len: u64,
}

#[derive(Default)]
struct Group {
    /// The group's latest text, after every chunk in `chunks`.
    held: Vec<u8>,
    /// `(offset, length)` of the group's earlier text in the file, in order.
    chunks: Vec<(u64, u64)>,
}

impl Spool {
    pub fn new(dir: Option<PathBuf>) -> Self {
        Spool { groups: Vec::new(), held: 0, dir, file: None, file_len: 0 }
    }

    /// Appends `text` to `group` (groups are numbered from 0; a new number makes a new group).
    pub fn append(&mut self, group: usize, text: &[u8]) -> io::Result<()> {
        if self.groups.len() <= group {
            self.groups.resize_with(group + 1, Group::default);
        }
        self.groups[group].held.extend_from_slice(text);
        self.held += text.len();
        if self.groups[group].held.len() >= HOLD_PER_GROUP {
            self.spill(group)?;
        }
        if self.held >= HOLD_TOTAL {
            for g in 0..self.groups.len() {
                self.spill(g)?;
            }
        }
        Ok(())
    }

    /// A writer that appends to `group`.
    pub fn group(&mut self, group: usize) -> GroupWriter<'_> {
        GroupWriter { spool: self, group }
    }

    /// Whether `group` has no text.
    pub fn is_empty(&self, group: usize) -> bool {
        self.groups.get(group).is_none_or(|g| g.held.is_empty() && g.chunks.is_empty())
    }

    /// Copies `group`'s text to `out` in the order it was written, and empties the group.
    pub fn drain(&mut self, group: usize, out: &mut dyn Write) -> io::Result<()> {
        let Some(g) = self.groups.get_mut(group) else { return Ok(()) };
        let chunks = std::mem::take(&mut g.chunks);
        let held = std::mem::take(&mut g.held);
        self.held -= held.len();
        if !chunks.is_empty() {
            let file = self.file.as_mut().ok_or_else(|| io::Error::other("the spool's file is missing"))?;
            for (offset, len) in chunks {
                file.seek(SeekFrom::Start(offset))?;
                let copied = io::copy(&mut (&mut *file).take(len), out)?;
                if copied != len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the spool's file is shorter than written",
                    ));
                }
            }
        }
        out.write_all(&held)?;
        // With every group empty the file's space can be used again from its start.
        if self.groups.iter().all(|g| g.chunks.is_empty()) && self.file_len > 0 {
            if let Some(file) = self.file.as_mut() {
                file.set_len(0)?;
            }
            self.file_len = 0;
        }
        Ok(())
    }

    /// Moves `group`'s held text to the end of the file.
    fn spill(&mut self, group: usize) -> io::Result<()> {
        let g = &mut self.groups[group];
        if g.held.is_empty() {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let file = scratch(self.dir.as_deref())?;
                self.file.insert(file)
            }
        };
        file.seek(SeekFrom::Start(self.file_len))?;
        file.write_all(&g.held)?;
        let len = g.held.len() as u64;
        g.chunks.push((self.file_len, len));
        self.file_len += len;
        self.held -= g.held.len();
        g.held.clear();
        Ok(())
    }
}

/// Appends what is written to one group of a [`Spool`].
pub(crate) struct GroupWriter<'s> {
    spool: &'s mut Spool,
    group: usize,
}

impl Write for GroupWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.spool.append(self.group, buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drained(spool: &mut Spool, group: usize) -> String {
        let mut out = Vec::new();
        spool.drain(group, &mut out).expect("drain");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn groups_come_back_in_write_order_from_memory() {
        let mut spool = Spool::new(None);
        spool.append(1, b"b1 ").unwrap();
        spool.append(0, b"a1 ").unwrap();
        write!(spool.group(1), "b2").unwrap();
        spool.append(0, b"a2").unwrap();
        assert!(spool.file.is_none());
        assert_eq!(drained(&mut spool, 0), "a1 a2");
        assert_eq!(drained(&mut spool, 1), "b1 b2");
        assert!(spool.is_empty(0) && spool.is_empty(1) && spool.is_empty(7));
        assert_eq!(drained(&mut spool, 7), "");
    }

    #[test]
    fn large_groups_go_to_the_file_and_come_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::new(Some(dir.path().to_path_buf()));
        let mut expected = [String::new(), String::new(), String::new()];
        // Interleaved lines, enough to pass both the per-group and the total limit several times.
        for i in 0..200_000 {
            let g = i % 3;
            let line = format!("group {g} line {i}\n");
            spool.append(g, line.as_bytes()).unwrap();
            expected[g].push_str(&line);
        }
        assert!(spool.file.is_some());
        assert!(spool.held < HOLD_TOTAL);
        assert_eq!(drained(&mut spool, 2), expected[2]);
        assert_eq!(drained(&mut spool, 0), expected[0]);
        assert_eq!(drained(&mut spool, 1), expected[1]);
        // Once all is drained the file starts again from nothing, and the spool is usable again.
        assert_eq!(spool.file_len, 0);
        let big = "x".repeat(HOLD_PER_GROUP + 10);
        spool.append(0, big.as_bytes()).unwrap();
        assert_eq!(drained(&mut spool, 0), big);
    }
}
