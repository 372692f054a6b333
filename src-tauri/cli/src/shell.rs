//! A name as a shell needs it typed, for the commands the command line's hints name (the front
//! door and the full program both say them).

/// A name as a shell needs it typed in a hint: `jira`, `'HighQ reporting'`.
pub fn shell_word(name: &str) -> String {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        name.to_string()
    } else {
        format!("'{}'", name.replace('\'', r"'\''"))
    }
}
