//! The protection-domain runtime: the API every component is written against.
//!
//! A component is a `#![no_std]`, `#![no_main]` binary crate with one entry point:
//!
//! ```ignore
//! rampart_runtime::bindings!();              // channels::*, regions::* from system.xml
//! struct Pong { .. }
//! impl rampart_runtime::Handler for Pong { .. }
//! fn init() -> Pong { .. }
//! rampart_runtime::pd_main!(init);
//! ```
//!
//! `init` runs once, already confined (hosted: under the same strict seccomp filter as the entry
//! points); it returns the handler, whose entry points the runtime then calls as events arrive:
//! [`Handler::notified`] with every channel that signalled,
//! [`Handler::protected`] for a protected procedure call, [`Handler::fault`] (parents only) when
//! a child faults. An entry point a component does not implement is an error, never a silent
//! no-op: a call to a PD that does not handle calls faults that PD.
//!
//! The same component code runs on both backends; the build decides which: Linux targets use
//! the hosted backend (each PD a confined process, see `hosted`), unless the build passes
//! `--cfg rampart_sel4` (as `rampart run` does when it builds a system for seL4, together with
//! `--target x86_64-unknown-linux-gnu` and static, freestanding link flags), which selects the
//! seL4 backend (each PD an seL4 thread in its own CSpace and VSpace, see `sel4`). Components
//! never name a backend.
//!
//! What a PD may do is in the types of its generated bindings: `Channel<Notify, _>` has
//! [`Channel::notify`], `Channel<_, PpCall>` has [`Channel::pp_call`], `Region<ReadWrite>` has
//! writes and `Region<ReadOnly>` does not. The backend enforces the same at run time, so even code
//! that forges a channel value cannot use a channel it was not given.
#![no_std]

#[cfg(all(target_os = "linux", not(rampart_sel4)))]
extern crate std;

pub mod clock;
pub mod entropy;
pub mod heap;
mod logger;
mod message;
pub mod timeout;

#[cfg(all(target_os = "linux", not(rampart_sel4)))]
pub mod hosted;
#[cfg(all(target_os = "linux", not(rampart_sel4)))]
use hosted as sys;

#[cfg(rampart_sel4)]
pub mod sel4;
#[cfg(rampart_sel4)]
use sel4 as sys;

#[cfg(not(any(target_os = "linux", rampart_sel4)))]
compile_error!("rampart-runtime: no backend for this target: Linux targets run hosted, and `--cfg rampart_sel4` selects the seL4 backend");

/// The program entry a backend needs in the PD binary itself (see `sel4::__entry`); hosted, the C
/// library's start files call `main`.
#[cfg(not(rampart_sel4))]
#[doc(hidden)]
#[macro_export]
macro_rules! __entry {
    () => {};
}

use core::marker::PhantomData;
pub use message::*;

/// A PD's entry points. `notified` is required; the others fault the PD unless implemented.
pub trait Handler {
    /// Channels in `channels` notified this PD (and, with [`ChannelSet::alarm`], its alarm went off).
    fn notified(&mut self, channels: ChannelSet);

    /// A protected procedure call arrived on `channel`. Return the reply.
    fn protected(&mut self, channel: u8, message: &Message) -> Result<Message, Unhandled> {
        let _ = (channel, message);
        Err(Unhandled::Protected)
    }

    /// Child `child` faulted. Return whether to restart it.
    fn fault(&mut self, child: Child, fault: &Fault) -> Result<FaultAction, Unhandled> {
        let _ = (child, fault);
        Err(Unhandled::Fault)
    }
}

/// An entry point the component does not implement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unhandled {
    Protected,
    Fault,
}

/// PD logging is defmt: components depend on `defmt` and write `defmt::info!("round {}", n)`.
/// Frames are encoded in the PD and decoded by the host, which prints each line with the PD's
/// name. Re-exported for components that want to name its types.
pub use defmt;

