//! What keeps a hostile chat template from exhausting memory. minijinja's fuel pays for every
//! instruction and, up front or just after, for the bytes of most data a template makes. But not
//! for turning a value into text: a list holding one long string a million times (`[s] * 1000000`
//! is lazy; `[l, l]` in a loop doubles the text with two slots a step) costs a few units, and then
//! `'' ~ it`, `it|string` or `'{}'.format(it)` make a gigabyte in one step, before anything is
//! charged. A few more steps allocate by a number the template picks: `str.format` widths,
//! `tojson` indents, `split` (a value per piece), `debug()` (everything in scope).
//!
//! So the size of any such text is worked out first, without making it (`text_size` walks the
//! value, and stops past the limit), and anything over `MAX_TEXT` stops the render:
//! - the source is rewritten before it is compiled (`guard_source`): each operand of `~`, the left
//!   side of `in`, and the input and arguments of every filter and test that makes text pass
//!   through the `__hearth_text` filter first;
//! - printing (`{{ }}`, which also fills `{% set %}` blocks and macro bodies) checks in the formatter;
//! - `tojson`, `pprint`, `split`, `lines` and the Python string methods check their own sizes;
//! - `debug()` is not there.
//!
//! Talks to: minijinja's parser (`unstable_machinery`: its AST is not covered by semver, so a
//! minijinja upgrade that changes it fails to compile here rather than silently unguarded).

use std::fmt::{self, Write as _};
use std::sync::Arc;

use minijinja::machinery::ast::{CallArg, Expr, Stmt};
use minijinja::machinery::Span;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::{Kwargs, ValueKind};
use minijinja::{Environment, Error, ErrorKind, Output, State, Value};

/// The most bytes one value may take as text. A whole conversation as JSON fits (the largest
/// context a person runs is far less than 4 million tokens); a gigabyte does not.
pub const MAX_TEXT: u64 = 16 << 20;

/// Nesting deeper than this is refused: no chat template nests data like this, and printing
/// deeper nests recurses in minijinja.
const MAX_DEPTH: usize = 256;

/// Bytes one piece of `split` and `lines` costs besides its text: its value in the list.
const PIECE: u64 = 32;

/// The filter the rewritten source calls; the name keeps it apart from anything a template defines.
const TEXT_FILTER: &str = "__hearth_text";

/// Starts the detail of the errors raised here, so the caller can tell them from minijinja's own.
pub const TOO_LARGE: &str = "too large: ";

fn too_large(what: impl fmt::Display) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("{TOO_LARGE}{what}"))
}

/// Installs the checked filters, methods and formatter. `guard_source` makes the template use them.
pub fn install(env: &mut Environment<'static>) {
    env.add_filter(TEXT_FILTER, text_filter);
    env.add_filter("tojson", tojson);
    env.add_filter("pprint", pprint);
    env.add_filter("split", split);
    env.add_filter("lines", lines);
    env.remove_global("debug");
    env.set_formatter(|out: &mut Output, state: &mut State, value: &Value| {
        check(state, value, 1, None)?;
        minijinja::escape_formatter(out, state, value)
    });
    env.set_unknown_method_callback(methods);
}

// --- the sizes -----------------------------------------------------------------------------------

/// Indentation per level for `tojson`'s and `pprint`'s pretty output; `None` for plain text.
type Indent = Option<u64>;

/// Stops `value` if its text, times `factor` (what a filter may grow it by), would exceed `MAX_TEXT`.
/// The walk costs fuel like the items a filter visits, so checking cannot be used to spin.
pub fn check(state: &State, value: &Value, factor: u64, indent: Indent) -> Result<(), Error> {
    let limit = MAX_TEXT / factor.max(1);
    let (size, visited) = text_size(value, indent, limit)?;
    state.consume_fuel(visited / 2)?;
    if size > limit {
        return Err(too_large(format!("a value would take more than {} bytes as text", limit)));
    }
    Ok(())
}

