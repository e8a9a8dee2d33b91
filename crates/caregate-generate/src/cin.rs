//! The Children in Need census generator: one whole, realistic return of N children for a local authority,
//! reproducible by seed, written child by child so that a return of any size streams in constant memory.
//!
//! Every child is consistent with the census year (1 April to the reference date) and with itself: born
//! before referral, episodes one after another with at most the latest open, assessments started after the
//! referral and mostly authorised within 45 working days, Section 47 enquiries leading to an initial child
//! protection conference on a working day and a child protection plan starting that day, reviews after the
//! plan starts, CIN plans never open beside a child protection plan, closures after everything they close.
//! Codes follow the mixes of the pack's `[codes]` (module `codes`: ethnicity, disability, referral source,
//! primary need, category of abuse, factors at assessment, reasons for closure, local authorities), roughly as
//! in national CIN statistics. The codes the model itself gives meaning to stay here: an unborn child's `U`,
//! `NOBT` and `UN1`, `NONE` disability, closure reasons for a death (`RC2`), no further action (`RC7`, needs
//! `N9`/`N0`), an assessment only (`RC8`/`RC9`), age 16 or over (`RC6`) and adoption (`RC1`), `UN7`, and factor
//! `21` (no factors, the case closed; `20` when it did not).
//!
//! At `--invalid-rate R` a child is given one deliberate fault, taking in turn the recipes of the pack's
//! `generate.toml` (module `recipe`: the child each rule needs and how it is broken), so that over enough
//! children every rule the pack lists is broken at least once. A recipe may go on in a run of later children
//! (conferences left out of several children's plans, a run of children of unknown sex), and — when the return
//! is large enough for every child fault to occur (`count × R` at least the number of child faults) — the
//! whole-return faults move the header's reference date and give the return few disability codes, one per
//! child.
//!
//! The messy profile (`--profile messy`, module `messy`) gives the same children the mistakes of a council's
//! first submission: blank elements, dates outside the year or day first, wrong codes, repeated ids,
//! overlapping episodes and missing modules, about two findings a child.
//!
//! Not for: other standards (they generate from their examples, `super::Generator`), or validating.

mod codes;
mod messy;
mod recipe;
mod write;

pub use codes::Codes;
pub use messy::Messy;

use write::{leaf, leaf_date, write_child};

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::{anyhow, Context as _, Result};
use chrono::{Datelike, NaiveDate, Weekday};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use strum::VariantNames as _;

use caregate_engine::standard::StandardPack;

pub(crate) use crate::draw::{days, weighted, Draw as _};

/// What was generated.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub children: usize,
    pub bytes: u64,
    /// How many children carry each rule's deliberate fault.
    pub faults: BTreeMap<String, usize>,
    /// Whether the whole-return faults (`[faults.whole_return]`) were given.
    pub return_faults: bool,
    /// How many mistakes of each kind the messy profile made.
    pub mistakes: BTreeMap<&'static str, usize>,
}

/// What kind of return is generated: `clean` or `messy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, strum::Display, strum::EnumString, strum::VariantNames)]
#[strum(serialize_all = "lowercase", parse_err_ty = String, parse_err_fn = unknown_profile)]
pub enum Profile {
    /// Children consistent with themselves and the census year; faults only at `--invalid-rate`.
    #[default]
    Clean,
    /// The same children with the mistakes of a first submission (module `messy`).
    Messy,
}

fn unknown_profile(text: &str) -> String {
    format!("unknown profile `{text}`: expected {}", caregate_engine::names::one_of(Profile::VARIANTS))
}

/// `[faults]` as `generate.toml` writes it.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsFile {
    /// The recipes, each read on its own so that an error names it.
    #[serde(default)]
    child: Vec<toml::Value>,
    /// The children recipes need, by name.
    #[serde(default)]
    shapes: BTreeMap<String, recipe::ShapeFile>,
    #[serde(default)]
    whole_return: WholeReturn,
}

/// The faults made across a whole return, together, when it is large enough for every child fault to occur.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct WholeReturn {
    /// The rules they break.
    #[serde(default)]
    rules: Vec<String>,
    /// Days the header's reference date is moved by.
    #[serde(default)]
    reference_date_days: i64,
    /// The few codes (weights) a child with a disability is given one of; none: disabilities as usual.
    #[serde(default)]
    disabilities: Vec<(String, u32)>,
}

/// The faults the generator makes, from the pack's `generate.toml` (`[faults]`): a recipe for each rule a faulty
/// child is made to break, taken in turn, and the faults made across a whole return.
#[derive(Debug, Clone, Default)]
pub struct FaultLists {
    child: Vec<recipe::Recipe>,
    whole_return: WholeReturn,
}

