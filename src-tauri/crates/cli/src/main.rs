//! `hearth`: Hearth without a window. Each subcommand is a thin layer over the crates the desktop app
//! uses, so the two always agree. Started with `--engine-worker` first, it is the engine's worker
//! process instead (the host of `run`, `chat` and `bench` starts it that way).

mod bench;
mod fit;
mod format;
mod loading;
mod mcp;
mod models;
mod probe;
mod remote;
mod run;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "hearth", version, about = "Run AI models on your own computer, without a window.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show this machine's CPU, memory, GPUs and models disk, and what it is good for.
    Probe {
        /// Print the profile as JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Will a model file run here? The verdict, the load plan, the memory per device and the speed.
    Fit(fit::FitArgs),
    /// Search the Hugging Face Hub for GGUF models.
    Search(models::SearchArgs),
    /// Download a model: ORG/NAME[:QUANT]. Resumes where an earlier pull stopped.
    Pull(models::PullArgs),
    /// List the model files on this machine, with their fit for it.
    Ls {
        /// List the models of the connections saved in Settings → Connections instead.
        #[arg(long)]
        remote: bool,
        /// Every model as JSON: what the window's My Models lists, with its plan.
        #[arg(long, conflicts_with = "remote")]
        json: bool,
    },
    /// Answer one prompt: the reply streams to stdout, progress and figures go to stderr. With
    /// --endpoint, a model on another machine answers.
    Run(run::RunArgs),
    /// Talk with a model: one line per message; /reset starts over, /exit or Ctrl-D ends.
    Chat(run::ChatArgs),
    /// Prompt processing and generation speed, measured as llama.cpp's llama-bench does.
    Bench(bench::BenchArgs),
    /// Serve the OpenAI-compatible API on this machine.
    ///
    /// Endpoints: POST /v1/chat/completions and /v1/completions (streaming, response_format
    /// json_object / json_schema, tools, logprobs), POST /v1/embeddings, GET /v1/models and
    /// /v1/models/{id}; POST /v1/responses (stored for previous_response_id), GET and DELETE
    /// /v1/responses/{id}; Anthropic's POST /v1/messages and /v1/messages/count_tokens; Hearth's own:
    /// GET /api/models (each model loaded or not, and its fit here), POST /api/models/load and
    /// /api/models/unload with {"model": NAME}.
    Serve(serve::ServeArgs),
    /// The MCP servers (tools) of Hearth's mcp.json: ls, call, add, import.
    Mcp(mcp::McpArgs),
}

fn main() -> ExitCode {
    // Before clap: the worker's stdin and stdout carry the engine's frames, nothing else.
    if std::env::args().nth(1).as_deref() == Some(loading::WORKER_FLAG) {
        return engine::run_worker();
    }
    // A copy started to read a document (`--attach`) does only that, in its own limits.
    if std::env::args().nth(1).as_deref() == Some(documents::READER_FLAG) {
        return documents::run_reader();
    }
    hardware::quiet_headless_vulkan();
    // CPU backend variants that trapped on this machine stay left out, as in the app.
    if let Ok(home) = home::Home::resolve() {
        engine::devices::avoided::remember_in(home.root().join(engine::devices::avoided::FILE));
    }
    let cli = Cli::parse();
    let done = |r: anyhow::Result<()>| r.map(|()| ExitCode::SUCCESS);
    let result = match cli.command {
        Command::Probe { json } => done(probe::run(json)),
        Command::Fit(args) => done(fit::run(&args)),
        Command::Search(args) => done(models::search(&args)),
        Command::Pull(args) => done(models::pull(&args)),
        Command::Ls { remote: false, json } => done(models::ls(json)),
        Command::Ls { remote: true, .. } => done(remote::ls()),
        Command::Run(args) => run::run(&args),
        Command::Chat(args) => run::chat(&args),
        Command::Bench(args) => bench::run(&args),
        Command::Serve(args) => done(serve::run(&args)),
        Command::Mcp(args) => mcp::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            // One line: the chain of causes, joined.
            eprintln!("hearth: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
