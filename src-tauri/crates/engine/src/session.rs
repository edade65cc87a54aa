//! One loaded model's context inside the worker, and the replies written through it. The context
//! has one sequence per slot (`LoadParams::n_parallel`), each with its own cells. A request is
//! rendered with the chat template and tokenized, then takes the free slot whose cache shares the
//! longest prefix with it, and only the rest is decoded. Every `step` is one decode for all the
//! slots at once (continuous batching): each writing reply's last token, then prompt chunks filling
//! the rest of the batch (a prompt's last token always in a step after the rest, so that a repeated
//! request gives the same text: `prompt_chunk`); each reply then samples from its own logits
//! (`reply::Reply`). A reply ends at an end-of-generation token, `max_tokens`, a stop string, a
//! cancel (checked every step), or a full sequence.

use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use types::{ChatMessage, ChatRole, ContextOverflow, GenerationStats, HearthError, StopReason, TemplateInUse, TemplateSource};

use crate::llama_params;
use crate::error::EngineError;
use crate::outbox::{Cancels, EventSink};
use crate::protocol::{BenchParams, BenchResult, EmbedInput, GenerateParams, LoadParams, Prompt, RequestId};
use crate::reply::{ms, Reply};
use crate::template::{family, ChatTemplate, TemplateInputs};
use crate::vision::{Picture, Vision};

pub struct Session<'m> {
    model: &'m LlamaModel,
    ctx: LlamaContext<'m>,
    /// The model's own Jinja template, compiled; `None` when it has none or minijinja cannot read it.
    template: Option<ChatTemplate>,
    /// What llama.cpp's built-in templates fall back on: the model's template (llama.cpp recognises
    /// the common ones by their text), or ChatML when the model has none.
    builtin: Option<LlamaChatTemplate>,
    pub has_chat_template: bool,
    /// Which template renders the conversation, and why: the Loaded event reports it.
    pub template_in_use: TemplateInUse,
    /// The model's own template renders tools, calls and tool answers itself.
    takes_tools: bool,
    bos: String,
    eos: String,
    /// One per sequence of the context (`LoadParams::n_parallel`); sequence `i` is slot `i`.
    slots: Vec<Slot>,
    n_batch: usize,
    /// llama.cpp's micro-batch: a picture is decoded in pieces no longer (a projector whose
    /// pictures attend both ways, Gemma 3's, must have a whole picture in one micro-batch, and
    /// llama.cpp aborts on a longer one).
    n_ubatch: usize,
    batch: LlamaBatch<'static>,
    /// Tokens of `batch` that ask for logits.
    outputs: u32,
    /// The sliding window of the model's windowed layers, in tokens; 0 when it has none.
    n_swa: usize,
    /// The longest input one embedding takes (`LoadParams::embed_tokens`, from the plan).
    embed_tokens: usize,
    /// The projector, when the model was loaded with one: it reads the pictures.
    pub vision: Option<Vision>,
}

/// A prompt as the session reads it: tokens (a picture standing as its key, `vision`), and the
/// pictures with the index each starts at.
struct PromptInput {
    tokens: Vec<LlamaToken>,
    pictures: Vec<(usize, Picture)>,
}

impl PromptInput {
    /// The cells of the cache it takes: its text's tokens and its pictures'.
    fn cells(&self) -> usize {
        crate::vision::cells(self.tokens.len(), &self.pictures)
    }
}

fn err(e: EngineError) -> HearthError {
    e.into()
}

impl<'m> Session<'m> {
    /// Whether the template takes tools itself (else they are written into the system message).
    pub fn takes_tools(&self) -> bool {
        self.takes_tools
    }

    pub fn new(backend: &LlamaBackend, model: &'m LlamaModel, params: &LoadParams, threads: i32) -> Result<Self, HearthError> {
        let (n_batch, n_ubatch) = llama_params::batch_sizes(params);
        let n_slots = llama_params::n_seq(params) as usize;
        let cparams = llama_params::context_params(params, threads);
        let ctx = model.new_context(backend, cparams).map_err(|e| err(EngineError::NoContext { reason: e.to_string() }))?;

        let (template, builtin, in_use) = choose_template(model, params.chat_template.as_deref())?;
        // Only the file's own Jinja can take tools (llama.cpp's built-ins take text only).
        let takes_tools = template.as_ref().is_some_and(ChatTemplate::takes_tools);
        let vocab = model.vocab();
        let piece = |t: LlamaToken| String::from_utf8_lossy(&vocab.token_to_piece(t, true, None)).into_owned();
        let (bos, eos) = (piece(vocab.bos()), piece(vocab.eos()));
        Ok(Self {
            model,
            ctx,
            template,
            builtin,
            has_chat_template: in_use.source == TemplateSource::File,
            takes_tools,
            template_in_use: in_use,
            bos,
            eos,
            slots: (0..n_slots).map(|_| Slot::default()).collect(),
            n_batch: n_batch as usize,
            n_ubatch: n_ubatch as usize,
            batch: LlamaBatch::new(n_batch as usize, 1),
            outputs: 0,
            n_swa: sliding_window(model),
            embed_tokens: params.embed_tokens.clamp(1, types::MAX_EMBED_TOKENS) as usize,
            vision: None,
        })
    }

