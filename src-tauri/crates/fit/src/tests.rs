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
        // Green is a promise of speed too: every green row writes at reading speed or faster, and
        // every plan below it says so in its label and its reason.
        let speed = plan.tokens_per_second.as_ref().map(|s| s.expected);
        if plan.verdict == Verdict::Green && speed.is_some_and(|t| t < crate::USABLE_TOKENS_PER_SECOND) {
            failures.push(format!("{model} {q} on {spec}: green at {speed:?} tok/s"));
        }
        if speed.is_some_and(|t| t < crate::USABLE_TOKENS_PER_SECOND) && plan.verdict != Verdict::Red {
            if !(plan.label.ends_with("slow") && plan.reason.contains("tok/s")) {
                failures.push(format!("{model} {q} on {spec}: slow but not said: {} — {}", plan.label, plan.reason));
            }
        }
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
    // KV at 8K for Llama 3 8B, f16: 32 layers × 8192 × 8 heads × 128 × 2 (K, V) × 2 bytes = 1 GiB
    // a slot, and a 12 GB card has room for four.
    assert_eq!(p.slots, 4);
    assert_eq!(gpu.memory.kv_cache, 4 << 30);
    assert!(gpu.memory.overhead > 0);
    assert!(p.tokens_per_second.is_some());
}

#[test]
fn a_q8_cache_halves_the_kv_and_turns_flash_attention_on() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let s = LoadSettings {
        cache_k: CacheType::Q8_0,
        cache_v: CacheType::Q8_0,
        flash_attention: false,
        parallel: Some(1),
        ..LoadSettings::default()
    };
    let p = plan(&f, &machine("RTX 3060", 32), &s);
    assert_eq!(p.devices[0].memory.kv_cache, (1u64 << 30) / 2 * 34 / 32);
    assert!(p.flash_attention);
}

#[test]
fn slots_are_planned_only_where_they_cost_nothing_else() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let one = plan(&f, &machine("RTX 3060", 32), &LoadSettings { parallel: Some(1), ..LoadSettings::default() });
    let auto = plan(&f, &machine("RTX 3060", 32), &LoadSettings::default());
    assert_eq!((one.slots, auto.slots), (1, 4));
    assert_eq!(auto.devices[0].memory.kv_cache, 4 * one.devices[0].memory.kv_cache, "each slot has the whole context");
    assert_eq!((auto.verdict, auto.context, auto.gpu_layers), (one.verdict, one.context, one.gpu_layers));
    // On an 8 GB card the 8B fits whole with one slot at 8K; four would push layers off the GPU.
    let small = plan(&f, &machine("RTX 4060", 32), &LoadSettings::default());
    let small_one = plan(&f, &machine("RTX 4060", 32), &LoadSettings { parallel: Some(1), ..LoadSettings::default() });
    assert!(small.slots < 4, "{} slots on 8 GB", small.slots);
    assert_eq!((small.verdict, small.context, small.gpu_layers), (small_one.verdict, small_one.context, small_one.gpu_layers));
    // A number the person set is planned as set, whatever it costs.
    let eight = plan(&f, &machine("RTX 4060", 32), &LoadSettings { parallel: Some(8), ..LoadSettings::default() });
    assert_eq!(eight.slots, 8);
    assert!(eight.gpu_layers < small.gpu_layers || eight.context < small.context);
}

#[test]
fn sliding_window_layers_hold_only_the_window() {
    let f = facts(&synthetic::gemma2_9b(), Quant::Q4KM);
    let m = ModelMemory::from_facts(&f, &types::SimdFeatures::default());
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

fn run_on(run_on: types::RunOn, gpu_layers: Option<u32>) -> LoadSettings {
    LoadSettings { run: types::RunOnSettings { run_on, gpu_layers }, ..LoadSettings::default() }
}

#[test]
fn cpu_only_by_choice_touches_no_gpu_and_says_so() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let p = plan(&f, &machine("RTX 3060", 32), &run_on(types::RunOn::Cpu, None));
    assert_eq!(p.mode, types::PlanMode::Cpu);
    assert_eq!(p.gpu_layers, 0);
    assert!(p.devices.iter().all(|d| !d.is_gpu), "{:?}", p.devices);
    // Slower than the machine could: yellow, with the reason.
    assert_eq!(p.verdict, Verdict::Yellow);
    assert_eq!(p.label, "CPU only · your setting");
    assert!(p.reason.starts_with("Set to run on the CPU: RTX 3060 stays unused. The model and its 8K context fit in RAM"), "{}", p.reason);
    // A GPU-layer count means nothing without a GPU.
    assert_eq!(plan(&f, &machine("RTX 3060", 32), &run_on(types::RunOn::Cpu, Some(20))).gpu_layers, 0);
}