impl FaultLists {
    /// The pack's faults, each recipe checked against the census model and each rule to be one of the pack's
    /// rules (a new year's pack that drops a rule must drop its fault too).
    pub fn of(pack: &StandardPack) -> Result<FaultLists> {
        let context = || format!("{}: generate.toml: [faults]", pack.reference());
        let file: FaultsFile = match super::GenerateFile::of(pack)?.faults {
            Some(value) => value.try_into().with_context(context)?,
            None => FaultsFile::default(),
        };
        let child = recipe::compile(&file.child, &file.shapes).with_context(context)?;
        let lists = FaultLists { child, whole_return: file.whole_return };
        for rule in lists.all() {
            if pack.rule(&rule).is_none() {
                return Err(anyhow!(
                    "{}: generate.toml: [faults] names `{rule}`, which is not a rule of the pack",
                    pack.reference()
                ));
            }
        }
        if let Some((code, _)) = lists.whole_return.disabilities.iter().find(|(_, weight)| *weight == 0) {
            return Err(anyhow!("{}: give `{code}` a weight of at least 1", context()));
        }
        Ok(lists)
    }

    /// Every rule the generator breaks: the child faults, then the whole-return ones.
    pub fn all(&self) -> Vec<String> {
        self.child.iter().map(|r| r.rule.clone()).chain(self.whole_return.rules.iter().cloned()).collect()
    }
}

/// Writes one clean return of `count` children to `out`.
pub fn write_return(
    pack: &StandardPack,
    count: usize,
    seed: u64,
    invalid_rate: f64,
    out: &mut dyn Write,
) -> Result<Summary> {
    write_return_with(pack, count, seed, invalid_rate, Profile::Clean, out)
}

/// Writes one return of `count` children to `out`, of the given profile.
pub fn write_return_with(
    pack: &StandardPack,
    count: usize,
    seed: u64,
    invalid_rate: f64,
    profile: Profile,
    out: &mut dyn Write,
) -> Result<Summary> {
    // All of the pack's generate.toml is read and checked, whichever profile is asked for.
    let faults = FaultLists::of(pack)?;
    let codes = Codes::of(pack)?;
    let messy = Messy::of(pack)?;
    let mut generator = CinGenerator::new(pack, &faults, &codes, count, seed, invalid_rate)?;
    let mut mess = match (profile, &messy) {
        (Profile::Clean, _) => None,
        (Profile::Messy, Some(messy)) => {
            Some(messy::Mess::new(messy, seed, generator.start, generator.end, &pack.codelists))
        }
        (Profile::Messy, None) => {
            return Err(anyhow!("{}: generate.toml has no [messy], so no messy profile", pack.reference()))
        }
    };
    let mut summary = Summary { return_faults: generator.return_faults, ..Summary::default() };
    let mut buf = String::with_capacity(16 * 1024);
    generator.header(&mut buf);
    for index in 0..count {
        let (child, fault) = generator.next_child(index);
        if let Some(rule) = fault {
            *summary.faults.entry(rule).or_default() += 1;
        }
        let written_from = buf.len();
        write_child(&child, &mut buf);
        if let Some(mess) = &mut mess {
            mess.spoil(&mut buf, written_from, &mut summary.mistakes);
        }
        out.write_all(buf.as_bytes()).context("cannot write the return")?;
        summary.bytes += buf.len() as u64;
        buf.clear();
    }
    buf.push_str("  </Children>\n</Message>\n");
    out.write_all(buf.as_bytes()).context("cannot write the return")?;
    summary.bytes += buf.len() as u64;
    out.flush().context("cannot write the return")?;
    summary.children = count;
    if generator.return_faults {
        for rule in &generator.faults.whole_return.rules {
            summary.faults.insert(rule.clone(), 1);
        }
    }
    Ok(summary)
}

// ---------------------------------------------------------------------------------------------------------
// The return's model: one child at a time.

// Codes are `&'a str`: the generator's own, or the pack's (code mixes and recipes), which outlive the return.

#[derive(Debug, Clone, Default)]
struct Child<'a> {
    id: Option<String>,
    upn: Option<String>,
    former_upn: Option<String>,
    upn_unknown: Option<&'a str>,
    birth: Option<NaiveDate>,
    expected: Option<NaiveDate>,
    sex: Option<&'a str>,
    death: Option<NaiveDate>,
    ethnicity: Option<&'a str>,
    disabilities: Option<Vec<&'a str>>,
    episodes: Vec<Episode<'a>>,
}

#[derive(Debug, Clone)]
struct Episode<'a> {
    referral: NaiveDate,
    source: &'a str,
    need: Option<&'a str>,
    closure: Option<NaiveDate>,
    reason: Option<&'a str>,
    icpc: Option<NaiveDate>,
    assessments: Vec<Assessment<'a>>,
    plans: Vec<Plan>,
    s47: Vec<S47<'a>>,
    nfa: Option<&'a str>,
    cpps: Vec<Cpp<'a>>,
}

