//! JSON: a small byte-level parser of our own. It builds a `serde_json::Value` (object members in document
//! order, thanks to serde_json's `preserve_order`) and, alongside it, a [`SpanTree`] with the byte span of
//! every value and member key. It keeps its own stack of open arrays and objects instead of recursing, so
//! nesting depth costs heap, not call stack, and is refused as soon as it passes the limit.

use std::hash::BuildHasher as _;

use serde_json::{Map, Number, Value};

use super::{bom_len, check_size, check_utf8, located, Limits, LineIndex, Refusal};
use crate::finding::{Finding, Span};

const NOT_WELL_FORMED: &str = "json-not-well-formed";

/// A parsed JSON document: the value and, mirroring it, the spans.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonDocument {
    pub value: Value,
    pub spans: SpanTree,
}

/// Mirrors the value: for an object, `children[i]` is the i-th member in document order (serde_json
/// `preserve_order` keeps that order); for an array, `children[i]` is item i; scalars have no children.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SpanTree {
    /// The value, from its first byte to just after its last.
    pub span: Span,
    /// The member's key, quotes included, for object members.
    pub key: Option<Span>,
    pub children: Vec<SpanTree>,
}

impl SpanTree {
    /// Follow a JSON Pointer (RFC 6901, "" = root) through value and spans together; returns the deepest node
    /// reached and whether the whole pointer resolved.
    pub fn resolve<'a>(&'a self, value: &Value, pointer: &str) -> (&'a SpanTree, bool) {
        if pointer.is_empty() {
            return (self, true);
        }
        let Some(rest) = pointer.strip_prefix('/') else {
            return (self, false);
        };
        let mut node = self;
        let mut value = value;
        for raw in rest.split('/') {
            let token = unescape_token(raw);
            let next = match value {
                Value::Object(map) => map
                    .iter()
                    .enumerate()
                    .find(|(_, (k, _))| **k == *token)
                    .and_then(|(i, (_, v))| Some((node.children.get(i)?, v))),
                Value::Array(items) => array_index(&token).and_then(|i| Some((node.children.get(i)?, items.get(i)?))),
                _ => None,
            };
            match next {
                Some((n, v)) => {
                    node = n;
                    value = v;
                }
                None => return (node, false),
            }
        }
        (node, true)
    }
}

fn unescape_token(raw: &str) -> std::borrow::Cow<'_, str> {
    if raw.contains('~') {
        std::borrow::Cow::Owned(raw.replace("~1", "/").replace("~0", "~"))
    } else {
        std::borrow::Cow::Borrowed(raw)
    }
}

/// RFC 6901 array index: `0` or digits without a leading zero.
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

/// Escapes a key as a JSON Pointer token.
fn escape_token(key: &str, out: &mut String) {
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Parses JSON bytes (UTF-8, optionally with a byte order mark) into a value and its spans, or refuses them
/// with exactly one located finding.
#[allow(clippy::result_large_err)] // the signature is the module's contract; the error path is cold
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<JsonDocument, Finding> {
    parse_json_boxed(bytes, limits, true).map_err(|f| *f)
}

/// Parses JSON bytes as [`parse_json`] does (the same checks, the same refusals), but keeps no spans: for a
/// caller that needs the spans only when there is something to locate, and then parses again.
#[allow(clippy::result_large_err)]
pub fn parse_json_value(bytes: &[u8], limits: &Limits) -> Result<Value, Finding> {
    parse_json_boxed(bytes, limits, false).map(|doc| doc.value).map_err(|f| *f)
}

fn parse_json_boxed(bytes: &[u8], limits: &Limits, spans: bool) -> Result<JsonDocument, Refusal> {
    check_size(bytes, limits)?;
    let text = check_utf8(bytes, "")?;
    let mut parser = Parser {
        text,
        src: bytes,
        pos: bom_len(bytes),
        max_depth: limits.max_depth,
        stack: Vec::new(),
        values: Vec::new(),
        members: Vec::new(),
        trees: Vec::new(),
        hasher: hashbrown::DefaultHashBuilder::default(),
        spans,
    };
    let (value, spans) = parser.parse()?;
    Ok(JsonDocument { value, spans })
}

enum Frame {
    Array {
        start: usize,
        /// Where this array's items begin in [`Parser::values`] and their spans in [`Parser::trees`].
        first: usize,
        /// Number of items so far.
        len: usize,
        /// Whether an item is being parsed (rather than between items).
        open: bool,
    },
    Object {
        start: usize,
        /// Where this object's members begin in [`Parser::members`].
        members: usize,
        /// Hashes of the keys so far, once there are too many to compare one by one.
        seen: Option<hashbrown::HashSet<u64>>,
        /// Where this object's member spans begin in [`Parser::trees`].
        first: usize,
        /// The key of the member whose value is being parsed.
        key: String,
        key_span: Span,
        /// Whether the value of `key` is being parsed (rather than between members).
        open: bool,
    },
}

struct Parser<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
    max_depth: usize,
    stack: Vec<Frame>,
    /// Items of all open arrays, innermost last; moved into exactly sized vectors when an array closes.
    values: Vec<Value>,
    /// Members of all open objects, innermost last; moved into exactly sized maps when an object closes.
    members: Vec<(String, Value)>,
    /// Spans of the items and members of all open containers, innermost last.
    trees: Vec<SpanTree>,
    hasher: hashbrown::DefaultHashBuilder,
    /// Whether spans are kept (without them, every tree is the root's, and empty).
    spans: bool,
}

