//! JSON schemas checked in Rust before llama.cpp's converter (`json_schema_to_grammar`) sees them.
//!
//! A schema comes from a client (`response_format`, a tool's `parameters`, an Anthropic tool's
//! `input_schema`) and is turned into a grammar that holds the reply to it. llama.cpp's converter
//! trusts what it is given: a contradictory range made a grammar that no token can satisfy (the
//! worker aborted), an empty range took the engine 50 s to refuse, an impossible array was answered
//! with output no schema allows, a `$ref` to itself gave `{}`, and a pattern it cannot convert is
//! silently replaced by "any string". `check` refuses each of these in microseconds, naming the
//! keyword and where it is (a JSON pointer), so a client learns what to fix.
//!
//! What is checked: the keywords the converter reads have the right types; every range has room
//! (`minimum`/`maximum` and their exclusive forms, lengths, item and property counts); counts that
//! the grammar spells out one by one stay small; `enum` is not empty; `$ref` points inside the
//! schema and resolves; no chain of `$ref`/`allOf`/`anyOf`/`oneOf` leads back to itself without
//! consuming anything; some finite JSON value matches (a required property that can only hold
//! itself has none); nesting, size and node count are bounded; and `pattern` is in the regex
//! subset the converter turns into a grammar. Keywords the converter ignores are left alone.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

/// The largest schema taken, as JSON text.
pub const MAX_SCHEMA_BYTES: usize = 256 * 1024;
/// How deeply schemas may nest inside each other.
pub const MAX_DEPTH: usize = 64;
/// How many schemas one may contain in all.
pub const MAX_NODES: usize = 10_000;
/// The largest count the grammar spells out: lengths, item counts, and `{m,n}` in a pattern.
pub const MAX_REPEAT: u64 = 4096;
/// The longest `pattern`, and how deeply its groups may nest.
pub const MAX_PATTERN_CHARS: usize = 4096;
pub const MAX_PATTERN_DEPTH: usize = 32;
/// Integer bounds are read by the converter as 64-bit integers; beyond 2^53 a JSON number is no
/// longer an exact integer anyway.
const MAX_INTEGER_BOUND: f64 = 9_007_199_254_740_992.0;

/// Why a schema is refused: the keyword, where it is (a JSON pointer into the schema, `#` its
/// root), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    pub keyword: String,
    pub path: String,
    pub why: String,
}

