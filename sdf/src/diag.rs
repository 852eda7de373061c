//! Diagnostics: what is wrong with a system file, where, and what would be accepted.
//!
//! Written for the person who wrote the XML, in the manner of compiler diagnostics:
//!
//! ```text
//! error: priority 300 is out of range
//!   --> system.xml:4:42
//!    |
//!  4 |     <protection_domain name="ping" priority="300">
//!    |                                              ^^^ in <protection_domain>
//!    = help: priority is an integer from 0 to 254
//! ```
//!
//! Positions are byte ranges into the source; rendering turns them into 1-based lines and
//! columns (columns count characters, not bytes).

use std::fmt::Write as _;
use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a system file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    /// Byte range of the offending text in the source, if it has one.
    pub span: Option<Range<usize>>,
    /// The XML element the finding is about.
    pub element: Option<String>,
    /// What would be accepted instead.
    pub help: Option<String>,
    /// Further context, such as where a clashing definition is.
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Error, message: message.into(), span: None, element: None, help: None, notes: Vec::new() }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(message) }
    }

    pub fn at(mut self, span: Range<usize>) -> Self {
        self.span = Some(span);
        self
    }

    pub fn on(mut self, element: &str) -> Self {
        self.element = Some(element.to_string());
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = source[line_start..offset].chars().count() + 1;
    (line, col)
}

/// Byte offset of a 1-based line and character column, clamped to the source.
pub fn offset_of(source: &str, line: usize, col: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match source[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return source.len(),
        }
    }
    let rest = &source[start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let within = rest[..line_len].char_indices().nth(col.saturating_sub(1)).map_or(line_len, |(i, _)| i);
    start + within
}

/// 1-based line numbers of byte offsets, for sources with many diagnostics: built once in
/// O(length), then each lookup is a binary search (where [`line_col`] scans from the start).
#[derive(Clone, Debug)]
pub struct LineIndex {
    /// Byte offset of the start of every line after the first.
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    pub fn new(source: &str) -> Self {
        LineIndex { starts: source.match_indices('\n').map(|(i, _)| i + 1).collect(), len: source.len() }
    }

    /// Byte offset of the end of a 1-based line, before its `\n`.
    pub fn end(&self, line: usize) -> usize {
        self.starts.get(line.wrapping_sub(1)).map_or(self.len, |s| s - 1)
    }

