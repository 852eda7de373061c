//! Hostile system files: `check_bytes` and `Report::render` never panic, never blow the stack and
//! do work bounded by the input's size, whatever the bytes.
//!
//! Deterministic (a fixed xorshift seed) and fast enough for a plain `cargo test` in debug. The
//! mutation loop starts from the fuzzing seeds in `fuzz/seeds/parse_system/` (the cargo-fuzz
//! targets in `fuzz/` run the same properties for longer; see `fuzz/README.md`). The seeds named
//! `valid_*` are valid systems and those named `invalid_*` are not; the first byte of a file picks
//! its board, as in the fuzz target: `byte % 3` indexes [`BOARDS`], so a file starting with `<`
//! is checked for qemu-x86_64, one starting with a newline for qemu-sabrelite and one starting
//! with a space (or a UTF-8 byte order mark) for qemu-aarch64-virt.
//!
//! On a failure the offending input is written to `$CARGO_TARGET_TMPDIR` and the message names
//! the file, so that it can become a regression test below. `ROBUSTNESS_SLOW=1 cargo test
//! --test robustness -- --nocapture` lists the mutated inputs that took over 30 ms.

use rampart_sdf::diag::MAX_RENDERED_DIAGNOSTICS;
use rampart_sdf::parse::{MAX_ATTRIBUTES_PER_ELEMENT, MAX_SYSTEM_FILE_BYTES};
use rampart_sdf::{check_bytes, Board, Options, Report};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const BOARDS: [&str; 3] = ["qemu-x86_64", "qemu-sabrelite", "qemu-aarch64-virt"];

/// Wall-clock bound on one check and its rendering, in a debug build: far above what any input
/// here needs (tens of milliseconds for most), far below what a quadratic blow-up takes.
/// Inputs slower than this are reported on stderr (never failed: see `check`).
const SLOW_REPORT: Duration = Duration::from_secs(5);

fn options(bytes: &[u8]) -> &'static Options {
    static OPTIONS: OnceLock<Vec<Options>> = OnceLock::new();
    let all = OPTIONS.get_or_init(|| {
        BOARDS
            .iter()
            .map(|name| {
                let mut o = Options::new(Board::named(name).unwrap());
                o.components = vec!["ping".to_string(), "pong".to_string()];
                o
            })
            .collect()
    });
    &all[usize::from(bytes.first().copied().unwrap_or(0)) % BOARDS.len()]
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/parse_system");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the seeds in {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    assert!(out.len() >= 10, "expected the seed files in {}", dir.display());
    out
}

/// Keeps an input that broke a property, and names it in the panic message.
fn fail(what: &str, bytes: &[u8], why: &str) -> ! {
    let name: String = what.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("robustness-{name}.xml"));
    let _ = std::fs::write(&path, bytes);
    panic!("{what}: {why}; the input ({} bytes) is in {}", bytes.len(), path.display());
}

/// What one check came to.
struct Outcome {
    result: Result<rampart_sdf::Checked, Report>,
    rendered: String,
}

/// Check `bytes` and render the report; assert the properties every input must have: no panic,
/// an error if and only if refused, a rendering of bounded size, a round trip of the spec of an
/// accepted system through the wire form, and bounded time.
fn check(what: &str, bytes: &[u8]) -> Outcome {
    let start = Instant::now();
    let run = catch_unwind(AssertUnwindSafe(|| {
        let result = check_bytes("fuzz.xml", bytes, options(bytes));
        let rendered = match &result {
            Ok(c) => c.report.render(false),
            Err(r) => r.render(false),
        };
        (result, rendered)
    }));
    let elapsed = start.elapsed();
    let (result, rendered) = match run {
        Ok(r) => r,
        Err(p) => {
            let msg = p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()));
            fail(what, bytes, &format!("check_bytes or render panicked: {}", msg.unwrap_or_default()))
        }
    };
    // Time is reported, not asserted (tests never judge wall-clock time): a hang shows as a
    // test that does not finish, and quadratic work as output past the bound below.
    if elapsed > SLOW_REPORT {
        eprintln!("{what}: {} bytes took {elapsed:?}", bytes.len());
    }
    // A diagnostic shows a window of its line, so the output grows with the number of
    // diagnostics shown (bounded) and the text they quote from the input, never with the square:
    // at most about 2 KiB a diagnostic besides what it quotes.
    let bound = 2048 * (MAX_RENDERED_DIAGNOSTICS + 1) + 4 * bytes.len();
    if rendered.len() > bound {
        fail(what, bytes, &format!("rendered {} bytes of diagnostics (bound {bound})", rendered.len()));
    }
    match &result {
        Ok(c) => {
            if c.report.has_errors() {
                fail(what, bytes, "accepted with errors");
            }
            let encoded = c.spec.encode();
            match rampart_spec::decode(&encoded) {
                Ok(back) if back == c.spec => {}
                Ok(_) => fail(what, bytes, "decode(encode(spec)) != spec"),
                Err(e) => fail(what, bytes, &format!("the compiled spec does not decode: {e}")),
            }
        }
        Err(r) => {
            if !r.has_errors() {
                fail(what, bytes, "refused without an error");
            }
            if !rendered.contains("is not a valid system") {
                fail(what, bytes, "the rendering of a refusal has no summary line");
            }
        }
    }
    Outcome { result, rendered }
}

