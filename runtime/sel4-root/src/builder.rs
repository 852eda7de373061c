//! The system initializer: turns the decoded [`SystemSpec`] and the embedded program ELF files
//! into running protection domains.
//!
//! For every PD, from the boot information's untyped memory: a CNode (its CSpace, laid out as
//! `layout.rs` says), a PML4 with the paging structures its mappings need (its VSpace), a TCB, a
//! notification (one badge bit per channel id) and, when some PD may call it, an endpoint; frames
//! for its program's `PT_LOAD` segments (filled through a temporary mapping in the root task's
//! own VSpace), its stack and its IPC buffer (which also carries its [`PdInfo`]); and the frames
//! of every memory region it maps, at the declared address with the declared rights (a region
//! mapped by several PDs is the same frames, each mapping through its own copy of the frame
//! capabilities). Then it gives each PD exactly the capabilities its channels entitle it to
//! (signal-only notification capabilities badged with the peer's channel bit; call capabilities
//! to the callee's endpoint badged with the callee's channel id), points its fault endpoint at the
//! monitor, binds its notification, sets its priority and starts it.
//!
//! Untyped memory is accounted exactly as the kernel places objects (each aligned to its size
//! above the untyped's watermark), so running out is found before the kernel refuses, and is
//! reported naming the PD and the object. Every failure is an error message; nothing panics.

use crate::abi;
use crate::arch::Timer;
use crate::arch::{self, PageSize};
use crate::elf::Program;
use crate::layout::{self, PdInfo};
use crate::sys::{self, BootInfo, ScratchMapping, FRAME_BYTES};
use crate::syscalls::{CPtr, IpcBuffer};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use rampart_spec::{PdSpec, SystemSpec};

/// Capability pointers in the root CNode are resolved at full depth.
const ROOT_DEPTH: u8 = abi::WORD_BITS as u8;
/// Depth of a slot index in a PD's CNode, named through the root CNode's capability to it
/// (which has no guard).
const PD_CNODE_DEPTH: u8 = layout::PD_CNODE_BITS as u8;
const PAGE_BYTES: u64 = PageSize::Small.bytes();

/// One untyped capability and how much of it is used.
struct Untyped {
    cap: CPtr,
    size_bits: u32,
    used_bytes: u64,
}

/// One device untyped capability: memory-mapped device registers at fixed physical addresses.
/// Frames come out of it only at its watermark, which only moves up (see [`Builder::device_frame`]).
struct DeviceUntyped {
    cap: CPtr,
    paddr: u64,
    size_bits: u32,
    used_bytes: u64,
}

impl DeviceUntyped {
    fn end(&self) -> u64 {
        self.paddr.saturating_add(1u64 << self.size_bits)
    }
}

/// The boot information's untyped memory, with the kernel's placement rule: the RAM untypeds
/// every object comes from, and the device untypeds that device regions' frames come from.
pub struct Memory {
    untypeds: Vec<Untyped>,
    devices: Vec<DeviceUntyped>,
    /// The physical ranges of the RAM untypeds, `[start, end)`: a device region must not overlap them.
    ram: Vec<(u64, u64)>,
}

impl Memory {
    pub fn from_bootinfo(bi: &BootInfo) -> Memory {
        let mut untypeds = Vec::new();
        let mut devices = Vec::new();
        let mut ram = Vec::new();
        let mut i = 0;
        while let Some(d) = bi.untyped_desc(i) {
            i += 1;
            let size_bits = u32::from(d.size_bits);
            if size_bits >= 64 {
                continue;
            }
            if d.is_device {
                devices.push(DeviceUntyped { cap: d.cap, paddr: d.paddr, size_bits, used_bytes: 0 });
            } else {
                untypeds.push(Untyped { cap: d.cap, size_bits, used_bytes: 0 });
                ram.push((d.paddr, d.paddr.saturating_add(1u64 << size_bits)));
            }
        }
        // Smallest first: small objects fill small untypeds and leave the large ones whole for
        // large frames.
        untypeds.sort_by_key(|u| u.size_bits);
        Memory { untypeds, devices, ram }
    }

    pub fn total_bytes(&self) -> u64 {
        self.untypeds.iter().map(|u| 1u64 << u.size_bits).sum()
    }

    pub fn used_bytes(&self) -> u64 {
        self.untypeds.iter().map(|u| u.used_bytes).sum()
    }

    /// An untyped with room for an object of `2^bits` bytes, which is then counted as used. The
    /// kernel places the object at the untyped's watermark aligned up to its size.
    fn take(&mut self, bits: u32) -> Option<CPtr> {
        let size = 1u64 << bits;
        for u in &mut self.untypeds {
            if bits > u.size_bits {
                continue;
            }
            let at = u.used_bytes.div_ceil(size) * size;
            if at + size <= 1u64 << u.size_bits {
                u.used_bytes = at + size;
                return Some(u.cap);
            }
        }
        None
    }
}

/// What the monitor needs to know about a running PD.
pub struct Pd {
    pub name: String,
    pub tcb: CPtr,
    /// The PD's notification, badged [`layout::ALARM_BADGE`], signal only: its alarm.
    pub alarm: CPtr,
    /// The lowest address of its stack (the page below is an unmapped guard).
    pub stack_bottom: u64,
    /// Untyped memory its objects took, in bytes, and how many frames it has.
    pub memory_bytes: u64,
    pub frames: usize,
}

