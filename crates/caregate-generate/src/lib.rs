//! Synthetic documents of a standard, reproducible by seed, for suppliers' testing and for benchmarks.
//!
//! A pack's examples are the templates: valid documents from `examples/valid/`, and for faults the documents of
//! `examples/invalid/`, each of which breaks exactly one rule. Every generated document takes a template and
//! gives new values to the fields the pack's `generate.toml` names (names, NHS numbers, UPNs, postcodes,
//! identifiers, free text), each value consistent with the rules (an NHS number passes Modulus 11, a UPN has
//! its check letter). So generated documents are as realistic as the examples, and a fault at rate R
//! exercises every rule in turn.
//!
//! A pack with no valid example (one just imported or scaffolded) is generated from its schema alone
//! ([`schema`]): valid by structure, with no faults.
//!
//! Not for: bulk standards with a generator of their own (`generator = "cin-census"` in `generate.toml`: [`cin`];
//! `generator = "ssda903"`: [`ssda903`]).

pub mod cin;
mod draw;
pub mod schema;
pub mod ssda903;
pub mod values;

use std::collections::BTreeMap;

use anyhow::{anyhow, Context as _, Result};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::Value;

use caregate_engine::convert::Target;
use caregate_engine::instance::to_xml;
use caregate_engine::standard::{Catalog, StandardPack};

/// One generated document.
pub struct Generated {
    pub value: Value,
    /// The rule this document deliberately breaks, when it is a faulty one.
    pub fault: Option<String>,
}

impl Generated {
    pub fn render(&self, target: Target, pack: &StandardPack, catalog: &Catalog) -> String {
        match target {
            Target::Json => serde_json::to_string_pretty(&self.value).unwrap_or_default() + "\n",
            Target::Xml => to_xml(&self.value, pack, catalog).xml,
        }
    }
}

/// A pack's `generate.toml`: which generator makes its documents, and what that generator is told.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct GenerateFile {
    /// `examples` (the default), `cin-census` or `ssda903`.
    #[serde(default)]
    generator: Option<String>,
    /// For the examples: instance path (with `*` for every item) → kind of value.
    #[serde(default)]
    vary: BTreeMap<String, String>,
    /// For the census and SSDA903 generators: the faults, as each reads them ([`cin::FaultLists`],
    /// [`ssda903::Plan`]).
    #[serde(default)]
    faults: Option<toml::Value>,
    /// For the census and SSDA903 generators: the messy profile's mistakes ([`cin::Messy`], [`ssda903::Plan`]).
    #[serde(default)]
    messy: Option<toml::Value>,
    /// For the census generator: the code mixes children are drawn from ([`cin::Codes`]).
    #[serde(default)]
    codes: Option<toml::Value>,
    /// For the SSDA903 generator: the file each table is written to.
    #[serde(default)]
    files: Option<toml::Value>,
}

impl GenerateFile {
    fn of(pack: &StandardPack) -> Result<GenerateFile> {
        match pack.files.files.get("generate.toml") {
            Some(bytes) => {
                let text =
                    std::str::from_utf8(bytes).with_context(|| format!("{}: generate.toml", pack.reference()))?;
                toml::from_str(text).with_context(|| format!("{}: generate.toml", pack.reference()))
            }
            None => Ok(GenerateFile::default()),
        }
    }
}

/// How a pack's documents are generated, as its `generate.toml` says (`generator = "…"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Varied copies of the pack's examples ([`Generator`]).
    Examples,
    /// Whole census returns written child by child ([`cin`]).
    CinCensus,
    /// SSDA903 returns as CSV tables, written child by child ([`ssda903`]).
    Ssda903,
}

/// The generator a pack names.
pub fn method(pack: &StandardPack) -> Result<Method> {
    match GenerateFile::of(pack)?.generator.as_deref() {
        None | Some("examples") => Ok(Method::Examples),
        Some("cin-census") => Ok(Method::CinCensus),
        Some("ssda903") => Ok(Method::Ssda903),
        Some(other) => Err(anyhow!(
            "{}: generate.toml names the generator `{other}`; caregate has `examples`, `cin-census` and `ssda903`",
            pack.reference()
        )),
    }
}

pub struct Generator {
    rng: ChaCha8Rng,
    /// The pack's schema, when it has no valid example: documents are drawn from it.
    schema: Option<Value>,
    valid: Vec<Value>,
    faulty: Vec<(String, Value)>,
    vary: Vec<(caregate_engine::standard::PathPattern, values::Kind)>,
    invalid_rate: f64,
    next_fault: usize,
}

impl Generator {
    pub fn new(pack: &StandardPack, _catalog: &Catalog, seed: u64, invalid_rate: f64) -> Result<Generator> {
        let mut valid = Vec::new();
        let mut faulty = Vec::new();
        for (path, bytes) in &pack.files.files {
            let Some(rest) = path.strip_prefix("examples/") else { continue };
            if !rest.ends_with(".json") {
                continue;
            }
            let value: Value = serde_json::from_slice(bytes)
                .with_context(|| format!("{}: example {path} is not JSON", pack.reference()))?;
            if rest.starts_with("valid/") {
                valid.push(value);
            } else if let Some(name) = rest.strip_prefix("invalid/") {
                let rule = name.trim_end_matches(".json").to_string();
                faulty.push((rule, value));
            }
        }
        let schema = valid.is_empty().then(|| pack.schema.clone());
        let config = GenerateFile::of(pack)?;
        let mut vary = Vec::new();
        for (path, kind) in config.vary {
            let pattern =
                caregate_engine::standard::PathPattern::parse(&path).map_err(|e| anyhow!("generate.toml: {e}"))?;
            let kind: values::Kind = kind.parse().map_err(|e: String| anyhow!("generate.toml: {path}: {e}"))?;
            vary.push((pattern, kind));
        }
        // Without valid examples there is nothing for a fault to be a change of.
        let faulty = if schema.is_some() { Vec::new() } else { faulty };
        Ok(Generator { rng: ChaCha8Rng::seed_from_u64(seed), schema, valid, faulty, vary, invalid_rate, next_fault: 0 })
    }

    /// The next document.
    pub fn next_document(&mut self) -> Generated {
        if let Some(schema) = &self.schema {
            return Generated { value: schema::value(schema, schema, &mut self.rng), fault: None };
        }
        let faulty = !self.faulty.is_empty() && self.rng.random_bool(self.invalid_rate.clamp(0.0, 1.0));
        let (mut value, fault) = if faulty {
            // Each rule in turn, so that every rule is exercised.
            let (rule, template) = &self.faulty[self.next_fault % self.faulty.len()];
            self.next_fault += 1;
            (template.clone(), Some(rule.clone()))
        } else {
            let index = self.rng.random_range(0..self.valid.len());
            (self.valid[index].clone(), None)
        };
        for (pattern, kind) in &self.vary {
            let mut pointers = Vec::new();
            pattern.for_each(&value, |pointer, _| pointers.push(pointer.to_string()));
            for pointer in pointers {
                if let Some(slot) = value.pointer_mut(&pointer) {
                    // A value the fault is about is kept as the template has it.
                    if fault.is_none() || kind.safe_in_faults() {
                        *slot = kind.generate(&mut self.rng, slot);
                    }
                }
            }
        }
        Generated { value, fault }
    }

    pub fn documents(mut self, count: usize) -> impl Iterator<Item = Generated> {
        (0..count).map(move |_| self.next_document())
    }
}
