//! caregate's one XML tokenizer over bytes in memory. The document tree (`xml`), the fast path from a record
//! to its instance (`instance::stream`) and the look at a document's root ([`peek_root`]) all take their
//! events from [`XmlTokens`], so the hostile-input policy is applied in one place and alike: a DOCTYPE (and with
//! it every entity declaration, the way to billion-laughs expansion and external entities) is refused on sight,
//! and no element opens deeper than the limit. quick-xml is set up once, here: text kept as it is, empty elements
//! reported as such; for the tree, namespaces resolved and end tags left for it to match (it says where the
//! unmatched element was opened); for the fast path, names unresolved and a mismatched end tag an error (on
//! which it declines).
//!
//! The one reader of XML that does not take events from here is the bulk splitter (`records::Splitter`): it
//! reads a return of any size from a stream, a buffer at a time, and hands on each record's raw bytes, which an
//! event reader over a stream does not keep. It applies the same policy with the same words
//! ([`doctype_message`], [`too_deep_message`]).

use quick_xml::errors::Error as QxError;
use quick_xml::events::{BytesCData, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::ResolveResult;
use quick_xml::{NsReader, Reader};

use super::Limits;
use crate::finding::Span;

/// Why reading stopped.
#[derive(Debug)]
pub enum TokenError {
    /// A document type declaration, refused on sight.
    Doctype(Span),
    /// An element opened `depth` levels deep, more than the limit.
    TooDeep { name: String, depth: usize, span: Span },
    /// Not well-formed XML, as quick-xml found it at `at`; the event being read ran to `end`.
    Syntax { error: QxError, at: usize, end: usize },
}

/// The words of a DOCTYPE's refusal, wherever XML is read.
pub fn doctype_message() -> &'static str {
    "The file contains a document type declaration (`<!DOCTYPE …>`); these are not accepted because they can \
     define entities that expand without limit or read other files. Remove it."
}

/// The words of the refusal of `<name>` opened `depth` levels deep when `limit` are allowed.
pub fn too_deep_message(name: &str, depth: usize, limit: usize) -> String {
    format!("The element `<{name}>` is nested {depth} levels deep, more than the {limit} allowed; the file is refused.")
}

/// The events of one XML text, with their spans (byte offsets into the user's bytes: `base` is where the text
/// starts in them, after a byte order mark). `R` is the quick-xml reader: resolving namespaces (the default)
/// or [`Plain`].
pub struct XmlTokens<'a, R = NsReader<&'a [u8]>> {
    reader: R,
    base: usize,
    depth: usize,
    max_depth: usize,
    input: std::marker::PhantomData<&'a [u8]>,
}

/// A reader that does not resolve namespaces. Resolving costs a scan of every start tag's attributes and a
/// stack of bindings; the fast path, which takes only unprefixed documents, has none to resolve.
pub type Plain<'a> = Reader<&'a [u8]>;

/// What [`XmlTokens`] needs of a quick-xml reader.
pub trait Source<'a> {
    fn read(&mut self) -> Result<Event<'a>, QxError>;
    fn position(&self) -> u64;
    fn error_at(&self) -> u64;
}

impl<'a> Source<'a> for NsReader<&'a [u8]> {
    fn read(&mut self) -> Result<Event<'a>, QxError> {
        self.read_event()
    }
    fn position(&self) -> u64 {
        self.buffer_position()
    }
    fn error_at(&self) -> u64 {
        self.error_position()
    }
}

impl<'a> Source<'a> for Plain<'a> {
    fn read(&mut self) -> Result<Event<'a>, QxError> {
        self.read_event()
    }
    fn position(&self) -> u64 {
        self.buffer_position()
    }
    fn error_at(&self) -> u64 {
        self.error_position()
    }
}

