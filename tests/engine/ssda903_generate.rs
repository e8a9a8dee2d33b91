//! The SSDA903 generator: a council's return as CSV tables, reproducible by seed, with no finding at invalid
//! rate 0; each fault recipe of the pack's generate.toml breaks its rule for its child; the recipes are checked
//! against the pack when it is read; the messy profile gives a first submission's mistakes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, LazyLock};

use assert_cmd::cargo::CommandCargoExt as _;
use caregate_engine::document::Limits;
use caregate_engine::model::DocumentResult;
use caregate_engine::standard::{Catalog, StandardPack};
use caregate_engine::validate::tables::TableFile;
use caregate_engine::validate::{Options, Validator};
use caregate_generate::cin::Profile;
use caregate_generate::ssda903::{write_tables, Plan, Settings, Summary};

static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("embedded packs load"));

fn pack() -> Arc<StandardPack> {
    CATALOG.find("ssda903@2025-26").expect("ssda903 2025-26 is embedded")
}

/// The rules no recipe breaks, each with the reason: a recipe changes one row of one table, the first it fits.
const UNBREAKABLE: [(&str, &str); 29] = [
    ("185", "an SDQ score for a child not looked after 12 months: OC2 rows are only for such children, and not all have a score"),
    ("198", "an SDQ reason for a child not looked after 12 months: OC2 rows are only for such children, and few have a reason"),
    ("187", "OC2 with AD1 or OC3 data: no child has both, and a change adds no table's rows"),
    ("215", "OC3 with OC2 data: no child has both, and a change adds no table's rows"),
    ("134", "AD1 with OC3 data: no child has both, and a change adds no table's rows"),
    ("634", "no episode since April 2016: every one of the child's episodes would change"),
    ("399", "MOTHER or reviews with every episode V3 or V4: every one of the child's episodes would change"),
    ("373", "a school placement under 4: no table picks a child under 4 at an episode's start (adopted children may be 4)"),
    ("377", "three T3 placements in 12 months: three episodes would change"),
    ("426", "V3 and V4 in one year: two episodes would change"),
    ("334", "the decision to place before the latest start of care: that episode is often before the year"),
    ("336", "an adoptive placement after one not in foster care: the episode before it would change"),
    ("383", "a temporary placement not followed by the one before it: two episodes would change"),
    ("367", "respite over 75 days in 12 months: the first episode of the year may be shorter"),
    ("431", "an episode started (S) the day the one before it ended: the change is to the later episode, which may be the first of the year, its earlier one not in the return"),
    ("435", "a P or B episode against the one before it: the X1 episode before a P looks like the one before a B, and the later episode may be the first of the year, its earlier one not in the return"),
    ("436", "a P or B episode against the one before it: the X1 episode before a P looks like the one before a B, and the later episode may be the first of the year, its earlier one not in the return"),
    ("1007", "OC3 data for a young person still looked after on the 17th or 18th birthday: only a UASC young person who leaves care on the 18th birthday has both episodes and OC3 rows, too few (about 1 in 400) for a recipe to draw"),
    ("1011", "OC3 data for a child whose final episode ended in a transfer: only a UASC young person who leaves care on the 18th birthday has both episodes and OC3 rows, too few (about 1 in 400) for a recipe to draw"),
    ("1016", "OC3 data for a young person who ceased to be looked after after the 17th or 18th birthday: only a UASC young person who leaves care on the 18th birthday has both episodes and OC3 rows, too few (about 1 in 400) for a recipe to draw"),
    ("1014", "UASC rows for a care leaver with no episode in the year: only a UASC young person who leaves care on the 18th birthday has UASC and OC3 rows, too few (about 1 in 400) for a recipe to draw"),
    ("3001", "accommodation with former foster carers around the 17th birthday: OC3 rows are only for young people whose 18th to 21st birthday falls in the year, so the DOB and ACCOM would both change"),
    ("444", "a UPN two children give: a change alters one child's rows, and a child's Header row given twice may hold UN1-UN5, which may repeat"),
    ("558", "an adopted child with two decisions to place for adoption, both ceased: a child has one decision, and a change alters one row"),
    ("578", "a missing period starting after care ended: a child missing in the year is looked after when each period starts, and ending the care early leaves the periods inside the episodes before"),
    ("580", "a young person missing on the 18th birthday the day care ends: the missing period and the episode would both change"),
    ("582", "the match date the same as the adoption date: a change writes given text or moves a date, never copies one cell into another"),
    ("575", "a missing period with no end that began in an episode since ended: a change to the child's first period cannot tell whether that period lies in an ended episode or in the open one"),
    ("630", "a child who started to be looked after in the year (RNE S) without its previous permanence: PrevPerm rows are for every child with an episode starting in the year, and a change cannot pick those whose episode is a new period of care"),
];

