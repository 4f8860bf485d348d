//! The `gorgias-agent` binary: parse the command line, load the config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use gorgias_agent::config::Settings;
use gorgias_agent::replay::{self, ReplayError, ReplayOptions};
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
    /// Run past tickets through the AI, offline, and report what it would have done.
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// JSON Lines, or one JSON array, of tickets with their messages.
    #[arg(
        required_unless_present = "from_gorgias",
        conflicts_with = "from_gorgias"
    )]
    file: Option<PathBuf>,
    /// Read the N most recent tickets from the configured Gorgias account instead (GET only).
    #[arg(long, value_name = "N")]
    from_gorgias: Option<usize>,
    /// Write the report as JSON to OUT.
    #[arg(long, value_name = "OUT")]
    json: Option<PathBuf>,
    /// Write the report as one self-contained HTML page to OUT.
    #[arg(long, value_name = "OUT")]
    html: Option<PathBuf>,
    /// Keep the assignment rule: tickets not assigned to the AI user are ignored.
    #[arg(long)]
    respect_assignment: bool,
    /// How many tickets are replayed at once (the openai brain waits seconds per call).
    #[arg(long, default_value_t = 8, value_name = "N")]
    concurrency: usize,
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
        Command::Replay(args) => {
            telemetry::init_stderr();
            match run_replay(&settings, &args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gorgias-agent replay: {e}");
                    ExitCode::from(e.exit_code())
                }
            }
        }
    }
}

/// Reads the tickets, replays them on a scratch store (deleted when this returns, after the
/// actix system that used it is gone), prints the table and writes the reports.
fn run_replay(settings: &Settings, args: &ReplayArgs) -> Result<(), ReplayError> {
    let tickets = match (&args.file, args.from_gorgias) {
        (Some(path), _) => {
            let name = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| replay::input::InputError::Io {
                path: name.clone(),
                reason: e.to_string(),
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| replay::input::InputError::NotText(name.clone()))?;
            replay::input::parse_tickets(&name, &text)?
        }
        (None, n) => actix_web::rt::System::new().block_on(replay::fetch::recent_tickets(
            &settings.gorgias,
            n.unwrap_or_default(),
            true,
        ))?,
    };
    let scratch = tempfile::tempdir().map_err(|e| ReplayError::Setup(e.to_string()))?;
    let options = ReplayOptions {
        respect_assignment: args.respect_assignment,
        concurrency: args.concurrency,
        progress: true,
    };
    let report = {
        let system = actix_web::rt::System::new();
        system.block_on(replay::run(settings, tickets, scratch.path(), &options))?
    };
    print!("{}", report.table());
    replay::write_outputs(&report, args.json.as_deref(), args.html.as_deref())
}
