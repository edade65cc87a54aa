//! A hostile GGUF header cannot crash a listing (issue 13, item 6): whatever a header that the reader
//! accepts claims, `plan` returns a plan and never panics. Run in the test profile, which is the dev
//! profile (`make run` builds it): the planner is optimised there (opt-level 2) but keeps overflow
//! checks, so an overflow is a panic here as it would be in the app.
//!
//! The inputs: every file of the reader's fuzz corpus (`gguf/fuzz/corpus/parse_header`), and headers
//! of real shapes with each number the planner reads set to the values that break arithmetic (0, 1,
//! powers of two around 32 bits, `u64::MAX`...), one at a time and in deterministic random mixes,
//! with tensors whose sizes add up past `u64::MAX`. Each goes through several machines and settings.
//! A projector's header (pictures) gets the same: each key its cost reads at each extreme, for each
//! kind of projector it knows, planned beside a model.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use gguf::synthetic::{self, Quant, Shape};
use gguf::write::GgufWriter;
use gguf::{GgmlType, ModelFacts};
use hardware::catalog::{find, imagined};
use types::{CacheType, HardwareProfile, LoadSettings, Verdict};

fn machines() -> Vec<HardwareProfile> {
    vec![
        imagined(None, 0, 16),
        imagined(None, 0, 1),
        imagined(find("RTX 4090"), 1, 64),
        imagined(find("RTX 3090"), 3, 128),
        imagined(find("M2 Ultra 192GB"), 1, 0),
    ]
}

fn settings() -> Vec<LoadSettings> {
    vec![
        LoadSettings::default(),
        LoadSettings { context: Some(u32::MAX), cache_k: CacheType::Q8_0, cache_v: CacheType::Q4_0, ..LoadSettings::default() },
        LoadSettings { context: Some(1), flash_attention: false, ubatch: u32::MAX, ..LoadSettings::default() },
        LoadSettings { safety_margin_bytes: u64::MAX, freed_gpu_bytes: vec![u64::MAX; 3], freed_ram_bytes: u64::MAX, ..LoadSettings::default() },
    ]
}

/// Plans `facts` on every machine with every settings; `Err` names the first that panicked.
fn plan_everywhere(facts: &ModelFacts, machines: &[HardwareProfile], settings: &[LoadSettings]) -> Result<(), String> {
    for (i, hw) in machines.iter().enumerate() {
        for (j, s) in settings.iter().enumerate() {
            let plan = catch_unwind(AssertUnwindSafe(|| fit::plan(facts, hw, s)))
                .map_err(|e| format!("machine {i}, settings {j}: {}", panic_message(&*e)))?;
            // What callers do with a plan must not overflow either.
            let _ = catch_unwind(AssertUnwindSafe(|| plan.devices.iter().map(|d| d.memory.total()).collect::<Vec<_>>()))
                .map_err(|e| format!("machine {i}, settings {j}, MemoryBreakdown::total: {}", panic_message(&*e)))?;
        }
    }
    Ok(())
}

fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

/// The numbers that break arithmetic.
const EXTREMES: [u64; 12] =
    [0, 1, 255, 256, 257, u32::MAX as u64, 1 << 32, (1 << 32) + 1, 1 << 53, i64::MAX as u64, u64::MAX - 255, u64::MAX];

fn shapes() -> Vec<Shape> {
    // Small layer counts keep the headers small; the planner's paths are the same.
    vec![
        Shape { layers: 4, ..synthetic::llama3_8b() },
        Shape { layers: 4, ..synthetic::mixtral_8x7b() },
        Shape { layers: 6, ..synthetic::gemma3_12b() },
        Shape { layers: 4, ..synthetic::gemma2_9b() },
    ]
}

/// Keys (after `{arch}.` unless they start with `general.`, `split.` or `tokenizer.`) the planner or
/// the facts read as numbers.
const KEYS: [&str; 18] = [
    "block_count",
    "context_length",
    "embedding_length",
    "feed_forward_length",
    "attention.head_count",
    "attention.head_count_kv",
    "attention.key_length",
    "attention.value_length",
    "attention.sliding_window",
    "attention.sliding_window_pattern",
    "expert_count",
    "expert_used_count",
    "vocab_size",
    "general.file_type",
    "split.count",
    "split.no",
    "tokenizer.ggml.bos_token_id",
    "tokenizer.ggml.eos_token_id",
];

fn full_key(arch: &str, key: &str) -> String {
    if ["general.", "split.", "tokenizer."].iter().any(|p| key.starts_with(p)) {
        key.to_string()
    } else {
        format!("{arch}.{key}")
    }
}

