//! Client-supplied text on its way into a log line (model names, user agents, paths, upstream
//! error details): escaped and bounded, so a request can neither forge a line nor flood the log.
use std::fmt::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

/// Most bytes one field may take once escaped; longer text is cut and marked.
pub const MAX_LEN: usize = 256;

/// Set when the log is JSON, whose encoder quotes strings itself. The human format writes
/// `key=value` pairs separated by spaces, so there the text is quoted: a space in a model name
/// must not start a field of its own.
static BARE: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_bare(bare: bool) {
    BARE.store(bare, Ordering::Relaxed);
}

/// Untrusted text for a log field: `model = %LogText(&model)`. Control characters, quotes,
/// backslashes and Unicode line and direction marks are written as escapes (`\n`, `\"`,
/// `\u{1b}`); past [`MAX_LEN`] bytes the rest is replaced by `…[N more bytes]`.
#[derive(Debug, Clone, Copy)]
pub struct LogText<'a>(pub &'a str);

impl fmt::Display for LogText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        render(self.0, !BARE.load(Ordering::Relaxed), f)
    }
}

fn render(text: &str, quoted: bool, out: &mut impl Write) -> fmt::Result {
    if quoted {
        out.write_char('"')?;
    }
    let mut written = 0;
    for (at, c) in text.char_indices() {
        let piece = Piece::of(c);
        if written + piece.len() > MAX_LEN {
            write!(out, "…[{} more bytes]", text.len() - at)?;
            break;
        }
        written += piece.len();
        piece.write(out)?;
    }
    if quoted {
        out.write_char('"')?;
    }
    Ok(())
}

/// One character as it is written.
enum Piece {
    Plain(char),
    Escape(&'static str),
    /// `\u{..}`: characters that end or reorder a line on a terminal or in a viewer.
    Code(u32),
}

impl Piece {
    fn of(c: char) -> Piece {
        match c {
            '\n' => Piece::Escape("\\n"),
            '\r' => Piece::Escape("\\r"),
            '\t' => Piece::Escape("\\t"),
            '\\' => Piece::Escape("\\\\"),
            '"' => Piece::Escape("\\\""),
            c if c.is_control() => Piece::Code(c as u32),
            // Line and paragraph separators, bidirectional overrides and isolates, the BOM.
            '\u{2028}'
            | '\u{2029}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}' => Piece::Code(c as u32),
            c => Piece::Plain(c),
        }
    }

    fn len(&self) -> usize {
        match self {
            Piece::Plain(c) => c.len_utf8(),
            Piece::Escape(s) => s.len(),
            // `\u{`, the hex digits, `}`
            Piece::Code(n) => 4 + (32 - n.leading_zeros()).max(1).div_ceil(4) as usize,
        }
    }

    fn write(&self, out: &mut impl Write) -> fmt::Result {
        match self {
            Piece::Plain(c) => out.write_char(*c),
            Piece::Escape(s) => out.write_str(s),
            Piece::Code(n) => write!(out, "\\u{{{n:x}}}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str, quoted: bool) -> String {
        let mut out = String::new();
        render(text, quoted, &mut out).unwrap();
        out
    }

    #[test]
    fn plain_text_is_unchanged_and_quoted_only_when_asked() {
        assert_eq!(shown("claude-sonnet-5", false), "claude-sonnet-5");
        assert_eq!(shown("claude sonnet", true), "\"claude sonnet\"");
        assert_eq!(shown("modèle-日本", false), "modèle-日本");
    }

    #[test]
    fn line_breaks_quotes_and_terminal_controls_are_escaped() {
        assert_eq!(
            shown("a\nb\r\"c\"\\\t\u{1b}[2J\u{0}\u{85}\u{2028}\u{202e}", true),
            r#""a\nb\r\"c\"\\\t\u{1b}[2J\u{0}\u{85}\u{2028}\u{202e}""#
        );
    }

    #[test]
    fn escape_lengths_match_what_is_written() {
        for c in [
            '\u{0}', '\u{1b}', '\u{7f}', '\u{85}', '\u{2028}', '\u{feff}', 'é', '\n',
        ] {
            let piece = Piece::of(c);
            let mut out = String::new();
            piece.write(&mut out).unwrap();
            assert_eq!(out.len(), piece.len(), "{c:?} -> {out}");
        }
    }

    #[test]
    fn long_text_is_cut_at_the_bound_with_a_marker() {
        let long = "x".repeat(2 * 1024 * 1024);
        let out = shown(&long, false);
        assert_eq!(
            out,
            format!("{}…[{} more bytes]", "x".repeat(MAX_LEN), long.len() - MAX_LEN)
        );
        // Escapes count towards the bound, and one is never cut in half.
        let out = shown(&"\n".repeat(1000), false);
        assert_eq!(
            out,
            format!(
                "{}…[{} more bytes]",
                "\\n".repeat(MAX_LEN / 2),
                1000 - MAX_LEN / 2
            )
        );
        let out = shown(&"\u{1b}".repeat(1000), false);
        assert!(out.len() < MAX_LEN + 32, "{out}");
        assert!(out.contains("\\u{1b}…["), "{out}");
    }
}
