//! The functions a rule can call, as plain functions over [`Value`]s. The compiler wires them into
//! closures (and folds them at compile time when every argument is a constant).

use std::borrow::Cow;

use chrono::{Duration, NaiveDate};

use super::value::{type_error, type_error2, Value};
use super::{calendar, checks, EvalError};

pub(crate) type F1 = for<'a> fn(Value<'a>) -> Result<Value<'a>, EvalError>;
pub(crate) type F2 = for<'a> fn(&Value<'a>, &Value<'a>) -> Result<Value<'a>, EvalError>;

/// The one- and two-argument functions (besides `matches` and `working_days`, which the compiler
/// builds itself). A method call `x.f(y)` is the same as `f(x, y)`.
pub(crate) fn lookup1(name: &str) -> Option<F1> {
    Some(match name {
        "size" => size,
        "int" => to_int,
        "double" => to_double,
        "string" => to_string,
        "date" => date,
        "timestamp" => timestamp,
        "nhs_number_valid" => nhs_number_valid,
        "upn_valid" => upn_valid,
        "uk_postcode" => uk_postcode,
        "email" => email,
        "uk_phone" => uk_phone,
        "sha256_base64" => sha256_base64,
        "base64_len" => base64_len,
        "unique" => unique,
        "min" => min,
        "max" => max,
        "sum" => sum,
        _ => return None,
    })
}

pub(crate) fn lookup2(name: &str) -> Option<F2> {
    Some(match name {
        "startsWith" => starts_with,
        "endsWith" => ends_with,
        "contains" => contains_str,
        "add_days" => add_days,
        "add_years" => add_years,
        "days_between" => days_between,
        "years_between" => years_between,
        "seconds_between" => seconds_between,
        "count" => count,
        _ => return None,
    })
}

/// Every function name the language knows, with the arities it takes (for compile errors).
pub(crate) fn arity_of(name: &str) -> Option<&'static str> {
    if lookup1(name).is_some() {
        Some("1 argument")
    } else if lookup2(name).is_some() || name == "matches" || name == "working_days" {
        Some("2 arguments")
    } else if let Some((_, lookup)) = lookup_ref(name) {
        Some(if lookup.arity() == 1 { "1 argument" } else { "2 arguments" })
    } else {
        None
    }
}

fn str_arg<'v>(f: &str, v: &'v Value<'_>) -> Result<&'v str, EvalError> {
    v.as_str().ok_or_else(|| type_error(f, v))
}

fn date_arg(f: &str, v: &Value<'_>) -> Result<NaiveDate, EvalError> {
    match v {
        Value::Date(d) => Ok(*d),
        Value::Str(_) => Err(EvalError::Type(format!("{f} takes dates, not strings: wrap the text in date()"))),
        other => Err(type_error(f, other)),
    }
}

fn int_arg(f: &str, v: &Value<'_>) -> Result<i64, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        Value::UInt(u) => i64::try_from(*u).map_err(|_| EvalError::Overflow("int")),
        other => Err(type_error(f, other)),
    }
}

fn size(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v.size() {
        Some(n) => Ok(Value::Int(n as i64)),
        None => Err(type_error("size()", &v)),
    }
}

fn to_int(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Int(_) => Ok(v),
        Value::UInt(u) => i64::try_from(u).map(Value::Int).map_err(|_| EvalError::Overflow("int()")),
        Value::Double(d) => {
            if d.is_finite() && d > -9.223_372_036_854_776e18 && d < 9.223_372_036_854_776e18 {
                Ok(Value::Int(d.trunc() as i64))
            } else {
                Err(EvalError::Overflow("int()"))
            }
        }
        Value::Str(s) => {
            s.trim().parse::<i64>().map(Value::Int).map_err(|_| EvalError::Invalid(format!("`{s}` is not an integer")))
        }
        Value::Timestamp(t) => Ok(Value::Int(t.timestamp())),
        other => Err(type_error("int()", &other)),
    }
}

fn to_double(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Int(i) => Ok(Value::Double(i as f64)),
        Value::UInt(u) => Ok(Value::Double(u as f64)),
        Value::Double(_) => Ok(v),
        Value::Str(s) => {
            s.trim().parse::<f64>().map(Value::Double).map_err(|_| EvalError::Invalid(format!("`{s}` is not a number")))
        }
        other => Err(type_error("double()", &other)),
    }
}

