//! The XML binding of a standard, compiled from the annotations of its `schema.json`: element and attribute
//! names, namespace, element order, which values repeat (and whether inside a wrapper element), datatypes, and
//! each field's sensitivity class. One binding drives conversion both ways, the XSD export and redaction.
//!
//! Not for: checking values (that is the JSON Schema's job) or reading XML (that is `convert`'s).

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::manifest::{Blank, Naming};
use super::PackError;

/// What XML text becomes in the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    String,
    Integer,
    Number,
    Boolean,
}

impl ScalarType {
    pub fn describe(self) -> &'static str {
        match self {
            ScalarType::String => "text",
            ScalarType::Integer => "a whole number",
            ScalarType::Number => "a number",
            ScalarType::Boolean => "true or false",
        }
    }
}

#[derive(Debug)]
pub enum Node {
    Object(ObjectNode),
    Scalar(ScalarType),
    /// A whole document of another standard, named (`id@version`) by the sibling field `by`.
    Embedded {
        by: String,
    },
}

#[derive(Debug)]
pub struct ObjectNode {
    /// In XML order: attributes first are not required; element order is the order of element fields here.
    pub fields: Vec<Field>,
    by_json: HashMap<String, usize>,
    by_element: HashMap<String, usize>,
    by_attribute: HashMap<String, usize>,
    /// Choices among the fields (an XSD's `xs:choice`), said in the schema as `allOf: [{anyOf: [branch, …]}]`
    /// where each branch requires some of the choice's fields and forbids (`false`) those of the others. The JSON
    /// Schema checks them; the binding knows them so that the XSD export writes them as choices.
    pub choices: Vec<Choice>,
}

/// One choice among an object's fields, whose fields stand together in the fields' order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    /// Each branch: the indices of the fields it allows, in order, and which of them it requires.
    pub branches: Vec<ChoiceBranch>,
    /// Whether the choice may be left out (a branch allows nothing).
    pub optional: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChoiceBranch {
    pub fields: Vec<usize>,
    pub required: Vec<usize>,
}

impl ObjectNode {
    pub fn field_by_json(&self, name: &str) -> Option<(usize, &Field)> {
        self.by_json.get(name).map(|&i| (i, &self.fields[i]))
    }
    pub fn field_by_element(&self, name: &str) -> Option<(usize, &Field)> {
        self.by_element.get(name).map(|&i| (i, &self.fields[i]))
    }
    pub fn field_by_attribute(&self, name: &str) -> Option<(usize, &Field)> {
        self.by_attribute.get(name).map(|&i| (i, &self.fields[i]))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// At most one element.
    One,
    /// Each item is one repeated element named after the field.
    Repeated,
    /// A wrapper element named after the field holds one element per item.
    Wrapped,
}

#[derive(Debug)]
pub struct Field {
    pub json: String,
    /// Element (or attribute) name.
    pub xml: String,
    pub attribute: bool,
    pub repeat: Repeat,
    /// Item element name, for wrapped arrays.
    pub item_xml: String,
    pub required: bool,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub node: Arc<Node>,
    /// Sensitivity class, inherited from enclosing fields when the field declares none.
    pub sensitivity: Option<String>,
    /// The JSON Schema of the field's value (the item schema for arrays), refs resolved one level.
    pub schema: Value,
    /// A blank element of this field (a scalar, or an item of a list of scalars) is not provided: the
    /// converters leave it out of the instance (the pack's `[xml] blank = "absent"`).
    pub blank_absent: bool,
}

/// The compiled binding of one standard.
#[derive(Debug)]
pub struct Binding {
    pub root: String,
    pub namespace: String,
    /// The namespace of every element below the document element: `namespace`, or none when the pack's
    /// `[xml] elements = "unqualified"`.
    pub elements_namespace: String,
    pub node: Arc<Node>,
}

const MAX_BINDING_DEPTH: usize = 32;

impl Binding {
    pub fn compile(
        schema: &Value,
        root: &str,
        namespace: &str,
        naming: Naming,
        blank: Blank,
    ) -> Result<Binding, PackError> {
        let compiler = Compiler { schema, naming, blank };
        let node = compiler.node(schema, None, 0, "#")?;
        if !matches!(*node, Node::Object(_)) {
            return Err(PackError::Binding("the schema's top level must be an object".into()));
        }
        Ok(Binding {
            root: root.to_string(),
            namespace: namespace.to_string(),
            elements_namespace: namespace.to_string(),
            node,
        })
    }

