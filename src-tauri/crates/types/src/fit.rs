//! The fit verdict: will a model file run on a machine, how, and how fast. Made by the `fit` crate's
//! `plan`, shown as a pill wherever a model file appears.

use serde::{Deserialize, Serialize};
use specta::Type;
use specta_typescript::Number;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum Verdict {
    /// Runs at the best speed this machine offers: all on the GPU(s), or all in RAM with no GPU.
    Green,
    /// Runs, degraded: some layers on the CPU, or only at a shorter context than asked for.
    Yellow,
    /// Will not load.
    Red,
    /// Unknown: the header could not be read.
    Grey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum PlanMode {
    FullGpu,
    /// Some layers on the GPU(s), the rest on the CPU.
    PartialGpu,
    /// Attention and shared weights on the GPU(s), mixture-of-experts weights in RAM.
    ExpertsOnCpu,
    Cpu,
    /// Nothing that loads.
    None,
}

/// K/V cache element types llama.cpp offers; quantized V needs flash attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum CacheType {
    F16,
    Q8_0,
    Q4_0,
}

impl CacheType {
    /// Bytes per element, from ggml's block layout (q8_0: 34 bytes per 32, q4_0: 18 per 32).
    pub fn bytes_per_element(self) -> f64 {
        match self {
            CacheType::F16 => 2.0,
            CacheType::Q8_0 => 34.0 / 32.0,
            CacheType::Q4_0 => 18.0 / 32.0,
        }
    }
}

/// Where a person wants models to run (Settings, for every model, and per model).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase", tag = "kind")]
pub enum RunOn {
    /// Every GPU the engine can use, as the planner places it.
    #[default]
    Auto,
    /// The CPU alone: no GPU is touched (llama.cpp is given no GPU device at all).
    Cpu,
    /// One GPU, by llama.cpp's name for it ("Vulkan0", "CUDA1").
    Gpu { device: String },
}

/// A person's choice of where a model runs: the device, and optionally how many layers go to the
/// GPU (as llama.cpp counts `n_gpu_layers`) instead of as many as fit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct RunOnSettings {
    pub run_on: RunOn,
    pub gpu_layers: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadSettings {
    /// Which devices the planner may use, and a GPU-layer count that replaces "as many as fit".
    pub run: RunOnSettings,
    /// A llama.cpp built-in chat template chosen for this model (it changes no memory; the load
    /// carries it to the engine); `None`: the file's own, or its family's.
    pub chat_template: Option<String>,
    /// Replies the model writes at once (slots), each with the whole context; `None`: as many as
    /// the planner finds room for (`fit::AUTO_SLOTS`), never at the cost of context, GPU layers or
    /// the verdict.
    #[serde(default)]
    pub parallel: Option<u32>,
    /// Context length asked for; `None` takes the model's trained context, capped at 8K.
    pub context: Option<u32>,
    pub cache_k: CacheType,
    pub cache_v: CacheType,
    pub flash_attention: bool,
    pub ubatch: u32,
    /// Kept free on every GPU, on top of the backend's own overhead.
    #[specta(type = Number)]
    pub safety_margin_bytes: u64,
    /// Memory Hearth would free by unloading its own loaded models: per GPU (in profile order)…
    #[specta(type = Vec<Number>)]
    pub freed_gpu_bytes: Vec<u64>,
    /// …and in RAM.
    #[specta(type = Number)]
    pub freed_ram_bytes: u64,
    /// Memory other loaded models hold and keep: per GPU (in profile order)…
    #[serde(default)]
    #[specta(type = Vec<Number>)]
    pub held_gpu_bytes: Vec<u64>,
    /// …and in RAM.
    #[serde(default)]
    #[specta(type = Number)]
    pub held_ram_bytes: u64,
}

