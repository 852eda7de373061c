//! Reads, validates and compiles Microkit system description files.
//!
//! The edge of Rampart's one source of truth: `system.xml` in seL4 Microkit's dialect goes in;
//! out comes either a [`Report`] of diagnostics (each naming the file, line, column and element,
//! what is wrong and what would be accepted) or a [`Checked`] system: the typed model with
//! source positions and the compiled [`SystemSpec`] that backends consume.
//!
//! Nothing here panics on input: malformed XML, wrong encodings, huge numbers and deep nesting
//! all become diagnostics (the fuzz targets in `fuzz/` exercise this).
//!
//! The pipeline: [`parse`] (XML to typed model, local rules) → [`validate`] (whole-system rules)
//! → [`compile`] (names to indices, per-PD views) → optionally [`backend::unsupported`] (what the
//! chosen backend cannot honour).

pub mod backend;
pub mod bindings;
mod board;
pub mod compile;
pub mod diag;
pub mod model;
pub mod parse;
pub mod validate;

pub use backend::Backend;
pub use board::{Board, DEFAULT_BOARD};
pub use diag::{Diagnostic, Report, Severity};
pub use rampart_spec::SystemSpec;

use std::path::{Path, PathBuf};

/// What a system is checked against.
#[derive(Clone, Debug)]
pub struct Options {
    pub board: Board,
    /// Directory that relative paths in the file (prefill files, ELF images) are resolved from.
    /// `None` skips the checks that read files.
    pub base_dir: Option<PathBuf>,
    /// Names of the workspace's components (see [`compile::resolve_program`]).
    pub components: Vec<String>,
    /// Also report what this backend cannot honour.
    pub backend: Option<Backend>,
}

impl Options {
    pub fn new(board: Board) -> Self {
        Options { board, base_dir: None, components: Vec::new(), backend: None }
    }
}

/// A valid system.
#[derive(Clone, Debug)]
pub struct Checked {
    pub system: model::System,
    pub spec: SystemSpec,
    /// Warnings (a valid system has no errors).
    pub report: Report,
}

/// Check a system file's bytes. `file` is the name shown in diagnostics.
pub fn check_bytes(file: &str, bytes: &[u8], opts: &Options) -> Result<Checked, Report> {
    // Too large is the first thing to say about a file, before decoding or copying any of it.
    if bytes.len() > parse::MAX_SYSTEM_FILE_BYTES {
        let mut r = Report::new(file, String::new());
        r.push(
            Diagnostic::error(format!("the file is {} bytes, more than the limit of {}", bytes.len(), parse::MAX_SYSTEM_FILE_BYTES))
                .help("a system file describes at most 63 protection domains; it should be a few kilobytes"),
        );
        return Err(r);
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let source = match std::str::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let at = e.valid_up_to();
            let lossy = String::from_utf8_lossy(bytes).into_owned();
            let mut r = Report::new(file, lossy);
            r.push(
                Diagnostic::error(format!("the file is not valid UTF-8 (byte {:#04x} at offset {at})", bytes[at]))
                    .at(at..at + 1)
                    .help("system files are UTF-8 text; re-save the file as UTF-8"),
            );
            return Err(r);
        }
    };
    check_str(file, source, opts)
}

/// Check a system file's text.
pub fn check_str(file: &str, source: &str, opts: &Options) -> Result<Checked, Report> {
    let mut report = Report::new(file, source);
    let mut diags = Vec::new();
    if let Some(d) = declared_encoding(source) {
        diags.push(d);
    }
    let mut system = parse::parse(source, &opts.board, &mut diags);
    if let (Some(system), Some(base)) = (&mut system, &opts.base_dir) {
        size_from_prefill(system, base);
    }
    let mut spec = None;
    if let Some(system) = &system {
        validate::validate(source, system, &opts.board, opts.base_dir.as_deref(), &mut diags);
        if !diags.iter().any(Diagnostic::is_error) {
            spec = compile::compile(system, &opts.board, opts.base_dir.as_deref(), &opts.components);
            if spec.is_none() {
                diags.push(Diagnostic::error("internal error: a validated system did not compile; please report this file"));
            }
            // Backends read the spec with `rampart_spec::decode`, which refuses encodings over
            // MAX_SPEC_BYTES: a system that compiles to more is refused here, not there.
            if let Some(size) = spec.as_ref().map(|s| s.encode().len()).filter(|&n| n > rampart_spec::MAX_SPEC_BYTES) {
                diags.push(
                    Diagnostic::error(format!(
                        "the compiled system is {size} bytes, more than the limit of {} that backends read",
                        rampart_spec::MAX_SPEC_BYTES
                    ))
                    .help("a system has at most 63 protection domains; this many maps, IRQs, I/O ports and channels cannot be booted"),
                );
                spec = None;
            }
        }
        if let (Some(spec), Some(backend)) = (&spec, opts.backend) {
            diags.extend(backend::unsupported(system, spec, backend));
        }
    }
    report.diagnostics = diags;
    report.sort();
    match (system, spec) {
        (Some(system), Some(spec)) if !report.has_errors() => Ok(Checked { system, spec, report }),
        _ => Err(report),
    }
}

