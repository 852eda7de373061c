//! Boards: the machines a system is built for.
//!
//! A board is a small TOML file in `images/boards/` (name, architecture, CPU count, description);
//! the architecture decides what a system file may say (page sizes, IRQ forms, I/O ports, the
//! user address window). Every file present in `images/boards/` when this crate is built is
//! compiled in, so adding a board is adding a file.
//!
//! A board that can be booted also says how: an optional `[kernel]` table (the seL4 build's make
//! parameters and its `autoconf.h`, a path relative to `images/`) and an optional `[qemu]` table
//! (the emulator, machine, CPU, memory and extra arguments). Boards without them can be checked
//! and run hosted, not built or booted. Unknown keys are refused at every level.

use rampart_spec::Arch;
use serde::Deserialize;

/// The board used when none is named.
pub const DEFAULT_BOARD: &str = "qemu-x86_64";

/// Most CPUs a board may declare (the width of the `cpu` attribute's check).
pub const MAX_BOARD_CPUS: u16 = 256;

/// Most memory a board may give QEMU, in MiB.
pub const MAX_QEMU_MEMORY_MIB: u32 = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Board {
    pub name: String,
    pub arch: Arch,
    pub cpus: u16,
    pub description: String,
    /// How to build the seL4 kernel for this board; `None`: it cannot be built yet.
    pub kernel: Option<KernelConfig>,
    /// How to boot it under QEMU; `None`: it cannot be booted yet.
    pub qemu: Option<QemuConfig>,
}

/// The seL4 kernel build of a board: the parameters of the kernel's standalone Makefile.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KernelConfig {
    /// make `ARCH` (`x86`, `arm`).
    pub arch: String,
    /// make `PLAT` (`pc99`, `imx6`, ...).
    pub plat: String,
    /// make `SEL4_ARCH` (`x86_64`, `ia32`, `aarch32`, `aarch64`).
    pub sel4_arch: String,
    /// The kernel configuration header, relative to `images/` (a relative path without `..`).
    pub autoconf: String,
}

/// The QEMU command line of a board (the runner adds the console, kernel and boot modules).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuConfig {
    /// The emulator program, looked up on `PATH`.
    pub binary: String,
    /// `-machine`.
    pub machine: String,
    /// `-cpu`.
    pub cpu: String,
    /// `-m`, in MiB.
    pub memory_mib: u32,
    /// Further arguments, passed as they are (devices, accelerator).
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BoardFile {
    name: String,
    arch: String,
    cpus: u16,
    description: String,
    kernel: Option<KernelConfig>,
    qemu: Option<QemuConfig>,
}

const MAKE_ARCHES: &[&str] = &["x86", "arm"];
const MAKE_SEL4_ARCHES: &[&str] = &["x86_64", "ia32", "aarch32", "aarch64"];

fn check_kernel(k: &KernelConfig) -> Result<(), String> {
    if !MAKE_ARCHES.contains(&k.arch.as_str()) {
        return Err(format!("kernel.arch '{}' is not one of {}", k.arch, MAKE_ARCHES.join(", ")));
    }
    if !MAKE_SEL4_ARCHES.contains(&k.sel4_arch.as_str()) {
        return Err(format!("kernel.sel4_arch '{}' is not one of {}", k.sel4_arch, MAKE_SEL4_ARCHES.join(", ")));
    }
    if k.plat.is_empty() || !k.plat.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(format!("kernel.plat '{}' must be a make platform name (letters, digits, '_')", k.plat));
    }
    let p = std::path::Path::new(&k.autoconf);
    let plain = p.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if k.autoconf.is_empty() || !plain {
        return Err(format!("kernel.autoconf '{}' must be a path relative to images/, without '..'", k.autoconf));
    }
    Ok(())
}

fn check_qemu(q: &QemuConfig) -> Result<(), String> {
    if q.binary.is_empty() || q.machine.is_empty() || q.cpu.is_empty() {
        return Err("qemu.binary, qemu.machine and qemu.cpu must not be empty".into());
    }
    if q.memory_mib == 0 || q.memory_mib > MAX_QEMU_MEMORY_MIB {
        return Err(format!("qemu.memory_mib must be from 1 to {MAX_QEMU_MEMORY_MIB}"));
    }
    Ok(())
}

include!(concat!(env!("OUT_DIR"), "/boards.rs"));

impl Board {
    /// Parse a board file.
    pub fn from_toml(text: &str) -> Result<Board, String> {
        let f: BoardFile = toml::from_str(text).map_err(|e| e.to_string())?;
        let arch = match f.arch.as_str() {
            "x86_64" => Arch::X86_64,
            "aarch64" => Arch::Aarch64,
            "armv7" => Arch::Armv7,
            other => return Err(format!("unknown arch '{other}': expected x86_64, aarch64 or armv7")),
        };
        if f.cpus == 0 || f.cpus > MAX_BOARD_CPUS {
            return Err(format!("cpus must be from 1 to {MAX_BOARD_CPUS}"));
        }
        if let Some(k) = &f.kernel {
            check_kernel(k)?;
        }
        if let Some(q) = &f.qemu {
            check_qemu(q)?;
        }
        Ok(Board { name: f.name, arch, cpus: f.cpus, description: f.description, kernel: f.kernel, qemu: f.qemu })
    }

