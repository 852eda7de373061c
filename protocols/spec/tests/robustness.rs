//! Hostile encoded specs: `decode` never panics, never allocates or works in proportion to a
//! length it reads rather than to the input, and whatever it accepts survives another round
//! (`decode(encode(x)) == x`) and passes `check`.
//!
//! Deterministic (a fixed xorshift seed) and fast in debug. The cargo-fuzz target `decode_spec`
//! in `fuzz/` runs the same property for longer (see `fuzz/README.md`).

use rampart_spec::*;

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A spec that uses every type: child PDs, schedules, maps with setvars, both IRQ forms, I/O
/// ports, setvars, prefills with and without hashes, fixed physical regions.
fn rich_spec() -> SystemSpec {
    let rw = Perms { read: true, write: true, execute: false };
    let pd = |name: &str, priority: u8| PdSpec {
        name: name.to_string(),
        program: ProgramRef::Component(name.to_string()),
        priority,
        sched: None,
        passive: false,
        stack_size_bytes: DEFAULT_STACK_SIZE_BYTES,
        cpu: 0,
        fpu: true,
        parent: None,
        maps: vec![],
        channels: vec![],
        irqs: vec![],
        ioports: vec![],
        setvars: vec![],
        grants: Grants::default(),
    };
    let mut a = pd("driver", 200);
    a.grants = Grants { exit_system: true, restart_children: true };
    a.sched = Some(SchedContext { budget_us: 500, period_us: 1000 });
    a.passive = true;
    a.stack_size_bytes = 0x10_000;
    a.maps = vec![
        MapSpec { region: 0, vaddr: 0x1000_0000, perms: rw, cached: false, setvar_vaddr: Some("dma".into()), setvar_size: Some("dma_size".into()) },
        MapSpec {
            region: 1,
            vaddr: 0x4000_0000,
            perms: Perms { read: true, write: false, execute: true },
            cached: true,
            setvar_vaddr: None,
            setvar_size: None,
        },
    ];
    a.channels = vec![PdChannel { id: 0, peer: 1, peer_id: 5, may_notify: true, may_call: false, peer_may_call: true, setvar_id: Some("client".into()) }];
    a.irqs = vec![
        IrqSpec {
            id: 1,
            source: IrqSource::Ioapic { ioapic: 0, pin: 4, vector: 36, trigger: Trigger::Edge, polarity: Polarity::ActiveLow },
            setvar_id: Some("serial".into()),
        },
        IrqSpec { id: 2, source: IrqSource::Arm { irq: 33, trigger: Trigger::Level }, setvar_id: None },
    ];
    a.ioports = vec![IoPortSpec { id: 3, addr: 0x3f8, size: 8 }];
    a.setvars = vec![SetVarSpec { symbol: "dma_paddr".into(), region: 0 }];
    let mut b = pd("client", 100);
    b.program = ProgramRef::Elf("build/client.elf".into());
    b.parent = Some((0, 62));
    b.cpu = 3;
    b.fpu = false;
    b.channels = vec![PdChannel { id: 5, peer: 0, peer_id: 0, may_notify: false, may_call: true, peer_may_call: false, setvar_id: None }];
    SystemSpec {
        board: "qemu-x86_64".into(),
        arch: Arch::X86_64,
        pds: vec![a, b],
        regions: vec![
            RegionSpec { name: "dma".into(), size_bytes: 0x2000, page_size_bytes: 0x1000, phys_addr: Some(0xfee0_0000), prefill: None },
            RegionSpec {
                name: "code".into(),
                size_bytes: 0x20_0000,
                page_size_bytes: 0x20_0000,
                phys_addr: None,
                prefill: Some(Prefill { path: "blob.bin".into(), size_bytes: Some(17), sha256: Some([0xab; 32]) }),
            },
            RegionSpec {
                name: "later".into(),
                size_bytes: 0x1000,
                page_size_bytes: 0x1000,
                phys_addr: None,
                prefill: Some(Prefill { path: "later.bin".into(), size_bytes: None, sha256: None }),
            },
        ],
        channels: vec![ChannelSpec {
            ends: [ChannelEndSpec { pd: 1, id: 5, notify: false, pp: true }, ChannelEndSpec { pd: 0, id: 0, notify: true, pp: false }],
        }],
    }
}

/// Decode without panicking; anything accepted must round-trip and check.
fn decode_checked(what: &str, bytes: &[u8]) -> Result<SystemSpec, SpecError> {
    let result = std::panic::catch_unwind(|| decode(bytes)).unwrap_or_else(|_| panic!("{what}: decode panicked on {bytes:02x?}"));
    if let Ok(spec) = &result {
        assert_eq!(spec.check(), Ok(()), "{what}: decode accepted a spec that fails check");
        let again = spec.encode();
        assert_eq!(decode(&again).as_ref(), Ok(spec), "{what}: decode(encode(x)) != x");
        assert_eq!(decode(&again).unwrap().encode(), again, "{what}: encoding is not deterministic");
    }
    result
}