/// An object with fewer keys than this is searched for a repeated key one by one; a wider one by hash.
const KEYS_COMPARED_ONE_BY_ONE: usize = 16;

impl Parser<'_> {
    fn parse(&mut self) -> Result<(Value, SpanTree), Refusal> {
        self.skip_ws();
        if self.pos >= self.src.len() {
            return Err(self.error("The file contains no JSON value.".into(), Span::point(self.pos)));
        }
        'value: loop {
            self.skip_ws();
            let start = self.pos;
            let (mut value, mut tree) = match self.peek() {
                Some(b'{') => {
                    self.check_depth()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        (Value::Object(Map::new()), leaf(start, self.pos))
                    } else {
                        let (key, key_span) = self.key(false)?;
                        let first = self.trees.len();
                        self.stack.push(Frame::Object {
                            start,
                            members: self.members.len(),
                            seen: None,
                            first,
                            key,
                            key_span,
                            open: true,
                        });
                        self.colon()?;
                        continue 'value;
                    }
                }
                Some(b'[') => {
                    self.check_depth()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        (Value::Array(Vec::new()), leaf(start, self.pos))
                    } else {
                        let first = self.trees.len();
                        self.stack.push(Frame::Array { start, first, len: 0, open: true });
                        continue 'value;
                    }
                }
                Some(b'"') => {
                    let s = self.string()?;
                    (Value::String(s), leaf(start, self.pos))
                }
                Some(b't') => self.literal("true", Value::Bool(true))?,
                Some(b'f') => self.literal("false", Value::Bool(false))?,
                Some(b'n') => self.literal("null", Value::Null)?,
                Some(b'-' | b'0'..=b'9') => {
                    let n = self.number()?;
                    (Value::Number(n), leaf(start, self.pos))
                }
                Some(_) => {
                    return Err(self.unexpected("a value (an object, array, string, number, true, false or null)"))
                }
                None => return Err(self.eof("a value")),
            };
            // Attach the completed value to its container; closing containers completes them in turn.
            loop {
                let Some(frame) = self.stack.last_mut() else {
                    self.skip_ws();
                    if self.pos < self.src.len() {
                        let c = self.char_at(self.pos);
                        return Err(self.error(
                            format!(
                                "Unexpected `{c}` after the end of the JSON value; a file holds exactly one value."
                            ),
                            Span::new(self.pos, self.pos + c.len_utf8()),
                        ));
                    }
                    return Ok((value, tree));
                };
                match frame {
                    Frame::Array { len, open, .. } => {
                        self.values.push(value);
                        if self.spans {
                            self.trees.push(tree);
                        }
                        *len += 1;
                        *open = false;
                    }
                    Frame::Object { key, key_span, open, .. } => {
                        tree.key = Some(*key_span);
                        self.members.push((std::mem::take(key), value));
                        if self.spans {
                            self.trees.push(tree);
                        }
                        *open = false;
                    }
                }
                self.skip_ws();
                let is_array = matches!(self.stack.last(), Some(Frame::Array { .. }));
                let close = if is_array { b']' } else { b'}' };
                match self.peek() {
                    Some(b',') => {
                        let comma = self.pos;
                        self.pos += 1;
                        self.skip_ws();
                        if self.peek() == Some(close) {
                            let what = if is_array { "item" } else { "member" };
                            return Err(self.error(
                                format!(
                                    "Trailing comma: a `,` after the last {what} is followed by `{}`; remove the comma.",
                                    char::from(close)
                                ),
                                Span::new(comma, comma + 1),
                            ));
                        }
                        if !is_array {
                            let (k, ks) = self.key(true)?;
                            if let Some(Frame::Object { key, key_span, .. }) = self.stack.last_mut() {
                                *key = k;
                                *key_span = ks;
                            }
                        }
                        match self.stack.last_mut() {
                            Some(Frame::Array { open, .. } | Frame::Object { open, .. }) => *open = true,
                            None => {}
                        }
                        if !is_array {
                            self.colon()?;
                        }
                        continue 'value;
                    }
                    Some(c) if c == close => {
                        self.pos += 1;
                        let end = self.pos;
                        (value, tree) = match self.stack.pop() {
                            Some(Frame::Array { start, first, len, .. }) => {
                                let items = self.values.drain(self.values.len().saturating_sub(len)..).collect();
                                let children = self.trees.drain(first.min(self.trees.len())..).collect();
                                (Value::Array(items), SpanTree { span: Span::new(start, end), key: None, children })
                            }
                            Some(Frame::Object { start, members, first, .. }) => {
                                // Keys were checked to be distinct as they came: each is hashed once, here.
                                let map: Map<String, Value> =
                                    self.members.drain(members.min(self.members.len())..).collect();
                                let children = self.trees.drain(first.min(self.trees.len())..).collect();
                                (Value::Object(map), SpanTree { span: Span::new(start, end), key: None, children })
                            }
                            None => return Err(self.error("Internal parser state lost.".into(), Span::point(end))),
                        };
                    }
                    Some(_) => {
                        return Err(if is_array {
                            self.unexpected("`,` or `]` after an array item")
                        } else {
                            self.unexpected("`,` or `}` after an object member")
                        })
                    }
                    None => {
                        return Err(if is_array {
                            self.eof("`]` to close the array")
                        } else {
                            self.eof("`}` to close the object")
                        })
                    }
                }
            }
        }
    }

    fn check_depth(&self) -> Result<(), Refusal> {
        if self.stack.len() >= self.max_depth {
            return Err(located(
                self.src,
                "too-deep",
                format!(
                    "Arrays and objects are nested more than {} levels deep here; the file is refused.",
                    self.max_depth
                ),
                Span::new(self.pos, self.pos + 1),
                self.pointer(),
            ));
        }
        Ok(())
    }

    /// Reads an object key (at `self.pos`, after whitespace). With `in_open_object`, the innermost frame
    /// is the object the key belongs to, and the key is checked against its members so far.
    fn key(&mut self, in_open_object: bool) -> Result<(String, Span), Refusal> {
        match self.peek() {
            Some(b'"') => {}
            Some(_) => return Err(self.unexpected("a member name in double quotes")),
            None => return Err(self.eof("a member name")),
        }
        let start = self.pos;
        let key = self.string()?;
        let span = Span::new(start, self.pos);
        let mut repeated = None;
        if let (true, Some(Frame::Object { members, seen, first, .. })) = (in_open_object, self.stack.last_mut()) {
            let so_far = self.members.get(*members..).unwrap_or_default();
            let position = |so_far: &[(String, Value)]| so_far.iter().position(|(k, _)| *k == key);
            let found = if so_far.len() < KEYS_COMPARED_ONE_BY_ONE {
                position(so_far)
            } else {
                // A linear scan per key would make a wide object quadratic.
                let hasher = &self.hasher;
                let seen = seen.get_or_insert_with(|| so_far.iter().map(|(k, _)| hasher.hash_one(k)).collect());
                if seen.insert(hasher.hash_one(&key)) {
                    None
                } else {
                    position(so_far)
                }
            };
            repeated = found.map(|i| self.trees.get(*first + i).and_then(|t| t.key));
        }
        if let Some(first_key) = repeated {
            let first = first_key
                .map(|s| {
                    let (l, c) = LineIndex::new(self.src).locate(s.start);
                    format!(" (first at line {l}, column {c})")
                })
                .unwrap_or_default();
            let mut path = self.pointer();
            path.push('/');
            escape_token(&key, &mut path);
            return Err(located(
                self.src,
                "json-duplicate-key",
                format!("The key \"{key}\" appears twice in the same object{first}; each key may appear only once."),
                span,
                path,
            ));
        }
        Ok((key, span))
    }

    fn colon(&mut self) -> Result<(), Refusal> {
        self.skip_ws();
        match self.peek() {
            Some(b':') => {
                self.pos += 1;
                Ok(())
            }
            Some(_) => Err(self.unexpected("`:` after the member name")),
            None => Err(self.eof("`:` after the member name")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<(Value, SpanTree), Refusal> {
        let start = self.pos;
        if self.src.get(start..).is_some_and(|r| r.starts_with(word.as_bytes())) {
            self.pos += word.len();
            return Ok((value, leaf(start, self.pos)));
        }
        let end = self.token_end(start);
        let found = self.text.get(start..end).unwrap_or("");
        Err(self.error(
            format!("`{found}` is not a JSON value; did you mean `{word}`? (strings need double quotes)"),
            Span::new(start, end),
        ))
    }

    /// Parses a string starting at the opening quote; leaves `pos` after the closing quote.
    fn string(&mut self) -> Result<String, Refusal> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            // Past the plain characters at once, to the next quote, backslash or control character.
            self.pos += plain_run(self.src.get(self.pos..).unwrap_or_default());
            let Some(&b) = self.src.get(self.pos) else {
                return Err(self.error(
                    "A string is never closed: the closing `\"` is missing.".into(),
                    Span::new(open, self.src.len()),
                ));
            };
            match b {
                b'"' => {
                    let last = self.text.get(run..self.pos).unwrap_or("");
                    self.pos += 1;
                    // Most strings have no escape: one allocation of the right size.
                    if out.is_empty() {
                        return Ok(last.to_owned());
                    }
                    out.push_str(last);
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.text.get(run..self.pos).unwrap_or(""));
                    self.escape(&mut out)?;
                    run = self.pos;
                }
                0x00..=0x1F => {
                    let what = match b {
                        b'\n' => "a line break".to_string(),
                        b'\t' => "a tab".to_string(),
                        other => format!("the control character 0x{other:02X}"),
                    };
                    return Err(self.error(
                        format!(
                            "A string contains {what}, which must be escaped (for example `\\n`), or the string's closing `\"` is missing."
                        ),
                        Span::new(self.pos, self.pos + 1),
                    ));
                }
                _ => self.pos += 1,
            }
        }
    }

    /// Decodes one escape at `pos` (the backslash), appending it to `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), Refusal> {
        let at = self.pos;
        let Some(&c) = self.src.get(at + 1) else {
            return Err(self.error(
                "A string is never closed: the closing `\"` is missing.".into(),
                Span::new(at, self.src.len()),
            ));
        };
        self.pos += 2;
        let ch = match c {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4(at)?;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = if self.src.get(self.pos..self.pos + 2) == Some(b"\\u") {
                        let save = self.pos;
                        self.pos += 2;
                        let lo = self.hex4(save)?;
                        if (0xDC00..0xE000).contains(&lo) {
                            Some(lo)
                        } else {
                            None
                        }
                    } else {
                        None
                    };
                    match lo {
                        Some(lo) => char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).unwrap_or('\u{FFFD}'),
                        None => {
                            return Err(self.error(
                                format!("The escape `\\u{hi:04X}` starts a surrogate pair but is not followed by its second half (`\\uDC00`–`\\uDFFF`)."),
                                Span::new(at, at + 6),
                            ))
                        }
                    }
                } else if (0xDC00..0xE000).contains(&hi) {
                    return Err(self.error(
                        format!(
                            "The escape `\\u{hi:04X}` is the second half of a surrogate pair without a first half."
                        ),
                        Span::new(at, at + 6),
                    ));
                } else {
                    char::from_u32(hi).unwrap_or('\u{FFFD}')
                }
            }
            _ => {
                let shown = self.char_at(at + 1);
                return Err(self.error(
                    format!("`\\{shown}` is not a valid escape in a JSON string; use `\\\\` for a backslash."),
                    Span::new(at, at + 1 + shown.len_utf8()),
                ));
            }
        };
        out.push(ch);
        Ok(())
    }

    /// Reads four hex digits at `pos`; `escape_at` is the backslash, for the message.
    fn hex4(&mut self, escape_at: usize) -> Result<u32, Refusal> {
        let digits = self.src.get(self.pos..self.pos + 4).filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        let Some(digits) = digits else {
            return Err(self.error(
                "A `\\u` escape must be followed by exactly four hexadecimal digits.".into(),
                Span::new(escape_at, (self.pos + 4).min(self.src.len())),
            ));
        };
        let mut v = 0u32;
        for d in digits {
            v = v * 16 + char::from(*d).to_digit(16).unwrap_or(0);
        }
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Number, Refusal> {
        let start = self.pos;
        let s = self.src;
        let mut i = start;
        let negative = s.get(i) == Some(&b'-');
        if negative {
            i += 1;
        }
        let bad = |p: &Self, i: usize, why: &str| {
            let end = p.token_end(start).max(i).min(s.len());
            let found = p.text.get(start..end).unwrap_or("");
            p.error(format!("`{found}` is not a valid number: {why}."), Span::new(start, end))
        };
        match s.get(i) {
            Some(b'0') => {
                i += 1;
                if s.get(i).is_some_and(u8::is_ascii_digit) {
                    return Err(bad(self, i, "numbers may not start with a zero (write the digits without it, or quote the value if it is a code)"));
                }
            }
            Some(b'1'..=b'9') => {
                while s.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
            }
            _ => return Err(bad(self, i, "a digit must follow the minus sign")),
        }
        let mut integer = true;
        if s.get(i) == Some(&b'.') {
            integer = false;
            i += 1;
            if !s.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self, i, "a digit must follow the decimal point"));
            }
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(s.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(s.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if !s.get(i).is_some_and(u8::is_ascii_digit) {
                return Err(bad(self, i, "the exponent has no digits"));
            }
            while s.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        self.pos = i;
        let lexeme = self.text.get(start..i).unwrap_or("0");
        if integer {
            if negative {
                // `-0` is left to the float below, -0.0, as serde_json reads it.
                if let Ok(v @ ..=-1) = lexeme.parse::<i64>() {
                    return Ok(Number::from(v));
                }
            } else if let Ok(v) = lexeme.parse::<u64>() {
                return Ok(Number::from(v));
            }
        }
        match lexeme.parse::<f64>().ok().and_then(Number::from_f64) {
            Some(n) => Ok(n),
            None => Err(self.error(format!("The number `{lexeme}` is too large to represent."), Span::new(start, i))),
        }
    }

    // ---- helpers ----------------------------------------------------------------------------------------

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.src.get(self.pos) {
            self.pos += 1;
        }
    }

    fn char_at(&self, at: usize) -> char {
        self.text.get(at..).and_then(|r| r.chars().next()).unwrap_or('\u{FFFD}')
    }

    /// End of a run of letters, digits and number punctuation, for quoting a bad token.
    fn token_end(&self, start: usize) -> usize {
        let mut end = start;
        while self.src.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_')) {
            end += 1;
        }
        if end == start {
            end = (start + self.char_at(start).len_utf8()).min(self.src.len());
        }
        // Keep the quoted token short.
        if end - start > 40 {
            end = start + 40;
        }
        end
    }

    /// JSON Pointer of the place being parsed: the open containers, with the key or index of the value
    /// being parsed in each.
    fn pointer(&self) -> String {
        let mut out = String::new();
        for frame in &self.stack {
            push_step(frame, &mut out);
        }
        out
    }

    fn error(&self, message: String, span: Span) -> Refusal {
        located(self.src, NOT_WELL_FORMED, message, span, self.pointer())
    }

    fn unexpected(&self, expected: &str) -> Refusal {
        let c = self.char_at(self.pos);
        self.error(format!("Expected {expected}, found `{c}`."), Span::new(self.pos, self.pos + c.len_utf8()))
    }

    fn eof(&self, expected: &str) -> Refusal {
        self.error(format!("The file ends where {expected} was expected."), Span::point(self.src.len()))
    }
}

