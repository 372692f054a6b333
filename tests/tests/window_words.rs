//! The window's own words: every string the front end (ui/src, ui/index.html) can show is free of
//! protocol words outside its technical sections, and nothing calls `alert`, `confirm` or `prompt`
//! (they show the tauri:// address as their title and do nothing in macOS's web view; the window
//! has its own dialogs).
//!
//! Technical sections are whole modules: `technical.ts` ("Technical details", "Use in a script")
//! and `advanced.ts` ("Other service (advanced)"). A service's own screen label may be quoted in
//! “…” ("HighQ calls it “Client ID”"): quoted labels are the service's words, not ours.
//!
//! Needs no desktop: it reads the sources.

use std::path::Path;

/// Modules whose words are technical by design.
const TECHNICAL_MODULES: [&str; 2] = ["technical.ts", "advanced.ts"];

/// Protocol words, matched as whole words, ignoring case.
const PROTOCOL_WORDS: [&str; 13] = [
    "invalid_grant",
    "invalid_client",
    "issuer",
    "endpoint",
    "endpoints",
    "grant",
    "scope",
    "scopes",
    "PKCE",
    "client id",
    "refresh token",
    "access token",
    "probe",
];

/// Words written this way only by protocols (lower-case "oauth" is a kind's value in code).
const PROTOCOL_NAMES: [&str; 3] = ["OAuth", "OpenID", "HTTP"];

/// HTTP status numbers a keeper could be shown.
const STATUS_NUMBERS: [&str; 14] =
    ["200", "201", "204", "301", "302", "400", "401", "403", "404", "429", "500", "502", "503", "504"];

/// A command (`tokenkeeper token …`) belongs to "Use in a script".
const COMMAND: &str = "tokenkeeper ";

/// A TypeScript source split into its code (comments and the insides of strings left out) and
/// its string literals, template literals' text parts included (their `${…}` parts are code).
/// Regular expressions in these sources hold no quotes, so a `/` needs no special care.
fn split(source: &str) -> (String, Vec<String>) {
    let chars: Vec<char> = source.chars().collect();
    let mut code = String::new();
    let mut out = Vec::new();
    // the template literals being read, innermost last: their text so far and `${` depth
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '/' if chars.get(i + 1) == Some(&'/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                i += 2;
                while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                    i += 1;
                }
                i += 2;
            }
            quote @ ('\'' | '"' | '`') => {
                let (text, end) = string_at(&chars, i + 1, quote, &mut code, &mut out);
                out.push(text);
                code.push_str("\"\"");
                i = end + 1;
            }
            c => {
                code.push(c);
                i += 1;
            }
        }
    }
    (code, out)
}

/// Reads the string that opened with `quote` before `start`; returns its text and where it ends.
/// A template literal's `${…}` code goes to `code`, its strings to `out`.
fn string_at(chars: &[char], start: usize, quote: char, code: &mut String, out: &mut Vec<String>) -> (String, usize) {
    let mut text = String::new();
    let mut i = start;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' {
            text.push(*chars.get(i + 1).unwrap_or(&' '));
            i += 2;
            continue;
        }
        if c == quote {
            break;
        }
        if quote == '`' && c == '$' && chars.get(i + 1) == Some(&'{') {
            text.push(' ');
            i += 2;
            let mut depth = 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    q @ ('\'' | '"' | '`') => {
                        let (inner, end) = string_at(chars, i + 1, q, code, out);
                        out.push(inner);
                        i = end + 1;
                        continue;
                    }
                    _ => {}
                }
                if depth > 0 {
                    code.push(chars[i]);
                }
                i += 1;
            }
            continue;
        }
        text.push(c);
        i += 1;
    }
    (text, i)
}

fn literals(source: &str) -> Vec<String> {
    split(source).1
}