    /// The context of one sequence: each of the slots has this many cells of its own.
    pub fn n_ctx(&self) -> u32 {
        self.ctx.n_ctx() / self.slots.len().max(1) as u32
    }

    /// The conversation as a prompt: the model's template through minijinja, else llama.cpp's own.
    /// Tools, calls and tool answers go through a template that takes them, else into the text
    /// (`tools::in_text`).
    pub fn render(&self, messages: &[ChatMessage], tools: Option<&serde_json::Value>) -> Result<String, HearthError> {
        let with_markers;
        let messages = match &self.vision {
            Some(v) if messages.iter().any(|m| !m.images.is_empty()) => {
                with_markers = messages.iter().map(|m| place_pictures(m, &v.marker)).collect::<Vec<_>>();
                &with_markers[..]
            }
            _ => messages,
        };
        let has_tool_parts = tools.is_some() || messages.iter().any(|m| !m.tool_calls.is_empty() || m.role == ChatRole::Tool);
        let written;
        let (messages, tools) = if has_tool_parts && !self.takes_tools {
            written = crate::tools::in_text(messages, tools);
            (&written[..], None)
        } else {
            (messages, tools)
        };
        let jinja_error = match &self.template {
            Some(t) => {
                match t.render(&TemplateInputs { messages, add_generation_prompt: true, bos_token: &self.bos, eos_token: &self.eos, tools })
                {
                    Ok(prompt) => return Ok(prompt),
                    Err(e) => {
                        tracing::warn!("{e}; trying llama.cpp's built-in templates");
                        e.to_string()
                    }
                }
            }
            None => "the model has no usable chat template".to_string(),
        };
        let fail = |builtin: String| err(EngineError::Template { jinja: jinja_error.clone(), builtin });
        let builtin = self.builtin.as_ref().ok_or_else(|| fail("have none to offer".into()))?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.as_str().to_string(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| fail("cannot take text with NUL characters".into()))?;
        self.model.apply_chat_template(builtin, &chat, true).map_err(|e| fail(format!("failed too ({e})")))
    }

    pub fn tokenize(&self, text: &str, add_special: bool) -> Vec<LlamaToken> {
        self.model.vocab().tokenize(text.as_bytes(), add_special, true)
    }

    /// A rendered prompt as tokens: special tokens written in the text count as such, and a BOS is
    /// added only where the model wants one and the template did not already write it.
    fn prompt_tokens(&self, text: &str) -> Vec<LlamaToken> {
        let vocab = self.model.vocab();
        let add_bos = vocab.should_add_bos() && !(self.bos.is_empty() || text.starts_with(&self.bos));
        let mut tokens = self.tokenize(text, add_bos);
        if tokens.is_empty() {
            // Something must be decoded to have logits to sample from.
            tokens.push(vocab.bos());
        }
        tokens
    }

    /// A rendered prompt with pictures: the text cut at the markers, each piece tokenized (as
    /// llama.cpp's own multimodal tokenizer does: special tokens only before the first), each
    /// picture tokenized by the projector in its place.
    fn prompt_input(&self, text: &str, images: &[&types::ChatImage]) -> Result<PromptInput, HearthError> {
        let Some(vision) = self.vision.as_ref().filter(|_| !images.is_empty()) else {
            return Ok(PromptInput { tokens: self.prompt_tokens(text), pictures: Vec::new() });
        };
        let pieces: Vec<&str> = text.split(vision.marker.as_str()).collect();
        if pieces.len() - 1 != images.len() {
            return Err(err(EngineError::PicturesMisplaced { sent: images.len(), placed: pieces.len() - 1 }));
        }
        let mut input = PromptInput { tokens: self.prompt_tokens(pieces[0]), pictures: Vec::new() };
        for (image, piece) in images.iter().zip(&pieces[1..]) {
            let picture = vision.picture(image)?;
            let at = input.tokens.len();
            input.tokens.extend(std::iter::repeat_n(picture.key, picture.n_pos));
            input.pictures.push((at, picture));
            input.tokens.extend(self.tokenize(piece, false));
        }
        if input.tokens.last().is_some_and(|t| t.0 < 0) {
            // Logits come from a text token; templates always write one after the last message.
            input.tokens.push(self.model.vocab().bos());
        }
        Ok(input)
    }

