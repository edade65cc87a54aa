//! Writes a synthetic vision projector (an mmproj file) that llama.cpp loads and runs: for
//! benchmarks that need a projector of a real shape and have no Hub to fetch one from
//! (tests/bench/mtmd.sh). Its weights are zeros, written sparse, so a 0.85 GB projector costs no disk;
//! the encoder does the same arithmetic as with real weights.
//!
//! Usage: cargo run -p hearth-gguf --example write_projector -- (gemma3|tiny) TEXT_WIDTH OUT.gguf

use gguf::synthetic::{gemma3_projector, projector, tiny_gemma3_projector};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, width, out] = args.as_slice() else {
        eprintln!("usage: write_projector (gemma3|tiny) TEXT_WIDTH OUT.gguf");
        std::process::exit(2);
    };
    let width: u64 = width.parse().expect("TEXT_WIDTH is a number: the text model's embedding length");
    let shape = match kind.as_str() {
        "gemma3" => gemma3_projector(width),
        "tiny" => tiny_gemma3_projector(width),
        other => {
            eprintln!("unknown projector kind {other}: gemma3 or tiny");
            std::process::exit(2);
        }
    };
    let bytes = projector(&shape).write_sparse(std::path::Path::new(out)).expect("write the projector");
    println!("{out}: {kind} projector, {bytes} bytes, reads into a {width}-wide model");
}
