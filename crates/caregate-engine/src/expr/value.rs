//! Values seen while evaluating a rule, borrowed from the JSON record wherever possible, and the
//! equality, ordering and arithmetic of CEL over them.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat};
use serde_json::Value as Json;

use super::EvalError;

/// A value during evaluation. Scalars read from JSON are copied (strings are borrowed); JSON arrays
/// and objects stay borrowed as [`Value::Json`], so reading a record never builds a second tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Double(f64),
    Str(Cow<'a, str>),
    Date(NaiveDate),
    Timestamp(DateTime<FixedOffset>),
    /// A list built by the rule itself (a list literal, `map`, `filter`).
    List(Vec<Value<'a>>),
    /// A JSON array or object of the record, borrowed.
    Json(&'a Json),
}

impl<'a> Value<'a> {
    /// The value a JSON node reads as: objects and arrays stay borrowed, numbers are ints when
    /// integral and doubles otherwise.
    #[inline]
    pub fn from_json(j: &'a Json) -> Value<'a> {
        match j {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::UInt(u)
                } else {
                    let f = n.as_f64().unwrap_or(f64::NAN);
                    if f.fract() == 0.0 && (-9.0e18..=9.0e18).contains(&f) {
                        Value::Int(f as i64)
                    } else {
                        Value::Double(f)
                    }
                }
            }
            Json::String(s) => Value::Str(Cow::Borrowed(s.as_str())),
            Json::Array(_) | Json::Object(_) => Value::Json(j),
        }
    }

    /// The CEL type name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Double(_) => "double",
            Value::Str(_) => "string",
            Value::Date(_) => "date",
            Value::Timestamp(_) => "timestamp",
            Value::List(_) => "list",
            Value::Json(Json::Array(_)) => "list",
            Value::Json(Json::Object(_)) => "map",
            Value::Json(j) => Value::from_json(j).type_name(),
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number of elements of a list or map, or characters of a string.
    pub fn size(&self) -> Option<usize> {
        match self {
            Value::Str(s) => Some(s.chars().count()),
            Value::List(l) => Some(l.len()),
            Value::Json(Json::Array(a)) => Some(a.len()),
            Value::Json(Json::Object(o)) => Some(o.len()),
            _ => None,
        }
    }

    /// Iterates a list's elements, or a map's keys (as CEL comprehensions do).
    pub(crate) fn items<'r>(&'r self) -> Option<Items<'a, 'r>> {
        match self {
            Value::List(l) => Some(Items::List(l.iter())),
            Value::Json(Json::Array(a)) => Some(Items::Array(a.iter())),
            Value::Json(Json::Object(o)) => Some(Items::Keys(o.keys())),
            _ => None,
        }
    }
}

pub(crate) enum Items<'a, 'r> {
    List(std::slice::Iter<'r, Value<'a>>),
    Array(std::slice::Iter<'a, Json>),
    Keys(serde_json::map::Keys<'a>),
}

impl<'a> Iterator for Items<'a, '_> {
    type Item = Value<'a>;
    #[inline]
    fn next(&mut self) -> Option<Value<'a>> {
        match self {
            Items::List(it) => it.next().cloned(),
            Items::Array(it) => it.next().map(Value::from_json),
            Items::Keys(it) => it.next().map(|k| Value::Str(Cow::Borrowed(k.as_str()))),
        }
    }
}

impl fmt::Display for Value<'_> {
    /// The text a practitioner's message shows: strings without quotes, dates as `YYYY-MM-DD`,
    /// lists and maps as JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Double(d) => write!(f, "{d}"),
            Value::Str(s) => f.write_str(s),
            Value::Date(d) => write!(f, "{d}"),
            Value::Timestamp(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    match v {
                        Value::Str(s) => write!(f, "{:?}", s.as_ref())?,
                        other => write!(f, "{other}")?,
                    }
                }
                f.write_str("]")
            }
            Value::Json(j) => write!(f, "{j}"),
        }
    }
}

pub(crate) fn type_error(what: &str, a: &Value<'_>) -> EvalError {
    EvalError::Type(format!("{what} does not apply to {}", a.type_name()))
}

