//! One reply being written in one of the context's sequences: the prompt still to be read, the
//! sampler (and a constraint's grammar), the text held back for stop strings or an unfinished
//! character, and the figures. The session decodes a batch for all of its replies at once; each
//! reply then takes the token it samples from its own row of logits (`Reply::take`).

use std::time::Instant;

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::logit_bias::LlamaLogitBias;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;
use llama_cpp_2::token::LlamaToken;
use types::{GenerationStats, HearthError, SamplingParams, StopReason, TokenLogprob};

use crate::error::EngineError;
use crate::outbox::EventSink;
use crate::protocol::{Constraint, Event, GenerateParams, RequestId, MAX_TOP_LOGPROBS};
use crate::stop::StopMatcher;
use crate::utf8::Utf8Decoder;
use crate::vision::Picture;

pub struct Reply {
    pub id: RequestId,
    /// The whole prompt, as tokens; a picture stands as its key, once for each position it takes
    /// (`vision`).
    pub prompt: Vec<LlamaToken>,
    /// The pictures in the prompt, each with the index in `prompt` it starts at, in order.
    pub pictures: Vec<(usize, Picture)>,
    /// How many of `prompt` are in the sequence's cache (reused or decoded).
    pub read: usize,
    /// The token sampled last, to be decoded in the next batch.
    pub next: Option<LlamaToken>,
    /// Where this reply's logits are in the batch just decoded.
    pub logits_at: Option<i32>,
    sampler: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// The candidates array a constrained reply samples from, kept between tokens: a fresh one is
    /// a vocabulary's worth of memory (600 KB for 50,000 tokens) mapped and unmapped every token.
    candidates: Vec<LlamaTokenData>,
    max_tokens: Option<u32>,
    utf8: Utf8Decoder,
    stops: StopMatcher,
    /// Log-probabilities of the tokens whose text has not been sent yet.
    pending: Vec<TokenLogprob>,
    top: Option<usize>,
    pub stats: GenerationStats,
    /// When the worker took the request (its time to first token counts from here, waiting for a
    /// slot included).
    received: Instant,
    /// The prompt's last tokens are in the batch being decoded: `prompt_done` once it is.
    pub prompt_queued: bool,
    prompt_started: Instant,
    gen_started: Option<Instant>,
}

impl Reply {
    pub fn new(
        id: RequestId,
        model: &LlamaModel,
        params: &GenerateParams,
        prompt: Vec<LlamaToken>,
        pictures: Vec<(usize, Picture)>,
        received: Instant,
    ) -> Result<Self, HearthError> {
        let sampling = &params.sampling;
        let mut sampler = sampler(sampling, model.n_vocab());
        let grammar = params.constraint.as_ref().map(|c| constraint_sampler(model, c)).transpose()?;
        let tail = prompt.len().saturating_sub(sampling.repeat_last_n as usize);
        // The penalties count tokens the model wrote or read, not the keys pictures stand as.
        let text: Vec<LlamaToken> = prompt[tail..].iter().copied().filter(|t| t.0 >= 0).collect();
        sampler.accept_many(&text);
        let image_tokens = pictures.iter().map(|(_, p)| p.image_tokens).sum::<usize>() as u32;
        let total = crate::vision::cells(prompt.len(), &pictures) as u32;
        let stats = GenerationStats { prompt_tokens_total: total, prompt_tokens: total, image_tokens, ..no_stats() };
        Ok(Self {
            id,
            prompt,
            pictures,
            read: 0,
            next: None,
            logits_at: None,
            sampler,
            grammar,
            candidates: Vec::new(),
            max_tokens: sampling.max_tokens,
            utf8: Utf8Decoder::new(),
            stops: StopMatcher::new(&sampling.stop),
            pending: Vec::new(),
            top: params.logprobs.map(|n| n.min(MAX_TOP_LOGPROBS) as usize),
            stats,
            received,
            prompt_queued: false,
            prompt_started: Instant::now(),
            gen_started: None,
        })
    }

    /// The first `n` prompt tokens are in the sequence's cache already (`n` is never inside a
    /// picture: `picture_start`).
    pub fn reuse(&mut self, n: usize) {
        self.read = n;
        // Tokens, not positions: a picture in the cache counts as the tokens it took.
        let kept = self.pictures.iter().filter(|(at, p)| at + p.n_pos <= n);
        let cached = kept.fold(n, |sum, (_, p)| sum - p.n_pos + p.n_tokens);
        self.stats.reused_prefix_tokens = cached as u32;
        self.stats.prompt_tokens = self.stats.prompt_tokens_total.saturating_sub(cached as u32);
    }

    /// Prompt tokens not yet decoded.
    pub fn unread(&self) -> &[LlamaToken] {
        &self.prompt[self.read..]
    }

