//! Build the seL4 5.0.0 kernel of a board.
//!
//! The source is the `seL4/` directory of the `sel4-sys` 0.0.28 crate, a dependency of the
//! workspace that is never compiled (`[target.'cfg(any())'.dependencies]`): `cargo fetch`
//! downloads it and `Cargo.lock` pins its checksum; `cargo metadata` says where it is. The build
//! never writes there: it copies the tree to `target/sel4/<board>/kernel/src`, patches the copy,
//! and runs the kernel's standalone Makefile in `target/sel4/<board>/kernel/build` with the
//! board's `autoconf.h` first on the include path.
//!
//! Patches (each refused loudly if the text it replaces is not there):
//! - `tools/circular_includes.py` expects the preprocessor's first line to be `# 1 "kernel_all.c"`;
//!   gcc 10 and later write `# 0 ...`, and the script crashes;
//! - the Makefile's `DEFINE += -DCONFIG_PRINTING` (a typo for `DEFINES`), so `DEBUG=1` prints;
//! - `tools/bitfield_gen.py` has PLY write its parser table (`parsetab.py`) into the build
//!   directory; under `make -j` several generators write and import it at once, and one reads a
//!   half-written table (seen in CI). The table is not written: each run builds its parser.
//!
//! gcc 12 makes two warnings errors in this old source; they stay warnings
//! (`-Wno-error=address-of-packed-member -Wno-error=array-bounds`). Flags go through the
//! environment because the Makefile appends to CFLAGS and CPPFLAGS.
//!
//! The Makefile does not track `autoconf.h`, so incremental builds cannot be trusted: the whole
//! directory is rebuilt from scratch whenever the fingerprint of the inputs (source tree,
//! configuration, make parameters, patches) differs from the one the last build recorded.

use super::{err, io_err, tail, BuildOptions, Error, Fingerprint, Layout};
use rampart_sdf::Board;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The crate that vendors the kernel source, and its pinned version (root `Cargo.toml`).
pub const SOURCE_CRATE: &str = "sel4-sys";
pub const SOURCE_CRATE_VERSION: &str = "0.0.28";
/// The kernel release that crate carries (its `seL4/VERSION`).
pub const KERNEL_VERSION: &str = "5.0.0";

/// Bump when the build recipe changes (patches, flags), to force rebuilds.
const RECIPE_VERSION: &str = "rampart-sel4-kernel-2";

const WARNING_FLAGS: &str = "-Wno-error=address-of-packed-member -Wno-error=array-bounds";

/// (file in the tree, text, replacement).
const PATCHES: &[(&str, &str, &str)] = &[
    ("tools/circular_includes.py", r#"re.compile(r'^# 1 "kernel_all\.c"')"#, r#"re.compile(r'^# [01] "kernel_all\.c"')"#),
    ("Makefile", "DEFINE  += -DCONFIG_PRINTING", "DEFINES += -DCONFIG_PRINTING"),
    ("tools/bitfield_gen.py", "yacc.yacc(debug=0)", "yacc.yacc(debug=0, write_tables=0)"),
];

/// Generated bitfield headers the build keeps for the ABI check (relative to the build directory).
pub fn kept_headers(sel4_arch: &str) -> [String; 2] {
    let word_bits = if matches!(sel4_arch, "x86_64" | "aarch64") { 64 } else { 32 };
    [format!("{word_bits}/mode/api/shared_types_gen.h"), "arch/object/structures_gen.h".to_string()]
}

/// A built kernel.
#[derive(Clone, Debug)]
pub struct Built {
    /// `target/sel4/<board>/kernel`.
    pub dir: PathBuf,
    /// The patched source copy.
    pub src: PathBuf,
    /// The make build directory (holds the generated headers).
    pub build: PathBuf,
    /// The directory holding the board's `autoconf.h`.
    pub config: PathBuf,
    /// `kernel.elf` as the Makefile links it.
    pub elf: PathBuf,
    /// The image the board's loader takes (x86: the kernel as a 32-bit ELF for multiboot).
    pub boot_image: PathBuf,
    /// make `ARCH`, `PLAT`, `SEL4_ARCH`.
    pub arch: String,
    pub plat: String,
    pub sel4_arch: String,
    /// Whether this call built it (`false`: the previous build was up to date).
    pub rebuilt: bool,
}

/// The kernel source directory (`.../sel4-sys-0.0.28/seL4`), found with `cargo metadata`.
pub fn source_dir(workspace: &Path) -> Result<PathBuf, Error> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--manifest-path"])
        .arg(workspace.join("Cargo.toml"))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error(format!("cannot run cargo metadata: {e}")))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        return err(format!("cargo metadata failed (it finds the seL4 source): {}", why.trim()));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| Error(format!("cargo metadata: {e}")))?;
    let manifest = meta["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == SOURCE_CRATE && p["version"] == SOURCE_CRATE_VERSION)
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or_else(|| {
            Error(format!(
                "the workspace does not depend on {SOURCE_CRATE} {SOURCE_CRATE_VERSION}, which carries the seL4 source: keep `[target.'cfg(any())'.dependencies] {SOURCE_CRATE} = \"={SOURCE_CRATE_VERSION}\"` in {}",
                workspace.join("Cargo.toml").display()
            ))
        })?;
    let dir = Path::new(manifest).parent().map(|p| p.join("seL4")).unwrap_or_default();
    let version = std::fs::read_to_string(dir.join("VERSION")).map_err(|e| io_err(&dir.join("VERSION"), e))?;
    if version.trim() != KERNEL_VERSION {
        return err(format!("{} holds seL4 {}, not {KERNEL_VERSION}", dir.display(), version.trim()));
    }
    Ok(dir)
}

