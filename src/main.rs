//! `rampart`: check, describe (and later build, run and drill) Rampart systems.
//!
//! Exit status: 0 success; 1 the system is invalid or a command failed; 2 bad usage (unknown
//! flag, unknown board).

use clap::{Parser, Subcommand, ValueEnum};
use rampart::describe;
use rampart_sdf::{check_file, find_components, Backend, Board, Options, Report, DEFAULT_BOARD};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "rampart", version, about = "Rampart: seL4 component systems described by a Microkit system file")]
struct Cli {
    /// When to colour output: auto colours only when writing to a terminal (and NO_COLOR is unset).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    color: ColorChoice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(clap::Args)]
struct SystemArgs {
    /// The system description file.
    #[arg(default_value = "system.xml")]
    file: PathBuf,
    /// The board to check for; it decides page sizes, IRQ forms and I/O ports (see `rampart boards`).
    #[arg(long, default_value = DEFAULT_BOARD)]
    board: String,
}

#[derive(Subcommand)]
enum Command {
    /// Validate a system file: print its diagnostics, or a one-line summary if it is valid.
    Check {
        #[command(flatten)]
        system: SystemArgs,
        /// Also report features this backend cannot honour (e.g. budgets on a non-MCS kernel).
        #[arg(long, value_enum)]
        backend: Option<BackendArg>,
        /// Print nothing when the system is valid (warnings still print).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Show a system: its protection domains, memory regions and channel graph.
    Describe {
        #[command(flatten)]
        system: SystemArgs,
        /// Output format: a readable table, Graphviz dot, or JSON for scripts.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Run a system. `--hosted`: every PD a confined Linux process, supervised by this command.
    Run {
        #[command(flatten)]
        system: SystemArgs,
        /// Run on Linux as confined processes (the seL4 backend is not available yet).
        #[arg(long)]
        hosted: bool,
        /// What to do with a top-level PD that faults: restart it (at most 5 times in 10 s), or hold it.
        #[arg(long, value_enum, default_value_t = PolicyArg::Restart)]
        restart: PolicyArg,
        /// Stop the system after this many seconds (exit status 124).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// Map PD priorities onto SCHED_FIFO (needs CAP_SYS_NICE) instead of nice values.
        #[arg(long)]
        realtime: bool,
        /// Report PD starts and init times, and show cargo's output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// List the boards a system can be checked and built for.
    Boards,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Hosted,
    Sel4,
}

#[derive(Clone, Copy, ValueEnum)]
enum PolicyArg {
    Restart,
    Hold,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Dot,
    Json,
}

fn use_color(choice: ColorChoice, stream_is_terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// Components of the workspace holding the system file, else of the workspace the tool came from.
fn components_for(file: &Path) -> Vec<String> {
    let dir = file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let found = find_components(dir);
    if found.is_empty() {
        find_components(Path::new(rampart::WORKSPACE_DIR))
    } else {
        found
    }
}

fn options(args: &SystemArgs) -> Result<Options, ExitCode> {
    let board = Board::named(&args.board).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let mut opts = Options::new(board);
    opts.components = components_for(&args.file);
    Ok(opts)
}

fn print_report(report: &Report, color: bool) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(report.render(color).as_bytes());
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let err_color = use_color(cli.color, std::io::stderr().is_terminal());
    match cli.command {
        Command::Check { system, backend, quiet } => {
            let mut opts = match options(&system) {
                Ok(o) => o,
                Err(code) => return code,
            };
            opts.backend = backend.map(|b| match b {
                BackendArg::Hosted => Backend::Hosted,
                BackendArg::Sel4 => Backend::Sel4,
            });
            match check_file(&system.file, &opts) {
                Ok(checked) => {
                    if !checked.report.diagnostics.is_empty() {
                        print_report(&checked.report, err_color);
                    }
                    if !quiet {
                        let s = &checked.spec;
                        let digest: String = s.digest()[..8].iter().map(|b| format!("{b:02x}")).collect();
                        println!(
                            "ok: {} is a valid system for {}{}: {} protection domain(s), {} memory region(s), {} channel(s) (spec {} bytes, sha256 {digest}…)",
                            system.file.display(),
                            s.board,
                            opts.backend.map(|b| format!(" on the {} backend", b.name())).unwrap_or_default(),
                            s.pds.len(),
                            s.regions.len(),
                            s.channels.len(),
                            s.encode().len(),
                        );
                    }
                    ExitCode::SUCCESS
                }
                Err(report) => {
                    print_report(&report, err_color);
                    ExitCode::from(1)
                }
            }
        }
        Command::Describe { system, format } => {
            let opts = match options(&system) {
                Ok(o) => o,
                Err(code) => return code,
            };
            match check_file(&system.file, &opts) {
                Ok(checked) => {
                    if !checked.report.diagnostics.is_empty() {
                        print_report(&checked.report, err_color);
                    }
                    let file = system.file.display().to_string();
                    let text = match format {
                        Format::Table => describe::text(&checked.spec, &file),
                        Format::Dot => describe::dot(&checked.spec),
                        Format::Json => describe::json(&checked.spec, &file),
                    };
                    let _ = std::io::stdout().lock().write_all(text.as_bytes());
                    ExitCode::SUCCESS
                }
                Err(report) => {
                    print_report(&report, err_color);
                    ExitCode::from(1)
                }
            }
        }
        Command::Run { system, hosted, restart, timeout, realtime, verbose } => {
            if !hosted {
                eprintln!("error: only the hosted backend exists yet: use `rampart run --hosted` (booting on seL4 arrives with the seL4 backend)");
                return ExitCode::from(2);
            }
            let mut opts = match options(&system) {
                Ok(o) => o,
                Err(code) => return code,
            };
            opts.backend = Some(Backend::Hosted);
            let checked = match check_file(&system.file, &opts) {
                Ok(c) => c,
                Err(report) => {
                    print_report(&report, err_color);
                    return ExitCode::from(1);
                }
            };
            if !checked.report.diagnostics.is_empty() {
                print_report(&checked.report, err_color);
            }
            let run = rampart::hosted::RunOptions {
                policy: match restart {
                    PolicyArg::Restart => rampart::hosted::RestartPolicy::Restart,
                    PolicyArg::Hold => rampart::hosted::RestartPolicy::Hold,
                },
                timeout: timeout.map(std::time::Duration::from_secs_f64),
                realtime,
                verbose,
            };
            match rampart::run_hosted(&system.file, &checked.spec, &opts.board.name, run) {
                Ok(status) => ExitCode::from(status),
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Boards => {
            for b in Board::all() {
                let default = if b.name == DEFAULT_BOARD { " (default)" } else { "" };
                println!("{:<20} {:<8} {}{default}", b.name, b.arch.name(), b.description);
            }
            ExitCode::SUCCESS
        }
    }
}
