//! The SSDA903 generator: one council's children looked after return for the collection year, as the CSV
//! tables councils send (one file per table of the pack's `[tables]`, dates dd/mm/yyyy, CRLF), reproducible by
//! seed and written child by child to all the files at once, so that a return of any size streams.
//!
//! Each child is consistent with the year and with itself: a date of birth, sex, ethnicity and a UPN with its
//! check letter (or UN1–UN5); a period of care whose episodes follow one another without gap or overlap (RNE
//! S for the first, REC X1 and RNE P, L, B or U at each change; police protection, an emergency protection
//! order and PACE custody short, as the law has them), legal status, category of need, placement
//! type, provider and Ofsted URN that go together, home and placement postcodes of the UK's shape; reviews 20
//! working days after care starts, three months later, then every six months, with PN codes by age; OC2 for
//! children looked after for 12 months at 31 March, OC3 for care leavers whose 17th to 21st birthday falls in
//! the year, AD1 and PlacedAdoption for adoptions, UASC for unaccompanied children, missing episodes for a
//! minority, social worker episodes, and PrevPerm for every child with an episode starting in the year.
//!
//! Faults and mistakes are data of the pack (`generate.toml`, [`recipe`]): at `--invalid-rate R` a child is
//! given the next `[faults] child` recipe, one that its rows let it make (the child is drawn again until
//! they do); `--profile messy` gives the children the `[messy] mistakes`, drawn by weight from a random
//! stream of their own.
//!
//! The same return is written in the pack's XML form too ([`write_xml`]).
//!
//! Not for: validating (caregate's rules do).

pub mod recipe;
mod xml;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{Datelike, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use caregate_engine::reference::PostcodeDirectory;
use caregate_engine::standard::StandardPack;

pub(crate) use crate::draw::{days, weighted, Draw as _, Weighted};

use crate::cin::Profile;
pub use recipe::{Pick, Recipe, RecipeFile};

/// One child's rows: for each table of the pack (in the pack's order), its rows, each cell as written.
pub type Rows = Vec<Vec<Vec<String>>>;

/// The pack's tables as the generator writes them.
#[derive(Debug, Clone)]
pub struct Layout {
    pub tables: Vec<TableLayout>,
}

#[derive(Debug, Clone)]
pub struct TableLayout {
    pub name: String,
    pub columns: Vec<String>,
    /// Whether each column holds a date (`format: date` in the schema).
    pub dates: Vec<bool>,
    /// The file it is written to.
    pub file: String,
    /// Whether each column is written to the CSV file: not an optional column (DfE's CSV Header has no UASC
    /// status; the XML form carries it).
    pub in_csv: Vec<bool>,
}

impl Layout {
    pub fn index(&self, name: &str) -> Option<usize> {
        self.tables.iter().position(|t| t.name == name)
    }
}

/// `generate.toml` of a pack whose generator is `ssda903`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Faults {
    #[serde(default)]
    child: Vec<RecipeFile>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Messy {
    /// How many mistakes a child carries, as `[count, weight]` pairs.
    #[serde(default)]
    per_child: Vec<(usize, u32)>,
    #[serde(default)]
    mistakes: Vec<RecipeFile>,
}

/// What the pack's `generate.toml` tells the generator, checked against the pack.
#[derive(Debug, Clone)]
pub struct Plan {
    pub layout: Layout,
    /// The faults, taken in turn.
    pub faults: Vec<Recipe>,
    pub mistakes: Vec<Recipe>,
    pub per_child: Vec<(usize, u32)>,
}

impl Plan {
    /// Reads and checks the pack's `generate.toml`: every table has a file, every recipe names tables and
    /// columns of the pack, and every fault a rule of it.
    pub fn of(pack: &StandardPack) -> Result<Plan> {
        let file = super::GenerateFile::of(pack)?;
        let what = format!("{}: generate.toml", pack.reference());
        let tables = pack.manifest.tables.as_ref().ok_or_else(|| anyhow!("{what}: the pack is not sent as tables"))?;
        let files: BTreeMap<String, String> = match file.files {
            Some(v) => v.try_into().with_context(|| format!("{what}: [files]"))?,
            None => BTreeMap::new(),
        };
        let record = pack.record_schema_node();
        let mut layout = Layout { tables: Vec::new() };
        for t in &tables.table {
            let row = record.and_then(|r| r.pointer(&format!("/properties/{}/items/properties", t.name)));
            let dates = t
                .columns
                .iter()
                .map(|c| {
                    row.and_then(|r| r.get(c)).and_then(|s| s.get("format")).and_then(|f| f.as_str()) == Some("date")
                })
                .collect();
            let name = files.get(&t.name).cloned().unwrap_or_else(|| format!("{}.csv", t.name.to_lowercase()));
            if name.contains(['/', '\\']) || !name.ends_with(".csv") {
                bail!("{what}: [files] {} = `{name}` must be a file name ending .csv", t.name);
            }
            let in_csv = t.columns.iter().map(|c| !t.optional.contains(c)).collect();
            layout.tables.push(TableLayout {
                name: t.name.clone(),
                columns: t.columns.clone(),
                dates,
                file: name,
                in_csv,
            });
        }
        if let Some(unknown) = files.keys().find(|k| layout.index(k).is_none()) {
            bail!("{what}: [files] names `{unknown}`, which is not a table of the pack");
        }
        let mut names: Vec<&str> = layout.tables.iter().map(|t| t.file.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            bail!("{what}: [files] gives two tables one file");
        }
        let faults: Faults = match file.faults {
            Some(v) => v.try_into().with_context(|| format!("{what}: [faults]"))?,
            None => Faults::default(),
        };
        let messy: Messy = match file.messy {
            Some(v) => v.try_into().with_context(|| format!("{what}: [messy]"))?,
            None => Messy::default(),
        };
        let mut compiled = Vec::new();
        for (i, recipe) in faults.child.into_iter().enumerate() {
            let Some(rule) = recipe.rule.clone() else {
                bail!("{what}: [faults] child {} names no rule", i + 1);
            };
            let here = format!("{what}: [faults] child {} (rule {rule})", i + 1);
            if pack.rule(&rule).is_none() {
                bail!("{here}: `{rule}` is not a rule of the pack");
            }
            if recipe.weight.is_some() {
                bail!("{here}: a fault has no weight (faults are taken in turn)");
            }
            compiled.push(recipe.compile(&layout, &here)?);
        }
        let mut mistakes = Vec::new();
        for (i, recipe) in messy.mistakes.into_iter().enumerate() {
            let here = format!("{what}: [messy] mistake {}", i + 1);
            if recipe.rule.is_some() {
                bail!("{here}: a mistake names no rule (which rules it breaks is for the validator to say)");
            }
            mistakes.push(recipe.compile(&layout, &here)?);
        }
        let per_child = if messy.per_child.is_empty() { vec![(1, 1)] } else { messy.per_child };
        Ok(Plan { layout, faults: compiled, mistakes, per_child })
    }

    /// The rules the faults break, in turn.
    pub fn rules(&self) -> Vec<String> {
        self.faults.iter().filter_map(|r| r.rule.clone()).collect()
    }
}

/// How a return is generated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub count: usize,
    pub seed: u64,
    pub invalid_rate: f64,
    pub profile: Profile,
    pub area: Area,
}

/// Where the children live and are placed. By default the council is drawn by seed and its postcodes are made
/// up in the shape of its districts (no postcode directory lists them, so the rules that look postcodes up
/// find them unknown). Given the ONS Postcode Directory, every postcode is one it lists with a grid reference:
/// homes and nearby placements in the council's area, the rest in other English councils'; the council is
/// `la_code` when given (as `validate --param la_code` takes it), else the one drawn by seed.
#[derive(Debug, Clone, Default)]
pub struct Area {
    pub postcodes: Option<Arc<PostcodeDirectory>>,
    pub la_code: Option<String>,
}

/// Where the generator's postcodes come from (see [`Area`]).
enum Postcodes {
    Shaped,
    /// Postcodes of the directory: of the council's area, and of other English councils'.
    Listed {
        home: Vec<String>,
        away: Vec<String>,
    },
}

