//! `hearth fit PATH`: the fit plan for a model file, on this machine or an imagined one.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use types::{CacheType, FitPlan, HardwareProfile, LoadSettings, Verdict};

use crate::format::{gb, params, size};

#[derive(Args, Debug)]
pub struct FitArgs {
    /// The model file (.gguf).
    pub path: PathBuf,
    /// Context length to plan for (default: the model's trained context, up to 8192).
    #[arg(long)]
    pub ctx: Option<u32>,
    /// K/V cache type: f16, q8_0 or q4_0.
    #[arg(long, default_value = "f16")]
    pub cache: String,
    /// Plan for an imagined machine with this GPU from Hearth's table ("RTX 4090", "M2 Ultra 192GB").
    #[arg(long)]
    pub gpu: Option<String>,
    /// How many of that GPU.
    #[arg(long, default_value_t = 1)]
    pub gpus: u32,
    /// RAM of the imagined machine ("64GB" or "64"); defaults to this machine's.
    #[arg(long)]
    pub ram: Option<String>,
    /// Print the plan as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
    /// Also say what would run it well (green), cheapest first: this machine another way,
    /// hardware to buy, GPUs to rent (with the commands that serve it there), from a dated price table.
    #[arg(long)]
    pub advise: bool,
}

pub fn parse_cache(s: &str) -> anyhow::Result<CacheType> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "f16" => CacheType::F16,
        "q8_0" | "q8" => CacheType::Q8_0,
        "q4_0" | "q4" => CacheType::Q4_0,
        other => bail!("unknown cache type {other:?}: use f16, q8_0 or q4_0"),
    })
}

fn cache_name(c: CacheType) -> &'static str {
    match c {
        CacheType::F16 => "f16",
        CacheType::Q8_0 => "q8_0",
        CacheType::Q4_0 => "q4_0",
    }
}

pub fn parse_gb(s: &str) -> anyhow::Result<u32> {
    let digits = s.trim().trim_end_matches(|c: char| c.is_ascii_alphabetic()).trim();
    digits.parse().with_context(|| format!("{s:?} is not an amount of RAM like 64GB"))
}

fn machine(args: &FitArgs, here: impl FnOnce() -> HardwareProfile) -> anyhow::Result<(HardwareProfile, bool)> {
    if args.gpu.is_none() && args.ram.is_none() {
        return Ok((here(), false));
    }
    let ram = match &args.ram {
        Some(r) => parse_gb(r)?,
        None => (here().memory.total_bytes >> 30) as u32,
    };
    let gpu = match &args.gpu {
        Some(name) => Some(hardware::catalog::find(name).with_context(|| {
            let known: Vec<&str> = hardware::catalog::GPUS.iter().map(|g| g.name).collect();
            format!("Hearth does not know the GPU {name:?}. Known: {}", known.join(", "))
        })?),
        None => None,
    };
    Ok((hardware::catalog::imagined(gpu, args.gpus, ram), true))
}

pub fn run(args: &FitArgs) -> anyhow::Result<()> {
    let facts = gguf::read_file(&args.path).with_context(|| format!("reading {}", args.path.display()))?;
    let cache = parse_cache(&args.cache)?;
    let (hw, imagined) = machine(args, crate::loading::hardware_profile)?;
    // On this machine, the person's saved choices for the file (where it runs, its template,
    // slots), as My Models and `hearth ls` plan it; an imagined machine has none of its own.
    let saved = match imagined {
        true => LoadSettings::default(),
        false => crate::loading::hearth()
            .map(|h| library::settings::load_settings(&h.store, Some(&std::fs::canonicalize(&args.path).unwrap_or_else(|_| args.path.clone()))))
            .unwrap_or_default(),
    };
    let settings = LoadSettings { context: args.ctx, cache_k: cache, cache_v: cache, ..saved };
    // The projector beside the model (what reads pictures) is loaded with it, and planned so.
    let projector = gguf::projector_facts_beside(&args.path, &facts);
    let plan = fit::plan_with_projector(&facts, projector.as_ref().map(|(_, f)| f), &hw, &settings);
    let advice = args.advise.then(|| {
        let name = args.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        advisor::advise(&facts, &name, &hw, &settings)
    });
    if args.json {
        let out = match &advice {
            Some(a) => serde_json::json!({ "plan": plan, "advice": a }),
            None => serde_json::to_value(&plan)?,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", render(&facts, &hw, imagined, &plan));
        if let Some((path, cost)) = projector.as_ref().and_then(|(p, f)| Some((p, fit::projector_cost(f)?))) {
            print!("{}", render_projector(path, &cost, &plan));
        }
        if let Some(a) = &advice {
            print!("{}", render_advice(a, plan.verdict));
        }
    }
    Ok(())
}

/// The projector's share of the plan: its file, the device that holds it, its weights and compute
/// buffer, and what a picture costs the context.
fn render_projector(path: &std::path::Path, cost: &fit::ProjectorCost, plan: &FitPlan) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let on = plan.devices.iter().find(|d| d.memory.projector > 0).map_or("—", |d| d.name.as_str());
    let at_most = if cost.exact { "" } else { "up to " };
    format!(
        "Pictures  read by {name} ({}): {} on {on} (weights {} + compute {}) · {at_most}{} tokens of context a picture\n",
        cost.projector_type,
        size(cost.total()),
        size(cost.weights),
        size(cost.compute),
        cost.image_tokens
    )
}

