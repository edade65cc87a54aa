//! What a model's projector (an mmproj file: llama.cpp's multimodal library, `mtmd` and its `clip`
//! encoder) costs beside the model, from the projector's header alone: its weights, the compute
//! buffer its encoder reserves, the tokens of context one picture takes, and the width of what it
//! writes (a projector made for another model is refused by llama.cpp only after it is loaded).
//!
//! Where it sits: llama.cpp puts the whole projector on one device, the first GPU when the load
//! uses any (the engine passes `use_gpu` when its plan has GPU devices), else the CPU; `place.rs`
//! adds it there (`MemoryBreakdown::projector`).
//!
//! The figures, and why they are right:
//! - Weights: llama.cpp's "model size" is the sum of the file's tensors (`ModelFacts::tensor_bytes`).
//! - Compute: the encoder's graph for one picture, reserved at load by a warm-up, sized by ggml's
//!   allocator. For a SigLIP-style encoder with flash attention (llama.cpp turns it on wherever the
//!   backend has it: the CPU, CUDA, Metal), with `S` the side of the picture it reads, `ps` the
//!   patch, `P = (S / ps)²` patches, `h` its width and `f` its feed-forward width, the buffer is the
//!   largest of three moments: the raw picture beside its im2col copy (`S² × 3 × 4 + 3 × ps² × P × 2`:
//!   f32 pixels, f16 patches), the attention's five hidden-state-sized tensors (`5 × P × h × 4`:
//!   residual, normed input, Q, K, V) and the feed-forward's three hidden-state-sized tensors beside
//!   its wide one (`3 × P × h × 4 + P × f × 4`; the third is the allocator's fragmentation, which the
//!   measurements show from the second layer on). Measured against llama.cpp on Gemma 3's kind
//!   (`fit/tests/llama_cpp_agreement.rs`): exact to its log's 0.01 MiB for the tiny projector and
//!   for Gemma 3's own (1152 wide, 27 layers: 121.25 MiB), and for widths 64 to 1152, 2 and 3
//!   layers, pictures of 384 to 896 pixels. A single-layer encoder comes out up to 15 % over (its
//!   buffer is less fragmented); real encoders have dozens of layers.
//! - Tokens: `gemma3` exactly as llama.cpp counts them (`clip_n_output_tokens`: `P / n_merge²`).
//!   Other kinds read pictures of several sizes or in tiles; for them the figure is the most one
//!   picture can take as Hearth sends it (its longer side scaled to the projector's
//!   `clip.vision.image_size`), and the compute buffer is the same formula at the size the encoder
//!   reads at most; those are estimates from llama.cpp's source, not measured (`exact` is false).

use gguf::{ModelFacts, Value};

use crate::model::{add, product, MAX_BYTES};

/// The longer side Hearth scales pictures to when a projector does not say what it reads (the
/// engine's and `hearth-images`'s `DEFAULT_SIDE`).
pub const DEFAULT_PICTURE_SIDE: u64 = 1024;

/// The largest picture side llama.cpp's loader accepts (`clip.cpp`, `load_hparams`).
const MAX_IMAGE_SIZE: u64 = 8192;

/// What a projector costs on the device that holds it, and what a picture costs the context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectorCost {
    /// llama.cpp's name for its kind (`clip.projector_type`): "gemma3", "qwen2.5vl_merger", "idefics3"…
    pub projector_type: String,
    /// Its weights: the file's tensors, llama.cpp's "model size".
    pub weights: u64,
    /// The compute buffer its encoder reserves for one picture.
    pub compute: u64,
    /// Tokens of context one picture takes: exactly for `gemma3`, the most a picture can take for
    /// the other kinds. The text the projector wraps around a picture (Gemma 3's
    /// `<start_of_image>`, a tile's row and column markers) is a few more tokens, not counted here.
    pub image_tokens: u32,
    /// Whether the figures follow llama.cpp's own arithmetic for this kind and were checked against
    /// it (`gemma3`); otherwise they are estimates: the most tokens a picture can take, and a
    /// compute buffer by the same formula, not measured (an encoder unlike SigLIP may need more).
    pub exact: bool,
    /// The width of the embeddings it writes, which must equal the model's input width (llama.cpp
    /// refuses the projector otherwise, after loading it); `None` for a kind Hearth does not know.
    pub output_width: Option<u64>,
}