impl Postcodes {
    /// A postcode in `area`, for a return of `council`: made up in its shape, or one listed in the council's
    /// area or elsewhere in England.
    fn draw(&self, rng: &mut ChaCha8Rng, council: &Council, area: &Council) -> String {
        match self {
            Postcodes::Shaped => postcode(rng, area),
            Postcodes::Listed { home, away } => {
                let list = if area.code == council.code { home } else { away };
                list.get(rng.random_range(0..list.len().max(1))).cloned().unwrap_or_default()
            }
        }
    }
}

/// How many postcodes of each kind are drawn from the directory: enough that few children share one.
const LISTED_POSTCODES: usize = 8192;

impl Postcodes {
    /// Draws the postcodes of `la` and of elsewhere in England from the directory, the same ones for the same
    /// seed (reservoir sampling in one pass, with a stream of its own so that the return's draws are those of
    /// a return without the directory).
    fn listed(directory: &PostcodeDirectory, la: &str, seed: u64) -> Result<Postcodes> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x706f_7374_636f_6465);
        let (mut home, mut away) = (Vec::new(), Vec::new());
        let (mut seen_home, mut seen_away) = (0usize, 0usize);
        for (postcode, place) in directory.iter() {
            let (Some(_), Some(authority)) = (place.grid, place.authority) else { continue };
            let (list, seen) = if authority == la {
                (&mut home, &mut seen_home)
            } else if authority.starts_with('E') {
                (&mut away, &mut seen_away)
            } else {
                continue;
            };
            *seen += 1;
            if list.len() < LISTED_POSTCODES {
                list.push(postcode.text());
            } else {
                let j = rng.random_range(0..*seen);
                if let Some(slot) = list.get_mut(j) {
                    *slot = postcode.text();
                }
            }
        }
        if home.is_empty() {
            bail!("the postcode directory lists no postcode of {la} with a grid reference (give --param la_code=CODE, a council it lists)");
        }
        if away.is_empty() {
            away = home.clone();
        }
        Ok(Postcodes::Listed { home, away })
    }
}

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub children: usize,
    pub bytes: u64,
    /// How many children carry each rule's fault.
    pub faults: BTreeMap<String, usize>,
    /// The first child given each rule's fault.
    pub first_child: BTreeMap<String, String>,
    /// How many first-submission mistakes were made.
    pub mistakes: usize,
    /// The files written, in the pack's table order.
    pub files: Vec<String>,
    /// The council's ONS code, for `validate --param la_code`.
    pub la_code: String,
}

/// Writes a return to `dir` (created if need be), one file per table.
pub fn write_return(pack: &StandardPack, settings: &Settings, dir: &Path) -> Result<Summary> {
    let plan = Plan::of(pack)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut outs = Vec::with_capacity(plan.layout.tables.len());
    for t in &plan.layout.tables {
        let path = dir.join(&t.file);
        let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
        outs.push(std::io::BufWriter::with_capacity(1 << 18, file));
    }
    write_tables(pack, &plan, settings, &mut outs)
}

/// Writes a return's tables to `outs`, one writer per table of `plan.layout`, child by child.
pub fn write_tables<W: Write>(
    pack: &StandardPack,
    plan: &Plan,
    settings: &Settings,
    outs: &mut [W],
) -> Result<Summary> {
    if outs.len() != plan.layout.tables.len() {
        bail!("{} tables need {} files, not {}", pack.reference(), plan.layout.tables.len(), outs.len());
    }
    let mut buf = String::with_capacity(4096);
    let mut header_bytes = 0;
    for (t, out) in plan.layout.tables.iter().zip(outs.iter_mut()) {
        buf.clear();
        write_row(&mut buf, &t.columns, &t.in_csv);
        out.write_all(buf.as_bytes()).with_context(|| format!("cannot write {}", t.file))?;
        header_bytes += buf.len() as u64;
    }
    let mut summary = each_child(pack, plan, settings, |rows| {
        let mut bytes = 0;
        for ((t, out), table_rows) in plan.layout.tables.iter().zip(outs.iter_mut()).zip(rows) {
            if table_rows.is_empty() {
                continue;
            }
            buf.clear();
            for row in table_rows {
                write_row(&mut buf, row, &t.in_csv);
            }
            out.write_all(buf.as_bytes()).with_context(|| format!("cannot write {}", t.file))?;
            bytes += buf.len() as u64;
        }
        Ok(bytes)
    })?;
    for (t, out) in plan.layout.tables.iter().zip(outs.iter_mut()) {
        out.flush().with_context(|| format!("cannot write {}", t.file))?;
    }
    summary.bytes += header_bytes;
    summary.files = plan.layout.tables.iter().map(|t| t.file.clone()).collect();
    Ok(summary)
}

/// Writes the same return as [`write_tables`] in the pack's XML form (`[tables.xml]`, see [`xml`]) to `out`.
pub fn write_xml<W: Write + ?Sized>(
    pack: &StandardPack,
    plan: &Plan,
    settings: &Settings,
    out: &mut W,
) -> Result<Summary> {
    let form = xml::XmlLayout::of(pack, &plan.layout)?;
    let mut buf = String::with_capacity(8192);
    form.start(&mut buf);
    out.write_all(buf.as_bytes()).context("cannot write the return")?;
    let mut bytes = buf.len() as u64;
    let mut summary = each_child(pack, plan, settings, |rows| {
        buf.clear();
        form.record(&plan.layout, rows, &mut buf);
        out.write_all(buf.as_bytes()).context("cannot write the return")?;
        Ok(buf.len() as u64)
    })?;
    buf.clear();
    form.end(&mut buf);
    out.write_all(buf.as_bytes()).context("cannot write the return")?;
    out.flush().context("cannot write the return")?;
    bytes += buf.len() as u64;
    summary.bytes += bytes;
    Ok(summary)
}

/// Makes the return's children one by one (faults and mistakes given), handing each child's rows to `write`,
/// which says how many bytes it wrote.
fn each_child(
    pack: &StandardPack,
    plan: &Plan,
    settings: &Settings,
    mut write: impl FnMut(&Rows) -> Result<u64>,
) -> Result<Summary> {
    let mut generator = Generator::new(pack, plan, settings)?;
    let mut summary = Summary { la_code: generator.la_code.clone(), ..Summary::default() };
    let mut mess = ChaCha8Rng::seed_from_u64(settings.seed ^ 0x6d65_7373_7921);
    for index in 0..settings.count {
        let (id, mut rows, fault) = generator.next_child(index);
        if let Some(rule) = fault {
            *summary.faults.entry(rule.clone()).or_default() += 1;
            summary.first_child.entry(rule).or_insert_with(|| id.clone());
        }
        if settings.profile == Profile::Messy && !plan.mistakes.is_empty() {
            let n = weighted(&mut mess, &plan.per_child).copied().unwrap_or(0);
            let table: Vec<(usize, u32)> = (0..plan.mistakes.len()).map(|i| (i, plan.mistakes[i].weight)).collect();
            // Each mistake drawn until one fits the child (a few tries: a child may have no row it fits).
            for _ in 0..n {
                for _ in 0..6 {
                    let Some(&i) = weighted(&mut mess, &table) else { break };
                    if plan.mistakes[i].apply(&mut rows, Pick::Any, &mut mess) {
                        summary.mistakes += 1;
                        break;
                    }
                }
            }
        }
        summary.bytes += write(&rows)?;
    }
    summary.children = settings.count;
    Ok(summary)
}

/// One CSV row of the cells `in_csv` keeps, CRLF-terminated; a cell holding a comma, a quote or a line break
/// is quoted.
fn write_row(buf: &mut String, cells: &[String], in_csv: &[bool]) {
    let kept = cells.iter().zip(in_csv).filter(|(_, keep)| **keep).map(|(cell, _)| cell);
    for (i, cell) in kept.enumerate() {
        if i > 0 {
            buf.push(',');
        }
        if cell.contains([',', '"', '\r', '\n']) {
            buf.push('"');
            buf.push_str(&cell.replace('"', "\"\""));
            buf.push('"');
        } else {
            buf.push_str(cell);
        }
    }
    buf.push_str("\r\n");
}

// ---------------------------------------------------------------------------------------------------------
// Dates.

/// dd/mm/yyyy.
pub fn format_date(d: NaiveDate) -> String {
    format!("{:02}/{:02}/{:04}", d.day(), d.month(), d.year())
}

