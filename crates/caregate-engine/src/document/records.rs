//! Splitting a bulk return into its records as it is read, holding one record (and the parts outside the
//! records, such as a header) at a time, so that a return of any size is read in bounded memory.
//!
//! Each piece comes with where it starts in the file (byte offset, line, column), so that findings in it can
//! be located in the file the user sent. Hostile input is refused here by the policy of [`super::tokens`], in its
//! words: a DOCTYPE on sight, nesting beyond the limit; and a piece larger than the message limit.
//!
//! Why a scanner of its own rather than the XML tokenizer: a return is read from a stream, a buffer at a time,
//! and each record goes on as the raw bytes of the file (the workers parse it, and its findings are located in
//! those bytes); an event reader over a stream copies each event into a buffer of its own and keeps nothing
//! of the bytes between them. The scanner only finds where tags begin and end (memchr over the buffer) and
//! leaves everything else to the tokenizer that reads each record.

use std::io::BufRead;

use super::tokens::{doctype_message, too_deep_message};
use super::Limits;
use crate::finding::{Finding, Location};

/// One element of the return, as its bytes.
#[derive(Debug, Clone)]
pub struct Piece {
    pub kind: PieceKind,
    /// The element's bytes, from its `<` to the end of its end tag.
    pub bytes: Vec<u8>,
    /// Where the element starts in the file.
    pub offset: u64,
    pub line: u32,
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PieceKind {
    /// The n-th record (0-based).
    Record(usize),
    /// An element outside the records (e.g. `Header`), with the local names of its ancestors.
    Part { parents: Vec<String>, name: String },
}

/// A line and column (1-based; the column in characters) moved along by the bytes read past it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    pub line: u64,
    pub column: u64,
}

impl Default for TextPosition {
    fn default() -> Self {
        TextPosition { line: 1, column: 1 }
    }
}

impl TextPosition {
    /// Moves past `bytes` (newlines found with memchr; characters counted only after the last of them).
    pub fn advance(&mut self, bytes: &[u8]) {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
                self.column = 1 + characters(&bytes[last + 1..]);
            }
            None => self.column += characters(bytes),
        }
    }

    /// The line and column as the findings give them.
    pub fn at(&self) -> (u32, u32) {
        (u32::try_from(self.line).unwrap_or(u32::MAX), u32::try_from(self.column).unwrap_or(u32::MAX))
    }
}

