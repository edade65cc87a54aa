//! Synthetic GGUF headers with the real tensor shapes of well-known models, quantized with a recipe
//! close to llama.cpp's `llama-quantize` (Q4_K_M keeps `attn_v`/`ffn_down` of some layers and the
//! output at Q6_K, and so on). They let tests, the mock Hub and benchmarks work with a "70B" on a
//! machine with 24 GB: `write_sparse` makes a file of the right length that holds only the header.

use crate::ggml_type::GgmlType;
use crate::write::GgufWriter;

#[derive(Debug, Clone)]
pub struct Shape {
    pub name: &'static str,
    pub arch: &'static str,
    pub layers: u64,
    pub embd: u64,
    pub ff: u64,
    pub heads: u64,
    pub heads_kv: u64,
    pub head_dim: u64,
    pub vocab: u64,
    pub context: u64,
    /// (experts, experts used per token)
    pub experts: Option<(u64, u64)>,
    /// No `output.weight`: the embedding is reused for the output (Gemma).
    pub tied_output: bool,
    /// Attention biases (Qwen 2).
    pub qkv_bias: bool,
    pub sliding_window: Option<u64>,
}

pub fn llama3_8b() -> Shape {
    Shape {
        name: "Llama 3.1 8B Instruct",
        arch: "llama",
        layers: 32,
        embd: 4096,
        ff: 14336,
        heads: 32,
        heads_kv: 8,
        head_dim: 128,
        vocab: 128256,
        context: 131072,
        experts: None,
        tied_output: false,
        qkv_bias: false,
        sliding_window: None,
    }
}

pub fn llama3_70b() -> Shape {
    Shape { name: "Llama 3.1 70B Instruct", layers: 80, embd: 8192, ff: 28672, heads: 64, ..llama3_8b() }
}

/// Llama 3.1 405B: the largest open dense model people ask about.
pub fn llama31_405b() -> Shape {
    Shape { name: "Llama 3.1 405B Instruct", layers: 126, embd: 16384, ff: 53248, heads: 128, ..llama3_8b() }
}

pub fn qwen25_7b() -> Shape {
    Shape {
        name: "Qwen2.5 7B Instruct",
        arch: "qwen2",
        layers: 28,
        embd: 3584,
        ff: 18944,
        heads: 28,
        heads_kv: 4,
        head_dim: 128,
        vocab: 152064,
        context: 32768,
        qkv_bias: true,
        ..llama3_8b()
    }
}

pub fn qwen25_32b() -> Shape {
    Shape { name: "Qwen2.5 32B Instruct", layers: 64, embd: 5120, ff: 27648, heads: 40, heads_kv: 8, ..qwen25_7b() }
}

pub fn mixtral_8x7b() -> Shape {
    Shape { name: "Mixtral 8x7B Instruct v0.1", vocab: 32000, context: 32768, experts: Some((8, 2)), ..llama3_8b() }
}

pub fn gemma2_9b() -> Shape {
    Shape {
        name: "Gemma 2 9B it",
        arch: "gemma2",
        layers: 42,
        embd: 3584,
        ff: 14336,
        heads: 16,
        heads_kv: 8,
        head_dim: 256,
        vocab: 256000,
        context: 8192,
        tied_output: true,
        sliding_window: Some(4096),
        ..llama3_8b()
    }
}

pub fn gemma3_12b() -> Shape {
    Shape {
        name: "Gemma 3 12B it",
        arch: "gemma3",
        layers: 48,
        embd: 3840,
        ff: 15360,
        heads: 16,
        heads_kv: 8,
        head_dim: 256,
        vocab: 262208,
        context: 131072,
        tied_output: true,
        sliding_window: Some(1024),
        ..llama3_8b()
    }
}

pub fn gemma3_1b() -> Shape {
    Shape {
        name: "Gemma 3 1B it",
        layers: 26,
        embd: 1152,
        ff: 6912,
        heads: 4,
        heads_kv: 1,
        vocab: 262144,
        context: 32768,
        sliding_window: Some(512),
        ..gemma3_12b()
    }
}