#[test]
fn one_chosen_gpu_of_two_takes_every_layer_and_the_other_none() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let hw = machine("RTX 3090 ×2", 64);
    let auto = plan(&f, &hw, &LoadSettings::default());
    assert_eq!(auto.devices.iter().filter(|d| d.is_gpu).count(), 2, "Auto splits the layers over both");
    let p = plan(&f, &hw, &run_on(types::RunOn::Gpu { device: "CUDA1".into() }, None));
    let gpus: Vec<_> = p.devices.iter().filter(|d| d.is_gpu).collect();
    assert_eq!(gpus.len(), 1);
    assert_eq!(gpus[0].engine_device.as_deref(), Some("CUDA1"));
    assert_eq!((p.gpu_layers, p.verdict), (33, Verdict::Green));
    assert!(p.reason.starts_with("Set to leave RTX 3090 unused."), "{}", p.reason);
}

#[test]
fn layers_are_split_between_gpus_by_free_memory_as_llama_cpp_splits_them() {
    // llama.cpp, given no `tensor_split`, cuts the offloaded layers (32 repeating + the output for
    // this model) in proportion to each GPU's free memory: with 24 and 8 GiB free the cut is at 0.75,
    // and layer k of 33 goes to the first GPU while k/33 < 0.75, so 25 there and 7 plus the output on
    // the second. Split by budget (free less 460 MiB overhead and 1 GiB margin each, 0.775) the plan
    // said 26 and 6, and the smaller GPU would get a layer more than planned.
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let mut hw = machine("RTX 3090 ×2", 64);
    for (g, free) in hw.gpus.iter_mut().zip([24u64 << 30, 8 << 30]) {
        g.vram_total_bytes = Some(24 << 30);
        g.vram_free_bytes = Some(free);
    }
    let p = plan(&f, &hw, &LoadSettings::default());
    let gpus: Vec<(u32, bool)> = p.devices.iter().filter(|d| d.is_gpu).map(|d| (d.layers, d.has_output)).collect();
    assert_eq!(gpus, vec![(25, false), (7, true)], "{:?}", p.devices);
    assert_eq!((p.gpu_layers, p.verdict), (33, Verdict::Green));
}

#[test]
fn a_chosen_gpu_that_is_not_there_runs_without_it_and_says_so() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let p = plan(&f, &machine("RTX 3060", 32), &run_on(types::RunOn::Gpu { device: "Vulkan3".into() }, None));
    assert_eq!((p.mode, p.verdict), (types::PlanMode::Cpu, Verdict::Yellow));
    assert!(p.reason.starts_with("Vulkan3, the GPU chosen to run it, is not available"), "{}", p.reason);
}

#[test]
fn a_gpu_layer_count_replaces_as_many_as_fit() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let hw = machine("RTX 3060", 32);
    let p = plan(&f, &hw, &run_on(types::RunOn::Auto, Some(10)));
    assert_eq!((p.mode, p.gpu_layers, p.verdict), (types::PlanMode::PartialGpu, 10, Verdict::Yellow));
    // As llama.cpp counts them: the output layer first, then the last 9 repeating layers.
    let gpu = p.devices.iter().find(|d| d.is_gpu).unwrap();
    assert_eq!((gpu.layers, gpu.has_output), (9, true));
    assert!(p.reason.ends_with("GPU layers are set to 10, not as many as fit."), "{}", p.reason);
    // More than the model has is every layer.
    assert_eq!(plan(&f, &hw, &run_on(types::RunOn::Auto, Some(999))).gpu_layers, 33);
}

#[test]
fn too_many_gpu_layers_is_red_with_the_overflow_and_keeps_the_layout() {
    // A 70B at Q4 on a 12 GB card: every layer on the GPU cannot fit.
    let f = facts(&synthetic::llama3_70b(), Quant::Q4KM);
    let p = plan(&f, &machine("RTX 3060", 128), &run_on(types::RunOn::Auto, Some(81)));
    assert_eq!(p.verdict, Verdict::Red);
    assert!(p.label.starts_with("Too large for 81 GPU layers · needs "), "{}", p.label);
    assert!(p.reason.starts_with("GPU layers are set to 81: on RTX 3060 they need "), "{}", p.reason);
    // Loading it anyway (after the warning) does what the setting says.
    assert_eq!(p.gpu_layers, 81);
    assert_eq!(p.devices.iter().find(|d| d.is_gpu).and_then(|d| d.engine_device.as_deref()), Some("CUDA0"));
}

