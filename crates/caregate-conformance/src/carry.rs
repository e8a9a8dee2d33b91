//! How a case travels to a receiver: as the gateway's push delivery would carry it — an envelope around the
//! document — with a fresh message id (the gateway's `Idempotency-Key`), so that every run is a new message.
//! A suite of envelopes sends them as they are (message id renewed); a suite of documents wraps each in an
//! envelope whose header the manifest gives (`[carry.envelope]`); a suite of an API's records (`payload`) sends
//! each as a payload of one record, a JSON array.
//!
//! Not for: sending (`receiver`) or judging the answer.

use serde_json::{Map, Value};

use super::suite::Suite;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{Options, Validator};

/// A case as it goes over the wire.
#[derive(Debug, Clone)]
pub struct Carried {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    /// The envelope's message id, sent as the `Idempotency-Key`.
    pub message_id: String,
    /// The envelope's sending organisation, when it can be read.
    pub sender: Option<String>,
}

/// Carries `bytes` (a document of the suite's standard, in `format`) in an envelope created at `created`.
pub fn carry(suite: &Suite, catalog: &Catalog, bytes: &[u8], format: &str, created: &str) -> Result<Carried, String> {
    let message_id = uuid::Uuid::new_v4().to_string();
    let content_type = if format == "json" { "application/json" } else { "application/xml" };
    match suite.manifest.carry.mode.as_str() {
        "as-is" => {
            let options = Options { standard: Some(suite.pack.clone()), ..Options::default() };
            let checked = Validator::new(catalog, options).check(bytes);
            let instance = checked.instance.unwrap_or(Value::Null);
            let sender = instance.pointer("/sender/organisation").and_then(Value::as_str).map(String::from);
            let bytes = match instance.get("messageId").and_then(Value::as_str).filter(|id| !id.is_empty()) {
                Some(old) => String::from_utf8_lossy(bytes).replace(old, &message_id).into_bytes(),
                None => bytes.to_vec(),
            };
            Ok(Carried { bytes, content_type, message_id, sender })
        }
        "wrapped" => {
            let envelope_pack = catalog.find("envelope@1.0").ok_or("the catalogue holds no envelope@1.0")?;
            let table = suite.manifest.carry.envelope.clone().unwrap_or_default();
            let header = serde_json::to_value(&table).map_err(|e| e.to_string())?;
            let mut envelope = Map::new();
            envelope.insert("messageId".into(), Value::String(message_id.clone()));
            envelope.insert("created".into(), Value::String(created.to_string()));
            envelope.insert("standard".into(), Value::String(suite.pack.reference()));
            for (name, value) in header.as_object().into_iter().flatten() {
                envelope.insert(name.clone(), value.clone());
            }
            let sender =
                envelope.get("sender").and_then(|s| s.get("organisation")).and_then(Value::as_str).map(String::from);
            let bytes = if format == "json" {
                let body: Value = serde_json::from_slice(bytes)
                    .map_err(|e| format!("the document is not JSON ({e}), so it cannot be wrapped"))?;
                envelope.insert("body".into(), body);
                let mut text = serde_json::to_string_pretty(&Value::Object(envelope)).map_err(|e| e.to_string())?;
                text.push('\n');
                text.into_bytes()
            } else {
                envelope.insert("body".into(), Value::Object(Map::new()));
                let header = caregate_engine::instance::to_xml(&Value::Object(envelope), &envelope_pack, catalog).xml;
                splice_body(&header, &String::from_utf8_lossy(bytes))?.into_bytes()
            };
            Ok(Carried { bytes, content_type, message_id, sender })
        }
        "payload" => {
            // One record sent as the API takes records: a JSON array of them (DfE's CSC API: `[child]`).
            if format != "json" {
                return Err(format!("{} is carried as a JSON payload; an XML document is not", suite.reference()));
            }
            let record: Value = serde_json::from_slice(bytes).map_err(|e| format!("the document is not JSON ({e})"))?;
            let bytes = serde_json::to_vec(&Value::Array(vec![record])).map_err(|e| e.to_string())?;
            Ok(Carried { bytes, content_type, message_id, sender: None })
        }
        _ => Err(suite
            .manifest
            .carry
            .reason
            .clone()
            .unwrap_or_else(|| format!("{} is not carried in an envelope", suite.reference()))),
    }
}

/// The envelope XML with the content of its `<Body>` replaced by the document (its XML declaration removed).
fn splice_body(envelope: &str, document: &str) -> Result<String, String> {
    let document = document.trim_start_matches('\u{feff}').trim_start();
    let document = match document.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>").map(|(_, r)| r.trim_start()).unwrap_or(rest),
        None => document,
    };
    let start = envelope.find("<Body").ok_or("the envelope has no <Body>")?;
    let (open_end, close_start, close_end) = match envelope[start..].find('>') {
        Some(gt) if envelope[start..start + gt].ends_with('/') => (start + gt + 1, start + gt + 1, start + gt + 1),
        Some(gt) => {
            let close = envelope.rfind("</Body>").ok_or("the envelope's <Body> is not closed")?;
            (start + gt + 1, close, close + "</Body>".len())
        }
        None => return Err("the envelope's <Body> is not closed".into()),
    };
    // Inserted as it is, not re-indented: text content keeps its whitespace exactly.
    let indented = format!("{}\n", document.trim_end());
    let mut out = String::with_capacity(envelope.len() + document.len() + 32);
    if open_end == close_end {
        out.push_str(&envelope[..start]);
        out.push_str("<Body>\n");
        out.push_str(&indented);
        out.push_str("  </Body>");
        out.push_str(&envelope[close_end..]);
    } else {
        out.push_str(&envelope[..open_end]);
        out.push('\n');
        out.push_str(&indented);
        out.push_str("  ");
        out.push_str(&envelope[close_start..]);
    }
    Ok(out)
}
