//! A whole system on seL4: `rampart run --board qemu-x86_64` without `--hosted`.
//!
//! Building: the system's components are built for seL4 with cargo (the `rampart_sel4` cfg
//! selects the runtime's seL4 backend; `--target x86_64-unknown-linux-gnu` and the flags of
//! [`COMPONENT_RUSTFLAGS`] make static, freestanding ELF files, and the components' build scripts
//! add the defmt linker script as for hosted builds), into `target/sel4/components`. The
//! encoded spec and each distinct program go into one system image (format in `layout.rs`),
//! `target/sel4/<board>/system/<name>.img` (`<name>`: the system file's name and a hash of its
//! path), which the root task's build script embeds; the root task built with it is
//! `target/images/<board>/system-<name>.elf`, booted next to the kernel.
//!
//! Running: QEMU's console is read a line at a time. A `rampart-log` line is a PD's defmt frame,
//! decoded with that PD's ELF file and printed as `[pd_name] message`; every other line after the
//! root task's banner is printed as it is (the kernel's boot messages before it only with
//! `--verbose`). The run ends with the status a PD passed to `exit_system`, 124 at the timeout.

use super::qemu::{self, BootEnd, BootOptions};
use super::{copy_file, err, io_err, layout, root, BuildLock, BuildOptions, Error, Images, Layout};
use rampart_sdf::Board;
use rampart_spec::{ProgramRef, SystemSpec};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The flags that build a component for seL4: the backend cfg, and a static, freestanding
/// program as for the root task (the runtime brings its own entry point, memory functions and
/// panic handler; `panic = abort` as there is nothing to unwind to).
pub const COMPONENT_RUSTFLAGS: &[&str] =
    &["--cfg", "rampart_sel4", "-Crelocation-model=static", "-Cpanic=abort", "-Clink-arg=-nostartfiles", "-Clink-arg=-nostdlib", "-Clink-arg=-static"];

/// Exit status of `rampart run` when the timeout passes first.
pub const EXIT_TIMEOUT: u8 = 124;

/// A system built for seL4.
#[derive(Clone, Debug)]
pub struct SystemBuild {
    /// The kernel and the root task with the system embedded.
    pub images: Images,
    /// Each PD's program as built (with its defmt string table), in spec order.
    pub programs: Vec<PathBuf>,
    /// Bytes of the system image (spec and programs) inside the root task.
    pub image_bytes: usize,
    /// How long building the components and the root task took.
    pub build_time: Duration,
}

/// Refuse what the seL4 backend cannot build yet, naming the PD or region.
pub fn check_supported(spec: &SystemSpec) -> Result<(), Error> {
    match layout::unsupported(spec) {
        Some((what, name)) => {
            let kind = if what.of_pd() { "PD" } else { "memory region" };
            err(format!("{kind} `{name}` {} (it runs hosted: `rampart run --hosted`)", what.describe()))
        }
        None => Ok(()),
    }
}

/// Build the components of `spec` for seL4; the ELF file of each, by component name.
fn build_components(layout: &Layout, spec: &SystemSpec, system_file: &Path, board: &Board, opts: BuildOptions) -> Result<HashMap<String, PathBuf>, Error> {
    let names = spec.component_names();
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let target = root::target_for(board)?;
    let workspace = crate::workspace_for(system_file);
    let target_dir = layout.sel4_dir().join("components");
    let system = system_file.canonicalize().map_err(|e| io_err(system_file, e))?;
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["build", "--release", "--target", target])
        .arg("--target-dir")
        .arg(&target_dir)
        .current_dir(&workspace)
        .env(rampart_sdf::bindings::SYSTEM_ENV, &system)
        .env(rampart_sdf::bindings::BOARD_ENV, &board.name)
        .env("CARGO_ENCODED_RUSTFLAGS", COMPONENT_RUSTFLAGS.join("\x1f"))
        // The programs go into the image: no debug information (the defmt table is not debug
        // information and stays).
        .env("CARGO_PROFILE_RELEASE_DEBUG", "0")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove(format!("CARGO_TARGET_{}_RUSTFLAGS", target.to_uppercase().replace('-', "_")))
        .stdin(Stdio::null());
    // defmt filters log levels at compile time; keep info and above unless the user chose.
    if std::env::var_os("DEFMT_LOG").is_none() {
        cmd.env("DEFMT_LOG", "info");
    }
    if !opts.verbose {
        cmd.arg("--quiet");
    }
    for n in &names {
        cmd.arg("-p").arg(n);
    }
    let step = crate::progress::Step::start(&format!("building the components ({}) for seL4", names.join(", ")), opts.verbose);
    let status = cmd.status().map_err(|e| Error(format!("cannot run cargo to build the components: {e}")))?;
    step.finish();
    if !status.success() {
        return err(format!("building the components ({}) for seL4 failed", names.join(", ")));
    }
    Ok(names.iter().map(|n| (n.to_string(), target_dir.join(target).join("release").join(n))).collect())
}

