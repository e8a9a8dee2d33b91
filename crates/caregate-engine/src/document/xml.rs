//! XML: quick-xml's borrowing, namespace-resolving reader over the input slice, folded into a tree of
//! [`Element`]s without recursion.

use std::borrow::Cow;

use quick_xml::errors::{Error as QxError, IllFormedError, SyntaxError};
use quick_xml::escape::{resolve_predefined_entity, EscapeError};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::name::{NamespaceError, QName, ResolveResult};
use quick_xml::NsReader;

use super::tokens::{doctype_message, too_deep_message, TokenError, XmlTokens};
use quick_xml::XmlVersion;

use super::{bom_len, check_size, check_utf8, located, Limits, LineIndex, Refusal};
use crate::finding::{Finding, Span};

const NOT_WELL_FORMED: &str = "xml-not-well-formed";

/// A parsed XML document: its single root element.
#[derive(Debug, Clone, PartialEq)]
pub struct XmlDocument {
    pub root: Element,
}

/// An element, with its namespace resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Local name (after any prefix).
    pub local: String,
    /// Namespace name (URI) the element is in; `""` when none.
    pub namespace: String,
    /// The prefix as written in the source, if any.
    pub prefix: Option<String>,
    /// Attributes other than namespace declarations (`xmlns`, `xmlns:*`), in source order.
    pub attributes: Vec<Attribute>,
    pub children: Vec<XmlNode>,
    /// From the `<` of the start tag to the end of the end tag (or of the empty-element tag).
    pub span: Span,
}

/// An attribute, with its namespace resolved (unprefixed attributes are in no namespace).
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub local: String,
    /// Namespace name (URI); `""` when none.
    pub namespace: String,
    /// The value with entity and character references replaced and whitespace normalized as XML requires.
    pub value: String,
    /// From the first character of the name to the closing quote of the value, inclusive.
    pub span: Span,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq)]
pub enum XmlNode {
    Element(Element),
    Text(Text),
}

/// Character data: adjacent text, references and CDATA sections (and any comments between them) form one
/// `Text`. Whitespace-only text is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct Text {
    /// Unescaped text, line endings normalized to `\n`; CDATA content included as text.
    pub text: String,
    pub span: Span,
}

impl Element {
    /// The name as written: `prefix:local` or `local`.
    pub fn qname(&self) -> Cow<'_, str> {
        match &self.prefix {
            Some(p) => Cow::Owned(format!("{p}:{}", self.local)),
            None => Cow::Borrowed(&self.local),
        }
    }

    /// Child elements, in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|c| match c {
            XmlNode::Element(e) => Some(e),
            XmlNode::Text(_) => None,
        })
    }

    /// The value of the attribute in no namespace with this local name.
    pub fn attribute(&self, local: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.local == local && a.namespace.is_empty())
    }

    /// All the element's direct text, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for c in &self.children {
            if let XmlNode::Text(t) = c {
                out.push_str(&t.text);
            }
        }
        out
    }

    fn same_name(&self, other: &Element) -> bool {
        self.local == other.local && self.prefix == other.prefix
    }
}

/// Parses XML bytes (UTF-8, optionally with a byte order mark) into a tree, or refuses them with exactly one
/// located finding.
#[allow(clippy::result_large_err)] // the signature is the module's contract; the error path is cold
pub fn parse_xml(bytes: &[u8], limits: &Limits) -> Result<XmlDocument, Finding> {
    parse_xml_boxed(bytes, limits).map_err(|f| *f)
}

fn parse_xml_boxed(bytes: &[u8], limits: &Limits) -> Result<XmlDocument, Refusal> {
    check_size(bytes, limits)?;
    let text = check_utf8(bytes, "/")?;
    let base = bom_len(bytes);
    let body = text.get(base..).unwrap_or("");
    Builder::new(bytes, base, limits).run(body, limits)
}

/// An element whose end tag has not been read yet.
struct Open {
    element: Element,
    /// Byte range of the qualified name in the start tag, for matching the end tag.
    name_start: usize,
    name_end: usize,
    /// Where this element's children begin in [`Builder::nodes`].
    children_start: usize,
}

struct PendingText {
    text: String,
    start: usize,
    end: usize,
}

