//! The symbols a freestanding Rust binary needs from a C library it does not link: the memory
//! functions the compiler calls for copies, fills and comparisons, and the unwinding personality
//! the prebuilt `core` and `alloc` of the linux-gnu target refer to (never called: panics abort).
//!
//! Copies and fills are `rep movsq`/`rep stosq` then `rep movsb`/`rep stosb` in inline assembly, so the compiler cannot turn
//! them back into calls to themselves; comparisons read with `read_volatile` for the same reason.

use core::arch::asm;

/// # Safety
/// C `memcpy`: `dest` and `src` valid for `n` bytes and not overlapping.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // Eight bytes at a time, then the rest: QEMU's TCG emulates `rep movsb` a byte per iteration,
    // which made a protected call (a 528-byte Message copied about a dozen times) 2.4x a raw
    // seL4 call instead of 1.4x (benches/sel4_ipc.rs). x86 allows unaligned qword moves.
    // SAFETY: the caller's contract; the direction flag is clear (System V ABI); rdi and rsi
    // advance through the qword copy into the byte copy.
    unsafe {
        asm!(
            "rep movsq",
            "mov rcx, {rest}",
            "rep movsb",
            rest = in(reg) n % 8,
            inout("rcx") n / 8 => _,
            inout("rdi") dest => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        )
    };
    dest
}

/// # Safety
/// C `memmove`: `dest` and `src` valid for `n` bytes; they may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if n == 0 || (dest as usize) <= (src as usize) || (dest as usize) >= (src as usize).wrapping_add(n) {
        // SAFETY: a forward copy is correct when the destination starts at or before the source
        // or past its end.
        return unsafe { memcpy(dest, src, n) };
    }
    // SAFETY: copying backwards from the last byte is correct for a destination overlapping the
    // source's end; the direction flag is restored before returning.
    unsafe {
        asm!("std", "rep movsb", "cld", inout("rcx") n => _, inout("rdi") dest.add(n - 1) => _, inout("rsi") src.add(n - 1) => _, options(nostack));
    }
    dest
}

/// # Safety
/// C `memset`: `dest` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8 {
    // Eight bytes at a time, then the rest (see `memcpy` for why).
    let byte = u64::from(c as u8);
    let pattern = byte * 0x0101_0101_0101_0101;
    // SAFETY: the caller's contract; rdi advances through the qword fill into the byte fill
    // (stosb stores al, the low byte of the pattern).
    unsafe {
        asm!(
            "rep stosq",
            "mov rcx, {rest}",
            "rep stosb",
            rest = in(reg) n % 8,
            inout("rcx") n / 8 => _,
            inout("rdi") dest => _,
            in("rax") pattern,
            options(nostack, preserves_flags)
        )
    };
    dest
}

/// # Safety
/// C `memcmp`: `a` and `b` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: i < n, within both buffers by the caller's contract.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

/// # Safety
/// C `bcmp`: as `memcmp`, only equality is meaningful.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the same contract.
    unsafe { memcmp(a, b, n) }
}

/// Referred to by the prebuilt `core` of the linux-gnu target; never called, because this binary
/// is built with `panic = "abort"` and nothing unwinds.
#[no_mangle]
pub extern "C" fn rust_eh_personality() {}

/// Referred to by the landing pads of the prebuilt `alloc` of the linux-gnu target (built to
/// unwind); never called, because nothing unwinds in a binary built with `panic = "abort"`.
#[no_mangle]
pub extern "C" fn _Unwind_Resume() -> ! {
    crate_halt()
}

/// What `_Unwind_Resume` does if the impossible happens: stop this thread for good.
fn crate_halt() -> ! {
    loop {
        core::hint::spin_loop();
    }
}
