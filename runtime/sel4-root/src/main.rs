//! Rampart's seL4 root task: the system initializer and monitor, the first and only user program
//! the kernel starts.
//!
//! At boot it prints a banner and facts from the boot information through the debug console and
//! mints an I/O port capability narrowed to the QEMU exit port (0xf4) from the capability to all
//! ports; writing a status to that port makes QEMU's `isa-debug-exit` device end QEMU with
//! `2 * status + 1`. Then:
//!
//! - with no system embedded (`rampart boot`), it checks that the narrowed capability refuses
//!   another port and exits with 0: a self-test of the foundation;
//! - with a system image embedded (`rampart run`, see `build.rs` and [`layout::SystemImage`]),
//!   it decodes the system spec, builds every PD ([`builder`]) and becomes the monitor
//!   ([`monitor`]), which prints PD logs, reports faults and ends the system with the status a PD
//!   passes to `exit_system`, and restarts or holds PDs that stop.
//!
//! Its own exit statuses:
//! - 0: the self-test passed;
//! - 2: minting the narrowed capability failed (reported through the capability to all ports);
//! - 3: the narrowed capability was not narrow;
//! - 4: the embedded system image or spec is malformed;
//! - 5: the system could not be built (out of memory, a program that cannot be loaded, ...);
//! - 1: every PD stopped and is held (see [`monitor`]); 101: the root task panicked.
//!
//! If even the exit fails it halts the machine (debug kernel), and the caller's timeout ends QEMU.
//!
//! Built only by `rampart build`/`run` for `x86_64-unknown-linux-gnu` with
//! `-C relocation-model=static` and `-nostartfiles -nostdlib -static`: a static, non-PIE ELF that
//! the kernel loads as is.

#![no_std]
#![no_main]

extern crate alloc;

/// The kernel's debug console as a `core::fmt` sink.
pub struct Console;

impl core::fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            syscalls::debug_put_char(b);
        }
        Ok(())
    }
}

macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::Console, $($arg)*);
    }};
}

mod abi;
mod alloc_bump;
mod builder;
mod elf;
mod layout;
mod mem;
mod monitor;
mod sys;
mod syscalls;
mod timer;

use sys::BootInfo;

/// The I/O port of QEMU's `isa-debug-exit` device (images/boards/qemu-x86_64.toml).
const EXIT_PORT: u16 = 0xf4;
/// A port the narrowed capability must not reach (the POST diagnostic port, harmless if written).
const OTHER_PORT: u16 = 0x80;

const EXIT_OK: u8 = 0;
const EXIT_MINT_FAILED: u8 = 2;
const EXIT_NOT_NARROW: u8 = 3;
const EXIT_BAD_IMAGE: u8 = 4;
const EXIT_BUILD_FAILED: u8 = 5;
const EXIT_PANIC: u8 = 101;

/// Bytes of the root task's stack (in .bss, which the kernel zeroes when it loads the image).
const STACK_SIZE_BYTES: usize = 64 * 1024;

/// The system image the tool embedded (empty: none). See `build.rs`.
static SYSTEM_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/system.img"));

// The entry point. The kernel starts the root task with RDI = the boot information's address and
// no stack; set one up (16-byte aligned, as the System V ABI wants at a call) and call Rust.
core::arch::global_asm!(
    ".section .bss.rampart_stack,\"aw\",@nobits",
    ".p2align 4",
    "rampart_stack_bottom:",
    ".skip {stack_size}",
    "rampart_stack_top:",
    ".text",
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "    lea rsp, [rip + rampart_stack_top]",
    "    xor ebp, ebp",
    "    call {main}",
    "    ud2",
    stack_size = const STACK_SIZE_BYTES,
    main = sym rampart_root_main,
);

/// The capability the root task exits through: the narrowed one once minted.
static EXIT_CAP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(abi::CAP_IO_PORT);
/// The root task's IPC buffer, for `exit` from anywhere (the panic handler).
static IPC_BUFFER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

