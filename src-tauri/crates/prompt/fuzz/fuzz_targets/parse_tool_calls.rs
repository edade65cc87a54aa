//! Any text a model could write into the tool-call parser: it must return, never panic, and every
//! call it finds must carry arguments that are JSON (the API hands them to clients as such).
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_tool_calls` in src-tauri/crates/prompt (the corpus
//! in fuzz/corpus/parse_tool_calls starts from each family's call format).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let parsed = prompt::tools::parse(text);
        for call in &parsed.calls {
            assert!(serde_json::from_str::<serde_json::Value>(&call.arguments).is_ok(), "{:?}", call.arguments);
        }
        // The text meant for the person is never longer than what the model wrote.
        assert!(parsed.content.len() <= text.len());
    }
});
