//! XML to typed model: the edge where untrusted bytes become values.
//!
//! Accepts the element and attribute names of seL4 Microkit's system description format, so that
//! Microkit files and those written by `sdfgen` are read as they are: protection domains, memory
//! regions, channels, and also what no backend of Rampart runs yet (virtual machines, IOMMU
//! address spaces, MSI interrupts, boot-information prefills), which is typed and checked here
//! and refused by [`crate::backend::unsupported`]. Refuses, with a diagnostic
//! naming the element and what would be accepted: unknown elements and attributes, missing
//! required attributes, numbers that are malformed or out of range, text where only elements
//! belong, DTDs (entity expansion), files over [`MAX_SYSTEM_FILE_BYTES`] or with more than
//! [`MAX_XML_NODES`] nodes, and protection domains nested deeper than [`MAX_PD_DEPTH`].
//!
//! Parsing goes on after an error where it can, so one run reports every problem it can see.

use crate::diag::{offset_of, Diagnostic, LineIndex};
use crate::model::*;
use crate::Board;
use rampart_spec::{
    Arch, IrqSource, Perms, Polarity, Trigger, DEFAULT_STACK_SIZE_BYTES, MAX_CHANNEL_ID, MAX_CHILD_ID, MAX_NAME_BYTES, MAX_PRIORITY, MAX_STACK_SIZE_BYTES,
    MIN_STACK_SIZE_BYTES,
};
use roxmltree::{Document, Node, ParsingOptions};
use std::cell::OnceCell;

/// Largest system file read, in bytes.
pub const MAX_SYSTEM_FILE_BYTES: usize = 4 * 1024 * 1024;
/// Most XML nodes (elements, text, comments) in one file.
pub const MAX_XML_NODES: u32 = 200_000;
/// Most attributes on one element (Microkit's elements take at most nine). Checked before the XML
/// is parsed, because roxmltree's check for duplicate attributes is quadratic in their number.
pub const MAX_ATTRIBUTES_PER_ELEMENT: usize = 256;
/// Deepest nesting of child protection domains (every level is a PD, and there are at most 63).
pub const MAX_PD_DEPTH: usize = rampart_spec::MAX_PDS;
/// I/O APICs an x86_64 board has (QEMU's `pc` machine: one).
pub const X86_IOAPIC_COUNT: u64 = 1;
/// Pins of one I/O APIC.
pub const X86_IOAPIC_PINS: u64 = 24;
/// Highest x86 IRQ vector a PD may ask for (seL4 counts user vectors from 0, past the exception
/// and kernel vectors; pc99 has 108 of them).
pub const X86_MAX_IRQ_VECTOR: u64 = 107;
/// Highest ARM GIC interrupt id.
pub const ARM_MAX_IRQ: u64 = 1019;
/// Highest PCI device number on a bus.
pub const PCI_DEVICE_MAX: u8 = 31;
/// Highest PCI function number of a device.
pub const PCI_FUNCTION_MAX: u8 = 7;
/// Highest vCPU id (vCPU ids share the parent PD's child ids; Microkit allows 0 to 61).
pub const MAX_VCPU_ID: u8 = 61;
/// vCPUs one virtual machine may have on x86_64 (a VMX guest runs on its PD's thread).
pub const X86_MAX_VCPUS: usize = 1;
/// Size of an IOMMU address space: I/O virtual addresses are below 2^39 (the three-level page
/// tables seL4 builds for the x86 IOMMU).
pub const IOVA_SPACE_BYTES: u64 = 1 << 39;
/// The boot information a region may be prefilled with (`prefill_bootinfo`), as Microkit names it.
pub const PREFILL_BOOTINFO_KINDS: &[&str] = &["x86_vbe", "x86_mbmmap", "x86_acpi_rsdp", "x86_framebuffer", "x86_tsc_freq", "fdt"];

const PD_ATTRS: &[&str] = &["name", "priority", "budget", "period", "passive", "stack_size", "cpu", "fpu"];
const CHILD_PD_ATTRS: &[&str] = &["name", "id", "priority", "budget", "period", "passive", "stack_size", "cpu", "fpu"];
const MAP_ATTRS: &[&str] = &["mr", "vaddr", "perms", "cached", "setvar_vaddr", "setvar_size", "setvar_prefill_size"];
const MR_ATTRS: &[&str] = &["name", "size", "page_size", "phys_addr", "prefill_path", "prefill_bootinfo"];
const END_ATTRS: &[&str] = &["pd", "id", "pp", "notify", "setvar_id"];
const ARM_IRQ_ATTRS: &[&str] = &["irq", "id", "trigger", "setvar_id"];
const X86_IRQ_ATTRS: &[&str] = &["pin", "vector", "ioapic", "trigger", "polarity", "id", "setvar_id"];
const IOPORT_ATTRS: &[&str] = &["id", "addr", "size"];
const SETVAR_ATTRS: &[&str] = &["symbol", "region_paddr"];
const MSI_ATTRS: &[&str] = &["pcidev", "handle", "vector", "id", "setvar_id"];
const ARM_VM_ATTRS: &[&str] = &["name", "priority", "budget", "period"];
const X86_VM_ATTRS: &[&str] = &["name"];
const VM_MAP_ATTRS: &[&str] = &["mr", "vaddr", "perms", "cached", "setvar_size", "setvar_prefill_size"];
const VCPU_ATTRS: &[&str] = &["id", "cpu", "setvar_id"];
const IO_SPACE_ATTRS: &[&str] = &["name", "peripheral_id", "domain_id"];
const IOMAP_ATTRS: &[&str] = &["mr", "iovaddr", "perms"];

/// The XML namespace of Rampart's extension to the system file format. Attributes in it carry
/// authority that Microkit has no words for (see [`RAMPART_PD_ATTRS`]); a file that does not use
/// them is plain Microkit SDF.
pub const RAMPART_NAMESPACE: &str = "urn:rampart:sdf:1";
/// Rampart attributes of `<protection_domain>`: grants of authority beyond channels and regions.
/// `exit_system`: the PD may end the whole system; `restart_children`: the PD's decision to
/// restart a faulted child is honoured (without it, children are held).
pub const RAMPART_PD_ATTRS: &[&str] = &["exit_system", "restart_children"];

/// Parse a system file into the typed model. Errors and warnings go to `diags`; the model is
/// returned whenever the XML itself was well formed, so that later passes can find more problems.
pub fn parse(source: &str, board: &Board, diags: &mut Vec<Diagnostic>) -> Option<System> {
    if source.len() > MAX_SYSTEM_FILE_BYTES {
        diags.push(
            Diagnostic::error(format!("the file is {} bytes, more than the limit of {MAX_SYSTEM_FILE_BYTES}", source.len()))
                .help("a system file describes at most 63 protection domains; it should be a few kilobytes"),
        );
        return None;
    }
    if let Some(at) = crowded_tag(source) {
        let end = source[at..].find(|c: char| c.is_whitespace() || c == '>').map_or(source.len(), |i| at + i);
        diags.push(
            Diagnostic::error(format!("an element has more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes"))
                .at(at..end)
                .help("system file elements take at most nine attributes; remove the others"),
        );
        return None;
    }
    let opts = ParsingOptions { allow_dtd: false, nodes_limit: MAX_XML_NODES, ..ParsingOptions::default() };
    let doc = match Document::parse_with_options(source, opts) {
        Ok(doc) => doc,
        Err(e) => {
            let pos = e.pos();
            let at = offset_of(source, pos.row as usize, pos.col as usize);
            let mut d = Diagnostic::error(format!("malformed XML: {e}")).at(at..at + 1);
            d = match e {
                roxmltree::Error::DtdDetected => d.help("remove the <!DOCTYPE>: system files may not declare a DTD or entities"),
                roxmltree::Error::NodesLimitReached => d.help(format!("a system file may have at most {MAX_XML_NODES} XML nodes")),
                _ => d.help("fix the XML syntax; a system file is well-formed XML with a single <system> element"),
            };
            diags.push(d);
            return None;
        }
    };
    let mut p = Parser { src: source, lines: OnceCell::new(), board, diags, pds: Vec::new() };
    p.system(doc.root_element())
}

