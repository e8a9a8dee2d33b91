//! From the `cel` crate's parsed expression to a tree of closures.
//!
//! Names are resolved here, once: a variable becomes an index into the variables given to
//! `eval`, a comprehension variable a slot in [`EvalEnv::locals`], a function a function pointer.
//! Sub-expressions whose operands are all constants are folded; comparisons against a constant
//! borrow it rather than cloning it per evaluation; a literal regular expression is compiled here.

use std::borrow::Cow;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::Arc;

use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue, SourceInfo};
use chrono::NaiveDate;
use serde_json::Value as Json;

use super::functions::{self, F1, F2};
use super::value::{self, to_static, type_error, Arith, Value};
use super::{EvalError, RuleError};
use crate::reference::References;

/// How deep comprehensions may nest.
pub(crate) const MAX_NESTING: usize = 6;

/// What a closure sees while evaluating.
pub(crate) struct EvalEnv<'a, 's> {
    pub vars: &'s [&'a Json],
    /// Comprehension variables; the one at slot `i` is bound by a comprehension nested `i` deep.
    pub locals: &'s mut [Value<'a>],
    /// Values of sub-expressions hoisted out of comprehension bodies, computed on first use in each
    /// run of the comprehension.
    pub cache: &'s mut [Option<Result<Value<'a>, EvalError>>],
    /// Values of stable sub-expressions (see [`Needs::memo`]), kept by the caller from one evaluation to
    /// the next while the stable data stays the same; empty when the caller keeps none.
    pub memo: &'s mut [Option<Value<'static>>],
    /// The run's reference data, read by the lookup functions (`postcode_la`, …).
    pub refs: &'s References,
}

/// How many sub-expressions one rule may hoist out of comprehension bodies.
pub(crate) const MAX_CACHED: usize = 8;

/// Sizes the evaluation needs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    /// How deep comprehensions nest.
    pub depth: usize,
    /// How many hoisted sub-expressions there are.
    pub cached: usize,
    /// How many stable sub-expressions there are: calls that read only stable data (`asOf`, `now`,
    /// `params` and the stable parts of `root`, such as a return's header), such as
    /// `date(root.Header.CollectionDetails.ReferenceDate)`, worth computing once per return.
    pub memo: usize,
    /// The kinds of reference data the lookup functions read, one bit each, by their index in
    /// [`crate::reference::NAMES`].
    pub references: u32,
}

/// How many stable sub-expressions one rule may keep.
pub(crate) const MAX_MEMO: usize = 16;

type Fun = dyn for<'a, 's> Fn(&mut EvalEnv<'a, 's>) -> Result<Value<'a>, EvalError> + Send + Sync;

pub(crate) enum Node {
    Const(Value<'static>),
    Dyn(Box<Fun>),
}

impl Node {
    fn dynamic<F>(f: F) -> Node
    where
        F: for<'a, 's> Fn(&mut EvalEnv<'a, 's>) -> Result<Value<'a>, EvalError> + Send + Sync + 'static,
    {
        Node::Dyn(Box::new(f))
    }

    #[inline]
    pub fn eval<'a>(&self, ctx: &mut EvalEnv<'a, '_>) -> Result<Value<'a>, EvalError> {
        match self {
            Node::Const(v) => Ok(v.clone()),
            Node::Dyn(f) => f(ctx),
        }
    }
}

/// Parses and compiles `source`; returns the root node and the space its evaluation needs.
pub(crate) fn compile(
    source: &str,
    vars: &[String],
    stable: &[String],
    holidays: &Arc<[NaiveDate]>,
) -> Result<(Node, Needs, IdedExpr), RuleError> {
    guard_size(source)?;
    // The crate's hand-written parser first: its ANTLR parser costs about a hundred times as much a rule, which
    // for a pack of three hundred rules was more than checking a council's return. It gives no source positions,
    // so a rule it cannot parse, or whose compiling fails, is read again by the ANTLR parser, whose positions
    // the error then points at; the two give the same tree (see the test `parsers_agree_on_every_embedded_rule`).
    let fast = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cel::parser::PrattParser::new().parse(source)));
    if let Ok(Ok(expr)) = fast {
        let info = SourceInfo::default();
        if let Ok((node, needs)) = compile_parsed(source, &expr, &info, vars, stable, holidays) {
            return Ok((node, needs, expr));
        }
    }
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        cel::parser::Parser::new().parse_with_source_info(source)
    }));
    let (expr, info) = match parsed {
        Ok(Ok(parsed)) => parsed,
        Ok(Err(errors)) => {
            let (message, line, column) = match errors.errors.first() {
                Some(e) => (
                    e.msg.strip_prefix("Syntax error: ").unwrap_or(&e.msg).to_string(),
                    u32::try_from(e.pos.0.max(1)).unwrap_or(1),
                    u32::try_from(e.pos.1.max(1)).unwrap_or(1),
                ),
                None => ("the expression could not be parsed".to_string(), 1, 1),
            };
            return Err(RuleError::Syntax { message, line, column });
        }
        Err(_) => {
            return Err(RuleError::Syntax { message: "the expression could not be parsed".into(), line: 1, column: 1 })
        }
    };
    let (node, needs) = compile_parsed(source, &expr, &info, vars, stable, holidays)?;
    Ok((node, needs, expr))
}

/// Compiles a parsed expression; `info` gives the positions errors point at (none: line 1, column 1).
fn compile_parsed(
    source: &str,
    expr: &IdedExpr,
    info: &SourceInfo,
    vars: &[String],
    stable: &[String],
    holidays: &Arc<[NaiveDate]>,
) -> Result<(Node, Needs), RuleError> {
    let mut cx = CompileEnv {
        source,
        info,
        vars,
        holidays: holidays.clone(),
        scopes: Vec::new(),
        depth: 0,
        hoist_from: None,
        cached: 0,
        stable,
        memo: 0,
        references: 0,
    };
    let node = cx.expr(expr)?;
    Ok((node, Needs { depth: cx.depth, cached: cx.cached, memo: cx.memo, references: cx.references }))
}

/// The longest rule text accepted, in bytes.
const MAX_SOURCE: usize = 8 * 1024;
/// The deepest bracket nesting accepted (the parser recurses on it).
const MAX_BRACKETS: usize = 32;
/// The most binary operators accepted in one rule (each is a level of the parsed tree).
const MAX_OPERATORS: usize = 256;