fn to_string(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Str(_) => Ok(v),
        other => Ok(Value::Str(Cow::Owned(other.to_string()))),
    }
}

fn date(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Str(s) => calendar::parse_date(&s).map(Value::Date).ok_or_else(|| EvalError::BadDate(s.into_owned())),
        Value::Date(_) => Ok(v),
        Value::Timestamp(t) => Ok(Value::Date(t.date_naive())),
        other => Err(type_error("date()", &other)),
    }
}

fn timestamp(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Str(s) => {
            calendar::parse_timestamp(&s).map(Value::Timestamp).ok_or_else(|| EvalError::BadTimestamp(s.into_owned()))
        }
        Value::Timestamp(_) => Ok(v),
        other => Err(type_error("timestamp()", &other)),
    }
}

fn nhs_number_valid(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(checks::nhs_number_valid(str_arg("nhs_number_valid()", &v)?)))
}

fn upn_valid(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(checks::upn_valid(str_arg("upn_valid()", &v)?)))
}

fn uk_postcode(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(checks::uk_postcode(str_arg("uk_postcode()", &v)?)))
}

fn email(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(checks::email(str_arg("email()", &v)?)))
}

fn uk_phone(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(Value::Bool(checks::uk_phone(str_arg("uk_phone()", &v)?)))
}

fn sha256_base64(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(match checks::sha256_base64(str_arg("sha256_base64()", &v)?) {
        Some(hex) => Value::Str(Cow::Owned(hex)),
        None => Value::Null,
    })
}

fn base64_len(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    Ok(match checks::decode_base64(str_arg("base64_len()", &v)?) {
        Some(bytes) => Value::Int(bytes.len() as i64),
        None => Value::Null,
    })
}

fn unique(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let items: Vec<Value<'_>> = v.items().ok_or_else(|| type_error("unique()", &v))?.collect();
    for (i, a) in items.iter().enumerate() {
        for b in &items[i + 1..] {
            if super::value::equals(a, b)? {
                return Ok(Value::Bool(false));
            }
        }
    }
    Ok(Value::Bool(true))
}

/// The least (`greatest` false) or greatest element of a list, by CEL's ordering (numbers, texts such as ISO
/// dates, dates); `null` for an empty list.
fn extreme<'a>(f: &str, v: Value<'a>, greatest: bool) -> Result<Value<'a>, EvalError> {
    let mut best: Option<Value<'a>> = None;
    for item in v.items().ok_or_else(|| type_error(f, &v))? {
        let better = match &best {
            None => true,
            Some(b) => {
                let o = super::value::compare(&item, b)?;
                if greatest {
                    o.is_gt()
                } else {
                    o.is_lt()
                }
            }
        };
        if better {
            best = Some(item);
        }
    }
    Ok(best.unwrap_or(Value::Null))
}

fn min(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    extreme("min()", v, false)
}

fn max(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    extreme("max()", v, true)
}

/// The sum of a list of numbers (ints stay ints; a double makes the sum a double); 0 for an empty list.
fn sum(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    let mut total = Value::Int(0);
    for item in v.items().ok_or_else(|| type_error("sum()", &v))? {
        if !matches!(item, Value::Int(_) | Value::UInt(_) | Value::Double(_)) {
            return Err(type_error("sum()", &item));
        }
        total = super::value::arith(super::value::Arith::Add, &total, &item)?;
    }
    Ok(total)
}

fn count<'a>(list: &Value<'a>, needle: &Value<'a>) -> Result<Value<'a>, EvalError> {
    let mut n = 0;
    for item in list.items().ok_or_else(|| type_error("count()", list))? {
        if super::value::equals(&item, needle)? {
            n += 1;
        }
    }
    Ok(Value::Int(n))
}

fn starts_with<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Bool(x.starts_with(y.as_ref()))),
        _ => Err(type_error2("startsWith()", a, b)),
    }
}

fn ends_with<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Bool(x.ends_with(y.as_ref()))),
        _ => Err(type_error2("endsWith()", a, b)),
    }
}

