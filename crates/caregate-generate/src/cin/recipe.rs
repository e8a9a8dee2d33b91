//! The census generator's deliberate faults as pack data: each recipe of `generate.toml` `[faults] child` says
//! which child its rule needs and the steps that break it, so that a new year's faults are a new pack folder and
//! no rule is named in code. Recipes are checked against the census model when the pack is read.
//!
//! A step addresses a field of the child by a path (`assessment.auth`: the first assessment of the latest
//! episode) and fails when the element it addresses is not there; a recipe is made only when every step is (a
//! step marked `optional` may fail). Steps are made in order and are not undone when a later one fails.
//!
//! Not for: choosing which child gets a fault (the generator does), or the messy profile's mistakes.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{Datelike, NaiveDate, Weekday};
use serde::Deserialize;

use super::{add_wd, date, days, is_weekend, working_day_from, Assessment, Child, Cpp, Episode, Kind, Plan, Want, S47};

// ---------------------------------------------------------------------------------------------------------
// As generate.toml writes them.

/// One fault: `{ rule = "…", want = "cin-plan-closed", do = [ … ] }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeFile {
    rule: String,
    /// The child the fault needs: the name of a shape of `[faults.shapes]`, or a shape.
    #[serde(default)]
    want: Option<toml::Value>,
    /// Read one by one, so that an error names the step.
    #[serde(default, rename = "do")]
    steps: Vec<toml::Value>,
    /// The same change made in later children that carry no fault of their own.
    #[serde(default)]
    run: Option<RunFile>,
}

/// A child to generate: its kind of latest episode, age, and when it was referred.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShapeFile {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    episodes: Option<usize>,
    #[serde(default)]
    open: Option<bool>,
    #[serde(default)]
    unborn: Option<bool>,
    #[serde(default)]
    age: Option<[i64; 2]>,
    #[serde(default)]
    referral_from: Option<DateFile>,
    #[serde(default)]
    referral_to: Option<DateFile>,
}

/// A date: `from` a date of the child or the census, then moved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DateFile {
    from: String,
    /// That month and day of `from`'s year.
    #[serde(default)]
    month: Option<u32>,
    #[serde(default)]
    day: Option<u32>,
    #[serde(default)]
    days: i64,
    #[serde(default)]
    working_days: u32,
    /// A path or a date: the result is at most (at least) it.
    #[serde(default)]
    at_most: Option<toml::Value>,
    #[serde(default)]
    at_least: Option<toml::Value>,
    #[serde(default)]
    snap: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepFile {
    #[serde(default)]
    set: Option<String>,
    #[serde(default)]
    to: Option<toml::Value>,
    #[serde(default)]
    blank: Option<String>,
    #[serde(default)]
    copy: Option<String>,
    #[serde(default)]
    into: Option<String>,
    #[serde(default)]
    clear: Option<String>,
    #[serde(default)]
    push: Option<String>,
    #[serde(default)]
    with: Option<BTreeMap<String, toml::Value>>,
    #[serde(default)]
    at: Option<usize>,
    #[serde(default)]
    duplicate: Option<String>,
    #[serde(default)]
    overwrite: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    or: Option<String>,
    #[serde(default)]
    check_letter: Option<String>,
    #[serde(default)]
    suffix: Option<String>,
    #[serde(default)]
    index_width: Option<usize>,
    #[serde(default)]
    blank_as: Option<String>,
    #[serde(default)]
    drop_conferences: Option<bool>,
    #[serde(default)]
    require: Option<String>,
    #[serde(default)]
    is: Option<String>,
    #[serde(default)]
    after: Option<DateFile>,
    #[serde(default)]
    absent: Option<String>,
    #[serde(default)]
    when: Option<String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunFile {
    /// Children added to the run each time the fault is made.
    #[serde(default)]
    children: Option<usize>,
    /// Or one child in this many of the return (at least one).
    #[serde(default)]
    one_in: Option<usize>,
    /// Started only the first time the fault is made.
    #[serde(default)]
    once: bool,
    /// Read one by one, so that an error names the step.
    #[serde(default, rename = "do")]
    steps: Vec<toml::Value>,
}

// ---------------------------------------------------------------------------------------------------------
// The census model as recipes address it.

/// An element of a list: `[i]` (from the end when negative), or `[*]` each (only where a step reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sel {
    At(i64),
    Each,
}

/// The lists of an episode whose items recipes address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Items {
    Assessments,
    Plans,
    S47,
    Cpps,
}

/// An element of the child: the child, an episode, an item of an episode, or a review of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Elem {
    Child,
    Episode(Sel),
    Item(Sel, Items, Sel),
    Review(Sel, Sel, Sel),
}

/// What an element is, for the fields it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    Child,
    Episode,
    Assessment,
    Plan,
    S47,
    Cpp,
    Review,
}

impl Type {
    fn name(self) -> &'static str {
        match self {
            Type::Child => "the child",
            Type::Episode => "an episode",
            Type::Assessment => "an assessment",
            Type::Plan => "a CIN plan",
            Type::S47 => "a Section 47 enquiry",
            Type::Cpp => "a child protection plan",
            Type::Review => "a review",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    Upn,
    FormerUpn,
    UpnUnknown,
    Birth,
    Expected,
    Sex,
    Death,
    Ethnicity,
    Disabilities,
    Referral,
    Source,
    Need,
    Closure,
    Reason,
    Icpc,
    Nfa,
    Start,
    Review,
    Auth,
    Factors,
    End,
    Target,
    NotRequired,
    Initial,
    Latest,
    Previous,
    Date,
}

/// What a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value {
    Date,
    /// Free text (identifiers).
    Text,
    /// One code.
    Code,
    /// A list of codes.
    Codes,
    Count,
}

/// Every field of every element: its name in a path, what it holds, and whether it may be blank.
const FIELDS: &[(Type, &str, Field, Value, bool)] = &[
    (Type::Child, "id", Field::Id, Value::Text, true),
    (Type::Child, "upn", Field::Upn, Value::Text, true),
    (Type::Child, "former_upn", Field::FormerUpn, Value::Text, true),
    (Type::Child, "upn_unknown", Field::UpnUnknown, Value::Code, true),
    (Type::Child, "birth", Field::Birth, Value::Date, true),
    (Type::Child, "expected", Field::Expected, Value::Date, true),
    (Type::Child, "sex", Field::Sex, Value::Code, true),
    (Type::Child, "death", Field::Death, Value::Date, true),
    (Type::Child, "ethnicity", Field::Ethnicity, Value::Code, true),
    (Type::Child, "disabilities", Field::Disabilities, Value::Codes, true),
    (Type::Episode, "referral", Field::Referral, Value::Date, false),
    (Type::Episode, "source", Field::Source, Value::Code, false),
    (Type::Episode, "need", Field::Need, Value::Code, true),
    (Type::Episode, "closure", Field::Closure, Value::Date, true),
    (Type::Episode, "reason", Field::Reason, Value::Code, true),
    (Type::Episode, "icpc", Field::Icpc, Value::Date, true),
    (Type::Episode, "nfa", Field::Nfa, Value::Code, true),
    (Type::Assessment, "start", Field::Start, Value::Date, false),
    (Type::Assessment, "review", Field::Review, Value::Date, true),
    (Type::Assessment, "auth", Field::Auth, Value::Date, true),
    (Type::Assessment, "factors", Field::Factors, Value::Codes, true),
    (Type::Plan, "start", Field::Start, Value::Date, false),
    (Type::Plan, "end", Field::End, Value::Date, true),
    (Type::S47, "start", Field::Start, Value::Date, false),
    (Type::S47, "target", Field::Target, Value::Date, true),
    (Type::S47, "icpc", Field::Icpc, Value::Date, true),
    (Type::S47, "not_required", Field::NotRequired, Value::Code, false),
    (Type::Cpp, "start", Field::Start, Value::Date, false),
    (Type::Cpp, "end", Field::End, Value::Date, true),
    (Type::Cpp, "initial", Field::Initial, Value::Code, false),
    (Type::Cpp, "latest", Field::Latest, Value::Code, false),
    (Type::Cpp, "previous", Field::Previous, Value::Count, true),
    (Type::Review, "date", Field::Date, Value::Date, true),
];