/// Rejects rule text big or deep enough to exhaust the stack of the recursive parser.
fn guard_size(source: &str) -> Result<(), RuleError> {
    let too = |message: String| Err(RuleError::Syntax { message, line: 1, column: 1 });
    if source.len() > MAX_SOURCE {
        return too(format!("the rule is longer than {MAX_SOURCE} bytes"));
    }
    let (mut depth, mut operators, mut quote, mut escaped) = (0usize, 0usize, None, false);
    for c in source.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_BRACKETS {
                    return too(format!("brackets nest more than {MAX_BRACKETS} deep"));
                }
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '<' | '>' | '=' | '&' | '|' | '?' | '!' => {
                operators += 1;
                if operators > 2 * MAX_OPERATORS {
                    return too(format!("the rule has more than {MAX_OPERATORS} operators"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

struct CompileEnv<'c> {
    source: &'c str,
    info: &'c SourceInfo,
    vars: &'c [String],
    holidays: Arc<[NaiveDate]>,
    /// Comprehension variables in scope, outermost first: the index is the slot.
    scopes: Vec<String>,
    /// The deepest nesting of comprehensions seen.
    depth: usize,
    /// While compiling a comprehension's body: its variable. Sub-expressions that do not mention it
    /// are hoisted: computed once per run of the comprehension, when first needed.
    hoist_from: Option<String>,
    /// Hoisted sub-expressions so far (each has a slot in [`EvalEnv::cache`]).
    cached: usize,
    /// Variables and dotted paths (`asOf`, `root.Header`) whose values stay the same across the evaluations a
    /// caller keeps a memo for.
    stable: &'c [String],
    /// Stable sub-expressions so far (each has a slot in [`EvalEnv::memo`]).
    memo: usize,
    /// The reference data read so far (see [`Needs::references`]).
    references: u32,
}

/// Whether `e` mentions the identifier `name` anywhere (conservatively, shadowing included).
fn mentions(e: &IdedExpr, name: &str) -> bool {
    match &e.expr {
        Expr::Ident(n) => n == name,
        Expr::Literal(_) | Expr::Unspecified => false,
        Expr::Select(s) => mentions(&s.operand, name),
        Expr::Call(c) => {
            c.target.as_deref().is_some_and(|t| mentions(t, name)) || c.args.iter().any(|a| mentions(a, name))
        }
        Expr::List(l) => l.elements.iter().any(|x| mentions(x, name)),
        Expr::Comprehension(c) => {
            c.iter_var == name
                || [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]
                    .iter()
                    .any(|x| mentions(x, name))
        }
        // Map and message literals are not compiled: they never get this far.
        Expr::Map(_) | Expr::Struct(_) => true,
    }
}

/// Where a field path starts.
#[derive(Clone, Copy)]
enum Root {
    Var(usize),
    Local(usize),
}

/// A chain of field selections on a variable (`self.child.postcode`), walked over the JSON directly.
struct Path {
    root: Root,
    root_name: Arc<str>,
    fields: Vec<(Arc<str>, AtomicUsize)>,
}

impl Path {
    /// The JSON node at the end of the path.
    #[inline]
    fn walk<'a>(&self, ctx: &EvalEnv<'a, '_>, fields: &[(Arc<str>, AtomicUsize)]) -> Result<&'a Json, EvalError> {
        let mut cur: &'a Json = match self.root {
            Root::Var(i) => match ctx.vars.get(i) {
                Some(j) => j,
                None => return Err(EvalError::NoSuchField(self.root_name.to_string())),
            },
            Root::Local(slot) => match ctx.locals.get(slot) {
                Some(Value::Json(j)) => j,
                Some(Value::Null) => &Json::Null,
                Some(other) => match fields.first() {
                    Some((f, _)) => {
                        return Err(EvalError::Type(format!("cannot read field `{f}` of {}", other.type_name())))
                    }
                    None => return Err(EvalError::Invalid("internal error: empty path".into())),
                },
                None => return Err(EvalError::Invalid("internal error: comprehension variable not bound".into())),
            },
        };
        for (f, hint) in fields {
            cur = match cur {
                Json::Object(m) => match lookup(m, f, hint) {
                    Some(j) => j,
                    None => return Err(EvalError::NoSuchField(f.to_string())),
                },
                Json::Null => return Err(EvalError::NoSuchField(f.to_string())),
                other => {
                    return Err(EvalError::Type(format!(
                        "cannot read field `{f}` of {}",
                        Value::from_json(other).type_name()
                    )))
                }
            };
        }
        Ok(cur)
    }
}

enum Macro<'e> {
    All(&'e IdedExpr),
    Exists(&'e IdedExpr),
    ExistsOne(&'e IdedExpr),
    Map { filter: Option<&'e IdedExpr>, f: &'e IdedExpr },
}

impl CompileEnv<'_> {
    fn pos(&self, id: u64) -> (u32, u32) {
        let Some((start, _)) = self.info.offset_for(id) else { return (1, 1) };
        let start = (start as usize).min(self.source.len());
        let before = self.source.get(..start).unwrap_or(self.source);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
    }

    fn invalid(&self, id: u64, message: impl Into<String>) -> RuleError {
        let (line, column) = self.pos(id);
        RuleError::Invalid { message: message.into(), line, column }
    }

    fn fold(&self, id: u64, r: Result<Value<'_>, EvalError>) -> Result<Node, RuleError> {
        match r {
            Ok(v) => Ok(Node::Const(to_static(v))),
            Err(e) => Err(self.invalid(id, format!("this expression always fails: {e}"))),
        }
    }

    fn expr(&mut self, e: &IdedExpr) -> Result<Node, RuleError> {
        if matches!(&e.expr, Expr::Call(_)) && self.memo < MAX_MEMO && !self.stable.is_empty() && stable(e, self.stable)
        {
            let slot = self.memo;
            self.memo += 1;
            let saved = std::mem::take(&mut self.stable);
            let node = self.expr_here(e);
            self.stable = saved;
            return Ok(match node? {
                Node::Const(v) => {
                    self.memo -= 1;
                    Node::Const(v)
                }
                node => memoized(node, slot),
            });
        }
        let worth_hoisting = matches!(&e.expr, Expr::Call(_) | Expr::Select(_) | Expr::Comprehension(_));
        if worth_hoisting && self.cached < MAX_CACHED {
            if let Some(var) = &self.hoist_from {
                if !mentions(e, var) {
                    let saved = self.hoist_from.take();
                    let node = self.expr_here(e);
                    self.hoist_from = saved;
                    return Ok(match node? {
                        Node::Const(v) => Node::Const(v),
                        node => {
                            let slot = self.cached;
                            self.cached += 1;
                            cached(node, slot)
                        }
                    });
                }
            }
        }
        self.expr_here(e)
    }

    fn expr_here(&mut self, e: &IdedExpr) -> Result<Node, RuleError> {
        match &e.expr {
            Expr::Literal(lit) => self.literal(e.id, lit),
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(sel) => {
                if let Some(path) = self.path(e) {
                    return Ok(path_node(path, sel.test));
                }
                let operand = self.expr(&sel.operand)?;
                let field: Arc<str> = Arc::from(sel.field.as_str());
                if sel.test {
                    Ok(presence(operand, field))
                } else {
                    Ok(select(operand, field))
                }
            }
            Expr::List(list) => {
                if !list.optional_indices.is_empty() {
                    return Err(self.invalid(e.id, "optional list elements are not supported"));
                }
                let items = list.elements.iter().map(|x| self.expr(x)).collect::<Result<Vec<_>, _>>()?;
                if items.iter().all(|n| matches!(n, Node::Const(_))) {
                    let values = items
                        .into_iter()
                        .filter_map(|n| match n {
                            Node::Const(v) => Some(v),
                            Node::Dyn(_) => None,
                        })
                        .collect();
                    return Ok(Node::Const(Value::List(values)));
                }
                Ok(Node::dynamic(move |ctx| {
                    let mut out = Vec::with_capacity(items.len());
                    for n in &items {
                        out.push(n.eval(ctx)?);
                    }
                    Ok(Value::List(out))
                }))
            }
            Expr::Call(call) => self.call(e.id, call),
            Expr::Comprehension(c) => self.comprehension(e.id, c),
            Expr::Map(_) => Err(self.invalid(e.id, "map literals are not supported")),
            Expr::Struct(_) => Err(self.invalid(e.id, "message literals are not supported")),
            Expr::Unspecified => Err(self.invalid(e.id, "incomplete expression")),
        }
    }

    /// A chain of selections on a variable or comprehension variable, if `e` is one.
    fn path(&self, e: &IdedExpr) -> Option<Path> {
        let mut fields = Vec::new();
        let mut cur = e;
        loop {
            match &cur.expr {
                Expr::Select(sel) if fields.is_empty() || !sel.test => {
                    fields.push((Arc::from(sel.field.as_str()), AtomicUsize::new(0)));
                    cur = &sel.operand;
                }
                Expr::Ident(name) => {
                    let root = if let Some(slot) = self.scopes.iter().rposition(|s| s == name) {
                        Root::Local(slot)
                    } else {
                        Root::Var(self.vars.iter().position(|v| v == name)?)
                    };
                    fields.reverse();
                    return Some(Path { root, root_name: Arc::from(name.as_str()), fields });
                }
                _ => return None,
            }
        }
    }

    fn literal(&self, id: u64, lit: &LiteralValue) -> Result<Node, RuleError> {
        Ok(Node::Const(match lit {
            LiteralValue::Boolean(b) => Value::Bool(*b.inner()),
            LiteralValue::Int(i) => Value::Int(*i.inner()),
            LiteralValue::UInt(u) => Value::UInt(*u.inner()),
            LiteralValue::Double(d) => Value::Double(*d.inner()),
            LiteralValue::String(s) => Value::Str(Cow::Owned(s.inner().to_string())),
            LiteralValue::Null => Value::Null,
            LiteralValue::Bytes(_) => return Err(self.invalid(id, "bytes literals are not supported")),
        }))
    }

    fn ident(&self, id: u64, name: &str) -> Result<Node, RuleError> {
        if let Some(slot) = self.scopes.iter().rposition(|s| s == name) {
            return Ok(Node::dynamic(move |ctx| {
                ctx.locals
                    .get(slot)
                    .cloned()
                    .ok_or_else(|| EvalError::Invalid("internal error: comprehension variable not bound".into()))
            }));
        }
        if let Some(index) = self.vars.iter().position(|v| v == name) {
            let name: Arc<str> = Arc::from(name);
            return Ok(Node::dynamic(move |ctx| match ctx.vars.get(index) {
                Some(j) => Ok(Value::from_json(j)),
                None => Err(EvalError::NoSuchField(name.to_string())),
            }));
        }
        let (line, column) = self.pos(id);
        Err(RuleError::UnknownVariable {
            name: name.to_string(),
            line,
            column,
            declared: if self.vars.is_empty() { "none".into() } else { self.vars.join(", ") },
        })
    }

    fn args(&mut self, call: &CallExpr) -> Result<Vec<Node>, RuleError> {
        let mut out = Vec::with_capacity(call.args.len() + 1);
        if let Some(t) = &call.target {
            out.push(self.expr(t)?);
        }
        for a in &call.args {
            out.push(self.expr(a)?);
        }
        Ok(out)
    }

    fn call(&mut self, id: u64, call: &CallExpr) -> Result<Node, RuleError> {
        let name = call.func_name.as_str();
        match name {
            "_&&_" | "_||_" => {
                let args = self.args(call)?;
                return Ok(logic(args, name == "_&&_"));
            }
            "_?_:_" => {
                let mut args = self.args(call)?.into_iter();
                let (Some(c), Some(t), Some(f)) = (args.next(), args.next(), args.next()) else {
                    return Err(self.invalid(id, "`?:` needs three operands"));
                };
                if let Node::Const(cv) = &c {
                    return match cv {
                        Value::Bool(true) => Ok(t),
                        Value::Bool(false) => Ok(f),
                        other => {
                            Err(self.invalid(id, format!("the condition of `?:` is {}, not bool", other.type_name())))
                        }
                    };
                }
                return Ok(Node::dynamic(move |ctx| match c.eval(ctx)? {
                    Value::Bool(true) => t.eval(ctx),
                    Value::Bool(false) => f.eval(ctx),
                    other => Err(type_error("the condition of `?:`", &other)),
                }));
            }
            _ => {}
        }
        let mut args = self.args(call)?;
        let op2: Option<F2> = match name {
            "_==_" => Some(op_eq),
            "_!=_" => Some(op_ne),
            "_<_" => Some(op_lt),
            "_<=_" => Some(op_le),
            "_>_" => Some(op_gt),
            "_>=_" => Some(op_ge),
            "_+_" => Some(op_add),
            "_-_" => Some(op_sub),
            "_*_" => Some(op_mul),
            "_/_" => Some(op_div),
            "_%_" => Some(op_rem),
            "_[_]" => Some(op_index),
            "@in" => Some(op_in),
            _ => None,
        };
        if let ("@in", [Node::Dyn(_), Node::Const(Value::List(_))]) = (name, args.as_slice()) {
            if let (Some(Node::Const(Value::List(list))), Some(Node::Dyn(needle))) = (args.pop(), args.pop()) {
                return Ok(membership(needle, list));
            }
        }
        if let Some(op) = op2 {
            return self.binary(id, args, op);
        }
        let op1: Option<F1> = match name {
            "!_" => Some(op_not),
            "-_" => Some(op_neg),
            _ => None,
        };
        if let Some(op) = op1 {
            return self.unary(id, args, op);
        }
        if name.starts_with('_') || name.starts_with('@') || name.starts_with('!') || name.starts_with('-') {
            return Err(self.invalid(id, format!("operator `{name}` is not supported")));
        }
        let Some(expected) = functions::arity_of(name) else {
            let (line, column) = self.pos(id);
            return Err(RuleError::UnknownFunction { name: name.to_string(), line, column });
        };
        let arity_error = |cx: &Self| {
            let (line, column) = cx.pos(id);
            let style = if call.target.is_some() { " (counting the value it is called on)" } else { "" };
            RuleError::Arity { name: name.to_string(), expected: format!("{expected}{style}"), line, column }
        };
        if let Some((reference, lookup)) = functions::lookup_ref(name) {
            if args.len() != lookup.arity() {
                return Err(arity_error(self));
            }
            self.references |= 1 << reference;
            return Ok(lookup_node(lookup, args));
        }
        if let Some(f) = functions::lookup1(name) {
            if args.len() != 1 {
                return Err(arity_error(self));
            }
            return self.unary(id, args, f);
        }
        if args.len() != 2 {
            return Err(arity_error(self));
        }
        if let Some(f) = functions::lookup2(name) {
            return self.binary(id, args, f);
        }
        let (Some(b), Some(a)) = (args.pop(), args.pop()) else { return Err(arity_error(self)) };
        match name {
            "matches" => {
                if let Node::Const(pattern) = &b {
                    let Value::Str(pattern) = pattern else {
                        return Err(self.invalid(id, "matches() takes a string pattern"));
                    };
                    let re = functions::compile_regex(pattern).map_err(|message| {
                        let (line, column) = self.pos(id);
                        RuleError::BadRegex { message, line, column }
                    })?;
                    if let Node::Const(s) = &a {
                        return self.fold(id, functions::regex_match(s, &re));
                    }
                    return Ok(Node::dynamic(move |ctx| functions::regex_match(&a.eval(ctx)?, &re)));
                }
                Ok(Node::dynamic(move |ctx| {
                    let s = a.eval(ctx)?;
                    let p = b.eval(ctx)?;
                    let p = p.as_str().ok_or_else(|| type_error("the pattern of matches()", &p))?;
                    let re = functions::compile_regex(p).map_err(EvalError::BadRegex)?;
                    functions::regex_match(&s, &re)
                }))
            }
            "working_days" => {
                let holidays = self.holidays.clone();
                if let (Node::Const(x), Node::Const(y)) = (&a, &b) {
                    return self.fold(id, functions::working_days(x, y, &holidays));
                }
                Ok(Node::dynamic(move |ctx| {
                    let x = a.eval(ctx)?;
                    let y = b.eval(ctx)?;
                    functions::working_days(&x, &y, &holidays)
                }))
            }
            _ => {
                let (line, column) = self.pos(id);
                Err(RuleError::UnknownFunction { name: name.to_string(), line, column })
            }
        }
    }

    fn unary(&self, id: u64, mut args: Vec<Node>, f: F1) -> Result<Node, RuleError> {
        let Some(a) = args.pop() else { return Err(self.invalid(id, "missing operand")) };
        match a {
            Node::Const(v) => self.fold(id, f(v)),
            Node::Dyn(g) => Ok(Node::dynamic(move |ctx| f(g(ctx)?))),
        }
    }

    fn binary(&self, id: u64, mut args: Vec<Node>, f: F2) -> Result<Node, RuleError> {
        let (Some(b), Some(a), true) = (args.pop(), args.pop(), args.is_empty()) else {
            return Err(self.invalid(id, "expected two operands"));
        };
        Ok(match (a, b) {
            (Node::Const(x), Node::Const(y)) => return self.fold(id, f(&x, &y)),
            (Node::Dyn(g), Node::Const(y)) => Node::dynamic(move |ctx| f(&g(ctx)?, &y)),
            (Node::Const(x), Node::Dyn(h)) => Node::dynamic(move |ctx| f(&x, &h(ctx)?)),
            (Node::Dyn(g), Node::Dyn(h)) => Node::dynamic(move |ctx| {
                let x = g(ctx)?;
                f(&x, &h(ctx)?)
            }),
        })
    }

    /// Recognises the comprehensions the parser expands the macros `all`, `exists`, `exists_one`,
    /// `map` and `filter` into.
    fn recognise<'e>(c: &'e ComprehensionExpr) -> Option<Macro<'e>> {
        let Expr::Call(step) = &c.loop_step.expr else { return None };
        let is_accu = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if *n == c.accu_var);
        let append = |e: &'e IdedExpr| -> Option<&'e IdedExpr> {
            match &e.expr {
                Expr::Call(add)
                    if add.func_name == "_+_"
                        && add.target.is_none()
                        && add.args.len() == 2
                        && is_accu(&add.args[0]) =>
                {
                    match &add.args[1].expr {
                        Expr::List(l) if l.elements.len() == 1 => l.elements.first(),
                        _ => None,
                    }
                }
                _ => None,
            }
        };
        match (&c.accu_init.expr, step.func_name.as_str(), step.args.as_slice()) {
            (Expr::Literal(LiteralValue::Boolean(b)), "_&&_", [acc, pred]) if *b.inner() && is_accu(acc) => {
                Some(Macro::All(pred))
            }
            (Expr::Literal(LiteralValue::Boolean(b)), "_||_", [acc, pred]) if !*b.inner() && is_accu(acc) => {
                Some(Macro::Exists(pred))
            }
            (Expr::Literal(LiteralValue::Int(i)), "_?_:_", [pred, _, _]) if *i.inner() == 0 => {
                Some(Macro::ExistsOne(pred))
            }
            (Expr::List(l), "_+_", _) if l.elements.is_empty() => {
                Some(Macro::Map { filter: None, f: append(&c.loop_step)? })
            }
            (Expr::List(l), "_?_:_", [filter, add, acc]) if l.elements.is_empty() && is_accu(acc) => {
                Some(Macro::Map { filter: Some(filter), f: append(add)? })
            }
            _ => None,
        }
    }

    fn comprehension(&mut self, id: u64, c: &ComprehensionExpr) -> Result<Node, RuleError> {
        if c.iter_var2.is_some() {
            return Err(self.invalid(id, "two-variable comprehensions are not supported"));
        }
        let Some(kind) = Self::recognise(c) else {
            return Err(self.invalid(id, "unsupported comprehension"));
        };
        let range = self.expr(&c.iter_range)?;
        let slot = self.scopes.len();
        if slot >= MAX_NESTING {
            return Err(self.invalid(id, format!("comprehensions may nest at most {MAX_NESTING} deep")));
        }
        self.scopes.push(c.iter_var.clone());
        self.depth = self.depth.max(slot + 1);
        let saved = self.hoist_from.replace(c.iter_var.clone());
        let first_cached = self.cached;
        let body = (|| -> Result<Body, RuleError> {
            Ok(match kind {
                Macro::All(pred) => Body::All(self.expr(pred)?),
                Macro::Exists(pred) => Body::Exists(self.expr(pred)?),
                Macro::ExistsOne(pred) => Body::ExistsOne(self.expr(pred)?),
                Macro::Map { filter, f } => {
                    let filter = filter.map(|x| self.expr(x)).transpose()?;
                    Body::Map(filter, self.expr(f)?)
                }
            })
        })();
        self.hoist_from = saved;
        self.scopes.pop();
        let loop_ = Loop { range, slot, cached: first_cached..self.cached };
        Ok(match body? {
            Body::All(pred) => quantifier(loop_, pred, true),
            Body::Exists(pred) => quantifier(loop_, pred, false),
            Body::ExistsOne(pred) => exists_one(loop_, pred),
            Body::Map(filter, f) => map(loop_, filter, f),
        })
    }
}

/// Reads `field` of a map; a null parent reads as absent (senders write `null` for "not known").
/// A call of a lookup function: never folded, as the reference data it reads is given per run, not per pack.
fn lookup_node(lookup: functions::Lookup, args: Vec<Node>) -> Node {
    Node::dynamic(move |ctx| {
        let mut values = [Value::Null, Value::Null];
        for (slot, arg) in values.iter_mut().zip(&args) {
            *slot = arg.eval(ctx)?;
        }
        functions::look_up(lookup, ctx.refs, &values[..args.len()])
    })
}

fn read_field<'a>(v: Value<'a>, field: &str, hint: &AtomicUsize) -> Result<Value<'a>, EvalError> {
    match v {
        Value::Json(Json::Object(m)) => match lookup(m, field, hint) {
            Some(j) => Ok(Value::from_json(j)),
            None => Err(EvalError::NoSuchField(field.to_string())),
        },
        Value::Null => Err(EvalError::NoSuchField(field.to_string())),
        other => Err(EvalError::Type(format!("cannot read field `{field}` of {}", other.type_name()))),
    }
}