impl<'a> XmlTokens<'a> {
    /// Tokens of text known to be UTF-8, with namespaces resolved and end tags left for the caller to match.
    pub fn from_text(text: &'a str, base: usize, limits: &Limits) -> XmlTokens<'a> {
        XmlTokens::resolving(NsReader::from_str(text), base, limits)
    }

    /// Tokens of bytes that may not all be UTF-8 (the head of a file, cut anywhere).
    pub fn from_bytes(bytes: &'a [u8], base: usize, limits: &Limits) -> XmlTokens<'a> {
        XmlTokens::resolving(NsReader::from_reader(bytes), base, limits)
    }

    fn resolving(mut reader: NsReader<&'a [u8]>, base: usize, limits: &Limits) -> XmlTokens<'a> {
        let config = reader.config_mut();
        config.check_end_names = false;
        config.allow_unmatched_ends = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        // quick-xml's default cap on namespace bindings in scope (128) stays: prefix resolution scans them.
        XmlTokens::over(reader, base, limits)
    }

    /// The reader, to resolve the namespaces of the element last read and its attributes.
    pub fn reader(&self) -> &NsReader<&'a [u8]> {
        &self.reader
    }

    /// The namespace an element's name is in, as the declarations in scope say.
    pub fn resolve(&self, name: quick_xml::name::QName<'_>) -> String {
        match self.reader.resolver().resolve_element(name).0 {
            ResolveResult::Bound(ns) => ns.into_inner().to_string(),
            _ => String::new(),
        }
    }
}

impl<'a> XmlTokens<'a, Plain<'a>> {
    /// Tokens of UTF-8 text whose names are not resolved; an end tag that does not match its start is a
    /// syntax error.
    pub fn plain(text: &'a str, base: usize, limits: &Limits) -> XmlTokens<'a, Plain<'a>> {
        let mut reader = Reader::from_str(text);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text(false);
        XmlTokens::over(reader, base, limits)
    }
}

impl<'a, R: Source<'a>> XmlTokens<'a, R> {
    fn over(reader: R, base: usize, limits: &Limits) -> XmlTokens<'a, R> {
        XmlTokens { reader, base, depth: 0, max_depth: limits.max_depth, input: std::marker::PhantomData }
    }

    /// The next event and its span; the policy's refusals and quick-xml's errors as [`TokenError`].
    pub fn next_token(&mut self) -> Result<(Event<'a>, Span), TokenError> {
        let start = self.base + offset(self.reader.position());
        let event = self.reader.read();
        let end = self.base + offset(self.reader.position());
        let event = event.map_err(|error| {
            let at = (self.base + offset(self.reader.error_at())).max(start);
            TokenError::Syntax { error, at, end }
        })?;
        match &event {
            Event::DocType(_) => return Err(TokenError::Doctype(Span::new(start, end))),
            Event::Start(e) | Event::Empty(e) => {
                let depth = self.depth + 1;
                if depth > self.max_depth {
                    let name = e.name().into_inner().to_string();
                    return Err(TokenError::TooDeep { name, depth, span: Span::new(start, end) });
                }
                if matches!(event, Event::Start(_)) {
                    self.depth = depth;
                }
            }
            Event::End(_) => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok((event, Span::new(start, end)))
    }
}

/// What the fast path of conversion needs of a tokenizer: the next event and its span, any refusal or syntax
/// error ending the walk (the tree path then reads the document and says what is wrong).
pub trait TokenSource<'a> {
    fn next_token(&mut self) -> Result<(Event<'a>, Span), TokenError>;
}

impl<'a, R: Source<'a>> TokenSource<'a> for XmlTokens<'a, R> {
    fn next_token(&mut self) -> Result<(Event<'a>, Span), TokenError> {
        XmlTokens::next_token(self)
    }
}