/// Characters (not bytes) in UTF-8 text: the bytes that do not continue a character.
fn characters(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// The local part of a qualified name (`cin:Child` → `Child`).
fn local(qname: &str) -> &str {
    qname.rsplit(':').next().unwrap_or(qname)
}

/// Bytes that end an element's name in a tag.
fn ends_name(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>')
}

/// Forgotten bytes are dropped from the buffer once this many have gathered.
const COMPACT_AT: usize = 256 * 1024;

/// One markup token of the return, found by a scanner that reads only as much as finding the pieces needs:
/// tags, and the comments, processing instructions and CDATA sections a tag may hide in. The text between
/// tags is skipped; each piece is parsed in full (and its well-formedness checked) by whoever converts it.
enum Token {
    /// A start tag: its qualified name (file offset and length) and whether it is empty (`<a/>`).
    Start {
        name: (u64, usize),
        empty: bool,
    },
    End {
        name: (u64, usize),
    },
    DocType,
    Other,
    Eof,
}

/// Why the scanner stopped early.
enum ScanError {
    Io(std::io::Error),
    /// The input ends inside a tag, comment, CDATA section or processing instruction, which starts at the
    /// offset given (the finding points there, wherever the reading had got to).
    Unterminated(&'static str, u64),
    /// Markup that is not XML, starting at the offset given.
    Malformed(String, u64),
    /// More than the limit held at once (one piece, or one token outside them).
    TooLarge,
}

impl From<std::io::Error> for ScanError {
    fn from(e: std::io::Error) -> Self {
        ScanError::Io(e)
    }
}

/// Reads a bulk return piece by piece. Its errors are one finding each, ending the reading, so they are not
/// boxed.
pub struct Splitter<R: BufRead> {
    input: R,
    eof: bool,
    /// Bytes read and not yet forgotten; `buf[0]` is at file offset `base`.
    buf: Vec<u8>,
    base: u64,
    /// Bytes before `buf[trimmed]` are forgotten; `start` is the line and column of `buf[trimmed]`.
    trimmed: usize,
    start: TextPosition,
    /// File offset of the next byte to scan.
    cursor: u64,
    /// Local names from the document element down to the record element, e.g. Message, Children, Child.
    path: Vec<String>,
    limits: Limits,
    /// Qualified names of the open elements outside pieces, and of the element of the piece being read.
    stack: Vec<String>,
    /// Names (file offset, length) of the open elements inside the piece being read, below its element.
    inner: Vec<(u64, usize)>,
    /// The element being captured: its piece kind, start offset and depth.
    current: Option<(PieceKind, u64, usize)>,
    records: usize,
    done: bool,
    /// The document element's local name, once seen.
    pub root: Option<String>,
}

#[allow(clippy::result_large_err)]
impl<R: BufRead> Splitter<R> {
    pub fn new(input: R, path: Vec<String>, limits: Limits) -> Self {
        Splitter {
            input,
            eof: false,
            buf: Vec::new(),
            base: 0,
            trimmed: 0,
            start: TextPosition::default(),
            cursor: 0,
            path,
            limits,
            stack: Vec::new(),
            inner: Vec::new(),
            current: None,
            records: 0,
            done: false,
            root: None,
        }
    }

    /// File offset just past the bytes read.
    fn end(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    fn index(&self, offset: u64) -> usize {
        usize::try_from(offset.saturating_sub(self.base)).unwrap_or(usize::MAX).min(self.buf.len())
    }

    /// File offset where the bytes held begin: the piece being read, or between pieces the token being read.
    fn held_from(&self) -> u64 {
        self.current.as_ref().map_or(self.base + self.trimmed as u64, |c| c.1)
    }

    /// File offset just past the bytes the scanner may look at: those read, up to one past the limit from where
    /// the bytes held begin. So whether a piece is too large, and which refusal comes first, depends on the
    /// bytes alone, never on how many each read of the input gave.
    fn seen(&self) -> u64 {
        self.end().min(self.held_from().saturating_add(self.limits.max_bytes as u64 + 1))
    }

    /// Lets the scanner see more; false at the end of the input. Fails when it would see past the limit.
    fn more(&mut self) -> Result<bool, ScanError> {
        if self.seen() < self.end() {
            return Err(ScanError::TooLarge);
        }
        self.fill()
    }

    /// Reads more of the input; false at its end. Fails when more than the limit would be held at once.
    fn fill(&mut self) -> Result<bool, ScanError> {
        if self.eof {
            return Ok(false);
        }
        if self.end() - self.held_from() > self.limits.max_bytes as u64 {
            return Err(ScanError::TooLarge);
        }
        if self.trimmed >= COMPACT_AT {
            self.buf.drain(..self.trimmed);
            self.base += self.trimmed as u64;
            self.trimmed = 0;
        }
        let chunk = self.input.fill_buf()?;
        let n = chunk.len();
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.buf.extend_from_slice(chunk);
        self.input.consume(n);
        Ok(true)
    }

    /// Forgets the bytes before file offset `at`, counting their lines.
    fn trim_to(&mut self, at: u64) {
        let cut = self.index(at).max(self.trimmed);
        self.start.advance(&self.buf[self.trimmed..cut]);
        self.trimmed = cut;
    }

    /// Line and column (1-based; column in characters) of file offset `at` (not yet forgotten).
    fn position(&self, at: u64) -> (u32, u32) {
        let upto = self.index(at).max(self.trimmed);
        let mut position = self.start;
        position.advance(&self.buf[self.trimmed..upto]);
        position.at()
    }

    fn byte(&mut self, at: u64) -> Result<Option<u8>, ScanError> {
        while at >= self.seen() {
            if !self.more()? {
                return Ok(None);
            }
        }
        Ok(self.buf.get(self.index(at)).copied())
    }

    fn starts_with(&mut self, at: u64, text: &[u8]) -> Result<bool, ScanError> {
        while at + text.len() as u64 > self.seen() {
            if !self.more()? {
                break;
            }
        }
        let i = self.index(at);
        Ok(self.buf.get(i..i + text.len()) == Some(text))
    }

    /// The offset of the first byte from `from` on that `hit` finds in a slice, reading more as needed.
    fn find(
        &mut self,
        mut from: u64,
        keep: usize,
        hit: impl Fn(&[u8]) -> Option<usize>,
    ) -> Result<Option<u64>, ScanError> {
        loop {
            let (i, seen) = (self.index(from), self.index(self.seen()));
            if let Some(p) = hit(self.buf.get(i..seen).unwrap_or_default()) {
                return Ok(Some(from + p as u64));
            }
            // A needle of several bytes may straddle what is seen and what is not.
            from = from.max(self.seen().saturating_sub(keep as u64));
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    fn find_text(
        &mut self,
        from: u64,
        needle: &'static [u8],
        what: &'static str,
        opened: u64,
    ) -> Result<u64, ScanError> {
        match self.find(from, needle.len() - 1, |b| memchr::memmem::find(b, needle))? {
            Some(at) => Ok(at + needle.len() as u64),
            None => Err(ScanError::Unterminated(what, opened)),
        }
    }

    /// The next token and the offset of its `<`.
    fn token(&mut self) -> Result<(Token, u64), ScanError> {
        let at = loop {
            let (i, seen) = (self.index(self.cursor), self.index(self.seen()));
            if let Some(p) = memchr::memchr(b'<', self.buf.get(i..seen).unwrap_or_default()) {
                break self.cursor + p as u64;
            }
            self.cursor = self.seen();
            if self.current.is_none() {
                // Text between pieces is not kept: what is seen moves on past it.
                self.trim_to(self.cursor);
                if self.seen() > self.cursor {
                    continue;
                }
            }
            if !self.more()? {
                return Ok((Token::Eof, self.cursor));
            }
        };
        if self.current.is_none() {
            // Between pieces a token is held from its `<`, however much text was read with the text before it.
            self.trim_to(at);
        }
        let Some(next) = self.byte(at + 1)? else { return Err(ScanError::Unterminated("a tag", at)) };
        let token = match next {
            b'/' => {
                let Some(gt) = self.find(at + 2, 0, |b| memchr::memchr(b'>', b))? else {
                    return Err(ScanError::Unterminated("an end tag", at));
                };
                let raw = &self.buf[self.index(at + 2)..self.index(gt)];
                let len = raw.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |p| p + 1);
                self.cursor = gt + 1;
                Token::End { name: (at + 2, len) }
            }
            b'?' => {
                self.cursor = self.find_text(at + 2, b"?>", "a processing instruction", at)?;
                Token::Other
            }
            b'!' => {
                if self.starts_with(at, b"<!--")? {
                    self.cursor = self.find_text(at + 4, b"-->", "a comment", at)?;
                    Token::Other
                } else if self.starts_with(at, b"<![CDATA[")? {
                    self.cursor = self.find_text(at + 9, b"]]>", "a CDATA section", at)?;
                    Token::Other
                } else if self.starts_with(at, b"<!DOCTYPE")? {
                    Token::DocType
                } else {
                    return Err(ScanError::Malformed(
                        "a markup declaration (`<!`) that is not a comment or CDATA section".into(),
                        at,
                    ));
                }
            }
            _ => {
                let Some(name_end) = self.find(at + 1, 0, |b| b.iter().position(|&c| ends_name(c)))? else {
                    return Err(ScanError::Unterminated("a start tag", at));
                };
                let len = (name_end - at - 1) as usize;
                if len == 0 {
                    return Err(ScanError::Malformed("a `<` that does not start a tag".into(), at));
                }
                // The tag ends at the first `>` outside quoted attribute values.
                let mut from = name_end;
                let gt = loop {
                    let Some(hit) = self.find(from, 0, |b| memchr::memchr3(b'>', b'"', b'\'', b))? else {
                        return Err(ScanError::Unterminated("a start tag", at));
                    };
                    let quote = self.buf[self.index(hit)];
                    if quote == b'>' {
                        break hit;
                    }
                    let Some(close) = self.find(hit + 1, 0, |b| memchr::memchr(quote, b))? else {
                        return Err(ScanError::Unterminated("an attribute value", hit));
                    };
                    from = close + 1;
                };
                let empty = gt > name_end && self.buf[self.index(gt - 1)] == b'/';
                self.cursor = gt + 1;
                Token::Start { name: (at + 1, len), empty }
            }
        };
        Ok((token, at))
    }

    /// Inside a record, with none of its elements open, moves the cursor on to the record's end tag when the
    /// bytes already read hold the rest of the record as plain elements and text: each tag found by one
    /// memchr, its end tag matched to it by name, nesting within the limit. At anything else — a comment,
    /// CDATA section or processing instruction, a quote in a tag, an element of the record's own name inside
    /// it, a mismatched or stray end tag, nesting past the limit, or the end of what is read — it leaves the
    /// cursor where it was, and the tag-by-tag scan reads the record (and refuses or reports what it finds) as
    /// it always does. Either way the same pieces come; this way a plain record costs a fraction of the scan.
    fn skip_plain_record(&mut self) {
        let Some((PieceKind::Record(_), _, _)) = &self.current else { return };
        if !self.inner.is_empty() {
            return;
        }
        let Some(own) = self.stack.last() else { return };
        let (from, seen) = (self.index(self.cursor), self.index(self.seen()));
        let Some(bytes) = self.buf.get(from..seen) else { return };
        let mut open: Vec<&[u8]> = Vec::with_capacity(16);
        let mut at = 0;
        while let Some(p) = bytes.get(at..).and_then(|rest| memchr::memchr(b'<', rest)) {
            let lt = at + p;
            let rest = bytes.get(lt + 1..).unwrap_or_default();
            match rest.first() {
                None | Some(b'!' | b'?') => return,
                Some(b'/') => {
                    let Some(gt) = memchr::memchr(b'>', rest) else { return };
                    let raw = rest.get(1..gt).unwrap_or_default();
                    let name = &raw[..raw.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(0, |p| p + 1)];
                    match open.pop() {
                        Some(expected) if expected == name => at = lt + 1 + gt + 1,
                        Some(_) => return,
                        None => {
                            if name == own.as_bytes() {
                                self.cursor += lt as u64;
                            }
                            return;
                        }
                    }
                }
                Some(_) => {
                    let Some(name_len) = rest.iter().position(|&c| ends_name(c)) else { return };
                    let name = &rest[..name_len];
                    if name.is_empty() || name == own.as_bytes() {
                        return;
                    }
                    let Some(q) = rest.get(name_len..).and_then(|r| memchr::memchr3(b'>', b'"', b'\'', r)) else {
                        return;
                    };
                    let gt = name_len + q;
                    if rest.get(gt) != Some(&b'>') {
                        return;
                    }
                    let empty = gt > name_len && rest.get(gt - 1) == Some(&b'/');
                    if !empty {
                        open.push(name);
                        if self.stack.len() + open.len() > self.limits.max_depth {
                            return;
                        }
                    }
                    at = lt + 1 + gt + 1;
                }
            }
        }
    }

    fn name(&self, (at, len): (u64, usize)) -> &[u8] {
        let i = self.index(at);
        &self.buf[i..(i + len).min(self.buf.len())]
    }

    fn refuse(&self, rule: &str, message: String, at: u64) -> Finding {
        let (line, column) = self.position(at);
        Finding::error(rule, message).with_location(Location {
            line,
            column,
            path: format!("/{}", self.stack.iter().map(|n| local(n)).collect::<Vec<_>>().join("/")),
            pointer: None,
            span: None,
        })
    }

    fn too_large(&self, at: u64) -> Finding {
        self.refuse(
            "input-too-large",
            format!("One element of the return is larger than {} bytes; it was refused.", self.limits.max_bytes),
            at,
        )
    }

    /// The next piece, `Ok(None)` at the end, or the one finding that stops the reading.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, Finding> {
        if self.done {
            return Ok(None);
        }
        loop {
            if self.current.is_none() {
                // Between pieces nothing needs keeping.
                self.trim_to(self.cursor);
            } else {
                self.skip_plain_record();
            }
            let (token, at) = match self.token() {
                Ok(found) => found,
                Err(error) => {
                    self.done = true;
                    let at = self.held_from();
                    return Err(match error {
                        ScanError::TooLarge => self.too_large(at),
                        ScanError::Io(e) => self.refuse(
                            "xml-not-well-formed",
                            format!("The return could not be read: {e}."),
                            self.cursor,
                        ),
                        ScanError::Unterminated(what, opened) => self.refuse(
                            "xml-not-well-formed",
                            format!("The return is not well-formed XML: it ends inside {what}."),
                            opened,
                        ),
                        ScanError::Malformed(what, opened) => self.refuse(
                            "xml-not-well-formed",
                            format!("The return is not well-formed XML: {what}."),
                            opened,
                        ),
                    });
                }
            };
            match token {
                Token::DocType => {
                    self.done = true;
                    return Err(self.refuse("xml-doctype", doctype_message().into(), at));
                }
                Token::Start { name, empty } => {
                    self.opened(name, at)?;
                    if empty {
                        if let Some(piece) = self.closed(None, at)? {
                            return Ok(Some(piece));
                        }
                    }
                }
                Token::End { name } => {
                    if let Some(piece) = self.closed(Some(name), at)? {
                        return Ok(Some(piece));
                    }
                }
                Token::Other => {}
                Token::Eof => {
                    self.done = true;
                    if let Some(open) = self.stack.last() {
                        return Err(self.refuse(
                            "xml-not-well-formed",
                            format!("The return ends before `<{}>` is closed.", local(open)),
                            at,
                        ));
                    }
                    return Ok(None);
                }
            }
        }
    }

    fn opened(&mut self, name: (u64, usize), at: u64) -> Result<(), Finding> {
        if self.current.is_some() {
            self.inner.push(name);
        } else {
            let qname = String::from_utf8_lossy(self.name(name)).into_owned();
            if self.stack.is_empty() {
                self.root = Some(local(&qname).to_string());
            }
            self.stack.push(qname);
        }
        let depth = self.stack.len() + self.inner.len();
        if depth > self.limits.max_depth {
            self.done = true;
            let qname = String::from_utf8_lossy(self.name(name)).into_owned();
            return Err(self.refuse("too-deep", too_deep_message(&qname, depth, self.limits.max_depth), at));
        }
        if self.current.is_none() {
            let on_path = depth <= self.path.len()
                && self.stack.iter().map(|n| local(n)).eq(self.path[..depth].iter().map(String::as_str));
            let parents_on_path = || {
                self.stack[..depth - 1].iter().map(|n| local(n)).eq(self.path[..depth - 1].iter().map(String::as_str))
            };
            if depth == self.path.len() && on_path {
                self.current = Some((PieceKind::Record(self.records), at, depth));
                self.records += 1;
            } else if !on_path && depth >= 2 && depth <= self.path.len() && parents_on_path() {
                let parents = self.stack[..depth - 1].iter().map(|n| local(n).to_string()).collect();
                let name = local(&self.stack[depth - 1]).to_string();
                self.current = Some((PieceKind::Part { parents, name }, at, depth));
            }
            if self.current.is_some() {
                self.trim_to(at);
            }
        }
        Ok(())
    }

    /// An element ends (at its end tag, named, or at the end of an empty tag); gives the piece it completes.
    fn closed(&mut self, name: Option<(u64, usize)>, at: u64) -> Result<Option<Piece>, Finding> {
        if let Some(found) = name {
            let found = self.name(found);
            let expected: Option<&[u8]> = match self.inner.last() {
                Some(&open) => Some(self.name(open)),
                None => self.stack.last().map(|n| n.as_bytes()),
            };
            if expected != Some(found) {
                let found = String::from_utf8_lossy(found).into_owned();
                let message = match expected {
                    Some(e) => format!(
                        "The return is not well-formed XML: `</{found}>` closes `<{}>`.",
                        String::from_utf8_lossy(e)
                    ),
                    None => format!("The return is not well-formed XML: `</{found}>` closes no open element."),
                };
                self.done = true;
                return Err(self.refuse("xml-not-well-formed", message, at));
            }
        }
        if self.inner.pop().is_some() {
            return match &self.current {
                Some((_, start, _)) if self.cursor - start > self.limits.max_bytes as u64 => {
                    self.done = true;
                    Err(self.too_large(*start))
                }
                _ => Ok(None),
            };
        }
        let depth = self.stack.len();
        self.stack.pop();
        let Some((kind, start, at_depth)) = self.current.clone() else { return Ok(None) };
        if depth != at_depth {
            return Ok(None);
        }
        let end = self.cursor;
        if end - start > self.limits.max_bytes as u64 {
            self.done = true;
            return Err(self.too_large(start));
        }
        let (line, column) = self.position(start);
        let bytes = self.buf[self.index(start)..self.index(end)].to_vec();
        self.current = None;
        self.trim_to(end);
        Ok(Some(Piece { kind, bytes, offset: start, line, column }))
    }

    /// Records read so far.
    pub fn records(&self) -> usize {
        self.records
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)] // one finding ends the reading
    fn pieces(xml: &str) -> Result<Vec<Piece>, Finding> {
        let path = ["Message", "Children", "Child"].iter().map(|s| s.to_string()).collect();
        let mut splitter = Splitter::new(xml.as_bytes(), path, Limits::default());
        let mut out = Vec::new();
        while let Some(piece) = splitter.next_piece()? {
            out.push(piece);
        }
        Ok(out)
    }

    #[test]
    fn splits_header_and_records_with_their_positions() {
        let xml = "<Message>\n  <Header><A>1</A></Header>\n  <Children>\n    <Child><Id>x</Id></Child>\n    <Child><Id>é</Id></Child><Child/>\n  </Children>\n</Message>\n";
        let got = pieces(xml).unwrap();
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].kind, PieceKind::Part { parents: vec!["Message".into()], name: "Header".into() });
        assert_eq!(got[0].bytes, b"<Header><A>1</A></Header>");
        assert_eq!((got[0].line, got[0].column), (2, 3));
        assert_eq!(got[1].kind, PieceKind::Record(0));
        assert_eq!(got[1].bytes, b"<Child><Id>x</Id></Child>");
        assert_eq!((got[1].line, got[1].column), (4, 5));
        assert_eq!((got[2].line, got[2].column), (5, 5));
        assert_eq!(got[3].bytes, b"<Child/>");
        assert_eq!((got[3].line, got[3].column), (5, 30), "columns count characters, not bytes");
    }

    #[test]
    fn markup_that_hides_tags_does_not_split_a_record() {
        let xml = "<?xml version=\"1.0\"?><!-- <Child> --><m:Message xmlns:m=\"urn:x\"><m:Children>\
            <m:Child a=\"x > y\" b='</m:Child>'><!-- </m:Child> --><![CDATA[</m:Child>]]><?pi </m:Child>?><Id>1</Id></m:Child>\
            <m:Child><Id>2</Id></m:Child ></m:Children></m:Message>";
        // Read a few bytes at a time, so that every token straddles what has been read.
        let path = ["Message", "Children", "Child"].iter().map(|s| s.to_string()).collect();
        let mut splitter = Splitter::new(std::io::BufReader::with_capacity(3, xml.as_bytes()), path, Limits::default());
        let mut got = Vec::new();
        while let Some(piece) = splitter.next_piece().unwrap() {
            got.push(piece);
        }
        assert_eq!(got.len(), 2);
        assert!(got[0].bytes.starts_with(b"<m:Child a=") && got[0].bytes.ends_with(b"<Id>1</Id></m:Child>"));
        assert_eq!(got[1].bytes, b"<m:Child><Id>2</Id></m:Child >");
        assert_eq!(splitter.root.as_deref(), Some("Message"));
    }

    #[test]
    fn plain_records_and_tricky_ones_split_alike_however_the_input_is_read() {
        // Plain records (which the scan skips through) beside ones it must read tag by tag: a comment, CDATA, a
        // processing instruction, quotes in a tag, an element of the record's name inside it, deep nesting.
        let records = [
            "<Child><Id>1</Id><A><B>x &gt; y</B><C/></A></Child>",
            "<Child>\n  <Id>2</Id>\n  <!-- </Child> -->\n</Child >",
            "<Child><Id>3</Id><![CDATA[</Child>]]></Child>",
            "<Child><?pi </Child>?><Id>4</Id></Child>",
            "<Child><Id a='</Child>'>5</Id></Child>",
            "<Child><Child><Id>6</Id></Child></Child>",
            "<Child><Id>é</Id><D><E><F><G>7</G></F></E></D></Child>",
        ];
        let xml = format!("<Message><Header/><Children>{}</Children></Message>", records.join("\n"));
        let path: Vec<String> = ["Message", "Children", "Child"].iter().map(|s| s.to_string()).collect();
        let read = |capacity: usize, limits: Limits| {
            let input = std::io::BufReader::with_capacity(capacity, xml.as_bytes());
            let mut splitter = Splitter::new(input, path.clone(), limits);
            let mut got = Vec::new();
            loop {
                match splitter.next_piece() {
                    Ok(Some(piece)) => got.push((piece.kind, piece.bytes, piece.offset, piece.line, piece.column)),
                    Ok(None) => return Ok(got),
                    Err(finding) => return Err((finding.rule, finding.message, finding.location.map(|l| l.line))),
                }
            }
        };
        let whole = read(1 << 16, Limits::default()).unwrap();
        assert_eq!(whole.len(), 1 + records.len());
        for (piece, record) in whole[1..].iter().zip(records) {
            assert_eq!(piece.1, record.as_bytes());
        }
        for capacity in [1, 3, 7, 64, 200] {
            assert_eq!(read(capacity, Limits::default()), Ok(whole.clone()), "read {capacity} bytes at a time");
        }
        // Nesting past the limit is refused alike, whether the plain scan or the tag-by-tag one meets it.
        let shallow = Limits { max_depth: 6, ..Limits::default() };
        let refused = read(1 << 16, shallow).unwrap_err();
        assert_eq!(refused.0, "too-deep");
        assert_eq!(read(5, shallow).unwrap_err(), refused);
    }

    #[test]
    fn a_mismatched_end_tag_inside_a_record_is_found_where_it_is() {
        let broken = pieces("<Message><Children><Child><A>\n</B></Child></Children></Message>").unwrap_err();
        assert_eq!(broken.rule, "xml-not-well-formed");
        assert!(broken.message.contains("`</B>` closes `<A>`"), "{}", broken.message);
        assert_eq!(broken.location.map(|l| (l.line, l.column)), Some((2, 1)));
        assert_eq!(pieces("<Message><Children><Child><!-- open").unwrap_err().rule, "xml-not-well-formed");
        assert_eq!(pieces("<Message><Children><Child a='x>").unwrap_err().rule, "xml-not-well-formed");
    }

    #[test]
    fn a_piece_larger_than_the_limit_is_refused() {
        let big = format!("<Message><Children><Child>{}</Child></Children></Message>", "<A>x</A>".repeat(200));
        let path = ["Message", "Children", "Child"].iter().map(|s| s.to_string()).collect();
        let limits = Limits { max_bytes: 500, ..Limits::default() };
        let mut splitter = Splitter::new(std::io::BufReader::with_capacity(64, big.as_bytes()), path, limits);
        assert_eq!(splitter.next_piece().unwrap_err().rule, "input-too-large");
    }

    #[test]
    fn refuses_broken_input() {
        // DOCTYPEs and depth: `document::hostile`, for every reader.
        let broken = pieces("<Message><Children><Child></Children></Message>").unwrap_err();
        assert_eq!(broken.rule, "xml-not-well-formed");
        assert_eq!(pieces("<Message><Children><Child>").unwrap_err().rule, "xml-not-well-formed");
    }
}
