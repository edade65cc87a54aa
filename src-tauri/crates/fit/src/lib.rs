//! The fit planner: will this model file run on this machine, how, and how fast?
//!
//! `plan` is a pure function of a model's header facts, a hardware profile (this machine or an
//! imagined one) and the load settings. It tries the asked-for context, then shorter ones down to
//! min(4096, trained); at each it finds the most layers the GPUs take (mixture-of-experts models first
//! try leaving their experts in RAM), and checks that the rest fits in RAM. The memory model is
//! llama.cpp's, checked against its own figures in `tests/llama_cpp_agreement.rs`.

mod budget;
mod grid;
mod model;
mod place;
mod projector;
mod recommend;
mod speed;

use gguf::ModelFacts;
use types::{CacheType, DeviceUse, FitPlan, HardwareProfile, LoadSettings, PlanMode, Verdict, MAX_EMBED_TOKENS};

pub use budget::{budgets, ram_reserve, Budgets, GIB, MIB};
pub use grid::what_fits;
pub use model::{repacked, ModelMemory, MAX_BYTES};
pub use projector::{encoder_compute, projector_cost, ProjectorCost, DEFAULT_PICTURE_SIDE};
pub use recommend::{recommend, Candidate, FAST_ENOUGH};
use place::{Knobs, Placement};

/// Context asked for when the settings leave it open: the trained context, capped here.
pub const DEFAULT_CONTEXT: u32 = 8192;
/// The smallest context worth offering.
pub const MIN_USEFUL_CONTEXT: u32 = 4096;

pub fn plan(facts: &ModelFacts, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    judge_speed(plan_by_placement(facts, hw, s))
}

/// `plan` for the model loaded with its projector (`projector`: the mmproj file's header), which
/// reads pictures: the projector's weights and compute buffer (`projector_cost`) go on the device
/// llama.cpp puts it on, the first GPU when any layer is on a GPU, else the CPU, before the layers
/// are placed (so they take room from the layers, as they do in the load), and the plan says the
/// tokens a picture takes (`FitPlan::image_tokens`). A file that reads no pictures is left out:
/// the plan is `plan`'s.
pub fn plan_with_projector(facts: &ModelFacts, projector: Option<&ModelFacts>, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    let cost = projector.and_then(projector_cost);
    judge_speed(placement_plan(facts, cost.as_ref(), hw, s))
}

/// The plan with its verdict from the placement alone, before `judge_speed`: for a caller that
/// serves the model another way than llama.cpp's layer split, and so predicts its own speed (the
/// advisor's rentals, with vLLM's tensor parallelism over several GPUs).
pub fn plan_by_placement(facts: &ModelFacts, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    placement_plan(facts, None, hw, s)
}

fn placement_plan(facts: &ModelFacts, projector: Option<&ProjectorCost>, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    if s.parallel.is_some() {
        return plan_slots(facts, projector, hw, s);
    }
    let with = |n: u32| LoadSettings { parallel: Some(n), ..s.clone() };
    let one = plan_slots(facts, projector, hw, &with(1));
    if one.verdict == Verdict::Red || one.verdict == Verdict::Grey {
        return one;
    }
    // More slots only where they cost nothing else: the same verdict, context and GPU layers.
    AUTO_SLOTS
        .iter()
        .map(|&n| plan_slots(facts, projector, hw, &with(n)))
        .find(|p| p.verdict == one.verdict && p.context == one.context && p.gpu_layers == one.gpu_layers)
        .unwrap_or(one)
}

/// The slots the planner tries, most first, when the person has not set a number: four, as
/// llama-server and LM Studio default to, or two.
pub const AUTO_SLOTS: [u32; 2] = [4, 2];