/// The events of plain XML text — elements with ASCII names and no prefixes, text, entity and character
/// references, CDATA sections, comments and processing instructions — read from text already known to be UTF-8,
/// as [`XmlTokens::plain`] reads them, for the fast path's records. Written here rather than taken from quick-xml
/// because quick-xml checks the UTF-8 of every event again even when it reads a `&str`, which was a third of
/// a record's conversion. Anything else (a DOCTYPE, a name with other characters, a mismatched end tag, nesting
/// past the limit, text that is not XML) is an error, on which the fast path declines and the tree path, which
/// reads with quick-xml, converts and reports. Line ends are given as written: for text with a carriage return
/// use [`XmlTokens::plain`], which normalises them.
pub struct PlainTokens<'a> {
    text: &'a str,
    base: usize,
    at: usize,
    /// The names of the open elements.
    open: Vec<&'a str>,
    max_depth: usize,
}

impl<'a> PlainTokens<'a> {
    pub fn new(text: &'a str, base: usize, limits: &Limits) -> PlainTokens<'a> {
        PlainTokens { text, base, at: 0, open: Vec::with_capacity(16), max_depth: limits.max_depth }
    }

    fn syntax(&self, at: usize) -> TokenError {
        TokenError::Syntax {
            error: QxError::Syntax(quick_xml::errors::SyntaxError::UnclosedTag),
            at: self.base + at,
            end: self.base + at,
        }
    }

    fn span(&self, start: usize, end: usize) -> Span {
        Span::new(self.base + start, self.base + end)
    }
}

/// Where a name starting at `from` ends: past the ASCII letters, digits, `_`, `-` and `.` the plain reader
/// takes in names (a name with any other character, a prefix among them, is left to quick-xml).
fn name_end(bytes: &[u8], from: usize) -> usize {
    let mut at = from;
    while bytes.get(at).is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')) {
        at += 1;
    }
    at
}

