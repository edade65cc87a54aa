//! Renders a conversation into a prompt with the model's own chat template (the Jinja source in the
//! GGUF's `tokenizer.chat_template`), the way Hugging Face's `apply_chat_template` does: the same
//! variables (`messages`, `add_generation_prompt`, `bos_token`, `eos_token`), the same helpers
//! (`raise_exception`, `strftime_now`), Python string methods (`.strip()`, `.startswith()`…) through
//! minijinja-contrib's pycompat, and the same whitespace rules (`trim_blocks`, `lstrip_blocks`).
//! Templates come from files anyone can publish, so every render runs on a fuel budget: a template
//! that loops forever fails in well under a second instead of hanging the engine. Nor can one
//! exhaust memory: fuel also pays for the data a template makes (64 bytes a unit), every step that
//! turns a value into text is sized first and capped at `bounds::MAX_TEXT` (see `bounds`), and the
//! prompt is capped at `MAX_PROMPT_BYTES` by the writer it is rendered into.
//!
//! The worker falls back to llama.cpp's built-in templates when this fails (see `session.rs`).

mod bounds;
pub mod family;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, State, Value};
use types::ChatMessage;

pub use bounds::MAX_TEXT;

/// What one render may spend: an instruction costs one, 64 bytes of data it makes cost one, so this
/// also caps the data a render keeps at 64 MiB. A long chat through a large template takes well
/// under 100,000; 2 MB of conversation (half a million tokens) under half of it (see the tests); an
/// endless loop runs out in a fraction of a second.
pub const FUEL: u64 = 1_000_000;

/// The longest prompt a template may write: more text than any context holds (about 4 million
/// tokens), far less than would hurt.
pub const MAX_PROMPT_BYTES: usize = 16 << 20;

/// The longest format `strftime_now` takes: a date format is a few characters, and each of them
/// can become a dozen.
const MAX_DATE_FORMAT: usize = 256;

const NAME: &str = "chat_template";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    #[error("the chat template cannot be read: {0}")]
    Syntax(String),
    #[error("the chat template refused the conversation: {0}")]
    Raised(String),
    #[error("the chat template ran too long (an endless loop?) and was stopped")]
    OutOfFuel,
    #[error("the chat template tried to make too much text and was stopped ({0})")]
    TooLarge(String),
    #[error("the chat template failed: {0}")]
    Render(String),
}

/// The variables a template sees, besides helpers.
#[derive(Debug, Clone, Copy)]
pub struct TemplateInputs<'a> {
    pub messages: &'a [ChatMessage],
    pub add_generation_prompt: bool,
    pub bos_token: &'a str,
    pub eos_token: &'a str,
    /// The functions the model may call, in OpenAI's `tools` shape (`[{"type": "function",
    /// "function": {...}}]`), which is what Hugging Face passes templates as `tools`; `None` when
    /// the request has none (templates then see `none`, as with Hugging Face).
    pub tools: Option<&'a serde_json::Value>,
}

/// A message as Hugging Face hands it to a template: `role` and `content` (in that order, as a
/// Python dict keeps them: `tojson` writes them so), an assistant's `tool_calls` with their
/// arguments as an object (templates write them with `tojson`), a tool message's `tool_call_id`.
fn message_value(m: &ChatMessage) -> Value {
    let mut fields = vec![("role", Value::from(m.role.as_str())), ("content", Value::from(m.content.as_str()))];
    if !m.tool_calls.is_empty() {
        let calls = m.tool_calls.iter().map(|c| {
            let arguments = serde_json::from_str::<serde_json::Value>(&c.arguments).unwrap_or_else(|_| serde_json::json!(c.arguments));
            let function = ordered(vec![("name", Value::from(c.name.as_str())), ("arguments", from_json(&arguments))]);
            ordered(vec![("id", Value::from(c.id.as_str())), ("type", Value::from("function")), ("function", function)])
        });
        fields.push(("tool_calls", Value::from_iter(calls)));
    }
    if let Some(id) = &m.tool_call_id {
        fields.push(("tool_call_id", Value::from(id.as_str())));
    }
    ordered(fields)
}