/// The plan with `s.parallel` slots (1 when unset), with the projector if there is one.
fn plan_slots(facts: &ModelFacts, projector: Option<&ProjectorCost>, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    let Some(cost) = projector else { return plan_slots_with(facts, 0, hw, s) };
    let mut plan = plan_slots_with(facts, cost.total(), hw, s);
    plan.image_tokens = Some(cost.image_tokens);
    // Red only because of the projector: the reason says so (the model alone would load, for text).
    if plan.verdict == Verdict::Red && plan_slots_with(facts, 0, hw, s).verdict != Verdict::Red {
        plan.reason =
            format!("{} Without its projector, which reads pictures ({}), it would fit, for text alone.", plan.reason, gb(cost.total()));
    }
    plan
}

/// The plan with `s.parallel` slots (1 when unset) and `projector` bytes for the projector.
fn plan_slots_with(facts: &ModelFacts, projector: u64, hw: &HardwareProfile, s: &LoadSettings) -> FitPlan {
    if facts.layer_count == 0 || facts.tensors.is_empty() {
        return grey(s, "The model's header does not describe its layers, so Hearth cannot tell.");
    }
    if u64::from(facts.layer_count) > gguf::MAX_LAYERS {
        // The reader refuses such a header; facts made another way must not size tables by it.
        return grey(s, "The model's header claims more layers than any model has: the file is damaged.");
    }
    let m = ModelMemory { projector, ..ModelMemory::from_facts(facts, &hw.cpu.features) };
    let b = budgets(hw, s);
    let trained = facts.context_length.map(|c| c.min(u64::from(u32::MAX)) as u32).filter(|c| *c > 0);
    let requested = s.context.unwrap_or_else(|| trained.unwrap_or(DEFAULT_CONTEXT).min(DEFAULT_CONTEXT)).max(256);
    let floor = trained.unwrap_or(MIN_USEFUL_CONTEXT).min(MIN_USEFUL_CONTEXT).min(requested);

    // A GPU-layer count the person set replaces "as many as fit" (only where a GPU is in the plan).
    let full = m.layers as u32 + 1;
    let forced_layers = s.run.gpu_layers.filter(|_| !b.gpus.is_empty()).map(|n| n.min(full));

    let mut ctx = requested;
    loop {
        if let Some((p, knobs)) = place_at(&m, &b, s, ctx, forced_layers) {
            let mut plan = finish(&m, &b, s, hw.speed_calibration, p, knobs, requested);
            plan.embed_tokens = embeds(facts).then(|| embed_tokens(&m, trained, &plan));
            return plan;
        }
        if ctx <= floor {
            break;
        }
        ctx = (ctx / 2).max(floor);
    }
    match forced_layers {
        Some(ngl) => red_forced_layers(&m, &b, s, ngl, requested, floor),
        None => red(&m, &b, s, requested, floor),
    }
}

fn knobs(s: &LoadSettings, n_ctx: u32, experts_on_cpu: bool) -> Knobs {
    Knobs {
        n_ctx,
        ubatch: s.ubatch.max(1),
        cache_k: s.cache_k,
        cache_v: s.cache_v,
        // A quantized V cache needs flash attention; llama.cpp turns it on for it.
        flash_attention: s.flash_attention || s.cache_v != CacheType::F16,
        experts_on_cpu,
        slots: slots(s),
    }
}

fn slots(s: &LoadSettings) -> u32 {
    s.parallel.unwrap_or(1).clamp(1, MAX_SLOTS)
}

/// The slowest predicted generation that is still green. A person reads about 250 words a minute,
/// some 4 words or 5 tokens a second: below that a reply comes slower than it is read, a paragraph
/// takes a minute, and "it fits" is not what green promises. Such a plan is yellow, and says how
/// slow in words. The advisor's "what would run it well" is held to the same figure.
pub const USABLE_TOKENS_PER_SECOND: f32 = 5.0;

