//! The standard's instance of a document, both ways, driven by the pack's binding: XML → instance
//! ([`from_xml`], with the fast path [`stream`] for records the binding follows exactly), instance → XML
//! ([`to_xml`]), and for every instance node where it stood in the user's file ([`source`]). A JSON document is
//! its own instance; a document of no known standard follows the [`generic`] convention.
//!
//! Not for: the user's `convert` command and bulk returns (`convert`), deciding validity
//! (`validate`), or parsing bytes (`document`).

pub mod from_xml;
pub mod generic;
pub mod source;
pub mod stream;
pub mod to_xml;

pub use from_xml::{from_xml, from_xml_part, FromXml};
pub use source::{SourceMap, SourceNode, SourcePlace};
pub use to_xml::{to_xml, Omission, ToXml};