/// A map that keeps its keys in the order given (minijinja's own maps sort them unless built with
/// `preserve_order`), so `tojson` writes them as Hugging Face's Python dicts would.
#[derive(Debug)]
struct Ordered(Vec<(String, Value)>);

impl minijinja::value::Object for Ordered {
    fn repr(self: &std::sync::Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }
    fn get_value(self: &std::sync::Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
    }
    fn enumerate(self: &std::sync::Arc<Self>) -> minijinja::value::Enumerator {
        let keys: Vec<Value> = self.0.iter().map(|(k, _)| Value::from(k.as_str())).collect();
        minijinja::value::Enumerator::Iter(Box::new(keys.into_iter()))
    }
}

fn ordered(fields: Vec<(&str, Value)>) -> Value {
    Value::from_object(Ordered(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
}

/// JSON data as a template value (minijinja's `serde` feature would do this; it is not built).
fn from_json(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => n.as_i64().map(Value::from).or_else(|| n.as_u64().map(Value::from)).unwrap_or_else(|| Value::from(n.as_f64().unwrap_or(0.0))),
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => Value::from_iter(items.iter().map(from_json)),
        serde_json::Value::Object(o) => ordered(o.iter().map(|(k, v)| (k.as_str(), from_json(v))).collect()),
    }
}

/// A chat template compiled once per loaded model, rendered once per request.
pub struct ChatTemplate {
    env: Environment<'static>,
    /// Its source handles `tools` (and with them calls and tool answers) itself.
    takes_tools: bool,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChatTemplate")
    }
}

impl ChatTemplate {
    pub fn new(source: &str) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        // Hugging Face compiles chat templates with these two on; without them the newlines and
        // indentation around `{% %}` tags would end up in the prompt.
        let syntax =
            SyntaxConfig::builder().trim_blocks(true).lstrip_blocks(true).build().map_err(|e| TemplateError::Syntax(describe(&e)))?;
        let guarded = bounds::guard_source(source, NAME, syntax.clone()).map_err(|e| TemplateError::Syntax(describe(&e)))?;
        env.set_syntax(syntax);
        env.set_fuel(Some(FUEL));
        // Also Python's string methods (minijinja-contrib's pycompat), checked.
        bounds::install(&mut env);
        env.add_function("raise_exception", raise_exception);
        env.add_function("strftime_now", strftime_now);
        env.add_template_owned(NAME, guarded).map_err(|e| TemplateError::Syntax(describe(&e)))?;
        Ok(Self { env, takes_tools: crate::tools::template_takes_tools(source) })
    }

    pub fn takes_tools(&self) -> bool {
        self.takes_tools
    }

    pub fn render(&self, inputs: &TemplateInputs<'_>) -> Result<String, TemplateError> {
        self.render_measured(inputs).map(|(prompt, _)| prompt)
    }

    /// `render`, and the fuel it took (tests keep real templates well inside `FUEL` with it).
    pub fn render_measured(&self, inputs: &TemplateInputs<'_>) -> Result<(String, u64), TemplateError> {
        let template = self.env.get_template(NAME).map_err(|e| TemplateError::Syntax(describe(&e)))?;
        let ctx = minijinja::context! {
            messages => Value::from_iter(inputs.messages.iter().map(message_value)),
            tools => inputs.tools.map(from_json),
            add_generation_prompt => inputs.add_generation_prompt,
            bos_token => inputs.bos_token,
            eos_token => inputs.eos_token,
        };
        let mut prompt = CappedWriter { bytes: Vec::new(), cap: MAX_PROMPT_BYTES, overflowed: false };
        let rendered = template.render_captured_to(ctx, &mut prompt).map(|c| c.state().fuel_levels().map_or(0, |(used, _)| used));
        if prompt.overflowed {
            return Err(TemplateError::TooLarge(format!("a prompt of more than {MAX_PROMPT_BYTES} bytes")));
        }
        let rendered = rendered.map_err(|e| match e.kind() {
            ErrorKind::OutOfFuel => TemplateError::OutOfFuel,
            ErrorKind::InvalidOperation if e.detail().is_some_and(|d| d.starts_with(RAISED)) => {
                TemplateError::Raised(e.detail().unwrap_or_default().trim_start_matches(RAISED).to_string())
            }
            ErrorKind::InvalidOperation if e.detail().is_some_and(|d| d.starts_with(bounds::TOO_LARGE)) => {
                TemplateError::TooLarge(e.detail().unwrap_or_default().trim_start_matches(bounds::TOO_LARGE).to_string())
            }
            _ => TemplateError::Render(describe(&e)),
        });
        let fuel = rendered?;
        // minijinja writes only `str`s: this never fails, and never copies.
        let prompt = String::from_utf8(prompt.bytes).map_err(|e| TemplateError::Render(e.to_string()))?;
        Ok((prompt, fuel))
    }
}