struct Builder<'s> {
    source: &'s [u8],
    /// Length of the byte order mark skipped before the reader's input.
    base: usize,
    max_depth: usize,
    stack: Vec<Open>,
    /// Children of all open elements, innermost last; moved into an exactly sized `Vec` when an element
    /// closes, so children vectors never grow by reallocation.
    nodes: Vec<XmlNode>,
    pending: Option<PendingText>,
    root: Option<Element>,
    /// Whether any markup or text has been seen (an XML declaration must come first).
    seen_any: bool,
}

impl<'s> Builder<'s> {
    fn new(source: &'s [u8], base: usize, limits: &Limits) -> Self {
        Builder {
            source,
            base,
            max_depth: limits.max_depth,
            stack: Vec::with_capacity(limits.max_depth.min(256)),
            nodes: Vec::with_capacity(256),
            pending: None,
            root: None,
            seen_any: false,
        }
    }

    fn run(mut self, body: &str, limits: &Limits) -> Result<XmlDocument, Refusal> {
        let mut tokens = XmlTokens::from_text(body, self.base, limits);
        loop {
            let (event, Span { start, end }) = match tokens.next_token() {
                Ok(token) => token,
                Err(TokenError::Doctype(span)) => return Err(self.doctype(span.start, span.end)),
                Err(TokenError::TooDeep { name, depth, span }) => {
                    return Err(self.error(
                        "too-deep",
                        too_deep_message(&name, depth, self.max_depth),
                        span,
                        Some(&name),
                    ))
                }
                Err(TokenError::Syntax { error, at, end }) => return Err(self.reader_error(error, at, end)),
            };
            let reader = tokens.reader();
            match event {
                Event::Start(e) => {
                    self.flush_text();
                    self.open(reader, &e, start, end, false)?;
                }
                Event::Empty(e) => {
                    self.flush_text();
                    self.open(reader, &e, start, end, true)?;
                }
                Event::End(e) => {
                    self.flush_text();
                    self.close(e.name(), start, end)?;
                }
                Event::Text(t) => self.add_text(t.xml10_content(), start, end)?,
                Event::CData(t) => {
                    if self.stack.is_empty() {
                        return Err(self.outside_root("a CDATA section", start, end));
                    }
                    self.add_text(t.xml10_content(), start, end)?;
                }
                Event::GeneralRef(r) => {
                    let resolved = self.resolve_ref(&r, start, end)?;
                    self.add_text(resolved, start, end)?;
                }
                Event::Comment(_) | Event::PI(_) => {}
                Event::Decl(_) => {
                    if self.seen_any || start != self.base {
                        return Err(self.error(
                            NOT_WELL_FORMED,
                            "The XML declaration `<?xml …?>` must be the very first thing in the file.".into(),
                            Span::new(start, end),
                            None,
                        ));
                    }
                }
                Event::DocType(_) => return Err(self.doctype(start, end)),
                Event::Eof => break,
            }
            self.seen_any = true;
        }
        self.finish()
    }