    /// The prompt's tokens, leaving out old turns first if asked to and the prompt does not fit.
    fn fit_prompt(&self, params: &GenerateParams) -> Result<PromptInput, HearthError> {
        let n_ctx = self.n_ctx() as usize;
        // Room kept for the reply when old turns are dropped: a quarter of the context, or less if
        // the reply is capped lower.
        let reserve = (params.sampling.max_tokens.map_or(n_ctx / 4, |m| m as usize).min(n_ctx / 4)).max(1);
        let mut messages = match &params.prompt {
            Prompt::Chat(m) => m.clone(),
            Prompt::Raw(text) => {
                let tokens = self.prompt_tokens(text);
                return if tokens.len() < n_ctx { Ok(PromptInput { tokens, pictures: Vec::new() }) } else { Err(too_long(tokens.len(), n_ctx)) };
            }
        };
        let sent = messages.iter().map(|m| m.images.len()).sum::<usize>();
        if sent > 0 && self.vision.is_none() {
            return Err(err(EngineError::NoVision { model: self.model_name() }));
        }
        if sent > types::MAX_IMAGES {
            return Err(err(EngineError::TooManyPictures { sent, limit: types::MAX_IMAGES }));
        }
        loop {
            let images: Vec<&types::ChatImage> = messages.iter().flat_map(|m| &m.images).collect();
            let input = self.prompt_input(&self.render(&messages, params.tools.as_ref())?, &images)?;
            let cells = input.cells();
            let fits = match params.context_overflow {
                ContextOverflow::Stop => cells < n_ctx,
                ContextOverflow::DropOldest => cells + reserve <= n_ctx,
            };
            if fits {
                return Ok(input);
            }
            if params.context_overflow == ContextOverflow::Stop || !drop_oldest_turn(&mut messages) {
                return Err(too_long(cells, n_ctx));
            }
        }
    }

    /// The model's name, as its file gives it, for sentences.
    fn model_name(&self) -> String {
        self.model.meta_val_str("general.name").ok().filter(|n| !n.trim().is_empty()).unwrap_or_else(|| "This model".into())
    }

    /// Sequences this context serves (`LoadParams::n_parallel`).
    pub fn n_slots(&self) -> usize {
        self.slots.len()
    }

    /// No reply is being written.
    pub fn is_idle(&self) -> bool {
        self.slots.iter().all(|s| s.reply.is_none())
    }

    pub fn has_free_slot(&self) -> bool {
        self.slots.iter().any(|s| s.reply.is_none())
    }