/// A date written dd/mm/yyyy, exactly.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 10 || b[2] != b'/' || b[5] != b'/' {
        return None;
    }
    NaiveDate::parse_from_str(s, "%d/%m/%Y").ok()
}

/// The date `years` whole years after `d` (29 February becomes 28 February).
fn plus_years(d: NaiveDate, years: i32) -> NaiveDate {
    let y = d.year() + years;
    NaiveDate::from_ymd_opt(y, d.month(), d.day()).or_else(|| NaiveDate::from_ymd_opt(y, d.month(), 28)).unwrap_or(d)
}

/// Whole years from `born` to `on`.
fn age_on(born: NaiveDate, on: NaiveDate) -> i32 {
    let mut age = on.year() - born.year();
    if (on.month(), on.day()) < (born.month(), born.day()) {
        age -= 1;
    }
    age
}

fn param_date(pack: &StandardPack, name: &str) -> Result<NaiveDate> {
    let text = pack
        .params
        .get(name)
        .and_then(|v| v.as_str())
        .ok_or_else(|| anyhow!("{}: standard.toml has no [params] {name}", pack.reference()))?;
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .with_context(|| format!("{}: [params] {name} = {text}", pack.reference()))
}

// ---------------------------------------------------------------------------------------------------------
// Code mixes, roughly as in the national statistics of children looked after.

const ETHNIC: &Weighted = &[
    ("WBRI", 690),
    ("WIRI", 3),
    ("WIRT", 5),
    ("WOTH", 40),
    ("WROM", 8),
    ("MWBC", 40),
    ("MWBA", 12),
    ("MWAS", 12),
    ("MOTH", 35),
    ("AIND", 5),
    ("APKN", 10),
    ("ABAN", 5),
    ("AOTH", 20),
    ("BCRB", 10),
    ("BAFR", 30),
    ("BOTH", 15),
    ("CHNE", 2),
    ("OOTH", 35),
    ("REFU", 3),
    ("NOBT", 10),
];
const ETHNIC_UASC: &Weighted = &[("AOTH", 30), ("BAFR", 25), ("BOTH", 10), ("OOTH", 25), ("WOTH", 5), ("MOTH", 5)];
const NEED: &Weighted =
    &[("N1", 650), ("N2", 30), ("N3", 30), ("N4", 80), ("N5", 130), ("N6", 20), ("N7", 2), ("N8", 58)];
const REASON_PLACE_CHANGE: &Weighted = &[
    ("CARPL", 380),
    ("CREQB", 140),
    ("CREQO", 90),
    ("CHILD", 60),
    ("LAREQ", 90),
    ("CLOSE", 40),
    ("STAND", 30),
    ("ALLEG", 30),
    ("APPRR", 20),
    ("PLACE", 50),
    ("CUSTOD", 10),
    ("OTHER", 40),
];
const LEFT_CARE: &Weighted = &[
    ("E4A", 380),
    ("E4B", 40),
    ("E41", 70),
    ("E45", 70),
    ("E46", 60),
    ("E47", 10),
    ("E48", 10),
    ("E8", 80),
    ("E3", 20),
];
const PARTICIPATION: &Weighted =
    &[("PN1", 500), ("PN2", 120), ("PN3", 90), ("PN4", 60), ("PN5", 80), ("PN6", 80), ("PN7", 70)];
const SDQ_REASON: &Weighted = &[("SDQ2", 30), ("SDQ3", 15), ("SDQ4", 40), ("SDQ5", 15)];
const IN_TOUCH: &Weighted = &[("YES", 880), ("NO", 50), ("REFU", 30), ("NREQ", 20), ("RHOM", 15), ("DIED", 5)];
const ACTIV: &Weighted = &[
    ("F1", 60),
    ("P1", 10),
    ("F2", 220),
    ("P2", 40),
    ("F4", 150),
    ("P4", 60),
    ("F5", 20),
    ("P5", 10),
    ("G4", 60),
    ("G5", 330),
    ("G6", 40),
];
const ACCOM: &Weighted = &[
    ("B1", 20),
    ("C1", 40),
    ("D1", 10),
    ("E1", 40),
    ("G1", 20),
    ("H1", 20),
    ("K1", 30),
    ("R1", 40),
    ("S2", 15),
    ("T1", 120),
    ("U1", 210),
    ("U2", 15),
    ("V1", 30),
    ("V2", 10),
    ("W1", 10),
    ("X2", 10),
    ("Y1", 20),
    ("Y2", 15),
    ("Z1", 10),
];
/// Why a child's social worker changed, written on the episode of the new social worker. First contact (FCONTA)
/// is the reason of a child's first episode only: drawn for a change, it is written OTHERS (the table keeps it so
/// that a seed draws the return it always drew).
const SW_REASON: &Weighted = &[
    ("MANAGE", 150),
    ("FCONTA", 120),
    ("LEFTRL", 250),
    ("ORGRST", 100),
    ("TSPROC", 120),
    ("ABSENC", 60),
    ("CHCHAN", 100),
    ("PCCHAN", 60),
    ("OTHERS", 40),
];
const INWARD_LETTERS: &[u8] = b"ABDEFGHJLNPQRSTUWXYZ";

/// A council: its DfE code, its ONS code (as the postcode directory and `--param la_code` name it), and the
/// postcode districts of its area (area letters and district numbers).
struct Council {
    code: u16,
    ons: &'static str,
    districts: &'static [(&'static str, u8, u8)],
}

const COUNCILS: &[Council] = &[
    Council { code: 202, ons: "E09000007", districts: &[("NW", 1, 6), ("N", 1, 7), ("WC", 1, 2)] },
    Council { code: 204, ons: "E09000012", districts: &[("E", 2, 9), ("N", 1, 1), ("N", 16, 16)] },
    Council { code: 210, ons: "E09000028", districts: &[("SE", 1, 22)] },
    Council { code: 306, ons: "E09000008", districts: &[("CR", 0, 8), ("SE", 19, 25)] },
    Council { code: 330, ons: "E08000025", districts: &[("B", 1, 48)] },
    Council { code: 341, ons: "E08000012", districts: &[("L", 1, 38)] },
    Council { code: 352, ons: "E08000003", districts: &[("M", 1, 40)] },
    Council { code: 373, ons: "E08000019", districts: &[("S", 1, 36)] },
    Council { code: 383, ons: "E08000035", districts: &[("LS", 1, 29)] },
    Council { code: 391, ons: "E08000021", districts: &[("NE", 1, 15)] },
    Council { code: 801, ons: "E06000023", districts: &[("BS", 1, 16)] },
    Council { code: 878, ons: "E10000008", districts: &[("EX", 1, 39), ("TQ", 1, 14), ("PL", 1, 9)] },
    Council { code: 881, ons: "E10000012", districts: &[("CM", 1, 24), ("SS", 0, 17), ("CO", 1, 16)] },
    Council { code: 886, ons: "E10000016", districts: &[("ME", 1, 20), ("CT", 1, 21), ("TN", 1, 30), ("DA", 1, 18)] },
    Council { code: 888, ons: "E10000017", districts: &[("PR", 1, 26), ("BB", 1, 12), ("FY", 1, 8), ("LA", 1, 6)] },
    Council { code: 926, ons: "E10000020", districts: &[("NR", 1, 35), ("PE", 30, 38)] },
];

/// A postcode of the council's area: outward code of one of its districts, inward code of Royal Mail's shape.
fn postcode(rng: &mut ChaCha8Rng, council: &Council) -> String {
    let (area, lo, hi) = council.districts[rng.random_range(0..council.districts.len())];
    let district = rng.random_range(lo..=hi);
    let a = INWARD_LETTERS[rng.random_range(0..INWARD_LETTERS.len())] as char;
    let b = INWARD_LETTERS[rng.random_range(0..INWARD_LETTERS.len())] as char;
    format!("{area}{district} {}{a}{b}", rng.random_range(1..10))
}

// ---------------------------------------------------------------------------------------------------------
// The generator.

/// What a fault needs of the child it is given to.
#[derive(Debug, Clone, Copy, Default)]
struct Want {
    looked_after: bool,
    leaver: bool,
    uasc: bool,
    uasc_ceased: bool,
    oc2: bool,
    adopted: bool,
    placed: bool,
    reversed: bool,
    missing: bool,
    mother: bool,
    new_episode: bool,
    /// Under 5 at 31 March: the change reads or looks for health promotion (HEALTH_CHECK), asked only then.
    under_five: bool,
}

