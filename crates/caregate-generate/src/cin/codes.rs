//! The pack data the census generator draws a clean child from (`[codes]` of `generate.toml`), and what the
//! pack's schema says of each element, by which `[codes]` and `[messy]` are checked when the pack is read.
//!
//! A weighted list keeps the file's order: a draw walks the list, so the same seed gives the same return only
//! while the order is kept.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _, Result};
use serde_json::Value;

use caregate_engine::standard::StandardPack;

/// What the schema says of one element.
#[derive(Debug, Clone, Default)]
pub(super) struct Element {
    /// The name of its code list (`x-codelist`).
    pub(super) codelist: Option<String>,
    /// Whether it holds a date (`format: date`).
    pub(super) date: bool,
}

/// Every element of a pack's schema, by name: each property, and the items of a wrapped list by their own
/// name (Disabilities/Disability).
#[derive(Debug, Clone, Default)]
pub(super) struct Elements(BTreeMap<String, Element>);

impl Elements {
    pub(super) fn of(pack: &StandardPack) -> Elements {
        let mut out = BTreeMap::new();
        walk(&pack.schema, &mut out);
        Elements(out)
    }

    /// The element named, or an error naming it.
    pub(super) fn get(&self, name: &str) -> Result<&Element> {
        self.0.get(name).ok_or_else(|| anyhow!("`{name}` is not an element of the pack's schema"))
    }

    /// The element named, which must have a code list.
    pub(super) fn coded(&self, name: &str) -> Result<&str> {
        self.get(name)?.codelist.as_deref().ok_or_else(|| anyhow!("`{name}` has no code list in the pack's schema"))
    }
}

fn walk(node: &Value, out: &mut BTreeMap<String, Element>) {
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            let element = |node: &Value| Element {
                codelist: node.get("x-codelist").and_then(Value::as_str).map(str::to_string),
                date: node.get("format").and_then(Value::as_str) == Some("date"),
            };
            out.entry(name.clone()).or_insert_with(|| element(property));
            if let Some(items) = property.get("items") {
                // A list's items are elements of their own name when they have one (Disabilities/Disability),
                // else of the list's: either way their code list and kind are those of the values written.
                let item = items.pointer("/xml/name").and_then(Value::as_str).unwrap_or(name);
                out.insert(item.to_string(), element(items));
            }
        }
    }
    for child in node.as_object().into_iter().flat_map(|o| o.values()) {
        walk(child, out);
    }
    for child in node.as_array().into_iter().flatten() {
        walk(child, out);
    }
}

/// A list of (item, weight) as the file writes it, `[["WBRI", 600], …]`.
pub(super) type WeightedList<T> = Vec<(T, u32)>;

/// Checks a weighted list: not empty, each weight at least 1, and the total within what a draw counts in.
pub(super) fn check_weights<T: std::fmt::Display>(list: &[(T, u32)]) -> Result<()> {
    if list.is_empty() {
        bail!("the list is empty");
    }
    if let Some((item, _)) = list.iter().find(|(_, weight)| *weight == 0) {
        bail!("give `{item}` a weight of at least 1");
    }
    if list.iter().try_fold(0u32, |total, (_, weight)| total.checked_add(*weight)).is_none() {
        bail!("the weights add up to more than {}", u32::MAX);
    }
    Ok(())
}

/// `[codes]` as `generate.toml` writes it.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CodesFile {
    ethnicity: WeightedList<String>,
    disability: WeightedList<String>,
    referral_source: WeightedList<String>,
    primary_need: WeightedList<String>,
    category_of_abuse: WeightedList<String>,
    assessment_factors: WeightedList<String>,
    closure_after_plan: WeightedList<String>,
    upn_unknown: Vec<String>,
    local_authorities: Vec<(u16, String)>,
}

/// The code mixes a clean child is drawn from, each checked against its element's code list.
#[derive(Debug, Clone)]
pub struct Codes {
    pub(super) ethnicity: WeightedList<String>,
    pub(super) disability: WeightedList<String>,
    pub(super) referral_source: WeightedList<String>,
    pub(super) primary_need: WeightedList<String>,
    pub(super) category_of_abuse: WeightedList<String>,
    pub(super) assessment_factors: WeightedList<String>,
    pub(super) closure_after_plan: WeightedList<String>,
    /// Why a school-age child has no UPN, drawn one as likely as another.
    pub(super) upn_unknown: Vec<String>,
    /// DfE local authority codes (three digits) and names, drawn one as likely as another.
    pub(super) local_authorities: Vec<(u16, String)>,
}

