//! The compiled system spec.
//!
//! A `system.xml` is parsed and validated once, on the host, by `rampart-sdf`; what comes out is a
//! [`SystemSpec`]: the one input that every backend (the hosted launcher, the seL4 system
//! initializer), the image builder and the attestation reference values consume. It is plain data:
//! every cross-reference is an index that [`decode`] has checked, every per-PD view (which channel
//! id reaches which peer, who may notify, who may call) is precomputed, so that a consumer never
//! re-derives policy from the XML.
//!
//! Wire form: [`MAGIC`], then [`FORMAT_VERSION`] (u16, little endian), then the postcard encoding
//! of the spec. [`decode`] refuses other magic numbers and versions, trailing bytes, inputs over
//! [`MAX_SPEC_BYTES`], and specs whose indices or limits are out of range; it never panics.
//!
//! `no_std` with `alloc`: the seL4 root task decodes it too.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

/// The first bytes of every encoded spec.
pub const MAGIC: [u8; 8] = *b"RMPSPEC\0";
/// The version of the encoding; bumped on any change to the types below.
pub const FORMAT_VERSION: u16 = 2;
/// The largest encoded spec [`decode`] accepts.
pub const MAX_SPEC_BYTES: usize = 1 << 20;

/// At most this many protection domains in one system (Microkit's limit).
pub const MAX_PDS: usize = 63;
/// Channel, IRQ and I/O port ids of one PD are drawn from `0..=MAX_CHANNEL_ID` (one badge bit each).
pub const MAX_CHANNEL_ID: u8 = 62;
/// Child PD ids of one parent are drawn from `0..=MAX_CHILD_ID`.
pub const MAX_CHILD_ID: u8 = 62;
/// Highest PD priority; 255 is kept for the monitor.
pub const MAX_PRIORITY: u8 = 254;
/// Smallest PD stack.
pub const MIN_STACK_SIZE_BYTES: u64 = 4 * 1024;
/// Largest PD stack.
pub const MAX_STACK_SIZE_BYTES: u64 = 16 * 1024 * 1024;
/// Stack size when a PD does not give one.
pub const DEFAULT_STACK_SIZE_BYTES: u64 = 4 * 1024;
/// Budget, in microseconds, of a PD that gives none (as Microkit).
pub const DEFAULT_BUDGET_US: u64 = 1000;
/// Longest PD, memory region or symbol name, in bytes.
pub const MAX_NAME_BYTES: usize = 64;
/// Largest message a protected procedure call carries, in words (label aside).
pub const MAX_MESSAGE_WORDS: usize = 64;

/// Index of a PD in [`SystemSpec::pds`].
pub type PdIndex = u8;
/// Index of a region in [`SystemSpec::regions`].
pub type RegionIndex = u16;

/// Instruction set architecture of a board.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Arch {
    X86_64,
    Aarch64,
    Armv7,
}

impl Arch {
    /// The name used in board files and on the command line.
    pub const fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Armv7 => "armv7",
        }
    }

    /// Page sizes the MMU maps directly, smallest first.
    ///
    /// x86_64 and AArch64: 4 KiB pages and 2 MiB large pages (1 GiB huge pages are not offered, as
    /// Microkit). ARMv7 (short descriptors, as seL4's aarch32 frame objects): 4 KiB small pages,
    /// 64 KiB large pages, 1 MiB sections and 16 MiB supersections.
    pub const fn page_sizes(self) -> &'static [u64] {
        match self {
            Arch::X86_64 | Arch::Aarch64 => &[0x1000, 0x20_0000],
            Arch::Armv7 => &[0x1000, 0x1_0000, 0x10_0000, 0x100_0000],
        }
    }

    /// The smallest page size.
    pub const fn min_page_size(self) -> u64 {
        0x1000
    }

    /// One past the highest user virtual address of the kernel's address-space layout.
    pub const fn user_top(self) -> u64 {
        match self {
            // seL4's x86_64 and AArch64 user windows end below the canonical hole: 47 bits.
            Arch::X86_64 | Arch::Aarch64 => 0x0000_8000_0000_0000,
            // seL4 on aarch32 puts the kernel window at 0xe0000000.
            Arch::Armv7 => 0xe000_0000,
        }
    }

    /// Top of every PD's stack; the stack grows down from here. The page above it is a guard and
    /// the page above that is the IPC buffer, so that the top of the user window stays unmapped.
    pub const fn stack_top(self) -> u64 {
        self.user_top() - 4 * 0x1000
    }

    /// Whether x86 I/O ports exist.
    pub const fn has_ioports(self) -> bool {
        matches!(self, Arch::X86_64)
    }
}

/// The whole compiled system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemSpec {
    /// Board the system was validated for (a file in `images/boards/`).
    pub board: String,
    pub arch: Arch,
    pub pds: Vec<PdSpec>,
    pub regions: Vec<RegionSpec>,
    pub channels: Vec<ChannelSpec>,
}

