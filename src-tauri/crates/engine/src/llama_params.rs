//! The one place a load's settings become llama.cpp's model and context parameters. The worker
//! loads with these, and every test that checks the planner against llama.cpp builds its context
//! with these too, so no test can check a configuration Hearth does not run.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::{KvCacheType, LlamaContextParams};
use llama_cpp_2::model::params::LlamaModelParams;
use types::{CacheType, HearthError};

use crate::protocol::LoadParams;

/// The most sequences (slots) one context serves.
pub const MAX_SEQ: u32 = 64;

/// Sequences the context of a load serves. Every decode Hearth makes asks for the logits of at most
/// one token per sequence (the last prompt token, then each generated token), so this is also the
/// most outputs a micro-batch has (see `with_outputs_max`).
pub fn n_seq(params: &LoadParams) -> u32 {
    params.n_parallel.clamp(1, MAX_SEQ)
}

/// llama.cpp's micro-batch: the prompt is decoded in batches of `n_batch` tokens, cut into
/// micro-batches of at most this many. llama.cpp's default, and what llama-server runs.
pub const MAX_UBATCH: u32 = 512;

/// The batch and micro-batch a load asks for, as llama.cpp will use them.
pub fn batch_sizes(params: &LoadParams) -> (u32, u32) {
    let n_batch = params.n_batch.clamp(1, 8192);
    (n_batch, n_batch.min(MAX_UBATCH))
}

/// The model parameters of a load: exactly the plan's GPUs (none for a CPU plan: llama.cpp would
/// otherwise take every device it has), its layers on them, the first of them the main GPU.
pub fn model_params(params: &LoadParams, device_indices: &[usize]) -> Result<LlamaModelParams, HearthError> {
    Ok(LlamaModelParams::default()
        .with_devices(device_indices)
        .map_err(|e| crate::EngineError::DevicesRefused { reason: e.to_string() })?
        .with_main_gpu(0)
        .with_n_gpu_layers(if device_indices.is_empty() { 0 } else { params.n_gpu_layers })
        .with_use_mmap(params.use_mmap))
}

/// The context parameters of a load.
pub fn context_params(params: &LoadParams, threads: i32) -> LlamaContextParams {
    let (n_batch, n_ubatch) = batch_sizes(params);
    let gpu = !params.devices.is_empty();
    let n_seq = n_seq(params);
    let p = LlamaContextParams::default()
        // Each sequence gets `n_ctx` cells of its own (a cache that is not unified), so a reply
        // never finds its room taken by another's: the planner budgets `n_seq × n_ctx`.
        .with_n_ctx(params.n_ctx.and_then(|c| NonZeroU32::new(c.saturating_mul(n_seq))))
        .with_kv_unified(false)
        .with_n_batch(n_batch)
        .with_n_ubatch(n_ubatch)
        .with_n_seq_max(n_seq)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_type_k(cache_type(params.cache_type_k))
        .with_type_v(cache_type(params.cache_type_v))
        // llama.cpp's enum: 1 on, 0 off.
        .with_flash_attention_policy(i32::from(params.flash_attention))
        // Sliding-window layers (Gemma, Mistral's SWA models) keep only their window of cells, as
        // llama-server does; llama.cpp's library default (`true`) gives each of them the whole
        // context: gigabytes for a Gemma 3 12B at 32K. The session copes with the smaller cache when
        // it reuses a prefix (session.rs, `reuse_prefix`).
        .with_swa_full(false)
        // With no GPU in the plan, keep everything on the CPU: llama.cpp would otherwise send a
        // large batch (a prompt) to any GPU it has, idle or not (seen on lavapipe: the first token
        // took 28.9 s instead of 0.23 s). With GPUs, the K/V cache goes with its layers.
        .with_op_offload(gpu)
        .with_offload_kqv(gpu);
    with_outputs_max(p, n_seq)
}