pub(crate) fn type_error2(what: &str, a: &Value<'_>, b: &Value<'_>) -> EvalError {
    EvalError::Type(format!("{what} does not apply to {} and {}", a.type_name(), b.type_name()))
}

fn is_temporal_vs_string(a: &Value<'_>, b: &Value<'_>) -> bool {
    matches!(
        (a, b),
        (Value::Date(_) | Value::Timestamp(_), Value::Str(_)) | (Value::Str(_), Value::Date(_) | Value::Timestamp(_))
    )
}

fn temporal_string_error(a: &Value<'_>, b: &Value<'_>) -> EvalError {
    EvalError::Type(format!(
        "cannot compare {} with string: convert the text with date() or timestamp()",
        if matches!(a, Value::Str(_)) { b.type_name() } else { a.type_name() }
    ))
}

/// CEL equality. Values of different kinds are unequal (numbers compare across int, uint and
/// double), except that a date or timestamp compared with a string is an error: that is almost
/// always a rule missing `date()`.
pub(crate) fn equals(a: &Value<'_>, b: &Value<'_>) -> Result<bool, EvalError> {
    if is_temporal_vs_string(a, b) {
        return Err(temporal_string_error(a, b));
    }
    Ok(eq_loose(a, b))
}

fn eq_loose(a: &Value<'_>, b: &Value<'_>) -> bool {
    use Value::*;
    match (a, b) {
        (Null, Null) => true,
        (Bool(x), Bool(y)) => x == y,
        (Str(x), Str(y)) => x == y,
        (Date(x), Date(y)) => x == y,
        (Timestamp(x), Timestamp(y)) => x == y,
        (Int(_) | UInt(_) | Double(_), Int(_) | UInt(_) | Double(_)) => num_cmp(a, b) == Some(Ordering::Equal),
        (Json(serde_json::Value::Object(x)), Json(serde_json::Value::Object(y))) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| eq_loose(&Value::from_json(v), &Value::from_json(w))))
        }
        (List(_) | Json(serde_json::Value::Array(_)), List(_) | Json(serde_json::Value::Array(_))) => {
            match (a.items(), b.items(), a.size(), b.size()) {
                (Some(x), Some(y), Some(n), Some(m)) if n == m => x.zip(y).all(|(p, q)| eq_loose(&p, &q)),
                _ => false,
            }
        }
        (Json(j), other) | (other, Json(j)) if !j.is_array() && !j.is_object() => eq_loose(&Value::from_json(j), other),
        _ => false,
    }
}

