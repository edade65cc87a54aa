//! The formula against llama.cpp itself, configured exactly as the engine loads (the plan becomes
//! `engine::LoadParams`, and `engine::llama_params` builds llama.cpp's parameters from it): the real
//! test model at contexts 512, 4096 and its trained maximum, with f16 and q8_0 caches, and the real
//! shapes of big-vocabulary, sliding-window, mixture-of-experts and tied-embedding models. Weights and
//! KV must agree within max(1 %, 16 MiB), compute buffers within max(15 %, 8 MiB), the total within
//! max(3 %, 16 MiB). (The floors were 128 and 64 MiB while llama.cpp reserved logits for a whole
//! micro-batch; a floor that large would hide that waste on a small model.) The tables of predicted
//! against measured figures are printed and written to target/fit/llama_cpp_agreement*.md.

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
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn the_formula_agrees_with_llama_cpp_on_the_test_model() {
    let path = testkit::test_model();
    let facts = gguf::read_file(&path).expect("test model header");
    let trained = facts.context_length.unwrap_or(8192) as u32;
    let hw = this_cpu(hardware::catalog::imagined(None, 0, 24));
    let mut table = String::from(
        "| context | slots | cache | weights predicted / llama.cpp (MiB) | KV | compute + output | total | \n| --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut failures = Vec::new();
    // One slot, and four: each slot has a whole context of its own (a cache that is not unified).
    for (n_ctx, cache, ct, slots) in [
        (512, "f16", CacheType::F16, 1),
        (4096, "f16", CacheType::F16, 1),
        (trained, "f16", CacheType::F16, 1),
        (512, "q8_0", CacheType::Q8_0, 1),
        (4096, "q8_0", CacheType::Q8_0, 1),
        (trained, "q8_0", CacheType::Q8_0, 1),
        (512, "f16", CacheType::F16, 4),
        (4096, "f16", CacheType::F16, 4),
        (4096, "q8_0", CacheType::Q8_0, 4),
    ] {
        let s = LoadSettings { context: Some(n_ctx), cache_k: ct, cache_v: ct, parallel: Some(slots), ..LoadSettings::default() };
        let plan = fit::plan(&facts, &hw, &s);
        let real = llama_dry_run::dry_run(&engine::LoadParams::from_plan(&path, &plan), false);
        let cpu = plan.devices.iter().find(|d| !d.is_gpu).expect("a CPU device");
        let m = cpu.memory;
        let (pw, pk, pc) = (m.weights, m.kv_cache, m.compute);
        let (rw, rk, rc) = (real.weights, real.kv, real.compute + real.output);
        if !within(m.repacked, real.repack, 0.01, 1.0) {
            failures.push(format!("repacked at {n_ctx}/{cache}: {} / {}", m.repacked, real.repack));
        }
        let (pt, rt) = (pw + pk + pc, rw + rk + rc);
        let f = |a: u64, b: u64| format!("{:.1} / {:.1}", a as f64 / MIB, b as f64 / MIB);
        let _ = writeln!(table, "| {n_ctx} | {slots} | {cache} | {} | {} | {} | {} |", f(pw, rw), f(pk, rk), f(pc, rc), f(pt, rt));
        if !within(pw, rw, 0.01, 16.0) {
            failures.push(format!("weights at {n_ctx}/{cache}: {}", f(pw, rw)));
        }
        if !within(pk, rk, 0.01, 16.0) {
            failures.push(format!("KV at {n_ctx}/{cache}: {}", f(pk, rk)));
        }
        if !within(pc, rc, 0.15, 8.0) {
            failures.push(format!("compute at {n_ctx}/{cache}: {}", f(pc, rc)));
        }
        if !within(pt, rt, 0.03, 16.0) {
            failures.push(format!("total at {n_ctx}/{cache}: {}", f(pt, rt)));
        }
    }
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/fit");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("llama_cpp_agreement.md"), &table);
    assert!(failures.is_empty(), "the formula is off:\n{}\n{table}", failures.join("\n"));
}

/// The features of this machine's CPU, which decide what llama.cpp repacks here.
fn this_cpu(mut hw: types::HardwareProfile) -> types::HardwareProfile {
    hw.cpu.features = hardware::system_facts(&std::env::temp_dir()).cpu.features;
    hw
}

#[test]
fn the_planner_and_the_engine_allow_as_many_slots() {
    assert_eq!(fit::MAX_SLOTS, engine::llama_params::MAX_SEQ);
}

/// The same check on the shapes of real models, from synthetic headers in sparse files. Files of
/// up to 1.5 GiB are really loaded (llama.cpp reads the zeros and repacks them), so every figure,
/// `CPU_REPACK` included, is llama.cpp's own; larger ones (up to a 70B) go through llama.cpp's dry
/// run (`no_alloc`), which lays the model out without reading or allocating it, and sizes every
/// buffer but the repacked copy of the weights (`CPU_REPACK`, "–" in the table), which the
/// real-load rows check. The totals leave that copy out, as `MemoryBreakdown::total` does.
#[test]
fn the_formula_agrees_with_llama_cpp_on_the_shapes_of_real_models() {
    use gguf::synthetic::{self, Quant};
    let dir = std::env::temp_dir().join(format!("hearth-fit-dry-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let hw = this_cpu(hardware::catalog::imagined(None, 0, 1024));
    let mut table = String::from(
        "| model | load | context × slots | weights predicted / llama.cpp (MiB) | CPU_REPACK | KV | compute + output | total |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    let mut failures = Vec::new();
    let mut shapes = synthetic::presets();
    shapes.push(synthetic::llama32_1b());
    for shape in shapes {
        let path = dir.join(format!("{}.gguf", shape.name.replace(' ', "_")));
        let size = synthetic::model(&shape, Quant::Q4KM, false).write_sparse(&path).expect("sparse file");
        let real_load = size <= 3 << 29;
        let facts = gguf::read_file(&path).expect("synthetic header");
        for (n_ctx, slots) in [(4096u32, 1u32), (8192, 4)] {
            let s = LoadSettings { context: Some(n_ctx), parallel: Some(slots), ..LoadSettings::default() };
            let plan = fit::plan(&facts, &hw, &s);
            let real = llama_dry_run::dry_run(&engine::LoadParams::from_plan(&path, &plan), !real_load);
            let m = plan.devices.iter().find(|d| !d.is_gpu).expect("a CPU device").memory;
            let (pw, pk, pc) = (m.weights, m.kv_cache, m.compute);
            let (rw, rk, rc) = (real.weights, real.kv, real.compute + real.output);
            let f = |a: u64, b: u64| format!("{:.0} / {:.0}", a as f64 / MIB, b as f64 / MIB);
            let repacked = if real_load { f(m.repacked, real.repack) } else { format!("{:.0} / –", m.repacked as f64 / MIB) };
            if real_load && !within(m.repacked, real.repack, 0.01, 1.0) {
                failures.push(format!("{} repacked at {n_ctx}: {repacked}", shape.name));
            }
            let _ = writeln!(
                table,
                "| {} Q4_K_M | {} | {n_ctx} × {slots} | {} | {repacked} | {} | {} | {} |",
                shape.name,
                if real_load { "real" } else { "dry run" },
                f(pw, rw),
                f(pk, rk),
                f(pc, rc),
                f(pw + pk + pc, rw + rk + rc)
            );
            for (what, p, r, share, floor) in [
                ("weights", pw, rw, 0.01, 16.0),
                ("KV", pk, rk, 0.01, 16.0),
                ("compute", pc, rc, 0.15, 8.0),
                ("total", pw + pk + pc, rw + rk + rc, 0.03, 16.0),
            ] {
                if !within(p, r, share, floor) {
                    failures.push(format!("{} {what} at {n_ctx}: {}", shape.name, f(p, r)));
                }
            }
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/fit");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("llama_cpp_agreement_large.md"), &table);
    assert!(failures.is_empty(), "the formula is off:\n{}\n{table}", failures.join("\n"));
}

/// The projector (an mmproj file, which reads pictures) against llama.cpp, loaded as the engine
/// loads it beside the real test model: the tiny one of Gemma 3's kind the engine's tests use, and
/// one of Gemma 3's own shape (1152 wide, 27 layers, f16 matrices: 0.8 GB, written sparse), both
/// projecting to the test model's 576. The plan puts it on the CPU (no GPU here), and its weights
/// and compute buffer must be within 1 % of what llama.cpp logs for them, which is what the engine
/// reports as `LoadedModelInfo::vision`. The table goes to target/fit/llama_cpp_agreement_projector.md.
#[test]
#[cfg_attr(hearth_missing_test_model, ignore = "needs the test model: make test-model")]
fn the_projector_costs_what_llama_cpp_reserves_for_it() {
    use gguf::synthetic::{gemma3_projector, projector, tiny_gemma3_projector};
    let path = testkit::test_model();
    let facts = gguf::read_file(&path).expect("test model header");
    let width = facts.embedding_length.expect("the test model's width");
    let hw = this_cpu(hardware::catalog::imagined(None, 0, 24));
    let dir = std::env::temp_dir().join(format!("hearth-fit-mmproj-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut table =
        String::from("| projector | weights predicted / llama.cpp (bytes) | compute | tokens a picture |\n| --- | --- | --- | --- |\n");
    let mut failures = Vec::new();
    for (name, shape) in
        [("tiny, 64 wide, 1 layer, f32", tiny_gemma3_projector(width)), ("Gemma 3's, 1152 wide, 27 layers, f16", gemma3_projector(width))]
    {
        let file = dir.join(format!("{}.gguf", shape.width));
        projector(&shape).write_sparse(&file).expect("a projector file");
        let header = gguf::read_file(&file).expect("the projector's header");
        let cost = fit::projector_cost(&header).expect("a vision projector");
        assert_eq!(cost.matches(&facts), Some(true));
        let s = LoadSettings { context: Some(4096), ..LoadSettings::default() };
        let plan = fit::plan_with_projector(&facts, Some(&header), &hw, &s);
        let cpu = plan.devices.iter().find(|d| !d.is_gpu).expect("a CPU device");
        assert_eq!(cpu.memory.projector, cost.total(), "on the CPU, the only device here");
        assert_eq!(plan.image_tokens, Some(cost.image_tokens));
        let load = engine::LoadParams::from_plan(&path, &plan).with_projector(Some(file.clone()));
        let real = llama_dry_run::projector(&load);
        assert!(real.loaded, "llama.cpp takes the projector");
        let _ = writeln!(
            table,
            "| {name} | {} / {} | {} / {} | {} |",
            cost.weights, real.weights, cost.compute, real.compute, cost.image_tokens
        );
        if !within(cost.weights, real.weights, 0.01, 0.0) {
            failures.push(format!("{name}: weights {} / {}", cost.weights, real.weights));
        }
        if !within(cost.compute, real.compute, 0.01, 0.0) {
            failures.push(format!("{name}: compute {} / {}", cost.compute, real.compute));
        }
        let _ = std::fs::remove_file(&file);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{table}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../target/fit");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("llama_cpp_agreement_projector.md"), &table);
    assert!(failures.is_empty(), "the projector's figures are off:\n{}\n{table}", failures.join("\n"));
}
