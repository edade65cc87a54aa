//! `hearth bench MODEL`: how fast the engine reads a prompt (pp) and writes tokens (tg), measured
//! the way llama.cpp's `llama-bench` measures them (same default lengths, a warm-up run, mean ±
//! standard deviation over repetitions, one thread per physical core) but through Hearth's own
//! path: the worker process and the context the app generates with. `--conversation` measures the
//! time to first token of turn 10 of a chat with the K/V prefix reused, and without it.

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use engine::protocol::BenchParams;
use engine::{EngineHost, ReplyEvent, GenerateParams, Prompt};
use serde_json::json;
use types::{ChatMessage, ChatRole, ContextOverflow, GenerationStats, SamplingParams};

use crate::format::params;
use crate::loading;
use crate::run::INTERRUPTED;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// A model file, or a name from the library.
    pub model: String,
    /// Prompt tokens to process (0 skips the pp test).
    #[arg(short = 'p', long = "n-prompt", default_value_t = 512)]
    pub n_prompt: u32,
    /// Tokens to generate one at a time (0 skips the tg test).
    #[arg(short = 'n', long = "n-gen", default_value_t = 128)]
    pub n_gen: u32,
    /// Timed repetitions of each test, after one warm-up run.
    #[arg(short = 'r', long = "repetitions", default_value_t = 5)]
    pub repetitions: u32,
    /// Threads (default: one per physical core).
    #[arg(short = 't', long)]
    pub threads: Option<u32>,
    /// Context length (default: n-prompt + n-gen, as llama-bench sizes its context; at least 4096
    /// with --conversation).
    #[arg(long)]
    pub ctx: Option<u32>,
    /// Also measure the time to first token of turn 10 of a conversation, with and without the
    /// K/V prefix reused.
    #[arg(long)]
    pub conversation: bool,
    /// Print the figures as JSON, for scripts.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub run_on: crate::loading::RunOnArgs,
}