/// Every file under `dir`, relative, sorted (so the fingerprint does not depend on the order the
/// file system lists them in).
fn files_under(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let abs = dir.join(&rel);
        for entry in std::fs::read_dir(&abs).map_err(|e| io_err(&abs, e))? {
            let entry = entry.map_err(|e| io_err(&abs, e))?;
            let kind = entry.file_type().map_err(|e| io_err(&entry.path(), e))?;
            let name = rel.join(entry.file_name());
            if kind.is_dir() {
                stack.push(name);
            } else if kind.is_file() {
                out.push(name);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The fingerprint of a kernel build's inputs: `make` is (ARCH, PLAT, SEL4_ARCH).
fn fingerprint(src: &Path, make: [&str; 3], autoconf: &[u8]) -> Result<String, Error> {
    let mut f = Fingerprint::new();
    f.add(RECIPE_VERSION.as_bytes());
    f.add(WARNING_FLAGS.as_bytes());
    for (file, from, to) in PATCHES {
        for s in [file, from, to] {
            f.add(s.as_bytes());
        }
    }
    for s in make {
        f.add(s.as_bytes());
    }
    f.add(autoconf);
    for rel in files_under(src)? {
        let path = src.join(&rel);
        f.add(rel.as_os_str().as_encoded_bytes());
        f.add(&std::fs::read(&path).map_err(|e| io_err(&path, e))?);
    }
    Ok(f.hex())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), Error> {
    for rel in files_under(from)? {
        let dest = to.join(&rel);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        }
        // fs::copy keeps the permission bits: the Makefile runs several scripts directly.
        std::fs::copy(from.join(&rel), &dest).map_err(|e| io_err(&dest, e))?;
    }
    Ok(())
}

fn apply_patches(src: &Path) -> Result<(), Error> {
    for (file, from, to) in PATCHES {
        let path = src.join(file);
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        if !text.contains(from) {
            return err(format!("cannot patch {}: `{from}` is not in it (a different seL4 source?)", path.display()));
        }
        std::fs::write(&path, text.replacen(from, to, 1)).map_err(|e| io_err(&path, e))?;
    }
    Ok(())
}

/// Build (or reuse) the kernel of `board` in `target/sel4/<board>/kernel`. `python_bin` is the
/// venv's `bin/` directory, put first on make's `PATH`.
pub fn build(layout: &Layout, board: &Board, python_bin: &Path, opts: BuildOptions) -> Result<Built, Error> {
    let Some(kcfg) = board.kernel.as_ref() else {
        return err(format!("board `{}` has no [kernel] table in images/boards/{}.toml: it cannot be built for seL4 yet", board.name, board.name));
    };
    let source = source_dir(&layout.workspace)?;
    let autoconf_path = layout.workspace.join("images").join(&kcfg.autoconf);
    let autoconf = std::fs::read(&autoconf_path).map_err(|e| io_err(&autoconf_path, e))?;
    let print = fingerprint(&source, [&kcfg.arch, &kcfg.plat, &kcfg.sel4_arch], &autoconf)?;

    let dir = layout.sel4_dir().join(&board.name).join("kernel");
    let built = Built {
        src: dir.join("src"),
        build: dir.join("build"),
        config: dir.join("config"),
        elf: dir.join("build/kernel.elf"),
        boot_image: dir.join(if kcfg.arch == "x86" { "kernel32.elf" } else { "kernel.elf" }),
        arch: kcfg.arch.clone(),
        plat: kcfg.plat.clone(),
        sel4_arch: kcfg.sel4_arch.clone(),
        dir,
        rebuilt: true,
    };
    let stamp = built.dir.join("fingerprint");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == print) && built.boot_image.is_file() {
        return Ok(Built { rebuilt: false, ..built });
    }

    // A fresh directory: the Makefile cannot be trusted to notice what changed.
    if built.dir.exists() {
        std::fs::remove_dir_all(&built.dir).map_err(|e| io_err(&built.dir, e))?;
    }
    copy_tree(&source, &built.src)?;
    apply_patches(&built.src)?;
    for d in [&built.build, &built.config] {
        std::fs::create_dir_all(d).map_err(|e| io_err(d, e))?;
    }
    std::fs::write(built.config.join("autoconf.h"), &autoconf).map_err(|e| io_err(&built.config, e))?;

    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let path = std::env::join_paths(std::iter::once(python_bin.to_path_buf()).chain(std::env::var_os("PATH").iter().flat_map(std::env::split_paths)))
        .map_err(|e| Error(format!("PATH: {e}")))?;
    let mut make = Command::new("make");
    make.arg("-f")
        .arg(built.src.join("Makefile"))
        .arg(format!("SOURCE_ROOT={}", built.src.display()))
        .arg(format!("ARCH={}", kcfg.arch))
        .arg(format!("PLAT={}", kcfg.plat))
        .arg(format!("SEL4_ARCH={}", kcfg.sel4_arch))
        .arg("DEBUG=1")
        .arg("PYTHON=python3")
        .arg(format!("-j{jobs}"))
        .arg("all")
        // Named as goals so make keeps them (it deletes intermediate files): the ABI check
        // compiles against them.
        .args(kept_headers(&kcfg.sel4_arch))
        .current_dir(&built.build)
        .env("PATH", path)
        .env("CPPFLAGS", format!("-I{}", built.config.display()))
        .env("CFLAGS", WARNING_FLAGS)
        .env_remove("LDFLAGS")
        .env_remove("ASFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .stdin(Stdio::null());
    let log = built.dir.join("build.log");
    if !opts.verbose {
        let file = std::fs::File::create(&log).map_err(|e| io_err(&log, e))?;
        let file2 = file.try_clone().map_err(|e| io_err(&log, e))?;
        make.stdout(file).stderr(file2);
    }
    let step = crate::progress::Step::start(&format!("building the seL4 kernel for {}", board.name), opts.verbose);
    let status = make.status().map_err(|e| Error(format!("cannot run make: {e}")))?;
    step.finish();
    if !status.success() {
        let shown = if opts.verbose { String::new() } else { format!(":\n{}", tail(&log, 25)) };
        return err(format!("the seL4 kernel build failed ({status}); the log is {}{shown}", log.display()));
    }

    if kcfg.arch == "x86" {
        // QEMU's multiboot loader refuses 64-bit ELF files; the kernel starts in 32-bit mode
        // anyway, so the same image in a 32-bit container boots.
        let out = Command::new("objcopy")
            .args(["-O", "elf32-i386"])
            .arg(&built.elf)
            .arg(&built.boot_image)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| Error(format!("cannot run objcopy: {e}")))?;
        if !out.status.success() {
            return err(format!("objcopy -O elf32-i386 {} failed: {}", built.elf.display(), String::from_utf8_lossy(&out.stderr).trim()));
        }
    } else {
        std::fs::copy(&built.elf, &built.boot_image).map_err(|e| io_err(&built.boot_image, e))?;
    }
    std::fs::write(&stamp, format!("{print}\n")).map_err(|e| io_err(&stamp, e))?;
    Ok(built)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_changes_with_the_configuration_and_the_source() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/a")).unwrap();
        std::fs::write(dir.path().join("src/a/x.c"), "int x;").unwrap();
        let k = ["x86", "pc99", "x86_64"];
        let src = dir.path().join("src");
        let base = fingerprint(&src, k, b"#define A 1").unwrap();
        assert_eq!(base, fingerprint(&src, k, b"#define A 1").unwrap());
        assert_ne!(base, fingerprint(&src, k, b"#define A 2").unwrap());
        assert_ne!(base, fingerprint(&src, ["x86", "pc98", "x86_64"], b"#define A 1").unwrap());
        std::fs::write(dir.path().join("src/a/x.c"), "int y;").unwrap();
        assert_ne!(base, fingerprint(&src, k, b"#define A 1").unwrap());
    }

    #[test]
    fn the_patches_apply_to_the_pinned_source() {
        let Ok(source) = source_dir(Path::new(crate::WORKSPACE_DIR)) else {
            panic!("the sel4-sys source is not available: run `cargo fetch`");
        };
        let dir = tempfile::tempdir().unwrap();
        for (file, _, _) in PATCHES {
            let to = dir.path().join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(source.join(file), &to).unwrap();
        }
        apply_patches(dir.path()).unwrap();
        assert!(apply_patches(dir.path()).unwrap_err().0.contains("cannot patch"));
    }
}
