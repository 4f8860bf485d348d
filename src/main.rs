//! The `gorgias-agent` binary: parse the command line, load the config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gorgias_agent::config::Settings;
use gorgias_agent::{check, server, telemetry};

#[derive(Parser)]
#[command(
    name = "gorgias-agent",
    version,
    about = "AI answers for Gorgias tickets, by webhook"
)]
struct Cli {
    /// Path of the config file.
    #[arg(long, env = "GORGIAS_AGENT_CONFIG", default_value = "config.toml")]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the webhook server (the default).
    Serve {
        /// Start even when the store is found to have lost committed data (damaged or missing
        /// files): the agent goes on with what is left, and may answer again a message whose
        /// record was lost.
        #[arg(long)]
        accept_data_loss: bool,
    },
    /// Validate the config and the Gorgias credentials and ids.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match Settings::load(&cli.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("gorgias-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve {
        accept_data_loss: false,
    }) {
        Command::Serve { accept_data_loss } => {
            settings.storage.accept_data_loss = accept_data_loss;
            telemetry::init(&settings.log);
            match actix_web::rt::System::new().block_on(server::serve(settings)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gorgias-agent: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Check => {
            let ok = actix_web::rt::System::new()
                .block_on(check::run(&settings, &mut std::io::stdout()));
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    }
}