impl ProjectorCost {
    /// What the device that holds it gives it.
    pub fn total(&self) -> u64 {
        add(self.weights, self.compute)
    }

    /// Whether it writes embeddings as wide as `model` reads them (its `embedding_length`, which is
    /// the width llama.cpp compares for the models Hearth runs); `None` when either is unknown.
    pub fn matches(&self, model: &ModelFacts) -> Option<bool> {
        Some(self.output_width? == model.embedding_length?)
    }
}

/// The cost of the projector whose header is `facts`; `None` when the file reads no pictures (no
/// `clip.has_vision_encoder`: not a projector, or one for sound only).
pub fn projector_cost(facts: &ModelFacts) -> Option<ProjectorCost> {
    if !matches!(facts.metadata.get("clip.has_vision_encoder"), Some(Value::Bool(true))) {
        return None;
    }
    // llama.cpp reads the vision key only where the general one is missing or empty.
    let kind = match facts.string("clip.projector_type").filter(|k| !k.is_empty()) {
        Some(k) => k,
        None => facts.string("clip.vision.projector_type").unwrap_or_default(),
    };
    let v = |key: &str| facts.uint(&format!("clip.vision.{key}"));
    let width = v("embedding_length").unwrap_or(0);
    // Files converted by an old script say 0; a feed-forward four times the width is the usual shape.
    let ff = v("feed_forward_length").filter(|f| *f > 0).unwrap_or_else(|| product(&[4, width]));
    let patch = v("patch_size").unwrap_or(14).clamp(1, 65535);
    // Hearth scales a picture so that its longer side is the projector's `image_size` at most.
    let side = v("image_size").filter(|s| *s > 0).unwrap_or(DEFAULT_PICTURE_SIDE).min(MAX_IMAGE_SIZE);
    let r = reading(kind, facts, side, patch);
    Some(ProjectorCost {
        projector_type: kind.to_string(),
        weights: facts.tensor_bytes.min(MAX_BYTES),
        compute: encoder_compute(r.encoder_side, patch, width, ff),
        image_tokens: u32::try_from(r.tokens).unwrap_or(u32::MAX),
        exact: r.exact,
        output_width: output_width(kind, facts),
    })
}

/// The compute buffer of a SigLIP-style encoder reading a picture `side` pixels square in patches
/// of `patch`, `width` wide with a feed-forward `ff` wide, with flash attention (see the file's
/// opening paragraph).
pub fn encoder_compute(side: u64, patch: u64, width: u64, ff: u64) -> u64 {
    let per_side = side / patch.max(1);
    let patches = product(&[per_side, per_side]);
    let picture = product(&[side, side, 3, 4]);
    let im2col = product(&[3, patch, patch, patches, 2]);
    let hidden = product(&[patches, width, 4]);
    let wide = product(&[patches, ff, 4]);
    add(picture, im2col).max(product(&[5, hidden])).max(add(product(&[3, hidden]), wide))
}

/// How a kind of projector reads one picture as Hearth sends it.
struct Reading {
    /// Tokens of context the picture takes (the most, where that depends on the picture).
    tokens: u64,
    /// The side of the square the encoder reads in one pass, at most (the warm-up's, or the
    /// largest picture's).
    encoder_side: u64,
    exact: bool,
}

