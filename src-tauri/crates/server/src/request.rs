//! OpenAI's request bodies, validated once into `ValidRequest` (only `parse` builds one; the
//! handlers then trust it). Fields this server does not use are ignored, as OpenAI-compatible
//! servers do; a known field of the wrong type or out of range is a 400 naming the field, in
//! OpenAI's error shape. `null` counts as absent.

use engine::{Constraint, Prompt};
use serde_json::{Map, Value};
use types::{ChatImage, ChatMessage, ChatRole, SamplingParams, ToolCall};

use crate::error::ApiError;
use crate::pictures;

/// Which endpoint a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/v1/chat/completions`: `messages`, rendered with the model's chat template.
    Chat,
    /// `/v1/completions`: a raw `prompt`.
    Text,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidRequest {
    pub endpoint: Endpoint,
    /// As the client wrote it; `backend::find_model` resolves it.
    pub model: String,
    pub prompt: Prompt,
    pub sampling: SamplingParams,
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with `usage` before `[DONE]`.
    pub include_usage: bool,
    /// `response_format`: JSON (any object, or valid against a schema), enforced while decoding.
    pub constraint: Option<Constraint>,
    /// Log-probabilities with this many alternatives per token (chat: `logprobs` and
    /// `top_logprobs`; completions: `logprobs`, a number); `None`: none.
    pub logprobs: Option<u32>,
    /// `tools`, as OpenAI's shape has them (checked: functions with a name); `None`: none.
    pub tools: Option<Value>,
    pub tool_choice: ToolChoice,
    /// `parallel_tool_calls` (OpenAI's default: true).
    pub parallel_tool_calls: bool,
}

/// OpenAI's `tool_choice`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    /// The model decides (the default with tools).
    Auto,
    /// No call: the tools are not offered.
    None,
    /// Some call (decoding is held to one).
    Required,
    /// A call to this function (decoding is held to it).
    Named(String),
}

/// Stop strings OpenAI allows in one request.
const MAX_STOPS: usize = 4;

/// A request body as the JSON object every endpoint takes, or the 400 that says why it is not.
pub(crate) fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::invalid(
            format!("The request body is not valid JSON ({e}). Send a JSON object with Content-Type: application/json."),
            None,
        )
    })?;
    match value {
        Value::Object(o) => Ok(o),
        _ => Err(ApiError::invalid("The request body must be a JSON object.", None)),
    }
}

pub fn parse(body: &[u8], endpoint: Endpoint, max_prompt_chars: usize) -> Result<ValidRequest, ApiError> {
    let o = json_object(body)?;
    let model = string(&o, "model")?.ok_or_else(|| missing("model"))?;
    let prompt = match endpoint {
        Endpoint::Chat => Prompt::Chat(messages(&o)?),
        Endpoint::Text => Prompt::Raw(raw_prompt(&o)?),
    };
    let chars = match &prompt {
        Prompt::Chat(m) => m.iter().map(|m| m.content.chars().count()).sum(),
        Prompt::Raw(p) => p.chars().count(),
    };
    if chars > max_prompt_chars {
        return Err(ApiError::InvalidRequest {
            message: format!("The prompt is {chars} characters long; this server takes at most {max_prompt_chars}."),
            param: Some(if endpoint == Endpoint::Chat { "messages" } else { "prompt" }.into()),
            code: Some("context_length_exceeded"),
        });
    }
    if let Some(n) = integer(&o, "n")? {
        if n != 1 {
            return Err(ApiError::invalid("This server makes one choice per request: `n` must be 1.", Some("n")));
        }
    }
    unsupported(&o)?;
    let stream = boolean(&o, "stream")?.unwrap_or(false);
    let include_usage = match field(&o, "stream_options") {
        None => false,
        Some(Value::Object(so)) => {
            boolean(so, "include_usage").map_err(|_| wrong("stream_options.include_usage", "a boolean"))?.unwrap_or(false)
        }
        Some(_) => return Err(wrong("stream_options", "an object")),
    };
    let logprobs = logprobs(&o, endpoint)?;
    let tools = tools(&o)?;
    let tool_choice = tool_choice(&o, tools.as_ref())?;
    let parallel_tool_calls = boolean(&o, "parallel_tool_calls")?.unwrap_or(true);
    let constraint = response_format(&o)?;
    if constraint.is_some() && matches!(tool_choice, ToolChoice::Required | ToolChoice::Named(_)) {
        return Err(ApiError::invalid(
            "A required tool call and a `response_format` cannot both hold the reply; send one.",
            Some("tool_choice"),
        ));
    }
    Ok(ValidRequest {
        endpoint,
        model,
        prompt,
        sampling: sampling(&o)?,
        stream,
        include_usage,
        constraint,
        logprobs,
        tools,
        tool_choice,
        parallel_tool_calls,
    })
}

