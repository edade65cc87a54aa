//! Any bytes as a chat template (anyone can publish one in a GGUF), and as the conversation a real
//! template renders (anyone can send one): compiling and rendering must return an error or a
//! prompt, never panic, never run past the fuel budget, never write more than `MAX_PROMPT_BYTES`.
//! The first byte picks which: even, the rest is a template's source rendered with a conversation
//! that has tools, calls and answers; odd, the rest is split at NUL bytes into messages rendered
//! through each real template of the engine's tests.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run render_template` in src-tauri/crates/prompt (the corpus
//! in fuzz/corpus/render_template starts from those templates).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prompt::template::{ChatTemplate, TemplateInputs, MAX_PROMPT_BYTES};
use types::{ChatMessage, ChatRole, ToolCall};

const REAL: [&str; 6] = [
    include_str!("../../tests/fixtures/templates/chatml.jinja"),
    include_str!("../../tests/fixtures/templates/gemma3.jinja"),
    include_str!("../../tests/fixtures/templates/llama3.1.jinja"),
    include_str!("../../tests/fixtures/templates/mistral.jinja"),
    include_str!("../../tests/fixtures/templates/qwen2.5.jinja"),
    include_str!("../../tests/fixtures/templates/llama3.jinja"),
];

fn render(source: &str, messages: &[ChatMessage]) {
    let tools = serde_json::json!([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]);
    let Ok(template) = ChatTemplate::new(source) else { return };
    for tools in [None, Some(&tools)] {
        let inputs = TemplateInputs { messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>", tools };
        if let Ok(prompt) = template.render(&inputs) {
            assert!(prompt.len() <= MAX_PROMPT_BYTES);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if pick % 2 == 0 {
        let mut call = ChatMessage::new(ChatRole::Assistant, "");
        call.tool_calls = vec![ToolCall { id: "call_1".into(), name: "get_weather".into(), arguments: r#"{"city": "Paris"}"#.into() }];
        let mut answer = ChatMessage::new(ChatRole::Tool, "18 C");
        answer.tool_call_id = Some("call_1".into());
        let messages =
            [ChatMessage::new(ChatRole::System, "Be brief."), ChatMessage::new(ChatRole::User, "Weather in Paris?"), call, answer];
        render(text, &messages);
    } else {
        let roles = [ChatRole::System, ChatRole::User, ChatRole::Assistant, ChatRole::User, ChatRole::Tool];
        let messages: Vec<ChatMessage> =
            text.split('\0').zip(roles.iter().cycle()).map(|(content, role)| ChatMessage::new(*role, content)).collect();
        for source in REAL {
            render(source, &messages);
        }
    }
});