impl fmt::Display for SchemaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` at {}: {}", self.keyword, self.path, self.why)
    }
}

impl std::error::Error for SchemaError {}

fn refuse(keyword: &str, path: &str, why: impl Into<String>) -> SchemaError {
    SchemaError { keyword: keyword.into(), path: path.into(), why: why.into() }
}

/// Parses and checks a schema written as JSON text.
pub fn check_text(text: &str) -> Result<Value, SchemaError> {
    if text.len() > MAX_SCHEMA_BYTES {
        return Err(refuse("(schema)", "#", format!("the schema is {} bytes; at most {MAX_SCHEMA_BYTES} are taken", text.len())));
    }
    let value: Value = serde_json::from_str(text).map_err(|e| refuse("(schema)", "#", format!("it is not JSON ({e})")))?;
    check(&value)?;
    Ok(value)
}

/// Checks a schema (see the module's text); `Ok` means llama.cpp's converter can hold a reply to it.
pub fn check(schema: &Value) -> Result<(), SchemaError> {
    let size = serde_json::to_string(schema).map(|s| s.len()).unwrap_or(usize::MAX);
    if size > MAX_SCHEMA_BYTES {
        return Err(refuse("(schema)", "#", format!("the schema is {size} bytes; at most {MAX_SCHEMA_BYTES} are taken")));
    }
    let mut walk = Walk { root: schema, nodes: HashMap::new() };
    walk.node(schema, "#".to_string(), 0)?;
    walk.refs_name_schemas()?;
    walk.no_empty_cycles()?;
    walk.satisfiable()
}

/// What the walk keeps of each schema it met, by its JSON pointer.
struct Node<'a> {
    value: &'a Value,
    /// Where `$ref`, `allOf`, `anyOf` and `oneOf` lead (the pointer, and the keyword that leads
    /// there): schemas that apply at the same place in the value, consuming nothing.
    same_place: Vec<(String, &'static str)>,
}

struct Walk<'a> {
    root: &'a Value,
    nodes: HashMap<String, Node<'a>>,
}

const TYPES: [&str; 7] = ["string", "number", "integer", "boolean", "null", "object", "array"];

impl<'a> Walk<'a> {
    fn node(&mut self, value: &'a Value, path: String, depth: usize) -> Result<(), SchemaError> {
        if depth > MAX_DEPTH {
            return Err(refuse("(nesting)", &path, format!("schemas nest more than {MAX_DEPTH} deep")));
        }
        if self.nodes.len() >= MAX_NODES {
            return Err(refuse("(size)", &path, format!("the schema holds more than {MAX_NODES} schemas")));
        }
        let o = match value {
            Value::Bool(_) => {
                self.nodes.insert(path, Node { value, same_place: Vec::new() });
                return Ok(());
            }
            Value::Object(o) => o,
            _ => return Err(refuse("(schema)", &path, "a schema must be an object or true/false")),
        };
        let mut same_place = Vec::new();
        let at = |k: &str| format!("{path}/{}", escape(k));

        if let Some(t) = o.get("type") {
            let names: Vec<&Value> = match t {
                Value::Array(a) if !a.is_empty() => a.iter().collect(),
                Value::Array(_) => return Err(refuse("type", &path, "an empty list of types allows nothing")),
                one => vec![one],
            };
            for n in names {
                if !n.as_str().is_some_and(|s| TYPES.contains(&s)) {
                    return Err(refuse("type", &path, format!("{n} is not a JSON Schema type (one of {})", TYPES.join(", "))));
                }
            }
        }
        if let Some(e) = o.get("enum") {
            match e {
                Value::Array(a) if a.is_empty() => return Err(refuse("enum", &path, "an empty enum allows no value")),
                Value::Array(_) => {}
                _ => return Err(refuse("enum", &path, "must be a list of values")),
            }
        }
        for k in ["format", "$ref"] {
            if o.get(k).is_some_and(|v| !v.is_string()) {
                return Err(refuse(k, &path, "must be a string"));
            }
        }
        self.ranges(o, &path)?;
        if let Some(p) = o.get("pattern") {
            let p = p.as_str().ok_or_else(|| refuse("pattern", &path, "must be a string"))?;
            pattern(p).map_err(|why| refuse("pattern", &path, why))?;
        }
        if let Some(r) = o.get("required") {
            let names = r.as_array().filter(|a| a.iter().all(Value::is_string));
            if names.is_none() {
                return Err(refuse("required", &path, "must be a list of property names"));
            }
        }
        if let Some(target) = o.get("$ref").and_then(Value::as_str) {
            let resolved = self.resolve(target).ok_or_else(|| {
                if target.starts_with('#') {
                    refuse("$ref", &path, format!("{target:?} points at nothing in this schema"))
                } else {
                    refuse("$ref", &path, format!("{target:?} is outside this schema; only references inside it (\"#/...\") are followed"))
                }
            })?;
            same_place.push((resolved, "$ref"));
        }

        // The schemas inside this one.
        for k in ["properties", "$defs", "definitions"] {
            match o.get(k) {
                None => {}
                Some(Value::Object(m)) => {
                    for (name, sub) in m {
                        self.node(sub, format!("{}/{}", at(k), escape(name)), depth + 1)?;
                    }
                }
                Some(_) => return Err(refuse(k, &path, "must be an object of schemas")),
            }
        }
        for k in ["additionalProperties", "items", "not", "contains", "additionalItems"] {
            match o.get(k) {
                None => {}
                // Old-style tuple `items`.
                Some(Value::Array(a)) if k == "items" => {
                    for (i, sub) in a.iter().enumerate() {
                        self.node(sub, format!("{}/{i}", at(k)), depth + 1)?;
                    }
                }
                Some(sub) => self.node(sub, at(k), depth + 1)?,
            }
        }
        for k in ["prefixItems", "allOf", "anyOf", "oneOf"] {
            match o.get(k) {
                None => {}
                Some(Value::Array(a)) if !a.is_empty() => {
                    for (i, sub) in a.iter().enumerate() {
                        let p = format!("{}/{i}", at(k));
                        self.node(sub, p.clone(), depth + 1)?;
                        if k != "prefixItems" {
                            same_place.push((p, k));
                        }
                    }
                }
                Some(_) => return Err(refuse(k, &path, "must be a non-empty list of schemas")),
            }
        }
        self.nodes.insert(path, Node { value, same_place });
        Ok(())
    }

    /// Bounds have the right types and leave room for a value.
    fn ranges(&self, o: &Map<String, Value>, path: &str) -> Result<(), SchemaError> {
        for (lo, hi) in [("minLength", "maxLength"), ("minItems", "maxItems"), ("minProperties", "maxProperties")] {
            let count = |k: &str| -> Result<Option<u64>, SchemaError> {
                match o.get(k) {
                    None => Ok(None),
                    Some(v) => {
                        let n = v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64));
                        let n = n.ok_or_else(|| refuse(k, path, format!("must be a whole number of at least 0, not {v}")))?;
                        if n > MAX_REPEAT {
                            return Err(refuse(k, path, format!("{n} is more than the {MAX_REPEAT} a grammar can spell out")));
                        }
                        Ok(Some(n))
                    }
                }
            };
            if let (Some(a), Some(b)) = (count(lo)?, count(hi)?) {
                if a > b {
                    return Err(refuse(hi, path, format!("`{lo}` ({a}) is more than `{hi}` ({b}): no value fits")));
                }
            }
        }
        let number = |k: &str| -> Result<Option<f64>, SchemaError> {
            match o.get(k) {
                None => Ok(None),
                // Draft 4's boolean exclusiveMinimum/exclusiveMaximum: a flag on minimum/maximum.
                Some(Value::Bool(_)) if k.starts_with("exclusive") => Ok(None),
                Some(v) => {
                    v.as_f64().filter(|f| f.is_finite()).map(Some).ok_or_else(|| refuse(k, path, format!("must be a number, not {v}")))
                }
            }
        };
        let flag = |k: &str| o.get(k).and_then(Value::as_bool).unwrap_or(false);
        // The tightest lower and upper bound, and whether each excludes its value.
        let mut low: Option<(f64, bool, &str)> = number("minimum")?.map(|v| (v, flag("exclusiveMinimum"), "minimum"));
        if let Some(v) = number("exclusiveMinimum")? {
            if low.is_none_or(|(l, _, _)| v >= l) {
                low = Some((v, true, "exclusiveMinimum"));
            }
        }
        let mut high: Option<(f64, bool, &str)> = number("maximum")?.map(|v| (v, flag("exclusiveMaximum"), "maximum"));
        if let Some(v) = number("exclusiveMaximum")? {
            if high.is_none_or(|(h, _, _)| v <= h) {
                high = Some((v, true, "exclusiveMaximum"));
            }
        }
        let integer_only = match o.get("type") {
            Some(Value::String(t)) => t == "integer",
            _ => false,
        };
        if integer_only {
            for (v, _, k) in low.iter().chain(high.iter()) {
                if v.abs() > MAX_INTEGER_BOUND {
                    return Err(refuse(k, path, format!("{v} is beyond the integers a grammar can bound (±2^53)")));
                }
            }
        }
        if let (Some((l, lx, lk)), Some((h, hx, hk))) = (low, high) {
            let empty = if integer_only {
                // The smallest and largest integers inside the bounds.
                let first = if lx { l.floor() + 1.0 } else { l.ceil() };
                let last = if hx { h.ceil() - 1.0 } else { h.floor() };
                first > last
            } else {
                l > h || (l == h && (lx || hx))
            };
            if empty {
                let what = if integer_only { "no integer" } else { "no number" };
                return Err(refuse(hk, path, format!("`{lk}` ({l}) and `{hk}` ({h}) leave {what} between them")));
            }
        }
        Ok(())
    }

    /// A `$ref` inside the schema ("#" or a JSON pointer "#/…"), as the pointer of the schema it
    /// names; `None` when it names nothing here.
    fn resolve(&self, target: &str) -> Option<String> {
        let pointer = target.strip_prefix('#')?;
        if !pointer.is_empty() && !pointer.starts_with('/') {
            return None;
        }
        let mut at = self.root;
        for part in pointer.split('/').skip(1) {
            let part = part.replace("~1", "/").replace("~0", "~");
            at = match at {
                Value::Object(o) => o.get(&part)?,
                Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        matches!(at, Value::Object(_) | Value::Bool(_)).then(|| format!("#{pointer}"))
    }

    /// Every `$ref` names a schema (not, say, the object that holds `properties`).
    fn refs_name_schemas(&self) -> Result<(), SchemaError> {
        for (path, node) in &self.nodes {
            if let Some((to, _)) = node.same_place.iter().find(|(to, _)| !self.nodes.contains_key(to.as_str())) {
                return Err(refuse("$ref", path, format!("{to:?} names something in the schema that is not a schema")));
            }
        }
        Ok(())
    }

    /// No schema leads back to itself through `$ref`, `allOf`, `anyOf` or `oneOf` alone: its
    /// grammar rule would be defined by itself and match nothing (or, as the converter resolved
    /// it, anything).
    fn no_empty_cycles(&self) -> Result<(), SchemaError> {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            Open,
            Done,
        }
        let mut marks: HashMap<&str, Mark> = HashMap::new();
        // In order, so that the same schema is always refused with the same words.
        let mut starts: Vec<&String> = self.nodes.keys().collect();
        starts.sort();
        for start in starts {
            if marks.contains_key(start.as_str()) {
                continue;
            }
            // Depth-first, without recursion (a chain can be as long as the schema).
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            marks.insert(start, Mark::Open);
            while let Some((at, next)) = stack.pop() {
                let edges = self.nodes.get(at).map(|n| n.same_place.as_slice()).unwrap_or(&[]);
                match edges.get(next) {
                    None => {
                        marks.insert(at, Mark::Done);
                    }
                    Some((to, keyword)) => {
                        stack.push((at, next + 1));
                        match marks.get(to.as_str()) {
                            Some(Mark::Open) => {
                                return Err(refuse(
                                    keyword,
                                    at,
                                    format!("leads back to {to} without any value in between: the schema defines itself"),
                                ))
                            }
                            Some(Mark::Done) => {}
                            None => {
                                marks.insert(to, Mark::Open);
                                stack.push((to, 0));
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Some finite JSON value matches the root. Worked out as a least fixed point: a schema is
    /// satisfiable once what it needs is (its required properties, its first `minItems` items, its
    /// `$ref` and `allOf`, one of its `anyOf`/`oneOf`), starting from nothing and looking again at
    /// what refers to each schema that becomes so; what is still unsatisfiable then can only be
    /// matched by an infinite value.
    fn satisfiable(&self) -> Result<(), SchemaError> {
        // A work list: a schema is looked at again only when one it refers to has just become
        // satisfiable (sweeping every schema until nothing changed was quadratic: a chain of 1,500
        // references took 1.5 s).
        let mut dependents: HashMap<String, Vec<&str>> = HashMap::new();
        for (path, node) in &self.nodes {
            for on in self.refers_to(path, node) {
                dependents.entry(on).or_default().push(path);
            }
        }
        let mut sat: HashSet<&str> = HashSet::new();
        let mut work: Vec<&str> = self.nodes.keys().map(String::as_str).collect();
        while let Some(path) = work.pop() {
            if sat.contains(path) || !self.holds(path, &self.nodes[path], &sat) {
                continue;
            }
            sat.insert(path);
            work.extend(dependents.get(path).into_iter().flatten().copied().filter(|d| !sat.contains(d)));
        }
        if sat.contains("#") {
            return Ok(());
        }
        // Name the place that cannot be matched: down from the root through what it needs, to
        // the first schema met twice (a schema that requires itself) or that needs nothing more.
        let mut at = "#".to_string();
        let mut seen = HashSet::new();
        while seen.insert(at.clone()) {
            match self.needs(&at, &self.nodes[&at]).into_iter().find(|n| !sat.contains(n.as_str())) {
                Some(next) => at = next,
                None => break,
            }
        }
        Err(refuse(
            keyword_at(&at, &self.nodes),
            &at,
            "no finite JSON value matches the schema here (it requires itself, or nothing is allowed)",
        ))
    }

    /// Every schema whose being satisfiable can change whether `path` is (see `holds`).
    fn refers_to(&self, path: &str, node: &Node) -> Vec<String> {
        let mut out = self.needs(path, node);
        if let Value::Object(o) = node.value {
            for k in ["anyOf", "oneOf", "prefixItems"] {
                let n = o.get(k).and_then(Value::as_array).map_or(0, Vec::len);
                out.extend((0..n).map(|i| format!("{path}/{k}/{i}")));
            }
            if o.get("items").is_some_and(|i| !i.is_array()) {
                out.push(format!("{path}/items"));
            }
        }
        out
    }

    /// The schemas `path` needs matched (all of them; for `anyOf`/`oneOf`, see `holds`).
    fn needs(&self, path: &str, node: &Node) -> Vec<String> {
        let Value::Object(o) = node.value else { return Vec::new() };
        let mut out = Vec::new();
        if let Some(r) = o.get("$ref").and_then(Value::as_str).and_then(|r| self.resolve(r)) {
            out.push(r);
        }
        if let Some(a) = o.get("allOf").and_then(Value::as_array) {
            out.extend((0..a.len()).map(|i| format!("{path}/allOf/{i}")));
        }
        if only_type(o, "object") {
            for name in required(o) {
                if o.get("properties").and_then(|p| p.get(name)).is_some() {
                    out.push(format!("{path}/properties/{}", escape(name)));
                }
            }
        }
        out
    }

    fn holds(&self, path: &str, node: &Node, sat: &HashSet<&str>) -> bool {
        let o = match node.value {
            Value::Bool(b) => return *b,
            Value::Object(o) => o,
            _ => return false,
        };
        let ok = |p: &str| sat.contains(p);
        if !self.needs(path, node).iter().all(|p| ok(p)) {
            return false;
        }
        for k in ["anyOf", "oneOf"] {
            if let Some(a) = o.get(k).and_then(Value::as_array) {
                if !(0..a.len()).any(|i| ok(&format!("{path}/{k}/{i}"))) {
                    return false;
                }
            }
        }
        if only_type(o, "object") {
            let closed = o.get("additionalProperties") == Some(&Value::Bool(false));
            let declared = |n: &str| o.get("properties").and_then(|p| p.get(n)).is_some();
            if closed && required(o).any(|n| !declared(n)) {
                return false;
            }
        }
        if only_type(o, "array") {
            let min = o.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
            let prefix = o.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
            if (0..min.min(prefix)).any(|i| !ok(&format!("{path}/prefixItems/{i}"))) {
                return false;
            }
            if min > prefix && o.get("items").is_some_and(|i| !i.is_array()) && !ok(&format!("{path}/items")) {
                return false;
            }
        }
        true
    }
}

fn only_type(o: &Map<String, Value>, t: &str) -> bool {
    o.get("type").and_then(Value::as_str) == Some(t)
}

fn required(o: &Map<String, Value>) -> impl Iterator<Item = &str> {
    o.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str)
}

/// The keyword that makes the schema at `path` hard to match, for the error.
fn keyword_at(path: &str, nodes: &HashMap<String, Node>) -> &'static str {
    let Some(Value::Object(o)) = nodes.get(path).map(|n| n.value) else { return "(schema)" };
    ["$ref", "allOf", "anyOf", "oneOf", "required", "minItems"].into_iter().find(|k| o.contains_key(*k)).unwrap_or("(schema)")
}

/// A property name as a JSON pointer writes it.
fn escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// A `pattern` in the subset of regular expressions llama.cpp's converter turns into a grammar
/// (anything else it replaces with "any string", which would not hold the reply to the pattern):
/// anchored with `^…$`, no anchors inside, groups `(…)` and `(?:…)` only, character classes,
/// `. | * + ?`, counts `{m}`, `{m,}`, `{,n}`, `{m,n}`, and the escapes `\t \r \n \\ \" \[ \] \-
/// \xHH \uHHHH \UHHHHHHHH` or a metacharacter.
pub fn pattern(p: &str) -> Result<(), String> {
    if p.len() > MAX_PATTERN_CHARS {
        return Err(format!("the pattern is {} characters long; at most {MAX_PATTERN_CHARS} are taken", p.len()));
    }
    let inner = p
        .strip_prefix('^')
        .and_then(|s| s.strip_suffix('$'))
        .filter(|_| p.len() >= 2)
        .ok_or("a pattern must start with ^ and end with $ (the grammar matches the whole string)")?;
    let c: Vec<char> = inner.chars().collect();
    let (mut i, mut depth) = (0, 0usize);
    // Whether the last thing read can take a quantifier.
    let mut atom = false;
    while i < c.len() {
        match c[i] {
            '(' => {
                if c.get(i + 1) == Some(&'?') {
                    if c.get(i + 2) != Some(&':') {
                        return Err("lookarounds, named groups and flags (?…) are not supported; use (…) or (?:…)".into());
                    }
                    i += 2;
                }
                depth += 1;
                if depth > MAX_PATTERN_DEPTH {
                    return Err(format!("groups nest more than {MAX_PATTERN_DEPTH} deep"));
                }
                atom = false;
                i += 1;
            }
            ')' => {
                depth = depth.checked_sub(1).ok_or("a ) closes no group")?;
                atom = true;
                i += 1;
            }
            '^' | '$' => return Err("^ and $ may only start and end the pattern".into()),
            '[' => {
                i += 1;
                while i < c.len() && c[i] != ']' {
                    i += if c[i] == '\\' { escape_len(&c, i).ok_or_else(|| unsupported_escape(&c, i))? } else { 1 };
                }
                if i >= c.len() {
                    return Err("a [ character class is not closed".into());
                }
                atom = true;
                i += 1;
            }
            '*' | '+' | '?' => {
                if !atom {
                    return Err(format!("{} follows nothing it could repeat", c[i]));
                }
                atom = false;
                i += 1;
            }
            '{' => {
                let close = c[i..].iter().position(|&x| x == '}').ok_or("a { count is not closed")? + i;
                let body: String = c[i + 1..close].iter().collect();
                let parts: Vec<&str> = body.split(',').collect();
                let num = |s: &str| -> Result<Option<u64>, String> {
                    if s.is_empty() {
                        return Ok(None);
                    }
                    let n: u64 = s.parse().map_err(|_| format!("{{{body}}} is not a count"))?;
                    if n > MAX_REPEAT {
                        return Err(format!("{{{body}}} counts past the {MAX_REPEAT} a grammar can spell out"));
                    }
                    Ok(Some(n))
                };
                let (lo, hi) = match parts[..] {
                    [one] => (num(one)?.ok_or_else(|| format!("{{{body}}} is not a count"))?, None),
                    [a, b] => (num(a)?.unwrap_or(0), num(b)?),
                    _ => return Err(format!("{{{body}}} is not a count")),
                };
                if hi.is_some_and(|h| lo > h) {
                    return Err(format!("{{{body}}} asks for at least {lo} and at most {}", hi.unwrap_or(0)));
                }
                if !atom {
                    return Err(format!("{{{body}}} follows nothing it could repeat"));
                }
                atom = false;
                i = close + 1;
            }
            '|' => {
                atom = false;
                i += 1;
            }
            ']' | '}' => return Err(format!("a stray {}", c[i])),
            '\\' => {
                let next = *c.get(i + 1).ok_or("the pattern ends with a lone \\")?;
                i += if "^$.[]()|{}*+?".contains(next) { 2 } else { escape_len(&c, i).ok_or_else(|| unsupported_escape(&c, i))? };
                atom = true;
            }
            _ => {
                atom = true;
                i += 1;
            }
        }
    }
    if depth > 0 {
        return Err("a ( group is not closed".into());
    }
    Ok(())
}