/// `tools`: an array of `{"type": "function", "function": {"name": …, "description"?: …,
/// "parameters"?: {…}}}`; an empty array counts as none.
pub(crate) fn tools(o: &Map<String, Value>) -> Result<Option<Value>, ApiError> {
    let Some(list) = field(o, "tools") else { return Ok(None) };
    let Value::Array(items) = list else { return Err(wrong("tools", "an array of functions")) };
    for (i, t) in items.iter().enumerate() {
        let f = t.get("function").filter(|_| t.get("type").and_then(Value::as_str) == Some("function"));
        let Some(Value::Object(f)) = f else { return Err(wrong(&format!("tools[{i}]"), "{\"type\": \"function\", \"function\": {…}}")) };
        if !f.get("name").and_then(Value::as_str).is_some_and(|n| !n.is_empty()) {
            return Err(wrong(&format!("tools[{i}].function.name"), "a function name"));
        }
        match f.get("parameters") {
            None | Some(Value::Null) => {}
            Some(p @ Value::Object(_)) => enforceable(p, &format!("tools[{i}].function.parameters"))?,
            Some(_) => return Err(wrong(&format!("tools[{i}].function.parameters"), "a JSON Schema object")),
        }
    }
    Ok((!items.is_empty()).then(|| list.clone()))
}

/// `tool_choice`: "auto", "none", "required", or `{"type": "function", "function": {"name"}}`.
pub(crate) fn tool_choice(o: &Map<String, Value>, tools: Option<&Value>) -> Result<ToolChoice, ApiError> {
    let choice = match field(o, "tool_choice") {
        None => return Ok(ToolChoice::Auto),
        Some(Value::String(s)) => match s.as_str() {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            _ => return Err(wrong("tool_choice", "auto, none, required or a function")),
        },
        Some(Value::Object(c)) => match c.get("function").and_then(|f| f.get("name")).and_then(Value::as_str) {
            Some(name) => ToolChoice::Named(name.to_string()),
            None => return Err(wrong("tool_choice", "auto, none, required or {\"type\": \"function\", \"function\": {\"name\": …}}")),
        },
        Some(_) => return Err(wrong("tool_choice", "auto, none, required or a function")),
    };
    check_tool_choice(&choice, tools, "required")?;
    Ok(choice)
}

/// A call that must be made needs tools, and a named one a tool of that name. `required` is what
/// the API calls a required call ("any" for Anthropic's), for the message.
pub fn check_tool_choice(choice: &ToolChoice, tools: Option<&Value>, required: &str) -> Result<(), ApiError> {
    let names: Vec<&str> = tools.and_then(Value::as_array).into_iter().flatten().filter_map(|t| t["function"]["name"].as_str()).collect();
    match choice {
        ToolChoice::Required if names.is_empty() => {
            Err(ApiError::invalid(format!("`tool_choice: {required}` needs `tools`."), Some("tool_choice")))
        }
        ToolChoice::Named(n) if !names.contains(&n.as_str()) => {
            Err(ApiError::invalid(format!("`tool_choice` names `{n}`, which is not among the `tools`."), Some("tool_choice")))
        }
        _ => Ok(()),
    }
}

/// Fields that would change the answer and that this server does not carry out: refused, naming
/// the field, rather than ignored (an agent would otherwise get an answer it did not ask for).
/// Their neutral values (text only) pass.
fn unsupported(o: &Map<String, Value>) -> Result<(), ApiError> {
    if field(o, "modalities").is_some_and(|m| m != &serde_json::json!(["text"])) || field(o, "audio").is_some() {
        return Err(ApiError::invalid("This server answers in text only.", Some("modalities")));
    }
    // `/v1/completions`' own: text before the prompt's echo or after a suffix, and several
    // drafts to choose from, are not what this server writes.
    if boolean(o, "echo")?.unwrap_or(false) {
        return Err(ApiError::invalid("`echo` is not supported by this server: the reply holds the completion only.", Some("echo")));
    }
    if field(o, "suffix").is_some_and(|s| s.as_str() != Some("")) {
        return Err(ApiError::invalid("`suffix` (text after the completion) is not supported by this server.", Some("suffix")));
    }
    if integer(o, "best_of")?.is_some_and(|n| n != 1) {
        return Err(ApiError::invalid("This server writes one completion per request: `best_of` must be 1.", Some("best_of")));
    }
    if field(o, "prediction").is_some() {
        return Err(ApiError::invalid("`prediction` is not supported by this server.", Some("prediction")));
    }
    Ok(())
}

/// Chat: `logprobs: true` and `top_logprobs` (0–20, only with `logprobs`). Completions: `logprobs`,
/// the number of alternatives (0–5), as OpenAI's legacy endpoint takes it.
fn logprobs(o: &Map<String, Value>, endpoint: Endpoint) -> Result<Option<u32>, ApiError> {
    let top = |name: &str, max: i64| -> Result<Option<u32>, ApiError> {
        match integer(o, name)? {
            None => Ok(None),
            Some(n) if (0..=max).contains(&n) => Ok(Some(n as u32)),
            Some(_) => Err(ApiError::invalid(format!("`{name}` must be between 0 and {max}."), Some(name))),
        }
    };
    match endpoint {
        Endpoint::Chat => {
            let wanted = boolean(o, "logprobs")?.unwrap_or(false);
            match (wanted, top("top_logprobs", 20)?) {
                (true, n) => Ok(Some(n.unwrap_or(0))),
                (false, None) => Ok(None),
                (false, Some(_)) => Err(ApiError::invalid("`top_logprobs` needs `logprobs: true`.", Some("top_logprobs"))),
            }
        }
        Endpoint::Text => top("logprobs", 5),
    }
}