fn messages(o: &Outcome) -> String {
    let r = match &o.result {
        Ok(c) => &c.report,
        Err(r) => r,
    };
    r.diagnostics.iter().map(|d| format!("{}\n", d.message)).collect()
}

/// xorshift64*: deterministic, and enough for choosing mutations.
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
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOKENS: &[&str] = &[
    "<system>",
    "</system>",
    "<protection_domain name=\"p\">",
    "</protection_domain>",
    "<program_image path=\"ping.elf\"/>",
    "<memory_region name=\"m\" size=\"0x1000\"/>",
    "<map mr=\"m\" vaddr=\"0x1000\"/>",
    "<channel>",
    "</channel>",
    "<end pd=\"p\" id=\"0\"/>",
    "<irq irq=\"33\" id=\"1\"/>",
    "<irq pin=\"1\" vector=\"1\" id=\"2\"/>",
    "<ioport id=\"3\" addr=\"0x3f8\" size=\"8\"/>",
    "<setvar symbol=\"s\" region_paddr=\"m\"/>",
    "<virtual_machine/>",
    " id=\"0\"",
    " pp=\"true\"",
    " priority=\"254\"",
    " passive=\"true\"",
    " budget=\"2000\"",
    " period=\"1000\"",
    " phys_addr=\"0x0\"",
    " page_size=\"0x200000\"",
    " setvar_vaddr=\"v\"",
    " xmlns:x=\"urn:x\"",
    " x:name=\"n\"",
    "<",
    ">",
    "\"",
    "'",
    "=",
    "/>",
    "</",
    "<!--",
    "-->",
    "<![CDATA[x]]>",
    "<?pi x?>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&#x1F600;",
    "&lol;",
    "<!DOCTYPE system []>",
    "<?xml version=\"1.0\" encoding=\"latin1\"?>",
    "\u{FEFF}",
    "\r\n",
    "\t",
    "é",
    "\u{10FFFF}",
];

const NUMBERS: &[&str] = &[
    "0",
    "1",
    "62",
    "63",
    "254",
    "255",
    "256",
    "65535",
    "65536",
    "0x1000",
    "0x1001",
    "0x200000",
    "0x7fff_ffff_f000",
    "0xdfffc000",
    "0xffffffff",
    "4294967296",
    "18446744073709551615",
    "18446744073709551616",
    "0xffffffffffffffff",
    "0x10000000000000000",
    "-1",
    "-0",
    "+1",
    "1e9",
    "0x",
    "0x_",
    "_",
    "__1__",
    "0b101",
    " 7 ",
    "",
    "99999999999999999999999999999999999999999999999999999999999999999999999999999999",
];

