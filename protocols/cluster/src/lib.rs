//! Development provisioning of a MinBFT cluster's secrets, for the build scripts of the PDs that
//! hold them (components/usig, components/replica, components/client).
//!
//! One 32-byte *cluster secret* is the root; every key is derived from it with HMAC-SHA256 under
//! a domain-separation label, so the three build scripts agree without talking to each other:
//! - USIG `i`'s long-term identity seed (Ed25519), compiled into the USIG program only;
//! - the USIG HMAC secret (for the HMAC-SHA256 certificate scheme), USIG program only;
//! - the identity public keys, compiled into replicas (which verify epoch announcements);
//! - the key shared by client `c` and replica `i` (request and reply authenticators), compiled
//!   into the client and the replica programs.
//!
//! The secret comes from `RAMPART_CLUSTER_SECRET` (64 hex digits) if set, else from the file
//! `target/rampart-cluster.secret` of the workspace, which the first build creates from the
//! operating system's randomness (never a fixed key). **What this does not protect**: one program
//! image serves every PD of a component, so the replica program holds every replica's client
//! keys, and the USIG program every USIG's identity seed: a PD that can read its own program
//! learns its siblings' keys. Attestation (a later issue) replaces this with per-PD provisioning.
//! The secret file is the cluster's root of trust: keep `target/` private.

pub mod topology;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The environment variable that, if set, gives the cluster secret as 64 hex digits.
pub const CLUSTER_SECRET_ENV: &str = "RAMPART_CLUSTER_SECRET";
/// The file, under the workspace's `target/`, that holds the secret otherwise.
pub const CLUSTER_SECRET_FILE: &str = "rampart-cluster.secret";
/// Bytes in the cluster secret and in every derived key.
pub const KEY_BYTES: usize = 32;

const DOMAIN_USIG_IDENTITY: &[u8] = b"rampart/cluster/v1/usig-identity";
const DOMAIN_USIG_HMAC: &[u8] = b"rampart/cluster/v1/usig-hmac";
const DOMAIN_CLIENT_KEY: &[u8] = b"rampart/cluster/v1/client-replica-key";

/// The root secret; zeroized on drop.
pub struct ClusterSecret(Zeroizing<[u8; KEY_BYTES]>);

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClusterSecret(..)")
    }
}

/// Where the secret came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Env,
    File(PathBuf),
    NewFile(PathBuf),
}

impl ClusterSecret {
    pub fn from_bytes(bytes: [u8; KEY_BYTES]) -> Self {
        ClusterSecret(Zeroizing::new(bytes))
    }

