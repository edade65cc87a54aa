//! A model's memory as llama.cpp lays it out, from its header: weights grouped into the input layer
//! (token embedding, always in RAM), each transformer layer, and the output layer; mixture-of-experts
//! weights counted apart so they can be left in RAM; and what llama.cpp needs for K/V and compute.
//!
//! Every size and count here comes from a header, which may be hostile: sums and products saturate
//! at `MAX_BYTES` instead of overflowing (a panic in the debug builds `make run` makes, a wrapped
//! small number that "fits" in release builds).

use gguf::ModelFacts;
use types::{CacheType, SimdFeatures};

/// The largest figure the planner works with: an exbibyte, beyond any machine, and small enough that
/// the sum of the five parts of a `MemoryBreakdown` cannot overflow. A header whose sizes add up past
/// it is simply too large.
pub const MAX_BYTES: u64 = 1 << 60;

/// `a + b`, saturating at `MAX_BYTES`.
pub fn add(a: u64, b: u64) -> u64 {
    a.saturating_add(b).min(MAX_BYTES)
}

/// The product of `factors`, saturating at `MAX_BYTES`.
pub fn product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |p, f| p.saturating_mul(*f)).min(MAX_BYTES)
}

/// The sum of `terms`, saturating at `MAX_BYTES`.
pub fn sum(terms: impl IntoIterator<Item = u64>) -> u64 {
    terms.into_iter().fold(0, add)
}

#[derive(Debug, Clone)]
pub struct ModelMemory {
    pub layers: usize,
    /// `token_embd` and anything else outside the layers and the output.
    pub input: u64,
    /// Per layer: all its weights.
    pub layer: Vec<u64>,
    /// Per layer: the part of `layer` that is expert weights (`*_exps`).
    pub layer_experts: Vec<u64>,
    /// Per layer: the part of `layer` llama.cpp's CPU backend repacks when the layer is in RAM
    /// (`MemoryBreakdown::repacked`).
    pub layer_repack: Vec<u64>,
    /// `output.weight` and `output_norm`, as in the file.
    pub output: u64,
    /// The part of `output` repacked when the output layer is in RAM.
    pub output_repack: u64,
    /// No `output.weight`: the embedding doubles as the output, and llama.cpp loads a second copy of it
    /// on the GPU that holds the output layer.
    pub tied_output: bool,
    pub embd_bytes: u64,
    pub embd: u64,
    pub ff: u64,
    pub vocab: u64,
    pub heads: u64,
    pub head_count_kv: Vec<u64>,
    pub key_length: u64,
    pub value_length: u64,
    pub swa_layers: Vec<bool>,
    pub sliding_window: u64,
    /// Experts used per token over experts in all, for speed: 1.0 for dense models.
    pub active_expert_share: f64,
    /// Experts used per token; 0 for dense models.
    pub experts_used: u64,
    /// The projector loaded beside the model (pictures): its weights and compute buffer, on one
    /// device (`projector::ProjectorCost::total`); 0 without one.
    pub projector: u64,
}

fn layer_index(name: &str) -> Option<usize> {
    name.strip_prefix("blk.")?.split('.').next()?.parse().ok()
}

