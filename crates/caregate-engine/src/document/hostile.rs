//! The hostile-input policy, tested once against every reader of XML: the tree ([`parse_xml`]), the bulk
//! splitter ([`Splitter`]), the look at a file's root ([`peek_root`]) and the fast path from a document to its
//! instance ([`xml_to_json`]). Each case is refused by the tree and the splitter with the same rule and words at
//! the same line and column; the root is not read from it; the fast path declines it (and the tree then says why).

use super::records::Splitter;
use super::tokens::peek_root;
use super::xml::parse_xml;
use super::Limits;
use crate::instance::stream::xml_to_json;
use crate::standard::Catalog;

struct Case {
    name: &'static str,
    xml: String,
    rule: &'static str,
    /// Where the refusal points, as a byte offset.
    at: usize,
}

const CIN: &str = "xmlns=\"http://www.dfe.gov.uk/CoreSchema/CIN\"";

fn cases() -> Vec<Case> {
    let prolog = "<?xml version=\"1.0\"?>\n";
    let laughs = format!(
        "{prolog}<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n \
         <!ENTITY lol9 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n]>\n<Message {CIN}>&lol9;</Message>"
    );
    let external =
        format!("{prolog}<!DOCTYPE m [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>\n<Message {CIN}>&e;</Message>");
    let unterminated = "<!DOCTYPE m [<!ENTITY e SYSTEM \"file:///etc/passwd\">".to_string();
    let big = "A".repeat(100_000);
    let quadratic = format!("<!DOCTYPE m [<!ENTITY a \"{big}\">]><Message {CIN}>{}</Message>", "&a;".repeat(10_000));
    let open = format!("<Message {CIN}><Children><Child>");
    let deep = format!("{open}{}{}</Child></Children></Message>", "<d>".repeat(10_000), "</d>".repeat(10_000));
    let max = Limits::default().max_depth;
    vec![
        Case { name: "billion laughs", xml: laughs, rule: "xml-doctype", at: prolog.len() },
        Case { name: "external entity", xml: external, rule: "xml-doctype", at: prolog.len() },
        Case { name: "unterminated DOCTYPE", xml: unterminated, rule: "xml-doctype", at: 0 },
        Case { name: "quadratic blow-up", xml: quadratic, rule: "xml-doctype", at: 0 },
        // The first element past the limit: three are open before the `<d>`s.
        Case { name: "10,000 deep", xml: deep, rule: "too-deep", at: open.len() + 3 * (max - 3) },
    ]
}

#[test]
fn every_reader_refuses_hostile_xml_alike() {
    let catalog = Catalog::embedded().unwrap();
    let pack = catalog.find("cin-census@2025-26").unwrap();
    let limits = Limits::default();
    for case in cases() {
        let tree = parse_xml(case.xml.as_bytes(), &limits).err().unwrap_or_else(|| panic!("{}: parsed", case.name));
        let at = tree.location.clone().unwrap_or_default();
        let span = at.span.unwrap_or_default();
        assert_eq!((tree.rule.as_str(), span.start), (case.rule, case.at), "{}: tree {}", case.name, tree.message);

        let path = ["Message", "Children", "Child"].iter().map(|s| s.to_string()).collect();
        let mut splitter = Splitter::new(case.xml.as_bytes(), path, limits);
        let bulk = loop {
            match splitter.next_piece() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("{}: split to the end", case.name),
                Err(finding) => break finding,
            }
        };
        let bulk_at = bulk.location.clone().unwrap_or_default();
        assert_eq!(bulk.rule, case.rule, "{}: splitter {}", case.name, bulk.message);
        assert_eq!((bulk_at.line, bulk_at.column), (at.line, at.column), "{}: splitter's place", case.name);
        assert_eq!(bulk.message, tree.message, "{}: the same words", case.name);

        if case.rule == "xml-doctype" {
            assert_eq!(peek_root(case.xml.as_bytes()), None, "{}: root read", case.name);
        }
        assert_eq!(xml_to_json(case.xml.as_bytes(), &pack, &limits), None, "{}: fast path took it", case.name);
    }
}