    /// The secret from [`CLUSTER_SECRET_ENV`], else from `dir/`[`CLUSTER_SECRET_FILE`], creating
    /// that file from fresh randomness if it does not exist (atomically: concurrent build scripts
    /// all end up with the one that was written first).
    pub fn load(dir: &Path) -> io::Result<(ClusterSecret, Source)> {
        if let Ok(hex) = std::env::var(CLUSTER_SECRET_ENV) {
            return parse_hex(hex.trim())
                .map(|s| (s, Source::Env))
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{CLUSTER_SECRET_ENV} must be 64 hex digits")));
        }
        let path = dir.join(CLUSTER_SECRET_FILE);
        if let Ok(text) = std::fs::read_to_string(&path) {
            return parse_hex(text.trim()).map(|s| (s, Source::File(path.clone()))).ok_or_else(|| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{} must hold 64 hex digits; delete it to make a new cluster secret", path.display()))
            });
        }
        std::fs::create_dir_all(dir)?;
        let mut fresh = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::getrandom(&mut fresh[..]).map_err(|e| io::Error::other(format!("no randomness for the cluster secret: {e}")))?;
        let hex = Zeroizing::new(to_hex(&fresh[..]));
        // Write a temporary file, then link it into place: either we win and it holds our
        // secret, or another build script won and we read theirs.
        let tmp = dir.join(format!("{CLUSTER_SECRET_FILE}.{}.tmp", std::process::id()));
        {
            let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(hex.as_bytes())?;
            f.sync_all()?;
        }
        let won = std::fs::hard_link(&tmp, &path).is_ok();
        let _ = std::fs::remove_file(&tmp);
        let text = std::fs::read_to_string(&path)?;
        let secret = parse_hex(text.trim()).ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("{} is malformed", path.display())))?;
        Ok((secret, if won { Source::NewFile(path) } else { Source::File(path) }))
    }

    fn derive(&self, domain: &[u8], parts: &[u32]) -> Zeroizing<[u8; KEY_BYTES]> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0[..]).expect("HMAC takes any key length");
        mac.update(domain);
        for p in parts {
            mac.update(&p.to_le_bytes());
        }
        Zeroizing::new(mac.finalize().into_bytes().into())
    }

    /// USIG `usig`'s long-term identity seed (an Ed25519 secret key).
    pub fn usig_identity_seed(&self, usig: u32) -> Zeroizing<[u8; KEY_BYTES]> {
        self.derive(DOMAIN_USIG_IDENTITY, &[usig])
    }

    /// The public key of USIG `usig`'s identity.
    pub fn usig_identity_public(&self, usig: u32) -> [u8; KEY_BYTES] {
        ed25519_dalek::SigningKey::from_bytes(&self.usig_identity_seed(usig)).verifying_key().to_bytes()
    }

    /// The secret the USIGs derive their HMAC epoch keys from.
    pub fn usig_hmac_secret(&self) -> Zeroizing<[u8; KEY_BYTES]> {
        self.derive(DOMAIN_USIG_HMAC, &[])
    }

    /// The key client `client` shares with replica `replica`.
    pub fn client_key(&self, client: u32, replica: u32) -> Zeroizing<[u8; KEY_BYTES]> {
        self.derive(DOMAIN_CLIENT_KEY, &[client, replica])
    }
}

fn parse_hex(hex: &str) -> Option<ClusterSecret> {
    if hex.len() != 2 * KEY_BYTES || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; KEY_BYTES];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(ClusterSecret::from_bytes(out))
}

fn to_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Rust source for a `[u8; 32]` constant.
pub fn key_literal(bytes: &[u8; KEY_BYTES]) -> String {
    let mut s = String::from("[");
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        let _ = write!(s, "{b:#04x}");
    }
    s.push(']');
    s
}

/// The workspace's `target/` directory, seen from a build script of a crate `depth` levels below
/// the workspace root (components/x: 2), unless `CARGO_TARGET_DIR` says otherwise.
pub fn target_dir_from_build_script(depth: usize) -> PathBuf {
    if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
        return PathBuf::from(t);
    }
    let mut p = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run from a build script"));
    for _ in 0..depth {
        p.pop();
    }
    p.join("target")
}

// --- The cluster in a system ---------------------------------------------------------------------

/// The components that play each role, and the PD names that give their index: `replica0`,
/// `usig0`, `client0`, ... (the digits at the end of the name; the program decides the role).
pub const REPLICA_COMPONENTS: &[&str] = &["replica"];
pub const USIG_COMPONENTS: &[&str] = &["usig"];
pub const CLIENT_COMPONENTS: &[&str] = &["client"];
/// At most this many replicas (and USIGs) and client PDs in one cluster.
pub const REPLICAS_MAX: usize = 16;
pub const CLIENTS_MAX: usize = 64;
/// Each client PD runs this many MinBFT clients (each with one request outstanding at a time),
/// with ids `pd_index * CLIENTS_PER_PD + k`: the client PD's concurrency.
pub const CLIENTS_PER_PD: usize = 16;

/// Who is who in a system's cluster: PD names by index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Roles {
    pub replicas: Vec<String>,
    pub usigs: Vec<String>,
    pub clients: Vec<String>,
}

/// The index a PD name ends with (`replica2` is 2).
pub fn index_of(name: &str) -> Option<usize> {
    let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 || digits > 3 {
        return None;
    }
    name[name.len() - digits..].parse().ok()
}