    /// The ids of the replies being written.
    pub fn running(&self) -> impl Iterator<Item = RequestId> + '_ {
        self.slots.iter().filter_map(|s| s.reply.as_ref().map(|r| r.id))
    }

    /// Starts a reply in a free sequence: the one whose cache shares the longest prefix with its
    /// prompt (so a conversation that comes back finds its own cache), the cache cut back to that
    /// prefix. The reply is then written by `step`. An error (a prompt too long, a template that
    /// fails, a schema that cannot be enforced) leaves every sequence as it was. Answers the
    /// prompt's length and how much of it the cache held.
    pub fn start(&mut self, id: RequestId, params: &GenerateParams, received: Instant) -> Result<(u32, u32), HearthError> {
        let n_vocab = self.model.n_vocab();
        if params.sampling.logit_bias.iter().any(|(t, _)| !(0..n_vocab).contains(t)) {
            return Err(err(EngineError::TokenOutOfVocab { n_vocab }));
        }
        let PromptInput { tokens, pictures } = self.fit_prompt(params)?;
        let slot = (0..self.slots.len())
            .filter(|&i| self.slots[i].reply.is_none())
            .max_by_key(|&i| (common_prefix(&self.slots[i].cached, &tokens), std::cmp::Reverse(i)))
            .ok_or_else(|| err(EngineError::SlotsBusy))?;
        // The reply is made before the cache is touched: its grammar may be refused.
        let mut reply = Reply::new(id, self.model, params, tokens, pictures, received)?;
        let kept = self.reuse_prefix(slot, &reply);
        reply.reuse(kept);
        let counts = (reply.stats.prompt_tokens_total, reply.stats.reused_prefix_tokens);
        self.slots[slot].reply = Some(reply);
        Ok(counts)
    }

    /// One decode for every reply under way: each writing reply's last token, then the prompts
    /// still being read, in chunks that fill the rest of the batch (continuous batching, as
    /// llama-server does it). Then each reply whose logits came out samples its next token.
    /// Returns the replies that ended, with their figures or their error.
    pub fn step(&mut self, out: &EventSink, cancels: &Cancels) -> Vec<(RequestId, Result<GenerationStats, HearthError>)> {
        let mut ended = Vec::new();
        for slot in &mut self.slots {
            if let Some(reply) = slot.reply.as_mut().filter(|r| cancels.contains(r.id)) {
                reply.end(StopReason::Cancelled, out);
                ended.push((reply.id, Ok(reply.stats.clone())));
                slot.reply = None;
            }
        }
        self.read_pictures(&mut ended);
        if let Err(e) = self.fill_batch() {
            return self.fail_all(e, ended);
        }
        if self.batch.n_tokens() == 0 {
            return ended;
        }
        if let Err(e) = self.decode() {
            return self.fail_all(e, ended);
        }
        // A prompt is read once the decode that held its last tokens is done, not when they were
        // queued (which made a prompt look read in microseconds).
        for reply in self.slots.iter_mut().filter_map(|s| s.reply.as_mut()).filter(|r| r.prompt_queued) {
            reply.prompt_done();
        }
        let n_ctx = self.n_ctx() as usize;
        for slot in &mut self.slots {
            let Some(reply) = slot.reply.as_mut() else { continue };
            let room = slot.cached.len() < n_ctx;
            match reply.take(&self.ctx, self.model, out, room) {
                Ok(None) => continue,
                Ok(Some(_)) => ended.push((reply.id, Ok(reply.stats.clone()))),
                Err(e) => ended.push((reply.id, Err(e))),
            }
            slot.reply = None;
        }
        ended
    }

    /// Reads the pictures each reply's unread prompt starts with, through the projector, each in
    /// decodes of its own (the shared batch is empty here). A picture that fails ends its reply
    /// alone, its sequence emptied.
    fn read_pictures(&mut self, ended: &mut Vec<(RequestId, Result<GenerationStats, HearthError>)>) {
        let Some(vision) = self.vision.as_mut() else { return };
        for (i, slot) in self.slots.iter_mut().enumerate() {
            while let Some(reply) = slot.reply.as_mut() {
                let Some(picture) = reply.next_picture() else { break };
                let started = Instant::now();
                let (key, n_pos) = (picture.key, picture.n_pos);
                match vision.eval(picture, &mut self.ctx, slot.cached.len(), i as i32, self.n_ubatch) {
                    Ok(_) => {
                        slot.cached.extend(std::iter::repeat_n(key, n_pos));
                        reply.read += n_pos;
                        reply.stats.image_ms += crate::reply::ms(started);
                    }
                    Err(e) => {
                        let _ = self.ctx.clear_kv_cache_seq(Some(i as u32), None, None);
                        slot.cached.clear();
                        ended.push((reply.id, Err(e)));
                        slot.reply = None;
                    }
                }
            }
        }
    }

    /// Queues the batch `step` decodes, and marks in each slot's cache what it will hold.
    fn fill_batch(&mut self) -> Result<(), HearthError> {
        self.clear_batch();
        for i in 0..self.slots.len() {
            let Some(token) = self.slots[i].reply.as_mut().and_then(|r| r.next.take()) else { continue };
            let at = self.batch.n_tokens();
            self.queue(token, i, true)?;
            self.slots[i].cached.push(token);
            if let Some(r) = self.slots[i].reply.as_mut() {
                r.logits_at = Some(at);
            }
        }
        for i in 0..self.slots.len() {
            let room = self.n_batch.saturating_sub(self.batch.n_tokens() as usize);
            let Some(reply) = self.slots[i].reply.as_ref() else { continue };
            // Text up to a picture is queued whole; a prompt's own end by `prompt_chunk`'s rule.
            let text = reply.unread_text();
            let chunk = if text.len() < reply.unread().len() { text.iter().take(room).copied().collect() } else { prompt_chunk(text, room) };
            if chunk.is_empty() {
                continue;
            }
            let last = chunk.len() == reply.unread().len();
            for (j, &token) in chunk.iter().enumerate() {
                self.queue(token, i, last && j + 1 == chunk.len())?;
                self.slots[i].cached.push(token);
            }
            let at = self.batch.n_tokens() - 1;
            if let Some(r) = self.slots[i].reply.as_mut() {
                r.read += chunk.len();
                if last {
                    r.logits_at = Some(at);
                    r.prompt_queued = true;
                }
            }
        }
        Ok(())
    }

    /// A decode failed: what the cache holds is no longer known, so every reply ends with the
    /// error and every sequence starts clean.
    fn fail_all(
        &mut self,
        e: HearthError,
        mut ended: Vec<(RequestId, Result<GenerationStats, HearthError>)>,
    ) -> Vec<(RequestId, Result<GenerationStats, HearthError>)> {
        for slot in &mut self.slots {
            if let Some(reply) = slot.reply.take() {
                ended.push((reply.id, Err(e.clone())));
            }
        }
        self.clear_cache();
        ended
    }

    /// Keeps slot `i`'s cached tokens shared with `tokens` and drops the rest from its sequence;
    /// returns how many are kept. At least the last prompt token is always decoded again, since
    /// sampling needs its logits.
    fn reuse_prefix(&mut self, i: usize, reply: &Reply) -> usize {
        let seq = i as i32;
        let cached = &self.slots[i].cached;
        let tokens = &reply.prompt;
        // A picture is in the cache whole or not at all.
        let mut common = reply.picture_start(common_prefix(cached, tokens).min(tokens.len().saturating_sub(1)));
        if common < cached.len() {
            let removed = u32::try_from(common).ok().is_some_and(|p| self.ctx.kv_cache_seq_rm(seq, Some(p), None).is_ok());
            // Some caches (recurrent models) cannot drop a tail; a sliding-window cache may have
            // dropped what the next token needs. Either way, start over.
            if !removed || !self.window_kept(seq, common) {
                let _ = self.ctx.clear_kv_cache_seq(Some(seq as u32), None, None);
                common = 0;
            }
            self.slots[i].cached.truncate(common);
        }
        common
    }

    /// After sequence `seq` was cut back to its first `common` tokens: does it still hold every
    /// cell the token at `common` attends to? A sliding-window cache sized to its window
    /// (`swa_full = false`) overwrites cells older than the window as it goes, so a cut far behind
    /// where it had got to can leave a gap: its oldest cell must be no later than `common - window`
    /// (the test llama-server makes before it reuses a prompt).
    fn window_kept(&self, seq: i32, common: usize) -> bool {
        if common == 0 {
            return true;
        }
        match self.ctx.kv_cache_seq_pos_min(seq) {
            0 => true,
            // Nothing left of the sequence, though `common` cells were to stay.
            p if p < 0 => false,
            p => self.n_swa > 0 && p as usize + self.n_swa <= common,
        }
    }

    /// Embeddings of each input, pooled as the model's file says and L2-normalised (as OpenAI's
    /// and llama-server's are), and the tokens read. Made in a context of their own, sized to the
    /// longest input and dropped at the end, so the chat context's cache is untouched.
    /// `cancelled` is asked between inputs: the host cancels when the client has gone.
    pub fn embed(
        &self,
        backend: &LlamaBackend,
        inputs: &[EmbedInput],
        threads: i32,
        cancelled: impl Fn() -> bool,
    ) -> Result<(Vec<Vec<f32>>, u32), HearthError> {
        let arch = self.model.meta_val_str("general.architecture").unwrap_or_default();
        let pooling = self.model.meta_val_str(&format!("{arch}.pooling_type")).ok().and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
        if pooling == 0 {
            return Err(err(EngineError::NotAnEmbedder { arch: arch.to_string() }));
        }
        let n_vocab = self.model.n_vocab();
        let lists = inputs
            .iter()
            .map(|input| match input {
                EmbedInput::Text(t) => Ok(self.tokenize(t, true)),
                EmbedInput::Tokens(ids) => ids
                    .iter()
                    .map(|&t| (0..n_vocab).contains(&t).then_some(LlamaToken(t)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| err(EngineError::TokenOutOfVocab { n_vocab })),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
        // The context is made as long as the longest input: capped by the plan (which sized it to
        // fit beside the model), so that a request cannot ask for the memory of a 128K context.
        let limit = (self.model.n_ctx_train() as usize).min(self.embed_tokens);
        if longest == 0 || lists.iter().any(Vec::is_empty) {
            return Err(err(EngineError::EmptyInput));
        }
        if longest > limit {
            return Err(err(EngineError::InputTooLong { tokens: longest, limit }));
        }
        let n_ctx = (longest as u32).max(32);
        let mut ctx = self
            .model
            .new_context(backend, llama_params::embedding_context_params(n_ctx, threads))
            .map_err(|e| err(EngineError::Llama { what: "make a context for embeddings", reason: e.to_string() }))?;
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let mut vectors = Vec::with_capacity(lists.len());
        for tokens in &lists {
            if cancelled() {
                return Err(err(EngineError::EmbeddingsCancelled));
            }
            ctx.clear_kv_cache();
            batch.clear();
            for (pos, &t) in tokens.iter().enumerate() {
                batch.add(t, pos as i32, &[0], true).map_err(|e| err(EngineError::Llama { what: "queue the input", reason: e.to_string() }))?;
            }
            ctx.decode(&mut batch).map_err(|e| err(EngineError::Llama { what: "read the input", reason: e.to_string() }))?;
            let v = ctx
                .embeddings_seq_ith(0)
                .map_err(|_| err(EngineError::NoPooledEmbedding))?;
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
            vectors.push(v.iter().map(|x| x / norm).collect());
        }
        Ok((vectors, lists.iter().map(Vec::len).sum::<usize>() as u32))
    }

    /// `llama-bench`'s pp and tg tests on this context (see `BenchParams`). Tokens are arbitrary, as
    /// llama-bench's are: a prompt starts with BOS where the model wants one, then pseudo-random
    /// ids; nothing is sampled, so end-of-generation tokens do not stop the generation test.
    pub fn bench(&mut self, id: RequestId, p: &BenchParams, cancels: &Cancels) -> Result<BenchResult, HearthError> {
        let n_ctx = self.n_ctx();
        if p.n_prompt > n_ctx || p.n_gen > n_ctx {
            return Err(err(EngineError::BenchTooLong { n_prompt: p.n_prompt, n_gen: p.n_gen, n_ctx }));
        }
        let mut result = BenchResult { prompt_ms: Vec::new(), gen_ms: Vec::new(), n_threads: 0 };
        let mut tokens = ArbitraryTokens::new(self.model);
        // Run 0 is the warm-up: the whole prompt, or one generated token, as llama-bench does.
        if p.n_prompt > 0 {
            for run in 0..=p.repetitions {
                if cancels.contains(id) {
                    break;
                }
                self.clear_cache();
                let started = Instant::now();
                self.bench_prompt(p.n_prompt as usize, &mut tokens)?;
                if run > 0 {
                    result.prompt_ms.push(ms(started));
                }
            }
        }
        if p.n_gen > 0 {
            for run in 0..=p.repetitions {
                if cancels.contains(id) {
                    break;
                }
                self.clear_cache();
                let started = Instant::now();
                let n = if run == 0 { 1 } else { p.n_gen };
                if !self.bench_gen(n as usize, &mut tokens, id, cancels)? {
                    break;
                }
                if run > 0 {
                    result.gen_ms.push(ms(started));
                }
            }
        }
        self.clear_cache();
        Ok(result)
    }

    /// One decode of two tokens and one of a single token, then an empty cache: the kernels a
    /// prompt and a reply will use have run once (llama.cpp's tools warm up the same way).
    pub fn warm_up(&mut self) -> Result<(), HearthError> {
        let vocab = self.model.vocab();
        // As llama.cpp's warm-up: BOS and EOS where the model has them, else token 0.
        let or_zero = |t: LlamaToken| if t.0 >= 0 { t } else { LlamaToken(0) };
        let (bos, eos) = (or_zero(vocab.bos()), or_zero(vocab.eos()));
        self.clear_batch();
        self.queue_at(bos, 0, 0, false)?;
        self.queue_at(eos, 1, 0, true)?;
        self.decode()?;
        self.clear_batch();
        self.queue_at(bos, 2, 0, true)?;
        self.decode()?;
        self.ctx.synchronize();
        self.clear_batch();
        self.clear_cache();
        Ok(())
    }

    fn clear_cache(&mut self) {
        self.ctx.clear_kv_cache();
        for slot in &mut self.slots {
            slot.cached.clear();
        }
    }

    fn bench_prompt(&mut self, n: usize, tokens: &mut ArbitraryTokens) -> Result<(), HearthError> {
        let mut done = 0;
        while done < n {
            let len = (n - done).min(self.n_batch);
            self.clear_batch();
            for j in 0..len {
                let token = if done + j == 0 { tokens.first() } else { tokens.next() };
                self.queue_at(token, done + j, 0, j + 1 == len)?;
            }
            self.decode()?;
            done += len;
        }
        self.ctx.synchronize();
        Ok(())
    }

    /// `Ok(false)` when cancelled between tokens.
    fn bench_gen(&mut self, n: usize, tokens: &mut ArbitraryTokens, id: RequestId, cancels: &Cancels) -> Result<bool, HearthError> {
        let mut token = tokens.first();
        for pos in 0..n {
            if cancels.contains(id) {
                return Ok(false);
            }
            self.clear_batch();
            self.queue_at(token, pos, 0, true)?;
            self.decode()?;
            self.ctx.synchronize();
            token = tokens.next();
        }
        Ok(true)
    }

    /// Adds a token to the batch for slot `i`, at the position after its cached tokens
    /// (`clear_batch` empties the batch). llama.cpp aborts the whole process on a decode with more
    /// tokens asking for logits than the context reserved (one per sequence), so that is refused
    /// here as an error instead.
    fn queue(&mut self, token: LlamaToken, i: usize, logits: bool) -> Result<(), HearthError> {
        let pos = self.slots[i].cached.len();
        self.queue_at(token, pos, i, logits)
    }

    fn queue_at(&mut self, token: LlamaToken, pos: usize, i: usize, logits: bool) -> Result<(), HearthError> {
        if logits {
            if self.outputs as usize >= self.slots.len() {
                return Err(err(EngineError::TooManyLogits));
            }
            self.outputs += 1;
        }
        self.batch
            .add(token, pos as i32, &[i as i32], logits)
            .map_err(|e| err(EngineError::Llama { what: "queue a token", reason: e.to_string() }))
    }

    fn clear_batch(&mut self) {
        self.batch.clear();
        self.outputs = 0;
    }

    fn decode(&mut self) -> Result<(), HearthError> {
        self.ctx.decode(&mut self.batch).map_err(|e| {
            // What the cache holds is no longer known: start clean next time.
            self.clear_cache();
            match e {
                llama_cpp_2::DecodeError::NoKvCacheSlot => {
                    err(EngineError::CacheFull)
                }
                other => err(EngineError::Llama { what: "decode", reason: other.to_string() }),
            }
        })
    }
}

/// One sequence of the context: the tokens whose keys and values it holds, in order from position
/// 0, and the reply it is writing, if any.
#[derive(Default)]
struct Slot {
    cached: Vec<LlamaToken>,
    reply: Option<Reply>,
}

/// The prompt tokens of one slot to queue in this step, at most `room`. The prompt's last token is
/// always decoded in a step of its own, after the rest: a repeated request finds all but that token
/// in the cache and must decode it alone, and llama.cpp's kernels for one token and for a batch do
/// not round alike (on some CPUs far enough to change the sampled text). Decoding it alone every
/// time makes the same request from the same cache state give the same logits, bit for bit.
fn prompt_chunk(unread: &[LlamaToken], room: usize) -> Vec<LlamaToken> {
    match unread {
        [] => Vec::new(),
        [last] => vec![*last].into_iter().take(room).collect(),
        [rest @ .., _] => rest.iter().take(room).copied().collect(),
    }
}

fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The tokens of a bench: BOS first where the model wants one, then ids from a fixed-seed
/// xorshift, so every run decodes the same work.
struct ArbitraryTokens {
    state: u64,
    n_vocab: u64,
    bos: Option<LlamaToken>,
}

impl ArbitraryTokens {
    fn new(model: &LlamaModel) -> Self {
        let vocab = model.vocab();
        Self {
            state: 0x9E37_79B9_7F4A_7C15,
            n_vocab: u64::try_from(model.n_vocab()).unwrap_or(1).max(1),
            bos: vocab.should_add_bos().then(|| vocab.bos()),
        }
    }

    fn first(&mut self) -> LlamaToken {
        self.bos.unwrap_or_else(|| self.next())
    }

    fn next(&mut self) -> LlamaToken {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        LlamaToken((self.state % self.n_vocab) as i32)
    }
}

/// The template a load renders with: the person's choice for this model (a llama.cpp built-in),
/// else the file's own (through minijinja, with llama.cpp's reading of the same text behind it),
/// else its family's (`template::family`).
fn choose_template(
    model: &LlamaModel,
    chosen: Option<&str>,
) -> Result<(Option<ChatTemplate>, Option<LlamaChatTemplate>, TemplateInUse), HearthError> {
    if let Some(name) = chosen {
        if !family::is_built_in(name) {
            return Err(err(EngineError::NoSuchTemplate { name: name.to_string() }));
        }
        let in_use = TemplateInUse {
            name: name.into(),
            label: family::label(name),
            source: TemplateSource::Setting,
            why: "chosen for this model in its settings".into(),
        };
        return Ok((None, LlamaChatTemplate::new(name).ok(), in_use));
    }
    let source = model.chat_template(None).ok();
    let source_text = source.as_ref().and_then(|t| t.to_str().ok()).map(str::to_string);
    if let Some(text) = source_text {
        let (template, why) = match ChatTemplate::new(&text) {
            Ok(t) => (Some(t), "the file's own (tokenizer.chat_template)".to_string()),
            Err(e) => {
                tracing::warn!("the model's chat template cannot be compiled, llama.cpp's built-in will be used: {e}");
                (None, format!("the file's own, as llama.cpp reads it (Hearth cannot compile it: {e})"))
            }
        };
        let in_use = TemplateInUse { name: "file".into(), label: "The model's own".into(), source: TemplateSource::File, why };
        return Ok((template, source, in_use));
    }
    let vocab = model.vocab();
    let has_token = |token: &str| {
        let ids = vocab.tokenize(token.as_bytes(), false, true);
        ids.len() == 1 && vocab.token_to_piece(ids[0], true, None) == token.as_bytes()
    };
    let arch = model.meta_val_str("general.architecture").unwrap_or_default();
    let in_use = family::for_family(&arch, model.n_vocab(), has_token);
    tracing::info!("{}: {}", in_use.label, in_use.why);
    Ok((None, LlamaChatTemplate::new(&in_use.name).ok(), in_use))
}

/// The model's `<arch>.attention.sliding_window`, as llama.cpp reads it for the families with
/// windowed layers (Gemma 2 and 3, Cohere 2, OLMo 2, ...); 0 when it has none.
fn sliding_window(model: &LlamaModel) -> usize {
    let arch = model.meta_val_str("general.architecture").unwrap_or_default();
    model.meta_val_str(&format!("{arch}.attention.sliding_window")).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// The message with `marker` written where each of its pictures sits (at its byte offset, moved
/// back to a character boundary; past the end, at the end), in order.
fn place_pictures(message: &ChatMessage, marker: &str) -> ChatMessage {
    let text = &message.content;
    let mut content = String::with_capacity(text.len() + marker.len() * message.images.len());
    let mut from = 0;
    let mut places: Vec<usize> = message.images.iter().map(|i| i.at as usize).collect();
    places.sort_unstable();
    for at in places {
        let mut at = at.clamp(from, text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        content.push_str(&text[from..at]);
        content.push_str(marker);
        from = at;
    }
    content.push_str(&text[from..]);
    ChatMessage { content, ..message.clone() }
}

fn too_long(tokens: usize, n_ctx: usize) -> HearthError {
    err(EngineError::TooLong { tokens, n_ctx })
}

/// Removes the oldest turn that is neither a system message nor the last message, and an assistant
/// reply right after it, so the conversation still starts with a person's message. `false` when
/// nothing can go.
fn drop_oldest_turn(messages: &mut Vec<ChatMessage>) -> bool {
    let last = messages.len().saturating_sub(1);
    let Some(i) = messages.iter().take(last).position(|m| m.role != ChatRole::System) else { return false };
    messages.remove(i);
    if i < messages.len() - 1 && messages[i].role == ChatRole::Assistant {
        messages.remove(i);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(role: ChatRole, s: &str) -> ChatMessage {
        ChatMessage::new(role, s)
    }

    #[test]
    fn dropping_keeps_the_system_message_and_the_last_message() {
        use ChatRole::*;
        let mut c = vec![m(System, "s"), m(User, "u1"), m(Assistant, "a1"), m(User, "u2"), m(Assistant, "a2"), m(User, "u3")];
        assert!(drop_oldest_turn(&mut c));
        assert_eq!(c, vec![m(System, "s"), m(User, "u2"), m(Assistant, "a2"), m(User, "u3")]);
        assert!(drop_oldest_turn(&mut c));
        assert_eq!(c, vec![m(System, "s"), m(User, "u3")]);
        assert!(!drop_oldest_turn(&mut c));
    }

    #[test]
    fn pictures_are_placed_at_their_offsets_in_order() {
        let image = |at| types::ChatImage { at, width: 1, height: 1, rgb: vec![0; 3] };
        let message = ChatMessage { images: vec![image(99), image(0), image(6)], ..m(ChatRole::User, "héllo world") };
        // 99 is past the end; 2 would split "é", so 6 (a boundary) stays as is.
        assert_eq!(place_pictures(&message, "<P>").content, "<P>héllo<P> world<P>");
        let inside = ChatMessage { images: vec![image(2)], ..m(ChatRole::User, "héllo") };
        assert_eq!(place_pictures(&inside, "<P>").content, "h<P>éllo");
    }

    #[test]
    fn a_prompts_last_token_is_always_decoded_alone() {
        let t = |ids: &[i32]| ids.iter().map(|&i| LlamaToken(i)).collect::<Vec<_>>();
        // The rest first, as much as fits, never the last token with them...
        assert_eq!(prompt_chunk(&t(&[1, 2, 3, 4]), 512), t(&[1, 2, 3]));
        assert_eq!(prompt_chunk(&t(&[1, 2, 3, 4]), 2), t(&[1, 2]));
        // ...then the last one, in a step of its own; nothing when the batch is full.
        assert_eq!(prompt_chunk(&t(&[4]), 512), t(&[4]));
        assert_eq!(prompt_chunk(&t(&[4]), 0), t(&[]));
        assert_eq!(prompt_chunk(&t(&[]), 512), t(&[]));
    }
}