/// The length of the run of bytes at the start of `bytes` that a string holds as they are: up to the first
/// quote, backslash or control character (or the end). Eight bytes at a time while none of them is one.
fn plain_run(bytes: &[u8]) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // Sets the high bit of each byte of `word` that is zero (and possibly of a byte above one that is: only the
    // lowest flagged byte is trusted, and the bytes are then looked at one by one).
    let zero_bytes = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    let mut at = 0;
    for chunk in bytes.chunks_exact(8) {
        let mut eight = [0u8; 8];
        eight.copy_from_slice(chunk);
        let word = u64::from_le_bytes(eight);
        let quote = zero_bytes(word ^ (ONES * u64::from(b'"')));
        let backslash = zero_bytes(word ^ (ONES * u64::from(b'\\')));
        // A byte below 0x20 has none of its top three bits set.
        let control = zero_bytes(word & (ONES * 0xE0));
        if quote | backslash | control != 0 {
            break;
        }
        at += 8;
    }
    let rest = bytes.get(at..).unwrap_or_default();
    at + rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(rest.len())
}

fn push_step(frame: &Frame, out: &mut String) {
    match frame {
        Frame::Array { len, open: true, .. } => {
            out.push('/');
            out.push_str(&len.to_string());
        }
        Frame::Object { key, open: true, .. } => {
            out.push('/');
            escape_token(key, out);
        }
        _ => {}
    }
}