    /// The unread prompt's text up to the next picture (all of it when none is left).
    pub fn unread_text(&self) -> &[LlamaToken] {
        let end = self.pictures.iter().map(|(at, _)| *at).find(|&at| at >= self.read).unwrap_or(self.prompt.len());
        &self.prompt[self.read..end]
    }

    /// The picture the unread prompt starts with, if it starts with one.
    pub fn next_picture(&self) -> Option<&Picture> {
        self.pictures.iter().find(|(at, _)| *at == self.read).map(|(_, p)| p)
    }

    /// Where the picture covering prompt index `i` starts; `i` itself when no picture covers it.
    pub fn picture_start(&self, i: usize) -> usize {
        self.pictures.iter().find(|(at, p)| *at < i && i < at + p.n_pos).map_or(i, |(at, _)| *at)
    }

    /// The last prompt tokens were decoded just now.
    pub fn prompt_done(&mut self) {
        self.prompt_queued = false;
        self.stats.prompt_ms = ms(self.prompt_started);
        self.gen_started = Some(Instant::now());
    }

    /// Samples this reply's next token from its logits in the batch just decoded and sends its
    /// text. `Some(reason)` when the reply has ended (its held-back text sent where it belongs);
    /// `None` when `next` holds a token to decode. `room` says whether the sequence has a cell
    /// left for that token.
    pub fn take(&mut self, ctx: &LlamaContext, model: &LlamaModel, out: &EventSink, room: bool) -> Result<Option<StopReason>, HearthError> {
        let Some(at) = self.logits_at.take() else { return Ok(None) };
        if self.max_tokens.is_some_and(|m| self.stats.generated_tokens >= m) {
            return Ok(Some(self.end(StopReason::MaxTokens, out)));
        }
        let token = match self.grammar.as_mut() {
            None => self.sampler.sample(ctx, at),
            // The token the sampler picks freely is checked against the grammar alone, and only
            // when the grammar refuses it is the grammar applied to the whole vocabulary and the
            // pick made again (as llama.cpp's common sampler does): applying a grammar to some
            // 50,000 candidates at every token nearly halved the speed of a JSON reply, and most
            // of its tokens are ones the grammar allows. Greedy, the two ways pick the same token.
            Some(g) => {
                let mut candidates = refill(std::mem::take(&mut self.candidates), ctx.get_logits_ith(at));
                candidates.apply_sampler(&mut self.sampler);
                let free = candidates.selected.and_then(|i| candidates.data.get(i)).map(|d| (d.id(), d.logit()));
                let allowed = |g: &mut LlamaSampler, (token, logit): (LlamaToken, f32)| {
                    let mut one = LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, logit, 0.0)], false);
                    one.apply_sampler(g);
                    one.data[0].logit().is_finite()
                };
                let token = match free.filter(|&pick| allowed(g, pick)) {
                    Some((token, _)) => token,
                    None => {
                        // The grammar first, alone: it only ever sees the tokens it allowed (fed
                        // the prompt, as the chain is for its penalties, llama.cpp's grammar
                        // would abort).
                        candidates = refill(candidates.data, ctx.get_logits_ith(at));
                        candidates.apply_sampler(g);
                        candidates.apply_sampler(&mut self.sampler);
                        // A token the grammar refused (it allowed none here, which a schema
                        // `schema::check` passed should never do) must not reach `accept`:
                        // llama.cpp aborts the whole process when an end-of-generation token
                        // comes before the grammar is complete.
                        let allowed =
                            candidates.selected.and_then(|i| candidates.data.get(i)).is_some_and(|d| d.logit().is_finite());
                        if !allowed {
                            return Err(EngineError::GrammarDeadEnd.into());
                        }
                        candidates.selected_token().ok_or(EngineError::NoTokenChosen)?
                    }
                };
                self.candidates = candidates.data;
                g.accept(token);
                self.sampler.accept(token);
                token
            }
        };
        if self.stats.generated_tokens == 0 {
            self.stats.time_to_first_token_ms = ms(self.received);
        }
        let vocab = model.vocab();
        if vocab.is_eog(token) {
            return Ok(Some(self.end(StopReason::Eos, out)));
        }
        self.stats.generated_tokens += 1;
        if let Some(top) = self.top {
            self.pending.push(logprob(ctx, model, at, token, top));
        }
        let step = self.stops.push(&self.utf8.push(&vocab.token_to_piece(token, false, None)));
        // Tokens that ended in a stop string are not part of the reply, nor are their figures.
        if !step.emit.is_empty()
            && out.send(&Event::Token { id: self.id, text: step.emit, logprobs: std::mem::take(&mut self.pending) }).is_err()
        {
            // The host is gone; nobody is reading this reply.
            return Ok(Some(self.end(StopReason::Cancelled, out)));
        }
        if step.stopped {
            return Ok(Some(self.end(StopReason::Stop, out)));
        }
        if !room {
            return Ok(Some(self.end(StopReason::ContextFull, out)));
        }
        self.next = Some(token);
        Ok(None)
    }

    /// Ends the reply for `reason`: its figures, and (unless it stopped at a stop string or was
    /// cancelled) the text held back as a possible start of a stop string or an unfinished
    /// character.
    pub fn end(&mut self, reason: StopReason, out: &EventSink) -> StopReason {
        self.stats.generation_ms = self.gen_started.map_or(0.0, ms);
        if self.gen_started.is_none() {
            self.stats.prompt_ms = ms(self.prompt_started);
        }
        self.stats.stop_reason = reason;
        self.stats = self.stats.clone().finished();
        if !matches!(reason, StopReason::Stop | StopReason::Cancelled) {
            let mut rest = self.stops.push(&self.utf8.finish()).emit;
            rest.push_str(&self.stops.finish());
            if !rest.is_empty() {
                let _ = out.send(&Event::Token { id: self.id, text: rest, logprobs: std::mem::take(&mut self.pending) });
            }
        }
        reason
    }
}

