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
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_json_schema_holds_the_reply_to_valid_json() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;

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
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_schema_llama_cpp_cannot_enforce_is_refused_clearly() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    for bad in [r##"{"$ref": "#/definitions/nowhere"}"##, r#"{"type": "object", "properties": 7}"#, "not json"] {
        let e = run(&host, ask(Some(Constraint::JsonSchema { schema: bad.into() }))).await.expect_err(bad);
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}: {e:?}");
        assert!(e.message.contains("cannot be enforced"), "{}", e.message);
    }
    // The engine is still there.
    let (pieces, _) = run(&host, ask(None)).await.expect("the engine still answers");
    assert!(!pieces.concat().is_empty());
}

/// Schemas that once aborted the worker (a contradictory range), kept it busy for 50 s (an empty
/// length range) or were answered with output no schema allows (an impossible array) are refused
/// before they reach the worker, in milliseconds, naming the keyword and where it is; the worker
/// is the same process after them all and still answers.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn schemas_that_crashed_or_stalled_the_worker_are_refused_at_once() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let pid = host.pid();
    for (bad, keyword) in [
        (r#"{"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 2}}}"#, "`maximum` at #/properties/n"),
        (r#"{"type": "string", "minLength": 2, "maxLength": 1}"#, "`maxLength` at #"),
        (r#"{"type": "array", "minItems": 3, "maxItems": 1}"#, "`maxItems` at #"),
        (r##"{"allOf": [{"$ref": "#"}]}"##, "`$ref` at #/allOf/0"),
    ] {
        let t = std::time::Instant::now();
        let e = run(&host, ask(Some(Constraint::JsonSchema { schema: bad.into() }))).await.expect_err(bad);
        assert!(t.elapsed() < std::time::Duration::from_millis(500), "{bad}: refused after {:?}", t.elapsed());
        assert_eq!(e.code, ErrorCode::InvalidInput, "{bad}: {e:?}");
        assert!(e.message.contains(keyword), "{bad}: {}", e.message);
    }
    let (pieces, _) = run(&host, ask(None)).await.expect("the engine still answers");
    assert!(!pieces.concat().is_empty());
    assert_eq!(host.pid(), pid, "the same worker");
}

/// A grammar that allows nothing at some point (a pattern no string matches: the schema check
/// cannot know every such one) ends that reply with an error; llama.cpp would have aborted the
/// whole worker when the token drawn anyway was an end of generation.
#[tokio::test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
async fn a_schema_nothing_can_match_ends_the_reply_not_the_worker() {
    let _serial = one_at_a_time().await;
    let host = loaded_host().await;
    let pid = host.pid();
    let nothing =
        r#"{"type": "object", "properties": {"code": {"type": "string", "pattern": "^[^\\x00-\\U0010FFFF]$"}}, "required": ["code"]}"#;
    let e = run(&host, ask(Some(Constraint::JsonSchema { schema: nothing.into() }))).await.expect_err("nothing matches");
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e:?}");
    assert!(e.message.contains("allows nothing"), "{}", e.message);
    let (pieces, _) = run(&host, ask(None)).await.expect("the engine still answers");
    assert!(!pieces.concat().is_empty());
    assert_eq!(host.pid(), pid, "the same worker");
}

/// llama.cpp's converter and grammar parser run in a copy of the worker program, so that whatever
/// they do on a schema nobody foresaw is an error, not the worker's end. Here the copy is given a
/// schema the check would refuse: its empty length range kept llama.cpp's parser busy for minutes.
#[test]
fn the_converter_runs_in_a_copy_that_is_stopped_when_it_takes_too_long() {
    let worker = std::process::Command::new(env!("CARGO_BIN_EXE_hearth-engine-worker"));
    let limit = std::time::Duration::from_secs(2);
    let grammar = engine::grammar::make_in(&worker, SCHEMA, limit).expect("a grammar");
    assert!(grammar.contains("root ::="), "{grammar}");
    let t = std::time::Instant::now();
    let e = engine::grammar::make_in(&worker, r#"{"type": "string", "minLength": 2, "maxLength": 1}"#, limit).expect_err("stalls");
    assert!(e.contains("took longer than 2 s"), "{e}");
    assert!(t.elapsed() < limit + std::time::Duration::from_secs(1), "{:?}", t.elapsed());
    let e = engine::grammar::make_in(&worker, r##"{"$ref": "#/nowhere"}"##, limit).expect_err("unresolved");
    assert!(e.contains("could not turn it into a grammar"), "{e}");
}

/// A forced call's schema (the prompt crate builds it) is one llama.cpp's converter turns into a
/// grammar, for one named function and for any of several.
#[test]
fn forced_call_schemas_become_grammars() {
    use engine::tools::{forced_schema, Forced};
    let tools = serde_json::json!([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "get_time"}}
    ]);
    for forced in [Forced::Named("get_weather".into()), Forced::Any { parallel: true }, Forced::Any { parallel: false }] {
        let s = forced_schema(&tools, &forced).expect("a schema");
        assert!(llama_cpp_2::json_schema_to_grammar(&s).is_ok(), "{s}");
    }
}
