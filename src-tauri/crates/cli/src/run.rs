//! `hearth run MODEL "prompt"` and `hearth chat MODEL`: a reply streamed to stdout as it is
//! generated, with the model's chat template applied by the engine; load progress and one line of
//! figures per reply on stderr. Ctrl-C cancels the reply in the engine before anything exits. The
//! chat keeps the conversation, so the engine reuses its K/V cache for everything but the new turn.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use engine::{EngineHost, ReplyEvent, GenerateParams, Prompt};
use types::{ChatMessage, ChatRole, ContextOverflow, GenerationStats, SamplingParams, StopReason};

use crate::loading;

/// The exit status of a command stopped by Ctrl-C (128 + SIGINT), as shells report it.
pub const INTERRUPTED: u8 = 130;

#[derive(Args, Debug)]
pub struct SamplingArgs {
    /// Temperature; 0 always picks the most likely token (deterministic).
    #[arg(long)]
    pub temp: Option<f32>,
    /// Seed for sampling, for a reply that can be had again.
    #[arg(long)]
    pub seed: Option<u32>,
    /// Stop after this many tokens.
    #[arg(long)]
    pub max_tokens: Option<u32>,
    /// A system message put before the conversation.
    #[arg(long)]
    pub system: Option<String>,
    /// Context length in tokens (default: the model's, up to 4096).
    #[arg(long)]
    pub ctx: Option<u32>,
    #[command(flatten)]
    pub run_on: loading::RunOnArgs,
}

impl SamplingArgs {
    fn sampling(&self) -> SamplingParams {
        let defaults = SamplingParams::default();
        SamplingParams { temperature: self.temp.unwrap_or(defaults.temperature), seed: self.seed, max_tokens: self.max_tokens, ..defaults }
    }

    fn start(&self) -> Vec<ChatMessage> {
        self.system.iter().map(|s| ChatMessage::new(ChatRole::System, s.clone())).collect()
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// A model file, or a name from the library (file name, repository or quantization); with
    /// --endpoint, a model id the endpoint lists (`hearth ls --remote`).
    pub model: String,
    pub prompt: String,
    #[command(flatten)]
    pub options: SamplingArgs,
    /// Also print, per device, the memory the plan predicted and what llama.cpp allocated.
    #[arg(long)]
    pub verbose: bool,
    /// Run on another machine: a connection saved in Settings → Connections (its name), or the
    /// address of an OpenAI- or Anthropic-compatible server (http://HOST:PORT).
    #[arg(long, value_name = "NAME_OR_URL")]
    pub endpoint: Option<String>,
    /// With an --endpoint address: the key it wants. Also read from HEARTH_REMOTE_KEY.
    #[arg(long, env = "HEARTH_REMOTE_KEY", hide_env_values = true, requires = "endpoint")]
    pub api_key: Option<String>,
    /// With an --endpoint address: the API it speaks.
    #[arg(long, value_enum, default_value = "openai", requires = "endpoint")]
    pub api: crate::remote::Api,
}

#[derive(Args, Debug)]
pub struct ChatArgs {
    /// A model file, or a name from the library (file name, repository or quantization).
    pub model: String,
    #[command(flatten)]
    pub options: SamplingArgs,
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

async fn load(model: &str, ctx: Option<u32>, run_on: &loading::RunOnArgs, verbose: bool) -> anyhow::Result<std::sync::Arc<EngineHost>> {
    let path = loading::resolve(model)?;
    let planned = loading::plan(&path, ctx, run_on)?;
    let (host, loaded) = loading::load(&path, &planned, None).await?;
    if verbose {
        eprint!("{}", loading::memory_report(&loaded.plan, &loaded.info));
    }
    Ok(host)
}

/// How a streamed reply ended.
pub enum Reply {
    Done(String, GenerationStats),
    /// Ctrl-C: the text so far (the caller stops the reply's source).
    Interrupted(String),
}

/// Writes a reply to stdout as it comes, from the model here or on another machine: the one
/// place the CLI turns `ReplyEvent`s into text. Ctrl-C ends it early (`Interrupted`); the caller
/// then stops the source.
pub async fn print_reply(events: &mut tokio::sync::mpsc::Receiver<ReplyEvent>) -> anyhow::Result<Reply> {
    let mut text = String::new();
    let mut stdout = std::io::stdout();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Some(ReplyEvent::Text(t)) => {
                    text.push_str(&t);
                    stdout.write_all(t.as_bytes())?;
                    stdout.flush()?;
                }
                // Log-probabilities are not asked for, and the CLI offers no tools (no calls come).
                Some(ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_) | ReplyEvent::Call { .. }) => {}
                Some(ReplyEvent::Done(stats)) => {
                    println!();
                    return Ok(Reply::Done(text, stats));
                }
                Some(ReplyEvent::Failed(e)) => {
                    if !text.is_empty() {
                        println!();
                    }
                    return Err(anyhow::Error::msg(e.message));
                }
                None => anyhow::bail!("the reply stopped in the middle"),
            },
            _ = &mut ctrl_c => {
                println!();
                return Ok(Reply::Interrupted(text));
            }
        }
    }
}