/// A `/v1/embeddings` request: the model, the inputs, and whether vectors go as base64.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub model: String,
    pub inputs: Vec<engine::EmbedInput>,
    pub base64: bool,
    /// `dimensions`: the size the client expects. Hearth does not cut vectors down (that is only
    /// meaningful for models trained for it); a size other than the model's is a 400 naming it.
    pub dimensions: Option<usize>,
}

/// Inputs one request may embed (OpenAI's limit).
const MAX_INPUTS: usize = 2048;

/// `input`: a string, an array of strings, an array of token ids, or an array of those;
/// `encoding_format`: `float` (the default) or `base64`.
pub fn embeddings(body: &[u8], max_prompt_chars: usize) -> Result<EmbeddingsRequest, ApiError> {
    let o = json_object(body)?;
    let model = string(&o, "model")?.ok_or_else(|| missing("model"))?;
    let bad = || wrong("input", "a string, an array of strings, an array of token ids, or an array of those");
    let tokens = |v: &Vec<Value>| v.iter().map(|t| t.as_i64().and_then(|t| i32::try_from(t).ok())).collect::<Option<Vec<i32>>>();
    let inputs = match field(&o, "input") {
        None => return Err(missing("input")),
        Some(Value::String(s)) => vec![engine::EmbedInput::Text(s.clone())],
        Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
            items.iter().filter_map(Value::as_str).map(|s| engine::EmbedInput::Text(s.to_string())).collect()
        }
        Some(Value::Array(items)) if items.iter().all(Value::is_number) => vec![engine::EmbedInput::Tokens(tokens(items).ok_or_else(bad)?)],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::Array(t) => tokens(t).map(engine::EmbedInput::Tokens).ok_or_else(bad),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(bad()),
    };
    if inputs.is_empty() || inputs.len() > MAX_INPUTS {
        return Err(ApiError::invalid(format!("`input` must hold 1 to {MAX_INPUTS} inputs."), Some("input")));
    }
    // Every input counts: text by its characters, token ids one each (a token is a few
    // characters, so counting it as one is generous to the client and still bounds the work).
    let size = |i: &engine::EmbedInput| match i {
        engine::EmbedInput::Text(t) => t.chars().count(),
        engine::EmbedInput::Tokens(ids) => ids.len(),
    };
    let chars: usize = inputs.iter().map(size).sum();
    if chars > max_prompt_chars {
        return Err(ApiError::invalid(
            format!("The input is {chars} characters and tokens long; this server takes at most {max_prompt_chars}."),
            Some("input"),
        ));
    }
    if let Some(long) = inputs.iter().filter_map(|i| if let engine::EmbedInput::Tokens(ids) = i { Some(ids.len()) } else { None }).find(|n| *n > engine::MAX_EMBED_TOKENS) {
        return Err(ApiError::invalid(
            format!("An input of {long} tokens is longer than the {} one embedding takes.", engine::MAX_EMBED_TOKENS),
            Some("input"),
        ));
    }
    let base64 = match string(&o, "encoding_format")?.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(_) => return Err(wrong("encoding_format", "float or base64")),
    };
    let dimensions = match integer(&o, "dimensions")? {
        None => None,
        Some(d) => Some(usize::try_from(d).ok().filter(|d| *d > 0).ok_or_else(|| wrong("dimensions", "a number above 0"))?),
    };
    Ok(EmbeddingsRequest { model, inputs, base64, dimensions })
}

/// The body of `/api/models/load` and `/unload`: `{"model": NAME}`.
pub fn model_name(body: &[u8]) -> Result<String, ApiError> {
    let o = json_object(body)?;
    string(&o, "model")?.ok_or_else(|| missing("model"))
}

/// The most tokens one request may bias: more is a list of bans, which a grammar says better.
const MAX_LOGIT_BIAS: usize = 1024;

/// `logit_bias`: `{"<token id>": <bias from -100 to 100>}`. An id outside the model's vocabulary is
/// the engine's to refuse (it knows the vocabulary).
fn logit_bias(o: &Map<String, Value>) -> Result<Vec<(i32, f32)>, ApiError> {
    let bad = || wrong("logit_bias", "an object of token ids (as strings) to numbers from -100 to 100");
    let Some(bias) = field(o, "logit_bias") else { return Ok(Vec::new()) };
    let Value::Object(bias) = bias else { return Err(bad()) };
    if bias.len() > MAX_LOGIT_BIAS {
        return Err(ApiError::invalid(format!("`logit_bias` may name at most {MAX_LOGIT_BIAS} tokens."), Some("logit_bias")));
    }
    bias.iter()
        .map(|(id, b)| {
            let id = id.parse::<i32>().ok().filter(|i| *i >= 0).ok_or_else(bad)?;
            let b = b.as_f64().filter(|b| (-100.0..=100.0).contains(b)).ok_or_else(bad)?;
            Ok((id, b as f32))
        })
        .collect()
}

