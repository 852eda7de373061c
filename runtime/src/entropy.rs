//! Fresh randomness for keys: what a USIG needs for each new epoch's keys.
//!
//! Hosted, the kernel's `getrandom` (allowed by the PD's seccomp filter). On seL4 x86_64, the
//! CPU's `RDRAND` (QEMU's TCG implements it from the host's randomness when the board's CPU model
//! has it: images/boards/qemu-x86_64.toml asks for `+rdrand`). A machine without a source is an
//! error, never a silent weak fallback: a key made from a clock is no key.

/// No source of randomness on this machine, or it kept failing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoEntropy;

/// Fill `out` with fresh random bytes.
pub fn fill(out: &mut [u8]) -> Result<(), NoEntropy> {
    crate::sys::entropy(out)
}
