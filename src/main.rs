//! `rampart`: check, describe and run Rampart systems (on seL4 under QEMU, or hosted on Linux);
//! build and boot the seL4 kernel and root task.
//!
//! Exit status: 0 success; 1 the system is invalid or a command failed; 2 bad usage (unknown
//! flag, unknown board), or a host tool is missing that could not be installed (one line names
//! it, see `rampart setup`).

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
    /// Run a system: on seL4 under QEMU (the default), or with `--hosted` as confined Linux
    /// processes supervised by this command. Exits with the status a PD passes to exit_system.
    Run {
        #[command(flatten)]
        system: SystemArgs,
        /// Run on Linux as confined processes instead of booting seL4 under QEMU.
        #[arg(long)]
        hosted: bool,
        /// Hosted: what to do with a top-level PD that faults: restart it (at most 5 times in
        /// 10 s, the default), or hold it. The same on seL4, where the monitor applies it.
        #[arg(long, value_enum)]
        restart: Option<PolicyArg>,
        /// Stop the system after this many seconds (exit status 124).
        #[arg(long, value_name = "SECONDS")]
        timeout: Option<f64>,
        /// Hosted: map PD priorities onto SCHED_FIFO (needs CAP_SYS_NICE) instead of nice values.
        #[arg(long)]
        realtime: bool,
        /// Report PD starts and init times (hosted) or the kernel's boot messages (seL4), and
        /// show the build tools' output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Build the seL4 kernel and the root task of a board into target/images/BOARD/.
    Build {
        /// A system file: build its bootable image (kernel, and the root task with the system's
        /// spec and programs embedded). Without one, the root task is the boot self-test.
        file: Option<PathBuf>,
        /// The board to build for (it needs a [kernel] table; see `rampart boards`).
        #[arg(long, default_value = DEFAULT_BOARD)]
        board: String,
        /// Show the kernel build's, pip's and cargo's output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Build, then boot the seL4 kernel and root task under QEMU; exits with the root task's status.
    Boot {
        /// The board to boot (it needs [kernel] and [qemu] tables; see `rampart boards`).
        #[arg(long, default_value = DEFAULT_BOARD)]
        board: String,
        /// Kill QEMU after this many seconds (exit status 124).
        #[arg(long, value_name = "SECONDS", default_value_t = 60.0)]
        timeout: f64,
        /// Show the kernel build's, pip's and cargo's output.
        #[arg(long, short)]
        verbose: bool,
    },
    /// Install what building and booting seL4 images for a board needs (Debian packages, with
    /// apt-get as root or through password-less sudo), or name it in one line (exit status 2).
    /// `rampart run`, `build` and `boot` do this by themselves before their first build.
    Setup {
        /// The board whose kernel build and QEMU to set up (see `rampart boards`).
        #[arg(long, default_value = DEFAULT_BOARD)]
        board: String,
        /// Also what the workspace's tests need: pip, and the PyPI package sdfgen in target/pydeps.
        #[arg(long)]
        tests: bool,
        /// Install nothing: only name what is missing (exit status 2 if anything is).
        #[arg(long)]
        check: bool,
    },
    /// List the boards a system can be checked and built for.
    Boards,
    /// Write the system file of a MinBFT cluster: n replicas with their USIGs under a
    /// supervisor, and client PDs, wired as the replica and client programs expect
    /// (protocols/cluster/src/topology.rs). The default system.xml is `rampart cluster`.
    Cluster {
        /// Replicas: n = 2f + 1, an odd number; the cluster tolerates f Byzantine ones.
        #[arg(long, default_value_t = 3)]
        replicas: usize,
        /// Client PDs, each running 16 MinBFT clients that issue checked operations.
        #[arg(long, default_value_t = 1)]
        client_pds: usize,
        /// Write the file here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
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

/// Build a board's seL4 images and print where they are and their sizes (on standard output for
/// `rampart build`; on standard error for `rampart boot`, whose standard output is the console).
/// Exit code 2 for an unknown board, 1 for a failed build.
fn sel4_build(board: &str, verbose: bool, summary_to_stdout: bool) -> Result<(Board, rampart::sel4::Images), ExitCode> {
    let b = Board::named(board).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    let layout = rampart::sel4::Layout::of_tool();
    let images = rampart::sel4::build_images(&layout, &b, rampart::sel4::BuildOptions { verbose }).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(1)
    })?;
    let built = match images.kernel_build_time {
        Some(t) => format!("built in {:.1} s", t.as_secs_f64()),
        None => "up to date".to_string(),
    };
    for (what, path, note) in [("kernel", &images.kernel, built.as_str()), ("root task", &images.root_task, "")] {
        let size = std::fs::metadata(path).map_or(0, |m| m.len());
        let note = if note.is_empty() { String::new() } else { format!(", {note}") };
        let line = format!("{what:<10} {} ({size} bytes{note})", path.display());
        if summary_to_stdout {
            println!("{line}");
        } else {
            eprintln!("{line}");
        }
    }
    Ok((b, images))
}

/// What `rampart setup` gives the host: the tools to build and boot `board`'s seL4 images and,
/// with `tests`, pip and the tests' PyPI package `sdfgen` (in `<workspace>/target/pydeps`).
/// Exit code 2 with one line when something is missing and cannot be installed.
fn setup(board: &Board, tests: bool, mode: rampart::setup::Mode, prefix: &str) -> Result<Vec<String>, ExitCode> {
    use rampart::setup;
    let mut needs = rampart::sel4::host::boot_tools(board);
    if tests {
        needs.push(setup::pip());
    }
    let fail = |e: setup::SetupError| {
        eprintln!("{prefix}{e}");
        ExitCode::from(2)
    };
    let mut installed: Vec<String> = setup::ensure(&needs, mode).map_err(fail)?.iter().map(|p| p.to_string()).collect();
    if tests {
        let pydeps = Path::new(rampart::WORKSPACE_DIR).join("target").join("pydeps");
        if setup::ensure_pypi(&pydeps, "sdfgen", mode).map_err(fail)? {
            installed.push(format!("sdfgen (PyPI, into {})", pydeps.display()));
        }
    }
    Ok(installed)
}

/// Before an seL4 build: install (or name in one line) what `board` needs. Exit code 2 for an
/// unknown board or a missing tool that cannot be installed. A board without a kernel installs
/// nothing: its build is refused with its own message.
fn setup_sel4(board: &str) -> Result<(), ExitCode> {
    let b = Board::named(board).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })?;
    if b.kernel.is_none() {
        return Ok(());
    }
    setup(&b, false, rampart::setup::Mode::Install, "error: ").map(|_| ())
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
            if timeout.is_some_and(|t| !(t.is_finite() && t > 0.0)) {
                eprintln!("error: --timeout must be a positive number of seconds");
                return ExitCode::from(2);
            }
            if !hosted && realtime {
                eprintln!("error: --realtime applies to hosted runs (seL4 schedules PDs by their priorities itself)");
                return ExitCode::from(2);
            }
            let mut opts = match options(&system) {
                Ok(o) => o,
                Err(code) => return code,
            };
            opts.backend = Some(if hosted { Backend::Hosted } else { Backend::Sel4 });
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
            if !hosted {
                if let Err(code) = setup_sel4(&opts.board.name) {
                    return code;
                }
                let policy = match restart.unwrap_or(PolicyArg::Restart) {
                    PolicyArg::Restart => rampart::sel4::system::RestartPolicy::Restart,
                    PolicyArg::Hold => rampart::sel4::system::RestartPolicy::Hold,
                };
                let run = rampart::sel4::system::RunOptions { timeout: timeout.map(std::time::Duration::from_secs_f64), verbose };
                return match rampart::sel4::system::run(&system.file, &checked.spec, &opts.board, &run, policy) {
                    Ok(status) => ExitCode::from(status),
                    Err(e) => {
                        eprintln!("error: {e}");
                        ExitCode::from(1)
                    }
                };
            }
            let run = rampart::hosted::RunOptions {
                policy: match restart.unwrap_or(PolicyArg::Restart) {
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
        Command::Build { file: None, board, verbose } => match setup_sel4(&board).and_then(|()| sel4_build(&board, verbose, true)) {
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        Command::Build { file: Some(file), board, verbose } => {
            let system = SystemArgs { file, board };
            let mut opts = match options(&system) {
                Ok(o) => o,
                Err(code) => return code,
            };
            opts.backend = Some(Backend::Sel4);
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
            if let Err(code) = setup_sel4(&opts.board.name) {
                return code;
            }
            let layout = rampart::sel4::Layout::of_tool();
            match rampart::sel4::system::build_system(&layout, &opts.board, &checked.spec, &system.file, rampart::sel4::BuildOptions { verbose }) {
                Ok(build) => {
                    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
                    println!("{:<10} {} ({} bytes)", "kernel", build.images.kernel.display(), size(&build.images.kernel));
                    println!(
                        "{:<10} {} ({} bytes, of which the system image {} bytes)",
                        "root task",
                        build.images.root_task.display(),
                        size(&build.images.root_task),
                        build.image_bytes
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
        Command::Boot { board, timeout, verbose } => {
            if !(timeout.is_finite() && timeout > 0.0) {
                eprintln!("error: --timeout must be a positive number of seconds");
                return ExitCode::from(2);
            }
            // Every missing tool installed, or named in one line, before spending time on a
            // build QEMU could not boot.
            if let Err(code) = setup_sel4(&board) {
                return code;
            }
            let (b, images) = match sel4_build(&board, verbose, false) {
                Ok(x) => x,
                Err(code) => return code,
            };
            let opts = rampart::sel4::qemu::BootOptions { timeout: std::time::Duration::from_secs_f64(timeout), echo: true };
            let boot = match rampart::sel4::qemu::boot(&b, &images, opts) {
                Ok(boot) => boot,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(1);
                }
            };
            let up = boot.root_task_up_after.map(|d| format!("; root task up after {:.2} s", d.as_secs_f64())).unwrap_or_default();
            let ran = format!("QEMU ran {:.2} s{up}", boot.elapsed.as_secs_f64());
            use rampart::sel4::qemu::BootEnd;
            match boot.end {
                BootEnd::Exited(v) => {
                    eprintln!("rampart: the root task exited with status {v} ({ran})");
                    ExitCode::from(v)
                }
                BootEnd::TimedOut => {
                    eprintln!("rampart: timed out after {timeout} s ({ran})");
                    ExitCode::from(124)
                }
                BootEnd::Reset => {
                    eprintln!("error: the machine reset or powered off without an exit status ({ran})");
                    ExitCode::from(1)
                }
                BootEnd::QemuFailed(code) => {
                    let how = code.map_or("was killed by a signal".to_string(), |c| format!("failed with exit status {c}"));
                    eprintln!("error: QEMU {how}: {}", boot.qemu_stderr.trim());
                    ExitCode::from(1)
                }
            }
        }
        Command::Cluster { replicas, client_pds, output } => {
            let shape = match rampart_cluster::topology::Shape::new(replicas, client_pds) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let xml = rampart_cluster::topology::system_xml(&shape);
            match output {
                None => {
                    print!("{xml}");
                    ExitCode::SUCCESS
                }
                Some(path) => match std::fs::write(&path, xml) {
                    Ok(()) => {
                        eprintln!("wrote {}: {replicas} replicas (f = {}), {client_pds} client PD(s)", path.display(), shape.f());
                        ExitCode::SUCCESS
                    }
                    Err(e) => {
                        eprintln!("error: cannot write {}: {e}", path.display());
                        ExitCode::from(1)
                    }
                },
            }
        }
        Command::Setup { board, tests, check } => {
            let b = match Board::named(&board) {
                Ok(b) => b,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::from(2);
                }
            };
            let mode = if check { rampart::setup::Mode::Check } else { rampart::setup::Mode::Install };
            match setup(&b, tests, mode, "") {
                Ok(installed) => {
                    let what = if tests { "the tests" } else { "building and booting seL4 images" };
                    let done = if installed.is_empty() { String::new() } else { format!(" (installed {})", installed.join(", ")) };
                    eprintln!("ok: this host has what {what} on {board} need{}{done}", if tests { "" } else { "s" });
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
        Command::Boards => {
            println!("{:<20} {:<8} {:<13} DESCRIPTION", "BOARD", "ARCH", "SEL4");
            for b in Board::all() {
                let default = if b.name == DEFAULT_BOARD { " (default)" } else { "" };
                // What `rampart build` / `run --board` can do with it; every board can be checked and run hosted.
                let sel4 = match (&b.kernel, &b.qemu) {
                    (Some(_), Some(_)) => "build, boot",
                    (Some(_), None) => "build",
                    _ => "check only",
                };
                println!("{:<20} {:<8} {:<13} {}{default}", b.name, b.arch.name(), sel4, b.description);
            }
            ExitCode::SUCCESS
        }
    }
}