/// How likely the model found `token` at the logits of batch entry `at` (log-softmax of the raw
/// logits, as OpenAI reports them: sampling settings change what is drawn, not these), with the
/// `top` likeliest tokens there.
fn logprob(ctx: &LlamaContext, model: &LlamaModel, at: i32, token: LlamaToken, top: usize) -> TokenLogprob {
    let logits = ctx.get_logits_ith(at);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = max + logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln();
    let vocab = model.vocab();
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

/// The grammar sampler for a constraint, from llama.cpp's JSON-schema converter.
fn constraint_sampler(model: &LlamaModel, c: &Constraint) -> Result<LlamaSampler, HearthError> {
    let schema = match c {
        Constraint::JsonObject => r#"{"type": "object"}"#,
        Constraint::JsonSchema { schema } => schema.as_str(),
    };
    let refuse = |reason: String| EngineError::SchemaRefused { reason };
    // The host has checked the schema (`EngineHost::generate`, the one way requests reach the
    // worker); llama.cpp's converter still runs in a copy of this process (`grammar`), so a schema
    // the check did not foresee is an error, not the worker's end.
    let grammar = crate::grammar::from_schema(schema).map_err(refuse)?;
    Ok(LlamaSampler::grammar(model, &grammar, "root").map_err(|e| refuse(format!("llama.cpp refused its grammar ({e})")))?)
}

/// llama.cpp's usual order: the logit bias, penalties, then the filters, then temperature, then
/// the draw.
fn sampler(p: &SamplingParams, n_vocab: i32) -> LlamaSampler {
    let mut chain = Vec::new();
    // Ids outside the vocabulary were refused with the request (`Session::start`).
    let biases: Vec<LlamaLogitBias> =
        p.logit_bias.iter().filter(|(t, _)| (0..n_vocab).contains(t)).map(|(t, b)| LlamaLogitBias::new(LlamaToken(*t), *b)).collect();
    if !biases.is_empty() {
        chain.push(LlamaSampler::logit_bias(n_vocab, &biases));
    }
    let penalised = p.repeat_penalty != 1.0 || p.frequency_penalty != 0.0 || p.presence_penalty != 0.0;
    if penalised && p.repeat_last_n > 0 {
        chain.push(LlamaSampler::penalties(n_vocab, p.repeat_last_n as i32, p.repeat_penalty, p.frequency_penalty, p.presence_penalty));
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

/// `logits` as a candidates array, in `buffer`'s memory.
fn refill(mut buffer: Vec<LlamaTokenData>, logits: &[f32]) -> LlamaTokenDataArray {
    buffer.clear();
    buffer.extend(logits.iter().enumerate().map(|(id, &logit)| LlamaTokenData::new(LlamaToken(id as i32), logit, 0.0)));
    LlamaTokenDataArray::new(buffer, false)
}

pub fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// The figures of a reply that did nothing (yet): a reply cancelled before it started ends with
/// these.
pub fn no_stats() -> GenerationStats {
    GenerationStats {
        prompt_tokens_total: 0,
        reused_prefix_tokens: 0,
        prompt_tokens: 0,
        prompt_ms: 0.0,
        generated_tokens: 0,
        generation_ms: 0.0,
        time_to_first_token_ms: 0.0,
        stop_reason: StopReason::Cancelled,
        tokens_per_second: None,
        image_tokens: 0,
        image_ms: 0.0,
    }
}
