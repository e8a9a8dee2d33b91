//! The structure check: the pack's compiled JSON Schema over the instance, each error turned into a finding a
//! practitioner can read — named in the document's own terms (element names for XML, property names for JSON),
//! with code lists spelled out — and located in the user's file.

use jsonschema::error::ValidationErrorKind;
use serde_json::Value;

use crate::finding::Finding;
use crate::instance::from_xml::shorten;
use crate::standard::binding::unescape_pointer_token;
use crate::standard::StandardPack;

use super::SourceView;

/// Structure findings for `value` (a document of `pack`, or a record of one), checked with `validator`,
/// found at `prefix` in the located instance.
pub fn check(
    pack: &StandardPack,
    validator: &jsonschema::Validator,
    value: &Value,
    prefix: &str,
    view: &SourceView<'_>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    // Most documents are valid, and asking only that is several times cheaper than collecting errors.
    if validator.is_valid(value) {
        return findings;
    }
    for error in validator.iter_errors(value) {
        let inner = error.instance_path().as_str().to_string();
        let schema_path = error.schema_path().as_str().to_string();
        let pointer = format!("{prefix}{inner}");
        let name = view.display_name(pack, &pointer);
        let shown = shorten(&display_value(error.instance()), 60);
        // Where the finding points: the field it is about. For a missing field that is the field itself, which
        // the source does not have, so it is located at its parent; its pointer still names it.
        let mut at = pointer.clone();
        let (rule, message, fix): (&str, String, Option<String>) = match error.kind() {
            ValidationErrorKind::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                at = format!("{pointer}/{}", crate::standard::binding::escape_pointer_token(property));
                let missing = view.display_name(pack, &at);
                ("required", format!("{name} {}; it is required.", must_contain(&missing)), None)
            }
            ValidationErrorKind::Enum { options } => {
                let keyword_parent = schema_path.strip_suffix("/enum").unwrap_or(&schema_path);
                match pack.codelist_at(&schema_at(pack, validator, keyword_parent)) {
                    Some(list) => (
                        "enum",
                        format!("`{shown}` is not a code of {}; expected one of {}.", list.title, list.describe(8)),
                        Some(format!("Use a code of the list `{}`.", list.title)),
                    ),
                    None => {
                        let choices: Vec<String> =
                            options.as_array().map(|o| o.iter().map(display_value).collect()).unwrap_or_default();
                        (
                            "enum",
                            format!("`{shown}` is not allowed for {name}; expected one of {}.", choices.join(", ")),
                            None,
                        )
                    }
                }
            }
            ValidationErrorKind::Pattern { pattern } => {
                let what = description_at(pack, &schema_at(pack, validator, &schema_path), "/pattern")
                    .unwrap_or_else(|| name.clone());
                (
                    "pattern",
                    format!("`{shown}` does not have the form of {what}."),
                    Some(format!("Expected the form `{pattern}`.")),
                )
            }
            ValidationErrorKind::Format { format } => {
                let expected = match format.as_str() {
                    "date" => "a date (YYYY-MM-DD)",
                    "date-time" => "a date and time with its offset (e.g. 2026-11-20T09:30:00Z)",
                    "uuid" => "a UUID (e.g. 3f2b6c1e-8d4a-4b7e-9a1c-2e5f6a7b8c9d)",
                    "email" => "an email address",
                    _ => "the expected format",
                };
                ("format", format!("`{shown}` in {name} is not {expected}."), None)
            }
            ValidationErrorKind::MinLength { limit } => {
                if *limit == 1 {
                    ("minLength", format!("{name} is empty; it needs a value."), None)
                } else {
                    ("minLength", format!("{name} is shorter than {limit} characters."), None)
                }
            }
            ValidationErrorKind::MaxLength { limit } => (
                "maxLength",
                format!("{name} is longer than the {limit} characters allowed."),
                Some("Shorten it.".into()),
            ),
            ValidationErrorKind::MinItems { limit } => {
                ("minItems", format!("{name} needs at least {limit} item(s)."), None)
            }
            ValidationErrorKind::MaxItems { limit } => {
                ("maxItems", format!("{name} allows at most {limit} item(s)."), None)
            }
            ValidationErrorKind::Minimum { limit } => {
                ("minimum", format!("{name} is {shown}; the least allowed is {limit}."), None)
            }
            ValidationErrorKind::Maximum { limit } => {
                ("maximum", format!("{name} is {shown}; the most allowed is {limit}."), None)
            }
            ValidationErrorKind::Type { kind } => {
                ("type", format!("{name} is `{shown}`, which is not {}.", describe_type(&format!("{kind:?}"))), None)
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for property in unexpected {
                    let at = format!("{pointer}/{}", crate::standard::binding::escape_pointer_token(property));
                    findings.push(
                        Finding::error(
                            "unknown-property",
                            format!("`{property}` is not a field of {name} in this standard."),
                        )
                        .with_location(view.locate(&at)),
                    );
                }
                continue;
            }
            ValidationErrorKind::UniqueItems => ("uniqueItems", format!("{name} repeats an item."), None),
            ValidationErrorKind::Constant { expected_value } => {
                ("const", format!("{name} must be {}.", display_value(expected_value)), None)
            }
            ValidationErrorKind::AnyOf { .. } => {
                let branches = pack.schema.pointer(&schema_at(pack, validator, &schema_path));
                match branches.and_then(|b| crate::standard::xsd::describe_choice(b, error.instance())) {
                    Some((branches, held)) => (
                        "choice",
                        format!(
                            "{name} must hold the elements of one branch of its choice ({branches}); it holds {held}."
                        ),
                        Some("Keep the elements of one branch and remove the others.".into()),
                    ),
                    None => ("structure", format!("{name}: {error}"), None),
                }
            }
            _ => ("structure", format!("{name}: {error}"), None),
        };
        let mut finding = Finding::error(rule, message).with_location(view.locate(&at));
        finding.clause = Some(format!("{} structure", pack.reference()));
        finding.fix = fix;
        findings.push(finding);
    }
    findings
}

