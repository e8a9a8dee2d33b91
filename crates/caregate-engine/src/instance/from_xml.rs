//! XML → instance, driven by the binding: element names, order, repeats and datatypes. Structural problems the
//! JSON Schema cannot see (unknown or misplaced elements, wrong namespace, text where elements belong, values
//! that are not of their datatype) become located findings here; everything else is left to the schema.

use serde_json::{Map, Number, Value};

use crate::document::{Element, LineIndex, XmlNode};
use crate::finding::{Finding, Location, Span};
use crate::standard::{Catalog, Field, Node, ObjectNode, Repeat, ScalarType, StandardPack};

use super::generic;
use crate::instance::source::SourceNode;

/// The instance built from an XML document, with where each node came from and what was wrong on the way.
pub struct FromXml {
    pub value: Value,
    pub source: SourceNode,
    pub findings: Vec<Finding>,
}

/// An XPath built only when a finding needs it: each step borrows its parent.
#[derive(Clone, Copy)]
struct XPath<'a> {
    parent: Option<&'a XPath<'a>>,
    step: &'a str,
}

impl<'a> XPath<'a> {
    fn root(step: &'a str) -> Self {
        XPath { parent: None, step }
    }
    fn child(&'a self, step: &'a str) -> XPath<'a> {
        XPath { parent: Some(self), step }
    }
    fn render(&self) -> String {
        let mut steps = vec![self.step];
        let mut at = self.parent;
        while let Some(link) = at {
            steps.push(link.step);
            at = link.parent;
        }
        steps.reverse();
        let mut out = String::new();
        for step in steps {
            let step = step.trim_start_matches('/');
            if !step.is_empty() {
                out.push('/');
                out.push_str(step);
            }
        }
        out
    }
}

struct Reader<'a> {
    catalog: &'a Catalog,
    lines: &'a LineIndex,
    findings: Vec<Finding>,
}

/// Converts `root` (the document element) as a document of `pack`.
pub fn from_xml(root: &Element, pack: &StandardPack, catalog: &Catalog, lines: &LineIndex) -> FromXml {
    let mut reader = Reader { catalog, lines, findings: Vec::new() };
    let path = XPath::root(&root.local);
    if root.local != pack.binding.root || root.namespace != pack.binding.namespace {
        reader.finding(
            "root-element",
            format!(
                "The document element is `{}`{}; a {} document starts with `{}`{}.",
                root.local,
                describe_ns(&root.namespace),
                pack.manifest.title,
                pack.binding.root,
                describe_ns(&pack.binding.namespace)
            ),
            root.span,
            &path,
        );
    }
    let (value, mut source) = reader.node(root, &pack.binding.node, &pack.binding.elements_namespace, &path);
    source.step = root.local.clone();
    FromXml { value, source, findings: reader.findings }
}

/// Converts one element that stands somewhere inside a document (a record of a bulk return, or a part such as
/// its header) as a value of `node`; `path` is the element's XPath, used in findings.
pub fn from_xml_part(
    element: &Element,
    node: &Node,
    namespace: &str,
    catalog: &Catalog,
    lines: &LineIndex,
    path: &str,
) -> FromXml {
    let mut reader = Reader { catalog, lines, findings: Vec::new() };
    let (value, mut source) = reader.node(element, node, namespace, &XPath::root(path));
    source.step = path.rsplit('/').next().unwrap_or_default().to_string();
    FromXml { value, source, findings: reader.findings }
}

/// What the `namespace` finding says of an element that is not in `namespace`, where it belongs.
pub(crate) fn misplaced(element: &Element, namespace: &str) -> String {
    if namespace.is_empty() {
        // No namespace: a standard with none, or one whose elements below the document element are unqualified.
        return format!(
            "`<{}>` is{}; it belongs in no namespace (write it without a prefix, and no default namespace over it).",
            element.local,
            describe_ns(&element.namespace)
        );
    }
    format!("`<{}>` is{}; it belongs in namespace `{namespace}`.", element.local, describe_ns(&element.namespace))
}

fn describe_ns(ns: &str) -> String {
    if ns.is_empty() {
        " (no namespace)".to_string()
    } else {
        format!(" in namespace `{ns}`")
    }
}