/// The name of this PD, as in system.xml.
pub fn pd_name() -> &'static str {
    sys::pd_name()
}

/// The number this PD's name ends with (`replica2` is 2; at most three digits), for components
/// that run as several indexed PDs. `None` if the name has no such number.
pub fn pd_index() -> Option<usize> {
    index_in_name(pd_name())
}

fn index_in_name(name: &str) -> Option<usize> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 3 {
        return None;
    }
    name[name.len() - digits..].parse().ok()
}

/// End the whole system with an exit status (0 success). Used by test systems to report a
/// verdict: hosted, `rampart run` exits with it; on seL4, QEMU does (isa-debug-exit).
pub fn exit_system(status: u8) -> ! {
    sys::exit_system(status)
}

/// Right to notify the peer of a channel.
#[derive(Clone, Copy, Debug)]
pub struct Notify;
/// No right to notify.
#[derive(Clone, Copy, Debug)]
pub struct NoNotify;
/// Right to make protected procedure calls to the peer.
#[derive(Clone, Copy, Debug)]
pub struct PpCall;
/// No right to call.
#[derive(Clone, Copy, Debug)]
pub struct NoPpCall;

/// A channel end of this PD, by id, with its rights in its type.
#[derive(Clone, Copy, Debug)]
pub struct Channel<N, P> {
    id: u8,
    accepts_calls: bool,
    _rights: PhantomData<(N, P)>,
}

impl<N, P> Channel<N, P> {
    /// Used by generated bindings; components name channels through them.
    #[doc(hidden)]
    pub const fn new(id: u8, accepts_calls: bool) -> Self {
        Channel { id, accepts_calls, _rights: PhantomData }
    }

    /// The channel id (0 to 62): this PD's badge bit for it.
    pub const fn id(&self) -> u8 {
        self.id
    }

    /// Whether the peer may make protected procedure calls to this PD over the channel.
    pub const fn accepts_calls(&self) -> bool {
        self.accepts_calls
    }
}

impl<P> Channel<Notify, P> {
    /// Signal the peer; it sees this channel in its next [`Handler::notified`]. Never blocks.
    /// Notifications are binary semaphores: several before the peer runs arrive as one.
    pub fn notify(&self) {
        sys::notify(self.id)
    }
}

/// A notification channel rings a shared-memory ring's doorbell (`rampart_ring`, and the links
/// of `rampart-transport` built on it): the peer sees the channel in its next `notified`.
impl<P> rampart_ring::Doorbell for Channel<Notify, P> {
    fn ring(&self) {
        self.notify()
    }
}

impl<N> Channel<N, PpCall> {
    /// Call the peer's protected procedure and wait for its reply. The peer has strictly higher
    /// priority (system.xml guarantees it). If the peer faults during the call, the reply has
    /// label [`LABEL_CALL_FAILED`] ([`Message::is_call_failure`]).
    pub fn pp_call(&self, message: &Message) -> Message {
        sys::pp_call(self.id, message)
    }
}

/// Read-only access to a region.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;
/// Read and write access to a region.
#[derive(Clone, Copy, Debug)]
pub struct ReadWrite;

/// Whether a region's type allows writing: implemented by [`ReadWrite`] only.
pub trait Writable {}
impl Writable for ReadWrite {}

/// An access outside a region.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfBounds {
    pub offset: u64,
    pub len: u64,
    pub size_bytes: u64,
}

/// A memory region as mapped into this PD.
///
/// Accesses are bounds-checked and volatile: the region may be shared with other PDs that write
/// it concurrently, so every read is a snapshot, and agreeing on when data is complete is the job
/// of a protocol on top (a ring, or a doorbell notification after the write).
#[derive(Clone, Copy, Debug)]
pub struct Region<A> {
    vaddr: u64,
    size_bytes: u64,
    executable: bool,
    cached: bool,
    _access: PhantomData<A>,
}

