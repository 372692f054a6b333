//! Secrets coming in: one line from standard input (a client secret, an API token) and token
//! responses from a file or standard input. This is the only way a secret enters the command —
//! never an argument, never an environment variable.
//!
//! At a terminal the line is typed with echo off (on Unix), after a prompt on standard error;
//! from a pipe it is read as is. Reads are bounded so a runaway pipe cannot fill memory. The
//! blocking reads run on tokio's blocking pool.

use std::io::{BufRead, IsTerminal, Read};
use std::path::{Path, PathBuf};

use crate::failure::Failure;

/// The most a secret line may hold.
const MAX_LINE: u64 = 64 * 1024;
/// The most a token response may hold.
pub const MAX_RESPONSE: u64 = 1024 * 1024;

/// Reads one secret line from standard input; `what` names it ("the client secret for jira"),
/// for the prompt and the messages.
/// Only the line ending is removed. An empty line is bad input.
pub async fn secret_line(what: String) -> Result<String, Failure> {
    tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        let line = if stdin.is_terminal() {
            eprint!("Enter {what} (typing is hidden), then press Enter: ");
            let _echo = echo::Off::new();
            read_line(&mut stdin.lock())
        } else {
            read_line(&mut stdin.lock())
        }
        .map_err(|e| Failure::usage(format!("could not read {what} from standard input: {e}")))?;
        if line.is_empty() {
            return Err(Failure::usage(format!("{what} was not given: standard input is empty")));
        }
        Ok(line)
    })
    .await
    .map_err(|e| Failure::other(e.to_string()))?
}

/// Asks `question` at the terminal and reads the answer: `Some(true)` for y/yes, `Some(false)`
/// for anything else, `None` when standard input is not a terminal (nobody to ask).
pub async fn confirm(question: String) -> Result<Option<bool>, Failure> {
    tokio::task::spawn_blocking(move || {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return Ok(None);
        }
        eprint!("{question} [y/N] ");
        let answer = read_line(&mut stdin.lock())
            .map_err(|e| Failure::usage(format!("could not read the answer from standard input: {e}")))?;
        Ok(Some(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")))
    })
    .await
    .map_err(|e| Failure::other(e.to_string()))?
}

/// One line, without its line ending, at most [`MAX_LINE`] bytes.
fn read_line(from: &mut impl BufRead) -> std::io::Result<String> {
    let mut line = String::new();
    from.take(MAX_LINE + 1).read_line(&mut line)?;
    if line.len() as u64 > MAX_LINE {
        return Err(std::io::Error::other("the line is too long"));
    }
    if line.ends_with('\n') {
        line.pop();
        if line.ends_with('\r') {
            line.pop();
        }
    }
    Ok(line)
}

/// Reads a token response from `path`, or from standard input when it is `-`; at most 1 MiB.
pub async fn response(path: PathBuf) -> Result<Vec<u8>, Failure> {
    tokio::task::spawn_blocking(move || {
        let (what, body) = if path == Path::new("-") {
            ("standard input".to_string(), read_bounded(&mut std::io::stdin().lock()))
        } else {
            let what = path.display().to_string();
            let body = std::fs::File::open(&path).and_then(|mut f| read_bounded(&mut f));
            (what, body)
        };
        match body {
            Ok(Some(body)) if body.is_empty() => {
                Err(Failure::usage(format!("{what} is empty: there is no token response in it")))
            }
            Ok(Some(body)) => Ok(body),
            Ok(None) => Err(Failure::usage(format!("{what} holds more than 1 MiB: that is not a token response"))),
            Err(e) => Err(Failure::usage(format!("could not read {what}: {e}"))),
        }
    })
    .await
    .map_err(|e| Failure::other(e.to_string()))?
}

/// Everything `from` holds, or `None` if that is more than [`MAX_RESPONSE`] bytes.
fn read_bounded(from: &mut impl Read) -> std::io::Result<Option<Vec<u8>>> {
    let mut body = Vec::new();
    from.take(MAX_RESPONSE + 1).read_to_end(&mut body)?;
    Ok((body.len() as u64 <= MAX_RESPONSE).then_some(body))
}

/// Puts the terminal back as it was if a prompt with echo off is still waiting (after Ctrl-C,
/// the reading thread cannot be stopped, so its guard would never run).
pub fn restore_terminal() {
    echo::restore();
}

#[cfg(unix)]
mod echo {
    use std::sync::Mutex;

    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg, Termios};

    /// The settings to go back to while echo is off.
    static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

    /// Terminal echo turned off until dropped (the newline is still echoed).
    pub struct Off;

    impl Off {
        pub fn new() -> Self {
            let stdin = std::io::stdin();
            if let Ok(before) = tcgetattr(&stdin) {
                let mut hidden = before.clone();
                hidden.local_flags.remove(LocalFlags::ECHO);
                hidden.local_flags.insert(LocalFlags::ECHONL);
                let mut saved = SAVED.lock().unwrap_or_else(|p| p.into_inner());
                if tcsetattr(&stdin, SetArg::TCSAFLUSH, &hidden).is_ok() {
                    *saved = Some(before);
                }
            }
            Off
        }
    }

    impl Drop for Off {
        fn drop(&mut self) {
            restore();
        }
    }

    pub fn restore() {
        let before = SAVED.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(before) = before {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSAFLUSH, &before);
        }
    }
}

#[cfg(not(unix))]
mod echo {
    /// Echo cannot be turned off here; the prompt still says what to type.
    pub struct Off;

    impl Off {
        pub fn new() -> Self {
            Off
        }
    }

    pub fn restore() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_loses_only_its_ending() {
        assert_eq!(read_line(&mut &b"s3cret\n"[..]).unwrap(), "s3cret");
        assert_eq!(read_line(&mut &b"s3cret\r\nnext line\n"[..]).unwrap(), "s3cret");
        assert_eq!(read_line(&mut &b" spaced \n"[..]).unwrap(), " spaced ");
        assert_eq!(read_line(&mut &b"no newline"[..]).unwrap(), "no newline");
        assert_eq!(read_line(&mut &b""[..]).unwrap(), "");
        let long = vec![b'x'; MAX_LINE as usize + 1];
        assert!(read_line(&mut &long[..]).is_err());
    }

    #[test]
    fn responses_are_bounded() {
        assert_eq!(read_bounded(&mut &b"{}"[..]).unwrap(), Some(b"{}".to_vec()));
        let exact = vec![b' '; MAX_RESPONSE as usize];
        assert_eq!(read_bounded(&mut &exact[..]).unwrap().map(|b| b.len()), Some(MAX_RESPONSE as usize));
        let over = vec![b' '; MAX_RESPONSE as usize + 1];
        assert_eq!(read_bounded(&mut &over[..]).unwrap(), None);
    }

    #[tokio::test]
    async fn a_missing_response_file_is_bad_input() {
        let failure = response(PathBuf::from("/nonexistent/response.json")).await.unwrap_err();
        assert_eq!(failure.code, 2);
        assert!(failure.message.contains("/nonexistent/response.json"), "{}", failure.message);
    }
}