#[derive(Debug, Clone)]
struct Assessment<'a> {
    start: NaiveDate,
    review: Option<NaiveDate>,
    auth: Option<NaiveDate>,
    factors: Option<Vec<&'a str>>,
}

#[derive(Debug, Clone)]
struct Plan {
    start: NaiveDate,
    end: Option<NaiveDate>,
}

#[derive(Debug, Clone)]
struct S47<'a> {
    start: NaiveDate,
    target: Option<NaiveDate>,
    icpc: Option<NaiveDate>,
    not_required: &'a str,
}

#[derive(Debug, Clone)]
struct Cpp<'a> {
    start: NaiveDate,
    end: Option<NaiveDate>,
    initial: &'a str,
    latest: &'a str,
    previous: Option<u32>,
    /// `None` is a review element without a date.
    reviews: Vec<Option<NaiveDate>>,
}

/// What an episode consists of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A referral with no further action.
    Nfa,
    /// An assessment, then closed (RC8 or RC9).
    AssessmentClosed,
    /// An assessment still under way at the reference date.
    AssessmentOpen,
    /// An assessment, then a CIN plan.
    CinPlan,
    /// An assessment and a Section 47 enquiry that needed no conference, perhaps a CIN plan.
    S47NotRequired,
    /// An assessment, a Section 47 enquiry, an initial conference and a child protection plan.
    Cpp,
}

