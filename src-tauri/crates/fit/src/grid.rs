//! "What fits on this machine": the planner over a grid of typical models (1B to 123B, real shapes)
//! by quantization (Q2_K to F16), for this machine or an imagined one.

use std::sync::OnceLock;

use gguf::synthetic::{self, Quant, Shape};
use gguf::ModelFacts;
use types::{FitCell, FitGrid, HardwareProfile, LoadSettings};

fn rows() -> Vec<(&'static str, Shape)> {
    vec![
        ("1B", synthetic::llama32_1b()),
        ("3B", synthetic::llama32_3b()),
        ("8B", synthetic::llama3_8b()),
        ("14B", synthetic::qwen25_14b()),
        ("32B", synthetic::qwen25_32b()),
        ("70B", synthetic::llama3_70b()),
        ("123B", synthetic::mistral_large_123b()),
    ]
}

const COLUMNS: [Quant; 7] = [Quant::Q2K, Quant::Q3KM, Quant::Q4KM, Quant::Q5KM, Quant::Q6K, Quant::Q8_0, Quant::F16];

/// The headers are the same for every machine: built once.
fn facts() -> &'static Vec<(String, String, Vec<ModelFacts>)> {
    static FACTS: OnceLock<Vec<(String, String, Vec<ModelFacts>)>> = OnceLock::new();
    FACTS.get_or_init(|| {
        rows()
            .into_iter()
            .map(|(label, shape)| {
                let per_quant =
                    COLUMNS.iter().filter_map(|q| gguf::parse_bytes(&synthetic::model(&shape, *q, false).header().0).ok()).collect();
                (label.to_string(), shape.name.to_string(), per_quant)
            })
            .collect()
    })
}

pub fn what_fits(hw: &HardwareProfile, machine: &str) -> FitGrid {
    let settings = LoadSettings::default();
    let rows = facts();
    FitGrid {
        machine: machine.to_string(),
        sizes: rows.iter().map(|r| r.0.clone()).collect(),
        size_models: rows.iter().map(|r| r.1.clone()).collect(),
        quants: COLUMNS.iter().map(|q| q.label().to_string()).collect(),
        cells: rows
            .iter()
            .map(|(_, _, per_quant)| {
                per_quant
                    .iter()
                    .map(|f| {
                        let p = crate::plan(f, hw, &settings);
                        FitCell {
                            verdict: p.verdict,
                            label: p.label,
                            reason: p.reason,
                            total_bytes: p.total_bytes,
                            file_bytes: f.tensor_bytes,
                            tokens_per_second: p.tokens_per_second,
                        }
                    })
                    .collect()
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use types::Verdict;

    #[test]
    fn the_grid_on_a_24_gb_card_reads_as_people_expect() {
        let hw = hardware::catalog::imagined(hardware::catalog::find("RTX 4090"), 1, 64);
        let g = what_fits(&hw, "RTX 4090");
        assert_eq!(g.sizes.len(), 7);
        assert_eq!(g.quants.len(), 7);
        let cell = |size: &str, q: &str| {
            let r = g.sizes.iter().position(|s| s == size).unwrap();
            let c = g.quants.iter().position(|x| x == q).unwrap();
            g.cells[r][c].verdict
        };
        assert_eq!(cell("8B", "Q4_K_M"), Verdict::Green);
        assert_eq!(cell("32B", "Q4_K_M"), Verdict::Green);
        assert_eq!(cell("70B", "Q4_K_M"), Verdict::Yellow);
        assert_eq!(cell("123B", "F16"), Verdict::Red);
        // Bigger is never better: along a row, verdicts only get worse.
        for row in &g.cells {
            let rank = |v: Verdict| match v {
                Verdict::Green => 0,
                Verdict::Yellow => 1,
                Verdict::Red => 2,
                Verdict::Grey => 3,
            };
            assert!(row.windows(2).all(|w| rank(w[0].verdict) <= rank(w[1].verdict)));
        }
    }
}
