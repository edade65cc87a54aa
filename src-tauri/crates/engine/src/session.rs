//! One loaded model's context inside the worker, and one reply at a time through it: render the
//! conversation with the chat template, tokenize, keep the K/V cache for the longest prefix shared
//! with the previous request and decode only the rest (in batches of `n_batch`), then sample token
//! by token, sending text as it comes. A reply ends at an end-of-generation token, `max_tokens`, a
//! stop string, a cancel (checked between tokens), or a full context.

use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use types::{
    ChatMessage, ChatRole, ContextOverflow, ErrorCode, GenerationStats, HearthError, SamplingParams, StopReason, TemplateInUse,
    TemplateSource, TokenLogprob,
};

use crate::llama_params;
use crate::protocol::{
    BenchParams, BenchResult, Constraint, EmbedInput, Event, GenerateParams, LoadParams, Prompt, RequestId, MAX_TOP_LOGPROBS,
};
use crate::stop::StopMatcher;
use crate::template::{family, ChatTemplate, TemplateInputs};
use crate::utf8::Utf8Decoder;
use crate::worker::{Cancels, EventSink};

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
    /// The tokens whose keys and values are in the cache, in order from position 0.
    cached: Vec<LlamaToken>,
    n_batch: usize,
    batch: LlamaBatch<'static>,
    /// Tokens of `batch` that ask for logits.
    outputs: u32,
    /// The sliding window of the model's windowed layers, in tokens; 0 when it has none.
    n_swa: usize,
}

fn err(code: ErrorCode, message: impl Into<String>) -> HearthError {
    HearthError::new(code, message)
}

