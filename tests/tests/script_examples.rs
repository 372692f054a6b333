//! Every documented way of handing a token to a script works and keeps the token off every
//! command line: the examples of `tokenkeeper --help`, `token --help` and `exec --help`, and the
//! README's script examples, run as written (only the service address is replaced by a local
//! one) against an integration with a real token.
//!
//! A command line is public: any user of the computer can read `/proc/PID/cmdline`, which is the
//! argument list the process was started with (`execve`). Each example runs under `strace -f -e
//! trace=execve`, which records the argument list of every program it and its children start,
//! however briefly they live; none may hold the token (nor the Basic credentials made from it).
//! While it runs, `/proc/*/cmdline` of every process is also read in a loop, as another user
//! would. And the service must have received the token: an example that does not work (such as
//! the README's old `exec … curl -H "Authorization: Bearer $ACCESS_TOKEN"`, which the calling
//! shell expanded to nothing) fails here too.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use common::*;
use tokenkeeper_tests::{require_test_session, tokenkeeper_bin, Sandbox};

const USER: &str = "me@example.com";
/// The address the examples use for "the service".
const EXAMPLE_URL: &str = "https://example.com/api";

/// The programs the examples call, as a script author would write them: each reads the token from
/// its environment and hands it to curl on standard input.
const STUBS: &[(&str, &str)] = &[
    ("sync.sh", "printf 'Authorization: Bearer %s\\n' \"$ACCESS_TOKEN\" | curl -sf -o /dev/null -H @- \"$API\"\n"),
    ("gh", "printf 'Authorization: Bearer %s\\n' \"$GH_TOKEN\" | curl -sf -o /dev/null -H @- \"$API\"\n"),
    (
        "export.sh",
        "printf 'user = \"%s:%s\"\\n' \"$JIRA_USER\" \"$JIRA_TOKEN\" | curl -sf -o /dev/null -K - \"$API\"\n",
    ),
];

#[test]
fn documented_script_patterns_keep_tokens_off_command_lines() {
    require_test_session();
    let unique = std::process::id();
    let jira = format!("jira-token-{unique}-5f0a9c");
    let github = format!("github-token-{unique}-77d1e3");
    let jira_basic = basic(USER, &jira);
    let api = ApiServer::start(ApiMode::AcceptAny(vec![
        format!("Bearer {jira}"),
        jira_basic.clone(),
        format!("Bearer {github}"),
    ]));
    let sb = Sandbox::new();
    sb.run_ok(&["add", "jira", "--yes", "--provider", "api-token", "--probe-url", &api.url, "--username", USER], None);
    sb.run_ok(&["login", "jira"], Some(&format!("{jira}\n")));
    sb.run_ok(&["add", "github", "--yes", "--provider", "api-token", "--probe-url", &api.url], None);
    sb.run_ok(&["login", "github"], Some(&format!("{github}\n")));

    // where the examples run: the stubs, and `tokenkeeper` on the PATH
    let work = sb.root().join("scripts");
    std::fs::create_dir_all(&work).unwrap();
    for (name, body) in STUBS {
        let path = work.join(name);
        std::fs::write(&path, format!("#!/bin/sh\nset -e\n{body}")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin_dir = tokenkeeper_bin().parent().unwrap().to_path_buf();
    let path = format!("{}:{}:{}", work.display(), bin_dir.display(), std::env::var("PATH").unwrap_or_default());

    let mut examples = help_examples(&sb);
    let from_help = examples.len();
    assert!(from_help >= 5, "the help texts show fewer examples than expected: {examples:#?}");
    let readme = readme_examples(&std::fs::read_to_string(workspace_root().join("README.md")).unwrap());
    assert!(readme.len() >= 5, "the README's script examples were not found: {readme:#?}");
    examples.extend(readme);

    let secrets = [jira.as_str(), github.as_str(), jira_basic.trim_start_matches("Basic ")];
    for example in &examples {
        let line = example.replace(EXAMPLE_URL, &api.url);
        let before = api.hits();
        let trace = work.join("execve.log");
        let watcher = CmdlineWatcher::start(&secrets);
        let out = Command::new("strace")
            .args(["-f", "-qq", "-s", "65536", "-e", "trace=execve", "-e", "signal=none", "-o"])
            .arg(&trace)
            .args(["sh", "-c", &line])
            .current_dir(&work)
            .envs(sb.envs())
            .env("PATH", &path)
            .env("API", &api.url)
            .stdin(Stdio::null())
            .output()
            .expect("run strace (apt-get install strace)");
        let seen = watcher.stop();
        assert!(
            out.status.success(),
            "the example failed ({}):\n  {example}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // `TOKEN=$(tokenkeeper token jira)` only keeps the token for later: nothing to reach yet
        let keeps_it =
            example.split_once("=$(").is_some_and(|(var, _)| var.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
        assert!(keeps_it || api.hits() > before, "the example never reached the service:\n  {example}");
        let started = std::fs::read_to_string(&trace).unwrap();
        assert!(started.contains("execve("), "strace recorded nothing: {started}");
        for secret in secrets {
            let shown: Vec<&str> = started.lines().filter(|l| l.contains(secret)).collect();
            assert!(shown.is_empty(), "the example puts the token on a command line:\n  {example}\n{shown:#?}");
        }
        assert!(seen.is_empty(), "/proc/*/cmdline showed the token while running:\n  {example}\n{seen:#?}");
        eprintln!("ok: {example}");
    }
    eprintln!("{} examples ({from_help} from --help, {} from the README)", examples.len(), examples.len() - from_help);
}

fn workspace_root() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The example lines of `tokenkeeper --help`, `token --help` and `exec --help` that get a token.
fn help_examples(sb: &Sandbox) -> Vec<String> {
    let mut examples = Vec::new();
    for args in [&["--help"][..], &["token", "--help"], &["exec", "--help"]] {
        let help = sb.run_ok(args, None);
        let section = help.split_once("Examples:\n").map(|(_, rest)| rest).unwrap_or_default();
        examples.extend(
            section
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .filter(|l| l.contains("tokenkeeper token ") || l.contains("tokenkeeper exec "))
                .map(str::to_string),
        );
    }
    examples
}

/// The commands of the README's `sh` block marked "script examples", continued lines joined.
fn readme_examples(readme: &str) -> Vec<String> {
    let Some((_, rest)) = readme.split_once("<!-- script examples") else { return Vec::new() };
    let Some((_, block)) = rest.split_once("```sh\n") else { return Vec::new() };
    let block = block.split_once("\n```").map(|(b, _)| b).unwrap_or_default();
    let mut examples = Vec::new();
    let mut current = String::new();
    for line in block.lines() {
        let line = line.trim();
        if current.is_empty() && (line.is_empty() || line.starts_with('#')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => current.push_str(part),
            None => {
                current.push_str(line);
                examples.push(std::mem::take(&mut current));
            }
        }
    }
    examples
}

/// Reads every process's `/proc/PID/cmdline` in a loop, as another user could, and keeps those
/// that hold one of the secrets.
struct CmdlineWatcher {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl CmdlineWatcher {
    fn start(secrets: &[&str]) -> Self {
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok(procs) = std::fs::read_dir("/proc") else { return };
                for entry in procs.flatten() {
                    let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) else { continue };
                    let text = String::from_utf8_lossy(&bytes).replace('\0', " ");
                    if secrets.iter().any(|s| text.contains(s.as_str())) {
                        seen2.lock().unwrap().push(text);
                    }
                }
                std::thread::yield_now();
            }
        });
        Self { stop, seen, thread }
    }

    fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        let seen = self.seen.lock().unwrap().clone();
        seen
    }
}