fn indexed(spec: &rampart_spec::SystemSpec, components: &[&str], role: &str, max: usize) -> Result<Vec<String>, String> {
    let mut found: Vec<(usize, String)> = Vec::new();
    for pd in &spec.pds {
        let rampart_spec::ProgramRef::Component(c) = &pd.program else { continue };
        if !components.contains(&c.as_str()) {
            continue;
        }
        let i = index_of(&pd.name).ok_or_else(|| format!("{role} PD `{}` must be named with its index at the end (`{role}0`, `{role}1`, ...)", pd.name))?;
        if let Some((_, other)) = found.iter().find(|(j, _)| *j == i) {
            return Err(format!("{role} PDs `{other}` and `{}` both have index {i}", pd.name));
        }
        found.push((i, pd.name.clone()));
    }
    found.sort();
    if found.len() > max {
        return Err(format!("{} {role} PDs; at most {max}", found.len()));
    }
    for (k, (i, name)) in found.iter().enumerate() {
        if *i != k {
            return Err(format!("{role} indices must run 0, 1, 2, ... without gaps; `{name}` has {i} where {k} was expected"));
        }
    }
    Ok(found.into_iter().map(|(_, n)| n).collect())
}

impl Roles {
    /// The cluster of `spec`: every replica, USIG and client PD by index. Refuses a replica
    /// without its USIG (same index), duplicate or missing indices, and too many PDs.
    pub fn of(spec: &rampart_spec::SystemSpec) -> Result<Roles, String> {
        let replicas = indexed(spec, REPLICA_COMPONENTS, "replica", REPLICAS_MAX)?;
        let usigs = indexed(spec, USIG_COMPONENTS, "usig", REPLICAS_MAX)?;
        let clients = indexed(spec, CLIENT_COMPONENTS, "client", CLIENTS_MAX)?;
        if !replicas.is_empty() && replicas.len() != usigs.len() {
            return Err(format!("{} replica PDs but {} USIG PDs: every replica needs its own USIG", replicas.len(), usigs.len()));
        }
        Ok(Roles { replicas, usigs, clients })
    }
}

/// Rust source for the USIG program: every USIG identity seed (a USIG PD picks its own by index),
/// the identity public keys, and the HMAC secret.
pub fn usig_source(secret: &ClusterSecret, usigs: usize) -> String {
    let mut s = String::from("// @generated by rampart-cluster: USIG secrets. Do not edit, do not print.\n");
    let _ = writeln!(s, "pub const USIG_COUNT: usize = {usigs};");
    let seeds: Vec<String> = (0..usigs as u32).map(|i| key_literal(&secret.usig_identity_seed(i))).collect();
    let _ = writeln!(s, "pub static IDENTITY_SEEDS: [[u8; 32]; {usigs}] = [{}];", seeds.join(", "));
    s.push_str(&identity_publics(secret, usigs));
    let _ = writeln!(s, "pub static HMAC_SECRET: [u8; 32] = {};", key_literal(&secret.usig_hmac_secret()));
    s
}

fn identity_publics(secret: &ClusterSecret, usigs: usize) -> String {
    let publics: Vec<String> = (0..usigs as u32).map(|i| key_literal(&secret.usig_identity_public(i))).collect();
    format!("pub const IDENTITY_PUBLIC: [[u8; 32]; {usigs}] = [{}];\n", publics.join(", "))
}

/// Rust source for the replica and client programs: the identity public keys and the key of
/// every (client, replica) pair, `CLIENT_KEYS[client][replica]`, for `clients` MinBFT client ids
/// (client PDs times [`CLIENTS_PER_PD`]).
pub fn peer_source(secret: &ClusterSecret, replicas: usize, clients: usize) -> String {
    let mut s = String::from("// @generated by rampart-cluster: client keys. Do not edit, do not print.\n");
    let _ = writeln!(s, "pub const REPLICA_COUNT: usize = {replicas};");
    let _ = writeln!(s, "pub const CLIENT_COUNT: usize = {clients};");
    let _ = writeln!(s, "pub const CLIENTS_PER_PD: usize = {CLIENTS_PER_PD};");
    s.push_str(&identity_publics(secret, replicas));
    let rows: Vec<String> = (0..clients as u32)
        .map(|c| format!("[{}]", (0..replicas as u32).map(|i| key_literal(&secret.client_key(c, i))).collect::<Vec<_>>().join(", ")))
        .collect();
    let _ = writeln!(s, "pub static CLIENT_KEYS: [[[u8; 32]; {replicas}]; {clients}] = [{}];", rows.join(", "));
    s
}

