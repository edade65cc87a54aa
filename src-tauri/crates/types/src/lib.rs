//! The data types that cross Hearth's boundaries: between the backend crates, to the window (their
//! TypeScript twins are generated from these definitions by the app crate), and out of the CLI as JSON.
//!
//! Nothing here does work; these are plain records with serde and specta derives. Field names are
//! camelCase on the wire because that is what TypeScript code expects to read.

mod chat;
mod mcp;
mod engine;
mod error;
mod fit;
mod hardware;
mod hub;
mod library;
mod remote;
mod server;

pub use mcp::{McpOverview, McpServer, McpState, McpTool};
pub use chat::{
    ChatEvent, ChatModel, Conversation, ConversationSettings, ConversationTools, LoadEvent, LoadedModel, Message, MessageState,
    ChatToolCall, MessageImage, ToolCallState, ToolDecision, ToolImage,
};
pub use engine::{
    ChatImage, MAX_IMAGES,
    ChatMessage, ChatRole, ContextOverflow, DeviceBuffers, GenerationStats, LoadProgress, LoadedModelInfo, SamplingParams, StopReason,
    ReplyEvent, TemplateChoice, TemplateInUse, TemplateSource, TokenLogprob, ToolCall, VisionInfo,
};
pub use error::{shown_path, with_log, Audience, ErrorCode, HearthError, Problem};
pub use fit::{
    Advice, AdviceKind, AdviceOption, CacheType, CatalogGpu, DeviceUse, FitCell, FitGrid, FitPlan, LoadEstimate, LoadSettings,
    MemoryBreakdown, PlanMode, RunOn, RunOnSettings, SpeedRange, Verdict, WhatIf, WhatIfPreset, MAX_EMBED_TOKENS,
};
pub use hardware::{
    CpuInfo, DiskInfo, DiskKind, EngineDevice, EngineDeviceKind, EngineReport, GpuInfo, GpuKind, GpuSource, GpuVendor, HardwareProfile,
    MemoryInfo, MemoryNow, OsInfo, SimdFeatures,
};
pub use hub::{DownloadItem, DownloadState, HubFile, HubModel, HubModelPage, HubSearch, HubSort, PlannedFile};
pub use library::{LocalModel, ModelOrigin, Settings, SettingsChange, TokenPlace, TokenStatus};
pub use remote::{ApiKind, Connection, ConnectionInput, RemoteModel, RemoteModels};
pub use server::{RequestLog, ServerSettings, ServerStatus};
