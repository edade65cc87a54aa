//! `ModelFacts`: what the fit planner and the UI need to know about a model, resolved from the raw
//! header with llama.cpp's defaults (key length = embedding / heads, KV heads = heads, ...).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{GgufError, Result};
use crate::ggml_type::file_type_label;
use crate::header::{RawHeader, TensorInfo, Value};

/// More layers than any model has; a larger count is a damaged file, and per-layer vectors are sized
/// by it (here and in the planner).
pub const MAX_LAYERS: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitInfo {
    /// 0-based index of this file among the parts.
    pub index: u32,
    pub count: u32,
    /// Tensors in all parts together.
    pub tensors_total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelFacts {
    pub version: u32,
    pub architecture: String,
    pub name: Option<String>,
    /// `general.file_type`, and its label ("Q4_K_M").
    pub file_type: Option<u32>,
    pub file_type_label: Option<String>,
    /// Parameters in the tensors of this file.
    pub parameter_count: u64,
    /// Bytes of tensor data in this file.
    pub tensor_bytes: u64,
    pub data_offset: u64,
    pub alignment: u32,
    pub layer_count: u32,
    pub context_length: Option<u64>,
    pub embedding_length: Option<u64>,
    /// Per layer (a scalar in the file is repeated for every layer).
    pub feed_forward_length: Vec<u64>,
    pub head_count: Vec<u64>,
    pub head_count_kv: Vec<u64>,
    pub key_length: Option<u64>,
    pub value_length: Option<u64>,
    pub sliding_window: Option<u64>,
    /// Per layer: true where the layer uses sliding-window attention.
    pub sliding_window_layers: Vec<bool>,
    pub expert_count: Option<u32>,
    pub expert_used_count: Option<u32>,
    pub vocab_size: Option<u64>,
    pub chat_template: Option<String>,
    pub bos_token_id: Option<u32>,
    pub eos_token_id: Option<u32>,
    pub split: Option<SplitInfo>,
    pub tensors: Vec<TensorInfo>,
    #[serde(skip)]
    pub metadata: BTreeMap<String, Value>,
}

impl ModelFacts {
    pub fn from_header(h: RawHeader) -> Result<Self> {
        let md = &h.metadata;
        let arch = get_str(md, "general.architecture")?.ok_or(GgufError::Missing("general.architecture"))?;
        let key = |suffix: &str| format!("{arch}.{suffix}");

        let layer_count = get_uint(md, &key("block_count"))?.unwrap_or(0);
        if layer_count > MAX_LAYERS {
            return Err(GgufError::TooLarge { what: "the layer count", size: layer_count, limit: MAX_LAYERS });
        }
        let layers = layer_count as usize;
        let head_count = per_layer(md, &key("attention.head_count"), layers)?;
        let head_count_kv = match md.get(&key("attention.head_count_kv")) {
            Some(_) => per_layer(md, &key("attention.head_count_kv"), layers)?,
            None => head_count.clone(),
        };
        let embedding_length = get_uint(md, &key("embedding_length"))?;
        let heads0 = head_count.iter().copied().find(|h| *h > 0);
        let default_head_dim = match (embedding_length, heads0) {
            (Some(e), Some(h)) => Some(e / h),
            _ => None,
        };
        let key_length = get_uint(md, &key("attention.key_length"))?.or(default_head_dim);
        let value_length = get_uint(md, &key("attention.value_length"))?.or(default_head_dim);
        let sliding_window = get_uint(md, &key("attention.sliding_window"))?.filter(|w| *w > 0);
        let sliding_window_layers = match sliding_window {
            Some(_) => swa_layers(md, &arch, &key("attention.sliding_window_pattern"), layers)?,
            None => Vec::new(),
        };

        let vocab_size = match md.get("tokenizer.ggml.tokens") {
            Some(Value::Array(a)) => Some(a.len),
            _ => get_uint(md, &key("vocab_size"))?,
        };
        let split = match get_uint(md, "split.count")? {
            Some(count) if count > 1 => Some(SplitInfo {
                index: saturate_u32(get_uint(md, "split.no")?.unwrap_or(0)),
                count: saturate_u32(count),
                tensors_total: get_uint(md, "split.tensors.count")?,
            }),
            _ => None,
        };
        // Out of range is no file type and no token, not whatever the low 32 bits happen to say.
        let file_type = get_uint(md, "general.file_type")?.and_then(|f| u32::try_from(f).ok());
        let tensor_bytes = h.tensors.iter().map(|t| t.bytes).fold(0u64, u64::saturating_add);
        let parameter_count = h.tensors.iter().map(|t| t.elements).fold(0u64, u64::saturating_add);

        Ok(Self {
            version: h.version,
            name: get_str(md, "general.name")?,
            file_type,
            file_type_label: file_type.and_then(file_type_label).map(str::to_string),
            parameter_count,
            tensor_bytes,
            data_offset: h.data_offset,
            alignment: h.alignment,
            layer_count: layer_count as u32,
            context_length: get_uint(md, &key("context_length"))?,
            embedding_length,
            feed_forward_length: per_layer(md, &key("feed_forward_length"), layers)?,
            head_count,
            head_count_kv,
            key_length,
            value_length,
            sliding_window,
            sliding_window_layers,
            expert_count: get_uint(md, &key("expert_count"))?.map(saturate_u32),
            expert_used_count: get_uint(md, &key("expert_used_count"))?.map(saturate_u32),
            vocab_size,
            chat_template: get_str(md, "tokenizer.chat_template")?,
            bos_token_id: get_uint(md, "tokenizer.ggml.bos_token_id")?.and_then(|v| u32::try_from(v).ok()),
            eos_token_id: get_uint(md, "tokenizer.ggml.eos_token_id")?.and_then(|v| u32::try_from(v).ok()),
            split,
            architecture: arch,
            tensors: h.tensors,
            metadata: h.metadata,
        })
    }

    /// An unsigned number of the header's metadata, by its key; `None` when absent, negative or
    /// not a number.
    pub fn uint(&self, key: &str) -> Option<u64> {
        get_uint(&self.metadata, key).ok().flatten()
    }

    /// A string of the header's metadata, by its key.
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.metadata.get(key) {
            Some(Value::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Where the tensor data ends: the size a complete file must have at least.
    pub fn data_end(&self) -> u64 {
        self.data_offset.saturating_add(self.tensors.iter().map(|t| t.offset.saturating_add(t.bytes)).max().unwrap_or(0))
    }

    pub fn is_moe(&self) -> bool {
        self.expert_count.is_some_and(|e| e > 1)
    }
}

fn saturate_u32(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

fn get_uint(md: &BTreeMap<String, Value>, key: &str) -> Result<Option<u64>> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Uint(u)) => Ok(Some(*u)),
        Some(Value::Int(i)) if *i >= 0 => Ok(Some(*i as u64)),
        Some(_) => Err(GgufError::WrongType { key: key.to_string(), expected: "a non-negative integer" }),
    }
}

fn get_str(md: &BTreeMap<String, Value>, key: &str) -> Result<Option<String>> {
    match md.get(key) {
        None => Ok(None),
        Some(Value::Str(s)) => Ok(Some(s.clone())),
        Some(_) => Err(GgufError::WrongType { key: key.to_string(), expected: "a string" }),
    }
}

/// A value that may be one number for all layers or an array with one per layer.
fn per_layer(md: &BTreeMap<String, Value>, key: &str, layers: usize) -> Result<Vec<u64>> {
    match md.get(key) {
        None => Ok(Vec::new()),
        Some(Value::Array(a)) => {
            if a.len != layers as u64 || a.numbers.len() != layers {
                return Err(GgufError::WrongType { key: key.to_string(), expected: "one value per layer" });
            }
            Ok(a.numbers.iter().map(|n| n.max(0.0) as u64).collect())
        }
        Some(_) => Ok(vec![get_uint(md, key)?.unwrap_or(0); layers]),
    }
}

/// Which layers use sliding-window attention, as llama.cpp decides it: only the architectures whose
/// loader calls `load_swa_pattern` use a window; for them the file may give the pattern per layer (a
/// bool array) or as a period n (n-1 sliding layers, then a global one), else the architecture's
/// built-in period applies. For any other architecture llama.cpp ignores the window, and so do we:
/// full-size KV for every layer, the safe side for a fit verdict.
fn swa_layers(md: &BTreeMap<String, Value>, arch: &str, key: &str, layers: usize) -> Result<Vec<bool>> {
    let builtin = match arch {
        "gemma2" | "gpt-oss" => 2,
        "gemma3" => 6,
        "gemma3n" => 5,
        "cohere2" | "exaone4" | "olmo2" | "llama4" => 4,
        _ => return Ok(vec![false; layers]),
    };
    let period = match md.get(key) {
        Some(Value::Array(a)) if a.numbers.len() == layers => {
            return Ok(a.numbers.iter().map(|n| *n != 0.0).collect());
        }
        Some(Value::Array(_)) => return Err(GgufError::WrongType { key: key.to_string(), expected: "one value per layer" }),
        Some(_) => get_uint(md, key)?.unwrap_or(builtin),
        None => builtin,
    };
    Ok((0..layers as u64).map(|il| period == 0 || il % period < period - 1).collect())
}