const BAD_UTF8: &[&[u8]] = &[b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\x80"];

/// Byte ranges of the quoted attribute values in `s`.
fn values(s: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < s.len() {
        if s[i] == b'=' && (s[i + 1] == b'"' || s[i + 1] == b'\'') {
            let q = s[i + 1];
            if let Some(len) = s[i + 2..].iter().position(|&c| c == q) {
                out.push((i + 2, i + 2 + len));
                i += 2 + len;
            }
        }
        i += 1;
    }
    out
}

/// Byte range of an element (its start tag through its end tag, or an empty-element tag) that
/// starts at or after a random `<`.
fn element(rng: &mut Rng, s: &[u8]) -> Option<(usize, usize)> {
    let starts: Vec<usize> = (0..s.len()).filter(|&i| s[i] == b'<' && s.get(i + 1).is_some_and(u8::is_ascii_alphabetic)).collect();
    if starts.is_empty() {
        return None;
    }
    let lt = *rng.pick(&starts);
    let name_len = s[lt + 1..].iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).unwrap_or(0);
    let name = &s[lt + 1..lt + 1 + name_len];
    let gt = lt + s[lt..].iter().position(|&c| c == b'>')?;
    if s[gt - 1] == b'/' {
        return Some((lt, gt + 1));
    }
    let close = [b"</".as_slice(), name, b">"].concat();
    let end = s[gt..].windows(close.len()).position(|w| w == close)? + gt + close.len();
    Some((lt, end))
}

fn mutate(rng: &mut Rng, s: &mut Vec<u8>, corpus: &[(String, Vec<u8>)]) {
    let at = rng.below(s.len() + 1);
    match rng.below(14) {
        0 if !s.is_empty() => {
            let i = rng.below(s.len());
            s[i] ^= 1 << rng.below(8);
        }
        1 if !s.is_empty() => {
            let i = rng.below(s.len());
            s[i] = *rng.pick(b"<>/=\"'&;!?-[] \n\r\t\0\x7f\xff\xc3axz09");
        }
        2 => {
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            s.splice(at..at, bytes);
        }
        3 => {
            let t = rng.pick(TOKENS).as_bytes().to_vec();
            s.splice(at..at, t);
        }
        4 => {
            let end = (at + 1 + rng.below(64)).min(s.len());
            s.drain(at.min(end)..end);
        }
        5 => {
            // Splice a piece of another seed in.
            let other = &rng.pick(corpus).1;
            let from = rng.below(other.len());
            let to = (from + 1 + rng.below(256)).min(other.len());
            s.splice(at..at, other[from..to].iter().copied());
        }
        6 => {
            // Duplicate an element, up to a few hundred times.
            if let Some((a, b)) = element(rng, s) {
                let copies = if rng.below(8) == 0 { 1 + rng.below(300) } else { 1 };
                let piece = s[a..b].repeat(copies);
                s.splice(b..b, piece);
            }
        }
        7 => {
            // A huge, negative or malformed number in place of an attribute value.
            let vs = values(s);
            if !vs.is_empty() {
                let &(a, b) = rng.pick(&vs);
                s.splice(a..b, rng.pick(NUMBERS).bytes());
            }
        }
        8 => {
            // A very long attribute value.
            let vs = values(s);
            if !vs.is_empty() {
                let &(a, b) = rng.pick(&vs);
                let c = *rng.pick(b"a0x_ \xc3");
                let max = if rng.below(16) == 0 { 100_000 } else { 5_000 };
                let n = 1 + rng.below(max);
                let long = if c == 0xc3 { "é".repeat(n / 2 + 1).into_bytes() } else { vec![c; n] };
                s.splice(a..b, long);
            }
        }
        9 => {
            let bad = rng.pick(BAD_UTF8).to_vec();
            s.splice(at..at, bad);
        }
        10 => s.truncate(at),
        11 => {
            // Deep nesting.
            let tag = if rng.below(2) == 0 { "a" } else { "protection_domain" };
            let max = if rng.below(32) == 0 { 100_000 } else { 1000 };
            let depth = 1 + rng.below(max);
            let mut nest = format!("<{tag}>").repeat(depth);
            if rng.below(2) == 0 {
                nest += &format!("</{tag}>").repeat(depth);
            }
            s.splice(at..at, nest.into_bytes());
        }
        12 => {
            // Move an element elsewhere (out of its parent, into another).
            if let Some((a, b)) = element(rng, s) {
                let piece: Vec<u8> = s.drain(a..b).collect();
                let to = rng.below(s.len() + 1);
                s.splice(to..to, piece);
            }
        }
        _ => {
            // Swap the board: the same file, checked for another architecture.
            let lead = *rng.pick(b"< \n");
            if s.first().is_some_and(|c| c.is_ascii_whitespace()) {
                s[0] = lead;
            } else if lead != b'<' {
                s.insert(0, lead);
            }
        }
    }
}