pub fn gemma3_4b() -> Shape {
    Shape { name: "Gemma 3 4B it", layers: 34, embd: 2560, ff: 10240, heads: 8, heads_kv: 4, ..gemma3_12b() }
}

pub fn qwen3_8b() -> Shape {
    Shape {
        name: "Qwen3 8B",
        arch: "qwen3",
        layers: 36,
        embd: 4096,
        ff: 12288,
        heads: 32,
        heads_kv: 8,
        head_dim: 128,
        vocab: 151936,
        context: 40960,
        tied_output: false,
        qkv_bias: false,
        sliding_window: None,
        experts: None,
    }
}

pub fn llama32_1b() -> Shape {
    Shape { name: "Llama 3.2 1B Instruct", layers: 16, embd: 2048, ff: 8192, heads: 32, head_dim: 64, ..llama3_8b() }
}

pub fn llama32_3b() -> Shape {
    Shape { name: "Llama 3.2 3B Instruct", layers: 28, embd: 3072, ff: 8192, heads: 24, ..llama3_8b() }
}

pub fn qwen25_14b() -> Shape {
    Shape { name: "Qwen2.5 14B Instruct", layers: 48, embd: 5120, ff: 13824, heads: 40, heads_kv: 8, ..qwen25_7b() }
}

pub fn mistral_large_123b() -> Shape {
    Shape { name: "Mistral Large 2 (123B)", layers: 88, embd: 12288, ff: 28672, heads: 96, vocab: 32768, context: 131072, ..llama3_8b() }
}

/// llama.cpp's file type ids for the recipes below.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quant {
    F16,
    Q8_0,
    Q6K,
    Q5KM,
    Q4KM,
    Q4_0,
    Q3KM,
    Q2K,
}

impl Quant {
    pub fn file_type(self) -> u32 {
        match self {
            Quant::F16 => 1,
            Quant::Q8_0 => 7,
            Quant::Q6K => 18,
            Quant::Q5KM => 17,
            Quant::Q4KM => 15,
            Quant::Q4_0 => 2,
            Quant::Q3KM => 12,
            Quant::Q2K => 10,
        }
    }

    pub fn label(self) -> &'static str {
        crate::ggml_type::file_type_label(self.file_type()).unwrap_or("?")
    }

    pub fn all() -> [Quant; 8] {
        [Quant::Q2K, Quant::Q3KM, Quant::Q4_0, Quant::Q4KM, Quant::Q5KM, Quant::Q6K, Quant::Q8_0, Quant::F16]
    }
}

fn t(name: &str) -> GgmlType {
    GgmlType::by_name(name).expect("a known ggml type")
}

/// llama.cpp gives a few layers more bits: the first and last eighth, and every third in between.
fn more_bits(il: u64, n: u64) -> bool {
    il < n / 8 || il >= 7 * n / 8 || (il - n / 8) % 3 == 2
}

/// The type a 2-D weight gets under `q`. `role` is the tensor's short name.
fn weight_type(q: Quant, role: &str, il: u64, layers: u64) -> GgmlType {
    let base = match q {
        Quant::F16 => "F16",
        Quant::Q8_0 => "Q8_0",
        Quant::Q6K => "Q6_K",
        Quant::Q5KM => "Q5_K",
        Quant::Q4KM => "Q4_K",
        Quant::Q4_0 => "Q4_0",
        Quant::Q3KM => "Q3_K",
        Quant::Q2K => "Q2_K",
    };
    let name = match (q, role) {
        (Quant::F16 | Quant::Q8_0 | Quant::Q6K, _) => base,
        (_, "output") => "Q6_K",
        (Quant::Q5KM | Quant::Q4KM, "attn_v" | "ffn_down") if more_bits(il, layers) => "Q6_K",
        (Quant::Q3KM, "attn_v") => {
            if il < 2 {
                "Q5_K"
            } else {
                "Q4_K"
            }
        }
        (Quant::Q3KM, "ffn_down") if more_bits(il, layers) => "Q4_K",
        (Quant::Q3KM | Quant::Q2K, "attn_output") => {
            if q == Quant::Q2K {
                "Q3_K"
            } else {
                "Q4_K"
            }
        }
        (Quant::Q2K, "attn_v") => "Q4_K",
        (Quant::Q2K, "ffn_down") => "Q3_K",
        _ => base,
    };
    t(name)
}

