//! The chat templates of well-known model families, as published in their `tokenizer_config.json`,
//! rendered for one fixed conversation (system, user, assistant, user; generation prompt on) and
//! compared byte for byte with what Hugging Face's `apply_chat_template` (jinja2 with
//! `trim_blocks` and `lstrip_blocks`) produces. The expected files in `fixtures/templates/` were
//! rendered with jinja2 3.1. Also: a template that raises must give its own message, and one that
//! loops forever must be stopped by the fuel limit, fast. And tools: Qwen 2.5's and Llama 3.1's
//! templates (`qwen2.5.jinja`, `llama3.1.jinja`, as published with those models) render the
//! functions, an assistant's call and the tool's answer in their own formats.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use prompt::template::{ChatTemplate, TemplateError, TemplateInputs};
use types::{ChatMessage, ChatRole};

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/templates").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::new(ChatRole::System, "You are a terse assistant."),
        ChatMessage::new(ChatRole::User, "What is the capital of France?"),
        ChatMessage::new(ChatRole::Assistant, "Paris."),
        // The trailing space shows which templates trim content and which do not.
        ChatMessage::new(ChatRole::User, "And of Italy? "),
    ]
}

fn render(name: &str, bos: &str, eos: &str) -> Result<String, TemplateError> {
    let messages = conversation();
    ChatTemplate::new(&fixture(&format!("{name}.jinja")))?.render(&TemplateInputs {
        messages: &messages,
        add_generation_prompt: true,
        bos_token: bos,
        eos_token: eos,
        tools: None,
    })
}

fn check(name: &str, bos: &str, eos: &str) {
    let got = render(name, bos, eos).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got, fixture(&format!("{name}.expected.txt")), "{name}");
}

#[test]
fn chatml_as_smollm2_publishes_it() {
    check("chatml", "<|im_start|>", "<|im_end|>");
}

#[test]
fn llama_3_instruct() {
    check("llama3", "<|begin_of_text|>", "<|eot_id|>");
}

#[test]
fn gemma_3_folds_the_system_message_into_the_first_turn() {
    check("gemma3", "<bos>", "<eos>");
}

#[test]
fn mistral_instruct_puts_the_system_message_in_the_last_turn() {
    check("mistral", "<s>", "</s>");
}

#[test]
fn gemma_2_refuses_a_system_message_with_its_own_words() {
    assert_eq!(render("gemma2", "<bos>", "<eos>"), Err(TemplateError::Raised("System role not supported".into())));
}

#[test]
fn an_endless_template_runs_out_of_fuel_quickly() {
    let started = Instant::now();
    assert_eq!(render("hostile_loop", "", ""), Err(TemplateError::OutOfFuel));
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    println!("hostile template stopped after {took:?}");
}

/// Templates that take `tools` (Qwen 2.5's and Llama 3.1's, as published) get the functions, the
/// assistant's calls and the tools' answers in their own formats.
fn tool_round_trip(name: &str) -> String {
    let tools = serde_json::json!([{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]);
    let mut call = ChatMessage::new(ChatRole::Assistant, "");
    call.tool_calls = vec![types::ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city": "Paris"}"#.into() }];
    let mut answer = ChatMessage::new(ChatRole::Tool, r#"{"temperature": 18}"#);
    answer.tool_call_id = Some("call_1".into());
    let messages = vec![ChatMessage::new(ChatRole::User, "Weather in Paris?"), call, answer];
    let source = fixture(&format!("{name}.jinja"));
    assert!(prompt::tools::template_takes_tools(&source));
    ChatTemplate::new(&source)
        .and_then(|t| t.render(&TemplateInputs { messages: &messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", tools: Some(&tools) }))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn qwen_2_5_renders_tools_calls_and_answers_in_its_hermes_format() {
    let p = tool_round_trip("qwen2.5");
    assert!(p.contains("# Tools") && p.contains("<tools>\n{") && p.contains("\"get_weather\""), "{p}");
    assert!(p.contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {"), "{p}");
    assert!(p.contains("<tool_response>\n{\"temperature\": 18}\n</tool_response>"), "{p}");
    assert!(p.ends_with("<|im_start|>assistant\n"), "{p}");
    // What the model then writes is found again.
    let parsed = prompt::tools::parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>");
    assert_eq!(parsed.calls[0].name, "get_weather");
}

#[test]
fn llama_3_1_renders_tools_calls_and_answers_in_its_own_format() {
    let p = tool_round_trip("llama3.1");
    assert!(p.contains("Given the following functions") && p.contains("\"get_weather\""), "{p}");
    assert!(p.contains("<|start_header_id|>ipython<|end_header_id|>"), "{p}");
    // Llama 3.1's template writes a string answer with `tojson` (strings are iterable in Jinja),
    // as Hugging Face renders it too.
    assert!(p.contains(r#""{\"temperature\": 18}""#), "{p}");
    assert!(p.contains(r#"{"name": "get_weather", "parameters": {"city": "Paris"}}"#), "{p}");
    assert!(p.ends_with("<|start_header_id|>assistant<|end_header_id|>\n\n"), "{p}");
}