/// The rules that look the placement's URN up in Ofsted's provider lists, each with the reason no recipe breaks
/// them: the generator's providers are made up, and no list is given when its returns are checked (they are
/// not run). tests/engine/ssda903_ofsted.rs breaks each with the project's made-up list.
const NEED_OFSTED: [(&str, &str); 8] = [
    ("219", "the placement type against the provider's: the generator's URNs are in no list"),
    ("221", "the placement postcode against the provider's: the generator's URNs are in no list"),
    ("224", "the placement provider code against the provider's: the generator's URNs are in no list"),
    ("227", "the episode's start against the provider's closing date: the generator's URNs are in no list"),
    ("228", "the episode's end against the provider's closing date: the generator's URNs are in no list"),
    ("229", "PR1 or PR2 against the council of the provider's premises: the generator's URNs are in no list"),
    ("241", "the LA of placement against the councils of the provider's premises: the generator's URNs are in no list"),
    ("1008", "a URN Ofsted does not list: without a list every URN would be one"),
];

fn generate_with(
    pack: &StandardPack,
    count: usize,
    seed: u64,
    rate: f64,
    profile: Profile,
) -> (Vec<TableFile>, Summary) {
    let plan = Plan::of(pack).expect("generate.toml reads");
    let mut outs: Vec<Vec<u8>> = vec![Vec::new(); plan.layout.tables.len()];
    let settings = Settings { count, seed, invalid_rate: rate, profile, area: Default::default() };
    let summary = write_tables(pack, &plan, &settings, &mut outs).expect("the return is generated");
    assert_eq!(summary.children, count);
    assert_eq!(summary.bytes, outs.iter().map(|o| o.len() as u64).sum::<u64>());
    let files =
        plan.layout.tables.iter().zip(outs).map(|(t, bytes)| TableFile { path: t.file.clone(), bytes }).collect();
    (files, summary)
}

fn generate(count: usize, seed: u64, rate: f64, profile: Profile) -> (Vec<TableFile>, Summary) {
    generate_with(&pack(), count, seed, rate, profile)
}

fn validate(files: &[TableFile]) -> Vec<DocumentResult> {
    let options = Options {
        standard: Some(pack()),
        limits: Limits { max_bytes: 1 << 30, ..Limits::default() },
        now: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").expect("a time"),
    };
    Validator::new(&CATALOG, options).check_tables(&pack(), files)
}

/// The findings of a return written as XML, as [`findings`] gives those of its tables.
fn xml_findings(pack: &Arc<StandardPack>, xml: &[u8]) -> Vec<(String, String)> {
    let options = Options {
        standard: Some(pack.clone()),
        limits: Limits { max_bytes: 1 << 30, ..Limits::default() },
        now: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").expect("a time"),
    };
    let mut found = Vec::new();
    let validator = Validator::new(&CATALOG, options);
    let agg = validator.gather_tables_xml(pack, xml);
    validator.check_tables_xml(pack, xml, agg.as_ref(), &mut |f| {
        if f.rule != "rules-not-run" {
            found.push((f.rule.clone(), f.record.clone().unwrap_or_default()))
        }
    });
    found
}

/// The rules that read a column only the XML form carries (the Header's UASC status: an optional column, which
/// DfE's CSV Header file and so the generator's lack): the CSV form does not run them.
fn xml_only(pack: &StandardPack) -> BTreeSet<String> {
    use caregate_engine::reference::Need;
    pack.rules.iter().filter(|r| r.needs.iter().any(|n| Need::of(n) == Need::Column)).map(|r| r.id.clone()).collect()
}