impl Default for LoadSettings {
    fn default() -> Self {
        Self {
            run: RunOnSettings::default(),
            chat_template: None,
            parallel: None,
            context: None,
            cache_k: CacheType::F16,
            cache_v: CacheType::F16,
            flash_attention: true,
            ubatch: 512,
            safety_margin_bytes: 1 << 30,
            freed_gpu_bytes: Vec::new(),
            freed_ram_bytes: 0,
            held_gpu_bytes: Vec::new(),
            held_ram_bytes: 0,
        }
    }
}

/// Bytes a device holds for one model, by purpose.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBreakdown {
    #[specta(type = Number)]
    pub weights: u64,
    #[specta(type = Number)]
    pub kv_cache: u64,
    #[specta(type = Number)]
    pub compute: u64,
    /// The GPU backend's own context (CUDA, Metal, Vulkan); zero on the CPU.
    #[specta(type = Number)]
    pub overhead: u64,
    /// The copy llama.cpp's CPU backend makes of some weights in an interleaved layout for its
    /// faster kernels (its `CPU_REPACK` buffer), which llama.cpp counts beside `weights`. Not in
    /// `total`: the copy takes the originals' place (with the file memory-mapped they are read
    /// once and left to the page cache; without, they are loaded straight into the copy).
    #[specta(type = Number)]
    pub repacked: u64,
    /// The model's projector (its mmproj file, which reads pictures): its weights and its
    /// encoder's compute buffer, all on one device (the first GPU of a load that uses any, else
    /// the CPU); zero elsewhere and for a model loaded without one.
    #[serde(default)]
    #[specta(type = Number)]
    pub projector: u64,
}

impl MemoryBreakdown {
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.compute + self.overhead + self.projector
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct DeviceUse {
    /// "CPU" or the GPU's name.
    pub name: String,
    pub is_gpu: bool,
    /// llama.cpp's name for the GPU ("Vulkan0", "CUDA1"): the load gives llama.cpp exactly the
    /// devices of its plan. `None` for the CPU.
    #[serde(default)]
    pub engine_device: Option<String>,
    /// Transformer layers placed here (the output layer is counted in `has_output`).
    pub layers: u32,
    pub has_output: bool,
    pub memory: MemoryBreakdown,
    #[specta(type = Number)]
    pub total_bytes: u64,
    /// What the planner allowed itself on this device (free memory less margins).
    #[specta(type = Number)]
    pub budget_bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SpeedRange {
    #[specta(type = Number)]
    pub low: f32,
    #[specta(type = Number)]
    pub high: f32,
    /// The one figure to show ("≈ 45 tok/s"), and the one recommendations compare: the
    /// prediction itself, which `low` and `high` bracket.
    #[specta(type = Number)]
    pub expected: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FitPlan {
    pub verdict: Verdict,
    /// Short, for the pill: "Full GPU", "Partial GPU · 22/33 layers", "Too large · needs 41.2 GB, has 31.0 GB".
    pub label: String,
    /// One sentence of why.
    pub reason: String,
    pub mode: PlanMode,
    /// As llama.cpp counts `n_gpu_layers`: transformer layers on GPUs, plus one for the output layer.
    pub gpu_layers: u32,
    /// `layer_count + 1`, the value of `gpu_layers` for a full offload.
    pub total_layers: u32,
    /// The context of each slot, in tokens.
    pub context: u32,
    pub requested_context: u32,
    /// Replies written at once, each with `context` tokens of K/V cache of its own (counted in the
    /// devices' `kv`).
    pub slots: u32,
    pub cache_k: CacheType,
    pub cache_v: CacheType,
    pub flash_attention: bool,
    pub devices: Vec<DeviceUse>,
    #[specta(type = Number)]
    pub total_bytes: u64,
    /// Predicted generation speed, tokens per second.
    pub tokens_per_second: Option<SpeedRange>,
    /// For an embedding model (its file names a pooling): the longest input one embedding takes
    /// on this load, planned so that the context the engine makes for it fits beside the model
    /// (`fit::embed_tokens`). `None` for other models.
    #[serde(default)]
    pub embed_tokens: Option<u32>,
    /// Planned with a projector (pictures): the tokens of context one picture takes, the most for
    /// a projector whose count depends on the picture (`fit::ProjectorCost::image_tokens`). `None`
    /// for a plan without one.
    #[serde(default)]
    pub image_tokens: Option<u32>,
}

/// The longest input one embedding takes anywhere, in tokens (bge and nomic-embed train at 512 to
/// 8192): a plan gives an embedding model this much at most (`FitPlan::embed_tokens`).
pub const MAX_EMBED_TOKENS: u32 = 8192;

/// One cell of the "what fits" grid: a model size at a quantization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FitCell {
    pub verdict: Verdict,
    pub label: String,
    pub reason: String,
    #[specta(type = Number)]
    pub total_bytes: u64,
    #[specta(type = Number)]
    pub file_bytes: u64,
    pub tokens_per_second: Option<SpeedRange>,
}

/// What fits on a machine: model sizes (rows) by quantization (columns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct FitGrid {
    /// A short description of the machine the grid is for.
    pub machine: String,
    /// Row labels, "1B" … "123B", and the model each row stands for.
    pub sizes: Vec<String>,
    pub size_models: Vec<String>,
    /// Column labels, "Q2_K" … "F16".
    pub quants: Vec<String>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<FitCell>>,
}

/// An imagined machine for "what if": a GPU from Hearth's table (or none), how many, and RAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WhatIf {
    pub gpu: Option<String>,
    pub count: u32,
    pub ram_gib: u32,
}

