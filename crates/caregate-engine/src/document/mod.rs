//! The first stage of the data path: the bytes a user sent become a parsed XML or JSON document in which
//! every node carries its byte [`Span`], and hostile or broken input is refused — with exactly one located
//! [`Finding`] — before any other stage does any work.
//!
//! What is refused, and with which rule code:
//!
//! * `input-too-large` — more than [`Limits::max_bytes`] bytes; checked before anything is parsed;
//! * `invalid-utf8` — located at the first byte that is not part of a UTF-8 character;
//! * `xml-doctype` — any `<!DOCTYPE`; refusing document type declarations outright is what blocks billion
//!   laughs, quadratic blow-up and external entities (nothing is ever expanded or fetched);
//! * `xml-undeclared-entity` — an entity reference other than the five predefined ones and character
//!   references;
//! * `too-deep` — elements, arrays or objects nested deeper than [`Limits::max_depth`]; refused when the
//!   limit is first exceeded (both parsers are iterative, so a 10,000-deep input cannot overflow the stack);
//! * `xml-not-well-formed` / `json-not-well-formed` — everything else that is not a document;
//! * `json-duplicate-key` — a key repeated in one object.
//!
//! XML is read with quick-xml's borrowing reader over the input slice (namespaces resolved, comments and
//! processing instructions dropped, whitespace text kept). JSON is read by a small byte-level parser of our
//! own in [`json`]: no crate gives a `serde_json::Value` together with the byte span of every value and key
//! while enforcing a depth limit without recursion.
//!
//! Not for: knowing any standard. Nothing here knows what a `<Referral>` is; element names, required
//! fields and rules belong to later stages.
//!
//! Paths in findings are XPath-like for XML (`/Referral/Child[2]/Name`: the root without a position, every
//! step below it with its 1-based position among same-named siblings, except that the last step omits
//! `[1]`) and JSON Pointers (RFC 6901) for JSON.

pub mod csv;
#[cfg(test)]
mod hostile;
mod json;
mod lines;
pub mod records;
pub mod tokens;
mod xml;

pub use json::{parse_json, parse_json_value, JsonDocument, SpanTree};
pub use lines::LineIndex;
pub use xml::{parse_xml, Attribute, Element, Text, XmlDocument, XmlNode};

use strum::VariantNames as _;

use crate::finding::{Finding, Location, Span};

/// How much input a parser accepts before refusing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting accepted: XML elements (the root is depth 1), JSON arrays and objects (the outermost
    /// is depth 1). At most [`Limits::DEEPEST`].
    pub max_depth: usize,
}

impl Limits {
    /// The deepest nesting a limit may accept. The parsers are iterative, but later stages recurse once a level
    /// (parsed trees and values are dropped recursively, the generic converter builds recursively), and this
    /// many levels stay well inside the 2 MiB stack of a spawned thread or a gateway worker: a debug build's
    /// generic XML to JSON conversion overflows one at about 430 levels.
    pub const DEEPEST: usize = 256;

    /// Why `max_depth` cannot be a limit, when it cannot.
    pub fn depth_problem(max_depth: usize) -> Option<String> {
        (!(1..=Limits::DEEPEST).contains(&max_depth)).then(|| {
            format!(
                "must be from 1 to {} levels, not {max_depth}: a document nested deeper could not be checked within a thread's stack",
                Limits::DEEPEST
            )
        })
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_bytes: 10 * 1024 * 1024, max_depth: 64 }
    }
}

/// The two syntaxes a document may arrive in, named `xml` and `json`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase", parse_err_ty = String, parse_err_fn = unknown_format)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

fn unknown_format(text: &str) -> String {
    crate::names::unknown("format", text, Format::VARIANTS)
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Guesses the syntax from the first significant byte: after an optional UTF-8 byte order mark and
/// whitespace, `<` means XML and `{` or `[` means JSON. Anything else is `None`.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    match without_bom(bytes).iter().find(|b| !b.is_ascii_whitespace())? {
        b'<' => Some(Format::Xml),
        b'{' | b'[' => Some(Format::Json),
        _ => None,
    }
}

/// The bytes without a leading UTF-8 byte order mark, if they have one.
pub fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes)
}

/// Length of a leading UTF-8 byte order mark (0 or 3).
fn bom_len(bytes: &[u8]) -> usize {
    if bytes.starts_with(UTF8_BOM) {
        UTF8_BOM.len()
    } else {
        0
    }
}

/// A refusal inside the parsers: boxed, so that the hot paths' `Result`s stay small.
type Refusal = Box<Finding>;

