//! What would run a model that does not run well here: the fit planner asked about other machines.
//!
//! For a model that is red or yellow on this machine, `advise` lists what would make it green, at
//! a speed worth having (green, `fit::USABLE_TOKENS_PER_SECOND` or faster), cheapest first:
//! - this machine another way: a shorter context, a smaller quantization of the same model, or
//!   more RAM;
//! - hardware to buy, one or two cards or a Mac, from a dated price table;
//! - GPUs to rent, one to eight per machine, with the speed predicted there, the price per hour and
//!   per million generated tokens, and the commands that serve the model on that machine
//!   (llama.cpp's server, and vLLM with tensor parallelism over its GPUs).
//!
//! Every machine is planned by `fit::plan` exactly as this one is, from Hearth's GPU table
//! (`hardware::catalog`). The prices live in `data/prices.json`, one file with its date and source,
//! easy to update.

use std::sync::OnceLock;

use gguf::ModelFacts;
use hardware::catalog;
use serde::Deserialize;
use types::{Advice, AdviceKind, AdviceOption, FitPlan, HardwareProfile, LoadSettings, Verdict, WhatIf, WhatIfPreset};

/// Options of each kind shown, at most.
const PER_KIND: usize = 4;
/// RAM of a rented GPU machine, GiB: cloud GPU boxes carry plenty, and llama.cpp keeps only the
/// input embedding there once every layer is on the GPUs.
const RENTED_RAM_GIB: u32 = 256;
const GIB: u64 = 1 << 30;
/// How much of N GPUs' bandwidth tensor parallelism turns into speed (the all-reduce between them
/// costs the rest): the usual scaling of vLLM's decoding on NVLink machines.
const TP_EFFICIENCY: f32 = 0.8;

#[derive(Debug, Deserialize)]
pub struct Prices {
    pub date: String,
    pub source: String,
    pub ram_usd_per_gib: f32,
    pub buy: Vec<BuyOffer>,
    pub rent: Vec<RentOffer>,
    pub presets: Vec<Preset>,
}

#[derive(Debug, Deserialize)]
pub struct BuyOffer {
    pub name: String,
    /// A name in `hardware::catalog::GPUS`.
    pub gpu: String,
    pub count: u32,
    pub usd: f32,
}

#[derive(Debug, Deserialize)]
pub struct RentOffer {
    pub gpu: String,
    /// Per GPU.
    pub usd_per_hour: f32,
    pub counts: Vec<u32>,
}

#[derive(Debug, Deserialize)]
pub struct Preset {
    pub name: String,
    pub about: String,
    pub gpu: String,
    pub count: u32,
    pub ram_gib: u32,
}

/// The price table (`data/prices.json`), read once.
pub fn prices() -> &'static Prices {
    static PRICES: OnceLock<Prices> = OnceLock::new();
    PRICES.get_or_init(|| serde_json::from_str(include_str!("../data/prices.json")).expect("data/prices.json is valid (a test reads it)"))
}

/// The budget configurations of the what-if picker.
pub fn presets() -> Vec<WhatIfPreset> {
    prices()
        .presets
        .iter()
        .map(|p| WhatIfPreset {
            name: p.name.clone(),
            about: p.about.clone(),
            what_if: WhatIf { gpu: Some(p.gpu.clone()), count: p.count, ram_gib: p.ram_gib },
        })
        .collect()
}

/// What would make `facts` (the file `file_name`) green, cheapest first; `hw` is this machine and
/// `settings` the person's for the file.
pub fn advise(facts: &ModelFacts, file_name: &str, hw: &HardwareProfile, settings: &LoadSettings) -> Advice {
    let mut options = here(facts, hw, settings);
    options.extend(buy(facts, hw, settings));
    options.extend(rent(facts, file_name, settings));
    let p = prices();
    Advice { options, prices_date: p.date.clone(), prices_source: p.source.clone() }
}

/// What every badge calls green: it fits as planned and is predicted to write at reading speed or
/// faster (a 70B in 48 GB of RAM fits, at a token a second, and is no answer). A rental over
/// several GPUs is judged at its own speed (`rent`).
fn good(plan: &FitPlan) -> bool {
    plan.verdict == Verdict::Green && plan.tokens_per_second.is_some()
}