/// A plan that fits but is predicted to write slower than `USABLE_TOKENS_PER_SECOND`: yellow,
/// whatever the placement, labelled "slow", and its reason says how slow in words.
pub fn judge_speed(plan: FitPlan) -> FitPlan {
    let slow = plan.tokens_per_second.as_ref().map(|s| s.expected).filter(|&t| t < USABLE_TOKENS_PER_SECOND);
    match slow {
        Some(t) if matches!(plan.verdict, Verdict::Green | Verdict::Yellow) => {
            let from = match plan.mode {
                PlanMode::Cpu => "from RAM on the CPU",
                PlanMode::FullGpu => "on the GPU",
                _ => "partly from RAM",
            };
            FitPlan {
                verdict: Verdict::Yellow,
                label: format!("{} · slow", plan.label),
                reason: format!(
                    "It runs {from} at about {}, slower than a person reads (about {USABLE_TOKENS_PER_SECOND:.0} tok/s): a \
                     paragraph takes a minute or more. {}",
                    tok_per_sec(t),
                    plan.reason
                ),
                ..plan
            }
        }
        _ => plan,
    }
}

/// The most slots a plan has (the engine's `llama_params::MAX_SEQ`).
pub const MAX_SLOTS: u32 = 64;

/// The best placement at one context: a full offload if it fits, else (for MoE) experts in RAM, else
/// the most layers the GPUs take.
fn place_at(m: &ModelMemory, b: &Budgets, s: &LoadSettings, n_ctx: u32, forced_layers: Option<u32>) -> Option<(Placement, Knobs)> {
    let k = knobs(s, n_ctx, false);
    let kv = place::kv_per_layer(m, k);
    if let Some(ngl) = forced_layers {
        return place::place(m, b, k, &kv, ngl).filter(|p| p.ram_ok).map(|p| (p, k));
    }
    let full = m.layers as u32 + 1;
    if !b.gpus.is_empty() {
        if let Some(p) = place::place(m, b, k, &kv, full).filter(|p| p.ram_ok) {
            return Some((p, k));
        }
        if m.layer_experts.iter().any(|e| *e > 0) {
            let ke = knobs(s, n_ctx, true);
            if let Some(p) = place::place(m, b, ke, &kv, full).filter(|p| p.ram_ok) {
                return Some((p, ke));
            }
        }
    }
    place::best(m, b, k, &kv).map(|p| (p, k))
}

/// A predicted speed as Hearth writes it: "1.3 tok/s", "12 tok/s" (the window's figure too,
/// `ui/src/lib/format`).
pub fn tok_per_sec(t: f32) -> String {
    if t >= 10.0 {
        format!("{} tok/s", t.round())
    } else {
        format!("{t:.1} tok/s")
    }
}

fn gb(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / GIB as f64)
}

/// A context length as people write it: "8K", or the number when it is not whole K.
pub fn ctx_label(ctx: u32) -> String {
    if ctx >= 1024 && ctx % 1024 == 0 {
        format!("{}K", ctx / 1024)
    } else {
        ctx.to_string()
    }
}

