//! Rampart's minimal seL4 root task: the first and only user program the kernel starts.
//!
//! It proves the foundation of the seL4 backend end to end: the kernel built from source boots,
//! starts a Rust program, and that program can talk to it. It prints a banner and facts from the
//! boot information through the debug console, mints an I/O port capability narrowed to the
//! QEMU exit port (0xf4) from the root task's capability to all ports, checks that the narrowed
//! capability refuses another port, and writes its exit status to port 0xf4, which QEMU's
//! `isa-debug-exit` device turns into QEMU's own exit status `2 * status + 1`.
//!
//! Exit statuses (the byte written to port 0xf4):
//! - 0: every step worked;
//! - 2: minting the narrowed capability failed (reported through the capability to all ports);
//! - 3: the narrowed capability was not narrow: a write to another port was allowed or failed
//!   with an unexpected error;
//! - 101: the root task panicked.
//!
//! If even the exit fails it halts the machine (debug kernel), and the caller's timeout ends QEMU.
//!
//! Built only by `rampart build` for `x86_64-unknown-linux-gnu` with `-C relocation-model=static`
//! and `-nostartfiles -nostdlib -static`: a static, non-PIE ELF that the kernel loads as is.

#![no_std]
#![no_main]

mod abi;
mod mem;
mod sys;

use core::fmt::Write;
use sys::BootInfo;

/// The I/O port of QEMU's `isa-debug-exit` device (images/boards/qemu-x86_64.toml).
const EXIT_PORT: u16 = 0xf4;
/// A port the narrowed capability must not reach (the POST diagnostic port, harmless if written).
const OTHER_PORT: u16 = 0x80;

const EXIT_OK: u8 = 0;
const EXIT_MINT_FAILED: u8 = 2;
const EXIT_NOT_NARROW: u8 = 3;
const EXIT_PANIC: u8 = 101;

/// Bytes of the root task's stack (in .bss, which the kernel zeroes when it loads the image).
const STACK_SIZE_BYTES: usize = 64 * 1024;

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

/// The kernel's debug console as a `core::fmt` sink.
struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            sys::debug_put_char(b);
        }
        Ok(())
    }
}

macro_rules! println {
    ($($arg:tt)*) => {{
        let _ = writeln!(Console, $($arg)*);
    }};
}

extern "C" fn rampart_root_main(bootinfo: *const u8) -> ! {
    // SAFETY: `_start` passes RDI unchanged, which the kernel set to the boot information frame
    // it mapped for this task and never changes afterwards.
    let bi = unsafe { BootInfo::from_ptr(bootinfo) };
    println!("rampart: seL4 root task up");
    let untyped = bi.untyped();
    let empty = bi.empty();
    println!(
        "rampart: bootinfo: {} untyped caps (slots {}..{}), empty slots {}..{}, {} node(s)",
        untyped.end - untyped.start,
        untyped.start,
        untyped.end,
        empty.start,
        empty.end,
        bi.num_nodes()
    );

    // Narrow the capability to every I/O port down to the exit port, into the first empty slot.
    // (seL4 5.0.0 has no IOPortControl; CNode_Mint with I/O port capability data does this.)
    let slot = empty.start;
    if slot >= empty.end {
        println!("rampart: no empty slot to mint into");
        exit(abi::CAP_IO_PORT, EXIT_MINT_FAILED);
    }
    let ipc = bi.ipc_buffer();
    let depth = abi::WORD_BITS as u8;
    let data = abi::io_port_cap_data(EXIT_PORT, EXIT_PORT);
    match sys::cnode_mint(&ipc, abi::CAP_INIT_THREAD_CNODE, slot, depth, abi::CAP_INIT_THREAD_CNODE, abi::CAP_IO_PORT, depth, abi::CAP_RIGHTS_ALL, data) {
        Ok(()) => println!("rampart: minted an I/O port capability for port {EXIT_PORT:#x} only, in slot {slot}"),
        Err(e) => {
            println!("rampart: CNode_Mint of the I/O port capability failed: seL4 error {e}");
            exit(abi::CAP_IO_PORT, EXIT_MINT_FAILED);
        }
    }

    // The narrowed capability must refuse any other port.
    match sys::ioport_out8(slot, OTHER_PORT, 0) {
        Err(abi::ERROR_ILLEGAL_OPERATION) => println!("rampart: port {OTHER_PORT:#x} refused through it, as it must be"),
        other => {
            println!("rampart: writing port {OTHER_PORT:#x} through it gave {other:?}, expected seL4_IllegalOperation");
            exit(slot, EXIT_NOT_NARROW);
        }
    }

    println!("rampart: exiting with status {EXIT_OK} through port {EXIT_PORT:#x}");
    exit(slot, EXIT_OK)
}

/// Write `status` to the exit port through `cap`; QEMU ends. Halts if the write fails.
fn exit(cap: sys::CPtr, status: u8) -> ! {
    if let Err(e) = sys::ioport_out8(cap, EXIT_PORT, status) {
        println!("rampart: cannot exit through port {EXIT_PORT:#x}: seL4 error {e}; halting");
    }
    sys::debug_halt()
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    println!("rampart: root task panicked: {info}");
    exit(abi::CAP_IO_PORT, EXIT_PANIC)
}