/// An upper bound of the bytes `value` takes as text (`Display`, or JSON/debug output indented by
/// `indent`), and how many values were visited. Stops as soon as the bound passes `limit`: the
/// walk never makes the text and never visits more than `limit / 2` values (each costs 2 bytes at
/// least), and it keeps one iterator per level, not a list of what is left.
fn text_size(value: &Value, indent: Indent, limit: u64) -> Result<(u64, u64), Error> {
    let mut size = leaf_or_open(value, true, indent, limit)?;
    let mut visited = 1u64;
    let mut stack: Vec<Level> = Vec::new();
    if let Some(level) = open(value)? {
        stack.push(level);
    }
    while size <= limit {
        let depth = stack.len();
        let Some(top) = stack.last_mut() else { break };
        let Some(item) = top.items.next() else {
            stack.pop();
            continue;
        };
        // A map's items are its keys; each brings its value.
        let value_of_key = top.map.as_ref().map(|map| map.get_item(&item).unwrap_or_default());
        if depth > MAX_DEPTH {
            return Err(too_large(format!("values nested more than {MAX_DEPTH} deep")));
        }
        // Separator, newline and indentation of the item.
        size = size.saturating_add(3 + indent.unwrap_or(0).saturating_mul(depth as u64));
        for item in std::iter::once(item).chain(value_of_key) {
            visited += 1;
            size = size.saturating_add(leaf_or_open(&item, false, indent, limit.saturating_sub(size))?);
            if let Some(level) = open(&item)? {
                stack.push(level);
            }
        }
    }
    Ok((size, visited))
}

struct Level {
    items: minijinja::value::ValueIter,
    /// For a map: the map, to look up each key's value.
    map: Option<Value>,
}

/// A container whose items are printed: its level to walk.
fn open(value: &Value) -> Result<Option<Level>, Error> {
    Ok(match value.kind() {
        // minijinja prints an iterable's items only when it knows how many there are.
        ValueKind::Seq => Some(Level { items: value.try_iter()?, map: None }),
        ValueKind::Iterable if value.len().is_some() => Some(Level { items: value.try_iter()?, map: None }),
        ValueKind::Map => Some(Level { items: value.try_iter()?, map: Some(value.clone()) }),
        _ => None,
    })
}

/// The bytes of a value itself: a whole scalar, or a container's brackets (its items come from the
/// walk). `top`: printed on its own, a string is its bytes; inside a container it is quoted and
/// escaped.
fn leaf_or_open(value: &Value, top: bool, indent: Indent, limit: u64) -> Result<u64, Error> {
    Ok(match value.kind() {
        ValueKind::String => {
            let s = value.as_str().unwrap_or_default();
            if top && indent.is_none() {
                s.len() as u64
            } else {
                quoted_len(s, limit)
            }
        }
        ValueKind::Number | ValueKind::Bool | ValueKind::None | ValueKind::Undefined => 48,
        ValueKind::Bytes => value.as_bytes().map_or(0, |b| b.len() as u64).saturating_mul(4).saturating_add(3),
        ValueKind::Seq | ValueKind::Map => 2 + indent.unwrap_or(0),
        ValueKind::Iterable if value.len().is_some() => 2 + indent.unwrap_or(0),
        // Anything else prints itself (a macro, a loop, an iterator of unknown length): count what
        // it prints, up to the limit.
        _ => {
            let mut counter = Counter { bytes: 0, limit };
            let _ = write!(counter, "{value}");
            counter.bytes
        }
    })
}

/// The bytes of `s` quoted and escaped, as Rust's debug format and minijinja's JSON (which also
/// escapes `<`, `>`, `&` and `'`) print it; at most 12 a character, so the scan is skipped when that
/// fits anyway.
fn quoted_len(s: &str, limit: u64) -> u64 {
    let worst = (s.len() as u64).saturating_mul(12).saturating_add(2);
    if worst <= limit {
        return worst;
    }
    2 + s
        .chars()
        .map(|c| match c {
            '"' | '\'' | '\\' | '\n' | '\r' | '\t' => 2,
            '<' | '>' | '&' => 6,
            c if c.is_control() => 12,
            c => c.len_utf8() as u64,
        })
        .sum::<u64>()
}

/// Counts what is written, and fails past the limit so that printing stops there.
struct Counter {
    bytes: u64,
    limit: u64,
}

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes = self.bytes.saturating_add(s.len() as u64);
        if self.bytes > self.limit {
            Err(fmt::Error)
        } else {
            Ok(())
        }
    }
}

// --- filters and methods ----------------------------------------------------------------------------

