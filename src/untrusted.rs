//! Text vetted did not write (registry and Docker Hub error bodies, names and descriptions read from
//! the live organization, values from a pull request's policy) made safe to show: the one definition
//! of which characters are escaped, used wherever such text reaches a terminal, a log, a job summary
//! or a pull-request comment.
//!
//! Escaped: every C0 control character but tab (newline and carriage return included, so remote text
//! can never start a line of its own: no closed code fence, no markdown heading, no `::warning::`
//! workflow command), DEL, every C1 control (ESC sequences and CSI reach no terminal), the Unicode
//! line and paragraph separators, and the bidirectional overrides and isolates (U+202A-U+202E,
//! U+2066-U+2069) that reorder what a reader sees. Each becomes a visible Rust-style escape (`\n`,
//! `\r`, `\u{1b}`, `\u{202e}`).

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is escaped by [`untrusted`] (newline aside, the same for [`untrusted_lines`]).
fn dangerous(c: char) -> bool {
    (c.is_control() && c != '\t')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn escape(s: &str, keep_newlines: bool) -> Cow<'_, str> {
    let needs = |c: char| dangerous(c) && !(keep_newlines && c == '\n');
    if !s.chars().any(needs) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            _ if !needs(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// `s` on one line, every dangerous character escaped (see the module docs). For remote text put
/// into a message: an error body, a name, a note.
pub fn untrusted(s: &str) -> Cow<'_, str> {
    escape(s, false)
}

/// Like [`untrusted`] but keeps line breaks: for vetted's own multi-line messages (an error with its
/// hint, a list of refusals) at the point they are printed, after the remote parts inside them went
/// through [`untrusted`]. Nothing else dangerous passes.
pub fn untrusted_lines(s: &str) -> Cow<'_, str> {
    escape(s, true)
}

/// `s` for markdown prose (a table cell, a list item): [`untrusted`], then `@` that would mention a
/// user or team (`@admin`, `@org/team`: at the start or after a non-word character) gets a zero-width
/// space after it, so no one is notified by text vetted did not write. E-mail addresses stay as they
/// are (GitHub does not mention inside them).
pub fn untrusted_markdown(s: &str) -> Cow<'_, str> {
    let s = untrusted(s);
    let mut prev: Option<char> = None;
    let mut mentions = false;
    for c in s.chars() {
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
            mentions = true;
            break;
        }
        prev = Some(c);
    }
    if !mentions {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 6);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        out.push(c);
        if c == '@' && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_') {
            out.push('\u{200B}');
        }
        prev = Some(c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORGED: &str =
        "denied\n```\n## No changes, approve\n@admin\n::warning::x\r\u{1b}[2J\u{202e}txt\u{85}";

    #[test]
    fn remote_text_stays_on_one_line_and_shows_what_it_hides() {
        let s = untrusted(FORGED);
        assert_eq!(
            s,
            "denied\\n```\\n## No changes, approve\\n@admin\\n::warning::x\\r\\u{1b}[2J\\u{202e}txt\\u{85}"
        );
        assert!(!s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'));
        for c in [
            '\u{2028}', '\u{2029}', '\u{202a}', '\u{2066}', '\u{2069}', '\u{7f}', '\0',
        ] {
            assert!(!untrusted(&format!("a{c}b")).contains(c), "{c:?}");
        }
        // Ordinary text, tabs and non-ASCII letters are left alone, without a copy.
        assert!(matches!(
            untrusted("Grüße\tnginx:1.27 — ok"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn lines_are_kept_only_where_vetted_broke_them() {
        let s = untrusted_lines("error: x\n  hint: \u{1b}]8;;http://evil\u{7}y\r");
        assert_eq!(s, "error: x\n  hint: \\u{1b}]8;;http://evil\\u{7}y\\r");
    }

    #[test]
    fn mentions_are_neutralised_in_markdown() {
        assert_eq!(
            untrusted_markdown("ping @admin and (@acme/owners), mail bob@example.com"),
            "ping @\u{200B}admin and (@\u{200B}acme/owners), mail bob@example.com"
        );
        assert_eq!(untrusted_markdown("@x\n"), "@\u{200B}x\\n");
        // Right after a code span GitHub still links the mention.
        assert_eq!(untrusted_markdown("`x`@admin"), "`x`@\u{200B}admin");
        assert!(matches!(untrusted_markdown("plain"), Cow::Borrowed(_)));
    }
}
