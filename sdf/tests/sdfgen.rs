//! Interoperability with `sdfgen`, the PyPI package Microkit users generate system files with:
//! every file `tests/sdfgen/generate.py` writes through sdfgen's Python API must be accepted by
//! rampart-sdf for the board its manifest names, and compile to the system it describes.
//!
//! Needs `python3` (or the interpreter in `$PYTHON`). When `sdfgen` cannot be imported, it is
//! installed with pip into `<workspace>/target/pydeps`, which is put on `PYTHONPATH`.

use rampart_sdf::{check_str, Board, Checked, Options};
use rampart_spec::{Arch, IrqSource, Polarity, SchedContext, Trigger};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn sdf_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn pydeps_dir() -> PathBuf {
    sdf_dir().parent().expect("sdf/ is inside the workspace").join("target").join("pydeps")
}

/// The last non-empty line of a tool's stderr (or stdout), so a failure stays one line.
fn last_line(out: &Output) -> String {
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    text.lines().map(str::trim).rfind(|l| !l.is_empty()).unwrap_or("no output").to_string()
}

struct Python {
    exe: OsString,
    pythonpath: OsString,
}

impl Python {
    /// `$PYTHON`, else `python3`, else `python` (when it is Python 3).
    fn find() -> Python {
        let candidates: Vec<OsString> = match std::env::var_os("PYTHON") {
            Some(p) => vec![p],
            None => vec!["python3".into(), "python".into()],
        };
        let exe = candidates
            .into_iter()
            .find(|exe| Command::new(exe).args(["-c", "import sys; sys.exit(0 if sys.version_info[0] == 3 else 1)"]).output().is_ok_and(|o| o.status.success()))
            .unwrap_or_else(|| panic!("sdfgen tests need Python 3: install python3 (or set PYTHON to a Python 3 interpreter)"));
        let mut paths = vec![pydeps_dir()];
        if let Some(old) = std::env::var_os("PYTHONPATH") {
            paths.extend(std::env::split_paths(&old));
        }
        let pythonpath = std::env::join_paths(paths).expect("PYTHONPATH entries contain no separator");
        Python { exe, pythonpath }
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.exe);
        c.env("PYTHONPATH", &self.pythonpath).env("PYTHONDONTWRITEBYTECODE", "1");
        c
    }

    fn run(&self, args: &[&std::ffi::OsStr]) -> Output {
        self.command().args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", self.exe.to_string_lossy()))
    }

    fn import_sdfgen(&self) -> Output {
        self.run(&["-c".as_ref(), "import sdfgen".as_ref()])
    }

    /// Make `import sdfgen` work, installing the package into `target/pydeps` if it does not.
    fn ensure_sdfgen(&self) {
        if self.import_sdfgen().status.success() {
            return;
        }
        let target = pydeps_dir();
        let pip = self.run(&[
            "-m".as_ref(),
            "pip".as_ref(),
            "install".as_ref(),
            "--quiet".as_ref(),
            "--disable-pip-version-check".as_ref(),
            "--upgrade".as_ref(),
            "--target".as_ref(),
            target.as_os_str(),
            "sdfgen".as_ref(),
        ]);
        if !pip.status.success() {
            panic!("sdfgen tests need the PyPI package sdfgen: pip install sdfgen (pip failed: {})", last_line(&pip));
        }
        let import = self.import_sdfgen();
        if !import.status.success() {
            panic!(
                "sdfgen tests need the PyPI package sdfgen: pip install sdfgen (installed into {}, but `import sdfgen` failed: {})",
                target.display(),
                last_line(&import)
            );
        }
    }
}

struct Generated {
    /// Keeps the directory alive while the files are checked.
    _dir: tempfile::TempDir,
    generator: String,
    /// File name → (board name, checked system).
    systems: BTreeMap<String, (String, Checked)>,
}

