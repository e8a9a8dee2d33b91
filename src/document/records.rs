//! Splitting a bulk return into its records as it is read, holding one record (and the parts outside the
//! records, such as a header) at a time, so that a return of any size is read in bounded memory.
//!
//! Each piece comes with where it starts in the file (byte offset, line, column), so that findings in it can
//! be located in the file the user sent. Hostile input is refused here as in [`super::parse_xml`]: a
//! DOCTYPE on sight, nesting beyond the limit, a piece larger than the message limit.

use std::io::BufRead;

use quick_xml::events::Event;
use quick_xml::Reader;

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

/// Bytes consumed by the XML reader, kept from the last trim point, with the position of the first of them.
struct Capture<R> {
    inner: R,
    kept: Vec<u8>,
    /// File offset of `kept[0]`.
    base: u64,
    /// Line and column of `kept[0]`.
    start: TextPosition,
}

impl<R: BufRead> std::io::Read for Capture<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Capture<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let take = amt.min(buf.len());
            self.kept.extend_from_slice(&buf[..take]);
        }
        self.inner.consume(amt);
    }
}

impl<R> Capture<R> {
    /// Forgets the kept bytes before file offset `at`, counting their lines.
    fn trim_to(&mut self, at: u64) {
        let cut = (at.saturating_sub(self.base) as usize).min(self.kept.len());
        self.start.advance(&self.kept[..cut]);
        self.kept.drain(..cut);
        self.base += cut as u64;
    }

    /// Line and column (1-based; column in characters) of file offset `at` (at or after `base`).
    fn position(&self, at: u64) -> (u32, u32) {
        let upto = (at.saturating_sub(self.base) as usize).min(self.kept.len());
        let mut position = self.start;
        position.advance(&self.kept[..upto]);
        position.at()
    }

    fn slice(&self, start: u64, end: u64) -> Vec<u8> {
        let s = (start.saturating_sub(self.base) as usize).min(self.kept.len());
        let e = (end.saturating_sub(self.base) as usize).min(self.kept.len());
        self.kept[s..e].to_vec()
    }
}