/// The system, built and started.
pub struct System {
    pub pds: Vec<Pd>,
    pub monitor_endpoint: CPtr,
    /// The monitor's timer ([`arch::Timer`], the PIT on x86_64), whose interrupt signals the
    /// monitor's notification (bound to the monitor), unless a PD owns the timer device (a timer
    /// PD): then `None`, and `timer_owner` names that PD.
    pub timer: Option<Timer>,
    pub timer_owner: Option<String>,
    pub memory_used_bytes: u64,
    pub memory_total_bytes: u64,
    pub slots_used: u64,
}

/// The kernel objects of one PD, before they are connected.
struct PdObjects {
    vroot: CPtr,
    cnode: CPtr,
    tcb: CPtr,
    notification: CPtr,
    endpoint: Option<CPtr>,
    ipc_frame: CPtr,
    entry: u64,
    stack_bottom: u64,
    memory_bytes: u64,
    frames: usize,
    /// Root CNode slots its objects took.
    slots: u64,
}

/// Where every life of a PD after its first is built: one untyped object and one range of root
/// CNode slots of its own, sized from the first life (memory doubled for alignment). Before a
/// life is built there, the previous one is revoked: `CNode_Revoke` on the untyped destroys every
/// object retyped from it (TCB, VSpace, CSpace, frames, paging structures) and the untyped's
/// next retype starts again from its beginning; the range's slots, which may also hold copies of
/// shared frames and IRQ handlers, are emptied. So restarts cost memory once, not every time.
struct Arena {
    untyped: CPtr,
    size_bits: u32,
    used_bytes: u64,
    slots: core::ops::Range<u64>,
    next_slot: u64,
    /// Whether a life lives in it now (to revoke before the next).
    occupied: bool,
}

/// Builds a system. Owns the root task's IPC buffer, its free slots and the untyped memory.
pub struct Builder {
    ipc: IpcBuffer,
    mem: Memory,
    first_slot: u64,
    next_slot: u64,
    end_slot: u64,
    /// Paging structures made so far: (VSpace, level, index of the region it covers).
    tables: Vec<(CPtr, u8, u64)>,
    tsc_mhz: u64,
    clock_origin_tsc: u64,
    /// What a restart needs: each PD's objects, each region's frames, the monitor's endpoint.
    objects: Vec<PdObjects>,
    region_frames: Vec<Vec<CPtr>>,
    monitor_endpoint: CPtr,
    /// Each PD's IRQ handler capabilities (in the root CNode), by IRQ id: made once, copied into
    /// every life's CSpace.
    irq_handlers: Vec<Vec<(u8, CPtr)>>,
    /// Each PD's restart arena, made at its first restart.
    arenas: Vec<Option<Arena>>,
    /// The PD whose arena `create` and `slot` take from, while one is being rebuilt.
    building_in: Option<usize>,
}

/// A PD built again by [`Builder::rebuild`].
pub struct Rebuilt {
    pub tcb: CPtr,
    pub stack_bottom: u64,
    pub memory_bytes: u64,
    pub frames: usize,
}

impl Builder {
    /// A builder over the boot information's untyped memory and the empty slots `slots`.
    pub fn new(bi: &BootInfo, slots: core::ops::Range<u64>, clock_origin_tsc: u64) -> Builder {
        Builder {
            ipc: bi.ipc_buffer(),
            mem: Memory::from_bootinfo(bi),
            first_slot: slots.start,
            next_slot: slots.start,
            end_slot: slots.end,
            tables: Vec::new(),
            tsc_mhz: bi.tsc_mhz(),
            clock_origin_tsc,
            objects: Vec::new(),
            region_frames: Vec::new(),
            monitor_endpoint: 0,
            irq_handlers: Vec::new(),
            arenas: Vec::new(),
            building_in: None,
        }
    }

    pub fn memory_used_bytes(&self) -> u64 {
        self.mem.used_bytes()
    }

    pub fn slots_used(&self) -> u64 {
        self.next_slot - self.first_slot
    }