/// Each finding about the return as (rule, child). The returns are checked without the postcode directory, so
/// the rules that look postcodes up are not run; the warning that says so is about the run, and left out.
fn findings(results: &[DocumentResult]) -> Vec<(String, String)> {
    results
        .iter()
        .flat_map(|d| d.findings.iter().filter(|f| f.rule != "rules-not-run"))
        .map(|f| (f.rule.clone(), f.record.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn same_seed_same_bytes_and_different_seeds_differ() {
    let bytes = |files: Vec<TableFile>| files.into_iter().map(|f| f.bytes).collect::<Vec<_>>();
    let a = bytes(generate(60, 42, 0.2, Profile::Clean).0);
    assert_eq!(a, bytes(generate(60, 42, 0.2, Profile::Clean).0));
    assert_ne!(a, bytes(generate(60, 43, 0.2, Profile::Clean).0));
}

#[test]
fn a_clean_return_has_no_findings_and_every_table_rows() {
    for seed in [1, 2] {
        let (files, _) = generate(1500, seed, 0.0, Profile::Clean);
        let results = validate(&files);
        assert_eq!(findings(&results), Vec::new(), "seed {seed}");
        for (file, result) in files.iter().zip(&results) {
            assert!(result.records.unwrap_or(0) > 0, "{} has rows", file.path);
            let text = String::from_utf8_lossy(&file.bytes);
            let lines: Vec<&str> = text.split('\n').collect();
            assert_eq!(lines.last(), Some(&""), "{} ends with a line break", file.path);
            assert!(lines[..lines.len() - 1].iter().all(|l| l.ends_with('\r')), "{} ends its lines CRLF", file.path);
        }
    }
}

#[test]
fn each_fault_recipe_breaks_its_rule_for_its_child() {
    let pack = pack();
    let plan = Plan::of(&pack).expect("generate.toml reads");
    let rules = plan.rules();
    // At rate 1 each child takes the next recipe, so one child per recipe.
    let (files, summary) = generate(rules.len(), 5, 1.0, Profile::Clean);
    let found: BTreeSet<(String, String)> = findings(&validate(&files)).into_iter().collect();
    // The faults of the rules the CSV form does not run are looked for in the same return written as XML.
    let xml_only = xml_only(&pack);
    assert_eq!(xml_only, BTreeSet::from(["105".to_string(), "303".to_string()]));
    let settings =
        Settings { count: rules.len(), seed: 5, invalid_rate: 1.0, profile: Profile::Clean, area: Default::default() };
    let mut xml = Vec::new();
    caregate_generate::ssda903::write_xml(&pack, &plan, &settings, &mut xml).expect("written as XML");
    let from_xml: BTreeSet<(String, String)> = xml_findings(&pack, &xml).into_iter().collect();
    let mut missed = Vec::new();
    for rule in &rules {
        let Some(child) = summary.first_child.get(rule) else {
            missed.push(format!("{rule}: no child could be given the fault"));
            continue;
        };
        let found = if xml_only.contains(rule) { &from_xml } else { &found };
        if !found.contains(&(rule.clone(), child.clone())) {
            missed.push(format!("{rule}: not reported for child {child}"));
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[test]
fn the_faults_cover_every_rule_a_child_can_break() {
    let pack = pack();
    let rules = Plan::of(&pack).expect("generate.toml reads").rules();
    let unique: BTreeSet<&String> = rules.iter().collect();
    assert_eq!(unique.len(), rules.len(), "each rule once");
    let all: BTreeSet<String> = pack.rules.iter().map(|r| r.id.clone()).collect();
    let unbreakable: BTreeSet<&str> = UNBREAKABLE.iter().map(|(rule, _)| *rule).collect();
    assert_eq!(unbreakable.len(), UNBREAKABLE.len(), "each unbreakable rule once");
    assert!(unbreakable.iter().all(|r| all.contains(*r)), "each unbreakable rule is a rule of the pack");
    // The generator writes made-up postcodes, so the rules that look them up in the directory are left to the
    // tests of those rules (tests/engine/ssda903.rs), as are those that need Ofsted's lists (NEED_OFSTED); a return of
    // one year cannot break the rules that compare a child with last year's (tests/engine/ssda903_previous.rs).
    let looks_up: BTreeSet<String> = pack
        .rules
        .iter()
        .filter(|r| {
            r.needs.iter().any(|n| {
                caregate_engine::reference::References::is_reference(n) || n == caregate_engine::reference::PREVIOUS
            })
        })
        .map(|r| r.id.clone())
        .collect();
    for (rule, _) in NEED_OFSTED {
        let needs = pack.rules.iter().filter(|r| r.id == rule).flat_map(|r| &r.needs).collect::<Vec<_>>();
        assert!(
            needs.iter().any(|n| *n == caregate_engine::reference::OFSTED_PROVIDERS),
            "{rule} is a rule of the pack that needs Ofsted's lists: {needs:?}"
        );
        assert!(looks_up.contains(rule), "{rule} is left to the tests of the Ofsted rules");
    }
    let breakable: BTreeSet<String> =
        all.iter().filter(|r| !unbreakable.contains(r.as_str()) && !looks_up.contains(r.as_str())).cloned().collect();
    let covered: BTreeSet<String> = rules.into_iter().collect();
    assert_eq!(covered, breakable);
}

#[test]
fn at_a_rate_the_share_of_faulty_children_is_about_it() {
    let (files, summary) = generate(800, 11, 0.1, Profile::Clean);
    let faulty: usize = summary.faults.values().sum();
    assert!((50..=110).contains(&faulty), "{faulty} of 800");
    let children: BTreeSet<String> = findings(&validate(&files)).into_iter().map(|f| f.1).collect();
    assert!(children.len() <= faulty, "only faulty children have findings: {} > {faulty}", children.len());
}

fn with_generate_toml(text: &str) -> Result<Plan, String> {
    let mut files = pack().files.clone();
    files.files.insert("generate.toml".into(), text.as_bytes().to_vec());
    let changed = StandardPack::compile(files).map_err(|e| format!("compile: {e}"))?;
    Plan::of(&changed).map_err(|e| format!("{e:#}"))
}

#[test]
fn recipes_are_checked_against_the_pack() {
    let head = "generator = \"ssda903\"\n[faults]\nchild = [";
    let refused = |recipe: &str, says: &str| {
        let error = with_generate_toml(&format!("{head}{recipe}]\n")).err().unwrap_or_default();
        assert!(error.contains(says), "{recipe}: {error}");
    };
    refused(r#"{ rule = "9999", table = "Header", set = { SEX = "1" } }"#, "`9999` is not a rule of the pack");
    refused(r#"{ rule = "101", table = "Header", set = { GENDER = "1" } }"#, "`GENDER` is not a column of Header");
    refused(r#"{ rule = "101", table = "Heading", set = { SEX = "1" } }"#, "`Heading` is not a table of the pack");
    refused(r#"{ rule = "101", table = "Header", set = { SEX = "1" }, blank = ["DOB"] }"#, "exactly one change");
    refused(r#"{ rule = "101", table = "Header", shift = { SEX = 1 } }"#, "Header.SEX is not a date column");
    refused(r#"{ rule = "101", set = { SEX = "1" } }"#, "names its `table`");
    refused(r#"{ rule = "101", table = "Header", sett = { SEX = "1" } }"#, "unknown field `sett`");
    refused(r#"{ table = "Header", set = { SEX = "1" } }"#, "names no rule");
    refused(
        r#"{ rule = "501", table = "Episodes", when = { RECC = "X1" }, shift = { DEC = 5 } }"#,
        "`RECC` is not a column of Episodes",
    );
    refused(r#"{ rule = "INT32", duplicate = "Headers" }"#, "`Headers` is not a table of the pack");
    let mistake =
        "generator = \"ssda903\"\n[messy]\nmistakes = [{ rule = \"101\", table = \"Header\", blank = [\"SEX\"] }]\n";
    assert!(with_generate_toml(mistake).err().unwrap_or_default().contains("a mistake names no rule"));
    let ok = with_generate_toml(&format!("{head}{{ rule = \"101\", table = \"Header\", set = {{ SEX = \"1\" }} }}]\n"));
    assert_eq!(ok.map(|p| p.rules()), Ok(vec!["101".to_string()]));
}

#[test]
fn the_messy_profile_is_the_clean_return_with_mistakes() {
    let (files, summary) = generate(600, 8, 0.0, Profile::Messy);
    assert!(summary.mistakes > 200, "{} mistakes", summary.mistakes);
    let found = findings(&validate(&files));
    let mut by_rule: BTreeMap<String, usize> = BTreeMap::new();
    for (rule, _) in &found {
        *by_rule.entry(rule.clone()).or_default() += 1;
    }
    for rule in ["101", "102", "103", "141", "146", "148", "167", "INT03", "INT32"] {
        assert!(by_rule.contains_key(rule), "a messy return shows {rule}: {by_rule:?}");
    }
    // The same children as the clean return: the messy one has its header rows, less those dropped.
    let (clean, _) = generate(600, 8, 0.0, Profile::Clean);
    let lines = |f: &TableFile| String::from_utf8_lossy(&f.bytes).lines().count();
    assert!(lines(&files[0]) <= lines(&clean[0]) + 20 && lines(&files[0]) + 40 >= lines(&clean[0]));
}

#[test]
fn the_command_writes_one_file_per_table_to_the_folder() {
    let dir = tempfile::tempdir().expect("a folder");
    let out = dir.path().join("return");
    let output = std::process::Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["generate", "ssda903", "--count", "40", "--seed", "3", "--invalid-rate", "0.2", "--output"])
        .arg(&out)
        .output()
        .expect("caregate runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let pack = pack();
    let tables = pack.manifest.tables.as_ref().expect("tables");
    let names = [
        "header.csv",
        "episodes.csv",
        "reviews.csv",
        "uasc.csv",
        "oc2.csv",
        "oc3.csv",
        "ad1.csv",
        "placed_for_adoption.csv",
        "previous_permanence.csv",
        "missing.csv",
        "sw_episodes.csv",
    ];
    for (table, name) in tables.table.iter().zip(names) {
        let text = std::fs::read_to_string(out.join(name)).expect(name);
        let header = text.split("\r\n").next().unwrap_or_default();
        // The optional columns (the Header's UASC status) are the XML form's only, as in DfE's CSV files.
        let columns: Vec<&str> = table.required().map(String::as_str).collect();
        assert_eq!(header, columns.join(","), "{name}");
    }
    let refused = std::process::Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["generate", "ssda903", "--count", "2"])
        .output()
        .expect("caregate runs");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--output"));

    // The XML form is one file, read as the return by `validate`; a clean one has no finding.
    let xml = dir.path().join("return.xml");
    let output = std::process::Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["generate", "ssda903@2025-26", "--count", "40", "--seed", "3", "--format", "xml", "--output"])
        .arg(&xml)
        .output()
        .expect("caregate runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let validated = std::process::Command::cargo_bin("caregate")
        .expect("the binary")
        .args(["validate", "--standard", "ssda903@2025-26", "--format", "json"])
        .arg(&xml)
        .output()
        .expect("caregate runs");
    let report: serde_json::Value = serde_json::from_slice(&validated.stdout).expect("a JSON report");
    assert_eq!(validated.status.code(), Some(0), "{report}");
    assert_eq!(report["documents"][0]["records"], 40, "{report}");
}

/// A made-up directory: postcodes of the council (E09000027), of two other English councils, one of Wales, one
/// of the council without a grid reference; near enough to one another that no distance rule is broken.
const DIRECTORY: &str = "pcd,oseast1m,osnrth1m,laua\n\
    TW9 1AA,518000,175000,E09000027\nTW9 2BB,518300,175400,E09000027\nTW10 6AB,518100,173800,E09000027\n\
    TW1 3QS,516500,173600,E09000027\nTW9 9ZZ,,,E09000027\nSW1A 1AA,529000,179000,E09000033\n\
    KT1 1AA,518000,169000,E09000021\nCF10 1AA,318000,176000,W06000015\n";

#[test]
fn with_the_postcode_directory_every_postcode_is_one_it_lists_and_the_return_is_clean() {
    use caregate_engine::reference::{PostcodeDirectory, References};
    let directory = Arc::new(PostcodeDirectory::read(std::io::Cursor::new(DIRECTORY)).expect("the directory loads"));
    let pack = pack();
    let plan = Plan::of(&pack).expect("generate.toml reads");
    let area =
        caregate_generate::ssda903::Area { postcodes: Some(directory.clone()), la_code: Some("E09000027".to_string()) };
    let settings = Settings { count: 300, seed: 5, invalid_rate: 0.0, profile: Profile::Clean, area };
    let mut outs: Vec<Vec<u8>> = vec![Vec::new(); plan.layout.tables.len()];
    let summary = write_tables(&pack, &plan, &settings, &mut outs).expect("the return is generated");
    assert_eq!(summary.la_code, "E09000027");

    let episodes = plan.layout.index("Episodes").expect("an Episodes table");
    let text = String::from_utf8(outs[episodes].clone()).expect("UTF-8");
    let columns = &plan.layout.tables[episodes].columns;
    let (home, placed) = (
        columns.iter().position(|c| c == "HOME_POST").expect("HOME_POST"),
        columns.iter().position(|c| c == "PL_POST").expect("PL_POST"),
    );
    let (mut own, mut away) = (0, 0);
    for line in text.split("\r\n").skip(1).filter(|l| !l.is_empty()) {
        let cells: Vec<&str> = line.split(',').collect();
        for postcode in [cells[home], cells[placed]].into_iter().filter(|p| !p.is_empty()) {
            let place = directory.place(postcode).unwrap_or_else(|| panic!("{postcode} is not listed"));
            assert!(place.grid.is_some(), "{postcode} has no grid reference");
            match place.authority {
                Some("E09000027") => own += 1,
                Some(other) => {
                    assert!(other.starts_with('E'), "{postcode} is outside England");
                    away += 1;
                }
                None => panic!("{postcode} has no council"),
            }
        }
    }
    assert!(own > away && away > 0, "{own} postcodes in the council's area, {away} elsewhere");

    let files: Vec<TableFile> =
        plan.layout.tables.iter().zip(outs).map(|(t, bytes)| TableFile { path: t.file.clone(), bytes }).collect();
    let options = Options {
        standard: Some(pack.clone()),
        limits: Limits { max_bytes: 1 << 30, ..Limits::default() },
        now: chrono::DateTime::parse_from_rfc3339("2026-05-01T10:00:00Z").expect("a time"),
    };
    let references = References { postcodes: Some(directory), ..References::default() };
    let results = Validator::new(&CATALOG, options)
        .with_params([("la_code".to_string(), "E09000027".to_string())])
        .with_references(references)
        .check_tables(&pack, &files);
    assert_eq!(findings(&results), Vec::<(String, String)>::new());

    // A council the directory does not list is refused, naming it.
    let area = caregate_generate::ssda903::Area {
        postcodes: Some(Arc::new(PostcodeDirectory::read(std::io::Cursor::new(DIRECTORY)).expect("loads"))),
        la_code: Some("E06000001".to_string()),
    };
    let settings = Settings { area, ..settings };
    let mut outs: Vec<Vec<u8>> = vec![Vec::new(); plan.layout.tables.len()];
    let refused = write_tables(&pack, &plan, &settings, &mut outs).expect_err("no postcode of E06000001");
    assert!(refused.to_string().contains("E06000001"), "{refused}");
}

#[test]
fn the_xml_form_of_a_return_gives_the_findings_of_its_tables() {
    let pack = pack();
    let plan = Plan::of(&pack).expect("generate.toml reads");
    let settings =
        Settings { count: 600, seed: 3, invalid_rate: 0.3, profile: Profile::Clean, area: Default::default() };
    let (files, summary) = generate(settings.count, settings.seed, settings.invalid_rate, settings.profile);
    let mut xml = Vec::new();
    let written = caregate_generate::ssda903::write_xml(&pack, &plan, &settings, &mut xml).expect("written as XML");
    assert_eq!(written.faults, summary.faults, "the same children, with the same faults");
    assert_eq!(written.bytes, xml.len() as u64);

    let from_tables = findings(&validate(&files));
    // The rules on the UASC status, which only the XML form carries, are not run on the tables.
    let xml_only = xml_only(&pack);
    let from_xml: Vec<(String, String)> =
        xml_findings(&pack, &xml).into_iter().filter(|(rule, _)| !xml_only.contains(rule)).collect();
    // The tables can disagree with one another (a child in Episodes but not in Header, a date of birth that
    // differs between tables: the INT checks), which one XML record per child cannot say; such children are
    // left out, and so is a row without its key, which the XML form cannot even place.
    let across: BTreeSet<&String> =
        from_tables.iter().filter(|(rule, _)| rule.starts_with("INT")).map(|(_, child)| child).collect();
    let comparable = |pairs: &[(String, String)]| {
        let mut kept: Vec<(String, String)> =
            pairs.iter().filter(|(_, child)| !child.is_empty() && !across.contains(child)).cloned().collect();
        kept.sort();
        kept
    };
    // SWEpisodes has no place in the XML form (standard.toml gives it no `xml` path), so neither have the rules on it.
    let no_sw = |pairs: Vec<(String, String)>| -> Vec<(String, String)> {
        pairs.into_iter().filter(|(rule, _)| !rule.starts_with("SW")).collect()
    };
    let (tables, xml) = (no_sw(comparable(&from_tables)), no_sw(comparable(&from_xml)));
    assert!(tables.len() > 100, "the faults give findings to compare: {}", tables.len());
    assert_eq!(tables, xml);
}