/// The lists recipes clear and push to: an element and one of its lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum List {
    Episodes,
    Items(Sel, Items),
    Reviews(Sel, Sel),
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Field(Elem, Type, Field),
    Element(Elem, Type),
    List(List),
    CensusStart,
    CensusEnd,
    FirstUpn,
    FirstId,
}

fn field_of(t: Type, name: &str) -> Option<(Field, Value, bool)> {
    FIELDS.iter().find(|(ft, n, ..)| *ft == t && *n == name).map(|&(_, _, f, v, optional)| (f, v, optional))
}

fn fields_of(t: Type) -> String {
    FIELDS.iter().filter(|(ft, ..)| *ft == t).map(|(_, n, ..)| *n).collect::<Vec<_>>().join(", ")
}

/// `name` or `name[i]` / `name[*]`.
fn segment(text: &str) -> Result<(&str, Option<Sel>)> {
    let Some((name, rest)) = text.split_once('[') else { return Ok((text, None)) };
    let index = rest.strip_suffix(']').ok_or_else(|| anyhow!("`{text}` does not close its `[`"))?;
    let sel = match index {
        "*" => Sel::Each,
        _ => Sel::At(index.parse().map_err(|_| anyhow!("`{index}` in `{text}` is no index (a number or *)"))?),
    };
    Ok((name, Some(sel)))
}

/// Reads a path: `census.start`, `return.first_upn`, `child.upn`, `episode.closure`, `cpp.reviews[0].date`,
/// `child.episodes[*].nfa`, …
fn parse_path(path: &str) -> Result<Place> {
    let wrap = |e: anyhow::Error| anyhow!("path `{path}`: {e}");
    let parts: Vec<&str> = path.split('.').collect();
    let root = parts[0];
    let rest = &parts[1..];
    match root {
        "census" => {
            return match rest {
                ["start"] => Ok(Place::CensusStart),
                ["end"] => Ok(Place::CensusEnd),
                _ => Err(anyhow!("path `{path}`: the census has `census.start` and `census.end`")),
            }
        }
        "return" => {
            return match rest {
                ["first_upn"] => Ok(Place::FirstUpn),
                ["first_id"] => Ok(Place::FirstId),
                _ => Err(anyhow!("path `{path}`: the return has `return.first_upn` and `return.first_id`")),
            }
        }
        _ => {}
    }
    let last = Sel::At(-1);
    let first = Sel::At(0);
    let (mut elem, mut t) = match root {
        "child" => (Elem::Child, Type::Child),
        "episode" => (Elem::Episode(last), Type::Episode),
        "assessment" => (Elem::Item(last, Items::Assessments, first), Type::Assessment),
        "plan" => (Elem::Item(last, Items::Plans, first), Type::Plan),
        "s47" => (Elem::Item(last, Items::S47, first), Type::S47),
        "cpp" => (Elem::Item(last, Items::Cpps, first), Type::Cpp),
        _ => bail!(
            "path `{path}` starts with `{root}`; a path starts with child, episode, assessment, plan, s47, cpp, \
             census or return"
        ),
    };
    for (i, part) in rest.iter().enumerate() {
        let is_last = i + 1 == rest.len();
        let (name, sel) = segment(part).map_err(wrap)?;
        let list = match (t, elem, name) {
            (Type::Child, _, "episodes") => Some((List::Episodes, Type::Episode)),
            (Type::Episode, Elem::Episode(e), "assessments") => {
                Some((List::Items(e, Items::Assessments), Type::Assessment))
            }
            (Type::Episode, Elem::Episode(e), "plans") => Some((List::Items(e, Items::Plans), Type::Plan)),
            (Type::Episode, Elem::Episode(e), "s47") => Some((List::Items(e, Items::S47), Type::S47)),
            (Type::Episode, Elem::Episode(e), "cpps") => Some((List::Items(e, Items::Cpps), Type::Cpp)),
            (Type::Cpp, Elem::Item(e, Items::Cpps, c), "reviews") => Some((List::Reviews(e, c), Type::Review)),
            _ => None,
        };
        match (list, sel) {
            (Some((list, _)), None) if is_last => return Ok(Place::List(list)),
            (Some((_, _)), None) => bail!("path `{path}`: `{name}` is a list; name one of it, `{name}[0]`"),
            (Some((list, item_type)), Some(sel)) => {
                elem = match list {
                    List::Episodes => Elem::Episode(sel),
                    List::Items(e, items) => Elem::Item(e, items, sel),
                    List::Reviews(e, c) => Elem::Review(e, c, sel),
                };
                t = item_type;
            }
            (None, Some(_)) => bail!("path `{path}`: `{name}` is not a list of {}", t.name()),
            (None, None) => {
                let Some((field, _, _)) = field_of(t, name) else {
                    bail!("path `{path}`: `{name}` is not a field of {} (its fields: {})", t.name(), fields_of(t))
                };
                if !is_last {
                    bail!("path `{path}`: `{name}` is a field, with nothing in it to name");
                }
                return Ok(Place::Field(elem, t, field));
            }
        }
    }
    Ok(Place::Element(elem, t))
}

/// Whether an element is named with `[*]` somewhere on its way.
fn each(elem: Elem) -> bool {
    match elem {
        Elem::Child => false,
        Elem::Episode(a) => a == Sel::Each,
        Elem::Item(a, _, b) => [a, b].contains(&Sel::Each),
        Elem::Review(a, b, c) => [a, b, c].contains(&Sel::Each),
    }
}

fn has_each(place: Place) -> bool {
    match place {
        Place::Field(elem, ..) | Place::Element(elem, _) => each(elem),
        Place::List(List::Items(a, _)) => a == Sel::Each,
        Place::List(List::Reviews(a, b)) => [a, b].contains(&Sel::Each),
        _ => false,
    }
}

/// What a path's field holds and whether it may be blank; `None` for an element or a list.
fn value_of(place: Place) -> Option<(Value, bool)> {
    match place {
        Place::Field(_, t, f) => FIELDS.iter().find(|(ft, _, ff, ..)| *ft == t && *ff == f).map(|x| (x.3, x.4)),
        Place::CensusStart | Place::CensusEnd => Some((Value::Date, false)),
        Place::FirstUpn | Place::FirstId => Some((Value::Text, true)),
        Place::Element(..) | Place::List(_) => None,
    }
}

// ---------------------------------------------------------------------------------------------------------
// Recipes, checked.

/// How a date is moved to a day of the week.
#[derive(Debug, Clone, Copy)]
enum Snap {
    /// The day itself when a working day, else the next working day.
    WorkingDayOnOrAfter,
    /// The day itself when not a Saturday or Sunday, else the Friday before.
    WeekdayOnOrBefore,
    /// The Saturday before the day.
    SaturdayBefore,
}

const SNAPS: &[(&str, Snap)] = &[
    ("working-day-on-or-after", Snap::WorkingDayOnOrAfter),
    ("weekday-on-or-before", Snap::WeekdayOnOrBefore),
    ("saturday-before", Snap::SaturdayBefore),
];

/// A date: `from`, set to a month and day of its year, moved by days then working days, kept within bounds,
/// then snapped to a day of the week, in that order.
#[derive(Debug, Clone)]
struct DateExpr {
    from: Place,
    month_day: Option<(u32, u32)>,
    days: i64,
    working_days: i64,
    at_most: Option<Box<DateExpr>>,
    at_least: Option<Box<DateExpr>>,
    snap: Option<Snap>,
}

/// The most days (working days) a date is moved by.
const MAX_DAYS: i64 = 36_600;
const MAX_WORKING_DAYS: u32 = 1_000;

/// What a step writes into a field.
#[derive(Debug, Clone)]
enum Source {
    Text(String),
    Codes(Vec<String>),
    Count(u32),
    Date(DateExpr),
    /// The value of another field of the same kind (failing when it is blank).
    Copy(Place),
}