/// Where a PD's program comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProgramRef {
    /// A component crate of the Rampart workspace (`components/NAME`), built by `rampart`.
    Component(String),
    /// An ELF file built elsewhere, as in Microkit; the path as written in the system file.
    Elf(String),
}

impl ProgramRef {
    pub fn name(&self) -> &str {
        match self {
            ProgramRef::Component(n) | ProgramRef::Elf(n) => n,
        }
    }
}

/// Scheduling parameters that only an MCS kernel honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedContext {
    pub budget_us: u64,
    pub period_us: u64,
}

/// One protection domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdSpec {
    pub name: String,
    pub program: ProgramRef,
    pub priority: u8,
    /// `Some` when the system file gives a budget or a period; `None` means "as the kernel
    /// schedules by default" (round robin within a priority).
    pub sched: Option<SchedContext>,
    pub passive: bool,
    pub stack_size_bytes: u64,
    pub cpu: u16,
    pub fpu: bool,
    /// Parent PD and this PD's id in the parent's child table.
    pub parent: Option<(PdIndex, u8)>,
    pub maps: Vec<MapSpec>,
    /// This PD's ends of channels, sorted by id.
    pub channels: Vec<PdChannel>,
    pub irqs: Vec<IrqSpec>,
    pub ioports: Vec<IoPortSpec>,
    pub setvars: Vec<SetVarSpec>,
    /// Authority beyond channels and regions, granted by Rampart's system-file extension.
    pub grants: Grants,
}

/// Authority a PD holds only when the system file grants it (Rampart's `rampart:` attributes on
/// `<protection_domain>`). Nothing here is ambient: a PD without a grant that tries the act is
/// faulted and reported, and the system runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Grants {
    /// `rampart:exit_system="true"`: the PD may end the whole system with a status.
    pub exit_system: bool,
    /// `rampart:restart_children="true"`: the PD may have its faulted children restarted (any
    /// parent may hold them).
    pub restart_children: bool,
}

impl PdSpec {
    /// The channel end with this id, if the PD has one.
    pub fn channel(&self, id: u8) -> Option<&PdChannel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// Whether any PD may call into this one (it needs an endpoint for protected procedures).
    pub fn serves_pp(&self) -> bool {
        self.channels.iter().any(|c| c.peer_may_call)
    }
}

/// Memory access rights of a mapping. Write implies read; at least read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub execute: bool,
}

impl fmt::Display for Perms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (on, c) in [(self.read, 'r'), (self.write, 'w'), (self.execute, 'x')] {
            if on {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A memory region mapped into a PD.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapSpec {
    pub region: RegionIndex,
    pub vaddr: u64,
    pub perms: Perms,
    pub cached: bool,
    pub setvar_vaddr: Option<String>,
    pub setvar_size: Option<String>,
}

/// One PD's view of a channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdChannel {
    /// The id this PD uses for the channel (its badge bit).
    pub id: u8,
    pub peer: PdIndex,
    /// The id the peer uses for the same channel.
    pub peer_id: u8,
    /// This PD may notify the peer.
    pub may_notify: bool,
    /// This PD may make protected procedure calls to the peer.
    pub may_call: bool,
    /// The peer may make protected procedure calls to this PD.
    pub peer_may_call: bool,
    /// Symbol patched with the id, if the system file asks for one.
    pub setvar_id: Option<String>,
}

/// A channel: two ends.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelSpec {
    pub ends: [ChannelEndSpec; 2],
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelEndSpec {
    pub pd: PdIndex,
    pub id: u8,
    pub notify: bool,
    pub pp: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Trigger {
    Level,
    Edge,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Polarity {
    ActiveHigh,
    ActiveLow,
}

/// Where an interrupt comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum IrqSource {
    /// ARM GIC interrupt number.
    Arm { irq: u32, trigger: Trigger },
    /// x86 I/O APIC pin, delivered on a CPU vector.
    Ioapic { ioapic: u8, pin: u8, vector: u8, trigger: Trigger, polarity: Polarity },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqSpec {
    /// Channel id the interrupt is delivered on.
    pub id: u8,
    pub source: IrqSource,
    pub setvar_id: Option<String>,
}

/// A range of x86 I/O ports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IoPortSpec {
    pub id: u8,
    pub addr: u16,
    /// Number of ports, 1 to 0x10000.
    pub size: u32,
}

/// A symbol patched with the physical address of a region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetVarSpec {
    pub symbol: String,
    pub region: RegionIndex,
}

/// Contents a region starts with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prefill {
    /// The path as written in the system file (relative to its directory).
    pub path: String,
    /// Size and SHA-256 of the file, when it was read at compile time.
    pub size_bytes: Option<u64>,
    pub sha256: Option<[u8; 32]>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionSpec {
    pub name: String,
    pub size_bytes: u64,
    pub page_size_bytes: u64,
    pub phys_addr: Option<u64>,
    pub prefill: Option<Prefill>,
}

/// Why bytes are not a valid spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecError {
    TooLarge {
        size_bytes: usize,
    },
    BadMagic,
    UnsupportedVersion {
        found: u16,
    },
    Malformed,
    TrailingBytes {
        count: usize,
    },
    /// Decoded, but a value is out of range: a dangling index or a broken limit.
    Invalid(&'static str),
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpecError::TooLarge { size_bytes } => {
                write!(f, "spec is {size_bytes} bytes, more than the limit of {MAX_SPEC_BYTES}")
            }
            SpecError::BadMagic => write!(f, "not a Rampart system spec (bad magic number)"),
            SpecError::UnsupportedVersion { found } => write!(f, "spec format version {found} is not supported (this build reads version {FORMAT_VERSION})"),
            SpecError::Malformed => write!(f, "spec is truncated or malformed"),
            SpecError::TrailingBytes { count } => write!(f, "{count} unexpected bytes after the spec"),
            SpecError::Invalid(what) => write!(f, "spec is inconsistent: {what}"),
        }
    }
}

