//! `standard.toml`: who a standard is, when it applies, and how a document of it is recognised.

use serde::Deserialize;

/// Where a standard is in its life; `standards list` shows it by its serde name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, strum::Display, strum::EnumIter)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Status {
    Draft,
    Active,
    Retired,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub title: String,
    pub publisher: String,
    pub status: Status,
    pub effective_from: Option<String>,
    pub effective_to: Option<String>,
    pub clause_prefix: Option<String>,
    pub description: Option<String>,
    pub xml: XmlRecognition,
    pub records: Option<Records>,
    /// For returns sent as tables (CSV files joined on a key): the tables.
    pub tables: Option<Tables>,
    /// For a standard whose documents are sent as a JSON array of records to an API: the array and the operation.
    pub payload: Option<Payload>,
    #[serde(default)]
    pub params: toml::Table,
}

/// A standard whose instance is one record of a payload (a JSON array of records, as an API takes it): the
/// limits of the array, the key of each record, and the operation that receives it. Written by the OpenAPI
/// importer from the document's own words; the pack's schema is the schema of one record.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payload {
    /// The component schema of the payload in the source document, e.g. `CSC`.
    pub schema: String,
    /// The property that names a record, e.g. `la_child_id`: the first property the record requires.
    pub key: String,
    /// The array's `minItems` and `maxItems`: at most this many records in one request.
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    /// The operation taking the payload as its JSON request body, e.g. `POST`.
    pub method: Option<String>,
    /// Its path, parameters in braces: `/children_social_care_data/{la_code}/children`.
    pub path: Option<String>,
    /// The `format` of its 200 response's schema (a receipt), e.g. `uuid`.
    pub receipt_format: Option<String>,
    /// The operation's path parameters, with their constraints.
    #[serde(default)]
    pub parameter: Vec<Parameter>,
}

/// A path parameter of the payload's operation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Parameter {
    pub name: String,
    /// `integer` or `string`.
    #[serde(rename = "type")]
    pub kind: String,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub pattern: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct XmlRecognition {
    pub root: String,
    #[serde(default)]
    pub namespace: String,
    /// `pascal` (default): element names are the JSON names with the first letter upper-cased;
    /// `as-is`: element names are the JSON names.
    #[serde(default)]
    pub naming: Naming,
    /// What a blank element holding a value (`<X></X>`, `<X/>`, or whitespace only) means.
    #[serde(default)]
    pub blank: Blank,
    /// Whether the elements below the document element are in `namespace` too (`qualified`, the default) or
    /// in no namespace (`unqualified`, as an XSD with `elementFormDefault="unqualified"` has them).
    #[serde(default)]
    pub elements: ElementForm,
}

/// Which namespace the elements below the document element are in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElementForm {
    /// In the standard's namespace, as the document element is.
    #[default]
    Qualified,
    /// In no namespace: only the document element is in the standard's namespace.
    Unqualified,
}

/// What a blank element holding a value means. DfE's returns read a blank element as not provided; a
/// message standard may read it as the empty text it holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Blank {
    /// The text it holds: an empty string, or (for a number, date, …) a value not of its datatype.
    #[default]
    Value,
    /// Not provided: the instance has no such member, exactly as if the element were left out, so that the
    /// structure check and the rules read it alike (a required one is missing, an optional one is absent).
    Absent,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Naming {
    #[default]
    Pascal,
    AsIs,
}

impl Naming {
    pub fn element_name(self, json_name: &str) -> String {
        match self {
            Naming::AsIs => json_name.to_string(),
            Naming::Pascal => {
                let mut chars = json_name.chars();
                match chars.next() {
                    Some(first) => first.to_uppercase().chain(chars).collect(),
                    None => String::new(),
                }
            }
        }
    }
}

/// For bulk standards: where the records are and what identifies each.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Records {
    /// Instance path of each record, e.g. `/Children/Child/*`.
    pub path: String,
    /// Path from a record to its key, e.g. `ChildIdentifiers/LAchildID`.
    pub key: String,
}

/// A return sent as several tables, each a CSV file known by its header row, whose rows are joined into
/// records on a key column. Each record (at `[records] path`) holds the key (at `[records] key`) and, for
/// every table, the array of that table's rows for it (empty when it has none), each row an object of its
/// columns (a blank cell is left out).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tables {
    /// The column that names the record in every table, e.g. `CHILD`.
    pub key: String,
    /// How dates are written in the tables: `dd/mm/yyyy`, read into the instance as ISO dates.
    #[serde(default)]
    pub dates: DateOrder,
    /// The return's XML form, when it has one.
    pub xml: Option<TablesXml>,
    pub table: Vec<Table>,
}

/// A return of tables written as one XML file: an element per record under the root, in which each table's
/// rows are elements whose childless children are the row's columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TablesXml {
    /// The document element, e.g. `EXPSSDA903`.
    pub root: String,
    /// The element of one record under the root, e.g. `CHILD`.
    pub record: String,
    /// The element under the record, e.g. `HEADER`, that columns a row's element lacks (the key, DOB, SEX) are
    /// taken from.
    pub inherit: String,
    /// Elements named otherwise than their column: `{ CHILDID = "CHILD", PL = "PLACE" }`.
    #[serde(default)]
    pub rename: std::collections::BTreeMap<String, String>,
}

/// Where a table's rows are in the XML form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableXml {
    /// The path of each row's element from the record, e.g. `HEADER/AREVIEW`.
    pub path: String,
    /// A row only when the row's element (or the inherited one) has one of these elements, not blank and not
    /// a value of `unless`, e.g. `["UASC", "DUC"]`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub when: Vec<String>,
    /// Values of a `when` element that do not make a row: `["0"]` for a flag that says no.
    #[serde(default)]
    pub unless: Vec<String>,
}

/// A name or a list of names.
fn one_or_many<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(name) => vec![name],
        OneOrMany::Many(names) => names,
    })
}

impl Table {
    /// The columns every file of the table has (all but the optional ones).
    pub fn required(&self) -> impl Iterator<Item = &String> {
        self.columns.iter().filter(|c| !self.optional.contains(c))
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// The table's name: the record's member holding its rows.
    pub name: String,
    /// Its columns, the key among them, in the order they are usually written.
    pub columns: Vec<String>,
    /// Columns (of `columns`) that a file of the table may lack, as DfE's CSV Header lacks the UASC status that
    /// its XML form carries: not reported missing, not counted when a file's header row is matched to a table,
    /// and read by rules that say so in `needs` (`"Header.UASC"`), which are not run when the files lack it.
    #[serde(default)]
    pub optional: Vec<String>,
    /// Where its rows are in the return's XML form; a table without is not in that form.
    pub xml: Option<TableXml>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum DateOrder {
    #[default]
    #[serde(rename = "dd/mm/yyyy")]
    DayMonthYear,
}