#[derive(Debug, Clone)]
enum Cond {
    Present,
    Is(String),
    After(DateExpr),
}

#[derive(Debug, Clone)]
enum Op {
    Set(Place, Source),
    Blank(Place),
    Copy(Place, Place),
    Clear(List),
    Push(List, Option<usize>, Vec<(Field, Source)>),
    Duplicate(Elem),
    Overwrite(Place, usize, String, Option<String>),
    CheckLetter(Place),
    Suffix(Place, String, usize, String),
    DropConferences,
    Require(Place, Cond),
    Absent(Place),
}

/// Which children a step is made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Always,
    Even,
    Odd,
    WholeReturn,
    NotWholeReturn,
}

const WHENS: &[(&str, When)] = &[
    ("even", When::Even),
    ("odd", When::Odd),
    ("whole-return", When::WholeReturn),
    ("not-whole-return", When::NotWholeReturn),
];

#[derive(Debug, Clone)]
struct Step {
    op: Op,
    when: When,
    optional: bool,
}

/// A fault of the census generator: the rule it breaks, the child it needs, and how it is broken.
#[derive(Debug, Clone)]
pub(super) struct Recipe {
    pub(super) rule: String,
    want: ShapeExpr,
    steps: Vec<Step>,
    pub(super) run: Option<Run>,
}

/// The change made again in later children without a fault of their own, after the fault is made.
#[derive(Debug, Clone)]
pub(super) struct Run {
    size: RunSize,
    once: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Clone, Copy)]
enum RunSize {
    Children(usize),
    OneIn(usize),
}

/// A shape, its dates still to be taken from the census year.
#[derive(Debug, Clone, Default)]
struct ShapeExpr {
    kind: Option<Kind>,
    episodes: Option<usize>,
    open: Option<bool>,
    unborn: Option<bool>,
    age: Option<(i64, i64)>,
    referral_from: Option<DateExpr>,
    referral_to: Option<DateExpr>,
}

const KINDS: &[(&str, Kind)] = &[
    ("nfa", Kind::Nfa),
    ("assessment-closed", Kind::AssessmentClosed),
    ("assessment-open", Kind::AssessmentOpen),
    ("cin-plan", Kind::CinPlan),
    ("s47-not-required", Kind::S47NotRequired),
    ("cpp", Kind::Cpp),
];

fn names<T>(table: &[(&str, T)]) -> String {
    table.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}

fn date_expr(file: &DateFile) -> Result<DateExpr> {
    let from = parse_path(&file.from)?;
    if value_of(from).map(|v| v.0) != Some(Value::Date) {
        bail!("`from = \"{}\"` is not a date", file.from);
    }
    if has_each(from) {
        bail!("`from = \"{}\"`: a date is read from one element, not `[*]`", file.from);
    }
    let month_day = match (file.month, file.day) {
        (None, None) => None,
        (Some(m), Some(d)) if NaiveDate::from_ymd_opt(2000, m, d).is_some() => Some((m, d)),
        (Some(m), Some(d)) => bail!("month {m}, day {d} is no day of the year"),
        _ => bail!("`month` and `day` go together"),
    };
    let bound = |value: &Option<toml::Value>, name: &str| -> Result<Option<Box<DateExpr>>> {
        let Some(value) = value else { return Ok(None) };
        let file = match value {
            toml::Value::String(path) => DateFile {
                from: path.clone(),
                month: None,
                day: None,
                days: 0,
                working_days: 0,
                at_most: None,
                at_least: None,
                snap: None,
            },
            other => other.clone().try_into().with_context(|| format!("`{name}`: a path or a date"))?,
        };
        Ok(Some(Box::new(date_expr(&file).with_context(|| format!("`{name}`"))?)))
    };
    // Bounds keep a recipe's arithmetic within the calendar and its loops short.
    if file.days.abs() > MAX_DAYS || file.working_days > MAX_WORKING_DAYS {
        bail!("`days` is at most {MAX_DAYS} either way, `working_days` at most {MAX_WORKING_DAYS}");
    }
    let snap = match &file.snap {
        None => None,
        Some(name) => Some(
            SNAPS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| *s)
                .ok_or_else(|| anyhow!("`snap = \"{name}\"`: a snap is one of {}", names(SNAPS)))?,
        ),
    };
    Ok(DateExpr {
        from,
        month_day,
        days: file.days,
        working_days: i64::from(file.working_days),
        at_most: bound(&file.at_most, "at_most")?,
        at_least: bound(&file.at_least, "at_least")?,
        snap,
    })
}

/// Whether a date reads only the census year (a shape's dates are taken before there is a child).
fn census_only(expr: &DateExpr) -> bool {
    matches!(expr.from, Place::CensusStart | Place::CensusEnd)
        && expr.at_most.as_deref().is_none_or(census_only)
        && expr.at_least.as_deref().is_none_or(census_only)
}

impl ShapeFile {
    fn compile(&self) -> Result<ShapeExpr> {
        let kind = match &self.kind {
            None => None,
            Some(name) => Some(
                KINDS
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, k)| *k)
                    .ok_or_else(|| anyhow!("`kind = \"{name}\"`: a kind is one of {}", names(KINDS)))?,
            ),
        };
        if let Some([lo, hi]) = self.age {
            if lo > hi || lo < 0 || hi > 120 {
                bail!("`age = [{lo}, {hi}]` is no range of ages (0 to 120)");
            }
        }
        if self.episodes.is_some_and(|n| !(1..=10).contains(&n)) {
            bail!("`episodes` is 1 to 10");
        }
        let date = |file: &Option<DateFile>, name: &str| -> Result<Option<DateExpr>> {
            let Some(file) = file else { return Ok(None) };
            let expr = date_expr(file).with_context(|| format!("`{name}`"))?;
            if !census_only(&expr) {
                bail!("`{name}` reads `{}`: a shape's dates are of the census (census.start, census.end)", file.from);
            }
            Ok(Some(expr))
        };
        Ok(ShapeExpr {
            kind,
            episodes: self.episodes,
            open: self.open,
            unborn: self.unborn,
            age: self.age.map(|[lo, hi]| (lo, hi)),
            referral_from: date(&self.referral_from, "referral_from")?,
            referral_to: date(&self.referral_to, "referral_to")?,
        })
    }
}

/// Reads the path of a step that writes: one element, not `[*]`, and not the census or the return.
fn target(path: &str) -> Result<Place> {
    let place = parse_path(path)?;
    if has_each(place) {
        bail!("path `{path}`: a step changes one element; `[*]` is only for `require` and `absent`");
    }
    if matches!(place, Place::CensusStart | Place::CensusEnd | Place::FirstUpn | Place::FirstId) {
        bail!("path `{path}` is read only");
    }
    Ok(place)
}

fn field_target(path: &str) -> Result<(Place, Value, bool)> {
    let place = target(path)?;
    let (value, optional) = value_of(place).ok_or_else(|| anyhow!("path `{path}` names no field"))?;
    Ok((place, value, optional))
}

/// What `to` writes into a field holding `value`.
fn source(to: &toml::Value, value: Value, what: &str) -> Result<Source> {
    match (to, value) {
        (toml::Value::String(s), Value::Text | Value::Code) => Ok(Source::Text(s.clone())),
        (toml::Value::Array(items), Value::Codes) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| anyhow!("{what}: a list of codes is of strings")))
            .collect::<Result<_>>()
            .map(Source::Codes),
        (toml::Value::Integer(n), Value::Count) => {
            Ok(Source::Count(u32::try_from(*n).map_err(|_| anyhow!("{what}: {n} is no count"))?))
        }
        (toml::Value::Table(_), _) => {
            let file: DateFile = to.clone().try_into().with_context(|| format!("{what}: `{{ from = … }}`"))?;
            if value == Value::Date {
                return Ok(Source::Date(date_expr(&file).with_context(|| what.to_string())?));
            }
            let moved = file.month.is_some()
                || file.day.is_some()
                || file.days != 0
                || file.working_days != 0
                || file.at_most.is_some()
                || file.at_least.is_some()
                || file.snap.is_some();
            let from = parse_path(&file.from).with_context(|| what.to_string())?;
            if moved || value_of(from).map(|v| v.0) != Some(value) || has_each(from) {
                bail!("{what}: `{}` is not a value of the same kind to copy", file.from);
            }
            Ok(Source::Copy(from))
        }
        _ => Err(anyhow!("{what}: {to} is not a value of this field ({value:?})")),
    }
}