    fn open<R>(
        &mut self,
        reader: &NsReader<R>,
        e: &BytesStart<'_>,
        start: usize,
        end: usize,
        empty: bool,
    ) -> Result<(), Refusal> {
        let qname = e.name();
        if self.stack.is_empty() {
            if let Some(root) = &self.root {
                return Err(self.error(
                    NOT_WELL_FORMED,
                    format!(
                        "A second top-level element `<{}>` follows the root element `<{}>`; an XML document has exactly one root element.",
                        qname.0,
                        root.qname()
                    ),
                    Span::new(start, end),
                    None,
                ));
            }
        }
        let (resolved, local) = reader.resolver().resolve_element(qname);
        let namespace = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(self.error(
                    NOT_WELL_FORMED,
                    format!(
                        "The element `<{}>` uses the namespace prefix `{prefix}`, which is not declared (add `xmlns:{prefix}=\"…\"`).",
                        qname.0
                    ),
                    Span::new(start, end),
                    Some(qname.0),
                ))
            }
        };
        let prefix = qname.prefix().map(|p| p.into_inner().to_owned());
        let attributes = self.attributes(reader, e, start, qname.0)?;
        let name_start = start + 1;
        let element = Element {
            local: local.into_inner().to_owned(),
            namespace,
            prefix,
            attributes,
            children: Vec::new(),
            span: Span::new(start, end),
        };
        if empty {
            self.attach(element);
        } else {
            let children_start = self.nodes.len();
            self.stack.push(Open { element, name_start, name_end: name_start + qname.0.len(), children_start });
        }
        Ok(())
    }

    fn attributes<R>(
        &self,
        reader: &NsReader<R>,
        e: &BytesStart<'_>,
        start: usize,
        element: &str,
    ) -> Result<Vec<Attribute>, Refusal> {
        let buf: &str = e;
        // The tag's content (`buf`) starts just after its `<`.
        let content_start = start + 1;
        let mut out = Vec::new();
        let mut prefixed = 0usize;
        for attr in e.attributes() {
            let attr = attr.map_err(|err| self.attr_error(err, buf, content_start, element))?;
            if attr.key.as_namespace_binding().is_some() {
                continue;
            }
            let key_at = content_start + offset_within(buf, attr.key.0).unwrap_or(0);
            let value_end = offset_within(buf, &attr.value)
                .map_or(key_at + attr.key.0.len(), |o| content_start + o + attr.value.len() + 1);
            let span = Span::new(key_at, value_end);
            let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
            let namespace = match resolved {
                ResolveResult::Bound(ns) => ns.0.to_owned(),
                ResolveResult::Unbound => String::new(),
                ResolveResult::Unknown(prefix) => {
                    return Err(self.error(
                        NOT_WELL_FORMED,
                        format!(
                            "The attribute `{}` on `<{element}>` uses the namespace prefix `{prefix}`, which is not declared.",
                            attr.key.0
                        ),
                        span,
                        Some(element),
                    ))
                }
            };
            let value = match attr.normalized_value_with(XmlVersion::Implicit1_0, 1, resolve_predefined_entity) {
                Ok(v) => v.into_owned(),
                Err(err) => {
                    let value_start = offset_within(buf, &attr.value).map_or(key_at, |o| content_start + o);
                    return Err(self.value_error(err, value_start, span, attr.key.0, element));
                }
            };
            prefixed += usize::from(attr.key.prefix().is_some());
            out.push(Attribute { local: local.into_inner().to_owned(), namespace, value, span });
        }
        // The same attribute twice under two prefixes bound to one namespace (quick-xml already refuses the
        // same name written twice). A set keeps this linear however many attributes there are.
        if prefixed > 0 && out.len() > 1 {
            let mut seen = std::collections::HashSet::with_capacity(out.len());
            for a in &out {
                if !seen.insert((a.namespace.as_str(), a.local.as_str())) {
                    return Err(self.error(
                        NOT_WELL_FORMED,
                        format!(
                            "The element `<{element}>` has the attribute `{}` in namespace `{}` twice, under different prefixes.",
                            a.local, a.namespace
                        ),
                        a.span,
                        Some(element),
                    ));
                }
            }
        }
        Ok(out)
    }

    fn close(&mut self, name: QName<'_>, start: usize, end: usize) -> Result<(), Refusal> {
        let found = name.0;
        let Some(open) = self.stack.last() else {
            let message = match &self.root {
                Some(root) => format!(
                    "The closing tag `</{found}>` comes after the root element `<{}>` has already been closed.",
                    root.qname()
                ),
                None => format!("The closing tag `</{found}>` has no matching opening tag."),
            };
            return Err(self.error(NOT_WELL_FORMED, message, Span::new(start, end), None));
        };
        let expected = self.source.get(open.name_start..open.name_end).unwrap_or_default();
        if expected != found.as_bytes() {
            let expected = String::from_utf8_lossy(expected);
            let opened = self.line_of(open.element.span.start);
            let message = if self
                .stack
                .iter()
                .any(|o| self.source.get(o.name_start..o.name_end) == Some(found.as_bytes()))
            {
                format!(
                    "Expected `</{expected}>` to close `<{expected}>` opened at line {opened}, found `</{found}>`; `<{expected}>` is missing its closing tag."
                )
            } else {
                format!("Expected `</{expected}>` to close `<{expected}>` opened at line {opened}, found `</{found}>`.")
            };
            return Err(self.error(NOT_WELL_FORMED, message, Span::new(start, end), None));
        }
        if let Some(mut open) = self.stack.pop() {
            open.element.span = Span::new(open.element.span.start, end);
            open.element.children = self.nodes.drain(open.children_start.min(self.nodes.len())..).collect();
            self.attach(open.element);
        }
        Ok(())
    }

    fn attach(&mut self, element: Element) {
        if self.stack.is_empty() {
            self.root = Some(element);
        } else {
            self.nodes.push(XmlNode::Element(element));
        }
    }

    fn add_text(&mut self, text: Cow<'_, str>, start: usize, end: usize) -> Result<(), Refusal> {
        if self.stack.is_empty() {
            if text.bytes().all(|b| b.is_ascii_whitespace()) {
                return Ok(());
            }
            return Err(self.outside_root("text", start, end));
        }
        match &mut self.pending {
            Some(p) => {
                p.text.push_str(&text);
                p.end = end;
            }
            None => self.pending = Some(PendingText { text: text.into_owned(), start, end }),
        }
        Ok(())
    }

    fn flush_text(&mut self) {
        if let Some(p) = self.pending.take() {
            if !self.stack.is_empty() {
                self.nodes.push(XmlNode::Text(Text { text: p.text, span: Span::new(p.start, p.end) }));
            }
        }
    }

    fn resolve_ref(&self, r: &BytesRef<'_>, start: usize, end: usize) -> Result<Cow<'static, str>, Refusal> {
        let name: &str = r;
        if r.is_char_ref() {
            return match r.resolve_char_ref() {
                Ok(Some(c)) if is_xml_char(c) => Ok(Cow::Owned(c.to_string())),
                _ => Err(self.error(
                    NOT_WELL_FORMED,
                    format!("`&{name};` is not a valid character reference."),
                    Span::new(start, end),
                    None,
                )),
            };
        }
        match resolve_predefined_entity(name) {
            Some(s) => Ok(Cow::Borrowed(s)),
            None => Err(self.undeclared_entity(name, Span::new(start, end), None)),
        }
    }

    fn finish(mut self) -> Result<XmlDocument, Refusal> {
        self.flush_text();
        let end = self.source.len();
        if let Some(open) = self.stack.last() {
            let name = open.element.qname().into_owned();
            let opened = self.line_of(open.element.span.start);
            return Err(self.error(
                NOT_WELL_FORMED,
                format!("The file ends before `<{name}>` (opened at line {opened}) is closed; add `</{name}>`."),
                Span::point(end),
                None,
            ));
        }
        match self.root {
            Some(root) => Ok(XmlDocument { root }),
            None => {
                Err(self.error(NOT_WELL_FORMED, "The file contains no XML element.".into(), Span::point(end), None))
            }
        }
    }

    // ---- findings -------------------------------------------------------------------------------------

    /// The XPath of the open elements, plus `leaf` (an element about to be opened) if given.
    fn path(&self, leaf: Option<&str>) -> String {
        let mut out = String::new();
        let steps = self.stack.len() + usize::from(leaf.is_some());
        if steps == 0 {
            return "/".into();
        }
        for (i, open) in self.stack.iter().enumerate() {
            out.push('/');
            out.push_str(&open.element.qname());
            if i > 0 {
                let position = self.stack.get(i - 1).map_or(1, |parent| {
                    1 + self
                        .siblings(parent.children_start, open.children_start)
                        .filter(|e| e.same_name(&open.element))
                        .count()
                });
                if position > 1 || i + 1 < steps {
                    out.push_str(&format!("[{position}]"));
                }
            }
        }
        if let Some(leaf) = leaf {
            out.push('/');
            out.push_str(leaf);
            if let Some(parent) = self.stack.last() {
                let position =
                    1 + self.siblings(parent.children_start, self.nodes.len()).filter(|e| e.qname() == leaf).count();
                if position > 1 {
                    out.push_str(&format!("[{position}]"));
                }
            }
        }
        out
    }

    /// Elements among the pending children `nodes[from..to]`.
    fn siblings(&self, from: usize, to: usize) -> impl Iterator<Item = &Element> {
        self.nodes.get(from..to).unwrap_or_default().iter().filter_map(|n| match n {
            XmlNode::Element(e) => Some(e),
            XmlNode::Text(_) => None,
        })
    }

    fn line_of(&self, offset: usize) -> u32 {
        LineIndex::new(self.source).locate(offset).0
    }

    fn error(&self, rule: &str, message: String, span: Span, leaf: Option<&str>) -> Refusal {
        located(self.source, rule, message, span, self.path(leaf))
    }

    fn doctype(&self, start: usize, end: usize) -> Refusal {
        self.error("xml-doctype", doctype_message().into(), Span::new(start, end), None)
    }

    fn undeclared_entity(&self, name: &str, span: Span, leaf: Option<&str>) -> Refusal {
        self.error(
            "xml-undeclared-entity",
            format!(
                "The entity reference `&{name};` is not defined; only `&lt;`, `&gt;`, `&amp;`, `&quot;`, `&apos;` and character references such as `&#163;` may be used."
            ),
            span,
            leaf,
        )
    }

    fn outside_root(&self, what: &str, start: usize, end: usize) -> Refusal {
        let message = match &self.root {
            Some(root) => format!(
                "There is {what} after the root element `<{}>` has been closed; nothing but comments may follow it.",
                root.qname()
            ),
            None => format!("There is {what} before the root element; an XML document must start with an element."),
        };
        self.error(NOT_WELL_FORMED, message, Span::new(start, end), None)
    }

    fn attr_error(&self, err: AttrError, buf: &str, content_start: usize, element: &str) -> Refusal {
        let (at, message) = match err {
            AttrError::ExpectedEq(p) => (p, format!("An attribute of `<{element}>` is missing its `=` and value.")),
            AttrError::ExpectedValue(p) => (p, format!("An attribute of `<{element}>` has `=` but no value.")),
            AttrError::UnquotedValue(p) => {
                (p, format!("An attribute value in `<{element}>` is not in quotes; write name=\"value\"."))
            }
            AttrError::ExpectedQuote(p, q) => {
                (p, format!("An attribute value in `<{element}>` is missing its closing `{}`.", char::from(q)))
            }
            AttrError::Duplicated(p, _) => {
                let name: String =
                    buf.get(p..).unwrap_or("").chars().take_while(|c| !c.is_whitespace() && *c != '=').collect();
                (p, format!("The element `<{element}>` has the attribute `{name}` twice."))
            }
        };
        let at = content_start + at;
        self.error(NOT_WELL_FORMED, message, Span::new(at, at + 1), Some(element))
    }

    fn value_error(&self, err: QxError, value_start: usize, span: Span, key: &str, element: &str) -> Refusal {
        match err {
            QxError::Escape(EscapeError::UnrecognizedEntity(range, name)) => self.undeclared_entity(
                &name,
                Span::new(value_start + range.start.saturating_sub(1), value_start + range.end + 1),
                Some(element),
            ),
            QxError::Escape(EscapeError::UnterminatedEntity(range)) => self.error(
                NOT_WELL_FORMED,
                format!(
                    "The value of attribute `{key}` in `<{element}>` has a `&` that does not start a reference; write `&amp;` for an ampersand."
                ),
                Span::new(value_start + range.start, value_start + range.end),
                Some(element),
            ),
            other => self.error(
                NOT_WELL_FORMED,
                format!("The value of attribute `{key}` in `<{element}>` is not valid: {other}."),
                span,
                Some(element),
            ),
        }
    }

    fn reader_error(&self, err: QxError, at: usize, end: usize) -> Refusal {
        let span = Span::new(at, end.max(at + 1).min(self.source.len().max(at)));
        let point = Span::point(at);
        let (rule, message, span) = match err {
            QxError::Syntax(SyntaxError::UnclosedDoctype) => return self.doctype(at, end),
            QxError::Syntax(s) => {
                let what = match s {
                    SyntaxError::InvalidBangMarkup => "`<!` is not followed by `--` (comment) or `[CDATA[`".to_string(),
                    SyntaxError::UnclosedPI => "a processing instruction `<?…` is never closed with `?>`".into(),
                    SyntaxError::UnclosedXmlDecl => "the XML declaration `<?xml …` is never closed with `?>`".into(),
                    SyntaxError::UnclosedComment => "a comment `<!--` is never closed with `-->`".into(),
                    SyntaxError::UnclosedCData => "a CDATA section `<![CDATA[` is never closed with `]]>`".into(),
                    SyntaxError::UnclosedTag => "a tag starting with `<` is never closed with `>`".into(),
                    SyntaxError::UnclosedSingleQuotedAttributeValue
                    | SyntaxError::UnclosedDoubleQuotedAttributeValue => {
                        "an attribute value is never closed with its quote".into()
                    }
                    other => format!("{other}"),
                };
                (NOT_WELL_FORMED, format!("The XML is cut short: {what}."), point)
            }
            QxError::IllFormed(IllFormedError::UnclosedReference) => (
                NOT_WELL_FORMED,
                "A `&` does not start an entity reference (like `&amp;`); write `&amp;` for an ampersand.".into(),
                point,
            ),
            QxError::IllFormed(IllFormedError::MissingDeclVersion(_) | IllFormedError::UnknownVersion) => {
                (NOT_WELL_FORMED, "The XML declaration must start with version=\"1.0\".".into(), span)
            }
            QxError::IllFormed(other) => (NOT_WELL_FORMED, format!("The XML is not well-formed: {other}."), span),
            QxError::Namespace(NamespaceError::TooDeeplyNested(_)) => (
                "too-deep",
                format!("Elements are nested more than {} levels deep; the file is refused.", u16::MAX),
                span,
            ),
            QxError::Namespace(NamespaceError::TooManyBindings(n)) => (
                NOT_WELL_FORMED,
                format!("More than {n} namespace declarations are in scope at once; the file is refused."),
                span,
            ),
            QxError::Namespace(ns) => (NOT_WELL_FORMED, format!("A namespace declaration is not allowed: {ns}."), span),
            QxError::InvalidAttr(a) => (NOT_WELL_FORMED, format!("An attribute is not well-formed: {a}."), span),
            QxError::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
                return self.undeclared_entity(&name, span, None)
            }
            QxError::Encoding(_) => ("invalid-utf8", "The file is not valid UTF-8; save it as UTF-8.".into(), span),
            other => (NOT_WELL_FORMED, format!("The XML is not well-formed: {other}."), span),
        };
        self.error(rule, message, span, None)
    }
}