/// Tokens and encoder size by kind, from llama.cpp's `clip_n_output_tokens`, its `load_hparams`
/// defaults and its preprocessors (`mtmd-image.cpp`). `side` is the picture's longer side as Hearth
/// sends it.
fn reading(kind: &str, facts: &ModelFacts, side: u64, patch: u64) -> Reading {
    let key = |k: &str| facts.uint(&format!("clip.vision.{k}"));
    let scale_factor = |default: u64| key("projector.scale_factor").unwrap_or(default).clamp(1, 65535);
    let spatial_merge = |default: u64| key("spatial_merge_size").unwrap_or(default).clamp(1, 65535);
    let per_side = side / patch;
    let patches = product(&[per_side, per_side]);
    // Patches per side of a picture aligned to `align` pixels, as llama.cpp rounds a size.
    let rounded = |align: u64| ((side + align / 2) / align).max(1);
    let at_most = |tokens: u64, encoder_side: u64| Reading { tokens, encoder_side, exact: false };
    match kind {
        // One square picture, its patches pooled n_merge × n_merge.
        "gemma3" => {
            let merge = scale_factor(4);
            Reading { tokens: patches / product(&[merge, merge]), encoder_side: side, exact: true }
        }
        // SmolVLM: tiles of `image_size` over the picture enlarged to `preproc_image_size`, and an
        // overview; each pooled by the scale factor.
        "idefics3" => {
            let merge = scale_factor(1);
            let per_tile = patches / product(&[merge, merge]);
            let by_pixels = key("image_min_pixels").is_some() || key("image_max_pixels").is_some();
            let tiles = match key("preproc_image_size") {
                Some(edge) if !by_pixels => edge.div_ceil(side.max(1)).min(32).pow(2),
                _ => 1,
            };
            at_most(product(&[per_tile, tiles + 1]), side)
        }
        // Qwen2-VL, 2.5-VL and 3-VL: the picture at its own size in 2 × 2-merged patches, at most
        // 4096 tokens; the warm-up reads 46 × 46 tokens' worth.
        "qwen2vl_merger" | "qwen2.5vl_merger" | "qwen3vl_merger" | "qwen2.5o" => {
            let align = product(&[patch, spatial_merge(2)]);
            let n = rounded(align).min(64);
            at_most(n * n, product(&[n.max(46), align]))
        }
        // Pixtral and Mistral Small 3.x: as Qwen's, at most 1024 tokens, with an [IMG_BREAK]
        // token after each row but the last; the warm-up reads 16 × 16 tokens' worth.
        "pixtral" => {
            let align = product(&[patch, spatial_merge(1)]);
            let n = rounded(align).min(32);
            let breaks = if facts.tensors.iter().any(|t| t.name == "v.token_embd.img_break") { n - 1 } else { 0 };
            at_most(n * n + breaks, product(&[n.max(16), align]))
        }
        // LFM2-VL: at most 256 tokens, or, for a picture over twice that many pixels, up to 10
        // tiles of 512 pixels and a thumbnail.
        "lfm2" => {
            let align = product(&[patch, scale_factor(1)]);
            let n = rounded(align);
            let tokens = if n * n > 512 { 11 * 256 } else { (n * n).min(256) };
            at_most(tokens, product(&[16, align]))
        }
        // InternVL: up to `preproc_max_tiles` tiles (12) of `image_size` and a thumbnail, whatever
        // the picture's size.
        "internvl" => {
            let merge = scale_factor(1);
            let tiles = key("preproc_max_tiles").unwrap_or(12).min(1024);
            at_most(product(&[patches / product(&[merge, merge]), tiles + 1]), side)
        }
        // LLaVA: every patch a token; LLaVA 1.6 (grid pinpoints) adds tiles beside the overview.
        "mlp" | "mlp_norm" => {
            let tiles = pinpoint_tiles(facts, side);
            Reading { tokens: product(&[patches, tiles + 1]), encoder_side: side, exact: false }
        }
        // A kind Hearth does not know: every patch of one picture a token (most kinds merge
        // patches, so fewer).
        _ => at_most(patches, side),
    }
}

/// The most tiles of `side` pixels LLaVA 1.6's grid pinpoints (pairs of width and height) cut a
/// picture into; 0 without pinpoints.
fn pinpoint_tiles(facts: &ModelFacts, side: u64) -> u64 {
    let Some(Value::Array(a)) = facts.metadata.get("clip.vision.image_grid_pinpoints") else { return 0 };
    let tiles = |w: f64, h: f64| ((w.max(0.0) as u64).div_ceil(side.max(1))).saturating_mul((h.max(0.0) as u64).div_ceil(side.max(1)));
    a.numbers.chunks_exact(2).map(|p| tiles(p[0], p[1])).max().unwrap_or(0).min(1024)
}

