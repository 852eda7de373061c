//! Boot a board's images under QEMU (TCG), with a timeout, and report how it ended.
//!
//! The command line is the board's `[qemu]` table plus what the runner owns: no display, the
//! serial console on standard output (`-nographic -serial mon:stdio`), `-no-reboot` (a reset or
//! triple fault ends QEMU instead of looping), the kernel (`-kernel`, multiboot) and the root
//! task (`-initrd`, the first boot module). Standard input is closed: nothing is interactive.
//!
//! The console is always captured and, on request, echoed live to our standard output. The root
//! task ends a boot by writing a status byte `v` to QEMU's `isa-debug-exit` port, which makes
//! QEMU exit with `2 * v + 1`: an odd exit status is the root task's `v` (0 to 127; higher values
//! alias, as exit statuses are 8 bits). QEMU's own failures (bad arguments, a missing file) also
//! exit with 1 but before the guest prints anything, so an exit of 1 with an empty console is
//! reported as QEMU failing, not as status 0.

use super::host;
use super::{err, Error, Images, ROOT_TASK_BANNER};
use rampart_sdf::Board;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the runner checks whether QEMU has ended.
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// Most console output kept in [`Boot::console`]; the rest is still echoed, not kept.
pub const MAX_CONSOLE_BYTES: usize = 16 << 20;
/// Longest console line handed to a [`LineSink`]; the rest of a longer line is dropped.
pub const MAX_LINE_BYTES: usize = 64 << 10;

/// How a boot ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BootEnd {
    /// The root task wrote this status to the exit port.
    Exited(u8),
    /// The timeout passed first; QEMU was killed.
    TimedOut,
    /// The machine reset or powered off (QEMU exited with 0 under `-no-reboot`).
    Reset,
    /// QEMU itself failed (its exit status, or `None` if a signal ended it).
    QemuFailed(Option<i32>),
}

/// The record of one boot.
#[derive(Clone, Debug)]
pub struct Boot {
    pub end: BootEnd,
    /// Everything the machine printed on its serial console, carriage returns removed (the
    /// kernel ends lines with "\n\r").
    pub console: String,
    /// What QEMU printed on its standard error (its own warnings and errors).
    pub qemu_stderr: String,
    /// From starting QEMU to its end.
    pub elapsed: Duration,
    /// From starting QEMU to the root task's first line ([`ROOT_TASK_BANNER`]), if it came.
    pub root_task_up_after: Option<Duration>,
}

/// Options of one boot.
#[derive(Clone, Copy, Debug)]
pub struct BootOptions {
    /// Kill QEMU after this long.
    pub timeout: Duration,
    /// Also copy the console to our standard output as it arrives.
    pub echo: bool,
}

/// The QEMU command for `board` booting `images`.
pub fn command(board: &Board, images: &Images) -> Result<Command, Error> {
    let Some(q) = &board.qemu else {
        return err(format!("board `{}` has no [qemu] table in images/boards/{}.toml: it cannot be booted yet", board.name, board.name));
    };
    if board.arch != rampart_spec::Arch::X86_64 {
        return err(format!("booting is only supported on x86_64 boards so far (QEMU's multiboot loader), not `{}`", board.name));
    }
    for p in [&images.kernel, &images.root_task] {
        if p.to_string_lossy().contains(',') {
            // -initrd separates several modules with commas.
            return err(format!("{}: QEMU cannot take a path containing ','", p.display()));
        }
    }
    let mut cmd = Command::new(&q.binary);
    cmd.args(["-machine", &q.machine, "-cpu", &q.cpu, "-m", &q.memory_mib.to_string()])
        .args(["-nographic", "-serial", "mon:stdio", "-no-reboot"])
        .args(&q.args)
        .arg("-kernel")
        .arg(&images.kernel)
        .arg("-initrd")
        .arg(&images.root_task);
    Ok(cmd)
}

/// Called with each complete console line (carriage returns removed, no newline) and the time
/// since QEMU started, as it arrives.
pub type LineSink = Box<dyn FnMut(&str, Duration) + Send>;

/// Boot `images` on `board` and wait for the end (or the timeout).
pub fn boot(board: &Board, images: &Images, opts: BootOptions) -> Result<Boot, Error> {
    boot_with_lines(board, images, opts, None)
}

