//! What the planner predicts for the vision models people ask about, with their projectors, on a
//! 12 GB GPU (an RTX 3060) with 32 GB of RAM: Gemma 3 4B at Q4_K_M with its F16 projector, and
//! Qwen2.5-VL 7B at Q4_K_M with its. Synthetic headers with the real shapes. Run by `make bench`;
//! the figures go in the README.

use gguf::synthetic::{self, Quant};
use types::LoadSettings;

fn main() {
    let hw = hardware::catalog::imagined(hardware::catalog::find("RTX 3060"), 1, 32);
    let gb = |b: u64| format!("{:.2} GB", b as f64 / 1e9);
    let cases = [
        ("Gemma 3 4B Q4_K_M + F16 projector", synthetic::gemma3_4b(), synthetic::gemma3_projector(2560)),
        ("Qwen2.5-VL 7B Q4_K_M + F16 projector", synthetic::qwen25_7b(), synthetic::qwen25vl_7b_projector()),
    ];
    println!("Vision models planned on {} (12 GB) with 32 GB of RAM, default settings:", hw.gpus[0].name);
    for (name, shape, projector) in cases {
        let model = gguf::parse_bytes(&synthetic::model(&shape, Quant::Q4KM, false).header().0).expect("header");
        let proj = gguf::parse_bytes(&synthetic::projector(&projector).header().0).expect("projector header");
        let cost = fit::projector_cost(&proj).expect("a projector");
        let plan = fit::plan_with_projector(&model, Some(&proj), &hw, &LoadSettings::default());
        let on = plan.devices.iter().find(|d| d.memory.projector > 0).map_or("—", |d| d.name.as_str());
        let speed = plan.tokens_per_second.map_or("—".into(), |s| format!("≈ {:.0} tok/s", s.expected));
        println!(
            "  {name}: {:?} · {} · projector {} (weights {} + compute {}) on {on} · {}{} tokens a picture · {} in all · {speed}",
            plan.verdict,
            plan.label,
            gb(cost.total()),
            gb(cost.weights),
            gb(cost.compute),
            if cost.exact { "" } else { "up to " },
            cost.image_tokens,
            gb(plan.total_bytes),
        );
    }
}