/// The bytes of a system image: `spec` encoded, then each distinct program once (see
/// `layout::SystemImage`, which parses it). `pd_programs[i]` indexes `programs`.
pub fn image_bytes(spec: &[u8], programs: &[Vec<u8>], pd_programs: &[u32]) -> Vec<u8> {
    image_bytes_with_flags(spec, programs, pd_programs, 0)
}

/// [`image_bytes`] with `layout::IMAGE_FLAG_*` bits.
pub fn image_bytes_with_flags(spec: &[u8], programs: &[Vec<u8>], pd_programs: &[u32], flags: u32) -> Vec<u8> {
    let align = |n: usize| (n + 7) & !7;
    let h = layout::IMAGE_HEADER_BYTES;
    let header = h + pd_programs.len() * 4 + programs.len() * 8;
    let spec_at = align(header);
    let mut at = align(spec_at + spec.len());
    let mut table = Vec::new();
    for p in programs {
        table.push((at, p.len()));
        at = align(at + p.len());
    }
    let mut out = vec![0u8; at];
    let put = |out: &mut Vec<u8>, at: usize, v: usize| out[at..at + 4].copy_from_slice(&(v as u32).to_le_bytes());
    out[..8].copy_from_slice(&layout::IMAGE_MAGIC);
    put(&mut out, 8, spec_at);
    put(&mut out, 12, spec.len());
    put(&mut out, 16, programs.len());
    put(&mut out, 20, pd_programs.len());
    put(&mut out, 24, flags as usize);
    for (i, p) in pd_programs.iter().enumerate() {
        put(&mut out, h + i * 4, *p as usize);
    }
    let t = h + pd_programs.len() * 4;
    for (i, (off, len)) in table.iter().enumerate() {
        put(&mut out, t + i * 8, *off);
        put(&mut out, t + i * 8 + 4, *len);
    }
    out[spec_at..spec_at + spec.len()].copy_from_slice(spec);
    for (p, (off, _)) in programs.iter().zip(&table) {
        out[*off..*off + p.len()].copy_from_slice(p);
    }
    out
}

/// Build the kernel, the system's components and the root task with the system embedded, into
/// `target/images/<board>/`. Holds the build lock.
pub fn build_system(layout: &Layout, board: &Board, spec: &SystemSpec, system_file: &Path, opts: BuildOptions) -> Result<SystemBuild, Error> {
    build_system_with_policy(layout, board, spec, system_file, opts, RestartPolicy::Restart)
}

/// What the monitor does with a top-level PD that stops (a child's parent decides for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RestartPolicy {
    /// Rebuild it from its pristine program into fresh memory and start it again, at most 5 times
    /// in 10 s; then hold it.
    #[default]
    Restart,
    /// Leave it stopped (its calls fail with `LABEL_CALL_FAILED`).
    Hold,
}

