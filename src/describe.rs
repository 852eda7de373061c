//! `rampart describe`: a compiled system as a table, a Graphviz graph or JSON.

use rampart_spec::{IrqSource, ProgramRef, SystemSpec};
use serde::Serialize;
use std::fmt::Write as _;

/// Human-readable byte size: exact in the largest binary unit that divides it.
pub fn bytes(n: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if n >= size && n % size == 0 {
            return format!("{} {unit}", n / size);
        }
    }
    format!("{n} B")
}

fn program(p: &ProgramRef) -> String {
    match p {
        ProgramRef::Component(c) => format!("{c} (component)"),
        ProgramRef::Elf(path) => format!("{path} (ELF)"),
    }
}

/// Lay out rows of multi-line cells in aligned columns.
fn table(header: &[&str], rows: &[Vec<Vec<String>>]) -> String {
    let cols = header.len();
    let mut width: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (c, cell) in row.iter().enumerate() {
            for line in cell {
                width[c] = width[c].max(line.chars().count());
            }
        }
    }
    let mut out = String::new();
    let emit = |out: &mut String, cells: &[String]| {
        let mut line = String::new();
        for (c, text) in cells.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(text);
            } else {
                let _ = write!(line, "{:<w$}  ", text, w = width[c]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    emit(&mut out, &header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for row in rows {
        let height = row.iter().map(|c| c.len()).max().unwrap_or(1).max(1);
        for i in 0..height {
            let cells: Vec<String> = row.iter().map(|c| c.get(i).cloned().unwrap_or_default()).collect();
            emit(&mut out, &cells);
        }
    }
    out
}

fn none_if_empty(v: Vec<String>) -> Vec<String> {
    if v.is_empty() {
        vec!["-".to_string()]
    } else {
        v
    }
}

/// The readable form: PDs, regions, then the channel graph.
pub fn text(spec: &SystemSpec, file: &str) -> String {
    let mut out = String::new();
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "{file}: {}, {}, {} on board {} ({})\n",
        plural(spec.pds.len(), "protection domain"),
        plural(spec.regions.len(), "memory region"),
        plural(spec.channels.len(), "channel"),
        spec.board,
        spec.arch.name()
    );
    let name = |i: u8| spec.pds[usize::from(i)].name.clone();
    let rows: Vec<Vec<Vec<String>>> = spec
        .pds
        .iter()
        .enumerate()
        .map(|(i, pd)| {
            let mut sched = vec![format!("{}", pd.priority)];
            if let Some(s) = pd.sched {
                sched.push(format!("{}/{} µs", s.budget_us, s.period_us));
            }
            if pd.passive {
                sched.push("passive".into());
            }
            if pd.grants.exit_system {
                sched.push("grant: exit_system".into());
            }
            if pd.grants.restart_children {
                sched.push("grant: restart_children".into());
            }
            let regions = pd
                .maps
                .iter()
                .map(|m| {
                    let r = &spec.regions[usize::from(m.region)];
                    format!("{} @ {:#x} {}{}", r.name, m.vaddr, m.perms, if m.cached { "" } else { " uncached" })
                })
                .collect();
            let mut chans: Vec<String> = pd
                .channels
                .iter()
                .map(|c| {
                    let mut rights = Vec::new();
                    if c.may_notify {
                        rights.push("notify");
                    }
                    if c.may_call {
                        rights.push("call");
                    }
                    if c.peer_may_call {
                        rights.push("called");
                    }
                    let rights = if rights.is_empty() { "receive only".to_string() } else { rights.join(", ") };
                    format!("{}: {} ({rights})", c.id, name(c.peer))
                })
                .collect();
            chans.extend(pd.irqs.iter().map(|irq| match irq.source {
                IrqSource::Arm { irq: n, .. } => format!("{}: irq {n}", irq.id),
                IrqSource::Ioapic { ioapic, pin, vector, .. } => format!("{}: ioapic {ioapic} pin {pin} vector {vector}", irq.id),
            }));
            chans.extend(pd.ioports.iter().map(|p| format!("{}: ports {:#x}+{:#x}", p.id, p.addr, p.size)));
            let children: Vec<String> = spec
                .pds
                .iter()
                .filter_map(|c| match c.parent {
                    Some((parent, id)) if usize::from(parent) == i => Some(format!("{id}: {}", c.name)),
                    _ => None,
                })
                .collect();
            vec![
                vec![pd.name.clone()],
                sched,
                vec![program(&pd.program)],
                vec![bytes(pd.stack_size_bytes)],
                none_if_empty(regions),
                none_if_empty(chans),
                none_if_empty(children),
            ]
        })
        .collect();
    out.push_str(&table(&["PD", "PRIORITY", "PROGRAM", "STACK", "REGIONS", "CHANNELS", "CHILDREN"], &rows));

    if !spec.regions.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<Vec<String>>> = spec
            .regions
            .iter()
            .enumerate()
            .map(|(ri, r)| {
                let users: Vec<String> = spec
                    .pds
                    .iter()
                    .flat_map(|pd| pd.maps.iter().filter(move |m| usize::from(m.region) == ri).map(move |m| format!("{} {}", pd.name, m.perms)))
                    .collect();
                vec![
                    vec![r.name.clone()],
                    vec![bytes(r.size_bytes)],
                    vec![bytes(r.page_size_bytes)],
                    vec![r.phys_addr.map_or("-".into(), |p| format!("{p:#x}"))],
                    none_if_empty(users),
                ]
            })
            .collect();
        out.push_str(&table(&["REGION", "SIZE", "PAGE", "PHYS", "MAPPED BY"], &rows));
    }

    if !spec.channels.is_empty() {
        out.push_str("\nchannel graph (-> notifies, => calls):\n");
        for ch in &spec.channels {
            let [a, b] = &ch.ends;
            let (na, nb) = (name(a.pd), name(b.pd));
            let arrow = match (a.notify, b.notify) {
                (true, true) => "<->",
                (true, false) => "-->",
                (false, true) => "<--",
                (false, false) => "   ",
            };
            let mut line = format!("  {na}:{} {arrow} {nb}:{}", a.id, b.id);
            if a.pp {
                let _ = write!(line, "   {na} => {nb}");
            }
            if b.pp {
                let _ = write!(line, "   {nb} => {na}");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Graphviz: PDs as nodes, notifications dashed, protected calls bold, regions as boxes.
pub fn dot(spec: &SystemSpec) -> String {
    let mut out = String::from("digraph system {\n  rankdir=LR;\n  node [shape=ellipse];\n");
    for pd in &spec.pds {
        let _ = writeln!(out, "  {} [label={}];", dot_id(&pd.name), dot_id(&format!("{}\\nprio {}", pd.name, pd.priority)).replace("\\\\n", "\\n"));
    }
    for r in &spec.regions {
        let _ = writeln!(
            out,
            "  {} [shape=box, style=filled, fillcolor=lightgrey, label={}];",
            dot_id(&format!("mr:{}", r.name)),
            dot_id(&format!("{}\\n{}", r.name, bytes(r.size_bytes))).replace("\\\\n", "\\n")
        );
    }
    for ch in &spec.channels {
        let [a, b] = &ch.ends;
        let (na, nb) = (&spec.pds[usize::from(a.pd)].name, &spec.pds[usize::from(b.pd)].name);
        let ids = format!("{}:{}", a.id, b.id);
        match (a.notify, b.notify) {
            (true, true) => {
                let _ = writeln!(out, "  {} -> {} [dir=both, style=dashed, label={}];", dot_id(na), dot_id(nb), dot_id(&format!("notify {ids}")));
            }
            (true, false) => {
                let _ = writeln!(out, "  {} -> {} [style=dashed, label={}];", dot_id(na), dot_id(nb), dot_id(&format!("notify {ids}")));
            }
            (false, true) => {
                let _ = writeln!(out, "  {} -> {} [style=dashed, label={}];", dot_id(nb), dot_id(na), dot_id(&format!("notify {ids}")));
            }
            (false, false) => {}
        }
        if a.pp {
            let _ = writeln!(out, "  {} -> {} [style=bold, label={}];", dot_id(na), dot_id(nb), dot_id(&format!("call {ids}")));
        }
        if b.pp {
            let _ = writeln!(out, "  {} -> {} [style=bold, label={}];", dot_id(nb), dot_id(na), dot_id(&format!("call {ids}")));
        }
    }
    for pd in &spec.pds {
        for m in &pd.maps {
            let r = &spec.regions[usize::from(m.region)];
            let _ = writeln!(
                out,
                "  {} -> {} [arrowhead=none, color=grey40, label={}];",
                dot_id(&pd.name),
                dot_id(&format!("mr:{}", r.name)),
                dot_id(&m.perms.to_string())
            );
        }
        if let Some((parent, id)) = pd.parent {
            let _ = writeln!(
                out,
                "  {} -> {} [style=dotted, label={}];",
                dot_id(&spec.pds[usize::from(parent)].name),
                dot_id(&pd.name),
                dot_id(&format!("child {id}"))
            );
        }
    }
    out.push_str("}\n");
    out
}

#[derive(Serialize)]
struct JsonDescription<'a> {
    file: &'a str,
    /// SHA-256 of the encoded spec, hex.
    spec_sha256: String,
    spec_format_version: u16,
    spec: &'a SystemSpec,
}

/// JSON for scripts: the compiled spec itself, with its digest.
pub fn json(spec: &SystemSpec, file: &str) -> String {
    let digest: String = spec.digest().iter().map(|b| format!("{b:02x}")).collect();
    let d = JsonDescription { file, spec_sha256: digest, spec_format_version: rampart_spec::FORMAT_VERSION, spec };
    serde_json::to_string_pretty(&d).unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string())) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_shown_in_the_largest_exact_unit() {
        assert_eq!(bytes(4096), "4 KiB");
        assert_eq!(bytes(0x20_0000), "2 MiB");
        assert_eq!(bytes(0x1800), "6 KiB");
        assert_eq!(bytes(100), "100 B");
    }

    #[test]
    fn tables_align_multi_line_cells() {
        let t = table(&["A", "B"], &[vec![vec!["x".into()], vec!["1".into(), "2".into()]]]);
        assert_eq!(t, "A  B\nx  1\n   2\n");
    }
}
