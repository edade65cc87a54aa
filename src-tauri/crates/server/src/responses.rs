//! OpenAI's Responses API on the same engine: `POST /v1/responses`, `GET` and `DELETE
//! /v1/responses/{id}`. A request (`input` as a string or items: messages, `function_call`,
//! `function_call_output`, `reasoning`; `instructions`; flat function `tools`; `tool_choice`;
//! `text.format`; `max_output_tokens`) becomes the same `ValidRequest` a chat completion does, after
//! the conversation of its `previous_response_id` (kept in the store) is put before its input. The
//! reply is written by `Writer` as output items (a `reasoning` item for what a thinking model wrote
//! inside `<think>`, a `message`, one `function_call` per call) and, streamed, as the event sequence
//! OpenAI's client checks: `response.created` first, each item announced before its deltas, a
//! `sequence_number` on every event, `response.completed` (or `incomplete`, `failed`) carrying the
//! final output and usage.
//!
//! Fields this server does not use are ignored; ones that would change the answer and that it
//! cannot carry out (hosted tools, `background`, `conversation`, `truncation: auto`, a stored prompt)
//! are a 400 naming them.

use engine::{Constraint, Prompt};
use serde_json::{json, Map, Value};
use types::{ChatImage, ChatMessage, ChatRole, GenerationStats, StopReason, ToolCall};

use crate::error::ApiError;
use crate::openai::Head;
use crate::request::{self, field, wrong, Endpoint, ToolChoice, ValidRequest};

/// A request read, before the conversation it continues is known.
pub struct Draft {
    body: Map<String, Value>,
    /// This request's input, as items (a string input is one user message).
    pub items: Vec<Value>,
    pub previous: Option<String>,
    /// Whether the response is kept (OpenAI's default: yes).
    pub store: bool,
    pub stream: bool,
}

/// Reads a request body: its shape, and what it asks that this server cannot do.
pub fn read(body: &[u8]) -> Result<Draft, ApiError> {
    let body = request::json_object(body)?;
    match field(&body, "model") {
        Some(Value::String(_)) => {}
        Some(_) => return Err(wrong("model", "a string")),
        None => return Err(ApiError::invalid("`model` is required.", Some("model"))),
    }
    let items = match field(&body, "input") {
        None => return Err(ApiError::invalid("`input` is required: a string or an array of items.", Some("input"))),
        Some(Value::String(s)) => vec![json!({ "type": "message", "role": "user", "content": s })],
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, item)| normal_item(item, i)).collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong("input", "a string or an array of items")),
    };
    if items.is_empty() {
        return Err(ApiError::invalid("`input` must hold at least one item.", Some("input")));
    }
    let flag = |name: &str, default: bool| match field(&body, name) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(wrong(name, "true or false")),
    };
    let (store, stream) = (flag("store", true)?, flag("stream", false)?);
    if flag("background", false)? {
        return Err(ApiError::invalid("`background` responses are not supported by this server: ask without it and wait, or stream.", Some("background")));
    }
    for (name, what) in [
        ("conversation", "`conversation` (OpenAI's Conversations API) is not supported by this server: continue with `previous_response_id`."),
        ("prompt", "A stored `prompt` template is not supported by this server: send `instructions` and `input`."),
    ] {
        if field(&body, name).is_some() {
            return Err(ApiError::invalid(what, Some(name)));
        }
    }
    if field(&body, "truncation").is_some_and(|t| t != "disabled") {
        return Err(ApiError::invalid(
            "`truncation` must be \"disabled\": this server never drops part of a conversation; a prompt too long for the context is a 400.",
            Some("truncation"),
        ));
    }
    let previous = match field(&body, "previous_response_id") {
        None => None,
        Some(Value::String(id)) => Some(id.clone()),
        Some(_) => return Err(wrong("previous_response_id", "a string")),
    };
    if let Some(n) = field(&body, "max_output_tokens") {
        if !n.as_u64().is_some_and(|n| n >= 1) {
            return Err(ApiError::invalid("`max_output_tokens` must be a whole number, at least 1.", Some("max_output_tokens")));
        }
    }
    match field(&body, "instructions") {
        None | Some(Value::String(_)) => {}
        Some(_) => return Err(wrong("instructions", "a string")),
    }
    Ok(Draft { body, items, previous, store, stream })
}