fn contains_str<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Bool(x.contains(y.as_ref()))),
        _ => Err(type_error2("contains()", a, b)),
    }
}

fn add_days<'a>(d: &Value<'a>, n: &Value<'a>) -> Result<Value<'a>, EvalError> {
    let n = int_arg("add_days()", n)?;
    let out_of_range = || EvalError::Invalid("add_days() goes out of the calendar's range".into());
    match d {
        Value::Timestamp(t) => Duration::try_days(n)
            .and_then(|dur| t.checked_add_signed(dur))
            .map(Value::Timestamp)
            .ok_or_else(out_of_range),
        _ => calendar::add_days(date_arg("add_days()", d)?, n).map(Value::Date).ok_or_else(out_of_range),
    }
}

fn add_years<'a>(d: &Value<'a>, n: &Value<'a>) -> Result<Value<'a>, EvalError> {
    let n = int_arg("add_years()", n)?;
    calendar::add_years(date_arg("add_years()", d)?, n)
        .map(Value::Date)
        .ok_or_else(|| EvalError::Invalid("add_years() goes out of the calendar's range".into()))
}

fn days_between<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    Ok(Value::Int(calendar::days_between(date_arg("days_between()", a)?, date_arg("days_between()", b)?)))
}

fn years_between<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    Ok(Value::Int(calendar::years_between(date_arg("years_between()", a)?, date_arg("years_between()", b)?)))
}

fn seconds_between<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    let stamp = |v: &Value<'_>| match v {
        Value::Timestamp(t) => Ok(*t),
        Value::Str(_) => {
            Err(EvalError::Type("seconds_between() takes timestamps, not strings: wrap the text in timestamp()".into()))
        }
        other => Err(type_error("seconds_between()", other)),
    };
    Ok(Value::Int((stamp(b)? - stamp(a)?).num_seconds()))
}

pub(crate) fn working_days<'a>(a: &Value<'a>, b: &Value<'a>, holidays: &[NaiveDate]) -> Result<Value<'a>, EvalError> {
    Ok(Value::Int(calendar::working_days(date_arg("working_days()", a)?, date_arg("working_days()", b)?, holidays)))
}

pub(crate) fn regex_match<'a>(s: &Value<'a>, re: &regex::Regex) -> Result<Value<'a>, EvalError> {
    Ok(Value::Bool(re.is_match(str_arg("matches()", s)?)))
}

pub(crate) fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map_err(|e| e.to_string())
}

/// A function that looks a value up in the run's reference data ([`crate::reference`]): the postcode directory
/// or Ofsted's provider lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `postcode_known(p)`: whether the postcode directory lists `p`.
    Known,
    /// `postcode_la(p)`: the code of the council `p` lies in, `null` when not listed or listed without one.
    La,
    /// `postcode_miles(a, b)`: the distance in miles (to 0.1) between two postcodes, `null` when either is not
    /// listed or has no grid reference.
    Miles,
    /// `ofsted_known(urn)`: whether Ofsted's lists name the URN.
    OfstedKnown,
    /// `ofsted_places(urn)`: the placement types the provider is registered for, `null` when not listed or
    /// listed without any.
    OfstedPlaces,
    /// `ofsted_provider_codes(urn)`: the provider's placement provider codes, `null` when not listed or
    /// listed without any.
    OfstedProviderCodes,
    /// `ofsted_postcodes(urn)`: the postcodes of the provider's premises (upper case, no spaces), `null` when
    /// not listed or listed without any.
    OfstedPostcodes,
    /// `ofsted_at(urn, p)`: whether the provider has premises at postcode `p` (compared without spaces, in
    /// upper case), `null` when not listed, listed without a postcode, or `p` is `null`.
    OfstedAt,
    /// `ofsted_closed(urn)`: the day the provider's registration ended (`yyyy-mm-dd`, as the record's dates
    /// are), `null` when not listed or still registered.
    OfstedClosed,
}

impl Lookup {
    pub(crate) fn arity(self) -> usize {
        match self {
            Lookup::Miles | Lookup::OfstedAt => 2,
            _ => 1,
        }
    }