fn finish(m: &ModelMemory, b: &Budgets, s: &LoadSettings, calibration: Option<f32>, p: Placement, k: Knobs, requested: u32) -> FitPlan {
    let full = m.layers as u32 + 1;
    let has_gpu = !b.gpus.is_empty();
    let mode = if !has_gpu || p.n_gpu_layers == 0 {
        PlanMode::Cpu
    } else if p.experts_on_cpu {
        PlanMode::ExpertsOnCpu
    } else if p.n_gpu_layers == full {
        PlanMode::FullGpu
    } else {
        PlanMode::PartialGpu
    };
    let shorter = k.n_ctx < requested;
    let best_possible = match mode {
        PlanMode::FullGpu => true,
        PlanMode::Cpu => !has_gpu,
        _ => false,
    };
    // The CPU by the person's choice on a machine with a GPU, or a chosen GPU that is not there, is
    // slower than this machine could run it: yellow, and the reason says why.
    let by_choice = !has_gpu && (!b.set_aside.is_empty() || b.missing_choice.is_some());
    let verdict = if best_possible && !shorter && !by_choice { Verdict::Green } else { Verdict::Yellow };
    let what = match mode {
        PlanMode::FullGpu => "Full GPU".to_string(),
        PlanMode::Cpu if has_gpu => "CPU only".to_string(),
        PlanMode::Cpu => "Fits in RAM".to_string(),
        PlanMode::ExpertsOnCpu => "GPU · experts in RAM".to_string(),
        PlanMode::PartialGpu => format!("Partial GPU · {}/{} layers", p.n_gpu_layers, full),
        PlanMode::None => String::new(),
    };
    let what = if by_choice { "CPU only · your setting".to_string() } else { what };
    let label = if shorter { format!("Fits at {} context · {what}", ctx_label(k.n_ctx)) } else { what };

    let gpu_names = if b.gpus.len() == 1 { b.gpus[0].name.clone() } else { format!("{} GPUs", b.gpus.len()) };
    let reason = match mode {
        PlanMode::FullGpu => format!("Every layer and the {} context fit in the memory of {gpu_names}.", ctx_label(k.n_ctx)),
        PlanMode::Cpu if has_gpu => format!("{gpu_names} cannot hold even one layer beside its other work, so it runs on the CPU."),
        PlanMode::Cpu if by_choice => format!("The model and its {} context fit in RAM and run on the CPU.", ctx_label(k.n_ctx)),
        PlanMode::Cpu => format!("No usable GPU: the model and its {} context fit in RAM and run on the CPU.", ctx_label(k.n_ctx)),
        PlanMode::ExpertsOnCpu => {
            "The shared weights and the context fit on the GPU; the experts stay in RAM, which is slower.".to_string()
        }
        PlanMode::PartialGpu => {
            format!("{} of {} layers fit on {gpu_names}; the rest run on the CPU from RAM, which is slower.", p.n_gpu_layers, full)
        }
        PlanMode::None => String::new(),
    };
    let reason = if shorter {
        format!("At the {} context asked for it does not fit; at {} it does. {reason}", ctx_label(requested), ctx_label(k.n_ctx))
    } else {
        reason
    };
    let reason = format!("{}{reason}{}", choice_note(b), layers_note(s, has_gpu));

    let tokens_per_second = speed::predict(&p, b, f64::from(calibration.unwrap_or(1.0)));
    let cpu = p.devices.len() - 1;
    let devices = device_uses(b, &p.devices, cpu);
    FitPlan {
        verdict,
        label,
        reason,
        mode,
        gpu_layers: p.n_gpu_layers,
        total_layers: full,
        context: k.n_ctx,
        requested_context: requested,
        slots: k.slots,
        cache_k: k.cache_k,
        cache_v: k.cache_v,
        flash_attention: k.flash_attention,
        total_bytes: devices.iter().fold(0u64, |s, d| s.saturating_add(d.total_bytes)),
        devices,
        tokens_per_second,
        embed_tokens: None,
        image_tokens: None,
    }
}

/// Whether a model makes embeddings: its file names a pooling (`{arch}.pooling_type` above 0), as
/// embedding models' files do and chat models' do not (the engine refuses the rest).
pub fn embeds(facts: &ModelFacts) -> bool {
    let key = format!("{}.pooling_type", facts.architecture);
    match facts.metadata.get(&key) {
        Some(gguf::Value::Uint(p)) => *p > 0,
        Some(gguf::Value::Int(p)) => *p > 0,
        _ => false,
    }
}