/// What a fault needs of the child it is given to.
#[derive(Debug, Clone, Copy, Default)]
struct Want {
    kind: Option<Kind>,
    episodes: Option<usize>,
    /// Whether the latest episode stays open.
    open: Option<bool>,
    unborn: Option<bool>,
    dead: bool,
    /// Age range in whole years at the reference date.
    age: Option<(i64, i64)>,
    referral_from: Option<NaiveDate>,
    referral_to: Option<NaiveDate>,
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

fn is_working_day(holidays: &[NaiveDate], d: NaiveDate) -> bool {
    !is_weekend(d) && holidays.binary_search(&d).is_err()
}

/// The `n`-th working day after `d` (`d` itself for `n` of 0 or less).
fn add_wd(holidays: &[NaiveDate], d: NaiveDate, n: i64) -> NaiveDate {
    let mut day = d;
    let mut left = n;
    while left > 0 {
        day = days(day, 1);
        if is_working_day(holidays, day) {
            left -= 1;
        }
    }
    day
}

/// `d`, or the next working day.
fn working_day_from(holidays: &[NaiveDate], d: NaiveDate) -> NaiveDate {
    let mut day = d;
    while !is_working_day(holidays, day) {
        day = days(day, 1);
    }
    day
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------

struct CinGenerator<'p> {
    rng: ChaCha8Rng,
    holidays: &'p [NaiveDate],
    /// First day of the census year.
    start: NaiveDate,
    /// The reference date: last day of the census year.
    end: NaiveDate,
    la: u16,
    la_name: &'p str,
    /// The pack's code mixes.
    codes: &'p Codes,
    invalid_rate: f64,
    return_faults: bool,
    /// The pack's faults.
    faults: &'p FaultLists,
    next_fault: usize,
    id_prefix: &'static str,
    id_base: u64,
    first_upn: Option<String>,
    first_id: Option<String>,
    /// For each child fault: the children of its run still to be changed, and whether the run was started.
    runs: Vec<(usize, bool)>,
    count: usize,
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

impl<'p> CinGenerator<'p> {
    fn new(
        pack: &'p StandardPack,
        faults: &'p FaultLists,
        codes: &'p Codes,
        count: usize,
        seed: u64,
        invalid_rate: f64,
    ) -> Result<Self> {
        let start = param_date(pack, "collectionStart")?;
        let end = param_date(pack, "referenceDate")?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // `Codes::of` refuses an empty list of local authorities.
        let (la, la_name) = &codes.local_authorities[rng.random_range(0..codes.local_authorities.len())];
        let id_prefix = ["", "C", "CH", "LA"][rng.random_range(0..4)];
        let id_base = rng.random_range(100_000..900_000u64);
        let invalid_rate = invalid_rate.clamp(0.0, 1.0);
        let return_faults = !faults.whole_return.rules.is_empty()
            && invalid_rate > 0.0
            && count as f64 * invalid_rate >= faults.child.len() as f64;
        Ok(CinGenerator {
            rng,
            holidays: &pack.holidays,
            start,
            end,
            la: *la,
            la_name,
            codes,
            invalid_rate,
            return_faults,
            faults,
            next_fault: 0,
            id_prefix,
            id_base,
            first_upn: None,
            first_id: None,
            runs: vec![(0, false); faults.child.len()],
            count,
        })
    }

    // --- random helpers -----------------------------------------------------------------------------------

    /// A code of a weighted list; `""` for an empty one.
    fn pick(&mut self, table: &'p [(String, u32)]) -> &'p str {
        weighted(&mut self.rng, table).map_or("", String::as_str)
    }

    /// `n` different codes.
    fn pick_distinct(&mut self, table: &'p [(String, u32)], n: usize) -> Vec<&'p str> {
        let mut out: Vec<&'p str> = Vec::with_capacity(n);
        for _ in 0..n * 8 {
            if out.len() == n {
                break;
            }
            let code = self.pick(table);
            if !out.contains(&code) {
                out.push(code);
            }
        }
        out
    }

    // --- working days -------------------------------------------------------------------------------------

    /// The `n`-th working day after `d`.
    fn add_wd(&self, d: NaiveDate, n: i64) -> NaiveDate {
        add_wd(self.holidays, d, n)
    }

    /// `d`, or the next working day.
    fn working_day_from(&self, d: NaiveDate) -> NaiveDate {
        working_day_from(self.holidays, d)
    }

    fn wd_between(&self, a: NaiveDate, b: NaiveDate) -> i64 {
        caregate_engine::expr::working_days(a, b, self.holidays)
    }

    // --- the return ---------------------------------------------------------------------------------------

    fn header(&mut self, buf: &mut String) {
        let reference =
            if self.return_faults { days(self.end, self.faults.whole_return.reference_date_days) } else { self.end };
        let made = days(self.end, self.rng.between(10, 40));
        let (h, m, s) = (self.rng.between(8, 17), self.rng.between(0, 59), self.rng.between(0, 59));
        let serial = self.rng.between(1, 20);
        buf.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Message>\n  <Header>\n    <CollectionDetails>\n");
        leaf(buf, 3, "Collection", "CIN");
        leaf(buf, 3, "Year", &self.end.year().to_string());
        leaf_date(buf, 3, "ReferenceDate", Some(reference));
        buf.push_str("    </CollectionDetails>\n    <Source>\n");
        leaf(buf, 3, "SourceLevel", "L");
        leaf(buf, 3, "LEA", &format!("{:03}", self.la));
        leaf(buf, 3, "SoftwareCode", &format!("caregate synthetic return for {}", self.la_name));
        leaf(buf, 3, "Release", env!("CARGO_PKG_VERSION"));
        leaf(buf, 3, "SerialNo", &format!("{serial:03}"));
        leaf(buf, 3, "DateTime", &format!("{}T{h:02}:{m:02}:{s:02}", made.format("%Y-%m-%d")));
        buf.push_str("    </Source>\n  </Header>\n  <Children>\n");
    }

    /// What a recipe reads besides the child, for the child at `index`.
    fn ctx(&self, index: usize) -> recipe::Ctx<'_> {
        recipe::Ctx {
            start: self.start,
            end: self.end,
            holidays: self.holidays,
            index,
            first_upn: self.first_upn.as_deref(),
            first_id: self.first_id.as_deref(),
            whole_return: self.return_faults,
        }
    }

    fn next_child(&mut self, index: usize) -> (Child<'p>, Option<String>) {
        let faults: &'p FaultLists = self.faults;
        let faulty = self.invalid_rate > 0.0 && self.rng.chance(self.invalid_rate);
        let fault = if faulty && !faults.child.is_empty() {
            let at = self.next_fault % faults.child.len();
            self.next_fault += 1;
            Some(at)
        } else {
            None
        };
        let want = fault.map(|at| faults.child[at].want(&self.ctx(index))).unwrap_or_default();
        let mut child = self.child(index, &want);
        let applied = match fault {
            Some(at) => {
                let recipe = &faults.child[at];
                let applied = recipe.apply(&mut child, &self.ctx(index));
                if let (true, Some(run)) = (applied, &recipe.run) {
                    // A run started once is not started again; others grow each time their fault is made.
                    let (left, started) = &mut self.runs[at];
                    if !(run.once() && *started) {
                        *left += run.size(self.count);
                        *started = true;
                    }
                }
                applied
            }
            None => false,
        };
        // The runs go on in children without a fault of their own. (Each changes fields no other reads.)
        if fault.is_none() {
            for (at, recipe) in faults.child.iter().enumerate() {
                let Some(run) = &recipe.run else { continue };
                if self.runs[at].0 > 0 && run.apply(&mut child, &self.ctx(index)) {
                    self.runs[at].0 -= 1;
                }
            }
        }
        if index == 0 {
            self.first_id = child.id.clone();
        }
        if self.first_upn.is_none() {
            self.first_upn = child.upn.clone();
        }
        (child, if applied { fault.map(|at| faults.child[at].rule.clone()) } else { None })
    }

    fn child(&mut self, index: usize, want: &Want) -> Child<'p> {
        let codes: &'p Codes = self.codes;
        let jitter = self.rng.between(0, 6) as u64;
        let mut child = Child {
            id: Some(format!("{}{}", self.id_prefix, self.id_base + index as u64 * 7 + jitter)),
            ..Child::default()
        };
        let unborn = want.unborn.unwrap_or_else(|| want.age.is_none() && !want.dead && self.rng.chance(0.02));
        let (earliest, age) = if unborn {
            let expected = self.rng.date_in(date(self.end.year(), 4, 10), date(self.end.year(), 11, 30));
            child.expected = Some(expected);
            child.sex = Some("U");
            child.upn_unknown = Some("UN1");
            ((days(expected, -260)).max(self.start), -1)
        } else {
            let age = match want.age {
                Some((lo, hi)) => self.rng.between(lo, hi),
                None => {
                    let bucket = self.rng.between(0, 99);
                    match bucket {
                        0..=7 => 0,
                        8..=27 => self.rng.between(1, 4),
                        28..=54 => self.rng.between(5, 9),
                        55..=89 => self.rng.between(10, 15),
                        _ => self.rng.between(16, 17),
                    }
                }
            };
            let birth = days(self.end, -(age * 365 + age / 4) - self.rng.between(1, 360));
            child.birth = Some(birth);
            child.sex = Some(if self.rng.chance(0.004) {
                "U"
            } else if self.rng.chance(0.515) {
                "M"
            } else {
                "F"
            });
            (birth.max(days(self.start, -45)), age)
        };
        let dead = want.dead || (!unborn && want.kind.is_none() && want.episodes.is_none() && self.rng.chance(0.003));
        child.episodes = self.episodes(earliest, age, dead, want);
        if dead {
            child.death = child.episodes.last().and_then(|e| e.closure);
        }
        // Identifiers: school-age children have a UPN (or a reason other than UN1).
        if let Some(birth) = child.birth {
            let school_age = birth <= date(self.end.year() - 6, 9, 30);
            let further = child.episodes.iter().any(|e| e.nfa == Some("false"));
            if school_age || (birth <= date(self.end.year() - 5, 8, 31) && self.rng.chance(0.6)) {
                if self.rng.chance(0.96) {
                    let las = &codes.local_authorities;
                    let la = if self.rng.chance(0.85) { self.la } else { las[self.rng.random_range(0..las.len())].0 };
                    child.upn = Some(upn(la, index as u64, birth.year() + 5));
                    if self.rng.chance(0.02) {
                        let la = las[self.rng.random_range(0..las.len())].0;
                        child.former_upn = Some(upn(la, index as u64 + 4_000_000, birth.year() + 4));
                    }
                } else {
                    // `Codes::of` refuses an empty list.
                    let reasons = &codes.upn_unknown;
                    child.upn_unknown = Some(reasons[self.rng.random_range(0..reasons.len())].as_str());
                }
            } else if !further && self.rng.chance(0.5) {
                child.upn_unknown = Some("UN7");
            } else {
                child.upn_unknown = Some("UN1");
            }
        }
        child.ethnicity = Some(if unborn && self.rng.chance(0.7) { "NOBT" } else { self.pick(&codes.ethnicity) });
        let further = child.episodes.iter().any(|e| e.nfa == Some("false"));
        child.disabilities = if unborn || !further {
            if self.rng.chance(0.6) {
                None
            } else {
                Some(vec!["NONE"])
            }
        } else if self.rng.chance(0.8) {
            Some(vec!["NONE"])
        } else if self.return_faults && !self.faults.whole_return.disabilities.is_empty() {
            let few = &self.faults.whole_return.disabilities;
            Some(vec![weighted(&mut self.rng, few).map_or("", String::as_str)])
        } else {
            let n = match self.rng.between(0, 99) {
                0..=54 => 1,
                55..=84 => 2,
                85..=96 => 3,
                _ => 4,
            };
            Some(self.pick_distinct(&codes.disability, n))
        };
        child
    }

    fn episodes(&mut self, earliest: NaiveDate, age: i64, dead: bool, want: &Want) -> Vec<Episode<'p>> {
        let latest = days(self.end, -1);
        let mut k = want.episodes.unwrap_or_else(|| match self.rng.between(0, 99) {
            0..=79 => 1,
            80..=94 => 2,
            _ => 3,
        });
        if dead || want.referral_from.is_some() || want.referral_to.is_some() {
            k = want.episodes.unwrap_or(1);
        }
        let span = (latest - earliest).num_days().max(0);
        if span < 90 * k as i64 {
            k = 1;
        }
        let mut referrals = Vec::with_capacity(k);
        if k == 1 && (want.referral_from.is_some() || want.referral_to.is_some()) {
            let from = want.referral_from.unwrap_or(earliest).max(earliest);
            let to = want.referral_to.unwrap_or(latest).min(latest).max(from);
            referrals.push(self.rng.date_in(from, to));
        } else if dead {
            referrals.push(self.rng.date_in(earliest, days(latest, -120).max(earliest)));
        } else {
            for i in 0..k as i64 {
                let slice = span / k as i64;
                let from = days(earliest, slice * i);
                referrals.push(days(from, self.rng.between(0, slice * 3 / 10)));
            }
        }
        let mut out = Vec::with_capacity(k);
        for i in 0..k {
            let last = i + 1 == k;
            let death = if dead { Some(days(referrals[i], self.rng.between(60, 200)).min(self.end)) } else { None };
            let limit = match (last, death) {
                (_, Some(d)) => d,
                (true, None) => self.end,
                (false, None) => days(referrals[i + 1], -self.rng.between(1, 6)),
            };
            let must_close = !last || dead || want.open == Some(false);
            let force_open = last && want.open == Some(true);
            let kind = if last { want.kind } else { None };
            let mut episode = self.episode(referrals[i], limit, must_close, force_open, kind, age);
            if let Some(d) = death {
                episode.closure = Some(d);
                episode.reason = Some("RC2");
                for a in &mut episode.assessments {
                    if a.factors.as_deref() == Some(&["21"][..]) {
                        a.factors = Some(vec!["20"]);
                    }
                }
            }
            out.push(episode);
        }
        out
    }

    fn choose_kind(&mut self, referral: NaiveDate, may_open: bool) -> Kind {
        let nfa_ok = referral >= self.start;
        loop {
            let kind = match self.rng.between(0, 99) {
                0..=13 => Kind::Nfa,
                14..=37 => Kind::AssessmentClosed,
                38..=45 => Kind::AssessmentOpen,
                46..=71 => Kind::CinPlan,
                72..=83 => Kind::S47NotRequired,
                _ => Kind::Cpp,
            };
            let fits = match kind {
                Kind::Nfa => nfa_ok,
                Kind::AssessmentOpen => may_open && self.wd_between(referral, self.end) <= 40,
                _ => true,
            };
            if fits {
                return kind;
            }
        }
    }

    fn episode(
        &mut self,
        referral: NaiveDate,
        limit: NaiveDate,
        must_close: bool,
        force_open: bool,
        kind: Option<Kind>,
        age: i64,
    ) -> Episode<'p> {
        let codes: &'p Codes = self.codes;
        let may_open = !must_close;
        let mut kind = kind.unwrap_or_else(|| self.choose_kind(referral, may_open));
        let mut e = Episode {
            referral,
            source: self.pick(&codes.referral_source),
            need: None,
            closure: None,
            reason: None,
            icpc: None,
            assessments: Vec::new(),
            plans: Vec::new(),
            s47: Vec::new(),
            nfa: Some("false"),
            cpps: Vec::new(),
        };
        let room = (limit - referral.max(self.start)).num_days();
        if kind == Kind::Nfa && referral < self.start {
            kind = Kind::AssessmentClosed;
        }
        if matches!(kind, Kind::Cpp | Kind::S47NotRequired | Kind::CinPlan) && room < 50 && must_close {
            kind = Kind::AssessmentClosed;
        }
        if kind == Kind::Nfa {
            e.nfa = Some("true");
            e.need = match self.rng.between(0, 9) {
                0..=4 => Some("N9"),
                5 => Some("N0"),
                _ => None,
            };
            if must_close || (!force_open && self.rng.chance(0.9)) {
                e.closure = Some(days(referral, self.rng.between(0, 2)).min(limit).max(referral));
                e.reason = Some("RC7");
            }
            return e;
        }
        e.need = Some(self.pick(&codes.primary_need));
        let a_start = days(referral, self.rng.between(0, 3)).min(limit);
        let mut last_end = a_start;
        match kind {
            Kind::Nfa => {}
            Kind::AssessmentOpen => {
                e.assessments.push(Assessment { start: a_start, review: None, auth: None, factors: None });
            }
            Kind::AssessmentClosed => {
                let mut a = self.assessment(a_start, limit, false);
                if self.rng.chance(0.25) {
                    a.factors = Some(vec!["21"]);
                }
                last_end = a.auth.unwrap_or(a_start);
                e.assessments.push(a);
            }
            Kind::CinPlan => {
                let a = self.assessment(a_start, limit, may_open);
                let auth = a.auth;
                e.assessments.push(a);
                match auth {
                    None => last_end = self.end,
                    Some(auth) => {
                        last_end = auth;
                        let jitter = self.rng.between(0, 7);
                        let plan_start = self.working_day_from(days(auth, jitter));
                        if days(plan_start, 2) <= limit {
                            let plan = self.plan(plan_start, limit, may_open);
                            last_end = plan.end.unwrap_or(self.end);
                            if let (Some(end), true) = (plan.end, self.rng.chance(0.1)) {
                                // A re-assessment while the plan ran.
                                let start = days(plan.start, self.rng.between(60, 120));
                                if days(start, 60) < end {
                                    let again = self.assessment(start, end, false);
                                    if again.auth.is_some_and(|d| d <= end) {
                                        e.assessments.push(again);
                                    }
                                }
                            }
                            e.plans.push(plan);
                        }
                    }
                }
            }
            Kind::S47NotRequired | Kind::Cpp => {
                let s47_start = days(a_start, self.rng.between(0, 2)).max(self.start).min(limit);
                let target = self.add_wd(s47_start, 15);
                let a = self.assessment(a_start, limit, may_open);
                last_end = a.auth.unwrap_or(self.end);
                e.assessments.push(a);
                let jitter = self.rng.between(5, 15);
                let icpc = self.add_wd(s47_start, jitter);
                if kind == Kind::Cpp && icpc <= days(limit, -30) {
                    e.s47.push(S47 { start: s47_start, target: Some(target), icpc: Some(icpc), not_required: "false" });
                    let cpp = self.cpp(icpc, limit, may_open);
                    last_end = last_end.max(cpp.end.unwrap_or(self.end));
                    let cpp_end = cpp.end;
                    e.cpps.push(cpp);
                    if let Some(end) = cpp_end {
                        let jitter = self.rng.between(1, 14);
                        let plan_start = self.working_day_from(days(end, jitter));
                        if self.rng.chance(0.5) && days(plan_start, 2) <= limit {
                            let plan = self.plan(plan_start, limit, may_open);
                            last_end = last_end.max(plan.end.unwrap_or(self.end));
                            e.plans.push(plan);
                        }
                    }
                } else if kind == Kind::Cpp && icpc > limit && may_open && self.wd_between(s47_start, self.end) <= 13 {
                    // The conference has not been held yet.
                    e.s47.push(S47 { start: s47_start, target: Some(target), icpc: None, not_required: "false" });
                    last_end = self.end;
                } else {
                    e.s47.push(S47 { start: s47_start, target: Some(target), icpc: None, not_required: "true" });
                    last_end = last_end.max(s47_start);
                    if let Some(auth) = e.assessments.first().and_then(|a| a.auth) {
                        let jitter = self.rng.between(0, 7);
                        let plan_start = self.working_day_from(days(auth, jitter));
                        if self.rng.chance(0.6) && days(plan_start, 2) <= limit {
                            let plan = self.plan(plan_start, limit, may_open);
                            last_end = last_end.max(plan.end.unwrap_or(self.end));
                            e.plans.push(plan);
                        }
                    }
                }
            }
        }
        let all_closed = e.assessments.iter().all(|a| a.auth.is_some())
            && e.plans.iter().all(|p| p.end.is_some())
            && e.cpps.iter().all(|p| p.end.is_some())
            && e.s47.iter().all(|s| s.icpc.is_some() || s.not_required == "true");
        if all_closed && !force_open && (must_close || self.rng.chance(0.8)) {
            let closure = days(last_end, self.rng.between(0, 10)).min(limit).max(last_end);
            e.closure = Some(closure);
            e.reason = Some(match kind {
                Kind::AssessmentClosed => {
                    if self.rng.chance(0.6) {
                        "RC8"
                    } else {
                        "RC9"
                    }
                }
                _ if age >= 16 && self.rng.chance(0.2) => "RC6",
                _ if (0..10).contains(&age) && self.rng.chance(0.01) => "RC1",
                _ => self.pick(&codes.closure_after_plan),
            });
        } else if e.assessments.iter().any(|a| a.factors.as_deref() == Some(&["21"][..])) {
            // Code 21 belongs to an assessment after which the case closed.
            if let Some(a) = e.assessments.first_mut() {
                a.factors = Some(vec!["20"]);
            }
        }
        e
    }

