//! The chat template a model gets when its file carries none: its family's, from llama.cpp's
//! built-in templates. The vocabulary is the surest sign (a model can only write the control
//! tokens it has: ChatML's `<|im_start|>`, Gemma's `<start_of_turn>`, Llama 3's
//! `<|start_header_id|>`…); the architecture decides when the vocabulary says nothing. ChatML is
//! the last resort, as before, but only then: a Gemma prompted in ChatML answers with ChatML's
//! tokens in its text.

use types::{TemplateInUse, TemplateSource};

/// llama.cpp's built-in templates a person can choose from (its names), with what people call
/// them. Each is one of llama.cpp's `LLM_CHAT_TEMPLATES`.
pub const BUILT_IN: &[(&str, &str)] = &[
    ("chatml", "ChatML (Qwen, SmolLM, Hermes, Yi…)"),
    ("llama3", "Llama 3"),
    ("llama4", "Llama 4"),
    ("llama2", "Llama 2"),
    ("mistral-v1", "Mistral v1 ([INST])"),
    ("mistral-v3", "Mistral v3 ([INST] tokens)"),
    ("mistral-v7", "Mistral v7 (system prompt tokens)"),
    ("gemma", "Gemma"),
    ("phi3", "Phi 3"),
    ("phi4", "Phi 4"),
    ("command-r", "Command R"),
    ("deepseek3", "DeepSeek V3"),
    ("granite", "Granite 3"),
    ("zephyr", "Zephyr"),
    ("vicuna", "Vicuna"),
];

/// Whether `name` is one of the built-ins a person can choose.
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN.iter().any(|(n, _)| *n == name)
}

/// The name people know a built-in template by.
pub fn label(name: &str) -> String {
    BUILT_IN.iter().find(|(n, _)| *n == name).map_or_else(|| name.to_string(), |(_, l)| (*l).to_string())
}

/// Control tokens that give a family away, most specific first.
const SIGNS: &[(&str, &str)] = &[
    ("<|start_header_id|>", "llama3"),
    ("<|header_start|>", "llama4"),
    ("<start_of_turn>", "gemma"),
    ("<|im_start|>", "chatml"),
    ("[SYSTEM_PROMPT]", "mistral-v7"),
    ("[INST]", "mistral-v3"),
    ("<|im_sep|>", "phi4"),
    ("<|assistant|>", "phi3"),
    ("<|START_OF_TURN_TOKEN|>", "command-r"),
];

/// The template for a model whose file has none. `has_token` says whether the vocabulary has a
/// control token written exactly so.
pub fn for_family(architecture: &str, n_vocab: i32, has_token: impl Fn(&str) -> bool) -> TemplateInUse {
    if let Some((token, name)) = SIGNS.iter().find(|(token, _)| has_token(token)) {
        return guess(name, format!("the file has no chat template; its vocabulary has {}'s {token}", label(name)));
    }
    let by_arch = match architecture {
        a if a.starts_with("gemma") => Some("gemma"),
        "llama4" => Some("llama4"),
        // Llama 2 and the first Mistrals share the [INST] format written as text; Llama 3's
        // vocabulary is 128,256 tokens.
        "llama" if n_vocab >= 128_000 => Some("llama3"),
        "llama" if n_vocab <= 32_000 => Some("llama2"),
        "phi3" => Some("phi3"),
        "command-r" | "cohere2" => Some("command-r"),
        "granite" | "granitemoe" => Some("granite"),
        "deepseek2" | "deepseek3" => Some("deepseek3"),
        a if a.starts_with("qwen") => Some("chatml"),
        _ => None,
    };
    match by_arch {
        Some(name) => guess(name, format!("the file has no chat template; {} is the {architecture} family's", label(name))),
        None => guess(
            "chatml",
            format!("the file has no chat template and Hearth does not know the {architecture} family's; ChatML is the common default"),
        ),
    }
}

fn guess(name: &str, why: String) -> TemplateInUse {
    TemplateInUse { name: name.to_string(), label: label(name), source: TemplateSource::Family, why }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> bool {
        false
    }

    #[test]
    fn the_vocabulary_decides_first() {
        let has = |t: &str| t == "<|im_start|>";
        // SmolLM2 is a "llama" with ChatML's tokens.
        assert_eq!(for_family("llama", 49152, has).name, "chatml");
        assert_eq!(for_family("gemma3", 262144, |t| t == "<start_of_turn>").name, "gemma");
        assert_eq!(for_family("llama", 128256, |t| t == "<|start_header_id|>").name, "llama3");
        assert_eq!(for_family("llama", 32768, |t| t == "[INST]").name, "mistral-v3");
        assert_eq!(for_family("phi3", 32064, |t| t == "<|assistant|>").name, "phi3");
    }

    #[test]
    fn the_architecture_decides_when_the_vocabulary_says_nothing() {
        for (arch, vocab, name) in [
            ("gemma3", 262144, "gemma"),
            ("gemma2", 256000, "gemma"),
            ("llama", 128256, "llama3"),
            ("llama", 32000, "llama2"),
            ("phi3", 32064, "phi3"),
            ("qwen2", 152064, "chatml"),
            ("qwen3", 151936, "chatml"),
            ("mystery", 1000, "chatml"),
        ] {
            let t = for_family(arch, vocab, none);
            assert_eq!(t.name, name, "{arch}");
            assert_eq!(t.source, TemplateSource::Family);
            assert!(t.why.contains("no chat template"), "{}", t.why);
        }
    }

    /// (That llama.cpp has each of them is checked with the real model: engine/tests/templates.rs.)
    #[test]
    fn every_guess_is_a_choice_a_person_has_too() {
        for (_, name) in SIGNS {
            assert!(is_built_in(name), "{name}");
        }
    }
}
