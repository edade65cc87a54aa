//! The chat templates of well-known model families, as published in their `tokenizer_config.json`,
//! rendered for one fixed conversation (system, user, assistant, user; generation prompt on) and
//! compared byte for byte with what Hugging Face's `apply_chat_template` (jinja2 with
//! `trim_blocks` and `lstrip_blocks`) produces. The expected files in `fixtures/templates/` were
//! rendered with jinja2 3.1. Also: a template that raises must give its own message, and one that
//! loops forever must be stopped by the fuel limit, fast.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use engine::template::{ChatTemplate, TemplateError, TemplateInputs};
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