    fn assessment(&mut self, start: NaiveDate, limit: NaiveDate, may_open: bool) -> Assessment<'p> {
        let codes: &'p Codes = self.codes;
        let duration = if self.rng.chance(0.9) { self.rng.between(5, 45) } else { self.rng.between(46, 65) };
        let mut auth = self.add_wd(start, duration);
        if auth < self.start {
            let jitter = self.rng.between(1, 10);
            auth = self.add_wd(self.start, jitter);
        }
        if auth > limit {
            if may_open && self.wd_between(start, self.end) <= 43 {
                return Assessment { start, review: None, auth: None, factors: None };
            }
            auth = limit.max(start);
        }
        let review = if self.rng.chance(0.05) && (auth - start).num_days() > 10 {
            Some(days(start, (auth - start).num_days() / 2))
        } else {
            None
        };
        let n = match self.rng.between(0, 99) {
            0..=39 => 1,
            40..=74 => 2,
            75..=92 => 3,
            _ => 4,
        };
        let factors = self.pick_distinct(&codes.assessment_factors, n);
        Assessment { start, review, auth: Some(auth), factors: Some(factors) }
    }

    fn plan(&mut self, start: NaiveDate, limit: NaiveDate, may_open: bool) -> Plan {
        let end = days(start, self.rng.between(30, 330));
        if end <= limit {
            Plan { start, end: Some(end) }
        } else if may_open {
            Plan { start, end: None }
        } else {
            Plan { start, end: Some(limit.max(days(start, 1))) }
        }
    }

    fn cpp(&mut self, start: NaiveDate, limit: NaiveDate, may_open: bool) -> Cpp<'p> {
        let codes: &'p Codes = self.codes;
        let mut end = Some(days(start, self.rng.between(60, 450)));
        if end.is_some_and(|e| e > limit) {
            end = if may_open { None } else { Some(limit.max(days(start, 1))) };
        }
        let initial = self.pick(&codes.category_of_abuse);
        let latest = if self.rng.chance(0.85) { initial } else { self.pick(&codes.category_of_abuse) };
        let previous = Some(match self.rng.between(0, 99) {
            0..=69 => 1,
            70..=89 => 2,
            90..=96 => 3,
            _ => self.rng.between(4, 6) as u32,
        });
        let mut reviews = Vec::new();
        let until = end.unwrap_or(self.end).min(self.end);
        let jitter = self.rng.between(60, 90);
        let mut review = self.working_day_from(days(start, jitter));
        while review < until {
            reviews.push(Some(review));
            let jitter = self.rng.between(170, 185);
            review = self.working_day_from(days(review, jitter));
        }
        Cpp { start, end, initial, latest, previous, reviews }
    }
}