impl Draft {
    /// What the engine runs: `instructions` (never carried over from a previous response, as
    /// OpenAI's are not), the earlier conversation `history`, then this input.
    pub fn request(&self, history: &[Value], max_prompt_chars: usize) -> Result<ValidRequest, ApiError> {
        let o = &self.body;
        let mut messages = Vec::new();
        if let Some(Value::String(s)) = field(o, "instructions") {
            messages.push(ChatMessage::new(ChatRole::System, s.clone()));
        }
        let all: Vec<&Value> = history.iter().chain(&self.items).collect();
        let parts = all.iter().filter_map(|item| item.get("content")?.as_array()).flatten();
        crate::pictures::count(parts.clone().filter(|p| p.get("type").and_then(Value::as_str) == Some("input_image")).count(), "input")?;
        crate::attachments::count(parts.filter(|p| p.get("type").and_then(Value::as_str) == Some("input_file")).count(), "input")?;
        for (i, item) in all.into_iter().enumerate() {
            add_item(&mut messages, item, i)?;
        }
        let chars: usize = messages.iter().map(|m| m.content.chars().count()).sum();
        if chars > max_prompt_chars {
            return Err(ApiError::InvalidRequest {
                message: format!("The conversation is {chars} characters long; this server takes at most {max_prompt_chars}."),
                param: Some("input".into()),
                code: Some("context_length_exceeded"),
            });
        }
        // The settings in the chat completion's shape, read by the same code as a chat completion's.
        let mut chat = Map::new();
        for (from, to) in [("temperature", "temperature"), ("top_p", "top_p"), ("max_output_tokens", "max_tokens")] {
            if let Some(v) = field(o, from) {
                chat.insert(to.into(), v.clone());
            }
        }
        let tools = chat_tools(o)?;
        if let Some(t) = &tools {
            chat.insert("tools".into(), t.clone());
        }
        if let Some(c) = chat_tool_choice(o)? {
            chat.insert("tool_choice".into(), c);
        }
        let tools = request::tools(&chat)?;
        let tool_choice = request::tool_choice(&chat, tools.as_ref())?;
        let constraint = text_format(o)?;
        if constraint.is_some() && matches!(tool_choice, ToolChoice::Required | ToolChoice::Named(_)) {
            return Err(ApiError::invalid("A required tool call and a `text.format` cannot both hold the reply; send one.", Some("tool_choice")));
        }
        let parallel_tool_calls = match field(o, "parallel_tool_calls") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(wrong("parallel_tool_calls", "true or false")),
        };
        Ok(ValidRequest {
            endpoint: Endpoint::Chat,
            model: o.get("model").and_then(Value::as_str).unwrap_or_default().to_string(),
            prompt: Prompt::Chat(messages),
            sampling: request::sampling(&chat)?,
            stream: self.stream,
            include_usage: false,
            constraint,
            logprobs: None,
            tools,
            tool_choice,
            parallel_tool_calls,
        })
    }

    /// The request's settings as a response repeats them (OpenAI's defaults where not given).
    pub fn echo(&self) -> Map<String, Value> {
        let o = &self.body;
        let given = |name: &str, default: Value| field(o, name).cloned().unwrap_or(default);
        let mut echo = Map::new();
        echo.insert("instructions".into(), given("instructions", Value::Null));
        echo.insert("max_output_tokens".into(), given("max_output_tokens", Value::Null));
        echo.insert("metadata".into(), given("metadata", json!({})));
        echo.insert("parallel_tool_calls".into(), given("parallel_tool_calls", json!(true)));
        echo.insert("previous_response_id".into(), given("previous_response_id", Value::Null));
        echo.insert("reasoning".into(), given("reasoning", json!({ "effort": null, "summary": null })));
        echo.insert("store".into(), json!(self.store));
        echo.insert("temperature".into(), given("temperature", json!(1.0)));
        echo.insert("text".into(), given("text", json!({ "format": { "type": "text" } })));
        echo.insert("tool_choice".into(), given("tool_choice", json!("auto")));
        echo.insert("tools".into(), given("tools", json!([])));
        echo.insert("top_p".into(), given("top_p", json!(1.0)));
        echo.insert("truncation".into(), json!("disabled"));
        echo.insert("user".into(), given("user", Value::Null));
        echo
    }
}

/// A stored response's conversation as input items: what it answered, then its output.
pub fn history(stored: &store::StoredResponse) -> Result<Vec<Value>, ApiError> {
    let broken = |e: serde_json::Error| {
        ApiError::Engine(types::HearthError::new(types::ErrorCode::Internal, "A stored response could not be read.").with_details(e.to_string()))
    };
    let mut items: Vec<Value> = serde_json::from_str(&stored.history).map_err(broken)?;
    let response: Value = serde_json::from_str(&stored.response).map_err(broken)?;
    items.extend(response["output"].as_array().cloned().unwrap_or_default());
    Ok(items)
}

/// One input item, checked, with its `type` written out (a message may leave it out).
fn normal_item(item: &Value, i: usize) -> Result<Value, ApiError> {
    let Value::Object(o) = item else { return Err(wrong(&format!("input[{i}]"), "an object")) };
    let kind = match o.get("type").and_then(Value::as_str) {
        Some(kind) => kind,
        None if o.contains_key("role") => "message",
        None => return Err(ApiError::invalid(format!("input[{i}] needs a `type` (or a `role`, for a message)."), Some("input"))),
    };
    let text = |name: &str| -> Result<(), ApiError> {
        match o.get(name) {
            Some(Value::String(_)) => Ok(()),
            _ => Err(wrong(&format!("input[{i}].{name}"), "a string")),
        }
    };
    match kind {
        "message" => {
            if !matches!(o.get("role").and_then(Value::as_str), Some("user" | "system" | "developer" | "assistant")) {
                return Err(wrong(&format!("input[{i}].role"), "one of user, system, developer, assistant"));
            }
            message_content(o.get("content"), i, None)?;
        }
        "function_call" => {
            text("call_id")?;
            text("name")?;
            text("arguments")?;
        }
        "function_call_output" => {
            text("call_id")?;
            output_text(o.get("output"), i)?;
        }
        // A thinking model's reasoning, replayed: left out of the prompt, as their templates leave
        // earlier turns' reasoning out.
        "reasoning" => {}
        other => {
            return Err(ApiError::invalid(
                format!("This server reads message, function_call, function_call_output and reasoning items; input[{i}] is a `{other}` item."),
                Some("input"),
            ))
        }
    }
    let mut item = o.clone();
    item.insert("type".into(), json!(kind));
    Ok(Value::Object(item))
}