/// For a component's build.rs: load the cluster secret (see [`ClusterSecret::load`]) and write
/// `OUT_DIR/rampart_cluster.rs` with `source(secret, roles)`. Fails the build with one clear
/// line on any error.
pub fn build_script(spec: &rampart_spec::SystemSpec, source: impl Fn(&ClusterSecret, &Roles) -> String) {
    let fail = |msg: String| -> ! {
        eprintln!("error: {msg}");
        std::process::exit(1);
    };
    println!("cargo:rerun-if-env-changed={CLUSTER_SECRET_ENV}");
    let roles = Roles::of(spec).unwrap_or_else(|e| fail(format!("the system's cluster: {e}")));
    topology::check_wiring(spec, &roles).unwrap_or_else(|e| fail(format!("the system's cluster is not wired as rampart_cluster::topology describes: {e}")));
    let dir = target_dir_from_build_script(2);
    let (secret, _) = ClusterSecret::load(&dir).unwrap_or_else(|e| fail(format!("the cluster secret: {e}")));
    println!("cargo:rerun-if-changed={}", dir.join(CLUSTER_SECRET_FILE).display());
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("rampart_cluster.rs");
    std::fs::write(&out, source(&secret, &roles)).unwrap_or_else(|e| fail(format!("cannot write {}: {e}", out.display())));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_are_distinct_per_role_and_party_and_stable() {
        let s = ClusterSecret::from_bytes([7; 32]);
        let keys = [*s.usig_identity_seed(0), *s.usig_identity_seed(1), *s.usig_hmac_secret(), *s.client_key(0, 0), *s.client_key(0, 1), *s.client_key(1, 0)];
        for i in 0..keys.len() {
            for j in 0..i {
                assert_ne!(keys[i], keys[j], "{i} vs {j}");
            }
        }
        assert_eq!(*ClusterSecret::from_bytes([7; 32]).client_key(0, 1), keys[4]);
        assert_ne!(*ClusterSecret::from_bytes([8; 32]).client_key(0, 1), keys[4]);
    }

    #[test]
    fn the_secret_file_is_made_once_then_reused_and_a_malformed_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (a, src) = ClusterSecret::load(dir.path()).unwrap();
        assert!(matches!(src, Source::NewFile(_)), "{src:?}");
        let (b, src) = ClusterSecret::load(dir.path()).unwrap();
        assert!(matches!(src, Source::File(_)), "{src:?}");
        assert_eq!(*a.client_key(0, 0), *b.client_key(0, 0));
        assert_ne!(*a.0, [0; 32]);
        std::fs::write(dir.path().join(CLUSTER_SECRET_FILE), "zz").unwrap();
        let e = ClusterSecret::load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
    }

    #[test]
    fn indices_come_from_the_end_of_pd_names() {
        assert_eq!(index_of("replica0"), Some(0));
        assert_eq!(index_of("usig12"), Some(12));
        assert_eq!(index_of("replica"), None);
        assert_eq!(index_of("r1234"), None);
    }

    #[test]
    fn generated_sources_name_every_party() {
        let s = ClusterSecret::from_bytes([3; 32]);
        let u = usig_source(&s, 3);
        assert!(u.contains("IDENTITY_SEEDS: [[u8; 32]; 3]") && u.contains("HMAC_SECRET"), "{u}");
        let p = peer_source(&s, 3, 2);
        assert!(p.contains("CLIENT_KEYS: [[[u8; 32]; 3]; 2]") && !p.contains("HMAC_SECRET") && !p.contains("SEEDS"), "{p}");
        assert!(p.contains(&key_literal(&s.usig_identity_public(2))));
    }

    #[test]
    fn hex_round_trips_and_rejects_junk() {
        assert!(parse_hex(&to_hex(&[0xab; 32])).is_some_and(|s| *s.0 == [0xab; 32]));
        assert!(parse_hex("00").is_none());
        assert!(parse_hex(&"g".repeat(64)).is_none());
        assert_eq!(key_literal(&[1; 32]).matches("0x01").count(), 32);
    }
}