/// Characters (not bytes) in UTF-8 text: the bytes that do not continue a character.
fn characters(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// An element's name as the splitter's stack keeps it: inside a piece only the depth matters (the reader
/// checks that end tags match), so no name is kept there.
fn name_of(inside_piece: bool, local: &str) -> String {
    if inside_piece {
        String::new()
    } else {
        local.to_string()
    }
}

/// Reads a bulk return piece by piece. Its errors are one finding each, ending the reading, so they are not
/// boxed.
pub struct Splitter<R: BufRead> {
    reader: Reader<Capture<R>>,
    /// Local names from the document element down to the record element, e.g. Message, Children, Child.
    path: Vec<String>,
    limits: Limits,
    stack: Vec<String>,
    /// The element being captured: its piece kind, start offset and depth.
    current: Option<(PieceKind, u64, usize)>,
    records: usize,
    buf: Vec<u8>,
    done: bool,
    /// The document element's local name, once seen.
    pub root: Option<String>,
}

#[allow(clippy::result_large_err)]
impl<R: BufRead> Splitter<R> {
    pub fn new(input: R, path: Vec<String>, limits: Limits) -> Self {
        let capture = Capture { inner: input, kept: Vec::new(), base: 0, start: TextPosition::default() };
        let mut reader = Reader::from_reader(capture);
        reader.config_mut().check_end_names = true;
        Splitter { reader, path, limits, stack: Vec::new(), current: None, records: 0, buf: Vec::new(), done: false, root: None }
    }

    fn refuse(&self, rule: &str, message: String, at: u64) -> Finding {
        let (line, column) = self.reader.get_ref().position(at);
        Finding::error(rule, message).with_location(Location {
            line,
            column,
            path: format!("/{}", self.stack.iter().filter(|n| !n.is_empty()).cloned().collect::<Vec<_>>().join("/")),
            pointer: None,
            span: None,
        })
    }

    /// The next piece, `Ok(None)` at the end, or the one finding that stops the reading.
    pub fn next_piece(&mut self) -> Result<Option<Piece>, Finding> {
        if self.done {
            return Ok(None);
        }
        loop {
            let before = self.reader.buffer_position();
            self.buf.clear();
            let event = match self.reader.read_event_into(&mut self.buf) {
                Ok(event) => event,
                Err(error) => {
                    self.done = true;
                    let at = self.reader.error_position();
                    return Err(self.refuse("xml-not-well-formed", format!("The return is not well-formed XML: {error}."), at));
                }
            };
            match event {
                Event::DocType(_) => {
                    self.done = true;
                    return Err(self.refuse(
                        "xml-doctype",
                        "The return has a DOCTYPE; document type declarations (and the entities they can define) are refused.".into(),
                        before,
                    ));
                }
                Event::Start(start) => {
                    let name = name_of(self.current.is_some(), start.local_name().into_inner());
                    self.opened(name, before, false)?;
                }
                Event::Empty(start) => {
                    let name = name_of(self.current.is_some(), start.local_name().into_inner());
                    self.opened(name, before, true)?;
                    if let Some(piece) = self.closed()? {
                        return Ok(Some(piece));
                    }
                }
                Event::End(_) => {
                    if let Some(piece) = self.closed()? {
                        return Ok(Some(piece));
                    }
                }
                Event::Eof => {
                    self.done = true;
                    if !self.stack.is_empty() {
                        let at = self.reader.buffer_position();
                        return Err(self.refuse(
                            "xml-not-well-formed",
                            format!("The return ends before `<{}>` is closed.", self.stack.last().cloned().unwrap_or_default()),
                            at,
                        ));
                    }
                    return Ok(None);
                }
                _ => {}
            }
            if self.current.is_none() {
                // Between pieces nothing needs keeping.
                let at = self.reader.buffer_position();
                self.reader.get_mut().trim_to(at);
            }
        }
    }

    fn opened(&mut self, name: String, at: u64, _empty: bool) -> Result<(), Finding> {
        if self.stack.is_empty() {
            self.root = Some(name.clone());
        }
        self.stack.push(name);
        if self.stack.len() > self.limits.max_depth {
            self.done = true;
            return Err(self.refuse(
                "too-deep",
                format!("The return nests elements more than {} levels deep; it was refused.", self.limits.max_depth),
                at,
            ));
        }
        if self.current.is_none() {
            let depth = self.stack.len();
            let on_path = depth <= self.path.len() && self.stack[..depth] == self.path[..depth];
            if depth == self.path.len() && on_path {
                self.current = Some((PieceKind::Record(self.records), at, depth));
                self.records += 1;
            } else if !on_path && depth >= 2 && self.stack[..depth - 1] == self.path[..depth - 1] {
                let parents = self.stack[..depth - 1].to_vec();
                let name = self.stack[depth - 1].clone();
                self.current = Some((PieceKind::Part { parents, name }, at, depth));
            }
            if self.current.is_some() {
                self.reader.get_mut().trim_to(at);
            }
        }
        Ok(())
    }

    fn closed(&mut self) -> Result<Option<Piece>, Finding> {
        let depth = self.stack.len();
        self.stack.pop();
        let Some((kind, start, at_depth)) = self.current.clone() else { return Ok(None) };
        if depth != at_depth {
            let end = self.reader.buffer_position();
            if end - start > self.limits.max_bytes as u64 {
                self.done = true;
                return Err(self.refuse(
                    "input-too-large",
                    format!("One element of the return is larger than {} bytes; it was refused.", self.limits.max_bytes),
                    start,
                ));
            }
            return Ok(None);
        }
        let end = self.reader.buffer_position();
        let capture = self.reader.get_ref();
        let (line, column) = capture.position(start);
        let bytes = capture.slice(start, end);
        self.current = None;
        self.reader.get_mut().trim_to(end);
        Ok(Some(Piece { kind, bytes, offset: start, line, column }))
    }

    /// Records read so far.
    pub fn records(&self) -> usize {
        self.records
    }
}

/// The document element's local name and namespace, read from the start of a document only (the first start
/// tag), or `None` when the start is not XML or holds a DOCTYPE.
pub fn peek_root(start: &[u8]) -> Option<(String, String)> {
    let mut reader = quick_xml::NsReader::from_reader(start);
    let mut buf = Vec::new();
    for _ in 0..10_000 {
        buf.clear();
        match reader.read_resolved_event_into(&mut buf) {
            Ok((resolved, Event::Start(e) | Event::Empty(e))) => {
                let namespace = match resolved {
                    quick_xml::name::ResolveResult::Bound(ns) => ns.into_inner().to_string(),
                    _ => String::new(),
                };
                return Some((e.local_name().into_inner().to_string(), namespace));
            }
            Ok((_, Event::DocType(_) | Event::Eof)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
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
    fn refuses_doctype_depth_and_broken_input() {
        assert_eq!(pieces("<!DOCTYPE m [<!ENTITY a 'b'>]><Message/>").unwrap_err().rule, "xml-doctype");
        let deep = format!("<Message><Children>{}{}</Children></Message>", "<a>".repeat(100), "</a>".repeat(100));
        assert_eq!(pieces(&deep).unwrap_err().rule, "too-deep");
        let broken = pieces("<Message><Children><Child></Children></Message>").unwrap_err();
        assert_eq!(broken.rule, "xml-not-well-formed");
        assert_eq!(pieces("<Message><Children><Child>").unwrap_err().rule, "xml-not-well-formed");
    }
}