/// OpenAI's `response_format`: `{"type": "text"}` (the default), `{"type": "json_object"}`, or
/// `{"type": "json_schema", "json_schema": {"name": …, "schema": {…}, "strict": …}}`. The schema is
/// enforced whether or not `strict` is set: a local model is held to it by its grammar, at no cost
/// to the client. Whether llama.cpp can turn it into a grammar is the engine's to say (a 400).
/// `{"type": "json_object", "schema": {…}}` is llama.cpp's server's form (instructor's JSON_SCHEMA
/// mode sends it): the schema is enforced there too, never dropped for any object.
fn response_format(o: &Map<String, Value>) -> Result<Option<Constraint>, ApiError> {
    let Some(rf) = field(o, "response_format") else { return Ok(None) };
    let Value::Object(rf) = rf else { return Err(wrong("response_format", "an object")) };
    match string(rf, "type").map_err(|_| wrong("response_format.type", "a string"))?.as_deref() {
        None => Err(missing("response_format.type")),
        Some("text") => Ok(None),
        Some("json_object") => match field(rf, "schema") {
            None | Some(Value::Null) => Ok(Some(Constraint::JsonObject)),
            Some(schema @ Value::Object(_)) => {
                enforceable(schema, "response_format.schema")?;
                Ok(Some(Constraint::JsonSchema { schema: schema.to_string() }))
            }
            Some(_) => Err(wrong("response_format.schema", "a JSON Schema object")),
        },
        Some("json_schema") => {
            let Some(Value::Object(js)) = field(rf, "json_schema") else {
                return Err(wrong("response_format.json_schema", "an object with the schema"));
            };
            string(js, "name").map_err(|_| wrong("response_format.json_schema.name", "a string"))?;
            boolean(js, "strict").map_err(|_| wrong("response_format.json_schema.strict", "true or false"))?;
            match field(js, "schema") {
                Some(schema @ Value::Object(_)) => {
                    enforceable(schema, "response_format.json_schema.schema")?;
                    Ok(Some(Constraint::JsonSchema { schema: schema.to_string() }))
                }
                None => Err(missing("response_format.json_schema.schema")),
                Some(_) => Err(wrong("response_format.json_schema.schema", "a JSON Schema object")),
            }
        }
        Some(other) => Err(ApiError::invalid(
            format!("`response_format.type` \"{other}\" is not one this server knows: use text, json_object or json_schema."),
            Some("response_format"),
        )),
    }
}

pub(crate) fn sampling(o: &Map<String, Value>) -> Result<SamplingParams, ApiError> {
    let mut s = SamplingParams::default();
    let max = match integer(o, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => integer(o, "max_tokens")?,
    };
    if let Some(max) = max {
        let param = if field(o, "max_completion_tokens").is_some() { "max_completion_tokens" } else { "max_tokens" };
        s.max_tokens = Some(
            u32::try_from(max)
                .ok()
                .filter(|&m| m >= 1)
                .ok_or_else(|| ApiError::invalid(format!("`{param}` must be at least 1."), Some(param)))?,
        );
    }
    if let Some(t) = number_in(o, "temperature", 0.0, 2.0)? {
        s.temperature = t;
    }
    if let Some(p) = number_in(o, "top_p", 0.0, 1.0)? {
        s.top_p = p;
    }
    if let Some(p) = number_in(o, "min_p", 0.0, 1.0)? {
        s.min_p = p;
    }
    if let Some(p) = number_in(o, "repeat_penalty", 0.0, 10.0)? {
        s.repeat_penalty = p;
    }
    // OpenAI's penalties and bias, carried out by llama.cpp's samplers as llama-server does.
    if let Some(p) = number_in(o, "frequency_penalty", -2.0, 2.0)? {
        s.frequency_penalty = p;
    }
    if let Some(p) = number_in(o, "presence_penalty", -2.0, 2.0)? {
        s.presence_penalty = p;
    }
    s.logit_bias = logit_bias(o)?;
    if let Some(k) = integer(o, "top_k")? {
        s.top_k = u32::try_from(k).map_err(|_| ApiError::invalid("`top_k` must be 0 or more.", Some("top_k")))?;
    }
    if let Some(seed) = integer(o, "seed")? {
        // OpenAI takes any 64-bit seed; llama.cpp's sampler takes 32 bits.
        s.seed = Some((seed as u64 & u64::from(u32::MAX)) as u32);
    }
    s.stop = match field(o, "stop") {
        None => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| wrong("stop", "a string or an array of strings")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(wrong("stop", "a string or an array of strings")),
    };
    s.stop.retain(|x| !x.is_empty());
    check_stops(&s.stop, "stop", MAX_STOPS)?;
    Ok(s)
}

/// The longest stop string taken, in characters: the engine holds back that much of the reply while
/// it could still be the start of one.
pub const MAX_STOP_CHARS: usize = 256;