/// Offset of `inner` within `outer` when `inner` is a sub-slice of it.
fn offset_within(outer: &str, inner: &str) -> Option<usize> {
    let o = outer.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    let off = i.checked_sub(o)?;
    (off + inner.len() <= outer.len()).then_some(off)
}

/// Characters XML 1.0 allows in a document.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[allow(clippy::result_large_err)]
    fn parse(s: &str) -> Result<XmlDocument, Finding> {
        parse_xml(s.as_bytes(), &Limits::default())
    }

    /// Parses input expected to be refused; checks the rule and returns the finding.
    fn refused(bytes: &[u8], limits: &Limits, rule: &str) -> Finding {
        let result = parse_xml(bytes, limits);
        let finding = match result {
            Ok(doc) => panic!("expected `{rule}`, parsed {:?}", doc.root.local),
            Err(f) => f,
        };
        assert_eq!(finding.rule, rule, "{}", finding.message);
        assert_eq!(finding.severity, crate::finding::Severity::Error);
        assert!(finding.location.is_some(), "finding has no location");
        finding
    }

    fn loc(f: &Finding) -> (u32, u32, String) {
        let l = f.location.clone().unwrap_or_default();
        (l.line, l.column, l.path)
    }

    fn el<'a>(e: &'a Element, local: &str) -> &'a Element {
        e.elements().find(|c| c.local == local).unwrap_or_else(|| panic!("no <{local}>"))
    }

    const REFERRAL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!-- a comment -->