/// `x|__hearth_text(factor)`: `x` unchanged, once its text (times `factor`) is known to fit.
fn text_filter(state: &State, value: Value, factor: Option<u32>) -> Result<Value, Error> {
    check(state, &value, u64::from(factor.unwrap_or(1)), None)?;
    Ok(value)
}

/// `tojson`, sized first: its indentation repeats on every line at every depth.
fn tojson(state: &State, value: &Value, indent: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let asked = match &indent {
        Some(v) => Some(v.clone()),
        None => kwargs.peek::<Option<Value>>("indent")?,
    };
    let spaces = match asked {
        None => 0,
        Some(v) if v.kind() == ValueKind::Bool => u64::from(v.is_true()) * 2,
        Some(v) => u64::try_from(v).unwrap_or(u64::MAX),
    };
    check(state, value, 1, Some(spaces))?;
    let json = minijinja::filters::tojson(value, indent, kwargs)?;
    // What minijinja's own `tojson` charges: a quarter of a unit a byte.
    state.consume_fuel(json.as_str().map_or(0, str::len) as u64 / 4)?;
    Ok(json)
}

/// `pprint`, sized first (four spaces a level; its debug format quotes strings like JSON).
fn pprint(state: &State, value: &Value) -> Result<Value, Error> {
    check(state, value, 2, Some(4))?;
    let text = minijinja::filters::pprint(value);
    state.consume_fuel(text.len() as u64 / 4)?;
    Ok(Value::from(text))
}

/// Stops a split whose pieces, each a value in a list, would take more than `MAX_TEXT`. The scan
/// that counts them is paid for first, and skipped when even a piece per byte would fit.
fn check_pieces(state: &State, text: &str, count: impl FnOnce() -> usize) -> Result<(), Error> {
    let pieces_bytes = |pieces: u64| pieces.saturating_mul(PIECE).saturating_add(text.len() as u64);
    if pieces_bytes(text.len() as u64 + 2) <= MAX_TEXT {
        return Ok(());
    }
    state.consume_fuel(text.len() as u64 / 64)?;
    let pieces = count() as u64;
    if pieces_bytes(pieces) > MAX_TEXT {
        return Err(too_large(format!("splitting into {pieces} pieces would take more than {MAX_TEXT} bytes")));
    }
    Ok(())
}

fn split(state: &State, value: &Value, sep: Option<Arc<str>>, maxsplits: Option<i64>) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        check_pieces(state, s, || {
            let pieces = match &sep {
                None => s.split_whitespace().count(),
                Some(sep) => s.split(sep.as_ref()).count(),
            };
            match maxsplits {
                Some(n) if n >= 0 => pieces.min(usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1)),
                _ => pieces,
            }
        })?;
    }
    minijinja::filters::split(value, sep, maxsplits)
}

fn lines(state: &State, value: &Value) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        check_pieces(state, s, || s.lines().count())?;
    }
    minijinja::filters::lines(value)
}

/// Python's string methods (minijinja-contrib's pycompat), with the sizes checked of those that
/// make more text than they are given.
fn methods(state: &mut State, value: &Value, method: &str, args: &[Value]) -> Result<Value, Error> {
    if let Some(s) = value.as_str() {
        match method {
            // Case mapping can triple a character's bytes.
            "upper" | "lower" | "title" | "capitalize" => check(state, value, 3, None)?,
            "format" => {
                check_format_widths(s)?;
                for arg in args {
                    check(state, arg, 1, None)?;
                }
            }
            // Every item is printed.
            "join" => {
                for arg in args {
                    check(state, arg, 1, None)?;
                }
            }
            "split" => check_pieces(state, s, || match args.first().and_then(Value::as_str) {
                Some(sep) if !sep.is_empty() => s.split(sep).count(),
                _ => s.split_whitespace().count(),
            })?,
            "splitlines" => check_pieces(state, s, || s.lines().count())?,
            _ => {}
        }
    }
    minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
}

