//! What each backend can honour.
//!
//! A system file may say things that are valid Microkit but that a given backend cannot do:
//! budgets, periods and passive PDs need an MCS kernel, and the seL4 5.0.0 kernel Rampart builds
//! is not MCS; a hosted (Linux process) system has no interrupts, I/O ports or fixed physical
//! memory; neither backend runs virtual machines, programs an IOMMU (`<io_address_space>`),
//! delivers MSI interrupts or prefills regions with boot information. Such features are
//! reported here, as errors with positions, when a system is checked
//! or built for that backend; they are never silently ignored.

use crate::diag::Diagnostic;
use crate::model::System;
use rampart_spec::{ProgramRef, SystemSpec};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Each PD a confined Linux process.
    Hosted,
    /// A real seL4 5.0.0 kernel (non-MCS), booted in QEMU.
    Sel4,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Hosted => "hosted",
            Backend::Sel4 => "sel4",
        }
    }
}

/// Errors for every feature of `sys` that `backend` cannot honour.
pub fn unsupported(sys: &System, spec: &SystemSpec, backend: Backend) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let b = backend.name();
    for (pd, ps) in sys.pds.iter().zip(&spec.pds) {
        for attr in ["budget", "period"] {
            if pd.attrs.get(attr).is_some() {
                out.push(
                    Diagnostic::error(format!("the {b} backend cannot honour `{attr}`: budgets and periods need an MCS kernel"))
                        .at(pd.attr_span(attr))
                        .on("protection_domain")
                        .help(match backend {
                            Backend::Sel4 => "Rampart builds seL4 5.0.0 without MCS; remove budget and period (PDs of one priority share the CPU round robin)",
                            Backend::Hosted => "Linux processes are scheduled by priority only here; remove budget and period",
                        }),
                );
            }
        }
        if pd.passive {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot honour passive=\"true\": passive PDs need an MCS kernel"))
                    .at(pd.attr_span("passive"))
                    .on("protection_domain")
                    .help("remove passive; the PD then runs on its own thread and waits for calls"),
            );
        }
        if !pd.fpu {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot honour fpu=\"false\": it cannot withhold the FPU from one PD"))
                    .at(pd.attr_span("fpu"))
                    .on("protection_domain")
                    .help("remove fpu=\"false\""),
            );
        }
        if let Some(vm) = &pd.vm {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot run virtual machine `{}`: it has no vCPUs to give", vm.name))
                    .at(vm.span.clone())
                    .on("virtual_machine")
                    .help(match backend {
                        Backend::Sel4 => "Rampart builds seL4 5.0.0 without hypervisor support; remove the <virtual_machine>",
                        Backend::Hosted => "a Linux process cannot host a guest here; remove the <virtual_machine>",
                    }),
            );
        }
        for m in pd.maps.iter().chain(pd.vm.iter().flat_map(|vm| &vm.maps)).filter(|m| m.setvar_prefill_size.is_some()) {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot honour setvar_prefill_size: it does not patch the prefill size into programs"))
                    .at(m.attrs.get("setvar_prefill_size").unwrap_or(m.span.clone()))
                    .on("map")
                    .help("use setvar_size (the region's size) and keep the data's length in the data"),
            );
        }
        for m in &pd.msis {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot deliver MSI interrupts"))
                    .at(m.span.clone())
                    .on("irq")
                    .help("route the device through an I/O APIC pin: <irq pin=\"...\" vector=\"...\" id=\"...\"/>"),
            );
        }
        if backend == Backend::Hosted {
            for i in &pd.irqs {
                out.push(
                    Diagnostic::error("the hosted backend has no hardware interrupts")
                        .at(i.span.clone())
                        .on("irq")
                        .help("run this system with --board and the sel4 backend, or drive the PD from a timer or a peer"),
                );
            }
            for p in &pd.ioports {
                out.push(Diagnostic::error("the hosted backend has no I/O ports").at(p.span.clone()).on("ioport").help("run this system on the sel4 backend"));
            }
            if let ProgramRef::Elf(path) = &ps.program {
                out.push(
                    Diagnostic::error(format!("the hosted backend runs workspace components only, and `{path}` is not one"))
                        .at(pd.program_image_span.clone())
                        .on("program_image")
                        .help("name a component as `NAME.elf`, where NAME is a component crate of the workspace (components/, examples/, tests/components/ or benches/components/)"),
                );
            }
        }
    }
    for sp in &sys.io_spaces {
        out.push(
            Diagnostic::error(format!("the {b} backend cannot honour IO address space `{}`: it does not program the IOMMU", sp.name))
                .at(sp.span.clone())
                .on("io_address_space")
                .help(match backend {
                    Backend::Sel4 => "Rampart builds seL4 5.0.0 without IOMMU support; remove the <io_address_space>",
                    Backend::Hosted => "Linux processes have no devices to isolate here; remove the <io_address_space>",
                }),
        );
    }
    for r in &sys.regions {
        if let Some(kind) = &r.prefill_bootinfo {
            out.push(
                Diagnostic::error(format!("the {b} backend cannot prefill region `{}` with boot information `{kind}`", r.name))
                    .at(r.attrs.get("prefill_bootinfo").unwrap_or(r.span.clone()))
                    .on("memory_region")
                    .help("remove prefill_bootinfo; a PD can read what it needs from a device region instead"),
            );
        }
    }
    if backend == Backend::Hosted {
        for r in &sys.regions {
            if r.phys_addr.is_some() {
                out.push(
                    Diagnostic::error(format!("the hosted backend has no physical memory to give region `{}`", r.name))
                        .at(r.attrs.get("phys_addr").unwrap_or(r.span.clone()))
                        .on("memory_region")
                        .help("remove phys_addr, or run this system on the sel4 backend"),
                );
            }
        }
    }
    out
}
