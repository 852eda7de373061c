//! The contract between the three programs of the seL4 backend: the system initializer (this root
//! task, which lays out every PD), the PD runtime (`runtime/src/sel4`, which relies on that
//! layout) and the `rampart` tool (which writes the system image and reads the console). Compiled
//! into all three by path, so they cannot disagree.
//!
//! These are Rampart's choices, not the kernel's (those are in `abi.rs`).
#![allow(dead_code)]

// --- A PD's CSpace ----------------------------------------------------------------------------
// One CNode of 2^PD_CNODE_BITS slots. The initializer gives the PD's TCB a guard of
// `64 - PD_CNODE_BITS` zero bits on it, so the PD names a slot by its index as a full-depth
// capability pointer.

/// log2 of the slots in a PD's CNode.
pub const PD_CNODE_BITS: u32 = 9;
/// The object the PD waits on: its endpoint when some PD may call it (its notification is bound
/// to its TCB, so notifications arrive there too), else its notification.
pub const SLOT_INPUT: u64 = 1;
/// The monitor's endpoint, badged [`MONITOR_BADGE_FAULT`] | PD index: the PD's fault endpoint.
/// Only the kernel uses it (a PD that sends on it gets no further than a fault would).
pub const SLOT_FAULT: u64 = 2;
/// The monitor's endpoint, badged with the PD index: requests to the monitor ([`MonitorLabel`]).
pub const SLOT_MONITOR: u64 = 3;
/// The PD's own CNode (guarded like its CSpace root), for `CNode_SaveCaller`.
pub const SLOT_CNODE: u64 = 4;
/// Where the runtime saves the reply capability of a call it is serving while it makes a call
/// of its own (the kernel keeps one implicit reply capability per thread).
pub const SLOT_SAVED_REPLY: u64 = 5;
/// `+ id`: for each channel id the PD may notify over, the peer's notification, badged with
/// `1 << peer's id` (the peer's channel id for the same channel).
pub const SLOT_NOTIFY_BASE: u64 = 8;
/// `+ id`: for each channel id the PD may call over, the peer's endpoint, badged with the peer's
/// channel id.
pub const SLOT_CALL_BASE: u64 = 72;
/// `+ id`: an I/O port capability narrowed to the range of `<ioport id=...>`.
pub const SLOT_IOPORT_BASE: u64 = 136;
/// `+ id`: for each `<irq id=...>`, its IRQ handler capability (`IRQHandler_Ack`). The handler
/// signals the PD's notification with badge `1 << id`, so the interrupt arrives as that channel.
pub const SLOT_IRQ_BASE: u64 = 200;

/// Channel ids are 0 to 62 (`rampart_spec::MAX_CHANNEL_ID`): every per-id range fits its base.
const _: () = assert!(SLOT_NOTIFY_BASE + 63 <= SLOT_CALL_BASE && SLOT_CALL_BASE + 63 <= SLOT_IOPORT_BASE);
const _: () = assert!(SLOT_IOPORT_BASE + 63 <= SLOT_IRQ_BASE && SLOT_IRQ_BASE + 63 <= 1 << PD_CNODE_BITS);

// --- Badges -----------------------------------------------------------------------------------

/// Endpoint badges are 28 bits in this kernel (`capEPBadge` in `include/object/structures_64.bf`).
pub const ENDPOINT_BADGE_BITS: u32 = 28;
/// Set in the badge of a PD's fault endpoint capability: the monitor tells faults from requests
/// by it. The low bits are the PD index.
pub const MONITOR_BADGE_FAULT: u64 = 1 << (ENDPOINT_BADGE_BITS - 1);
/// The PD index in a monitor badge.
pub const MONITOR_BADGE_PD_MASK: u64 = 0xff;

/// The badge the monitor signals a PD's notification with when its alarm is due: bit 63, the
/// runtime's `ALARM_ID`, which no channel uses (channel ids are 0 to 62), so only the monitor
/// holds a capability that sets it.
pub const ALARM_BADGE: u64 = 1 << 63;
/// The badge of the monitor's own notification, which its timer interrupt signals.
pub const TIMER_BADGE: u64 = 1;

// --- Messages ---------------------------------------------------------------------------------

/// The seL4 message label of a protected procedure call (and of its reply). The call's Rampart
/// label travels in message register 0 and its words in the registers after it, because seL4
/// labels are only 20 bits.
pub const LABEL_PPC: u64 = 1;