/// `str.format` pads to the widths its fields ask for: their sum may not pass `MAX_TEXT`. A width
/// taken from an argument (`{:{}}`) is refused: no chat template needs one.
fn check_format_widths(format: &str) -> Result<(), Error> {
    let mut total = 0u64;
    let mut rest = format;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        if let Some(escaped) = rest.strip_prefix('{') {
            rest = escaped;
            continue;
        }
        let Some(close) = rest.find('}') else { break };
        let field = &rest[..close];
        if let Some((_, spec)) = field.split_once(':') {
            if spec.contains('{') {
                return Err(too_large("a format width taken from an argument"));
            }
            // Every number in a spec, added up: at least the width and the precision.
            for digits in spec.split(|c: char| !c.is_ascii_digit()).filter(|d| !d.is_empty()) {
                total = total.saturating_add(digits.parse::<u64>().unwrap_or(u64::MAX));
            }
        }
        rest = &rest[close + 1..];
    }
    if total > MAX_TEXT {
        return Err(too_large(format!("format widths adding up to {total} bytes")));
    }
    Ok(())
}

// --- the rewrite --------------------------------------------------------------------------------------

/// Filters that never turn their input or arguments into text (they count, pick, sort, compare or
/// do arithmetic): these are left alone. Every other filter, a future or unknown one included, has
/// its input and arguments checked.
const QUIET_FILTERS: &[&str] = &[
    "abs", "attr", "batch", "bool", "chain", "count", "d", "default", "dictsort", "first", "float", "groupby", "int", "items", "last",
    "length", "list", "max", "min", "reverse", "round", "slice", "sort", "sum", "unique", "zip", TEXT_FILTER,
];

/// Tests that never turn their input or arguments into text.
const QUIET_TESTS: &[&str] = &[
    "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "==", "escaped", "even", "false", "filter", "float", "ge", ">=",
    "greaterthan", "gt", ">", "int", "integer", "iterable", "le", "<=", "lessthan", "lt", "<", "mapping", "ne", "!=", "none", "number",
    "odd", "safe", "sameas", "sequence", "string", "test", "true", "undefined",
];

/// How much a filter may grow the text of its input.
fn growth(filter: &str) -> u64 {
    match filter {
        // `"` becomes `&#34;`, `'` becomes `&#x27;`.
        "e" | "escape" => 6,
        "upper" | "lower" | "title" | "capitalize" | "urlencode" => 3,
        _ => 1,
    }
}

/// The template's source with the checks put in front of every step that turns a value into text.
/// Only text inside expressions is added (a filter call, a pair of parentheses), so whitespace
/// control and everything outside the tags is as it was.
pub fn guard_source(source: &str, name: &str, syntax: SyntaxConfig) -> Result<String, Error> {
    let ast = minijinja::machinery::parse(source, name, syntax)?;
    let mut rewrite = Rewrite::default();
    rewrite.stmt(&ast);
    Ok(rewrite.apply(source))
}

#[derive(Default)]
struct Rewrite {
    /// Byte ranges of expressions to run through the check, with their growth factor.
    wraps: Vec<(usize, usize, u64)>,
    /// Where a filter's name starts, to put the check in front of it in the filter chain.
    prefixes: Vec<(usize, u64)>,
}

