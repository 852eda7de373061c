//! Bindings from the system file, the cluster's client keys (rampart-cluster), and the workload
//! chosen at build time.
fn main() {
    let spec = rampart_sdf::bindings::build_script();
    rampart_cluster::build_script(&spec, |secret, roles| {
        rampart_cluster::peer_source(secret, roles.replicas.len(), roles.clients.len() * rampart_cluster::CLIENTS_PER_PD)
            + &rampart_cluster::topology::client_links_source(roles)
    });
    println!("cargo:rerun-if-env-changed=RAMPART_CLIENT_WORKLOAD");
    println!("cargo:rerun-if-env-changed=RAMPART_CLIENT_OPS");
    let workload = match std::env::var("RAMPART_CLIENT_WORKLOAD").as_deref() {
        Err(_) | Ok("check") => "Check",
        Ok("null") => "Null",
        Ok("kv1k") => "Kv1k",
        Ok(other) => {
            eprintln!("error: RAMPART_CLIENT_WORKLOAD is `{other}`; it must be `check` (the default), `null` or `kv1k`");
            std::process::exit(1);
        }
    };
    let ops: u64 = match std::env::var("RAMPART_CLIENT_OPS") {
        Err(_) => 3000,
        Ok(s) => s.parse().ok().filter(|n| *n > 0 && *n <= 10_000_000).unwrap_or_else(|| {
            eprintln!("error: RAMPART_CLIENT_OPS is `{s}`; it must be a count from 1 to 10000000");
            std::process::exit(1);
        }),
    };
    let out = std::path::PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("workload.rs");
    std::fs::write(out, format!("pub const WORKLOAD: super::Workload = super::Workload::{workload};\npub const OPS_TOTAL: u64 = {ops};\n")).unwrap();
}
