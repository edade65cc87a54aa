//! `hearth mcp`: the MCP servers of Hearth's `mcp.json`, without a window. `ls` starts each and
//! says where it stands (ready with its tools, or the sentence why not); `call` runs one tool and
//! prints its result; `add` shows the exact command (secrets masked) and asks before writing it;
//! `import` takes the servers of LM Studio's, Cursor's or Claude Desktop's file. Env values and
//! headers written here go to the keychain (`library::mcp_secrets`), as the window's do.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use mcp::{McpConfig, Servers, Spec, State};

#[derive(Args)]
pub struct McpArgs {
    #[command(subcommand)]
    command: McpCommand,
}

#[derive(Subcommand)]
enum McpCommand {
    /// Start each server of mcp.json and list its state and tools.
    Ls {
        /// As JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Call one tool: hearth mcp call SERVER TOOL '{"arg": 1}'. Its text goes to stdout.
    Call {
        server: String,
        tool: String,
        /// The arguments, a JSON object (none: {}).
        arguments: Option<String>,
    },
    /// Add a server: NAME -- COMMAND [ARGS…], or NAME --url URL. Shows what it will run and asks.
    Add {
        name: String,
        /// A streamable HTTP server's address, instead of a command.
        #[arg(long, conflicts_with = "command")]
        url: Option<String>,
        /// An environment variable for the command, NAME=VALUE (repeat for several).
        #[arg(long = "env", value_name = "NAME=VALUE")]
        env: Vec<String>,
        /// Add it without asking (for scripts).
        #[arg(long)]
        yes: bool,
        /// The command and its arguments, after `--`.
        #[arg(last = true)]
        command: Vec<String>,
    },
    /// Take the servers of another app's file: lmstudio, cursor, claude, or a path.
    Import { from: String },
}

fn home() -> anyhow::Result<home::Home> {
    home::Home::resolve().map_err(|e| anyhow::anyhow!(e.message))
}

fn config_path() -> anyhow::Result<PathBuf> {
    Ok(home()?.mcp_config_path())
}

/// Writes mcp.json with its servers' env values and headers taken into the keychain.
fn write(path: &std::path::Path, config: &mut McpConfig) -> anyhow::Result<()> {
    library::mcp_secrets::keep(config, home()?.root()).map_err(|e| anyhow::anyhow!(hearth::library_error(e).message))?;
    config.write(path).map_err(|e| anyhow::anyhow!(e.to_string()))
}

fn read() -> anyhow::Result<(PathBuf, McpConfig)> {
    let path = config_path()?;
    let config = McpConfig::read(&path).map_err(|e| anyhow::anyhow!(e.to_string()))?;
    Ok((path, config))
}

pub fn run(args: &McpArgs) -> anyhow::Result<std::process::ExitCode> {
    let ok = Ok(std::process::ExitCode::SUCCESS);
    match &args.command {
        McpCommand::Ls { json } => {
            let (path, config) = read()?;
            if config.servers.is_empty() {
                eprintln!("No MCP servers in {}. Add one with `hearth mcp add NAME -- COMMAND …` or `hearth mcp import lmstudio`.", path.display());
                return ok;
            }
            let fill = library::mcp_secrets::fill(home()?.root().to_path_buf());
            let statuses = crate::loading::runtime()?.block_on(async {
                let servers = Servers::from_file(&path, Some(fill));
                servers.start_all().await;
                let statuses = servers.statuses();
                servers.stop_all().await;
                statuses
            });
            if *json {
                println!("{}", serde_json::to_string_pretty(&statuses)?);
                return ok;
            }
            for s in statuses {
                let state = match &s.state {
                    State::Ready { tools } => format!("ready, {tools} tool{}", if *tools == 1 { "" } else { "s" }),
                    State::Failed { reason } => format!("failed: {reason}"),
                    State::Off => "off (disabled in mcp.json)".into(),
                    State::Starting => "starting".into(),
                    State::Reconnecting => "reconnecting".into(),
                };
                println!("{}  {state}\n  {}", s.name, s.shown);
                for t in &s.tools {
                    let hint = if t.read_only { " (read-only)" } else if t.destructive { " (may change or delete)" } else { "" };
                    let first_line = t.description.lines().next().unwrap_or_default();
                    println!("  - {}{hint}: {first_line}", t.name);
                }
            }
            ok
        }
        McpCommand::Call { server, tool, arguments } => {
            let (_, config) = read()?;
            let mut spec = config.servers.get(server).cloned().ok_or_else(|| anyhow::anyhow!("There is no MCP server named `{server}` in mcp.json."))?;
            library::mcp_secrets::fill(home()?.root().to_path_buf())(server, &mut spec).map_err(|e| anyhow::anyhow!(e.to_string()))?;
            let arguments: serde_json::Value = match arguments {
                Some(a) => serde_json::from_str(a).context("the arguments are not JSON")?,
                None => serde_json::json!({}),
            };
            let outcome = crate::loading::runtime()?.block_on(async {
                let connection = mcp::Connection::open(server, &spec).await?;
                let outcome = connection.call(tool, arguments).await;
                connection.close().await;
                outcome
            });
            let outcome = outcome.map_err(|e| anyhow::anyhow!(e.to_string()))?;
            println!("{}", outcome.text);
            for image in &outcome.images {
                eprintln!("(an image, {}, {} bytes of base64)", image.mime_type, image.data.len());
            }
            if outcome.is_error {
                eprintln!("hearth: the tool says it failed");
                return Ok(std::process::ExitCode::FAILURE);
            }
            ok
        }
        McpCommand::Add { name, url, env, yes, command } => {
            let (path, mut config) = read()?;
            let mut spec = match (url, command.split_first()) {
                (Some(url), _) => Spec::http(url.clone()),
                (None, Some((program, rest))) => Spec::stdio(program.clone(), rest.iter().cloned()),
                (None, None) => anyhow::bail!("give the command after `--` (hearth mcp add NAME -- npx -y PACKAGE), or --url"),
            };
            for pair in env {
                let (k, v) = pair.split_once('=').ok_or_else(|| anyhow::anyhow!("--env takes NAME=VALUE, not {pair:?}"))?;
                spec.env.insert(k.to_string(), v.to_string());
            }
            spec.transport(name).map_err(|e| anyhow::anyhow!(e.to_string()))?;
            if config.servers.contains_key(name) {
                anyhow::bail!("There is already an MCP server named `{name}` in {}.", path.display());
            }
            eprintln!("Hearth will run this whenever a conversation uses `{name}`:\n  {}", spec.shown());
            if !yes && !ask("Add it?")? {
                eprintln!("Nothing was added.");
                return ok;
            }
            config.servers.insert(name.clone(), spec);
            write(&path, &mut config)?;
            eprintln!("Added `{name}` to {}.", path.display());
            ok
        }
        McpCommand::Import { from } => {
            let (path, mut config) = read()?;
            let source = match from.to_lowercase().as_str() {
                "lmstudio" | "lm-studio" => app_file("LM Studio"),
                "cursor" => app_file("Cursor"),
                "claude" | "claude-desktop" => app_file("Claude Desktop"),
                _ => PathBuf::from(from),
            };
            let theirs = McpConfig::read(&source).map_err(|e| anyhow::anyhow!(e.to_string()))?;
            if theirs.servers.is_empty() {
                anyhow::bail!("{} holds no MCP servers.", source.display());
            }
            eprintln!("{} has:", source.display());
            for (name, spec) in &theirs.servers {
                eprintln!("  {name}: {}", spec.shown());
            }
            let taken = config.import(theirs);
            if taken.is_empty() {
                eprintln!("Every one of them is already in {}.", path.display());
                return ok;
            }
            write(&path, &mut config)?;
            eprintln!("Imported {} into {}.", taken.join(", "), path.display());
            ok
        }
    }
}

fn app_file(app: &str) -> PathBuf {
    mcp::other_apps_files().into_iter().find(|(a, _)| *a == app).map(|(_, p)| p).unwrap_or_default()
}


/// A yes/no question on the terminal; no answer (end of input) is no.
fn ask(question: &str) -> anyhow::Result<bool> {
    eprint!("{question} [y/N] ");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_lowercase().as_str(), "y" | "yes"))
}