impl Rewrite {
    fn stmts(&mut self, stmts: &[Stmt<'_>]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>) {
        match stmt {
            Stmt::Template(s) => self.stmts(&s.children),
            Stmt::EmitExpr(s) => self.expr(&s.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(s) => {
                self.exprs([&s.target, &s.iter]);
                self.opt(&s.filter_expr);
                self.stmts(&s.body);
                self.stmts(&s.else_body);
            }
            Stmt::IfCond(s) => {
                self.expr(&s.expr);
                self.stmts(&s.true_body);
                self.stmts(&s.false_body);
            }
            Stmt::WithBlock(s) => {
                for (target, value) in &s.assignments {
                    self.exprs([target, value]);
                }
                self.stmts(&s.body);
            }
            Stmt::Set(s) => self.exprs([&s.target, &s.expr]),
            Stmt::SetBlock(s) => {
                self.expr(&s.target);
                self.opt(&s.filter);
                self.stmts(&s.body);
            }
            Stmt::AutoEscape(s) => {
                self.expr(&s.enabled);
                self.stmts(&s.body);
            }
            Stmt::FilterBlock(s) => {
                self.expr(&s.filter);
                self.stmts(&s.body);
            }
            Stmt::Block(s) => self.stmts(&s.body),
            Stmt::Import(s) => self.exprs([&s.expr, &s.name]),
            Stmt::FromImport(s) => {
                self.expr(&s.expr);
                for (name, alias) in &s.names {
                    self.expr(name);
                    self.opt(alias);
                }
            }
            Stmt::Extends(s) => self.expr(&s.name),
            Stmt::Include(s) => self.expr(&s.name),
            Stmt::Macro(s) => {
                self.exprs(s.args.iter().chain(&s.defaults));
                self.stmts(&s.body);
            }
            Stmt::CallBlock(s) => {
                self.expr(&s.call.expr);
                self.args(&s.call.args, false);
                self.exprs(s.macro_decl.args.iter().chain(&s.macro_decl.defaults));
                self.stmts(&s.macro_decl.body);
            }
            Stmt::Do(s) => {
                self.expr(&s.call.expr);
                self.args(&s.call.args, false);
            }
        }
    }

    fn exprs<'e, 'a: 'e>(&mut self, exprs: impl IntoIterator<Item = &'e Expr<'a>>) {
        for e in exprs {
            self.expr(e);
        }
    }

    fn opt(&mut self, expr: &Option<Expr<'_>>) {
        if let Some(e) = expr {
            self.expr(e);
        }
    }

    /// Walks call arguments; with `check`, each goes through the check too.
    fn args(&mut self, args: &[CallArg<'_>], check: bool) {
        for arg in args {
            let (CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e)) = arg;
            if check {
                self.wrap(e, 1);
            }
            self.expr(e);
        }
    }

    fn expr(&mut self, expr: &Expr<'_>) {
        match expr {
            Expr::Var(_) | Expr::Const(_) => {}
            Expr::Slice(e) => {
                self.expr(&e.expr);
                self.opt(&e.start);
                self.opt(&e.stop);
                self.opt(&e.step);
            }
            Expr::UnaryOp(e) => self.expr(&e.expr),
            Expr::BinOp(e) => {
                match e.op {
                    minijinja::machinery::ast::BinOpKind::Concat => {
                        self.wrap(&e.left, 1);
                        self.wrap(&e.right, 1);
                    }
                    // `x in "text"` prints `x` to look for it.
                    minijinja::machinery::ast::BinOpKind::In => self.wrap(&e.left, 1),
                    _ => {}
                }
                self.exprs([&e.left, &e.right]);
            }
            Expr::Compare(e) => {
                self.expr(&e.expr);
                for op in &e.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(e) => {
                self.exprs([&e.test_expr, &e.true_expr]);
                self.opt(&e.false_expr);
            }
            Expr::Filter(e) => {
                let checked = !QUIET_FILTERS.contains(&e.name);
                if checked {
                    // `x|f` becomes `x|__hearth_text|f`, which also works in a `{% filter %}` tag,
                    // where the input is the block and not written out.
                    self.prefixes.push((e.span().start_offset as usize, growth(e.name)));
                }
                self.opt(&e.expr);
                self.args(&e.args, checked);
            }
            Expr::Test(e) => {
                let checked = !QUIET_TESTS.contains(&e.name);
                if checked {
                    self.wrap(&e.expr, 1);
                }
                self.expr(&e.expr);
                self.args(&e.args, checked);
            }
            Expr::GetAttr(e) => self.expr(&e.expr),
            Expr::GetItem(e) => self.exprs([&e.expr, &e.subscript_expr]),
            Expr::Call(e) => {
                self.expr(&e.expr);
                self.args(&e.args, false);
            }
            Expr::List(e) => self.exprs(&e.items),
            Expr::Tuple(e) => self.exprs(&e.items),
            Expr::Map(e) => self.exprs(e.keys.iter().chain(&e.values)),
        }
    }

    /// `x` becomes `(x)|__hearth_text(factor)`.
    fn wrap(&mut self, expr: &Expr<'_>, factor: u64) {
        let (start, end) = extent(expr);
        self.wraps.push((start, end, factor));
    }

    fn apply(&self, source: &str) -> String {
        // At one offset: closing parentheses first (of the innermost, i.e. latest-starting, range
        // first), then filters put in front of a name, then opening parentheses (outermost first).
        #[derive(PartialEq, Eq, PartialOrd, Ord)]
        enum Edit {
            Close { inner_first: std::cmp::Reverse<(usize, usize)>, factor: u64 },
            Prefix { factor: u64 },
            Open { outer_first: std::cmp::Reverse<(usize, usize)> },
        }
        let mut edits: Vec<(usize, Edit)> = Vec::new();
        for (i, &(start, end, factor)) in self.wraps.iter().enumerate() {
            edits.push((start, Edit::Open { outer_first: std::cmp::Reverse((end, usize::MAX - i)) }));
            edits.push((end, Edit::Close { inner_first: std::cmp::Reverse((start, i)), factor }));
        }
        for &(at, factor) in &self.prefixes {
            edits.push((at, Edit::Prefix { factor }));
        }
        edits.sort();
        let mut out = String::with_capacity(source.len() + edits.len() * 24);
        let mut from = 0;
        for (at, edit) in edits {
            let at = at.min(source.len());
            out.push_str(&source[from..at]);
            from = at;
            match edit {
                Edit::Open { .. } => out.push('('),
                Edit::Close { factor, .. } => out.push_str(&format!("){}", call(factor))),
                Edit::Prefix { factor } => out.push_str(&format!("{}|", call(factor).trim_start_matches('|'))),
            }
        }
        out.push_str(&source[from..]);
        out
    }
}

/// `|__hearth_text` or `|__hearth_text(k)`.
fn call(factor: u64) -> String {
    if factor == 1 {
        format!("|{TEXT_FILTER}")
    } else {
        format!("|{TEXT_FILTER}({factor})")
    }
}

fn offsets(span: Span) -> (usize, usize) {
    (span.start_offset as usize, span.end_offset as usize)
}

/// Where an expression's text starts and ends in the source. A node's own span may leave out its
/// first operand (a filter's starts at its name), so this is the union with its children's.
fn extent(expr: &Expr<'_>) -> (usize, usize) {
    let own = offsets(span_of(expr));
    let mut children: Vec<&Expr<'_>> = Vec::new();
    match expr {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(e) => {
            children.push(&e.expr);
            children.extend(e.start.iter().chain(&e.stop).chain(&e.step));
        }
        Expr::UnaryOp(e) => children.push(&e.expr),
        Expr::BinOp(e) => children.extend([&e.left, &e.right]),
        Expr::Compare(e) => {
            children.push(&e.expr);
            children.extend(e.ops.iter().map(|op| &op.expr));
        }
        Expr::IfExpr(e) => {
            children.extend([&e.test_expr, &e.true_expr]);
            children.extend(e.false_expr.iter());
        }
        Expr::Filter(e) => {
            children.extend(e.expr.iter());
            children.extend(e.args.iter().map(arg_expr));
        }
        Expr::Test(e) => {
            children.push(&e.expr);
            children.extend(e.args.iter().map(arg_expr));
        }
        Expr::GetAttr(e) => children.push(&e.expr),
        Expr::GetItem(e) => children.extend([&e.expr, &e.subscript_expr]),
        Expr::Call(e) => {
            children.push(&e.expr);
            children.extend(e.args.iter().map(arg_expr));
        }
        Expr::List(e) => children.extend(e.items.iter()),
        Expr::Tuple(e) => children.extend(e.items.iter()),
        Expr::Map(e) => children.extend(e.keys.iter().chain(&e.values)),
    }
    children.into_iter().map(extent).fold(own, |(s, e), (cs, ce)| (s.min(cs), e.max(ce)))
}

fn arg_expr<'e, 'a>(arg: &'e CallArg<'a>) -> &'e Expr<'a> {
    let (CallArg::Pos(e) | CallArg::Kwarg(_, e) | CallArg::PosSplat(e) | CallArg::KwargSplat(e)) = arg;
    e
}

fn span_of(expr: &Expr<'_>) -> Span {
    match expr {
        Expr::Var(e) => e.span(),
        Expr::Const(e) => e.span(),
        Expr::Slice(e) => e.span(),
        Expr::UnaryOp(e) => e.span(),
        Expr::BinOp(e) => e.span(),
        Expr::Compare(e) => e.span(),
        Expr::IfExpr(e) => e.span(),
        Expr::Filter(e) => e.span(),
        Expr::Test(e) => e.span(),
        Expr::GetAttr(e) => e.span(),
        Expr::GetItem(e) => e.span(),
        Expr::Call(e) => e.span(),
        Expr::List(e) => e.span(),
        Expr::Tuple(e) => e.span(),
        Expr::Map(e) => e.span(),
    }
}