fn header() -> Vec<u8> {
    let mut h = MAGIC.to_vec();
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    h
}

#[test]
fn the_rich_spec_round_trips() {
    let spec = rich_spec();
    assert_eq!(spec.check(), Ok(()));
    assert_eq!(decode_checked("rich", &spec.encode()), Ok(spec));
}

#[test]
fn random_bytes_are_refused_without_panicking() {
    let mut rng = Rng(0x5EED_2026_1122_0002);
    for i in 0..20_000 {
        let len = rng.below(512);
        let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Bare random bytes almost always fail the magic; behind a valid header they reach postcard.
        let _ = decode_checked(&format!("random-{i}"), &body);
        let mut with_header = header();
        with_header.extend_from_slice(&body);
        let _ = decode_checked(&format!("random-with-header-{i}"), &with_header);
    }
}

#[test]
fn every_truncation_of_a_valid_encoding_is_refused() {
    let bytes = rich_spec().encode();
    for n in 0..bytes.len() {
        let r = decode_checked(&format!("truncated-{n}"), &bytes[..n]);
        let expected = if n < MAGIC.len() + 2 { SpecError::BadMagic } else { SpecError::Malformed };
        assert_eq!(r, Err(expected), "truncated to {n} of {} bytes", bytes.len());
    }
    // And every extension of it is trailing bytes.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 3]);
    assert_eq!(decode_checked("extended", &longer), Err(SpecError::TrailingBytes { count: 3 }));
}

#[test]
fn mutations_of_a_valid_encoding_never_panic() {
    let bytes = rich_spec().encode();
    // Every byte of the body set to a few telling values...
    for i in MAGIC.len() + 2..bytes.len() {
        for v in [0x00, 0x01, 0x02, 0x3e, 0x3f, 0x40, 0x7f, 0x80, 0xfe, 0xff] {
            let mut m = bytes.clone();
            m[i] = v;
            let _ = decode_checked(&format!("set-{i}-{v:#x}"), &m);
        }
    }
    // ... then random flips, insertions, deletions and duplications, a few at a time.
    let mut rng = Rng(0x5EED_2026_1122_0003);
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..20_000 {
        let mut m = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            let at = MAGIC.len() + 2 + rng.below(m.len() - MAGIC.len() - 2);
            match rng.below(5) {
                0 => m[at] ^= 1 << rng.below(8),
                1 => m[at] = rng.next() as u8,
                2 => m.insert(at, rng.next() as u8),
                3 if m.len() > MAGIC.len() + 3 => {
                    m.remove(at);
                }
                _ => {
                    let end = (at + 1 + rng.below(32)).min(m.len());
                    let piece = m[at..end].to_vec();
                    m.splice(at..at, piece);
                }
            }
        }
        match decode_checked(&format!("mutation-{i}"), &m) {
            Ok(_) => accepted += 1,
            Err(_) => refused += 1,
        }
    }
    // Postcard has no redundancy: many single-byte changes are still valid specs.
    eprintln!("20000 mutated encodings: {accepted} accepted (and round-tripped), {refused} refused");
    assert!(accepted > 100 && refused > 1000, "accepted {accepted}, refused {refused}");
}

#[test]
fn huge_declared_lengths_do_not_allocate_or_hang() {
    // A spec whose first field, the board name, declares u64::MAX bytes (and then each other
    // varint-prefixed field declaring about 2^63 elements): refused as malformed, at once.
    let varint_max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
    let mut b = header();
    b.extend_from_slice(&varint_max);
    b.extend_from_slice(b"x86");
    assert_eq!(decode_checked("huge-string", &b), Err(SpecError::Malformed));
    // Board "a", arch X86_64, then a PD count of 2^63 with one PD's worth of bytes.
    let mut b = header();
    b.extend_from_slice(&[1, b'a', 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]);
    b.extend_from_slice(&[0; 64]);
    assert_eq!(decode_checked("huge-vec", &b), Err(SpecError::Malformed));
    // A varint longer than ten bytes, and one that overflows u64.
    let mut b = header();
    b.extend_from_slice(&[0x80; 20]);
    assert_eq!(decode_checked("long-varint", &b), Err(SpecError::Malformed));
    let mut b = header();
    b.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]);
    assert_eq!(decode_checked("overflowing-varint", &b), Err(SpecError::Malformed));
}

