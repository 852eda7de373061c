//! Whole-system rules: the checks that need more than one element.
//!
//! Microkit's rules, with positions: at least one and at most 63 PDs; unique PD and region names;
//! references to existing PDs and regions; channel, IRQ and I/O port ids unique within a PD;
//! protected procedure calls only towards strictly higher priority, and a call graph without
//! cycles; maps aligned to their region's page size, inside the user window below the stack, and
//! not overlapping within one PD; fixed physical regions not overlapping; each hardware interrupt
//! and I/O port given to at most one PD; unique setvar symbols within a PD; prefill files that
//! exist and fit; on x86_64, `<setvar region_paddr>` only of regions with a `phys_addr`. Virtual
//! machines: unique names, guest maps of existing regions that do not overlap, and on x86_64 no
//! child PDs and no protected procedure calls into their PD. IOMMU address spaces: unique names,
//! domain ids and devices; maps of small-page regions, aligned, below [`IOVA_SPACE_BYTES`] and
//! not overlapping within one space. MSI ids and vectors share the PD's ids and the system's
//! vectors with its other IRQs. Unused regions are warned about. Rampart's grants: `rampart:restart_children`
//! only on a PD that has children.

use crate::diag::{Diagnostic, LineIndex};
use crate::model::*;
use crate::parse::IOVA_SPACE_BYTES;
use crate::Board;
use rampart_spec::{Arch, IrqSource, MAX_PDS};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Guard pages kept free below each PD's stack.
pub const STACK_GUARD_BYTES: u64 = 0x1000;