/// The prompt as it is rendered, refusing to grow past `cap`.
struct CappedWriter {
    bytes: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl std::io::Write for CappedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.cap {
            self.overflowed = true;
            return Err(std::io::Error::other("the prompt is too long"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Marks errors that the template raised itself, to tell them from minijinja's own.
const RAISED: &str = "raise_exception: ";

fn raise_exception(state: &State, message: &Value) -> Result<Value, Error> {
    // Whatever it is given becomes the message: sized first, like any text.
    bounds::check(state, message, 1, None)?;
    Err(Error::new(ErrorKind::InvalidOperation, format!("{RAISED}{message}")))
}

/// Templates such as Llama 3.1's put today's date in the system prompt.
fn strftime_now(format: &str) -> Result<String, Error> {
    use std::fmt::Write;
    if format.len() > MAX_DATE_FORMAT {
        let what = format!("{}strftime_now with a format of {} bytes", bounds::TOO_LARGE, format.len());
        return Err(Error::new(ErrorKind::InvalidOperation, what));
    }
    let mut out = String::new();
    // chrono reports a bad format as a fmt error rather than panicking when written this way.
    write!(out, "{}", chrono::Local::now().format(format))
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, format!("strftime_now: bad format {format:?}")))?;
    Ok(out)
}

/// minijinja's message with the line it points at, without the multi-line debug dump.
fn describe(e: &Error) -> String {
    match e.line() {
        Some(line) => format!("{e} (line {line})"),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::ChatRole;

    fn render(source: &str, messages: &[ChatMessage]) -> Result<String, TemplateError> {
        ChatTemplate::new(source)?.render(&TemplateInputs { messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", tools: None })
    }

    #[test]
    fn python_string_methods_work_through_pycompat() {
        let m = [ChatMessage::new(ChatRole::User, "  hi  ")];
        let out = render("{{ messages[0].content.strip().upper() }}|{{ 'ab'.startswith('a') }}", &m).unwrap();
        // Python spells booleans `True`, and so does jinja2 under Hugging Face.
        assert_eq!(out, "HI|True");
    }

    #[test]
    fn raise_exception_gives_the_templates_own_message() {
        let err = render("{{ raise_exception('Roles must alternate') }}", &[]).unwrap_err();
        assert_eq!(err, TemplateError::Raised("Roles must alternate".into()));
    }

    #[test]
    fn strftime_now_formats_todays_date() {
        let out = render("{{ strftime_now('%Y') }}", &[]).unwrap();
        assert_eq!(out.len(), 4);
        assert!(out.starts_with('2'));
    }

    #[test]
    fn a_syntax_error_is_reported_when_compiling() {
        assert!(matches!(ChatTemplate::new("{% for %}"), Err(TemplateError::Syntax(_))));
    }

    #[test]
    fn block_tags_leave_no_newlines_behind() {
        let source = "{% for m in messages %}\n  {% if true %}\n[{{ m.content }}]\n  {% endif %}\n{% endfor %}\n";
        let m = [ChatMessage::new(ChatRole::User, "a"), ChatMessage::new(ChatRole::User, "b")];
        assert_eq!(render(source, &m).unwrap(), "[a]\n[b]\n");
    }
}
