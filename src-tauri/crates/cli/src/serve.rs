//! `hearth serve`: the OpenAI-compatible server without a window, for a GPU box in a closet or a
//! rented cloud machine. The same server and engine as the app's Server view; models are the
//! library's (the models folder, the Hugging Face cache, LM Studio's folder). Prints the address on
//! stdout (so scripts can read it) and runs until Ctrl-C or SIGTERM, then stops cleanly (exit 0).
//! The API key comes from `--api-key`, `HEARTH_API_KEY` or `--api-key-file` (the last keeps it out
//! of `ps` and of the environment).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use server::{Backend, EngineBackend, ModelEntry, ServerConfig};

use crate::loading;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on. Anything but 127.0.0.1 / localhost needs an API key.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 1234)]
    pub port: u16,
    /// Load this model (a path or a library name) before answering the first request.
    #[arg(long)]
    pub model: Option<String>,
    /// Clients must send `Authorization: Bearer KEY`. Also read from HEARTH_API_KEY, or see
    /// --api-key-file.
    #[arg(long, env = "HEARTH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Read the API key from this file's first line: the key, or its digest `sha256:HEX` (then
    /// the file holds nothing a client could use). Keeps the key out of `ps` and the environment.
    #[arg(long, value_name = "PATH")]
    pub api_key_file: Option<PathBuf>,
    /// A host name clients reach the server by (the `Host` they send), besides localhost,
    /// 127.0.0.1 and [::1]; repeat for several. Others are refused, unless there is an API key
    /// and none is listed.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<String>,
    /// A browser origin allowed to call the server (CORS); repeat for several. None by default.
    #[arg(long = "cors")]
    pub cors: Vec<String>,
    /// Answer only with the model loaded at start; never load another on request.
    #[arg(long)]
    pub no_auto_load: bool,
    /// Unload a model after this many minutes without a request.
    #[arg(long, default_value_t = 10)]
    pub idle_minutes: u64,
    /// Requests that may wait while every slot is writing a reply; more get 429.
    #[arg(long, default_value_t = 4)]
    pub queue: usize,
    /// Replies a model writes at once (slots), each with the whole context; by default as many
    /// (up to 4) as fit beside the model without costing context or GPU layers.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    pub parallel: Option<u32>,
    /// The longest reply, in tokens: requests that ask for more, or name no limit, get this many
    /// at most. By default a reply may run until the context is full, as with OpenAI's API.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: Option<u32>,
    /// Context length in tokens for every model this server loads (per reply slot), over the
    /// model's saved setting; by default the saved one, else the model's up to its cap.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(256..))]
    pub ctx: Option<u32>,
    #[command(flatten)]
    pub run_on: crate::loading::RunOnArgs,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    if args.run_on.force {
        // Nobody is there to read a warning before a request loads a model.
        anyhow::bail!("--force is for run, chat and bench: the server never loads a model that will not fit");
    }
    let mut config = ServerConfig {
        host: args.host.clone(),
        port: args.port,
        api_key: api_key(args)?,
        allowed_origins: args.cors.clone(),
        allowed_hosts: args.allowed_hosts.clone(),
        auto_load: !args.no_auto_load,
        idle_ttl: Duration::from_secs(args.idle_minutes.max(1) * 60),
        queue_limit: args.queue,
        max_reply_tokens: args.max_tokens,
        ..ServerConfig::default()
    };
    // A bad address or a missing key is said before anything loads.
    config.validate()?;
    let model = args.model.as_deref().map(loading::resolve).transpose()?;

    // The library as My Models lists it, and the runtime as the window's: one assembly.
    let hearth = loading::hearth()?;
    // Stored responses (the Responses API) in Hearth's database, kept across restarts.
    config.responses_db = Some(hearth.home.database_path());
    let mut entries: Vec<ModelEntry> = hearth
        .models()?
        .into_iter()
        .filter(|m| m.plan.is_some())
        .map(|m| match m.repo.as_deref() {
            Some(repo) => ModelEntry::from_repo(repo, &m.path),
            None => ModelEntry::from_path(&m.path),
        })
        .collect();
    if let Some(path) = &model {
        if !entries.iter().any(|e| same_file(&e.path, path)) {
            entries.push(ModelEntry::from_path(path));
        }
    }
    let startup_id = model.as_ref().and_then(|p| entries.iter().find(|e| same_file(&e.path, p)).map(|e| e.id.clone()));
    let count = entries.len();
    let runtime = hearth.runtime.clone();
    // Each load plans with the person's saved choices for that model, as in the window, except
    // where a flag here says otherwise.
    let (flags, saved, parallel, ctx) = (args.run_on.clone(), hearth.store.clone(), args.parallel, args.ctx);
    runtime.set_load_settings(Arc::new(move |path: &Path| {
        let mine = flags.over(library::settings::load_settings(&saved, Some(path)));
        types::LoadSettings { parallel: parallel.or(mine.parallel), context: ctx.or(mine.context), ..mine }
    }));
    let backend = Arc::new(EngineBackend::new(runtime, entries));

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        if let Some(id) = &startup_id {
            eprintln!("Loading {id}…");
            backend.ensure_loaded(id, true).await.map_err(|e| anyhow::anyhow!(e.message))?;
        }
        let mut running = server::serve(config, backend.clone()).await?;
        let addr = running.addr();
        println!("http://{addr}/v1");
        eprintln!(
            "Hearth is serving {count} model{} at http://{addr}/v1{}. Ctrl-C stops it.",
            if count == 1 { "" } else { "s" },
            backend.loaded().map(|m| format!(" ({m} loaded)")).unwrap_or_default()
        );
        if count == 0 {
            eprintln!("No models yet: `hearth pull ORG/NAME:QUANT` one, or start with --model PATH.");
        }
        tokio::select! {
            _ = shutdown_signal() => {
                eprintln!("Stopping…");
                running.stop().await;
            }
            _ = running.stopped() => bail!("the server stopped on its own"),
        }
        Ok(())
    })
}

/// The key from `--api-key` / `HEARTH_API_KEY`, or from `--api-key-file`; not both.
fn api_key(args: &ServeArgs) -> anyhow::Result<Option<String>> {
    let given = args.api_key.clone().filter(|k| !k.trim().is_empty());
    let Some(path) = &args.api_key_file else { return Ok(given) };
    if given.is_some() {
        bail!("--api-key-file and --api-key (or HEARTH_API_KEY) both give a key; give it one way");
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading the API key from {}", path.display()))?;
    let key = text.lines().next().unwrap_or_default().trim();
    if key.is_empty() {
        bail!("{} holds no API key (its first line is empty)", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
        if mode & 0o077 != 0 && !server::KeyDigest::looks_stored(key) {
            eprintln!("Warning: other users can read {} (chmod 600 it).", path.display());
        }
    }
    Ok(Some(key.to_string()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Ctrl-C, or SIGTERM (systemd, docker stop).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