/// The text of a message's `content` (a string, or `input_text` / `output_text` parts) and its
/// pictures (`input_image` parts), each at its place in the text. With `decode: None` the parts
/// are only checked (an item's shape, when it is read); with the message's role, its pictures are
/// decoded (when the conversation is put together).
fn message_content(content: Option<&Value>, i: usize, decode: Option<ChatRole>) -> Result<(String, Vec<ChatImage>), ApiError> {
    let expected = "a string or an array of input_text and input_image parts";
    match content {
        Some(Value::String(s)) => Ok((s.clone(), Vec::new())),
        Some(Value::Array(parts)) => {
            let (mut text, mut images) = (String::new(), Vec::new());
            for (j, p) in parts.iter().enumerate() {
                match (p.get("type").and_then(Value::as_str), p.get("text").and_then(Value::as_str)) {
                    (Some("input_text" | "output_text" | "text"), Some(t)) => text.push_str(t),
                    (Some("refusal"), _) => text.push_str(p.get("refusal").and_then(Value::as_str).unwrap_or_default()),
                    (Some("input_image"), _) => {
                        if let Some(role) = decode {
                            let path = format!("input[{i}].content[{j}]");
                            images.push(crate::pictures::from_image_url(p, text.len(), &crate::pictures::Place { param: "input", path: &path, role })?);
                        }
                    }
                    (Some("input_file"), _) => {
                        if let Some(role) = decode {
                            let path = format!("input[{i}].content[{j}]");
                            text.push_str(&crate::attachments::from_openai(p, &crate::pictures::Place { param: "input", path: &path, role })?);
                        }
                    }
                    (Some(other), _) => {
                        return Err(ApiError::invalid(format!("This server reads text, pictures and files; input[{i}] has a `{other}` part."), Some("input")))
                    }
                    (None, _) => return Err(wrong(&format!("input[{i}].content"), expected)),
                }
            }
            Ok((text, images))
        }
        _ => Err(wrong(&format!("input[{i}].content"), expected)),
    }
}

/// A function call's output: a string, or text parts.
fn output_text(output: Option<&Value>, i: usize) -> Result<String, ApiError> {
    match output {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(parts @ Value::Array(_)) => message_content(Some(parts), i, None).map(|(text, _)| text),
        _ => Err(wrong(&format!("input[{i}].output"), "a string or an array of input_text parts")),
    }
}

/// Adds a checked item to the engine's conversation: a call joins the assistant message before it
/// (a reply's text and its calls are one turn), an output becomes a tool message.
fn add_item(messages: &mut Vec<ChatMessage>, item: &Value, i: usize) -> Result<(), ApiError> {
    let s = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_string();
    match item["type"].as_str() {
        Some("message") => {
            let role = match item["role"].as_str() {
                Some("assistant") => ChatRole::Assistant,
                Some("system" | "developer") => ChatRole::System,
                _ => ChatRole::User,
            };
            let (text, images) = message_content(item.get("content"), i, Some(role))?;
            messages.push(ChatMessage { images, ..ChatMessage::new(role, text) });
        }
        Some("function_call") => {
            let call = ToolCall { id: s("call_id"), name: s("name"), arguments: s("arguments") };
            match messages.last_mut() {
                Some(last) if last.role == ChatRole::Assistant => last.tool_calls.push(call),
                _ => {
                    let mut turn = ChatMessage::new(ChatRole::Assistant, "");
                    turn.tool_calls.push(call);
                    messages.push(turn);
                }
            }
        }
        Some("function_call_output") => {
            let mut answer = ChatMessage::new(ChatRole::Tool, output_text(item.get("output"), i)?);
            answer.tool_call_id = Some(s("call_id"));
            messages.push(answer);
        }
        _ => {}
    }
    Ok(())
}

/// `tools` (flat: `{"type": "function", "name", "description", "parameters", "strict"}`) in the chat
/// completion's shape; a tool of another type (hosted search, code, MCP…) is a 400 naming it.
fn chat_tools(o: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(list) = field(o, "tools") else { return Ok(None) };
    let Value::Array(items) = list else { return Err(wrong("tools", "an array of function tools")) };
    let mut out = Vec::new();
    for (i, t) in items.iter().enumerate() {
        match t.get("type").and_then(Value::as_str) {
            Some("function") => {}
            Some(other) => {
                return Err(ApiError::invalid(
                    format!("This server runs function tools only; tools[{i}] is a `{other}` tool, which it cannot run."),
                    Some("tools"),
                ))
            }
            None => return Err(wrong(&format!("tools[{i}].type"), "\"function\"")),
        }
        if !t.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
            return Err(wrong(&format!("tools[{i}].name"), "a function name"));
        }
        let mut function = json!({ "name": t["name"] });
        match t.get("parameters") {
            None | Some(Value::Null) => {}
            Some(p @ Value::Object(_)) => {
                request::enforceable(p, &format!("tools[{i}].parameters"))?;
                function["parameters"] = p.clone();
            }
            Some(_) => return Err(wrong(&format!("tools[{i}].parameters"), "a JSON Schema object")),
        }
        if let Some(d) = t.get("description").and_then(Value::as_str) {
            function["description"] = json!(d);
        }
        out.push(json!({ "type": "function", "function": function }));
    }
    Ok(Some(Value::Array(out)))
}

