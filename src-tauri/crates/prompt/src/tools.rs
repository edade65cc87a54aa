//! Function calling as text, for every model family.
//!
//! - **The prompt.** A model whose own template takes `tools` (Qwen, Llama 3.1+, Mistral, Hermes…)
//!   gets them through it, as Hugging Face renders them. For any other template, `in_text`
//!   writes the functions into the system message and turns earlier calls and answers into text,
//!   in the Hermes format (`<tool_call>{…}</tool_call>`), which small models follow best.
//! - **The reply.** `parse` finds the calls in what a model wrote, in each family's format: Hermes
//!   and Qwen's `<tool_call>` JSON, Llama 3's JSON (after `<|python_tag|>` or alone), Mistral's
//!   `[TOOL_CALLS]` (an array, or `name[ARGS]{…}`), and a generic JSON fallback (a call or an array
//!   of calls, fenced or not). Control tokens such as `<|python_tag|>` and `[TOOL_CALLS]` are not
//!   written into the reply's text, so their JSON is recognised without them too.
//! - **A forced call.** `forced_schema` is the JSON schema a reply must match when the request
//!   requires a call (or names one): a grammar built from it (`Constraint::JsonSchema`) makes any
//!   model answer with a call whose arguments validate against the function's parameters.

use serde_json::{json, Value};
use types::{ChatMessage, ChatRole};

/// A call found in a reply: the function's name and its arguments as JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundCall {
    pub name: String,
    pub arguments: String,
}

/// What a reply holds: the text meant for the person (calls removed), and the calls.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub content: String,
    pub calls: Vec<FoundCall>,
}

/// Whether a template's source handles `tools` (and so tool calls and tool messages) itself.
pub fn template_takes_tools(source: &str) -> bool {
    source.contains("tools")
}

/// The conversation with the tools written into the system message and earlier calls and their
/// answers written as text, for templates that know nothing of tools.
pub fn in_text(messages: &[ChatMessage], tools: Option<&Value>) -> Vec<ChatMessage> {
    let mut out = Vec::with_capacity(messages.len() + 1);
    if let Some(tools) = tools.and_then(Value::as_array).filter(|t| !t.is_empty()) {
        let listed: Vec<String> = tools.iter().map(|t| t.get("function").unwrap_or(t).to_string()).collect();
        let system = format!(
            "You can call functions. They are described here as JSON:\n<tools>\n{}\n</tools>\n\
             To call one, answer with nothing but\n<tool_call>\n{{\"name\": \"FUNCTION\", \"arguments\": {{...}}}}\n</tool_call>\n\
             A function's answer comes back in <tool_response></tool_response>.",
            listed.join("\n")
        );
        match messages.first() {
            Some(first) if first.role == ChatRole::System => {
                out.push(ChatMessage::new(ChatRole::System, format!("{}\n\n{system}", first.content)));
            }
            _ => out.push(ChatMessage::new(ChatRole::System, system)),
        }
    }
    let skip_first = !out.is_empty() && messages.first().is_some_and(|m| m.role == ChatRole::System);
    for m in messages.iter().skip(usize::from(skip_first)) {
        match m.role {
            ChatRole::Tool => out.push(ChatMessage::new(ChatRole::User, format!("<tool_response>\n{}\n</tool_response>", m.content))),
            ChatRole::Assistant if !m.tool_calls.is_empty() => {
                let mut text = m.content.clone();
                for c in &m.tool_calls {
                    let arguments: Value = serde_json::from_str(&c.arguments).unwrap_or_else(|_| json!(c.arguments));
                    text.push_str(&format!("<tool_call>\n{}\n</tool_call>", json!({ "name": c.name, "arguments": arguments })));
                }
                out.push(ChatMessage::new(ChatRole::Assistant, text));
            }
            _ => out.push(ChatMessage::new(m.role, m.content.clone())),
        }
    }
    out
}

