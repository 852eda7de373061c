//! The protection-domain runtime: the API every component is written against.
//!
//! This crate holds the typed names a component's generated bindings use (see
//! `rampart_sdf::bindings`): channels whose type says whether this PD may notify and call over
//! them, memory regions whose type says whether they may be written, IRQs and I/O port ranges.
//! The handler API and the backends that give these names their behaviour build on them.
#![no_std]
#![forbid(unsafe_code)]

use core::marker::PhantomData;

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

/// Read-only access to a region.
#[derive(Clone, Copy, Debug)]
pub struct ReadOnly;
/// Read and write access to a region.
#[derive(Clone, Copy, Debug)]
pub struct ReadWrite;

/// A memory region as mapped into this PD.
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
}

/// Whether a region's type allows writing: implemented by [`ReadWrite`] only.
pub trait Writable {}
impl Writable for ReadWrite {}

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
}

/// Bring a component's generated bindings (`channels`, `regions`, `irqs`, `ioports`, `PD_NAMES`)
/// into scope. The component's `build.rs` must call `rampart_sdf::bindings::build_script()`.
#[macro_export]
macro_rules! bindings {
    () => {
        include!(concat!(env!("OUT_DIR"), "/rampart_bindings.rs"));
    };
}