/// llama.cpp offloads from the output layer down (`i_gpu_start = n_layer + 1 - n_gpu_layers`): one
/// GPU layer is the output layer alone, with the logits' compute buffer. The planner once put
/// repeating layers first and the output last, and so under-counted every partial offload by the
/// output matrix (a 30/31 plan for the test model: 63 MiB of weights planned on the GPU, 90 there;
/// found by `gpu_vulkan::a_plan_squeezed_by_a_small_gpu…` on lavapipe).
#[test]
fn the_first_gpu_layer_is_the_output_layer_as_in_llama_cpp() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let m = ModelMemory::from_facts(&f, &types::SimdFeatures::default());
    let b = budgets(&machine("RTX 3090 ×2", 64), &LoadSettings::default());
    let k = knobs(&LoadSettings::default(), 4096, false);
    let kv = place::kv_per_layer(&m, k);
    let one = place::layout(&m, &b, k, &kv, 1);
    let gpu_layers: Vec<_> = one.devices[..2].iter().map(|d| (d.layers, d.has_output)).collect();
    // Alone, it lands where llama.cpp's split puts the first offloaded layer: the first GPU.
    assert_eq!(gpu_layers, vec![(0, true), (0, false)]);
    assert_eq!(one.devices[0].memory.weights, m.output_on(true));
    assert!(one.devices[0].memory.compute > 0 && one.devices[1].memory.compute == 0);
    // All but one: the first repeating layer stays on the CPU with the input.
    let most = place::layout(&m, &b, k, &kv, 32);
    assert_eq!(most.devices[2].layers, 1);
    assert!(most.devices[1].has_output, "with many layers the output is the highest, on the last GPU");
}

/// An embedding model's plan says the longest input one embedding takes: as long as it trained
/// (up to `MAX_EMBED_TOKENS`) where RAM is plenty, shorter where the context embeddings are made in
/// would not fit beside the model; a chat model's plan says nothing.
#[test]
fn an_embedding_models_plan_sizes_its_embedding_context_to_the_ram_left() {
    let chat = facts(&shape("llama3_8b"), quant("Q4_K_M"));
    let mut embedding = chat.clone();
    embedding.metadata.insert("llama.pooling_type".into(), gguf::Value::Uint(1));
    assert!(embeds(&embedding) && !embeds(&chat));
    let settings = LoadSettings::default();
    assert_eq!(plan(&chat, &machine("CPU", 64), &settings).embed_tokens, None);
    let roomy = plan(&embedding, &machine("CPU", 64), &settings);
    assert_eq!(roomy.embed_tokens, Some(MAX_EMBED_TOKENS), "{roomy:?}");
    let tight = plan(&embedding, &machine("CPU", 12), &settings);
    assert!(tight.verdict != Verdict::Red, "{tight:?}");
    let n = tight.embed_tokens.expect("an embedding model");
    assert!((MIN_EMBED_TOKENS..MAX_EMBED_TOKENS).contains(&n), "{n}");
    // What it leaves: the embedding context at that length fits in the RAM the plan leaves, and at
    // twice the length it would not.
    let m = ModelMemory::from_facts(&embedding, &machine("CPU", 12).cpu.features);
    let cpu = tight.devices.iter().find(|d| !d.is_gpu).expect("the CPU");
    let left = cpu.budget_bytes - cpu.total_bytes;
    let needs = |n: u32| {
        (0..m.layers).map(|il| m.kv_layer(il, n, n, CacheType::F16, CacheType::F16)).sum::<u64>() + m.compute(n, n, false, false, 1)
    };
    assert!(needs(n) <= left && needs(n * 2) > left, "{n} tokens: {} of {left} bytes", needs(n));
    // A plan on a machine where nothing is left still lets a sentence in.
    let ctx = embed_tokens(&m, Some(8192), &FitPlan { devices: vec![], ..tight.clone() });
    assert_eq!(ctx, MIN_EMBED_TOKENS);
}

fn gemma3_projector() -> (ModelFacts, ProjectorCost) {
    let f = gguf::parse_bytes(&synthetic::projector(&synthetic::gemma3_projector(4096)).header().0).expect("a projector's header");
    let cost = projector_cost(&f).expect("a vision projector");
    (f, cost)
}