#[test]
fn oversized_and_foreign_inputs_are_refused_first() {
    let mut big = rich_spec().encode();
    big.resize(MAX_SPEC_BYTES + 1, 0);
    assert_eq!(decode_checked("big", &big), Err(SpecError::TooLarge { size_bytes: MAX_SPEC_BYTES + 1 }));
    assert_eq!(decode_checked("10 MB", &vec![0u8; 10 << 20]), Err(SpecError::TooLarge { size_bytes: 10 << 20 }));
    assert_eq!(decode_checked("empty", &[]), Err(SpecError::BadMagic));
    assert_eq!(decode_checked("magic only", &MAGIC), Err(SpecError::BadMagic));
    let mut v = header();
    v[MAGIC.len()] = 0xff;
    assert_eq!(decode_checked("version", &v), Err(SpecError::UnsupportedVersion { found: 0xff | (FORMAT_VERSION & 0xff00) }));
    // The largest spec decode reads: a board name that fills the limit, then an arch and three
    // empty lists. It is read whole, then refused by check for having no PDs.
    let mut b = header();
    let name_len = MAX_SPEC_BYTES - b.len() - 3 - 4;
    let mut n = name_len;
    while n >= 0x80 {
        b.push((n as u8) | 0x80);
        n >>= 7;
    }
    b.push(n as u8);
    b.resize(b.len() + name_len, b'a');
    b.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(b.len(), MAX_SPEC_BYTES);
    assert_eq!(decode_checked("largest", &b), Err(SpecError::Invalid("no protection domains")));
}

#[test]
fn dangling_indices_and_broken_limits_are_refused() {
    type Breakage = Box<dyn Fn(&mut SystemSpec)>;
    let cases: Vec<(&str, Breakage)> = vec![
        ("no pds", Box::new(|s| s.pds.clear())),
        ("64 pds", Box::new(|s| s.pds = vec![s.pds[1].clone(); 64])),
        ("channel end pd", Box::new(|s| s.channels[0].ends[1].pd = 2)),
        ("channel end id", Box::new(|s| s.channels[0].ends[0].id = 63)),
        ("priority", Box::new(|s| s.pds[0].priority = 255)),
        ("small stack", Box::new(|s| s.pds[0].stack_size_bytes = MIN_STACK_SIZE_BYTES - 1)),
        ("big stack", Box::new(|s| s.pds[0].stack_size_bytes = MAX_STACK_SIZE_BYTES + 1)),
        ("parent", Box::new(|s| s.pds[1].parent = Some((9, 0)))),
        ("child id", Box::new(|s| s.pds[1].parent = Some((0, 63)))),
        ("channel id 63", Box::new(|s| s.pds[1].channels[0].id = 63)),
        ("channel id 255", Box::new(|s| s.pds[1].channels[0].id = 255)),
        ("peer", Box::new(|s| s.pds[1].channels[0].peer = 200)),
        ("peer id", Box::new(|s| s.pds[1].channels[0].peer_id = 64)),
        ("irq id clash", Box::new(|s| s.pds[0].irqs[1].id = 1)),
        ("ioport id clash", Box::new(|s| s.pds[0].ioports[0].id = 0)),
        ("map region", Box::new(|s| s.pds[0].maps[0].region = 3)),
        ("setvar region", Box::new(|s| s.pds[0].setvars[0].region = u16::MAX)),
        ("page size", Box::new(|s| s.regions[0].page_size_bytes = 0x3000)),
        ("zero page size", Box::new(|s| s.regions[0].page_size_bytes = 0)),
        ("zero size", Box::new(|s| s.regions[0].size_bytes = 0)),
        ("ragged size", Box::new(|s| s.regions[0].size_bytes = 0x1001)),
        ("armv7 page on x86", Box::new(|s| s.regions[2].page_size_bytes = 0x1_0000)),
    ];
    for (what, break_it) in cases {
        let mut spec = rich_spec();
        break_it(&mut spec);
        let r = decode_checked(what, &spec.encode());
        assert!(matches!(r, Err(SpecError::Invalid(_))), "{what}: {r:?}");
    }
}

/// Postcard reads a varint with redundant continuation bytes (`82 00` for 2) as the value, so more
/// than one byte string decodes to the same spec: whoever names a spec by a hash must hash
/// `encode()` of what it decoded (as `SystemSpec::digest` does), not the bytes it was given.
#[test]
fn a_non_canonical_encoding_decodes_to_the_canonical_spec() {
    let spec = rich_spec();
    let bytes = spec.encode();
    let body = &bytes[header().len()..];
    // The body starts with the board name (length 11, "qemu-x86_64"), the arch (0) and the PD
    // count (2): write the count as two bytes.
    assert_eq!((body[0], body[12], body[13]), (11, 0, 2));
    let mut b = header();
    b.extend_from_slice(&body[..13]);
    b.extend_from_slice(&[0x82, 0x00]);
    b.extend_from_slice(&body[14..]);
    match decode_checked("non-canonical", &b) {
        Ok(s) => {
            assert_eq!(s, spec);
            assert_eq!(s.encode(), bytes);
            assert_eq!(s.digest(), spec.digest());
        }
        Err(e) => assert_eq!(e, SpecError::Malformed),
    }
}