    /// Walks a JSON Pointer through the binding; returns the fields passed, outermost first.
    /// Array indices are skipped. Stops at an embedded document or an unknown name.
    pub fn fields_along<'a>(&'a self, pointer: &str) -> Vec<&'a Field> {
        let mut out = Vec::new();
        let mut node: &Node = &self.node;
        for token in pointer.split('/').skip(1) {
            let token = unescape_pointer_token(token);
            if token.parse::<usize>().is_ok() {
                continue;
            }
            match node {
                Node::Object(object) => match object.field_by_json(&token) {
                    Some((_, field)) => {
                        out.push(field);
                        node = &field.node;
                    }
                    None => break,
                },
                _ => break,
            }
        }
        out
    }
}

/// A JSON Pointer token as the name it stands for (`~1` is `/`, `~0` is `~`).
pub fn unescape_pointer_token(token: &str) -> String {
    if token.contains('~') {
        token.replace("~1", "/").replace("~0", "~")
    } else {
        token.to_string()
    }
}

/// A name as a JSON Pointer token.
pub fn escape_pointer_token(token: &str) -> String {
    if token.contains(['~', '/']) {
        token.replace('~', "~0").replace('/', "~1")
    } else {
        token.to_string()
    }
}

struct Compiler<'s> {
    schema: &'s Value,
    naming: Naming,
    blank: Blank,
}