/// Run generate.py and check every file it lists; panics with every rejection's report.
fn generate_and_check() -> Generated {
    let python = Python::find();
    python.ensure_sdfgen();
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let script = sdf_dir().join("tests").join("sdfgen").join("generate.py");
    let out = python.run(&[script.as_os_str(), dir.path().as_os_str()]);
    assert!(
        out.status.success(),
        "{} failed ({}):\n{}{}",
        script.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let manifest_path = dir.path().join("manifest.json");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest_path.display())))
            .expect("manifest.json is JSON");
    let generator = manifest["generator"].as_str().expect("manifest names its generator").to_string();
    let entries = manifest["systems"].as_array().expect("manifest lists its systems");

    // Every system file written is listed, so none escapes the check.
    let mut on_disk: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.ends_with(".xml")).collect();
    on_disk.sort();
    let mut listed: Vec<String> = entries.iter().map(|e| e["file"].as_str().expect("entry has a file").to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed, "generate.py wrote system files that manifest.json does not list (or the reverse)");

    let mut systems = BTreeMap::new();
    let mut rejected = Vec::new();
    for e in entries {
        let file = e["file"].as_str().unwrap();
        let board_name = e["board"].as_str().unwrap_or_else(|| panic!("manifest entry {file} has no board"));
        let board = Board::named(board_name).unwrap_or_else(|err| panic!("{file}: {err}"));
        let source = std::fs::read_to_string(dir.path().join(file)).unwrap();
        match check_str(file, &source, &Options::new(board)) {
            Ok(checked) => {
                if !checked.report.diagnostics.is_empty() {
                    eprintln!("{file} ({board_name}) is accepted with warnings:\n{}", checked.report.render(false));
                }
                systems.insert(file.to_string(), (board_name.to_string(), checked));
            }
            Err(report) => rejected
                .push(format!("{file} (board {board_name}) was rejected:\n{}\n--- the file, as {generator} wrote it ---\n{source}", report.render(false))),
        }
    }
    assert!(rejected.is_empty(), "{} of {} sdfgen files rejected:\n\n{}", rejected.len(), entries.len(), rejected.join("\n\n"));
    Generated { _dir: dir, generator, systems }
}

fn pd<'a>(c: &'a Checked, name: &str) -> (usize, &'a rampart_spec::PdSpec) {
    c.spec.pds.iter().enumerate().find(|(_, p)| p.name == name).unwrap_or_else(|| panic!("no PD `{name}` in the compiled spec"))
}

/// (PDs, channels, regions) of a compiled system.
fn counts(c: &Checked) -> (usize, usize, usize) {
    (c.spec.pds.len(), c.spec.channels.len(), c.spec.regions.len())
}

