//! Documents made from a pack's schema alone, for a pack with no examples to vary (one just imported or
//! scaffolded): each valid by structure, its values drawn from what the schema allows — an `enum` (a code
//! list), a `pattern`, lengths, ranges and formats.
//!
//! For: trying a new standard's tools before anyone has written an example. The values satisfy the structure,
//! not the business rules, which the schema does not state.
//!
//! Hand-written, on purpose: the values of a `pattern` are drawn by walking the pattern's syntax tree as the
//! `regex-syntax` crate parses it (literals, classes, repetitions bounded to a few more than their minimum,
//! alternation), then checked with the `regex` crate; no crate draws strings from a pattern and keeps to this
//! workspace's `rand`.

use rand::{Rng, RngExt};
use serde_json::{Map, Value};

use regex_syntax::hir::{Class, Hir, HirKind};

/// How deep a schema is followed (a recursive schema stops here, with no optional member and no item).
const MAX_DEPTH: usize = 24;
/// How many tries a value of a pattern and lengths gets before the plainest that fits is taken.
const TRIES: usize = 20;

/// Documents of `schema`, the same ones for the same seed.
pub fn documents(schema: &Value, seed: u64) -> impl Iterator<Item = Value> + '_ {
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(seed);
    std::iter::repeat_with(move || value(schema, schema, &mut rng))
}

/// A value of `node` (a schema inside `schema`, whose `$ref`s it resolves).
pub fn value(schema: &Value, node: &Value, rng: &mut impl Rng) -> Value {
    draw(schema, node, rng, 0)
}