impl ModelMemory {
    /// `cpu`: the SIMD features of the CPU whose backend runs the layers left in RAM, which decide
    /// which weights llama.cpp repacks (`repacked`).
    pub fn from_facts(f: &ModelFacts, cpu: &SimdFeatures) -> Self {
        // Per-layer tables are sized by the count: never by more than a real model has (`plan`
        // refuses such facts before they get here; facts can be made by hand too).
        let layers = u64::from(f.layer_count).min(gguf::MAX_LAYERS) as usize;
        let mut layer = vec![0u64; layers];
        let mut layer_experts = vec![0u64; layers];
        let mut layer_repack = vec![0u64; layers];
        let (mut input, mut output, mut has_output, mut embd_bytes, mut output_repack) = (0u64, 0u64, false, 0u64, 0u64);
        for t in &f.tensors {
            match layer_index(&t.name) {
                Some(il) if il < layers => {
                    layer[il] = add(layer[il], t.bytes);
                    if repacked(t, cpu) {
                        layer_repack[il] = add(layer_repack[il], t.bytes);
                    }
                    // Expert tensors are the 3-D `ffn_{gate,up,down}_exps`.
                    if t.dims.len() == 3 && t.name.ends_with("_exps.weight") {
                        layer_experts[il] = add(layer_experts[il], t.bytes);
                    }
                }
                _ if t.name.starts_with("output") => {
                    output = add(output, t.bytes);
                    has_output |= t.name == "output.weight";
                    if repacked(t, cpu) {
                        output_repack = add(output_repack, t.bytes);
                    }
                }
                _ => {
                    if t.name == "token_embd.weight" {
                        embd_bytes = t.bytes.min(MAX_BYTES);
                    }
                    input = add(input, t.bytes);
                }
            }
        }
        let heads = f.head_count.iter().copied().max().unwrap_or(1).max(1);
        let embd = f.embedding_length.unwrap_or(0);
        let ff = f.feed_forward_length.iter().copied().max().unwrap_or_else(|| product(&[4, embd]));
        let active_expert_share = match (f.expert_count, f.expert_used_count) {
            // More experts used than there are is a damaged header: all of them, at most.
            (Some(n), Some(u)) if n > 1 && u > 0 => (f64::from(u) / f64::from(n)).min(1.0),
            _ => 1.0,
        };
        let experts_used = match (f.expert_count, f.expert_used_count) {
            (Some(n), Some(u)) if n > 1 => u64::from(u),
            _ => 0,
        };
        Self {
            projector: 0,
            experts_used,
            layers,
            input,
            layer,
            layer_experts,
            layer_repack,
            output,
            output_repack,
            tied_output: !has_output,
            embd_bytes,
            embd,
            ff,
            vocab: f.vocab_size.unwrap_or(32000),
            heads,
            head_count_kv: if f.head_count_kv.len() == layers { f.head_count_kv.clone() } else { vec![heads; layers] },
            key_length: f.key_length.unwrap_or(embd / heads),
            value_length: f.value_length.unwrap_or(embd / heads),
            swa_layers: if f.sliding_window_layers.len() == layers { f.sliding_window_layers.clone() } else { vec![false; layers] },
            sliding_window: f.sliding_window.unwrap_or(0),
            active_expert_share,
        }
    }

    pub fn weights_total(&self) -> u64 {
        sum([self.input, sum(self.layer.iter().copied()), self.output])
    }

    /// The output layer's bytes on a device; a tied embedding costs its copy only on a GPU.
    pub fn output_on(&self, gpu: bool) -> u64 {
        add(self.output, if self.tied_output && gpu { self.embd_bytes } else { 0 })
    }

    /// K/V bytes of layer `il` at `n_ctx`: cells are `n_ctx` padded to 256; sliding-window layers hold
    /// `window + ubatch` cells at most, also padded to 256 (llama.cpp's `llama_kv_cache_iswa`).
    pub fn kv_layer(&self, il: usize, n_ctx: u32, ubatch: u32, k: CacheType, v: CacheType) -> u64 {
        let cells = pad256(u64::from(n_ctx));
        let cells = if self.swa_layers[il] && self.sliding_window > 0 {
            cells.min(pad256(self.sliding_window.saturating_add(u64::from(ubatch))))
        } else {
            cells
        };
        let kv_heads = self.head_count_kv[il];
        let per_cell =
            kv_heads as f64 * (self.key_length as f64 * k.bytes_per_element() + self.value_length as f64 * v.bytes_per_element());
        // Float to integer saturates (at u64::MAX; never NaN: every factor is finite and >= 0).
        ((cells as f64 * per_cell).round() as u64).min(MAX_BYTES)
    }

