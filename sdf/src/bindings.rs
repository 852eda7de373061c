//! Generated bindings: a component names its channels, regions and IRQs by the names used in
//! `system.xml`, and naming one it does not have is a compile error.
//!
//! A component crate's build script calls [`build_script`]; the crate then writes
//! `rampart_runtime::bindings!();` and uses `channels::PONG`, `regions::SHARED`, `irqs::TIMER`.
//!
//! Names, for each PD that runs the component:
//! - a channel is named by its end's `setvar_id` if it has one, else by the peer PD's name, else,
//!   when there are several channels to the same peer, by `PEER_ID` (e.g. `PONG_3`);
//! - a mapped region by the map's `setvar_vaddr` if it has one, else by the region's name (a
//!   region mapped twice: `NAME_0`, `NAME_1` in map order);
//! - an IRQ by its `setvar_id`, else `IRQ_ID`; an I/O port range by `IOPORT_ID`.
//!
//! Names are upper-cased, with characters other than letters, digits and `_` made `_`.
//!
//! One component may run as several PDs (three replicas, say). Its bindings are then what all of
//! them share: a name is generated only if every such PD has it with the same id and rights (for a
//! channel) or the same address, size and permissions (for a region). Give shared names with
//! `setvar_id` / `setvar_vaddr`. A name the PDs give different values is a build error.
//!
//! Types carry rights: `Channel<Notify, PpCall>` can notify and call, `Channel<NoNotify, NoPpCall>`
//! neither; `Region<ReadOnly>` has no way to write. So the compiler also refuses a notify or call
//! over a channel end that does not allow it, or a write to a read-only region.

use crate::{check_file, find_components, Board, Options, Report};
use rampart_spec::{PdSpec, ProgramRef, SystemSpec};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Environment variable naming the system file to generate bindings from.
pub const SYSTEM_ENV: &str = "RAMPART_SYSTEM";
/// Environment variable naming the board.
pub const BOARD_ENV: &str = "RAMPART_BOARD";
/// The file the build script writes into `OUT_DIR`.
pub const BINDINGS_FILE: &str = "rampart_bindings.rs";

/// Upper-case identifier for a system-file name.
pub fn ident(name: &str) -> String {
    let mut s: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    s
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Item {
    Channel { id: u8, notify: bool, call: bool, serves: bool, peer: String },
    Region { vaddr: u64, size: u64, read: bool, write: bool, exec: bool, cached: bool, region: String },
    Irq { id: u8 },
    IoPort { id: u8, addr: u16, size: u32 },
}

impl Item {
    /// What must agree across PDs (the peer's or region's name may differ).
    fn shape(&self) -> Item {
        match self {
            Item::Channel { id, notify, call, serves, .. } => Item::Channel { id: *id, notify: *notify, call: *call, serves: *serves, peer: String::new() },
            Item::Region { vaddr, size, read, write, exec, cached, .. } => {
                Item::Region { vaddr: *vaddr, size: *size, read: *read, write: *write, exec: *exec, cached: *cached, region: String::new() }
            }
            other => other.clone(),
        }
    }

    fn module(&self) -> &'static str {
        match self {
            Item::Channel { .. } => "channels",
            Item::Region { .. } => "regions",
            Item::Irq { .. } => "irqs",
            Item::IoPort { .. } => "ioports",
        }
    }
}

/// (module, name) → item, for one PD.
fn pd_items(spec: &SystemSpec, pd: &PdSpec) -> BTreeMap<(&'static str, String), Item> {
    let mut out = BTreeMap::new();
    for c in &pd.channels {
        let peer = &spec.pds[usize::from(c.peer)].name;
        let name = match &c.setvar_id {
            Some(s) => ident(s),
            None if pd.channels.iter().filter(|o| o.peer == c.peer).count() == 1 => ident(peer),
            None => format!("{}_{}", ident(peer), c.id),
        };
        let item = Item::Channel { id: c.id, notify: c.may_notify, call: c.may_call, serves: c.peer_may_call, peer: peer.clone() };
        out.insert(("channels", name), item);
    }
    for (k, m) in pd.maps.iter().enumerate() {
        let r = &spec.regions[usize::from(m.region)];
        let name = match &m.setvar_vaddr {
            Some(s) => ident(s),
            None if pd.maps.iter().filter(|o| o.region == m.region).count() == 1 => ident(&r.name),
            None => {
                let nth = pd.maps[..k].iter().filter(|o| o.region == m.region).count();
                format!("{}_{nth}", ident(&r.name))
            }
        };
        let item = Item::Region {
            vaddr: m.vaddr,
            size: r.size_bytes,
            read: m.perms.read,
            write: m.perms.write,
            exec: m.perms.execute,
            cached: m.cached,
            region: r.name.clone(),
        };
        out.insert(("regions", name), item);
    }
    for i in &pd.irqs {
        let name = i.setvar_id.as_deref().map(ident).unwrap_or_else(|| format!("IRQ_{}", i.id));
        out.insert(("irqs", name), Item::Irq { id: i.id });
    }
    for p in &pd.ioports {
        out.insert(("ioports", format!("IOPORT_{}", p.id)), Item::IoPort { id: p.id, addr: p.addr, size: p.size });
    }
    out
}

