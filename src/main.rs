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
    Serve,
    /// Validate the config and the Gorgias credentials and ids.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(&cli.config) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("gorgias-agent: {e}");
            return ExitCode::from(2);
        }
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
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