/// [`build_system`] with the monitor's restart policy (it goes into the system image).
pub fn build_system_with_policy(
    layout: &Layout,
    board: &Board,
    spec: &SystemSpec,
    system_file: &Path,
    opts: BuildOptions,
    policy: RestartPolicy,
) -> Result<SystemBuild, Error> {
    check_supported(spec)?;
    if board.qemu.is_none() {
        return err(format!("board `{}` has no [qemu] table in images/boards/{}.toml: systems cannot be booted on it yet", board.name, board.name));
    }
    let lock = BuildLock::take(layout)?;
    let (built, kernel_build_time) = super::build_kernel(layout, board, opts)?;
    let started = Instant::now();
    let components = build_components(layout, spec, system_file, board, opts)?;

    // One program per distinct path, in first-use order.
    let base = system_file.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut pd_programs = Vec::new();
    let mut programs = Vec::new();
    for pd in &spec.pds {
        let path = match &pd.program {
            ProgramRef::Component(c) => components.get(c).cloned().ok_or_else(|| Error(format!("component `{c}` was not built")))?,
            ProgramRef::Elf(p) => base.join(p),
        };
        let index = match paths.iter().position(|p| *p == path) {
            Some(i) => i,
            None => {
                root::check_static_elf(&path).map_err(|e| Error(format!("the program of PD `{}`: {e}", pd.name)))?;
                programs.push(std::fs::read(&path).map_err(|e| io_err(&path, e))?);
                paths.push(path.clone());
                paths.len() - 1
            }
        };
        pd_programs.push(index as u32);
    }
    let flags = if policy == RestartPolicy::Hold { layout::IMAGE_FLAG_HOLD } else { 0 };
    let image = image_bytes_with_flags(&spec.encode(), &programs, &pd_programs, flags);
    if image.len() > layout::IMAGE_BYTES_MAX {
        return err(format!("the system image would be {} bytes, more than the limit of {}", image.len(), layout::IMAGE_BYTES_MAX));
    }
    // Named by the file and its full path, so that two systems never share an image.
    let mut path_print = super::Fingerprint::new();
    path_print.add(system_file.canonicalize().unwrap_or_else(|_| system_file.to_path_buf()).as_os_str().as_encoded_bytes());
    let stem = system_file.file_stem().map_or("system".into(), |s| s.to_string_lossy().into_owned());
    // A held system is a different image (the policy is in it): never let two runs of the same
    // file with different policies overwrite each other's image while one boots.
    let policy_suffix = if policy == RestartPolicy::Hold { "-hold" } else { "" };
    let name = format!("{stem}-{}{policy_suffix}", &path_print.hex()[..8]);
    let image_dir = layout.sel4_dir().join(&board.name).join("system");
    std::fs::create_dir_all(&image_dir).map_err(|e| io_err(&image_dir, e))?;
    let image_path = image_dir.join(format!("{name}.img"));
    std::fs::write(&image_path, &image).map_err(|e| io_err(&image_path, e))?;
    let root_task = root::build(layout, board, Some(&image_path), opts)?;

    let out = layout.images_dir(&board.name);
    std::fs::create_dir_all(&out).map_err(|e| io_err(&out, e))?;
    let images = Images { kernel: out.join("kernel32.elf"), root_task: out.join(format!("system-{name}.elf")), kernel_build_time };
    copy_file(&built.boot_image, &images.kernel)?;
    copy_file(&root_task, &images.root_task)?;
    // Keep the programs the image was built from, for decoding logs: the next build may
    // replace cargo's copies while this system runs.
    let programs_dir = out.join(format!("system-{name}.programs"));
    std::fs::create_dir_all(&programs_dir).map_err(|e| io_err(&programs_dir, e))?;
    let mut kept = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        let to = programs_dir.join(format!("{i}-{}", p.file_name().map_or("program".into(), |f| f.to_string_lossy().into_owned())));
        copy_file(p, &to)?;
        kept.push(to);
    }
    drop(lock);
    let programs = pd_programs.iter().map(|&i| kept[i as usize].clone()).collect();
    Ok(SystemBuild { images, programs, image_bytes: image.len(), build_time: started.elapsed() })
}

/// How to run a system on seL4.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Stop QEMU after this long (exit status 124).
    pub timeout: Option<Duration>,
    /// Show the build tools' output and the kernel's boot messages.
    pub verbose: bool,
}

/// What a run on seL4 showed.
#[derive(Clone, Debug)]
pub struct Run {
    /// The exit status: the one a PD passed to `exit_system`, the root task's own, 124 at the
    /// timeout, 1 if the machine reset without one.
    pub status: u8,
    pub end: BootEnd,
    /// From QEMU's start to the root task's banner and to the monitor's report that every PD
    /// finished `init`.
    pub root_task_up_after: Option<Duration>,
    pub all_init_done_after: Option<Duration>,
    /// How long QEMU ran.
    pub elapsed: Duration,
    /// Everything printed: decoded PD logs as `[pd] message`, other console lines as they are.
    pub output: Vec<String>,
}

/// What the console showed so far.
#[derive(Default)]
struct Seen {
    all_init_done_after: Option<Duration>,
    /// The status in the monitor's "ended the system" line.
    announced_status: Option<u8>,
    output: Vec<String>,
}

/// Decodes a system's console a line at a time.
struct Console {
    names: Vec<String>,
    decoders: Vec<Option<Box<dyn defmt_decoder::StreamDecoder + Send + Sync>>>,
    root_up: bool,
    verbose: bool,
    echo: bool,
    seen: Arc<Mutex<Seen>>,
}