    /// Build PD `index` again from its pristine `program`, into fresh frames and a fresh VSpace,
    /// CSpace and TCB, and start it. Its notification and endpoint stay (its peers' capabilities
    /// name them; calls queued on the endpoint go to the new life); its memory regions keep
    /// their frames. The old life is destroyed first (which stops its thread for good and gives
    /// back its ASID). Every life after the first is built in the PD's [`Arena`], made at the
    /// first restart; the first life's memory, taken from the shared pool among other PDs'
    /// objects, cannot be revoked alone and is abandoned once. Running out is an error naming
    /// the PD.
    pub fn rebuild(&mut self, spec: &SystemSpec, index: usize, program: &[u8]) -> Result<Rebuilt, String> {
        let pd = &spec.pds[index];
        let who = format!("PD `{}`", pd.name);
        let old = (self.objects[index].tcb, self.objects[index].vroot);
        let keep = (self.objects[index].notification, self.objects[index].endpoint);
        if self.arenas.len() < spec.pds.len() {
            self.arenas.resize_with(spec.pds.len(), || None);
        }
        // Destroy the old life.
        self.tables.retain(|t| t.0 != old.1);
        match &mut self.arenas[index] {
            Some(arena) if arena.occupied => {
                sys::cnode_revoke(&self.ipc, abi::CAP_INIT_THREAD_CNODE, arena.untyped, ROOT_DEPTH)
                    .map_err(|e| format!("revoking the old life of {who} failed: seL4 error {e}"))?;
                for slot in arena.slots.clone() {
                    sys::cnode_delete(&self.ipc, abi::CAP_INIT_THREAD_CNODE, slot, ROOT_DEPTH)
                        .map_err(|e| format!("emptying the slots of the old life of {who} failed: seL4 error {e}"))?;
                }
                arena.used_bytes = 0;
                arena.next_slot = arena.slots.start;
                arena.occupied = false;
            }
            _ => {
                for cap in [old.0, old.1] {
                    sys::cnode_delete(&self.ipc, abi::CAP_INIT_THREAD_CNODE, cap, ROOT_DEPTH)
                        .map_err(|e| format!("deleting the old objects of {who} failed: seL4 error {e}"))?;
                }
            }
        }
        if self.arenas[index].is_none() {
            let first = &self.objects[index];
            // Twice the first life's memory, a power of two (retypes align objects to their size).
            let size_bits = (first.memory_bytes.max(PAGE_BYTES) * 2).next_power_of_two().trailing_zeros();
            let slots_count = first.slots;
            let what = format!("the restart arena of {who} ({} KiB)", (1u64 << size_bits) / 1024);
            let untyped = self.create(abi::OBJ_UNTYPED, size_bits, size_bits.into(), &what)?;
            let start = self.next_slot;
            for _ in 0..slots_count {
                self.slot(&what)?;
            }
            self.arenas[index] = Some(Arena { untyped, size_bits, used_bytes: 0, slots: start..self.next_slot, next_slot: start, occupied: false });
        }

        self.building_in = Some(index);
        let mut region_frames = core::mem::take(&mut self.region_frames);
        let created = self.create_pd(spec, index, pd, program, &mut region_frames, Some(keep));
        self.region_frames = region_frames;
        self.building_in = None;
        let arena = self.arenas[index].as_mut().expect("made above");
        arena.occupied = true;
        let mut o = created?;
        o.memory_bytes = arena.used_bytes;
        o.slots = arena.next_slot - arena.slots.start;
        let rebuilt = Rebuilt { tcb: o.tcb, stack_bottom: o.stack_bottom, memory_bytes: o.memory_bytes, frames: o.frames };
        self.objects[index] = o;
        let objects = core::mem::take(&mut self.objects);
        let connected = self.connect(spec, index, pd, &objects, self.monitor_endpoint);
        self.objects = objects;
        connected?;
        sys::tcb_resume(&self.ipc, rebuilt.tcb).map_err(|e| format!("starting {who} again failed: seL4 error {e}"))?;
        Ok(rebuilt)
    }

    fn slot(&mut self, what: &str) -> Result<CPtr, String> {
        if let Some(arena) = self.building_in.and_then(|i| self.arenas[i].as_mut()) {
            if arena.next_slot >= arena.slots.end {
                return Err(format!(
                    "out of restart arena slots creating {what} ({} slots, as many as the first life took)",
                    arena.slots.end - arena.slots.start
                ));
            }
            arena.next_slot += 1;
            return Ok(arena.next_slot - 1);
        }
        if self.next_slot >= self.end_slot {
            return Err(format!(
                "out of root CNode slots creating {what} ({} slots used, {}..{})",
                self.next_slot - self.first_slot,
                self.first_slot,
                self.end_slot
            ));
        }
        self.next_slot += 1;
        Ok(self.next_slot - 1)
    }

    /// Retype one object of `object_type` (`2^bits` bytes; `size_arg` for variable-sized ones)
    /// into a fresh root slot.
    fn create(&mut self, object_type: u64, bits: u32, size_arg: u64, what: &str) -> Result<CPtr, String> {
        if let Some(arena) = self.building_in.and_then(|i| self.arenas[i].as_mut()) {
            let size = 1u64 << bits;
            let at = arena.used_bytes.div_ceil(size) * size;
            if at + size > 1u64 << arena.size_bits {
                return Err(format!(
                    "out of restart arena memory creating {what}: {} of {} bytes in use, {size} more needed",
                    arena.used_bytes,
                    1u64 << arena.size_bits
                ));
            }
            arena.used_bytes = at + size;
            let untyped = arena.untyped;
            let slot = self.slot(what)?;
            sys::untyped_retype(&self.ipc, untyped, object_type, size_arg, abi::CAP_INIT_THREAD_CNODE, 0, 0, slot, 1)
                .map_err(|e| format!("Untyped_Retype of {what} failed: seL4 error {e}"))?;
            return Ok(slot);
        }
        let Some(untyped) = self.mem.take(bits) else {
            return Err(format!(
                "out of untyped memory creating {what}: it needs {} bytes in one piece; {} of {} bytes are in use",
                1u64 << bits,
                self.mem.used_bytes(),
                self.mem.total_bytes()
            ));
        };
        let slot = self.slot(what)?;
        sys::untyped_retype(&self.ipc, untyped, object_type, size_arg, abi::CAP_INIT_THREAD_CNODE, 0, 0, slot, 1)
            .map_err(|e| format!("Untyped_Retype of {what} failed: seL4 error {e}"))?;
        Ok(slot)
    }