/// The longest input one embedding takes on a load (`FitPlan::embed_tokens`), planned like the
/// load itself. The engine makes a context of its own for each request's inputs, beside the loaded
/// model, as long as the longest input and reading it in one micro-batch (pooling needs the whole
/// input at once): its f16 K/V and its compute buffer, counted without flash attention (the K·Q
/// scores, `heads × n × n` floats, the larger of the two ways llama.cpp may run it), must fit in
/// what the plan leaves of its RAM budget. The trained context capped at `MAX_EMBED_TOKENS`,
/// halved until it fits; 512 at least (what the smallest embedding models train at), so a model
/// that loads can always embed a sentence.
pub fn embed_tokens(m: &ModelMemory, trained: Option<u32>, plan: &FitPlan) -> u32 {
    let cpu = plan.devices.iter().find(|d| !d.is_gpu);
    let left = cpu.map_or(0, |d| d.budget_bytes.saturating_sub(d.total_bytes));
    let needs = |n: u32| {
        let kv = (0..m.layers).fold(0u64, |s, il| s.saturating_add(m.kv_layer(il, n, n, CacheType::F16, CacheType::F16)));
        kv.saturating_add(m.compute(n, n, false, false, 1))
    };
    let mut n = trained.unwrap_or(MAX_EMBED_TOKENS).clamp(MIN_EMBED_TOKENS, MAX_EMBED_TOKENS);
    while n > MIN_EMBED_TOKENS && needs(n) > left {
        n = (n / 2).max(MIN_EMBED_TOKENS);
    }
    n
}

/// The shortest longest-input a plan gives an embedding model (see `embed_tokens`).
pub const MIN_EMBED_TOKENS: u32 = 512;

/// What the person's "run on" setting changed, to open a plan's reason with.
fn choice_note(b: &Budgets) -> String {
    match (&b.missing_choice, b.set_aside.as_slice()) {
        (Some(device), _) => format!("{device}, the GPU chosen to run it, is not available, so it runs without it. "),
        (None, []) => String::new(),
        (None, names) if b.gpus.is_empty() => format!("Set to run on the CPU: {} stays unused. ", names.join(" and ")),
        (None, names) => format!("Set to leave {} unused. ", names.join(" and ")),
    }
}

fn layers_note(s: &LoadSettings, has_gpu: bool) -> String {
    match s.run.gpu_layers {
        Some(n) if has_gpu => format!(" GPU layers are set to {n}, not as many as fit."),
        _ => String::new(),
    }
}

/// The person set more GPU layers than the GPU holds (or than leave RAM enough): red, and the plan
/// keeps that layout so that loading it anyway, after the warning, does what the setting says.
fn red_forced_layers(m: &ModelMemory, b: &Budgets, s: &LoadSettings, ngl: u32, requested: u32, floor: u32) -> FitPlan {
    let k = knobs(s, floor, false);
    let kv = place::kv_per_layer(m, k);
    let p = place::layout(m, b, k, &kv, ngl);
    let mut plan = red(m, b, s, requested, floor);
    let over = p.devices.iter().zip(&b.gpus).find(|(d, _)| d.over_budget());
    let (label, reason) = match over {
        Some((d, g)) => (
            format!("Too large for {ngl} GPU layers · needs {}, has {}", gb(d.budgeted_bytes()), gb(d.budget)),
            format!(
                "GPU layers are set to {ngl}: on {} they need {} at a {} context, and it can give {}. Set fewer, or Auto for as many as fit.",
                g.name,
                gb(d.budgeted_bytes()),
                ctx_label(floor),
                gb(d.budget)
            ),
        ),
        None => (plan.label.clone(), format!("GPU layers are set to {ngl}. {}", plan.reason)),
    };
    let cpu = p.devices.len() - 1;
    plan.label = label;
    plan.reason = reason;
    plan.gpu_layers = ngl;
    plan.devices = device_uses(b, &p.devices, cpu);
    plan
}

fn device_uses(b: &Budgets, devices: &[place::DeviceLoad], cpu: usize) -> Vec<DeviceUse> {
    devices
        .iter()
        .enumerate()
        .filter(|(i, d)| *i == cpu || d.memory.total() > 0)
        .map(|(i, d)| DeviceUse {
            name: if i == cpu { "CPU".to_string() } else { b.gpus[i].name.clone() },
            is_gpu: i != cpu,
            engine_device: if i == cpu { None } else { b.gpus[i].engine_device.clone() },
            layers: d.layers,
            has_output: d.has_output,
            memory: d.memory,
            total_bytes: d.memory.total(),
            budget_bytes: d.budget,
        })
        .collect()
}