impl StepFile {
    fn compile(&self) -> Result<Step> {
        let ops = [
            ("set", self.set.is_some()),
            ("blank", self.blank.is_some()),
            ("copy", self.copy.is_some()),
            ("clear", self.clear.is_some()),
            ("push", self.push.is_some()),
            ("duplicate", self.duplicate.is_some()),
            ("overwrite", self.overwrite.is_some()),
            ("check_letter", self.check_letter.is_some()),
            ("suffix", self.suffix.is_some()),
            ("drop_conferences", self.drop_conferences.is_some()),
            ("require", self.require.is_some()),
            ("absent", self.absent.is_some()),
        ];
        let given: Vec<&str> = ops.iter().filter(|(_, g)| *g).map(|(n, _)| *n).collect();
        let [op] = given[..] else {
            bail!(
                "a step gives exactly one of {}; this one gives {}",
                ops.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
                if given.is_empty() { "none".to_string() } else { given.join(", ") }
            );
        };
        // Each setting belongs to its operations; one given to another is a mistake in the recipe.
        let settings = [
            ("to", self.to.is_some(), &["set"][..]),
            ("into", self.into.is_some(), &["copy"][..]),
            ("with", self.with.is_some(), &["push"][..]),
            ("at", self.at.is_some(), &["push", "overwrite"][..]),
            ("text", self.text.is_some(), &["overwrite", "suffix"][..]),
            ("or", self.or.is_some(), &["overwrite"][..]),
            ("index_width", self.index_width.is_some(), &["suffix"][..]),
            ("blank_as", self.blank_as.is_some(), &["suffix"][..]),
            ("is", self.is.is_some(), &["require"][..]),
            ("after", self.after.is_some(), &["require"][..]),
        ];
        for (name, set, owners) in settings {
            if set && !owners.contains(&op) {
                bail!("`{name}` is a setting of {}, not of `{op}`", owners.join(" and "));
            }
        }
        let op = match op {
            "set" => {
                let path = self.set.as_deref().unwrap_or_default();
                let (place, value, _) = field_target(path)?;
                let to = self.to.as_ref().ok_or_else(|| anyhow!("`set = \"{path}\"` needs `to`"))?;
                Op::Set(place, source(to, value, &format!("`set = \"{path}\"`"))?)
            }
            "blank" => {
                let path = self.blank.as_deref().unwrap_or_default();
                let (place, _, optional) = field_target(path)?;
                if !optional {
                    bail!("`blank = \"{path}\"`: the field is never blank");
                }
                Op::Blank(place)
            }
            "copy" => {
                let path = self.copy.as_deref().unwrap_or_default();
                let into = self.into.as_deref().ok_or_else(|| anyhow!("`copy = \"{path}\"` needs `into`"))?;
                let from = parse_path(path)?;
                let (place, value, optional) = field_target(into)?;
                if value_of(from).map(|v| v.0) != Some(value) || has_each(from) {
                    bail!("`copy = \"{path}\"`: not a field of the same kind as `{into}`");
                }
                if !optional {
                    bail!("`into = \"{into}\"`: the field is never blank, and a copy may be");
                }
                Op::Copy(from, place)
            }
            "clear" => {
                let path = self.clear.as_deref().unwrap_or_default();
                match target(path)? {
                    Place::List(list) => Op::Clear(list),
                    _ => bail!("`clear = \"{path}\"`: not a list (episodes, assessments, plans, s47, cpps, reviews)"),
                }
            }
            "push" => {
                let path = self.push.as_deref().unwrap_or_default();
                let Place::List(list) = target(path)? else {
                    bail!("`push = \"{path}\"`: not a list (episodes, assessments, plans, s47, cpps, reviews)");
                };
                let t = match list {
                    List::Episodes => Type::Episode,
                    List::Items(_, Items::Assessments) => Type::Assessment,
                    List::Items(_, Items::Plans) => Type::Plan,
                    List::Items(_, Items::S47) => Type::S47,
                    List::Items(_, Items::Cpps) => Type::Cpp,
                    List::Reviews(..) => Type::Review,
                };
                let mut fields = Vec::new();
                for (name, to) in self.with.iter().flatten() {
                    let Some((field, value, _)) = field_of(t, name) else {
                        bail!("`push = \"{path}\"`: `{name}` is not a field of {} ({})", t.name(), fields_of(t));
                    };
                    fields.push((field, source(to, value, &format!("`push = \"{path}\"`: `{name}`"))?));
                }
                for (ft, name, field, _, optional) in FIELDS {
                    if *ft == t && !optional && !fields.iter().any(|(f, _)| f == field) {
                        bail!("`push = \"{path}\"`: {} needs its `{name}`", t.name());
                    }
                }
                Op::Push(list, self.at, fields)
            }
            "duplicate" => {
                let path = self.duplicate.as_deref().unwrap_or_default();
                match target(path)? {
                    Place::Element(elem, _) if elem != Elem::Child => Op::Duplicate(elem),
                    _ => bail!("`duplicate = \"{path}\"`: not an element of a list"),
                }
            }
            "overwrite" => {
                let path = self.overwrite.as_deref().unwrap_or_default();
                let (place, value, _) = field_target(path)?;
                let text = self.text.clone().ok_or_else(|| anyhow!("`overwrite = \"{path}\"` needs `text`"))?;
                if value != Value::Text || text.is_empty() {
                    bail!("`overwrite = \"{path}\"`: overwrites some characters of a text field");
                }
                Op::Overwrite(place, self.at.unwrap_or(0), text, self.or.clone())
            }
            "check_letter" => {
                let path = self.check_letter.as_deref().unwrap_or_default();
                let (place, value, _) = field_target(path)?;
                if value != Value::Text {
                    bail!("`check_letter = \"{path}\"`: not a text field");
                }
                Op::CheckLetter(place)
            }
            "suffix" => {
                let path = self.suffix.as_deref().unwrap_or_default();
                let (place, value, _) = field_target(path)?;
                if value != Value::Text {
                    bail!("`suffix = \"{path}\"`: not a text field");
                }
                if self.index_width.is_some_and(|w| w > 64) {
                    bail!("`index_width` is at most 64");
                }
                Op::Suffix(
                    place,
                    self.text.clone().unwrap_or_default(),
                    self.index_width.unwrap_or(0),
                    self.blank_as.clone().unwrap_or_default(),
                )
            }
            "drop_conferences" => {
                if self.drop_conferences != Some(true) {
                    bail!("`drop_conferences` is written `drop_conferences = true`");
                }
                Op::DropConferences
            }
            "require" => {
                let path = self.require.as_deref().unwrap_or_default();
                let place = parse_path(path)?;
                let value = value_of(place).map(|v| v.0);
                let cond = match (&self.is, &self.after) {
                    (None, None) => Cond::Present,
                    (Some(text), None) if matches!(value, Some(Value::Text | Value::Code)) => Cond::Is(text.clone()),
                    (None, Some(after)) if value == Some(Value::Date) => {
                        Cond::After(date_expr(after).context("`after`")?)
                    }
                    _ => bail!("`require = \"{path}\"`: `is` compares a code or text, `after` a date; one at most"),
                };
                if matches!(place, Place::List(_)) {
                    bail!("`require = \"{path}\"`: name an element of the list, `[0]`");
                }
                Op::Require(place, cond)
            }
            _ => {
                let path = self.absent.as_deref().unwrap_or_default();
                let place = parse_path(path)?;
                match value_of(place) {
                    Some((_, true)) if matches!(place, Place::Field(..)) => Op::Absent(place),
                    _ => bail!("`absent = \"{path}\"`: not a field that may be blank"),
                }
            }
        };
        let when = match &self.when {
            None => When::Always,
            Some(name) => WHENS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, w)| *w)
                .ok_or_else(|| anyhow!("`when = \"{name}\"`: one of {}", names(WHENS)))?,
        };
        Ok(Step { op, when, optional: self.optional })
    }
}

