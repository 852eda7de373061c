//! Every rule of a system file, each shown twice: a form that is accepted and a form that is
//! rejected, with the message and the `file:line:col` the rejection points at.
//!
//! The XML in these tests is written indented inside the Rust source; [`dedent`] removes that
//! indentation before checking, so `<system>` is at line 1, column 1, and the positions asserted
//! are those of the text as it reads in the test.

use rampart_sdf::validate::STACK_GUARD_BYTES;
use rampart_sdf::{check_bytes, check_file, check_str, compile, Backend, Board, Checked, Diagnostic, Options, Report};
use rampart_spec::{IrqSource, PdChannel, Perms, Polarity, ProgramRef, Trigger};
use std::path::{Path, PathBuf};

const X86: &str = "qemu-x86_64";
const ARMV7: &str = "qemu-sabrelite";
const AARCH64: &str = "qemu-aarch64-virt";
const FILE: &str = "system.xml";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Remove a leading newline and the indentation common to all non-blank lines.
fn dedent(xml: &str) -> String {
    let xml = xml.strip_prefix('\n').unwrap_or(xml);
    let indent = xml.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    xml.lines().map(|l| l.get(indent..).unwrap_or("")).collect::<Vec<_>>().join("\n") + "\n"
}

fn options(board: &str) -> Options {
    Options::new(Board::named(board).unwrap())
}

fn check_with(xml: &str, opts: &Options) -> Result<Checked, Report> {
    check_str(FILE, &dedent(xml), opts)
}

#[track_caller]
fn accepted_with(xml: &str, opts: &Options) -> Checked {
    match check_with(xml, opts) {
        Ok(c) => c,
        Err(r) => panic!("expected the system to be accepted on {}:\n{}\n{}", opts.board.name, dedent(xml), r.render(false)),
    }
}

#[track_caller]
fn accepted_on(board: &str, xml: &str) -> Checked {
    accepted_with(xml, &options(board))
}

#[track_caller]
fn accepted(xml: &str) -> Checked {
    accepted_on(X86, xml)
}

/// A rejected system's report, rendered once.
struct Rejection {
    report: Report,
    rendered: String,
}

/// One error of a rejection and the source text it points at.
struct Found {
    diag: Diagnostic,
    text: String,
}

impl Found {
    fn help(&self) -> &str {
        self.diag.help.as_deref().unwrap_or("")
    }

    fn notes(&self) -> String {
        self.diag.notes.join("\n")
    }
}

impl Rejection {
    /// The error whose message contains `needle`; asserts that it points at `line:col`, both as
    /// [`Report::location`] and in the rendered report.
    #[track_caller]
    fn error(&self, needle: &str, line: usize, col: usize) -> Found {
        let diag = self
            .report
            .diagnostics
            .iter()
            .find(|d| d.is_error() && d.message.contains(needle))
            .unwrap_or_else(|| panic!("no error containing `{needle}`:\n{}", self.rendered))
            .clone();
        let at = format!("{FILE}:{line}:{col}");
        assert_eq!(self.report.location(&diag), at, "`{needle}` is reported at the wrong place:\n{}", self.rendered);
        assert!(self.rendered.contains(&format!("--> {at}\n")), "{}", self.rendered);
        let span = diag.span.clone().expect("a located error has a span");
        let text = self.report.source[span].to_string();
        Found { diag, text }
    }
}

#[track_caller]
fn rejected_with(xml: &str, opts: &Options) -> Rejection {
    match check_with(xml, opts) {
        Ok(_) => panic!("expected the system to be rejected on {}:\n{}", opts.board.name, dedent(xml)),
        Err(report) => {
            let rendered = report.render(false);
            assert!(rendered.contains(&format!("{FILE} is not a valid system")), "{rendered}");
            Rejection { report, rendered }
        }
    }
}

#[track_caller]
fn rejected(xml: &str) -> Rejection {
    rejected_with(xml, &options(X86))
}

/// The system is rejected with exactly one error, which contains `needle` and points at
/// `line:col`.
#[track_caller]
fn expect_error_with(xml: &str, opts: &Options, needle: &str, line: usize, col: usize) -> Found {
    let r = rejected_with(xml, opts);
    assert_eq!(r.report.error_count(), 1, "expected only `{needle}`:\n{}", r.rendered);
    r.error(needle, line, col)
}

#[track_caller]
fn expect_error_on(board: &str, xml: &str, needle: &str, line: usize, col: usize) -> Found {
    expect_error_with(xml, &options(board), needle, line, col)
}

#[track_caller]
fn expect_error(xml: &str, needle: &str, line: usize, col: usize) -> Found {
    expect_error_on(X86, xml, needle, line, col)
}

/// 1-based line and column of the text just after the first `after` in the dedented `xml`: for
/// table-driven tests, where the position moves with the value under test.
fn position(xml: &str, after: &str) -> (usize, usize) {
    let xml = dedent(xml);
    let at = xml.find(after).unwrap_or_else(|| panic!("`{after}` is not in\n{xml}")) + after.len();
    let line_start = xml[..at].rfind('\n').map_or(0, |i| i + 1);
    (xml[..at].matches('\n').count() + 1, xml[line_start..at].chars().count() + 1)
}

/// A system of one PD `a` whose start tag has `attrs` after the name, at line 2, column 33:
/// `    <protection_domain name="a" ATTRS>`.
fn one_pd(attrs: &str) -> String {
    format!("<system>\n    <protection_domain name=\"a\" {attrs}>\n        <program_image path=\"a.elf\"/>\n    </protection_domain>\n</system>\n")
}

/// A system of one PD `a` that maps region `buf`, whose start tag has `attrs` after the name, at
/// line 2, column 31: `    <memory_region name="buf" ATTRS/>`.
fn mapped_region(attrs: &str) -> String {
    format!(
        "<system>\n    <memory_region name=\"buf\" {attrs}/>\n    <protection_domain name=\"a\">\n        <program_image path=\"a.elf\"/>\n        <map mr=\"buf\" vaddr=\"0x4000000\"/>\n    </protection_domain>\n</system>\n"
    )
}

/// A fresh, empty directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sdf-rules-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---------------------------------------------------------------------------------------------
// The file itself: XML, elements, attributes, encodings

#[test]
fn unknown_elements_are_rejected_with_a_suggestion_of_the_nearest_known_one() {
    let valid = r#"
        <system>
            <memory_region name="buf" size="0x1000"/>
            <protection_domain name="a">
                <program_image path="a.elf"/>
                <map mr="buf" vaddr="0x4000000"/>
            </protection_domain>
        </system>"#;
    accepted(valid);

    let invalid = valid
        .replace("<map ", "<mpa ")
        .replace("</system>", "    <protection_domian name=\"b\"/>\n            <io_adress_space name=\"vm\"/>\n        </system>");
    let r = rejected(&invalid);
    let f = r.error("unknown element <mpa> inside <protection_domain>", 5, 10);
    assert_eq!(f.text, "mpa");
    assert!(f.help().contains("did you mean <map>?"), "{}", f.help());
    let f = r.error("unknown element <protection_domian> inside <system>", 7, 6);
    assert!(f.help().contains("did you mean <protection_domain>?"), "{}", f.help());
    let f = r.error("unknown element <io_adress_space> inside <system>", 8, 6);
    assert!(f.help().contains("did you mean <io_address_space>?"), "{}", f.help());
}

