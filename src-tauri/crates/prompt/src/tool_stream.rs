//! Tool calls found while the model writes them, so that a client sees a call's name and then its
//! arguments arrive piece by piece, as OpenAI's and Anthropic's streams send them, instead of the
//! whole reply held back until it ends.
//!
//! `CallStream` takes the reply's text as it comes and gives back `Piece`s: text meant for the
//! person, and calls (the name first, then the arguments' JSON text in fragments). What it has
//! not decided yet it holds: a suffix that could begin a `<tool_call>` tag, a reply that opens
//! like JSON until it is clearly a call (its `"name"` read and its `"arguments"` begun) or clearly
//! not one. Two shapes are streamed as they are written, the ones local models use: Hermes / Qwen
//! `<tool_call>{"name": …, "arguments": {…}}</tool_call>` (also Hearth's own format for templates
//! that know no tools) and a reply that is JSON (Llama 3's calls, a forced call or array of calls).
//! Anything else (`[TOOL_CALLS]`, `<|python_tag|>`, a name written after its arguments, nested
//! `function` objects) is held and read whole by `tools::parse` when its part of the reply ends.
//! The text sent never has to be taken back: a piece is only given once it is certain.
//!
//! Arguments stream as the model writes them (`{"city": "Paris"}`), which may differ in white
//! space from the whole reply's `parse` (`{"city":"Paris"}`); both are the same JSON.

use crate::tools::{self, FoundCall};

/// A part of the reply, decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// Call `index` (from 0, in the reply's order): `name` on its first piece only, then more of
    /// its arguments' JSON text.
    Call { index: usize, name: Option<String>, arguments: String },
}

const MARKERS: [&str; 3] = ["<tool_call>", "[TOOL_CALLS]", "<|python_tag|>"];

/// The reply so far and what of it has been given out.
#[derive(Debug, Default)]
pub struct CallStream {
    all: String,
    text_sent: String,
    /// Per call given out (its name was sent): its arguments sent so far.
    calls_sent: Vec<String>,
}

/// A call as far as the reply has written it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Partial {
    name: String,
    arguments: String,
}

/// What is decided of the reply: the person's text, and the calls begun.
#[derive(Debug, Default)]
struct View {
    text: String,
    calls: Vec<Partial>,
}

impl CallStream {
    pub fn new() -> Self {
        Self::default()
    }

    /// More of the reply; the pieces now decided.
    pub fn push(&mut self, text: &str) -> Vec<Piece> {
        self.all.push_str(text);
        let view = view(&self.all, false);
        self.give(view)
    }

    /// The reply has ended: everything still held, decided.
    pub fn finish(&mut self) -> Vec<Piece> {
        let view = view(&self.all, true);
        self.give(view)
    }

    fn give(&mut self, view: View) -> Vec<Piece> {
        let mut out = Vec::new();
        // What is given is only ever added to: a view that no longer starts with what was given
        // (the end's whole reading of a reply cut mid-call) gives nothing more for that part
        // rather than something that does not follow from it.
        if let Some(more) = view.text.strip_prefix(self.text_sent.as_str()).filter(|m| !m.is_empty()) {
            out.push(Piece::Text(more.to_string()));
            self.text_sent = view.text;
        }
        for (index, call) in view.calls.into_iter().enumerate() {
            match self.calls_sent.get_mut(index) {
                None => {
                    out.push(Piece::Call { index, name: Some(call.name), arguments: call.arguments.clone() });
                    self.calls_sent.push(call.arguments);
                }
                Some(sent) => {
                    if let Some(more) = call.arguments.strip_prefix(sent.as_str()).filter(|m| !m.is_empty()) {
                        out.push(Piece::Call { index, name: None, arguments: more.to_string() });
                        *sent = call.arguments;
                    }
                }
            }
        }
        out
    }
}

/// What of `all` is decided; at the `end`, all of it.
fn view(all: &str, end: bool) -> View {
    if let Some(at) = all.find("<tool_call>") {
        if let Some(v) = tagged(all, at, end) {
            return v;
        }
    }
    let marker = MARKERS.iter().filter_map(|m| all.find(m).map(|at| (at, *m))).min();
    if let Some((at, _)) = marker {
        // `[TOOL_CALLS]`, `<|python_tag|>`, or a `<tool_call>` whose calls did not parse: read
        // whole at the end; until then the text before it is the person's.
        return if end { whole(all) } else { View { text: all[..at].to_string(), calls: Vec::new() } };
    }
    let body = all.trim_start();
    if body.is_empty() {
        return View { text: if end { all.to_string() } else { String::new() }, calls: Vec::new() };
    }
    if opens_json(body) {
        return match scan(body) {
            // A reply cut mid-call ends with what was written of it: it cannot be taken back.
            Scan::Calls(calls) if !calls.is_empty() => View { text: String::new(), calls },
            Scan::Undecided | Scan::Calls(_) if !end => View::default(),
            _ if end => whole(all),
            // A JSON value that is no call: the person's text after all.
            _ => View { text: all.to_string(), calls: Vec::new() },
        };
    }
    // Plain text: all of it, but a tail that could begin a marker.
    let held = if end { 0 } else { marker_prefix(all) };
    View { text: all[..all.len() - held].to_string(), calls: Vec::new() }
}