/// Rows whose length is not a multiple of the block size cannot use that type; llama.cpp falls back.
fn fit_row(ty: GgmlType, row: u64) -> GgmlType {
    if row % u64::from(ty.block_size) == 0 {
        ty
    } else if row % 32 == 0 {
        t("Q8_0")
    } else {
        t("F16")
    }
}

/// The header of `shape` quantized as `q`. With `vocab_strings`, the tokenizer's token list is
/// written too (as real files have it), which makes the header megabytes long.
pub fn model(shape: &Shape, q: Quant, vocab_strings: bool) -> GgufWriter {
    let a = shape.arch;
    let k = |s: &str| format!("{a}.{s}");
    let mut w = GgufWriter::new(a)
        .str("general.name", shape.name)
        .u32("general.file_type", q.file_type())
        .u32(&k("block_count"), shape.layers as u32)
        .u32(&k("context_length"), shape.context as u32)
        .u32(&k("embedding_length"), shape.embd as u32)
        .u32(&k("feed_forward_length"), shape.ff as u32)
        .u32(&k("attention.head_count"), shape.heads as u32)
        .u32(&k("attention.head_count_kv"), shape.heads_kv as u32)
        .u32(&k("attention.key_length"), shape.head_dim as u32)
        .u32(&k("attention.value_length"), shape.head_dim as u32)
        .f32(&k("rope.freq_base"), 500000.0)
        .f32(&k("attention.layer_norm_rms_epsilon"), 1e-5)
        // Without the token list there is no tokenizer to name; "none" is what llama.cpp accepts then,
        // so it can load these headers in a dry run.
        .str("tokenizer.ggml.model", if vocab_strings { "gpt2" } else { "none" })
        .u32("tokenizer.ggml.bos_token_id", 1)
        .u32("tokenizer.ggml.eos_token_id", 2);
    if let Some((n, used)) = shape.experts {
        w = w.u32(&k("expert_count"), n as u32).u32(&k("expert_used_count"), used as u32);
    }
    if let Some(win) = shape.sliding_window {
        w = w.u32(&k("attention.sliding_window"), win as u32);
    }
    w = if vocab_strings {
        w.str_array("tokenizer.ggml.tokens", (0..shape.vocab).map(|i| format!("tok{i}")).collect())
    } else {
        w.u32(&k("vocab_size"), shape.vocab as u32)
    };

    let (e, f, hd) = (shape.embd, shape.ff, shape.head_dim);
    let (q_out, kv_out) = (shape.heads * hd, shape.heads_kv * hd);
    let n = shape.layers;
    let emb_type = match q {
        Quant::F16 | Quant::Q8_0 | Quant::Q6K => weight_type(q, "token_embd", 0, n),
        Quant::Q2K | Quant::Q3KM => t("Q3_K"),
        _ => t("Q4_K"),
    };
    w.push_tensor("token_embd.weight".into(), vec![e, shape.vocab], fit_row(emb_type, e));
    for il in 0..n {
        let b = |s: &str| format!("blk.{il}.{s}");
        let mat = |w: &mut GgufWriter, role: &str, dims: Vec<u64>| {
            let ty = fit_row(weight_type(q, role, il, n), dims[0]);
            w.push_tensor(b(&format!("{role}.weight")), dims, ty);
        };
        w.push_tensor(b("attn_norm.weight"), vec![e], t("F32"));
        mat(&mut w, "attn_q", vec![e, q_out]);
        mat(&mut w, "attn_k", vec![e, kv_out]);
        mat(&mut w, "attn_v", vec![e, kv_out]);
        mat(&mut w, "attn_output", vec![q_out, e]);
        if shape.qkv_bias {
            w.push_tensor(b("attn_q.bias"), vec![q_out], t("F32"));
            w.push_tensor(b("attn_k.bias"), vec![kv_out], t("F32"));
            w.push_tensor(b("attn_v.bias"), vec![kv_out], t("F32"));
        }
        if a.starts_with("gemma") {
            w.push_tensor(b("post_attention_norm.weight"), vec![e], t("F32"));
            w.push_tensor(b("post_ffw_norm.weight"), vec![e], t("F32"));
        }
        if a == "gemma3" || a == "qwen3" {
            w.push_tensor(b("attn_q_norm.weight"), vec![hd], t("F32"));
            w.push_tensor(b("attn_k_norm.weight"), vec![hd], t("F32"));
        }
        w.push_tensor(b("ffn_norm.weight"), vec![e], t("F32"));
        match shape.experts {
            None => {
                mat(&mut w, "ffn_gate", vec![e, f]);
                mat(&mut w, "ffn_up", vec![e, f]);
                mat(&mut w, "ffn_down", vec![f, e]);
            }
            Some((x, _)) => {
                w.push_tensor(b("ffn_gate_inp.weight"), vec![e, x], t("F32"));
                let ty = |role: &str, row: u64| fit_row(weight_type(q, role, il, n), row);
                w.push_tensor(b("ffn_gate_exps.weight"), vec![e, f, x], ty("ffn_gate", e));
                w.push_tensor(b("ffn_up_exps.weight"), vec![e, f, x], ty("ffn_up", e));
                w.push_tensor(b("ffn_down_exps.weight"), vec![f, e, x], ty("ffn_down", f));
            }
        }
    }
    w.push_tensor("output_norm.weight".into(), vec![e], t("F32"));
    if !shape.tied_output {
        w.push_tensor("output.weight".into(), vec![e, shape.vocab], fit_row(weight_type(q, "output", 0, n), e));
    }
    w
}