/// The monitor's reply label to `SetAlarm` when a timer PD owns the PIT (alarms then come from
/// that PD, `rampart_runtime::timeout`).
pub const ALARM_REFUSED: u64 = 2;

/// What a PD asks of the monitor: the seL4 message label of a call on [`SLOT_MONITOR`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum MonitorLabel {
    /// `init` returned. No words; the monitor replies at once.
    InitDone = 0x100,
    /// A defmt frame: word 0 is its length in bytes, the bytes follow, packed little-endian.
    /// The monitor prints it as a [`LOG_LINE_PREFIX`] line, or drops and counts it when the PD is
    /// over its log budget (`monitor::LOG_FRAMES_PER_WINDOW_MAX`), and replies.
    Log = 0x101,
    /// End the system: word 0 is the exit status. No reply: QEMU exits. Only a PD with the
    /// `rampart:exit_system` grant may; any other is stopped as a confinement fault.
    Exit = 0x102,
    /// The PD panicked: word 0 is the length of the message in bytes, the UTF-8 bytes follow.
    /// No reply: the PD stays stopped.
    Panic = 0x103,
    /// The PD used a channel it was not given: as `Panic`.
    Violation = 0x104,
    /// Set the PD's alarm: word 0 is the deadline in nanoseconds on the system clock
    /// (`u64::MAX`: cancel). The monitor replies at once and signals [`ALARM_BADGE`] on the
    /// PD's notification once its clock reaches the deadline (at once if it has). When a timer
    /// PD owns the PIT the monitor has no timer and replies with label [`ALARM_REFUSED`].
    SetAlarm = 0x105,
    /// Sent (not called) by the runtime's tombstone (`rampart_sel4_tombstone`), where the monitor
    /// restarts the thread of a PD that stopped: it has answered the call the PD was serving, if
    /// any, with `LABEL_CALL_FAILED`. It then answers every further call the same way until the
    /// monitor rebuilds or holds the PD. No words.
    Tombstone = 0x106,
    /// A parent asks for a pending fault of one of its children (the monitor signals the parent's
    /// notification with [`ALARM_BADGE`] when there is one). Reply: word 0 is 1 if there is one,
    /// then the child's id, the fault kind (`rampart_supervision::FaultKind::code`) and its code
    /// (fault address, ...); 0 if none.
    ChildFault = 0x107,
    /// A parent's decision on a child fault: word 0 the child's id, word 1 the decision
    /// (`rampart_supervision::Decision::code`: 1 restart, 2 hold; the monitor reports and ignores
    /// any other code). The monitor replies at once.
    FaultDecision = 0x108,
}

/// The symbol of the runtime's tombstone in a PD program (see [`MonitorLabel::Tombstone`]).
pub const TOMBSTONE_SYMBOL: &[u8] = b"rampart_sel4_tombstone";

impl MonitorLabel {
    pub fn from_label(label: u64) -> Option<MonitorLabel> {
        Some(match label {
            0x100 => MonitorLabel::InitDone,
            0x101 => MonitorLabel::Log,
            0x102 => MonitorLabel::Exit,
            0x103 => MonitorLabel::Panic,
            0x104 => MonitorLabel::Violation,
            0x105 => MonitorLabel::SetAlarm,
            0x106 => MonitorLabel::Tombstone,
            0x107 => MonitorLabel::ChildFault,
            0x108 => MonitorLabel::FaultDecision,
            _ => return None,
        })
    }
}

/// Most bytes of text or of a log frame in one message to the monitor: the message registers
/// after the length word (120 words in all, `abi::MSG_MAX_LENGTH`).
pub const MONITOR_BYTES_MAX: usize = (120 - 1) * 8;

// --- A PD's virtual address space -------------------------------------------------------------
// From `rampart_spec::Arch::stack_top` up: a guard page, the IPC buffer, two unmapped pages. The
// stack lies below `stack_top`, with an unmapped guard page below it. The program's segments are
// where its ELF file says (non-PIE, from 0x400000); regions where system.xml says.

/// The IPC buffer frame of a PD whose stack ends at `stack_top`.
pub const fn ipc_buffer_vaddr(stack_top: u64) -> u64 {
    stack_top + 0x1000
}