/// Tensors whose sizes each fit in a u64 but add up past it: in a layer, among the experts, in the
/// output and in the input.
fn add_huge_tensors(w: &mut GgufWriter, which: u64) {
    let f32 = GgmlType::by_name("F32").expect("F32");
    // 2^61 elements of 4 bytes: 2^63 bytes each.
    let huge = vec![1u64 << 31, 1 << 30];
    match which % 4 {
        0 => {
            w.push_tensor("blk.0.huge_a.weight".into(), huge.clone(), f32);
            w.push_tensor("blk.0.huge_b.weight".into(), huge, f32);
        }
        1 => {
            w.push_tensor("blk.1.ffn_huge_a_exps.weight".into(), vec![1 << 31, 1 << 15, 1 << 15], f32);
            w.push_tensor("blk.1.ffn_huge_b_exps.weight".into(), vec![1 << 31, 1 << 15, 1 << 15], f32);
        }
        2 => {
            w.push_tensor("output.huge_a".into(), huge.clone(), f32);
            w.push_tensor("output.huge_b".into(), huge, f32);
        }
        _ => {
            w.push_tensor("rope_freqs.huge_a".into(), huge.clone(), f32);
            w.push_tensor("rope_freqs.huge_b".into(), huge, f32);
        }
    }
}

/// The headers: each key at each extreme (as a u64, and for per-layer keys as an array), then
/// deterministic random mixes of several, some with huge tensors.
fn hostile_headers() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for shape in shapes() {
        let base = || synthetic::model(&shape, Quant::Q4KM, false);
        for key in KEYS {
            let k = full_key(shape.arch, key);
            for v in EXTREMES {
                out.push(base().without(&k).u64(&k, v).header().0);
            }
            // Per layer, with the extremes that fit the 32-bit items, one per layer, and of a wrong length.
            let items: Vec<i32> = EXTREMES.iter().map(|v| *v as i32).collect();
            let layers = shape.layers as usize;
            out.push(base().without(&k).i32_array(&k, items.iter().copied().cycle().take(layers).collect()).header().0);
            out.push(base().without(&k).u32_array(&k, vec![u32::MAX; layers]).header().0);
            out.push(base().without(&k).i32_array(&k, items).header().0);
        }
        for which in 0..4 {
            let mut w = base();
            add_huge_tensors(&mut w, which);
            out.push(w.header().0);
        }
    }
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let shapes = shapes();
    for _ in 0..1500 {
        let shape = &shapes[(next() % shapes.len() as u64) as usize];
        let mut w = synthetic::model(shape, Quant::all()[(next() % 8) as usize], false);
        for _ in 0..(next() % 4 + 1) {
            let k = full_key(shape.arch, KEYS[(next() % KEYS.len() as u64) as usize]);
            let v = if next() % 2 == 0 { EXTREMES[(next() % EXTREMES.len() as u64) as usize] } else { next() >> (next() % 64) };
            w = w.without(&k).u64(&k, v);
        }
        if next() % 4 == 0 {
            let which = next();
            add_huge_tensors(&mut w, which);
        }
        out.push(w.header().0);
    }
    out
}

fn fuzz_corpus() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gguf/fuzz/corpus/parse_header");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("the GGUF fuzz corpus at {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("a corpus file"))).collect()
}

#[test]
fn overflow_checks_are_on_in_this_build() {
    // The test profile is the dev profile: if it ever stops checking overflow, the tests below stop
    // proving anything about `make run`.
    let overflowed = catch_unwind(|| std::hint::black_box(u64::MAX) + std::hint::black_box(1)).is_err();
    assert!(overflowed, "overflow checks are off in this build");
}