/// The length of the escape at `c[i]` (a backslash) that llama.cpp's grammar reads, or `None`.
fn escape_len(c: &[char], i: usize) -> Option<usize> {
    let hex = match c.get(i + 1)? {
        't' | 'r' | 'n' | '\\' | '"' | '[' | ']' | '-' => return Some(2),
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return None,
    };
    (c.len() >= i + 2 + hex && c[i + 2..i + 2 + hex].iter().all(char::is_ascii_hexdigit)).then_some(2 + hex)
}

fn unsupported_escape(c: &[char], i: usize) -> String {
    let e: String = c[i..(i + 2).min(c.len())].iter().collect();
    let hint = match c.get(i + 1) {
        Some('d') => " (write [0-9])",
        Some('w') => " (write [a-zA-Z0-9_])",
        Some('s') => " (write [ \\t\\n\\r])",
        _ => "",
    };
    format!("the escape {e} is not supported by the grammar{hint}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(schema: Value) -> SchemaError {
        check(&schema).expect_err(&format!("refused: {schema}"))
    }

    #[test]
    fn ordinary_schemas_pass() {
        for s in [
            json!({"type": "object"}),
            json!(true),
            json!({"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 40}, "age": {"type": "integer", "minimum": 0, "maximum": 150}}, "required": ["name"]}),
            json!({"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1, "maxItems": 3}),
            json!({"type": ["string", "null"], "pattern": "^[A-Z]{2}-(?:[0-9]{3}|x+)$"}),
            json!({"anyOf": [{"$ref": "#/$defs/leaf"}, {"type": "null"}], "$defs": {"leaf": {"enum": [1, 2]}}}),
            // A tree: recursion through an optional property or a list is fine.
            json!({"$defs": {"node": {"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/node"}}, "next": {"$ref": "#/$defs/node"}}}}, "$ref": "#/$defs/node"}),
            json!({"type": "integer", "minimum": 2, "maximum": 2}),
            json!({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 3}),
            json!({"type": "object", "unknownKeyword": {"whatever": 1}, "patternProperties": {"^x": {}}}),
        ] {
            assert_eq!(check(&s), Ok(()), "{s}");
        }
    }

    #[test]
    fn contradictory_ranges_name_the_keyword_and_where_it_is() {
        let e = refused(json!({"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 2}}}));
        assert_eq!((e.keyword.as_str(), e.path.as_str()), ("maximum", "#/properties/n"), "{e}");
        let e = refused(json!({"type": "string", "minLength": 2, "maxLength": 1}));
        assert_eq!((e.keyword.as_str(), e.path.as_str()), ("maxLength", "#"), "{e}");
        let e = refused(json!({"type": "array", "minItems": 3, "maxItems": 1}));
        assert_eq!(e.keyword, "maxItems");
        // No integer strictly between 1 and 2, though numbers there are.
        assert_eq!(refused(json!({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2})).keyword, "exclusiveMaximum");
        assert_eq!(check(&json!({"type": "number", "exclusiveMinimum": 1, "exclusiveMaximum": 2})), Ok(()));
        assert_eq!(refused(json!({"type": "number", "minimum": 1, "exclusiveMaximum": 1})).keyword, "exclusiveMaximum");
        assert_eq!(refused(json!({"type": "string", "maxLength": 1_000_000})).keyword, "maxLength");
        assert_eq!(refused(json!({"type": "string", "minLength": -1})).keyword, "minLength");
        assert_eq!(refused(json!({"type": "integer", "minimum": 1e300})).keyword, "minimum");
        assert_eq!(refused(json!({"enum": []})).keyword, "enum");
        assert_eq!(refused(json!({"type": "strin"})).keyword, "type");
    }

    #[test]
    fn references_resolve_inside_and_never_define_themselves() {
        let e = refused(json!({"allOf": [{"$ref": "#"}]}));
        assert_eq!((e.keyword.as_str(), e.path.as_str()), ("$ref", "#/allOf/0"), "{e}");
        assert!(e.why.contains("defines itself"), "{e}");
        let e = refused(json!({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}));
        assert!(e.why.contains("defines itself"), "{e}");
        assert_eq!(refused(json!({"$ref": "#/$defs/missing"})).keyword, "$ref");
        assert!(refused(json!({"$ref": "https://example.com/schema.json"})).why.contains("outside this schema"));
        // Only an infinite value matches: a required property that is the object itself.
        let e = refused(json!({"type": "object", "properties": {"me": {"$ref": "#"}}, "required": ["me"]}));
        assert!(e.why.contains("no finite JSON value"), "{e}");
        // A required property that a closed object does not allow.
        assert!(refused(json!({"type": "object", "properties": {}, "required": ["a"], "additionalProperties": false}))
            .why
            .contains("no finite"));
    }

    #[test]
    fn a_long_chain_of_required_references_is_worked_out() {
        // d0 requires d1 ... requires a string: satisfiable, found from the end back.
        let n = 2900;
        let defs: Map<String, Value> = (0..n)
            .map(|i| {
                let d = if i + 1 == n {
                    json!({"type": "string"})
                } else {
                    json!({"type": "object", "properties": {"x": {"$ref": format!("#/$defs/d{}", i + 1)}}, "required": ["x"]})
                };
                (format!("d{i}"), d)
            })
            .collect();
        let mut s = json!({"$defs": defs, "$ref": "#/$defs/d0"});
        assert_eq!(check(&s), Ok(()));
        // The last one needing the first: only an infinite value would do.
        s["$defs"][format!("d{}", n - 1)] = json!({"type": "object", "properties": {"x": {"$ref": "#/$defs/d0"}}, "required": ["x"]});
        assert!(check(&s).unwrap_err().why.contains("no finite"));
    }

    #[test]
    fn size_and_nesting_are_bounded() {
        let mut deep = json!({"type": "string"});
        for _ in 0..100 {
            deep = json!({"type": "array", "items": deep});
        }
        assert_eq!(refused(deep).keyword, "(nesting)");
        let wide: Map<String, Value> = (0..12_000).map(|i| (format!("p{i}"), json!(true))).collect();
        assert_eq!(refused(json!({"type": "object", "properties": wide})).keyword, "(size)");
        assert_eq!(check_text("{").unwrap_err().keyword, "(schema)");
    }

    #[test]
    fn patterns_are_held_to_what_the_grammar_can_say() {
        for ok in ["^abc$", "^[a-z0-9_-]+@[a-z]+\\.[a-z]{2,}$", "^(a|b)*c?$", "^\\x41{1,3}$", "^(?:ab)+$", "^\\$\\.$"] {
            assert_eq!(pattern(ok), Ok(()), "{ok}");
        }
        for (bad, says) in [
            ("^*$", "follows nothing"),
            ("abc", "start with ^"),
            ("^a(?=b)$", "lookarounds"),
            ("^\\d{3}$", "write [0-9]"),
            ("^(a$", "not closed"),
            ("^a)$", "closes no group"),
            ("^a{3,1}$", "at least 3"),
            ("^a{99999}$", "counts past"),
            ("^a^b$", "may only start"),
            ("^[abc$", "not closed"),
            ("^(\\1)$", "not supported"),
        ] {
            let e = pattern(bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
        }
        let nested = format!("^{}a{}$", "(".repeat(1000), ")".repeat(1000));
        assert!(pattern(&nested).unwrap_err().contains("nest"));
        assert!(pattern(&"a".repeat(5000)).unwrap_err().contains("at most"));
        let e = refused(json!({"type": "object", "properties": {"code": {"type": "string", "pattern": "^*$"}}}));
        assert_eq!((e.keyword.as_str(), e.path.as_str()), ("pattern", "#/properties/code"));
    }
}