    /// The kind of reference data it reads ([`crate::reference::NAMES`]).
    fn reference(self) -> &'static str {
        match self {
            Lookup::Known | Lookup::La | Lookup::Miles => crate::reference::POSTCODES,
            _ => crate::reference::OFSTED_PROVIDERS,
        }
    }
}

/// The lookup function called `name`, with the index in [`crate::reference::NAMES`] of the data it reads.
pub(crate) fn lookup_ref(name: &str) -> Option<(u32, Lookup)> {
    let lookup = match name {
        "postcode_known" => Lookup::Known,
        "postcode_la" => Lookup::La,
        "postcode_miles" => Lookup::Miles,
        "ofsted_known" => Lookup::OfstedKnown,
        "ofsted_places" => Lookup::OfstedPlaces,
        "ofsted_provider_codes" => Lookup::OfstedProviderCodes,
        "ofsted_postcodes" => Lookup::OfstedPostcodes,
        "ofsted_at" => Lookup::OfstedAt,
        "ofsted_closed" => Lookup::OfstedClosed,
        _ => return None,
    };
    let reference = crate::reference::NAMES.iter().position(|n| *n == lookup.reference()).unwrap_or(0);
    Some((reference as u32, lookup))
}

/// Evaluates a lookup over its arguments' values. A `null` postcode or URN reads as one not listed.
pub(crate) fn look_up<'a>(
    lookup: Lookup,
    refs: &crate::reference::References,
    args: &[Value<'a>],
) -> Result<Value<'a>, EvalError> {
    let text = |i: usize| -> Result<Option<&str>, EvalError> {
        match args.get(i) {
            Some(Value::Null) | None => Ok(None),
            Some(v) => str_arg("a reference data lookup", v).map(Some),
        }
    };
    let directory = || {
        refs.postcodes
            .as_deref()
            .ok_or_else(|| EvalError::Invalid("this run was not given the postcode directory".into()))
    };
    let provider = || -> Result<Option<&crate::reference::ofsted::Provider>, EvalError> {
        let Some(list) = refs.ofsted_providers.as_deref() else {
            return Err(EvalError::Invalid("this run was not given Ofsted's provider lists".into()));
        };
        Ok(text(0)?.and_then(|urn| list.provider(urn)))
    };
    // A provider's codes or postcodes as a list; none at all reads as not known (`null`), not as an empty list
    // that no value is in.
    let list = |items: Option<&Vec<Box<str>>>| match items.filter(|c| !c.is_empty()) {
        Some(items) => Value::List(items.iter().map(|c| Value::Str(Cow::Owned(c.to_string()))).collect()),
        None => Value::Null,
    };
    Ok(match lookup {
        Lookup::Known => {
            let directory = directory()?;
            Value::Bool(text(0)?.and_then(|p| directory.place(p)).is_some())
        }
        Lookup::La => {
            let directory = directory()?;
            match text(0)?.and_then(|p| directory.place(p)).and_then(|place| place.authority) {
                Some(code) => Value::Str(Cow::Owned(code.to_string())),
                None => Value::Null,
            }
        }
        Lookup::Miles => {
            let directory = directory()?;
            match (text(0)?, text(1)?) {
                (Some(a), Some(b)) => directory.miles_between(a, b).map_or(Value::Null, Value::Double),
                _ => Value::Null,
            }
        }
        Lookup::OfstedKnown => Value::Bool(provider()?.is_some()),
        Lookup::OfstedPlaces => list(provider()?.map(|p| &p.places)),
        Lookup::OfstedProviderCodes => list(provider()?.map(|p| &p.provider_codes)),
        Lookup::OfstedPostcodes => list(provider()?.map(|p| &p.postcodes)),
        Lookup::OfstedAt => match (provider()?.filter(|p| !p.postcodes.is_empty()), text(1)?) {
            (Some(p), Some(postcode)) => {
                let postcode: String =
                    postcode.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
                Value::Bool(p.postcodes.iter().any(|at| **at == *postcode))
            }
            _ => Value::Null,
        },
        Lookup::OfstedClosed => match provider()?.and_then(|p| p.closed) {
            Some(day) => Value::Str(Cow::Owned(day.to_string())),
            None => Value::Null,
        },
    })
}