impl Want {
    fn of(recipe: &Recipe, layout: &Layout) -> Want {
        let mut w = Want::default();
        let reads: Vec<&str> = recipe
            .reads()
            .iter()
            .filter_map(|&c| layout.tables[recipe.target].columns.get(c))
            .map(String::as_str)
            .collect();
        for t in [recipe.needs, recipe.target] {
            match layout.tables[t].name.as_str() {
                "Episodes" | "SWEpisodes" | "Reviews" => w.looked_after = true,
                "UASC" => w.uasc = true,
                "OC2" => w.oc2 = true,
                "OC3" => w.leaver = true,
                "AD1" => w.adopted = true,
                "PlacedAdoption" => w.placed = true,
                "Missing" => w.missing = true,
                "PrevPerm" => w.new_episode = true,
                _ => {}
            }
        }
        w.mother = reads.contains(&"MC_DOB");
        let when: Vec<&str> = recipe
            .when
            .iter()
            .filter_map(|(c, _)| layout.tables[recipe.target].columns.get(*c))
            .map(String::as_str)
            .collect();
        w.under_five = reads.contains(&"HEALTH_CHECK") || when.contains(&"HEALTH_CHECK");
        // A change to the UASC status of a UASC child wants one whose status ceased (DUC), which the status
        // must then agree with (rule 303).
        w.uasc_ceased = reads.contains(&"DUC") || (w.uasc && when.contains(&"UASC"));
        w.reversed = reads.contains(&"DATE_PLACED_CEASED") || reads.contains(&"REASON_PLACED_CEASED");
        w
    }
}

/// The tables the generator fills, as indexes of the pack's tables (absent when the pack has no such table).
#[derive(Debug, Clone, Copy)]
struct Known {
    header: Option<usize>,
    episodes: Option<usize>,
    reviews: Option<usize>,
    uasc: Option<usize>,
    oc2: Option<usize>,
    oc3: Option<usize>,
    ad1: Option<usize>,
    placed: Option<usize>,
    prev_perm: Option<usize>,
    missing: Option<usize>,
    sw: Option<usize>,
}

#[derive(Debug, Clone)]
struct Episode {
    decom: NaiveDate,
    rne: &'static str,
    ls: &'static str,
    cin: &'static str,
    place: &'static str,
    provider: &'static str,
    urn: String,
    pl_post: String,
    dec: Option<NaiveDate>,
    rec: Option<&'static str>,
    reason_change: Option<&'static str>,
}

/// An adoption's dates: the decision that the child should be placed, the match, the adoption order, and the
/// reversal of the decision.
type AdoptionDates = (NaiveDate, Option<NaiveDate>, Option<NaiveDate>, Option<NaiveDate>);

/// A placement: type, provider, URN and postcode.
#[derive(Debug, Clone)]
struct Placement {
    place: &'static str,
    provider: &'static str,
    urn: String,
    post: String,
}

struct Generator<'p> {
    plan: &'p Plan,
    rng: ChaCha8Rng,
    start: NaiveDate,
    end: NaiveDate,
    council: &'static Council,
    /// The council's ONS code, as `--param la_code` gives it to `validate`.
    la_code: String,
    postcodes: Postcodes,
    id_base: u64,
    invalid_rate: f64,
    next_fault: usize,
    known: Known,
    /// Children's homes, fostering agencies and adoption agencies: URN, postcode, and whether in the council's
    /// own area (where its own provision is: rule 1015).
    homes: Vec<(String, String, bool)>,
    agencies: Vec<String>,
    la_fostering: String,
    social_workers: u32,
    /// Index of the child being built (for unique UPNs).
    index: u64,
}