/// Builds an error finding located at `span` in `source`, with a short excerpt of the lines around it.
fn located(source: &[u8], rule: &str, message: String, span: Span, path: String) -> Refusal {
    let index = LineIndex::new(source);
    let (line, column) = index.locate(span.start);
    let mut finding =
        Finding::error(rule, message).with_location(Location { line, column, path, pointer: None, span: Some(span) });
    finding.excerpt = Some(index.excerpt(line, column, 2));
    Box::new(finding)
}

/// Refuses input over the size limit, before anything is parsed.
fn check_size(bytes: &[u8], limits: &Limits) -> Result<(), Refusal> {
    if bytes.len() > limits.max_bytes {
        return Err(Box::new(too_large(u64::try_from(bytes.len()).ok(), limits)));
    }
    Ok(())
}

/// The refusal of an input larger than [`Limits::max_bytes`]: `size` is its size in bytes where it is known (a
/// file's, or bytes held whole), `None` where reading stopped once past the limit (a stream's).
pub fn too_large(size: Option<u64>, limits: &Limits) -> Finding {
    let size = match size {
        Some(size) => format!("{size} bytes, which is more than"),
        None => "more than".to_string(),
    };
    Finding::error(
        "input-too-large",
        format!("The file is {size} the {} bytes accepted; it was refused unread.", limits.max_bytes),
    )
    .with_fix("Split it into smaller files, or raise the limit (--max-bytes) if it is genuinely this large.")
    .with_location(Location { line: 1, column: 1, path: String::new(), pointer: None, span: Some(Span::point(0)) })
}

/// Checks the whole input is UTF-8 (one fast pass), locating the first bad byte otherwise.
fn check_utf8<'a>(bytes: &'a [u8], path: &str) -> Result<&'a str, Refusal> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text),
        Err(e) => {
            let at = e.valid_up_to();
            let len = e.error_len().unwrap_or(bytes.len().saturating_sub(at)).max(1);
            let bad = bytes.get(at).copied().unwrap_or(0);
            let index = LineIndex::new(bytes);
            let (line, column) = index.locate(at);
            let what = if e.error_len().is_none() {
                format!("the file ends in the middle of a character (byte 0x{bad:02X})")
            } else {
                format!("byte 0x{bad:02X} is not part of a valid UTF-8 character")
            };
            Err(located(
                bytes,
                "invalid-utf8",
                format!(
                    "The file is not valid UTF-8: at line {line}, column {column}, {what}; save the file as UTF-8."
                ),
                Span::new(at, at + len),
                path.to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_formats() {
        assert_eq!(sniff(b"  <a/>"), Some(Format::Xml));
        assert_eq!(sniff(b"\xEF\xBB\xBF\n{\"a\":1}"), Some(Format::Json));
        assert_eq!(sniff(b"\t[1]"), Some(Format::Json));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
        assert_eq!(sniff(b"\xEF\xBB"), None);
        assert_eq!(Format::Xml.as_str(), "xml");
        assert_eq!(Format::Json.as_str(), "json");
    }

    #[test]
    fn default_limits() {
        let l = Limits::default();
        assert_eq!(l.max_bytes, 10 * 1024 * 1024);
        assert_eq!(l.max_depth, 64);
        assert_eq!(Limits::depth_problem(l.max_depth), None);
    }

    #[test]
    fn depth_limits_stop_at_the_deepest() {
        assert_eq!(Limits::depth_problem(1), None);
        assert_eq!(Limits::depth_problem(Limits::DEEPEST), None);
        for depth in [0, Limits::DEEPEST + 1, usize::MAX] {
            let why = Limits::depth_problem(depth).expect("refused");
            assert!(why.contains(&format!("from 1 to {} levels, not {depth}", Limits::DEEPEST)), "{why}");
        }
    }

    #[test]
    fn a_refusal_for_size_says_the_size_when_it_is_known() {
        let limits = Limits { max_bytes: 100, ..Limits::default() };
        let known = too_large(Some(150), &limits);
        assert_eq!(known.rule, "input-too-large");
        assert_eq!(
            known.message,
            "The file is 150 bytes, which is more than the 100 bytes accepted; it was refused unread."
        );
        let streamed = too_large(None, &limits);
        assert_eq!(streamed.message, "The file is more than the 100 bytes accepted; it was refused unread.");
        let held = parse_json(&[b' '; 101], &limits).map(|_| ()).expect_err("too large");
        assert!(held.message.starts_with("The file is 101 bytes, "), "{}", held.message);
    }
}