/// Give each region whose `size` was left out the size of its prefill file, rounded up to its
/// page size (as Microkit does). A file that cannot be read or is empty keeps the one-page
/// placeholder; [`validate`] reports it.
fn size_from_prefill(system: &mut model::System, base: &Path) {
    for r in system.regions.iter_mut().filter(|r| r.size_from_prefill) {
        let Some(path) = &r.prefill_path else { continue };
        let len = std::fs::metadata(base.join(path)).ok().filter(|m| m.is_file()).map_or(0, |m| m.len());
        if let Some(size) = len.checked_next_multiple_of(r.page_size_bytes).filter(|&s| s > 0) {
            r.size_bytes = size;
        }
    }
}

/// Read and check a system file. Relative paths in it resolve from its directory unless
/// `opts.base_dir` says otherwise.
pub fn check_file(path: &Path, opts: &Options) -> Result<Checked, Report> {
    let shown = path.display().to_string();
    let fail = |msg: String, help: &str| {
        let mut r = Report::new(shown.clone(), String::new());
        r.push(Diagnostic::error(msg).help(help));
        r
    };
    let meta =
        std::fs::metadata(path).map_err(|e| fail(format!("cannot read {shown}: {e}"), "give the path of a system description file such as system.xml"))?;
    if meta.len() > parse::MAX_SYSTEM_FILE_BYTES as u64 {
        return Err(fail(
            format!("{shown} is {} bytes, more than the limit of {}", meta.len(), parse::MAX_SYSTEM_FILE_BYTES),
            "a system file describes at most 63 protection domains; it should be a few kilobytes",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read {shown}: {e}"), "check the file's permissions"))?;
    let mut opts = opts.clone();
    if opts.base_dir.is_none() {
        opts.base_dir = Some(path.parent().map(Path::to_path_buf).filter(|p| !p.as_os_str().is_empty()).unwrap_or_else(|| PathBuf::from(".")));
    }
    check_bytes(&shown, &bytes, &opts)
}

/// Where a workspace keeps component crates, relative to its root: the PDs that ship, the examples a
/// user reads to learn, and the PDs that exist only for tests and for benchmarks.
pub const COMPONENT_DIRS: &[&str] = &["components", "examples", "tests/components", "benches/components"];

/// The components of the workspace that holds `start`: the crates (subdirectories with a
/// `Cargo.toml`) under [`COMPONENT_DIRS`] of the nearest directory at or above `start` that holds
/// `components/` and a `Cargo.toml` (else, of the nearest that holds `components/`).
pub fn find_components(start: &Path) -> Vec<String> {
    let start = start.canonicalize().unwrap_or_else(|_| start.to_path_buf());
    let root = start
        .ancestors()
        .find(|d| d.join("components").is_dir() && d.join("Cargo.toml").is_file())
        .or_else(|| start.ancestors().find(|d| d.join("components").is_dir()));
    let Some(root) = root else { return Vec::new() };
    let mut names: Vec<String> = COMPONENT_DIRS
        .iter()
        .flat_map(|dir| std::fs::read_dir(root.join(dir)).into_iter().flatten())
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Only UTF-8 is read: a declaration of another encoding is an error, not a silent misreading.
fn declared_encoding(source: &str) -> Option<Diagnostic> {
    let decl_end = source.strip_prefix("<?xml")?.find("?>")? + 5;
    let decl = &source[..decl_end];
    let at = decl.find("encoding")?;
    let rest = &decl[at + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next()?;
    let value = rest[quote.len_utf8()..].split(quote).next()?;
    if value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8") {
        return None;
    }
    let start = at;
    Some(
        Diagnostic::error(format!("the file declares encoding `{value}`; only UTF-8 is read"))
            .at(start..start + "encoding".len())
            .help("convert the file to UTF-8 and declare encoding=\"UTF-8\" (or no encoding)"),
    )
}
