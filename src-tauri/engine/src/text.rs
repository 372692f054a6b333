//! Text from outside — a service's error words, a site's name, a platform's message — made fit
//! to show a person in a terminal, a notification or the window: one line, no control
//! characters (a terminal escape sequence or a new line in a service's answer must not repaint
//! the screen or fake more output), and short.

/// The longest piece of outside text shown, in characters.
pub const MAX_CHARS: usize = 200;

/// `text` on one line: control characters become spaces, surrounding space is trimmed, and
/// more than `max_chars` characters are cut with an ellipsis.
pub fn one_line(text: &str, max_chars: usize) -> String {
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let line = line.trim();
    if line.chars().count() <= max_chars {
        return line.to_owned();
    }
    line.chars().take(max_chars).chain(std::iter::once('…')).collect()
}

/// `text` without anything that looks like a secret that was sent: each of `sent` (a token, a
/// code, a client secret) wherever it appears, and any long unbroken run of token characters
/// (a service that echoes a token back, or another one). Services put such things in their
/// error words; those words are kept for the technical detail and the log, so they must not.
pub fn without_secrets(text: &str, sent: &[&str]) -> String {
    /// Runs of token characters at least this long are taken for tokens (a JWT, an opaque token).
    const TOKEN_LIKE: usize = 32;
    let mut out = text.to_string();
    for secret in sent.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "[hidden]");
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    let mut cleaned = String::with_capacity(out.len());
    let mut run = String::new();
    for c in out.chars().chain(std::iter::once(' ')) {
        if token_char(c) {
            run.push(c);
            continue;
        }
        if run.len() >= TOKEN_LIKE {
            cleaned.push_str("[hidden]");
        } else {
            cleaned.push_str(&run);
        }
        run.clear();
        cleaned.push(c);
    }
    cleaned.pop();
    cleaned
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_new_lines_become_spaces() {
        assert_eq!(one_line("Evil\u{1b}[2J\nSite\r", 200), "Evil [2J Site");
    }

    #[test]
    fn what_looks_like_the_token_sent_is_dropped() {
        let sent = "rt-0123";
        let echoed =
            format!("refresh token {sent} is unknown; eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig was seen");
        assert_eq!(without_secrets(&echoed, &[sent]), "refresh token [hidden] is unknown; [hidden] was seen");
        assert_eq!(without_secrets("AADSTS700082: expired.", &[]), "AADSTS700082: expired.");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = one_line(&"é".repeat(300), 200);
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("short", 200), "short");
    }
}