    /// A second capability to the object of `cap` (a frame mapped twice needs two).
    fn copy(&mut self, cap: CPtr, what: &str) -> Result<CPtr, String> {
        let slot = self.slot(what)?;
        sys::cnode_copy(&self.ipc, abi::CAP_INIT_THREAD_CNODE, slot, ROOT_DEPTH, abi::CAP_INIT_THREAD_CNODE, cap, ROOT_DEPTH, abi::CAP_RIGHTS_ALL)
            .map_err(|e| format!("CNode_Copy for {what} failed: seL4 error {e}"))?;
        Ok(slot)
    }

    /// Make sure the paging structures that a mapping of a `size` frame at `vaddr` needs exist in
    /// `vroot`: every level of [`arch::PAGING_LEVELS`] that covers more than the frame.
    fn ensure_tables(&mut self, vroot: CPtr, vaddr: u64, size: PageSize, who: &str) -> Result<(), String> {
        for level in arch::PAGING_LEVELS {
            if !level.needed_for(size) {
                break;
            }
            let key = (vroot, level.level, vaddr >> level.shift);
            if self.tables.contains(&key) {
                continue;
            }
            let what = format!("a paging structure of {who} (for {:#x})", vaddr);
            let table = self.create(level.object.object_type, level.object.size_bits, 0, &what)?;
            let base = (vaddr >> level.shift) << level.shift;
            match arch::map_table(&self.ipc, level, table, vroot, base) {
                // DeleteFirst: the kernel made this one at boot (the root task's own VSpace).
                Ok(()) | Err(abi::ERROR_DELETE_FIRST) => self.tables.push(key),
                Err(e) => return Err(format!("mapping {what} failed: seL4 error {e}")),
            }
        }
        Ok(())
    }

    /// Map `frame` (of `size`) at `vaddr` in `vroot`.
    #[allow(clippy::too_many_arguments)]
    fn map(&mut self, vroot: CPtr, frame: CPtr, vaddr: u64, size: PageSize, write: bool, cached: bool, who: &str) -> Result<(), String> {
        self.ensure_tables(vroot, vaddr, size, who)?;
        let rights = if write { abi::CAP_RIGHTS_READ | abi::CAP_RIGHTS_WRITE } else { abi::CAP_RIGHTS_READ };
        arch::map_frame(&self.ipc, frame, vroot, vaddr, rights, cached).map_err(|e| format!("mapping a frame of {who} at {vaddr:#x} failed: seL4 error {e}"))
    }

    /// A fresh 4 KiB frame, filled by `fill` through the scratch mapping (not mapped at all when
    /// `fill` is `None`: new frames are zero).
    fn frame(&mut self, what: &str, fill: Option<&dyn Fn(&mut ScratchMapping)>) -> Result<CPtr, String> {
        let kind = arch::frame_object(PageSize::Small);
        let frame = self.create(kind.object_type, kind.size_bits, 0, what)?;
        if let Some(fill) = fill {
            let mut scratch = ScratchMapping::map(&mut self.ipc, frame).map_err(|e| format!("mapping {what} into the root task failed: seL4 error {e}"))?;
            fill(&mut scratch);
        }
        Ok(frame)
    }

    /// The frame of `size` at physical address `paddr`, for memory region `name`, out of the
    /// device untyped that covers it. The kernel places a retyped object at the untyped's
    /// watermark aligned up to the object's size, so the watermark is first advanced to `paddr`
    /// with filler untyped objects (each as large as the watermark's alignment and the gap
    /// allow); it only moves up, so a frame below the watermark is refused (callers go in
    /// ascending address order). Memory that is RAM, or that no device untyped covers (the
    /// kernel keeps it), is refused naming the region and the address.
    fn device_frame(&mut self, name: &str, paddr: u64, size: PageSize) -> Result<CPtr, String> {
        let end = paddr.saturating_add(size.bytes());
        let what = format!("memory region `{name}` at physical address {paddr:#x}");
        if let Some(&(s, e)) = self.mem.ram.iter().find(|&&(s, e)| paddr < e && s < end) {
            return Err(format!(
                "{what} is RAM (the kernel gives [{s:#x}, {e:#x}) out as ordinary untyped memory), not device memory: phys_addr must name device registers"
            ));
        }
        let Some(index) = self.mem.devices.iter().position(|d| d.paddr <= paddr && end <= d.end()) else {
            return Err(format!(
                "{what}: no device untyped memory covers [{paddr:#x}, {end:#x}) (the kernel keeps it for itself, or it is outside the physical address space)"
            ));
        };
        let (cap, base, used) = {
            let d = &self.mem.devices[index];
            (d.cap, d.paddr, d.used_bytes)
        };
        let target = paddr - base;
        if target < used {
            return Err(format!(
                "{what}: the device memory up to {:#x} is already handed out (device frames are made in ascending address order)",
                base + used
            ));
        }
        let mut at = used;
        while at < target {
            // The largest filler that starts at the watermark without crossing the target.
            let align_bits = if at == 0 { 63 } else { at.trailing_zeros() };
            let gap_bits = 63 - (target - at).leading_zeros();
            let bits = align_bits.min(gap_bits);
            let slot = self.slot(&format!("device memory below {what}"))?;
            sys::untyped_retype(&self.ipc, cap, abi::OBJ_UNTYPED, bits.into(), abi::CAP_INIT_THREAD_CNODE, 0, 0, slot, 1)
                .map_err(|e| format!("Untyped_Retype of the device memory at {:#x} below {what} failed: seL4 error {e}", base + at))?;
            at += 1u64 << bits;
        }
        let kind = arch::frame_object(size);
        let slot = self.slot(&what)?;
        sys::untyped_retype(&self.ipc, cap, kind.object_type, 0, abi::CAP_INIT_THREAD_CNODE, 0, 0, slot, 1)
            .map_err(|e| format!("Untyped_Retype of the frame of {what} failed: seL4 error {e}"))?;
        self.mem.devices[index].used_bytes = target + size.bytes();
        Ok(slot)
    }

