//! Bindings from the system file, and the cluster's USIG secrets (rampart-cluster), which only
//! this program holds.
fn main() {
    let spec = rampart_sdf::bindings::build_script();
    println!("cargo:rerun-if-env-changed=RAMPART_USIG_SCHEME");
    let scheme = match std::env::var("RAMPART_USIG_SCHEME").as_deref() {
        Err(_) | Ok("hmac") => "Hmac",
        Ok("ed25519") => "Ed25519",
        Ok(other) => {
            eprintln!("error: RAMPART_USIG_SCHEME is `{other}`; it must be `hmac` (the default) or `ed25519`");
            std::process::exit(1);
        }
    };
    rampart_cluster::build_script(&spec, |secret, roles| {
        format!(
            "{}/// The certificate scheme, chosen at build time by RAMPART_USIG_SCHEME (hmac or ed25519).\npub const SCHEME: SchemeChoice = SchemeChoice::{scheme};\n",
            rampart_cluster::usig_source(secret, roles.usigs.len())
        )
    });
}