/// `tool_choice`: "auto", "none", "required" or `{"type": "function", "name"}`.
fn chat_tool_choice(o: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    match field(o, "tool_choice") {
        None => Ok(None),
        Some(v @ Value::String(_)) => Ok(Some(v.clone())),
        Some(c) => match (c.get("type").and_then(Value::as_str), c.get("name").and_then(Value::as_str)) {
            (Some("function"), Some(name)) => Ok(Some(json!({ "type": "function", "function": { "name": name } }))),
            (Some(other), _) if other != "function" => Err(ApiError::invalid(
                format!("`tool_choice` of type `{other}` is not supported by this server: use auto, none, required or a function."),
                Some("tool_choice"),
            )),
            _ => Err(wrong("tool_choice", "auto, none, required or {\"type\": \"function\", \"name\": …}")),
        },
    }
}

/// `text.format`: text (the default), `json_object`, or `json_schema` with its `schema`, held while
/// decoding as a chat completion's `response_format` is.
fn text_format(o: &Map<String, Value>) -> Result<Option<Constraint>, ApiError> {
    let Some(format) = field(o, "text").and_then(|t| t.get("format")).filter(|f| !f.is_null()) else { return Ok(None) };
    match format.get("type").and_then(Value::as_str) {
        Some("text") => Ok(None),
        Some("json_object") => Ok(Some(Constraint::JsonObject)),
        Some("json_schema") => match format.get("schema") {
            Some(schema @ Value::Object(_)) => {
                request::enforceable(schema, "text.format.schema")?;
                Ok(Some(Constraint::JsonSchema { schema: schema.to_string() }))
            }
            _ => Err(wrong("text.format.schema", "a JSON Schema object")),
        },
        _ => Err(wrong("text.format.type", "text, json_object or json_schema")),
    }
}

/// Splits a reply that opens with `<think>` (Qwen3, DeepSeek-R1 and other thinking models) into its
/// reasoning and its answer while it streams: text that might still be the start of a tag is held
/// until the next piece says.
#[derive(Debug)]
enum Thinking {
    /// Nothing but (perhaps) the start of `<think>` yet.
    Start(String),
    /// Inside the reasoning, holding what might be the start of `</think>`.
    Reasoning(String),
    /// Just after `</think>`: the blank lines before the answer are dropped.
    AfterReasoning,
    Answer,
}

const OPEN: &str = "<think>";
const CLOSE: &str = "</think>";

/// A piece of the reply: reasoning (true) or answer (false).
type Part = (bool, String);

impl Thinking {
    fn push(&mut self, text: &str) -> Vec<Part> {
        match self {
            Thinking::Answer => vec![(false, text.to_string())],
            Thinking::AfterReasoning => {
                let answer = text.trim_start();
                if answer.is_empty() {
                    return Vec::new();
                }
                *self = Thinking::Answer;
                vec![(false, answer.to_string())]
            }
            Thinking::Start(held) => {
                held.push_str(text);
                let start = held.trim_start();
                if let Some(rest) = start.strip_prefix(OPEN) {
                    let rest = rest.to_string();
                    *self = Thinking::Reasoning(String::new());
                    self.push(&rest)
                } else if OPEN.starts_with(start) {
                    Vec::new()
                } else {
                    let all = std::mem::take(held);
                    *self = Thinking::Answer;
                    vec![(false, all)]
                }
            }
            Thinking::Reasoning(held) => {
                held.push_str(text);
                if let Some(at) = held.find(CLOSE) {
                    let reasoning = held[..at].to_string();
                    let rest = held[at + CLOSE.len()..].to_string();
                    *self = Thinking::AfterReasoning;
                    let mut parts: Vec<Part> = [(true, reasoning)].into_iter().filter(|(_, t)| !t.is_empty()).collect();
                    parts.extend(self.push(&rest));
                    parts
                } else {
                    // Keep the longest end of it that `</think>` could go on from.
                    let keep = (1..CLOSE.len()).rev().find(|&n| held.is_char_boundary(held.len().saturating_sub(n)) && held.ends_with(&CLOSE[..n])).unwrap_or(0);
                    let out = held[..held.len() - keep].to_string();
                    held.drain(..held.len() - keep);
                    if out.is_empty() {
                        Vec::new()
                    } else {
                        vec![(true, out)]
                    }
                }
            }
        }
    }

    /// What is still held when the reply ends.
    fn finish(&mut self) -> Vec<Part> {
        match std::mem::replace(self, Thinking::Answer) {
            Thinking::Start(held) if !held.is_empty() => vec![(false, held)],
            Thinking::Reasoning(held) if !held.is_empty() => vec![(true, held)],
            _ => Vec::new(),
        }
    }
}

/// What kind the item being written is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Open {
    Message,
    Reasoning,
    Call,
}