/// The calls in a reply, in whichever family's format it wrote them.
pub fn parse(text: &str) -> Parsed {
    if let Some(p) = tagged(text, "<tool_call>", "</tool_call>") {
        return p;
    }
    if let Some(at) = text.find("[TOOL_CALLS]") {
        let rest = &text[at + "[TOOL_CALLS]".len()..];
        let calls = mistral(rest);
        if !calls.is_empty() {
            return Parsed { content: text[..at].trim().to_string(), calls };
        }
    }
    if let Some(at) = text.find("<|python_tag|>") {
        let calls = json_calls(&text[at + "<|python_tag|>".len()..]);
        if !calls.is_empty() {
            return Parsed { content: text[..at].trim().to_string(), calls };
        }
    }
    let calls = json_calls(text);
    if calls.is_empty() {
        Parsed { content: text.to_string(), calls }
    } else {
        Parsed { content: String::new(), calls }
    }
}

/// `<tool_call>{json}</tool_call>`, any number of them; an unclosed last one runs to the end.
fn tagged(text: &str, open: &str, close: &str) -> Option<Parsed> {
    let mut rest = text;
    let mut content = String::new();
    let mut calls = Vec::new();
    while let Some(start) = rest.find(open) {
        content.push_str(&rest[..start]);
        let after = &rest[start + open.len()..];
        let (inner, next) = match after.find(close) {
            Some(end) => (&after[..end], &after[end + close.len()..]),
            None => (after, ""),
        };
        calls.extend(json_calls(inner));
        rest = next;
    }
    content.push_str(rest);
    (!calls.is_empty()).then(|| Parsed { content: content.trim().to_string(), calls })
}

/// Mistral: a JSON array of calls, or `name[ARGS]{json}` repeated (its newer tokenizers).
fn mistral(rest: &str) -> Vec<FoundCall> {
    let calls = json_calls(rest);
    if !calls.is_empty() {
        return calls;
    }
    let mut calls = Vec::new();
    for part in rest.split("[TOOL_CALLS]") {
        if let Some((name, args)) = part.split_once("[ARGS]") {
            if let Ok(v) = first_json(args) {
                calls.push(FoundCall { name: name.trim().to_string(), arguments: v.to_string() });
            }
        }
    }
    calls
}

/// A call or calls written as JSON: `{"name", "arguments" | "parameters"}`, an array of those,
/// `{"tool_calls": [...]}`, or OpenAI's own `{"function": {...}}`; fenced in ``` or not; several
/// objects separated by `;` or new lines too (Llama 3.1's way).
fn json_calls(text: &str) -> Vec<FoundCall> {
    let text = text.trim();
    let text =
        text.strip_prefix("```json").or_else(|| text.strip_prefix("```")).map_or(text, |t| t.trim_end().trim_end_matches("```")).trim();
    // One value, or several one after another (separated by `;` or white space).
    let mut calls = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let Some(Ok(v)) = values.next() else {
            // An array of calls cut off (the reply ran out of tokens): its whole calls still are.
            calls.extend(whole_items(rest).iter().flat_map(calls_in));
            break;
        };
        calls.extend(calls_in(&v));
        rest = rest[values.byte_offset()..].trim_start().trim_start_matches(';').trim_start();
    }
    calls
}

/// The items of a JSON array that end before the text does (`[{…}, {…}, {"na` gives two).
fn whole_items(text: &str) -> Vec<Value> {
    let Some(mut rest) = text.strip_prefix('[') else { return Vec::new() };
    let mut items = Vec::new();
    loop {
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
        let Some(Ok(v)) = values.next() else { return items };
        items.push(v);
        match rest[values.byte_offset()..].trim_start().strip_prefix(',') {
            Some(more) => rest = more,
            None => return items,
        }
    }
}

fn calls_in(v: &Value) -> Vec<FoundCall> {
    match v {
        Value::Array(items) => items.iter().flat_map(calls_in).collect(),
        Value::Object(o) => {
            if let Some(list) = o.get("tool_calls") {
                return calls_in(list);
            }
            if let Some(f) = o.get("function").filter(|f| f.is_object()) {
                return calls_in(f);
            }
            let Some(name) = o.get("name").and_then(Value::as_str) else { return Vec::new() };
            let arguments = match o.get("arguments").or_else(|| o.get("parameters")) {
                // Some models write the arguments as a JSON string.
                Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_or_else(|_| json!(s).to_string(), |v| v.to_string()),
                Some(a) => a.to_string(),
                None => "{}".to_string(),
            };
            vec![FoundCall { name: name.to_string(), arguments }]
        }
        _ => Vec::new(),
    }
}