/// What an `<irq>` element describes.
enum IrqKind {
    /// A GIC interrupt or an I/O APIC pin.
    Line(Irq),
    Msi(Msi),
}

struct Parser<'s, 'b, 'd> {
    src: &'s str,
    /// Line numbers for notes ("the first is on line N"), which a file may need many of.
    lines: OnceCell<LineIndex>,
    board: &'b Board,
    diags: &'d mut Vec<Diagnostic>,
    pds: Vec<Pd>,
}

fn tag_span(node: &Node) -> Span {
    let start = node.range().start + 1;
    start..start + node.tag_name().name().len()
}

/// Levenshtein distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn suggest<'a>(word: &str, options: &[&'a str]) -> Option<&'a str> {
    // The distance is at least the difference in length: skip the quadratic work for long words.
    let len = word.chars().take(64).count();
    options.iter().filter(|o| len.abs_diff(o.chars().count()) <= 2).map(|o| (distance(word, o), *o)).filter(|(d, _)| *d <= 2).min().map(|(_, o)| o)
}

fn list(options: &[&str]) -> String {
    options.iter().map(|o| format!("`{o}`")).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, PartialEq, Eq)]
enum NumError {
    Empty,
    Negative,
    NotANumber,
    TooLarge,
}

/// Microkit's number syntax: decimal, or hexadecimal with `0x`; underscores separate digits.
fn parse_number(text: &str) -> Result<u64, NumError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(NumError::Empty);
    }
    if t.starts_with('-') {
        return Err(NumError::Negative);
    }
    let (digits, radix) = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => (h, 16),
        None => (t, 10),
    };
    let mut value: u64 = 0;
    let mut any = false;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(radix).ok_or(NumError::NotANumber)?;
        any = true;
        value = value.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(d))).ok_or(NumError::TooLarge)?;
    }
    if !any {
        return Err(NumError::NotANumber);
    }
    Ok(value)
}

/// The attributes of one element, checked against the names it allows.
struct Attrs<'a, 'input> {
    node: Node<'a, 'input>,
    tag: &'static str,
    spans: AttrSpans,
}

impl<'s, 'b, 'd> Parser<'s, 'b, 'd> {
    /// 1-based line of a byte offset.
    fn line(&self, offset: usize) -> usize {
        self.lines.get_or_init(|| LineIndex::new(self.src)).line(offset)
    }

    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Check that only `allowed` attributes are present and that the element has no text.
    fn attrs<'a, 'input>(&mut self, node: Node<'a, 'input>, tag: &'static str, allowed: &[&str]) -> Attrs<'a, 'input> {
        let mut spans = AttrSpans::default();
        for a in node.attributes() {
            let name = a.name();
            if a.namespace() == Some(RAMPART_NAMESPACE) {
                let extension: &[&str] = if tag == "protection_domain" { RAMPART_PD_ATTRS } else { &[] };
                if extension.contains(&name) {
                    spans.values.push((format!("rampart:{name}"), a.range_value()));
                } else {
                    let mut d = Diagnostic::error(format!("unknown Rampart attribute `rampart:{name}` on <{tag}>")).at(a.range_qname()).on(tag);
                    d = match suggest(name, extension) {
                        Some(s) => d.help(format!("did you mean `rampart:{s}`? <{tag}> takes the Rampart attributes {}", list(extension))),
                        None if extension.is_empty() => d.help(format!("<{tag}> takes no Rampart attributes; `rampart:` attributes go on <protection_domain>")),
                        None => d.help(format!("<{tag}> takes the Rampart attributes {}", list(extension))),
                    };
                    self.err(d);
                }
                continue;
            }
            if a.namespace().is_some() || !allowed.contains(&name) {
                let mut d = Diagnostic::error(format!("unknown attribute `{name}` on <{tag}>")).at(a.range_qname()).on(tag);
                d = match suggest(name, allowed) {
                    Some(s) => d.help(format!("did you mean `{s}`? <{tag}> takes {}", list(allowed))),
                    None if allowed.is_empty() => d.help(format!("<{tag}> takes no attributes")),
                    None => d.help(format!("<{tag}> takes {}", list(allowed))),
                };
                self.err(d);
            } else {
                spans.values.push((name.to_string(), a.range_value()));
            }
        }
        Attrs { node, tag, spans }
    }

    /// Child elements, reporting any non-blank text between them.
    fn elements<'a, 'input>(&mut self, node: Node<'a, 'input>, tag: &str) -> Vec<Node<'a, 'input>> {
        let mut out = Vec::new();
        for c in node.children() {
            if c.is_element() {
                out.push(c);
            } else if c.is_text() {
                let text = c.text().unwrap_or("");
                if !text.trim().is_empty() {
                    let lead = text.len() - text.trim_start().len();
                    let start = c.range().start + lead;
                    let shown: String = text.trim().chars().take(20).collect();
                    self.err(
                        Diagnostic::error(format!("unexpected text `{shown}` inside <{tag}>"))
                            .at(start..start + text.trim().len().min(40))
                            .on(tag)
                            .help("system files hold only elements and attributes; write comments as <!-- ... -->"),
                    );
                }
            }
        }
        out
    }

    fn unknown_child(&mut self, child: &Node, parent: &str, allowed: &[&str]) {
        let name = child.tag_name().name();
        let mut d = Diagnostic::error(format!("unknown element <{name}> inside <{parent}>")).at(tag_span(child)).on(parent);
        d = match suggest(name, allowed) {
            Some(s) => d.help(format!("did you mean <{s}>? <{parent}> may contain {}", list_el(allowed))),
            None if allowed.is_empty() => d.help(format!("<{parent}> has no child elements")),
            None => d.help(format!("<{parent}> may contain {}", list_el(allowed))),
        };
        self.err(d);
    }

    fn required<'x>(&mut self, a: &Attrs<'x, '_>, name: &str, what: &str) -> Option<&'x str> {
        match a.node.attribute(name) {
            Some(v) => Some(v),
            None => {
                self.err(
                    Diagnostic::error(format!("<{}> is missing the required attribute `{name}`", a.tag))
                        .at(tag_span(&a.node))
                        .on(a.tag)
                        .help(format!("add {name}=\"...\": {what}")),
                );
                None
            }
        }
    }

    fn span_of(&self, a: &Attrs, name: &str) -> Span {
        a.spans.get(name).unwrap_or_else(|| tag_span(&a.node))
    }

