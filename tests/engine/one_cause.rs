//! One cause is reported once: a field that one of the standard's rules and the structure check both find
//! wrong is reported by the rule alone (a census child without `<Sex>` gives DfE rule 4180, not also
//! `required`), whether a return is checked whole or record by record; and a `required` finding's pointer
//! names the missing field, at its parent's place in the file.

use caregate_engine::finding::Finding;
use caregate_engine::standard::Catalog;
use caregate_engine::validate::{one_cause_once, Options, Validator};

const CENSUS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Message>
  <Header>
    <CollectionDetails>
      <Collection>CIN</Collection>
      <Year>2026</Year>
      <ReferenceDate>2026-03-31</ReferenceDate>
    </CollectionDetails>
    <Source>
      <SourceLevel>L</SourceLevel>
      <LEA>873</LEA>
      <SoftwareCode>caregate tests</SoftwareCode>
      <Release>1.0</Release>
      <SerialNo>001</SerialNo>
      <DateTime>2026-04-15T09:30:00</DateTime>
    </Source>
  </Header>
  <Children>
    <Child>
      <ChildIdentifiers>
        <LAchildID>WITH</LAchildID>
        <PersonBirthDate>2014-06-12</PersonBirthDate>
        <Sex>F</Sex>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI</Ethnicity>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2025-05-06</CINreferralDate>
        <ReferralSource>2A</ReferralSource>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
    </Child>
    <Child>
      <ChildIdentifiers>
        <LAchildID>WITHOUT</LAchildID>
        <PersonBirthDate>2014-06-12</PersonBirthDate>
      </ChildIdentifiers>
      <ChildCharacteristics>
        <Ethnicity>WBRI</Ethnicity>
      </ChildCharacteristics>
      <CINdetails>
        <CINreferralDate>2025-05-06</CINreferralDate>
        <ReferralSource>2A</ReferralSource>
        <ReferralNFA>false</ReferralNFA>
      </CINdetails>
    </Child>
  </Children>
</Message>
"#;

const SEX: &str = "/Children/Child/1/ChildIdentifiers/Sex";

fn validator<'c>(catalog: &'c Catalog, standard: &str) -> Validator<'c> {
    let options = Options {
        now: chrono::DateTime::parse_from_rfc3339("2026-05-15T10:00:00Z").unwrap(),
        standard: Some(catalog.find(standard).expect("pack")),
        ..Options::default()
    };
    Validator::new(catalog, options)
}

fn of_child<'f>(findings: &'f [Finding], key: &str) -> Vec<&'f Finding> {
    findings.iter().filter(|f| f.record.as_deref() == Some(key)).collect()
}

fn pointer(finding: &Finding) -> Option<&str> {
    finding.location.as_ref().and_then(|l| l.pointer.as_deref())
}

#[test]
fn a_census_child_without_sex_gives_rule_4180_and_no_required() {
    let catalog = Catalog::embedded().unwrap();
    let validator = validator(&catalog, "cin-census@2025-26");
    let json = caregate_engine::convert::convert(
        CENSUS.as_bytes(),
        caregate_engine::convert::Target::Json,
        catalog.find("cin-census@2025-26"),
        &catalog,
        &Default::default(),
    )
    .expect("converts");
    // Checked whole, as one JSON document.
    let findings = validator.check(json.output.as_bytes()).findings;
    let without = of_child(&findings, "WITHOUT");
    assert!(without.iter().any(|f| f.rule == "4180" && pointer(f) == Some(SEX)), "{without:#?}");
    assert!(findings.iter().all(|f| f.rule != "required"), "{findings:#?}");
    assert!(of_child(&findings, "WITH").iter().all(|f| f.rule != "4180"));

    // Checked record by record, as a bulk return: one record's findings at a time.
    let findings = validator.check(CENSUS.as_bytes()).findings;
    let record: Vec<Finding> = of_child(&findings, "WITHOUT").into_iter().cloned().collect();
    let once = one_cause_once(record);
    assert!(once.iter().any(|f| f.rule == "4180" && pointer(f) == Some(SEX)), "{once:#?}");
    assert!(once.iter().all(|f| f.rule != "required"), "{once:#?}");
}

#[test]
fn a_required_finding_points_at_the_missing_field_from_its_parent_s_place() {
    let catalog = Catalog::embedded().unwrap();
    let validator = validator(&catalog, "referral@1.0");
    // No rule of the referral standard is about a missing `<Summary>`: the structure check reports it.
    let xml = r#"<Referral xmlns="urn:caregate:referral:1">
  <Child>
    <Name><Given>Amelia</Given><Family>Testchild</Family></Name>
    <DateOfBirth>2016-03-14</DateOfBirth>
    <Sex>F</Sex>
  </Child>
  <Referrer>
    <Name>Sam Example</Name>
    <Role>Designated safeguarding lead</Role>
    <Organisation>318</Organisation>
    <Source>2A</Source>
  </Referrer>
  <Concern>
    <Categories><Category>16A</Category></Categories>
    <RiskLevel>medium</RiskLevel>
    <ImmediateRisk>false</ImmediateRisk>
    <ParentAware>true</ParentAware>
  </Concern>
</Referral>
"#;
    let findings = validator.check(xml.as_bytes()).findings;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].rule, "required");
    let location = findings[0].location.as_ref().unwrap();
    assert_eq!((location.line, location.column, location.path.as_str()), (13, 3, "/Referral/Concern"));
    assert_eq!(location.pointer.as_deref(), Some("/concern/summary"));
}
