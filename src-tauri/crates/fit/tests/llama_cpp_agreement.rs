//! The formula against llama.cpp itself: the real test model at contexts 512, 4096 and its trained
//! maximum, with f16 and q8_0 caches. Weights and KV must agree within max(1 %, 16 MiB), compute
//! buffers within max(15 %, 128 MiB), the total within max(3 %, 64 MiB). The table of predicted against
//! measured figures is printed and written to target/fit/llama_cpp_agreement.md.

mod llama_dry_run;

use std::fmt::Write as _;
use std::path::PathBuf;

use types::{CacheType, LoadSettings};

const MIB: f64 = 1024.0 * 1024.0;

fn within(predicted: u64, measured: u64, share: f64, floor_mib: f64) -> bool {
    let allowed = (measured as f64 * share).max(floor_mib * MIB);
    (predicted as f64 - measured as f64).abs() <= allowed
}

#[test]
fn the_formula_agrees_with_llama_cpp_on_the_test_model() {
    let Some(path) = gguf::test_model::path() else {
        // `make test` fetches the model first, so under `make test` this never skips.
        eprintln!("skipped: the test model is not fetched (make test-model)");
        return;
    };
    let facts = gguf::read_file(&path).expect("test model header");
    let trained = facts.context_length.unwrap_or(8192) as u32;
    let hw = hardware::catalog::imagined(None, 0, 24);
    let mut table = String::from(
        "| context | cache | weights predicted / llama.cpp (MiB) | KV | compute + output | total | \n| --- | --- | --- | --- | --- | --- |\n",
    );
    let mut failures = Vec::new();
    for (n_ctx, cache, ct) in [
        (512, "f16", CacheType::F16),
        (4096, "f16", CacheType::F16),
        (trained, "f16", CacheType::F16),
        (512, "q8_0", CacheType::Q8_0),
        (4096, "q8_0", CacheType::Q8_0),
        (trained, "q8_0", CacheType::Q8_0),
    ] {
        let real = llama_dry_run::dry_run(&path, n_ctx, cache, cache, false);
        let s = LoadSettings { context: Some(n_ctx), cache_k: ct, cache_v: ct, ..LoadSettings::default() };
        let plan = fit::plan(&facts, &hw, &s);
        let cpu = plan.devices.iter().find(|d| !d.is_gpu).expect("a CPU device");
        let m = cpu.memory;
        let (pw, pk, pc) = (m.weights, m.kv_cache, m.compute);
        let (rw, rk, rc) = (real.weights, real.kv, real.compute + real.output);
        let (pt, rt) = (pw + pk + pc, rw + rk + rc);
        let f = |a: u64, b: u64| format!("{:.1} / {:.1}", a as f64 / MIB, b as f64 / MIB);
        let _ = writeln!(table, "| {n_ctx} | {cache} | {} | {} | {} | {} |", f(pw, rw), f(pk, rk), f(pc, rc), f(pt, rt));
        if !within(pw, rw, 0.01, 16.0) {
            failures.push(format!("weights at {n_ctx}/{cache}: {}", f(pw, rw)));
        }
        if !within(pk, rk, 0.01, 16.0) {
            failures.push(format!("KV at {n_ctx}/{cache}: {}", f(pk, rk)));
        }
        if !within(pc, rc, 0.15, 128.0) {
            failures.push(format!("compute at {n_ctx}/{cache}: {}", f(pc, rc)));
        }
        if !within(pt, rt, 0.03, 64.0) {
            failures.push(format!("total at {n_ctx}/{cache}: {}", f(pt, rt)));
        }
    }
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/fit");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("llama_cpp_agreement.md"), &table);
    assert!(failures.is_empty(), "the formula is off:\n{}\n{table}", failures.join("\n"));
}

/// The same check on the shapes of large models, through llama.cpp's dry run: a synthetic header in a
/// sparse file is loaded with `no_alloc`, so llama.cpp lays out a 70B without reading or allocating it.
#[test]
fn the_formula_agrees_with_llama_cpp_dry_runs_of_large_models() {
    use gguf::synthetic::{self, Quant};
    let dir = std::env::temp_dir().join(format!("hearth-fit-dry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hw = hardware::catalog::imagined(None, 0, 1024);
    let mut table = String::from("| model | context | weights predicted / llama.cpp (MiB) | KV | compute + output | total |\n| --- | --- | --- | --- | --- | --- |\n");
    let mut failures = Vec::new();
    for shape in synthetic::presets() {
        let path = dir.join(format!("{}.gguf", shape.name.replace(' ', "_")));
        synthetic::model(&shape, Quant::Q4KM, false).write_sparse(&path).expect("sparse file");
        let facts = gguf::read_file(&path).expect("synthetic header");
        for n_ctx in [4096u32, 8192] {
            let real = llama_dry_run::dry_run(&path, n_ctx, "f16", "f16", true);
            let s = LoadSettings { context: Some(n_ctx), ..LoadSettings::default() };
            let plan = fit::plan(&facts, &hw, &s);
            let m = plan.devices.iter().find(|d| !d.is_gpu).expect("a CPU device").memory;
            let (pw, pk, pc) = (m.weights, m.kv_cache, m.compute);
            let (rw, rk, rc) = (real.weights, real.kv, real.compute + real.output);
            let f = |a: u64, b: u64| format!("{:.0} / {:.0}", a as f64 / MIB, b as f64 / MIB);
            let _ = writeln!(
                table,
                "| {} Q4_K_M | {n_ctx} | {} | {} | {} | {} |",
                shape.name,
                f(pw, rw),
                f(pk, rk),
                f(pc, rc),
                f(pw + pk + pc, rw + rk + rc)
            );
            for (what, p, r, share, floor) in [
                ("weights", pw, rw, 0.01, 16.0),
                ("KV", pk, rk, 0.01, 16.0),
                ("compute", pc, rc, 0.15, 128.0),
                ("total", pw + pk + pc, rw + rk + rc, 0.03, 64.0),
            ] {
                if !within(p, r, share, floor) {
                    failures.push(format!("{} {what} at {n_ctx}: {}", shape.name, f(p, r)));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/fit");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("llama_cpp_agreement_large.md"), &table);
    assert!(failures.is_empty(), "the formula is off:\n{}\n{table}", failures.join("\n"));
}