    /// A number attribute within `min..=max`. `what` says what the number is, for the help text.
    fn number(&mut self, a: &Attrs, name: &str, min: u64, max: u64, what: &str) -> Option<Option<u64>> {
        let Some(text) = a.node.attribute(name) else { return Some(None) };
        let span = self.span_of(a, name);
        let range = if max == u64::MAX { format!("at least {min}") } else { format!("from {min} to {max}") };
        let help = format!("{name} is {what}: an integer {range}, decimal or 0x-prefixed hexadecimal");
        match parse_number(text) {
            Ok(v) if v >= min && v <= max => Some(Some(v)),
            Ok(v) => {
                self.err(Diagnostic::error(format!("{name} {v} is out of range")).at(span).on(a.tag).help(help));
                None
            }
            Err(e) => {
                let msg = match e {
                    NumError::Empty => format!("{name} is empty"),
                    NumError::Negative => format!("{name} `{text}` is negative"),
                    NumError::NotANumber => format!("{name} `{text}` is not a number"),
                    NumError::TooLarge => format!("{name} `{text}` does not fit in 64 bits"),
                };
                self.err(Diagnostic::error(msg).at(span).on(a.tag).help(help));
                None
            }
        }
    }

    /// A number attribute that must be there: `None` (with a diagnostic) when it is missing or
    /// malformed. `what` is for the range message, `missing` for the "add it" help.
    fn required_number(&mut self, a: &Attrs, name: &str, min: u64, max: u64, what: &str, missing: &str) -> Option<u64> {
        match self.number(a, name, min, max, what) {
            Some(Some(v)) => Some(v),
            Some(None) => {
                self.required(a, name, missing);
                None
            }
            None => None,
        }
    }

    /// The `vector` of an x86 interrupt (I/O APIC or MSI): required, 0 to [`X86_MAX_IRQ_VECTOR`].
    fn irq_vector(&mut self, a: &Attrs) -> Option<u8> {
        let what = "the CPU vector it is delivered on";
        self.required_number(a, "vector", 0, X86_MAX_IRQ_VECTOR, what, &format!("{what}, 0 to {X86_MAX_IRQ_VECTOR}")).map(|v| v as u8)
    }