impl<'p> Generator<'p> {
    fn new(pack: &StandardPack, plan: &'p Plan, settings: &Settings) -> Result<Generator<'p>> {
        let start = param_date(pack, "collectionStart")?;
        let end = param_date(pack, "collectionEnd")?;
        if end <= start {
            bail!("{}: [params] collectionEnd is not after collectionStart", pack.reference());
        }
        let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
        let drawn = &COUNCILS[rng.random_range(0..COUNCILS.len())];
        // A council named by `la_code` is used whole when the table knows it; otherwise its postcodes are the
        // directory's and the DfE number (of UPNs and LA_PERM) the drawn council's.
        let la_code = settings.area.la_code.clone().unwrap_or_else(|| drawn.ons.to_string());
        let council = COUNCILS.iter().find(|c| c.ons == la_code).unwrap_or(drawn);
        let postcodes = match &settings.area.postcodes {
            Some(directory) => Postcodes::listed(directory, &la_code, settings.seed)?,
            None if settings.area.la_code.is_some() && council.ons != la_code => bail!(
                "--param la_code={la_code}: without the postcode directory a return is generated for one of {}",
                COUNCILS.iter().map(|c| c.ons).collect::<Vec<_>>().join(", ")
            ),
            None => Postcodes::Shaped,
        };
        let id_base = rng.random_range(100_000..800_000u64);
        let l = &plan.layout;
        let known = Known {
            header: l.index("Header"),
            episodes: l.index("Episodes"),
            reviews: l.index("Reviews"),
            uasc: l.index("UASC"),
            oc2: l.index("OC2"),
            oc3: l.index("OC3"),
            ad1: l.index("AD1"),
            placed: l.index("PlacedAdoption"),
            prev_perm: l.index("PrevPerm"),
            missing: l.index("Missing"),
            sw: l.index("SWEpisodes"),
        };
        let mut homes = Vec::new();
        for _ in 0..(settings.count / 20).clamp(8, 400) {
            let far = &COUNCILS[rng.random_range(0..COUNCILS.len())];
            let near = if rng.random_bool(0.6) { council } else { far };
            let urn = format!("SC{}", rng.random_range(380_000..499_999));
            homes.push((urn, postcodes.draw(&mut rng, council, near), near.code == council.code));
        }
        let agencies = (0..12).map(|_| format!("SC{}", rng.random_range(30_000..99_999) + 400_000)).collect();
        let la_fostering = format!("SC0{}", rng.random_range(40_000..69_999));
        let social_workers = (settings.count as u32 / 14).max(3);
        Ok(Generator {
            plan,
            rng,
            start,
            end,
            council,
            la_code,
            postcodes,
            id_base,
            invalid_rate: settings.invalid_rate.clamp(0.0, 1.0),
            next_fault: 0,
            known,
            homes,
            agencies,
            la_fostering,
            social_workers,
            index: 0,
        })
    }

    /// The next child: its key, its rows, and the rule its fault breaks, when it was given one.
    fn next_child(&mut self, index: usize) -> (String, Rows, Option<String>) {
        self.index = index as u64;
        let id = format!("{}", self.id_base + index as u64 * 3 + self.rng.random_range(0..3u64));
        let faulty = self.invalid_rate > 0.0 && !self.plan.faults.is_empty() && self.rng.chance(self.invalid_rate);
        if !faulty {
            let rows = self.child(&id, &Want::default());
            return (id, rows, None);
        }
        let plan: &'p Plan = self.plan;
        let recipe = &plan.faults[self.next_fault % plan.faults.len()];
        self.next_fault += 1;
        let want = Want::of(recipe, &plan.layout);
        for _ in 0..200 {
            let mut rows = self.child(&id, &want);
            if recipe.apply(&mut rows, Pick::First, &mut self.rng) {
                return (id, rows, recipe.rule.clone());
            }
        }
        let rows = self.child(&id, &Want::default());
        (id, rows, None)
    }

    fn empty_rows(&self) -> Rows {
        vec![Vec::new(); self.plan.layout.tables.len()]
    }

    /// Adds a row to table `t` (when the pack has it): the cells named, the others blank.
    fn push(&self, rows: &mut Rows, t: Option<usize>, cells: &[(&str, String)]) {
        let Some(t) = t else { return };
        let columns = &self.plan.layout.tables[t].columns;
        let row = columns
            .iter()
            .map(|c| cells.iter().find(|(name, _)| name == c).map(|(_, v)| v.clone()).unwrap_or_default())
            .collect();
        rows[t].push(row);
    }

    fn upn(&mut self, born: NaiveDate) -> String {
        let la = if self.rng.chance(0.85) {
            self.council.code
        } else {
            COUNCILS[self.rng.random_range(0..COUNCILS.len())].code
        };
        let establishment = 2000 + (self.index / 1000) % 7000;
        let body = format!("{la:03}{establishment:04}{:02}{:03}", (born.year() + 5).rem_euclid(100), self.index % 1000);
        let letter = caregate_engine::expr::upn_check_letter(body.as_bytes()).map_or('A', char::from);
        format!("{letter}{body}")
    }

    fn child(&mut self, id: &str, want: &Want) -> Rows {
        let leaver = (want.leaver && !want.looked_after && !want.oc2 && !want.uasc)
            || (!want.looked_after
                && !want.uasc
                && !want.oc2
                && !want.adopted
                && !want.placed
                && !want.missing
                && !want.mother
                && !want.new_episode
                && self.rng.chance(0.07));
        if leaver {
            self.care_leaver(id)
        } else {
            self.looked_after(id, want)
        }
    }

    /// A young person whose 19th, 20th or 21st birthday falls in the year, looked after as a teenager: Header
    /// and OC3 only.
    fn care_leaver(&mut self, id: &str) -> Rows {
        let mut rows = self.empty_rows();
        let age = self.rng.between(19, 21) as i32;
        let birthday = self.rng.date_in(self.start, self.end);
        let dob = plus_years(birthday, -age);
        let sex = if self.rng.chance(0.55) { "M" } else { "F" };
        let ethnic = self.rng.pick(ETHNIC);
        let upn = if self.rng.chance(0.9) { self.upn(dob) } else { "UN5".to_string() };
        let dob_text = format_date(dob);
        self.push(
            &mut rows,
            self.known.header,
            &[
                ("CHILD", id.to_string()),
                ("SEX", sex.into()),
                ("DOB", dob_text.clone()),
                ("ETHNIC", ethnic.into()),
                ("UPN", upn),
                // MOTHER is asked of a girl looked after in the year, not of a care leaver (rule 165).
                ("MOTHER", String::new()),
                ("MC_DOB", String::new()),
                ("UASC", "0".into()),
            ],
        );
        self.oc3_row(&mut rows, id, &dob_text);
        rows
    }

    fn oc3_row(&mut self, rows: &mut Rows, id: &str, dob: &str) {
        let in_touch = self.rng.pick(IN_TOUCH);
        let (activ, accom) = if in_touch == "YES" {
            let accom = self.rng.pick(ACCOM);
            let suitable = if self.rng.chance(0.9) { '1' } else { '2' };
            let accom =
                if accom.ends_with('1') && suitable == '2' { format!("{}2", &accom[..1]) } else { accom.into() };
            (self.rng.pick(ACTIV).to_string(), accom)
        } else {
            // Not in touch, died or returned home: activity and accommodation are 0 (rule 344), given as the
            // three items are all given or none (rule 153).
            ("0".to_string(), "0".to_string())
        };
        self.push(
            rows,
            self.known.oc3,
            &[
                ("CHILD", id.into()),
                ("DOB", dob.into()),
                ("IN_TOUCH", in_touch.into()),
                ("ACTIV", activ),
                ("ACCOM", accom),
            ],
        );
    }

    fn placement(&mut self, age: i32, uasc: bool, home_post: &str, kinship: bool) -> Placement {
        let roll = self.rng.between(0, 99);
        let place = if kinship {
            if self.rng.chance(0.6) {
                "U1"
            } else {
                "U3"
            }
        } else if age >= 16 && (uasc || roll < 30) {
            if roll < 15 {
                "K3"
            } else if roll < 30 {
                "K2"
            } else {
                "U6"
            }
        } else if age >= 11 && roll < 18 {
            match self.rng.between(0, 19) {
                0 => "K1",
                1 => "S1",
                2 => "R1",
                _ => "K2",
            }
        } else if !uasc && roll >= 94 {
            "P1"
        } else if roll < 45 {
            "U4"
        } else {
            "U6"
        };
        self.placement_of(place, home_post)
    }

    fn placement_of(&mut self, place: &'static str, home_post: &str) -> Placement {
        let provider = match place {
            "P1" => "PR0",
            "K2" => weighted(&mut self.rng, &[("PR4", 75), ("PR1", 20), ("PR5", 5)]).copied().unwrap_or("PR4"),
            "K3" => weighted(&mut self.rng, &[("PR4", 70), ("PR5", 20), ("PR1", 10)]).copied().unwrap_or("PR4"),
            "K1" => weighted(&mut self.rng, &[("PR2", 70), ("PR1", 30)]).copied().unwrap_or("PR2"),
            "S1" => weighted(&mut self.rng, &[("PR4", 60), ("PR5", 40)]).copied().unwrap_or("PR4"),
            "R1" => "PR4",
            "A3" | "A4" | "A5" | "A6" => {
                weighted(&mut self.rng, &[("PR1", 60), ("PR2", 20), ("PR5", 20)]).copied().unwrap_or("PR1")
            }
            "U1" | "U2" | "U3" => "PR1",
            _ => weighted(&mut self.rng, &[("PR1", 62), ("PR4", 34), ("PR5", 4)]).copied().unwrap_or("PR1"),
        };
        let (urn, post) = match place {
            "P1" => (String::new(), home_post.to_string()),
            "R1" => (String::new(), self.postcodes.draw(&mut self.rng, self.council, self.council)),
            "K1" | "K2" | "K3" | "S1" => {
                let drawn = self.rng.random_range(0..self.homes.len());
                // The council's own homes are in its own area: the first such from the one drawn.
                let own = (provider == "PR1")
                    .then(|| (drawn..self.homes.len()).chain(0..drawn).find(|&i| self.homes[i].2))
                    .flatten();
                let (urn, post, _) = self.homes[own.unwrap_or(drawn)].clone();
                (urn, post)
            }
            _ => {
                let urn = if provider == "PR1" {
                    self.la_fostering.clone()
                } else {
                    self.agencies[self.rng.random_range(0..self.agencies.len())].clone()
                };
                // Own provision (PR1) is in the council's own area.
                let near = if self.rng.chance(0.8) || provider == "PR1" {
                    self.council
                } else {
                    &COUNCILS[self.rng.random_range(0..COUNCILS.len())]
                };
                (urn, self.postcodes.draw(&mut self.rng, self.council, near))
            }
        };
        // Away from home, unless placed with parents.
        let mut post = post;
        for _ in 0..8 {
            if place == "P1" || post != home_post {
                break;
            }
            post = self.postcodes.draw(&mut self.rng, self.council, self.council);
        }
        Placement { place, provider, urn, post }
    }

    fn looked_after(&mut self, id: &str, want: &Want) -> Rows {
        let (start, end) = (self.start, self.end);
        let plain = !(want.uasc || want.oc2 || want.mother || want.missing || want.leaver);
        let adoption = want.adopted || want.placed || want.reversed || (plain && self.rng.chance(0.03));
        let uasc = !adoption && (want.uasc || self.rng.chance(0.06));
        // Age at the end of the year.
        let age: i32 = if adoption {
            self.rng.between(2, 5) as i32
        } else if uasc || want.mother {
            self.rng.between(15, 17) as i32
        } else if want.oc2 && want.under_five {
            self.rng.between(1, 4) as i32
        } else if want.oc2 {
            self.rng.between(5, 15) as i32
        } else if want.missing {
            self.rng.between(12, 17) as i32
        } else {
            match self.rng.between(0, 99) {
                0..=4 => 0,
                5..=18 => self.rng.between(1, 4) as i32,
                19..=35 => self.rng.between(5, 9) as i32,
                36..=73 => self.rng.between(10, 15) as i32,
                _ => self.rng.between(16, 17) as i32,
            }
        };
        let mut dob = days(plus_years(end, -age - 1), self.rng.between(1, 365));
        if uasc && want.uasc_ceased {
            // Turns 18 in the year.
            dob = plus_years(self.rng.date_in(days(start, 40), days(end, -10)), -18);
        }
        let eighteenth = plus_years(dob, 18);
        // U (not known) is not drawn: rule 232 queries it.
        let sex = if want.mother {
            "F"
        } else if uasc {
            if self.rng.chance(0.9) {
                "M"
            } else {
                "F"
            }
        } else if self.rng.chance(0.56) {
            "M"
        } else {
            "F"
        };
        let ethnic = if uasc { self.rng.pick(ETHNIC_UASC) } else { self.rng.pick(ETHNIC) };
        // Of school age as rule 209 has it: 4 by 31 August of the year before the collection year starts.
        let school_age = plus_years(dob, 4) <= days(plus_years(start, -1), 152);
        // UN4 (newly looked after, UPN not yet known) is not drawn: it is for a child looked after for a week or
        // less at 31 March (rule 210), which few are.
        let upn = if uasc {
            if self.rng.chance(0.5) {
                "UN3".to_string()
            } else {
                "UN5".to_string()
            }
        } else if !school_age {
            "UN1".to_string()
        } else if self.rng.chance(0.95) {
            self.upn(dob)
        } else {
            ["UN2", "UN5"][self.rng.random_range(0..2)].to_string()
        };

        // The period of care: when it started, and whether and how it ends in the year.
        let born_in_year = dob >= days(start, -7);
        let new_entrant = !born_in_year
            && !want.oc2
            && !adoption
            && (want.new_episode && self.rng.chance(0.7) || uasc && self.rng.chance(0.5) || self.rng.chance(0.33));
        // A period of care starting in the year starts after 1 April: one starting on 1 April itself reads as
        // looked after continuously for the year (DfE's definition, rule 191), which wants OC2.
        let first_day = days(start, 1);
        let poc_start = if born_in_year {
            self.rng.date_in(dob.max(first_day), days(dob, 60).min(days(end, -3)).max(dob.max(first_day)))
        } else if new_entrant {
            self.rng.date_in(first_day, days(end.min(eighteenth), -5).max(first_day))
        } else {
            let earliest = days(start, -365 * 8).max(days(dob, 3));
            let latest = if want.oc2 { days(start, -2) } else { days(start, -1) };
            self.rng.date_in(earliest, latest.max(earliest))
        };
        let home_post =
            if uasc { String::new() } else { self.postcodes.draw(&mut self.rng, self.council, self.council) };
        let cin = if uasc { "N8" } else { self.rng.pick(NEED) };
        let kinship = !uasc && self.rng.chance(0.15);

        let mut episodes: Vec<Episode> = Vec::new();
        let mut adoption_dates: Option<AdoptionDates> = None;
        let leaves_at_18 = eighteenth <= end && eighteenth > poc_start;
        if adoption {
            adoption_dates = Some(self.adoption_episodes(&mut episodes, dob, cin, &home_post, want));
        } else {
            let first_ls = if uasc {
                "V2"
            } else if new_entrant || born_in_year {
                weighted(&mut self.rng, &[("V2", 40), ("C1", 50), ("L1", 4), ("L2", 3), ("J2", 3)])
                    .copied()
                    .unwrap_or("V2")
            } else {
                weighted(&mut self.rng, &[("C2", 70), ("V2", 18), ("C1", 12)]).copied().unwrap_or("C2")
            };
            let age_at_start = age_on(dob, poc_start);
            // Remanded (J1-J3) only from the age of 10 (rule 358).
            let first_ls = if first_ls == "J2" && age_at_start < 10 { "V2" } else { first_ls };
            let first = self.placement(age_at_start, uasc, &home_post, kinship);
            let first = self.not_with_parents(first, first_ls, &home_post);
            episodes.push(Episode {
                decom: poc_start,
                rne: "S",
                ls: first_ls,
                cin,
                place: first.place,
                provider: first.provider,
                urn: first.urn,
                pl_post: first.post,
                dec: None,
                rec: None,
                reason_change: None,
            });
            let care_end = if leaves_at_18 {
                Some(eighteenth)
            } else if want.oc2 || want.mother {
                None
            } else {
                let p = if new_entrant { 0.4 } else { 0.22 };
                if self.rng.chance(p) {
                    let from = days(poc_start.max(start), 7);
                    if from < days(end, -1) {
                        Some(self.rng.date_in(from, days(end, -1)))
                    } else {
                        None
                    }
                } else {
                    None
                }
            };
            // Changes of placement or legal status until the care ends or the year does.
            while let Some(last) = episodes.last() {
                let teen = age_on(dob, last.decom) >= 13;
                // Police protection lasts at most 72 hours, an emergency protection order and PACE custody at
                // most 21 days (rules 361, 362, 364): the legal status changes within them.
                let short = match last.ls {
                    "L1" => Some(3),
                    "L2" | "J2" => Some(21),
                    _ => None,
                };
                let gap = match short {
                    Some(most) => self.rng.between(1, most),
                    None if teen => self.rng.between(25, 330),
                    None => self.rng.between(40, 500),
                };
                let at = days(last.decom, gap);
                let stop = care_end.unwrap_or(days(end, 1));
                if at >= stop || at > end {
                    break;
                }
                let age_then = age_on(dob, at);
                let last = last.clone();
                let legal_next = match last.ls {
                    "L1" | "L2" => Some("C1"),
                    "J2" => Some("V2"),
                    "C1" => Some("C2"),
                    "V2" if !uasc && self.rng.chance(0.3) => Some("C1"),
                    _ => None,
                };
                let roll = self.rng.between(0, 99);
                let roll = if short.is_some() { roll % 70 } else { roll };
                let (rne, ls, placement) = match legal_next {
                    Some(ls) if roll < 55 => ("L", ls, None),
                    // B: legal status, placement and carer change together.
                    Some(ls) if roll < 70 => ("B", ls, Some(self.placement(age_then, uasc, &home_post, false))),
                    _ => ("P", last.ls, Some(self.placement(age_then, uasc, &home_post, kinship && roll < 50))),
                };
                let placement = placement.map(|p| {
                    let mut p = self.not_with_parents(p, ls, &home_post);
                    // A change of placement changes something of it, and away from parents is away from home
                    // (a few draws: a council may have few postcodes listed).
                    for _ in 0..16 {
                        if !p.pl_same(&last) && (p.place == "P1" || p.post != home_post) {
                            break;
                        }
                        p.post = self.postcodes.draw(&mut self.rng, self.council, self.council);
                    }
                    p
                });
                if let Some(prev) = episodes.last_mut() {
                    prev.dec = Some(at);
                    prev.rec = Some("X1");
                    if placement.is_some() {
                        let reason = weighted(&mut self.rng, REASON_PLACE_CHANGE).copied().unwrap_or("CARPL");
                        // Custody only from the age of 10 (rule 234).
                        let young = age_on(dob, prev.decom) < 10;
                        prev.reason_change = Some(if reason == "CUSTOD" && young { "CARPL" } else { reason });
                    }
                }
                let (place, provider, urn, pl_post) = match placement {
                    Some(p) => (p.place, p.provider, p.urn, p.post),
                    None => (last.place, last.provider, last.urn.clone(), last.pl_post.clone()),
                };
                episodes.push(Episode {
                    decom: at,
                    rne,
                    ls,
                    cin,
                    place,
                    provider,
                    urn,
                    pl_post,
                    dec: None,
                    rec: None,
                    reason_change: None,
                });
            }
            if let Some(ended) = care_end {
                let place = episodes.last().map(|e| e.place).unwrap_or("U6");
                let reason = if leaves_at_18 {
                    if place.starts_with('U') && self.rng.chance(0.5) {
                        "E17"
                    } else {
                        weighted(&mut self.rng, &[("E5", 60), ("E6", 15), ("E8", 15), ("E13", 10)])
                            .copied()
                            .unwrap_or("E5")
                    }
                } else if uasc && self.rng.chance(0.1) {
                    "E15"
                } else {
                    let r = self.rng.pick(LEFT_CARE);
                    // Staying with former foster carers (E45, E46) only from a foster placement (rule 516).
                    let r = if matches!(r, "E45" | "E46") && !place.starts_with('U') { "E4A" } else { r };
                    if age_on(dob, ended) >= 16 && self.rng.chance(0.2) {
                        "E5"
                    } else {
                        r
                    }
                };
                if let Some(last) = episodes.last_mut() {
                    last.dec = Some(ended.max(days(last.decom, 1)));
                    last.rec = Some(reason);
                }
            }
        }

        let mut rows = self.empty_rows();
        let dob_text = format_date(dob);
        let looked_after_at_end = episodes.last().is_some_and(|e| e.dec.is_none());
        // MOTHER is given for every girl looked after in the year (rule 165).
        let mother = if sex != "F" {
            ""
        } else if age >= 12 && (want.mother || (age >= 15 && self.rng.chance(0.01))) {
            "1"
        } else {
            "0"
        };
        let mc_dob = if mother == "1" {
            // Born by the end of the year, and by the end of care when care has ended (625).
            let ended = episodes.iter().all(|e| e.dec.is_some()).then(|| episodes.iter().filter_map(|e| e.dec).max());
            let latest = ended.flatten().map_or(days(end, -20), |d| d.min(days(end, -20)));
            format_date(self.rng.date_in(days(start, -300).min(latest), latest))
        } else {
            String::new()
        };
        self.push(
            &mut rows,
            self.known.header,
            &[
                ("CHILD", id.into()),
                ("SEX", sex.into()),
                ("DOB", dob_text.clone()),
                ("ETHNIC", ethnic.into()),
                ("UPN", upn),
                ("MOTHER", mother.into()),
                ("MC_DOB", mc_dob),
                // The UASC status, which only the XML form carries: 1 exactly for a child with a UASC row.
                ("UASC", if uasc { "1" } else { "0" }.into()),
            ],
        );
        let shown: Vec<&Episode> = episodes.iter().filter(|e| e.dec.is_none_or(|d| d >= start)).collect();
        for e in &shown {
            let pc = e.place;
            let home = if pc == "P1" { e.pl_post.clone() } else { home_post.clone() };
            self.push(
                &mut rows,
                self.known.episodes,
                &[
                    ("CHILD", id.into()),
                    ("DECOM", format_date(e.decom)),
                    ("RNE", e.rne.into()),
                    ("LS", e.ls.into()),
                    ("CIN", e.cin.into()),
                    ("PLACE", e.place.into()),
                    ("PLACE_PROVIDER", e.provider.into()),
                    ("DEC", e.dec.map(format_date).unwrap_or_default()),
                    ("REC", e.rec.unwrap_or_default().into()),
                    ("REASON_PLACE_CHANGE", e.reason_change.unwrap_or_default().into()),
                    ("HOME_POST", home),
                    ("PL_POST", e.pl_post.clone()),
                    ("URN", e.urn.clone()),
                ],
            );
        }
        let care_start = episodes.first().map_or(poc_start, |e| e.decom);
        let care_end = episodes.last().and_then(|e| e.dec);

        // Reviews: 20 working days (about four weeks) after care starts, three months later, then six-monthly.
        let mut review = days(care_start, self.rng.between(14, 27));
        let mut n = 0;
        while review <= end && care_end.is_none_or(|e| review < e) {
            if review >= start {
                let code = if age_on(dob, review) < 4 { "PN0" } else { self.rng.pick(PARTICIPATION) };
                self.push(
                    &mut rows,
                    self.known.reviews,
                    &[
                        ("CHILD", id.into()),
                        ("DOB", dob_text.clone()),
                        ("REVIEW", format_date(review)),
                        ("REVIEW_CODE", code.into()),
                    ],
                );
            }
            n += 1;
            review = days(review, if n == 1 { self.rng.between(80, 92) } else { self.rng.between(160, 182) });
        }

        if uasc {
            let duc = if eighteenth <= end { format_date(eighteenth) } else { String::new() };
            self.push(
                &mut rows,
                self.known.uasc,
                &[("CHILD", id.into()), ("SEX", sex.into()), ("DOB", dob_text.clone()), ("DUC", duc)],
            );
        }

        // OC2: looked after continuously for 12 months at 31 March.
        if looked_after_at_end && care_start <= days(start, -1) {
            let age_start = age_on(dob, start);
            let age_end = age_on(dob, end);
            let (score, reason) = if age_end < 4 || age_start >= 17 {
                (String::new(), String::new())
            } else if self.rng.chance(0.85) {
                (self.rng.between(2, 32).to_string(), String::new())
            } else {
                (String::new(), self.rng.pick(SDQ_REASON).to_string())
            };
            let flag = |g: &mut Self, p: f64| if g.rng.chance(p) { "1".to_string() } else { "0".to_string() };
            // Conviction is asked only of a child aged 10 or over at 31 March (rule 542).
            let convicted = if age_end >= 10 { flag(self, 0.03) } else { String::new() };
            let health_check = if age_end < 5 { flag(self, 0.88) } else { String::new() };
            let substance = if age_end >= 10 { flag(self, 0.05) } else { "0".into() };
            // Whether an intervention was offered is asked only when none was received (rule 158).
            let (received, offered) = if substance != "1" {
                (String::new(), String::new())
            } else if self.rng.chance(0.6) {
                ("1".to_string(), String::new())
            } else {
                ("0".to_string(), flag(self, 0.7))
            };
            let cells = [
                ("CHILD", id.to_string()),
                ("DOB", dob_text.clone()),
                ("SDQ_SCORE", score),
                ("SDQ_REASON", reason),
                ("CONVICTED", convicted),
                ("HEALTH_CHECK", health_check),
                ("IMMUNISATIONS", flag(self, 0.85)),
                ("TEETH_CHECK", flag(self, 0.75)),
                ("HEALTH_ASSESSMENT", flag(self, 0.9)),
                ("SUBSTANCE_MISUSE", substance),
                ("INTERVENTION_RECEIVED", received),
                ("INTERVENTION_OFFERED", offered),
            ];
            self.push(&mut rows, self.known.oc2, &cells);
        }

        // OC3: left care at 18 in the year.
        if leaves_at_18 && care_end == Some(eighteenth) {
            self.oc3_row(&mut rows, id, &dob_text);
        }

        if let Some((decision, matched, adopted, reversed)) = adoption_dates {
            if let (Some(matched), Some(adopted)) = (matched, adopted) {
                if adopted >= start && adopted <= end {
                    let couple = self.rng.chance(0.8);
                    let (sex_adoptr, ls_adoptr) = if couple {
                        weighted(
                            &mut self.rng,
                            &[
                                (("MF", "L11"), 60),
                                (("MF", "L3"), 15),
                                (("FF", "L12"), 8),
                                (("MM", "L2"), 6),
                                (("FF", "L4"), 5),
                                (("MM", "L4"), 3),
                                (("FF", "L2"), 3),
                            ],
                        )
                        .copied()
                        .unwrap_or(("MF", "L11"))
                    } else if self.rng.chance(0.85) {
                        ("F1", "L0")
                    } else {
                        ("M1", "L0")
                    };
                    let foster = if shown.iter().any(|e| matches!(e.place, "A3" | "A5")) { "1" } else { "0" };
                    self.push(
                        &mut rows,
                        self.known.ad1,
                        &[
                            ("CHILD", id.into()),
                            ("DOB", dob_text.clone()),
                            ("DATE_INT", format_date(decision)),
                            ("DATE_MATCH", format_date(matched)),
                            ("FOSTER_CARE", foster.into()),
                            ("NB_ADOPTR", if couple { "2" } else { "1" }.into()),
                            ("SEX_ADOPTR", sex_adoptr.into()),
                            ("LS_ADOPTR", ls_adoptr.into()),
                        ],
                    );
                }
            }
            let (ceased, reason) = match reversed {
                Some(d) => {
                    (format_date(d), self.rng.pick(&[("RD1", 40), ("RD2", 20), ("RD3", 20), ("RD4", 20)]).to_string())
                }
                None => (String::new(), String::new()),
            };
            self.push(
                &mut rows,
                self.known.placed,
                &[
                    ("CHILD", id.into()),
                    ("DOB", dob_text.clone()),
                    ("DATE_PLACED", format_date(decision)),
                    ("DATE_PLACED_CEASED", ceased),
                    ("REASON_PLACED_CEASED", reason),
                ],
            );
        }

        // PrevPerm: every child with an episode starting in the year.
        if shown.iter().any(|e| e.decom >= start) {
            let prev = if self.rng.chance(0.88) {
                "Z1"
            } else {
                self.rng.pick(&[("P1", 20), ("P2", 40), ("P3", 25), ("P4", 15)])
            };
            let (la, date) = if prev == "Z1" {
                (String::new(), String::new())
            } else {
                let la = if self.rng.chance(0.7) {
                    self.council.code
                } else {
                    COUNCILS[self.rng.random_range(0..COUNCILS.len())].code
                };
                let from = days(dob, 30).min(days(care_start, -30));
                (format!("{la:03}"), format_date(self.rng.date_in(from, days(care_start, -30).max(from))))
            };
            self.push(
                &mut rows,
                self.known.prev_perm,
                &[
                    ("CHILD", id.into()),
                    ("DOB", dob_text.clone()),
                    ("PREV_PERM", prev.into()),
                    ("LA_PERM", la),
                    ("DATE_PERM", date),
                ],
            );
        }

        // Missing episodes for a minority of older children, within the care of the year.
        let from = care_start.max(start);
        let to = care_end.unwrap_or(end).min(end);
        if age >= 11 && (to - from).num_days() > 30 && (want.missing || self.rng.chance(0.12)) {
            let k = self.rng.between(1, 4);
            let mut at = from;
            for _ in 0..k {
                let room = (to - at).num_days();
                if room < 10 {
                    break;
                }
                let s = days(at, self.rng.between(1, room / 2));
                let e = days(s, self.rng.between(0, 4)).min(to);
                let kind = if self.rng.chance(0.7) { "M" } else { "A" };
                self.push(
                    &mut rows,
                    self.known.missing,
                    &[
                        ("CHILD", id.into()),
                        ("DOB", dob_text.clone()),
                        ("MISSING", kind.into()),
                        ("MIS_START", format_date(s)),
                        ("MIS_END", format_date(e)),
                    ],
                );
                at = days(e, 1);
            }
        }

        // Social worker episodes: the one allocated at the start of the year (or of care), then changes. SW_REASON
        // is why the episode began: first contact for the first, the reason for the change for each later one.
        let mut sw_start =
            if care_start < start { days(start, -self.rng.between(0, 300)).max(care_start) } else { care_start };
        let mut reason = "FCONTA".to_string();
        loop {
            let sw = format!("SW{:05}", 10_000 + self.rng.random_range(0..self.social_workers));
            let next = days(sw_start, self.rng.between(60, 420));
            let (sw_dec, next_reason) = if next < to && next <= end {
                let change = self.rng.pick(SW_REASON);
                (format_date(next), if change == "FCONTA" { "OTHERS" } else { change }.to_string())
            } else if care_end.is_some() {
                (format_date(to), String::new())
            } else {
                (String::new(), String::new())
            };
            let ended = !sw_dec.is_empty() && next < to;
            self.push(
                &mut rows,
                self.known.sw,
                &[
                    ("CHILD", id.into()),
                    ("DOB", dob_text.clone()),
                    ("SW_ID", sw),
                    ("SW_DECOM", format_date(sw_start)),
                    ("SW_DEC", sw_dec),
                    ("SW_REASON", std::mem::replace(&mut reason, next_reason)),
                ],
            );
            if !ended {
                break;
            }
            sw_start = next;
        }
        rows
    }

    /// The episodes of a child on the way to adoption: care order, placement order, placed for adoption, and
    /// (most often) adopted in the year; or a decision to place reversed. Gives the dates of the decision,
    /// match, placement, adoption order and reversal.
    fn adoption_episodes(
        &mut self,
        episodes: &mut Vec<Episode>,
        dob: NaiveDate,
        cin: &'static str,
        home_post: &str,
        want: &Want,
    ) -> AdoptionDates {
        let (start, end) = (self.start, self.end);
        let reversed = want.reversed || (!want.adopted && self.rng.chance(0.06));
        let adopted_in_year = want.adopted || (!reversed && self.rng.chance(0.7));
        // Work back from the adoption order in the year, or from a placement for adoption made by its end (the
        // adoption order then falls later, in the year or after it).
        let (placed, adopted) = if adopted_in_year {
            let adopted = self.rng.date_in(days(start, 10), days(end, -5));
            (days(adopted, -self.rng.between(70, 240)), adopted)
        } else {
            let placed = self.rng.date_in(days(start, -60), days(end, -10));
            (placed, days(placed, self.rng.between(70, 240)))
        };
        let matched = days(placed, -self.rng.between(7, 40));
        let po = days(matched, -self.rng.between(30, 180));
        let decision = if reversed {
            self.rng.date_in(days(start, -400), days(end, -60))
        } else {
            days(po, -self.rng.between(20, 100))
        };
        let c2 = days(decision, -self.rng.between(30, 150));
        let start_care = days(c2, -self.rng.between(60, 250)).max(days(dob, 2));
        let (c2, decision) = (c2.max(days(start_care, 1)), decision.max(days(start_care, 2)));
        let (po, matched, placed) =
            (po.max(days(decision, 1)), matched.max(days(decision, 2)), placed.max(days(decision, 3)));
        let with_carer = self.rng.chance(0.15);
        let foster = self.placement_of(if with_carer { "U5" } else { "U6" }, home_post);
        let push =
            |episodes: &mut Vec<Episode>, decom: NaiveDate, rne: &'static str, ls: &'static str, p: &Placement| {
                if let Some(prev) = episodes.last_mut() {
                    prev.dec = Some(decom);
                    prev.rec = Some("X1");
                    if rne != "L" {
                        prev.reason_change = Some("CARPL");
                    }
                }
                episodes.push(Episode {
                    decom,
                    rne,
                    ls,
                    cin,
                    place: p.place,
                    provider: p.provider,
                    urn: p.urn.clone(),
                    pl_post: p.post.clone(),
                    dec: None,
                    rec: None,
                    reason_change: None,
                });
            };
        push(episodes, start_care, "S", "C1", &foster);
        push(episodes, c2, "L", "C2", &foster);
        if reversed {
            // The decision to place is reversed in the year; the child stays in foster care.
            let reversal = self.rng.date_in(days(start.max(decision), 1), days(end, -1));
            return (decision.min(days(reversal, -1)), None, None, Some(reversal));
        }
        if !with_carer && po <= end {
            push(episodes, po, "L", "E1", &foster);
        }
        if placed <= end {
            if with_carer {
                // Placed for adoption with the current foster carer as the placement order is made: legal
                // status and placement change, the carer stays (RNE U).
                let adoptive = Placement { place: "A3", ..foster.clone() };
                push(episodes, placed, "U", "E1", &adoptive);
            } else {
                let adoptive = self.placement_of("A4", home_post);
                push(episodes, placed, "P", "E1", &adoptive);
            }
            if adopted <= end {
                if let Some(last) = episodes.last_mut() {
                    last.dec = Some(adopted);
                    last.rec = Some(if self.rng.random_bool(0.7) { "E11" } else { "E12" });
                }
            }
        }
        (decision, Some(matched), Some(adopted), None)
    }
}

impl Generator<'_> {
    /// A placement for legal status `ls`: not with parents (P1) under a single period of accommodation under
    /// section 20 (V2, rule 378) or on remand (J2), whose placement a later V2 episode keeps.
    fn not_with_parents(&mut self, p: Placement, ls: &str, home_post: &str) -> Placement {
        if p.place == "P1" && matches!(ls, "V2" | "J2") {
            self.placement_of("U6", home_post)
        } else {
            p
        }
    }
}

