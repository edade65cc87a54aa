//! The planner against what is known to work (tests/known_verdicts.md), and its rules one by one.

use super::*;
use gguf::synthetic::{self, Quant, Shape};
use hardware::catalog;
use types::{CacheType, Verdict};

fn facts(shape: &Shape, q: Quant) -> ModelFacts {
    gguf::parse_bytes(&synthetic::model(shape, q, false).header().0).expect("synthetic header parses")
}

fn shape(name: &str) -> Shape {
    match name {
        "llama3_8b" => synthetic::llama3_8b(),
        "llama3_70b" => synthetic::llama3_70b(),
        "qwen25_7b" => synthetic::qwen25_7b(),
        "qwen25_32b" => synthetic::qwen25_32b(),
        "mixtral_8x7b" => synthetic::mixtral_8x7b(),
        "gemma2_9b" => synthetic::gemma2_9b(),
        "gemma3_12b" => synthetic::gemma3_12b(),
        other => panic!("unknown model {other}"),
    }
}

fn quant(name: &str) -> Quant {
    Quant::all().into_iter().find(|q| q.label() == name).unwrap_or_else(|| panic!("unknown quant {name}"))
}

/// "RTX 3090 ×2", "CPU", "M2 Ultra 192GB" with RAM in GB.
pub(crate) fn machine(spec: &str, ram: u32) -> HardwareProfile {
    if spec == "CPU" {
        return catalog::imagined(None, 0, ram);
    }
    let (name, count) = match spec.split_once(" ×") {
        Some((n, c)) => (n, c.parse().expect("count")),
        None => (spec, 1),
    };
    catalog::imagined(Some(catalog::find(name).unwrap_or_else(|| panic!("unknown GPU {name}"))), count, ram)
}

#[test]
fn known_verdicts_table_holds() {
    let table = include_str!("../tests/known_verdicts.md");
    let mut failures = Vec::new();
    let mut rows = 0;
    for line in table.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| model") && !l.starts_with("| ---")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [model, q, spec, ram, ctx, expected, _why] = cells[..] else { panic!("bad row {line}") };
        let hw = machine(spec, ram.parse().unwrap_or(0));
        let settings = LoadSettings { context: ctx.parse().ok(), ..LoadSettings::default() };
        let plan = plan(&facts(&shape(model), quant(q)), &hw, &settings);
        let got = format!("{:?}", plan.verdict).to_lowercase();
        rows += 1;
        if got != expected {
            failures.push(format!("{model} {q} on {spec} ({ram} GB): expected {expected}, got {got} — {} — {}", plan.label, plan.reason));
        }
    }
    assert!(rows >= 25, "the table lost rows");
    assert!(failures.is_empty(), "{} of {rows} verdicts wrong:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn a_full_offload_counts_every_layer_plus_the_output() {
    let p = plan(&facts(&synthetic::llama3_8b(), Quant::Q4KM), &machine("RTX 3060", 32), &LoadSettings::default());
    assert_eq!(p.verdict, Verdict::Green);
    assert_eq!((p.gpu_layers, p.total_layers), (33, 33));
    assert_eq!(p.context, 8192);
    let gpu = &p.devices[0];
    assert!(gpu.is_gpu && gpu.has_output && gpu.layers == 32);
    // KV at 8K for Llama 3 8B, f16: 32 layers × 8192 × 8 heads × 128 × 2 (K, V) × 2 bytes = 1 GiB.
    assert_eq!(gpu.memory.kv_cache, 1 << 30);
    assert!(gpu.memory.overhead > 0);
    assert!(p.tokens_per_second.is_some());
}

#[test]
fn a_q8_cache_halves_the_kv_and_turns_flash_attention_on() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let s = LoadSettings { cache_k: CacheType::Q8_0, cache_v: CacheType::Q8_0, flash_attention: false, ..LoadSettings::default() };
    let p = plan(&f, &machine("RTX 3060", 32), &s);
    assert_eq!(p.devices[0].memory.kv_cache, (1u64 << 30) / 2 * 34 / 32);
    assert!(p.flash_attention);
}

#[test]
fn sliding_window_layers_hold_only_the_window() {
    let f = facts(&synthetic::gemma2_9b(), Quant::Q4KM);
    let m = ModelMemory::from_facts(&f);
    let full = m.kv_layer(1, 8192, 512, CacheType::F16, CacheType::F16);
    let swa = m.kv_layer(0, 8192, 512, CacheType::F16, CacheType::F16);
    // 4096 + 512 cells, padded to 256: 4608 of 8192.
    assert_eq!(swa * 8192, full * 4608);
}

#[test]
fn hearths_own_loaded_models_count_as_free_memory() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let mut hw = machine("RTX 3060", 32);
    hw.gpus[0].vram_free_bytes = Some(2 << 30); // another model of ours holds 10 GB
    assert_ne!(plan(&f, &hw, &LoadSettings::default()).verdict, Verdict::Green);
    let s = LoadSettings { freed_gpu_bytes: vec![10 << 30], ..LoadSettings::default() };
    assert_eq!(plan(&f, &hw, &s).verdict, Verdict::Green);
}

#[test]
fn a_gpu_the_engine_cannot_use_gives_nothing() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let mut hw = machine("RTX 3060", 32);
    hw.gpus[0].engine_backend = None;
    let p = plan(&f, &hw, &LoadSettings::default());
    assert_eq!(p.mode, types::PlanMode::Cpu);
    assert_eq!(p.label, "Fits in RAM");
}

#[test]
fn red_says_what_it_needs_and_what_there_is() {
    let p = plan(&facts(&synthetic::llama3_70b(), Quant::Q4KM), &machine("CPU", 16), &LoadSettings::default());
    assert_eq!(p.verdict, Verdict::Red);
    assert!(p.label.starts_with("Too large · needs 4"), "{}", p.label);
    assert!(p.label.ends_with("has 14.0 GB"), "{}", p.label);
}

#[test]
fn an_empty_header_is_grey() {
    let f = gguf::parse_bytes(&gguf::write::GgufWriter::new("llama").to_bytes()).unwrap();
    assert_eq!(plan(&f, &machine("CPU", 16), &LoadSettings::default()).verdict, Verdict::Grey);
}
