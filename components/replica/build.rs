//! Bindings from the system file, and the cluster's client keys and link table (rampart-cluster).
fn main() {
    let spec = rampart_sdf::bindings::build_script();
    rampart_cluster::build_script(&spec, |secret, roles| {
        rampart_cluster::peer_source(secret, roles.replicas.len(), roles.clients.len() * rampart_cluster::CLIENTS_PER_PD)
            + &rampart_cluster::topology::replica_links_source(roles)
    });
}
