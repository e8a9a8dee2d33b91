//! Findings of a table return waiting for their file's turn in the report. A file's report is written whole
//! before the next one begins, in line order, while the records behind its findings are checked in any order
//! and touch every file; so a file's findings wait until every record has been checked.
//!
//! For: keeping that wait's memory to a few words a finding. Each finding is written as JSON to its thread's
//! buffer, which goes to an anonymous temporary file once past [`HOLD`]; what stays in memory is where it is
//! in the file it is about (line, column) and where its text is, and it is read back when its turn comes.
//!
//! Not for: excerpts (not kept: made from the file's lines as each finding is written), or the findings of a
//! file itself (a missing column), which are few.

use std::io::{self, Read, Seek, SeekFrom, Write};

use crate::finding::{Finding, Span};
use crate::scratch::{scratch, Scratch};

/// Bytes of findings a thread keeps in memory before its text goes to its temporary file.
const HOLD: usize = 1024 * 1024;

/// Where one waiting finding is: the file it is about, its place there, and its text.
#[derive(Debug, Clone, Copy)]
struct Entry {
    file: u32,
    line: u32,
    column: u32,
    /// The record the finding is about, by its place in the return: orders findings at one place.
    record: u32,
    /// The thread's own count of findings: the order they were found in, which orders findings at one place.
    seq: u32,
    at: u64,
    len: u32,
}

/// One thread's waiting findings.
pub(super) struct Waiting {
    entries: Vec<Entry>,
    held: Vec<u8>,
    /// Where `held` starts in the text: every earlier byte is in `file`.
    held_from: u64,
    file: Option<Scratch>,
}

impl Waiting {
    pub fn new() -> Self {
        // Room for the hold and the finding that passes it, so that the buffer is not doubled on the way.
        Waiting { entries: Vec::new(), held: Vec::with_capacity(HOLD + HOLD / 4), held_from: 0, file: None }
    }

    /// Keeps `finding`, about file `file` and the return's record `record`, until [`Waited::take`] gives it
    /// back.
    pub fn push(&mut self, file: usize, record: usize, finding: &Finding) -> io::Result<()> {
        let at = self.held_from + self.held.len() as u64;
        // The span is no part of a finding's JSON, but the renderers underline with it.
        let span = finding.location.as_ref().and_then(|l| l.span);
        serde_json::to_writer(&mut self.held, &(span, finding)).map_err(io::Error::other)?;
        let len = u32::try_from(self.held_from + self.held.len() as u64 - at).map_err(io::Error::other)?;
        let (line, column) = finding.location.as_ref().map_or((0, 0), |l| (l.line, l.column));
        let seq = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        let (file, record) = (u32::try_from(file).unwrap_or(u32::MAX), u32::try_from(record).unwrap_or(u32::MAX));
        self.entries.push(Entry { file, line, column, record, seq, at, len });
        if self.held.len() > HOLD {
            let file = match &mut self.file {
                Some(file) => file,
                None => self.file.insert(scratch(None)?),
            };
            file.write_all(&self.held)?;
            self.held_from += self.held.len() as u64;
            self.held.clear();
        }
        Ok(())
    }
}

/// Every thread's waiting findings, ready to be given back file by file.
pub(super) struct Waited {
    threads: Vec<Waiting>,
    /// (thread, entry) of every finding, in the order they are to be written.
    order: Vec<(u32, Entry)>,
    next: usize,
}

impl Waited {
    /// The threads' findings, each file's in line order; at one place, in the order of their records in the
    /// return and then the order they were found in, whichever thread checked them.
    pub fn new(threads: Vec<Waiting>) -> Self {
        let mut order: Vec<(u32, Entry)> = threads
            .iter()
            .enumerate()
            .flat_map(|(t, w)| w.entries.iter().map(move |e| (u32::try_from(t).unwrap_or(u32::MAX), *e)))
            .collect();
        order.sort_by_key(|(_, e)| (e.file, e.line, e.column, e.record, e.seq));
        Waited { threads, order, next: 0 }
    }

    /// The next finding about file `file`, in order; `None` once its findings are all given.
    pub fn take(&mut self, file: usize) -> io::Result<Option<Finding>> {
        let Some(&(thread, entry)) = self.order.get(self.next) else { return Ok(None) };
        if entry.file as usize != file {
            return Ok(None);
        }
        self.next += 1;
        let waiting = self.threads.get_mut(thread as usize).ok_or_else(|| io::Error::other("no such thread"))?;
        let mut text = vec![0; entry.len as usize];
        match entry.at.checked_sub(waiting.held_from) {
            Some(offset) => {
                let start = usize::try_from(offset).map_err(io::Error::other)?;
                let bytes = waiting.held.get(start..start + text.len()).ok_or_else(|| io::Error::other("lost"))?;
                text.copy_from_slice(bytes);
            }
            None => {
                let file = waiting.file.as_mut().ok_or_else(|| io::Error::other("lost"))?;
                file.seek(SeekFrom::Start(entry.at))?;
                file.read_exact(&mut text)?;
            }
        }
        let (span, mut finding): (Option<Span>, Finding) = serde_json::from_slice(&text).map_err(io::Error::other)?;
        if let Some(location) = &mut finding.location {
            location.span = span;
        }
        Ok(Some(finding))
    }

    /// Where the next finding of `file` is (line, column), for merging with the file's own findings.
    pub fn peek(&self, file: usize) -> Option<(u32, u32)> {
        self.order.get(self.next).filter(|(_, e)| e.file as usize == file).map(|(_, e)| (e.line, e.column))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Location;

    fn at(rule: &str, line: u32) -> Finding {
        let span = Some(Span::new(line as usize, line as usize + 1));
        Finding::error(rule, format!("{rule} at {line}")).with_location(Location {
            line,
            column: 1,
            span,
            ..Default::default()
        })
    }

    #[test]
    fn findings_come_back_file_by_file_in_line_order_from_memory_and_disk() {
        let mut one = Waiting::new();
        let mut two = Waiting::new();
        // Enough findings that the first thread's text goes to its file; they are about the return's record 5.
        for i in 0..40_000u32 {
            one.push((i % 2) as usize, 5, &at("A", 40_000 - i)).unwrap();
        }
        assert!(one.file.is_some());
        // The second thread checked record 2, whose findings come first where both have one (line 7 of file 1).
        two.push(1, 2, &at("B", 7)).unwrap();
        two.push(0, 2, &at("B", 7)).unwrap();
        let mut waited = Waited::new(vec![one, two]);
        for file in 0..2 {
            let mut last = 0;
            let mut count = 0;
            let mut at_seven = Vec::new();
            while let Some(finding) = waited.take(file).unwrap() {
                let location = finding.location.as_ref().unwrap();
                let line = location.line;
                assert_eq!(location.span, Some(Span::new(line as usize, line as usize + 1)));
                assert!(line >= last);
                last = line;
                count += 1;
                if line == 7 {
                    at_seven.push(finding.rule.clone());
                }
            }
            assert_eq!(count, 20_001);
            assert_eq!(at_seven, if file == 1 { vec!["B", "A"] } else { vec!["B"] });
        }
        assert!(waited.take(2).unwrap().is_none());
    }
}