/// Writes one reply as a response: its output items, and the events that stream them. Whole replies
/// go through it too (their events unused), so both have the same output.
pub struct Writer {
    pub id: String,
    created: i64,
    model: String,
    /// The reply's own part of its ids (`resp_…`, `msg_…`, `fc_…`).
    tag: String,
    head: Head,
    echo: Map<String, Value>,
    sequence: u64,
    output: Vec<Value>,
    /// The last item of `output` while it is still being written.
    open: Option<Open>,
    thinking: Thinking,
    /// Whitespace before any item: held, and dropped if a call or the end comes first.
    blank: String,
}

impl Writer {
    pub fn new(head: &Head, echo: Map<String, Value>) -> Self {
        let tag = head.id.rsplit('-').next().unwrap_or("0").to_string();
        Self {
            id: format!("resp_{tag}"),
            created: head.created,
            model: head.model.clone(),
            tag,
            head: head.clone(),
            echo,
            sequence: 0,
            output: Vec::new(),
            open: None,
            thinking: Thinking::Start(String::new()),
            blank: String::new(),
        }
    }

    fn event(&mut self, kind: &str, mut data: Value) -> Value {
        data["type"] = json!(kind);
        data["sequence_number"] = json!(self.sequence);
        self.sequence += 1;
        data
    }

    /// The response object as it stands.
    pub fn response(&self, status: &str, usage: Value, incomplete: Option<&str>, error: Option<Value>) -> Value {
        let mut r = json!({
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": false,
            "error": error,
            "incomplete_details": incomplete.map(|reason| json!({ "reason": reason })),
            "model": self.model,
            "output": self.output,
            "usage": usage,
        });
        for (k, v) in &self.echo {
            r[k] = v.clone();
        }
        r
    }

    /// `response.created` and `response.in_progress`.
    pub fn opening(&mut self) -> Vec<Value> {
        let r = self.response("in_progress", Value::Null, None, None);
        vec![self.event("response.created", json!({ "response": r })), self.event("response.in_progress", json!({ "response": r }))]
    }

    fn index(&self) -> usize {
        self.output.len() - 1
    }

    /// Ends the item being written: its `.done` events, with the item as it ends.
    fn close(&mut self, events: &mut Vec<Value>) {
        let Some(open) = self.open.take() else { return };
        let index = self.index();
        let item_id = self.output[index]["id"].clone();
        match open {
            Open::Message => {
                let part = self.output[index]["content"][0].clone();
                events.push(self.event(
                    "response.output_text.done",
                    json!({ "item_id": item_id, "output_index": index, "content_index": 0, "text": part["text"], "logprobs": [] }),
                ));
                events.push(self.event("response.content_part.done", json!({ "item_id": item_id, "output_index": index, "content_index": 0, "part": part })));
            }
            Open::Reasoning => {
                let text = self.output[index]["content"][0]["text"].clone();
                events.push(self.event(
                    "response.reasoning_text.done",
                    json!({ "item_id": item_id, "output_index": index, "content_index": 0, "text": text }),
                ));
            }
            Open::Call => {
                // Compact JSON, as a whole reply's calls are (when the model wrote valid JSON).
                let arguments = self.output[index]["arguments"].as_str().unwrap_or_default().to_string();
                if let Ok(v) = serde_json::from_str::<Value>(&arguments) {
                    self.output[index]["arguments"] = json!(v.to_string());
                }
                let (name, arguments) = (self.output[index]["name"].clone(), self.output[index]["arguments"].clone());
                events.push(self.event(
                    "response.function_call_arguments.done",
                    json!({ "item_id": item_id, "output_index": index, "name": name, "arguments": arguments }),
                ));
            }
        }
        self.output[index]["status"] = json!("completed");
        let item = self.output[index].clone();
        events.push(self.event("response.output_item.done", json!({ "output_index": index, "item": item })));
    }

    /// Starts a new item (ending the one before): its `output_item.added` event.
    fn begin(&mut self, events: &mut Vec<Value>, kind: Open, item: Value) {
        self.close(events);
        self.output.push(item.clone());
        self.open = Some(kind);
        let index = self.index();
        events.push(self.event("response.output_item.added", json!({ "output_index": index, "item": item })));
        if kind == Open::Message {
            let part = json!({ "type": "output_text", "text": "", "annotations": [], "logprobs": [] });
            events.push(self.event("response.content_part.added", json!({ "item_id": item["id"], "output_index": index, "content_index": 0, "part": part })));
        }
    }

