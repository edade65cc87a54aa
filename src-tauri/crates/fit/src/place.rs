//! Where each layer goes, as llama.cpp places it for a given `n_gpu_layers` (`llama_model::load_tensors`):
//! counting from the output layer down. `n_gpu_layers = k` puts the output layer and the last k − 1
//! repeating layers on the GPUs (so the first layer offloaded is the output, often the largest
//! single tensor of a big-vocabulary model, with the logits' compute buffer beside it), split between
//! several GPUs in proportion to their free memory, as llama.cpp splits them when it is given no
//! `tensor_split`, the output on the last. The input layer stays in RAM. The planner asks for the largest
//! `n_gpu_layers` whose every device fits.

use types::{CacheType, MemoryBreakdown};

use crate::budget::Budgets;
use crate::model::{add, ModelMemory};

#[derive(Debug, Clone, Copy)]
pub struct Knobs {
    pub n_ctx: u32,
    pub ubatch: u32,
    pub cache_k: CacheType,
    pub cache_v: CacheType,
    pub flash_attention: bool,
    /// Leave expert weights in RAM, keep the rest of every layer on the GPUs.
    pub experts_on_cpu: bool,
    /// Sequences, each with `n_ctx` cells of its own (the engine's cache is not unified).
    pub slots: u32,
}

#[derive(Debug, Clone)]
pub struct Placement {
    /// As llama.cpp counts it: layers on GPUs, plus one when the output layer is there too.
    pub n_gpu_layers: u32,
    pub experts_on_cpu: bool,
    /// One entry per GPU budget, then the CPU last.
    pub devices: Vec<DeviceLoad>,
    /// Whether the CPU side (and, on unified memory, the whole pool) fits in RAM.
    pub ram_ok: bool,
}

#[derive(Debug, Clone)]
pub struct DeviceLoad {
    pub layers: u32,
    pub has_output: bool,
    pub memory: MemoryBreakdown,
    pub budget: u64,
    /// Bytes read from this device per generated token (for speed).
    pub bytes_per_token: u64,
}

impl DeviceLoad {
    fn empty(budget: u64) -> Self {
        Self { layers: 0, has_output: false, memory: MemoryBreakdown::default(), budget, bytes_per_token: 0 }
    }
}

/// K/V bytes per layer at the knobs' context, computed once per context rather than per placement.
pub fn kv_per_layer(m: &ModelMemory, k: Knobs) -> Vec<u64> {
    (0..m.layers).map(|il| m.kv_layer(il, k.n_ctx, k.ubatch, k.cache_k, k.cache_v).saturating_mul(u64::from(k.slots))).collect()
}

/// The loads for exactly `ngl` layers offloaded. `None` when a GPU overflows.
pub fn place(m: &ModelMemory, b: &Budgets, k: Knobs, kv: &[u64], ngl: u32) -> Option<Placement> {
    let p = layout(m, b, k, kv, ngl);
    p.gpus_fit().then_some(p)
}