/// A UPN for the `index`-th child: LA code, establishment, year of issue and serial; unique by index.
fn upn(la: u16, index: u64, year: i32) -> String {
    let establishment = 1000 + (index / 1000) % 9000;
    let serial = index % 1000;
    let body = format!("{la:03}{establishment:04}{:02}{serial:03}", year.rem_euclid(100));
    let letter = caregate_engine::expr::upn_check_letter(body.as_bytes()).map_or('A', char::from);
    format!("{letter}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_and_kinds_are_named_as_before() {
        use crate::values::Kind;
        assert_eq!("messy".parse::<Profile>(), Ok(Profile::Messy));
        assert_eq!(Profile::Messy.to_string(), "messy");
        assert_eq!("odd".parse::<Profile>(), Err("unknown profile `odd`: expected clean or messy".to_string()));
        assert_eq!("nhs-number".parse::<Kind>(), Ok(Kind::NhsNumber));
        assert_eq!(
            "x".parse::<Kind>(),
            Err("unknown kind `x` (expected given-name, family-name, full-name, nhs-number, upn, postcode, uuid, sentence, phone)".to_string())
        );
    }

    #[test]
    fn upns_carry_their_check_letter_and_are_unique_by_index() {
        let a = upn(873, 1, 2015);
        let b = upn(873, 2, 2015);
        assert!(caregate_engine::expr::upn_valid(&a), "{a}");
        assert_ne!(a, b);
        assert_eq!(&a[1..4], "873");
    }

    #[test]
    fn the_census_pack_names_each_of_its_109_rules_once_among_the_faults() {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("packs load");
        let pack = catalog.find("cin-census@2025-26").expect("the census pack");
        let rules = FaultLists::of(&pack).expect("generate.toml").all();
        let unique: std::collections::BTreeSet<_> = rules.iter().collect();
        assert_eq!(unique.len(), rules.len());
        assert_eq!(rules.len(), 109);
        assert_eq!(rules.len(), pack.rules.len(), "every rule of the ruleset has a fault");
    }

    #[test]
    fn a_fault_list_naming_no_rule_of_the_pack_is_refused() {
        let catalog = caregate_engine::standard::Catalog::embedded().expect("packs load");
        let pack = catalog.find("cin-census@2025-26").expect("the census pack");
        let mut files = pack.files.clone();
        files.files.insert(
            "generate.toml".into(),
            b"generator = \"cin-census\"\n[faults]\nchild = [{ rule = \"9999\" }]\n".to_vec(),
        );
        let changed = caregate_engine::standard::StandardPack::compile(files).expect("compiles");
        let error = FaultLists::of(&changed).expect_err("9999 is no rule").to_string();
        assert!(error.contains("`9999`, which is not a rule of the pack"), "{error}");
    }
}