#[test]
fn unknown_attributes_are_rejected_with_a_suggestion_when_one_is_near() {
    accepted(&one_pd(r#"priority="1""#));

    let f = expect_error(&one_pd(r#"priorty="1""#), "unknown attribute `priorty` on <protection_domain>", 2, 33);
    assert_eq!(f.text, "priorty");
    assert!(f.help().contains("did you mean `priority`?"), "{}", f.help());

    let f = expect_error(&one_pd(r#"colour="red""#), "unknown attribute `colour` on <protection_domain>", 2, 33);
    assert!(!f.help().contains("did you mean"), "{}", f.help());
    assert!(f.help().contains("<protection_domain> takes `name`, `priority`"), "{}", f.help());

    let ends = r#"<end pd="a" id="0"/><end pd="b" id="0"/>"#;
    let f = expect_error(&channel(ends).replace("<channel>", "<channel kind=\"pp\">"), "unknown attribute `kind` on <channel>", 8, 14);
    assert!(f.help().contains("<channel> takes no attributes"), "{}", f.help());
}

#[test]
fn missing_required_attributes_are_reported_at_their_element() {
    let valid = r#"
        <system>
            <memory_region name="buf" size="0x1000"/>
            <protection_domain name="a">
                <program_image path="a.elf"/>
                <map mr="buf" vaddr="0x4000000"/>
            </protection_domain>
            <protection_domain name="b">
                <program_image path="b.elf"/>
            </protection_domain>
            <channel>
                <end pd="a" id="0"/>
                <end pd="b" id="0"/>
            </channel>
        </system>"#;
    accepted(valid);

    let invalid = valid
        .replace(r#" size="0x1000""#, "")
        .replace(r#" path="a.elf""#, "")
        .replace(r#" vaddr="0x4000000""#, "")
        .replace(r#"<end pd="a" id="0"/>"#, r#"<end pd="a"/>"#)
        .replace(r#"<protection_domain name="b">"#, r#"<protection_domain priority="1">"#);
    let r = rejected(&invalid);
    let f = r.error("<memory_region> is missing the required attribute `size`", 2, 6);
    assert_eq!(f.text, "memory_region");
    assert!(f.help().starts_with("add size=\"...\""), "{}", f.help());
    r.error("<program_image> is missing the required attribute `path`", 4, 10);
    r.error("<map> is missing the required attribute `vaddr`", 5, 10);
    r.error("<protection_domain> is missing the required attribute `name`", 7, 6);
    r.error("<end> is missing the required attribute `id`", 11, 10);
}

#[test]
fn a_pd_has_exactly_one_non_empty_program_image() {
    let xml = |images: &str| format!("<system>\n    <protection_domain name=\"a\">\n        {images}\n    </protection_domain>\n</system>\n");
    accepted(&xml(r#"<program_image path="a.elf"/>"#));

    expect_error(&xml(""), "protection domain `a` has no <program_image>", 2, 6);
    let f = expect_error(&xml(r#"<program_image path="a.elf"/><program_image path="b.elf"/>"#), "a protection domain has more than one <program_image>", 3, 39);
    assert!(f.notes().contains("the first is on line 3"), "{}", f.notes());
    expect_error(&xml(r#"<program_image path=""/>"#), "program_image path is empty", 3, 30);
}

#[test]
fn names_are_1_to_64_printable_bytes() {
    let xml = |name: &str| one_pd("").replace("name=\"a\"", &format!("name=\"{name}\""));
    accepted(&xml(&"n".repeat(64)));
    accepted(&xml("serial driver #1"));

    let long = "n".repeat(65);
    let f = expect_error(&xml(&long), &format!("name `{long}` is not a valid name"), 2, 30);
    assert!(f.help().contains("1 to 64 bytes"), "{}", f.help());
    expect_error(&xml(""), "name `` is not a valid name", 2, 30);
    expect_error(&xml("a&#9;b"), "name `a\\tb` is not a valid name", 2, 30);
}

#[test]
fn text_inside_elements_is_rejected() {
    let xml = |text: &str| {
        format!("<system>\n    {text}\n    <protection_domain name=\"a\">\n        <program_image path=\"a.elf\">{text}</program_image>\n    </protection_domain>\n</system>\n")
    };
    accepted(&xml("<!-- comments are fine -->"));

    let r = rejected(&xml("hello"));
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    let f = r.error("unexpected text `hello` inside <system>", 2, 5);
    assert_eq!(f.text, "hello");
    assert!(f.help().contains("<!-- ... -->"), "{}", f.help());
    r.error("unexpected text `hello` inside <program_image>", 4, 37);

    let f = rejected(&xml("<extra/>")).error("unknown element <extra> inside <program_image>", 4, 38);
    assert!(f.help().contains("<program_image> has no child elements"), "{}", f.help());
}

#[test]
fn the_root_element_must_be_system() {
    accepted(&one_pd(""));

    let f = expect_error(&one_pd("").replace("system>", "sytsem>"), "the root element is <sytsem>, not <system>", 1, 2);
    assert!(f.help().contains("one <system> element"), "{}", f.help());
    expect_error(
        &one_pd("").replacen("<system>", "<system xmlns=\"http://example.org/sdf\">", 1),
        "the root element is <system> in namespace `http://example.org/sdf`, not <system>",
        1,
        2,
    );
}

#[test]
fn malformed_xml_is_reported_where_it_breaks() {
    let valid = one_pd("");
    accepted(&valid);

    let f = expect_error(&valid.replace("</protection_domain>", "</protection_domian>"), "malformed XML", 4, 5);
    assert!(f.help().contains("fix the XML syntax"), "{}", f.help());
    // An unclosed quote runs on until the `<` that may not be in an attribute value.
    expect_error(&valid.replace("name=\"a\"", "name=\"a"), "malformed XML: expected '\"' not '<' at 3:9", 3, 9);
    expect_error("", "malformed XML", 1, 1);
}

#[test]
fn a_dtd_is_refused() {
    let valid = one_pd("");
    accepted(&valid);

    let with_dtd = format!("<!DOCTYPE system [\n  <!ENTITY a \"aaaaaaaaaa\">\n]>\n{valid}");
    let f = expect_error(&with_dtd, "malformed XML", 1, 1);
    assert!(f.help().contains("remove the <!DOCTYPE>"), "{}", f.help());
}

#[test]
fn bytes_that_are_not_utf8_are_refused_where_they_are() {
    let opts = options(X86);
    let valid = one_pd("");
    check_bytes(FILE, valid.as_bytes(), &opts).unwrap();
    let with_bom = [b"\xEF\xBB\xBF".as_slice(), valid.as_bytes()].concat();
    check_bytes(FILE, &with_bom, &opts).expect("a UTF-8 byte order mark is accepted");

    // é in Latin-1 is the single byte 0xe9, where UTF-8 has 0xc3 0xa9.
    let mut latin1 = valid.replace("name=\"a\"", "name=\"a\u{e9}\"").into_bytes();
    let at = latin1.windows(2).position(|w| w == [0xc3, 0xa9]).unwrap();
    latin1.splice(at..at + 2, [0xe9]);
    let report = check_bytes(FILE, &latin1, &opts).unwrap_err();
    assert_eq!(report.error_count(), 1);
    let d = &report.diagnostics[0];
    assert!(d.message.contains(&format!("the file is not valid UTF-8 (byte 0xe9 at offset {at})")), "{}", d.message);
    assert_eq!(report.location(d), format!("{FILE}:2:31"));
    assert!(report.render(false).contains(&format!("--> {FILE}:2:31\n")));
}

#[test]
fn a_declared_encoding_other_than_utf8_is_refused() {
    let xml = |decl: &str| format!("{decl}\n{}", one_pd(""));
    accepted(&xml(r#"<?xml version="1.0"?>"#));
    accepted(&xml(r#"<?xml version="1.0" encoding="UTF-8"?>"#));
    accepted(&xml(r#"<?xml version="1.0" encoding='utf-8'?>"#));

    let f = expect_error(&xml(r#"<?xml version="1.0" encoding="ISO-8859-1"?>"#), "the file declares encoding `ISO-8859-1`; only UTF-8 is read", 1, 21);
    assert!(f.help().contains("convert the file to UTF-8"), "{}", f.help());
}

#[test]
fn oversized_files_and_documents_with_too_many_nodes_are_refused() {
    let huge = format!("<system>\n<!--{}-->\n</system>", "x".repeat(rampart_sdf::parse::MAX_SYSTEM_FILE_BYTES));
    let report = check_str(FILE, &huge, &options(X86)).unwrap_err();
    assert!(report.diagnostics[0].message.contains("more than the limit of 4194304"), "{}", report.render(false));

    let many = format!("<system>{}</system>", "<!---->".repeat(rampart_sdf::parse::MAX_XML_NODES as usize));
    let report = check_str(FILE, &many, &options(X86)).unwrap_err();
    assert!(report.diagnostics[0].message.contains("malformed XML"), "{}", report.render(false));
    assert!(report.diagnostics[0].help.as_deref().unwrap().contains("at most 200000 XML nodes"));
}

// ---------------------------------------------------------------------------------------------
// Numbers and booleans

#[test]
fn numbers_may_be_decimal_or_0x_hexadecimal_with_underscores() {
    for (text, value) in [("16", 16), ("0x10", 16), ("0X1_0", 16), ("1_6", 16), ("0xfe", 254), ("0", 0)] {
        let c = accepted(&one_pd(&format!("priority=\"{text}\"")));
        assert_eq!(c.spec.pds[0].priority, value, "priority=\"{text}\"");
    }
    let c = accepted(&mapped_region(r#"size="0x20_000""#));
    assert_eq!(c.spec.regions[0].size_bytes, 0x20000);
}

#[test]
fn negative_empty_non_numeric_and_huge_numbers_are_rejected() {
    for (text, message) in [
        ("-1", "priority `-1` is negative"),
        ("", "priority is empty"),
        ("ten", "priority `ten` is not a number"),
        ("0x", "priority `0x` is not a number"),
        ("12a", "priority `12a` is not a number"),
        ("1.5", "priority `1.5` is not a number"),
        ("99999999999999999999999", "priority `99999999999999999999999` does not fit in 64 bits"),
        ("0x1_0000_0000_0000_0000", "priority `0x1_0000_0000_0000_0000` does not fit in 64 bits"),
    ] {
        let f = expect_error(&one_pd(&format!("priority=\"{text}\"")), message, 2, 43);
        assert_eq!(f.text, text);
        assert!(f.help().contains("decimal or 0x-prefixed hexadecimal"), "{}", f.help());
    }
    // 64-bit attributes take up to 2^64 - 1 and no more.
    expect_error(&mapped_region(r#"size="18446744073709551616""#), "does not fit in 64 bits", 2, 37);
}

#[test]
fn booleans_are_true_or_false_and_nothing_else() {
    let xml = |pd: &str, map: &str, end: &str| {
        format!(
            r#"
            <system>
                <memory_region name="buf" size="0x1000"/>
                <protection_domain name="a" priority="1"{pd}>
                    <program_image path="a.elf"/>
                    <map mr="buf" vaddr="0x4000000"{map}/>
                </protection_domain>
                <protection_domain name="b" priority="2">
                    <program_image path="b.elf"/>
                </protection_domain>
                <channel>
                    <end pd="a" id="0"{end}/>
                    <end pd="b" id="0"/>
                </channel>
            </system>"#
        )
    };
    for attr in ["passive", "fpu", "cached", "pp", "notify"] {
        let with = |value: &str| {
            let a = format!(" {attr}=\"{value}\"");
            match attr {
                "passive" | "fpu" => xml(&a, "", ""),
                "cached" => xml("", &a, ""),
                _ => xml("", "", &a),
            }
        };
        for value in [true, false] {
            let c = accepted(&with(&value.to_string()));
            let (pd, ch) = (&c.spec.pds[0], &c.spec.pds[0].channels[0]);
            let read = match attr {
                "passive" => pd.passive,
                "fpu" => pd.fpu,
                "cached" => pd.maps[0].cached,
                "pp" => ch.may_call,
                _ => ch.may_notify,
            };
            assert_eq!(read, value, "{attr}=\"{value}\"");
        }
        for value in ["yes", "1", "True", "FALSE", ""] {
            let xml = with(value);
            let (line, col) = position(&xml, &format!("{attr}=\""));
            let f = expect_error(&xml, &format!("{attr} `{value}` is not a boolean"), line, col);
            assert_eq!(f.text, value);
            assert!(f.help().contains(&format!("{attr} is `true` or `false`")), "{}", f.help());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Protection domains

#[test]
fn protection_domain_names_are_unique() {
    let xml = |second: &str| {
        format!(
            r#"
            <system>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                </protection_domain>
                <protection_domain name="{second}">
                    <program_image path="b.elf"/>
                </protection_domain>
            </system>"#
        )
    };
    accepted(&xml("b"));

    let f = expect_error(&xml("a"), "protection domain `a` is defined twice", 5, 30);
    assert_eq!(f.text, "a");
    assert!(f.notes().contains("the first definition is on line 2"), "{}", f.notes());
}

#[test]
fn memory_region_names_are_unique() {
    let xml = |second: &str| {
        format!(
            r#"
            <system>
                <memory_region name="buf" size="0x1000"/>
                <memory_region name="{second}" size="0x1000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="buf" vaddr="0x4000000"/>
                    <map mr="{second}" vaddr="0x4001000"/>
                </protection_domain>
            </system>"#
        )
    };
    accepted(&xml("log"));

    let f = expect_error(&xml("buf"), "memory region `buf` is defined twice", 3, 26);
    assert!(f.notes().contains("the first definition is on line 2"), "{}", f.notes());
}

/// `n` PDs, one a line from line 2, each `<protection_domain` at column 5.
fn pds(n: usize) -> String {
    let mut xml = String::from("<system>\n");
    for i in 0..n {
        xml += &format!("    <protection_domain name=\"pd{i}\"><program_image path=\"pd.elf\"/></protection_domain>\n");
    }
    xml + "</system>\n"
}

#[test]
fn a_system_has_at_most_63_protection_domains() {
    assert_eq!(accepted(&pds(63)).spec.pds.len(), 63);

    let f = expect_error(&pds(64), "the system has 64 protection domains, more than the limit of 63", 65, 6);
    assert_eq!(f.text, "protection_domain");
}

#[test]
fn a_system_has_at_least_one_protection_domain() {
    accepted(&pds(1));

    for xml in ["<system/>", "<system>\n    <memory_region name=\"buf\" size=\"0x1000\"/>\n</system>"] {
        let report = check_str(FILE, xml, &options(X86)).unwrap_err();
        assert_eq!(report.error_count(), 1, "{}", report.render(false));
        let d = report.diagnostics.iter().find(|d| d.is_error()).unwrap();
        assert_eq!(d.message, "the system has no protection domains");
        // The whole file is at fault: the location is the file alone.
        assert_eq!(report.location(d), FILE);
        assert!(report.render(false).contains(&format!("  --> {FILE}\n")));
    }
}

#[test]
fn priority_is_from_0_to_254() {
    assert_eq!(accepted(&one_pd(r#"priority="0""#)).spec.pds[0].priority, 0);
    assert_eq!(accepted(&one_pd(r#"priority="254""#)).spec.pds[0].priority, 254);

    let f = expect_error(&one_pd(r#"priority="255""#), "priority 255 is out of range", 2, 43);
    assert_eq!(f.text, "255");
    assert!(f.help().contains("an integer from 0 to 254"), "{}", f.help());
}

#[test]
fn budget_may_not_exceed_period_in_either_attribute_order() {
    let sched = |attrs: &str| accepted(&one_pd(attrs)).spec.pds[0].sched.map(|s| (s.budget_us, s.period_us));
    assert_eq!(sched(""), None);
    assert_eq!(sched(r#"budget="1000" period="1000""#), Some((1000, 1000)));
    assert_eq!(sched(r#"budget="500" period="1000""#), Some((500, 1000)));
    assert_eq!(sched(r#"period="1000" budget="500""#), Some((500, 1000)));
    // As in Microkit, the period defaults to the budget, so a budget alone never exceeds it...
    assert_eq!(sched(r#"budget="5000""#), Some((5000, 5000)));
    // ...and the budget defaults to 1000 µs.
    assert_eq!(sched(r#"period="2000""#), Some((1000, 2000)));

    let f = expect_error(&one_pd(r#"budget="2000" period="1000""#), "budget (2000 µs) is larger than period (1000 µs)", 2, 41);
    assert_eq!(f.text, "2000");
    let f = expect_error(&one_pd(r#"period="1000" budget="2000""#), "budget (2000 µs) is larger than period (1000 µs)", 2, 55);
    assert_eq!(f.text, "2000");
    // A period alone below the default budget: the period is at fault.
    let f = expect_error(&one_pd(r#"period="500""#), "budget (1000 µs) is larger than period (500 µs)", 2, 41);
    assert!(f.help().contains("the default budget is 1000 µs"), "{}", f.help());
    // A budget that is not a number is reported once, not compared with the period as well.
    expect_error(&one_pd(r#"budget="lots" period="500""#), "budget `lots` is not a number", 2, 41);
    expect_error(&one_pd(r#"budget="0""#), "budget 0 is out of range", 2, 41);
}

#[test]
fn stack_size_is_4_kib_to_16_mib_in_whole_pages() {
    for (text, bytes) in [("0x1000", 0x1000), ("0x2000", 0x2000), ("0x1000000", 0x100_0000)] {
        assert_eq!(accepted(&one_pd(&format!("stack_size=\"{text}\""))).spec.pds[0].stack_size_bytes, bytes);
    }
    assert_eq!(accepted(&one_pd("")).spec.pds[0].stack_size_bytes, 0x1000);

    expect_error(&one_pd(r#"stack_size="0x800""#), "stack_size 2048 is out of range", 2, 45);
    expect_error(&one_pd(r#"stack_size="0x1001000""#), "stack_size 16781312 is out of range", 2, 45);
    let f = expect_error(&one_pd(r#"stack_size="0x1800""#), "stack_size 0x1800 is not a multiple of the page size", 2, 45);
    assert_eq!(f.text, "0x1800");
}

#[test]
fn cpu_is_one_the_board_has() {
    assert_eq!(accepted(&one_pd(r#"cpu="0""#)).spec.pds[0].cpu, 0);

    let f = expect_error(&one_pd(r#"cpu="1""#), "cpu 1 is out of range", 2, 38);
    assert!(f.help().contains("board qemu-x86_64 has 1"), "{}", f.help());
}

// ---------------------------------------------------------------------------------------------
// Ids of channels, IRQs and I/O ports

#[test]
fn channel_and_irq_ids_are_from_0_to_62() {
    let xml = |irq_id: &str, end_id: &str| {
        format!(
            r#"
            <system>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <irq pin="4" vector="4" id="{irq_id}"/>
                </protection_domain>
                <protection_domain name="b">
                    <program_image path="b.elf"/>
                </protection_domain>
                <channel>
                    <end pd="a" id="{end_id}"/>
                    <end pd="b" id="0"/>
                </channel>
            </system>"#
        )
    };
    let c = accepted(&xml("0", "62"));
    assert_eq!((c.spec.pds[0].irqs[0].id, c.spec.pds[0].channels[0].id), (0, 62));

    let f = expect_error(&xml("63", "62"), "id 63 is out of range", 4, 37);
    assert_eq!(f.text, "63");
    assert!(f.help().contains("0 to 62"), "{}", f.help());
    expect_error(&xml("0", "63"), "id 63 is out of range", 10, 25);
}

/// PD `a` with a channel end of id 0, an IRQ of id `irq_id` and an I/O port range of id 2.
fn ids(irq_id: &str) -> String {
    format!(
        r#"
        <system>
            <protection_domain name="a">
                <program_image path="a.elf"/>
                <irq pin="4" vector="4" id="{irq_id}"/>
                <ioport addr="0x3f8" size="8" id="2"/>
            </protection_domain>
            <protection_domain name="b">
                <program_image path="b.elf"/>
            </protection_domain>
            <channel>
                <end pd="a" id="0"/>
                <end pd="b" id="0"/>
            </channel>
        </system>"#
    )
}

#[test]
fn a_channel_and_an_irq_of_one_pd_may_not_share_an_id() {
    accepted(&ids("1"));

    let f = expect_error(&ids("0"), "id 0 is used twice in `a`", 11, 25);
    assert_eq!(f.diag.element.as_deref(), Some("end"));
    assert!(f.notes().contains("it is first used by the irq on line 4"), "{}", f.notes());
    assert!(f.help().contains("1 is free"), "{}", f.help());
}

#[test]
fn an_irq_and_an_ioport_of_one_pd_may_not_share_an_id() {
    accepted(&ids("1"));

    let f = expect_error(&ids("2"), "id 2 is used twice in `a`", 5, 43);
    assert_eq!(f.diag.element.as_deref(), Some("ioport"));
    assert!(f.notes().contains("it is first used by the irq on line 4"), "{}", f.notes());
}

// ---------------------------------------------------------------------------------------------
// Memory regions

#[test]
fn a_region_size_is_a_whole_number_of_pages() {
    assert_eq!(accepted(&mapped_region(r#"size="0x2000""#)).spec.regions[0].size_bytes, 0x2000);

    let f = expect_error(&mapped_region(r#"size="0x1800""#), "size 0x1800 is not a multiple of the page size 0x1000", 2, 37);
    assert!(f.help().contains("e.g. 0x2000"), "{}", f.help());
    expect_error(&mapped_region(r#"size="0""#), "size 0 is out of range", 2, 37);
    expect_error(&mapped_region(r#"size="0x201000" page_size="0x200000""#), "size 0x201000 is not a multiple of the page size 0x200000", 2, 37);
}

#[test]
fn page_sizes_are_those_of_the_boards_architecture() {
    for (board, page, ok) in [
        (X86, "0x1000", true),
        (X86, "0x200000", true),
        (X86, "0x10000", false),
        (X86, "0x40000000", false),
        (AARCH64, "0x200000", true),
        (AARCH64, "0x10000", false),
        (ARMV7, "0x1000", true),
        (ARMV7, "0x10000", true),
        (ARMV7, "0x100000", true),
        (ARMV7, "0x1000000", true),
        (ARMV7, "0x200000", false),
    ] {
        let xml = mapped_region(&format!("page_size=\"{page}\" size=\"{page}\""));
        let bytes = u64::from_str_radix(&page[2..], 16).unwrap();
        if ok {
            let c = accepted_on(board, &xml);
            assert_eq!(c.spec.regions[0].page_size_bytes, bytes, "{board} {page}");
        } else {
            let arch = Board::named(board).unwrap().arch.name();
            let f = expect_error_on(board, &xml, &format!("page_size {page} is not a page size of {arch}"), 2, 42);
            assert_eq!(f.text, page);
            assert!(f.help().contains(&format!("on board {board} page_size is one of 0x1000,")), "{}", f.help());
        }
    }
}

#[test]
fn a_region_with_a_bad_page_size_is_not_also_reported_as_missing() {
    // The map names the region; only the page size is wrong.
    let r = rejected(&mapped_region(r#"page_size="0x10000" size="0x10000""#));
    assert_eq!(r.report.error_count(), 1, "{}", r.rendered);
    r.error("page_size 0x10000 is not a page size of x86_64", 2, 42);
    let r = rejected(&mapped_region(r#"size="-1""#));
    assert_eq!(r.report.error_count(), 1, "{}", r.rendered);
}

#[test]
fn phys_addr_is_aligned_to_the_page_size() {
    let c = accepted(&mapped_region(r#"size="0x1000" phys_addr="0x9000000""#));
    assert_eq!(c.spec.regions[0].phys_addr, Some(0x900_0000));

    let f = expect_error(&mapped_region(r#"size="0x1000" phys_addr="0x9000800""#), "phys_addr 0x9000800 is not aligned to the page size 0x1000", 2, 56);
    assert_eq!(f.text, "0x9000800");
    expect_error(
        &mapped_region(r#"size="0x200000" page_size="0x200000" phys_addr="0x9100000""#),
        "phys_addr 0x9100000 is not aligned to the page size 0x200000",
        2,
        79,
    );
    expect_error(&mapped_region(r#"size="0x2000" phys_addr="0xfffffffffffff000""#), "phys_addr + size overflows the address space", 2, 56);
}

#[test]
fn fixed_physical_regions_may_touch_but_not_overlap() {
    let xml = |second: &str| {
        format!(
            r#"
            <system>
                <memory_region name="uart" size="0x2000" phys_addr="0x9000000"/>
                <memory_region name="gpio" size="0x1000" phys_addr="{second}"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="uart" vaddr="0x4000000" cached="false"/>
                    <map mr="gpio" vaddr="0x4002000" cached="false"/>
                </protection_domain>
            </system>"#
        )
    };
    accepted(&xml("0x9002000"));
    accepted(&xml("0x8fff000"));

    for inside in ["0x9000000", "0x9001000"] {
        let f = expect_error(&xml(inside), &format!("memory region `gpio` at physical [{inside}, "), 3, 57);
        assert!(f.diag.message.contains("overlaps `uart` at [0x9000000, 0x9002000)"), "{}", f.diag.message);
        assert!(f.notes().contains("`uart` is on line 2"), "{}", f.notes());
    }
}

#[test]
fn an_unused_region_is_a_warning_and_the_system_stays_valid() {
    let used = accepted(&mapped_region(r#"size="0x1000""#));
    assert_eq!(used.report.diagnostics.len(), 0);

    let xml = mapped_region(r#"size="0x1000""#).replace("<system>\n", "<system>\n    <memory_region name=\"spare\" size=\"0x1000\"/>\n");
    let c = accepted(&xml);
    assert_eq!((c.report.error_count(), c.report.warning_count()), (0, 1));
    let w = &c.report.diagnostics[0];
    assert_eq!(w.message, "memory region `spare` is not mapped by any protection domain");
    assert_eq!(c.report.location(w), format!("{FILE}:2:26"));
    let rendered = c.report.render(false);
    assert!(rendered.starts_with("warning: memory region `spare`"), "{rendered}");
    assert!(!rendered.contains("not a valid system"), "{rendered}");

    // A region named only by a <setvar> is used too.
    let xml = xml
        .replace("</protection_domain>", "    <setvar symbol=\"spare_paddr\" region_paddr=\"spare\"/>\n    </protection_domain>")
        .replace(r#"name="spare" size="0x1000""#, r#"name="spare" size="0x1000" phys_addr="0x10000000""#);
    assert_eq!(accepted(&xml).report.diagnostics.len(), 0);
}

#[test]
fn a_prefill_file_must_exist_and_fit_its_region() {
    let dir = scratch_dir("prefill");
    std::fs::write(dir.join("fits.bin"), vec![7u8; 0x1000]).unwrap();
    std::fs::write(dir.join("big.bin"), vec![7u8; 0x1001]).unwrap();
    let with_dir = Options { base_dir: Some(dir.clone()), ..options(X86) };
    let xml = |file: &str| mapped_region(&format!("size=\"0x1000\" prefill_path=\"{file}\""));

    let c = accepted_with(&xml("fits.bin"), &with_dir);
    let prefill = c.spec.regions[0].prefill.clone().unwrap();
    assert_eq!((prefill.path.as_str(), prefill.size_bytes), ("fits.bin", Some(0x1000)));
    assert!(prefill.sha256.is_some());

    let f = expect_error_with(&xml("big.bin"), &with_dir, "prefill file `big.bin` is 4097 bytes, larger than region `buf` (4096 bytes)", 2, 59);
    assert_eq!(f.text, "big.bin");
    assert!(f.help().contains("at least 0x2000 bytes"), "{}", f.help());
    let f = expect_error_with(&xml("missing.bin"), &with_dir, "prefill file `missing.bin` cannot be read", 2, 59);
    assert!(f.help().contains(&dir.join("missing.bin").display().to_string()), "{}", f.help());
    expect_error_with(&xml(""), &with_dir, "prefill_path is empty", 2, 59);

    // Without a base directory, files are not read, so nothing can be said about them.
    let c = accepted(&xml("missing.bin"));
    assert_eq!(c.spec.regions[0].prefill.as_ref().unwrap().size_bytes, None);

    // check_file resolves prefill paths from the system file's directory.
    let system = dir.join("system.xml");
    std::fs::write(&system, xml("fits.bin")).unwrap();
    check_file(&system, &options(X86)).unwrap_or_else(|r| panic!("{}", r.render(false)));
    std::fs::write(&system, xml("big.bin")).unwrap();
    let report = check_file(&system, &options(X86)).unwrap_err();
    let d = &report.diagnostics[0];
    assert!(d.message.contains("larger than region `buf`"), "{}", d.message);
    assert_eq!(report.location(d), format!("{}:2:59", system.display()));
    let missing = check_file(&dir.join("nope.xml"), &options(X86)).unwrap_err();
    assert!(missing.diagnostics[0].message.starts_with("cannot read"), "{}", missing.render(false));
}

// ---------------------------------------------------------------------------------------------
// Maps

#[test]
fn a_map_names_an_existing_region() {
    let xml = |mr: &str| {
        format!(
            r#"
            <system>
                <memory_region name="buf" size="0x1000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="{mr}" vaddr="0x4000000"/>
                </protection_domain>
            </system>"#
        )
    };
    assert_eq!(accepted(&xml("buf")).spec.pds[0].maps[0].region, 0);

    let f = expect_error(&xml("bfu"), "<map> names memory region `bfu`, which does not exist", 5, 18);
    assert_eq!(f.text, "bfu");
    assert_eq!(f.help(), "the regions are `buf`");
}

#[test]
fn a_map_vaddr_is_aligned_to_its_regions_page_size() {
    let xml = |vaddr: &str| {
        format!(
            r#"
            <system>
                <memory_region name="big" size="0x200000" page_size="0x200000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="big" vaddr="{vaddr}"/>
                </protection_domain>
            </system>"#
        )
    };
    assert_eq!(accepted(&xml("0x4200000")).spec.pds[0].maps[0].vaddr, 0x420_0000);

    let f = expect_error(&xml("0x4001000"), "vaddr 0x4001000 is not aligned to the page size of `big` (0x200000)", 5, 30);
    assert_eq!(f.text, "0x4001000");
}

#[test]
fn maps_of_one_pd_may_not_overlap_but_two_pds_may_use_the_same_vaddr() {
    let xml = |log_vaddr: &str| {
        format!(
            r#"
            <system>
                <memory_region name="buf" size="0x2000"/>
                <memory_region name="log" size="0x1000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="buf" vaddr="0x4000000"/>
                    <map mr="log" vaddr="{log_vaddr}"/>
                </protection_domain>
                <protection_domain name="b">
                    <program_image path="b.elf"/>
                    <map mr="log" vaddr="0x4000000"/>
                </protection_domain>
            </system>"#
        )
    };
    accepted(&xml("0x4002000"));
    accepted(&xml("0x3fff000"));

    for vaddr in ["0x4001000", "0x4000000"] {
        let f = expect_error(&xml(vaddr), &format!("`log` mapped at [{vaddr}, "), 7, 30);
        assert!(f.diag.message.contains("overlaps `buf` at [0x4000000, 0x4002000) in `a`"), "{}", f.diag.message);
        assert!(f.notes().contains("the other map is on line 6"), "{}", f.notes());
    }
}

#[test]
fn a_map_may_not_run_into_the_stack_at_the_top_of_the_user_window() {
    for board in [X86, ARMV7] {
        let arch = Board::named(board).unwrap().arch;
        let xml = |stack: u64, vaddr: u64| {
            format!(
                r#"
                <system>
                    <memory_region name="buf" size="0x2000"/>
                    <protection_domain name="a" stack_size="{stack:#x}">
                        <program_image path="a.elf"/>
                        <map mr="buf" vaddr="{vaddr:#x}"/>
                    </protection_domain>
                </system>"#
            )
        };
        for stack in [0x1000, 0x10000] {
            let limit = arch.stack_top() - stack - STACK_GUARD_BYTES;
            accepted_on(board, &xml(stack, limit - 0x2000));

            let f = expect_error_on(
                board,
                &xml(stack, limit - 0x1000),
                &format!("`buf` mapped at {:#x} (0x2000 bytes) runs past {limit:#x}, where `a`'s stack guard begins", limit - 0x1000),
                5,
                30,
            );
            assert!(f.help().contains(&format!("the stack ({stack:#x} bytes)")), "{}", f.help());
        }
        let top = arch.user_top();
        expect_error_on(board, &xml(0x1000, top), &format!("vaddr {top} is out of range"), 5, 30);
    }
}

#[test]
fn perms_are_r_rw_rx_or_rwx() {
    let xml = |perms: &str| {
        format!(
            r#"
            <system>
                <memory_region name="buf" size="0x1000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="buf" vaddr="0x4000000" perms="{perms}"/>
                </protection_domain>
            </system>"#
        )
    };
    let p = |read, write, execute| Perms { read, write, execute };
    for (text, perms) in [("r", p(true, false, false)), ("rw", p(true, true, false)), ("rx", p(true, false, true)), ("rwx", p(true, true, true))] {
        assert_eq!(accepted(&xml(text)).spec.pds[0].maps[0].perms, perms, "perms=\"{text}\"");
    }
    assert_eq!(accepted(&mapped_region(r#"size="0x1000""#)).spec.pds[0].maps[0].perms, p(true, true, false), "the default is rw");

    for (text, message) in [
        ("w", "perms `w` is write-only"),
        ("wx", "perms `wx` is write-only"),
        ("x", "perms `x` lacks `r`"),
        ("", "perms is empty"),
        ("rr", "perms `rr` repeats `r`"),
        ("q", "perms `q` has `q`, which is not a permission"),
        ("RW", "perms `RW` has `R`, which is not a permission"),
    ] {
        let f = expect_error(&xml(text), message, 5, 48);
        assert_eq!(f.text, text);
        assert!(f.help().contains("such as `r`, `rw`, `rx` or `rwx`"), "{}", f.help());
    }
}

// ---------------------------------------------------------------------------------------------
// Interrupts

/// A system of one PD `serial` with `irq` as its second child element (line 4, column 9).
fn with_irq(irq: &str) -> String {
    format!(
        "<system>\n    <protection_domain name=\"serial\">\n        <program_image path=\"serial.elf\"/>\n        {irq}\n    </protection_domain>\n</system>\n"
    )
}

#[test]
fn x86_irqs_are_io_apic_pins_and_the_arm_form_is_refused_with_the_x86_form_as_help() {
    let c = accepted(&with_irq(r#"<irq pin="4" vector="36" ioapic="0" trigger="edge" polarity="low" id="1" setvar_id="uart_irq"/>"#));
    let irq = &c.spec.pds[0].irqs[0];
    assert_eq!(irq.source, IrqSource::Ioapic { ioapic: 0, pin: 4, vector: 36, trigger: Trigger::Edge, polarity: Polarity::ActiveLow });
    assert_eq!((irq.id, irq.setvar_id.as_deref()), (1, Some("uart_irq")));
    let c = accepted(&with_irq(r#"<irq pin="4" vector="4" id="1"/>"#));
    assert_eq!(c.spec.pds[0].irqs[0].source, IrqSource::Ioapic { ioapic: 0, pin: 4, vector: 4, trigger: Trigger::Level, polarity: Polarity::ActiveHigh });

    let f = expect_error(&with_irq(r#"<irq irq="33" id="1" trigger="edge"/>"#), "this is the ARM form of <irq>, but the board is x86_64", 4, 10);
    assert_eq!(f.text, "irq");
    assert!(f.help().contains(r#"on board qemu-x86_64 an IRQ is an I/O APIC pin: <irq pin="4" vector="4""#), "{}", f.help());
}

#[test]
fn arm_irqs_are_gic_interrupts_and_the_x86_form_is_refused_with_the_arm_form_as_help() {
    for board in [ARMV7, AARCH64] {
        let c = accepted_on(board, &with_irq(r#"<irq irq="59" id="1" trigger="edge"/>"#));
        assert_eq!(c.spec.pds[0].irqs[0].source, IrqSource::Arm { irq: 59, trigger: Trigger::Edge });
        let c = accepted_on(board, &with_irq(r#"<irq irq="59" id="1"/>"#));
        assert_eq!(c.spec.pds[0].irqs[0].source, IrqSource::Arm { irq: 59, trigger: Trigger::Level });

        let arch = Board::named(board).unwrap().arch.name();
        let f = expect_error_on(
            board,
            &with_irq(r#"<irq pin="4" vector="4" id="1"/>"#),
            &format!("this is the x86 I/O APIC form of <irq>, but the board is {arch}"),
            4,
            10,
        );
        assert!(f.help().contains(&format!(r#"on board {board} an IRQ is a GIC interrupt: <irq irq="33""#)), "{}", f.help());
    }
}

#[test]
fn msi_interrupts_name_a_pci_device_handle_and_vector_on_x86_only() {
    let msi = |pcidev: &str| with_irq(&format!(r#"<irq pcidev="{pcidev}" handle="0" vector="5" id="1"/>"#));
    let c = accepted(&msi("01:1f.2"));
    let m = &c.system.pds[0].msis[0];
    assert_eq!((m.pcidev.to_string(), m.handle, m.vector, m.id), ("01:1f.2".to_string(), 0, 5, 1));
    // Not in the compiled spec: no backend delivers MSIs (see the backend tests).
    assert!(c.spec.pds[0].irqs.is_empty());

    for (pcidev, message) in [
        ("0:20.0", "pcidev `0:20.0`: the PCI device is out of range"),
        ("0:0.8", "pcidev `0:0.8`: the PCI function is out of range"),
        ("100:0.0", "pcidev `100:0.0`: the PCI bus is out of range"),
        ("-1:0.0", "pcidev `-1:0.0`: the PCI bus is negative"),
        ("0:g.0", "pcidev `0:g.0`: the PCI device is not a hexadecimal number"),
        ("0:0:0", "pcidev `0:0:0` is not a PCI address"),
    ] {
        let f = expect_error(&msi(pcidev), message, 4, 22);
        assert_eq!(f.text, pcidev);
        assert!(f.help().contains("BUS:DEV.FN in hexadecimal"), "{}", f.help());
    }
    expect_error(&with_irq(r#"<irq pcidev="0:1.0" handle="0" vector="108" id="1"/>"#), "vector 108 is out of range", 4, 48);
    let r = rejected(&with_irq(r#"<irq pcidev="0:1.0" vector="5" id="1"/>"#));
    r.error("<irq> is missing the required attribute `handle`", 4, 10);

    let f = expect_error_on(ARMV7, &msi("0:1.0"), "MSI interrupts (`pcidev`, `handle`) exist only on x86_64, and board qemu-sabrelite is", 4, 10);
    assert!(f.help().contains("an IRQ is a GIC interrupt"), "{}", f.help());

    // An MSI's id and vector are shared with the PD's other ids and the system's other IRQs.
    let both = with_irq(
        r#"<irq pcidev="0:1.0" handle="0" vector="5" id="1"/>
        <irq pin="4" vector="5" id="1"/>"#,
    );
    let r = rejected(&both);
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    r.error("id 1 is used twice in `serial`", 4, 55);
    r.error("vector 5 is used by two IRQs (`serial` and `serial`)", 4, 48);
}

#[test]
fn irq_pins_vectors_and_numbers_are_in_range() {
    for (board, ok, bad, attr, message) in [
        (X86, r#"pin="23" vector="4""#, r#"pin="24" vector="4""#, "pin", "pin 24 is out of range"),
        (X86, r#"pin="4" vector="107""#, r#"pin="4" vector="108""#, "vector", "vector 108 is out of range"),
        (X86, r#"pin="4" vector="0""#, r#"pin="4" vector="4" ioapic="1""#, "ioapic", "ioapic 1 is out of range"),
        (X86, r#"pin="4" vector="4" trigger="level""#, r#"pin="4" vector="4" trigger="rising""#, "trigger", "trigger `rising` is not a trigger mode"),
        (X86, r#"pin="4" vector="4" polarity="high""#, r#"pin="4" vector="4" polarity="up""#, "polarity", "polarity `up` is not a polarity"),
        (ARMV7, r#"irq="1019""#, r#"irq="1020""#, "irq", "irq 1020 is out of range"),
        (ARMV7, r#"irq="0""#, r#"irq="-3""#, "irq", "irq `-3` is negative"),
    ] {
        accepted_on(board, &with_irq(&format!("<irq {ok} id=\"1\"/>")));
        let xml = with_irq(&format!("<irq {bad} id=\"1\"/>"));
        let (line, col) = position(&xml, &format!(" {attr}=\""));
        expect_error_on(board, &xml, message, line, col);
    }
    let f = expect_error(&with_irq(r#"<irq vector="4" id="1"/>"#), "<irq> is missing the required attribute `pin`", 4, 10);
    assert!(f.help().contains("0 to 23"), "{}", f.help());
    expect_error_on(ARMV7, &with_irq(r#"<irq id="1"/>"#), "<irq> is missing the required attribute `irq`", 4, 10);
}

/// PD `a` with an IRQ, and PD `b` with `irq_b` (line 8, column 9).
fn two_irqs(irq_a: &str, irq_b: &str) -> String {
    format!(
        r#"
        <system>
            <protection_domain name="a">
                <program_image path="a.elf"/>
                {irq_a}
            </protection_domain>
            <protection_domain name="b">
                <program_image path="b.elf"/>
                {irq_b}
            </protection_domain>
        </system>"#
    )
}

#[test]
fn one_interrupt_is_given_to_one_pd_only() {
    let a = r#"<irq pin="4" vector="4" id="1"/>"#;
    accepted(&two_irqs(a, r#"<irq pin="3" vector="3" id="1"/>"#));

    let f = expect_error(&two_irqs(a, r#"<irq pin="4" vector="5" id="1"/>"#), "I/O APIC 0 pin 4 is given to `a` and to `b`", 8, 10);
    assert!(f.notes().contains("it is first given on line 4"), "{}", f.notes());

    let a = r#"<irq irq="59" id="1"/>"#;
    accepted_on(ARMV7, &two_irqs(a, r#"<irq irq="60" id="1"/>"#));
    expect_error_on(ARMV7, &two_irqs(a, r#"<irq irq="59" id="2"/>"#), "irq 59 is given to `a` and to `b`", 8, 10);
}

#[test]
fn one_vector_serves_one_irq_only() {
    let a = r#"<irq pin="4" vector="4" id="1"/>"#;
    let f = expect_error(&two_irqs(a, r#"<irq pin="3" vector="4" id="1"/>"#), "vector 4 is used by two IRQs (`a` and `b`)", 8, 30);
    assert_eq!(f.text, "4");
    assert!(f.notes().contains("it is first used on line 4"), "{}", f.notes());
    // Within one PD too.
    let r = rejected(&two_irqs(&format!("{a}<irq pin=\"3\" vector=\"4\" id=\"2\"/>"), ""));
    r.error("vector 4 is used by two IRQs (`a` and `a`)", 4, 62);
}

// ---------------------------------------------------------------------------------------------
// I/O ports

/// PD `a` with ports 0x3f8..0x400, and PD `b` with `ports_b` (line 8, column 9).
fn two_ioports(ports_b: &str) -> String {
    format!(
        r#"
        <system>
            <protection_domain name="a">
                <program_image path="a.elf"/>
                <ioport addr="0x3f8" size="8" id="1"/>
            </protection_domain>
            <protection_domain name="b">
                <program_image path="b.elf"/>
                {ports_b}
            </protection_domain>
        </system>"#
    )
}

#[test]
fn io_ports_exist_on_x86_only() {
    let c = accepted(&two_ioports(""));
    let p = &c.spec.pds[0].ioports[0];
    assert_eq!((p.id, p.addr, p.size), (1, 0x3f8, 8));

    for board in [ARMV7, AARCH64] {
        let f = expect_error_on(board, &two_ioports(""), &format!("I/O ports exist only on x86, and board {board} is"), 4, 10);
        assert!(f.help().contains("<memory_region phys_addr="), "{}", f.help());
    }
}

#[test]
fn an_io_port_range_ends_at_port_0xffff() {
    let c = accepted(&two_ioports(r#"<ioport addr="0xfff8" size="8" id="2"/>"#));
    assert_eq!(c.spec.pds[1].ioports[0].size, 8);
    accepted(&two_ioports(r#"<ioport addr="0" size="0x3f8" id="2"/>"#));

    let f = expect_error(&two_ioports(r#"<ioport addr="0xfff8" size="9" id="2"/>"#), "I/O ports 0xfff8..0x10001 run past the last port, 0xffff", 8, 37);
    assert_eq!(f.text, "9");
    expect_error(&two_ioports(r#"<ioport addr="0x10000" size="1" id="2"/>"#), "addr 65536 is out of range", 8, 23);
    expect_error(&two_ioports(r#"<ioport addr="0x2f8" size="0" id="2"/>"#), "size 0 is out of range", 8, 36);
}

#[test]
fn io_port_ranges_of_two_pds_may_not_overlap() {
    accepted(&two_ioports(r#"<ioport addr="0x2f8" size="8" id="1"/>"#));
    accepted(&two_ioports(r#"<ioport addr="0x400" size="8" id="1"/>"#));
    accepted(&two_ioports(r#"<ioport addr="0x3f0" size="8" id="1"/>"#));

    for ports in [r#"addr="0x3fc" size="8""#, r#"addr="0x3f8" size="1""#, r#"addr="0x3f0" size="0x20""#] {
        let xml = two_ioports(&format!("<ioport {ports} id=\"1\"/>"));
        let f = expect_error(&xml, "of `b` overlap [0x3f8, 0x400) of `a`", 8, 23);
        assert!(f.notes().contains("the other range is on line 4"), "{}", f.notes());
    }
}

// ---------------------------------------------------------------------------------------------
// Setvars

#[test]
fn a_setvar_names_an_existing_region() {
    let xml = |region: &str| {
        format!(
            r#"
            <system>
                <memory_region name="dma" size="0x1000" phys_addr="0x10000000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="dma" vaddr="0x4000000"/>
                    <setvar symbol="dma_paddr" region_paddr="{region}"/>
                </protection_domain>
            </system>"#
        )
    };
    let c = accepted(&xml("dma"));
    let s = &c.spec.pds[0].setvars[0];
    assert_eq!((s.symbol.as_str(), s.region), ("dma_paddr", 0));

    let f = expect_error(&xml("dam"), "<setvar> names memory region `dam`, which does not exist", 6, 50);
    assert_eq!(f.help(), "the regions are `dma`");
    let r = rejected(&xml("dma").replace(r#" region_paddr="dma""#, ""));
    r.error("<setvar> is missing the required attribute `region_paddr`", 6, 10);
}

#[test]
fn a_symbol_is_set_once_per_pd_across_maps_setvars_and_channel_ends() {
    let xml = |map_sym: &str, setvar_sym: &str, end_sym: &str| {
        format!(
            r#"
            <system>
                <memory_region name="dma" size="0x1000" phys_addr="0x10000000"/>
                <protection_domain name="a">
                    <program_image path="a.elf"/>
                    <map mr="dma" vaddr="0x4000000" setvar_vaddr="{map_sym}"/>
                    <setvar symbol="{setvar_sym}" region_paddr="dma"/>
                </protection_domain>
                <protection_domain name="b">
                    <program_image path="b.elf"/>
                    <map mr="dma" vaddr="0x4000000" setvar_vaddr="{map_sym}"/>
                </protection_domain>
                <channel>
                    <end pd="a" id="0" setvar_id="{end_sym}"/>
                    <end pd="b" id="0" setvar_id="{end_sym}"/>
                </channel>
            </system>"#
        )
    };
    // b sets the same symbols as a: symbols are per PD.
    accepted(&xml("dma_vaddr", "dma_paddr", "doorbell"));

    let f = expect_error(&xml("dma", "dma", "doorbell"), "symbol `dma` is set twice in `a`", 6, 25);
    assert_eq!(f.diag.element.as_deref(), Some("setvar"));
    assert!(f.notes().contains("it is first set on line 5"), "{}", f.notes());

    let f = expect_error(&xml("dma_vaddr", "dma_paddr", "dma_paddr"), "symbol `dma_paddr` is set twice in `a`", 13, 39);
    assert_eq!(f.diag.element.as_deref(), Some("end"));
    assert!(f.notes().contains("it is first set on line 6"), "{}", f.notes());

    let r = rejected(&xml("doorbell", "dma_paddr", "doorbell"));
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    r.error("symbol `doorbell` is set twice in `a`", 13, 39);
    r.error("symbol `doorbell` is set twice in `b`", 14, 39);

    // setvar_vaddr and setvar_size of one map (here in both PDs).
    let r = rejected(&xml("dma_vaddr\" setvar_size=\"dma_vaddr", "dma_paddr", "doorbell"));
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    let f = r.error("symbol `dma_vaddr` is set twice in `a`", 5, 79);
    assert!(f.notes().contains("it is first set on line 5"), "{}", f.notes());
    r.error("symbol `dma_vaddr` is set twice in `b`", 10, 79);
}

// ---------------------------------------------------------------------------------------------
// Child protection domains

/// A parent with two children: `first` (id 1) and `second`, whose start tag has `attrs` after its
/// name (line 7, column 42).
fn children(attrs: &str) -> String {
    format!(
        r#"
        <system>
            <protection_domain name="parent" priority="10">
                <program_image path="parent.elf"/>
                <protection_domain name="first" id="1">
                    <program_image path="child.elf"/>
                </protection_domain>
                <protection_domain name="second" {attrs}>
                    <program_image path="child.elf"/>
                </protection_domain>
            </protection_domain>
        </system>"#
    )
}

#[test]
fn child_pds_have_an_id_in_their_parent() {
    let c = accepted(&children(r#"id="62" priority="5""#));
    let names: Vec<_> = c.spec.pds.iter().map(|p| (p.name.as_str(), p.parent)).collect();
    assert_eq!(names, [("parent", None), ("first", Some((0, 1))), ("second", Some((0, 62)))]);
    assert_eq!(c.system.pds[2].depth, 1);
}

#[test]
fn a_child_id_is_required_unique_and_from_0_to_62() {
    let f = expect_error(&children(r#"priority="5""#), "<protection_domain> is missing the required attribute `id`", 7, 10);
    assert!(f.help().contains("0 to 62"), "{}", f.help());
    expect_error(&children(r#"id="63""#), "id 63 is out of range", 7, 46);
    let f = expect_error(&children(r#"id="1""#), "child id 1 is used twice in `parent`", 7, 46);
    assert_eq!(f.text, "1");
    assert!(f.notes().contains("the first child with id 1 is on line 4"), "{}", f.notes());
}

#[test]
fn a_top_level_pd_has_no_id() {
    accepted(&one_pd(""));

    let f = expect_error(&one_pd(r#"id="1""#), "unknown attribute `id` on <protection_domain>", 2, 33);
    assert!(!f.help().contains("`id`"), "{}", f.help());
}

/// PDs nested `depth` deep, one start tag a line from line 2, each at column 1.
fn nested(depth: usize) -> String {
    let mut xml = String::from("<system>\n");
    for i in 0..depth {
        let id = if i > 0 { " id=\"0\"" } else { "" };
        xml += &format!("<protection_domain name=\"pd{i}\"{id}><program_image path=\"pd.elf\"/>\n");
    }
    xml += &"</protection_domain>\n".repeat(depth);
    xml + "</system>\n"
}

#[test]
fn pds_nest_at_most_63_deep() {
    let c = accepted(&nested(63));
    assert_eq!(c.spec.pds.len(), 63);
    assert_eq!(c.spec.pds[62].parent, Some((61, 0)));
    assert_eq!(c.system.pds[62].depth, 62);

    let f = expect_error(&nested(64), "protection domains are nested more than 63 deep", 65, 2);
    assert!(f.help().contains("flatten the hierarchy"), "{}", f.help());
    // Far deeper nesting is one error, not a stack overflow.
    expect_error(&nested(5000), "protection domains are nested more than 63 deep", 65, 2);
}

// ---------------------------------------------------------------------------------------------
// Channels

/// Two PDs `a` and `b` and a channel whose ends are `ends`, written on line 8 from column 14.
fn channel(ends: &str) -> String {
    format!(
        r#"
        <system>
            <protection_domain name="a">
                <program_image path="a.elf"/>
            </protection_domain>
            <protection_domain name="b">
                <program_image path="b.elf"/>
            </protection_domain>
            <channel>{ends}</channel>
        </system>"#
    )
}

#[test]
fn a_channel_has_exactly_two_ends() {
    let c = accepted(&channel(r#"<end pd="a" id="0"/><end pd="b" id="0"/>"#));
    assert_eq!(c.spec.channels.len(), 1);

    for (ends, count) in [("", 0), (r#"<end pd="a" id="0"/>"#, 1), (r#"<end pd="a" id="0"/><end pd="b" id="0"/><end pd="a" id="1"/>"#, 3)] {
        let f = expect_error(&channel(ends), &format!("a channel has exactly two ends, this one has {count}"), 8, 6);
        assert_eq!(f.text, "channel");
    }
    let r = rejected(&channel(r#"<end pd="a" id="0"/><start pd="b" id="0"/>"#));
    let f = r.error("unknown element <start> inside <channel>", 8, 35);
    assert!(f.help().contains("<channel> may contain <end>"), "{}", f.help());
    r.error("a channel has exactly two ends, this one has 1", 8, 6);
}

#[test]
fn only_one_end_of_a_channel_makes_protected_procedure_calls() {
    accepted(&channel(r#"<end pd="a" id="0" pp="false"/><end pd="b" id="0" pp="true"/>"#).replace("name=\"a\"", "name=\"a\" priority=\"3\""));

    let f = expect_error(&channel(r#"<end pd="a" id="0" pp="true"/><end pd="b" id="0" pp="true"/>"#), "both ends of the channel have pp=\"true\"", 8, 67);
    assert!(f.help().contains("set pp on the caller's end only"), "{}", f.help());
}

#[test]
fn a_channel_connects_two_different_pds() {
    let f = expect_error(&channel(r#"<end pd="a" id="0"/><end pd="a" id="1"/>"#), "both ends of the channel are `a`", 8, 43);
    assert_eq!(f.text, "a");
}

#[test]
fn a_channel_end_names_an_existing_pd() {
    let f = expect_error(&channel(r#"<end pd="a" id="0"/><end pd="c" id="0"/>"#), "channel end names protection domain `c`, which does not exist", 8, 43);
    assert_eq!(f.help(), "the protection domains are `a`, `b`");
}

#[test]
fn a_pp_caller_has_strictly_lower_priority_than_its_callee() {
    let xml = |client: u8, server: u8| {
        format!(
            r#"
            <system>
                <protection_domain name="client" priority="{client}">
                    <program_image path="client.elf"/>
                </protection_domain>
                <protection_domain name="server" priority="{server}">
                    <program_image path="server.elf"/>
                </protection_domain>
                <channel>
                    <end pd="client" id="0" pp="true"/>
                    <end pd="server" id="0"/>
                </channel>
            </system>"#
        )
    };
    let c = accepted(&xml(1, 2));
    assert!(c.spec.pds[1].serves_pp() && !c.spec.pds[0].serves_pp());

    for (client, server) in [(2, 2), (3, 2)] {
        let f = expect_error(
            &xml(client, server),
            &format!("`client` (priority {client}) may not make protected procedure calls to `server` (priority {server})"),
            9,
            37,
        );
        assert_eq!(f.text, "true");
        assert!(f.help().contains("strictly higher priority"), "{}", f.help());
    }
}

#[test]
fn protected_procedure_calls_may_not_form_a_cycle() {
    let cycle = r#"
        <system>
            <protection_domain name="a" priority="1">
                <program_image path="a.elf"/>
            </protection_domain>
            <protection_domain name="b" priority="2">
                <program_image path="b.elf"/>
            </protection_domain>
            <protection_domain name="c" priority="3">
                <program_image path="c.elf"/>
            </protection_domain>
            <channel>
                <end pd="a" id="0" pp="true"/>
                <end pd="b" id="0"/>
            </channel>
            <channel>
                <end pd="b" id="1" pp="true"/>
                <end pd="c" id="1"/>
            </channel>
            <channel>
                <end pd="c" id="2" pp="true"/>
                <end pd="a" id="2"/>
            </channel>
        </system>"#;
    // A chain a -> b -> c is fine.
    accepted(&cycle.replace(r#"<end pd="c" id="2" pp="true"/>"#, r#"<end pd="c" id="2"/>"#));

    let r = rejected(cycle);
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    // The edge c -> a breaks the priority rule...
    r.error("`c` (priority 3) may not make protected procedure calls to `a` (priority 1)", 20, 32);
    // ...and the three edges form a cycle, reported at the channel of its first call.
    let f = r.error("protected procedure calls form a cycle: a -> b -> c -> a", 11, 6);
    assert_eq!(f.diag.element.as_deref(), Some("channel"));
}

#[test]
fn every_error_in_a_file_is_reported_in_order() {
    let r = rejected(
        r#"
        <system>
            <memory_region name="buf" size="0x1800"/>
            <protection_domain name="a" priority="300">
                <program_image path="a.elf"/>
                <map mr="nope" vaddr="0x4000000" perms="w"/>
            </protection_domain>
            <channel>
                <end pd="a" id="0"/>
                <end pd="z" id="0"/>
            </channel>
        </system>"#,
    );
    r.error("size 0x1800 is not a multiple of the page size", 2, 37);
    r.error("priority 300 is out of range", 3, 43);
    r.error("<map> names memory region `nope`, which does not exist", 5, 18);
    r.error("perms `w` is write-only", 5, 49);
    r.error("channel end names protection domain `z`, which does not exist", 9, 18);
    let errors: Vec<String> = r.report.diagnostics.iter().filter(|d| d.is_error()).map(|d| r.report.location(d)).collect();
    let at = |l: usize, c: usize| format!("{FILE}:{l}:{c}");
    assert_eq!(errors, [at(2, 37), at(3, 43), at(5, 18), at(5, 49), at(9, 18)]);
    assert!(r.rendered.ends_with(&format!("{FILE} is not a valid system: 5 errors, 1 warning\n")), "{}", r.rendered);
}

// ---------------------------------------------------------------------------------------------
// Virtual machines

/// A PD `vmm` running a virtual machine with `vm_attrs` after its name and `body` inside it (the
/// <virtual_machine> at line 5, column 10; its first child at line 6, column 14).
fn with_vm(vm_attrs: &str, body: &str) -> String {
    format!(
        "<system>\n    <memory_region name=\"ram\" size=\"0x200000\"/>\n    <protection_domain name=\"vmm\" priority=\"100\">\n        <program_image path=\"vmm.elf\"/>\n        <virtual_machine name=\"guest\"{vm_attrs}>\n            {body}\n        </virtual_machine>\n    </protection_domain>\n</system>\n"
    )
}

#[test]
fn a_virtual_machine_has_vcpus_and_guest_maps_inside_its_pd() {
    let c = accepted(&with_vm("", r#"<vcpu id="0" setvar_id="guest_vcpu"/><map mr="ram" vaddr="0x0" perms="rwx"/>"#));
    let vm = c.system.pds[0].vm.as_ref().unwrap();
    assert_eq!((vm.name.as_str(), vm.vcpus.len(), vm.maps.len()), ("guest", 1, 1));
    assert!(c.report.diagnostics.is_empty(), "the region mapped into the guest is used: {}", c.report.render(false));
    accepted_on(AARCH64, &with_vm(r#" priority="1" budget="100" period="200""#, r#"<vcpu id="0"/><vcpu id="1"/>"#));

    expect_error(&with_vm("", ""), "virtual machine `guest` has no <vcpu>", 5, 10);
    expect_error(&with_vm("", r#"<vcpu id="62"/>"#), "id 62 is out of range", 6, 23);
    expect_error(&with_vm("", r#"<vcpu/>"#), "<vcpu> is missing the required attribute `id`", 6, 14);
    expect_error(&with_vm("", r#"<vcpu id="0" cpu="1"/>"#), "cpu 1 is out of range", 6, 31);
    let f = expect_error(&with_vm("", r#"<vcpu id="0"/><vcpu id="0"/>"#), "vCPU id 0 is used twice in virtual machine `guest`", 6, 37);
    assert!(f.notes().contains("the first is on line 6"), "{}", f.notes());
    let f = expect_error(&with_vm("", r#"<vcpu id="0"/><vcpu id="1"/>"#), "a virtual machine on x86_64 has one vCPU", 6, 28);
    assert!(f.help().contains("its protection domain's thread"), "{}", f.help());
    let f = expect_error(&with_vm(r#" priority="1""#, r#"<vcpu id="0"/>"#), "unknown attribute `priority` on <virtual_machine>", 5, 39);
    assert!(f.help().contains("shares its scheduling"), "{}", f.help());
    expect_error(&with_vm("", r#"<vcpu id="0"/><map mr="ram" vaddr="0x0" setvar_vaddr="x"/>"#), "unknown attribute `setvar_vaddr` on <map>", 6, 53);
    expect_error(&with_vm("", r#"<vcpu id="0"/><map mr="rma" vaddr="0x0"/>"#), "<map> names memory region `rma`, which does not exist", 6, 36);
    let f = expect_error(
        &with_vm("", r#"<vcpu id="0"/><map mr="ram" vaddr="0x0"/><map mr="ram" vaddr="0x1000"/>"#),
        "`ram` mapped at [0x1000, 0x201000) overlaps `ram` at [0x0, 0x200000) in virtual machine `guest`",
        6,
        75,
    );
    assert!(f.notes().contains("the other map is on line 6"), "{}", f.notes());
}

#[test]
fn a_virtual_machine_is_one_per_pd_named_once_and_never_at_the_top_level() {
    let two = with_vm("", r#"<vcpu id="0"/>"#)
        .replace("    </protection_domain>", "        <virtual_machine name=\"other\"><vcpu id=\"1\"/></virtual_machine>\n    </protection_domain>");
    let f = expect_error(&two, "protection domain `vmm` has more than one <virtual_machine>", 8, 10);
    assert!(f.notes().contains("the first is on line 5"), "{}", f.notes());

    let twice = format!(
        "{}    <protection_domain name=\"vmm2\">\n        <program_image path=\"vmm.elf\"/>\n        <virtual_machine name=\"guest\"><vcpu id=\"0\"/></virtual_machine>\n    </protection_domain>\n</system>\n",
        with_vm("", r#"<vcpu id="0"/>"#).trim_end().strip_suffix("</system>").unwrap()
    );
    let f = expect_error(&twice, "virtual machine `guest` is defined twice", 11, 32);
    assert!(f.notes().contains("the first definition is on line 5"), "{}", f.notes());

    let top = "<system>\n    <virtual_machine name=\"guest\"><vcpu id=\"0\"/></virtual_machine>\n</system>\n";
    let r = rejected(top);
    r.error("a <virtual_machine> must be inside the <protection_domain> that runs it", 2, 6);
}

#[test]
fn vcpu_ids_are_child_ids_of_the_pd() {
    let xml = |child_id: &str| {
        with_vm("", r#"<vcpu id="0"/>"#).replace(
            "    </protection_domain>\n</system>",
            &format!("        <protection_domain name=\"child\" id=\"{child_id}\">\n            <program_image path=\"c.elf\"/>\n        </protection_domain>\n    </protection_domain>\n</system>"),
        )
    };
    accepted_on(AARCH64, &xml("1"));
    let f = expect_error_on(AARCH64, &xml("0"), "child id 0 is used twice in `vmm`", 8, 45);
    assert!(f.notes().contains("the vCPU with id 0 is on line 6"), "{}", f.notes());
}

#[test]
fn on_x86_a_pd_with_a_virtual_machine_has_no_children_and_takes_no_calls() {
    let child = with_vm("", r#"<vcpu id="0"/>"#).replace(
        "    </protection_domain>\n</system>",
        "        <protection_domain name=\"child\" id=\"1\">\n            <program_image path=\"c.elf\"/>\n        </protection_domain>\n    </protection_domain>\n</system>",
    );
    let f = expect_error(&child, "protection domain `vmm` runs a virtual machine and has child protection domains, which x86_64 cannot do", 8, 10);
    assert!(f.notes().contains("the virtual machine is on line 5"), "{}", f.notes());

    let calls = |caller: &str| {
        with_vm("", r#"<vcpu id="0"/>"#).replace(
            "</system>",
            &format!("    <protection_domain name=\"low\" priority=\"1\">\n        <program_image path=\"low.elf\"/>\n    </protection_domain>\n    <channel>\n        <end pd=\"low\" id=\"0\" pp=\"{}\"/>\n        <end pd=\"vmm\" id=\"0\"/>\n    </channel>\n</system>", caller),
        )
    };
    accepted(&calls("false"));
    let f = expect_error(&calls("true"), "`low` may not make protected procedure calls to `vmm`, which runs a virtual machine on x86_64", 13, 34);
    assert!(f.notes().contains("the virtual machine is on line 5"), "{}", f.notes());
    // On ARM the VMM's endpoint is heard while the guest runs.
    accepted_on(AARCH64, &calls("true"));
}

// ---------------------------------------------------------------------------------------------
// IOMMU address spaces

/// Regions `a` (small pages) and `big` (large pages), and one IO address space whose start tag
/// has `attrs` (at line 4, column 6) holding `maps` (from line 5, column 10).
fn with_io_space(attrs: &str, maps: &str) -> String {
    format!(
        "<system>\n    <memory_region name=\"a\" size=\"0x2000\"/>\n    <memory_region name=\"big\" size=\"0x200000\" page_size=\"0x200000\"/>\n    <io_address_space {attrs}>\n        {maps}\n    </io_address_space>\n    <protection_domain name=\"drv\">\n        <program_image path=\"drv.elf\"/>\n        <map mr=\"big\" vaddr=\"0x4000000\"/>\n    </protection_domain>\n</system>\n"
    )
}

const NIC: &str = r#"name="nic" peripheral_id="00:03.0" domain_id="1""#;

#[test]
fn an_io_address_space_maps_small_page_regions_below_2_39_for_one_pci_device() {
    let c = accepted(&with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x7ffffe000" perms="r"/>"#));
    let sp = &c.system.io_spaces[0];
    assert_eq!((sp.name.as_str(), sp.peripheral.to_string(), sp.domain_id), ("nic", "00:03.0".to_string(), 1));
    assert_eq!((sp.maps[0].read, sp.maps[0].write), (true, false));
    assert!(c.report.diagnostics.is_empty(), "a region mapped only by an <iomap> is used: {}", c.report.render(false));
    accepted(&with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x7ffffffe000" perms="w"/>"#.replace("0x7ffffffe000", "0x7fffffe000").as_str()));

    let f = expect_error(&with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x0" perms="rx"/>"#), "perms `rx` is not a permission of an I/O mapping", 5, 44);
    assert!(f.help().contains("`r`, `w` or `rw`"), "{}", f.help());
    expect_error(&with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x8000000000"/>"#), "iovaddr 549755813888 is out of range", 5, 32);
    expect_error(
        &with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x7fffffe000"/>"#.replace("0x7fffffe000", "0x7ffffff000").as_str()),
        "`a` mapped at I/O address 0x7ffffff000 (0x2000 bytes) runs past 0x8000000000, the end of the IO address space",
        5,
        32,
    );
    expect_error(&with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x800"/>"#), "iovaddr 0x800 is not aligned to the page size of `a` (0x1000)", 5, 32);
    let f = expect_error(
        &with_io_space(NIC, r#"<iomap mr="big" iovaddr="0x0"/>"#),
        "`big` has 0x200000-byte pages, which seL4 cannot map into an IOMMU address space",
        5,
        20,
    );
    assert!(f.help().contains("page_size=\"0x1000\""), "{}", f.help());
    let f = expect_error(&with_io_space(NIC, r#"<iomap mr="b" iovaddr="0x0"/>"#), "<iomap> names memory region `b`, which does not exist", 5, 20);
    assert_eq!(f.help(), "the regions are `a`, `big`");
    let f = expect_error(
        &with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x0"/><iomap mr="a" iovaddr="0x1000"/>"#),
        "`a` mapped at I/O addresses [0x1000, 0x3000) overlaps `a` at [0x0, 0x2000) in IO address space `nic`",
        5,
        61,
    );
    assert!(f.notes().contains("the other map is on line 5"), "{}", f.notes());
    expect_error(&with_io_space(r#"name="nic" peripheral_id="0:20.0" domain_id="1""#, ""), "peripheral_id `0:20.0`: the PCI device is out of range", 4, 49);
    expect_error(&with_io_space(r#"name="nic" peripheral_id="0:3.0""#, ""), "<io_address_space> is missing the required attribute `domain_id`", 4, 6);
    let f = expect_error_on(AARCH64, &with_io_space(NIC, ""), "IOMMU address spaces exist only on x86_64, and board qemu-aarch64-virt is aarch64", 4, 49);
    assert_eq!(f.text, "00:03.0");
}

#[test]
fn io_address_spaces_have_unique_names_domain_ids_and_devices() {
    let two = |second: &str| {
        with_io_space(NIC, r#"<iomap mr="a" iovaddr="0x0"/>"#)
            .replace("    <protection_domain", &format!("    <io_address_space {second}/>\n    <protection_domain"))
    };
    // The same region may be mapped for two devices, at the same I/O address.
    accepted(&two(r#"name="disk" peripheral_id="00:04.0" domain_id="2""#).replace(
        "<io_address_space name=\"disk\" peripheral_id=\"00:04.0\" domain_id=\"2\"/>",
        "<io_address_space name=\"disk\" peripheral_id=\"00:04.0\" domain_id=\"2\"><iomap mr=\"a\" iovaddr=\"0x0\"/></io_address_space>",
    ));

    let f = expect_error(&two(r#"name="nic" peripheral_id="00:04.0" domain_id="2""#), "IO address space `nic` is defined twice", 7, 29);
    assert!(f.notes().contains("the first is on line 4"), "{}", f.notes());
    expect_error(&two(r#"name="disk" peripheral_id="00:04.0" domain_id="1""#), "domain_id 1 is used by two IO address spaces", 7, 70);
    expect_error(&two(r#"name="disk" peripheral_id="0:3.0" domain_id="2""#), "PCI device 00:03.0 has two IO address spaces", 7, 50);
}

// ---------------------------------------------------------------------------------------------
// Prefills: sizes from files, boot information, setvar_prefill_size, setvar on x86

#[test]
fn a_region_without_a_size_is_as_large_as_its_prefill_file_in_pages() {
    let dir = scratch_dir("prefill-size");
    std::fs::write(dir.join("small.bin"), vec![7u8; 0x1001]).unwrap();
    std::fs::write(dir.join("empty.bin"), b"").unwrap();
    let with_dir = Options { base_dir: Some(dir.clone()), ..options(X86) };
    let xml = |file: &str| mapped_region(&format!("prefill_path=\"{file}\""));

    let c = accepted_with(&xml("small.bin"), &with_dir);
    assert_eq!(c.spec.regions[0].size_bytes, 0x2000);

    let r = rejected_with(&xml("empty.bin"), &with_dir);
    r.error("prefill file `empty.bin` is empty", 2, 45);
    let r = rejected_with(&mapped_region(r#"size="0x1000" prefill_path="empty.bin""#), &with_dir);
    r.error("prefill file `empty.bin` is empty", 2, 59);
    // Without the file's directory, the size cannot be known.
    let f = expect_error(&xml("small.bin"), "the size of region `buf` comes from its prefill file, which is not read here", 2, 45);
    assert!(f.help().contains("give the region a size"), "{}", f.help());
    // Without a prefill, size is still required.
    let f = expect_error(&mapped_region(""), "<memory_region> is missing the required attribute `size`", 2, 6);
    assert!(f.help().contains("only with prefill_path"), "{}", f.help());
}

#[test]
fn setvar_prefill_size_needs_a_prefilled_region() {
    let dir = scratch_dir("prefill-setvar");
    std::fs::write(dir.join("small.bin"), vec![7u8; 10]).unwrap();
    let with_dir = Options { base_dir: Some(dir.clone()), ..options(X86) };
    let xml = |attrs: &str| mapped_region(attrs).replace(r#"vaddr="0x4000000""#, r#"vaddr="0x4000000" setvar_prefill_size="data_len""#);
    accepted_with(&xml(r#"size="0x1000" prefill_path="small.bin""#), &with_dir);
    let f = expect_error(&xml(r#"size="0x1000""#), "setvar_prefill_size asks for the size of `buf`'s prefill data, and it has no prefill_path", 5, 62);
    assert!(f.notes().contains("`buf` is on line 2"), "{}", f.notes());
}

#[test]
fn a_region_may_be_prefilled_with_boot_information_instead_of_a_file() {
    let c = accepted(&mapped_region(r#"prefill_bootinfo="x86_tsc_freq""#));
    assert_eq!((c.system.regions[0].prefill_bootinfo.as_deref(), c.system.regions[0].size_bytes), (Some("x86_tsc_freq"), 0x1000));

    let f = expect_error(&mapped_region(r#"prefill_bootinfo="x86_tsc_frq""#), "prefill_bootinfo `x86_tsc_frq` is not a kind of boot information", 2, 49);
    assert!(f.help().contains("did you mean `x86_tsc_freq`?"), "{}", f.help());
    expect_error(
        &mapped_region(r#"prefill_bootinfo="fdt" prefill_path="a.bin" size="0x1000""#),
        "a region is prefilled from a file or with boot information, not both",
        2,
        49,
    );
}

#[test]
fn on_x86_a_setvar_region_paddr_names_a_region_with_a_phys_addr() {
    let xml = |attrs: &str| {
        mapped_region(attrs).replace("    </protection_domain>", "        <setvar symbol=\"buf_paddr\" region_paddr=\"buf\"/>\n    </protection_domain>")
    };
    accepted(&xml(r#"size="0x1000" phys_addr="0x10000000""#));
    accepted_on(AARCH64, &xml(r#"size="0x1000""#));
    let f = expect_error(&xml(r#"size="0x1000""#), "<setvar> asks for the physical address of `buf`, which has no phys_addr, and the board is x86_64", 6, 50);
    assert!(f.help().contains("give the region a phys_addr"), "{}", f.help());
}

// ---------------------------------------------------------------------------------------------
// Backends

fn for_backend(backend: Backend, components: &[&str]) -> Options {
    Options { backend: Some(backend), components: components.iter().map(|c| c.to_string()).collect(), ..options(X86) }
}

#[test]
fn the_sel4_backend_refuses_what_needs_an_mcs_kernel() {
    let sel4 = for_backend(Backend::Sel4, &[]);
    accepted_with(&one_pd(r#"priority="10" stack_size="0x2000""#), &sel4);

    let r = rejected_with(&one_pd(r#"budget="500" period="1000""#), &sel4);
    assert_eq!(r.report.error_count(), 2, "{}", r.rendered);
    r.error("the sel4 backend cannot honour `budget`: budgets and periods need an MCS kernel", 2, 41);
    r.error("the sel4 backend cannot honour `period`", 2, 54);
    let f = expect_error_with(&one_pd(r#"passive="true""#), &sel4, "the sel4 backend cannot honour passive=\"true\"", 2, 42);
    assert_eq!(f.text, "true");
    expect_error_with(&one_pd(r#"fpu="false""#), &sel4, "the sel4 backend cannot honour fpu=\"false\"", 2, 38);
    // Without a backend, the same systems are valid Microkit.
    accepted(&one_pd(r#"budget="500" period="1000" passive="true" fpu="false""#));
}

const HARDWARE: &str = r#"
    <system>
        <memory_region name="uart" size="0x1000" phys_addr="0xfeb00000"/>
        <protection_domain name="serial">
            <program_image path="serial.elf"/>
            <map mr="uart" vaddr="0x4000000" cached="false"/>
            <irq pin="4" vector="4" id="1"/>
            <ioport addr="0x3f8" size="8" id="2"/>
        </protection_domain>
        <protection_domain name="logger">
            <program_image path="build/logger.elf"/>
        </protection_domain>
    </system>"#;

#[test]
fn the_hosted_backend_refuses_hardware_and_elf_images() {
    accepted_with(HARDWARE, &for_backend(Backend::Sel4, &["serial", "logger"]));

    let r = rejected_with(HARDWARE, &for_backend(Backend::Hosted, &["serial", "logger"]));
    assert_eq!(r.report.error_count(), 4, "{}", r.rendered);
    r.error("the hosted backend has no physical memory to give region `uart`", 2, 57);
    r.error("the hosted backend has no hardware interrupts", 6, 10);
    r.error("the hosted backend has no I/O ports", 7, 10);
    let f = r.error("the hosted backend runs workspace components only, and `build/logger.elf` is not one", 10, 30);
    assert_eq!(f.text, "build/logger.elf");
}

const BEYOND_SEL4_5: &str = r#"
    <system>
        <memory_region name="ram" size="0x1000"/>
        <memory_region name="tsc" prefill_bootinfo="x86_tsc_freq"/>
        <io_address_space name="nic" peripheral_id="00:03.0" domain_id="1">
            <iomap mr="ram" iovaddr="0x0"/>
        </io_address_space>
        <protection_domain name="vmm">
            <program_image path="vmm.elf"/>
            <map mr="tsc" vaddr="0x4000000"/>
            <irq pcidev="00:03.0" handle="0" vector="40" id="1"/>
            <virtual_machine name="guest">
                <vcpu id="0"/>
                <map mr="ram" vaddr="0x0"/>
            </virtual_machine>
        </protection_domain>
    </system>"#;

#[test]
fn virtual_machines_iommu_msis_and_bootinfo_prefills_are_valid_microkit_that_no_backend_runs() {
    accepted(BEYOND_SEL4_5);
    for backend in [Backend::Sel4, Backend::Hosted] {
        let b = backend.name();
        let r = rejected_with(BEYOND_SEL4_5, &for_backend(backend, &["vmm"]));
        assert_eq!(r.report.error_count(), 4, "{}", r.rendered);
        r.error(&format!("the {b} backend cannot prefill region `tsc` with boot information `x86_tsc_freq`"), 3, 49);
        let f = r.error(&format!("the {b} backend cannot honour IO address space `nic`: it does not program the IOMMU"), 4, 6);
        assert!(f.help().contains("remove the <io_address_space>"), "{}", f.help());
        r.error(&format!("the {b} backend cannot deliver MSI interrupts"), 10, 10);
        let f = r.error(&format!("the {b} backend cannot run virtual machine `guest`"), 11, 10);
        assert!(f.help().contains("remove the <virtual_machine>"), "{}", f.help());
        assert!(!r.rendered.contains("unknown element"), "{}", r.rendered);
    }
}

#[test]
fn a_plain_system_is_accepted_by_both_backends() {
    let xml = std::fs::read_to_string(examples().join("client_server.xml")).unwrap();
    for backend in [Backend::Sel4, Backend::Hosted] {
        let c = accepted_with(&xml, &for_backend(backend, &["client", "server"]));
        assert!(c.report.diagnostics.is_empty(), "{}", c.report.render(false));
    }
}

// ---------------------------------------------------------------------------------------------
// Compilation

#[test]
fn a_program_image_names_a_component_only_as_a_bare_name_elf() {
    let opts = Options { components: vec!["ping".to_string()], ..options(X86) };
    for (path, program) in [
        ("ping.elf", ProgramRef::Component("ping".into())),
        ("build/ping.elf", ProgramRef::Elf("build/ping.elf".into())),
        ("pong.elf", ProgramRef::Elf("pong.elf".into())),
        ("ping", ProgramRef::Elf("ping".into())),
    ] {
        let c = accepted_with(&one_pd("").replace("a.elf", path), &opts);
        assert_eq!(c.spec.pds[0].program, program, "{path}");
        assert_eq!(compile::resolve_program(path, &opts.components), program);
    }
}

const THREE_PDS: &str = r#"
    <system>
        <protection_domain name="client" priority="1">
            <program_image path="client.elf"/>
        </protection_domain>
        <protection_domain name="server" priority="2">
            <program_image path="server.elf"/>
        </protection_domain>
        <protection_domain name="log" priority="3">
            <program_image path="log.elf"/>
        </protection_domain>
        <channel>
            <end pd="client" id="5" pp="true" notify="false" setvar_id="server"/>
            <end pd="server" id="1"/>
        </channel>
        <channel>
            <end pd="client" id="2"/>
            <end pd="log" id="0" notify="false"/>
        </channel>
    </system>"#;

#[test]
fn each_pd_sees_its_channels_sorted_by_id_with_its_peers_rights() {
    let c = accepted(THREE_PDS);
    let view = |id, peer, peer_id, may_notify, may_call, peer_may_call, setvar_id: Option<&str>| PdChannel {
        id,
        peer,
        peer_id,
        may_notify,
        may_call,
        peer_may_call,
        setvar_id: setvar_id.map(String::from),
    };
    let [client, server, log] = &c.spec.pds[..] else { panic!("three PDs") };
    assert_eq!(client.channels, [view(2, 2, 0, true, false, false, None), view(5, 1, 1, false, true, false, Some("server"))]);
    assert_eq!(server.channels, [view(1, 0, 5, true, false, true, None)]);
    assert_eq!(log.channels, [view(0, 0, 2, false, false, false, None)]);
    assert_eq!(client.channel(5).map(|ch| ch.peer), Some(1));
    assert!(client.channel(1).is_none());
    assert!(server.serves_pp() && !client.serves_pp() && !log.serves_pp());
    let ends: Vec<_> = c.spec.channels.iter().map(|ch| ch.ends.clone().map(|e| (e.pd, e.id, e.notify, e.pp))).collect();
    assert_eq!(ends, [[(0, 5, false, true), (1, 1, true, false)], [(0, 2, true, false), (2, 0, false, false)]]);
}

#[test]
fn the_compiled_spec_survives_encoding_and_decoding() {
    let mut specs = vec![accepted(THREE_PDS).spec, accepted(HARDWARE).spec, accepted(&nested(63)).spec];
    specs.extend(example_systems().into_iter().map(|(file, board)| check_example(&file, board).spec));
    for spec in specs {
        let bytes = spec.encode();
        assert_eq!(rampart_spec::decode(&bytes).as_ref(), Ok(&spec));
        assert_eq!(spec.digest(), rampart_spec::decode(&bytes).unwrap().digest());
    }
}

// ---------------------------------------------------------------------------------------------
// Example systems

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/systems")
}

/// Every file in tests/systems, with the boards it is written for.
fn example_systems() -> Vec<(PathBuf, &'static str)> {
    let boards = |file: &str| -> &[&str] {
        match file {
            "hello.xml" | "client_server.xml" | "parent_child.xml" => &[X86, ARMV7, AARCH64],
            "serial_sabrelite.xml" => &[ARMV7],
            "com1_x86_64.xml" => &[X86],
            other => panic!("tests/systems/{other} is not listed in example_systems(): say which boards it is for"),
        }
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .into_iter()
        .flat_map(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            boards(&name).iter().map(move |b| (f.clone(), *b)).collect::<Vec<_>>()
        })
        .collect()
}

#[track_caller]
fn check_example(file: &Path, board: &str) -> Checked {
    match check_file(file, &options(board)) {
        Ok(c) => c,
        Err(r) => panic!("{} is not valid for {board}:\n{}", file.display(), r.render(false)),
    }
}

#[test]
fn the_example_systems_are_accepted_for_their_boards_without_warnings() {
    let all = example_systems();
    assert!(all.len() >= 5);
    for (file, board) in all {
        let c = check_example(&file, board);
        assert!(c.report.diagnostics.is_empty(), "{}: {}", file.display(), c.report.render(false));
        assert_eq!(c.spec.board, board);
    }
}

#[test]
fn the_board_specific_examples_are_refused_on_the_other_architecture() {
    let serial = examples().join("serial_sabrelite.xml");
    let r = check_file(&serial, &options(X86)).unwrap_err();
    assert!(r.diagnostics.iter().any(|d| d.message.contains("this is the ARM form of <irq>")), "{}", r.render(false));
    let com1 = examples().join("com1_x86_64.xml");
    let r = check_file(&com1, &options(ARMV7)).unwrap_err();
    assert!(r.diagnostics.iter().any(|d| d.message.contains("I/O ports exist only on x86")), "{}", r.render(false));
}

// ---------------------------------------------------------------------------------------------
// Rampart's extension: grants of authority in the `urn:rampart:sdf:1` namespace

#[test]
fn ending_the_system_and_restarting_children_are_granted_by_rampart_attributes() {
    let c = accepted(
        r#"
        <system xmlns:rampart="urn:rampart:sdf:1">
            <protection_domain name="judge" priority="10" rampart:exit_system="true">
                <program_image path="judge.elf" />
            </protection_domain>
            <protection_domain name="parent" priority="20" rampart:restart_children="true">
                <program_image path="parent.elf" />
                <protection_domain name="child" id="0" priority="5">
                    <program_image path="child.elf" />
                </protection_domain>
            </protection_domain>
        </system>
        "#,
    );
    let grants: Vec<_> = c.spec.pds.iter().map(|p| (p.name.as_str(), p.grants.exit_system, p.grants.restart_children)).collect();
    assert_eq!(grants, [("judge", true, false), ("parent", false, true), ("child", false, false)]);
}

#[test]
fn a_plain_microkit_file_grants_nothing() {
    let c = accepted(
        r#"
        <system>
            <protection_domain name="a" priority="10">
                <program_image path="a.elf" />
                <protection_domain name="b" id="0" priority="5">
                    <program_image path="b.elf" />
                </protection_domain>
            </protection_domain>
        </system>
        "#,
    );
    assert!(c.spec.pds.iter().all(|p| p.grants == rampart_spec::Grants::default()));
}

#[test]
fn an_unknown_rampart_attribute_is_rejected_with_a_suggestion() {
    let f = expect_error(
        r#"
        <system xmlns:rampart="urn:rampart:sdf:1">
            <protection_domain name="a" rampart:exit_sytem="true">
                <program_image path="a.elf" />
            </protection_domain>
        </system>
        "#,
        "unknown Rampart attribute `rampart:exit_sytem` on <protection_domain>",
        2,
        33,
    );
    assert!(f.help().contains("did you mean `rampart:exit_system`?"), "{}", f.help());
}

#[test]
fn rampart_attributes_belong_on_protection_domains_and_other_namespaces_are_unknown() {
    let f = expect_error(
        r#"
        <system xmlns:rampart="urn:rampart:sdf:1">
            <memory_region name="m" size="0x1000" rampart:exit_system="true" />
            <protection_domain name="a">
                <program_image path="a.elf" />
                <map mr="m" vaddr="0x4000000" />
            </protection_domain>
        </system>
        "#,
        "unknown Rampart attribute `rampart:exit_system` on <memory_region>",
        2,
        43,
    );
    assert!(f.help().contains("go on <protection_domain>"), "{}", f.help());
    expect_error(
        r#"
        <system xmlns:other="urn:example">
            <protection_domain name="a" other:exit_system="true">
                <program_image path="a.elf" />
            </protection_domain>
        </system>
        "#,
        "unknown attribute `exit_system` on <protection_domain>",
        2,
        33,
    );
}

#[test]
fn a_grant_is_a_boolean_and_restart_children_needs_children() {
    let f = expect_error(
        r#"
        <system xmlns:rampart="urn:rampart:sdf:1">
            <protection_domain name="a" rampart:exit_system="yes">
                <program_image path="a.elf" />
            </protection_domain>
        </system>
        "#,
        "rampart:exit_system `yes` is not a boolean",
        2,
        54,
    );
    assert!(f.help().contains("`true` or `false`"));
    expect_error(
        r#"
        <system xmlns:rampart="urn:rampart:sdf:1">
            <protection_domain name="a" rampart:restart_children="true">
                <program_image path="a.elf" />
            </protection_domain>
        </system>
        "#,
        "granted rampart:restart_children but has no child protection domains",
        2,
        59,
    );
}