fn leaf(start: usize, end: usize) -> SpanTree {
    SpanTree { span: Span::new(start, end), key: None, children: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[allow(clippy::result_large_err)]
    fn parse(s: &str) -> Result<JsonDocument, Finding> {
        parse_json(s.as_bytes(), &Limits::default())
    }

    fn refused(bytes: &[u8], limits: &Limits, rule: &str) -> Finding {
        let t = Instant::now();
        let result = parse_json(bytes, limits);
        let took = t.elapsed();
        let finding = match result {
            Ok(doc) => panic!("expected `{rule}`, parsed {}", doc.value),
            Err(f) => f,
        };
        assert_eq!(finding.rule, rule, "{}", finding.message);
        assert_eq!(finding.severity, crate::finding::Severity::Error);
        assert!(finding.location.is_some());
        assert!(took < Duration::from_secs(2), "took {took:?}");
        finding
    }

    fn loc(f: &Finding) -> (u32, u32, String) {
        let l = f.location.clone().unwrap_or_default();
        (l.line, l.column, l.path)
    }

    const DOC: &str = r#"{
  "referral": {
    "id": "R1",
    "children": [
      {"name": "Ann", "age": 7, "tags": []},
      {"name": "B\u00e9\ud83d\ude00\n\"q\"", "age": -3, "weight": 2.5e1, "big": 18446744073709551615}
    ],
    "a/b": {"~k": null},
    "flag": true
  },
  "empty": {}
}"#;

    #[test]
    fn values_match_serde_json() {
        let doc = parse(DOC).unwrap();
        let expected: Value = serde_json::from_str(DOC).unwrap();
        assert_eq!(doc.value, expected);
        // Member order is document order.
        let keys: Vec<_> = doc.value["referral"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["id", "children", "a/b", "flag"]);
        let second = &doc.value["referral"]["children"][1];
        assert_eq!(second["name"], "Bé😀\n\"q\"");
        assert_eq!(second["age"].as_i64(), Some(-3));
        assert_eq!(second["big"].as_u64(), Some(u64::MAX));
        assert_eq!(second["weight"].as_f64(), Some(25.0));
    }

    #[test]
    fn spans_resolve_by_pointer() {
        let doc = parse(DOC).unwrap();
        let text = |s: Span| &DOC[s.start..s.end];
        let (node, ok) = doc.spans.resolve(&doc.value, "/referral/children/1/age");
        assert!(ok);
        assert_eq!(text(node.span), "-3");
        assert_eq!(text(node.key.unwrap()), "\"age\"");
        let (node, ok) = doc.spans.resolve(&doc.value, "/referral/children/0");
        assert!(ok);
        assert_eq!(text(node.span), r#"{"name": "Ann", "age": 7, "tags": []}"#);
        assert_eq!(node.key, None);
        let (node, ok) = doc.spans.resolve(&doc.value, "/referral/a~1b/~0k");
        assert!(ok);
        assert_eq!(text(node.span), "null");
        assert_eq!(LineIndex::new(DOC.as_bytes()).locate(node.span.start), (8, 19));
        let (node, ok) = doc.spans.resolve(&doc.value, "");
        assert!(ok);
        assert_eq!(node.span, Span::new(0, DOC.len()));
        // Partially resolved: deepest node reached.
        let (node, ok) = doc.spans.resolve(&doc.value, "/referral/children/7/name");
        assert!(!ok);
        assert!(text(node.span).starts_with('['));
        let (_, ok) = doc.spans.resolve(&doc.value, "/referral/children/01");
        assert!(!ok);
        let (_, ok) = doc.spans.resolve(&doc.value, "referral");
        assert!(!ok);
        let (node, ok) = doc.spans.resolve(&doc.value, "/referral/flag/x");
        assert!(!ok);
        assert_eq!(text(node.span), "true");
    }

    #[test]
    fn duplicate_key() {
        let src = "{\n  \"a\": {\"x\": 1,\n        \"x\": 2}\n}";
        let f = refused(src.as_bytes(), &Limits::default(), "json-duplicate-key");
        assert_eq!(loc(&f), (3, 9, "/a/x".into()));
        assert!(f.message.contains("first at line 2, column 9"), "{}", f.message);
        // The same key in different objects is fine.
        assert!(parse(r#"{"a": {"x": 1}, "b": {"x": 2}, "x": 3}"#).is_ok());
        // A wide object is searched by hash: the repeat is found wherever it is, nested objects between.
        for (first, again) in [(0, 40), (17, 18), (39, 40)] {
            let mut members: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {{\"k{i}\": [{i}]}}")).collect();
            members.insert(again, format!("\"k{first}\": 0"));
            let src = format!("{{{}}}", members.join(",\n"));
            let f = refused(src.as_bytes(), &Limits::default(), "json-duplicate-key");
            assert_eq!(loc(&f), (again as u32 + 1, 1, format!("/k{first}")));
            let line = if first == 0 { 1 } else { first + 1 };
            let column = if first == 0 { 2 } else { 1 };
            assert!(f.message.contains(&format!("first at line {line}, column {column}")), "{}", f.message);
        }
        let wide: Vec<String> = (0..40).map(|i| format!("\"k{i}\": {i}")).collect();
        let doc = parse(&format!("{{{}}}", wide.join(","))).expect("no key repeats");
        assert_eq!(doc.value.as_object().map(|m| m.keys().nth(39).cloned()), Some(Some("k39".to_string())));
    }

    #[test]
    fn too_deep() {
        let n = 10_000;
        let src = format!("{}{}", "[".repeat(n), "]".repeat(n));
        let f = refused(src.as_bytes(), &Limits::default(), "too-deep");
        assert_eq!(loc(&f).1, 65);
        let src = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
        let f = refused(src.as_bytes(), &Limits::default(), "too-deep");
        assert!(loc(&f).2.starts_with("/a/a/a"));
        // A huge limit: the parser is iterative, so even 200,000 levels cannot overflow the stack while
        // parsing; the input is refused only because it is unterminated.
        let src = "[".repeat(200_000);
        refused(src.as_bytes(), &Limits { max_depth: usize::MAX, ..Limits::default() }, NOT_WELL_FORMED);
        // At the limit is fine.
        let ok = format!("{}{}", "[".repeat(64), "]".repeat(64));
        assert!(parse(&ok).is_ok());
    }

    #[test]
    fn too_large_and_invalid_utf8() {
        let src = format!("[{}]", "1,".repeat(1000) + "1");
        let f = refused(src.as_bytes(), &Limits { max_bytes: 100, max_depth: 64 }, "input-too-large");
        assert_eq!((loc(&f).0, loc(&f).1), (1, 1));
        let f = refused(b"{\"a\":\n \"caf\xC3\"}", &Limits::default(), "invalid-utf8");
        assert_eq!((loc(&f).0, loc(&f).1), (2, 6));
    }

    #[test]
    fn broken_documents_are_located() {
        let cases: &[(&str, (u32, u32), &str)] = &[
            ("", (1, 1), ""),
            ("[1, 2,]", (1, 6), ""),
            ("{\"a\": 1,\n}", (1, 8), ""),
            ("{\"a\" 1}", (1, 6), "/a"),
            ("{\"a\": 1 \"b\": 2}", (1, 9), ""),
            ("[1 2]", (1, 4), ""),
            ("{\"a\": \"unterminated}", (1, 7), "/a"),
            ("{\"a\": [01]}", (1, 8), "/a/0"),
            ("[1.]", (1, 2), "/0"),
            ("[-]", (1, 2), "/0"),
            ("[1e+]", (1, 2), "/0"),
            ("[tru]", (1, 2), "/0"),
            ("{'a': 1}", (1, 2), ""),
            ("[\"\\x\"]", (1, 3), "/0"),
            ("[\"\\ud800\"]", (1, 3), "/0"),
            ("[\"\\udc00\"]", (1, 3), "/0"),
            ("[\"\\u12\"]", (1, 3), "/0"),
            ("[\"a\nb\"]", (1, 4), "/0"),
            ("{} x", (1, 4), ""),
            ("[1e999]", (1, 2), "/0"),
            ("{\"a\": [1, {\"b\": }]}", (1, 17), "/a/1/b"),
            ("[", (1, 2), "/0"),
            ("{\"a\"", (1, 5), "/a"),
        ];
        for (src, (line, col), path) in cases {
            let f = refused(src.as_bytes(), &Limits::default(), NOT_WELL_FORMED);
            assert_eq!(loc(&f), (*line, *col, path.to_string()), "{src:?}: {}", f.message);
            eprintln!("{src:?} -> {path}: {}", f.message);
        }
    }

    #[test]
    fn scalars_and_bom() {
        let doc = parse_json(b"\xEF\xBB\xBF 42 ", &Limits::default()).unwrap();
        assert_eq!(doc.value, Value::from(42u64));
        assert_eq!(doc.spans.span, Span::new(4, 6));
        assert_eq!(parse("-9223372036854775808").unwrap().value.as_i64(), Some(i64::MIN));
        assert_eq!(parse("-9223372036854775809").unwrap().value.as_f64(), Some(-9223372036854775809.0));
        assert_eq!(parse("\"\\/\\b\\f\\r\\t\"").unwrap().value, "/\u{8}\u{c}\r\t");
    }

    #[test]
    fn no_panic_on_prefixes_of_a_document() {
        for end in 0..DOC.len() {
            let _ = parse_json(&DOC.as_bytes()[..end], &Limits::default());
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let _ = parse_json(&bytes, &Limits::default());
            let _ = crate::document::parse_xml(&bytes, &Limits::default());
        }

        #[test]
        fn plain_run_stops_where_a_byte_by_byte_scan_does(bytes in proptest::collection::vec(
            proptest::prop_oneof![1 => proptest::prelude::Just(b'"'), 1 => proptest::prelude::Just(b'\\'), 1 => 0u8..0x20, 30 => 0x20u8..=0xFF],
            0..64,
        )) {
            let expected = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(bytes.len());
            proptest::prop_assert_eq!(plain_run(&bytes), expected);
        }

        #[test]
        fn agrees_with_serde_json(s in "[\\[\\]{}\",:0-9a-z.eE+\\- \\\\]{0,40}") {
            let ours = parse_json(s.as_bytes(), &Limits::default()).ok().map(|d| d.value);
            let theirs: Option<Value> = serde_json::from_str(&s).ok();
            // serde_json accepts duplicate keys (last wins); we refuse them.
            if ours.is_some() || !s.contains(':') {
                proptest::prop_assert_eq!(ours, theirs);
            }
        }
    }
}