impl SystemSpec {
    /// Encode as magic, version and postcard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        // Serialising plain owned data into a Vec cannot fail.
        let body = postcard::to_allocvec(self).unwrap_or_default();
        out.extend_from_slice(&body);
        out
    }

    /// SHA-256 of [`SystemSpec::encode`]: names this exact system (for attestation).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest;
        sha2::Sha256::digest(self.encode()).into()
    }

    /// The workspace components the PDs run, sorted, each once.
    pub fn component_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .pds
            .iter()
            .filter_map(|p| match &p.program {
                ProgramRef::Component(c) => Some(c.as_str()),
                ProgramRef::Elf(_) => None,
            })
            .collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    /// Index of the PD with this name.
    pub fn pd_index(&self, name: &str) -> Option<PdIndex> {
        self.pds.iter().position(|p| p.name == name).map(|i| i as PdIndex)
    }

    /// Checks every index and limit, so that consumers may index without checking.
    pub fn check(&self) -> Result<(), SpecError> {
        use SpecError::Invalid;
        if self.pds.is_empty() {
            return Err(Invalid("no protection domains"));
        }
        if self.pds.len() > MAX_PDS {
            return Err(Invalid("more than 63 protection domains"));
        }
        if self.regions.len() > usize::from(u16::MAX) {
            return Err(Invalid("too many memory regions"));
        }
        let npd = self.pds.len();
        let nreg = self.regions.len();
        for r in &self.regions {
            if !self.arch.page_sizes().contains(&r.page_size_bytes) || r.size_bytes == 0 || r.size_bytes % r.page_size_bytes != 0 {
                return Err(Invalid("region size or page size"));
            }
        }
        for ch in &self.channels {
            for e in &ch.ends {
                if usize::from(e.pd) >= npd || e.id > MAX_CHANNEL_ID {
                    return Err(Invalid("channel end"));
                }
            }
        }
        for pd in &self.pds {
            if pd.priority > MAX_PRIORITY || pd.stack_size_bytes < MIN_STACK_SIZE_BYTES || pd.stack_size_bytes > MAX_STACK_SIZE_BYTES {
                return Err(Invalid("PD priority or stack size"));
            }
            if let Some((parent, id)) = pd.parent {
                if usize::from(parent) >= npd || id > MAX_CHILD_ID {
                    return Err(Invalid("PD parent"));
                }
            }
            let mut ids: u64 = 0;
            let mut claim = |id: u8| -> Result<(), SpecError> {
                if id > MAX_CHANNEL_ID || ids & (1 << id) != 0 {
                    return Err(Invalid("PD channel, IRQ or I/O port id"));
                }
                ids |= 1 << id;
                Ok(())
            };
            for c in &pd.channels {
                claim(c.id)?;
                if usize::from(c.peer) >= npd || c.peer_id > MAX_CHANNEL_ID {
                    return Err(Invalid("PD channel peer"));
                }
            }
            for i in &pd.irqs {
                claim(i.id)?;
            }
            for p in &pd.ioports {
                claim(p.id)?;
            }
            for m in &pd.maps {
                if usize::from(m.region) >= nreg {
                    return Err(Invalid("map region"));
                }
            }
            for s in &pd.setvars {
                if usize::from(s.region) >= nreg {
                    return Err(Invalid("setvar region"));
                }
            }
        }
        Ok(())
    }
}