    /// The same line as `line_col(source, offset).0`.
    pub fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) + 1
    }

    /// Byte offset of the start of a 1-based line (of the last line, past the end).
    pub fn start(&self, line: usize) -> usize {
        match line.checked_sub(2) {
            Some(i) => self.starts.get(i).or(self.starts.last()).copied().unwrap_or(0),
            None => 0,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// All diagnostics about one file, with the source needed to show them.
#[derive(Clone, Debug)]
pub struct Report {
    /// The file name as the user gave it.
    pub file: String,
    pub source: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    pub fn new(file: impl Into<String>, source: impl Into<String>) -> Self {
        Report { file: file.into(), source: source.into(), diagnostics: Vec::new() }
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub fn error_count(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    pub fn warning_count(&self) -> usize {
        self.diagnostics.len() - self.error_count()
    }

    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }

    /// Sort by position so that output reads top to bottom; spanless findings come last.
    pub fn sort(&mut self) {
        self.diagnostics.sort_by_key(|d| (d.span.as_ref().map_or(usize::MAX, |s| s.start), d.severity));
    }

    /// `file:line:col` of a diagnostic, or just the file.
    pub fn location(&self, d: &Diagnostic) -> String {
        match &d.span {
            Some(span) => {
                let (line, col) = line_col(&self.source, span.start);
                format!("{}:{}:{}", self.file, line, col)
            }
            None => self.file.clone(),
        }
    }

    /// Render the diagnostics (the first [`MAX_RENDERED_DIAGNOSTICS`] of them, then how many
    /// more there are) and a summary line. `color` adds ANSI colours.
    pub fn render(&self, color: bool) -> String {
        let mut out = String::new();
        let lines = LineIndex::new(&self.source);
        for d in self.diagnostics.iter().take(MAX_RENDERED_DIAGNOSTICS) {
            out.push_str(&self.render_with(d, color, &lines));
            out.push('\n');
        }
        if let Some(rest) = self.diagnostics.get(MAX_RENDERED_DIAGNOSTICS..) {
            let re = rest.iter().filter(|d| d.is_error()).count();
            let rw = rest.len() - re;
            let _ = writeln!(out, "{}: {re} more error{} and {rw} more warning{} not shown\n", paint(color, BOLD, "note"), plural(re), plural(rw));
        }
        let (e, w) = (self.error_count(), self.warning_count());
        if e > 0 {
            let _ = writeln!(
                out,
                "{}: {} is not a valid system: {} error{}{}",
                paint(color, RED_BOLD, "error"),
                self.file,
                e,
                plural(e),
                if w > 0 { format!(", {} warning{}", w, plural(w)) } else { String::new() }
            );
        }
        out
    }

    /// Render one diagnostic with the offending source line.
    pub fn render_one(&self, d: &Diagnostic, color: bool) -> String {
        self.render_with(d, color, &LineIndex::new(&self.source))
    }

    fn render_with(&self, d: &Diagnostic, color: bool, lines: &LineIndex) -> String {
        let mut out = String::new();
        let (label, style) = match d.severity {
            Severity::Error => ("error", RED_BOLD),
            Severity::Warning => ("warning", YELLOW_BOLD),
        };
        let _ = writeln!(out, "{}: {}", paint(color, style, label), paint(color, BOLD, &d.message));
        let gutter_style = BLUE_BOLD;
        match &d.span {
            Some(span) => {
                // As line_col, without scanning the source before the line.
                let span_start = floor_char_boundary(&self.source, span.start.min(self.source.len()));
                let line = lines.line(span_start);
                let line_start = lines.start(line);
                let col = self.source[line_start..span_start].chars().count() + 1;
                let width = line.to_string().len();
                let pad = " ".repeat(width);
                let _ = writeln!(out, "{pad}{} {}:{}:{}", paint(color, gutter_style, "-->"), self.file, line, col);
                let text = &self.source[line_start..lines.end(line)];
                let text = text.strip_suffix('\r').unwrap_or(text);
                // A long line is shown as a window of MAX_SHOWN_LINE_CHARS characters around the
                // column, so that the output stays proportional to the number of diagnostics.
                let line_chars = text.chars().count();
                let (skip, take) = if line_chars <= MAX_SHOWN_LINE_CHARS {
                    (0, line_chars)
                } else {
                    ((col - 1).saturating_sub(MAX_SHOWN_LINE_CHARS / 4).min(line_chars - MAX_SHOWN_LINE_CHARS), MAX_SHOWN_LINE_CHARS)
                };
                let (before, after) = (if skip > 0 { "…" } else { "" }, if skip + take < line_chars { "…" } else { "" });
                // Tabs would misalign the carets: show them as one space each.
                // The window starts `skip` characters into the line, at most a window's width
                // before the span: found by walking back from the span, not forward from the line.
                let head = &text[..(span_start - line_start).min(text.len())];
                let back = head.chars().count() - skip;
                let from = if back == 0 { head.len() } else { head.char_indices().rev().nth(back - 1).map_or(0, |(i, _)| i) };
                let shown: String = text[from..].chars().take(take).map(|c| if c == '\t' { ' ' } else { c }).collect();
                let _ = writeln!(out, "{pad} {}", paint(color, gutter_style, "|"));
                let _ = writeln!(out, "{} {} {before}{shown}{after}", paint(color, gutter_style, &line.to_string()), paint(color, gutter_style, "|"));
                let span_end = floor_char_boundary(&self.source, span.end.min(self.source.len()));
                let span_chars = self.source[span_start..span_end.max(span_start)].chars().take_while(|&c| c != '\n').take(take).count();
                let col_shown = col - 1 - skip + before.chars().count();
                let carets = span_chars.clamp(1, take.saturating_sub(col - 1 - skip).max(1));
                let mut marker = format!("{}{}", " ".repeat(col_shown), paint(color, style, &"^".repeat(carets)));
                if let Some(el) = &d.element {
                    let _ = write!(marker, " {}", paint(color, style, &format!("in <{el}>")));
                }
                let _ = writeln!(out, "{pad} {} {}", paint(color, gutter_style, "|"), marker);
                for n in &d.notes {
                    let _ = writeln!(out, "{pad} {} note: {n}", paint(color, gutter_style, "="));
                }
                if let Some(h) = &d.help {
                    let _ = writeln!(out, "{pad} {} {}: {h}", paint(color, gutter_style, "="), paint(color, BOLD, "help"));
                }
            }
            None => {
                let el = d.element.as_ref().map(|e| format!(" (in <{e}>)")).unwrap_or_default();
                let _ = writeln!(out, "  {} {}{el}", paint(color, gutter_style, "-->"), self.file);
                for n in &d.notes {
                    let _ = writeln!(out, "   {} note: {n}", paint(color, gutter_style, "="));
                }
                if let Some(h) = &d.help {
                    let _ = writeln!(out, "   {} {}: {h}", paint(color, gutter_style, "="), paint(color, BOLD, "help"));
                }
            }
        }
        out
    }
}

/// Most diagnostics [`Report::render`] shows; the rest are counted.
pub const MAX_RENDERED_DIAGNOSTICS: usize = 200;
/// Longest source line shown whole under a diagnostic; longer ones are shown in part.
pub const MAX_SHOWN_LINE_CHARS: usize = 160;

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

const RED_BOLD: &str = "\x1b[1;31m";
const YELLOW_BOLD: &str = "\x1b[1;33m";
const BLUE_BOLD: &str = "\x1b[1;34m";
const BOLD: &str = "\x1b[1m";

fn paint(color: bool, style: &str, text: &str) -> String {
    if color {
        format!("{style}{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let src = "ab\ncé<x>\n";
        let off = src.find("<x>").unwrap();
        assert_eq!(line_col(src, off), (2, 3));
        assert_eq!(offset_of(src, 2, 3), off);
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(offset_of(src, 9, 9), src.len());
    }

    #[test]
    fn rendering_shows_the_line_and_a_caret_under_the_span() {
        let src = "<system>\n  <pd priority=\"300\"/>\n</system>\n";
        let start = src.find("300").unwrap();
        let mut r = Report::new("s.xml", src);
        r.push(Diagnostic::error("priority 300 is out of range").at(start..start + 3).on("pd").help("0 to 254"));
        let text = r.render(false);
        assert!(text.contains("error: priority 300 is out of range"), "{text}");
        assert!(text.contains("--> s.xml:2:17"), "{text}");
        assert!(text.contains("2 |   <pd priority=\"300\"/>"), "{text}");
        assert!(text.contains("                ^^^ in <pd>"), "{text}");
        assert!(text.contains("= help: 0 to 254"), "{text}");
        assert!(text.contains("s.xml is not a valid system: 1 error"), "{text}");
        assert!(!text.contains('\x1b'));
        assert!(r.render(true).contains("\x1b[1;31m"));
    }
}
