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
use quick_xml::events::Event;
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

    #[test]
    fn the_root_is_read_from_the_head_of_a_file_cut_anywhere() {
        let head = "<?xml version=\"1.0\"?><Message xmlns=\"http://www.dfe.gov.uk/CoreSchema/CIN\"><Hea".as_bytes();
        assert_eq!(peek_root(head), Some(("Message".into(), "http://www.dfe.gov.uk/CoreSchema/CIN".into())));
        assert_eq!(peek_root(b"<!DOCTYPE m><Message/>"), None);
        assert_eq!(peek_root(b"{\"json\": true}"), None);
    }
}