    /// Build and start every PD of `spec`. `program_of(i)` is PD `i`'s ELF file.
    pub fn build<'p>(&mut self, spec: &SystemSpec, program_of: &dyn Fn(usize) -> Option<&'p [u8]>) -> Result<System, String> {
        if spec.arch != arch::SPEC_ARCH {
            return Err(format!("this root task builds {} systems, not {}", arch::SPEC_ARCH.name(), spec.arch.name()));
        }
        if let Some((what, name)) = layout::unsupported(spec) {
            let kind = if what.of_pd() { "PD" } else { "memory region" };
            return Err(format!("{kind} `{name}` {}", what.describe()));
        }
        let monitor_endpoint = self.create(abi::OBJ_ENDPOINT, abi::ENDPOINT_BITS, 0, "the monitor's endpoint")?;
        let timer_owner = arch::timer_owner(spec).map(String::from);
        let timer = if timer_owner.is_none() { Some(self.timer()?) } else { None };
        self.ensure_tables(abi::CAP_INIT_THREAD_VSPACE, arch::SCRATCH_VADDR, PageSize::Small, "the root task's scratch mapping")?;

        // Regions: the frames of each region that some PD maps, made once.
        let mut region_frames: Vec<Vec<CPtr>> = vec![Vec::new(); spec.regions.len()];
        for (r, region) in spec.regions.iter().enumerate() {
            if !spec.pds.iter().any(|p| p.maps.iter().any(|m| usize::from(m.region) == r)) {
                continue;
            }
            let size = page_size_of(region)?;
            let kind = arch::frame_object(size);
            let count = region.size_bytes / region.page_size_bytes;
            if region.phys_addr.is_some() {
                // Device memory: made below, in ascending address order.
                region_frames[r] = vec![0; count as usize];
                continue;
            }
            for k in 0..count {
                let what = format!("frame {k} of memory region `{}`", region.name);
                region_frames[r].push(self.create(kind.object_type, kind.size_bits, 0, &what)?);
            }
        }
        // Device regions' frames, at their physical addresses: every frame of every such region,
        // lowest address first, because an untyped's watermark only moves up (the checker has
        // refused overlapping regions).
        let mut device_pages: Vec<(u64, usize, usize)> = Vec::new();
        for (r, region) in spec.regions.iter().enumerate() {
            if let (Some(phys), false) = (region.phys_addr, region_frames[r].is_empty()) {
                for k in 0..region_frames[r].len() {
                    device_pages.push((phys + k as u64 * region.page_size_bytes, r, k));
                }
            }
        }
        device_pages.sort_unstable();
        for (paddr, r, k) in device_pages {
            let region = &spec.regions[r];
            region_frames[r][k] = self.device_frame(&region.name, paddr, page_size_of(region)?)?;
        }

        let mut objects = Vec::new();
        for (i, pd) in spec.pds.iter().enumerate() {
            let program = program_of(i).ok_or_else(|| format!("the system image has no program for PD `{}`", pd.name))?;
            let before = self.mem.used_bytes();
            let slots_before = self.next_slot;
            let mut o = self.create_pd(spec, i, pd, program, &mut region_frames, None)?;
            o.memory_bytes = self.mem.used_bytes() - before;
            o.slots = self.next_slot - slots_before;
            objects.push(o);
        }

        // Interrupts: a handler per <irq>, signalling the PD's notification with its id's bit.
        let mut irq_handlers = Vec::new();
        for (pd, o) in spec.pds.iter().zip(&objects) {
            irq_handlers.push(self.irq_handlers_of(pd, o.notification)?);
        }
        self.irq_handlers = irq_handlers;

        for (i, pd) in spec.pds.iter().enumerate() {
            self.connect(spec, i, pd, &objects, monitor_endpoint)?;
        }

        let mut pds = Vec::new();
        for (pd, o) in spec.pds.iter().zip(&objects) {
            let what = format!("the alarm capability of PD `{}`", pd.name);
            let alarm = self.slot(&what)?;
            sys::cnode_mint(
                &self.ipc,
                abi::CAP_INIT_THREAD_CNODE,
                alarm,
                ROOT_DEPTH,
                abi::CAP_INIT_THREAD_CNODE,
                o.notification,
                ROOT_DEPTH,
                abi::CAP_RIGHTS_WRITE,
                layout::ALARM_BADGE,
            )
            .map_err(|e| format!("minting {what} failed: seL4 error {e}"))?;
            pds.push(Pd { name: pd.name.clone(), tcb: o.tcb, alarm, stack_bottom: o.stack_bottom, memory_bytes: o.memory_bytes, frames: o.frames });
        }
        for (pd, o) in spec.pds.iter().zip(&objects) {
            sys::tcb_resume(&self.ipc, o.tcb).map_err(|e| format!("starting PD `{}` failed: seL4 error {e}", pd.name))?;
        }
        self.objects = objects;
        self.region_frames = region_frames;
        self.monitor_endpoint = monitor_endpoint;
        Ok(System {
            pds,
            monitor_endpoint,
            timer,
            timer_owner,
            memory_used_bytes: self.mem.used_bytes(),
            memory_total_bytes: self.mem.total_bytes(),
            slots_used: self.next_slot - self.first_slot,
        })
    }

    /// The monitor's timer ([`arch::make_timer`]): its interrupt signals a notification bound to
    /// the root task's thread.
    fn timer(&mut self) -> Result<Timer, String> {
        let notification = self.create(abi::OBJ_NOTIFICATION, abi::NOTIFICATION_BITS, 0, "the monitor's notification")?;
        sys::tcb_bind_notification(&self.ipc, abi::CAP_INIT_THREAD_TCB, notification)
            .map_err(|e| format!("binding the monitor's notification failed: seL4 error {e}"))?;
        let badged = self.slot("the timer's notification capability")?;
        sys::cnode_mint(
            &self.ipc,
            abi::CAP_INIT_THREAD_CNODE,
            badged,
            ROOT_DEPTH,
            abi::CAP_INIT_THREAD_CNODE,
            notification,
            ROOT_DEPTH,
            abi::CAP_RIGHTS_WRITE,
            layout::TIMER_BADGE,
        )
        .map_err(|e| format!("minting the timer's notification capability failed: seL4 error {e}"))?;
        let ipc = self.ipc;
        arch::make_timer(&ipc, badged, &mut |what| self.slot(what))
    }

    /// The IRQ handler capabilities of `pd`'s `<irq>`s, each from [`arch::irq_handler`] and bound
    /// to a capability to `notification` badged with the IRQ's id bit. They live in the root
    /// CNode (a restarted PD gets copies again; the kernel issues a handler only once).
    fn irq_handlers_of(&mut self, pd: &PdSpec, notification: CPtr) -> Result<Vec<(u8, CPtr)>, String> {
        let mut handlers = Vec::new();
        for irq in &pd.irqs {
            let what = format!("IRQ {} ({}) of PD `{}`", irq.id, arch::describe_irq(&irq.source), pd.name);
            let badged = self.slot(&what)?;
            sys::cnode_mint(
                &self.ipc,
                abi::CAP_INIT_THREAD_CNODE,
                badged,
                ROOT_DEPTH,
                abi::CAP_INIT_THREAD_CNODE,
                notification,
                ROOT_DEPTH,
                abi::CAP_RIGHTS_WRITE,
                1 << irq.id,
            )
            .map_err(|e| format!("minting the notification capability for {what} failed: seL4 error {e}"))?;
            let handler = self.slot(&what)?;
            arch::irq_handler(&self.ipc, &irq.source, abi::CAP_INIT_THREAD_CNODE, handler, ROOT_DEPTH).map_err(|e| match e {
                arch::Refused::Kernel(_) => format!("getting the handler of {what} failed: {e}{}", arch::irq_refusal_hint(&irq.source)),
                arch::Refused::NotOnThisArch(_) => format!("{what}: {e}"),
            })?;
            sys::irq_handler_set_notification(&self.ipc, handler, badged).map_err(|e| format!("routing {what} to its PD failed: seL4 error {e}"))?;
            handlers.push((irq.id, handler));
        }
        Ok(handlers)
    }

    /// `keep`: the notification and endpoint of the PD's previous life (a restart), else new ones.
    fn create_pd(
        &mut self,
        spec: &SystemSpec,
        index: usize,
        pd: &PdSpec,
        program: &[u8],
        region_frames: &mut [Vec<CPtr>],
        keep: Option<(CPtr, Option<CPtr>)>,
    ) -> Result<PdObjects, String> {
        let who = format!("PD `{}`", pd.name);
        let stack_top = spec.arch.stack_top();
        let stack_bottom = stack_top - pd.stack_size_bytes;
        let ipc_vaddr = layout::ipc_buffer_vaddr(stack_top);
        let mut frames = 0;

        let vroot = self.create(arch::VSPACE_ROOT.object_type, arch::VSPACE_ROOT.size_bits, 0, &format!("the VSpace of {who}"))?;
        arch::assign_asid(&self.ipc, vroot).map_err(|e| format!("assigning an ASID to {who} failed: seL4 error {e}"))?;
        let cnode = self.create(abi::OBJ_CNODE, layout::PD_CNODE_BITS + abi::SLOT_BITS, layout::PD_CNODE_BITS.into(), &format!("the CSpace of {who}"))?;
        let tcb = self.create(abi::OBJ_TCB, abi::TCB_BITS, 0, &format!("the TCB of {who}"))?;
        let (notification, endpoint) = match keep {
            Some(k) => k,
            None => (
                self.create(abi::OBJ_NOTIFICATION, abi::NOTIFICATION_BITS, 0, &format!("the notification of {who}"))?,
                if pd.serves_pp() { Some(self.create(abi::OBJ_ENDPOINT, abi::ENDPOINT_BITS, 0, &format!("the endpoint of {who}"))?) } else { None },
            ),
        };

        // The program: one frame per page any PT_LOAD segment touches, with the union of the
        // rights of the segments on it.
        let prog = Program::parse(program).map_err(|e| format!("the program of {who} cannot be loaded: {e}"))?;
        let mut pages: BTreeMap<u64, bool> = BTreeMap::new();
        for seg in prog.segments() {
            if seg.mem_bytes == 0 {
                continue;
            }
            let first = seg.vaddr & !(PAGE_BYTES - 1);
            let end = seg.vaddr + seg.mem_bytes;
            let mut page = first;
            while page < end {
                let w = pages.entry(page).or_insert(false);
                *w |= seg.write;
                page += PAGE_BYTES;
            }
        }
        let guard_bottom = stack_bottom - PAGE_BYTES;
        for (&page, _) in pages.iter() {
            if page.checked_add(PAGE_BYTES).is_none_or(|end| end > guard_bottom) {
                return Err(format!("the program of {who} has a segment at {page:#x}, in or above its stack (which starts at {stack_bottom:#x})"));
            }
            for m in &pd.maps {
                let size = spec.regions[usize::from(m.region)].size_bytes;
                if page < m.vaddr + size && m.vaddr < page + PAGE_BYTES {
                    return Err(format!(
                        "the program of {who} has a segment at {page:#x}, where it maps memory region `{}` ({:#x}..{:#x})",
                        spec.regions[usize::from(m.region)].name,
                        m.vaddr,
                        m.vaddr + size
                    ));
                }
            }
        }
        for (&page, &write) in pages.iter() {
            let segments: Vec<_> =
                prog.segments().filter(|s| !s.data.is_empty() && s.vaddr < page + PAGE_BYTES && page < s.vaddr + s.data.len() as u64).collect();
            let fill = |m: &mut ScratchMapping| {
                for s in &segments {
                    let from = s.vaddr.max(page);
                    let to = (s.vaddr + s.data.len() as u64).min(page + PAGE_BYTES);
                    let src = &s.data[(from - s.vaddr) as usize..(to - s.vaddr) as usize];
                    m.write((from - page) as usize, src);
                }
            };
            let what = format!("the program page at {page:#x} of {who}");
            let frame = self.frame(&what, if segments.is_empty() { None } else { Some(&fill) })?;
            self.map(vroot, frame, page, PageSize::Small, write, true, &who)?;
            frames += 1;
        }

        // The stack, below `stack_top`; the page under it stays unmapped (a guard).
        let mut page = stack_bottom;
        while page < stack_top {
            let frame = self.frame(&format!("a stack page of {who}"), None)?;
            self.map(vroot, frame, page, PageSize::Small, true, true, &who)?;
            frames += 1;
            page += PAGE_BYTES;
        }

        // The IPC buffer, above the guard page over the stack, carrying the PD's PdInfo.
        let info = pd_info(index, pd, self.tsc_mhz, self.clock_origin_tsc).encode();
        let fill = |m: &mut ScratchMapping| m.write(layout::PD_INFO_OFFSET, &info);
        let ipc_frame = self.frame(&format!("the IPC buffer of {who}"), Some(&fill))?;
        self.map(vroot, ipc_frame, ipc_vaddr, PageSize::Small, true, true, &who)?;
        frames += 1;

        // Memory regions, each mapping through its own capabilities to the shared frames.
        for m in &pd.maps {
            let region = &spec.regions[usize::from(m.region)];
            let size = page_size_of(region)?;
            for (k, &frame) in region_frames[usize::from(m.region)].clone().iter().enumerate() {
                let cap = self.copy(frame, &format!("a mapping of memory region `{}` in {who}", region.name))?;
                self.map(vroot, cap, m.vaddr + k as u64 * region.page_size_bytes, size, m.perms.write, m.cached, &who)?;
                frames += 1;
            }
        }

        sys::debug_name_thread(&self.ipc, tcb, pd.name.as_bytes());
        debug_assert!(FRAME_BYTES as u64 == PAGE_BYTES);
        Ok(PdObjects { vroot, cnode, tcb, notification, endpoint, ipc_frame, entry: prog.entry, stack_bottom, memory_bytes: 0, frames, slots: 0 })
    }

    /// Mint PD `index`'s capabilities into its CNode, then configure its TCB.
    fn connect(&mut self, spec: &SystemSpec, index: usize, pd: &PdSpec, objects: &[PdObjects], monitor_endpoint: CPtr) -> Result<(), String> {
        let who = format!("PD `{}`", pd.name);
        let o = &objects[index];
        let ipc = &self.ipc;
        let mint = |dest: u64, src: CPtr, rights: u64, data: u64, what: &str| -> Result<(), String> {
            sys::cnode_mint(ipc, o.cnode, dest, PD_CNODE_DEPTH, abi::CAP_INIT_THREAD_CNODE, src, ROOT_DEPTH, rights, data)
                .map_err(|e| format!("giving {who} {what} failed: seL4 error {e}"))
        };
        // What it waits on. Receiving needs the read right; nothing else does.
        let input = o.endpoint.unwrap_or(o.notification);
        mint(layout::SLOT_INPUT, input, abi::CAP_RIGHTS_READ, 0, "its own endpoint or notification")?;
        let pd_badge = index as u64;
        mint(layout::SLOT_FAULT, monitor_endpoint, abi::CAP_RIGHTS_WRITE_GRANT, layout::MONITOR_BADGE_FAULT | pd_badge, "its fault endpoint")?;
        mint(layout::SLOT_MONITOR, monitor_endpoint, abi::CAP_RIGHTS_WRITE_GRANT, pd_badge, "the monitor's endpoint")?;
        let guard = abi::cnode_cap_data(0, abi::WORD_BITS - u64::from(layout::PD_CNODE_BITS));
        mint(layout::SLOT_CNODE, o.cnode, abi::CAP_RIGHTS_ALL, guard, "its own CNode")?;
        for c in &pd.channels {
            let peer = &objects[usize::from(c.peer)];
            if c.may_notify {
                // Signal only: without the read right it cannot wait on the peer's notification.
                mint(layout::SLOT_NOTIFY_BASE + u64::from(c.id), peer.notification, abi::CAP_RIGHTS_WRITE, 1 << c.peer_id, "a notification capability")?;
            }
            if c.may_call {
                let Some(ep) = peer.endpoint else {
                    return Err(format!("{who} may call `{}`, which has no endpoint", spec.pds[usize::from(c.peer)].name));
                };
                mint(layout::SLOT_CALL_BASE + u64::from(c.id), ep, abi::CAP_RIGHTS_WRITE_GRANT, u64::from(c.peer_id), "a call capability")?;
            }
        }
        for p in &pd.ioports {
            let last = (u32::from(p.addr) + p.size - 1).min(0xffff) as u16;
            arch::mint_ioports(ipc, o.cnode, layout::SLOT_IOPORT_BASE + u64::from(p.id), PD_CNODE_DEPTH, p.addr, last)
                .map_err(|e| format!("giving {who} an I/O port capability failed: {e}"))?;
        }
        for &(id, handler) in self.irq_handlers.get(index).map(Vec::as_slice).unwrap_or(&[]) {
            sys::cnode_copy(
                ipc,
                o.cnode,
                layout::SLOT_IRQ_BASE + u64::from(id),
                PD_CNODE_DEPTH,
                abi::CAP_INIT_THREAD_CNODE,
                handler,
                ROOT_DEPTH,
                abi::CAP_RIGHTS_ALL,
            )
            .map_err(|e| format!("giving {who} its IRQ {id} handler failed: seL4 error {e}"))?;
        }

        sys::tcb_configure(
            ipc,
            o.tcb,
            layout::SLOT_FAULT,
            abi::prio_props(0, pd.priority),
            o.cnode,
            guard,
            o.vroot,
            0,
            layout::ipc_buffer_vaddr(spec.arch.stack_top()),
            o.ipc_frame,
        )
        .map_err(|e| format!("configuring the TCB of {who} failed: seL4 error {e}"))?;
        if o.endpoint.is_some() {
            sys::tcb_bind_notification(ipc, o.tcb, o.notification).map_err(|e| format!("binding the notification of {who} failed: seL4 error {e}"))?;
        }
        let regs = arch::start_registers(o.entry, spec.arch.stack_top());
        sys::tcb_write_registers(ipc, o.tcb, false, &regs).map_err(|e| format!("setting the registers of {who} failed: seL4 error {e}"))
    }
}