impl Reader<'_> {
    fn finding(&mut self, rule: &str, message: String, span: Span, path: &XPath<'_>) {
        let (line, column) = self.lines.locate(span.start);
        self.findings.push(Finding::error(rule, message).with_location(Location {
            line,
            column,
            path: path.render(),
            pointer: None,
            span: Some(span),
        }));
    }

    fn node(&mut self, element: &Element, node: &Node, namespace: &str, path: &XPath<'_>) -> (Value, SourceNode) {
        match node {
            Node::Object(object) => self.object(element, object, namespace, path),
            Node::Scalar(kind) => {
                let value = self.scalar(element, *kind, path);
                (value, SourceNode { span: element.span, step: String::new(), children: Vec::new() })
            }
            Node::Embedded { .. } => {
                // Embedded documents are handled by the object that holds them (it knows the sibling).
                let (value, source) = generic::element_to_value(element);
                (value, source)
            }
        }
    }

    fn object(
        &mut self,
        element: &Element,
        object: &ObjectNode,
        namespace: &str,
        path: &XPath<'_>,
    ) -> (Value, SourceNode) {
        // Slots in binding order; each holds the value and its source.
        let mut slots: Vec<Option<(Value, SourceNode)>> = (0..object.fields.len()).map(|_| None).collect();
        for attribute in &element.attributes {
            let astep = format!("@{}", attribute.local);
            let apath = path.child(&astep);
            match object.field_by_attribute(&attribute.local) {
                Some((index, field)) if attribute.namespace.is_empty() => {
                    let kind = match &*field.node {
                        Node::Scalar(kind) => *kind,
                        _ => ScalarType::String,
                    };
                    let value = self.typed(&attribute.value, kind, attribute.span, &apath);
                    let source = SourceNode {
                        span: attribute.span,
                        step: format!("@{}", attribute.local),
                        children: Vec::new(),
                    };
                    slots[index] = Some((value, source));
                }
                _ => {
                    if attribute.namespace == "http://www.w3.org/2001/XMLSchema-instance" {
                        continue;
                    }
                    self.finding(
                        "unknown-attribute",
                        format!("`{}` is not an attribute of `<{}>` in this standard.", attribute.local, element.local),
                        attribute.span,
                        &apath,
                    );
                }
            }
        }
        let mut furthest: Option<usize> = None;
        let mut counts: Vec<usize> = vec![0; object.fields.len()];
        for child in &element.children {
            let child = match child {
                XmlNode::Element(e) => e,
                XmlNode::Text(text) => {
                    if !text.text.trim().is_empty() {
                        self.finding(
                            "unexpected-text",
                            format!(
                                "Text `{}` stands directly inside `<{}>`, which holds only elements.",
                                shorten(text.text.trim(), 40),
                                element.local
                            ),
                            text.span,
                            path,
                        );
                    }
                    continue;
                }
            };
            let Some((index, field)) = object.field_by_element(&child.local).filter(|(_, f)| !f.attribute) else {
                let (message, fix) = unknown_element(&child.local, &element.local, object);
                self.finding("unknown-element", message, child.span, &path.child(&child.local));
                if let Some(finding) = self.findings.last_mut() {
                    finding.fix = fix;
                }
                continue;
            };
            counts[index] += 1;
            let occurrence = counts[index];
            let step = if field.repeat == Repeat::Repeated {
                format!("{}[{occurrence}]", child.local)
            } else {
                child.local.clone()
            };
            let child_path = path.child(&step);
            if child.namespace != namespace {
                self.finding("namespace", misplaced(child, namespace), child.span, &child_path);
            }
            if field.repeat != Repeat::Repeated && occurrence > 1 {
                self.finding(
                    "duplicate-element",
                    format!("`<{}>` appears more than once; only one is allowed here.", child.local),
                    child.span,
                    &child_path,
                );
                continue;
            }
            if let Some(furthest) = furthest {
                if index < furthest {
                    self.finding(
                        "element-order",
                        format!(
                            "`<{}>` is out of order: it must come before `<{}>`.",
                            child.local, object.fields[furthest].xml
                        ),
                        child.span,
                        &child_path,
                    );
                }
            }
            furthest = Some(furthest.map_or(index, |f: usize| f.max(index)));
            // A blank wrapper of a list is an empty list, not an absent one: only its blank items are left out.
            if field.blank_absent && field.repeat != Repeat::Wrapped && is_blank(child) {
                continue;
            }
            match field.repeat {
                Repeat::One => {
                    let converted = self.field_value(child, field, namespace, &child_path, &slots, object);
                    slots[index] = Some(converted);
                }
                Repeat::Repeated => {
                    let (value, mut source) = self.node(child, &field.node, namespace, &child_path);
                    source.step = step;
                    let slot = slots[index].get_or_insert_with(|| {
                        (
                            Value::Array(Vec::new()),
                            SourceNode { span: child.span, step: String::new(), children: Vec::new() },
                        )
                    });
                    if let Value::Array(items) = &mut slot.0 {
                        items.push(value);
                    }
                    slot.1.span.end = child.span.end;
                    slot.1.children.push(source);
                }
                Repeat::Wrapped => {
                    let converted = self.wrapped(child, field, namespace, &child_path);
                    slots[index] = Some(converted);
                }
            }
        }
        let mut map = Map::new();
        let mut children = Vec::new();
        for (field, slot) in object.fields.iter().zip(slots) {
            if let Some((value, source)) = slot {
                map.insert(field.json.clone(), value);
                children.push(source);
            }
        }
        (Value::Object(map), SourceNode { span: element.span, step: String::new(), children })
    }

    /// A single (non-repeating) field's element: a nested object, a scalar, or an embedded document.
    fn field_value(
        &mut self,
        child: &Element,
        field: &Field,
        namespace: &str,
        child_path: &XPath<'_>,
        slots: &[Option<(Value, SourceNode)>],
        object: &ObjectNode,
    ) -> (Value, SourceNode) {
        if let Node::Embedded { by } = &*field.node {
            let reference = object
                .field_by_json(by)
                .and_then(|(i, _)| slots[i].as_ref())
                .and_then(|(v, _)| v.as_str())
                .map(str::to_string);
            return self.embedded(child, reference.as_deref(), child_path);
        }
        let (value, mut source) = self.node(child, &field.node, namespace, child_path);
        source.step = child.local.clone();
        (value, source)
    }

    fn wrapped(&mut self, wrapper: &Element, field: &Field, namespace: &str, path: &XPath<'_>) -> (Value, SourceNode) {
        let mut items = Vec::new();
        let mut sources = Vec::new();
        for child in &wrapper.children {
            match child {
                XmlNode::Text(text) => {
                    if !text.text.trim().is_empty() {
                        self.finding(
                            "unexpected-text",
                            format!(
                                "Text `{}` stands directly inside `<{}>`, which holds only `<{}>` elements.",
                                shorten(text.text.trim(), 40),
                                wrapper.local,
                                field.item_xml
                            ),
                            text.span,
                            path,
                        );
                    }
                }
                XmlNode::Element(item) => {
                    let step = format!("{}[{}]", item.local, items.len() + 1);
                    let item_path = path.child(&step);
                    if item.local != field.item_xml {
                        self.finding(
                            "unknown-element",
                            format!(
                                "`<{}>` is not allowed in `<{}>`; each item is a `<{}>`.",
                                item.local, wrapper.local, field.item_xml
                            ),
                            item.span,
                            &item_path,
                        );
                        continue;
                    }
                    if item.namespace != namespace {
                        self.finding("namespace", misplaced(item, namespace), item.span, &item_path);
                    }
                    if field.blank_absent && is_blank(item) {
                        continue;
                    }
                    let (value, mut source) = self.node(item, &field.node, namespace, &item_path);
                    source.step = step;
                    items.push(value);
                    sources.push(source);
                }
            }
        }
        (Value::Array(items), SourceNode { span: wrapper.span, step: wrapper.local.clone(), children: sources })
    }

    /// An element holding a whole document of the standard named by `reference`.
    fn embedded(&mut self, holder: &Element, reference: Option<&str>, path: &XPath<'_>) -> (Value, SourceNode) {
        let inner: Vec<&Element> = holder
            .children
            .iter()
            .filter_map(|c| match c {
                XmlNode::Element(e) => Some(e),
                XmlNode::Text(_) => None,
            })
            .collect();
        let [document] = inner.as_slice() else {
            self.finding(
                "embedded-document",
                format!("`<{}>` must hold exactly one document element; it holds {}.", holder.local, inner.len()),
                holder.span,
                path,
            );
            return (
                Value::Object(Map::new()),
                SourceNode { span: holder.span, step: holder.local.clone(), children: Vec::new() },
            );
        };
        let inner_path = path.child(&document.local);
        let pack = reference.and_then(|r| self.catalog.find(r));
        let (value, mut source) = match pack {
            Some(pack) => {
                if document.local != pack.binding.root || document.namespace != pack.binding.namespace {
                    self.finding(
                        "root-element",
                        format!(
                            "`<{}>` holds `<{}>`{}, but the envelope says the body is {}, whose document element is `<{}>`{}.",
                            holder.local,
                            document.local,
                            describe_ns(&document.namespace),
                            pack.reference(),
                            pack.binding.root,
                            describe_ns(&pack.binding.namespace)
                        ),
                        document.span,
                        &inner_path,
                    );
                }
                self.node(document, &pack.binding.node, &pack.binding.elements_namespace, &inner_path)
            }
            None => generic::element_to_value(document),
        };
        source.step = format!("{}/{}", holder.local, document.local);
        (value, source)
    }

    fn scalar(&mut self, element: &Element, kind: ScalarType, path: &XPath<'_>) -> Value {
        let mut text = String::new();
        for child in &element.children {
            match child {
                XmlNode::Text(t) => text.push_str(&t.text),
                XmlNode::Element(e) => self.finding(
                    "unexpected-element",
                    format!("`<{}>` holds a value, not elements; `<{}>` is not allowed in it.", element.local, e.local),
                    e.span,
                    &path.child(&e.local),
                ),
            }
        }
        for attribute in &element.attributes {
            if attribute.namespace != "http://www.w3.org/2001/XMLSchema-instance" {
                self.finding(
                    "unknown-attribute",
                    format!("`{}` is not an attribute of `<{}>` in this standard.", attribute.local, element.local),
                    attribute.span,
                    &path.child(&format!("@{}", attribute.local)),
                );
            }
        }
        self.typed(&text, kind, element.span, path)
    }

    /// Text as the datatype says; text that is not of its type is reported and kept as text.
    fn typed(&mut self, text: &str, kind: ScalarType, span: Span, path: &XPath<'_>) -> Value {
        match parse_typed(text, kind) {
            Some(value) => value,
            None => {
                self.finding("type", not_of_type(text, kind), span, path);
                Value::String(text.to_string())
            }
        }
    }
}