fn num_cmp(a: &Value<'_>, b: &Value<'_>) -> Option<Ordering> {
    use Value::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (UInt(x), UInt(y)) => Some(x.cmp(y)),
        (Int(x), UInt(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (UInt(x), Int(y)) => Some(i128::from(*x).cmp(&i128::from(*y))),
        (Double(x), Double(y)) => x.partial_cmp(y),
        (Double(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Double(x), UInt(y)) => x.partial_cmp(&(*y as f64)),
        (Int(x), Double(y)) => (*x as f64).partial_cmp(y),
        (UInt(x), Double(y)) => (*x as f64).partial_cmp(y),
        _ => None,
    }
}

/// CEL ordering (`<`, `<=`, `>`, `>=`): numbers, strings, bools, dates, timestamps, each only with its
/// own kind (numbers across kinds).
pub(crate) fn compare(a: &Value<'_>, b: &Value<'_>) -> Result<Ordering, EvalError> {
    use Value::*;
    let ord = match (a, b) {
        (Int(_) | UInt(_) | Double(_), Int(_) | UInt(_) | Double(_)) => num_cmp(a, b),
        (Str(x), Str(y)) => Some(x.as_ref().cmp(y.as_ref())),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        (Date(x), Date(y)) => Some(x.cmp(y)),
        (Timestamp(x), Timestamp(y)) => Some(x.cmp(y)),
        _ if is_temporal_vs_string(a, b) => return Err(temporal_string_error(a, b)),
        _ => return Err(type_error2("ordering", a, b)),
    };
    ord.ok_or_else(|| EvalError::Type("cannot order NaN".into()))
}

/// `in` over the elements of a list, compared by reference.
pub(crate) fn contains_in(list: &[Value<'_>], needle: &Value<'_>) -> Result<bool, EvalError> {
    for item in list {
        if equals(item, needle)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `in`: membership of a list, or a key of a map.
pub(crate) fn contains(container: &Value<'_>, needle: &Value<'_>) -> Result<bool, EvalError> {
    match container {
        Value::Json(Json::Object(o)) => match needle {
            Value::Str(k) => Ok(o.contains_key(k.as_ref())),
            _ => Ok(false),
        },
        Value::List(list) => contains_in(list, needle),
        _ => match container.items() {
            Some(items) => {
                for item in items {
                    if equals(&item, needle)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            None => Err(type_error2("`in`", needle, container)),
        },
    }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Arith {
    fn symbol(self) -> &'static str {
        match self {
            Arith::Add => "+",
            Arith::Sub => "-",
            Arith::Mul => "*",
            Arith::Div => "/",
            Arith::Rem => "%",
        }
    }
}

/// Arithmetic. Unlike strict CEL, an int mixed with a double is promoted to double: whether a JSON
/// number reads as int or double depends on how the sender wrote it.
pub(crate) fn arith<'a>(op: Arith, a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    use Value::*;
    let overflow = || EvalError::Overflow(op.symbol());
    match (a, b) {
        (Int(x), Int(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div | Arith::Rem if *y == 0 => return Err(EvalError::DivisionByZero),
                Arith::Div => x.checked_div(*y),
                Arith::Rem => x.checked_rem(*y),
            };
            r.map(Int).ok_or_else(overflow)
        }
        (UInt(x), UInt(y)) => {
            let r = match op {
                Arith::Add => x.checked_add(*y),
                Arith::Sub => x.checked_sub(*y),
                Arith::Mul => x.checked_mul(*y),
                Arith::Div | Arith::Rem if *y == 0 => return Err(EvalError::DivisionByZero),
                Arith::Div => x.checked_div(*y),
                Arith::Rem => x.checked_rem(*y),
            };
            r.map(UInt).ok_or_else(overflow)
        }
        (Int(_) | UInt(_) | Double(_), Int(_) | UInt(_) | Double(_)) => {
            let (x, y) = (to_f64(a), to_f64(b));
            Ok(Double(match op {
                Arith::Add => x + y,
                Arith::Sub => x - y,
                Arith::Mul => x * y,
                Arith::Div => x / y,
                Arith::Rem => x % y,
            }))
        }
        (Str(x), Str(y)) if matches!(op, Arith::Add) => {
            let mut s = String::with_capacity(x.len() + y.len());
            s.push_str(x);
            s.push_str(y);
            Ok(Str(Cow::Owned(s)))
        }
        (List(_) | Json(serde_json::Value::Array(_)), List(_) | Json(serde_json::Value::Array(_)))
            if matches!(op, Arith::Add) =>
        {
            let mut out = Vec::new();
            if let Some(it) = a.items() {
                out.extend(it);
            }
            if let Some(it) = b.items() {
                out.extend(it);
            }
            Ok(List(out))
        }
        _ => Err(type_error2(op.symbol(), a, b)),
    }
}

fn to_f64(v: &Value<'_>) -> f64 {
    match v {
        Value::Int(i) => *i as f64,
        Value::UInt(u) => *u as f64,
        Value::Double(d) => *d,
        _ => f64::NAN,
    }
}

/// Detaches a value from the data it borrows (used for constants folded at compile time).
pub(crate) fn to_static(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Null => Value::Null,
        Value::Bool(b) => Value::Bool(b),
        Value::Int(i) => Value::Int(i),
        Value::UInt(u) => Value::UInt(u),
        Value::Double(d) => Value::Double(d),
        Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
        Value::Date(d) => Value::Date(d),
        Value::Timestamp(t) => Value::Timestamp(t),
        Value::List(l) => Value::List(l.into_iter().map(to_static).collect()),
        // Constants never hold record data.
        Value::Json(j) => Value::Str(Cow::Owned(j.to_string())),
    }
}