fn steps(values: &[toml::Value]) -> Result<Vec<Step>> {
    let step = |value: &toml::Value| -> Result<Step> {
        let file: StepFile = value.clone().try_into()?;
        file.compile()
    };
    values.iter().enumerate().map(|(i, value)| step(value).with_context(|| format!("step {}", i + 1))).collect()
}

/// Reads and checks the recipes of `[faults] child`, each `want` a shape of `shapes` or written in place.
pub(super) fn compile(child: &[toml::Value], shapes: &BTreeMap<String, ShapeFile>) -> Result<Vec<Recipe>> {
    let shapes: BTreeMap<&str, ShapeExpr> = shapes
        .iter()
        .map(|(name, shape)| Ok((name.as_str(), shape.compile().with_context(|| format!("shape `{name}`"))?)))
        .collect::<Result<_>>()?;
    child
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let what = match value.get("rule").and_then(|r| r.as_str()) {
                Some(rule) => format!("child fault {} (rule {rule})", i + 1),
                None => format!("child fault {}", i + 1),
            };
            compile_one(value, &shapes).with_context(|| what)
        })
        .collect()
}

fn compile_one(value: &toml::Value, shapes: &BTreeMap<&str, ShapeExpr>) -> Result<Recipe> {
    let file: RecipeFile = value.clone().try_into()?;
    let want = match &file.want {
        None => ShapeExpr::default(),
        Some(toml::Value::String(name)) => shapes.get(name.as_str()).cloned().ok_or_else(|| {
            anyhow!(
                "`want = \"{name}\"` is no shape of [faults.shapes] ({})",
                shapes.keys().copied().collect::<Vec<_>>().join(", ")
            )
        })?,
        Some(other) => {
            let shape: ShapeFile = other.clone().try_into().context("`want`")?;
            shape.compile().context("`want`")?
        }
    };
    let run = match &file.run {
        None => None,
        Some(run) => {
            let size = match (run.children, run.one_in) {
                (Some(n), None) if n <= 1_000_000 => RunSize::Children(n),
                (None, Some(n)) if n > 0 => RunSize::OneIn(n),
                _ => bail!("`run` gives `children` (at most 1000000) or `one_in` (at least 1)"),
            };
            Some(Run { size, once: run.once, steps: steps(&run.steps).context("`run`")? })
        }
    };
    Ok(Recipe { rule: file.rule, want, steps: steps(&file.steps)?, run })
}

// ---------------------------------------------------------------------------------------------------------
// Making a fault.

/// What a recipe reads besides the child: the census year, its working days, the child's place in the return.
pub(super) struct Ctx<'c> {
    pub(super) start: NaiveDate,
    pub(super) end: NaiveDate,
    pub(super) holidays: &'c [NaiveDate],
    /// The child's index in the return.
    pub(super) index: usize,
    pub(super) first_upn: Option<&'c str>,
    pub(super) first_id: Option<&'c str>,
    /// Whether the return carries the whole-return faults.
    pub(super) whole_return: bool,
}

