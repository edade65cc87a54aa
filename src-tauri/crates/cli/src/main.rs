//! `hearth`: Hearth without a window. Each subcommand is a thin layer over the crates the desktop app
//! uses, so the two always agree.

mod fit;
mod format;
mod models;
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
    /// Will a model file run here? The verdict, the load plan, the memory per device and the speed.
    Fit(fit::FitArgs),
    /// Search the Hugging Face Hub for GGUF models.
    Search(models::SearchArgs),
    /// Download a model: ORG/NAME[:QUANT]. Resumes where an earlier pull stopped.
    Pull(models::PullArgs),
    /// List the model files on this machine, with their fit for it.
    Ls,
}

fn main() -> ExitCode {
    hardware::quiet_headless_vulkan();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Probe { json } => probe::run(json),
        Command::Fit(args) => fit::run(&args),
        Command::Search(args) => models::search(&args),
        Command::Pull(args) => models::pull(&args),
        Command::Ls => models::ls(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hearth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