#[test]
fn every_seed_is_what_its_name_says() {
    for (name, bytes) in seeds() {
        let o = check(&name, &bytes);
        let ok = o.result.is_ok();
        assert_eq!(ok, name.starts_with("valid_"), "{name}:\n{}", o.rendered);
        assert!(ok || name.starts_with("invalid_"), "seed {name} is named neither valid_ nor invalid_");
    }
}

#[test]
fn mutated_seeds_never_panic_and_stay_bounded() {
    let corpus = seeds();
    let mut rng = Rng(0x5EED_2026_1122_0001);
    let (mut accepted, mut refused) = (0, 0);
    let start = Instant::now();
    for i in 0..3000 {
        let (name, seed) = rng.pick(&corpus);
        let mut s = seed.clone();
        let rounds = 1 + rng.below(3);
        for _ in 0..rounds {
            mutate(&mut rng, &mut s, &corpus);
        }
        let t = Instant::now();
        let o = check(&format!("mutation-{i}-of-{name}"), &s);
        if std::env::var_os("ROBUSTNESS_SLOW").is_some() && t.elapsed() > Duration::from_millis(30) {
            eprintln!("mutation {i} ({} bytes): {:?}", s.len(), t.elapsed());
        }
        if o.result.is_ok() {
            accepted += 1;
        } else {
            refused += 1;
        }
    }
    // The mutations are mild enough that some files stay valid, and hostile enough that most don't.
    assert!(accepted > 50 && refused > 1000, "accepted {accepted}, refused {refused}");
    eprintln!("3000 mutated files: {accepted} accepted, {refused} refused, in {:?}", start.elapsed());
}

#[test]
fn ten_megabytes_are_refused_with_a_size_error() {
    let ten_mb = 10 * 1024 * 1024;
    let system = seeds().into_iter().find(|(n, _)| n == "valid_pingpong.xml").unwrap().1;
    // Valid XML (a valid system and a long comment), random bytes, and invalid UTF-8.
    let mut padded = system.clone();
    padded.extend_from_slice(b"<!--");
    padded.resize(ten_mb - 3, b'x');
    padded.extend_from_slice(b"-->");
    let mut rng = Rng(7);
    let random: Vec<u8> = (0..ten_mb).map(|_| rng.next() as u8).collect();
    for (what, bytes) in [("padded", padded), ("random", random), ("0xff", vec![0xff; ten_mb])] {
        let o = check(what, &bytes);
        let Err(r) = &o.result else { panic!("{what}: a 10 MB file was accepted") };
        assert_eq!(r.diagnostics.len(), 1, "{what}: {}", o.rendered);
        let expected = format!("the file is {ten_mb} bytes, more than the limit of {MAX_SYSTEM_FILE_BYTES}");
        assert_eq!(r.diagnostics[0].message, expected, "{what}");
        assert!(o.rendered.len() < 1000, "{what}: {}", o.rendered);
    }
    // At the limit, the file is read: a valid system padded to exactly the limit is valid.
    let mut at_limit = system;
    at_limit.extend_from_slice(b"<!--");
    at_limit.resize(MAX_SYSTEM_FILE_BYTES - 3, b' ');
    at_limit.extend_from_slice(b"-->");
    assert!(check("at-limit", &at_limit).result.is_ok());
    at_limit.push(b'\n');
    assert!(messages(&check("over-limit", &at_limit)).contains("more than the limit"));
}

/// Runs `f` on a thread with a 2 MiB stack (the default for test threads, made explicit so that
/// RUST_MIN_STACK cannot hide an overflow).
fn on_small_stack(f: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().stack_size(2 << 20).spawn(f).unwrap().join().unwrap();
}