/// A request's stop strings: at most `max` of them, each at most `MAX_STOP_CHARS` long.
pub fn check_stops(stops: &[String], param: &str, max: usize) -> Result<(), ApiError> {
    if stops.len() > max {
        return Err(ApiError::invalid(format!("`{param}` takes at most {max} strings."), Some(param)));
    }
    if stops.iter().any(|x| x.chars().count() > MAX_STOP_CHARS) {
        return Err(ApiError::invalid(format!("Each of `{param}` may be at most {MAX_STOP_CHARS} characters long."), Some(param)));
    }
    Ok(())
}

fn messages(o: &Map<String, Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let Some(items) = field(o, "messages") else { return Err(missing("messages")) };
    let Value::Array(items) = items else { return Err(wrong("messages", "an array of messages")) };
    if items.is_empty() {
        return Err(ApiError::invalid("`messages` must hold at least one message.", Some("messages")));
    }
    let parts = items.iter().filter_map(|m| m.get("content")?.as_array()).flatten();
    pictures::count(parts.clone().filter(|p| p.get("type").and_then(Value::as_str) == Some("image_url")).count(), "messages")?;
    crate::attachments::count(parts.filter(|p| p.get("type").and_then(Value::as_str) == Some("file")).count(), "messages")?;
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let Value::Object(m) = m else { return Err(wrong(&format!("messages[{i}]"), "an object")) };
            let role = match m.get("role").and_then(Value::as_str) {
                Some("system" | "developer") => ChatRole::System,
                Some("user") => ChatRole::User,
                Some("assistant") => ChatRole::Assistant,
                Some("tool") => ChatRole::Tool,
                _ => return Err(wrong(&format!("messages[{i}].role"), "one of system, developer, user, assistant, tool")),
            };
            let (text, images) = content(m.get("content"), i, role)?;
            let mut message = ChatMessage { images, ..ChatMessage::new(role, text) };
            if let Some(calls) = m.get("tool_calls").filter(|c| !c.is_null()) {
                message.tool_calls = tool_calls(calls, i)?;
            }
            if let Some(id) = m.get("tool_call_id").filter(|c| !c.is_null()) {
                message.tool_call_id =
                    Some(id.as_str().ok_or_else(|| wrong(&format!("messages[{i}].tool_call_id"), "a string"))?.to_string());
            }
            Ok(message)
        })
        .collect()
}

/// An assistant message's `tool_calls`: `[{"id", "type": "function", "function": {"name",
/// "arguments": JSON text}}]`.
fn tool_calls(calls: &Value, i: usize) -> Result<Vec<ToolCall>, ApiError> {
    let bad = || {
        wrong(&format!("messages[{i}].tool_calls"), "an array of {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\"}}")
    };
    let Value::Array(calls) = calls else { return Err(bad()) };
    calls
        .iter()
        .map(|c| {
            let f = c.get("function").ok_or_else(bad)?;
            let name = f.get("name").and_then(Value::as_str).ok_or_else(bad)?;
            let arguments = match f.get("arguments") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => "{}".into(),
                Some(other) => other.to_string(),
            };
            Ok(ToolCall { id: c.get("id").and_then(Value::as_str).unwrap_or_default().to_string(), name: name.to_string(), arguments })
        })
        .collect()
}

/// A message's text and pictures: a string, or an array of `text`, `image_url` and `file` parts
/// (each picture at its place in the text, each document's text there whole).
fn content(value: Option<&Value>, i: usize, role: ChatRole) -> Result<(String, Vec<ChatImage>), ApiError> {
    let expected = "a string or an array of text and image_url parts";
    match value {
        None | Some(Value::Null) => Ok((String::new(), Vec::new())),
        Some(Value::String(s)) => Ok((s.clone(), Vec::new())),
        Some(Value::Array(parts)) => {
            let (mut text, mut images) = (String::new(), Vec::new());
            for (j, part) in parts.iter().enumerate() {
                match (part.get("type").and_then(Value::as_str), part.get("text").and_then(Value::as_str)) {
                    (Some("text"), Some(t)) => text.push_str(t),
                    (Some("image_url"), _) => {
                        let path = format!("messages[{i}].content[{j}]");
                        images.push(pictures::from_image_url(part, text.len(), &pictures::Place { param: "messages", path: &path, role })?);
                    }
                    (Some("file"), _) => {
                        let path = format!("messages[{i}].content[{j}]");
                        text.push_str(&crate::attachments::from_openai(part, &pictures::Place { param: "messages", path: &path, role })?);
                    }
                    (Some(other), _) if other != "text" => {
                        return Err(ApiError::invalid(
                            format!("This server reads text, pictures and files; messages[{i}] has a `{other}` part."),
                            Some("messages"),
                        ))
                    }
                    _ => return Err(wrong(&format!("messages[{i}].content"), expected)),
                }
            }
            Ok((text, images))
        }
        Some(_) => Err(wrong(&format!("messages[{i}].content"), expected)),
    }
}