<r:Referral xmlns=\"urn:default\" xmlns:r=\"urn:ref\" xmlns:x=\"urn:x\" id=\"R1\">
  <Child x:status=\"a &amp; b\" plain='q&lt;'>
    <Name>Ann &lt;Smith&gt; &#163;&#x41;<![CDATA[<raw>]]></Name>
    <x:Code/>
    <Inner xmlns=\"\"><Bare/></Inner>
  </Child>
</r:Referral>
";

    #[test]
    fn namespaces_and_values() {
        let doc = parse(REFERRAL).unwrap();
        let root = &doc.root;
        assert_eq!(root.local, "Referral");
        assert_eq!(root.namespace, "urn:ref");
        assert_eq!(root.prefix.as_deref(), Some("r"));
        // xmlns declarations are not attributes; `id` is in no namespace.
        assert_eq!(root.attributes.len(), 1);
        assert_eq!(root.attributes[0].local, "id");
        assert_eq!(root.attributes[0].namespace, "");
        assert_eq!(root.attributes[0].value, "R1");

        let child = el(root, "Child");
        assert_eq!(child.namespace, "urn:default");
        assert_eq!(child.prefix, None);
        let status = &child.attributes[0];
        assert_eq!((status.local.as_str(), status.namespace.as_str()), ("status", "urn:x"));
        assert_eq!(status.value, "a & b");
        assert_eq!(child.attribute("plain").map(|a| a.value.as_str()), Some("q<"));

        let name = el(child, "Name");
        assert_eq!(name.text(), "Ann <Smith> £A<raw>");
        // Text, references and CDATA are one Text node.
        assert_eq!(name.children.len(), 1);

        let code = el(child, "Code");
        assert_eq!(code.namespace, "urn:x");
        let inner = el(child, "Inner");
        assert_eq!(inner.namespace, "");
        assert_eq!(el(inner, "Bare").namespace, "");
        // Whitespace text is kept.
        assert!(child.children.iter().any(|c| matches!(c, XmlNode::Text(t) if t.text.trim().is_empty())));
    }

    #[test]
    fn spans_and_positions() {
        let doc = parse(REFERRAL).unwrap();
        let idx = LineIndex::new(REFERRAL.as_bytes());
        let child = el(&doc.root, "Child");
        let name = el(child, "Name");
        assert_eq!(idx.locate(name.span.start), (5, 5));
        let name_src = &REFERRAL[name.span.start..name.span.end];
        assert!(name_src.starts_with("<Name>") && name_src.ends_with("</Name>"), "{name_src}");
        let status = &child.attributes[0];
        assert_eq!(idx.locate(status.span.start), (4, 10));
        assert_eq!(&REFERRAL[status.span.start..status.span.end], "x:status=\"a &amp; b\"");
        let plain = &child.attributes[1];
        assert_eq!(&REFERRAL[plain.span.start..plain.span.end], "plain='q&lt;'");
        let code = el(child, "Code");
        assert_eq!(&REFERRAL[code.span.start..code.span.end], "<x:Code/>");
        let root_src = &REFERRAL[doc.root.span.start..doc.root.span.end];
        assert!(root_src.starts_with("<r:Referral") && root_src.ends_with("</r:Referral>"));
        let XmlNode::Text(t) = &name.children[0] else { panic!("no text") };
        assert_eq!(&REFERRAL[t.span.start..t.span.end], "Ann &lt;Smith&gt; &#163;&#x41;<![CDATA[<raw>]]>");
    }

    #[test]
    fn bom_and_crlf() {
        let src = "\u{FEFF}<a>\r\n<b>x\r\ny</b></a>";
        let doc = parse(src).unwrap();
        let b = el(&doc.root, "b");
        assert_eq!(b.text(), "x\ny");
        assert_eq!(&src[b.span.start..b.span.end], "<b>x\r\ny</b>");
        assert_eq!(doc.root.span.start, 3);
    }

    #[test]
    fn undeclared_entities_are_refused_where_they_stand() {
        let refs = "&a;".repeat(100_000);
        let src = format!("<kaboom>{refs}</kaboom>");
        let f = refused(src.as_bytes(), &Limits::default(), "xml-undeclared-entity");
        assert_eq!(loc(&f), (1, 9, "/kaboom".into()));
        assert!(f.message.contains("&a;"), "{}", f.message);
    }

    #[test]
    fn undeclared_entity_in_attribute() {
        let src = "<a>\n  <b v=\"x &nbsp; y\"/>\n</a>";
        let f = refused(src.as_bytes(), &Limits::default(), "xml-undeclared-entity");
        assert_eq!(loc(&f), (2, 11, "/a/b".into()));
        let span = f.location.and_then(|l| l.span).unwrap_or_default();
        assert_eq!(&src[span.start..span.end], "&nbsp;");
    }

    #[test]
    fn too_deep() {
        let n = 10_000;
        let src = format!("{}{}", "<d>".repeat(n), "</d>".repeat(n));
        let f = refused(src.as_bytes(), &Limits::default(), "too-deep");
        // The 65th element, at byte 64*3.
        assert_eq!(f.location.as_ref().and_then(|l| l.span).map(|s| s.start), Some(64 * 3));
        assert!(loc(&f).2.starts_with("/d/d[1]/d[1]"), "{}", loc(&f).2);
        // Exactly at the limit is fine.
        let ok = format!("{}{}", "<d>".repeat(64), "</d>".repeat(64));
        assert!(parse(&ok).is_ok());
        // Also with a huge limit nothing overflows (quick-xml caps nesting at 65535).
        let src = format!("{}{}", "<d>".repeat(70_000), "</d>".repeat(70_000));
        refused(src.as_bytes(), &Limits { max_depth: 1_000_000, ..Limits::default() }, "too-deep");
    }

    #[test]
    fn too_large() {
        let src = format!("<a>{}</a>", "x".repeat(2000));
        let f = refused(src.as_bytes(), &Limits { max_bytes: 1000, max_depth: 64 }, "input-too-large");
        assert_eq!((loc(&f).0, loc(&f).1), (1, 1));
        assert!(parse_xml(src.as_bytes(), &Limits { max_bytes: src.len(), max_depth: 64 }).is_ok());
    }

    #[test]
    fn invalid_utf8() {
        let f = refused(b"<a>\n  <b>caf\xE9</b>\n</a>", &Limits::default(), "invalid-utf8");
        assert_eq!((loc(&f).0, loc(&f).1), (2, 9));
        assert_eq!(f.location.and_then(|l| l.span), Some(Span::new(12, 13)));
    }

    #[test]
    fn mismatched_tag() {
        let src = "<Referral>\n  <Child>\n    <Name>Ann\n  </Child>\n</Referral>";
        let f = refused(src.as_bytes(), &Limits::default(), NOT_WELL_FORMED);
        assert_eq!(loc(&f), (4, 3, "/Referral/Child[1]/Name".into()));
        assert!(
            f.message.contains("expected `</Name>` to close `<Name>` opened at line 3, found `</Child>`")
                || f.message.contains("Expected `</Name>` to close `<Name>` opened at line 3, found `</Child>`"),
            "{}",
            f.message
        );
        assert!(f.excerpt.as_ref().is_some_and(|e| e.lines.iter().any(|l| l.text.contains("</Child>"))));
    }

    #[test]
    fn xpath_positions() {
        let src = "<R><C/><C><N/><N><x></y></N></C></R>";
        let f = refused(src.as_bytes(), &Limits::default(), NOT_WELL_FORMED);
        assert_eq!(loc(&f).2, "/R/C[2]/N[2]/x");
    }

    #[test]
    fn broken_documents_are_located() {
        let cases: &[(&str, (u32, u32))] = &[
            ("<a></a><b/>", (1, 8)),                   // second root
            ("<a></a>junk", (1, 8)),                   // text after root
            ("junk<a/>", (1, 1)),                      // text before root
            ("<a>\n<b>\n</a>", (3, 1)),                // mismatched
            ("<a>\n<b>", (2, 4)),                      // unclosed at end
            ("</a>", (1, 1)),                          // unmatched end
            ("", (1, 1)),                              // empty
            ("<a b=\"1\" b=\"2\"/>", (1, 10)),         // duplicate attribute
            ("<a>\n <b c=\"1/>\n</a>", (2, 2)),        // unterminated attribute value / tag
            ("<a>x & y</a>", (1, 6)),                  // lone ampersand
            ("<a><p:b/></a>", (1, 4)),                 // undeclared prefix
            ("<a>\n<b", (2, 1)),                       // unclosed tag
            ("<a><!-- x", (1, 4)),                     // unclosed comment
            ("<a/>\n<?xml version=\"1.0\"?>", (2, 1)), // late declaration
            ("<a>&#0;</a>", (1, 4)),                   // invalid char ref
        ];
        for (src, (line, col)) in cases {
            let f = refused(src.as_bytes(), &Limits::default(), NOT_WELL_FORMED);
            assert_eq!((loc(&f).0, loc(&f).1), (*line, *col), "{src:?}: {}", f.message);
            assert!(!f.message.is_empty());
            eprintln!("{src:?} -> {}: {}", loc(&f).2, f.message);
        }
    }

    #[test]
    fn comments_and_pis_dropped() {
        let doc = parse("<?pi x?><!--c--><a><!--c-->t<?p?>u</a><!--after-->\n").unwrap();
        assert_eq!(doc.root.children.len(), 1);
        assert_eq!(doc.root.text(), "tu");
    }

    #[test]
    fn no_panic_on_prefixes_of_a_document() {
        // Every truncation of a valid document either parses or gives one finding.
        for end in 0..REFERRAL.len() {
            if let Some(prefix) = REFERRAL.get(..end) {
                let _ = parse(prefix);
            }
        }
        for end in 0..REFERRAL.len() {
            let _ = parse_xml(&REFERRAL.as_bytes()[..end], &Limits::default());
        }
    }
}
