//! `hearth serve`: the OpenAI-compatible server without a window, for a GPU box in a closet or a
//! rented cloud machine. The same server and engine as the app's Server view; models are the
//! library's (the models folder, the Hugging Face cache, LM Studio's folder). Prints the address on
//! stdout (so scripts can read it) and runs until Ctrl-C or SIGTERM, then stops cleanly (exit 0).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use server::{Backend, EngineBackend, ModelEntry, ServerConfig};

use crate::loading;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The address to listen on. Anything but 127.0.0.1 / localhost needs --api-key.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// The port; 0 picks a free one (printed at start).
    #[arg(long, default_value_t = 1234)]
    pub port: u16,
    /// Load this model (a path or a library name) before answering the first request.
    #[arg(long)]
    pub model: Option<String>,
    /// Clients must send `Authorization: Bearer KEY`. Also read from HEARTH_API_KEY.
    #[arg(long, env = "HEARTH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// A browser origin allowed to call the server (CORS); repeat for several. None by default.
    #[arg(long = "cors")]
    pub cors: Vec<String>,
    /// Answer only with the model loaded at start; never load another on request.
    #[arg(long)]
    pub no_auto_load: bool,
    /// Unload a model after this many minutes without a request.
    #[arg(long, default_value_t = 10)]
    pub idle_minutes: u64,
    /// Requests that may wait while one generates; more get 429.
    #[arg(long, default_value_t = 4)]
    pub queue: usize,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let config = ServerConfig {
        host: args.host.clone(),
        port: args.port,
        api_key: args.api_key.clone().filter(|k| !k.trim().is_empty()),
        allowed_origins: args.cors.clone(),
        auto_load: !args.no_auto_load,
        idle_ttl: Duration::from_secs(args.idle_minutes.max(1) * 60),
        queue_limit: args.queue,
        ..ServerConfig::default()
    };
    // A bad address or a missing key is said before anything loads.
    config.validate()?;
    let model = args.model.as_deref().map(loading::resolve).transpose()?;

    let home = home::Home::resolve()?;
    let store = store::Store::open(&home.database_path()).context("opening Hearth's database")?;
    let models_dir = library::settings::models_dir(&store, &home.models_dir());
    let mut hw = EngineBackend::probe_hardware(&models_dir);
    hw.speed_calibration = hardware::calibration::load(home.root());
    let mut folders = vec![(models_dir, store::ModelSource::Downloaded)];
    folders.extend(library::known_folders());
    let mut entries: Vec<ModelEntry> = library::list(&store, &folders, &hw)?
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
    let backend = Arc::new(EngineBackend::new(Arc::new(loading::host()?), entries, hw));

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