    /// The compute buffer llama.cpp reserves on a device, from its graph at `n_ubatch` tokens: the
    /// largest live set of one layer (the FFN's activations, or the K·Q scores without flash
    /// attention), or the logits on the device that holds the output layer, plus the attention mask.
    /// The engine keeps one token's logits per sequence (`engine::llama_params`), so the logits are
    /// `n_outputs` rows, not `n_ubatch`: for a big vocabulary that is the difference between a few
    /// MiB and half a GiB. Calibrated against llama.cpp's own figures (tests/llama_cpp_agreement.rs):
    /// per token, three FFN-wide tensors (gate, up and their product, for each expert used) and
    /// five embedding-wide ones. With several sequences, one row of logits each; the mask covers
    /// each sequence's cells for its share of the micro-batch, the same size in all.
    pub fn compute(&self, n_ctx: u32, ubatch: u32, flash_attention: bool, has_output: bool, slots: u32) -> u64 {
        let ub = u64::from(ubatch);
        let cells = pad256(u64::from(n_ctx));
        let (ff, embd) = (self.ff, self.embd);
        let ffn = product(&[4, ub, add(product(&[3, self.experts_used.max(1), ff]), product(&[5, embd]))]);
        let attention = if flash_attention { product(&[4, ub, embd, 2]) } else { product(&[4, self.heads, cells, ub]) };
        let logits = if has_output { self.output_buffer(slots) } else { 0 };
        let mask = product(&[2, cells, ub]);
        add(ffn.max(attention).max(logits), mask)
    }

    /// What a GPU holds beyond `compute` when the layers are spread over several GPUs. Measured
    /// against llama.cpp on two Vulkan devices (lavapipe listed twice: engine/tests/gpu_vulkan.rs,
    /// the test model at contexts 512 to 8192) and fitted to those figures: within 0.1 MiB with
    /// flash attention, within 10 % without. The shape follows ggml's scheduler (ggml-backend.cpp);
    /// the factors are measured, not derived, and not yet checked on CUDA:
    /// - pipelined (all layers on GPUs): the scheduler keeps `GGML_SCHED_MAX_COPIES` (4) copies of
    ///   each input of a GPU's part of the graph, so that micro-batches overlap: three more of the
    ///   f16 attention mask (four of the f32 one without flash attention), and of the hidden state
    ///   ten on the first GPU and one on the others;
    /// - otherwise: the first GPU also holds the f32 mask before its cast to f16.
    pub fn multi_gpu_extra(&self, n_ctx: u32, ubatch: u32, flash_attention: bool, first: bool, pipelined: bool) -> u64 {
        let ub = u64::from(ubatch);
        let cells = pad256(u64::from(n_ctx));
        let hidden = product(&[4, self.embd, ub]);
        let mask_copies = if flash_attention { product(&[3, 2, cells, ub]) } else { product(&[4, 4, cells, ub]) };
        match (pipelined, first) {
            (true, true) => add(mask_copies, product(&[10, hidden])),
            (true, false) => add(mask_copies, hidden),
            (false, true) => product(&[4, cells, ub]),
            (false, false) => 0,
        }
    }

    /// The output buffer: one row of logits per sequence (the engine keeps one token's logits per
    /// sequence: `engine::llama_params::n_seq`).
    pub fn output_buffer(&self, slots: u32) -> u64 {
        product(&[4, self.vocab, u64::from(slots.max(1))])
    }
}

/// Whether llama.cpp's CPU backend copies this weight into its repacked layout (`CPU_REPACK`, an
/// extra buffer beside the file's mapping) on a CPU with these features: the matrix types its
/// interleaved kernels take, with rows in multiples of the interleave (ggml-cpu/repack.cpp,
/// `ggml_repack_get_optimal_repack_type`). On ARM, NEON with the dot-product and int8 matrix
/// extensions is assumed (every Apple M-series and recent ARM server has them). Only 2-D weights
/// in the layers and the output are candidates: the embedding is read by row (`GET_ROWS`).
pub fn repacked(t: &gguf::TensorInfo, cpu: &SimdFeatures) -> bool {
    if t.dims.len() != 2 || !t.name.ends_with(".weight") || t.name == "token_embd.weight" {
        return false;
    }
    let rows = t.dims[1];
    let ty = t.ggml_type.name;
    if cpu.neon {
        match ty {
            "Q4_K" | "Q5_K" | "Q6_K" => rows.is_multiple_of(8),
            "Q4_0" | "IQ4_NL" | "MXFP4" | "Q8_0" | "Q1_0" => rows.is_multiple_of(4),
            _ => false,
        }
    } else {
        match ty {
            "Q4_0" | "Q4_K" | "IQ4_NL" | "MXFP4" => cpu.avx2 && rows.is_multiple_of(8),
            "Q2_K" => cpu.avx512 && rows.is_multiple_of(8),
            _ => false,
        }
    }
}

pub fn pad256(n: u64) -> u64 {
    n.div_ceil(256).saturating_mul(256)
}