/// A GPU in Hearth's table, for the what-if picker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct CatalogGpu {
    pub name: String,
    pub memory_gib: u32,
    pub unified: bool,
}

/// What would make a model that is red or yellow here run well (green), cheapest first: this
/// machine another way, hardware to buy, GPUs to rent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct Advice {
    pub options: Vec<AdviceOption>,
    /// When the price table was made ("2026-11"), and where its figures come from.
    pub prices_date: String,
    pub prices_source: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub enum AdviceKind {
    /// This machine with a shorter context, a smaller quantization or more RAM.
    Here,
    Buy,
    Rent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct AdviceOption {
    pub kind: AdviceKind,
    /// "RTX 3090 24 GB (used)", "2 × A100 80GB, rented", "This machine at an 8K context".
    pub title: String,
    /// The plan there, in a sentence.
    pub detail: String,
    pub verdict: Verdict,
    /// The price to buy, US dollars.
    #[specta(type = Option<Number>)]
    pub usd: Option<f32>,
    #[specta(type = Option<Number>)]
    pub usd_per_hour: Option<f32>,
    /// Renting, per million generated tokens at the predicted speed.
    #[specta(type = Option<Number>)]
    pub usd_per_million_tokens: Option<f32>,
    pub tokens_per_second: Option<SpeedRange>,
    /// Commands that serve it there, ready to copy (a rented machine with several GPUs).
    pub commands: Vec<String>,
}

/// A ready-made "what if" machine: the budget configurations people ask about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct WhatIfPreset {
    pub name: String,
    pub about: String,
    pub what_if: WhatIf,
}

/// How long a model file will take to load, before it is loaded: its size over the measured read
/// speed of its disk, for the part not already in memory, and over the page cache's for the part
/// that is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct LoadEstimate {
    #[specta(type = Number)]
    pub seconds: f64,
    #[specta(type = Number)]
    pub bytes: u64,
    /// 0–1: the part of the file in the page cache now (read recently).
    #[specta(type = Number)]
    pub cached_fraction: f64,
    /// The disk's measured sequential read speed, bytes per second.
    #[specta(type = Number)]
    pub disk_bytes_per_second: f64,
    /// The page cache's, bytes per second.
    #[specta(type = Number)]
    pub cache_bytes_per_second: f64,
    /// Whether the disk figure bypassed the page cache (it cannot on every file system).
    pub uncached: bool,
    /// What loads took beyond reading the file (the worker, llama.cpp's setup, the context),
    /// learned from the loads so far; part of `seconds`.
    #[specta(type = Number)]
    pub overhead_seconds: f64,
}