/// Every preset, for tables and benchmarks.
pub fn presets() -> Vec<Shape> {
    vec![
        llama3_8b(),
        llama3_70b(),
        qwen25_7b(),
        qwen3_8b(),
        qwen25_32b(),
        mixtral_8x7b(),
        gemma2_9b(),
        gemma3_1b(),
        gemma3_4b(),
        gemma3_12b(),
    ]
}

/// The vision side of a projector (an mmproj file) of llama.cpp's `gemma3` type: a SigLIP encoder
/// reading `image_size` pixels square in patches of `patch`, its tokens pooled 4 × 4, then
/// projected to the text model's width. Gemma 3's own is 1152 wide, 27 layers, 16 heads, 4304
/// feed-forward, reading 896 pixels in patches of 14 (256 tokens a picture).
#[derive(Debug, Clone)]
pub struct ProjectorShape {
    /// llama.cpp's name for its kind (`clip.projector_type`).
    pub kind: &'static str,
    pub width: u64,
    pub layers: u64,
    pub heads: u64,
    pub ff: u64,
    pub image_size: u64,
    pub patch: u64,
    /// The text model's embedding width: what the projector writes.
    pub text_width: u64,
    /// The type of the matrices ("F16" as llama.cpp's converter writes them, or "F32").
    pub matrices: &'static str,
    /// A gated feed-forward (Qwen2.5-VL's encoder), with a third matrix.
    pub gated: bool,
}

/// Gemma 3's projector (4B and up) for a text model `text_width` wide (2560 for the 4B).
pub fn gemma3_projector(text_width: u64) -> ProjectorShape {
    ProjectorShape { kind: "gemma3", width: 1152, layers: 27, heads: 16, ff: 4304, image_size: 896, patch: 14, text_width, matrices: "F16", gated: false }
}

/// A projector of Gemma 3's kind, as small as one can be and still read a picture the real way
/// (896 pixels in patches of 14, 256 tokens): one layer 64 wide. For tests, written whole with
/// `to_bytes` (its weights zeros, which llama.cpp reads without a NaN: the pictures come out as
/// zero embeddings).
pub fn tiny_gemma3_projector(text_width: u64) -> ProjectorShape {
    ProjectorShape { width: 64, layers: 1, heads: 1, ff: 128, matrices: "F32", ..gemma3_projector(text_width) }
}