#[test]
fn deep_nesting_does_not_overflow_the_stack() {
    on_small_stack(|| {
        const DEPTH: usize = 100_000;
        for tag in ["protection_domain", "a"] {
            let open = format!("<{tag}>").repeat(DEPTH);
            let close = format!("</{tag}>").repeat(DEPTH);
            for (what, text) in
                [("in-system", format!("<system>{open}{close}</system>")), ("as-root", format!("{open}{close}")), ("unclosed", format!("<system>{open}"))]
            {
                let o = check(&format!("{tag}-{what}"), text.as_bytes());
                assert!(o.result.is_err(), "{tag} {what}");
            }
        }
        // Child PDs that are valid but for their depth: the limit is reported, once.
        let mut s = String::from("<system>");
        const PDS: usize = 1000;
        for i in 0..PDS {
            s += &format!("<protection_domain name=\"p{i}\" id=\"0\"><program_image path=\"p.elf\"/>");
        }
        s += &"</protection_domain>".repeat(PDS);
        s += "</system>";
        let s = s.replacen(" id=\"0\"", "", 1);
        let o = check("deep-valid-pds", s.as_bytes());
        let m = messages(&o);
        assert!(m.contains("nested more than 63 deep"), "{m}");
        assert_eq!(m.matches("nested more than").count(), 1, "{m}");
    });
}

#[test]
fn entities_and_dtds_are_refused() {
    let seeds = seeds();
    let laughs = &seeds.iter().find(|(n, _)| n == "invalid_billion_laughs.xml").unwrap().1;
    let quadratic = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE system [<!ENTITY a \"{}\">]><system><protection_domain name=\"{}\"/></system>",
        "a".repeat(50_000),
        "&a;".repeat(50_000)
    );
    let external = "<!DOCTYPE system [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><system><protection_domain name=\"&x;\"/></system>";
    let parameter = "<!DOCTYPE system [<!ENTITY % p \"<!ENTITY q 'x'>\"> %p;]><system/>";
    for (what, text) in
        [("billion-laughs", laughs.as_slice()), ("quadratic", quadratic.as_bytes()), ("external", external.as_bytes()), ("parameter", parameter.as_bytes())]
    {
        let o = check(what, text);
        let Err(r) = &o.result else { panic!("{what} was accepted") };
        assert_eq!(r.diagnostics.len(), 1, "{what}: {}", o.rendered);
        assert!(o.rendered.contains("remove the <!DOCTYPE>"), "{what}: {}", o.rendered);
    }
    // Without a DTD, an entity reference is just undefined.
    let o = check("undeclared", b"<system><protection_domain name=\"&lol9;\"/></system>");
    assert!(messages(&o).contains("malformed XML"), "{}", o.rendered);
}

#[test]
fn elements_with_thousands_of_attributes_are_refused_quickly() {
    // roxmltree's duplicate check is quadratic in an element's attributes: 300k of them would
    // take minutes. They are refused before parsing.
    let mut s = String::from("<system");
    for i in 0..300_000 {
        s += &format!(" a{i}=\"\"");
    }
    s += "/>";
    let o = check("attributes", s.as_bytes());
    assert!(messages(&o).contains(&format!("more than {MAX_ATTRIBUTES_PER_ELEMENT} attributes")), "{}", o.rendered);
    // The count skips quoted values, comments and CDATA: `=` there is not an attribute.
    let eq = "=".repeat(10_000);
    let s =
        format!("<!-- {eq} --><system><![CDATA[{eq}]]><?pi {eq}?><protection_domain name=\"{eq}\"><program_image path='{eq}'/></protection_domain></system>");
    let m = messages(&check("equals-signs", s.as_bytes()));
    assert!(!m.contains("attributes"), "{m}");
}