impl Console {
    fn emit(&mut self, line: String) {
        if self.echo {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        self.seen.lock().unwrap().output.push(line);
    }

    fn line(&mut self, line: &str, at: Duration) {
        if !self.root_up {
            if line.contains(layout::ROOT_TASK_BANNER) {
                self.root_up = true;
            } else {
                if self.verbose {
                    self.emit(line.to_string());
                }
                return;
            }
        }
        if let Some(rest) = line.strip_prefix(layout::LOG_LINE_PREFIX) {
            self.log_line(rest);
            return;
        }
        if line.starts_with(layout::ALL_INIT_DONE_LINE) {
            self.seen.lock().unwrap().all_init_done_after = Some(at);
        }
        if let Some(status) = exit_status_of(line) {
            self.seen.lock().unwrap().announced_status = Some(status);
        }
        self.emit(line.to_string());
    }

    fn log_line(&mut self, rest: &str) {
        let (pd, hex) = rest.split_once(' ').unwrap_or((rest, ""));
        let Some(pd) = pd.parse::<usize>().ok().filter(|&i| i < self.names.len()) else {
            self.emit(format!("(a log line for an unknown PD: {rest})"));
            return;
        };
        let name = self.names[pd].clone();
        let bytes: Option<Vec<u8>> = (0..hex.len() / 2).map(|i| hex.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
        let (Some(bytes), Some(decoder)) = (bytes, self.decoders[pd].as_mut()) else {
            self.emit(format!("[{name}] (an undecodable defmt log frame: {hex})"));
            return;
        };
        decoder.received(&bytes);
        let mut lines = Vec::new();
        loop {
            match decoder.decode() {
                Ok(frame) => {
                    // The PD wrote this text: escape control characters, so that it cannot start
                    // a line of its own or overwrite another PD's.
                    let text = rampart_supervision::Sanitized(&frame.display_message().to_string()).to_string();
                    match frame.level().map(|l| l.as_str()) {
                        None | Some("info") => lines.push(format!("[{name}] {text}")),
                        Some(level) => lines.push(format!("[{name}] {}: {text}", level.to_uppercase())),
                    }
                }
                Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
                Err(defmt_decoder::DecodeError::Malformed) => {
                    lines.push(format!("[{name}] (a malformed defmt log frame was skipped)"));
                    break;
                }
            }
        }
        for l in lines {
            self.emit(l);
        }
    }
}

/// The status in the monitor's "ended the system with status N" line.
fn exit_status_of(line: &str) -> Option<u8> {
    // Exactly the monitor's line: "rampart: PD `name` ended ...", the name without backquotes (a
    // PD's own text inside another line, e.g. a panic message, does not count).
    let (before, status) = line.split_once(" ended the system with status ")?;
    let name = before.strip_prefix("rampart: PD `")?.strip_suffix('`')?;
    (!name.contains('`')).then(|| status.trim().parse().ok()).flatten()
}

/// The defmt string table of a PD program, kept for the whole run.
fn log_table(program: &Path) -> Option<&'static defmt_decoder::Table> {
    let elf = std::fs::read(program).ok()?;
    match defmt_decoder::Table::parse(&elf) {
        Ok(Some(table)) => Some(Box::leak(Box::new(table))),
        _ => None,
    }
}

/// Boot a built system and follow it to its end. With `echo`, every output line is printed on
/// standard output as it comes.
pub fn boot_system(board: &Board, spec: &SystemSpec, build: &SystemBuild, opts: &RunOptions, echo: bool) -> Result<Run, Error> {
    let decoders = build.programs.iter().map(|p| log_table(p).map(|t| t.new_stream_decoder())).collect();
    let shared = Arc::new(Mutex::new(Seen::default()));
    let mut console =
        Console { names: spec.pds.iter().map(|p| p.name.clone()).collect(), decoders, root_up: false, verbose: opts.verbose, echo, seen: shared.clone() };
    // "No timeout" is a very long one.
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let boot = qemu::boot_with_lines(
        board,
        &build.images,
        BootOptions { timeout, echo: false },
        Some(Box::new(move |line: &str, at: Duration| console.line(line, at))),
    )?;
    let (all_init_done_after, announced, output) = {
        let mut g = shared.lock().unwrap();
        (g.all_init_done_after, g.announced_status, std::mem::take(&mut g.output))
    };
    let status = match &boot.end {
        // The monitor's line carries the whole byte; QEMU's status only 7 bits of it.
        BootEnd::Exited(v) => announced.filter(|a| a & 0x7f == *v).unwrap_or(*v),
        BootEnd::TimedOut => EXIT_TIMEOUT,
        BootEnd::Reset => 1,
        BootEnd::QemuFailed(code) => {
            let how = code.map_or("was killed by a signal".to_string(), |c| format!("failed with exit status {c}"));
            return err(format!("QEMU {how}: {}", boot.qemu_stderr.trim()));
        }
    };
    Ok(Run { status, end: boot.end, root_task_up_after: boot.root_task_up_after, all_init_done_after, elapsed: boot.elapsed, output })
}

/// `rampart run` on seL4: build, boot, print, and return the exit status.
pub fn run(system_file: &Path, spec: &SystemSpec, board: &Board, opts: &RunOptions, policy: RestartPolicy) -> Result<u8, Error> {
    if let Some(q) = &board.qemu {
        let mut tools = super::host::build_tools();
        tools.push(super::host::qemu_tool(&q.binary));
        super::host::require(&tools)?;
    }
    let layout = Layout::of_tool();
    let build = build_system_with_policy(&layout, board, spec, system_file, BuildOptions { verbose: opts.verbose }, policy)?;
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    eprintln!(
        "rampart: kernel {} ({} bytes{}), root task with the system {} ({} bytes, system image {} bytes); built in {:.1} s",
        build.images.kernel.display(),
        size(&build.images.kernel),
        build.images.kernel_build_time.map_or(String::new(), |t| format!(", built in {:.1} s", t.as_secs_f64())),
        build.images.root_task.display(),
        size(&build.images.root_task),
        build.image_bytes,
        build.build_time.as_secs_f64(),
    );
    let run = boot_system(board, spec, &build, opts, true)?;
    let mut ran = format!("QEMU ran {:.2} s", run.elapsed.as_secs_f64());
    if let Some(t) = run.all_init_done_after {
        ran.push_str(&format!("; every PD finished init {:.2} s after QEMU started", t.as_secs_f64()));
    }
    match run.end {
        BootEnd::TimedOut => eprintln!("rampart: timed out ({ran})"),
        BootEnd::Reset => eprintln!("error: the machine reset or powered off without an exit status ({ran})"),
        _ => eprintln!("rampart: the system exited with status {} ({ran})", run.status),
    }
    Ok(run.status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_system_image_round_trips_through_the_root_tasks_parser() {
        let programs = vec![b"\x7fELF one".to_vec(), b"\x7fELF two, longer".to_vec()];
        let bytes = image_bytes(b"RMPSPEC-spec", &programs, &[1, 0, 1]);
        let image = layout::SystemImage::parse(&bytes).expect("parses");
        assert_eq!(image.spec, b"RMPSPEC-spec");
        assert_eq!(image.pd_count(), 3);
        assert_eq!(image.program_of(0), Some(&programs[1][..]));
        assert_eq!(image.program_of(1), Some(&programs[0][..]));
        assert_eq!(image.program_of(3), None);
        // Cut anywhere, or with a program index out of range, it is refused, not misread.
        for n in 0..bytes.len() {
            if let Some(i) = layout::SystemImage::parse(&bytes[..n]) {
                assert!((0..i.pd_count()).all(|pd| i.program_of(pd).is_some()));
            }
        }
        let bad = image_bytes(b"s", &programs, &[2]);
        assert!(layout::SystemImage::parse(&bad).is_none());
    }

    #[test]
    fn the_monitors_exit_line_carries_the_status() {
        assert_eq!(exit_status_of("rampart: PD `ping` ended the system with status 200"), Some(200));
        assert_eq!(exit_status_of("[ping] ended the system with status 3"), None);
        // A PD's text inside the monitor's line about it does not announce a status.
        assert_eq!(exit_status_of("rampart: PD `spoofer` panicked: \\rrampart: PD `keeper` ended the system with status 7"), None);
        assert_eq!(exit_status_of("rampart: PD `spoofer` stopped for a capability violation: rampart: PD `keeper` ended the system with status 7"), None);
    }

    #[test]
    fn pd_info_survives_the_ipc_buffer() {
        let mut name = [0u8; layout::PD_NAME_BYTES_MAX];
        name[..4].copy_from_slice(b"pong");
        let info = layout::PdInfo { pd_index: 1, tsc_mhz: 2300, clock_origin_tsc: 7, may_notify: 1, may_call: 2, serves_calls: true, name_len: 4, name };
        let decoded = layout::PdInfo::decode(&info.encode()).unwrap();
        assert_eq!(decoded, info);
        assert_eq!(decoded.name(), "pong");
        let mut bad = info.encode();
        bad[0] ^= 1;
        assert!(layout::PdInfo::decode(&bad).is_none());
    }
}
