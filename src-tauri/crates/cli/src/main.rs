//! `hearth`: Hearth without a window. Each subcommand is a thin layer over the crates the desktop app
//! uses, so the two always agree.

mod format;
mod probe;

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
}

fn main() -> ExitCode {
    hardware::quiet_headless_vulkan();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { json } => probe::run(json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