fn option(kind: AdviceKind, title: String, plan: &FitPlan) -> AdviceOption {
    AdviceOption {
        kind,
        title,
        detail: format!("{}. {}", plan.label, plan.reason),
        verdict: plan.verdict,
        usd: None,
        usd_per_hour: None,
        usd_per_million_tokens: None,
        tokens_per_second: plan.tokens_per_second,
        commands: Vec::new(),
    }
}

/// This machine another way: the longest shorter context that is green; a smaller quantization
/// of the same model that is green at the context asked for; the least RAM that makes it green.
fn here(facts: &ModelFacts, hw: &HardwareProfile, settings: &LoadSettings) -> Vec<AdviceOption> {
    let mut out = Vec::new();
    let now = fit::plan(facts, hw, settings);
    if now.verdict == Verdict::Grey {
        return out;
    }
    let requested = now.requested_context;
    let mut ctx = requested / 2;
    while ctx >= 2048 {
        let p = fit::plan(facts, hw, &LoadSettings { context: Some(ctx), ..settings.clone() });
        if good(&p) {
            out.push(option(AdviceKind::Here, format!("This machine, at a {} context", fit::ctx_label(ctx)), &p));
            break;
        }
        ctx /= 2;
    }
    let bpw = bits_per_weight(facts);
    for (label, target) in SMALLER_QUANTS {
        if bpw < target + 0.4 {
            continue;
        }
        let smaller = requantized(facts, target);
        let p = fit::plan(&smaller, hw, settings);
        if good(&p) {
            let gb = smaller.tensor_bytes as f64 / 1e9;
            out.push(option(AdviceKind::Here, format!("A {label} file of this model (about {gb:.1} GB), on this machine"), &p));
            break;
        }
    }
    let total_gib = (hw.memory.total_bytes / GIB) as u32;
    for ram in [16u32, 24, 32, 48, 64, 96, 128, 192, 256] {
        if ram <= total_gib {
            continue;
        }
        let mut more = hw.clone();
        more.memory.total_bytes = u64::from(ram) * GIB;
        let p = fit::plan(facts, &more, settings);
        if good(&p) {
            let mut o = option(AdviceKind::Here, format!("This machine with {ram} GB of RAM"), &p);
            o.usd = Some((ram - total_gib) as f32 * prices().ram_usd_per_gib);
            out.push(o);
            break;
        }
    }
    out
}

/// Bits per weight of common quantizations (llama.cpp's quantize reports, mixed recipes
/// included), smallest last: the quantizations suggested instead of the file's own.
const SMALLER_QUANTS: [(&str, f64); 4] = [("Q5_K_M", 5.7), ("Q4_K_M", 4.9), ("Q3_K_M", 3.9), ("Q2_K", 3.4)];

/// The file's average bits per weight.
fn bits_per_weight(facts: &ModelFacts) -> f64 {
    let elements: u64 = facts.tensors.iter().map(|t| t.elements).sum();
    if elements == 0 {
        return 0.0;
    }
    facts.tensors.iter().map(|t| t.bytes).sum::<u64>() as f64 * 8.0 / elements as f64
}

/// The same model at about `bits` per weight: every matrix (two dimensions or more) scaled; norms
/// and biases, small and kept in F32 by every recipe, as they are.
fn requantized(facts: &ModelFacts, bits: f64) -> ModelFacts {
    let mut f = facts.clone();
    for t in &mut f.tensors {
        if t.dims.len() >= 2 {
            t.bytes = ((t.elements as f64 * bits / 8.0).ceil() as u64).min(t.bytes);
        }
    }
    f.tensor_bytes = f.tensors.iter().map(|t| t.bytes).sum();
    f
}

/// Machines to buy on which the model is green, cheapest first: the GPU(s) in this machine (with
/// at least 32 GB of RAM), or a Mac.
fn buy(facts: &ModelFacts, hw: &HardwareProfile, settings: &LoadSettings) -> Vec<AdviceOption> {
    let ram = ((hw.memory.total_bytes / GIB) as u32).max(32);
    let mut offers: Vec<&BuyOffer> = prices().buy.iter().collect();
    offers.sort_by(|a, b| a.usd.total_cmp(&b.usd));
    offers
        .into_iter()
        .filter_map(|o| {
            let gpu = catalog::find(&o.gpu)?;
            let p = fit::plan(facts, &catalog::imagined(Some(gpu), o.count, ram), &run_anywhere(settings));
            good(&p).then(|| {
                let mut opt = option(AdviceKind::Buy, o.name.clone(), &p);
                opt.usd = Some(o.usd);
                opt
            })
        })
        .take(PER_KIND)
        .collect()
}

