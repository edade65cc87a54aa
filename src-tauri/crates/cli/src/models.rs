//! `hearth search`, `hearth pull`, `hearth ls`: the Hub and the library from a terminal.

use std::io::Write as _;
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::Args;
use hub::download::Options;
use hub::{HubClient, Sort};
use library::{pick, quant_of, Downloads};
use store::Store;
use types::DownloadState;

use crate::format::{params, size};

#[derive(Args, Debug)]
pub struct SearchArgs {
    pub query: String,
    /// downloads, likes, trending or updated.
    #[arg(long, default_value = "downloads")]
    pub sort: String,
    #[arg(long, default_value_t = 20)]
    pub limit: u32,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// ORG/NAME, or ORG/NAME:QUANT to pick a quantization (Q4_K_M, Q8_0, …). Without one, the
    /// file the window's Discover view recommends for this machine.
    pub model: String,
    #[arg(long, default_value = "main")]
    pub revision: String,
}


pub fn search(args: &SearchArgs) -> anyhow::Result<()> {
    let sort = match args.sort.as_str() {
        "downloads" => Sort::Downloads,
        "likes" => Sort::Likes,
        "trending" => Sort::Trending,
        "updated" => Sort::Updated,
        other => bail!("unknown sort {other:?}: use downloads, likes, trending or updated"),
    };
    let client = match home::Home::resolve().ok().and_then(|h| Store::open(&h.database_path()).ok().map(|s| (h, s))) {
        Some((home, store)) => library::settings::hub_client(&store, &library::TokenStore::for_home(home.root()))?,
        None => HubClient::from_env()?,
    };
    let page = crate::loading::runtime()?.block_on(client.search(&args.query, sort, args.limit.clamp(1, 100)))?;
    if page.models.is_empty() {
        println!("No GGUF models match {:?}.", args.query);
        return Ok(());
    }
    println!("{:<52} {:>10} {:>7} {:>8}  {}", "MODEL", "DOWNLOADS", "LIKES", "PARAMS", "ARCH");
    for m in &page.models {
        let g = m.gguf.as_ref();
        println!(
            "{:<52} {:>10} {:>7} {:>8}  {}{}",
            m.id,
            m.downloads,
            m.likes,
            g.and_then(|g| g.total).map(params).unwrap_or_default(),
            g.and_then(|g| g.architecture.clone()).unwrap_or_default(),
            if m.gated { "  (gated)" } else { "" }
        );
    }
    Ok(())
}

pub fn pull(args: &PullArgs) -> anyhow::Result<()> {
    let (repo, quant) = match args.model.split_once(':') {
        Some((r, q)) => (r.to_string(), Some(q.to_string())),
        None => (args.model.clone(), None),
    };
    if repo.split('/').count() != 2 {
        bail!("name the model as ORG/NAME[:QUANT], for example bartowski/Qwen2.5-7B-Instruct-GGUF:Q4_K_M");
    }
    let home = home::Home::resolve()?;
    let store = Arc::new(Store::open(&home.database_path()).context("opening Hearth's database")?);
    // The Hub and token from Settings (the environment's HF_ENDPOINT / HF_TOKEN win, as in the app).
    let client = library::settings::hub_client(&store, &library::TokenStore::for_home(home.root()))?;
    let rt = crate::loading::runtime()?;
    rt.block_on(async {
        let info = client.model_info(&repo, Some(&args.revision)).await?;
        let quant = match quant {
            Some(q) => Some(q),
            None => recommend(&client, &repo, &args.revision, &info).await?,
        };
        let picked = match pick(&info, quant.as_deref()) {
            Ok(p) => p,
            Err(e) => {
                let mut quants: Vec<String> = info.gguf_files().filter_map(|s| quant_of(&s.rfilename)).collect();
                quants.sort();
                quants.dedup();
                bail!("{e}. Available: {}. Pull one with {repo}:QUANT", quants.join(", "));
            }
        };
        let models_dir = library::settings::models_dir(&store, &home.models_dir());
        let downloads = Arc::new(Downloads::new(store, client, models_dir, Options::default()));
        // The projector comes with the model it reads pictures for, verified like it.
        let files: Vec<hub::Sibling> = picked.files.iter().chain(&picked.projector).cloned().collect();
        let rows = downloads.enqueue(&repo, &args.revision, &files).await?;
        let mut events = downloads.subscribe();
        let printer = tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if e.status == DownloadState::Running && e.total > 0 {
                    let pct = e.done as f64 / e.total as f64 * 100.0;
                    let eta = if e.bytes_per_second > 0.0 { (e.total - e.done) as f64 / e.bytes_per_second } else { 0.0 };
                    let bar = "█".repeat((pct / 4.0) as usize) + &"░".repeat(25 - (pct / 4.0) as usize);
                    eprint!(
                        "\r  {bar} {pct:5.1} %  {} of {}  {}/s  ETA {}:{:02}   ",
                        size(e.done),
                        size(e.total),
                        size(e.bytes_per_second as u64),
                        (eta / 60.0) as u64,
                        (eta % 60.0) as u64
                    );
                    let _ = std::io::stderr().flush();
                }
            }
        });
        for row in &rows {
            // `enqueue` leaves a download done only while its file is on disk as the Hub describes it.
            if row.status == DownloadState::Done {
                eprintln!("{} is already downloaded: {}", row.spec.file, row.spec.dest);
                continue;
            }
            eprintln!("Pulling {} ({})", row.spec.file, size(row.spec.size));
            let dl = downloads.clone();
            let id = row.id;
            let status = tokio::select! {
                s = dl.run(id) => s?,
                _ = tokio::signal::ctrl_c() => {
                    downloads.pause(id)?;
                    eprintln!("\nPaused. Run the same command again to resume.");
                    std::process::exit(130);
                }
            };
            eprintln!();
            match status {
                DownloadState::Done => eprintln!("  verified and saved to {}", row.spec.dest),
                _ => {
                    let err = downloads.store().download(id)?.and_then(|d| d.error).unwrap_or_else(|| format!("{status:?}"));
                    bail!("{} did not finish: {err}", row.spec.file);
                }
            }
        }
        printer.abort();
        Ok(())
    })
}