/// llama.cpp puts the whole projector on one device: the first GPU when the load uses any, else
/// the CPU; the plan counts it there, and says what a picture takes of the context.
#[test]
fn a_projector_sits_on_the_first_gpu_that_holds_layers_else_the_cpu() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let (p, cost) = gemma3_projector();
    let hw = machine("RTX 3090 ×2", 64);
    let alone = plan(&f, &hw, &LoadSettings::default());
    let with = plan_with_projector(&f, Some(&p), &hw, &LoadSettings::default());
    assert_eq!((alone.image_tokens, with.image_tokens), (None, Some(256)));
    let on: Vec<_> = with.devices.iter().map(|d| (d.engine_device.as_deref(), d.memory.projector)).collect();
    assert_eq!(on, vec![(Some("CUDA0"), cost.total()), (Some("CUDA1"), 0), (None, 0)]);
    assert_eq!((with.verdict, with.gpu_layers, with.context, with.slots), (alone.verdict, alone.gpu_layers, alone.context, alone.slots));
    assert_eq!(with.total_bytes, alone.total_bytes + cost.total());
    assert_eq!(with.devices[0].total_bytes, alone.devices[0].total_bytes + cost.total());

    // No layer on a GPU, by the person's choice of device or of layers: the CPU holds it.
    for s in [run_on(types::RunOn::Cpu, None), run_on(types::RunOn::Auto, Some(0))] {
        let cpu = plan_with_projector(&f, Some(&p), &hw, &s);
        assert!(cpu.devices.iter().all(|d| !d.is_gpu), "{:?}", cpu.devices);
        assert_eq!(cpu.devices[0].memory.projector, cost.total());
    }
}

/// The projector is placed before the layers, as the load allocates it: on a card the model alone
/// fills, it takes the room of layers (or of context), and every GPU stays within its budget.
#[test]
fn the_projector_takes_room_from_the_layers() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let (p, cost) = gemma3_projector();
    let mut hw = machine("RTX 4060", 32);
    let s = LoadSettings { parallel: Some(1), ..LoadSettings::default() };
    let alone = plan(&f, &hw, &s);
    assert_eq!((alone.gpu_layers, alone.total_layers), (33, 33));
    // A card with room for the model and half the projector, beside the backend and the margin.
    let gpu = &alone.devices[0];
    let free = gpu.total_bytes + s.safety_margin_bytes + cost.total() / 2;
    (hw.gpus[0].vram_free_bytes, hw.gpus[0].vram_total_bytes) = (Some(free), Some(free));
    assert_eq!(plan(&f, &hw, &s).gpu_layers, 33);
    let with = plan_with_projector(&f, Some(&p), &hw, &s);
    assert!(with.gpu_layers < alone.gpu_layers || with.context < alone.context, "{with:?}");
    let gpu = with.devices.iter().find(|d| d.is_gpu).expect("still on the GPU");
    assert_eq!(gpu.memory.projector, cost.total());
    assert!(gpu.total_bytes - gpu.memory.overhead <= gpu.budget_bytes, "{gpu:?}");
}

/// A model that fits alone but not with its projector is red, and its reason says that without
/// the projector it would fit.
#[test]
fn red_only_because_of_the_projector_says_so() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let (p, cost) = gemma3_projector();
    let s = LoadSettings { context: Some(4096), parallel: Some(1), ..LoadSettings::default() };
    let mut hw = machine("CPU", 16);
    let alone = plan(&f, &hw, &s);
    // RAM for the model and half the projector, beside the 2 GiB the system keeps.
    hw.memory.total_bytes = 2 * GIB + alone.total_bytes + cost.total() / 2;
    assert_ne!(plan(&f, &hw, &s).verdict, Verdict::Red);
    let with = plan_with_projector(&f, Some(&p), &hw, &s);
    assert_eq!(with.verdict, Verdict::Red);
    assert!(with.reason.contains("its projector for pictures (0.9 GB)"), "{}", with.reason);
    assert!(
        with.reason.ends_with("Without its projector, which reads pictures (0.9 GB), it would fit, for text alone."),
        "{}",
        with.reason
    );
    // Too large either way: nothing about the projector beyond its share.
    hw.memory.total_bytes = 4 * GIB;
    assert!(!plan_with_projector(&f, Some(&p), &hw, &s).reason.contains("Without its projector"));
}

#[test]
fn a_file_that_reads_no_pictures_changes_nothing() {
    let f = facts(&synthetic::llama3_8b(), Quant::Q4KM);
    let hw = machine("RTX 3060", 32);
    assert_eq!(plan_with_projector(&f, Some(&f), &hw, &LoadSettings::default()), plan(&f, &hw, &LoadSettings::default()));
    assert_eq!(plan_with_projector(&f, None, &hw, &LoadSettings::default()), plan(&f, &hw, &LoadSettings::default()));
}