/// The person's settings for this machine's devices ("run on the CPU", a GPU by name) mean
/// nothing on another machine.
fn run_anywhere(settings: &LoadSettings) -> LoadSettings {
    LoadSettings { run: types::RunOnSettings::default(), freed_gpu_bytes: Vec::new(), held_gpu_bytes: Vec::new(), ..settings.clone() }
}

/// Rented machines on which the model is green, cheapest per hour first; for each GPU, the fewest
/// of it that do.
fn rent(facts: &ModelFacts, file_name: &str, settings: &LoadSettings) -> Vec<AdviceOption> {
    let mut found: Vec<(f32, AdviceOption)> = Vec::new();
    for o in &prices().rent {
        let Some(gpu) = catalog::find(&o.gpu) else { continue };
        let mut counts = o.counts.clone();
        counts.sort_unstable();
        for count in counts {
            let mut p = fit::plan_by_placement(facts, &catalog::imagined(Some(gpu), count, RENTED_RAM_GIB), &run_anywhere(settings));
            // On several GPUs the engine to serve it with is vLLM, whose tensor parallelism has
            // every GPU read its share of each matrix per token: the GPUs' bandwidths add up.
            // llama.cpp's layer split reads them one after the other, as the planner predicts.
            let split = p.tokens_per_second;
            if count > 1 {
                p.tokens_per_second = split.map(|s| {
                    let k = count as f32 * TP_EFFICIENCY;
                    types::SpeedRange { low: s.low * k, high: s.high * k, expected: s.expected * k }
                });
            }
            // Judged at the speed it will be served at.
            let p = fit::judge_speed(p);
            if !good(&p) {
                continue;
            }
            let per_hour = o.usd_per_hour * count as f32;
            let mut opt = option(AdviceKind::Rent, format!("{count} × {}, rented", o.gpu), &p);
            if let (true, Some(s)) = (count > 1, split) {
                opt.detail = format!(
                    "{} With vLLM's tensor parallelism over the {count} GPUs; llama.cpp's layer split would give about {:.0} tok/s.",
                    opt.detail,
                    (s.low + s.high) / 2.0
                );
            }
            opt.usd_per_hour = Some(per_hour);
            opt.usd_per_million_tokens = p.tokens_per_second.map(|s| {
                let tps = (s.low + s.high) / 2.0;
                per_hour / (tps * 3600.0) * 1e6
            });
            opt.commands = commands(file_name, facts, &p, count);
            found.push((per_hour, opt));
            break;
        }
    }
    found.sort_by(|a, b| a.0.total_cmp(&b.0));
    found.into_iter().take(PER_KIND).map(|(_, o)| o).collect()
}

/// Serving the model on a rented machine with `gpus` GPUs: llama.cpp's server with the layers
/// split over them, and vLLM with tensor parallelism (built for several GPUs; it serves the
/// original weights best, and GGUF files experimentally).
fn commands(file_name: &str, facts: &ModelFacts, plan: &FitPlan, gpus: u32) -> Vec<String> {
    let ctx = plan.context;
    let split = if gpus > 1 { format!(" --tensor-split {}", vec!["1"; gpus as usize].join(",")) } else { String::new() };
    let llama = format!(
        "llama-server -m {file_name} -ngl 999{split} -c {} -np {} -fa on --host 0.0.0.0 --api-key \"$KEY\"",
        ctx * plan.slots.max(1),
        plan.slots.max(1)
    );
    let label = facts.file_type_label.as_deref().unwrap_or("");
    let unquantized = matches!(label, "F32" | "F16" | "BF16");
    let vllm = if unquantized {
        format!("vllm serve <the model's Hugging Face repository> --tensor-parallel-size {gpus} --max-model-len {ctx} --api-key \"$KEY\"")
    } else {
        format!(
            "vllm serve ./{file_name} --tokenizer <the original model's repository> --tensor-parallel-size {gpus} --max-model-len {ctx} --api-key \"$KEY\"  # GGUF in vLLM is experimental: its AWQ/GPTQ/FP8 releases serve faster"
        )
    };
    vec![llama, vllm]
}