/// The width of the embeddings a projector writes: the tensor llama.cpp reads it from for its
/// kind (`clip_n_mmproj_embd`).
fn output_width(kind: &str, facts: &ModelFacts) -> Option<u64> {
    let dim = |name: &str, i: usize| facts.tensors.iter().find(|t| t.name == name).and_then(|t| t.dims.get(i).copied());
    match kind {
        "gemma3" => dim("mm.input_projection.weight", 0),
        "qwen2vl_merger" | "qwen2.5vl_merger" | "qwen2.5o" => dim("mm.2.bias", 0),
        // The main path and one more of the same width per "deepstack" layer.
        "qwen3vl_merger" => {
            let deepstack = facts.tensors.iter().filter(|t| t.name.starts_with("v.deepstack.") && t.name.ends_with(".fc1.weight")).count();
            dim("mm.2.bias", 0).map(|w| w.saturating_mul(1 + deepstack as u64))
        }
        "mlp" | "pixtral" | "lfm2" | "kimivl" => dim("mm.2.weight", 1),
        "mlp_norm" => dim("mm.3.bias", 0),
        "idefics3" => dim("mm.model.fc.weight", 1),
        "internvl" => dim("mm.model.mlp.3.weight", 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gguf::synthetic::{gemma3_projector, projector, tiny_gemma3_projector};
    use gguf::write::GgufWriter;

    fn facts(w: &GgufWriter) -> ModelFacts {
        gguf::parse_bytes(&w.header().0).expect("a projector's header parses")
    }

    /// The tiny projector with `keys` set to other numbers.
    fn tiny_with(keys: &[(&str, u32)]) -> GgufWriter {
        keys.iter().fold(projector(&tiny_gemma3_projector(576)), |w, (k, v)| w.without(k).u32(k, *v))
    }

    /// llama.cpp's figures for the tiny projector, from its log (0.01 MiB): "model size: 1.41 MiB",
    /// "CPU compute buffer size = 13.78 MiB".
    const TINY_WEIGHTS_LOGGED: u64 = 1_478_492;
    const TINY_COMPUTE_LOGGED: u64 = 14_449_377;

    fn within(planned: u64, logged: u64, share: f64) -> bool {
        (planned as f64 - logged as f64).abs() <= logged as f64 * share
    }

    #[test]
    fn the_tiny_projector_costs_what_llama_cpp_logs() {
        let f = facts(&tiny_with(&[]));
        let c = projector_cost(&f).expect("a vision projector");
        assert_eq!(c.projector_type, "gemma3");
        assert_eq!(c.weights, f.tensor_bytes);
        assert!(within(c.weights, TINY_WEIGHTS_LOGGED, 0.01), "{}", c.weights);
        // The raw picture beside its im2col copy: 896² × 3 × 4 + 588 × 4096 × 2.
        assert_eq!(c.compute, 9_633_792 + 4_816_896);
        assert!(within(c.compute, TINY_COMPUTE_LOGGED, 0.01), "{}", c.compute);
        assert_eq!(c.image_tokens, 256);
        assert!(c.exact);
        assert_eq!(c.output_width, Some(576));
    }

    #[test]
    fn gemma_3s_own_projector_takes_256_tokens_and_about_121_mib() {
        let c = projector_cost(&facts(&projector(&gemma3_projector(2560)))).expect("a vision projector");
        assert_eq!(c.image_tokens, 256);
        assert_eq!(c.output_width, Some(2560));
        // 3 × 4096 × 1152 × 4 + 4096 × 4304 × 4: llama.cpp logs 121.25 MiB.
        assert_eq!(c.compute, 127_139_840);
        // 27 layers of f16 matrices: about 0.8 GB.
        assert!((800 << 20..900 << 20).contains(&c.weights), "{}", c.weights);
    }

    #[test]
    fn the_compute_buffer_follows_the_largest_moment() {
        // Narrow: the picture and its patches. Square feed-forward: the attention's five tensors.
        // Wide feed-forward: the feed-forward's.
        assert_eq!(encoder_compute(896, 14, 64, 128), 14_450_688);
        assert_eq!(encoder_compute(896, 14, 1152, 1152), 5 * 4096 * 1152 * 4);
        assert_eq!(encoder_compute(896, 14, 768, 3072), 3 * 4096 * 768 * 4 + 4096 * 3072 * 4);
        // Half the side, a quarter of the patches.
        assert_eq!(encoder_compute(448, 14, 1152, 4304), 3 * 1024 * 1152 * 4 + 1024 * 4304 * 4);
    }

    #[test]
    fn the_scale_factor_changes_gemma_3s_tokens() {
        let f = facts(&tiny_with(&[("clip.vision.projector.scale_factor", 2)]));
        assert_eq!(projector_cost(&f).map(|c| c.image_tokens), Some(1024));
    }

    #[test]
    fn other_kinds_plan_for_the_largest_picture() {
        let kind = |k: &str, keys: &[(&str, u32)]| {
            let w = tiny_with(keys).without("clip.projector_type").str("clip.projector_type", k);
            projector_cost(&facts(&w)).expect("a projector")
        };
        // Qwen2.5-VL reading 896 pixels: 32 × 32 merged patches of 28.
        let q = kind("qwen2.5vl_merger", &[]);
        assert_eq!((q.image_tokens, q.exact), (1024, false));
        // The width comes from the kind's own tensor, which a relabelled gemma3 file lacks.
        assert_eq!(q.output_width, None);
        // SmolVLM: 512-pixel tiles of a picture enlarged to 1536 (3 × 3) and an overview, 64 each.
        let smol = [
            ("clip.vision.image_size", 512),
            ("clip.vision.patch_size", 16),
            ("clip.vision.projector.scale_factor", 4),
            ("clip.vision.preproc_image_size", 1536),
        ];
        assert_eq!(kind("idefics3", &smol).image_tokens, 10 * 64);
        // Pixtral: at most 1024 tokens (and a row break after each row but the last, where the
        // file has the break's embedding).
        assert_eq!(kind("pixtral", &[("clip.vision.image_size", 1540), ("clip.vision.spatial_merge_size", 2)]).image_tokens, 1024);
        // A kind Hearth does not know: every patch.
        assert_eq!(kind("something-new", &[]).image_tokens, 4096);
    }

    #[test]
    fn a_file_that_reads_no_pictures_has_no_cost() {
        let sound_only = projector(&tiny_gemma3_projector(576)).without("clip.has_vision_encoder").bool("clip.has_vision_encoder", false);
        assert_eq!(projector_cost(&facts(&sound_only)), None);
        assert_eq!(projector_cost(&facts(&GgufWriter::new("llama"))), None);
    }

    #[test]
    fn a_hostile_header_saturates() {
        let f = facts(&tiny_with(&[
            ("clip.vision.image_size", u32::MAX),
            ("clip.vision.patch_size", 0),
            ("clip.vision.embedding_length", u32::MAX),
            ("clip.vision.feed_forward_length", u32::MAX),
            ("clip.vision.projector.scale_factor", 0),
        ]));
        let c = projector_cost(&f).expect("still a projector");
        assert!(c.compute <= crate::MAX_BYTES);
        for kind in ["idefics3", "qwen3vl_merger", "pixtral", "lfm2", "internvl", "mlp"] {
            let w = tiny_with(&[
                ("clip.vision.image_size", u32::MAX),
                ("clip.vision.patch_size", 1),
                ("clip.vision.preproc_image_size", u32::MAX),
            ]);
            let c = projector_cost(&facts(&w.without("clip.projector_type").str("clip.projector_type", kind))).expect("a projector");
            assert!(c.compute <= crate::MAX_BYTES, "{kind}");
        }
    }

    #[test]
    fn the_width_is_checked_against_the_model() {
        let c = projector_cost(&facts(&projector(&tiny_gemma3_projector(512)))).expect("a projector");
        let model = |width: u64| ModelFacts { embedding_length: Some(width), ..facts(&GgufWriter::new("llama")) };
        assert_eq!(c.matches(&model(576)), Some(false));
        assert_eq!(c.matches(&model(512)), Some(true));
    }
}