/// `text` without the service labels it quotes in “…”.
fn unquoted(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('“') {
        out.push_str(&rest[..open]);
        match rest[open..].find('”') {
            Some(close) => rest = &rest[open + close + '”'.len_utf8()..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

fn whole_word(haystack: &str, word: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + word.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The protocol words in `text`, if any.
fn protocol_words(text: &str) -> Vec<&'static str> {
    let text = unquoted(text);
    let lower = text.to_lowercase();
    let mut found: Vec<&'static str> =
        PROTOCOL_WORDS.iter().copied().filter(|w| whole_word(&lower, &w.to_lowercase())).collect();
    found.extend(PROTOCOL_NAMES.iter().copied().filter(|w| whole_word(&text, w)));
    found.extend(STATUS_NUMBERS.iter().copied().filter(|w| whole_word(&text, w)));
    if lower.contains(COMMAND) {
        found.push(COMMAND);
    }
    found
}

/// Calls of the browser's own dialogs in `source` (code only: comments and strings left out).
fn browser_dialogs(source: &str) -> Vec<String> {
    let (code, _) = split(source);
    ["alert(", "confirm(", "prompt("]
        .iter()
        .filter(|call| {
            code.match_indices(*call).any(|(at, _)| !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
        .map(|s| s.to_string())
        .collect()
}

fn ui_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui")
}

fn sources() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(ui_dir().join("src"))
        .expect("ui/src")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ts"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).expect("read")))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "ui/src holds the window's modules");
    files
}

#[test]
fn the_window_speaks_without_protocol_words_outside_its_technical_sections() {
    let mut offending = Vec::new();
    for (file, source) in sources() {
        if TECHNICAL_MODULES.contains(&file.as_str()) {
            continue;
        }
        for literal in literals(&source) {
            let found = protocol_words(&literal);
            if !found.is_empty() {
                offending.push(format!("{file}: {literal:?} has {found:?}"));
            }
        }
    }
    let html = std::fs::read_to_string(ui_dir().join("index.html")).expect("ui/index.html");
    let text: String = html.split('<').map(|part| part.split_once('>').map(|(_, t)| t).unwrap_or(part)).collect();
    let found = protocol_words(&text);
    if !found.is_empty() {
        offending.push(format!("index.html has {found:?}"));
    }
    assert!(offending.is_empty(), "protocol words a keeper would read:\n{}", offending.join("\n"));
}

#[test]
fn nothing_opens_the_browsers_own_dialogs() {
    let calls: Vec<String> = sources()
        .into_iter()
        .flat_map(|(file, source)| browser_dialogs(&source).into_iter().map(move |c| format!("{file}: {c}")))
        .collect();
    assert!(calls.is_empty(), "alert/confirm/prompt in the window: {calls:?}");
}

#[test]
fn the_checks_catch_what_they_look_for() {
    assert_eq!(protocol_words("Sign-in (OAuth 2.0 / OpenID Connect)"), ["OAuth", "OpenID"]);
    assert_eq!(protocol_words("the service refused the token (HTTP 401)"), ["HTTP", "401"]);
    assert_eq!(protocol_words("Permissions (scopes, optional)"), ["scopes"]);
    assert_eq!(protocol_words("run `tokenkeeper login x`"), [COMMAND]);
    assert!(protocol_words("HighQ calls it “Client ID”.").is_empty());
    assert!(protocol_words("Warn me 14 days before, from 1 to 365").is_empty());
    assert_eq!(literals("h('p', {}, `a ${x ? 'b' : \"c\"} d`) // 'no'"), ["p", "b", "c", "a   d"]);
    assert_eq!(split("f(`x ${g('y')} z`) /* alert( */").0, "f(g()\"\") ");
    assert_eq!(browser_dialogs("window.alert(message(e));"), ["alert("]);
    assert_eq!(browser_dialogs("if (!window.confirm(`Remove?`)) return;"), ["confirm("]);
    assert!(browser_dialogs("confirmDialog('x'); messageDialog('alert(') // alert(").is_empty());
    assert_eq!(browser_dialogs("const a = 'e'; alert(a);"), ["alert("]);
}