impl<A> Region<A> {
    #[doc(hidden)]
    pub const fn new(vaddr: u64, size_bytes: u64, executable: bool, cached: bool) -> Self {
        Region { vaddr, size_bytes, executable, cached, _access: PhantomData }
    }

    pub const fn vaddr(&self) -> u64 {
        self.vaddr
    }

    pub const fn size_bytes(&self) -> u64 {
        self.size_bytes
    }

    pub const fn executable(&self) -> bool {
        self.executable
    }

    pub const fn cached(&self) -> bool {
        self.cached
    }

    fn check(&self, offset: u64, len: usize) -> Result<*mut u8, OutOfBounds> {
        let len = len as u64;
        match offset.checked_add(len) {
            Some(end) if end <= self.size_bytes => Ok((self.vaddr + offset) as usize as *mut u8),
            _ => Err(OutOfBounds { offset, len, size_bytes: self.size_bytes }),
        }
    }

    /// Copy `out.len()` bytes starting at `offset` out of the region.
    pub fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), OutOfBounds> {
        let base = self.check(offset, out.len())?;
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: `check` proved [offset, offset+len) lies inside the region, which the
            // backend mapped readable at `vaddr` before `init` ran and never unmaps; volatile,
            // because other PDs may write the region at any time.
            *b = unsafe { core::ptr::read_volatile(base.add(i)) };
        }
        Ok(())
    }

    /// Read a little-endian u64 at `offset`.
    pub fn read_u64(&self, offset: u64) -> Result<u64, OutOfBounds> {
        let mut b = [0u8; 8];
        self.read_bytes(offset, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl Region<ReadWrite> {
    /// The region's base address and length, for shared-memory structures that manage their own
    /// accesses (a `rampart_ring` ring). The pointer is valid for reads and writes of that length
    /// for the PD's whole life; every access through it is the caller's to bound.
    pub fn raw_parts(&self) -> (*mut u8, usize) {
        (self.vaddr as usize as *mut u8, self.size_bytes as usize)
    }
}

impl<A: Writable> Region<A> {
    /// Copy `data` into the region at `offset`.
    pub fn write_bytes(&self, offset: u64, data: &[u8]) -> Result<(), OutOfBounds> {
        let base = self.check(offset, data.len())?;
        for (i, b) in data.iter().enumerate() {
            // SAFETY: in bounds (checked above) of a region the backend mapped writable (the
            // type parameter is ReadWrite only when system.xml grants `w`).
            unsafe { core::ptr::write_volatile(base.add(i), *b) };
        }
        Ok(())
    }

    /// Write a little-endian u64 at `offset`.
    pub fn write_u64(&self, offset: u64, value: u64) -> Result<(), OutOfBounds> {
        self.write_bytes(offset, &value.to_le_bytes())
    }
}

/// A hardware interrupt delivered to this PD on a channel id.
#[derive(Clone, Copy, Debug)]
pub struct Irq {
    id: u8,
}

impl Irq {
    #[doc(hidden)]
    pub const fn new(id: u8) -> Self {
        Irq { id }
    }

    pub const fn id(&self) -> u8 {
        self.id
    }

    /// Acknowledge the interrupt so that it can be delivered again.
    pub fn ack(&self) {
        sys::irq_ack(self.id)
    }
}

/// A range of x86 I/O ports this PD may use.
#[derive(Clone, Copy, Debug)]
pub struct IoPorts {
    id: u8,
    addr: u16,
    size: u32,
}

impl IoPorts {
    #[doc(hidden)]
    pub const fn new(id: u8, addr: u16, size: u32) -> Self {
        IoPorts { id, addr, size }
    }

    pub const fn id(&self) -> u8 {
        self.id
    }

    pub const fn addr(&self) -> u16 {
        self.addr
    }

    pub const fn size(&self) -> u32 {
        self.size
    }

    /// The port `offset` ports into the range, if a `width`-byte access there stays inside it.
    fn port(&self, offset: u16, width: u8) -> Result<u16, OutOfBounds> {
        let end = u32::from(offset) + u32::from(width);
        if end <= self.size && u32::from(self.addr) + end <= 0x1_0000 {
            Ok(self.addr + offset)
        } else {
            Err(OutOfBounds { offset: offset.into(), len: width.into(), size_bytes: self.size.into() })
        }
    }

    /// Read a byte from port `addr + offset` (`inb`). On seL4 an `X86IOPort_In8` invocation of
    /// the PD's I/O port capability; hosted, a capability violation (a hosted PD has no ports).
    pub fn in8(&self, offset: u16) -> Result<u8, OutOfBounds> {
        Ok(sys::ioport_in(self.id, self.port(offset, 1)?, 1) as u8)
    }

    /// Read 16 bits from ports `addr + offset` and up (`inw`).
    pub fn in16(&self, offset: u16) -> Result<u16, OutOfBounds> {
        Ok(sys::ioport_in(self.id, self.port(offset, 2)?, 2) as u16)
    }

    /// Read 32 bits from ports `addr + offset` and up (`inl`).
    pub fn in32(&self, offset: u16) -> Result<u32, OutOfBounds> {
        Ok(sys::ioport_in(self.id, self.port(offset, 4)?, 4))
    }

    /// Write a byte to port `addr + offset` (`outb`).
    pub fn out8(&self, offset: u16, value: u8) -> Result<(), OutOfBounds> {
        sys::ioport_out(self.id, self.port(offset, 1)?, 1, value.into());
        Ok(())
    }

    /// Write 16 bits to ports `addr + offset` and up (`outw`).
    pub fn out16(&self, offset: u16, value: u16) -> Result<(), OutOfBounds> {
        sys::ioport_out(self.id, self.port(offset, 2)?, 2, value.into());
        Ok(())
    }

    /// Write 32 bits to ports `addr + offset` and up (`outl`).
    pub fn out32(&self, offset: u16, value: u32) -> Result<(), OutOfBounds> {
        sys::ioport_out(self.id, self.port(offset, 4)?, 4, value);
        Ok(())
    }
}

/// Bring a component's generated bindings (`channels`, `regions`, `irqs`, `ioports`, `PD_NAMES`)
/// into scope. The component's `build.rs` must call `rampart_sdf::bindings::build_script()`.
#[macro_export]
macro_rules! bindings {
    () => {
        include!(concat!(env!("OUT_DIR"), "/rampart_bindings.rs"));
    };
}

/// Declare the PD's init function (`fn() -> impl Handler`) and make it the program's entry.
/// The crate must be `#![no_std]` and `#![no_main]`.
#[macro_export]
macro_rules! pd_main {
    ($init:path) => {
        $crate::pd_main!($init, heap_bytes = 0);
    };
    ($init:path, heap_bytes = $heap_bytes:expr) => {
        #[unsafe(no_mangle)]
        pub extern "C" fn main(_argc: i32, _argv: *const *const u8) -> i32 {
            $crate::__run($init)
        }
        /// The PD's heap arena (see `rampart_runtime::heap`); hosted, the process allocator.
        #[unsafe(no_mangle)]
        pub fn __rampart_heap_arena() -> (*mut u8, usize) {
            static ARENA: $crate::heap::Arena<
                {
                    if $crate::heap::BOUNDED {
                        $heap_bytes
                    } else {
                        0
                    }
                },
            > = $crate::heap::Arena::new();
            ARENA.raw()
        }
        $crate::__entry!();
    };
}

#[doc(hidden)]
pub fn __run<H: Handler>(init: fn() -> H) -> ! {
    sys::run(init)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_pd_index_is_the_number_its_name_ends_with() {
        assert_eq!(super::index_in_name("replica2"), Some(2));
        assert_eq!(super::index_in_name("usig12"), Some(12));
        assert_eq!(super::index_in_name("client"), None);
        assert_eq!(super::index_in_name("r1234"), None);
    }
}