    /// Every board compiled in, sorted by name.
    pub fn all() -> Vec<Board> {
        let mut boards: Vec<Board> =
            BOARD_FILES.iter().map(|(file, text)| Board::from_toml(text).unwrap_or_else(|e| panic!("images/boards/{file} is invalid: {e}"))).collect();
        boards.sort_by(|a, b| a.name.cmp(&b.name));
        boards
    }

    /// The board with this name, or an error listing the boards there are.
    pub fn named(name: &str) -> Result<Board, String> {
        let all = Board::all();
        all.iter().find(|b| b.name == name).cloned().ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
            format!("unknown board '{name}': the boards are {}", names.join(", "))
        })
    }

    pub fn default_board() -> Board {
        Board::named(DEFAULT_BOARD).expect("the default board's file is in images/boards")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_file_parses_and_names_itself_after_its_file() {
        let all = Board::all();
        assert!(all.len() >= 3);
        for (file, text) in BOARD_FILES {
            let b = Board::from_toml(text).unwrap();
            assert_eq!(format!("{}.toml", b.name), *file);
        }
        assert_eq!(Board::default_board().arch, Arch::X86_64);
        assert_eq!(Board::named("qemu-sabrelite").unwrap().arch, Arch::Armv7);
    }

    #[test]
    fn an_unknown_board_lists_the_known_ones() {
        let e = Board::named("pdp11").unwrap_err();
        assert!(e.contains("unknown board 'pdp11'") && e.contains("qemu-x86_64"), "{e}");
    }

    #[test]
    fn bad_board_files_are_refused() {
        assert!(Board::from_toml("name='x'\narch='mips'\ncpus=1\ndescription=''").is_err());
        assert!(Board::from_toml("name='x'\narch='armv7'\ncpus=0\ndescription=''").is_err());
        assert!(Board::from_toml("name='x'\narch='armv7'\ncpus=1\ndescription=''\nram=3").is_err());
    }

    const BASE: &str = "name='x'\narch='x86_64'\ncpus=1\ndescription=''\n";
    const KERNEL: &str = "[kernel]\narch='x86'\nplat='pc99'\nsel4_arch='x86_64'\nautoconf='x/autoconf.h'\n";
    const QEMU: &str = "[qemu]\nbinary='qemu-system-x86_64'\nmachine='pc'\ncpu='qemu64'\nmemory_mib=512\n";

    #[test]
    fn kernel_and_qemu_tables_are_optional_and_parsed() {
        let plain = Board::from_toml(BASE).unwrap();
        assert_eq!((plain.kernel, plain.qemu), (None, None));
        let b = Board::from_toml(&format!("{BASE}{KERNEL}{QEMU}args=['-accel','tcg']\n")).unwrap();
        let k = b.kernel.unwrap();
        assert_eq!((k.arch.as_str(), k.plat.as_str(), k.sel4_arch.as_str(), k.autoconf.as_str()), ("x86", "pc99", "x86_64", "x/autoconf.h"));
        let q = b.qemu.unwrap();
        assert_eq!((q.binary.as_str(), q.memory_mib, q.args.len()), ("qemu-system-x86_64", 512, 2));
        assert!(Board::from_toml(&format!("{BASE}{QEMU}")).unwrap().qemu.unwrap().args.is_empty());
    }

    #[test]
    fn bad_kernel_and_qemu_tables_are_refused() {
        for bad in [
            format!("{BASE}{KERNEL}extra=1\n"),
            format!("{BASE}{QEMU}smp=2\n"),
            format!("{BASE}{}", KERNEL.replace("'x86'", "'mips'")),
            format!("{BASE}{}", KERNEL.replace("'x86_64'", "'riscv64'")),
            format!("{BASE}{}", KERNEL.replace("'pc99'", "'pc 99'")),
            format!("{BASE}{}", KERNEL.replace("x/autoconf.h", "../autoconf.h")),
            format!("{BASE}{}", KERNEL.replace("x/autoconf.h", "/etc/autoconf.h")),
            format!("{BASE}{}", QEMU.replace("512", "0")),
            format!("{BASE}{}", QEMU.replace("'pc'", "''")),
            format!("{BASE}[kernel]\narch='x86'\n"),
        ] {
            assert!(Board::from_toml(&bad).is_err(), "accepted:\n{bad}");
        }
    }

    #[test]
    fn the_default_board_can_be_built_and_booted() {
        let b = Board::default_board();
        assert!(b.kernel.is_some() && b.qemu.is_some());
    }

    #[test]
    fn every_kernel_configuration_a_board_names_exists() {
        let images = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../images");
        for b in Board::all() {
            if let Some(k) = b.kernel {
                assert!(images.join(&k.autoconf).is_file(), "{}: images/{} is missing", b.name, k.autoconf);
            }
        }
    }
}