/// Maps larger than this are searched by hash when the remembered position misses.
const SCAN_LIMIT: usize = 48;

/// Finds `field` in `m`. Records of one standard mostly share a key order, so each field selection
/// remembers where it last found its key and looks there first; otherwise small maps are scanned
/// (cheaper than hashing the key) and large ones hashed.
#[inline]
fn lookup<'a>(m: &'a serde_json::Map<String, Json>, field: &str, hint: &AtomicUsize) -> Option<&'a Json> {
    let h = hint.load(AtomicOrdering::Relaxed);
    if h < m.len() {
        if let Some((k, v)) = m.iter().nth(h) {
            if same_key(k, field) {
                return Some(v);
            }
        }
    }
    if m.len() > SCAN_LIMIT {
        return m.get(field);
    }
    for (i, (k, v)) in m.iter().enumerate() {
        if same_key(k, field) {
            hint.store(i, AtomicOrdering::Relaxed);
            return Some(v);
        }
    }
    None
}

/// Whether two keys are equal, their lengths and first bytes compared before the rest: a record's keys are
/// short and many share a length, and a scan for an absent field compares it with every key.
#[inline]
fn same_key(key: &str, field: &str) -> bool {
    key.len() == field.len() && key.as_bytes().first() == field.as_bytes().first() && key == field
}