/// Mean and sample standard deviation, as llama-bench reports them.
pub fn mean_stddev(xs: &[f64]) -> (f64, f64) {
    if xs.is_empty() {
        return (0.0, 0.0);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

struct Test {
    name: String,
    n_prompt: u32,
    n_gen: u32,
    samples_ms: Vec<f64>,
}

impl Test {
    fn tokens_per_second(&self) -> Vec<f64> {
        let n = f64::from(self.n_prompt + self.n_gen);
        self.samples_ms.iter().map(|ms| n * 1000.0 / ms).collect()
    }
}

pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let path = loading::resolve(&args.model)?;
    let pp_tg = (args.n_prompt + args.n_gen).max(64);
    let ctx = args.ctx.unwrap_or(if args.conversation { pp_tg.max(4096) } else { pp_tg });
    let planned = loading::plan(&path, Some(ctx), &args.run_on)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        let threads = args.threads.or_else(|| Some(engine::physical_cores() as u32));
        let (host, loaded) = loading::load(&path, &planned, threads).await?;
        let (facts, plan, hw, info) = (&planned.facts, &loaded.plan, &planned.hw, &loaded.info);
        let request = BenchParams { n_prompt: args.n_prompt, n_gen: args.n_gen, repetitions: args.repetitions.max(1) };
        if args.n_prompt + args.n_gen > 0 {
            eprintln!("Measuring pp{} and tg{}, {} repetitions each…", args.n_prompt, args.n_gen, request.repetitions);
        }
        let bench_id = std::sync::Mutex::new(None);
        let result = tokio::select! {
            r = host.bench(request, |id| { *bench_id.lock().expect("not poisoned") = Some(id) }) => r?,
            _ = tokio::signal::ctrl_c() => {
                let id = *bench_id.lock().expect("not poisoned");
                if let Some(id) = id {
                    host.cancel(id).await;
                }
                host.unload().await.ok();
                eprintln!("Interrupted.");
                return Ok(ExitCode::from(INTERRUPTED));
            }
        };
        let mut tests = Vec::new();
        if args.n_prompt > 0 {
            tests.push(Test { name: format!("pp{}", args.n_prompt), n_prompt: args.n_prompt, n_gen: 0, samples_ms: result.prompt_ms });
        }
        if args.n_gen > 0 {
            tests.push(Test { name: format!("tg{}", args.n_gen), n_prompt: 0, n_gen: args.n_gen, samples_ms: result.gen_ms });
        }
        let conversation = if args.conversation { Some(conversation(&host, args.repetitions.max(1)).await?) } else { None };
        host.unload().await.ok();

        let model = format!("{} {} {}", facts.architecture, params(facts.parameter_count), facts.file_type_label.as_deref().unwrap_or("?"));
        let backend = if info.n_gpu_layers == 0 {
            "CPU".to_string()
        } else {
            hw.engine_backends.iter().find(|b| b.as_str() != "CPU").cloned().unwrap_or_else(|| "GPU".into())
        };
        if args.json {
            let tests: Vec<_> = tests
                .iter()
                .map(|t| {
                    let tps = t.tokens_per_second();
                    let (mean, sd) = mean_stddev(&tps);
                    json!({
                        "test": t.name, "nPrompt": t.n_prompt, "nGen": t.n_gen,
                        "tokensPerSecond": mean, "stddev": sd, "samplesTps": tps, "samplesMs": t.samples_ms,
                    })
                })
                .collect();
            let out = json!({
                "model": model, "path": path, "sizeBytes": info.model_size_bytes, "parameters": info.parameters,
                "backend": backend, "threads": result.n_threads, "nGpuLayers": info.n_gpu_layers,
                "flashAttention": plan.flash_attention, "nCtx": info.n_ctx, "nBatch": 512, "nUbatch": 512,
                "tests": tests, "conversation": conversation.as_ref().map(Conversation::to_json),
            });
            println!("{}", serde_json::to_string_pretty(&out)?);
        } else {
            if !tests.is_empty() {
                println!("| model | size | params | backend | threads | fa | test | t/s |");
                println!("| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |");
            }
            for t in &tests {
                let (mean, sd) = mean_stddev(&t.tokens_per_second());
                println!(
                    "| {model} | {:.2} MiB | {:.2} M | {backend} | {} | {} | {} | {mean:.2} ± {sd:.2} |",
                    info.model_size_bytes as f64 / (1u64 << 20) as f64,
                    info.parameters as f64 / 1e6,
                    result.n_threads,
                    u8::from(plan.flash_attention),
                    t.name
                );
            }
            if let Some(c) = &conversation {
                println!("{}{}", if tests.is_empty() { "" } else { "\n" }, c.render());
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Turn 10 of a chat: time to first token with the cache holding turns 1–9, and with it cleared.
struct Conversation {
    prompt_tokens: u32,
    /// (time to first token in ms as the CLI saw it, the engine's stats), per repetition.
    reused: Vec<(f64, GenerationStats)>,
    fresh: Vec<(f64, GenerationStats)>,
}

const QUESTIONS: [&str; 10] = [
    "Hi! I would like to plan a small vegetable garden.",
    "What should I plant first in spring?",
    "How much sun do tomatoes need?",
    "And how often should I water them?",
    "Which plants grow well next to tomatoes?",
    "What about pests: how do I keep aphids away?",
    "Can I grow herbs in the same bed?",
    "How do I know when the soil is ready?",
    "What tools will I need to start?",
    "Please sum up the plan in three short steps.",
];

async fn one(host: &EngineHost, prompt: Prompt, max_tokens: u32) -> anyhow::Result<(String, f64, GenerationStats)> {
    let sampling = SamplingParams { temperature: 0.0, max_tokens: Some(max_tokens), ..SamplingParams::default() };
    let started = Instant::now();
    let params = GenerateParams {
        prompt,
        sampling,
        context_overflow: ContextOverflow::Stop,
        model: None,
        constraint: None,
        logprobs: None,
        tools: None,
    };
    let mut generation = host.generate(params).await?;
    let (mut text, mut first) = (String::new(), None);
    while let Some(event) = generation.events.recv().await {
        match event {
            ReplyEvent::Text(t) => {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64() * 1000.0);
                text.push_str(&t);
            }
            ReplyEvent::Done(stats) => {
                let first = first.unwrap_or_else(|| started.elapsed().as_secs_f64() * 1000.0);
                return Ok((text, first, stats));
            }
            ReplyEvent::Failed(e) => anyhow::bail!("{}", e.message),
            // Not asked for.
            ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) | ReplyEvent::Call { .. } => {}
        }
    }
    anyhow::bail!("the engine stopped in the middle of a reply")
}

async fn conversation(host: &EngineHost, repetitions: u32) -> anyhow::Result<Conversation> {
    eprintln!("Holding a 10-turn conversation…");
    let mut messages = vec![ChatMessage::new(ChatRole::System, "You are a helpful gardening assistant.")];
    // Turns 1–9 with their replies (greedy, 48 tokens at most, so the run is short and repeatable).
    for q in &QUESTIONS[..9] {
        messages.push(ChatMessage::new(ChatRole::User, *q));
        let (reply, _, _) = one(host, Prompt::Chat(messages.clone()), 48).await?;
        messages.push(ChatMessage::new(ChatRole::Assistant, reply));
    }
    let until_turn_9 = messages[..messages.len() - 1].to_vec();
    messages.push(ChatMessage::new(ChatRole::User, QUESTIONS[9]));
    let mut c = Conversation { prompt_tokens: 0, reused: Vec::new(), fresh: Vec::new() };
    for _ in 0..repetitions {
        // With reuse: the cache holds turn 9's prompt and reply, as it does in a real chat.
        one(host, Prompt::Chat(until_turn_9.clone()), 48).await?;
        let (_, wall, stats) = one(host, Prompt::Chat(messages.clone()), 1).await?;
        c.prompt_tokens = stats.prompt_tokens_total;
        c.reused.push((wall, stats));
        // Without: a prompt that differs from the first token on empties the cache.
        one(host, Prompt::Raw("#".into()), 1).await?;
        let (_, wall, stats) = one(host, Prompt::Chat(messages.clone()), 1).await?;
        c.fresh.push((wall, stats));
    }
    Ok(c)
}

impl Conversation {
    fn summary(runs: &[(f64, GenerationStats)]) -> (f64, f64, f64, f64) {
        let walls: Vec<f64> = runs.iter().map(|r| r.0).collect();
        let engine: Vec<f64> = runs.iter().map(|r| r.1.time_to_first_token_ms).collect();
        let reused = runs.iter().map(|r| f64::from(r.1.reused_prefix_tokens)).sum::<f64>() / runs.len().max(1) as f64;
        (mean_stddev(&walls).0, mean_stddev(&walls).1, mean_stddev(&engine).0, reused)
    }

    fn to_json(&self) -> serde_json::Value {
        let side = |runs: &[(f64, GenerationStats)]| {
            let (wall, sd, engine, reused) = Self::summary(runs);
            json!({ "ttftMs": wall, "stddevMs": sd, "engineTtftMs": engine, "reusedPrefixTokens": reused })
        };
        json!({ "turn": 10, "promptTokens": self.prompt_tokens, "withReuse": side(&self.reused), "withoutReuse": side(&self.fresh) })
    }

    fn render(&self) -> String {
        let (rw, rsd, re, rr) = Self::summary(&self.reused);
        let (fw, fsd, fe, fr) = Self::summary(&self.fresh);
        format!(
            "Time to first token, turn 10 ({} prompt tokens):\n  with prefix reuse     {rw:7.1} ± {rsd:.1} ms (engine {re:.1} ms, {rr:.0} tokens reused)\n  without prefix reuse  {fw:7.1} ± {fsd:.1} ms (engine {fe:.1} ms, {fr:.0} tokens reused)\n  {:.1}× faster with reuse",
            self.prompt_tokens,
            if rw > 0.0 { fw / rw } else { 0.0 }
        )
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mean_and_sample_stddev() {
        let (m, s) = super::mean_stddev(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((m - 5.0).abs() < 1e-9);
        assert!((s - 2.138).abs() < 1e-3, "{s}");
        assert_eq!(super::mean_stddev(&[3.0]), (3.0, 0.0));
    }
}
