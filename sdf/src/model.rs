//! The typed form of a system file, with source positions.
//!
//! Produced by [`crate::parse`]; every value here is in range for the board it was parsed for
//! (numbers parsed, booleans decoded, ids below the limits), but cross-references (PD names in
//! channel ends, region names in maps) are still names: [`crate::validate`] resolves them.

use rampart_spec::{IrqSource, Perms};
use std::ops::Range;

/// Byte range of an element's start tag name, or of an attribute, in the source.
pub type Span = Range<usize>;

/// Spans of the attributes an element had, by name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrSpans {
    /// (attribute name, span of its value)
    pub values: Vec<(String, Span)>,
}

impl AttrSpans {
    pub fn get(&self, name: &str) -> Option<Span> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, s)| s.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct System {
    pub pds: Vec<Pd>,
    pub regions: Vec<Region>,
    pub channels: Vec<Channel>,
    /// IOMMU address spaces (`<io_address_space>`, x86_64 only). Parsed and checked by Microkit's
    /// rules; no backend of Rampart honours them yet (see [`crate::backend`]).
    pub io_spaces: Vec<IoSpace>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pd {
    pub name: String,
    pub priority: u8,
    pub budget_us: Option<u64>,
    pub period_us: Option<u64>,
    pub passive: bool,
    pub stack_size_bytes: u64,
    pub cpu: u16,
    pub fpu: bool,
    /// Authority granted by Rampart's extension attributes (`rampart:exit_system`, ...).
    pub grants: rampart_spec::Grants,
    /// The `path` of `program_image`, as written.
    pub program_image: String,
    /// Span of that `path` (of the PD's start tag when there is none).
    pub program_image_span: Span,
    pub maps: Vec<Map>,
    pub irqs: Vec<Irq>,
    pub ioports: Vec<IoPort>,
    pub setvars: Vec<SetVar>,
    /// MSI interrupts (x86_64): parsed and checked, honoured by no backend yet.
    pub msis: Vec<Msi>,
    /// The PD's virtual machine (at most one): parsed and checked, honoured by no backend yet.
    pub vm: Option<VirtualMachine>,
    /// Index of the parent in [`System::pds`], and this PD's child id.
    pub parent: Option<(usize, u8)>,
    /// Nesting depth: 0 for a PD directly under `system`.
    pub depth: usize,
    pub span: Span,
    pub attrs: AttrSpans,
}

impl Pd {
    /// Span of an attribute, or of the element when the attribute was not written.
    pub fn attr_span(&self, name: &str) -> Span {
        self.attrs.get(name).unwrap_or_else(|| self.span.clone())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Map {
    pub mr: String,
    pub vaddr: u64,
    pub perms: Perms,
    pub cached: bool,
    pub setvar_vaddr: Option<String>,
    pub setvar_size: Option<String>,
    /// Symbol to patch with the size of the region's prefill data (`setvar_prefill_size`).
    pub setvar_prefill_size: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Irq {
    pub id: u8,
    pub source: IrqSource,
    pub setvar_id: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}

/// A PCI function's address, `bus:device.function` in hexadecimal (as in `00:1f.2`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PciAddr {
    pub bus: u8,
    /// At most [`crate::parse::PCI_DEVICE_MAX`].
    pub device: u8,
    /// At most [`crate::parse::PCI_FUNCTION_MAX`].
    pub function: u8,
}

impl std::fmt::Display for PciAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.bus, self.device, self.function)
    }
}

/// An MSI interrupt: `<irq pcidev="..." handle="..." vector="..." id="..."/>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msi {
    pub id: u8,
    pub pcidev: PciAddr,
    pub handle: u64,
    pub vector: u8,
    pub setvar_id: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}

/// A guest run by its parent PD: `<virtual_machine>` with `<vcpu>`s and `<map>`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtualMachine {
    pub name: String,
    /// ARM only; on x86_64 the VM shares its PD's scheduling parameters.
    pub priority: Option<u8>,
    pub budget_us: Option<u64>,
    pub period_us: Option<u64>,
    pub vcpus: Vec<Vcpu>,
    /// Guest-physical maps (no `setvar_vaddr`).
    pub maps: Vec<Map>,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vcpu {
    /// Drawn from the parent's child ids, below [`crate::parse::MAX_VCPU_ID`].
    pub id: u8,
    pub cpu: Option<u16>,
    pub setvar_id: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}

/// An IOMMU address space for one PCI device: `<io_address_space>` with `<iomap>`s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoSpace {
    pub name: String,
    pub peripheral: PciAddr,
    pub domain_id: u64,
    pub maps: Vec<IoMap>,
    pub span: Span,
    pub attrs: AttrSpans,
}

/// A region mapped into an IOMMU address space.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoMap {
    pub mr: String,
    pub iovaddr: u64,
    pub read: bool,
    pub write: bool,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoPort {
    pub id: u8,
    pub addr: u16,
    pub size: u32,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetVar {
    pub symbol: String,
    pub region_paddr: String,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: String,
    pub size_bytes: u64,
    pub page_size_bytes: u64,
    pub phys_addr: Option<u64>,
    pub prefill_path: Option<String>,
    /// `size` was not written: the region is as large as its prefill file, rounded up to pages
    /// (filled in by [`crate::check_str`] once the file has been read).
    pub size_from_prefill: bool,
    /// `prefill_bootinfo` (x86_64): the boot information the region is filled with.
    pub prefill_bootinfo: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub ends: [End; 2],
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    pub pd: String,
    pub id: u8,
    /// This end may notify the other.
    pub notify: bool,
    /// This end may make protected procedure calls to the other.
    pub pp: bool,
    pub setvar_id: Option<String>,
    pub span: Span,
    pub attrs: AttrSpans,
}