pub fn validate(src: &str, sys: &System, board: &Board, base_dir: Option<&Path>, diags: &mut Vec<Diagnostic>) {
    // Line numbers for notes come from an index: a file may have a great many duplicates.
    let lines = LineIndex::new(src);
    let line = |span: &Span| lines.line(span.start);

    if sys.pds.is_empty() {
        diags.push(
            Diagnostic::error("the system has no protection domains")
                .help("add at least one <protection_domain name=\"...\"><program_image path=\"...\"/></protection_domain>"),
        );
    }
    if sys.pds.len() > MAX_PDS {
        diags.push(
            Diagnostic::error(format!("the system has {} protection domains, more than the limit of {MAX_PDS}", sys.pds.len()))
                .at(sys.pds[MAX_PDS].span.clone())
                .on("protection_domain")
                .help("seL4 Microkit systems have at most 63 protection domains (one badge bit each for the monitor)"),
        );
    }

    // Names.
    let mut pd_by_name: HashMap<&str, usize> = HashMap::new();
    for (i, pd) in sys.pds.iter().enumerate() {
        if pd.name.is_empty() {
            continue;
        }
        if let Some(&first) = pd_by_name.get(pd.name.as_str()) {
            diags.push(
                Diagnostic::error(format!("protection domain `{}` is defined twice", pd.name))
                    .at(pd.attr_span("name"))
                    .on("protection_domain")
                    .note(format!("the first definition is on line {}", line(&sys.pds[first].span)))
                    .help("protection domain names are unique within a system"),
            );
        } else {
            pd_by_name.insert(&pd.name, i);
        }
    }
    // Rampart grants: restarting children needs children.
    for (i, pd) in sys.pds.iter().enumerate() {
        if pd.grants.restart_children && !sys.pds.iter().any(|c| c.parent.is_some_and(|(p, _)| p == i)) {
            diags.push(
                Diagnostic::error(format!("protection domain `{}` is granted rampart:restart_children but has no child protection domains", pd.name))
                    .at(pd.attr_span("rampart:restart_children"))
                    .on("protection_domain")
                    .help("nest the PDs it supervises inside it, or remove the grant"),
            );
        }
    }
    let mut mr_by_name: HashMap<&str, usize> = HashMap::new();
    for (i, mr) in sys.regions.iter().enumerate() {
        if let Some(&first) = mr_by_name.get(mr.name.as_str()) {
            diags.push(
                Diagnostic::error(format!("memory region `{}` is defined twice", mr.name))
                    .at(mr.attrs.get("name").unwrap_or(mr.span.clone()))
                    .on("memory_region")
                    .note(format!("the first definition is on line {}", line(&sys.regions[first].span)))
                    .help("memory region names are unique within a system"),
            );
        } else {
            mr_by_name.insert(&mr.name, i);
        }
    }
    // Built once, and listing at most MAX_LISTED_NAMES names: the help of every dangling
    // reference carries a copy.
    let region_names = if sys.regions.is_empty() {
        "there are no <memory_region>s".to_string()
    } else {
        format!("the regions are {}", name_list(sys.regions.iter().map(|r| r.name.as_str())))
    };
    let region_names = || region_names.clone();
    let pd_names = format!("the protection domains are {}", name_list(sys.pds.iter().map(|p| p.name.as_str())));
    let pd_names = || pd_names.clone();

    // Maps.
    let arch = board.arch;
    let mut used_regions = vec![false; sys.regions.len()];
    for pd in &sys.pds {
        let limit = arch.stack_top() - pd.stack_size_bytes - STACK_GUARD_BYTES;
        let past_limit = |r: &Region, m: &Map| {
            Diagnostic::error(format!(
                "`{}` mapped at {:#x} ({:#x} bytes) runs past {limit:#x}, where `{}`'s stack guard begins",
                r.name, m.vaddr, r.size_bytes, pd.name
            ))
            .help(format!(
                "maps must end at or below {limit:#x} on {}: the top of the user window holds the stack ({:#x} bytes), a guard page and the IPC buffer",
                arch.name(),
                pd.stack_size_bytes
            ))
        };
        let owner = format!("`{}`", pd.name);
        let places = MapPlaces { limit, past_limit: &past_limit, owner: &owner, overlap_help: "give each map in a protection domain its own address range" };
        place_maps(&pd.maps, sys, &mr_by_name, &mut used_regions, &places, &line, &region_names(), diags);
        for s in &pd.setvars {
            if let Some(&ri) = mr_by_name.get(s.region_paddr.as_str()) {
                used_regions[ri] = true;
                let r = &sys.regions[ri];
                if arch == Arch::X86_64 && r.phys_addr.is_none() {
                    diags.push(
                        Diagnostic::error(format!("<setvar> asks for the physical address of `{}`, which has no phys_addr, and the board is x86_64", r.name))
                            .at(s.attrs.get("region_paddr").unwrap_or(s.span.clone()))
                            .on("setvar")
                            .note(format!("`{}` is on line {}", r.name, line(&r.span)))
                            .help("x86_64's physical memory layout is known only at boot: give the region a phys_addr"),
                    );
                }
            } else {
                diags.push(
                    Diagnostic::error(format!("<setvar> names memory region `{}`, which does not exist", s.region_paddr))
                        .at(s.attrs.get("region_paddr").unwrap_or(s.span.clone()))
                        .on("setvar")
                        .help(region_names()),
                );
            }
        }
    }

    // Virtual machines: unique names, guest maps that name regions and do not overlap, and on
    // x86_64 (where the guest runs on its PD's thread) no child PDs.
    let mut vm_names: HashMap<&str, &VirtualMachine> = HashMap::new();
    for (pi, pd) in sys.pds.iter().enumerate() {
        let Some(vm) = &pd.vm else { continue };
        if let Some(first) = vm_names.get(vm.name.as_str()) {
            diags.push(
                Diagnostic::error(format!("virtual machine `{}` is defined twice", vm.name))
                    .at(vm.attrs.get("name").unwrap_or(vm.span.clone()))
                    .on("virtual_machine")
                    .note(format!("the first definition is on line {}", line(&first.span)))
                    .help("virtual machine names are unique within a system"),
            );
        } else {
            vm_names.insert(&vm.name, vm);
        }
        if arch == Arch::X86_64 {
            if let Some(child) = sys.pds.iter().find(|c| c.parent.is_some_and(|(p, _)| p == pi)) {
                diags.push(
                    Diagnostic::error(format!(
                        "protection domain `{}` runs a virtual machine and has child protection domains, which x86_64 cannot do",
                        pd.name
                    ))
                    .at(child.span.clone())
                    .on("protection_domain")
                    .note(format!("the virtual machine is on line {}", line(&vm.span)))
                    .help("while the vCPU runs, the PD hears only its notifications: move the child PDs to another PD"),
                );
            }
        }
        let top = arch.user_top();
        let past_limit = |r: &Region, m: &Map| {
            Diagnostic::error(format!(
                "`{}` mapped at {:#x} ({:#x} bytes) runs past {top:#x}, the end of the guest's address space",
                r.name, m.vaddr, r.size_bytes
            ))
            .help(format!("guest maps end at or below {top:#x} on {}", arch.name()))
        };
        let owner = format!("virtual machine `{}`", vm.name);
        let places =
            MapPlaces { limit: top, past_limit: &past_limit, owner: &owner, overlap_help: "give each map in a virtual machine its own guest-physical range" };
        place_maps(&vm.maps, sys, &mr_by_name, &mut used_regions, &places, &line, &region_names(), diags);
    }

    // IOMMU address spaces: unique names, domain ids and devices; maps of existing small-page
    // regions, aligned, inside the I/O virtual address space and not overlapping in one space.
    let mut space_names: HashMap<&str, &IoSpace> = HashMap::new();
    let mut domain_ids: HashMap<u64, &IoSpace> = HashMap::new();
    let mut devices: HashMap<PciAddr, &IoSpace> = HashMap::new();
    for sp in &sys.io_spaces {
        let attr = |a: &str| sp.attrs.get(a).unwrap_or(sp.span.clone());
        let mut dup = |what: String, at: Span, first: &IoSpace, help: &str| {
            diags.push(Diagnostic::error(what).at(at).on("io_address_space").note(format!("the first is on line {}", line(&first.span))).help(help.to_string()))
        };
        match space_names.get(sp.name.as_str()) {
            Some(first) => {
                dup(format!("IO address space `{}` is defined twice", sp.name), attr("name"), first, "IO address space names are unique within a system")
            }
            None => {
                space_names.insert(&sp.name, sp);
            }
        }
        match domain_ids.get(&sp.domain_id) {
            Some(first) => dup(
                format!("domain_id {} is used by two IO address spaces", sp.domain_id),
                attr("domain_id"),
                first,
                "each IO address space needs its own IOMMU domain id: the IOMMU caches translations by domain",
            ),
            None => {
                domain_ids.insert(sp.domain_id, sp);
            }
        }
        match devices.get(&sp.peripheral) {
            Some(first) => dup(
                format!("PCI device {} has two IO address spaces", sp.peripheral),
                attr("peripheral_id"),
                first,
                "a device has one IO address space; map more regions into the first",
            ),
            None => {
                devices.insert(sp.peripheral, sp);
            }
        }
        let mut placed: BTreeMap<u64, (u64, &IoMap)> = BTreeMap::new();
        for m in &sp.maps {
            let Some(&ri) = mr_by_name.get(m.mr.as_str()) else {
                diags.push(
                    Diagnostic::error(format!("<iomap> names memory region `{}`, which does not exist", m.mr))
                        .at(m.attrs.get("mr").unwrap_or(m.span.clone()))
                        .on("iomap")
                        .help(region_names()),
                );
                continue;
            };
            used_regions[ri] = true;
            let r = &sys.regions[ri];
            let vspan = m.attrs.get("iovaddr").unwrap_or(m.span.clone());
            if r.page_size_bytes != arch.min_page_size() {
                diags.push(
                    Diagnostic::error(format!("`{}` has {:#x}-byte pages, which seL4 cannot map into an IOMMU address space", r.name, r.page_size_bytes))
                        .at(m.attrs.get("mr").unwrap_or(m.span.clone()))
                        .on("iomap")
                        .note(format!("`{}` is on line {}", r.name, line(&r.span)))
                        .help(format!("give `{}` page_size=\"{:#x}\": seL4 maps only small pages in the IOMMU", r.name, arch.min_page_size())),
                );
                continue;
            }
            if m.iovaddr % r.page_size_bytes != 0 {
                diags.push(
                    Diagnostic::error(format!("iovaddr {:#x} is not aligned to the page size of `{}` ({:#x})", m.iovaddr, r.name, r.page_size_bytes))
                        .at(vspan)
                        .on("iomap")
                        .help(format!("iovaddr must be a multiple of {:#x}", r.page_size_bytes)),
                );
                continue;
            }
            let Some(end) = m.iovaddr.checked_add(r.size_bytes).filter(|&e| e <= IOVA_SPACE_BYTES) else {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` mapped at I/O address {:#x} ({:#x} bytes) runs past {IOVA_SPACE_BYTES:#x}, the end of the IO address space",
                        r.name, m.iovaddr, r.size_bytes
                    ))
                    .at(vspan)
                    .on("iomap")
                    .help(format!("I/O virtual addresses are below {IOVA_SPACE_BYTES:#x} (2^39)")),
                );
                continue;
            };
            if let Some((s, (e, other))) = placed.range(..end).next_back().filter(|(_, (e, _))| m.iovaddr < *e) {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` mapped at I/O addresses [{:#x}, {end:#x}) overlaps `{}` at [{s:#x}, {e:#x}) in IO address space `{}`",
                        r.name, m.iovaddr, other.mr, sp.name
                    ))
                    .at(vspan)
                    .on("iomap")
                    .note(format!("the other map is on line {}", line(&other.span)))
                    .help("give each map in an IO address space its own I/O address range"),
                );
                continue;
            }
            placed.insert(m.iovaddr, (end, m));
        }
    }

    // Setvar symbols unique within a PD (maps, setvars, IRQs, and its channel ends).
    let mut symbols: Vec<HashMap<String, Span>> = vec![HashMap::new(); sys.pds.len()];
    let mut claim_symbol = |pd: usize, sym: &str, span: Span, el: &str, diags: &mut Vec<Diagnostic>| {
        if let Some(first) = symbols[pd].get(sym) {
            diags.push(
                Diagnostic::error(format!("symbol `{sym}` is set twice in `{}`", sys.pds[pd].name))
                    .at(span)
                    .on(el)
                    .note(format!("it is first set on line {}", line(first)))
                    .help("each program symbol of a PD can be patched with one value"),
            );
        } else {
            symbols[pd].insert(sym.to_string(), span);
        }
    };
    for (pi, pd) in sys.pds.iter().enumerate() {
        // A guest's maps patch the symbols of its PD's program.
        for m in pd.maps.iter().chain(pd.vm.iter().flat_map(|vm| &vm.maps)) {
            if let Some(s) = &m.setvar_vaddr {
                claim_symbol(pi, s, m.attrs.get("setvar_vaddr").unwrap_or(m.span.clone()), "map", diags);
            }
            if let Some(s) = &m.setvar_size {
                claim_symbol(pi, s, m.attrs.get("setvar_size").unwrap_or(m.span.clone()), "map", diags);
            }
        }
        for m in pd.maps.iter().chain(pd.vm.iter().flat_map(|vm| &vm.maps)) {
            let Some(s) = &m.setvar_prefill_size else { continue };
            let at = m.attrs.get("setvar_prefill_size").unwrap_or(m.span.clone());
            if let Some(r) = mr_by_name.get(m.mr.as_str()).map(|&ri| &sys.regions[ri]).filter(|r| r.prefill_path.is_none()) {
                diags.push(
                    Diagnostic::error(format!("setvar_prefill_size asks for the size of `{}`'s prefill data, and it has no prefill_path", r.name))
                        .at(at.clone())
                        .on("map")
                        .note(format!("`{}` is on line {}", r.name, line(&r.span)))
                        .help("give the region a prefill_path, or remove setvar_prefill_size"),
                );
            }
            claim_symbol(pi, s, at, "map", diags);
        }
        for s in &pd.setvars {
            claim_symbol(pi, &s.symbol, s.attrs.get("symbol").unwrap_or(s.span.clone()), "setvar", diags);
        }
        for i in &pd.irqs {
            if let Some(s) = &i.setvar_id {
                claim_symbol(pi, s, i.attrs.get("setvar_id").unwrap_or(i.span.clone()), "irq", diags);
            }
        }
        for m in &pd.msis {
            if let Some(s) = &m.setvar_id {
                claim_symbol(pi, s, m.attrs.get("setvar_id").unwrap_or(m.span.clone()), "irq", diags);
            }
        }
        for v in pd.vm.iter().flat_map(|vm| &vm.vcpus) {
            if let Some(s) = &v.setvar_id {
                claim_symbol(pi, s, v.attrs.get("setvar_id").unwrap_or(v.span.clone()), "vcpu", diags);
            }
        }
    }

    // Ids shared by channels, IRQs and I/O ports within a PD.
    let mut ids: Vec<HashMap<u8, (Span, &'static str)>> = vec![HashMap::new(); sys.pds.len()];
    let mut claim_id = |pd: usize, id: u8, span: Span, what: &'static str, diags: &mut Vec<Diagnostic>| {
        if let Some((first, first_what)) = ids[pd].get(&id) {
            let free = (0..=rampart_spec::MAX_CHANNEL_ID).find(|i| !ids[pd].contains_key(i));
            diags.push(
                Diagnostic::error(format!("id {id} is used twice in `{}`", sys.pds[pd].name))
                    .at(span)
                    .on(if what == "channel" { "end" } else { what })
                    .note(format!("it is first used by the {first_what} on line {}", line(first)))
                    .help(format!(
                        "channels, IRQs and I/O ports of one PD need distinct ids from 0 to 62{}",
                        free.map(|f| format!("; {f} is free")).unwrap_or_default()
                    )),
            );
        } else {
            ids[pd].insert(id, (span, what));
        }
    };
    for (pi, pd) in sys.pds.iter().enumerate() {
        for i in &pd.irqs {
            claim_id(pi, i.id, i.attrs.get("id").unwrap_or(i.span.clone()), "irq", diags);
        }
        for p in &pd.ioports {
            claim_id(pi, p.id, p.attrs.get("id").unwrap_or(p.span.clone()), "ioport", diags);
        }
        for m in &pd.msis {
            claim_id(pi, m.id, m.attrs.get("id").unwrap_or(m.span.clone()), "irq", diags);
        }
    }

    // Channels.
    let mut calls: Vec<Vec<(usize, &Channel)>> = vec![Vec::new(); sys.pds.len()];
    for ch in &sys.channels {
        let mut idx = [None, None];
        for (k, e) in ch.ends.iter().enumerate() {
            match pd_by_name.get(e.pd.as_str()) {
                Some(&pi) => {
                    idx[k] = Some(pi);
                    claim_id(pi, e.id, e.attrs.get("id").unwrap_or(e.span.clone()), "channel", diags);
                    if let Some(s) = &e.setvar_id {
                        claim_symbol(pi, s, e.attrs.get("setvar_id").unwrap_or(e.span.clone()), "end", diags);
                    }
                }
                None => diags.push(
                    Diagnostic::error(format!("channel end names protection domain `{}`, which does not exist", e.pd))
                        .at(e.attrs.get("pd").unwrap_or(e.span.clone()))
                        .on("end")
                        .help(pd_names()),
                ),
            }
        }
        let [Some(a), Some(b)] = idx else { continue };
        for (k, (from, to)) in [(a, b), (b, a)].into_iter().enumerate() {
            let e = &ch.ends[k];
            if !e.pp {
                continue;
            }
            calls[from].push((to, ch));
            let (pf, pt) = (&sys.pds[from], &sys.pds[to]);
            if let (Arch::X86_64, Some(vm)) = (arch, &pt.vm) {
                diags.push(
                    Diagnostic::error(format!("`{}` may not make protected procedure calls to `{}`, which runs a virtual machine on x86_64", pf.name, pt.name))
                        .at(e.attrs.get("pp").unwrap_or(e.span.clone()))
                        .on("end")
                        .note(format!("the virtual machine is on line {}", line(&vm.span)))
                        .help(format!("while the vCPU runs, `{}` hears only notifications: notify it instead, or let it call you", pt.name)),
                );
            }
            if pt.priority <= pf.priority {
                diags.push(
                    Diagnostic::error(format!(
                        "`{}` (priority {}) may not make protected procedure calls to `{}` (priority {})",
                        pf.name, pf.priority, pt.name, pt.priority
                    ))
                    .at(e.attrs.get("pp").unwrap_or(e.span.clone()))
                    .on("end")
                    .help(format!(
                        "a protected procedure call goes only to a PD of strictly higher priority: raise `{}` above {} or lower `{}`",
                        pt.name, pf.priority, pf.name
                    )),
                );
            }
        }
    }
    if let Some(cycle) = find_cycle(&calls) {
        let names: Vec<&str> = cycle.iter().map(|&(p, _)| sys.pds[p].name.as_str()).collect();
        let first = cycle[0].1;
        diags.push(
            Diagnostic::error(format!("protected procedure calls form a cycle: {} -> {}", names.join(" -> "), names[0]))
                .at(first.span.clone())
                .on("channel")
                .help("the call graph must be acyclic: a PD cannot call itself, even through others"),
        );
    }

    // Hardware resources: each interrupt and I/O port to one PD only.
    let mut irq_owner: HashMap<(u8, u32), (usize, Span)> = HashMap::new();
    let mut vector_owner: HashMap<u8, (usize, Span)> = HashMap::new();
    let mut ports: BTreeMap<u32, (u32, usize, &IoPort)> = BTreeMap::new();
    for (pi, pd) in sys.pds.iter().enumerate() {
        for i in &pd.irqs {
            let (key, what) = match i.source {
                IrqSource::Arm { irq, .. } => ((0, irq), format!("irq {irq}")),
                IrqSource::Ioapic { ioapic, pin, .. } => ((1 + ioapic, u32::from(pin)), format!("I/O APIC {ioapic} pin {pin}")),
            };
            if let Some((owner, first)) = irq_owner.get(&key) {
                diags.push(
                    Diagnostic::error(format!("{what} is given to `{}` and to `{}`", sys.pds[*owner].name, pd.name))
                        .at(i.span.clone())
                        .on("irq")
                        .note(format!("it is first given on line {}", line(first)))
                        .help("a hardware interrupt is delivered to exactly one protection domain"),
                );
            } else {
                irq_owner.insert(key, (pi, i.span.clone()));
            }
            if let IrqSource::Ioapic { vector, .. } = i.source {
                if let Some((owner, first)) = vector_owner.get(&vector) {
                    diags.push(
                        Diagnostic::error(format!("vector {vector} is used by two IRQs (`{}` and `{}`)", sys.pds[*owner].name, pd.name))
                            .at(i.attrs.get("vector").unwrap_or(i.span.clone()))
                            .on("irq")
                            .note(format!("it is first used on line {}", line(first)))
                            .help("each IRQ needs its own CPU vector"),
                    );
                } else {
                    vector_owner.insert(vector, (pi, i.span.clone()));
                }
            }
        }
        for m in &pd.msis {
            if let Some((owner, first)) = vector_owner.get(&m.vector) {
                diags.push(
                    Diagnostic::error(format!("vector {} is used by two IRQs (`{}` and `{}`)", m.vector, sys.pds[*owner].name, pd.name))
                        .at(m.attrs.get("vector").unwrap_or(m.span.clone()))
                        .on("irq")
                        .note(format!("it is first used on line {}", line(first)))
                        .help("each IRQ needs its own CPU vector"),
                );
            } else {
                vector_owner.insert(m.vector, (pi, m.span.clone()));
            }
        }
        for p in &pd.ioports {
            let (s, e) = (u32::from(p.addr), u32::from(p.addr) + p.size);
            if let Some((os, (oe, owner, other))) = ports.range(..e).next_back().filter(|(_, (oe, _, _))| s < *oe) {
                diags.push(
                    Diagnostic::error(format!("I/O ports [{s:#x}, {e:#x}) of `{}` overlap [{os:#x}, {oe:#x}) of `{}`", pd.name, sys.pds[*owner].name))
                        .at(p.attrs.get("addr").unwrap_or(p.span.clone()))
                        .on("ioport")
                        .note(format!("the other range is on line {}", line(&other.span)))
                        .help("an I/O port belongs to at most one protection domain, once"),
                );
            } else {
                ports.insert(s, (e, pi, p));
            }
        }
    }

    // Fixed physical regions.
    let mut fixed: BTreeMap<u64, (u64, &Region)> = BTreeMap::new();
    for r in &sys.regions {
        let Some(p) = r.phys_addr else { continue };
        let Some(end) = p.checked_add(r.size_bytes) else { continue };
        if let Some((s, (e, other))) = fixed.range(..end).next_back().filter(|(_, (e, _))| p < *e) {
            diags.push(
                Diagnostic::error(format!("memory region `{}` at physical [{p:#x}, {end:#x}) overlaps `{}` at [{s:#x}, {e:#x})", r.name, other.name))
                    .at(r.attrs.get("phys_addr").unwrap_or(r.span.clone()))
                    .on("memory_region")
                    .note(format!("`{}` is on line {}", other.name, line(&other.span)))
                    .help("regions with fixed physical addresses must not overlap; map the same region twice instead"),
            );
        } else {
            fixed.insert(p, (end, r));
        }
    }

    // Prefill files.
    if base_dir.is_none() {
        for r in sys.regions.iter().filter(|r| r.size_from_prefill) {
            diags.push(
                Diagnostic::error(format!("the size of region `{}` comes from its prefill file, which is not read here", r.name))
                    .at(r.attrs.get("prefill_path").unwrap_or(r.span.clone()))
                    .on("memory_region")
                    .help("give the region a size, or check the system file by its path so that the prefill file can be found"),
            );
        }
    }
    if let Some(base) = base_dir {
        for r in &sys.regions {
            let Some(path) = &r.prefill_path else { continue };
            let full = base.join(path);
            let span = r.attrs.get("prefill_path").unwrap_or(r.span.clone());
            match std::fs::metadata(&full) {
                Ok(meta) if meta.is_file() && meta.len() == 0 => diags.push(
                    Diagnostic::error(format!("prefill file `{path}` is empty"))
                        .at(span)
                        .on("memory_region")
                        .help("a prefill file holds the bytes the region starts with; leave prefill_path out for a zeroed region"),
                ),
                Ok(meta) if meta.is_file() && meta.len() <= r.size_bytes => {}
                Ok(meta) if meta.is_file() => diags.push(
                    Diagnostic::error(format!("prefill file `{path}` is {} bytes, larger than region `{}` ({} bytes)", meta.len(), r.name, r.size_bytes))
                        .at(span)
                        .on("memory_region")
                        .help(format!("make the region at least {:#x} bytes", meta.len().div_ceil(r.page_size_bytes) * r.page_size_bytes)),
                ),
                _ => diags.push(
                    Diagnostic::error(format!("prefill file `{path}` cannot be read"))
                        .at(span)
                        .on("memory_region")
                        .help(format!("prefill_path is relative to the system file's directory; looked for {}", full.display())),
                ),
            }
        }
    }

    for (i, used) in used_regions.iter().enumerate() {
        if !used {
            let r = &sys.regions[i];
            diags.push(
                Diagnostic::warning(format!("memory region `{}` is not mapped by any protection domain", r.name))
                    .at(r.attrs.get("name").unwrap_or(r.span.clone()))
                    .on("memory_region")
                    .help("map it with <map mr=\"...\"> in a protection domain, or remove it"),
            );
        }
    }
}