/// Rust source of the bindings of `component` in `spec`, or why there can be none.
pub fn generate(spec: &SystemSpec, component: &str, system_file: &str) -> Result<String, String> {
    let pds: Vec<&PdSpec> = spec.pds.iter().filter(|p| matches!(&p.program, ProgramRef::Component(c) if c == component)).collect();
    if pds.is_empty() {
        return Err(format!(
            "component `{component}` is not the program of any protection domain in {system_file}: add <program_image path=\"{component}.elf\"/> to one"
        ));
    }
    let per_pd: Vec<_> = pds.iter().map(|p| pd_items(spec, p)).collect();
    let mut shared: BTreeMap<(&'static str, String), Item> = BTreeMap::new();
    let mut omitted: Vec<String> = Vec::new();
    let mut conflicts: Vec<String> = Vec::new();
    for (key, item) in &per_pd[0] {
        let mut in_all = true;
        for (k, other) in per_pd.iter().enumerate().skip(1) {
            match other.get(key) {
                None => {
                    in_all = false;
                    omitted.push(format!("{}::{} (PD `{}` has it, PD `{}` does not)", key.0, key.1, pds[0].name, pds[k].name));
                    break;
                }
                Some(o) if o.shape() != item.shape() => {
                    conflicts.push(format!("{}::{} differs between PD `{}` ({item:?}) and PD `{}` ({o:?})", key.0, key.1, pds[0].name, pds[k].name));
                    in_all = false;
                    break;
                }
                Some(_) => {}
            }
        }
        if in_all {
            shared.insert(key.clone(), item.clone());
        }
    }
    if !conflicts.is_empty() {
        return Err(format!(
            "component `{component}` runs as several PDs that give the same name different values in {system_file}:\n  {}\n  give every PD that runs the component the same ids, rights and addresses for its shared names",
            conflicts.join("\n  ")
        ));
    }

    let names: Vec<String> = pds.iter().map(|p| format!("{:?}", p.name)).collect();
    let mut out = String::new();
    let _ = writeln!(out, "// @generated by rampart-sdf from {system_file} for component `{component}`. Do not edit.");
    let _ = writeln!(out, "/// The protection domains that run this component.");
    let _ = writeln!(out, "pub const PD_NAMES: &[&str] = &[{}];", names.join(", "));
    let _ = writeln!(out, "/// The board the system was checked for.");
    let _ = writeln!(out, "pub const BOARD: &str = {:?};", spec.board);
    let serves = pds.iter().all(|p| p.serves_pp());
    let _ = writeln!(out, "/// Whether some PD may make protected procedure calls to this one (it must handle them).");
    let _ = writeln!(out, "pub const SERVES_PROTECTED_CALLS: bool = {serves};");
    if !omitted.is_empty() {
        let _ = writeln!(out, "// Not generated, because not every PD running this component has them:");
        for o in &omitted {
            let _ = writeln!(out, "//   {o}");
        }
    }
    for module in ["channels", "regions", "irqs", "ioports"] {
        let _ = writeln!(out, "#[allow(dead_code)]\npub mod {module} {{");
        let _ = writeln!(out, "    #[allow(unused_imports)]\n    use rampart_runtime::*;");
        for ((m, name), item) in shared.iter().filter(|((m, _), _)| *m == module) {
            debug_assert_eq!(*m, item.module());
            match item {
                Item::Channel { id, notify, call, serves, peer } => {
                    let n = if *notify { "Notify" } else { "NoNotify" };
                    let p = if *call { "PpCall" } else { "NoPpCall" };
                    let peer_doc = if pds.len() == 1 { format!(" to `{peer}`") } else { String::new() };
                    let _ = writeln!(
                        out,
                        "    /// Channel {id}{peer_doc}: {}, {}{}.",
                        if *notify { "may notify" } else { "may not notify" },
                        if *call { "may call" } else { "may not call" },
                        if *serves { ", accepts calls" } else { "" }
                    );
                    let _ = writeln!(out, "    pub const {name}: Channel<{n}, {p}> = Channel::new({id}, {serves});");
                }
                Item::Region { vaddr, size, write, exec, cached, region, .. } => {
                    let access = if *write { "ReadWrite" } else { "ReadOnly" };
                    let region_doc = if pds.len() == 1 { format!("`{region}` ") } else { String::new() };
                    let _ = writeln!(out, "    /// Region {region_doc}at {vaddr:#x}, {size:#x} bytes, {access}{}.", if *cached { "" } else { ", uncached" });
                    let _ = writeln!(out, "    pub const {name}: Region<{access}> = Region::new({vaddr:#x}, {size:#x}, {exec}, {cached});");
                }
                Item::Irq { id } => {
                    let _ = writeln!(out, "    /// Hardware interrupt delivered on channel id {id}.");
                    let _ = writeln!(out, "    pub const {name}: Irq = Irq::new({id});");
                }
                Item::IoPort { id, addr, size } => {
                    let _ = writeln!(out, "    /// I/O ports [{addr:#x}, {:#x}), capability id {id}.", u32::from(*addr) + size);
                    let _ = writeln!(out, "    pub const {name}: IoPorts = IoPorts::new({id}, {addr:#x}, {size:#x});");
                }
            }
        }
        if module == "channels" {
            // The server pattern: every channel whose peer may call this PD and that this PD may
            // notify (a timer PD answering each client's timeout on the client's own channel).
            let callers: Vec<String> = shared
                .values()
                .filter_map(|item| match item {
                    Item::Channel { id, notify: true, serves: true, .. } => Some(format!("Channel::new({id}, true)")),
                    _ => None,
                })
                .collect();
            let _ = writeln!(out, "    /// The channels whose peer may call this PD and which this PD may notify, by id.");
            let _ = writeln!(out, "    pub const CALLERS: &[Channel<Notify, NoPpCall>] = &[{}];", callers.join(", "));
        }
        let _ = writeln!(out, "}}");
    }
    Ok(out)
}

fn metadata_system(manifest_dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).ok()?;
    let value: toml::Value = toml::from_str(&text).ok()?;
    let rel = value.get("package")?.get("metadata")?.get("rampart")?.get("system")?.as_str()?;
    Some(manifest_dir.join(rel))
}