fn red(m: &ModelMemory, b: &Budgets, s: &LoadSettings, requested: u32, floor: u32) -> FitPlan {
    let k = knobs(s, floor, false);
    let kv = model::sum(place::kv_per_layer(m, k));
    let needs = model::sum([m.weights_total(), kv, m.compute(floor, k.ubatch, k.flash_attention, true, k.slots), m.projector]);
    let unified = b.gpus.iter().any(|g| g.unified);
    // On unified memory the GPU's share is inside RAM: the pool is RAM alone.
    let has = if unified { b.ram } else { b.gpus.iter().fold(b.ram, |s, g| s.saturating_add(g.budget)) };
    let full = m.layers as u32 + 1;
    FitPlan {
        verdict: Verdict::Red,
        label: format!("Too large · needs {}, has {}", gb(needs), gb(has)),
        reason: format!(
            "{}Its weights ({}){} and a {} context need {} but this machine can give it {}{}.",
            choice_note(b),
            gb(m.weights_total()),
            if m.projector > 0 { format!(", its projector for pictures ({})", gb(m.projector)) } else { String::new() },
            ctx_label(floor),
            gb(needs),
            gb(has),
            if b.gpus.is_empty() { " of RAM" } else { " of GPU memory and RAM together" }
        ),
        mode: PlanMode::None,
        gpu_layers: 0,
        total_layers: full,
        context: floor,
        requested_context: requested,
        slots: k.slots,
        cache_k: k.cache_k,
        cache_v: k.cache_v,
        flash_attention: k.flash_attention,
        devices: Vec::new(),
        total_bytes: needs,
        tokens_per_second: None,
        embed_tokens: None,
        image_tokens: None,
    }
}

fn grey(s: &LoadSettings, reason: &str) -> FitPlan {
    FitPlan {
        verdict: Verdict::Grey,
        label: "Unknown · header unavailable".to_string(),
        reason: reason.to_string(),
        mode: PlanMode::None,
        gpu_layers: 0,
        total_layers: 0,
        context: 0,
        requested_context: s.context.unwrap_or(0),
        slots: slots(s),
        cache_k: s.cache_k,
        cache_v: s.cache_v,
        flash_attention: s.flash_attention,
        devices: Vec::new(),
        total_bytes: 0,
        tokens_per_second: None,
        embed_tokens: None,
        image_tokens: None,
    }
}

/// What loading a red plan anyway would do, for the warning a person confirms first (Chat) or the
/// `--force` the CLI asks for: the plan's own reason, then the consequence.
pub fn overflow_warning(file: &str, plan: &FitPlan) -> String {
    let memory = if plan.devices.iter().any(|d| d.is_gpu) { "the GPU's memory" } else { "RAM" };
    format!(
        "{file} will not fit: {} Loaded anyway, llama.cpp tries to allocate {:.1} GB: when {memory} runs out the load \
         fails, or the computer swaps to disk and may stop responding until the model is unloaded.",
        plan.reason,
        plan.total_bytes as f64 / GIB as f64,
    )
}

/// The calibration to store after a real run: measured over predicted, folded into what was
/// already learnt (`previous` was in force when `predicted` was made).
pub fn calibration_factor(predicted: f64, measured: f64, previous: Option<f32>) -> f32 {
    let previous = f64::from(previous.unwrap_or(1.0));
    if predicted <= 0.0 || measured <= 0.0 {
        return previous as f32;
    }
    (previous * measured / predicted).clamp(0.1, 10.0) as f32
}

/// The plan for a file whose header could not be read.
pub fn unknown(s: &LoadSettings, why: &str) -> FitPlan {
    grey(s, &format!("Hearth could not read the model's header: {why}."))
}

#[cfg(test)]
mod tests;
