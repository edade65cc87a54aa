//! Any bytes into the GGUF reader: it must return, never panic, never allocate by an untrusted count.
//! Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run parse_header` in src-tauri/crates/gguf (see the crate's tests
//! for the corpus and the crashes it found, kept as regression tests).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(facts) = gguf::parse_bytes(data) {
        // What a caller does with the facts must not panic either.
        let _ = facts.data_end();
        let _ = facts.is_moe();
    }
});