/// The system file a component is built against: `$RAMPART_SYSTEM`, else the crate's
/// `[package.metadata.rampart] system = "..."`, else the `system.xml` at the root of the
/// workspace (the nearest ancestor holding `components/` and a `system.xml`; `tests/` holds a
/// `components/` of its own).
pub fn system_for(manifest_dir: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(SYSTEM_ENV) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = metadata_system(manifest_dir) {
        return Some(p);
    }
    let root = manifest_dir
        .ancestors()
        .find(|d| d.join("components").is_dir() && d.join("system.xml").is_file())
        .or_else(|| manifest_dir.ancestors().find(|d| d.join("components").is_dir()));
    root.map(|d| d.join("system.xml"))
}

/// Everything a component's `build.rs` needs: find and check the system, generate the bindings
/// into `OUT_DIR`, and fail the build with the system's diagnostics when it is invalid. Returns
/// the compiled system, for build scripts that derive more from it (a cluster's keys).
pub fn build_script() -> rampart_spec::SystemSpec {
    let fail = |msg: &str| -> ! {
        eprintln!("error: {msg}");
        std::process::exit(1);
    };
    println!("cargo:rerun-if-env-changed={SYSTEM_ENV}");
    println!("cargo:rerun-if-env-changed={BOARD_ENV}");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed={}", manifest_dir.join("Cargo.toml").display());
    let component = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let Some(system) = system_for(&manifest_dir) else {
        fail(&format!("cannot find the system file for component `{component}`: set {SYSTEM_ENV} or [package.metadata.rampart] system"))
    };
    println!("cargo:rerun-if-changed={}", system.display());
    let board = match std::env::var(BOARD_ENV) {
        Ok(name) => Board::named(&name).unwrap_or_else(|e| fail(&e)),
        Err(_) => Board::default_board(),
    };
    let mut opts = Options::new(board);
    opts.components = find_components(&manifest_dir);
    let checked = check_file(&system, &opts).unwrap_or_else(|report: Report| {
        eprint!("{}", report.render(false));
        fail(&format!("{} is not a valid system; component `{component}` cannot be built against it", system.display()))
    });
    let code = generate(&checked.spec, &component, &system.display().to_string()).unwrap_or_else(|e| fail(&e));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    let out = out_dir.join(BINDINGS_FILE);
    std::fs::write(&out, code).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", out.display())));
    // Link arguments for bins are an error in a package without any. PD programs for seL4 are
    // linux-gnu builds too (`rampart run` adds `--cfg rampart_sel4` and static, freestanding
    // flags: see src/sel4/system.rs), so they get the same defmt string table layout; the
    // monitor's log lines are decoded with it exactly as hosted log pipes are.
    let has_bins = manifest_dir.join("src/main.rs").is_file()
        || manifest_dir.join("src/bin").is_dir()
        || std::fs::read_to_string(manifest_dir.join("Cargo.toml")).is_ok_and(|t| t.contains("[[bin]]"));
    if has_bins && std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        let script = out_dir.join(HOSTED_DEFMT_SCRIPT);
        std::fs::write(&script, HOSTED_DEFMT_LINKER_SCRIPT).unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", script.display())));
        println!("cargo:rustc-link-arg-bins=-Wl,-T,{}", script.display());
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    checked.spec
}

