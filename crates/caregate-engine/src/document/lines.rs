//! Byte offsets to human positions: 1-based line and character column, plus source excerpts.

use crate::finding::{Excerpt, LineWindow};

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
        LineIndex { source: source.into(), starts }
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
        let line_idx = self.starts.partition_point(|&s| s <= offset).saturating_sub(1);
        let start = self.starts.get(line_idx).copied().unwrap_or(0).min(offset);
        let column = self.source.get(start..offset).map_or(0, count_chars);
        let line = u32::try_from(line_idx + 1).unwrap_or(u32::MAX);
        (line, u32::try_from(column + 1).unwrap_or(u32::MAX))
    }

    /// The bytes of a 1-based line, without its line ending.
    fn line_bytes(&self, line: u32) -> Option<&[u8]> {
        let idx = usize::try_from(line).ok()?.checked_sub(1)?;
        let start = *self.starts.get(idx)?;
        let end = self.starts.get(idx + 1).map_or(self.source.len(), |next| next - 1);
        let bytes = self.source.get(start..end)?;
        Some(bytes.strip_suffix(b"\r").unwrap_or(bytes))
    }

    /// The text of a 1-based line, without its line ending (each byte that is not UTF-8 one U+FFFD).
    pub fn line_text(&self, line: u32) -> Option<String> {
        self.line_bytes(line).map(lossy)
    }

    /// The line and up to `context` lines either side of it, each cut to the same window of at most
    /// [`Excerpt::WIDTH`] characters around `column` (1-based, in characters) of `line`. Lines no longer than
    /// the window are whole; the cost is that of finding `column` in its line, never of copying a line.
    pub fn excerpt(&self, line: u32, column: u32, context: u32) -> Excerpt {
        let last = self.line_count();
        let line = line.clamp(1, last.max(1));
        let first = line.saturating_sub(context).max(1);
        let end = line.saturating_add(context).min(last);
        let from = window_start(self.line_bytes(line).unwrap_or_default(), column);
        let lines = (first..=end).filter_map(|l| self.line_bytes(l)).map(|bytes| window(bytes, from)).collect();
        Excerpt { first_line: first, lines }
    }
}

/// Characters of context an excerpt keeps before the finding's column when its line is cut.
const LEAD: usize = 40;

/// The 0-based character at which the window over `line` starts so that it holds `column` (1-based; clamped to
/// one past the end of the line): [`LEAD`] characters before it, or more when the line ends sooner after it, so
/// that the window is as full as the line allows. A line of at most [`Excerpt::WIDTH`] characters starts at 0.
fn window_start(line: &[u8], column: u32) -> usize {
    let wanted = usize::try_from(column.max(1) - 1).unwrap_or(usize::MAX);
    let (at_byte, at) = skip_chars(line, 0, wanted);
    let (_, tail) = skip_chars(line, at_byte, Excerpt::WIDTH);
    let before = at.min(Excerpt::WIDTH - tail.min(Excerpt::WIDTH - LEAD));
    at - before
}

/// The window of `line` from its 0-based character `from`, at most [`Excerpt::WIDTH`] characters.
fn window(line: &[u8], from: usize) -> LineWindow {
    let (start, _) = skip_chars(line, 0, from);
    let (end, _) = skip_chars(line, start, Excerpt::WIDTH);
    LineWindow {
        text: lossy(&line[start..end]),
        column: u32::try_from(from + 1).unwrap_or(u32::MAX),
        cut_after: end < line.len(),
    }
}

/// From byte `at` of `bytes` (a character boundary), skips up to `n` characters, each byte that is not part of
/// a UTF-8 character counting as one (as [`LineIndex::locate`] counts columns). Returns the byte reached and
/// the characters skipped, fewer than `n` where the bytes end first.
fn skip_chars(bytes: &[u8], at: usize, n: usize) -> (usize, usize) {
    let rest = bytes.get(at..).unwrap_or_default();
    let ascii = n.min(rest.len());
    if rest[..ascii].is_ascii() {
        return (at + ascii, ascii);
    }
    let (mut pos, mut count) = (at, 0);
    for chunk in rest.utf8_chunks() {
        let valid = chunk.valid();
        let left = n - count;
        // A character is at least one byte: a valid run no longer than what is left is skipped whole.
        if valid.len() <= left {
            count += valid.chars().count();
            pos += valid.len();
        } else if let Some((i, _)) = valid.char_indices().nth(left) {
            return (pos + i, n);
        } else {
            count += valid.chars().count();
            pos += valid.len();
        }
        let invalid = chunk.invalid().len().min(n - count);
        count += invalid;
        pos += invalid;
        if count == n {
            return (pos, n);
        }
    }
    (pos, count)
}

/// `bytes` as text, each byte that is not part of a UTF-8 character one U+FFFD (where `from_utf8_lossy`
/// would replace a broken sequence by one), so that characters match columns.
fn lossy(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        text.extend(std::iter::repeat_n('\u{FFFD}', chunk.invalid().len()));
    }
    text
}