/// The whole reply read by `tools::parse`, as the end decides it.
fn whole(all: &str) -> View {
    let parsed = tools::parse(all);
    let calls = parsed.calls.into_iter().map(|FoundCall { name, arguments }| Partial { name, arguments }).collect::<Vec<_>>();
    if calls.is_empty() {
        View { text: all.to_string(), calls }
    } else {
        View { text: parsed.content, calls }
    }
}

/// Hermes / Qwen: text, then `<tool_call>` tags, text between them the person's. `None` when a
/// tag holds something that is no call (then `parse` decides at the end).
fn tagged(all: &str, first: usize, end: bool) -> Option<View> {
    const OPEN: &str = "<tool_call>";
    const CLOSE: &str = "</tool_call>";
    let mut view = View { text: all[..first].to_string(), calls: Vec::new() };
    let mut rest = &all[first..];
    while let Some(start) = rest.find(OPEN) {
        view.text.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let (inner, closed, next) = match after.find(CLOSE) {
            Some(stop) => (&after[..stop], true, &after[stop + CLOSE.len()..]),
            None => (after, false, ""),
        };
        match scan(inner.trim_start()) {
            Scan::Calls(calls) if !calls.is_empty() => view.calls.extend(calls),
            Scan::Undecided | Scan::Calls(..) if !closed && !end => return Some(view),
            _ => return if end { Some(whole(all)) } else { None },
        }
        if !closed {
            return Some(view);
        }
        rest = next;
    }
    let held = if end { 0 } else { marker_prefix(rest) };
    view.text.push_str(&rest[..rest.len() - held]);
    Some(view)
}

fn opens_json(body: &str) -> bool {
    body.starts_with('{') || body.starts_with('[') || body.starts_with("```") || "```".starts_with(body)
}

/// The length of the longest tail of `text` that a marker begins with.
fn marker_prefix(text: &str) -> usize {
    MARKERS
        .iter()
        .flat_map(|m| (1..m.len()).rev().filter(|&n| text.ends_with(&m[..n])).take(1))
        .max()
        .unwrap_or(0)
}

enum Scan {
    /// Calls begun, each with its name read.
    Calls(Vec<Partial>),
    /// Not yet known whether this JSON holds a call.
    Undecided,
    /// JSON that holds no call this scanner can stream (or no JSON at all).
    NoCalls,
}

/// The calls in JSON text that may still be being written: `{"name", "arguments"}` objects,
/// alone, one after another, or in an array, fenced in ``` or not.
fn scan(text: &str) -> Scan {
    let body = text.trim_start();
    if body.len() < 3 && "```".starts_with(body) {
        return Scan::Undecided;
    }
    let body = match body.strip_prefix("```") {
        Some(fenced) => match fenced.find('\n') {
            Some(nl) => fenced[nl + 1..].trim_start(),
            None => return Scan::Undecided,
        },
        None => body,
    };
    let b = body.as_bytes();
    let mut calls = Vec::new();
    let mut pos = 0;
    let in_array = b.first() == Some(&b'[');
    if in_array {
        pos += 1;
    }
    loop {
        pos = skip_ws(b, pos);
        match b.get(pos) {
            None => return if calls.is_empty() { Scan::Undecided } else { Scan::Calls(calls) },
            Some(b'{') => {}
            Some(_) => return if calls.is_empty() { Scan::NoCalls } else { Scan::Calls(calls) },
        }
        match object(body, pos) {
            Object::Whole(Some(next)) => {
                calls.extend(tools::parse(&body[pos..next]).calls.into_iter().map(|c| Partial { name: c.name, arguments: c.arguments }));
                pos = next;
            }
            Object::Whole(None) => return if calls.is_empty() { Scan::Undecided } else { Scan::Calls(calls) },
            Object::Call(call, Some(next)) => {
                calls.push(call);
                pos = skip_ws(b, next);
                match b.get(pos) {
                    Some(b',') if in_array => pos += 1,
                    Some(b';') if !in_array => pos += 1,
                    _ => {}
                }
            }
            Object::Call(call, None) => {
                calls.push(call);
                return Scan::Calls(calls);
            }
            Object::Partial => return if calls.is_empty() { Scan::Undecided } else { Scan::Calls(calls) },
            Object::NotACall => return if calls.is_empty() { Scan::NoCalls } else { Scan::Calls(calls) },
        }
    }
}

