//! The cluster generator's systems are valid and wired; miswired systems are refused with the
//! first fault named; the default system.xml is the generated 3-replica, 1-client-PD cluster.

use rampart_cluster::topology::{check_wiring, client_links_source, replica_links_source, system_xml, Shape};
use rampart_cluster::Roles;
use rampart_sdf::{check_str, Board, Options};
use rampart_spec::SystemSpec;

fn spec_of(xml: &str) -> SystemSpec {
    let mut opts = Options::new(Board::default_board());
    opts.components = ["replica", "usig", "client", "supervisor"].map(String::from).to_vec();
    match check_str("cluster.xml", xml, &opts) {
        Ok(c) => c.spec,
        Err(report) => panic!("invalid system:\n{report:#?}"),
    }
}

fn wiring(xml: &str) -> Result<(), String> {
    let spec = spec_of(xml);
    let roles = Roles::of(&spec)?;
    check_wiring(&spec, &roles)
}

#[test]
fn generated_clusters_are_valid_systems_and_pass_the_wiring_check() {
    for (n, c) in [(1, 1), (3, 1), (3, 2), (5, 1), (5, 3), (7, 2), (15, 32), (3, 56)] {
        let shape = Shape::new(n, c).unwrap();
        let xml = system_xml(&shape);
        let spec = spec_of(&xml);
        let roles = Roles::of(&spec).unwrap();
        assert_eq!((roles.replicas.len(), roles.usigs.len(), roles.clients.len()), (n, n, c));
        check_wiring(&spec, &roles).unwrap_or_else(|e| panic!("n = {n}, c = {c}: {e}"));
        // Every replica and USIG is the supervisor's child, with ids 0..n-1 and n..2n-1.
        let sup = spec.pds.iter().position(|p| p.name == "supervisor").unwrap() as u8;
        for (i, name) in roles.replicas.iter().chain(&roles.usigs).enumerate() {
            let pd = spec.pds.iter().find(|p| &p.name == name).unwrap();
            assert_eq!(pd.parent, Some((sup, i as u8)), "{name}");
        }
        let peers = replica_links_source(&roles);
        assert_eq!(peers.matches("super::channels::PEER").count(), n - 1);
        assert_eq!(peers.matches("super::channels::CLIENT").count(), c);
        assert_eq!(client_links_source(&roles).matches("super::channels::REPLICA").count(), n);
    }
}

#[test]
fn the_default_system_is_the_generated_three_replica_cluster() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../system.xml");
    let on_disk = std::fs::read_to_string(path).unwrap();
    let generated = system_xml(&Shape::new(3, 1).unwrap());
    if let Some((k, (a, b))) = on_disk.lines().zip(generated.lines()).enumerate().find(|(_, (a, b))| a != b) {
        panic!("system.xml line {}: `{a}`, generated: `{b}`; regenerate it with `rampart cluster -o system.xml`", k + 1);
    }
    assert_eq!(on_disk.lines().count(), generated.lines().count(), "regenerate system.xml with `rampart cluster -o system.xml`");
}

#[test]
fn shapes_outside_the_limits_are_refused_with_the_reason() {
    for (n, c, says) in
        [(0, 1, "odd"), (2, 1, "odd"), (4, 1, "odd"), (17, 1, "at most"), (3, 0, "from 1"), (3, 65, "from 1"), (15, 40, "at most 63"), (3, 60, "at most 63")]
    {
        let e = Shape::new(n, c).unwrap_err();
        assert!(e.contains(says), "({n}, {c}): {e}");
    }
    assert_eq!(Shape::new(5, 2).unwrap().f(), 2);
}

#[test]
fn miswired_clusters_are_refused_naming_the_fault() {
    let good = system_xml(&Shape::new(3, 2).unwrap());
    assert_eq!(wiring(&good), Ok(()));
    let cases: [(&str, &str, &str); 5] = [
        // Replica 0's peer1 channel to replica 2 instead of replica 1.
        (
            r#"<end pd="replica0" id="1" setvar_id="peer1" />
        <end pd="replica1" id="2" setvar_id="peer2" />"#,
            r#"<end pd="replica0" id="1" setvar_id="peer1" />
        <end pd="replica2" id="5" setvar_id="peer2x" />"#,
            "channel `peer1` goes to `replica2`",
        ),
        // A ring mapped at one end only: replica 1 reads the wrong region from replica 0.
        (
            r#"<map mr="ring_r0_r1" vaddr="0x100c0000" perms="rw" setvar_vaddr="rx_peer2" />"#,
            r#"<map mr="ring_r0_r2" vaddr="0x100c0000" perms="rw" setvar_vaddr="rx_peer2" />"#,
            "the two ends of a ring must be one region",
        ),
        // A read-only ring.
        (
            r#"<map mr="ring_r2_c1" vaddr="0x10140000" perms="rw" setvar_vaddr="rx_replica2" />"#,
            r#"<map mr="ring_r2_c1" vaddr="0x10140000" perms="r" setvar_vaddr="rx_replica2" />"#,
            "without read-write access",
        ),
        // The USIG channel without protected procedure calls.
        (
            r#"<end pd="replica1" id="0" pp="true" notify="false" setvar_id="usig" />"#,
            r#"<end pd="replica1" id="0" notify="false" setvar_id="usig" />"#,
            "must allow protected procedure calls",
        ),
        // A client link renamed.
        (r#"<end pd="replica2" id="4" setvar_id="client1" />"#, r#"<end pd="replica2" id="4" setvar_id="klient1" />"#, "has no channel `client1`"),
    ];
    for (from, to, says) in cases {
        assert!(good.contains(from), "the generator's output has {from}");
        let bad = good.replacen(from, to, 1);
        let e = wiring(&bad).expect_err(says);
        assert!(e.contains(says), "expected `{says}`, got: {e}");
    }
}
