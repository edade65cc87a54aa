//! Any bytes into the schema check, as a schema and as a pattern: it must return, never panic, never
//! recurse without bound. Whatever it lets through is what llama.cpp's converter will be given.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run check_schema` in src-tauri/crates/schema (the corpus in
//! fuzz/corpus/check_schema starts from the schemas of the crate's tests).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = schema::check_text(text);
        let _ = schema::pattern(text);
        // The same bytes as the pattern of a string schema, where a client would put it.
        let _ = schema::check(&serde_json::json!({"type": "string", "pattern": text}));
    }
});