fn draw(schema: &Value, node: &Value, rng: &mut impl Rng, depth: usize) -> Value {
    let node = resolve(schema, node);
    if let Some(constant) = node.get("const") {
        return constant.clone();
    }
    if let Some(choices) = node.get("enum").and_then(Value::as_array).filter(|c| !c.is_empty()) {
        return choices[rng.random_range(0..choices.len())].clone();
    }
    // An object whose `allOf` holds only choices among its members (as an imported `xs:choice` has it), or a
    // string whose `allOf` holds only further patterns: drawn as itself, keeping to them.
    if let Some(parts) = node.get("allOf").and_then(Value::as_array) {
        let only = |keys: &[&str]| {
            parts
                .iter()
                .all(|p| p.as_object().is_some_and(|m| !m.is_empty() && m.keys().all(|k| keys.contains(&k.as_str()))))
        };
        match type_of(node) {
            "object" if only(&["anyOf"]) => return object(schema, node, rng, depth),
            "string" if only(&["pattern"]) => return Value::String(string(node, rng)),
            _ => {}
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = node.get(key).and_then(Value::as_array).filter(|b| !b.is_empty()) {
            return draw(schema, &branches[rng.random_range(0..branches.len())], rng, depth + 1);
        }
    }
    if let Some(branches) = node.get("allOf").and_then(Value::as_array) {
        // The branches' members, and the node's own, as one object schema.
        let mut merged = node.clone();
        if let Some(map) = merged.as_object_mut() {
            map.remove("allOf");
            for branch in branches {
                merge(map, resolve(schema, branch));
            }
        }
        return draw(schema, &merged, rng, depth + 1);
    }
    match type_of(node) {
        "object" => object(schema, node, rng, depth),
        "array" => array(schema, node, rng, depth),
        "string" => Value::String(string(node, rng)),
        "integer" => {
            let (low, high) = range(node, true);
            Value::from(rng.random_range(low as i64..=high as i64))
        }
        "number" => {
            let (low, high) = range(node, false);
            let n = low + (high - low) * rng.random::<f64>();
            serde_json::Number::from_f64((n * 100.0).round() / 100.0).map_or(Value::Null, Value::Number)
        }
        "boolean" => Value::Bool(rng.random_bool(0.5)),
        "null" => Value::Null,
        _ => Value::String(letters(rng, 8)),
    }
}

fn resolve<'s>(schema: &'s Value, node: &'s Value) -> &'s Value {
    caregate_engine::standard::resolve_local(schema, node).unwrap_or(node)
}

/// Adds `branch`'s members, required list and type to `into`.
fn merge(into: &mut Map<String, Value>, branch: &Value) {
    if let Some(props) = branch.get("properties").and_then(Value::as_object) {
        let target = into.entry("properties").or_insert_with(|| Value::Object(Map::new()));
        if let Some(target) = target.as_object_mut() {
            for (k, v) in props {
                target.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if let Some(required) = branch.get("required").and_then(Value::as_array) {
        let target = into.entry("required").or_insert_with(|| Value::Array(Vec::new()));
        if let Some(target) = target.as_array_mut() {
            target.extend(required.iter().cloned());
        }
    }
    if let Some(kind) = branch.get("type") {
        into.entry("type").or_insert_with(|| kind.clone());
    }
}

/// The node's type: the first of a list that is not `null`, else what its keywords imply.
fn type_of(node: &Value) -> &str {
    match node.get("type") {
        Some(Value::String(t)) => t,
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("null"),
        _ if node.get("properties").is_some() => "object",
        _ if node.get("items").is_some() => "array",
        _ => "string",
    }
}

fn object(schema: &Value, node: &Value, rng: &mut impl Rng, depth: usize) -> Value {
    let mut required: Vec<&str> =
        node.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    // Each choice (`allOf: [{anyOf: [branch, …]}]`): one branch drawn, whose required members are required and
    // whose forbidden ones (`false`) are left out.
    let mut forbidden: Vec<&str> = Vec::new();
    for choice in node.get("allOf").and_then(Value::as_array).into_iter().flatten() {
        let Some(branches) = choice.get("anyOf").and_then(Value::as_array).filter(|b| !b.is_empty()) else { continue };
        let branch = &branches[rng.random_range(0..branches.len())];
        required
            .extend(branch.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str));
        for (name, member) in branch.get("properties").and_then(Value::as_object).into_iter().flatten() {
            if member == &Value::Bool(false) {
                forbidden.push(name);
            }
        }
    }
    let mut out = Map::new();
    for (name, member) in node.get("properties").and_then(Value::as_object).into_iter().flatten() {
        if forbidden.contains(&name.as_str()) {
            continue;
        }
        // Every required member; each optional one half the time, none past the depth limit.
        let wanted = required.contains(&name.as_str()) || (depth < MAX_DEPTH && rng.random_bool(0.5));
        if wanted {
            out.insert(name.clone(), draw(schema, member, rng, depth + 1));
        }
    }
    Value::Object(out)
}

fn array(schema: &Value, node: &Value, rng: &mut impl Rng, depth: usize) -> Value {
    let least = node.get("minItems").and_then(Value::as_u64).unwrap_or(0);
    let most = node.get("maxItems").and_then(Value::as_u64).unwrap_or(u64::MAX);
    let upto = if depth >= MAX_DEPTH { least } else { most.min(least.max(1) + 2) };
    let count = rng.random_range(least..=upto.max(least));
    let items = node.get("items").cloned().unwrap_or(Value::Bool(true));
    let mut out: Vec<Value> = Vec::new();
    for _ in 0..count {
        let item = draw(schema, &items, rng, depth + 1);
        // Items kept distinct where the schema asks (drawn again a few times, else left out).
        if node.get("uniqueItems") == Some(&Value::Bool(true)) && out.contains(&item) {
            continue;
        }
        out.push(item);
    }
    Value::Array(out)
}

/// The bounds of a number: `minimum`/`maximum` (or the exclusive ones), else 0 to 100.
fn range(node: &Value, integer: bool) -> (f64, f64) {
    let step = if integer { 1.0 } else { 0.01 };
    let most = node
        .get("maximum")
        .and_then(Value::as_f64)
        .or_else(|| node.get("exclusiveMaximum").and_then(Value::as_f64).map(|m| m - step));
    // Without a lower bound, from 0 (or 100 below an upper bound under 0, as `xs:negativeInteger` has it).
    let low = node
        .get("minimum")
        .and_then(Value::as_f64)
        .or_else(|| node.get("exclusiveMinimum").and_then(Value::as_f64).map(|m| m + step))
        .unwrap_or_else(|| most.filter(|m| *m < 0.0).map_or(0.0, |m| m - 100.0));
    let high = most.unwrap_or(low.max(0.0) + 100.0);
    if integer {
        (low.ceil(), high.floor().max(low.ceil()))
    } else {
        (low, high.max(low))
    }
}

fn string(node: &Value, rng: &mut impl Rng) -> String {
    let least = node.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let most = node.get("maxLength").and_then(Value::as_u64).map_or(usize::MAX, |m| m as usize);
    let fits = |s: &str| (least..=most).contains(&s.chars().count());
    match node.get("format").and_then(Value::as_str) {
        Some("date") => return date(rng),
        // An imported XSD's dates: now and then with a time zone, which XSD allows.
        Some("xsd:date") => {
            let zone = ["", "", "", "", "", "", "Z", "+01:00"][rng.random_range(0..8)];
            return format!("{}{zone}", date(rng));
        }
        Some("xsd:dateTime") => {
            return format!(
                "{}T{:02}:{:02}:{:02}",
                date(rng),
                rng.random_range(0..24),
                rng.random_range(0..60),
                rng.random_range(0..60)
            )
        }
        Some("xsd:gYear") => return rng.random_range(1990..=2030).to_string(),
        Some("date-time") => {
            return format!("{}T{:02}:{:02}:00Z", date(rng), rng.random_range(0..24), rng.random_range(0..60))
        }
        Some("time") => return format!("{:02}:{:02}:00", rng.random_range(0..24), rng.random_range(0..60)),
        Some("email") => return format!("{}@example.org", letters(rng, 6).to_lowercase()),
        Some("uri") => return format!("https://example.org/{}", letters(rng, 6).to_lowercase()),
        Some("uuid") => {
            let mut bytes = [0u8; 16];
            rng.fill_bytes(&mut bytes);
            return uuid::Builder::from_random_bytes(bytes).into_uuid().to_string();
        }
        _ => {}
    }
    // Further patterns (`allOf`), which a value drawn from the first must match as well.
    let further: Vec<regex::Regex> = node
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("pattern").and_then(Value::as_str))
        .filter_map(|p| regex::Regex::new(p).ok())
        .collect();
    if let Some(pattern) = node.get("pattern").and_then(Value::as_str) {
        if let (Ok(hir), Ok(check)) = (regex_syntax::Parser::new().parse(pattern), regex::Regex::new(pattern)) {
            for _ in 0..TRIES {
                let mut text = String::new();
                from_pattern(&hir, rng, &mut text);
                if check.is_match(&text) && fits(&text) && further.iter().all(|r| r.is_match(&text)) {
                    return text;
                }
            }
        }
    }
    let length = rng.random_range(least.max(1)..=most.min(least.max(1) + 11));
    letters(rng, length)
}

/// A day from 2000 to 2026 (every month has a 28th).
fn date(rng: &mut impl Rng) -> String {
    format!("{}-{:02}-{:02}", rng.random_range(2000..=2026), rng.random_range(1..=12), rng.random_range(1..=28))
}

fn letters(rng: &mut impl Rng, length: usize) -> String {
    (0..length).map(|_| char::from(b'A' + rng.random_range(0..26u8))).collect()
}

/// Appends to `out` a text that `hir` matches.
fn from_pattern(hir: &Hir, rng: &mut impl Rng, out: &mut String) {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(literal) => out.push_str(&String::from_utf8_lossy(&literal.0)),
        HirKind::Class(Class::Unicode(class)) => {
            // Printable ASCII where the class has it, so that a `\w` or `.` gives a plain character.
            let ranges: Vec<(char, char)> = class
                .ranges()
                .iter()
                .filter_map(|r| {
                    let (start, end) = (r.start().max(' '), r.end().min('~'));
                    (start <= end).then_some((start, end))
                })
                .collect();
            let ranges: Vec<(char, char)> =
                if ranges.is_empty() { class.ranges().iter().map(|r| (r.start(), r.end())).collect() } else { ranges };
            if let Some(&(start, end)) = ranges.get(rng.random_range(0..ranges.len().max(1))) {
                let c = char::from_u32(rng.random_range(u32::from(start)..=u32::from(end))).unwrap_or(start);
                out.push(c);
            }
        }
        HirKind::Class(Class::Bytes(class)) => {
            if let Some(r) = class.ranges().first() {
                out.push(char::from(r.start().max(b' ').min(r.end())));
            }
        }
        HirKind::Repetition(repetition) => {
            let most = repetition.max.unwrap_or(repetition.min.saturating_add(3)).min(repetition.min.saturating_add(3));
            for _ in 0..rng.random_range(repetition.min..=most.max(repetition.min)) {
                from_pattern(&repetition.sub, rng, out);
            }
        }
        HirKind::Capture(capture) => from_pattern(&capture.sub, rng, out),
        HirKind::Concat(parts) => parts.iter().for_each(|p| from_pattern(p, rng, out)),
        HirKind::Alternation(choices) => {
            if let Some(choice) = choices.get(rng.random_range(0..choices.len().max(1))) {
                from_pattern(choice, rng, out);
            }
        }
    }
}