/// A field's value.
#[derive(Debug, Clone)]
enum Val<'a> {
    Date(NaiveDate),
    Text(String),
    Code(&'a str),
    Codes(Vec<&'a str>),
    Count(u32),
}

fn index(len: usize, at: i64) -> Option<usize> {
    let i = if at < 0 { len.checked_sub(at.unsigned_abs() as usize)? } else { at as usize };
    (i < len).then_some(i)
}

/// The elements a selector names in a list: one (or none), or each.
fn pick<T>(list: &[T], sel: Sel) -> Vec<&T> {
    match sel {
        Sel::Each => list.iter().collect(),
        Sel::At(at) => index(list.len(), at).map(|i| &list[i]).into_iter().collect(),
    }
}

fn pick_mut<T>(list: &mut [T], sel: Sel) -> Option<&mut T> {
    match sel {
        Sel::Each => None,
        Sel::At(at) => index(list.len(), at).map(|i| &mut list[i]),
    }
}

/// An element of the child, as read.
enum Ref<'r, 'a> {
    Child(&'r Child<'a>),
    Episode(&'r Episode<'a>),
    Assessment(&'r Assessment<'a>),
    Plan(&'r Plan),
    S47(&'r S47<'a>),
    Cpp(&'r Cpp<'a>),
    Review(&'r Option<NaiveDate>),
}

enum Mut<'r, 'a> {
    Child(&'r mut Child<'a>),
    Episode(&'r mut Episode<'a>),
    Assessment(&'r mut Assessment<'a>),
    Plan(&'r mut Plan),
    S47(&'r mut S47<'a>),
    Cpp(&'r mut Cpp<'a>),
    Review(&'r mut Option<NaiveDate>),
}

fn elements<'r, 'a>(child: &'r Child<'a>, elem: Elem) -> Vec<Ref<'r, 'a>> {
    match elem {
        Elem::Child => vec![Ref::Child(child)],
        Elem::Episode(e) => pick(&child.episodes, e).into_iter().map(Ref::Episode).collect(),
        Elem::Item(e, items, i) => pick(&child.episodes, e)
            .into_iter()
            .flat_map(|ep| match items {
                Items::Assessments => pick(&ep.assessments, i).into_iter().map(Ref::Assessment).collect::<Vec<_>>(),
                Items::Plans => pick(&ep.plans, i).into_iter().map(Ref::Plan).collect(),
                Items::S47 => pick(&ep.s47, i).into_iter().map(Ref::S47).collect(),
                Items::Cpps => pick(&ep.cpps, i).into_iter().map(Ref::Cpp).collect(),
            })
            .collect(),
        Elem::Review(e, c, r) => pick(&child.episodes, e)
            .into_iter()
            .flat_map(|ep| pick(&ep.cpps, c))
            .flat_map(|cpp| pick(&cpp.reviews, r).into_iter().map(Ref::Review))
            .collect(),
    }
}

fn element_mut<'r, 'a>(child: &'r mut Child<'a>, elem: Elem) -> Option<Mut<'r, 'a>> {
    Some(match elem {
        Elem::Child => Mut::Child(child),
        Elem::Episode(e) => Mut::Episode(pick_mut(&mut child.episodes, e)?),
        Elem::Item(e, items, i) => {
            let ep = pick_mut(&mut child.episodes, e)?;
            match items {
                Items::Assessments => Mut::Assessment(pick_mut(&mut ep.assessments, i)?),
                Items::Plans => Mut::Plan(pick_mut(&mut ep.plans, i)?),
                Items::S47 => Mut::S47(pick_mut(&mut ep.s47, i)?),
                Items::Cpps => Mut::Cpp(pick_mut(&mut ep.cpps, i)?),
            }
        }
        Elem::Review(e, c, r) => {
            let cpp = pick_mut(&mut pick_mut(&mut child.episodes, e)?.cpps, c)?;
            Mut::Review(pick_mut(&mut cpp.reviews, r)?)
        }
    })
}

/// A field of an element; `None` when blank. (Fields are checked against the element's type when read.)
fn get<'a>(elem: &Ref<'_, 'a>, field: Field) -> Option<Val<'a>> {
    let date = |d: Option<NaiveDate>| d.map(Val::Date);
    let code = |c: Option<&'a str>| c.map(Val::Code);
    match (elem, field) {
        (Ref::Child(c), Field::Id) => c.id.clone().map(Val::Text),
        (Ref::Child(c), Field::Upn) => c.upn.clone().map(Val::Text),
        (Ref::Child(c), Field::FormerUpn) => c.former_upn.clone().map(Val::Text),
        (Ref::Child(c), Field::UpnUnknown) => code(c.upn_unknown),
        (Ref::Child(c), Field::Birth) => date(c.birth),
        (Ref::Child(c), Field::Expected) => date(c.expected),
        (Ref::Child(c), Field::Sex) => code(c.sex),
        (Ref::Child(c), Field::Death) => date(c.death),
        (Ref::Child(c), Field::Ethnicity) => code(c.ethnicity),
        (Ref::Child(c), Field::Disabilities) => c.disabilities.clone().map(Val::Codes),
        (Ref::Episode(e), Field::Referral) => date(Some(e.referral)),
        (Ref::Episode(e), Field::Source) => code(Some(e.source)),
        (Ref::Episode(e), Field::Need) => code(e.need),
        (Ref::Episode(e), Field::Closure) => date(e.closure),
        (Ref::Episode(e), Field::Reason) => code(e.reason),
        (Ref::Episode(e), Field::Icpc) => date(e.icpc),
        (Ref::Episode(e), Field::Nfa) => code(e.nfa),
        (Ref::Assessment(a), Field::Start) => date(Some(a.start)),
        (Ref::Assessment(a), Field::Review) => date(a.review),
        (Ref::Assessment(a), Field::Auth) => date(a.auth),
        (Ref::Assessment(a), Field::Factors) => a.factors.clone().map(Val::Codes),
        (Ref::Plan(p), Field::Start) => date(Some(p.start)),
        (Ref::Plan(p), Field::End) => date(p.end),
        (Ref::S47(s), Field::Start) => date(Some(s.start)),
        (Ref::S47(s), Field::Target) => date(s.target),
        (Ref::S47(s), Field::Icpc) => date(s.icpc),
        (Ref::S47(s), Field::NotRequired) => code(Some(s.not_required)),
        (Ref::Cpp(p), Field::Start) => date(Some(p.start)),
        (Ref::Cpp(p), Field::End) => date(p.end),
        (Ref::Cpp(p), Field::Initial) => code(Some(p.initial)),
        (Ref::Cpp(p), Field::Latest) => code(Some(p.latest)),
        (Ref::Cpp(p), Field::Previous) => p.previous.map(Val::Count),
        (Ref::Review(r), Field::Date) => date(**r),
        _ => None,
    }
}

/// Writes a field of an element (`None` blanks it); false when the value does not fit the field.
fn put<'a>(elem: Mut<'_, 'a>, field: Field, value: Option<Val<'a>>) -> bool {
    fn date(v: Option<Val<'_>>) -> Result<Option<NaiveDate>, ()> {
        match v {
            None => Ok(None),
            Some(Val::Date(d)) => Ok(Some(d)),
            Some(_) => Err(()),
        }
    }
    fn text(v: Option<Val<'_>>) -> Result<Option<String>, ()> {
        match v {
            None => Ok(None),
            Some(Val::Text(t)) => Ok(Some(t)),
            Some(_) => Err(()),
        }
    }
    fn code<'a>(v: Option<Val<'a>>) -> Result<Option<&'a str>, ()> {
        match v {
            None => Ok(None),
            Some(Val::Code(c)) => Ok(Some(c)),
            Some(_) => Err(()),
        }
    }
    fn codes<'a>(v: Option<Val<'a>>) -> Result<Option<Vec<&'a str>>, ()> {
        match v {
            None => Ok(None),
            Some(Val::Codes(c)) => Ok(Some(c)),
            Some(_) => Err(()),
        }
    }
    fn count(v: Option<Val<'_>>) -> Result<Option<u32>, ()> {
        match v {
            None => Ok(None),
            Some(Val::Count(n)) => Ok(Some(n)),
            Some(_) => Err(()),
        }
    }
    /// A field that is never blank.
    fn some<T>(v: Result<Option<T>, ()>) -> Result<T, ()> {
        v?.ok_or(())
    }
    let done: Result<(), ()> = (|| {
        match (elem, field) {
            (Mut::Child(c), Field::Id) => c.id = text(value)?,
            (Mut::Child(c), Field::Upn) => c.upn = text(value)?,
            (Mut::Child(c), Field::FormerUpn) => c.former_upn = text(value)?,
            (Mut::Child(c), Field::UpnUnknown) => c.upn_unknown = code(value)?,
            (Mut::Child(c), Field::Birth) => c.birth = date(value)?,
            (Mut::Child(c), Field::Expected) => c.expected = date(value)?,
            (Mut::Child(c), Field::Sex) => c.sex = code(value)?,
            (Mut::Child(c), Field::Death) => c.death = date(value)?,
            (Mut::Child(c), Field::Ethnicity) => c.ethnicity = code(value)?,
            (Mut::Child(c), Field::Disabilities) => c.disabilities = codes(value)?,
            (Mut::Episode(e), Field::Referral) => e.referral = some(date(value))?,
            (Mut::Episode(e), Field::Source) => e.source = some(code(value))?,
            (Mut::Episode(e), Field::Need) => e.need = code(value)?,
            (Mut::Episode(e), Field::Closure) => e.closure = date(value)?,
            (Mut::Episode(e), Field::Reason) => e.reason = code(value)?,
            (Mut::Episode(e), Field::Icpc) => e.icpc = date(value)?,
            (Mut::Episode(e), Field::Nfa) => e.nfa = code(value)?,
            (Mut::Assessment(a), Field::Start) => a.start = some(date(value))?,
            (Mut::Assessment(a), Field::Review) => a.review = date(value)?,
            (Mut::Assessment(a), Field::Auth) => a.auth = date(value)?,
            (Mut::Assessment(a), Field::Factors) => a.factors = codes(value)?,
            (Mut::Plan(p), Field::Start) => p.start = some(date(value))?,
            (Mut::Plan(p), Field::End) => p.end = date(value)?,
            (Mut::S47(s), Field::Start) => s.start = some(date(value))?,
            (Mut::S47(s), Field::Target) => s.target = date(value)?,
            (Mut::S47(s), Field::Icpc) => s.icpc = date(value)?,
            (Mut::S47(s), Field::NotRequired) => s.not_required = some(code(value))?,
            (Mut::Cpp(p), Field::Start) => p.start = some(date(value))?,
            (Mut::Cpp(p), Field::End) => p.end = date(value)?,
            (Mut::Cpp(p), Field::Initial) => p.initial = some(code(value))?,
            (Mut::Cpp(p), Field::Latest) => p.latest = some(code(value))?,
            (Mut::Cpp(p), Field::Previous) => p.previous = count(value)?,
            (Mut::Review(r), Field::Date) => *r = date(value)?,
            _ => return Err(()),
        }
        Ok(())
    })();
    done.is_ok()
}

impl Recipe {
    /// The child the fault needs, its dates taken in the census year.
    pub(super) fn want(&self, ctx: &Ctx<'_>) -> Want {
        let empty = Child::default();
        let on = |expr: &Option<DateExpr>| expr.as_ref().and_then(|e| eval_date(e, &empty, ctx));
        Want {
            kind: self.want.kind,
            episodes: self.want.episodes,
            open: self.want.open,
            unborn: self.want.unborn,
            dead: false,
            age: self.want.age,
            referral_from: on(&self.want.referral_from),
            referral_to: on(&self.want.referral_to),
        }
    }

    /// Breaks the rule in `child`; false when this child cannot carry it. A child without an episode carries
    /// no fault.
    pub(super) fn apply<'a>(&'a self, child: &mut Child<'a>, ctx: &Ctx<'_>) -> bool {
        !child.episodes.is_empty() && run_steps(&self.steps, child, ctx)
    }
}

impl Run {
    /// How many children a run gets: a fixed number, or a share of the return's `count`.
    pub(super) fn size(&self, count: usize) -> usize {
        match self.size {
            RunSize::Children(n) => n,
            RunSize::OneIn(n) => (count / n).max(1),
        }
    }

    /// Whether the run is started only the first time its fault is made.
    pub(super) fn once(&self) -> bool {
        self.once
    }

    /// Makes the run's change in a child without a fault of its own; false when it cannot be made.
    pub(super) fn apply<'a>(&'a self, child: &mut Child<'a>, ctx: &Ctx<'_>) -> bool {
        run_steps(&self.steps, child, ctx)
    }
}