/// A path read (`self.a.b`), or with `test` a presence test of its last field (`has(self.a.b)`),
/// false when an earlier field is absent or null.
fn path_node(path: Path, test: bool) -> Node {
    if !test {
        return Node::dynamic(move |ctx| Ok(Value::from_json(path.walk(ctx, &path.fields)?)));
    }
    Node::dynamic(move |ctx| {
        let Some(((field, hint), parents)) = path.fields.split_last() else {
            return Err(EvalError::Invalid("internal error: empty path".into()));
        };
        match path.walk(ctx, parents) {
            Ok(Json::Object(m)) => Ok(Value::Bool(lookup(m, field, hint).is_some())),
            Ok(Json::Null) => Ok(Value::Bool(false)),
            Ok(other) => Err(EvalError::Type(format!(
                "has() cannot test field `{field}` of {}",
                Value::from_json(other).type_name()
            ))),
            Err(e) if e.is_absence() => Ok(Value::Bool(false)),
            Err(e) => Err(e),
        }
    })
}

fn select(operand: Node, field: Arc<str>) -> Node {
    let hint = AtomicUsize::new(0);
    Node::dynamic(move |ctx| read_field(operand.eval(ctx)?, &field, &hint))
}

/// `has(x.f)`: whether the map `x` has the key `f`; false, not an error, when `x` itself is absent or null.
fn presence(operand: Node, field: Arc<str>) -> Node {
    Node::dynamic(move |ctx| match operand.eval(ctx) {
        Ok(Value::Json(Json::Object(m))) => Ok(Value::Bool(m.contains_key(&*field))),
        Ok(Value::Null) => Ok(Value::Bool(false)),
        Ok(other) => Err(EvalError::Type(format!("has() cannot test field `{field}` of {}", other.type_name()))),
        Err(e) if e.is_absence() => Ok(Value::Bool(false)),
        Err(e) => Err(e),
    })
}

