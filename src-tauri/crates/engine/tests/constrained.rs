//! Constrained decoding through the worker with the real test model: a JSON schema (turned into a
//! grammar by llama.cpp's own converter) holds a small model that would otherwise write prose to
//! JSON that parses and validates; a plain JSON object likewise; a schema llama.cpp cannot enforce
//! is refused with a clear error, and the engine goes on serving.

#[path = "support/common.rs"]
mod common;

use common::*;
use engine::Constraint;
use types::{ChatMessage, ChatRole, ErrorCode, StopReason};

const SCHEMA: &str = r#"{
  "type": "object",
  "properties": {
    "city": {"type": "string", "maxLength": 40},
    "population_millions": {"type": "integer"},
    "coastal": {"type": "boolean"}
  },
  "required": ["city", "population_millions", "coastal"],
  "additionalProperties": false
}"#;

fn ask(constraint: Option<Constraint>) -> engine::GenerateParams {
    let question = "Name the capital of France, its population in millions and whether it is on the coast.";
    let mut p = chat(vec![ChatMessage::new(ChatRole::User, question)], greedy(96));
    p.constraint = constraint;
    p
}

#[tokio::test]
async fn a_json_schema_holds_the_reply_to_valid_json() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };

    // Unconstrained, this small model answers in prose.
    let (free, _) = run(&host, ask(None)).await.expect("reply");
    assert!(serde_json::from_str::<serde_json::Value>(free.concat().trim()).is_err(), "already JSON: {}", free.concat());

    let (pieces, stats) = run(&host, ask(Some(Constraint::JsonSchema { schema: SCHEMA.into() }))).await.expect("reply");
    let text = pieces.concat();
    assert_eq!(stats.stop_reason, StopReason::Eos, "the grammar ends the reply when the JSON is whole: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    let o = v.as_object().expect("an object");
    assert_eq!(o.len(), 3, "{text}");
    assert!(o["city"].as_str().is_some_and(|c| c.chars().count() <= 40), "{text}");
    assert!(o["population_millions"].is_i64() || o["population_millions"].is_u64(), "{text}");
    assert!(o["coastal"].is_boolean(), "{text}");

    // Any object: the model chooses the keys (asked for one, so that this small model closes it).
    let question = r#"What is the capital of France? Reply in JSON with the key "capital" only."#;
    let mut any = chat(vec![ChatMessage::new(ChatRole::User, question)], greedy(64));
    any.constraint = Some(Constraint::JsonObject);
    let (pieces, stats) = run(&host, any).await.expect("reply");
    let text = pieces.concat();
    assert_eq!(stats.stop_reason, StopReason::Eos, "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    assert!(v.is_object(), "{text}");
}

#[tokio::test]
async fn a_schema_llama_cpp_cannot_enforce_is_refused_clearly() {
    let _serial = one_at_a_time().await;
    let Some(host) = loaded_host().await else { return };
    for bad in [r##"{"$ref": "#/definitions/nowhere"}"##, r#"{"type": "object", "properties": 7}"#, "not json"] {
        let e = run(&host, ask(Some(Constraint::JsonSchema { schema: bad.into() }))).await.expect_err(bad);
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}: {e:?}");
        assert!(e.message.contains("cannot be enforced"), "{}", e.message);
    }
    // The engine is still there.
    let (pieces, _) = run(&host, ask(None)).await.expect("the engine still answers");
    assert!(!pieces.concat().is_empty());
}