/// A keyword location of `validator` as a location in the pack's schema (a record validator is compiled from
/// the record's part of the schema).
fn schema_at(pack: &StandardPack, validator: &jsonschema::Validator, path: &str) -> String {
    match &pack.record_schema {
        Some((base, record)) if std::ptr::eq(validator, record) && !path.starts_with("/$defs") => {
            format!("{base}{path}")
        }
        _ => path.to_string(),
    }
}

/// The codes of the structure check's findings about one field: its presence or its value. Each is located at
/// that field's pointer (see `one_cause_once`).
pub(crate) const FIELD_CODES: [&str; 13] = [
    "required",
    "enum",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "type",
    "uniqueItems",
    "const",
];

/// How a `required` finding names what is missing; `one_cause_once` recognises a misspelt element's
/// consequence by it, so the wording lives here only.
pub(crate) fn must_contain(missing: &str) -> String {
    format!("must contain {missing}")
}

fn describe_type(kind: &str) -> &'static str {
    let k = kind.to_ascii_lowercase();
    if k.contains("integer") {
        "a whole number"
    } else if k.contains("number") {
        "a number"
    } else if k.contains("boolean") {
        "true or false"
    } else if k.contains("string") {
        "text"
    } else if k.contains("array") {
        "a list"
    } else if k.contains("object") {
        "a group of fields"
    } else {
        "of the expected type"
    }
}

fn description_at(pack: &StandardPack, schema_path: &str, keyword: &str) -> Option<String> {
    let node = pack.schema.pointer(schema_path.strip_suffix(keyword)?)?;
    node.get("description").or_else(|| node.get("title")).and_then(Value::as_str).map(str::to_string)
}

pub fn display_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// The last token of a pointer, unescaped.
pub fn last_token(pointer: &str) -> String {
    pointer.rsplit('/').next().map(unescape_pointer_token).unwrap_or_default()
}
