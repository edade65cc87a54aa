//! Any text a model could write into the tool-call parser: it must return, never panic, and every
//! call it finds must carry arguments that are JSON (the API hands them to clients as such). The
//! same text streamed (`tool_stream::CallStream`, in pieces of 1 to 8 bytes chosen by the input)
//! must never panic either, and its calls come in order, each named on its first piece.
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

        let mut stream = prompt::tool_stream::CallStream::new();
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut size = 1 + data.first().map_or(0, |b| usize::from(b % 8));
        while !rest.is_empty() {
            let mut n = size.min(rest.len());
            while !rest.is_char_boundary(n) {
                n += 1;
            }
            pieces.extend(stream.push(&rest[..n]));
            rest = &rest[n..];
            size = size % 8 + 1;
        }
        pieces.extend(stream.finish());
        // Calls are numbered in order, each named on its first piece.
        let mut named = 0;
        for p in &pieces {
            if let prompt::tool_stream::Piece::Call { index, name, .. } = p {
                if name.is_some() {
                    assert_eq!(*index, named);
                    named += 1;
                } else {
                    assert!(*index < named);
                }
            }
        }
    }
});