/// `&&` (`and`) or `||` over any number of operands, with CEL's commutative short-circuit: a
/// deciding value (false for `&&`, true for `||`) wins over errors on either side.
fn logic(args: Vec<Node>, and: bool) -> Node {
    let decisive = !and;
    let what = if and { "`&&`" } else { "`||`" };
    Node::dynamic(move |ctx| {
        let mut error = None;
        for a in &args {
            match a.eval(ctx) {
                Ok(Value::Bool(b)) if b == decisive => return Ok(Value::Bool(decisive)),
                Ok(Value::Bool(_)) => {}
                Ok(other) => {
                    error.get_or_insert_with(|| type_error(what, &other));
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(Value::Bool(!decisive)),
        }
    })
}

enum Body {
    All(Node),
    Exists(Node),
    ExistsOne(Node),
    Map(Option<Node>, Node),
}

/// What every comprehension does: evaluate the range, bind each element to a slot, and forget the
/// hoisted values of the previous run.
struct Loop {
    range: Node,
    slot: usize,
    cached: std::ops::Range<usize>,
}

impl Loop {
    #[inline]
    fn start<'a>(&self, ctx: &mut EvalEnv<'a, '_>) -> Result<Value<'a>, EvalError> {
        if let Some(cache) = ctx.cache.get_mut(self.cached.clone()) {
            cache.fill(None);
        }
        self.range.eval(ctx)
    }
}

/// Whether `e` reads only stable data: the stable variables and paths, literals, and calls over them.
fn stable(e: &IdedExpr, stable_roots: &[String]) -> bool {
    match &e.expr {
        Expr::Literal(_) => true,
        Expr::Ident(name) => stable_roots.iter().any(|s| s == name),
        Expr::Select(sel) => match dotted(e) {
            Some(path) if !sel.test => stable_roots.iter().any(|s| path == *s || path.starts_with(&format!("{s}."))),
            _ => false,
        },
        Expr::Call(c) => {
            c.target.as_deref().is_none_or(|t| stable(t, stable_roots))
                && c.args.iter().all(|a| stable(a, stable_roots))
        }
        Expr::List(l) => l.elements.iter().all(|x| stable(x, stable_roots)),
        _ => false,
    }
}

/// A stable sub-expression: its value is kept in the caller's memo once computed (scalars only: a text or a
/// list would have to be copied out each time, which costs what reading it again does).
fn memoized(node: Node, slot: usize) -> Node {
    Node::dynamic(move |ctx| {
        if let Some(Some(v)) = ctx.memo.get(slot) {
            return Ok(v.clone());
        }
        let r = node.eval(ctx)?;
        let keep = matches!(
            r,
            Value::Null
                | Value::Bool(_)
                | Value::Int(_)
                | Value::UInt(_)
                | Value::Double(_)
                | Value::Date(_)
                | Value::Timestamp(_)
        );
        if keep {
            if let Some(m) = ctx.memo.get_mut(slot) {
                *m = Some(to_static(r.clone()));
            }
        }
        Ok(r)
    })
}

/// A hoisted sub-expression: computed on first use in each run of its comprehension.
fn cached(node: Node, slot: usize) -> Node {
    Node::dynamic(move |ctx| {
        if let Some(Some(r)) = ctx.cache.get(slot) {
            return r.clone();
        }
        let r = node.eval(ctx);
        if let Some(c) = ctx.cache.get_mut(slot) {
            *c = Some(r.clone());
        }
        r
    })
}

#[inline]
fn bind<'a>(ctx: &mut EvalEnv<'a, '_>, slot: usize, item: Value<'a>) {
    if let Some(local) = ctx.locals.get_mut(slot) {
        *local = item;
    }
}

/// `all` (`every` = true) or `exists`: like `&&`/`||` over the elements, errors included.
fn quantifier(lp: Loop, pred: Node, every: bool) -> Node {
    let decisive = !every;
    let what = if every { "all()" } else { "exists()" };
    Node::dynamic(move |ctx| {
        let r = lp.start(ctx)?;
        let items = r.items().ok_or_else(|| type_error(what, &r))?;
        let mut error = None;
        for item in items {
            bind(ctx, lp.slot, item);
            match pred.eval(ctx) {
                Ok(Value::Bool(b)) if b == decisive => return Ok(Value::Bool(decisive)),
                Ok(Value::Bool(_)) => {}
                Ok(other) => {
                    error.get_or_insert_with(|| type_error(what, &other));
                }
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(Value::Bool(!decisive)),
        }
    })
}

fn exists_one(lp: Loop, pred: Node) -> Node {
    Node::dynamic(move |ctx| {
        let r = lp.start(ctx)?;
        let items = r.items().ok_or_else(|| type_error("exists_one()", &r))?;
        let mut n = 0usize;
        for item in items {
            bind(ctx, lp.slot, item);
            match pred.eval(ctx)? {
                Value::Bool(true) => n += 1,
                Value::Bool(false) => {}
                other => return Err(type_error("exists_one()", &other)),
            }
        }
        Ok(Value::Bool(n == 1))
    })
}

fn map(lp: Loop, filter: Option<Node>, f: Node) -> Node {
    Node::dynamic(move |ctx| {
        let r = lp.start(ctx)?;
        let items = r.items().ok_or_else(|| type_error("map()/filter()", &r))?;
        let mut out = Vec::new();
        for item in items {
            bind(ctx, lp.slot, item);
            if let Some(filter) = &filter {
                match filter.eval(ctx)? {
                    Value::Bool(true) => {}
                    Value::Bool(false) => continue,
                    other => return Err(type_error("the predicate of filter()", &other)),
                }
            }
            out.push(f.eval(ctx)?);
        }
        Ok(Value::List(out))
    })
}

fn op_eq<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::equals(a, b).map(Value::Bool)
}
fn op_ne<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::equals(a, b).map(|e| Value::Bool(!e))
}
fn op_lt<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::compare(a, b).map(|o| Value::Bool(o.is_lt()))
}
fn op_le<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::compare(a, b).map(|o| Value::Bool(o.is_le()))
}
fn op_gt<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::compare(a, b).map(|o| Value::Bool(o.is_gt()))
}
fn op_ge<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::compare(a, b).map(|o| Value::Bool(o.is_ge()))
}
fn op_add<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::arith(Arith::Add, a, b)
}
fn op_sub<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::arith(Arith::Sub, a, b)
}
fn op_mul<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::arith(Arith::Mul, a, b)
}
fn op_div<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::arith(Arith::Div, a, b)
}
fn op_rem<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::arith(Arith::Rem, a, b)
}
/// `x in [ ... ]` against a list literal of constants: a list of strings (code lists, mostly) becomes a set,
/// any other list is searched without copying its elements.
fn membership(needle: Box<Fun>, list: Vec<Value<'static>>) -> Node {
    let strings: Option<std::collections::HashSet<String>> =
        list.iter().map(|v| v.as_str().map(str::to_string)).collect();
    match strings {
        Some(set) if !list.is_empty() => Node::dynamic(move |ctx| match needle(ctx)? {
            Value::Str(s) => Ok(Value::Bool(set.contains(s.as_ref()))),
            other => value::contains_in(&list, &other).map(Value::Bool),
        }),
        _ => Node::dynamic(move |ctx| value::contains_in(&list, &needle(ctx)?).map(Value::Bool)),
    }
}

