//! Rampart's seL4 root task: the system initializer and monitor, the first and only user program
//! the kernel starts.
//!
//! At boot it prints a banner and facts from the boot information through the debug console and
//! makes a capability to the machine's exit device only (`arch::make_exit_cap`; on x86_64 the
//! I/O port capability narrowed to QEMU's exit port 0xf4, whose `isa-debug-exit` device ends QEMU
//! with `2 * status + 1`). The architecture's `_start` (`arch/`) sets up the stack and calls
//! `rampart_root_main`. Then:
//!
//! - with no system embedded (`rampart boot`), it checks that the narrowed capability refuses
//!   anything else (another port) and exits with 0: a self-test of the foundation;
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
mod arch;
mod builder;
mod elf;
mod layout;
mod mem;
mod monitor;
mod sys;
mod syscalls;

use sys::BootInfo;

const EXIT_OK: u8 = 0;
const EXIT_MINT_FAILED: u8 = 2;
const EXIT_NOT_NARROW: u8 = 3;
const EXIT_BAD_IMAGE: u8 = 4;
const EXIT_BUILD_FAILED: u8 = 5;
const EXIT_PANIC: u8 = 101;

/// Bytes of the root task's stack (in .bss, which the kernel zeroes when it loads the image); the
/// architecture's `_start` sets it up.
const STACK_SIZE_BYTES: usize = 64 * 1024;

/// The system image the tool embedded (empty: none). See `build.rs`.
static SYSTEM_IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/system.img"));

/// The capability the root task exits through: the narrowed one once minted.
static EXIT_CAP: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(arch::EXIT_CAP_INITIAL);
/// The root task's IPC buffer, for `exit` from anywhere (the panic handler).
static IPC_BUFFER: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Called by the architecture's `_start` with the boot information's address.
extern "C" fn rampart_root_main(bootinfo: *const u8) -> ! {
    let start_tsc = syscalls::timestamp();
    // SAFETY: `_start` passes on unchanged what the kernel set, the address of to the boot information frame
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

    // A capability to the exit device only (on x86_64: every I/O port narrowed to QEMU's exit
    // port), into the first empty slot.
    let slot = empty.start;
    if slot >= empty.end {
        println!("rampart: no empty slot to mint into");
        exit(arch::EXIT_CAP_INITIAL, EXIT_MINT_FAILED);
    }
    match arch::make_exit_cap(&ipc, slot) {
        Ok(what) => println!("rampart: minted {what}, in slot {slot}"),
        Err(e) => {
            println!("rampart: {e}");
            exit(arch::EXIT_CAP_INITIAL, EXIT_MINT_FAILED);
        }
    }
    EXIT_CAP.store(slot, core::sync::atomic::Ordering::Relaxed);

    if SYSTEM_IMAGE.is_empty() {
        // The self-test: the narrowed capability must refuse anything else.
        match arch::exit_cap_self_test(&ipc, slot) {
            Ok(what) => println!("rampart: {what}"),
            Err(e) => {
                println!("rampart: {e}");
                exit(slot, EXIT_NOT_NARROW);
            }
        }
        println!("rampart: exiting with status {EXIT_OK} through {}", arch::EXIT_DEVICE);
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
    let ticks = syscalls::timestamp() - start_tsc;
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
    if let Some(owner) = &system.timer_owner {
        println!("rampart: PD `{owner}` owns {} (the timer PD): the monitor serves no alarms", arch::TIMER_DEVICE);
    }
    let programs = (0..spec.pds.len()).map(|i| image.program_of(i).unwrap_or(&[])).collect();
    let hold = image.flags & layout::IMAGE_FLAG_HOLD != 0;
    monitor::Monitor::new(ipc, system, builder, spec, programs, hold, slot, bi.tsc_mhz(), start_tsc).run()
}

/// Write `status` to the exit device through `cap`; QEMU ends. Halts if the write fails.
pub fn exit(cap: syscalls::CPtr, status: u8) -> ! {
    let base = IPC_BUFFER.load(core::sync::atomic::Ordering::Relaxed) as *mut u64;
    // SAFETY: the root task's IPC buffer, recorded at entry (exit is only reached after that).
    let ipc = unsafe { syscalls::IpcBuffer::new(base) };
    if let Err(e) = arch::exit_machine(&ipc, cap, status) {
        println!("rampart: cannot exit through {}: seL4 error {e}; halting", arch::EXIT_DEVICE);
    }
    syscalls::debug_halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("rampart: root task panicked: {info}");
    exit(EXIT_CAP.load(core::sync::atomic::Ordering::Relaxed), EXIT_PANIC)
}