impl<'m> Session<'m> {
    pub fn new(backend: &LlamaBackend, model: &'m LlamaModel, params: &LoadParams, threads: i32) -> Result<Self, HearthError> {
        let (n_batch, _) = llama_params::batch_sizes(params);
        let cparams = llama_params::context_params(params, threads);
        let ctx = model.new_context(backend, cparams).map_err(|e| {
            err(
                ErrorCode::ModelLoadFailed,
                format!(
                    "llama.cpp could not make a context of this size for the model ({e}). Try a shorter context; \
                     a quantized V cache also needs flash attention."
                ),
            )
        })?;

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
            cached: Vec::new(),
            n_batch: n_batch as usize,
            batch: LlamaBatch::new(n_batch as usize, 1),
            outputs: 0,
            n_swa: sliding_window(model),
        })
    }

    pub fn n_ctx(&self) -> u32 {
        self.ctx.n_ctx()
    }

    /// The conversation as a prompt: the model's template through minijinja, else llama.cpp's own.
    /// Tools, calls and tool answers go through a template that takes them, else into the text
    /// (`tools::in_text`).
    pub fn render(&self, messages: &[ChatMessage], tools: Option<&serde_json::Value>) -> Result<String, HearthError> {
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
        let fail = |why: String| {
            err(
                ErrorCode::TemplateError,
                format!("This conversation cannot be turned into a prompt for this model: {jinja_error}, and llama.cpp's built-in templates {why}."),
            )
        };
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

    /// The prompt's tokens, leaving out old turns first if asked to and the prompt does not fit.
    fn fit_prompt(&self, params: &GenerateParams) -> Result<Vec<LlamaToken>, HearthError> {
        let n_ctx = self.n_ctx() as usize;
        // Room kept for the reply when old turns are dropped: a quarter of the context, or less if
        // the reply is capped lower.
        let reserve = (params.sampling.max_tokens.map_or(n_ctx / 4, |m| m as usize).min(n_ctx / 4)).max(1);
        let mut messages = match &params.prompt {
            Prompt::Chat(m) => m.clone(),
            Prompt::Raw(text) => {
                let tokens = self.prompt_tokens(text);
                return if tokens.len() < n_ctx { Ok(tokens) } else { Err(too_long(tokens.len(), n_ctx)) };
            }
        };
        loop {
            let tokens = self.prompt_tokens(&self.render(&messages, params.tools.as_ref())?);
            let fits = match params.context_overflow {
                ContextOverflow::Stop => tokens.len() < n_ctx,
                ContextOverflow::DropOldest => tokens.len() + reserve <= n_ctx,
            };
            if fits {
                return Ok(tokens);
            }
            if params.context_overflow == ContextOverflow::Stop || !drop_oldest_turn(&mut messages) {
                return Err(too_long(tokens.len(), n_ctx));
            }
        }
    }

    /// Runs one request to its end, sending `Token` events; the caller sends `Done` or `Error`.
    pub fn generate(
        &mut self,
        id: RequestId,
        params: &GenerateParams,
        out: &EventSink,
        cancels: &Cancels,
    ) -> Result<GenerationStats, HearthError> {
        let started = Instant::now();
        let tokens = self.fit_prompt(params)?;
        let mut stats = GenerationStats {
            prompt_tokens_total: tokens.len() as u32,
            reused_prefix_tokens: 0,
            prompt_tokens: 0,
            prompt_ms: 0.0,
            generated_tokens: 0,
            generation_ms: 0.0,
            time_to_first_token_ms: 0.0,
            stop_reason: StopReason::Cancelled,
        };
        if cancels.contains(id) {
            return Ok(stats);
        }

        let reused = self.reuse_prefix(&tokens);
        stats.reused_prefix_tokens = reused as u32;
        stats.prompt_tokens = (tokens.len() - reused) as u32;
        let prompt_started = Instant::now();
        if !self.decode_prompt(&tokens[reused..], id, cancels)? {
            stats.prompt_ms = ms(prompt_started);
            return Ok(stats);
        }
        stats.prompt_ms = ms(prompt_started);

        let sampling = &params.sampling;
        let mut sampler = sampler(sampling, self.model.n_vocab());
        let mut grammar = params.constraint.as_ref().map(|c| constraint_sampler(self.model, c)).transpose()?;
        let tail = tokens.len().saturating_sub(sampling.repeat_last_n as usize);
        sampler.accept_many(&tokens[tail..]);

        let model = self.model;
        let vocab = model.vocab();
        let n_ctx = self.n_ctx() as usize;
        let mut utf8 = Utf8Decoder::new();
        let mut stops = StopMatcher::new(&sampling.stop);
        let mut logits_at = self.batch.n_tokens() - 1;
        // Log-probabilities of the tokens whose text has not been sent yet.
        let mut pending: Vec<TokenLogprob> = Vec::new();
        let top = params.logprobs.map(|n| n.min(MAX_TOP_LOGPROBS) as usize);
        let gen_started = Instant::now();
        let reason = loop {
            if sampling.max_tokens.is_some_and(|m| stats.generated_tokens >= m) {
                break StopReason::MaxTokens;
            }
            if cancels.contains(id) {
                break StopReason::Cancelled;
            }
            let token = match grammar.as_mut() {
                None => sampler.sample(&self.ctx, logits_at),
                // The grammar first, alone: it only ever sees the tokens it allowed (fed the
                // prompt, as the chain is for its penalties, llama.cpp's grammar would abort).
                Some(g) => {
                    let mut candidates = self.ctx.token_data_array_ith(logits_at);
                    candidates.apply_sampler(g);
                    candidates.apply_sampler(&mut sampler);
                    let token =
                        candidates.selected_token().ok_or_else(|| err(ErrorCode::Internal, "The constrained sampler chose no token."))?;
                    g.accept(token);
                    sampler.accept(token);
                    token
                }
            };
            if stats.generated_tokens == 0 {
                stats.time_to_first_token_ms = ms(started);
            }
            if vocab.is_eog(token) {
                break StopReason::Eos;
            }
            stats.generated_tokens += 1;
            if let Some(top) = top {
                pending.push(self.logprob(logits_at, token, top));
            }
            let step = stops.push(&utf8.push(&vocab.token_to_piece(token, false, None)));
            // Tokens that ended in a stop string are not part of the reply, nor are their figures.
            if !step.emit.is_empty() && out.send(&Event::Token { id, text: step.emit, logprobs: std::mem::take(&mut pending) }).is_err() {
                // The host is gone; nobody is reading this reply.
                break StopReason::Cancelled;
            }
            if step.stopped {
                break StopReason::Stop;
            }
            if self.cached.len() >= n_ctx {
                break StopReason::ContextFull;
            }
            self.clear_batch();
            self.queue(token, self.cached.len(), true)?;
            self.decode()?;
            self.cached.push(token);
            logits_at = 0;
        };
        stats.generation_ms = ms(gen_started);
        stats.stop_reason = reason;
        if !matches!(reason, StopReason::Stop | StopReason::Cancelled) {
            // Text held back as a possible start of a stop string, or an unfinished character.
            let mut rest = stops.push(&utf8.finish()).emit;
            rest.push_str(&stops.finish());
            if !rest.is_empty() {
                let _ = out.send(&Event::Token { id, text: rest, logprobs: pending });
            }
        }
        Ok(stats)
    }

    /// Keeps the cached tokens shared with `tokens` and drops the rest from the cache; returns how
    /// many are kept. At least the last prompt token is always decoded again, since sampling needs
    /// its logits.
    fn reuse_prefix(&mut self, tokens: &[LlamaToken]) -> usize {
        let mut common = self.cached.iter().zip(tokens).take_while(|(a, b)| a == b).count();
        common = common.min(tokens.len().saturating_sub(1));
        if common < self.cached.len() {
            let removed = u32::try_from(common).ok().is_some_and(|p| self.ctx.kv_cache_seq_rm(0, Some(p), None).is_ok());
            // Some caches (recurrent models) cannot drop a tail; a sliding-window cache may have
            // dropped what the next token needs. Either way, start over.
            if !removed || !self.window_kept(common) {
                self.ctx.clear_kv_cache();
                common = 0;
            }
            self.cached.truncate(common);
        }
        common
    }

    /// After the cache was cut back to its first `common` tokens: does it still hold every cell the
    /// token at `common` attends to? A sliding-window cache sized to its window (`swa_full =
    /// false`) overwrites cells older than the window as it goes, so a cut far behind where it had
    /// got to can leave a gap: its oldest cell must be no later than `common - window` (the test
    /// llama-server makes before it reuses a prompt).
    fn window_kept(&self, common: usize) -> bool {
        if common == 0 {
            return true;
        }
        match self.ctx.kv_cache_seq_pos_min(0) {
            0 => true,
            // Nothing left of the sequence, though `common` cells were to stay.
            p if p < 0 => false,
            p => self.n_swa > 0 && p as usize + self.n_swa <= common,
        }
    }

    /// Decodes the new prompt tokens in batches, logits only for the last one. `Ok(false)` when a
    /// cancel came in between batches.
    fn decode_prompt(&mut self, new: &[LlamaToken], id: RequestId, cancels: &Cancels) -> Result<bool, HearthError> {
        for (i, chunk) in new.chunks(self.n_batch).enumerate() {
            if cancels.contains(id) {
                return Ok(false);
            }
            let last_chunk = (i + 1) * self.n_batch >= new.len();
            self.clear_batch();
            for (j, &token) in chunk.iter().enumerate() {
                self.queue(token, self.cached.len() + j, last_chunk && j + 1 == chunk.len())?;
            }
            self.decode()?;
            self.cached.extend_from_slice(chunk);
        }
        Ok(true)
    }

    /// Embeddings of each input, pooled as the model's file says and L2-normalised (as OpenAI's
    /// and llama-server's are), and the tokens read. Made in a context of their own, sized to the
    /// longest input and dropped at the end, so the chat context's cache is untouched.
    pub fn embed(&self, backend: &LlamaBackend, inputs: &[EmbedInput], threads: i32) -> Result<(Vec<Vec<f32>>, u32), HearthError> {
        let arch = self.model.meta_val_str("general.architecture").unwrap_or_default();
        let pooling = self.model.meta_val_str(&format!("{arch}.pooling_type")).ok().and_then(|v| v.trim().parse::<u32>().ok()).unwrap_or(0);
        if pooling == 0 {
            return Err(err(
                ErrorCode::InvalidInput,
                format!(
                    "This model cannot make embeddings: its file names no pooling ({arch}.pooling_type), as chat models' files do not. \
                     Load an embedding model (nomic-embed, bge, all-MiniLM…)."
                ),
            ));
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
                    .ok_or_else(|| err(ErrorCode::InvalidInput, format!("A token id is outside this model's vocabulary of {n_vocab}."))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
        let limit = self.model.n_ctx_train() as usize;
        if longest == 0 || lists.iter().any(Vec::is_empty) {
            return Err(err(ErrorCode::InvalidInput, "An input to embed is empty."));
        }
        if longest > limit {
            return Err(err(ErrorCode::ContextFull, format!("An input is {longest} tokens long; this model embeds at most {limit}.")));
        }
        let n_ctx = (longest as u32).max(32);
        let mut ctx = self
            .model
            .new_context(backend, llama_params::embedding_context_params(n_ctx, threads))
            .map_err(|e| err(ErrorCode::Internal, format!("llama.cpp could not make a context for embeddings ({e}).")))?;
        let mut batch = LlamaBatch::new(n_ctx as usize, 1);
        let mut vectors = Vec::with_capacity(lists.len());
        for tokens in &lists {
            ctx.clear_kv_cache();
            batch.clear();
            for (pos, &t) in tokens.iter().enumerate() {
                batch.add(t, pos as i32, &[0], true).map_err(|e| err(ErrorCode::Internal, format!("Could not queue the input: {e}")))?;
            }
            ctx.decode(&mut batch).map_err(|e| err(ErrorCode::Internal, format!("llama.cpp could not read the input: {e}")))?;
            let v = ctx
                .embeddings_seq_ith(0)
                .map_err(|_| err(ErrorCode::InvalidInput, "llama.cpp made no pooled embedding for this model."))?;
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
            return Err(err(
                ErrorCode::ContextFull,
                format!(
                    "A bench of {} prompt and {} generated tokens needs a context of that many; this one holds {n_ctx}.",
                    p.n_prompt, p.n_gen
                ),
            ));
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

    fn clear_cache(&mut self) {
        self.ctx.clear_kv_cache();
        self.cached.clear();
    }

    fn bench_prompt(&mut self, n: usize, tokens: &mut ArbitraryTokens) -> Result<(), HearthError> {
        let mut done = 0;
        while done < n {
            let len = (n - done).min(self.n_batch);
            self.clear_batch();
            for j in 0..len {
                let token = if done + j == 0 { tokens.first() } else { tokens.next() };
                self.queue(token, done + j, j + 1 == len)?;
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
            self.queue(token, pos, true)?;
            self.decode()?;
            self.ctx.synchronize();
            token = tokens.next();
        }
        Ok(true)
    }

    /// How likely the model found `token` at the logits of batch entry `at` (log-softmax of the raw
    /// logits, as OpenAI reports them: sampling settings change what is drawn, not these), with the
    /// `top` likeliest tokens there.
    fn logprob(&self, at: i32, token: LlamaToken, top: usize) -> TokenLogprob {
        let logits = self.ctx.get_logits_ith(at);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
        let vocab = self.model.vocab();
        let entry = |t: usize| {
            let bytes = vocab.token_to_piece(LlamaToken(t as i32), false, None);
            TokenLogprob { token: String::from_utf8_lossy(&bytes).into_owned(), bytes, logprob: logits[t] - log_sum, top: Vec::new() }
        };
        let mut ids: Vec<usize> = (0..logits.len()).collect();
        let top = top.min(ids.len());
        if top > 0 && top < ids.len() {
            ids.select_nth_unstable_by(top - 1, |a, b| logits[*b].total_cmp(&logits[*a]));
        }
        ids.truncate(top);
        ids.sort_by(|a, b| logits[*b].total_cmp(&logits[*a]));
        TokenLogprob { top: ids.into_iter().map(entry).collect(), ..entry(token.0 as usize) }
    }

    /// Adds a token at `pos` to the batch (`clear_batch` empties it). llama.cpp aborts the whole
    /// process on a decode with more tokens asking for logits than the context reserved
    /// (`llama_params::N_SEQ`), so that is refused here as an error instead.
    fn queue(&mut self, token: LlamaToken, pos: usize, logits: bool) -> Result<(), HearthError> {
        if logits {
            if self.outputs >= llama_params::N_SEQ {
                return Err(err(ErrorCode::Internal, "A batch asked for more logits than the context keeps."));
            }
            self.outputs += 1;
        }
        self.batch.add(token, pos as i32, &[0], logits).map_err(|e| err(ErrorCode::Internal, format!("Could not queue a token: {e}")))
    }

    fn clear_batch(&mut self) {
        self.batch.clear();
        self.outputs = 0;
    }

    fn decode(&mut self) -> Result<(), HearthError> {
        self.ctx.decode(&mut self.batch).map_err(|e| {
            // What the cache holds is no longer known: start clean next time.
            self.ctx.clear_kv_cache();
            self.cached.clear();
            match e {
                llama_cpp_2::DecodeError::NoKvCacheSlot => {
                    err(ErrorCode::ContextFull, "The context is full: llama.cpp found no room in the cache.")
                }
                other => err(ErrorCode::Internal, format!("llama.cpp could not decode: {other}")),
            }
        })
    }
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
            return Err(err(
                ErrorCode::TemplateError,
                format!("There is no built-in chat template called \"{name}\". Choose another in the model's settings."),
            ));
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

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

fn too_long(tokens: usize, n_ctx: usize) -> HearthError {
    err(
        ErrorCode::ContextFull,
        format!(
            "The conversation is {tokens} tokens long and the context holds {n_ctx}. Start a new chat, load the \
             model with a longer context, or let old messages be left out."
        ),
    )
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

/// The grammar sampler for a constraint, from llama.cpp's JSON-schema converter.
fn constraint_sampler(model: &LlamaModel, c: &Constraint) -> Result<LlamaSampler, HearthError> {
    let schema = match c {
        Constraint::JsonObject => r#"{"type": "object"}"#,
        Constraint::JsonSchema { schema } => schema.as_str(),
    };
    let refuse = |why: String| err(ErrorCode::InvalidInput, format!("This JSON schema cannot be enforced: {why}."));
    let grammar =
        llama_cpp_2::json_schema_to_grammar(schema).map_err(|e| refuse(format!("llama.cpp could not turn it into a grammar ({e})")))?;
    LlamaSampler::grammar(model, &grammar, "root").map_err(|e| refuse(format!("llama.cpp refused its grammar ({e})")))
}

/// llama.cpp's usual order: penalties, then the filters, then temperature, then the draw.
fn sampler(p: &SamplingParams, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::new();
    if p.repeat_penalty != 1.0 && p.repeat_last_n > 0 {
        chain.push(LlamaSampler::penalties(n_vocab, p.repeat_last_n as i32, p.repeat_penalty, 0.0, 0.0));
    }
    if p.temperature <= 0.0 {
        chain.push(LlamaSampler::greedy());
    } else {
        if p.top_k > 0 {
            chain.push(LlamaSampler::top_k(p.top_k as i32));
        }
        if p.top_p < 1.0 {
            chain.push(LlamaSampler::top_p(p.top_p, 1));
        }
        if p.min_p > 0.0 {
            chain.push(LlamaSampler::min_p(p.min_p, 1));
        }
        chain.push(LlamaSampler::temp(p.temperature));
        // llama.cpp draws a random seed for u32::MAX (LLAMA_DEFAULT_SEED).
        chain.push(LlamaSampler::dist(p.seed.unwrap_or(u32::MAX)));
    }
    LlamaSampler::chain_simple(chain)
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
}
