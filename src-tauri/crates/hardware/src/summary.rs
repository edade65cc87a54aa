//! The one plain sentence the Hardware view leads with: what this machine is good for.
//!
//! It is a rough guide, not the fit verdict (that comes from the planner, per model file). The sizes
//! assume a Q4_K_M file (about 0.6 bytes per parameter) plus about 1.5 GB for a 4K context, buffers
//! and the backend's own overhead.

use types::{GpuInfo, HardwareProfile};

const GIB: f64 = (1u64 << 30) as f64;
/// Parameter counts people shop by, in billions.
const SIZE_CLASSES: &[u32] = &[1, 3, 8, 14, 32, 70, 120];
/// On the CPU, decoding speed and not memory is what limits: past this, replies crawl.
const CPU_PRACTICAL_B: u32 = 8;

/// The largest size class whose Q4 file and a 4K context fit in `budget_bytes`.
pub fn largest_q4_model_b(budget_bytes: u64) -> Option<u32> {
    let budget_gib = budget_bytes as f64 / GIB;
    SIZE_CLASSES.iter().copied().filter(|b| 0.6 * f64::from(*b) + 1.5 <= budget_gib).last()
}

/// RAM the system keeps for itself: max(2 GiB, 10 %).
pub fn ram_reserve(total: u64) -> u64 {
    (2u64 << 30).max(total / 10)
}

fn gb(bytes: u64) -> String {
    format!("{:.0} GB", bytes as f64 / GIB)
}

pub fn summary(p: &HardwareProfile) -> String {
    let usable: Vec<&GpuInfo> = p.gpus.iter().filter(|g| g.usable_by_engine()).collect();
    let ram_budget = p.memory.total_bytes.saturating_sub(ram_reserve(p.memory.total_bytes));

    if let Some(apple) = usable.iter().find(|g| g.unified_memory) {
        // One pool: the GPU's share of RAM is the budget, and it is not added to RAM.
        let budget = apple.vram_total_bytes.unwrap_or(ram_budget);
        return match largest_q4_model_b(budget) {
            Some(b) => format!(
                "{} shares {} of memory between CPU and GPU: models up to about {b}B at Q4 run fully on the GPU.",
                apple.name,
                gb(p.memory.total_bytes)
            ),
            None => format!("{} has too little memory for most models; try 1B models.", apple.name),
        };
    }

    if !usable.is_empty() {
        let vram: u64 = usable.iter().filter_map(|g| g.vram_total_bytes).sum();
        let who = if usable.len() == 1 {
            format!("Your {} ({})", usable[0].name, gb(vram))
        } else {
            format!("Your {} GPUs ({} together)", usable.len(), gb(vram))
        };
        return match largest_q4_model_b(vram) {
            Some(b) => format!("{who} runs models up to about {b}B at Q4 fully on the GPU; larger ones run partly from RAM, more slowly."),
            None => format!("{who} is small: only small models run fully on it; larger ones run mostly from RAM."),
        };
    }

    let lead = match p.gpus.first() {
        Some(g) => format!("Your {} cannot be used by this build of the engine, so models run on the CPU from RAM", g.name),
        None => "No GPU: models run on the CPU from RAM".to_string(),
    };
    match largest_q4_model_b(ram_budget) {
        Some(b) if b > CPU_PRACTICAL_B => {
            format!("{lead}; small models (up to about {CPU_PRACTICAL_B}B at Q4) are practical, and up to about {b}B fit but reply slowly.")
        }
        Some(b) => format!("{lead}; small models (up to about {b}B at Q4) are practical."),
        None => format!("{lead}, and there is too little free memory for most models."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_match_what_people_run() {
        // A 12 GB card runs a 14B Q4 (about 9 GB); a 24 GB card a 32B (about 20 GB); 8 GB an 8B.
        assert_eq!(largest_q4_model_b(12 << 30), Some(14));
        assert_eq!(largest_q4_model_b(24 << 30), Some(32));
        assert_eq!(largest_q4_model_b(8 << 30), Some(8));
        assert_eq!(largest_q4_model_b(1 << 30), None);
    }
}