/// As [`boot`], also handing every console line to `on_line` as it arrives (the last, unfinished
/// line when QEMU ends).
pub fn boot_with_lines(board: &Board, images: &Images, opts: BootOptions, mut on_line: Option<LineSink>) -> Result<Boot, Error> {
    let mut cmd = command(board, images)?;
    if let Some(q) = &board.qemu {
        host::require(&[host::qemu_tool(&q.binary)])?;
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| Error(format!("cannot start {:?}: {e}", cmd.get_program())))?;

    let banner_at: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
    let mut stdout = child.stdout.take().expect("piped");
    let seen = banner_at.clone();
    let echo = opts.echo;
    let console_reader = std::thread::spawn(move || {
        let mut console = Vec::new();
        let mut buf = [0u8; 4096];
        let mut line: Vec<u8> = Vec::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Some(sink) = on_line.as_mut() {
                for &b in &buf[..n] {
                    match b {
                        b'\n' => {
                            sink(&String::from_utf8_lossy(&line), started.elapsed());
                            line.clear();
                        }
                        b'\r' => {}
                        // A runaway line is cut rather than kept without bound.
                        _ if line.len() < MAX_LINE_BYTES => line.push(b),
                        _ => {}
                    }
                }
            }
            if echo {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(&buf[..n]);
                let _ = out.flush();
            }
            let before = console.len();
            console.extend_from_slice(&buf[..n.min(MAX_CONSOLE_BYTES - before.min(MAX_CONSOLE_BYTES))]);
            // Only the new bytes (and a banner's length before them) can complete the banner.
            let from = before.saturating_sub(ROOT_TASK_BANNER.len());
            let mut seen = seen.lock().unwrap();
            if seen.is_none() && contains(&console[from..], ROOT_TASK_BANNER.as_bytes()) {
                *seen = Some(started.elapsed());
            }
        }
        if let Some(sink) = on_line.as_mut() {
            if !line.is_empty() {
                sink(&String::from_utf8_lossy(&line), started.elapsed());
            }
        }
        console
    });
    let mut stderr = child.stderr.take().expect("piped");
    let stderr_reader = std::thread::spawn(move || {
        let mut text = Vec::new();
        let _ = stderr.read_to_end(&mut text);
        text
    });

    let deadline = started + opts.timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(POLL_INTERVAL),
            Err(e) => {
                let _ = child.kill();
                return err(format!("waiting for QEMU: {e}"));
            }
        }
    };
    let elapsed = started.elapsed();
    let console = String::from_utf8_lossy(&console_reader.join().unwrap_or_default()).replace('\r', "");
    let qemu_stderr = String::from_utf8_lossy(&stderr_reader.join().unwrap_or_default()).into_owned();
    let end = match status.map(|s| s.code()) {
        None => BootEnd::TimedOut,
        Some(None) => BootEnd::QemuFailed(None),
        Some(Some(0)) => BootEnd::Reset,
        Some(Some(1)) if console.is_empty() => BootEnd::QemuFailed(Some(1)),
        Some(Some(c)) if c % 2 == 1 => BootEnd::Exited(((c - 1) / 2) as u8),
        Some(Some(c)) => BootEnd::QemuFailed(Some(c)),
    };
    let root_task_up_after = *banner_at.lock().unwrap();
    Ok(Boot { end, console, qemu_stderr, elapsed, root_task_up_after })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn images() -> Images {
        Images { kernel: PathBuf::from("/k/kernel32.elf"), root_task: PathBuf::from("/k/rootserver.elf"), kernel_build_time: None }
    }

    #[test]
    fn the_command_line_is_the_boards_plus_console_kernel_and_root_task() {
        let cmd = command(&Board::named("qemu-x86_64").unwrap(), &images()).unwrap();
        let args: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into_owned()).collect();
        assert_eq!(cmd.get_program(), "qemu-system-x86_64");
        let line = args.join(" ");
        for part in [
            "-machine pc",
            "-cpu qemu64,+pdpe1gb,+fsgsbase",
            "-m 512",
            "-nographic -serial mon:stdio -no-reboot",
            "-device isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-kernel /k/kernel32.elf -initrd /k/rootserver.elf",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
    }

    #[test]
    fn boards_without_qemu_or_paths_with_commas_are_refused() {
        assert!(command(&Board::named("qemu-sabrelite").unwrap(), &images()).unwrap_err().0.contains("cannot be booted yet"));
        let mut i = images();
        i.root_task = PathBuf::from("/a,b/rootserver.elf");
        assert!(command(&Board::named("qemu-x86_64").unwrap(), &i).is_err());
    }
}
