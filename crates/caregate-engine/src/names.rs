//! The names of the enums users type and read (severities, output formats, conversion targets, …), said once
//! on each enum with `strum`'s derives: `EnumString` parses a name, `IntoStaticStr` and `Display` give it,
//! and `VariantNames` lists them all in declaration order, which is the order help and refusals show.
//!
//! This module holds what those derives do not: the wording of a refusal, the same for every enum, built from
//! the enum's own list of names so that a new variant is offered as soon as it is declared. An enum takes it
//! with `#[strum(parse_err_ty = String, parse_err_fn = …)]`, through a private function naming what its values
//! are called.

pub use strum::VariantNames;

/// The names as a reader lists them: `a`, `a or b`, `a, b or c`.
pub fn one_of(names: &[&str]) -> String {
    match names {
        [] => String::new(),
        [only] => (*only).to_string(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The refusal of `text` as one of `names`: "unknown output format `x` (expected human, json or csv)".
pub fn unknown(noun: &str, text: &str, names: &[&str]) -> String {
    format!("unknown {noun} `{text}` (expected {})", one_of(names))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::Severity;
    use crate::standard::manifest::Status;
    use strum::IntoEnumIterator as _;

    #[test]
    fn lists_read_as_a_sentence() {
        assert_eq!(one_of(&[]), "");
        assert_eq!(one_of(&["json"]), "json");
        assert_eq!(one_of(&["json", "xml"]), "json or xml");
        assert_eq!(one_of(&["error", "query", "warning"]), "error, query or warning");
        assert_eq!(
            unknown("severity", "fatal", &["error", "query"]),
            "unknown severity `fatal` (expected error or query)"
        );
    }

    #[test]
    fn strum_names_are_the_serde_names() {
        // serde and strum each derive the names from the variants; a rename on one alone would split them.
        for severity in Severity::iter() {
            assert_eq!(serde_json::to_value(severity).ok(), Some(severity.as_str().into()));
            assert_eq!(severity.as_str().parse::<Severity>(), Ok(severity));
        }
        for status in Status::iter() {
            assert_eq!(serde_json::to_value(status).ok(), Some(status.to_string().into()));
        }
        assert_eq!(
            "fatal".parse::<Severity>(),
            Err("unknown severity `fatal` (expected error, query or warning)".into())
        );
    }

    #[test]
    fn refusals_keep_their_wording() {
        use crate::convert::Target;
        use crate::document::Format;
        use crate::standard::rulebook::AggregateKind;
        assert_eq!("json".parse::<Target>(), Ok(Target::Json));
        assert_eq!("yaml".parse::<Target>(), Err("cannot convert to `yaml` (expected json or xml)".into()));
        assert_eq!("xml".parse::<Format>(), Ok(Format::Xml));
        assert_eq!(Format::VARIANTS, ["xml", "json"]);
        assert_eq!("count-by".parse::<AggregateKind>().ok(), Some(AggregateKind::CountBy));
        assert_eq!(AggregateKind::VARIANTS.join(", "), "count-by, repeats, count, sum, min, max, records");
    }
}