/// File name of the linker script fragment for hosted PD binaries.
pub const HOSTED_DEFMT_SCRIPT: &str = "rampart-hosted-defmt.x";

/// Linker script fragment for hosted PD binaries, added to (not replacing) the system linker's
/// default script with `INSERT`. defmt interns every log format string as a symbol in a
/// non-loaded `.defmt` section and logs the symbol's address as the string's id; the host decoder
/// reads the strings back from the ELF file. Ids start at 1 (0 ends format sequences) and are
/// grouped by level; the markers let the decoder tell levels apart. The binaries are linked
/// without PIE, so those addresses are link-time constants, not relocated at load.
pub const HOSTED_DEFMT_LINKER_SCRIPT: &str = r#"/* Generated by rampart-sdf: defmt string table for hosted PDs. */
EXTERN(_defmt_acquire);
EXTERN(_defmt_release);
EXTERN(__defmt_default_timestamp);
PROVIDE(_defmt_timestamp = __defmt_default_timestamp);
PROVIDE(_defmt_panic = __defmt_default_panic);
SECTIONS
{
  .defmt 1 (INFO) :
  {
    . = 1;
    *(.defmt.prim.*);
    __DEFMT_MARKER_TRACE_START = .; *(.defmt.trace.*); __DEFMT_MARKER_TRACE_END = .;
    __DEFMT_MARKER_DEBUG_START = .; *(.defmt.debug.*); __DEFMT_MARKER_DEBUG_END = .;
    __DEFMT_MARKER_INFO_START = .;  *(.defmt.info.*);  __DEFMT_MARKER_INFO_END = .;
    __DEFMT_MARKER_WARN_START = .;  *(.defmt.warn.*);  __DEFMT_MARKER_WARN_END = .;
    __DEFMT_MARKER_ERROR_START = .; *(.defmt.error.*); __DEFMT_MARKER_ERROR_END = .;
    *(.defmt.*);
    __DEFMT_MARKER_END = .;
    KEEP(*(.defmt.end .defmt.end.*));
  }
}
INSERT AFTER .comment;
ASSERT(__DEFMT_MARKER_END < 65534, "a PD may intern at most 65533 defmt strings");
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_upper_case_and_valid() {
        assert_eq!(ident("pong"), "PONG");
        assert_eq!(ident("ring-in.0"), "RING_IN_0");
        assert_eq!(ident("0day"), "_0DAY");
        assert_eq!(ident(""), "_");
    }
}