enum Object {
    /// A call whose name is read; where the object ends, once it has.
    Call(Partial, Option<usize>),
    /// Not yet known.
    Partial,
    /// A shape read whole once written (OpenAI's own `function` / `tool_calls` nesting): where
    /// it ends, once it has.
    Whole(Option<usize>),
    NotACall,
}

/// The object at `text[start]` (a `{`): a call once its `"name"` is read and its arguments begun.
fn object(text: &str, start: usize) -> Object {
    let b = text.as_bytes();
    let mut pos = start + 1;
    let mut name: Option<String> = None;
    let mut arguments: Option<(usize, Option<usize>, bool)> = None; // start, end, is a string
    loop {
        pos = skip_ws(b, pos);
        match b.get(pos) {
            None => break,
            Some(b'}') => {
                let end = Some(pos + 1);
                return match (name, arguments) {
                    (Some(name), None) => Object::Call(Partial { name, arguments: "{}".into() }, end),
                    (Some(name), Some((from, Some(to), is_string))) => Object::Call(Partial { name, arguments: args(&text[from..to], is_string) }, end),
                    _ => Object::NotACall,
                };
            }
            Some(b',') => {
                pos += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return Object::NotACall,
        }
        let Some(key_end) = string_end(b, pos) else { break };
        let key: String = match serde_json::from_str(&text[pos..key_end]) {
            Ok(k) => k,
            Err(_) => return Object::NotACall,
        };
        pos = skip_ws(b, key_end);
        match b.get(pos) {
            None => break,
            Some(b':') => pos = skip_ws(b, pos + 1),
            Some(_) => return Object::NotACall,
        }
        if pos >= b.len() {
            break;
        }
        let ends = value_end(b, pos);
        match key.as_str() {
            "name" => {
                if b[pos] != b'"' {
                    return Object::NotACall;
                }
                let Some(end) = ends else { break };
                match serde_json::from_str::<String>(&text[pos..end]) {
                    Ok(n) => name = Some(n),
                    Err(_) => return Object::NotACall,
                }
            }
            "arguments" | "parameters" => arguments = Some((pos, ends, b[pos] == b'"')),
            "function" | "tool_calls" => return Object::Whole(value_end(b, start)),
            _ => {}
        }
        match ends {
            Some(end) => pos = end,
            None => break,
        }
    }
    // The object is not complete yet.
    match (name, arguments) {
        (Some(name), Some((from, to, false))) => {
            Object::Call(Partial { name, arguments: text[from..to.unwrap_or(text.len())].to_string() }, None)
        }
        _ => Object::Partial,
    }
}

/// Arguments as `parse` reads them: JSON text; a JSON string holding JSON is that JSON.
fn args(raw: &str, is_string: bool) -> String {
    if !is_string {
        return raw.to_string();
    }
    let s: String = serde_json::from_str(raw).unwrap_or_default();
    serde_json::from_str::<serde_json::Value>(&s).map_or_else(|_| serde_json::json!(s).to_string(), |v| v.to_string())
}

fn skip_ws(b: &[u8], mut pos: usize) -> usize {
    while b.get(pos).is_some_and(u8::is_ascii_whitespace) {
        pos += 1;
    }
    pos
}

/// Where the string starting at `b[start]` (a `"`) ends, past its closing quote.
fn string_end(b: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// Where the JSON value starting at `b[start]` ends, or `None` while it is still being written.
fn value_end(b: &[u8], start: usize) -> Option<usize> {
    match b[start] {
        b'"' => string_end(b, start),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = start;
            while i < b.len() {
                match b[i] {
                    b'"' => {
                        i = string_end(b, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        _ => {
            // A number, true, false or null: ends at a delimiter (one not yet written: not yet).
            let mut i = start;
            while i < b.len() && !matches!(b[i], b',' | b'}' | b']') && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            (i < b.len()).then_some(i)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The reply streamed in pieces of `size` bytes (at char boundaries): the person's text and
    /// the calls (name, arguments) as a client puts them together.
    fn streamed(reply: &str, size: usize) -> (String, Vec<(String, String)>, Vec<Piece>) {
        let mut s = CallStream::new();
        let mut pieces = Vec::new();
        let mut rest = reply;
        while !rest.is_empty() {
            let mut n = size.min(rest.len());
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            pieces.extend(s.push(&rest[..n]));
            rest = &rest[n..];
        }
        pieces.extend(s.finish());
        let mut text = String::new();
        let mut calls: Vec<(String, String)> = Vec::new();
        for p in &pieces {
            match p {
                Piece::Text(t) => text.push_str(t),
                Piece::Call { index, name, arguments } => {
                    if let Some(name) = name {
                        assert_eq!(*index, calls.len(), "calls begin in order: {pieces:?}");
                        calls.push((name.clone(), String::new()));
                    }
                    calls[*index].1.push_str(arguments);
                }
            }
        }
        (text, calls, pieces)
    }

    fn json(s: &str) -> Value {
        serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
    }

    /// Streamed in any pieces, a reply gives what `parse` finds in it whole: the same calls (the
    /// same JSON) and the same text (up to the white space `parse` trims).
    fn agrees_with_parse(reply: &str) {
        let whole = tools::parse(reply);
        for size in [1, 2, 3, 7, 16, reply.len().max(1)] {
            let (text, calls, pieces) = streamed(reply, size);
            assert_eq!(text.trim(), whole.content.trim(), "text, in pieces of {size}: {pieces:?}");
            assert_eq!(calls.len(), whole.calls.len(), "calls, in pieces of {size}: {pieces:?}");
            for ((name, arguments), call) in calls.iter().zip(&whole.calls) {
                assert_eq!(name, &call.name);
                assert_eq!(json(arguments), json(&call.arguments), "in pieces of {size}: {pieces:?}");
            }
        }
    }

    #[test]
    fn every_format_streamed_in_any_pieces_gives_what_the_whole_reply_gives() {
        for reply in [
            "Plain text, no call at all. <b>bold</b> and [brackets].",
            "Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"days\": [1, 2]}}\n</tool_call>",
            "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": {\"x\": \"}{\\\"\"}}\n</tool_call>\nDone.",
            "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\"}}",
            "[{\"name\": \"a\", \"arguments\": {\"n\": 1}}, {\"name\": \"b\", \"arguments\": {\"n\": 2.5e3, \"ok\": true}}]",
            "{\"name\": \"a\", \"arguments\": \"{\\\"q\\\": 1}\"}",
            "{\"arguments\": {\"q\": 1}, \"name\": \"late\"}",
            "```json\n{\"name\": \"f\", \"arguments\": {\"k\": \"v\"}}\n```",
            "{\"answer\": 42, \"why\": \"because\"}",
            "[1, 2, 3]",
            "<|python_tag|>{\"name\": \"f\", \"parameters\": {\"a\": 1}}",
            "Sure. [TOOL_CALLS] [{\"name\": \"f\", \"arguments\": {\"a\": 1}}]",
            "<tool_call>not json</tool_call> after",
            "Thé café — naïve ☕ text <tool_ca",
            "{\"name\": \"cut\", \"argu",
            "[\n  {\n    \"name\": \"get_weather\",\n    \"arguments\": {\n      \"city\": \"Paris\"\n    }\n  }\n]",
            "",
        ] {
            agrees_with_parse(reply);
        }
    }

    #[test]
    fn a_call_is_named_and_its_arguments_arrive_before_it_is_whole() {
        let mut s = CallStream::new();
        assert_eq!(s.push("Checking.\n<tool"), vec![Piece::Text("Checking.\n".into())], "a tag's beginning is held");
        assert_eq!(s.push("_call>\n{\"name\": \"get_weather\""), vec![], "a name alone is not yet a call");
        let begun = s.push(", \"arguments\": {\"city\": \"Pa");
        assert_eq!(begun, vec![Piece::Call { index: 0, name: Some("get_weather".into()), arguments: "{\"city\": \"Pa".into() }]);
        assert_eq!(s.push("ris\"}}\n</tool_call>"), vec![Piece::Call { index: 0, name: None, arguments: "ris\"}".into() }]);
        assert_eq!(s.finish(), vec![]);
        // Pretty-printed, as a grammar lets a model write it: still in pieces.
        let (_, calls, pieces) = streamed("{\n  \"name\": \"get_weather\",\n  \"arguments\": {\n    \"city\": \"Paris\"\n  }\n}", 2);
        assert_eq!(calls.len(), 1);
        assert!(pieces.len() > 3, "{pieces:?}");
        // Plain text goes out as it comes: it is not held for the end.
        let mut s = CallStream::new();
        assert_eq!(s.push("The sky "), vec![Piece::Text("The sky ".into())]);
        assert_eq!(s.push("is blue."), vec![Piece::Text("is blue.".into())]);
    }
}
