//! Byte offsets to human positions: 1-based line and character column, plus source excerpts.

use crate::finding::Excerpt;

/// Line starts of a source, found in one `memchr` pass, with a copy of the source for excerpts.
#[derive(Debug, Clone)]
pub struct LineIndex {
    source: Box<[u8]>,
    /// Byte offset at which each line starts; `starts[0] == 0`.
    starts: Vec<usize>,
}

impl LineIndex {
    pub fn new(source: &[u8]) -> Self {
        let mut starts = Vec::with_capacity(source.len() / 32 + 1);
        starts.push(0);
        starts.extend(memchr::memchr_iter(b'\n', source).map(|i| i + 1));
        LineIndex {
            source: source.into(),
            starts,
        }
    }

    /// Number of lines (a final newline starts a last, empty line).
    pub fn line_count(&self) -> u32 {
        u32::try_from(self.starts.len()).unwrap_or(u32::MAX)
    }

    /// 1-based line and 1-based column (in characters; each invalid UTF-8 byte counts as one) of a byte
    /// offset. Offsets past the end are clamped to the end.
    pub fn locate(&self, offset: usize) -> (u32, u32) {
        let offset = offset.min(self.source.len());
        // Index of the last line starting at or before `offset`.
        let line_idx = self
            .starts
            .partition_point(|&s| s <= offset)
            .saturating_sub(1);
        let start = self.starts.get(line_idx).copied().unwrap_or(0).min(offset);
        let column = self.source.get(start..offset).map_or(0, count_chars);
        let line = u32::try_from(line_idx + 1).unwrap_or(u32::MAX);
        (line, u32::try_from(column + 1).unwrap_or(u32::MAX))
    }

    /// The text of a 1-based line, without its line ending (lossy UTF-8).
    pub fn line_text(&self, line: u32) -> Option<String> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        let end = self
            .starts
            .get(idx + 1)
            .map_or(self.source.len(), |next| next - 1);
        let mut bytes = self.source.get(start..end)?;
        if let Some(stripped) = bytes.strip_suffix(b"\r") {
            bytes = stripped;
        }
        Some(String::from_utf8_lossy(bytes).into_owned())
    }

    /// The line and up to `context` lines either side of it.
    pub fn excerpt(&self, line: u32, context: u32) -> Excerpt {
        let last = self.line_count();
        let line = line.clamp(1, last.max(1));
        let first = line.saturating_sub(context).max(1);
        let end = line.saturating_add(context).min(last);
        let lines = (first..=end).filter_map(|l| self.line_text(l)).collect();
        Excerpt {
            first_line: first,
            lines,
        }
    }
}

fn count_chars(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    bytes
        .utf8_chunks()
        .map(|chunk| chunk.valid().chars().count() + chunk.invalid().len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_lines_and_columns() {
        let idx = LineIndex::new("ab\ncdé f\n\nlast".as_bytes());
        assert_eq!(idx.locate(0), (1, 1));
        assert_eq!(idx.locate(2), (1, 3)); // the newline itself
        assert_eq!(idx.locate(3), (2, 1));
        // "cdé f": é is two bytes, so the space after it is byte 3+4 = 7, column 4.
        assert_eq!(idx.locate(7), (2, 4));
        assert_eq!(idx.locate(10), (3, 1));
        assert_eq!(idx.locate(11), (4, 1));
        assert_eq!(idx.locate(1000), (4, 5));
        assert_eq!(idx.line_count(), 4);
    }

    #[test]
    fn invalid_bytes_count_one_each() {
        let idx = LineIndex::new(b"x\xFF\xFEy");
        assert_eq!(idx.locate(3), (1, 4));
        assert_eq!(idx.line_text(1).as_deref(), Some("x\u{FFFD}\u{FFFD}y"));
    }

    #[test]
    fn line_text_and_excerpt() {
        let idx = LineIndex::new(b"one\r\ntwo\nthree\nfour\n");
        assert_eq!(idx.line_text(1).as_deref(), Some("one"));
        assert_eq!(idx.line_text(3).as_deref(), Some("three"));
        assert_eq!(idx.line_text(5).as_deref(), Some(""));
        assert_eq!(idx.line_text(6), None);
        assert_eq!(idx.line_text(0), None);
        let ex = idx.excerpt(2, 1);
        assert_eq!(ex.first_line, 1);
        assert_eq!(ex.lines, vec!["one", "two", "three"]);
        let ex = idx.excerpt(1, 0);
        assert_eq!(ex.lines, vec!["one"]);
        let empty = LineIndex::new(b"");
        assert_eq!(empty.locate(0), (1, 1));
        assert_eq!(empty.excerpt(9, 2).lines, vec![String::new()]);
    }
}