/// Streams one reply from the engine to stdout. On Ctrl-C the generation is cancelled and waited
/// for (briefly), so the engine is idle again when this returns.
async fn stream(host: &EngineHost, messages: &[ChatMessage], sampling: &SamplingParams) -> anyhow::Result<Reply> {
    let params = GenerateParams {
        prompt: Prompt::Chat(messages.to_vec()),
        sampling: sampling.clone(),
        context_overflow: ContextOverflow::DropOldest,
        model: None,
        constraint: None,
        logprobs: None,
        tools: None,
    };
    let mut generation = host.generate(params).await?;
    let reply = print_reply(&mut generation.events).await?;
    if let Reply::Interrupted(_) = &reply {
        host.cancel(generation.id).await;
        let drained = tokio::time::timeout(std::time::Duration::from_secs(2), async {
            while let Some(event) = generation.events.recv().await {
                if matches!(event, ReplyEvent::Done(_) | ReplyEvent::Failed(_)) {
                    break;
                }
            }
        });
        let _ = drained.await;
    }
    Ok(reply)
}

/// One line of figures for a finished reply.
pub fn stats_line(s: &GenerationStats) -> String {
    let reason = match s.stop_reason {
        StopReason::Eos => "end of turn",
        StopReason::MaxTokens => "max tokens",
        StopReason::Stop => "stop string",
        StopReason::Cancelled => "cancelled",
        StopReason::ContextFull => "context full",
    };
    let prompt_tps = if s.prompt_ms > 0.0 { f64::from(s.prompt_tokens) * 1000.0 / s.prompt_ms } else { 0.0 };
    format!(
        "{} tokens · {:.1} tokens/s · first token {:.0} ms · prompt {} tokens ({} reused) at {:.0} tokens/s · stopped: {reason}",
        s.generated_tokens,
        s.tokens_per_second.unwrap_or(0.0),
        s.time_to_first_token_ms,
        s.prompt_tokens_total,
        s.reused_prefix_tokens,
        prompt_tps
    )
}

pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(name_or_url) = &args.endpoint {
        let endpoint = crate::remote::endpoint(name_or_url, args.api_key.clone(), args.api)?;
        let mut messages = args.options.start();
        messages.push(ChatMessage::new(ChatRole::User, args.prompt.clone()));
        return crate::remote::run(&endpoint, &args.model, &messages, &args.options.sampling());
    }
    runtime()?.block_on(async {
        let host = load(&args.model, args.options.ctx, &args.options.run_on, args.verbose).await?;
        let mut messages = args.options.start();
        messages.push(ChatMessage::new(ChatRole::User, args.prompt.clone()));
        match stream(&host, &messages, &args.options.sampling()).await? {
            Reply::Done(_, stats) => {
                eprintln!("{}", stats_line(&stats));
                host.unload().await.ok();
                Ok(ExitCode::SUCCESS)
            }
            Reply::Interrupted(_) => {
                eprintln!("Interrupted.");
                host.unload().await.ok();
                Ok(ExitCode::from(INTERRUPTED))
            }
        }
    })
}

pub fn chat(args: &ChatArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let host = load(&args.model, args.options.ctx, &args.options.run_on, false).await?;
        eprintln!("Type a message; /reset starts over, /exit or Ctrl-D ends.");
        let sampling = args.options.sampling();
        let mut messages = args.options.start();
        // Lines come from a thread, so a Ctrl-C while waiting for one can still be seen.
        let (tx, mut lines) = tokio::sync::mpsc::channel::<String>(1);
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        });
        let code = loop {
            eprint!("> ");
            std::io::stderr().flush().ok();
            let line = tokio::select! {
                line = lines.recv() => line,
                _ = tokio::signal::ctrl_c() => {
                    eprintln!();
                    break ExitCode::from(INTERRUPTED);
                }
            };
            let Some(line) = line else {
                eprintln!();
                break ExitCode::SUCCESS;
            };
            match line.trim() {
                "" => continue,
                "/exit" | "/quit" | "/bye" => break ExitCode::SUCCESS,
                "/reset" => {
                    messages = args.options.start();
                    eprintln!("(a new conversation)");
                    continue;
                }
                _ => {}
            }
            messages.push(ChatMessage::new(ChatRole::User, line));
            match stream(&host, &messages, &sampling).await.context("the reply failed")? {
                Reply::Done(text, stats) => {
                    messages.push(ChatMessage::new(ChatRole::Assistant, text));
                    eprintln!("{}", stats_line(&stats));
                }
                Reply::Interrupted(text) => {
                    // What was said stays in the conversation, as it was seen.
                    messages.push(ChatMessage::new(ChatRole::Assistant, text));
                    eprintln!("(stopped)");
                }
            }
        };
        host.unload().await.ok();
        Ok(code)
    })
}