/// The quantization to pull when none is named: the one file of a repository with one, else the
/// file Discover recommends on this machine (`library::discover::recommended`), said on stderr
/// with its verdict and speed. `None` when the repository has one quantization (`pick` takes it).
async fn recommend(client: &HubClient, repo: &str, revision: &str, info: &hub::ModelInfo) -> anyhow::Result<Option<String>> {
    let page = library::model_page(info, String::new());
    if page.files.iter().filter_map(|f| f.quant.as_deref()).collect::<std::collections::BTreeSet<_>>().len() < 2 {
        return Ok(None);
    }
    eprintln!("Planning {} files on this machine from their headers…", page.files.len());
    let hw = tokio::task::spawn_blocking(crate::loading::hardware_profile).await?;
    let settings = types::LoadSettings::default();
    let mut planned = Vec::with_capacity(page.files.len());
    for f in &page.files {
        let plan = library::discover::plan_file(client, repo, revision, &f.name, &page.projectors, &hw, &settings).await;
        planned.push(types::PlannedFile { name: f.name.clone(), size_bytes: f.size_bytes, plan });
    }
    for f in &planned {
        let speed = f.plan.tokens_per_second.map(|s| format!(" · {}", crate::format::tok_per_sec(s.expected))).unwrap_or_default();
        eprintln!("  {:<10} {:>9}  {:?}: {}{speed}", quant_of(&f.name).unwrap_or_default(), size(f.size_bytes), f.plan.verdict, f.plan.label);
    }
    let Some(best) = library::discover::recommended(&planned) else {
        bail!("No file of {repo} fits this machine (every one is red above). Pull one anyway with {repo}:QUANT");
    };
    let quant = quant_of(&best).with_context(|| format!("{best} names no quantization; pull it with {repo}:QUANT"))?;
    eprintln!("Recommended here: {quant} (another with {repo}:QUANT)");
    Ok(Some(quant))
}

/// `hearth ls`: the library as My Models lists it (`Hearth::models`: the same folders, and each
/// plan made with the person's saved choices for that model), as a table or, with `--json`, the
/// window's own records.
pub fn ls(json: bool) -> anyhow::Result<()> {
    let models = crate::loading::hearth()?.models()?;
    if json {
        println!("{}", serde_json::to_string_pretty(&models)?);
        return Ok(());
    }
    if models.is_empty() {
        println!("No models yet. Find one with `hearth search`, then `hearth pull ORG/NAME:QUANT`.");
        return Ok(());
    }
    println!("{:<8} {:>9}  {:<10} {:<34} {}", "FIT", "SIZE", "SOURCE", "PLAN", "FILE");
    for m in &models {
        let (verdict, label) = match &m.plan {
            Some(p) => (format!("{:?}", p.verdict).to_lowercase(), p.label.clone()),
            None => ("grey".to_string(), m.problem.clone().unwrap_or_default()),
        };
        let source = match m.origin {
            types::ModelOrigin::Downloaded => "downloaded",
            types::ModelOrigin::Imported => "imported",
            types::ModelOrigin::HfCache => "hf-cache",
            types::ModelOrigin::LmStudio => "lm-studio",
        };
        println!("{verdict:<8} {:>9}  {source:<10} {:<34} {}", size(m.size_bytes), label.chars().take(34).collect::<String>(), m.path);
    }
    Ok(())
}