fn raw_prompt(o: &Map<String, Value>) -> Result<String, ApiError> {
    match field(o, "prompt") {
        None => Err(missing("prompt")),
        Some(Value::String(p)) => Ok(p.clone()),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => Ok(items[0].as_str().unwrap_or_default().to_string()),
        Some(Value::Array(_)) => {
            Err(ApiError::invalid("This server completes one prompt per request: send `prompt` as a string.", Some("prompt")))
        }
        Some(_) => Err(wrong("prompt", "a string")),
    }
}

pub(crate) fn field<'a>(o: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    o.get(name).filter(|v| !v.is_null())
}

fn missing(name: &str) -> ApiError {
    ApiError::invalid(format!("`{name}` is required."), Some(name))
}

/// A JSON schema a reply may be held to (a `response_format`, a tool's parameters), checked before
/// it goes near llama.cpp's converter (`engine::schema`): a 400 naming the keyword and where it is.
pub fn enforceable(schema: &Value, name: &str) -> Result<(), ApiError> {
    schema::check(schema).map_err(|e| {
        ApiError::invalid(
            format!("The JSON schema in `{name}` cannot be enforced: {e}."),
            Some(name.split(['.', '[']).next().unwrap_or(name)),
        )
    })
}

pub(crate) fn wrong(name: &str, what: &str) -> ApiError {
    ApiError::invalid(format!("`{name}` must be {what}."), Some(name.split(['.', '[']).next().unwrap_or(name)))
}

fn string(o: &Map<String, Value>, name: &str) -> Result<Option<String>, ApiError> {
    match field(o, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(wrong(name, "a string")),
    }
}

fn boolean(o: &Map<String, Value>, name: &str) -> Result<Option<bool>, ApiError> {
    match field(o, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong(name, "true or false")),
    }
}

fn integer(o: &Map<String, Value>, name: &str) -> Result<Option<i64>, ApiError> {
    match field(o, name) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or_else(|| wrong(name, "an integer")),
    }
}