    fn item_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}_{}", self.tag, self.output.len())
    }

    /// More of the reply's text: reasoning or answer, each in its own item.
    pub fn text(&mut self, text: &str) -> Vec<Value> {
        let mut events = Vec::new();
        for (reasoning, t) in self.thinking.push(text) {
            self.write(&mut events, reasoning, &t);
        }
        events
    }

    fn write(&mut self, events: &mut Vec<Value>, reasoning: bool, text: &str) {
        let kind = if reasoning { Open::Reasoning } else { Open::Message };
        if self.open != Some(kind) {
            if !reasoning && text.trim().is_empty() {
                self.blank.push_str(text);
                return;
            }
            self.open_item(events, kind);
        }
        let text = if reasoning { text.to_string() } else { std::mem::take(&mut self.blank) + text };
        self.append(events, kind, &text);
    }

    /// Starts a reasoning or message item.
    fn open_item(&mut self, events: &mut Vec<Value>, kind: Open) {
        let item = if kind == Open::Reasoning {
            json!({ "type": "reasoning", "id": self.item_id("rs"), "summary": [], "content": [{ "type": "reasoning_text", "text": "" }], "status": "in_progress" })
        } else {
            json!({ "type": "message", "id": self.item_id("msg"), "status": "in_progress", "role": "assistant",
                    "content": [{ "type": "output_text", "text": "", "annotations": [], "logprobs": [] }] })
        };
        self.begin(events, kind, item);
    }

    /// More text for the reasoning or message item being written, and its delta event.
    fn append(&mut self, events: &mut Vec<Value>, kind: Open, text: &str) {
        let index = self.index();
        let content = &mut self.output[index]["content"][0]["text"];
        *content = json!(format!("{}{text}", content.as_str().unwrap_or_default()));
        let item_id = self.output[index]["id"].clone();
        let mut delta = json!({ "item_id": item_id, "output_index": index, "content_index": 0, "delta": text });
        let name = if kind == Open::Reasoning {
            "response.reasoning_text.delta"
        } else {
            delta["logprobs"] = json!([]);
            "response.output_text.delta"
        };
        events.push(self.event(name, delta));
    }

    /// A piece of call `index`: its start (with the name), or more of its arguments.
    pub fn call(&mut self, index: usize, name: Option<&str>, arguments: &str) -> Vec<Value> {
        let mut events = Vec::new();
        for (reasoning, t) in self.thinking.finish() {
            self.write(&mut events, reasoning, &t);
        }
        self.blank.clear();
        if let Some(name) = name {
            let item = json!({ "type": "function_call", "id": self.item_id("fc"), "call_id": self.head.call_id(index),
                               "name": name, "arguments": "", "status": "in_progress" });
            self.begin(&mut events, Open::Call, item);
        }
        if self.open != Some(Open::Call) || arguments.is_empty() {
            return events;
        }
        let at = self.index();
        let so_far = self.output[at]["arguments"].as_str().unwrap_or_default();
        self.output[at]["arguments"] = json!(format!("{so_far}{arguments}"));
        let item_id = self.output[at]["id"].clone();
        events.push(self.event("response.function_call_arguments.delta", json!({ "item_id": item_id, "output_index": at, "delta": arguments })));
        events
    }

    /// The end: the last item closed (a message, empty, when nothing was written), and the final
    /// response, `completed` or `incomplete` (cut at `max_output_tokens` or the context's end), with
    /// its event.
    pub fn done(&mut self, stats: &GenerationStats) -> (Vec<Value>, Value) {
        let mut events = Vec::new();
        for (reasoning, t) in self.thinking.finish() {
            self.write(&mut events, reasoning, &t);
        }
        if self.output.is_empty() {
            // A response always has an item: a message, with what whitespace there was.
            self.open_item(&mut events, Open::Message);
            let blank = std::mem::take(&mut self.blank);
            if !blank.is_empty() {
                self.append(&mut events, Open::Message, &blank);
            }
        }
        let cut = matches!(stats.stop_reason, StopReason::MaxTokens | StopReason::ContextFull);
        self.close(&mut events);
        // A reply cut short is incomplete, unless what it was cut after is whole calls: a call whose
        // arguments were cut mid-way must not be run as if it were one.
        let calls: Vec<&Value> = self.output.iter().filter(|i| i["type"] == "function_call").collect();
        let whole_calls = !calls.is_empty() && calls.iter().all(|c| serde_json::from_str::<Value>(c["arguments"].as_str().unwrap_or_default()).is_ok());
        let incomplete = (cut && !whole_calls).then_some("max_output_tokens");
        if incomplete.is_some() {
            for item in self.output.iter_mut().filter(|i| i["type"] == "message") {
                item["status"] = json!("incomplete");
            }
        }
        let status = if incomplete.is_some() { "incomplete" } else { "completed" };
        let response = self.response(status, usage(stats), incomplete, None);
        let kind = if incomplete.is_some() { "response.incomplete" } else { "response.completed" };
        events.push(self.event(kind, json!({ "response": response })));
        (events, response)
    }

    /// A reply that failed after its headers went out: `response.failed`, with what the client may
    /// read of the error.
    pub fn failed(&mut self, e: &ApiError) -> Vec<Value> {
        let code = if e.status().is_server_error() { "server_error" } else { "invalid_prompt" };
        let response = self.response("failed", Value::Null, None, Some(json!({ "code": code, "message": e.public_message() })));
        vec![self.event("response.failed", json!({ "response": response }))]
    }
}

