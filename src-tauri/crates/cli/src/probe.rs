//! `hearth probe`: the hardware profile as a table, or as JSON with `--json`.

use std::fmt::Write as _;

use types::{DiskKind, GpuKind, HardwareProfile};

use crate::format::gb;

pub fn run(json: bool) -> anyhow::Result<()> {
    let profile = crate::loading::hearth()?.profile();
    if json {
        println!("{}", serde_json::to_string_pretty(&profile)?);
    } else {
        print!("{}", table(&profile));
    }
    Ok(())
}

pub fn table(p: &HardwareProfile) -> String {
    let mut out = String::new();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<10} {v}");
    };
    row("OS", format!("{} {} ({})", p.os.name, p.os.version, p.os.arch));
    let f = p.cpu.features;
    let simd: Vec<&str> = [("AVX2", f.avx2), ("AVX-512", f.avx512), ("FMA", f.fma), ("NEON", f.neon)]
        .into_iter()
        .filter_map(|(n, on)| on.then_some(n))
        .collect();
    row(
        "CPU",
        format!(
            "{} · {} cores, {} threads{}",
            p.cpu.brand,
            p.cpu.physical_cores,
            p.cpu.logical_cores,
            if simd.is_empty() { String::new() } else { format!(" · {}", simd.join(" ")) }
        ),
    );
    row("Memory", format!("{} total · {} available", gb(p.memory.total_bytes), gb(p.memory.available_bytes)));
    if p.gpus.is_empty() {
        row("GPU", "none (models run on the CPU)".to_string());
    }
    for (i, g) in p.gpus.iter().enumerate() {
        let mem = match (g.vram_total_bytes, g.vram_free_bytes) {
            (Some(t), Some(fr)) => format!("{} VRAM, {} free", gb(t), gb(fr)),
            (Some(t), None) => format!("{} VRAM", gb(t)),
            _ if g.unified_memory => "shares system memory".to_string(),
            _ => "VRAM unknown".to_string(),
        };
        let kind = match g.kind {
            GpuKind::Discrete => "discrete",
            GpuKind::Integrated => "integrated",
        };
        let engine = match (&g.engine_backend, &g.engine_device) {
            (Some(b), Some(d)) => format!("engine: {b} ({d})"),
            (Some(b), None) => format!("engine: {b}"),
            _ => g.engine_missing.clone().unwrap_or_else(|| "the engine cannot use it".to_string()),
        };
        row(&format!("GPU {i}"), format!("{} · {kind} · {mem} · {engine}", g.name));
    }
    if let Some(d) = &p.disk {
        let kind = match d.kind {
            DiskKind::Ssd => "SSD",
            DiskKind::Hdd => "HDD",
            DiskKind::Unknown => "disk",
        };
        row("Models", format!("{} · {kind} at {} · {} free of {}", d.models_dir, d.mount_point, gb(d.free_bytes), gb(d.total_bytes)));
    }
    let variant = p.engine_cpu_variant.as_ref().map(|v| format!(" · CPU backend: {v}")).unwrap_or_default();
    row("Engine", format!("{}{variant}", p.engine_backends.join(", ")));
    let _ = writeln!(out, "\n{}", p.summary);
    out
}