impl Placement {
    /// Whether this placement is the same as an episode's (type, provider, URN and postcode).
    fn pl_same(&self, e: &Episode) -> bool {
        self.place == e.place && self.provider == e.provider && self.urn == e.urn && self.post == e.pl_post
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postcodes_have_the_uk_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for council in COUNCILS {
            for _ in 0..200 {
                let p = postcode(&mut rng, council);
                assert!(caregate_engine::expr::uk_postcode(&p), "{p}");
            }
        }
    }

    #[test]
    fn dates_are_read_and_written_dd_mm_yyyy_only() {
        let d = NaiveDate::from_ymd_opt(2025, 7, 21).expect("a date");
        assert_eq!(format_date(d), "21/07/2025");
        assert_eq!(parse_date("21/07/2025"), Some(d));
        assert_eq!(parse_date("2025-07-21"), None);
        assert_eq!(parse_date("1/7/2025"), None);
        assert_eq!(recipe::date_as(d, "yyyy-mm-dd"), "2025-07-21");
        assert_eq!(recipe::date_as(d, "dd.mm.yyyy"), "21.07.2025");
        assert_eq!(
            age_on(
                NaiveDate::from_ymd_opt(2008, 3, 31).expect("a date"),
                NaiveDate::from_ymd_opt(2026, 3, 31).expect("a date")
            ),
            18
        );
    }
}