fn run_steps<'a>(steps: &'a [Step], child: &mut Child<'a>, ctx: &Ctx<'_>) -> bool {
    for step in steps {
        let applies = match step.when {
            When::Always => true,
            When::Even => ctx.index % 2 == 0,
            When::Odd => ctx.index % 2 == 1,
            When::WholeReturn => ctx.whole_return,
            When::NotWholeReturn => !ctx.whole_return,
        };
        if applies && !make(&step.op, child, ctx) && !step.optional {
            return false;
        }
    }
    true
}

/// Reads a field (`Err` when its element is not there; `Ok(None)` when the field is blank).
fn read<'a>(place: Place, child: &Child<'a>, ctx: &Ctx<'_>) -> Result<Option<Val<'a>>, ()> {
    match place {
        Place::CensusStart => Ok(Some(Val::Date(ctx.start))),
        Place::CensusEnd => Ok(Some(Val::Date(ctx.end))),
        Place::FirstUpn => Ok(ctx.first_upn.map(|s| Val::Text(s.to_string()))),
        Place::FirstId => Ok(ctx.first_id.map(|s| Val::Text(s.to_string()))),
        Place::Field(elem, _, field) => {
            let found = elements(child, elem);
            found.first().map(|e| get(e, field)).ok_or(())
        }
        Place::Element(..) | Place::List(_) => Err(()),
    }
}

fn eval_date(expr: &DateExpr, child: &Child<'_>, ctx: &Ctx<'_>) -> Option<NaiveDate> {
    let Ok(Some(Val::Date(mut d))) = read(expr.from, child, ctx) else { return None };
    if let Some((month, day)) = expr.month_day {
        d = date(d.year(), month, day);
    }
    d = days(d, expr.days);
    d = add_wd(ctx.holidays, d, expr.working_days);
    if let Some(bound) = &expr.at_most {
        d = d.min(eval_date(bound, child, ctx)?);
    }
    if let Some(bound) = &expr.at_least {
        d = d.max(eval_date(bound, child, ctx)?);
    }
    Some(match expr.snap {
        None => d,
        Some(Snap::WorkingDayOnOrAfter) => working_day_from(ctx.holidays, d),
        Some(Snap::WeekdayOnOrBefore) => {
            while is_weekend(d) {
                d = days(d, -1);
            }
            d
        }
        Some(Snap::SaturdayBefore) => {
            d = days(d, -1);
            while d.weekday() != Weekday::Sat {
                d = days(d, -1);
            }
            d
        }
    })
}

/// The value `source` gives (a string as a code when `code`, else as text); `None` when it reads nothing.
fn eval<'a>(source: &'a Source, code: bool, child: &Child<'a>, ctx: &Ctx<'_>) -> Option<Val<'a>> {
    match source {
        Source::Text(t) if code => Some(Val::Code(t)),
        Source::Text(t) => Some(Val::Text(t.clone())),
        Source::Codes(list) => Some(Val::Codes(list.iter().map(String::as_str).collect())),
        Source::Count(n) => Some(Val::Count(*n)),
        Source::Date(expr) => eval_date(expr, child, ctx).map(Val::Date),
        Source::Copy(place) => read(*place, child, ctx).ok().flatten(),
    }
}

fn is_code(place: Place) -> bool {
    value_of(place).is_some_and(|v| v.0 == Value::Code)
}

/// Makes one step; false when what it addresses is not there (or a condition does not hold).
fn make<'a>(op: &'a Op, child: &mut Child<'a>, ctx: &Ctx<'_>) -> bool {
    match op {
        Op::Set(place, source) => {
            let Some(value) = eval(source, is_code(*place), child, ctx) else { return false };
            write(*place, child, Some(value))
        }
        Op::Blank(place) => write(*place, child, None),
        Op::Copy(from, into) => match read(*from, child, ctx) {
            Ok(value) => write(*into, child, value),
            Err(()) => false,
        },
        Op::Clear(list) => match list {
            List::Episodes => {
                child.episodes.clear();
                true
            }
            List::Items(e, items) => {
                let Some(ep) = pick_mut(&mut child.episodes, *e) else { return false };
                match items {
                    Items::Assessments => ep.assessments.clear(),
                    Items::Plans => ep.plans.clear(),
                    Items::S47 => ep.s47.clear(),
                    Items::Cpps => ep.cpps.clear(),
                }
                true
            }
            List::Reviews(e, c) => {
                let Some(ep) = pick_mut(&mut child.episodes, *e) else { return false };
                let Some(cpp) = pick_mut(&mut ep.cpps, *c) else { return false };
                cpp.reviews.clear();
                true
            }
        },
        Op::Push(list, at, fields) => push(*list, *at, fields, child, ctx),
        Op::Duplicate(elem) => duplicate(*elem, child),
        Op::Overwrite(place, at, text, or) => {
            let Ok(Some(Val::Text(current))) = read(*place, child, ctx) else { return false };
            let mut chars: Vec<char> = current.chars().collect();
            let new: Vec<char> = text.chars().collect();
            let Some(there) = at.checked_add(new.len()).and_then(|end| chars.get(*at..end)) else { return false };
            let new: Vec<char> = match or {
                Some(or) if there == new.as_slice() => or.chars().collect(),
                _ => new,
            };
            let Some(end) = at.checked_add(new.len()).filter(|&end| end <= chars.len()) else { return false };
            chars.splice(*at..end, new);
            write(*place, child, Some(Val::Text(chars.into_iter().collect())))
        }
        Op::CheckLetter(place) => {
            let Ok(Some(Val::Text(current))) = read(*place, child, ctx) else { return false };
            let body: String = current.chars().skip(1).collect();
            let letter = caregate_engine::expr::upn_check_letter(body.as_bytes()).map_or('A', char::from);
            write(*place, child, Some(Val::Text(format!("{letter}{body}"))))
        }
        Op::Suffix(place, text, width, blank_as) => {
            let Ok(current) = read(*place, child, ctx) else { return false };
            let current = match current {
                Some(Val::Text(t)) => t,
                _ => blank_as.clone(),
            };
            write(*place, child, Some(Val::Text(format!("{current}{text}{:0width$}", ctx.index))))
        }
        Op::DropConferences => drop_conferences(child),
        Op::Require(place, cond) => require(*place, cond, child, ctx),
        Op::Absent(place) => {
            let Place::Field(elem, _, field) = *place else { return false };
            let found = elements(child, elem);
            (!found.is_empty() || each(elem)) && found.iter().all(|e| get(e, field).is_none())
        }
    }
}

fn write<'a>(place: Place, child: &mut Child<'a>, value: Option<Val<'a>>) -> bool {
    let Place::Field(elem, _, field) = place else { return false };
    match element_mut(child, elem) {
        Some(found) => put(found, field, value),
        None => false,
    }
}

fn require(place: Place, cond: &Cond, child: &Child<'_>, ctx: &Ctx<'_>) -> bool {
    let (elem, field) = match place {
        Place::Field(elem, _, field) => (elem, Some(field)),
        Place::Element(elem, _) => (elem, None),
        _ => {
            let value = read(place, child, ctx).ok().flatten();
            return holds(value, cond, child, ctx);
        }
    };
    let found = elements(child, elem);
    if found.is_empty() && !each(elem) {
        return false;
    }
    match field {
        None => true,
        Some(field) => found.iter().all(|e| holds(get(e, field), cond, child, ctx)),
    }
}

fn holds(value: Option<Val<'_>>, cond: &Cond, child: &Child<'_>, ctx: &Ctx<'_>) -> bool {
    match (cond, value) {
        (_, None) => false,
        (Cond::Present, Some(_)) => true,
        (Cond::Is(text), Some(Val::Code(c))) => c == text,
        (Cond::Is(text), Some(Val::Text(t))) => &t == text,
        (Cond::After(expr), Some(Val::Date(d))) => eval_date(expr, child, ctx).is_some_and(|than| d > than),
        _ => false,
    }
}