impl<'a> TokenSource<'a> for PlainTokens<'a> {
    fn next_token(&mut self) -> Result<(Event<'a>, Span), TokenError> {
        let text = self.text;
        let bytes = text.as_bytes();
        loop {
            let start = self.at;
            let Some(&first) = bytes.get(start) else {
                return Ok((Event::Eof, self.span(start, start)));
            };
            if first == b'&' {
                let Some(semi) = memchr::memchr(b';', &bytes[start..]) else { return Err(self.syntax(start)) };
                let name = text.get(start + 1..start + semi).ok_or_else(|| self.syntax(start))?;
                if name.is_empty() || name.bytes().any(|b| !(b.is_ascii_alphanumeric() || b == b'#')) {
                    return Err(self.syntax(start));
                }
                self.at = start + semi + 1;
                return Ok((Event::GeneralRef(quick_xml::events::BytesRef::new(name)), self.span(start, self.at)));
            }
            if first != b'<' {
                let end = memchr::memchr2(b'<', b'&', &bytes[start..]).map_or(bytes.len(), |p| start + p);
                self.at = end;
                let content = text.get(start..end).ok_or_else(|| self.syntax(start))?;
                return Ok((Event::Text(BytesText::from_escaped(content)), self.span(start, end)));
            }
            match bytes.get(start + 1) {
                Some(b'/') => {
                    let name_end = name_end(bytes, start + 2);
                    let name = text.get(start + 2..name_end).ok_or_else(|| self.syntax(start))?;
                    let mut gt = name_end;
                    while matches!(bytes.get(gt), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                        gt += 1;
                    }
                    if bytes.get(gt) != Some(&b'>') || self.open.pop() != Some(name) {
                        return Err(self.syntax(start));
                    }
                    self.at = gt + 1;
                    return Ok((Event::End(BytesEnd::new(name)), self.span(start, self.at)));
                }
                Some(b'!') => {
                    let rest = text.get(start..).unwrap_or_default();
                    if let Some(inner) = rest.strip_prefix("<![CDATA[") {
                        let Some(close) = memchr::memmem::find(inner.as_bytes(), b"]]>") else {
                            return Err(self.syntax(start));
                        };
                        self.at = start + 9 + close + 3;
                        let content = inner.get(..close).unwrap_or_default();
                        return Ok((Event::CData(BytesCData::new(content)), self.span(start, self.at)));
                    }
                    if rest.starts_with("<!--") {
                        let Some(close) = memchr::memmem::find(&rest.as_bytes()[4..], b"-->") else {
                            return Err(self.syntax(start));
                        };
                        self.at = start + 4 + close + 3;
                        continue;
                    }
                    // A DOCTYPE, or markup that is not XML: the tree path refuses it in its words.
                    return Err(self.syntax(start));
                }
                Some(b'?') => {
                    let Some(close) = memchr::memmem::find(&bytes[start + 2..], b"?>") else {
                        return Err(self.syntax(start));
                    };
                    self.at = start + 2 + close + 2;
                    continue;
                }
                _ => {
                    let name_end = name_end(bytes, start + 1);
                    let name = text.get(start + 1..name_end).ok_or_else(|| self.syntax(start))?;
                    if !name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_') {
                        return Err(self.syntax(start));
                    }
                    let (gt, empty) = match bytes.get(name_end) {
                        Some(b'>') => (name_end, false),
                        Some(b'/') if bytes.get(name_end + 1) == Some(&b'>') => (name_end + 1, true),
                        Some(b' ' | b'\t' | b'\r' | b'\n') => {
                            // Attributes: the tag ends at the first `>` outside quoted values.
                            let mut from = name_end;
                            let gt = loop {
                                let Some(p) = memchr::memchr3(b'>', b'"', b'\'', &bytes[from..]) else {
                                    return Err(self.syntax(start));
                                };
                                let hit = from + p;
                                let quote = bytes[hit];
                                if quote == b'>' {
                                    break hit;
                                }
                                let Some(close) = memchr::memchr(quote, &bytes[hit + 1..]) else {
                                    return Err(self.syntax(start));
                                };
                                from = hit + 1 + close + 1;
                            };
                            (gt, bytes[gt - 1] == b'/')
                        }
                        // A prefix, a character the plain reader leaves to quick-xml, or the text's end.
                        _ => return Err(self.syntax(start)),
                    };
                    let content = text.get(start + 1..if empty { gt - 1 } else { gt }).unwrap_or_default();
                    let name_len = name.len();
                    let depth = self.open.len() + 1;
                    let span = self.span(start, gt + 1);
                    if depth > self.max_depth {
                        return Err(TokenError::TooDeep { name: name.to_string(), depth, span });
                    }
                    self.at = gt + 1;
                    let event = BytesStart::from_content(content, name_len);
                    if empty {
                        return Ok((Event::Empty(event), span));
                    }
                    self.open.push(name);
                    return Ok((Event::Start(event), span));
                }
            }
        }
    }
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