/// Byte offset of the [`PdInfo`] the initializer writes into the PD's IPC buffer frame, past the
/// part the kernel uses (`abi::IPC_BUFFER_BYTES`, checked against the kernel's headers).
pub const PD_INFO_OFFSET: usize = 2048;
/// [`PdInfo::magic`].
pub const PD_INFO_MAGIC: u64 = u64::from_le_bytes(*b"RMPPDINF");
/// Longest PD name (`rampart_spec::MAX_NAME_BYTES`).
pub const PD_NAME_BYTES_MAX: usize = 64;

/// What a PD learns about itself at start-up, read from its IPC buffer frame at
/// [`PD_INFO_OFFSET`]: [`PD_INFO_BYTES`] bytes, little-endian words in field order, then the name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PdInfo {
    /// Index of the PD in the system spec (and in its log lines).
    pub pd_index: u64,
    /// TSC frequency in MHz, as the kernel measured it at boot (0: unknown).
    pub tsc_mhz: u64,
    /// The TSC when the root task started: the origin of `clock::now_ns` in every PD.
    pub clock_origin_tsc: u64,
    /// Bit `id` set: the PD may notify over channel `id`.
    pub may_notify: u64,
    /// Bit `id` set: the PD may call over channel `id`.
    pub may_call: u64,
    /// Whether some PD may call this one: it then waits on its endpoint, not its notification.
    pub serves_calls: bool,
    pub name_len: u8,
    pub name: [u8; PD_NAME_BYTES_MAX],
}

/// Bytes of an encoded [`PdInfo`]: the magic and seven words, then the name.
pub const PD_INFO_BYTES: usize = 8 * 8 + PD_NAME_BYTES_MAX;
const _: () = assert!(PD_INFO_OFFSET >= 1024 && PD_INFO_OFFSET + PD_INFO_BYTES <= 4096);

impl PdInfo {
    pub fn encode(&self) -> [u8; PD_INFO_BYTES] {
        let mut out = [0u8; PD_INFO_BYTES];
        let words = [
            PD_INFO_MAGIC,
            self.pd_index,
            self.tsc_mhz,
            self.clock_origin_tsc,
            self.may_notify,
            self.may_call,
            u64::from(self.serves_calls),
            u64::from(self.name_len),
        ];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        out[64..].copy_from_slice(&self.name);
        out
    }

    /// `None` unless `bytes` is an encoded `PdInfo` (magic, lengths in range).
    pub fn decode(bytes: &[u8; PD_INFO_BYTES]) -> Option<PdInfo> {
        let w = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        if w(0) != PD_INFO_MAGIC || w(6) > 1 || w(7) > PD_NAME_BYTES_MAX as u64 {
            return None;
        }
        let mut name = [0u8; PD_NAME_BYTES_MAX];
        name.copy_from_slice(&bytes[64..]);
        Some(PdInfo {
            pd_index: w(1),
            tsc_mhz: w(2),
            clock_origin_tsc: w(3),
            may_notify: w(4),
            may_call: w(5),
            serves_calls: w(6) == 1,
            name_len: w(7) as u8,
            name,
        })
    }

    /// The PD's name (as much of it as is UTF-8).
    pub fn name(&self) -> &str {
        let bytes = &self.name[..usize::from(self.name_len).min(PD_NAME_BYTES_MAX)];
        match core::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
        }
    }
}

// --- The console ------------------------------------------------------------------------------

/// The root task's first line: its proof of life on the console.
pub const ROOT_TASK_BANNER: &str = "rampart: seL4 root task up";
/// A PD's defmt frame on the console: this prefix, the PD index in decimal, a space, the frame's
/// bytes in lowercase hexadecimal. The monitor prints one whole line at a time (it runs above
/// every PD), so lines never interleave; the tool decodes them with the PD's ELF file.
pub const LOG_LINE_PREFIX: &str = "rampart-log ";
/// The monitor's line once every PD's `init` has returned.
pub const ALL_INIT_DONE_LINE: &str = "rampart: every PD has finished init";

// --- The system image -------------------------------------------------------------------------
// What the tool embeds in the root task (`runtime/sel4-root/build.rs`): a header, the encoded
// `SystemSpec`, and each distinct program ELF once. All integers little-endian.
//
//   magic (8 bytes) | spec offset u32 | spec length u32 | program count u32 | PD count u32
//   | flags u32 | per PD: program index u32 | per program: offset u32, length u32 | ... data ...