/// Decode and check a spec produced by [`SystemSpec::encode`].
pub fn decode(bytes: &[u8]) -> Result<SystemSpec, SpecError> {
    if bytes.len() > MAX_SPEC_BYTES {
        return Err(SpecError::TooLarge { size_bytes: bytes.len() });
    }
    let header = MAGIC.len() + 2;
    if bytes.len() < header || bytes[..MAGIC.len()] != MAGIC {
        return Err(SpecError::BadMagic);
    }
    let version = u16::from_le_bytes([bytes[MAGIC.len()], bytes[MAGIC.len() + 1]]);
    if version != FORMAT_VERSION {
        return Err(SpecError::UnsupportedVersion { found: version });
    }
    let (spec, rest): (SystemSpec, &[u8]) = postcard::take_from_bytes(&bytes[header..]).map_err(|_| SpecError::Malformed)?;
    if !rest.is_empty() {
        return Err(SpecError::TrailingBytes { count: rest.len() });
    }
    spec.check()?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn two_pd_spec() -> SystemSpec {
        let pd = |name: &str, peer: u8| PdSpec {
            name: name.to_string(),
            program: ProgramRef::Component(name.to_string()),
            priority: 1 + peer,
            sched: None,
            passive: false,
            stack_size_bytes: DEFAULT_STACK_SIZE_BYTES,
            cpu: 0,
            fpu: true,
            parent: None,
            maps: vec![MapSpec {
                region: 0,
                vaddr: 0x400_0000,
                perms: Perms { read: true, write: true, execute: false },
                cached: true,
                setvar_vaddr: None,
                setvar_size: None,
            }],
            channels: vec![PdChannel { id: 1, peer, peer_id: 1, may_notify: true, may_call: false, peer_may_call: false, setvar_id: None }],
            irqs: vec![],
            ioports: vec![],
            setvars: vec![],
            grants: Grants::default(),
        };
        SystemSpec {
            board: "qemu-x86_64".to_string(),
            arch: Arch::X86_64,
            pds: vec![pd("a", 1), pd("b", 0)],
            regions: vec![RegionSpec { name: "shared".to_string(), size_bytes: 0x1000, page_size_bytes: 0x1000, phys_addr: None, prefill: None }],
            channels: vec![ChannelSpec {
                ends: [ChannelEndSpec { pd: 0, id: 1, notify: true, pp: false }, ChannelEndSpec { pd: 1, id: 1, notify: true, pp: false }],
            }],
        }
    }

    #[test]
    fn a_spec_survives_encoding() {
        let spec = two_pd_spec();
        assert_eq!(decode(&spec.encode()), Ok(spec));
    }

    #[test]
    fn wrong_magic_version_and_trailing_bytes_are_refused() {
        let bytes = two_pd_spec().encode();
        let mut bad = bytes.clone();
        bad[0] ^= 1;
        assert_eq!(decode(&bad), Err(SpecError::BadMagic));
        let mut bad = bytes.clone();
        bad[8] = 9;
        assert_eq!(decode(&bad), Err(SpecError::UnsupportedVersion { found: 9 }));
        let mut bad = bytes.clone();
        bad.push(0);
        assert_eq!(decode(&bad), Err(SpecError::TrailingBytes { count: 1 }));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), Err(SpecError::Malformed));
        assert_eq!(decode(&[]), Err(SpecError::BadMagic));
    }

    #[test]
    fn dangling_indices_are_refused_on_decode() {
        let mut spec = two_pd_spec();
        spec.pds[0].channels[0].peer = 7;
        assert_eq!(decode(&spec.encode()), Err(SpecError::Invalid("PD channel peer")));
        let mut spec = two_pd_spec();
        spec.pds[1].maps[0].region = 3;
        assert_eq!(decode(&spec.encode()), Err(SpecError::Invalid("map region")));
        let mut spec = two_pd_spec();
        spec.pds[1].irqs.push(IrqSpec { id: 1, source: IrqSource::Arm { irq: 3, trigger: Trigger::Level }, setvar_id: None });
        assert_eq!(decode(&spec.encode()), Err(SpecError::Invalid("PD channel, IRQ or I/O port id")));
    }

    #[test]
    fn component_names_are_listed_once_and_sorted_without_elf_programs() {
        let mut spec = two_pd_spec();
        spec.pds[1].program = ProgramRef::Component("a".to_string());
        spec.pds.push(PdSpec { name: "c".to_string(), program: ProgramRef::Elf("c.elf".to_string()), ..spec.pds[0].clone() });
        assert_eq!(spec.component_names(), ["a"]);
        spec.pds[0].program = ProgramRef::Component("z".to_string());
        assert_eq!(spec.component_names(), ["a", "z"]);
    }

    #[test]
    fn digest_changes_with_the_system() {
        let a = two_pd_spec();
        let mut b = two_pd_spec();
        b.pds[0].priority += 1;
        assert_ne!(a.digest(), b.digest());
        assert_eq!(a.digest(), two_pd_spec().digest());
    }
}