fn number_in(o: &Map<String, Value>, name: &str, low: f64, high: f64) -> Result<Option<f32>, ApiError> {
    match field(o, name) {
        None => Ok(None),
        Some(v) => {
            let n = v.as_f64().ok_or_else(|| wrong(name, "a number"))?;
            if !(low..=high).contains(&n) {
                return Err(ApiError::invalid(format!("`{name}` must be between {low} and {high}."), Some(name)));
            }
            Ok(Some(n as f32))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: &str) -> Result<ValidRequest, ApiError> {
        parse(body.as_bytes(), Endpoint::Chat, 1000)
    }

    fn param(e: ApiError) -> Option<String> {
        match e {
            ApiError::InvalidRequest { param, .. } => param,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_full_chat_request_is_read() {
        let r = chat(r#"{"model":"m","messages":[{"role":"developer","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]},{"role":"assistant","content":null}],
            "stream":true,"stream_options":{"include_usage":true},"max_completion_tokens":7,"max_tokens":99,"temperature":0,"top_p":0.5,
            "stop":"END","seed":42,"frequency_penalty":0,"presence_penalty":0.0,"logit_bias":{},"user":"x","n":1}"#).unwrap();
        assert_eq!(r.model, "m");
        assert!(r.stream && r.include_usage);
        assert_eq!(r.sampling.max_tokens, Some(7), "max_completion_tokens wins over the older max_tokens");
        assert_eq!(r.sampling.temperature, 0.0);
        assert_eq!(r.sampling.top_p, 0.5);
        assert_eq!(r.sampling.stop, vec!["END"]);
        assert_eq!(r.sampling.seed, Some(42));
        let Prompt::Chat(m) = r.prompt else { panic!() };
        assert_eq!(m[0], ChatMessage::new(ChatRole::System, "be brief"));
        assert_eq!(m[1].content, "hi");
        assert_eq!(m[2].content, "");
    }

    #[test]
    fn response_format_becomes_a_constraint() {
        let with = |rf: &str| chat(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"response_format":{rf}}}"#));
        assert_eq!(with("null").unwrap().constraint, None);
        assert_eq!(with(r#"{"type":"text"}"#).unwrap().constraint, None);
        assert_eq!(with(r#"{"type":"json_object"}"#).unwrap().constraint, Some(Constraint::JsonObject));
        // llama.cpp's form: the schema beside json_object is enforced, not dropped (issue 31).
        let schema = r#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#;
        assert_eq!(
            with(&format!(r#"{{"type":"json_object","schema":{schema}}}"#)).unwrap().constraint,
            Some(Constraint::JsonSchema { schema: serde_json::from_str::<Value>(schema).unwrap().to_string() })
        );
        assert!(with(r#"{"type":"json_object","schema":"x"}"#).is_err());
        let schema =
            with(r#"{"type":"json_schema","json_schema":{"name":"city","strict":true,"schema":{"type":"object","required":["a"]}}}"#);
        let Some(Constraint::JsonSchema { schema }) = schema.unwrap().constraint else { panic!("a schema") };
        assert_eq!(serde_json::from_str::<Value>(&schema).unwrap(), serde_json::json!({"type":"object","required":["a"]}));
        for bad in [
            r#""json""#,
            r#"{"type":"yaml"}"#,
            r#"{}"#,
            r#"{"type":"json_schema"}"#,
            r#"{"type":"json_schema","json_schema":{"name":"x"}}"#,
            r#"{"type":"json_schema","json_schema":{"name":"x","schema":"{}"}}"#,
            r#"{"type":"json_schema","json_schema":{"name":"x","strict":"yes","schema":{}}}"#,
        ] {
            let p = param(with(bad).unwrap_err());
            assert!(p.as_deref().is_some_and(|p| p.starts_with("response_format")), "{bad}: {p:?}");
        }
    }

    #[test]
    fn tools_tool_choice_and_tool_messages_are_read() {
        let tools = r#"[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]"#;
        let with = |extra: &str| chat(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"tools":{tools}{extra}}}"#));
        let r = with("").unwrap();
        assert_eq!((r.tool_choice.clone(), r.parallel_tool_calls), (ToolChoice::Auto, true));
        assert_eq!(r.tools.unwrap()[0]["function"]["name"], "get_weather");
        assert_eq!(with(r#","tool_choice":"required","parallel_tool_calls":false"#).unwrap().tool_choice, ToolChoice::Required);
        assert_eq!(with(r#","tool_choice":"none""#).unwrap().tool_choice, ToolChoice::None);
        let named = with(r#","tool_choice":{"type":"function","function":{"name":"get_weather"}}"#).unwrap();
        assert_eq!(named.tool_choice, ToolChoice::Named("get_weather".into()));
        for bad in [
            r#","tool_choice":{"type":"function","function":{"name":"other"}}"#,
            r#","tool_choice":"always""#,
            r#","tool_choice":"required","response_format":{"type":"json_object"}"#,
        ] {
            assert_eq!(param(with(bad).unwrap_err()).as_deref(), Some("tool_choice"), "{bad}");
        }
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tool_choice":"required"}"#).unwrap_err()).as_deref(),
            Some("tool_choice")
        );
        assert_eq!(
            param(
                chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{}}]}"#)
                    .unwrap_err()
            )
            .as_deref(),
            Some("tools")
        );

        let r = chat(r#"{"model":"m","messages":[{"role":"user","content":"w?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"18 C"}]}"#).unwrap();
        let Prompt::Chat(m) = r.prompt else { panic!() };
        assert_eq!(
            m[1].tool_calls,
            vec![ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city":"Paris"}"#.into() }]
        );
        assert_eq!((m[2].role, m[2].tool_call_id.as_deref(), m[2].content.as_str()), (ChatRole::Tool, Some("call_1"), "18 C"));
    }

    #[test]
    fn what_would_change_the_answer_and_is_not_carried_out_is_a_400_naming_it() {
        let with = |extra: &str| chat(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}]{extra}}}"#));
        for (extra, name) in [
            (r#","frequency_penalty":2.5"#, "frequency_penalty"),
            (r#","presence_penalty":"x""#, "presence_penalty"),
            (r#","logit_bias":{"50256":-101}"#, "logit_bias"),
            (r#","logit_bias":{"token":1}"#, "logit_bias"),
            (r#","modalities":["text","audio"]"#, "modalities"),
            (r#","prediction":{"type":"content","content":"x"}"#, "prediction"),
        ] {
            assert_eq!(param(with(extra).unwrap_err()).as_deref(), Some(name), "{extra}");
        }
        assert!(with(r#","modalities":["text"],"logit_bias":{},"frequency_penalty":0"#).is_ok());
        // Carried out as llama-server does (issue 31: the peers accept them).
        let r = with(r#","frequency_penalty":0.5,"presence_penalty":-1,"logit_bias":{"50256":-100,"7":2.5}"#).unwrap();
        assert_eq!((r.sampling.frequency_penalty, r.sampling.presence_penalty), (0.5, -1.0));
        let mut bias = r.sampling.logit_bias;
        bias.sort_by_key(|(t, _)| *t);
        assert_eq!(bias, vec![(7, 2.5), (50256, -100.0)]);
    }

    #[test]
    fn embeddings_inputs_in_every_shape_openai_allows() {
        use engine::EmbedInput::{Text, Tokens};
        let read = |body: &str| embeddings(body.as_bytes(), 100);
        assert_eq!(read(r#"{"model":"m","input":"a"}"#).unwrap().inputs, vec![Text("a".into())]);
        assert_eq!(read(r#"{"model":"m","input":["a","b"]}"#).unwrap().inputs, vec![Text("a".into()), Text("b".into())]);
        assert_eq!(read(r#"{"model":"m","input":[1,2]}"#).unwrap().inputs, vec![Tokens(vec![1, 2])]);
        assert_eq!(read(r#"{"model":"m","input":[[1],[2,3]]}"#).unwrap().inputs, vec![Tokens(vec![1]), Tokens(vec![2, 3])]);
        assert!(read(r#"{"model":"m","input":"a","encoding_format":"base64"}"#).unwrap().base64);
        for bad in [
            r#"{"model":"m"}"#,
            r#"{"model":"m","input":[]}"#,
            r#"{"model":"m","input":[1.5]}"#,
            r#"{"model":"m","input":"a","encoding_format":"hex"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
        assert!(read(&format!(r#"{{"model":"m","input":"{}"}}"#, "x".repeat(101))).is_err(), "too long");
    }

    #[test]
    fn logprobs_are_read_as_each_endpoint_writes_them() {
        let with = |extra: &str| chat(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}]{extra}}}"#));
        assert_eq!(with("").unwrap().logprobs, None);
        assert_eq!(with(r#","logprobs":false"#).unwrap().logprobs, None);
        assert_eq!(with(r#","logprobs":true"#).unwrap().logprobs, Some(0));
        assert_eq!(with(r#","logprobs":true,"top_logprobs":5"#).unwrap().logprobs, Some(5));
        assert_eq!(param(with(r#","top_logprobs":5"#).unwrap_err()).as_deref(), Some("top_logprobs"));
        assert_eq!(param(with(r#","logprobs":true,"top_logprobs":21"#).unwrap_err()).as_deref(), Some("top_logprobs"));
        assert_eq!(param(with(r#","logprobs":3"#).unwrap_err()).as_deref(), Some("logprobs"));
        let text = |extra: &str| parse(format!(r#"{{"model":"m","prompt":"x"{extra}}}"#).as_bytes(), Endpoint::Text, 1000);
        assert_eq!(text(r#","logprobs":2"#).unwrap().logprobs, Some(2));
        assert_eq!(param(text(r#","logprobs":6"#).unwrap_err()).as_deref(), Some("logprobs"));
    }

    #[test]
    fn embedding_inputs_count_their_tokens_and_are_capped() {
        let with = |input: String| embeddings(format!(r#"{{"model":"m","input":{input}}}"#).as_bytes(), 10_000);
        let ids = |n: usize| format!("[{}]", vec!["1"; n].join(","));
        assert!(with(ids(100)).is_ok());
        // Token arrays count against the same limit as text.
        let many = format!("[{}]", vec![ids(1000); 11].join(","));
        assert_eq!(param(with(many).unwrap_err()).as_deref(), Some("input"));
        let e = embeddings(format!(r#"{{"model":"m","input":{}}}"#, ids(engine::MAX_EMBED_TOKENS + 1)).as_bytes(), 1_000_000).unwrap_err();
        assert_eq!(param(e).as_deref(), Some("input"));
        assert_eq!(param(with(format!("[{}]", vec!["\"a\""; MAX_INPUTS + 1].join(","))).unwrap_err()).as_deref(), Some("input"));
    }

    #[test]
    fn stop_lists_and_their_lengths_are_capped() {
        let with = |stop: &str| chat(&format!(r#"{{"model":"m","messages":[{{"role":"user","content":"x"}}],"stop":{stop}}}"#));
        assert!(with(r#"["a","b","c","d"]"#).is_ok());
        assert_eq!(param(with(r#"["a","b","c","d","e"]"#).unwrap_err()).as_deref(), Some("stop"));
        assert!(with(&format!("{:?}", "x".repeat(MAX_STOP_CHARS))).is_ok());
        assert_eq!(param(with(&format!("{:?}", "x".repeat(MAX_STOP_CHARS + 1))).unwrap_err()).as_deref(), Some("stop"));
    }

    #[test]
    fn wrong_types_name_the_field() {
        assert_eq!(param(chat(r#"{"model":1,"messages":[]}"#).unwrap_err()).as_deref(), Some("model"));
        assert_eq!(param(chat(r#"{"model":"m","messages":"hi"}"#).unwrap_err()).as_deref(), Some("messages"));
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":"5"}"#).unwrap_err()).as_deref(),
            Some("max_tokens")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":"hot"}"#).unwrap_err()).as_deref(),
            Some("temperature")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":3}"#).unwrap_err()).as_deref(),
            Some("temperature")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stop":[1]}"#).unwrap_err()).as_deref(),
            Some("stop")
        );
        assert_eq!(
            param(chat(r#"{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}"#).unwrap_err()).as_deref(),
            Some("stream")
        );
        assert_eq!(param(chat(r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#).unwrap_err()).as_deref(), Some("messages"));
        assert_eq!(param(chat(r#"{"messages":[{"role":"user","content":"x"}]}"#).unwrap_err()).as_deref(), Some("model"));
        assert!(param(chat("not json").unwrap_err()).is_none());
        assert!(param(chat("[1]").unwrap_err()).is_none());
    }

    #[test]
    fn completions_take_a_prompt_and_long_prompts_are_refused() {
        let r = parse(br#"{"model":"m","prompt":["Once"],"stop":["a","b"]}"#, Endpoint::Text, 1000).unwrap();
        assert_eq!(r.prompt, Prompt::Raw("Once".into()));
        assert_eq!(r.sampling.stop.len(), 2);
        assert!(parse(br#"{"model":"m","prompt":["a","b"]}"#, Endpoint::Text, 1000).is_err());
        let long = format!(r#"{{"model":"m","prompt":"{}"}}"#, "x".repeat(1001));
        let e = parse(long.as_bytes(), Endpoint::Text, 1000).unwrap_err();
        assert!(matches!(e, ApiError::InvalidRequest { code: Some("context_length_exceeded"), .. }));
    }
}