/// The first bytes of a system image.
pub const IMAGE_MAGIC: [u8; 8] = *b"RMPIMG\x00\x02";
/// Bytes of the fixed part of the header.
pub const IMAGE_HEADER_BYTES: usize = 28;
/// [`SystemImage::flags`]: hold a top-level PD that stops (`rampart run --restart hold`); without
/// it the monitor restarts it (within the rate limit of `rampart_supervision::RESTARTS_MAX`).
pub const IMAGE_FLAG_HOLD: u32 = 1;
/// Largest system image the tool writes (and the root task accepts).
pub const IMAGE_BYTES_MAX: usize = 64 << 20;

/// A parsed system image: borrowed slices of the embedded bytes.
pub struct SystemImage<'a> {
    pub spec: &'a [u8],
    /// Program index of each PD, in spec order.
    pd_programs: &'a [u8],
    bytes: &'a [u8],
    programs_at: usize,
    pub program_count: usize,
    /// `IMAGE_FLAG_*` bits.
    pub flags: u32,
}

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

impl<'a> SystemImage<'a> {
    /// Parse a system image; `None` when the bytes are not one (every offset is checked).
    pub fn parse(bytes: &'a [u8]) -> Option<SystemImage<'a>> {
        if bytes.len() > IMAGE_BYTES_MAX || bytes.get(..8)? != IMAGE_MAGIC {
            return None;
        }
        let spec_at = u32_at(bytes, 8)? as usize;
        let spec_len = u32_at(bytes, 12)? as usize;
        let program_count = u32_at(bytes, 16)? as usize;
        let pd_count = u32_at(bytes, 20)? as usize;
        let flags = u32_at(bytes, 24)?;
        let h = IMAGE_HEADER_BYTES;
        let pd_programs = bytes.get(h..h + pd_count.checked_mul(4)?)?;
        let programs_at = h + pd_count * 4;
        bytes.get(programs_at..programs_at.checked_add(program_count.checked_mul(8)?)?)?;
        let spec = bytes.get(spec_at..spec_at.checked_add(spec_len)?)?;
        let image = SystemImage { spec, pd_programs, bytes, programs_at, program_count, flags };
        for pd in 0..pd_count {
            image.program_of(pd)?;
        }
        Some(image)
    }

    pub fn pd_count(&self) -> usize {
        self.pd_programs.len() / 4
    }

    /// The program (ELF file) of PD `pd`.
    pub fn program_of(&self, pd: usize) -> Option<&'a [u8]> {
        let index = u32_at(self.pd_programs, pd.checked_mul(4)?)? as usize;
        if index >= self.program_count {
            return None;
        }
        let at = u32_at(self.bytes, self.programs_at + index * 8)? as usize;
        let len = u32_at(self.bytes, self.programs_at + index * 8 + 4)? as usize;
        self.bytes.get(at..at.checked_add(len)?)
    }
}

// --- What the seL4 backend cannot build yet ----------------------------------------------------

/// A feature of a valid system that this initializer does not implement yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    PhysAddrSetvars,
    LongName,
    Prefill,
}

impl Unsupported {
    /// What it is, after the PD's or region's name.
    pub fn describe(self) -> &'static str {
        match self {
            Unsupported::PhysAddrSetvars => {
                "asks for physical addresses to be patched into its program (<setvar region_paddr>): the seL4 backend does not patch programs yet"
            }
            Unsupported::LongName => "has a name longer than 64 bytes",
            Unsupported::Prefill => "is prefilled from a file: the seL4 backend does not prefill regions yet",
        }
    }

    /// Whether the name it comes with is a PD's (else a memory region's).
    pub fn of_pd(self) -> bool {
        matches!(self, Unsupported::PhysAddrSetvars | Unsupported::LongName)
    }
}

/// The first feature of `spec` the seL4 backend cannot build yet, with the name of the PD or
/// memory region that has it. The tool refuses such systems before building; the initializer
/// checks again.
pub fn unsupported(spec: &rampart_spec::SystemSpec) -> Option<(Unsupported, &str)> {
    for pd in &spec.pds {
        if !pd.setvars.is_empty() {
            return Some((Unsupported::PhysAddrSetvars, &pd.name));
        }
        if pd.name.len() > PD_NAME_BYTES_MAX {
            return Some((Unsupported::LongName, &pd.name));
        }
    }
    for r in &spec.regions {
        if r.prefill.is_some() {
            return Some((Unsupported::Prefill, &r.name));
        }
    }
    None
}