/// Qwen2.5-VL 7B's projector: a 32-layer encoder 1280 wide with a gated feed-forward, its patches
/// merged 2 × 2 into the 3584-wide text model (1.35 GB at F16, as the Hub's mmproj files are).
/// Its own tensors beyond the encoder's are not written: only the shape counts for planning.
pub fn qwen25vl_7b_projector() -> ProjectorShape {
    ProjectorShape { kind: "qwen2.5vl_merger", width: 1280, layers: 32, heads: 16, ff: 3420, image_size: 560, patch: 14, text_width: 3584, matrices: "F16", gated: true }
}

/// The file of a projector: for the `gemma3` kind, every key and tensor llama.cpp's loader reads
/// for one (tools/mtmd/clip.cpp: `load_hparams`, `load_tensors`); for another kind, its shape.
pub fn projector(p: &ProjectorShape) -> GgufWriter {
    let v = |s: &str| format!("clip.vision.{s}");
    let patches = (p.image_size / p.patch).pow(2);
    let m = t(p.matrices);
    let f32 = t("F32");
    let mut w = GgufWriter::new("clip")
        .str("general.name", "Gemma 3 projector (synthetic)")
        .bool("clip.has_vision_encoder", true)
        .str("clip.projector_type", p.kind)
        .bool("clip.use_gelu", true)
        .u32(&v("embedding_length"), p.width as u32)
        .u32(&v("attention.head_count"), p.heads as u32)
        .u32(&v("feed_forward_length"), p.ff as u32)
        .u32(&v("block_count"), p.layers as u32)
        .u32(&v("projection_dim"), p.text_width as u32)
        .f32(&v("attention.layer_norm_epsilon"), 1e-6)
        .u32(&v("image_size"), p.image_size as u32)
        .u32(&v("patch_size"), p.patch as u32)
        .f32_array(&v("image_mean"), vec![0.5, 0.5, 0.5])
        .f32_array(&v("image_std"), vec![0.5, 0.5, 0.5])
        .tensor("v.patch_embd.weight", &[p.patch, p.patch, 3, p.width], m)
        .tensor("v.patch_embd.bias", &[p.width], f32)
        .tensor("v.position_embd.weight", &[p.width, patches], f32);
    for i in 0..p.layers {
        let b = |s: &str| format!("v.blk.{i}.{s}");
        for name in ["attn_q", "attn_k", "attn_v", "attn_out"] {
            w.push_tensor(b(&format!("{name}.weight")), vec![p.width, p.width], m);
            w.push_tensor(b(&format!("{name}.bias")), vec![p.width], f32);
        }
        for name in ["ln1", "ln2"] {
            w.push_tensor(b(&format!("{name}.weight")), vec![p.width], f32);
            w.push_tensor(b(&format!("{name}.bias")), vec![p.width], f32);
        }
        w.push_tensor(b("ffn_up.weight"), vec![p.width, p.ff], m);
        if p.gated {
            w.push_tensor(b("ffn_gate.weight"), vec![p.width, p.ff], m);
        }
        w.push_tensor(b("ffn_up.bias"), vec![p.ff], f32);
        w.push_tensor(b("ffn_down.weight"), vec![p.ff, p.width], m);
        w.push_tensor(b("ffn_down.bias"), vec![p.width], f32);
    }
    let w = w.tensor("v.post_ln.weight", &[p.width], f32).tensor("v.post_ln.bias", &[p.width], f32);
    if p.kind == "gemma3" {
        return w.tensor("mm.input_projection.weight", &[p.text_width, p.width], m).tensor("mm.soft_emb_norm.weight", &[p.width], f32);
    }
    // The merger of 2 × 2 patches into the text model's width.
    let merged = p.width * 4;
    w.tensor("mm.0.weight", &[merged, merged], m)
        .tensor("mm.0.bias", &[merged], f32)
        .tensor("mm.2.weight", &[merged, p.text_width], m)
        .tensor("mm.2.bias", &[p.text_width], f32)
}