/// The Responses API's usage: input (the cache's share as `cached_tokens`), output, total.
fn usage(stats: &GenerationStats) -> Value {
    let (input, output) = (stats.prompt_tokens_total, stats.generated_tokens);
    json!({
        "input_tokens": input,
        "input_tokens_details": { "cached_tokens": stats.reused_prefix_tokens.min(input) },
        "output_tokens": output,
        "output_tokens_details": { "reasoning_tokens": 0 },
        "total_tokens": input + output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    fn draft(body: &str) -> Result<Draft, ApiError> {
        read(body.as_bytes())
    }

    /// A draft made into the engine's request, as the server does (pictures are decoded then).
    fn request_of(body: &str) -> Result<ValidRequest, ApiError> {
        draft(body)?.request(&[], usize::MAX)
    }

    fn stats(reason: StopReason) -> GenerationStats {
        GenerationStats {
            prompt_tokens_total: 9,
            reused_prefix_tokens: 4,
            prompt_tokens: 5,
            prompt_ms: 1.0,
            generated_tokens: 3,
            generation_ms: 1.0,
            time_to_first_token_ms: 1.0,
            stop_reason: reason,
            tokens_per_second: None,
            image_tokens: 0,
            image_ms: 0.0,
        }
    }

    #[test]
    fn input_items_and_a_previous_conversation_become_the_engines_messages() {
        let d = draft(
            r#"{"model": "m", "instructions": "Be brief.", "max_output_tokens": 40, "temperature": 0.2,
                "tools": [{"type": "function", "name": "get_weather", "description": "d", "parameters": {"type": "object"}, "strict": true}],
                "tool_choice": {"type": "function", "name": "get_weather"},
                "input": [
                  {"type": "function_call_output", "call_id": "call_1", "output": "18 C"},
                  {"role": "user", "content": [{"type": "input_text", "text": "And tomorrow?"}]}
                ]}"#,
        )
        .unwrap();
        let history = vec![
            json!({"type": "message", "role": "user", "content": "Weather in Paris?"}),
            json!({"type": "reasoning", "id": "rs_1", "summary": []}),
            json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Looking."}]}),
            json!({"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}),
        ];
        let r = d.request(&history, 10_000).unwrap();
        assert_eq!(r.sampling.max_tokens, Some(40));
        assert!((r.sampling.temperature - 0.2).abs() < 1e-6);
        assert_eq!(r.tool_choice, ToolChoice::Named("get_weather".into()));
        assert_eq!(r.tools.unwrap()[0]["function"]["parameters"], json!({"type": "object"}));
        let Prompt::Chat(m) = r.prompt else { panic!() };
        let roles: Vec<ChatRole> = m.iter().map(|m| m.role).collect();
        assert_eq!(roles, [ChatRole::System, ChatRole::User, ChatRole::Assistant, ChatRole::Tool, ChatRole::User]);
        assert_eq!((m[2].content.as_str(), m[2].tool_calls[0].name.as_str()), ("Looking.", "get_weather"));
        assert_eq!((m[3].tool_call_id.as_deref(), m[3].content.as_str()), (Some("call_1"), "18 C"));
        assert_eq!(m[4].content, "And tomorrow?");
        // A string input is one user message; the settings echo with OpenAI's defaults.
        let d = draft(r#"{"model": "m", "input": "Hi", "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}}}"#).unwrap();
        assert!(d.store && !d.stream);
        assert!(matches!(d.request(&[], 100).unwrap().constraint, Some(Constraint::JsonSchema { .. })));
        assert_eq!(d.echo()["tool_choice"], "auto");
        assert_eq!(d.echo()["text"]["format"]["type"], "json_schema");
    }

    #[test]
    fn what_this_server_cannot_do_is_a_400_naming_it() {
        for (bad, param) in [
            (r#"{"input": "x"}"#, "model"),
            (r#"{"model": "m"}"#, "input"),
            (r#"{"model": "m", "input": []}"#, "input"),
            (r#"{"model": "m", "input": 3}"#, "input"),
            (r#"{"model": "m", "input": [{"type": "item_reference", "id": "x"}]}"#, "input"),
            (r#"{"model": "m", "input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:"}]}]}"#, "input"),
            (r#"{"model": "m", "input": [{"role": "tool", "content": "x"}]}"#, "input"),
            (r#"{"model": "m", "input": [{"type": "function_call", "name": "f"}]}"#, "input"),
            (r#"{"model": "m", "input": "x", "background": true}"#, "background"),
            (r#"{"model": "m", "input": "x", "conversation": "conv_1"}"#, "conversation"),
            (r#"{"model": "m", "input": "x", "truncation": "auto"}"#, "truncation"),
            (r#"{"model": "m", "input": "x", "max_output_tokens": 0}"#, "max_output_tokens"),
            (r#"{"model": "m", "input": "x", "previous_response_id": 7}"#, "previous_response_id"),
        ] {
            let e = request_of(bad).err().unwrap_or_else(|| panic!("{bad} was taken"));
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(e.body()["error"]["param"], param, "{bad}");
        }
        for (bad, param, names) in [
            (r#"{"model": "m", "input": "x", "tools": [{"type": "web_search"}]}"#, "tools", "web_search"),
            (r#"{"model": "m", "input": "x", "tools": [{"type": "mcp", "server_label": "s"}]}"#, "tools", "mcp"),
            (r#"{"model": "m", "input": "x", "tool_choice": {"type": "file_search"}, "tools": [{"type": "function", "name": "f"}]}"#, "tool_choice", "file_search"),
            (r#"{"model": "m", "input": "x", "tool_choice": "required"}"#, "tool_choice", "tools"),
            (r#"{"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "x"}}}"#, "text", "schema"),
            (r#"{"model": "m", "input": "x", "text": {"format": {"type": "json_schema", "name": "x", "schema": {"$ref": "https://example.com/s.json"}}}}"#, "text", "$ref"),
        ] {
            let e = draft(bad).and_then(|d| d.request(&[], 1000)).err().unwrap_or_else(|| panic!("{bad} was taken"));
            assert_eq!(e.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(e.body()["error"]["param"], param, "{bad}");
            assert!(e.public_message().contains(names), "{bad}: {}", e.public_message());
        }
        // Unknown fields are ignored.
        assert!(draft(r#"{"model": "m", "input": "x", "include": [], "service_tier": "auto", "safety_identifier": "u", "reasoning": {"effort": "low"}}"#).is_ok());
    }

    fn head() -> Head {
        Head::new(Endpoint::Chat, "m", false)
    }

    fn kinds(events: &[Value]) -> Vec<&str> {
        events.iter().map(|e| e["type"].as_str().unwrap()).collect()
    }

    #[test]
    fn a_streamed_reply_announces_each_item_before_its_deltas_and_numbers_every_event() {
        let mut w = Writer::new(&head(), draft(r#"{"model": "m", "input": "x"}"#).unwrap().echo());
        let mut events = w.opening();
        for piece in ["<thi", "nk>They ask", " for it.</th", "ink>", "\n\n", "Hello", " there."] {
            events.extend(w.text(piece));
        }
        events.extend(w.call(0, Some("f"), "{\"a\": "));
        events.extend(w.call(0, None, "1}"));
        let (end, response) = w.done(&stats(StopReason::Eos));
        events.extend(end);
        assert_eq!(
            kinds(&events),
            [
                "response.created", "response.in_progress",
                "response.output_item.added", "response.reasoning_text.delta", "response.reasoning_text.delta",
                "response.reasoning_text.done", "response.output_item.done",
                "response.output_item.added", "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
                "response.output_text.done", "response.content_part.done", "response.output_item.done",
                "response.output_item.added", "response.function_call_arguments.delta", "response.function_call_arguments.delta",
                "response.function_call_arguments.done", "response.output_item.done",
                "response.completed",
            ]
        );
        let numbers: Vec<u64> = events.iter().map(|e| e["sequence_number"].as_u64().unwrap()).collect();
        assert_eq!(numbers, (0..events.len() as u64).collect::<Vec<_>>());
        let output = &response["output"];
        assert_eq!(output[0]["content"][0]["text"], "They ask for it.");
        assert_eq!(output[1]["content"][0]["text"], "Hello there.", "the blank lines after the reasoning are dropped");
        assert_eq!((output[2]["name"].as_str(), output[2]["arguments"].as_str()), (Some("f"), Some(r#"{"a":1}"#)));
        assert!(output[2]["call_id"].as_str().unwrap().starts_with("call_"));
        assert!(output.as_array().unwrap().iter().all(|i| i["status"] == "completed"));
        // Every delta names the item announced at its index.
        for e in &events {
            if let Some(id) = e.get("item_id") {
                assert_eq!(id, &output[e["output_index"].as_u64().unwrap() as usize]["id"], "{e}");
            }
        }
        assert_eq!(response["status"], "completed");
        assert_eq!(response["usage"], json!({"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4}, "output_tokens": 3,
            "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12}));
        assert!(response["id"].as_str().unwrap().starts_with("resp_"));
    }

    #[test]
    fn a_cut_reply_is_incomplete_and_an_empty_one_still_has_a_message() {
        let mut w = Writer::new(&head(), Map::new());
        w.text("Once upon");
        let (events, response) = w.done(&stats(StopReason::MaxTokens));
        assert_eq!(events.last().unwrap()["type"], "response.incomplete");
        assert_eq!((response["status"].as_str(), response["incomplete_details"]["reason"].as_str()), (Some("incomplete"), Some("max_output_tokens")));
        assert_eq!(response["output"][0]["status"], "incomplete");
        let mut w = Writer::new(&head(), Map::new());
        w.text("\n");
        let (events, response) = w.done(&stats(StopReason::Eos));
        assert_eq!(response["output"][0]["content"][0]["text"], "\n");
        assert!(kinds(&events).contains(&"response.output_text.done"));
        // A call cut mid-way by the token limit is not a whole call: the response is incomplete.
        let mut w = Writer::new(&head(), Map::new());
        w.call(0, Some("f"), "{\"city\": \"Par");
        let (_, response) = w.done(&stats(StopReason::MaxTokens));
        assert_eq!(response["status"], "incomplete");
        let mut w = Writer::new(&head(), Map::new());
        w.call(0, Some("f"), "{\"city\": \"Paris\"}");
        let (_, response) = w.done(&stats(StopReason::MaxTokens));
        assert_eq!(response["status"], "completed", "whole calls before the cut are calls");
        // Text that only looks like the start of a tag is text.
        let mut w = Writer::new(&head(), Map::new());
        let mut t: Vec<Value> = w.text("<th");
        t.extend(w.text("e end>"));
        let (_, response) = w.done(&stats(StopReason::Eos));
        assert_eq!(response["output"][0]["content"][0]["text"], "<the end>");
        assert_eq!(response["output"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn a_stored_conversation_is_its_history_then_its_output() {
        let stored = store::StoredResponse {
            id: "resp_1".into(),
            model: "m".into(),
            history: json!([{"type": "message", "role": "user", "content": "Hi"}]).to_string(),
            response: json!({"output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hello."}]}]}).to_string(),
        };
        let items = history(&stored).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[1]["content"][0]["text"], "Hello.");
    }
}