fn op_in<'a>(a: &Value<'a>, b: &Value<'a>) -> Result<Value<'a>, EvalError> {
    value::contains(b, a).map(Value::Bool)
}

fn op_index<'a>(c: &Value<'a>, i: &Value<'a>) -> Result<Value<'a>, EvalError> {
    match (c, i) {
        (Value::Json(Json::Object(_)) | Value::Null, Value::Str(k)) => read_field(c.clone(), k, &AtomicUsize::new(0)),
        (Value::List(_) | Value::Json(Json::Array(_)), Value::Int(_) | Value::UInt(_)) => {
            let size = c.size().unwrap_or(0);
            let index = match i {
                Value::Int(n) => *n,
                Value::UInt(n) => i64::try_from(*n).unwrap_or(i64::MAX),
                _ => -1,
            };
            let out_of_range = || EvalError::IndexOutOfRange { index, size };
            let at = usize::try_from(index).map_err(|_| out_of_range())?;
            match c {
                Value::List(l) => l.get(at).cloned().ok_or_else(out_of_range),
                Value::Json(Json::Array(a)) => a.get(at).map(Value::from_json).ok_or_else(out_of_range),
                _ => Err(out_of_range()),
            }
        }
        _ => Err(value::type_error2("indexing", c, i)),
    }
}

