//! The generic convention, for documents of no known standard. It is documented, predictable and **not**
//! round-trip guaranteed (it cannot know datatypes, order or which elements repeat):
//!
//! - XML → JSON: the document element becomes `{"<Name>": …}`. An element with neither attributes nor child
//!   elements becomes its text (a string). Otherwise an object: attributes as `"@name"`, child elements by
//!   local name (an array when the name repeats), and non-blank text as `"#text"`. Namespaces are dropped.
//! - JSON → XML: an object with one member becomes that element; otherwise the root is `<document>`. Objects
//!   become child elements (`"@x"` members become attributes, `"#text"` text), arrays repeat their element,
//!   scalars become text, `null` an empty element. Names that are not XML names are made so with `_`.

use serde_json::{Map, Value};

use crate::document::{Element, XmlNode};

use crate::instance::source::SourceNode;
use crate::instance::to_xml::{escape_attribute, escape_text_into, scalar_text};

/// An element by the generic convention, with its sources aligned.
pub fn element_to_value(element: &Element) -> (Value, SourceNode) {
    let has_elements = element.children.iter().any(|c| matches!(c, XmlNode::Element(_)));
    if element.attributes.is_empty() && !has_elements {
        let text: String = element
            .children
            .iter()
            .filter_map(|c| match c {
                XmlNode::Text(t) => Some(t.text.as_str()),
                XmlNode::Element(_) => None,
            })
            .collect();
        return (Value::String(text), SourceNode { span: element.span, step: String::new(), children: Vec::new() });
    }
    let mut entries: Vec<(String, Value, SourceNode)> = Vec::new();
    for attribute in &element.attributes {
        entries.push((
            format!("@{}", attribute.local),
            Value::String(attribute.value.clone()),
            SourceNode { span: attribute.span, step: format!("@{}", attribute.local), children: Vec::new() },
        ));
    }
    let mut text = String::new();
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for child in &element.children {
        if let XmlNode::Element(e) = child {
            *counts.entry(e.local.as_str()).or_default() += 1;
        }
    }
    let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for child in &element.children {
        match child {
            XmlNode::Text(t) => text.push_str(&t.text),
            XmlNode::Element(e) => {
                let (value, mut source) = element_to_value(e);
                let n = seen.entry(e.local.as_str()).or_default();
                *n += 1;
                if counts.get(e.local.as_str()).copied().unwrap_or(0) > 1 {
                    source.step = format!("{}[{}]", e.local, n);
                    match entries.iter_mut().find(|(k, _, _)| *k == e.local) {
                        Some((_, Value::Array(items), holder)) => {
                            items.push(value);
                            holder.children.push(source);
                        }
                        _ => entries.push((
                            e.local.clone(),
                            Value::Array(vec![value]),
                            SourceNode { span: e.span, step: String::new(), children: vec![source] },
                        )),
                    }
                } else {
                    source.step = e.local.clone();
                    entries.push((e.local.clone(), value, source));
                }
            }
        }
    }
    if !text.trim().is_empty() {
        entries.push((
            "#text".into(),
            Value::String(text),
            SourceNode { span: element.span, step: "text()".into(), children: Vec::new() },
        ));
    }
    let mut map = Map::new();
    let mut children = Vec::new();
    for (key, value, source) in entries {
        map.insert(key, value);
        children.push(source);
    }
    (Value::Object(map), SourceNode { span: element.span, step: String::new(), children })
}

/// A whole XML document by the generic convention: `{"<Root>": …}`.
pub fn document_to_value(root: &Element) -> Value {
    let (value, _) = element_to_value(root);
    let mut map = Map::new();
    map.insert(root.local.clone(), value);
    Value::Object(map)
}

/// A JSON value as XML by the generic convention.
pub fn value_to_xml(value: &Value) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    match value.as_object() {
        Some(map) if map.len() == 1 => {
            if let Some((name, inner)) = map.iter().next() {
                write_element(&xml_name(name), inner, 0, &mut out);
            }
        }
        _ => write_element("document", value, 0, &mut out),
    }
    out.push('\n');
    out
}

fn write_element(name: &str, value: &Value, depth: usize, out: &mut String) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    newline(depth, out);
                }
                write_element(name, item, depth, out);
            }
        }
        Value::Object(map) => {
            out.push('<');
            out.push_str(name);
            for (key, v) in map {
                if let Some(attr) = key.strip_prefix('@') {
                    if let Some(text) = scalar_text(v) {
                        out.push_str(&format!(" {}=\"{}\"", xml_name(attr), escape_attribute(&text)));
                    }
                }
            }
            out.push('>');
            let mut wrote_child = false;
            for (key, v) in map {
                if key.starts_with('@') {
                    continue;
                }
                if key == "#text" {
                    if let Some(text) = scalar_text(v) {
                        escape_text_into(&text, out);
                    }
                    continue;
                }
                newline(depth + 1, out);
                write_element(&xml_name(key), v, depth + 1, out);
                wrote_child = true;
            }
            if wrote_child {
                newline(depth, out);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
        Value::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
        }
        scalar => {
            out.push('<');
            out.push_str(name);
            out.push('>');
            if let Some(text) = scalar_text(scalar) {
                escape_text_into(&text, out);
            }
            out.push_str("</");
            out.push_str(name);
            out.push('>');
        }
    }
}

fn newline(depth: usize, out: &mut String) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str("  ");
    }
}

/// A JSON key made into an XML name: invalid characters become `_`, and a name that cannot start one is
/// prefixed with `_`.
pub fn xml_name(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 1);
    for (i, c) in key.chars().enumerate() {
        let ok = c.is_alphanumeric() || c == '_' || (i > 0 && (c == '-' || c == '.'));
        out.push(if ok { c } else { '_' });
    }
    match out.chars().next() {
        None => "_".to_string(),
        Some(c) if c.is_ascii_digit() || c == '-' || c == '.' => format!("_{out}"),
        Some(_) => out,
    }
}