/// The context embeddings are made in, beside the one that generates: every token's output kept
/// (pooling reads them all; llama.cpp's default `n_outputs_max`, the whole batch), a batch as long
/// as the context so an input is read at once (models without causal attention need that), and
/// its cache on the CPU.
pub fn embedding_context_params(n_ctx: u32, threads: i32) -> LlamaContextParams {
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_batch(n_ctx)
        .with_n_ubatch(n_ctx)
        .with_n_seq_max(1)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
        .with_embeddings(true)
        .with_offload_kqv(false)
}

fn cache_type(t: CacheType) -> KvCacheType {
    match t {
        CacheType::F16 => KvCacheType::F16,
        CacheType::Q8_0 => KvCacheType::Q8_0,
        CacheType::Q4_0 => KvCacheType::Q4_0,
    }
}

/// Sets llama.cpp's `n_outputs_max`: the most tokens of one micro-batch whose logits are kept.
/// Its default (0, meaning `n_batch`) reserves a logits tensor of `4 B × n_vocab × n_ubatch` in the
/// compute buffer (512 MiB for Gemma 3's 262,144-token vocabulary) that generation never uses:
/// Hearth asks for one token's logits per sequence per decode. llama.cpp aborts (`GGML_ASSERT`) on a
/// decode that asks for more outputs than this, so the session counts them before it decodes
/// (session.rs, `Session::add`).
///
/// llama-cpp-2 0.1.160 keeps its `llama_context_params` crate-private and has no setter for this
/// field; everything else is set through its builders above. The workspace denies `unsafe`
/// elsewhere except where it is allowed by name, as here (docs/STYLE.md lists each place).
#[allow(unsafe_code)]
fn with_outputs_max(params: LlamaContextParams, n: u32) -> LlamaContextParams {
    type Raw = llama_cpp_sys_2::llama_context_params;
    // `LlamaContextParams` is a struct whose one field is a `llama_context_params`. A struct that
    // holds a field of N bytes and is itself N bytes long has that field at offset 0 and nothing
    // else in it, so these checks prove the two layouts are the same. A future llama-cpp-2 that
    // adds a field (and so changes the size) fails to compile here instead of misbehaving.
    const _: () = assert!(std::mem::size_of::<LlamaContextParams>() == std::mem::size_of::<Raw>());
    const _: () = assert!(std::mem::align_of::<LlamaContextParams>() == std::mem::align_of::<Raw>());
    // SAFETY: the layouts are the same (above), and every bit pattern that is a valid
    // `LlamaContextParams` is a valid `llama_context_params` (a plain C struct of numbers, bools
    // that llama-cpp-2 only ever sets to true or false, and pointers); no ownership moves, since
    // neither type has a destructor and the value is moved in whole.
    let mut raw: Raw = unsafe { std::mem::transmute::<LlamaContextParams, Raw>(params) };
    raw.n_outputs_max = n;
    raw.n_outputs_max_per_seq = 1;
    // SAFETY: the same layout, back the other way; only two integers changed, which llama.cpp
    // validates itself (0 means its default, anything else caps the outputs).
    unsafe { std::mem::transmute::<Raw, LlamaContextParams>(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_settings_survive_the_outputs_cap() {
        let p = LoadParams { n_ctx: Some(4096), n_batch: 256, ..LoadParams::new("/m.gguf") };
        let c = context_params(&p, 3);
        assert_eq!(c.n_ctx(), NonZeroU32::new(4096));
        assert_eq!(c.n_batch(), 256);
        assert_eq!(c.n_ubatch(), 256);
        assert_eq!(c.n_threads(), 3);
        assert!(!c.swa_full());
        assert_eq!(c.n_seq_max(), 1);
    }

    #[test]
    fn each_slot_gets_the_whole_context() {
        let p = LoadParams { n_ctx: Some(4096), n_parallel: 4, ..LoadParams::new("/m.gguf") };
        let c = context_params(&p, 3);
        assert_eq!(c.n_ctx(), NonZeroU32::new(4 * 4096));
        assert_eq!(c.n_seq_max(), 4);
        assert!(!c.kv_unified());
    }
}