extern "C" fn rampart_root_main(bootinfo: *const u8) -> ! {
    let start_tsc = syscalls::rdtsc();
    // SAFETY: `_start` passes RDI unchanged, which the kernel set to the boot information frame
    // it mapped for this task and never changes afterwards.
    let bi = unsafe { BootInfo::from_ptr(bootinfo) };
    let ipc = bi.ipc_buffer();
    IPC_BUFFER.store(ipc.base() as u64, core::sync::atomic::Ordering::Relaxed);
    println!("{}", layout::ROOT_TASK_BANNER);
    let untyped = bi.untyped();
    let empty = bi.empty();
    println!(
        "rampart: bootinfo: {} untyped caps (slots {}..{}), empty slots {}..{}, {} node(s), TSC {} MHz",
        untyped.end - untyped.start,
        untyped.start,
        untyped.end,
        empty.start,
        empty.end,
        bi.num_nodes(),
        bi.tsc_mhz()
    );

    // Narrow the capability to every I/O port down to the exit port, into the first empty slot.
    // (seL4 5.0.0 has no IOPortControl; CNode_Mint with I/O port capability data does this.)
    let slot = empty.start;
    if slot >= empty.end {
        println!("rampart: no empty slot to mint into");
        exit(abi::CAP_IO_PORT, EXIT_MINT_FAILED);
    }
    let depth = abi::WORD_BITS as u8;
    let data = abi::io_port_cap_data(EXIT_PORT, EXIT_PORT);
    match sys::cnode_mint(&ipc, abi::CAP_INIT_THREAD_CNODE, slot, depth, abi::CAP_INIT_THREAD_CNODE, abi::CAP_IO_PORT, depth, abi::CAP_RIGHTS_ALL, data) {
        Ok(()) => println!("rampart: minted an I/O port capability for port {EXIT_PORT:#x} only, in slot {slot}"),
        Err(e) => {
            println!("rampart: CNode_Mint of the I/O port capability failed: seL4 error {e}");
            exit(abi::CAP_IO_PORT, EXIT_MINT_FAILED);
        }
    }
    EXIT_CAP.store(slot, core::sync::atomic::Ordering::Relaxed);

    if SYSTEM_IMAGE.is_empty() {
        // The self-test: the narrowed capability must refuse any other port.
        match sys::ioport_out8(&ipc, slot, OTHER_PORT, 0) {
            Err(abi::ERROR_ILLEGAL_OPERATION) => println!("rampart: port {OTHER_PORT:#x} refused through it, as it must be"),
            other => {
                println!("rampart: writing port {OTHER_PORT:#x} through it gave {other:?}, expected seL4_IllegalOperation");
                exit(slot, EXIT_NOT_NARROW);
            }
        }
        println!("rampart: exiting with status {EXIT_OK} through port {EXIT_PORT:#x}");
        exit(slot, EXIT_OK)
    }

    let Some(image) = layout::SystemImage::parse(SYSTEM_IMAGE) else {
        println!("rampart: the embedded system image is malformed ({} bytes)", SYSTEM_IMAGE.len());
        exit(slot, EXIT_BAD_IMAGE)
    };
    let spec = match rampart_spec::decode(image.spec) {
        Ok(s) if s.pds.len() == image.pd_count() => s,
        Ok(s) => {
            println!("rampart: the system image has programs for {} PDs, its spec {}", image.pd_count(), s.pds.len());
            exit(slot, EXIT_BAD_IMAGE)
        }
        Err(e) => {
            println!("rampart: the embedded system spec is invalid: {e}");
            exit(slot, EXIT_BAD_IMAGE)
        }
    };
    println!("rampart: building {} PD(s) for board {} ({} bytes of system image)", spec.pds.len(), spec.board, SYSTEM_IMAGE.len());
    let mut builder = builder::Builder::new(&bi, slot + 1..empty.end, start_tsc);
    let system = match builder.build(&spec, &|i| image.program_of(i)) {
        Ok(s) => s,
        Err(e) => {
            println!("rampart: cannot build the system: {e}");
            exit(slot, EXIT_BUILD_FAILED)
        }
    };
    let ticks = syscalls::rdtsc() - start_tsc;
    let mhz = bi.tsc_mhz().max(1);
    for p in &system.pds {
        println!("rampart: PD `{}` started: {} frames, {} KiB of kernel objects and frames", p.name, p.frames, p.memory_bytes / 1024);
    }
    println!(
        "rampart: system built in {} us: {} KiB of {} KiB untyped memory, {} slots, {} KiB of heap used",
        ticks / mhz,
        system.memory_used_bytes / 1024,
        system.memory_total_bytes / 1024,
        system.slots_used,
        alloc_bump::used_bytes() / 1024
    );
    if let Some(owner) = &system.pit_owner {
        println!("rampart: PD `{owner}` owns the PIT (the timer PD): the monitor serves no alarms");
    }
    let programs = (0..spec.pds.len()).map(|i| image.program_of(i).unwrap_or(&[])).collect();
    let hold = image.flags & layout::IMAGE_FLAG_HOLD != 0;
    monitor::Monitor::new(ipc, system, builder, spec, programs, hold, slot, bi.tsc_mhz(), start_tsc).run()
}

/// Write `status` to the exit port through `cap`; QEMU ends. Halts if the write fails.
pub fn exit(cap: syscalls::CPtr, status: u8) -> ! {
    let base = IPC_BUFFER.load(core::sync::atomic::Ordering::Relaxed) as *mut u64;
    // SAFETY: the root task's IPC buffer, recorded at entry (exit is only reached after that).
    let ipc = unsafe { syscalls::IpcBuffer::new(base) };
    if let Err(e) = sys::ioport_out8(&ipc, cap, EXIT_PORT, status) {
        println!("rampart: cannot exit through port {EXIT_PORT:#x}: seL4 error {e}; halting");
    }
    syscalls::debug_halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("rampart: root task panicked: {info}");
    exit(EXIT_CAP.load(core::sync::atomic::Ordering::Relaxed), EXIT_PANIC)
}
