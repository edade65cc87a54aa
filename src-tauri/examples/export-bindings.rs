//! `make bindings` (`cargo run -p hearth-app --example export-bindings`) writes ui/src/lib/api/bindings.ts
//! from the Rust types. An example, not a binary, so installers do not ship it.

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let path = root.join(hearth_app::BINDINGS_PATH);
    if let Err(e) = hearth_app::typescript_bindings(&path) {
        eprintln!("export-bindings: {e}");
        std::process::exit(1);
    }
    println!("wrote {}", path.display());
}