fn op_not(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Bool(b) => Ok(Value::Bool(!b)),
        other => Err(type_error("`!`", &other)),
    }
}

fn op_neg(v: Value<'_>) -> Result<Value<'_>, EvalError> {
    match v {
        Value::Int(i) => i.checked_neg().map(Value::Int).ok_or(EvalError::Overflow("-")),
        Value::Double(d) => Ok(Value::Double(-d)),
        other => Err(type_error("unary `-`", &other)),
    }
}

/// How an expression reads one variable, for callers that must know whether a rule depends on it only
/// through membership tests (`self.id in agg.ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// The variable is not mentioned.
    Not,
    /// Every mention is `PATH in VAR.FIELD`, with PATH a field path outside any comprehension.
    Membership(Vec<Membership>),
    /// Some other use (a size, a comparison, a membership inside a comprehension, …).
    Otherwise,
}

/// One `element in var.field` test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The element as a dotted path, e.g. `self.ChildIdentifiers.UPN`.
    pub element: String,
    pub field: String,
}

/// How the expression `source`, parsed as `expr`, reads the variable `var`.
pub(crate) fn reads(source: &str, expr: &IdedExpr, var: &str) -> Reads {
    // Most expressions never name the variable: no need to walk them to know it.
    if named(source, var).next().is_none() {
        return Reads::Not;
    }
    let mut found = Vec::new();
    if !memberships(expr, var, &mut found) {
        return Reads::Otherwise;
    }
    if found.is_empty() {
        Reads::Not
    } else {
        Reads::Membership(found)
    }
}

/// The expression as a dotted field path (`self.ChildIdentifiers.UPN`), if it is nothing else.
pub(crate) fn dotted_path(expr: &IdedExpr) -> Option<String> {
    dotted(expr)
}

/// Whether the expression `source`, parsed as `expr`, may read `var.field`: it selects that field, or uses `var`
/// otherwise than by selecting a field of it (indexing it, passing it whole), which may read anything.
pub(crate) fn may_read_field(source: &str, expr: &IdedExpr, var: &str, field: &str) -> bool {
    // Most expressions name the variable only as `var.other` (e.g. `root.Header`): no need to parse them.
    let doubtful = named(source, var).any(|after| match after.strip_prefix('.') {
        Some(rest) => {
            let selected = &rest[..rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len())];
            selected.is_empty() || selected == field
        }
        None => true,
    });
    doubtful && selects(expr, var, field)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Where the text names `var` as a whole word (not inside a longer name): the text after each such mention.
/// A cheap look before parsing; a mention inside a string literal is counted too.
fn named<'s>(source: &'s str, var: &'s str) -> impl Iterator<Item = &'s str> {
    source.match_indices(var).filter_map(move |(i, _)| {
        let after = &source[i + var.len()..];
        let whole =
            !source[..i].chars().next_back().is_some_and(is_ident) && !after.chars().next().is_some_and(is_ident);
        whole.then_some(after)
    })
}