impl<'s> Compiler<'s> {
    /// Follows `$ref` (local only) to the schema it names.
    fn resolve(&self, mut node: &'s Value, at: &str) -> Result<&'s Value, PackError> {
        for _ in 0..MAX_BINDING_DEPTH {
            match node.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.strip_prefix('#').ok_or_else(|| {
                        PackError::Binding(format!("{at}: only local references (#/…) are allowed, not `{reference}`"))
                    })?;
                    node = self.schema.pointer(pointer).ok_or_else(|| {
                        PackError::Binding(format!("{at}: `{reference}` names nothing in the schema"))
                    })?;
                }
                None => return Ok(node),
            }
        }
        Err(PackError::Binding(format!("{at}: references nest too deeply")))
    }

    fn node(&self, schema: &'s Value, inherited: Option<&str>, depth: usize, at: &str) -> Result<Arc<Node>, PackError> {
        if depth > MAX_BINDING_DEPTH {
            return Err(PackError::Binding(format!("{at}: the structure nests too deeply (recursive $ref?)")));
        }
        let schema = self.resolve(schema, at)?;
        if let Some(by) = schema.get("x-embedded").and_then(Value::as_str) {
            return Ok(Arc::new(Node::Embedded { by: by.to_string() }));
        }
        let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "object" => self.object(schema, inherited, depth, at),
            "string" => Ok(Arc::new(Node::Scalar(ScalarType::String))),
            "integer" => Ok(Arc::new(Node::Scalar(ScalarType::Integer))),
            "number" => Ok(Arc::new(Node::Scalar(ScalarType::Number))),
            "boolean" => Ok(Arc::new(Node::Scalar(ScalarType::Boolean))),
            "array" => Err(PackError::Binding(format!("{at}: an array must be the value of a property"))),
            other => Err(PackError::Binding(format!(
                "{at}: `type` must be one of object, string, integer, number, boolean, array (found `{other}`)"
            ))),
        }
    }

    fn object(
        &self,
        schema: &'s Value,
        inherited: Option<&str>,
        depth: usize,
        at: &str,
    ) -> Result<Arc<Node>, PackError> {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let mut fields = Vec::new();
        let mut by_json = HashMap::new();
        let mut by_element = HashMap::new();
        let mut by_attribute = HashMap::new();
        if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
            for (name, property) in properties {
                let here = format!("{at}/properties/{name}");
                let declared = property.get("x-sensitivity").and_then(Value::as_str);
                let resolved = self.resolve(property, &here)?;
                let declared = declared.or_else(|| resolved.get("x-sensitivity").and_then(Value::as_str));
                let sensitivity = declared.or(inherited).map(str::to_string);
                let xml = xml_annotation(property).or_else(|| xml_annotation(resolved));
                let element = xml
                    .and_then(|x| x.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .unwrap_or_else(|| self.naming.element_name(name));
                let attribute = xml.and_then(|x| x.get("attribute")).and_then(Value::as_bool).unwrap_or(false);
                let is_array = resolved.get("type").and_then(Value::as_str) == Some("array");
                let (repeat, item_xml, node, value_schema, min_items, max_items) = if is_array {
                    let wrapped = xml.and_then(|x| x.get("wrapped")).and_then(Value::as_bool).unwrap_or(false);
                    let items = resolved
                        .get("items")
                        .ok_or_else(|| PackError::Binding(format!("{here}: an array needs `items`")))?;
                    let items_resolved = self.resolve(items, &here)?;
                    let item_xml = xml_annotation(items)
                        .or_else(|| xml_annotation(items_resolved))
                        .and_then(|x| x.get("name"))
                        .and_then(Value::as_str)
                        .map(str::to_string);
                    let min_items = resolved.get("minItems").and_then(Value::as_u64);
                    let max_items = resolved.get("maxItems").and_then(Value::as_u64);
                    let repeat = if wrapped {
                        if item_xml.is_none() {
                            return Err(PackError::Binding(format!(
                                "{here}: a wrapped array needs `items.xml.name` (the item element)"
                            )));
                        }
                        Repeat::Wrapped
                    } else {
                        if min_items.unwrap_or(0) < 1 {
                            return Err(PackError::Binding(format!(
                                "{here}: an unwrapped array needs `minItems` ≥ 1 (an empty one has no XML form)"
                            )));
                        }
                        Repeat::Repeated
                    };
                    let item_sensitivity =
                        items.get("x-sensitivity").and_then(Value::as_str).or(sensitivity.as_deref());
                    let node = self.node(items, item_sensitivity, depth + 1, &format!("{here}/items"))?;
                    (repeat, item_xml.unwrap_or_default(), node, items_resolved.clone(), min_items, max_items)
                } else {
                    let node = self.node(property, sensitivity.as_deref(), depth + 1, &here)?;
                    (Repeat::One, String::new(), node, resolved.clone(), None, None)
                };
                if attribute && (repeat != Repeat::One || !matches!(*node, Node::Scalar(_))) {
                    return Err(PackError::Binding(format!("{here}: only a single scalar value can be an attribute")));
                }
                let index = fields.len();
                let clash = if attribute {
                    by_attribute.insert(element.clone(), index)
                } else {
                    by_element.insert(element.clone(), index)
                };
                if clash.is_some() {
                    return Err(PackError::Binding(format!("{here}: XML name `{element}` is used twice")));
                }
                by_json.insert(name.clone(), index);
                fields.push(Field {
                    json: name.clone(),
                    xml: element,
                    attribute,
                    repeat,
                    item_xml,
                    required: required.contains(&name.as_str()),
                    min_items,
                    max_items,
                    sensitivity,
                    schema: value_schema,
                    blank_absent: self.blank == Blank::Absent && matches!(*node, Node::Scalar(_)) && !attribute,
                    node,
                });
            }
        }
        let choices = choices(schema, &by_json);
        Ok(Arc::new(Node::Object(ObjectNode { fields, by_json, by_element, by_attribute, choices })))
    }
}