#[test]
fn files_generated_by_sdfgen_are_accepted() {
    let g = generate_and_check();
    eprintln!("checked {} files from {}", g.systems.len(), g.generator);
    assert!(g.systems.len() >= 5, "expected at least 5 generated systems, got {}", g.systems.len());
    let get = |file: &str| -> &Checked {
        let (_, c) = g.systems.get(file).unwrap_or_else(|| panic!("generate.py did not write {file}"));
        c
    };
    let board_of = |file: &str| g.systems[file].0.as_str();

    // (a) x86_64 client/server.
    let cs = get("x86_client_server.xml");
    assert_eq!(board_of("x86_client_server.xml"), "qemu-x86_64");
    assert_eq!(counts(cs), (3, 2, 3));
    let (client, _) = pd(cs, "client");
    let (si, server) = pd(cs, "server");
    let (_, worker) = pd(cs, "worker");
    assert_eq!(worker.parent, Some((si as u8, 1)));
    assert_eq!(server.stack_size_bytes, 0x4000);
    let call = server.channels.iter().find(|c| usize::from(c.peer) == client).expect("server has a channel to client");
    assert!(call.peer_may_call && !call.may_call && call.id == 1, "{call:?}");
    assert_eq!(call.setvar_id.as_deref(), Some("client_ch"));
    assert!(
        matches!(
            server.irqs.as_slice(),
            [i] if i.id == 5 && matches!(i.source, IrqSource::Ioapic { ioapic: 0, pin: 4, vector: 36, trigger: Trigger::Edge, .. })
        ),
        "{:?}",
        server.irqs
    );
    assert!(matches!(server.ioports.as_slice(), [p] if p.id == 6 && p.addr == 0x3f8 && p.size == 8), "{:?}", server.ioports);
    assert_eq!(pd(cs, "client").1.maps[0].setvar_size.as_deref(), Some("request_size"));

    // (b) AArch64 device driver.
    let dev = get("aarch64_device.xml");
    assert_eq!(dev.spec.arch, Arch::Aarch64);
    assert_eq!(counts(dev), (3, 2, 3));
    let uart = dev.spec.regions.iter().find(|r| r.name == "uart_regs").unwrap();
    assert_eq!(uart.phys_addr, Some(0x900_0000));
    let (di, driver) = pd(dev, "uart_driver");
    assert!(matches!(driver.irqs.as_slice(), [i] if i.source == IrqSource::Arm { irq: 33, trigger: Trigger::Level }));
    assert!(driver.maps.iter().any(|m| !m.cached && dev.spec.regions[usize::from(m.region)].name == "uart_regs"));
    assert_eq!(pd(dev, "logger").1.parent, Some((di as u8, 3)));

    // (c) The ring: 20 PDs, each with a channel to each neighbour and two shared regions.
    let ring = get("x86_ring.xml");
    assert_eq!(counts(ring), (20, 20, 20));
    for (i, p) in ring.spec.pds.iter().enumerate() {
        assert_eq!(p.maps.len(), 2, "{}", p.name);
        let ids: Vec<(u8, bool)> = p.channels.iter().map(|c| (c.id, c.may_notify)).collect();
        assert_eq!(ids, [(0, true), (1, false)], "{}", p.name);
        assert_eq!(usize::from(p.channels[0].peer), (i + 1) % 20, "{}", p.name);
    }

    // (d) Scheduling parameters, accepted with no backend chosen.
    let sched = get("x86_scheduling.xml");
    assert_eq!(counts(sched), (5, 4, 1));
    let (_, server) = pd(sched, "server");
    assert!(server.passive);
    assert_eq!(server.sched, Some(SchedContext { budget_us: 500, period_us: 1000 }));
    assert_eq!(pd(sched, "batch").1.sched, Some(SchedContext { budget_us: 5000, period_us: 5000 }));
    assert_eq!(pd(sched, "slow").1.sched, Some(SchedContext { budget_us: 1000, period_us: 10_000 }));
    assert_eq!(server.channels.len(), 4);
    assert!(server.channels.iter().all(|c| c.peer_may_call));

    // (e) Ids and addresses allocated by sdfgen.
    let auto = get("x86_autoalloc.xml");
    assert_eq!(counts(auto), (10, 9, 15));
    let (_, hub) = pd(auto, "hub");
    assert_eq!(hub.maps.len(), 15);
    assert!(auto.spec.regions.iter().filter(|r| r.name.starts_with("dma")).all(|r| r.phys_addr.is_some_and(|p| p % 0x1000 == 0)));
    let large = hub.maps.iter().find(|m| auto.spec.regions[usize::from(m.region)].name == "dma_large").unwrap();
    assert_eq!(large.vaddr % 0x20_0000, 0, "get_map_vaddr aligns a 2 MiB region");
    assert!(hub.maps.iter().any(|m| m.perms.execute && !m.perms.write));
    assert!(hub.irqs.iter().any(|i| matches!(i.source, IrqSource::Ioapic { pin: 12, vector: 44, trigger: Trigger::Level, polarity: Polarity::ActiveLow, .. })));
    assert_eq!(hub.irqs.len() + hub.ioports.len() + hub.channels.len(), 2 + 2 + 7);
    let (sup, _) = pd(auto, "supervisor");
    let children: Vec<u8> = auto.spec.pds.iter().filter_map(|p| p.parent.filter(|(par, _)| usize::from(*par) == sup).map(|(_, id)| id)).collect();
    assert_eq!(children.len(), 2);
    assert_ne!(children[0], children[1]);

    // ARMv7.
    if let Some((board, armv7)) = g.systems.get("armv7_sabrelite.xml") {
        assert_eq!(board, "qemu-sabrelite");
        assert_eq!(armv7.spec.arch, Arch::Armv7);
        assert_eq!(counts(armv7), (3, 2, 2));
    }
}