fn selects(e: &IdedExpr, var: &str, field: &str) -> bool {
    match &e.expr {
        Expr::Select(s) => match &s.operand.expr {
            Expr::Ident(n) if n == var => s.field == field,
            _ => selects(&s.operand, var, field),
        },
        Expr::Ident(n) => n == var,
        Expr::Literal(_) | Expr::Unspecified => false,
        Expr::Call(c) => {
            c.target.as_deref().is_some_and(|t| selects(t, var, field)) || c.args.iter().any(|a| selects(a, var, field))
        }
        Expr::List(l) => l.elements.iter().any(|x| selects(x, var, field)),
        Expr::Comprehension(c) => {
            c.iter_var == var
                || [&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result]
                    .iter()
                    .any(|x| selects(x, var, field))
        }
        Expr::Map(_) | Expr::Struct(_) => true,
    }
}

fn dotted(e: &IdedExpr) -> Option<String> {
    match &e.expr {
        Expr::Ident(name) => Some(name.clone()),
        Expr::Select(sel) if !sel.test => Some(format!("{}.{}", dotted(&sel.operand)?, sel.field)),
        _ => None,
    }
}

/// Collects `PATH in var.FIELD` tests; false if `var` is used in any other way.
fn memberships(e: &IdedExpr, var: &str, found: &mut Vec<Membership>) -> bool {
    if let Expr::Call(call) = &e.expr {
        if call.func_name == "@in" && call.target.is_none() && call.args.len() == 2 {
            if let Expr::Select(sel) = &call.args[1].expr {
                if !sel.test && matches!(&sel.operand.expr, Expr::Ident(n) if n == var) {
                    return match dotted(&call.args[0]) {
                        Some(element) if !mentions(&call.args[0], var) => {
                            found.push(Membership { element, field: sel.field.clone() });
                            true
                        }
                        _ => false,
                    };
                }
            }
        }
    }
    match &e.expr {
        Expr::Ident(n) => n != var,
        Expr::Literal(_) | Expr::Unspecified => true,
        Expr::Select(s) => memberships(&s.operand, var, found),
        Expr::Call(c) => {
            c.target.as_deref().is_none_or(|t| memberships(t, var, found))
                && c.args.iter().all(|a| memberships(a, var, found))
        }
        Expr::List(l) => l.elements.iter().all(|x| memberships(x, var, found)),
        Expr::Comprehension(_) | Expr::Map(_) | Expr::Struct(_) => !mentions(e, var),
    }
}

/// Every field path the expression reads from the variable `var` (`self.a.b` as `["a", "b"]`, `has(self.a)` as
/// `["a"]`), each once, in the order first written; a path through an index (`self.a[0].b`) ends before it.
pub(crate) fn var_paths(expr: &IdedExpr, var: &str) -> Vec<Vec<String>> {
    let mut paths: Vec<Vec<String>> = Vec::new();
    collect_var_paths(expr, var, &mut paths);
    paths
}

fn collect_var_paths(e: &IdedExpr, var: &str, paths: &mut Vec<Vec<String>>) {
    if let Some(path) = field_chain(e, var) {
        if !path.is_empty() && !paths.contains(&path) {
            paths.push(path);
        }
        return;
    }
    match &e.expr {
        Expr::Select(s) => collect_var_paths(&s.operand, var, paths),
        Expr::Call(c) => {
            for x in c.target.iter().map(|t| &**t).chain(c.args.iter()) {
                collect_var_paths(x, var, paths);
            }
        }
        Expr::List(l) => l.elements.iter().for_each(|x| collect_var_paths(x, var, paths)),
        Expr::Comprehension(c) => {
            // A comprehension whose own variable has the name hides it in its body.
            collect_var_paths(&c.iter_range, var, paths);
            if c.iter_var != var && c.accu_var != var {
                for x in [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result] {
                    collect_var_paths(x, var, paths);
                }
            }
        }
        Expr::Ident(_) | Expr::Literal(_) | Expr::Unspecified | Expr::Map(_) | Expr::Struct(_) => {}
    }
}

/// `var.a.b` (or `has(var.a.b)`) as `["a", "b"]`; `None` when the expression is not such a chain.
fn field_chain(e: &IdedExpr, var: &str) -> Option<Vec<String>> {
    match &e.expr {
        Expr::Ident(name) if name == var => Some(Vec::new()),
        Expr::Select(s) => {
            let mut path = field_chain(&s.operand, var)?;
            path.push(s.field.clone());
            Some(path)
        }
        _ => None,
    }
}

/// What the expression gives when that is plainly not a bool: a literal of another type, a list, or an
/// operator or function that gives a number, a text, a date or a list. `None` when it gives a bool or may.
pub(crate) fn plainly_not_bool(expr: &IdedExpr) -> Option<&'static str> {
    match &expr.expr {
        Expr::Literal(LiteralValue::Boolean(_)) => None,
        Expr::Literal(LiteralValue::Null) => Some("null"),
        Expr::Literal(LiteralValue::String(_)) => Some("a text"),
        Expr::Literal(LiteralValue::Int(_) | LiteralValue::UInt(_) | LiteralValue::Double(_)) => Some("a number"),
        Expr::Literal(LiteralValue::Bytes(_)) => Some("bytes"),
        Expr::List(_) => Some("a list"),
        Expr::Map(_) | Expr::Struct(_) => Some("a map"),
        Expr::Call(c) => match c.func_name.as_str() {
            "_+_" | "_-_" | "_*_" | "_/_" | "_%_" | "-_" | "size" | "int" | "uint" | "double" | "count" => {
                Some("a number or a text")
            }
            "string" | "lower" | "upper" | "trim" => Some("a text"),
            "date" | "timestamp" | "add_days" | "add_years" => Some("a date"),
            "filter" | "map" => Some("a list"),
            "_?_:_" => c.args.get(1).and_then(plainly_not_bool).and(c.args.get(2).and_then(plainly_not_bool)),
            _ => None,
        },
        // `filter` and `map` arrive expanded: a comprehension whose result is its accumulated list.
        Expr::Comprehension(c) if matches!(c.accu_init.expr, Expr::List(_)) => Some("a list"),
        _ => None,
    }
}