fn count_chars(bytes: &[u8]) -> usize {
    if bytes.is_ascii() {
        return bytes.len();
    }
    bytes.utf8_chunks().map(|chunk| chunk.valid().chars().count() + chunk.invalid().len()).sum()
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
        let ex = idx.excerpt(2, 3, 1);
        assert_eq!(ex.first_line, 1);
        assert_eq!(ex.lines, ["one", "two", "three"].map(LineWindow::whole));
        let ex = idx.excerpt(1, 1, 0);
        assert_eq!(ex.lines, [LineWindow::whole("one")]);
        let empty = LineIndex::new(b"");
        assert_eq!(empty.locate(0), (1, 1));
        assert_eq!(empty.excerpt(9, 4, 2).lines, [LineWindow::whole("")]);
    }

    /// The character of `window` at 1-based `column` of its line.
    fn char_at(window: &LineWindow, column: u32) -> Option<char> {
        let offset = column.checked_sub(window.column)?;
        window.text.chars().nth(offset as usize)
    }

    #[test]
    fn a_short_line_is_whole_wherever_the_column() {
        let line = "x".repeat(Excerpt::WIDTH);
        let idx = LineIndex::new(line.as_bytes());
        for column in [1, 40, 41, 100, 120, 121, 500] {
            assert_eq!(idx.excerpt(1, column, 1).lines, [LineWindow::whole(line.clone())], "column {column}");
        }
    }

    #[test]
    fn a_500_kb_line_keeps_a_window_around_the_column() {
        // A minified document: one line, the finding deep inside it.
        let mut line = "a".repeat(500 * 1024);
        let column = 250_001;
        line.replace_range(column - 1..column, "X");
        let idx = LineIndex::new(format!("{line}\nshort\n").as_bytes());
        let ex = idx.excerpt(1, column as u32, 1);
        assert_eq!(ex.first_line, 1);
        let hit = &ex.lines[0];
        assert_eq!(hit.text.chars().count(), Excerpt::WIDTH);
        assert!(hit.cut_before() && hit.cut_after);
        assert_eq!(char_at(hit, column as u32), Some('X'));
        assert_eq!(hit.column as usize, column - LEAD);
        // The line after is read through the same columns, which it does not reach.
        assert_eq!(ex.lines[1], LineWindow { text: String::new(), column: hit.column, cut_after: false });

        // Near the end, the window fills up with what comes before.
        let end = idx.excerpt(1, 500 * 1024 - 2, 0);
        assert_eq!(end.lines[0].text.chars().count(), Excerpt::WIDTH);
        assert!(end.lines[0].cut_before() && !end.lines[0].cut_after);
        // Past the end of the line, the window ends with it.
        let past = idx.excerpt(1, 900_000, 0);
        assert_eq!(past.lines[0].column as usize, 500 * 1024 - Excerpt::WIDTH + 1);
        // At the start, the window starts with the line.
        let start = idx.excerpt(1, 3, 0);
        assert_eq!(start.lines[0].column, 1);
        assert!(!start.lines[0].cut_before() && start.lines[0].cut_after);
    }

    #[test]
    fn windows_count_characters_not_bytes() {
        // Two-byte, three-byte and invalid bytes before the finding; a tab counts as one character.
        let mut line = Vec::new();
        for _ in 0..300 {
            line.extend_from_slice("é€\t".as_bytes());
            line.push(0xFF);
        }
        let column = 4 * 300 + 1;
        line.extend_from_slice("Zafter".as_bytes());
        line.extend_from_slice("ü".repeat(200).as_bytes());
        let idx = LineIndex::new(&line);
        assert_eq!(idx.locate(line.len() - 200 * 2 - 6), (1, column));
        let ex = idx.excerpt(1, column, 0);
        let hit = &ex.lines[0];
        assert_eq!(char_at(hit, column), Some('Z'));
        assert_eq!(hit.text.chars().count(), Excerpt::WIDTH);
        assert!(hit.text.starts_with("é€\t\u{FFFD}é"), "{:?}", hit.text);
        assert!(hit.cut_before() && hit.cut_after);
        assert_eq!(hit.column, column - LEAD as u32);
    }

    #[test]
    fn context_lines_share_the_window() {
        let long = |c: char| std::iter::repeat_n(c, 1000).collect::<String>();
        let text = format!("{}\n{}\n{}", long('a'), long('b'), long('c'));
        let ex = LineIndex::new(text.as_bytes()).excerpt(2, 700, 1);
        assert_eq!(ex.lines.len(), 3);
        for (window, c) in ex.lines.iter().zip(['a', 'b', 'c']) {
            assert_eq!(window.column, 700 - LEAD as u32);
            assert_eq!(window.text, std::iter::repeat_n(c, Excerpt::WIDTH).collect::<String>());
            assert!(window.cut_after);
        }
    }

    #[test]
    fn skipping_characters() {
        assert_eq!(skip_chars(b"abc", 0, 2), (2, 2));
        assert_eq!(skip_chars(b"abc", 1, 9), (3, 2));
        assert_eq!(skip_chars("aéb".as_bytes(), 0, 2), (3, 2));
        assert_eq!(skip_chars(b"a\xFF\xFEb", 0, 3), (3, 3));
        assert_eq!(skip_chars(b"a\xE2\x82b", 0, 3), (3, 3), "a broken sequence counts a character a byte");
        assert_eq!(skip_chars(b"", 0, 5), (0, 0));
        assert_eq!(lossy(b"a\xE2\x82b"), "a\u{FFFD}\u{FFFD}b");
    }
}