fn push<'a>(
    list: List,
    at: Option<usize>,
    fields: &'a [(Field, Source)],
    child: &mut Child<'a>,
    ctx: &Ctx<'_>,
) -> bool {
    let mut values = Vec::with_capacity(fields.len());
    for (field, source) in fields {
        let code = FIELDS.iter().any(|(_, _, f, v, _)| f == field && *v == Value::Code);
        let Some(value) = eval(source, code, child, ctx) else { return false };
        values.push((*field, value));
    }
    /// Puts a new element, its fields written, at `at` (the end by default); false when `at` is past the end.
    fn insert<T>(list: &mut Vec<T>, at: Option<usize>, item: T) -> bool {
        let at = at.unwrap_or(list.len());
        if at > list.len() {
            return false;
        }
        list.insert(at, item);
        true
    }
    let day = NaiveDate::default();
    // Every field a new element must have is among `values` (checked when the recipe was read): the
    // placeholders below are all written over.
    match list {
        List::Episodes => {
            let mut e = Episode {
                referral: day,
                source: "",
                need: None,
                closure: None,
                reason: None,
                icpc: None,
                assessments: Vec::new(),
                plans: Vec::new(),
                s47: Vec::new(),
                nfa: None,
                cpps: Vec::new(),
            };
            values.into_iter().all(|(f, v)| put(Mut::Episode(&mut e), f, Some(v))) && insert(&mut child.episodes, at, e)
        }
        List::Items(e, items) => {
            let Some(ep) = pick_mut(&mut child.episodes, e) else { return false };
            match items {
                Items::Assessments => {
                    let mut a = Assessment { start: day, review: None, auth: None, factors: None };
                    values.into_iter().all(|(f, v)| put(Mut::Assessment(&mut a), f, Some(v)))
                        && insert(&mut ep.assessments, at, a)
                }
                Items::Plans => {
                    let mut p = Plan { start: day, end: None };
                    values.into_iter().all(|(f, v)| put(Mut::Plan(&mut p), f, Some(v))) && insert(&mut ep.plans, at, p)
                }
                Items::S47 => {
                    let mut s = S47 { start: day, target: None, icpc: None, not_required: "" };
                    values.into_iter().all(|(f, v)| put(Mut::S47(&mut s), f, Some(v))) && insert(&mut ep.s47, at, s)
                }
                Items::Cpps => {
                    let mut p =
                        Cpp { start: day, end: None, initial: "", latest: "", previous: None, reviews: Vec::new() };
                    values.into_iter().all(|(f, v)| put(Mut::Cpp(&mut p), f, Some(v))) && insert(&mut ep.cpps, at, p)
                }
            }
        }
        List::Reviews(e, c) => {
            let Some(ep) = pick_mut(&mut child.episodes, e) else { return false };
            let Some(cpp) = pick_mut(&mut ep.cpps, c) else { return false };
            let mut r = None;
            values.into_iter().all(|(f, v)| put(Mut::Review(&mut r), f, Some(v))) && insert(&mut cpp.reviews, at, r)
        }
    }
}

/// Puts a copy of an element last in its list.
fn duplicate(elem: Elem, child: &mut Child<'_>) -> bool {
    fn again<T: Clone>(list: &mut Vec<T>, sel: Sel) -> bool {
        let Some(item) = pick_mut(list, sel).map(|x| x.clone()) else { return false };
        list.push(item);
        true
    }
    match elem {
        Elem::Child => false,
        Elem::Episode(e) => again(&mut child.episodes, e),
        Elem::Item(e, items, i) => {
            let Some(ep) = pick_mut(&mut child.episodes, e) else { return false };
            match items {
                Items::Assessments => again(&mut ep.assessments, i),
                Items::Plans => again(&mut ep.plans, i),
                Items::S47 => again(&mut ep.s47, i),
                Items::Cpps => again(&mut ep.cpps, i),
            }
        }
        Elem::Review(e, c, r) => {
            let Some(ep) = pick_mut(&mut child.episodes, e) else { return false };
            let Some(cpp) = pick_mut(&mut ep.cpps, c) else { return false };
            again(&mut cpp.reviews, r)
        }
    }
}

/// Leaves out the initial conference of every Section 47 enquiry in the child's episodes that have a child
/// protection plan, the enquiry then needing none; false when there was none to leave out.
fn drop_conferences(child: &mut Child<'_>) -> bool {
    let mut dropped = false;
    for e in &mut child.episodes {
        if e.cpps.is_empty() {
            continue;
        }
        for s in &mut e.s47 {
            if s.icpc.take().is_some() {
                s.not_required = "true";
                dropped = true;
            }
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::super::FaultLists;
    use caregate_engine::standard::Catalog;
    use std::sync::LazyLock;

    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| Catalog::embedded().expect("packs load"));

    /// The error of reading `[faults]` as given, `RULE` standing for a rule of the pack (a census pack whose
    /// generate.toml says only that), and the rule.
    fn error(faults: &str) -> (String, String) {
        let pack = CATALOG.find("cin-census@2025-26").expect("the census pack");
        let rule = pack.rules.first().map(|r| r.id.clone()).expect("the pack has rules");
        let mut files = pack.files.clone();
        let text = format!("generator = \"cin-census\"\n[faults]\n{}\n", faults.replace("RULE", &rule));
        files.files.insert("generate.toml".into(), text.into_bytes());
        let changed = caregate_engine::standard::StandardPack::compile(files).expect("compiles");
        match FaultLists::of(&changed) {
            Ok(_) => (String::new(), rule),
            Err(e) => (format!("{e:#}"), rule),
        }
    }

    #[test]
    fn a_recipe_that_reads_is_accepted() {
        let ok = "child = [{ rule = \"RULE\", want = { kind = \"cpp\" }, do = [\
            { set = \"cpp.start\", to = { from = \"episode.referral\", days = -7 } }] }]";
        assert_eq!(error(ok).0, "");
    }

    #[test]
    fn unknown_paths_fields_operations_and_shapes_are_refused_when_the_pack_is_read() {
        let cases = [
            ("{ set = \"assessment.strat\", to = \"x\" }", "`strat` is not a field of an assessment"),
            ("{ set = \"pupil.upn\", to = \"x\" }", "starts with `pupil`"),
            ("{ blank = \"episode.plans[x].end\" }", "is no index"),
            ("{ frobnicate = \"child.id\" }", "unknown field `frobnicate`"),
            ("{ blank = \"child.id\", clear = \"episode.plans\" }", "gives blank, clear"),
            ("{ blank = \"episode.referral\" }", "never blank"),
            ("{ set = \"child.birth\", to = \"2025-01-01\" }", "not a value of this field"),
            ("{ set = \"child.sex\", to = { from = \"child.birth\" } }", "not a value of the same kind"),
            ("{ push = \"episode.plans\", with = { end = { from = \"census.end\" } } }", "needs its `start`"),
            ("{ set = \"plan.end\", to = { from = \"census.end\", snap = \"monday\" } }", "a snap is one of"),
            ("{ set = \"child.sex\", to = \"U\", when = \"sometimes\" }", "`when = \"sometimes\"`"),
            ("{ blank = \"child.episodes[*].need\" }", "`[*]` is only for"),
            ("{ clear = \"census.end\" }", "read only"),
            ("{ blank = \"child.id\", to = \"x\" }", "`to` is a setting of set"),
        ];
        for (step, expected) in cases {
            let (e, rule) = error(&format!("child = [{{ rule = \"RULE\", do = [{step}] }}]"));
            assert!(e.contains(expected), "{step}: {e}");
            assert!(e.contains(&format!("child fault 1 (rule {rule})")) && e.contains("step 1"), "{step}: {e}");
        }
        let (e, _) = error("child = [{ rule = \"RULE\", want = \"nobody\" }]");
        assert!(e.contains("`want = \"nobody\"` is no shape"), "{e}");
        let (e, _) = error("child = [{ rule = \"RULE\", want = { kind = \"orphan\" } }]");
        assert!(e.contains("a kind is one of nfa"), "{e}");
        let (e, _) = error("child = [{ rule = \"RULE\", want = { referral_from = { from = \"child.birth\" } } }]");
        assert!(e.contains("a shape's dates are of the census"), "{e}");
        let (e, _) = error("child = [{ rule = \"RULE\", run = { do = [] } }]");
        assert!(e.contains("`run` gives `children`"), "{e}");
    }
}