/// The loads for exactly `ngl` layers offloaded, whether or not they fit (for a plan that a person
/// forces: the warning says what overflows).
pub fn layout(m: &ModelMemory, b: &Budgets, k: Knobs, kv: &[u64], ngl: u32) -> Placement {
    let n = m.layers;
    // llama.cpp numbers the output layer n, after the repeating layers 0..n, and offloads the
    // highest `act` of those n + 1 (its `i_gpu_start`).
    let act = if b.gpus.is_empty() { 0 } else { (ngl as usize).min(n + 1) };
    let gpu_start = n + 1 - act;
    let output_on_gpu = act > 0;
    let cpu_index = b.gpus.len();
    let mut dev: Vec<DeviceLoad> = b.gpus.iter().map(|g| DeviceLoad::empty(g.budget)).collect();
    dev.push(DeviceLoad::empty(b.ram));

    // Split the offloaded layers between GPUs the way the load will. Hearth gives llama.cpp no
    // `tensor_split` (llama-cpp-2 has no setter for it), so llama.cpp splits in proportion to the free
    // memory it reads on each device at load time (`llama_model::load_tensors`). Its arithmetic is
    // repeated here in f32, as it does it, so that a layer at a cut point lands where llama.cpp puts
    // it. Splitting by budget instead (free less overhead and margin) plans a smaller GPU fewer layers
    // than llama.cpp gives it.
    let mut cumulative: Vec<f32> = Vec::with_capacity(b.gpus.len());
    let mut sum = 0f32;
    for g in &b.gpus {
        sum += g.free_at_load as f32;
        cumulative.push(sum);
    }
    for c in &mut cumulative {
        *c /= sum;
    }
    // `il` in 0..=n, n being the output layer; the device as llama.cpp's `upper_bound` over the
    // splits (the first cut above the layer's place).
    let gpu_for = |il: usize| -> usize {
        if il < gpu_start || act == 0 {
            return cpu_index;
        }
        let frac = (il - gpu_start) as f32 / act as f32;
        cumulative.iter().position(|c| *c > frac).unwrap_or(b.gpus.len() - 1)
    };

    // Sizes from the header: every sum saturates (see `model::MAX_BYTES`).
    let used = |experts: u64| (experts as f64 * m.active_expert_share) as u64;
    let active = |bytes: u64, experts: u64| -> u64 { add(bytes.saturating_sub(experts), used(experts)) };
    for il in 0..n {
        let d = gpu_for(il);
        let kv = kv[il];
        let (w, experts) = (m.layer[il], m.layer_experts[il]);
        if d != cpu_index && k.experts_on_cpu && experts > 0 {
            dev[d].memory.weights = add(dev[d].memory.weights, w.saturating_sub(experts));
            dev[d].bytes_per_token = add(dev[d].bytes_per_token, w.saturating_sub(experts));
            dev[cpu_index].memory.weights = add(dev[cpu_index].memory.weights, experts);
            dev[cpu_index].bytes_per_token = add(dev[cpu_index].bytes_per_token, used(experts));
        } else {
            dev[d].memory.weights = add(dev[d].memory.weights, w);
            dev[d].bytes_per_token = add(dev[d].bytes_per_token, active(w, experts));
        }
        if d == cpu_index {
            dev[d].memory.repacked = add(dev[d].memory.repacked, m.layer_repack[il]);
        }
        dev[d].memory.kv_cache = add(dev[d].memory.kv_cache, kv);
        dev[d].layers += 1;
    }

    // Input layer: RAM. Only one row of the embedding is read per token.
    dev[cpu_index].memory.weights = add(dev[cpu_index].memory.weights, m.input);
    let out_dev = if output_on_gpu { gpu_for(n) } else { cpu_index };
    dev[out_dev].memory.weights = add(dev[out_dev].memory.weights, m.output_on(out_dev != cpu_index));
    if out_dev == cpu_index {
        dev[cpu_index].memory.repacked = add(dev[cpu_index].memory.repacked, m.output_repack);
    }
    // The output projection reads the whole output matrix every token (for a tied embedding, the
    // embedding itself).
    let output_read = add(m.output, if m.tied_output { m.embd_bytes } else { 0 });
    dev[out_dev].bytes_per_token = add(dev[out_dev].bytes_per_token, output_read);
    dev[out_dev].has_output = true;

    // The projector, whole on one device: llama.cpp's multimodal library takes the first GPU when
    // the load uses any (the engine passes `use_gpu` when the plan has GPU devices, and a GPU is in
    // the plan when it holds something), else the CPU.
    let projector_on = if act > 0 { 0 } else { cpu_index };
    dev[projector_on].memory.projector = m.projector;

    // Compute buffers: on every GPU that holds a layer, and always on the CPU (host side of the graph).
    for (i, d) in dev.iter_mut().enumerate() {
        let is_cpu = i == cpu_index;
        if is_cpu || d.layers > 0 || d.has_output {
            d.memory.compute = m.compute(k.n_ctx, k.ubatch, k.flash_attention, d.has_output, k.slots);
        }
        if !is_cpu && (d.layers > 0 || d.has_output || d.memory.projector > 0) {
            d.memory.overhead = b.gpus[i].overhead;
        }
    }
    dev[cpu_index].memory.compute = add(dev[cpu_index].memory.compute, m.output_buffer(k.slots));
    // Several GPUs: what crosses between them costs memory of its own (`ModelMemory::multi_gpu_extra`).
    // llama.cpp overlaps micro-batches across the GPUs ("pipeline parallelism") when every layer
    // and the output are on GPUs and no tensor is overridden (MoE experts kept in RAM are overrides).
    let gpus_used: Vec<usize> = (0..cpu_index).filter(|&i| dev[i].layers > 0 || dev[i].has_output).collect();
    if gpus_used.len() > 1 {
        let pipelined = act == n + 1 && !k.experts_on_cpu;
        for (rank, &i) in gpus_used.iter().enumerate() {
            let extra = m.multi_gpu_extra(k.n_ctx, k.ubatch, k.flash_attention, rank == 0, pipelined);
            dev[i].memory.compute = add(dev[i].memory.compute, extra);
        }
    }

    // Unified memory: what the GPU holds is also out of RAM.
    let unified_use = b.gpus.iter().zip(&dev).filter(|(g, _)| g.unified).fold(0u64, |s, (_, d)| s.saturating_add(d.memory.total()));
    // Returned even when RAM overflows, so the caller can tell "GPU full" from "RAM full".
    let ram_ok = dev[cpu_index].memory.total().saturating_add(unified_use) <= b.ram;
    Placement { n_gpu_layers: ngl, experts_on_cpu: k.experts_on_cpu, devices: dev, ram_ok }
}

impl Placement {
    pub fn gpus_fit(&self) -> bool {
        let n = self.devices.len() - 1;
        self.devices[..n].iter().all(|d| !d.over_budget())
    }
}

impl DeviceLoad {
    /// What the plan puts here beyond its budget (which is already net of the backend's overhead).
    pub fn budgeted_bytes(&self) -> u64 {
        self.memory.total() - self.memory.overhead
    }

    pub fn over_budget(&self) -> bool {
        self.budgeted_bytes() > self.budget
    }
}

/// The most layers the GPUs can take; then the rest must fit in RAM. Fewer GPU layers only put more
/// in RAM, so if RAM overflows at the most the GPUs take, nothing fits.
///
/// What the GPUs hold grows with `n_gpu_layers`, so the largest count that fits is found by bisection:
/// a handful of placements instead of one per layer (planning a long list of files stays fast).
pub fn best(m: &ModelMemory, b: &Budgets, k: Knobs, kv: &[u64]) -> Option<Placement> {
    if b.gpus.is_empty() {
        return place(m, b, k, kv, 0).filter(|p| p.ram_ok);
    }
    let full = m.layers as u32 + 1;
    if let Some(p) = place(m, b, k, kv, full) {
        return Some(p).filter(|p| p.ram_ok);
    }
    // Invariant: `lo` fits (zero layers always does), `hi` does not.
    let (mut lo, mut hi) = (0u32, full);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if place(m, b, k, kv, mid).is_some() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    place(m, b, k, kv, lo).filter(|p| p.ram_ok)
}
