//! Typed, validated model to [`SystemSpec`]: resolve names to indices, program images to
//! components or ELF files, and precompute each PD's view of its channels.

use crate::model::System;
use crate::Board;
use rampart_spec::*;
use sha2::Digest;
use std::collections::HashMap;
use std::path::Path;

/// How a `program_image` path is resolved.
///
/// A bare file name `NAME.elf` (no directory part) where `NAME` is a component of the workspace
/// (a directory `components/NAME`) names that component: `rampart` builds it for the backend.
/// Anything else is an ELF file built elsewhere, as in Microkit, looked up relative to the system
/// file's directory when an image is built.
pub fn resolve_program(path: &str, components: &[String]) -> ProgramRef {
    if !path.contains('/') {
        if let Some(stem) = path.strip_suffix(".elf") {
            if components.iter().any(|c| c == stem) {
                return ProgramRef::Component(stem.to_string());
            }
        }
    }
    ProgramRef::Elf(path.to_string())
}

/// Compile a model that [`crate::validate`] accepted. Returns `None` only if it was not valid.
pub fn compile(sys: &System, board: &Board, base_dir: Option<&Path>, components: &[String]) -> Option<SystemSpec> {
    let pd_index: HashMap<&str, usize> = sys.pds.iter().enumerate().map(|(i, p)| (p.name.as_str(), i)).collect();
    let mr_index: HashMap<&str, usize> = sys.regions.iter().enumerate().map(|(i, r)| (r.name.as_str(), i)).collect();
    let region = |name: &str| mr_index.get(name).and_then(|&i| RegionIndex::try_from(i).ok());
    let pd = |name: &str| pd_index.get(name).and_then(|&i| PdIndex::try_from(i).ok());

    let mut regions = Vec::new();
    for r in &sys.regions {
        let prefill = r.prefill_path.as_ref().map(|path| {
            let bytes = base_dir.and_then(|b| std::fs::read(b.join(path)).ok());
            Prefill { path: path.clone(), size_bytes: bytes.as_ref().map(|b| b.len() as u64), sha256: bytes.as_ref().map(|b| sha2::Sha256::digest(b).into()) }
        });
        regions.push(RegionSpec { name: r.name.clone(), size_bytes: r.size_bytes, page_size_bytes: r.page_size_bytes, phys_addr: r.phys_addr, prefill });
    }

    let mut channels = Vec::new();
    let mut views: Vec<Vec<PdChannel>> = vec![Vec::new(); sys.pds.len()];
    for ch in &sys.channels {
        let [a, b] = &ch.ends;
        let (pa, pb) = (pd(&a.pd)?, pd(&b.pd)?);
        channels.push(ChannelSpec {
            ends: [ChannelEndSpec { pd: pa, id: a.id, notify: a.notify, pp: a.pp }, ChannelEndSpec { pd: pb, id: b.id, notify: b.notify, pp: b.pp }],
        });
        for (me, mine, peer, theirs) in [(pa, a, pb, b), (pb, b, pa, a)] {
            views[usize::from(me)].push(PdChannel {
                id: mine.id,
                peer,
                peer_id: theirs.id,
                may_notify: mine.notify,
                may_call: mine.pp,
                peer_may_call: theirs.pp,
                setvar_id: mine.setvar_id.clone(),
            });
        }
    }

    let mut pds = Vec::new();
    for (i, p) in sys.pds.iter().enumerate() {
        let mut chans = std::mem::take(&mut views[i]);
        chans.sort_by_key(|c| c.id);
        let mut maps = Vec::new();
        for m in &p.maps {
            maps.push(MapSpec {
                region: region(&m.mr)?,
                vaddr: m.vaddr,
                perms: m.perms,
                cached: m.cached,
                setvar_vaddr: m.setvar_vaddr.clone(),
                setvar_size: m.setvar_size.clone(),
            });
        }
        let mut setvars = Vec::new();
        for s in &p.setvars {
            setvars.push(SetVarSpec { symbol: s.symbol.clone(), region: region(&s.region_paddr)? });
        }
        let sched = match (p.budget_us, p.period_us) {
            (None, None) => None,
            (b, per) => {
                let budget_us = b.unwrap_or(DEFAULT_BUDGET_US);
                Some(SchedContext { budget_us, period_us: per.unwrap_or(budget_us) })
            }
        };
        pds.push(PdSpec {
            name: p.name.clone(),
            program: resolve_program(&p.program_image, components),
            priority: p.priority,
            sched,
            passive: p.passive,
            stack_size_bytes: p.stack_size_bytes,
            cpu: p.cpu,
            fpu: p.fpu,
            parent: match p.parent {
                Some((parent, id)) => Some((PdIndex::try_from(parent).ok()?, id)),
                None => None,
            },
            maps,
            channels: chans,
            irqs: p.irqs.iter().map(|i| IrqSpec { id: i.id, source: i.source, setvar_id: i.setvar_id.clone() }).collect(),
            ioports: p.ioports.iter().map(|i| IoPortSpec { id: i.id, addr: i.addr, size: i.size }).collect(),
            setvars,
            grants: p.grants,
        });
    }
    let spec = SystemSpec { board: board.name.clone(), arch: board.arch, pds, regions, channels };
    spec.check().ok()?;
    Some(spec)
}