/// The message (and fix, for a near miss) of an element `name` that `<parent>`, of `object`, does not have.
pub(crate) fn unknown_element(name: &str, parent: &str, object: &ObjectNode) -> (String, Option<String>) {
    let expected: Vec<&str> = object.fields.iter().filter(|f| !f.attribute).map(|f| f.xml.as_str()).collect();
    let message =
        format!("`<{name}>` is not part of `<{parent}>` in this standard; expected one of: {}.", expected.join(", "));
    (message, nearest(name, &expected).map(|near| format!("Did you mean `<{near}>`?")))
}

/// The message of a value `text` that is not of its datatype.
pub(crate) fn not_of_type(text: &str, kind: ScalarType) -> String {
    format!("`{}` is not {}.", shorten(text, 40), kind.describe())
}

/// A blank element: no child element, no attribute but `xsi:` ones, and no text but whitespace.
fn is_blank(element: &Element) -> bool {
    element.attributes.iter().all(|a| a.namespace == "http://www.w3.org/2001/XMLSchema-instance")
        && element.children.iter().all(|c| matches!(c, XmlNode::Text(t) if t.text.trim().is_empty()))
}

/// The instance value of XML text of a datatype (XSD whitespace collapse for non-strings).
pub fn parse_typed(text: &str, kind: ScalarType) -> Option<Value> {
    match kind {
        ScalarType::String => Some(Value::String(text.to_string())),
        ScalarType::Integer => {
            let t = text.trim();
            let t = t.strip_prefix('+').unwrap_or(t);
            if let Ok(i) = t.parse::<i64>() {
                Some(Value::Number(i.into()))
            } else {
                t.parse::<u64>().ok().map(|u| Value::Number(u.into()))
            }
        }
        ScalarType::Number => {
            let t = text.trim();
            if t.is_empty() || t.contains(['e', 'E', 'I', 'N', 'n', 'i']) {
                // XSD decimal: no exponent, no INF/NaN.
                return None;
            }
            if let Ok(i) = t.strip_prefix('+').unwrap_or(t).parse::<i64>() {
                return Some(Value::Number(i.into()));
            }
            t.parse::<f64>().ok().and_then(Number::from_f64).map(Value::Number)
        }
        ScalarType::Boolean => match text.trim() {
            "true" | "1" => Some(Value::Bool(true)),
            "false" | "0" => Some(Value::Bool(false)),
            _ => None,
        },
    }
}

/// The expected name closest to a misspelt one (by edit distance, ignoring case), if it is close.
pub(crate) fn nearest<'a>(name: &str, expected: &[&'a str]) -> Option<&'a str> {
    let lower = name.to_lowercase();
    expected
        .iter()
        .map(|e| (edit_distance(&lower, &e.to_lowercase()), *e))
        .filter(|(d, e)| *d <= 2.max(e.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitute = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

pub(crate) fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}
