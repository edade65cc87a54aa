//! `hearth run MODEL "prompt"` and `hearth chat MODEL`: a reply streamed to stdout as it is
//! generated, with the model's chat template applied by the engine; load progress and one line of
//! figures per reply on stderr. Ctrl-C cancels the reply in the engine before anything exits. The
//! chat keeps the conversation, so the engine reuses its K/V cache for everything but the new turn.

use std::io::{BufRead as _, Write as _};
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use engine::{EngineHost, GenerateParams, Prompt, ReplyEvent};
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
    /// A picture (PNG, JPEG, WebP or GIF) for the model to read before the prompt; several may be
    /// given. The model must have its projector (an mmproj file) beside it.
    #[arg(long, value_name = "FILE")]
    pub image: Vec<std::path::PathBuf>,
    /// A document (PDF, DOCX, EPUB, HTML, Markdown, text or source code) for the model to read
    /// whole before the prompt; several may be given. When the documents do not fit the context
    /// with the prompt and room for the reply, nothing is sent and Hearth says by how much, and
    /// which --ctx would hold them if one runs well here. Never cut to fit.
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<std::path::PathBuf>,
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
    /// Offer the model the tools of these MCP servers of mcp.json (all of them when none is
    /// named). Each call asks on the terminal first, unless allowed for good (as in the window).
    #[arg(long, value_name = "SERVER", num_args = 0..)]
    pub mcp: Option<Vec<String>>,
    /// With --mcp: hold the model's first answer of each reply to a call of this tool (or of any
    /// tool: `required`), for models too small to call tools of their own accord.
    #[arg(long, value_name = "TOOL", requires = "mcp")]
    pub call_first: Option<String>,
}


async fn load(
    model: &str,
    ctx: Option<u32>,
    run_on: &loading::RunOnArgs,
    verbose: bool,
) -> anyhow::Result<(std::sync::Arc<EngineHost>, types::LoadedModelInfo)> {
    let path = loading::resolve(model)?;
    let planned = loading::plan(&path, ctx, run_on)?;
    let (host, loaded) = loading::load(&path, &planned, None).await?;
    if verbose {
        eprint!("{}", loading::memory_report(&loaded.plan, &loaded.info));
    }
    Ok((host, loaded.info))
}

/// How a streamed reply ended.
pub enum Reply {
    /// Its text, figures, and the calls it made (name and arguments) when tools were offered.
    Done(String, GenerationStats, Vec<(String, String)>),
    /// Ctrl-C: the text so far (the caller stops the reply's source).
    Interrupted(String),
}