fn first_json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::Deserializer::from_str(text.trim()).into_iter::<Value>().next().unwrap_or_else(|| serde_json::from_str("x"))
}

/// Which call a request forces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forced {
    /// Some call, to any of the tools (`tool_choice: "required"`).
    Any { parallel: bool },
    /// A call to this function.
    Named(String),
}

/// The most calls one forced reply may make at once. Without a bound the grammar lets a small
/// model write call after call until `max_tokens` cuts it off mid-call; eight is more than the
/// parallel calls a real request needs (the weather in three cities), and OpenAI sets none.
pub const MAX_PARALLEL_CALLS: usize = 8;

/// The JSON schema a forced reply must match: `{"name": <one of the functions>, "parameters":
/// <its parameters>}`, or an array of one to `MAX_PARALLEL_CALLS` of those when several calls may
/// come at once (the reply ends when the array closes). `None` when no tool matches.
///
/// `parameters` (Llama 3's key; `parse` reads it as the arguments) rather than `arguments`:
/// llama.cpp's converter writes properties in the order the schema's JSON has them, alphabetical
/// here, and `name` must come first for the call to stream as it is written (`tool_stream`).
pub fn forced_schema(tools: &Value, forced: &Forced) -> Option<String> {
    let call = |t: &Value| {
        let f = t.get("function").unwrap_or(t);
        let name = f.get("name")?.as_str()?;
        let parameters = f.get("parameters").filter(|p| p.is_object()).cloned().unwrap_or_else(|| json!({ "type": "object" }));
        Some((
            name.to_string(),
            json!({
                "type": "object",
                "properties": { "name": { "const": name }, "parameters": parameters },
                "required": ["name", "parameters"],
                "additionalProperties": false,
            }),
        ))
    };
    let calls: Vec<(String, Value)> = tools.as_array()?.iter().filter_map(call).collect();
    let schema = match forced {
        Forced::Named(n) => calls.into_iter().find(|(name, _)| name == n)?.1,
        Forced::Any { parallel } => {
            if calls.is_empty() {
                return None;
            }
            let one =
                if calls.len() == 1 { calls[0].1.clone() } else { json!({ "anyOf": calls.iter().map(|(_, s)| s).collect::<Vec<_>>() }) };
            if *parallel {
                json!({ "type": "array", "items": one, "minItems": 1, "maxItems": MAX_PARALLEL_CALLS })
            } else {
                one
            }
        }
    };
    Some(schema.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, arguments: &str) -> FoundCall {
        FoundCall { name: name.into(), arguments: arguments.into() }
    }

    #[test]
    fn hermes_and_qwen_write_tool_call_tags() {
        let p = parse("Let me look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#)]);
        assert_eq!(p.content, "Let me look.");
        let two =
            parse("<tool_call>{\"name\": \"a\", \"arguments\": {}}</tool_call>\n<tool_call>{\"name\": \"b\", \"arguments\": {\"x\": 1}}");
        assert_eq!(two.calls, vec![call("a", "{}"), call("b", r#"{"x":1}"#)]);
    }

    #[test]
    fn llama_3_writes_json_with_parameters() {
        let p = parse("<|python_tag|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#)]);
        // The same without the control token, which is not written into the text.
        let p = parse("{\"type\": \"function\", \"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#)]);
        let p = parse("{\"name\": \"a\", \"parameters\": {}}; {\"name\": \"b\", \"parameters\": {\"k\": \"v\"}}");
        assert_eq!(p.calls, vec![call("a", "{}"), call("b", r#"{"k":"v"}"#)]);
    }

    #[test]
    fn mistral_writes_tool_calls_arrays_and_args() {
        let p = parse("[TOOL_CALLS] [{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#)]);
        let p = parse("[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]get_time[ARGS]{}");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#), call("get_time", "{}")]);
        // Without the control token: the array alone.
        let p = parse("[{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]");
        assert_eq!(p.calls, vec![call("get_weather", r#"{"city":"Paris"}"#)]);
    }

    #[test]
    fn a_reply_cut_mid_call_keeps_the_calls_before_it_and_makes_none_of_the_rest() {
        let whole = "Checking.\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n";
        let cut = format!("{whole}<tool_call>\n{{\"name\": \"b\", \"argu");
        let p = parse(&cut);
        assert_eq!(p.calls, vec![call("a", "{}")]);
        assert_eq!(p.content, "Checking.");
        let only_cut = parse("<tool_call>\n{\"name\": \"b\", \"argu");
        assert!(only_cut.calls.is_empty());
        assert_eq!(parse("[TOOL_CALLS] [{\"name\": \"f\", \"argum").calls, vec![]);
        // A forced reply (an array of calls) cut by `max_tokens`: the whole calls are calls, and
        // the JSON is not handed back as the reply's text (issue 31).
        let forced = parse(r#"[{"name": "a", "arguments": {"x": 1}}, {"name": "b", "arguments": {}}, {"name": "c", "argu"#);
        assert_eq!(forced.calls, vec![call("a", r#"{"x":1}"#), call("b", "{}")]);
        assert_eq!(forced.content, "");
        assert_eq!(parse(r#"[{"name": "a", "argu"#).calls, vec![]);
    }

    #[test]
    fn generic_json_fenced_or_as_a_string_and_plain_text_has_no_calls() {
        let p = parse("```json\n{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1}\"}\n```");
        assert_eq!(p.calls, vec![call("f", r#"{"a":1}"#)]);
        let p = parse("{\"tool_calls\": [{\"function\": {\"name\": \"f\", \"arguments\": {}}}]}");
        assert_eq!(p.calls, vec![call("f", "{}")]);
        for text in ["Paris is the capital.", "{\"city\": \"Paris\"}", "<tool_call>not json</tool_call>", ""] {
            let p = parse(text);
            assert!(p.calls.is_empty(), "{text}");
            assert_eq!(p.content, text);
        }
    }

    #[test]
    fn a_forced_schema_names_the_function_and_its_parameters() {
        let tools = json!([
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
            {"type": "function", "function": {"name": "get_time"}}
        ]);
        let named: Value = serde_json::from_str(&forced_schema(&tools, &Forced::Named("get_weather".into())).unwrap()).unwrap();
        assert_eq!(named["properties"]["name"]["const"], "get_weather");
        assert_eq!(named["properties"]["parameters"]["required"], json!(["city"]));
        let keys: Vec<&String> = named["properties"].as_object().unwrap().keys().collect();
        assert_eq!(keys, ["name", "parameters"], "the name is written first, so the call streams");
        let any: Value = serde_json::from_str(&forced_schema(&tools, &Forced::Any { parallel: true }).unwrap()).unwrap();
        assert_eq!(any["type"], "array");
        assert_eq!(any["maxItems"], MAX_PARALLEL_CALLS, "a forced reply ends when its array closes");
        assert_eq!(any["items"]["anyOf"].as_array().map(Vec::len), Some(2));
        assert_eq!(forced_schema(&tools, &Forced::Named("nope".into())), None);
        // Every forced schema passes the check a constraint passes before llama.cpp's converter
        // (the engine's tests convert them too: engine/tests/templates.rs).
        for s in [&named, &any] {
            assert!(schema::check(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn templates_without_tools_get_them_in_the_system_message() {
        let tools = json!([{"type": "function", "function": {"name": "get_weather"}}]);
        let mut asked = ChatMessage::new(ChatRole::Assistant, "");
        asked.tool_calls =
            vec![types::ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Paris"}"#.into() }];
        let mut answer = ChatMessage::new(ChatRole::Tool, "18 C");
        answer.tool_call_id = Some("call_1".into());
        let m = in_text(
            &[ChatMessage::new(ChatRole::System, "Be brief."), ChatMessage::new(ChatRole::User, "Weather?"), asked, answer],
            Some(&tools),
        );
        assert_eq!(m.len(), 4);
        assert!(
            m[0].content.starts_with("Be brief.\n\nYou can call functions.") && m[0].content.contains("\"name\":\"get_weather\""),
            "{}",
            m[0].content
        );
        assert_eq!(m[2].content, "<tool_call>\n{\"arguments\":{\"city\":\"Paris\"},\"name\":\"get_weather\"}\n</tool_call>");
        assert_eq!((m[3].role, m[3].content.as_str()), (ChatRole::User, "<tool_response>\n18 C\n</tool_response>"));
    }
}
