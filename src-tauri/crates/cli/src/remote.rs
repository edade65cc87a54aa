//! `hearth run --endpoint NAME_OR_URL MODEL "prompt"` and `hearth ls --remote`: models on other
//! machines, through the connections saved in Settings → Connections (with their keys), or through
//! an address given here (with `--api-key` / `HEARTH_REMOTE_KEY`).

use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;
use types::{ApiKind, ChatMessage, SamplingParams};

use crate::run::{print_reply, stats_line, Reply, INTERRUPTED};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Api {
    Openai,
    Anthropic,
}

fn connections<T>(read: impl FnOnce(library::Connections<'_>) -> T) -> anyhow::Result<T> {
    let home = home::Home::resolve()?;
    let store = store::Store::open(&home.database_path()).context("opening Hearth's database")?;
    Ok(read(library::Connections::new(&store, home.root())))
}

/// A saved connection by name (or id), else an address.
pub fn endpoint(name_or_url: &str, key: Option<String>, api: Api) -> anyhow::Result<remote::Endpoint> {
    if let Some(found) = connections(|c| c.find(name_or_url).and_then(|found| c.endpoint(&found.id)))? {
        return Ok(found);
    }
    if !name_or_url.contains("://") {
        let names = connections(|c| c.list().into_iter().map(|c| c.name).collect::<Vec<_>>())?;
        anyhow::bail!(
            "no connection named {name_or_url:?} (saved: {}); give an address such as http://127.0.0.1:8080 instead",
            if names.is_empty() { "none".to_string() } else { names.join(", ") }
        );
    }
    let base_url = remote::base_url(name_or_url).map_err(|e| anyhow::anyhow!(e.message))?;
    if remote::plain_over_internet(&base_url) {
        anyhow::bail!(
            "{base_url} is plain http to a machine beyond this computer and its network: the key and the conversation would \
             cross the internet unencrypted. Use https://, or save it as a connection in the app and confirm plain http there"
        );
    }
    let kind = match api {
        Api::Openai => ApiKind::Openai,
        Api::Anthropic => ApiKind::Anthropic,
    };
    Ok(remote::Endpoint { name: base_url.clone(), base_url, kind, key: key.filter(|k| !k.trim().is_empty()) })
}

/// Streams one reply from `endpoint` to stdout; Ctrl-C closes the connection (which stops the
/// endpoint) and exits 130.
pub fn run(endpoint: &remote::Endpoint, model: &str, messages: &[ChatMessage], sampling: &SamplingParams) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let mut reply = endpoint.chat(model, messages, sampling).await.map_err(|e| anyhow::anyhow!(e.message))?;
        // The connection's events into the CLI's one printer; dropping the pump (Ctrl-C) closes
        // the connection, which stops the endpoint.
        let (tx, mut events) = tokio::sync::mpsc::channel(64);
        let pump = tokio::spawn(async move {
            while let Some(event) = reply.next().await {
                if tx.send(event).await.is_err() {
                    break;
                }
            }
        });
        let printed = print_reply(&mut events).await;
        pump.abort();
        match printed? {
            Reply::Done(_, stats, _) => {
                eprintln!("{} · on {}", stats_line(&stats), endpoint.name);
                Ok(ExitCode::SUCCESS)
            }
            Reply::Interrupted(_) => {
                eprintln!("Interrupted.");
                Ok(ExitCode::from(INTERRUPTED))
            }
        }
    })
}

/// `hearth ls --remote`: every saved connection's models, or why they could not be listed.
pub fn ls() -> anyhow::Result<()> {
    let list = connections(|c| c.list().into_iter().map(|conn| (c.endpoint(&conn.id), conn)).collect::<Vec<_>>())?;
    if list.is_empty() {
        println!("No connections yet: add one in the app's Settings → Connections.");
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let answers = runtime.block_on(futures_util::future::join_all(list.iter().map(|(endpoint, _)| async move {
        match endpoint {
            Some(e) => e.models().await,
            None => Ok(Vec::new()),
        }
    })));
    println!("{:<20} {:<32} MODEL", "CONNECTION", "ADDRESS");
    for ((_, conn), models) in list.iter().zip(answers) {
        match models {
            Ok(models) if models.is_empty() => println!("{:<20} {:<32} (no models)", conn.name, conn.base_url),
            Ok(models) => {
                for m in models {
                    println!("{:<20} {:<32} {m}", conn.name, conn.base_url);
                }
            }
            Err(e) => println!("{:<20} {:<32} ({})", conn.name, conn.base_url, e.message),
        }
    }
    Ok(())
}