/// Most names a help text lists.
const MAX_LISTED_NAMES: usize = 20;

/// Where one owner's maps may go: below `limit`, each in its own range.
struct MapPlaces<'a> {
    limit: u64,
    /// The error for a map that runs past `limit` (located and tagged by [`place_maps`]).
    past_limit: &'a dyn Fn(&Region, &Map) -> Diagnostic,
    /// How overlap errors name the owner: "`pd`" or "virtual machine `vm`".
    owner: &'a str,
    overlap_help: &'a str,
}

/// Check one owner's maps (a PD's, or a virtual machine's guest maps): each names an existing
/// region, is aligned to its page size, ends at or below the limit, and overlaps no other map of
/// the same owner. Marks the regions used.
#[allow(clippy::too_many_arguments)]
fn place_maps(
    maps: &[Map],
    sys: &System,
    mr_by_name: &HashMap<&str, usize>,
    used_regions: &mut [bool],
    places: &MapPlaces,
    line: &dyn Fn(&Span) -> usize,
    region_names: &str,
    diags: &mut Vec<Diagnostic>,
) {
    // Start → (end, map) of the disjoint ranges placed so far.
    let mut placed: BTreeMap<u64, (u64, &Map)> = BTreeMap::new();
    for m in maps {
        let Some(&ri) = mr_by_name.get(m.mr.as_str()) else {
            diags.push(
                Diagnostic::error(format!("<map> names memory region `{}`, which does not exist", m.mr))
                    .at(m.attrs.get("mr").unwrap_or(m.span.clone()))
                    .on("map")
                    .help(region_names.to_string()),
            );
            continue;
        };
        used_regions[ri] = true;
        let r = &sys.regions[ri];
        let vspan = m.attrs.get("vaddr").unwrap_or(m.span.clone());
        if m.vaddr % r.page_size_bytes != 0 {
            diags.push(
                Diagnostic::error(format!("vaddr {:#x} is not aligned to the page size of `{}` ({:#x})", m.vaddr, r.name, r.page_size_bytes))
                    .at(vspan)
                    .on("map")
                    .help(format!("vaddr must be a multiple of {:#x}", r.page_size_bytes)),
            );
            continue;
        }
        let Some(end) = m.vaddr.checked_add(r.size_bytes).filter(|&e| e <= places.limit) else {
            diags.push((places.past_limit)(r, m).at(vspan).on("map"));
            continue;
        };
        if let Some((s, (e, other))) = placed.range(..end).next_back().filter(|(_, (e, _))| m.vaddr < *e) {
            diags.push(
                Diagnostic::error(format!("`{}` mapped at [{:#x}, {end:#x}) overlaps `{}` at [{s:#x}, {e:#x}) in {}", r.name, m.vaddr, other.mr, places.owner))
                    .at(vspan)
                    .on("map")
                    .note(format!("the other map is on line {}", line(&other.span)))
                    .help(places.overlap_help.to_string()),
            );
            continue;
        }
        placed.insert(m.vaddr, (end, m));
    }
}

