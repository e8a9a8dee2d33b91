//! The `convert` command's engine: a document converted between its XML and its JSON form through the
//! standard's instance (`instance`), or by the generic convention when no standard is known; a bulk return
//! record by record ([`bulk`]). Lossless for every document that conforms to its standard: XML → JSON → XML
//! gives an equivalent document, JSON → XML → JSON the same value.
//!
//! Not for: the binding itself (`instance`), deciding validity (`validate`), or parsing bytes (`document`).

pub mod bulk;

use std::sync::Arc;

use strum::VariantNames as _;

use crate::document::{self, Format, Limits, LineIndex};
use crate::finding::{Finding, Location};
use crate::instance::{from_xml, generic, to_xml, SourceMap};
use crate::standard::{Catalog, StandardPack};

/// Which way to convert: `json` or `xml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "lowercase", parse_err_ty = String, parse_err_fn = cannot_convert_to)]
pub enum Target {
    Json,
    Xml,
}

fn cannot_convert_to(text: &str) -> String {
    format!("cannot convert to `{text}` (expected {})", crate::names::one_of(Target::VARIANTS))
}

impl From<Format> for Target {
    /// Conversion to the syntax `format` names.
    fn from(format: Format) -> Target {
        match format {
            Format::Json => Target::Json,
            Format::Xml => Target::Xml,
        }
    }
}

/// The result of a conversion.
pub struct Conversion {
    pub output: String,
    /// The standard that drove it; `None` when the generic convention was used.
    pub standard: Option<Arc<StandardPack>>,
    /// True when the output converts back to the input (standard-driven, nothing omitted, no finding).
    pub round_trip: bool,
    /// What could not be carried over, or was not as the standard has it.
    pub findings: Vec<Finding>,
}

/// Why a conversion could not be made at all.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{}", .0.message)]
    Unreadable(Box<Finding>),
    #[error("the input is already {0}")]
    SameFormat(&'static str),
}

/// Converts one document. The standard is detected (XML by its root element; JSON by its shape) unless given.
pub fn convert(
    bytes: &[u8],
    target: Target,
    standard: Option<Arc<StandardPack>>,
    catalog: &Catalog,
    limits: &Limits,
) -> Result<Conversion, ConvertError> {
    let format = document::sniff(bytes).ok_or_else(|| {
        ConvertError::Unreadable(Box::new(Finding::error("unknown-format", "The input is neither XML nor JSON.")))
    })?;
    match (format, target) {
        (Format::Xml, Target::Xml) => Err(ConvertError::SameFormat("XML")),
        (Format::Json, Target::Json) => Err(ConvertError::SameFormat("JSON")),
        (Format::Xml, Target::Json) => {
            // The fast path, for documents it can take; otherwise the tree path below.
            let known = standard.clone().or_else(|| {
                let head = &bytes[..bytes.len().min(64 * 1024)];
                let (local, namespace) = document::tokens::peek_root(head)?;
                catalog.by_xml_root(&local, &namespace)
            });
            if let Some(pack) = known {
                if let Some(output) = crate::instance::stream::xml_to_json(bytes, &pack, limits) {
                    return Ok(Conversion { output, standard: Some(pack), round_trip: true, findings: Vec::new() });
                }
            }
            let doc = document::parse_xml(bytes, limits).map_err(|f| ConvertError::Unreadable(Box::new(f)))?;
            let pack = standard.or_else(|| catalog.by_xml_root(&doc.root.local, &doc.root.namespace));
            let (value, findings, pack) = match pack {
                Some(pack) => {
                    let lines = LineIndex::new(bytes);
                    let converted = from_xml(&doc.root, &pack, catalog, &lines);
                    (converted.value, converted.findings, Some(pack))
                }
                None => (generic::document_to_value(&doc.root), Vec::new(), None),
            };
            let output = serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
            Ok(Conversion { round_trip: pack.is_some() && findings.is_empty(), output, standard: pack, findings })
        }
        (Format::Json, Target::Xml) => {
            let doc = document::parse_json(bytes, limits).map_err(|f| ConvertError::Unreadable(Box::new(f)))?;
            let pack = standard.or_else(|| {
                let candidates = catalog.by_json_shape(&doc.value);
                if candidates.len() == 1 {
                    candidates.into_iter().next()
                } else {
                    None
                }
            });
            match pack {
                Some(pack) => {
                    let written = to_xml(&doc.value, &pack, catalog);
                    let lines = LineIndex::new(bytes);
                    let map = SourceMap::Json(doc.spans);
                    let findings: Vec<Finding> = written
                        .omissions
                        .iter()
                        .map(|o| {
                            let location: Location = map.locate(&doc.value, &o.pointer, &lines);
                            Finding::error(
                                "not-converted",
                                format!("`{}` was left out of the XML: {}.", o.pointer, o.reason),
                            )
                            .with_location(location)
                        })
                        .collect();
                    Ok(Conversion {
                        round_trip: findings.is_empty(),
                        output: written.xml,
                        standard: Some(pack),
                        findings,
                    })
                }
                None => Ok(Conversion {
                    output: generic::value_to_xml(&doc.value),
                    standard: None,
                    round_trip: false,
                    findings: Vec::new(),
                }),
            }
        }
    }
}
