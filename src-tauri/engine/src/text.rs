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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_new_lines_become_spaces() {
        assert_eq!(one_line("Evil\u{1b}[2J\nSite\r", 200), "Evil [2J Site");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        let cut = one_line(&"é".repeat(300), 200);
        assert_eq!(cut.chars().count(), 201);
        assert!(cut.ends_with('…'));
        assert_eq!(one_line("short", 200), "short");
    }
}