/// "`a`, `b`, `c`" in sorted order, at most [`MAX_LISTED_NAMES`] of them, then how many more.
fn name_list<'n>(names: impl Iterator<Item = &'n str>) -> String {
    let mut n: Vec<&str> = names.collect();
    n.sort();
    let mut s = n.iter().take(MAX_LISTED_NAMES).map(|x| format!("`{x}`")).collect::<Vec<_>>().join(", ");
    if n.len() > MAX_LISTED_NAMES {
        s += &format!(" and {} more", n.len() - MAX_LISTED_NAMES);
    }
    s
}

/// A cycle in the call graph, as (PD, channel of the call out of it), if there is one.
fn find_cycle<'c>(calls: &[Vec<(usize, &'c Channel)>]) -> Option<Vec<(usize, &'c Channel)>> {
    // Iterative depth-first search with colours; 63 nodes at most, but no recursion on input.
    let n = calls.len();
    let mut colour = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    for start in 0..n {
        if colour[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        let mut via: Vec<Option<&Channel>> = vec![None];
        colour[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&(to, ch)) = calls[node].get(*next) {
                *next += 1;
                match colour[to] {
                    0 => {
                        colour[to] = 1;
                        stack.push((to, 0));
                        via.push(Some(ch));
                    }
                    1 => {
                        let pos = stack.iter().position(|&(p, _)| p == to)?;
                        let mut cycle = Vec::new();
                        for k in pos..stack.len() {
                            let out = if k + 1 < stack.len() { via[k + 1] } else { Some(ch) };
                            cycle.push((stack[k].0, out?));
                        }
                        return Some(cycle);
                    }
                    _ => {}
                }
            } else {
                colour[node] = 2;
                stack.pop();
                via.pop();
            }
        }
    }
    None
}