/// What PD `index` learns about itself at start-up.
fn pd_info(index: usize, pd: &PdSpec, tsc_mhz: u64, clock_origin_tsc: u64) -> PdInfo {
    let mut name = [0u8; layout::PD_NAME_BYTES_MAX];
    let n = pd.name.len().min(layout::PD_NAME_BYTES_MAX);
    name[..n].copy_from_slice(&pd.name.as_bytes()[..n]);
    let mask = |f: &dyn Fn(&rampart_spec::PdChannel) -> bool| pd.channels.iter().filter(|c| f(c)).fold(0u64, |m, c| m | 1 << c.id);
    PdInfo {
        pd_index: index as u64,
        tsc_mhz,
        clock_origin_tsc,
        may_notify: mask(&|c| c.may_notify),
        may_call: mask(&|c| c.may_call),
        serves_calls: pd.serves_pp(),
        name_len: n as u8,
        name,
    }
}

/// The frame size of `region`'s pages (the checker allows only sizes the architecture has).
fn page_size_of(region: &rampart_spec::RegionSpec) -> Result<PageSize, String> {
    PageSize::of_bytes(region.page_size_bytes)
        .ok_or_else(|| format!("memory region `{}` has pages of {:#x} bytes, which this architecture does not map", region.name, region.page_size_bytes))
}