/// The document element's local name and namespace, read from the start of a file (`None` when the start is
/// not XML, or holds a DOCTYPE).
pub fn peek_root(start: &[u8]) -> Option<(String, String)> {
    let mut tokens = XmlTokens::from_bytes(start, 0, &Limits::default());
    for _ in 0..10_000 {
        match tokens.next_token() {
            Ok((Event::Start(e) | Event::Empty(e), _)) => {
                let namespace = tokens.resolve(e.name());
                return Some((e.local_name().into_inner().to_string(), namespace));
            }
            Ok((Event::Eof, _)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str, max_depth: usize) -> Result<usize, TokenError> {
        let mut tokens = XmlTokens::from_text(text, 0, &Limits { max_depth, ..Limits::default() });
        let mut n = 0;
        loop {
            match tokens.next_token()? {
                (Event::Eof, _) => return Ok(n),
                _ => n += 1,
            }
        }
    }

    #[test]
    fn elements_open_no_deeper_than_the_limit() {
        assert!(events("<a><b><c/></b></a>", 3).is_ok());
        match events("<a><b><c/></b></a>", 2) {
            Err(TokenError::TooDeep { name, depth, span }) => {
                assert_eq!((name.as_str(), depth, span.start), ("c", 3, 6));
            }
            other => panic!("{other:?}"),
        }
        // Closing lets the depth down again: siblings are not nested.
        assert!(events("<a><b/><b/><b></b><b></b></a>", 2).is_ok());
    }

    /// The events of a reader, each as its kind, its text and its span, up to the end or the first error.
    fn described<'a>(mut tokens: impl TokenSource<'a>) -> Result<Vec<(String, Span)>, ()> {
        let mut out = Vec::new();
        loop {
            let (event, span) = tokens.next_token().map_err(|_| ())?;
            let text = match &event {
                Event::Start(e) => format!("start {} {:?}", &**e, e.name().into_inner()),
                Event::Empty(e) => format!("empty {} {:?}", &**e, e.name().into_inner()),
                Event::End(e) => format!("end {}", e.name().into_inner()),
                Event::Text(t) => format!("text {}", &**t),
                Event::CData(t) => format!("cdata {}", &**t),
                Event::GeneralRef(r) => format!("ref {}", &**r),
                Event::Eof => return Ok(out),
                // Comments, processing instructions and declarations: the fast path skips them.
                _ => continue,
            };
            out.push((text, span));
        }
    }

    #[test]
    fn the_plain_reader_reads_as_quick_xml_or_declines() {
        let limits = Limits::default();
        let taken = [
            "<Child><Id>1</Id><A><B>x &gt; y &amp;&#38;&#x26; z</B><C/><C /></A></Child>",
            "<Message xmlns=\"urn:x\" a='b>c'>\n  <Id>é ü 漢</Id>\n  <!-- </Id> --><?pi x?><![CDATA[<a> & ]]></Message >",
            "<a><b>x</b   ></a>",
            "<a>  text > with ]]> marks</a>",
        ];
        for text in taken {
            let plain = described(PlainTokens::new(text, 3, &limits));
            assert!(plain.is_ok(), "{text}");
            assert_eq!(plain, described(XmlTokens::plain(text, 3, &limits)), "{text}");
        }
        // What it declines quick-xml refuses too, or reads into something the fast path declines as well
        // (prefixes, a DOCTYPE), or it is text the plain reader leaves to quick-xml (odd names).
        let declined = [
            "<a><b></a></b>",
            "<a>x < y</a>",
            "<a>x & y</a>",
            "<a><!DOCTYPE a></a>",
            "<a><b:c/></a>",
            "<a><é/></a>",
            "<a><!-- never closed </a>",
            "<a b='never closed></a>",
            "<a></a></b>",
        ];
        for text in declined {
            assert_eq!(described(PlainTokens::new(text, 0, &limits)), Err(()), "{text}");
        }
        let shallow = Limits { max_depth: 2, ..Limits::default() };
        assert!(matches!(
            PlainTokens::new("<a><b><c/></b></a>", 0, &shallow).nth_err(),
            Some(TokenError::TooDeep { depth: 3, .. })
        ));
    }

    trait NthErr {
        fn nth_err(&mut self) -> Option<TokenError>;
    }

    impl<'a> NthErr for PlainTokens<'a> {
        fn nth_err(&mut self) -> Option<TokenError> {
            loop {
                match self.next_token() {
                    Err(e) => return Some(e),
                    Ok((Event::Eof, _)) => return None,
                    Ok(_) => {}
                }
            }
        }
    }

    #[test]
    fn the_root_is_read_from_the_head_of_a_file_cut_anywhere() {
        let head = "<?xml version=\"1.0\"?><Message xmlns=\"http://www.dfe.gov.uk/CoreSchema/CIN\"><Hea".as_bytes();
        assert_eq!(peek_root(head), Some(("Message".into(), "http://www.dfe.gov.uk/CoreSchema/CIN".into())));
        assert_eq!(peek_root(b"<!DOCTYPE m><Message/>"), None);
        assert_eq!(peek_root(b"{\"json\": true}"), None);
    }
}