/// The choices of an object schema, in the form the XSD import writes them; a part of `allOf` that is not one
/// is left to the JSON Schema alone.
fn choices(schema: &Value, by_json: &HashMap<String, usize>) -> Vec<Choice> {
    let mut out = Vec::new();
    for part in schema.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        let Some(branches) = part.get("anyOf").and_then(Value::as_array) else { continue };
        let mut members: Vec<usize> = Vec::new();
        let mut forbidden_by: Vec<Vec<usize>> = Vec::new();
        let mut required_by: Vec<Vec<usize>> = Vec::new();
        let mut shaped = true;
        for branch in branches {
            let forbidden: Option<Vec<usize>> = branch
                .get("properties")
                .and_then(Value::as_object)
                .map(|p| {
                    p.iter()
                        .map(|(name, s)| (s == &Value::Bool(false)).then(|| by_json.get(name).copied()).flatten())
                        .collect()
                })
                .unwrap_or_default();
            let required: Option<Vec<usize>> = branch
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().map(|name| name.as_str().and_then(|n| by_json.get(n).copied())).collect())
                .unwrap_or_else(|| Some(Vec::new()));
            match (forbidden, required) {
                (Some(forbidden), Some(required))
                    if branch.as_object().is_some_and(|b| b.keys().all(|k| k == "properties" || k == "required")) =>
                {
                    members.extend(forbidden.iter().chain(&required));
                    forbidden_by.push(forbidden);
                    required_by.push(required);
                }
                _ => shaped = false,
            }
        }
        members.sort_unstable();
        members.dedup();
        // The fields must stand together, for the choice to have one place in the sequence.
        let contiguous = members.windows(2).all(|w| w[1] == w[0] + 1);
        if !shaped || members.is_empty() || !contiguous {
            continue;
        }
        let mut choice = Choice { branches: Vec::new(), optional: false };
        for (forbidden, required) in forbidden_by.into_iter().zip(required_by) {
            let fields: Vec<usize> = members.iter().copied().filter(|m| !forbidden.contains(m)).collect();
            if fields.is_empty() {
                choice.optional = true;
            } else {
                choice.branches.push(ChoiceBranch { fields, required });
            }
        }
        out.push(choice);
    }
    out
}

fn xml_annotation(schema: &Value) -> Option<&serde_json::Map<String, Value>> {
    schema.get("xml").and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["name"],
            "properties": {
                "id": {"type": "string", "xml": {"attribute": true}},
                "name": {"$ref": "#/$defs/Name", "x-sensitivity": "identity"},
                "tags": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                "codes": {"type": "array", "xml": {"wrapped": true}, "items": {"type": "integer", "xml": {"name": "Code"}}}
            },
            "$defs": {"Name": {"type": "object", "properties": {"given": {"type": "string"}}}}
        })
    }

    #[test]
    fn compiles_names_order_repeats_and_inherited_sensitivity() {
        let b = Binding::compile(&schema(), "Doc", "urn:x", Naming::Pascal, Blank::Value).unwrap();
        let Node::Object(root) = &*b.node else { panic!("object expected") };
        let names: Vec<_> = root.fields.iter().map(|f| f.xml.as_str()).collect();
        assert_eq!(names, ["Id", "Name", "Tags", "Codes"]);
        assert!(root.fields[0].attribute);
        assert_eq!(root.fields[2].repeat, Repeat::Repeated);
        assert_eq!(root.fields[3].repeat, Repeat::Wrapped);
        assert_eq!(root.fields[3].item_xml, "Code");
        assert!(root.fields[1].required);
        let Node::Object(name) = &*root.fields[1].node else { panic!("object expected") };
        assert_eq!(name.fields[0].sensitivity.as_deref(), Some("identity"));
        let along = b.fields_along("/name/given");
        assert_eq!(along.len(), 2);
    }

    #[test]
    fn refuses_unwrapped_array_that_may_be_empty() {
        let s = json!({"type": "object", "properties": {"a": {"type": "array", "items": {"type": "string"}}}});
        let err = Binding::compile(&s, "D", "", Naming::Pascal, Blank::Value).unwrap_err();
        assert!(err.to_string().contains("minItems"), "{err}");
    }
}