/// The advice as text: each kind under its heading, cheapest first.
fn render_advice(a: &types::Advice, verdict: Verdict) -> String {
    use types::AdviceKind;
    let mut o = String::new();
    if verdict == Verdict::Green {
        let _ = writeln!(o, "\nIt runs well here already; other machines that would run it too:");
    } else {
        let _ = writeln!(o, "\nWhat would run it well (green), cheapest first:");
    }
    for (kind, heading) in [(AdviceKind::Here, "On this machine"), (AdviceKind::Buy, "To buy"), (AdviceKind::Rent, "To rent")] {
        let options: Vec<_> = a.options.iter().filter(|o| o.kind == kind).collect();
        if options.is_empty() {
            continue;
        }
        let _ = writeln!(o, "  {heading}:");
        for opt in options {
            let price = match (opt.usd, opt.usd_per_hour, opt.usd_per_million_tokens) {
                (_, Some(h), Some(m)) => format!("${h:.2}/hour, ${m:.2} per million tokens"),
                (_, Some(h), None) => format!("${h:.2}/hour"),
                (Some(u), _, _) => format!("about ${u:.0}"),
                _ => String::new(),
            };
            let speed = opt.tokens_per_second.map(|s| crate::format::tok_per_sec(s.expected)).unwrap_or_default();
            let _ = writeln!(o, "    {:<44} {:<36} {speed}", opt.title, price);
            for c in &opt.commands {
                let _ = writeln!(o, "        {c}");
            }
        }
    }
    let _ = writeln!(o, "  Prices as of {}: typical, not quotes.", a.prices_date);
    o
}

pub fn render(f: &gguf::ModelFacts, hw: &HardwareProfile, imagined: bool, p: &FitPlan) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Model     {} · {} · {} · {} parameters · {}",
        f.name.as_deref().unwrap_or("(unnamed)"),
        f.architecture,
        f.file_type_label.as_deref().unwrap_or("?"),
        params(f.parameter_count),
        size(f.tensor_bytes)
    );
    let gpus = if hw.gpus.is_empty() {
        "no GPU".to_string()
    } else if hw.gpus.iter().all(|g| g.name == hw.gpus[0].name) && hw.gpus.len() > 1 {
        format!("{} ×{}", hw.gpus[0].name, hw.gpus.len())
    } else {
        hw.gpus.iter().map(|g| g.name.as_str()).collect::<Vec<_>>().join(" + ")
    };
    let _ = writeln!(o, "Machine   {gpus} · {} RAM{}", gb(hw.memory.total_bytes), if imagined { " (imagined)" } else { "" });
    let dot = match p.verdict {
        Verdict::Green => "green",
        Verdict::Yellow => "yellow",
        Verdict::Red => "red",
        Verdict::Grey => "grey",
    };
    let _ = writeln!(o, "Verdict   {dot} — {}", p.label);
    let _ = writeln!(o, "Why       {}", p.reason);
    if p.devices.is_empty() {
        return o;
    }
    let _ = writeln!(
        o,
        "Context   {} (asked {}) · K/V cache {}/{} · flash attention {}",
        p.context,
        p.requested_context,
        cache_name(p.cache_k),
        cache_name(p.cache_v),
        if p.flash_attention { "on" } else { "off" }
    );
    let _ = writeln!(o, "Layers    {}/{} on GPU", p.gpu_layers, p.total_layers);
    let _ = writeln!(
        o,
        "\n{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "Device", "weights", "KV cache", "compute", "projector", "overhead", "total", "budget"
    );
    for d in &p.devices {
        let m = d.memory;
        let _ = writeln!(
            o,
            "{:<22} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            d.name.chars().take(22).collect::<String>(),
            size(m.weights),
            size(m.kv_cache),
            size(m.compute),
            if m.projector > 0 { size(m.projector) } else { "—".into() },
            size(m.overhead),
            size(d.total_bytes),
            size(d.budget_bytes)
        );
    }
    if let Some(s) = p.tokens_per_second {
        let _ = writeln!(o, "\nSpeed     about {:.0}–{:.0} tokens/s when generating", s.low, s.high);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_and_cache_arguments_parse_as_people_type_them() {
        assert_eq!(parse_gb("64GB").unwrap(), 64);
        assert_eq!(parse_gb("16").unwrap(), 16);
        assert!(parse_gb("lots").is_err());
        assert_eq!(parse_cache("Q8_0").unwrap(), CacheType::Q8_0);
        assert!(parse_cache("q3").is_err());
    }
}