impl Codes {
    /// The pack's `[codes]`, checked: every list has codes of its element's code list, with weights.
    pub fn of(pack: &StandardPack) -> Result<Codes> {
        let context = format!("{}: generate.toml: [codes]", pack.reference());
        let Some(value) = super::super::GenerateFile::of(pack)?.codes else {
            bail!("{context}: the census generator needs the code mixes it draws children from, and there are none");
        };
        let file: CodesFile = value.try_into().with_context(|| context.clone())?;
        let elements = Elements::of(pack);
        // Each list, and the element whose code list its codes come from.
        let lists: [(&str, &WeightedList<String>, &str); 7] = [
            ("ethnicity", &file.ethnicity, "Ethnicity"),
            ("disability", &file.disability, "Disability"),
            ("referral_source", &file.referral_source, "ReferralSource"),
            ("primary_need", &file.primary_need, "PrimaryNeedCode"),
            ("category_of_abuse", &file.category_of_abuse, "InitialCategoryOfAbuse"),
            ("assessment_factors", &file.assessment_factors, "AssessmentFactors"),
            ("closure_after_plan", &file.closure_after_plan, "ReasonForClosure"),
        ];
        // Every code of a list must be one of its element's code list.
        let of_codelist = |key: &str, codes: Vec<&str>, element: &str| -> Result<()> {
            let here = || format!("{context} {key}");
            let name = elements.coded(element).with_context(here)?;
            let codelist = pack
                .codelists
                .get(name)
                .ok_or_else(|| anyhow!("the pack has no code list `{name}`"))
                .with_context(here)?;
            match codes.into_iter().find(|code| !codelist.contains(code)) {
                Some(code) => Err(anyhow!("{}: `{code}` is not a code of {} ({element})", here(), codelist.title)),
                None => Ok(()),
            }
        };
        for (key, list, element) in lists {
            check_weights(list).with_context(|| format!("{context} {key}"))?;
            of_codelist(key, list.iter().map(|(code, _)| code.as_str()).collect(), element)?;
        }
        if file.upn_unknown.is_empty() {
            bail!("{context} upn_unknown: the list is empty");
        }
        of_codelist("upn_unknown", file.upn_unknown.iter().map(String::as_str).collect(), "UPNunknown")?;
        if file.local_authorities.is_empty() {
            bail!("{context} local_authorities: the list is empty");
        }
        // The code is written as three digits (LEA, and the first three of a UPN's body).
        if let Some((code, name)) = file.local_authorities.iter().find(|(code, _)| !(100..=999).contains(code)) {
            bail!("{context} local_authorities: `{code}` ({name}) is not a three-digit local authority code");
        }
        Ok(Codes {
            ethnicity: file.ethnicity,
            disability: file.disability,
            referral_source: file.referral_source,
            primary_need: file.primary_need,
            category_of_abuse: file.category_of_abuse,
            assessment_factors: file.assessment_factors,
            closure_after_plan: file.closure_after_plan,
            upn_unknown: file.upn_unknown,
            local_authorities: file.local_authorities,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The census pack with the list `key` of `[codes]` (one line, or from `key = [` to a line `]`) replaced by
    /// `line`.
    fn with_codes_line(key: &str, line: &str) -> Result<Codes> {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("embedded packs");
        let pack = catalog.find("cin-census@2025-26").expect("the census pack");
        let text = String::from_utf8(pack.files.files["generate.toml"].clone()).expect("UTF-8");
        let from = text.find(&format!("\n{key} = ")).expect("the key is in [codes]") + 1;
        let end = if text[from..].starts_with(&format!("{key} = [\n")) { "\n]\n" } else { "\n" };
        let to = from + text[from..].find(end).expect("the list ends") + end.len();
        let mut files = pack.files.clone();
        files.files.insert("generate.toml".into(), format!("{}{line}\n{}", &text[..from], &text[to..]).into_bytes());
        Codes::of(&StandardPack::compile(files).expect("compiles"))
    }

    #[test]
    fn the_census_codes_are_read() {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("embedded packs");
        let codes = Codes::of(&catalog.find("cin-census@2025-26").expect("the census pack")).expect("[codes]");
        assert_eq!(codes.ethnicity.first(), Some(&("WBRI".to_string(), 600)), "the file's order is kept");
        assert_eq!(codes.local_authorities.len(), 34);
        assert!(with_codes_line("ethnicity", "ethnicity = [[\"WBRI\", 1]]").is_ok(), "the replacing works");
    }

    #[test]
    fn bad_code_mixes_are_refused_naming_the_entry() {
        let cases = [
            ("ethnicity", "ethnicity = []", "[codes] ethnicity: the list is empty"),
            ("ethnicity", "ethnicity = [[\"WBRI\", 0]]", "[codes] ethnicity: give `WBRI` a weight of at least 1"),
            ("primary_need", "primary_need = [[\"N1\", 4294967295], [\"N2\", 1]]", "weights add up to more than"),
            ("category_of_abuse", "category_of_abuse = [[\"NEGL\", 1]]", "`NEGL` is not a code of"),
            ("disability", "disability = [[\"AUT\", -1]]", "[codes]"),
            ("local_authorities", "local_authorities = []", "[codes] local_authorities: the list is empty"),
            ("upn_unknown", "upn_unknown = []", "[codes] upn_unknown: the list is empty"),
            ("upn_unknown", "upn_unknown = [\"UN9\"]", "[codes] upn_unknown: `UN9` is not a code of"),
            ("local_authorities", "local_authorities = [[8730, \"Cambridgeshire\"]]", "`8730` (Cambridgeshire)"),
            ("assessment_factors", "", "missing field `assessment_factors`"),
            ("closure_after_plan", "closure_after_plan = [[\"RC7\", 1]]\nclosures = [[\"RC7\", 1]]", "unknown field"),
        ];
        for (key, line, expected) in cases {
            let error = format!("{:#}", with_codes_line(key, line).expect_err(line));
            assert!(error.contains(expected), "{line}\n{error}");
        }
    }
}
