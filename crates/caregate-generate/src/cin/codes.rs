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
        for (key, list, element) in lists {
            let here = || format!("{context} {key}");
            check_weights(list).with_context(here)?;
            let name = elements.coded(element).with_context(here)?;
            let codelist =
                pack.codelists.get(name).ok_or_else(|| anyhow!("the pack has no code list `{name}`")).with_context(here)?;
            if let Some((code, _)) = list.iter().find(|(code, _)| !codelist.contains(code)) {
                bail!("{}: `{code}` is not a code of {} ({element})", here(), codelist.title);
            }
        }
        let here = || format!("{context} local_authorities");
        if file.local_authorities.is_empty() {
            return Err(anyhow!("the list is empty")).with_context(here);
        }
        // The code is written as three digits (LEA, and the first three of a UPN's body).
        if let Some((code, name)) = file.local_authorities.iter().find(|(code, _)| !(100..=999).contains(code)) {
            bail!("{}: `{code}` ({name}) is not a three-digit local authority code", here());
        }
        Ok(Codes {
            ethnicity: file.ethnicity,
            disability: file.disability,
            referral_source: file.referral_source,
            primary_need: file.primary_need,
            category_of_abuse: file.category_of_abuse,
            assessment_factors: file.assessment_factors,
            closure_after_plan: file.closure_after_plan,
            local_authorities: file.local_authorities,
        })
    }
}
