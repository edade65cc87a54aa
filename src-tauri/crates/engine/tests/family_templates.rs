//! A model file with no chat template gets its family's (engine::template::family), rendered by
//! llama.cpp's built-in templates: each family's turns come out in its own format, the real test
//! model with its template removed (a copy rewritten without `tokenizer.chat_template`) answers
//! without control tokens in its text, and a template chosen for a model replaces the file's.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::template::family;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use types::{ChatMessage, ChatRole, TemplateSource};

/// What each family's prompt must contain for a user turn "Hi" and the generation prompt after it.
const FORMATS: &[(&str, u32, &str, &[&str])] = &[
    ("gemma3", 262_144, "gemma", &["<start_of_turn>user\nHi<end_of_turn>", "<start_of_turn>model\n"]),
    ("llama", 128_256, "llama3", &["<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|start_header_id|>assistant<|end_header_id|>"]),
    ("llama", 32_000, "llama2", &["[INST] Hi [/INST]"]),
    ("phi3", 32_064, "phi3", &["<|user|>\nHi<|end|>", "<|assistant|>"]),
    ("qwen2", 152_064, "chatml", &["<|im_start|>user\nHi<|im_end|>", "<|im_start|>assistant\n"]),
];

#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn five_families_without_a_template_render_in_their_own_format() {
    let path = model();
    engine::devices::load_backends();
    let backend = LlamaBackend::init().expect("backend");
    let params = engine::llama_params::model_params(&engine::LoadParams::new(&path), &[]).expect("params");
    let model = LlamaModel::load_from_file(&backend, &path, &params).expect("model");
    let hi = [LlamaChatMessage::new("user".into(), "Hi".into()).expect("message")];
    for (arch, vocab, expected, markers) in FORMATS {
        let chosen = family::for_family(arch, *vocab as i32, |_| false);
        assert_eq!(chosen.name, *expected, "{arch} with {vocab} tokens");
        // llama.cpp renders a built-in template by name; the model only supplies nothing here.
        let template = LlamaChatTemplate::new(&chosen.name).expect("template name");
        let prompt = model.apply_chat_template(&template, &hi, true).expect("llama.cpp renders it");
        for marker in *markers {
            assert!(prompt.contains(marker), "{arch} → {}: {marker:?} not in {prompt:?}", chosen.name);
        }
    }
    // Every template a person can choose is one llama.cpp has.
    for (name, _) in family::BUILT_IN {
        let template = LlamaChatTemplate::new(name).expect("template name");
        let prompt = model.apply_chat_template(&template, &hi, true);
        assert!(prompt.as_ref().is_ok_and(|p| p.contains("Hi")), "{name}: {prompt:?}");
    }
}

/// The test model rewritten without its chat template.
fn without_template() -> std::path::PathBuf {
    let path = model();
    let copy = std::env::temp_dir().join(format!("hearth-no-template-{}.gguf", std::process::id()));
    let edit = gguf::write::Edit { drop: vec!["tokenizer.chat_template".into()], ..Default::default() };
    gguf::write::rewrite(&path, &copy, &edit).expect("rewrite");
    let facts = gguf::read_file(&copy).expect("the copy reads");
    assert!(!facts.metadata.contains_key("tokenizer.chat_template"));
    assert_eq!(facts.tensor_bytes, gguf::read_file(&path).expect("original").tensor_bytes);
    copy
}

const QUESTION: &str = "What is the capital of France? Answer in one short sentence.";

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn the_test_model_without_its_template_answers_in_its_familys_format() {
    let copy = without_template();
    let _serial = one_at_a_time().await;
    let host = host();
    let info = host.load_and_wait(load_params(copy.clone())).await.expect("loads");
    assert_eq!(info.template.source, TemplateSource::Family, "{:?}", info.template);
    // SmolLM2's vocabulary has ChatML's tokens: its family's format is ChatML, whatever the
    // architecture ("llama") would suggest.
    assert_eq!(info.template.name, "chatml", "{:?}", info.template);
    assert!(info.template.why.contains("<|im_start|>"), "{}", info.template.why);
    assert!(!info.has_chat_template);
    let (pieces, _) = run(&host, chat(vec![ChatMessage::new(ChatRole::User, QUESTION)], greedy(40))).await.expect("answers");
    let reply = pieces.concat();
    assert!(reply.contains("Paris"), "{reply}");
    for token in ["<|im_end|>", "<|im_start|>", "<end_of_turn>", "<|eot_id|>", "[INST]"] {
        assert!(!reply.contains(token), "{token} in {reply:?}");
    }
    let _ = std::fs::remove_file(copy);
}

#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_template_chosen_for_a_model_replaces_the_files_own() {
    let path = model();
    let _serial = one_at_a_time().await;
    let host = host();
    let info = host.load_and_wait(load_params(path.clone()).with_chat_template(Some("chatml".into()))).await.expect("loads");
    assert_eq!((info.template.source, info.template.name.as_str()), (TemplateSource::Setting, "chatml"));
    let (pieces, _) = run(&host, chat(vec![ChatMessage::new(ChatRole::User, QUESTION)], greedy(40))).await.expect("answers");
    assert!(pieces.concat().contains("Paris"), "{}", pieces.concat());

    let info = host.load_and_wait(load_params(path.clone())).await.expect("loads");
    assert_eq!(info.template.source, TemplateSource::File);

    let refused = host.load_and_wait(load_params(path).with_chat_template(Some("no-such-template".into()))).await;
    let e = refused.expect_err("an unknown template is refused");
    assert_eq!(e.code, types::ErrorCode::TemplateError, "{e:?}");
}