#[test]
fn plan_never_panics_on_the_gguf_fuzz_corpus() {
    let (machines, settings) = (machines(), settings());
    let corpus = fuzz_corpus();
    assert!(corpus.len() >= 100, "the fuzz corpus is missing ({} files)", corpus.len());
    let mut planned = 0;
    let mut failures = Vec::new();
    for (path, bytes) in &corpus {
        let Ok(facts) = gguf::parse_bytes(bytes) else { continue };
        planned += 1;
        if let Err(e) = plan_everywhere(&facts, &machines, &settings) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    println!("{} corpus files, {planned} with a header the reader accepts, each planned {} ways", corpus.len(), machines.len() * settings.len());
    assert!(planned >= 10, "too few corpus files parse to test the planner ({planned})");
    assert!(failures.is_empty(), "{} corpus inputs made plan panic:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn plan_never_panics_on_fuzzed_headers() {
    let (machines, settings) = (machines(), settings());
    let headers = hostile_headers();
    let mut planned = 0;
    let mut red = 0;
    let mut failures = Vec::new();
    for (i, bytes) in headers.iter().enumerate() {
        let Ok(facts) = gguf::parse_bytes(bytes) else { continue };
        planned += 1;
        match plan_everywhere(&facts, &machines, &settings) {
            Ok(()) => red += usize::from(fit::plan(&facts, &machines[0], &settings[0]).verdict == Verdict::Red),
            Err(e) => failures.push(format!("header {i}: {e}")),
        }
    }
    println!("{} hostile headers, {planned} accepted by the reader, {red} of them red on 16 GB", headers.len());
    assert!(planned * 2 >= headers.len(), "most hostile headers should reach the planner ({planned} of {})", headers.len());
    failures.truncate(20);
    assert!(failures.is_empty(), "plan panicked:\n{}", failures.join("\n"));
}

/// Sizes that add up past `u64::MAX` saturate: the verdict is red, "too large", not a wrapped
/// small number that says it fits.
#[test]
fn tensors_adding_up_past_u64_max_are_too_large_not_wrapped() {
    for which in 0..4 {
        let mut w = synthetic::model(&Shape { layers: 4, ..synthetic::mixtral_8x7b() }, Quant::Q4KM, false);
        add_huge_tensors(&mut w, which);
        let facts = gguf::parse_bytes(&w.header().0).expect("the reader accepts it: each tensor fits in a u64");
        for hw in machines() {
            let plan = fit::plan(&facts, &hw, &LoadSettings::default());
            assert_eq!(plan.verdict, Verdict::Red, "case {which}: {plan:?}");
            assert!(plan.total_bytes >= 1 << 60, "case {which}: {}", plan.total_bytes);
        }
    }
}

/// A header claiming more layers than the reader allows cannot make the planner allocate per-layer
/// tables for them (facts can be built by hand, not only by the reader).
#[test]
fn an_absurd_layer_count_is_grey_without_allocating_for_it() {
    let w = synthetic::model(&Shape { layers: 4, ..synthetic::llama3_8b() }, Quant::Q4KM, false);
    let mut facts = gguf::parse_bytes(&w.header().0).expect("header");
    facts.layer_count = u32::MAX;
    let plan = fit::plan(&facts, &machines()[0], &LoadSettings::default());
    assert_eq!(plan.verdict, Verdict::Grey, "{plan:?}");
}

/// Keys of a projector's header that `fit::projector_cost` reads as numbers.
const PROJECTOR_KEYS: [&str; 11] = [
    "clip.vision.image_size",
    "clip.vision.patch_size",
    "clip.vision.embedding_length",
    "clip.vision.feed_forward_length",
    "clip.vision.projector.scale_factor",
    "clip.vision.spatial_merge_size",
    "clip.vision.preproc_image_size",
    "clip.vision.preproc_max_tiles",
    "clip.vision.image_min_pixels",
    "clip.vision.image_max_pixels",
    "clip.vision.image_grid_pinpoints",
];

const PROJECTOR_KINDS: [&str; 10] =
    ["gemma3", "idefics3", "qwen2.5vl_merger", "qwen3vl_merger", "pixtral", "lfm2", "internvl", "mlp", "a-kind-nobody-knows", ""];

/// A projector's header cannot crash a plan either: its cost saturates, and planning a model beside
/// it gives a plan whose memory adds up.
#[test]
fn a_hostile_projector_never_panics() {
    let model = gguf::parse_bytes(&synthetic::model(&Shape { layers: 4, ..synthetic::llama3_8b() }, Quant::Q4KM, false).header().0)
        .expect("a model's header");
    let machines = [imagined(None, 0, 16), imagined(find("RTX 4090"), 1, 64), imagined(find("RTX 3090"), 3, 128)];
    let tiny = || synthetic::projector(&synthetic::tiny_gemma3_projector(576));
    let mut headers = Vec::new();
    for kind in PROJECTOR_KINDS {
        let of_kind = || tiny().without("clip.projector_type").str("clip.projector_type", kind);
        for key in PROJECTOR_KEYS {
            for v in EXTREMES {
                headers.push(of_kind().without(key).u64(key, v).header().0);
            }
        }
        let items: Vec<i32> = EXTREMES.iter().map(|v| *v as i32).collect();
        headers.push(of_kind().i32_array("clip.vision.image_grid_pinpoints", items).header().0);
        let mut huge = of_kind();
        add_huge_tensors(&mut huge, 3);
        headers.push(huge.header().0);
    }
    let mut failures = Vec::new();
    for (i, bytes) in headers.iter().enumerate() {
        let Ok(projector) = gguf::parse_bytes(bytes) else { continue };
        let run = catch_unwind(AssertUnwindSafe(|| {
            let cost = fit::projector_cost(&projector).expect("it reads pictures");
            assert!(cost.total() <= fit::MAX_BYTES);
            for hw in &machines {
                let plan = fit::plan_with_projector(&model, Some(&projector), hw, &LoadSettings::default());
                let _: Vec<u64> = plan.devices.iter().map(|d| d.memory.total()).collect();
            }
        }));
        if let Err(e) = run {
            failures.push(format!("projector header {i}: {}", panic_message(&*e)));
        }
    }
    failures.truncate(20);
    assert!(failures.is_empty(), "a projector's header made the planner panic:\n{}", failures.join("\n"));
}