/// Shapes that once took time or memory quadratic in their size: overlap checks over every
/// earlier map, I/O port or fixed region; a line number computed from the start of the file for
/// every duplicate; the list of every region name in the help of every dangling map; and every
/// diagnostic echoing its whole (megabyte-long) line when rendered.
#[test]
fn hostile_shapes_stay_fast() {
    const N: usize = 20_000;
    let mut shapes: Vec<(&str, String)> = Vec::new();

    let mut s = String::from("<system><memory_region name=\"a\" size=\"0x1000\"/><protection_domain name=\"p\"><program_image path=\"p.elf\"/>");
    for i in 0..N {
        s += &format!("<map mr=\"a\" vaddr=\"{:#x}\"/>", 0x1000_0000 + i * 0x1000);
    }
    s += "</protection_domain></system>";
    shapes.push(("many-maps", s));

    let mut s = String::from("<system><protection_domain name=\"p\"><program_image path=\"p.elf\"/>");
    for i in 0..N {
        s += &format!("<ioport id=\"{}\" addr=\"{}\" size=\"1\"/>", i % 63, i);
    }
    s += "</protection_domain></system>";
    shapes.push(("many-ioports-one-line", s));

    let mut s = String::from("<system><protection_domain name=\"p\"><program_image path=\"p.elf\"/></protection_domain>");
    for i in 0..N {
        s += &format!("<memory_region name=\"r{i}\" size=\"0x1000\" phys_addr=\"{:#x}\"/>", i * 0x1000);
    }
    s += "</system>";
    shapes.push(("many-fixed-regions", s));

    let mut s = format!("<system><!--{}--><memory_region name=\"r\" size=\"0x1000\"/>", "x".repeat(1_000_000));
    s += "<protection_domain name=\"p\"><program_image path=\"p.elf\"/>";
    s += &"<program_image path=\"q.elf\"/>".repeat(N / 2);
    s += &"<setvar symbol=\"s\" region_paddr=\"r\"/>".repeat(N / 2);
    s += "</protection_domain></system>";
    shapes.push(("duplicates-after-a-long-comment", s));

    let mut s = String::from("<system>\n");
    for i in 0..N / 10 {
        s += &format!("<memory_region name=\"region_number_{i}\" size=\"0x1000\"/>\n");
    }
    s += "<protection_domain name=\"p\"><program_image path=\"p.elf\"/>";
    s += &"<map mr=\"nowhere\" vaddr=\"0x1000\"/>\n".repeat(N);
    s += &"<channel><end pd=\"a\" id=\"0\"/><end pd=\"b\" id=\"0\"/></channel>".repeat(N / 10);
    s += "</protection_domain></system>";
    shapes.push(("dangling-names-with-many-candidates", s));

    shapes.push(("unknown-elements-one-line", format!("<system>{}</system>", "<x/><protection_domain/>".repeat(N))));
    shapes.push(("long-unknown-names", format!("<system><{0} {0}=\"1\"/></system>", "q".repeat(1_000_000))));

    for (what, s) in &shapes {
        let start = Instant::now();
        let o = check(what, s.as_bytes());
        eprintln!("{what}: {} bytes in {:?}", s.len(), start.elapsed());
        let r = match &o.result {
            Ok(c) => &c.report,
            Err(r) => r,
        };
        if r.diagnostics.len() > MAX_RENDERED_DIAGNOSTICS {
            assert!(o.rendered.contains("not shown"), "{what}");
        }
    }
}

#[test]
fn a_system_whose_spec_is_too_large_to_decode_is_refused() {
    // Valid but for its size: a 1.1 MB program path compiles to a spec that backends would refuse.
    let s = format!("<system><protection_domain name=\"p\"><program_image path=\"{}.elf\"/></protection_domain></system>", "d/".repeat(550_000));
    let o = check("huge-spec", s.as_bytes());
    assert!(messages(&o).contains("the compiled system is"), "{}", o.rendered);
}

#[test]
fn a_long_line_is_shown_in_part() {
    let s = format!("<system>{}<bogus/>{}</system>", " ".repeat(100_000), " ".repeat(100_000));
    let o = check("long-line", s.as_bytes());
    assert!(o.rendered.contains("^^^^^ in <system>"), "{}", o.rendered);
    assert!(o.rendered.contains("…"), "{}", o.rendered);
    assert!(o.rendered.len() < 2000, "{}", o.rendered);
    // The caret sits under the name, in the window.
    let shown = o.rendered.lines().find(|l| l.contains("<bogus/>")).unwrap();
    let caret = o.rendered.lines().find(|l| l.contains('^')).unwrap();
    let col = |l: &str, pat: &str| l[..l.find(pat).unwrap()].chars().count();
    assert_eq!(col(shown, "bogus"), col(caret, "^"), "{}", o.rendered);
}

/// Inputs the fuzzers reported, kept as they were found.
#[test]
fn fuzz_findings() {
    // parse_system, first run (2026-11-22): reported as a timeout after 12 s (in malloc, under
    // Report::render), but it checks in well under a millisecond when replayed; a measurement
    // beside the fuzzer was allocating gigabytes at the time (the quadratic help texts that
    // hostile_shapes_stay_fast now covers).
    let timeout = b"<syste.>0\"<![CDATA[lt;ti]]]]]]]]]]]]]]]]--> name=\"bize=\r\rdomaiy=og]]>nam_=a.&hmpcidev= 0l>\"x40t0\"ionapr\n     8000em  ";
    check("timeout-93d06169", timeout);
}