    fn boolean(&mut self, a: &Attrs, name: &str, default: bool) -> bool {
        let value = match name.strip_prefix("rampart:") {
            Some(local) => a.node.attribute((RAMPART_NAMESPACE, local)),
            None => a.node.attribute(name),
        };
        match value {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                let span = self.span_of(a, name);
                self.err(
                    Diagnostic::error(format!("{name} `{other}` is not a boolean"))
                        .at(span)
                        .on(a.tag)
                        .help(format!("{name} is `true` or `false` (default `{default}`)")),
                );
                default
            }
        }
    }

    /// A name or symbol: non-empty, at most [`MAX_NAME_BYTES`], no control characters.
    fn name(&mut self, a: &Attrs, attr: &str, what: &str) -> Option<String> {
        let value = self.required(a, attr, what)?;
        let span = self.span_of(a, attr);
        if value.is_empty() || value.len() > MAX_NAME_BYTES || value.chars().any(|c| c.is_control()) {
            self.err(
                Diagnostic::error(format!("{attr} `{}` is not a valid name", value.escape_debug()))
                    .at(span)
                    .on(a.tag)
                    .help(format!("{attr} is 1 to {MAX_NAME_BYTES} bytes of printable characters")),
            );
            return None;
        }
        Some(value.to_string())
    }

    fn optional_name(&mut self, a: &Attrs, attr: &str, what: &str) -> Option<String> {
        a.node.attribute(attr)?;
        self.name(a, attr, what)
    }

    fn system(&mut self, root: Node) -> Option<System> {
        if root.tag_name().name() != "system" || root.tag_name().namespace().is_some() {
            let ns = root.tag_name().namespace().map(|ns| format!(" in namespace `{ns}`")).unwrap_or_default();
            self.err(
                Diagnostic::error(format!("the root element is <{}>{ns}, not <system>", root.tag_name().name()))
                    .at(tag_span(&root))
                    .help("a system file has one <system> element holding <protection_domain>, <memory_region> and <channel> elements"),
            );
            return None;
        }
        self.attrs(root, "system", &[]);
        let mut regions = Vec::new();
        let mut channel_nodes = Vec::new();
        let mut io_spaces = Vec::new();
        for child in self.elements(root, "system") {
            match child.tag_name().name() {
                "protection_domain" => self.pd(child, None, 0),
                "memory_region" => {
                    if let Some(r) = self.region(child) {
                        regions.push(r);
                    }
                }
                "channel" => channel_nodes.push(child),
                "io_address_space" => {
                    if let Some(s) = self.io_space(child) {
                        io_spaces.push(s);
                    }
                }
                "virtual_machine" => self.err(
                    Diagnostic::error("a <virtual_machine> must be inside the <protection_domain> that runs it")
                        .at(tag_span(&child))
                        .on("system")
                        .help("move it into a <protection_domain>: the PD is its virtual machine monitor and handles its faults"),
                ),
                _ => self.unknown_child(&child, "system", &["protection_domain", "memory_region", "channel", "io_address_space"]),
            }
        }
        let channels = channel_nodes.into_iter().filter_map(|n| self.channel(n)).collect();
        Some(System { pds: std::mem::take(&mut self.pds), regions, channels, io_spaces })
    }

    fn pd(&mut self, node: Node, parent: Option<usize>, depth: usize) {
        let tag = "protection_domain";
        if depth >= MAX_PD_DEPTH {
            self.err(
                Diagnostic::error(format!("protection domains are nested more than {MAX_PD_DEPTH} deep"))
                    .at(tag_span(&node))
                    .on(tag)
                    .help("a system has at most 63 protection domains; flatten the hierarchy"),
            );
            return;
        }
        let a = self.attrs(node, tag, if parent.is_some() { CHILD_PD_ATTRS } else { PD_ATTRS });
        let name = self.name(&a, "name", "the protection domain's unique name");
        let child_id = if parent.is_some() {
            let what = "the child's id in its parent's table";
            match self.number(&a, "id", 0, u64::from(MAX_CHILD_ID), what) {
                Some(Some(v)) => Some(v as u8),
                Some(None) => {
                    self.required(&a, "id", &format!("{what}, 0 to {MAX_CHILD_ID}"));
                    None
                }
                None => None,
            }
        } else {
            None
        };
        let priority = self.number(&a, "priority", 0, u64::from(MAX_PRIORITY), "the scheduling priority").flatten().unwrap_or(0) as u8;
        let budget = self.number(&a, "budget", 1, u64::MAX, "the budget in microseconds").flatten();
        let period = self.number(&a, "period", 1, u64::MAX, "the period in microseconds").flatten();
        let budget_or_default = if a.node.attribute("budget").is_none() { Some(rampart_spec::DEFAULT_BUDGET_US) } else { budget };
        if let (Some(b), Some(p)) = (budget_or_default, period) {
            if b > p {
                let span = self.span_of(&a, if budget.is_some() { "budget" } else { "period" });
                self.err(
                    Diagnostic::error(format!("budget ({b} µs) is larger than period ({p} µs)"))
                        .at(span)
                        .on(tag)
                        .help("a PD's budget must be at most its period (the default budget is 1000 µs)"),
                );
            }
        }
        let passive = self.boolean(&a, "passive", false);
        let stack = self
            .number(&a, "stack_size", MIN_STACK_SIZE_BYTES, MAX_STACK_SIZE_BYTES, "the stack size in bytes (4 KiB to 16 MiB)")
            .flatten()
            .unwrap_or(DEFAULT_STACK_SIZE_BYTES);
        let page = self.board.arch.min_page_size();
        if stack % page != 0 {
            let span = self.span_of(&a, "stack_size");
            self.err(
                Diagnostic::error(format!("stack_size {stack:#x} is not a multiple of the page size"))
                    .at(span)
                    .on(tag)
                    .help(format!("stack_size must be a multiple of {page:#x} bytes (4 KiB)")),
            );
        }
        let cpus = self.board.cpus;
        let cpu =
            self.number(&a, "cpu", 0, u64::from(cpus) - 1, &format!("the CPU it runs on (board {} has {cpus})", self.board.name)).flatten().unwrap_or(0) as u16;
        let fpu = self.boolean(&a, "fpu", true);
        let grants = rampart_spec::Grants {
            exit_system: self.boolean(&a, "rampart:exit_system", false),
            restart_children: self.boolean(&a, "rampart:restart_children", false),
        };

        let mut pd = Pd {
            name: name.clone().unwrap_or_default(),
            priority,
            budget_us: budget,
            period_us: period,
            passive,
            stack_size_bytes: stack,
            cpu,
            fpu,
            grants,
            program_image: String::new(),
            program_image_span: tag_span(&node),
            maps: Vec::new(),
            irqs: Vec::new(),
            ioports: Vec::new(),
            setvars: Vec::new(),
            msis: Vec::new(),
            vm: None,
            parent: parent.zip(child_id),
            depth,
            span: tag_span(&node),
            attrs: a.spans.clone(),
        };
        let mut image: Option<Span> = None;
        let mut children = Vec::new();
        for child in self.elements(node, tag) {
            match child.tag_name().name() {
                "program_image" => {
                    let ia = self.attrs(child, "program_image", &["path"]);
                    self.elements(child, "program_image").iter().for_each(|c| self.unknown_child(c, "program_image", &[]));
                    if let Some(first) = &image {
                        let line = self.line(first.start);
                        self.err(
                            Diagnostic::error("a protection domain has more than one <program_image>")
                                .at(tag_span(&child))
                                .on(tag)
                                .note(format!("the first is on line {line}"))
                                .help("give each protection domain exactly one <program_image path=\"...\"/>"),
                        );
                    } else if let Some(path) = self.required(&ia, "path", "the program's ELF file or component name") {
                        if path.is_empty() {
                            let span = self.span_of(&ia, "path");
                            self.err(
                                Diagnostic::error("program_image path is empty")
                                    .at(span)
                                    .on("program_image")
                                    .help("path names an ELF file, or `NAME.elf` for the workspace component NAME"),
                            );
                        }
                        pd.program_image = path.to_string();
                        pd.program_image_span = self.span_of(&ia, "path");
                    }
                    image = Some(tag_span(&child));
                }
                "map" => {
                    if let Some(m) = self.map(child) {
                        pd.maps.push(m);
                    }
                }
                "irq" => match self.irq(child) {
                    Some(IrqKind::Line(i)) => pd.irqs.push(i),
                    Some(IrqKind::Msi(m)) => pd.msis.push(m),
                    None => {}
                },
                "virtual_machine" => {
                    if let Some(first) = &pd.vm {
                        let line = self.line(first.span.start);
                        self.err(
                            Diagnostic::error(format!("protection domain `{}` has more than one <virtual_machine>", pd.name))
                                .at(tag_span(&child))
                                .on(tag)
                                .note(format!("the first is on line {line}"))
                                .help("a protection domain manages at most one virtual machine; give the other VM its own PD"),
                        );
                    } else {
                        pd.vm = self.vm(child);
                    }
                }
                "ioport" => {
                    if let Some(i) = self.ioport(child) {
                        pd.ioports.push(i);
                    }
                }
                "setvar" => {
                    let sa = self.attrs(child, "setvar", SETVAR_ATTRS);
                    let symbol = self.name(&sa, "symbol", "the program symbol to patch");
                    let region = self.name(&sa, "region_paddr", "the memory region whose physical address is written to the symbol");
                    self.elements(child, "setvar").iter().for_each(|c| self.unknown_child(c, "setvar", &[]));
                    if let (Some(symbol), Some(region_paddr)) = (symbol, region) {
                        pd.setvars.push(SetVar { symbol, region_paddr, span: tag_span(&child), attrs: sa.spans });
                    }
                }
                "protection_domain" => children.push(child),
                _ => self.unknown_child(&child, tag, &["program_image", "map", "irq", "ioport", "setvar", "protection_domain", "virtual_machine"]),
            }
        }
        if image.is_none() {
            self.err(
                Diagnostic::error(format!("protection domain `{}` has no <program_image>", pd.name))
                    .at(pd.span.clone())
                    .on(tag)
                    .help("add <program_image path=\"NAME.elf\"/>: an ELF file, or the workspace component NAME"),
            );
        }
        let index = self.pds.len();
        let mut child_ids: Vec<(u8, Span)> = pd.vm.iter().flat_map(|vm| vm.vcpus.iter().map(|v| (v.id, v.span.clone()))).collect();
        self.pds.push(pd);
        for child in children {
            let before = self.pds.len();
            self.pd(child, Some(index), depth + 1);
            if let Some(Pd { parent: Some((_, id)), span, .. }) = self.pds.get(before).cloned() {
                if let Some((_, first)) = child_ids.iter().find(|(i, _)| *i == id) {
                    let line = self.line(first.start);
                    let at = self.pds[before].attr_span("id");
                    let vcpu = self.pds[index].vm.as_ref().is_some_and(|vm| vm.vcpus.iter().any(|v| v.id == id));
                    let first = if vcpu { "vCPU" } else { "first child" };
                    self.err(
                        Diagnostic::error(format!("child id {id} is used twice in `{}`", self.pds[index].name))
                            .at(at)
                            .on(tag)
                            .note(format!("the {first} with id {id} is on line {line}"))
                            .help(format!("give each child PD and vCPU of a protection domain a distinct id from 0 to {MAX_CHILD_ID}")),
                    );
                } else {
                    child_ids.push((id, span));
                }
            }
        }
    }

    fn perms(&mut self, a: &Attrs) -> Perms {
        let default = Perms { read: true, write: true, execute: false };
        let Some(text) = a.node.attribute("perms") else { return default };
        let span = self.span_of(a, "perms");
        let help = "perms is a combination of `r`, `w` and `x` that includes `r`, such as `r`, `rw`, `rx` or `rwx` (default `rw`)";
        let mut p = Perms { read: false, write: false, execute: false };
        for c in text.chars() {
            let slot = match c {
                'r' => &mut p.read,
                'w' => &mut p.write,
                'x' => &mut p.execute,
                _ => {
                    self.err(Diagnostic::error(format!("perms `{text}` has `{c}`, which is not a permission")).at(span).on("map").help(help));
                    return default;
                }
            };
            if *slot {
                self.err(Diagnostic::error(format!("perms `{text}` repeats `{c}`")).at(span).on("map").help(help));
                return default;
            }
            *slot = true;
        }
        if !p.read {
            let msg = if text.is_empty() {
                "perms is empty".to_string()
            } else if p.write {
                format!("perms `{text}` is write-only: the MMU cannot map writable memory that is not readable")
            } else {
                format!("perms `{text}` lacks `r`: the MMU cannot map memory that is not readable")
            };
            self.err(Diagnostic::error(msg).at(span).on("map").help(help));
            return default;
        }
        p
    }

    fn map(&mut self, node: Node) -> Option<Map> {
        self.map_with(node, MAP_ATTRS)
    }

    fn map_with(&mut self, node: Node, allowed: &[&str]) -> Option<Map> {
        let a = self.attrs(node, "map", allowed);
        self.elements(node, "map").iter().for_each(|c| self.unknown_child(c, "map", &[]));
        let mr = self.name(&a, "mr", "the name of the memory region to map");
        let top = self.board.arch.user_top() - 1;
        let vaddr = self.required_number(&a, "vaddr", 0, top, "the virtual address to map the region at", "the virtual address to map the region at");
        let perms = self.perms(&a);
        let cached = self.boolean(&a, "cached", true);
        let setvar_vaddr = self.optional_name(&a, "setvar_vaddr", "the program symbol to patch with the vaddr");
        let setvar_size = self.optional_name(&a, "setvar_size", "the program symbol to patch with the size");
        let setvar_prefill_size = self.optional_name(&a, "setvar_prefill_size", "the program symbol to patch with the size of the prefill data");
        Some(Map { mr: mr?, vaddr: vaddr?, perms, cached, setvar_vaddr, setvar_size, setvar_prefill_size, span: tag_span(&node), attrs: a.spans })
    }

    fn id(&mut self, a: &Attrs, what: &str) -> Option<u8> {
        let help = format!("the {what}'s channel id in this PD, 0 to {MAX_CHANNEL_ID}, shared with its channels, IRQs and I/O ports");
        match self.number(a, "id", 0, u64::from(MAX_CHANNEL_ID), &help) {
            Some(Some(v)) => Some(v as u8),
            Some(None) => {
                self.required(a, "id", &help);
                None
            }
            None => None,
        }
    }

    fn trigger(&mut self, a: &Attrs) -> Trigger {
        match a.node.attribute("trigger") {
            None | Some("level") => Trigger::Level,
            Some("edge") => Trigger::Edge,
            Some(other) => {
                let span = self.span_of(a, "trigger");
                self.err(
                    Diagnostic::error(format!("trigger `{other}` is not a trigger mode")).at(span).on("irq").help("trigger is `level` (default) or `edge`"),
                );
                Trigger::Level
            }
        }
    }

    fn irq(&mut self, node: Node) -> Option<IrqKind> {
        let tag = "irq";
        self.elements(node, tag).iter().for_each(|c| self.unknown_child(c, tag, &[]));
        let arch = self.board.arch;
        let has = |n: &str| node.attribute(n).is_some();
        if has("pcidev") || has("handle") {
            return self.msi(node).map(IrqKind::Msi);
        }
        let x86_form = has("pin") || has("vector") || has("ioapic") || has("polarity");
        if arch == Arch::X86_64 {
            if has("irq") && !x86_form {
                self.err(
                    Diagnostic::error("this is the ARM form of <irq>, but the board is x86_64")
                        .at(tag_span(&node))
                        .on(tag)
                        .help(format!("on board {} an IRQ is an I/O APIC pin: <irq pin=\"4\" vector=\"4\" id=\"...\" [ioapic=\"0\" trigger=\"edge|level\" polarity=\"high|low\"]/>", self.board.name)),
                );
                return None;
            }
            let a = self.attrs(node, tag, X86_IRQ_ATTRS);
            let id = self.id(&a, "IRQ");
            let ioapic = self.number(&a, "ioapic", 0, X86_IOAPIC_COUNT - 1, "the I/O APIC's index").flatten().unwrap_or(0) as u8;
            let pin = self.required_number(&a, "pin", 0, X86_IOAPIC_PINS - 1, "the I/O APIC input pin", "the I/O APIC input pin, 0 to 23").map(|v| v as u8);
            let vector = self.irq_vector(&a);
            let trigger = self.trigger(&a);
            let polarity = match node.attribute("polarity") {
                None | Some("high") => Polarity::ActiveHigh,
                Some("low") => Polarity::ActiveLow,
                Some(other) => {
                    let span = self.span_of(&a, "polarity");
                    self.err(Diagnostic::error(format!("polarity `{other}` is not a polarity")).at(span).on(tag).help("polarity is `high` (default) or `low`"));
                    Polarity::ActiveHigh
                }
            };
            let setvar_id = self.optional_name(&a, "setvar_id", "the program symbol to patch with the id");
            Some(IrqKind::Line(Irq {
                id: id?,
                source: IrqSource::Ioapic { ioapic, pin: pin?, vector: vector?, trigger, polarity },
                setvar_id,
                span: tag_span(&node),
                attrs: a.spans,
            }))
        } else {
            if x86_form {
                self.err(
                    Diagnostic::error(format!("this is the x86 I/O APIC form of <irq>, but the board is {}", arch.name()))
                        .at(tag_span(&node))
                        .on(tag)
                        .help(format!("on board {} an IRQ is a GIC interrupt: <irq irq=\"33\" id=\"...\" [trigger=\"level|edge\"]/>", self.board.name)),
                );
                return None;
            }
            let a = self.attrs(node, tag, ARM_IRQ_ATTRS);
            let id = self.id(&a, "IRQ");
            let irq = match self.number(&a, "irq", 0, ARM_MAX_IRQ, "the GIC interrupt number") {
                Some(Some(v)) => Some(v as u32),
                Some(None) => {
                    self.required(&a, "irq", &format!("the GIC interrupt number, 0 to {ARM_MAX_IRQ}"));
                    None
                }
                None => None,
            };
            let trigger = self.trigger(&a);
            let setvar_id = self.optional_name(&a, "setvar_id", "the program symbol to patch with the id");
            Some(IrqKind::Line(Irq { id: id?, source: IrqSource::Arm { irq: irq?, trigger }, setvar_id, span: tag_span(&node), attrs: a.spans }))
        }
    }

    /// An MSI interrupt (x86_64): `<irq pcidev="BUS:DEV.FN" handle="..." vector="..." id="..."/>`.
    fn msi(&mut self, node: Node) -> Option<Msi> {
        let tag = "irq";
        if self.board.arch != Arch::X86_64 {
            self.err(
                Diagnostic::error(format!(
                    "MSI interrupts (`pcidev`, `handle`) exist only on x86_64, and board {} is {}",
                    self.board.name,
                    self.board.arch.name()
                ))
                .at(tag_span(&node))
                .on(tag)
                .help(format!("on board {} an IRQ is a GIC interrupt: <irq irq=\"33\" id=\"...\" [trigger=\"level|edge\"]/>", self.board.name)),
            );
            return None;
        }
        let a = self.attrs(node, tag, MSI_ATTRS);
        let id = self.id(&a, "IRQ");
        let pcidev = match self.required(&a, "pcidev", "the PCI address of the device that raises the interrupt, BUS:DEV.FN in hexadecimal") {
            Some(text) => self.pci(&a, "pcidev", text),
            None => None,
        };
        let handle =
            self.required_number(&a, "handle", 0, u64::MAX, "the value programmed into the data of the MSI", "the value programmed into the data of the MSI");
        let vector = self.irq_vector(&a);
        let setvar_id = self.optional_name(&a, "setvar_id", "the program symbol to patch with the id");
        Some(Msi { id: id?, pcidev: pcidev?, handle: handle?, vector: vector?, setvar_id, span: tag_span(&node), attrs: a.spans })
    }

    /// A PCI address, `BUS:DEV.FN` with each part hexadecimal (as `lspci` prints it).
    fn pci(&mut self, a: &Attrs, attr: &str, text: &str) -> Option<PciAddr> {
        let span = self.span_of(a, attr);
        let help = format!(
            "{attr} is a PCI address BUS:DEV.FN in hexadecimal, such as `00:1f.2`: bus 0 to ff, device 0 to {PCI_DEVICE_MAX:x}, function 0 to {PCI_FUNCTION_MAX}"
        );
        let part = |t: &str, max: u32| -> Result<u8, &'static str> {
            let t = t.trim();
            if t.starts_with('-') {
                return Err("negative");
            }
            match u32::from_str_radix(t, 16) {
                Ok(v) if v <= max => Ok(v as u8),
                Ok(_) => Err("out of range"),
                Err(_) => Err("not a hexadecimal number"),
            }
        };
        let Some((bus, rest)) = text.split_once(':') else {
            self.err(Diagnostic::error(format!("{attr} `{}` is not a PCI address", text.escape_debug())).at(span).on(a.tag).help(help));
            return None;
        };
        let Some((device, function)) = rest.split_once('.') else {
            self.err(Diagnostic::error(format!("{attr} `{}` is not a PCI address", text.escape_debug())).at(span).on(a.tag).help(help));
            return None;
        };
        let mut bad = None;
        let mut get = |t: &str, max: u32, what: &'static str| match part(t, max) {
            Ok(v) => Some(v),
            Err(why) => {
                bad.get_or_insert((what, why));
                None
            }
        };
        let (b, d, f) = (get(bus, 0xff, "bus"), get(device, u32::from(PCI_DEVICE_MAX), "device"), get(function, u32::from(PCI_FUNCTION_MAX), "function"));
        if let Some((what, why)) = bad {
            self.err(Diagnostic::error(format!("{attr} `{}`: the PCI {what} is {why}", text.escape_debug())).at(span).on(a.tag).help(help));
            return None;
        }
        Some(PciAddr { bus: b?, device: d?, function: f? })
    }

    /// `<virtual_machine>` inside a PD: a name, vCPUs and guest-physical maps.
    fn vm(&mut self, node: Node) -> Option<VirtualMachine> {
        let tag = "virtual_machine";
        let arch = self.board.arch;
        let x86 = arch == Arch::X86_64;
        let a = self.attrs(node, tag, if x86 { X86_VM_ATTRS } else { ARM_VM_ATTRS });
        if x86 {
            for attr in ["priority", "budget", "period"] {
                if let Some(at) = node.attributes().find(|x| x.name() == attr && x.namespace().is_none()) {
                    // Reported by attrs() as unknown; say why.
                    if let Some(d) = self.diags.iter_mut().rev().find(|d| d.span.as_ref() == Some(&at.range_qname())) {
                        d.help = Some(format!("on x86_64 a virtual machine runs on its protection domain's thread and shares its scheduling; set {attr} on the <protection_domain>"));
                    }
                }
            }
        }
        let name = self.name(&a, "name", "the virtual machine's unique name");
        let priority = self.number(&a, "priority", 0, u64::from(MAX_PRIORITY), "the scheduling priority").flatten().map(|p| p as u8);
        let budget = self.number(&a, "budget", 1, u64::MAX, "the budget in microseconds").flatten();
        let period = self.number(&a, "period", 1, u64::MAX, "the period in microseconds").flatten();
        let b = budget.unwrap_or(rampart_spec::DEFAULT_BUDGET_US);
        if let Some(p) = period.filter(|&p| b > p) {
            let span = self.span_of(&a, if budget.is_some() { "budget" } else { "period" });
            self.err(
                Diagnostic::error(format!("budget ({b} µs) is larger than period ({p} µs)"))
                    .at(span)
                    .on(tag)
                    .help("a virtual machine's budget must be at most its period (the default budget is 1000 µs)"),
            );
        }
        let mut vcpus: Vec<Vcpu> = Vec::new();
        let mut vcpu_elements = 0usize;
        let mut maps = Vec::new();
        for child in self.elements(node, tag) {
            match child.tag_name().name() {
                "vcpu" => {
                    vcpu_elements += 1;
                    let va = self.attrs(child, "vcpu", VCPU_ATTRS);
                    self.elements(child, "vcpu").iter().for_each(|c| self.unknown_child(c, "vcpu", &[]));
                    let what = "the vCPU's id, drawn from its PD's child ids";
                    let id = match self.number(&va, "id", 0, u64::from(MAX_VCPU_ID), what) {
                        Some(Some(v)) => Some(v as u8),
                        Some(None) => {
                            self.required(&va, "id", &format!("{what}, 0 to {MAX_VCPU_ID}"));
                            None
                        }
                        None => None,
                    };
                    let cpus = self.board.cpus;
                    let cpu = self
                        .number(&va, "cpu", 0, u64::from(cpus) - 1, &format!("the CPU it runs on (board {} has {cpus})", self.board.name))
                        .flatten()
                        .map(|c| c as u16);
                    let setvar_id = self.optional_name(&va, "setvar_id", "the program symbol to patch with the vCPU's id");
                    let Some(id) = id else { continue };
                    if let Some(first) = vcpus.iter().find(|v| v.id == id) {
                        let line = self.line(first.span.start);
                        let at = self.span_of(&va, "id");
                        self.err(
                            Diagnostic::error(format!("vCPU id {id} is used twice in virtual machine `{}`", name.as_deref().unwrap_or("")))
                                .at(at)
                                .on("vcpu")
                                .note(format!("the first is on line {line}"))
                                .help(format!("give each vCPU a distinct id from 0 to {MAX_VCPU_ID}")),
                        );
                        continue;
                    }
                    if x86 && vcpus.len() >= X86_MAX_VCPUS {
                        self.err(
                            Diagnostic::error("a virtual machine on x86_64 has one vCPU")
                                .at(tag_span(&child))
                                .on("vcpu")
                                .help("the guest runs on its protection domain's thread; remove the other <vcpu>s"),
                        );
                        continue;
                    }
                    vcpus.push(Vcpu { id, cpu, setvar_id, span: tag_span(&child), attrs: va.spans });
                }
                "map" => {
                    if let Some(m) = self.map_with(child, VM_MAP_ATTRS) {
                        maps.push(m);
                    }
                }
                _ => self.unknown_child(&child, tag, &["vcpu", "map"]),
            }
        }
        if vcpu_elements == 0 {
            self.err(
                Diagnostic::error(format!("virtual machine `{}` has no <vcpu>", name.as_deref().unwrap_or("")))
                    .at(tag_span(&node))
                    .on(tag)
                    .help("add <vcpu id=\"0\"/>: the id is drawn from the PD's child ids"),
            );
        }
        Some(VirtualMachine { name: name?, priority, budget_us: budget, period_us: period, vcpus, maps, span: tag_span(&node), attrs: a.spans })
    }

    /// `<io_address_space>`: an IOMMU address space for one PCI device, with `<iomap>`s.
    fn io_space(&mut self, node: Node) -> Option<IoSpace> {
        let tag = "io_address_space";
        let a = self.attrs(node, tag, IO_SPACE_ATTRS);
        let name = self.name(&a, "name", "the address space's unique name");
        let peripheral = match self.required(&a, "peripheral_id", "the PCI address BUS:DEV.FN of the device the IOMMU isolates") {
            Some(_) if self.board.arch != Arch::X86_64 => {
                let span = self.span_of(&a, "peripheral_id");
                self.err(
                    Diagnostic::error(format!("IOMMU address spaces exist only on x86_64, and board {} is {}", self.board.name, self.board.arch.name()))
                        .at(span)
                        .on(tag)
                        .help("Microkit identifies IOMMU devices by PCI address on x86_64 only; remove the <io_address_space>"),
                );
                None
            }
            Some(text) => self.pci(&a, "peripheral_id", text),
            None => None,
        };
        let what = "the IOMMU domain id, unique in the system";
        let domain_id = match self.number(&a, "domain_id", 0, u64::MAX, what) {
            Some(Some(v)) => Some(v),
            Some(None) => {
                self.required(&a, "domain_id", what);
                None
            }
            None => None,
        };
        let mut maps = Vec::new();
        for child in self.elements(node, tag) {
            if child.tag_name().name() != "iomap" {
                self.unknown_child(&child, tag, &["iomap"]);
                continue;
            }
            let ma = self.attrs(child, "iomap", IOMAP_ATTRS);
            self.elements(child, "iomap").iter().for_each(|c| self.unknown_child(c, "iomap", &[]));
            let mr = self.name(&ma, "mr", "the name of the memory region to map");
            let what = "the I/O virtual address the device sees the region at";
            let iovaddr = match self.number(&ma, "iovaddr", 0, IOVA_SPACE_BYTES - 1, what) {
                Some(Some(v)) => Some(v),
                Some(None) => {
                    self.required(&ma, "iovaddr", what);
                    None
                }
                None => None,
            };
            let (mut read, mut write) = (true, true);
            if let Some(text) = child.attribute("perms") {
                read = text.contains('r');
                write = text.contains('w');
                if text.is_empty() || text.chars().any(|c| c != 'r' && c != 'w') {
                    let span = self.span_of(&ma, "perms");
                    self.err(
                        Diagnostic::error(format!("perms `{}` is not a permission of an I/O mapping", text.escape_debug()))
                            .at(span)
                            .on("iomap")
                            .help("perms of an <iomap> is `r`, `w` or `rw` (default `rw`): devices do not execute"),
                    );
                    continue;
                }
            }
            if let (Some(mr), Some(iovaddr)) = (mr, iovaddr) {
                maps.push(IoMap { mr, iovaddr, read, write, span: tag_span(&child), attrs: ma.spans });
            }
        }
        Some(IoSpace { name: name?, peripheral: peripheral?, domain_id: domain_id?, maps, span: tag_span(&node), attrs: a.spans })
    }

    fn ioport(&mut self, node: Node) -> Option<IoPort> {
        let tag = "ioport";
        self.elements(node, tag).iter().for_each(|c| self.unknown_child(c, tag, &[]));
        if !self.board.arch.has_ioports() {
            self.err(
                Diagnostic::error(format!("I/O ports exist only on x86, and board {} is {}", self.board.name, self.board.arch.name()))
                    .at(tag_span(&node))
                    .on(tag)
                    .help("map the device's registers with a <memory_region phys_addr=\"...\"> instead"),
            );
            return None;
        }
        let a = self.attrs(node, tag, IOPORT_ATTRS);
        let id = self.id(&a, "I/O port range");
        let get = |p: &mut Self, name: &str, min: u64, max: u64, what: &str| match p.number(&a, name, min, max, what) {
            Some(Some(v)) => Some(v),
            Some(None) => {
                p.required(&a, name, what);
                None
            }
            None => None,
        };
        let addr = get(self, "addr", 0, 0xffff, "the first I/O port")?;
        let size = get(self, "size", 1, 0x1_0000, "the number of ports")?;
        if addr + size > 0x1_0000 {
            let span = self.span_of(&a, "size");
            self.err(
                Diagnostic::error(format!("I/O ports {addr:#x}..{:#x} run past the last port, 0xffff", addr + size))
                    .at(span)
                    .on(tag)
                    .help("addr + size must be at most 0x10000"),
            );
            return None;
        }
        Some(IoPort { id: id?, addr: addr as u16, size: size as u32, span: tag_span(&node), attrs: a.spans })
    }

    fn region(&mut self, node: Node) -> Option<Region> {
        let tag = "memory_region";
        let a = self.attrs(node, tag, MR_ATTRS);
        self.elements(node, tag).iter().for_each(|c| self.unknown_child(c, tag, &[]));
        let arch = self.board.arch;
        let name = self.name(&a, "name", "the region's unique name");
        let sizes: Vec<String> = arch.page_sizes().iter().map(|s| format!("{s:#x}")).collect();
        let page = match self.number(&a, "page_size", 1, u64::MAX, "the page size in bytes") {
            Some(Some(p)) if arch.page_sizes().contains(&p) => Some(p),
            Some(Some(p)) => {
                let span = self.span_of(&a, "page_size");
                self.err(Diagnostic::error(format!("page_size {p:#x} is not a page size of {}", arch.name())).at(span).on(tag).help(format!(
                    "on board {} page_size is one of {}",
                    self.board.name,
                    sizes.join(", ")
                )));
                None
            }
            Some(None) => Some(arch.min_page_size()),
            None => None,
        };
        let bootinfo = match a.node.attribute("prefill_bootinfo") {
            Some(kind) if PREFILL_BOOTINFO_KINDS.contains(&kind) => Some(kind.to_string()),
            Some(kind) => {
                let span = self.span_of(&a, "prefill_bootinfo");
                let mut d = Diagnostic::error(format!("prefill_bootinfo `{}` is not a kind of boot information", kind.escape_debug())).at(span).on(tag);
                d = match suggest(kind, PREFILL_BOOTINFO_KINDS) {
                    Some(s) => d.help(format!("did you mean `{s}`? prefill_bootinfo is one of {}", list(PREFILL_BOOTINFO_KINDS))),
                    None => d.help(format!("prefill_bootinfo is one of {}", list(PREFILL_BOOTINFO_KINDS))),
                };
                self.err(d);
                None
            }
            None => None,
        };
        if bootinfo.is_some() && a.node.attribute("prefill_path").is_some() {
            let span = self.span_of(&a, "prefill_bootinfo");
            self.err(
                Diagnostic::error("a region is prefilled from a file or with boot information, not both")
                    .at(span)
                    .on(tag)
                    .help("remove prefill_path or prefill_bootinfo"),
            );
        }
        let size = match self.number(&a, "size", 1, u64::MAX, "the region's size in bytes") {
            Some(Some(v)) => Some(v),
            // Boot information fills one page (as in Microkit).
            Some(None) if a.node.attribute("prefill_bootinfo").is_some() => page,
            // As large as the prefill file: filled in once the file is read.
            Some(None) if a.node.attribute("prefill_path").is_some_and(|p| !p.is_empty()) => page,
            Some(None) => {
                self.required(&a, "size", "the region's size in bytes, a multiple of its page size (it may be left out only with prefill_path)");
                None
            }
            None => None,
        };
        if let (Some(size), Some(page)) = (size, page) {
            if size % page != 0 {
                let span = self.span_of(&a, "size");
                self.err(
                    Diagnostic::error(format!("size {size:#x} is not a multiple of the page size {page:#x}"))
                        .at(span)
                        .on(tag)
                        .help(format!("round size up to a multiple of {page:#x}, e.g. {:#x}", size.div_ceil(page) * page)),
                );
            }
        }
        let phys = self.number(&a, "phys_addr", 0, u64::MAX, "the region's fixed physical address").flatten();
        if let (Some(phys), Some(page), Some(size)) = (phys, page, size) {
            if phys % page != 0 {
                let span = self.span_of(&a, "phys_addr");
                self.err(
                    Diagnostic::error(format!("phys_addr {phys:#x} is not aligned to the page size {page:#x}"))
                        .at(span)
                        .on(tag)
                        .help(format!("phys_addr must be a multiple of {page:#x}")),
                );
            } else if phys.checked_add(size).is_none() {
                let span = self.span_of(&a, "phys_addr");
                self.err(Diagnostic::error("phys_addr + size overflows the address space").at(span).on(tag).help("the region must end below 2^64"));
            }
        }
        let prefill_path = match a.node.attribute("prefill_path") {
            Some("") => {
                let span = self.span_of(&a, "prefill_path");
                self.err(Diagnostic::error("prefill_path is empty").at(span).on(tag).help("prefill_path names a file whose bytes the region starts with"));
                None
            }
            Some(p) => Some(p.to_string()),
            None => None,
        };
        // A region whose size or page size is wrong (already reported) is still kept, with the
        // smallest values and no prefill, so that maps naming it are not reported as naming a
        // region that does not exist.
        let page_or_min = page.unwrap_or_else(|| arch.min_page_size());
        let size_from_prefill = a.node.attribute("size").is_none() && prefill_path.is_some();
        Some(Region {
            name: name?,
            size_bytes: size.unwrap_or(page_or_min),
            page_size_bytes: page_or_min,
            phys_addr: phys,
            prefill_path: if size.is_some() { prefill_path } else { None },
            prefill_bootinfo: bootinfo,
            size_from_prefill,
            span: tag_span(&node),
            attrs: a.spans,
        })
    }

    fn channel(&mut self, node: Node) -> Option<Channel> {
        let tag = "channel";
        self.attrs(node, tag, &[]);
        let mut ends = Vec::new();
        let mut ok = true;
        for child in self.elements(node, tag) {
            if child.tag_name().name() != "end" {
                self.unknown_child(&child, tag, &["end"]);
                continue;
            }
            match self.end(child) {
                Some(e) => ends.push(e),
                None => ok = false,
            }
        }
        let count = ends.len() + usize::from(!ok);
        if ok && ends.len() != 2 || count > 2 {
            self.err(
                Diagnostic::error(format!("a channel has exactly two ends, this one has {count}"))
                    .at(tag_span(&node))
                    .on(tag)
                    .help("write <channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>"),
            );
            return None;
        }
        let [a, b]: [End; 2] = ends.try_into().ok()?;
        if a.pp && b.pp {
            self.err(
                Diagnostic::error("both ends of the channel have pp=\"true\"")
                    .at(b.attrs.get("pp").unwrap_or(b.span.clone()))
                    .on("end")
                    .help("protected procedure calls go one way: from the lower-priority PD to the higher; set pp on the caller's end only"),
            );
            return None;
        }
        if a.pd == b.pd {
            self.err(
                Diagnostic::error(format!("both ends of the channel are `{}`", a.pd))
                    .at(b.attrs.get("pd").unwrap_or(b.span.clone()))
                    .on("end")
                    .help("a channel connects two different protection domains"),
            );
            return None;
        }
        Some(Channel { ends: [a, b], span: tag_span(&node) })
    }

    fn end(&mut self, node: Node) -> Option<End> {
        let tag = "end";
        let a = self.attrs(node, tag, END_ATTRS);
        self.elements(node, tag).iter().for_each(|c| self.unknown_child(c, tag, &[]));
        let pd = self.name(&a, "pd", "the name of the protection domain at this end");
        let id = self.id(&a, "channel");
        let pp = self.boolean(&a, "pp", false);
        let notify = self.boolean(&a, "notify", true);
        let setvar_id = self.optional_name(&a, "setvar_id", "the program symbol to patch with the id");
        Some(End { pd: pd?, id: id?, notify, pp, setvar_id, span: tag_span(&node), attrs: a.spans })
    }
}