/// Writes a reply to stdout as it comes, from the model here or on another machine: the one
/// place the CLI turns `ReplyEvent`s into text. Ctrl-C ends it early (`Interrupted`); the caller
/// then stops the source.
pub async fn print_reply(events: &mut tokio::sync::mpsc::Receiver<ReplyEvent>) -> anyhow::Result<Reply> {
    let mut text = String::new();
    let mut calls: Vec<(String, String)> = Vec::new();
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
                Some(ReplyEvent::Call { name: Some(name), arguments, .. }) => calls.push((name, arguments)),
                Some(ReplyEvent::Call { name: None, arguments, .. }) => {
                    if let Some(last) = calls.last_mut() {
                        last.1.push_str(&arguments);
                    }
                }
                // Log-probabilities are not asked for.
                Some(ReplyEvent::Started { .. } | ReplyEvent::Logprobs(_)) => {}
                Some(ReplyEvent::Done(stats)) => {
                    println!();
                    return Ok(Reply::Done(text, stats, calls));
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
async fn stream(
    host: &EngineHost,
    messages: &[ChatMessage],
    sampling: &SamplingParams,
    tools: Option<(&[mcp::Offered], Option<&str>)>,
) -> anyhow::Result<Reply> {
    let (tools, constraint) = match tools {
        Some((offered, first)) => (chat::tool_functions(offered), chat::forced_call(offered, first)),
        None => (None, None),
    };
    let params = GenerateParams {
        prompt: Prompt::Chat(messages.to_vec()),
        sampling: sampling.clone(),
        context_overflow: ContextOverflow::DropOldest,
        model: None,
        constraint,
        logprobs: None,
        tools,
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
    let pictures = if s.image_tokens > 0 { format!(" ({} from pictures, encoded in {:.0} ms)", s.image_tokens, s.image_ms) } else { String::new() };
    format!(
        "{} tokens · {:.1} tokens/s · first token {:.0} ms · prompt {} tokens{pictures} ({} reused) at {:.0} tokens/s · stopped: {reason}",
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
        if !args.image.is_empty() || !args.attach.is_empty() {
            anyhow::bail!("--image and --attach work with a model on this machine; an --endpoint is sent the prompt only.");
        }
        let endpoint = crate::remote::endpoint(name_or_url, args.api_key.clone(), args.api)?;
        let mut messages = args.options.start();
        messages.push(ChatMessage::new(ChatRole::User, args.prompt.clone()));
        return crate::remote::run(&endpoint, &args.model, &messages, &args.options.sampling());
    }
    crate::loading::runtime()?.block_on(async {
        // Pictures are read before the model loads: a file that is not one is said at once.
        let pictures = args.image.iter().map(|p| std::fs::read(p).with_context(|| format!("cannot read {}", p.display())).map(|b| (p, b))).collect::<anyhow::Result<Vec<_>>>()?;
        // So are documents, each in a copy of this program (a hostile PDF stops only that copy).
        let documents = read_documents(&args.attach)?;
        let (host, info) = load(&args.model, args.options.ctx, &args.options.run_on, args.verbose).await?;
        let prompt = with_documents(&host, &info, &documents, args).await?;
        let side = info.vision.as_ref().map_or(images::DEFAULT_SIDE, |v| v.image_side);
        let images = pictures
            .iter()
            .map(|(path, bytes)| images::read(bytes, side, 0).map_err(|e| anyhow::anyhow!("{}: {}", path.display(), types::Problem::sentence(&e, types::Audience::Person))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut messages = args.options.start();
        messages.push(ChatMessage { images, ..ChatMessage::new(ChatRole::User, prompt) });
        match stream(&host, &messages, &args.options.sampling(), None).await? {
            Reply::Done(_, stats, _) => {
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

fn read_documents(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<documents::Document>> {
    if paths.is_empty() {
        return Ok(Vec::new());
    }
    let reader = documents::Reader::this_executable()?;
    let go = std::sync::atomic::AtomicBool::new(false);
    paths.iter().map(|p| reader.read_file(p, &go).map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))).collect()
}

/// The prompt with the documents before it, whole, when they fit the loaded context with the
/// prompt and room for the reply (`documents::whole`); else an error that says by how much, and
/// the context that would hold them when the planner says it runs well here.
async fn with_documents(host: &EngineHost, info: &types::LoadedModelInfo, docs: &[documents::Document], args: &RunArgs) -> anyhow::Result<String> {
    use documents::whole::{context_for, render, reply_room, whole, Whole};
    if docs.is_empty() {
        return Ok(args.prompt.clone());
    }
    let rendered: Vec<String> = docs.iter().map(render).collect();
    let mut counts = Vec::new();
    for text in &rendered {
        counts.push(u32::try_from(host.tokenize(text, false).await?.len()).unwrap_or(u32::MAX));
    }
    let mut conversation = host.tokenize(&args.prompt, false).await?.len();
    if let Some(system) = &args.options.system {
        conversation += host.tokenize(system, false).await?.len() + documents::whole::TEMPLATE_TOKENS as usize;
    }
    let conversation = u32::try_from(conversation).unwrap_or(u32::MAX);
    let context = info.n_ctx;
    let reply = reply_room(context, args.options.max_tokens);
    match whole(context, conversation, &counts, reply) {
        Whole::Fits { .. } => {
            for (doc, tokens) in docs.iter().zip(&counts) {
                let pages = if doc.pages.is_empty() { String::new() } else { format!("{} pages, ", doc.pages.len()) };
                eprintln!("hearth: {} read whole ({pages}{} tokens)", doc.name, crate::format::count(u64::from(*tokens)));
                for (page, why) in &doc.unread_pages {
                    eprintln!("hearth: warning: {} page {page} could not be read: {why}", doc.name);
                }
            }
            Ok(format!("{}\n\n{}", rendered.join("\n\n"), args.prompt))
        }
        Whole::TooLong { needed, context } => {
            let names = docs.iter().zip(&counts).map(|(d, t)| format!("{} ({} tokens)", d.name, crate::format::count(u64::from(*t)))).collect::<Vec<_>>().join(", ");
            let mut sentence = format!(
                "{names} with the prompt and room for the reply need {} tokens; the context is {}. Nothing was sent (documents are never cut to fit).",
                crate::format::count(needed),
                crate::format::count(u64::from(context))
            );
            // At a larger context the default room for the reply grows too (a quarter of it, up to
            // 1,024): the smallest context that holds everything with its own room.
            let rest = needed - u64::from(reply);
            let larger = (0..3).fold(context_for(needed), |c, _| context_for(rest + u64::from(reply_room(u32::try_from(c).unwrap_or(u32::MAX), args.options.max_tokens))));
            let offer = match u32::try_from(larger) {
                Ok(larger) if larger <= info.n_ctx_train => {
                    // A planner that cannot say leaves the sentence without the offer, not in its place.
                    let plan = crate::loading::resolve(&args.model).ok().and_then(|p| crate::loading::plan_at(&p, Some(larger), &args.options.run_on).ok());
                    match plan {
                        Some((_, plan)) if plan.verdict == types::Verdict::Green => {
                            format!(" --ctx {larger} would hold them, and runs well here ({} in all).", crate::format::size(plan.total_bytes))
                        }
                        Some((_, plan)) => format!(" --ctx {larger} would hold them, but not well here: {} ({}). Attach the part you need.", plan.label, plan.reason),
                        None => format!(" --ctx {larger} would hold them (whether it runs well here could not be planned)."),
                    }
                }
                _ => format!(" The model reads at most {} tokens: attach the part you need.", crate::format::count(u64::from(info.n_ctx_train))),
            };
            sentence.push_str(&offer);
            anyhow::bail!(sentence)
        }
    }
}

pub fn chat(args: &ChatArgs) -> anyhow::Result<ExitCode> {
    crate::loading::runtime()?.block_on(async {
        let (host, info) = load(&args.model, args.options.ctx, &args.options.run_on, false).await?;
        let tools = match &args.mcp {
            Some(names) => Some(Tools::start(names).await?),
            None => None,
        };
        if tools.is_some() && !info.takes_tools {
            eprintln!("{} --call-first TOOL holds its first answer to a call.", chat::NO_TOOLS_IN_TEMPLATE);
        }
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
        let talked = async {
            anyhow::Ok(loop {
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
                // Round after round while the model calls tools; the last round offers none.
                let mut round = 0;
                loop {
                    let offer = tools
                        .as_ref()
                        .filter(|_| round < chat::MAX_TOOL_ROUNDS)
                        .map(|t| (&t.offered[..], if round == 0 { args.call_first.as_deref() } else { None }));
                    match stream(&host, &messages, &sampling, offer).await.context("the reply failed")? {
                        Reply::Done(text, stats, calls) => {
                            let mut turn = ChatMessage::new(ChatRole::Assistant, text);
                            eprintln!("{}", stats_line(&stats));
                            let Some(tools) = tools.as_ref().filter(|_| !calls.is_empty()) else {
                                messages.push(turn);
                                break;
                            };
                            let mut answers = Vec::new();
                            for (i, (name, arguments)) in calls.into_iter().enumerate() {
                                let id = format!("call_{round}_{i}");
                                let answer = tools.call(&name, &arguments, &mut lines).await;
                                turn.tool_calls.push(types::ToolCall { id: id.clone(), name, arguments });
                                let mut reply = ChatMessage::new(ChatRole::Tool, answer);
                                reply.tool_call_id = Some(id);
                                answers.push(reply);
                            }
                            messages.push(turn);
                            messages.extend(answers);
                            round += 1;
                        }
                        Reply::Interrupted(text) => {
                            // What was said stays in the conversation, as it was seen.
                            messages.push(ChatMessage::new(ChatRole::Assistant, text));
                            eprintln!("(stopped)");
                            break;
                        }
                    }
                }
            })
        };
        let code = talked.await;
        // The servers go whatever ended the chat, an error included.
        if let Some(tools) = tools {
            tools.servers.stop_all().await;
        }
        host.unload().await.ok();
        code
    })
}

/// The MCP servers `hearth chat --mcp` offers the model tools from, and the person's standing
/// answers (the window's: the same database).
struct Tools {
    servers: std::sync::Arc<mcp::Servers>,
    offered: Vec<mcp::Offered>,
    store: std::sync::Arc<store::Store>,
}

impl Tools {
    async fn start(names: &[String]) -> anyhow::Result<Self> {
        let hearth = loading::hearth()?;
        if let Some(e) = hearth.mcp.file_error() {
            anyhow::bail!(e.to_string());
        }
        let servers = hearth.mcp.clone();
        let statuses = servers.statuses();
        for name in names {
            if !statuses.iter().any(|s| &s.name == name) {
                anyhow::bail!("There is no MCP server named `{name}` in mcp.json (`hearth mcp ls` lists them).");
            }
        }
        // Only the servers named (all of them when none is).
        let wanted: Vec<String> = if names.is_empty() { statuses.iter().map(|s| s.name.clone()).collect() } else { names.to_vec() };
        futures_util::future::join_all(wanted.iter().map(|name| servers.start(name))).await;
        for s in servers.statuses().iter().filter(|s| wanted.contains(&s.name)) {
            match &s.state {
                mcp::State::Ready { tools } => eprintln!("{}: {tools} tools", s.name),
                mcp::State::Failed { reason } => eprintln!("{}: {reason}", s.name),
                _ => {}
            }
        }
        let offered = servers.offered((!names.is_empty()).then_some(names));
        if offered.is_empty() {
            anyhow::bail!("No tools: none of these MCP servers is ready.");
        }
        Ok(Self { servers, offered, store: hearth.store.clone() })
    }

    /// One call: asked on the terminal unless allowed for good, then run; what the model reads.
    async fn call(&self, name: &str, arguments: &str, lines: &mut tokio::sync::mpsc::Receiver<String>) -> String {
        let Some(o) = self.offered.iter().find(|o| o.model_name == name) else {
            return format!("There is no tool named `{name}` here.");
        };
        let mut permissions = chat::Permissions::read(&self.store);
        if !permissions.runs_unasked(&o.server, &o.tool) {
            let hint = if o.tool.destructive { " (it may change or delete things)" } else { "" };
            eprint!("Run {} › {} {arguments}{hint}? [y]es once, [a]lways, [N]o: ", o.server, o.tool.name);
            std::io::stderr().flush().ok();
            // Ctrl-C here is a no.
            let answer = tokio::select! {
                line = lines.recv() => line,
                _ = tokio::signal::ctrl_c() => None,
            };
            match answer.map(|l| l.trim().to_lowercase()).as_deref() {
                Some("y" | "yes") => {}
                Some("a" | "always") => {
                    permissions.always.insert((o.server.clone(), o.tool.name.clone()));
                    if let Err(e) = permissions.write(&self.store) {
                        eprintln!("hearth: {}", types::HearthError::from(e).message);
                    }
                }
                _ => {
                    eprintln!("(denied)");
                    return chat::TOOL_DENIED.into();
                }
            }
        }
        // Ctrl-C stops the call (on the server too) and the model reads that it was stopped.
        let (state, result, images) = tokio::select! {
            ran = chat::run_tool(&self.servers, o, arguments) => ran,
            _ = tokio::signal::ctrl_c() => (types::ToolCallState::Stopped, chat::TOOL_STOPPED.to_string(), Vec::new()),
        };
        let shown: String = result.chars().take(400).collect();
        eprintln!(
            "[{} › {}: {}] {shown}{}",
            o.server,
            o.tool.name,
            format!("{state:?}").to_lowercase(),
            if shown.len() < result.len() { " …" } else { "" }
        );
        if !images.is_empty() {
            eprintln!("({} image{} the model cannot see)", images.len(), if images.len() == 1 { "" } else { "s" });
        }
        result
    }
}