/// Byte offset of the first start tag with more than [`MAX_ATTRIBUTES_PER_ELEMENT`] attributes,
/// found in one pass that skips comments, CDATA, processing instructions and quoted values and
/// counts the `=` of each tag: an upper bound on its attributes wherever the XML is well formed.
fn crowded_tag(source: &str) -> Option<usize> {
    let b = source.as_bytes();
    let mut i = 0;
    while let Some(lt) = b[i..].iter().position(|&c| c == b'<').map(|p| i + p) {
        let rest = &source[lt..];
        let skip_to = |close: &str| rest.find(close).map(|p| lt + p + close.len());
        let next = if rest.starts_with("<!--") {
            skip_to("-->")
        } else if rest.starts_with("<![CDATA[") {
            skip_to("]]>")
        } else if rest.starts_with("<?") {
            skip_to("?>")
        } else if rest.starts_with("<!") || rest.starts_with("</") {
            skip_to(">")
        } else {
            let (mut quote, mut count, mut j) = (None, 0usize, lt + 1);
            while j < b.len() {
                match (quote, b[j]) {
                    (Some(q), c) if c == q => quote = None,
                    (Some(_), _) => {}
                    (None, c @ (b'"' | b'\'')) => quote = Some(c),
                    (None, b'=') => count += 1,
                    (None, b'>' | b'<') => break,
                    (None, _) => {}
                }
                j += 1;
            }
            if count > MAX_ATTRIBUTES_PER_ELEMENT {
                return Some(lt);
            }
            Some(j)
        };
        match next {
            Some(n) if n > i => i = n,
            _ => return None,
        }
    }
    None
}

fn list_el(options: &[&str]) -> String {
    options.iter().map(|o| format!("<{o}>")).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_microkit_syntax() {
        assert_eq!(parse_number("42"), Ok(42));
        assert_eq!(parse_number("0x1000"), Ok(0x1000));
        assert_eq!(parse_number("0x10_0000"), Ok(0x10_0000));
        assert_eq!(parse_number("1_000"), Ok(1000));
        assert_eq!(parse_number(""), Err(NumError::Empty));
        assert_eq!(parse_number("-1"), Err(NumError::Negative));
        assert_eq!(parse_number("0x"), Err(NumError::NotANumber));
        assert_eq!(parse_number("12a"), Err(NumError::NotANumber));
        assert_eq!(parse_number("0x1_0000_0000_0000_0000"), Err(NumError::TooLarge));
        assert_eq!(parse_number("99999999999999999999999"), Err(NumError::TooLarge));
    }

    #[test]
    fn suggestions_find_near_misses_only() {
        assert_eq!(suggest("priorty", PD_ATTRS), Some("priority"));
        assert_eq!(suggest("colour", PD_ATTRS), None);
    }
}
