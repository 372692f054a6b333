//! Property tests of the local socket's server ([`crate::ipc::serve`]) against clients that send
//! anything: arbitrary bytes, damaged valid requests, lines longer than the limit, lines that
//! never end, and many such clients at once.
//!
//! The server must answer with one plain error line or close the connection, never panic, never
//! read more than [`MAX_LINE`] bytes of a request, and keep answering everyone else meanwhile.
//! The keeper behind it is the real one, on a temporary folder and a [`MemoryStore`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use crate::ipc::{serve_with, MAX_LINE};
use crate::notify::RecordingNotifier;
use crate::paths::Paths;
use crate::properties::support::{cases, config, heavy_cases, mutated};
use crate::store::memory::MemoryStore;
use crate::{Keeper, KeeperOptions};

/// Generous: an answer to a bad line takes microseconds.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Requests a client may send, as seeds for damage (no sign-in: it would wait for a browser).
/// `SEKRIT` stands where a secret goes: no error may repeat it.
const VALID: &[&str] = &[
    r#"{"op":"list"}"#,
    r#"{"op":"status","name":"x"}"#,
    r#"{"op":"token","name":"x"}"#,
    r#"{"op":"refresh","name":"x"}"#,
    r#"{"op":"pause","name":"x","paused":true}"#,
    r#"{"op":"remove","name":"x","revoke":false}"#,
    r#"{"op":"store-response","name":"x","body":"{\"access_token\":\"SEKRIT\"}"}"#,
    r#"{"op":"store-api-token","name":"x","token":"SEKRIT"}"#,
];

/// A keeper serving its socket in a temporary folder.
struct Server {
    _dir: tempfile::TempDir,
    socket: PathBuf,
    task: tokio::task::JoinHandle<Result<(), crate::KeeperError>>,
}

impl Server {
    async fn start() -> Self {
        Self::start_with(Duration::from_secs(30)).await
    }

    /// A server that drops connections without a request line after `request_timeout`.
    async fn start_with(request_timeout: Duration) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let socket = paths.socket();
        let keeper = Keeper::open(KeeperOptions {
            paths,
            store: Arc::new(MemoryStore::new()),
            notifier: Arc::new(RecordingNotifier::default()),
            open_url: Arc::new(|_| Ok(())),
            clock: crate::clock::SystemClock::shared(),
        })
        .unwrap();
        let task = tokio::spawn(serve_with(keeper, request_timeout));
        for _ in 0..500 {
            if UnixStream::connect(&socket).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Server { _dir: dir, socket, task }
    }

    /// Sends `bytes` (then closes the sending half), and returns everything the server sent.
    async fn exchange(&self, bytes: &[u8]) -> Vec<u8> {
        let stream = UnixStream::connect(&self.socket).await.unwrap();
        let (mut read, mut write) = stream.into_split();
        let bytes = bytes.to_vec();
        // The server may answer and close before taking everything (a line over the limit).
        let writer = tokio::spawn(async move {
            let _ = write.write_all(&bytes).await;
            let _ = write.shutdown().await;
        });
        let mut answer = Vec::new();
        tokio::time::timeout(ANSWER_WITHIN, read.read_to_end(&mut answer))
            .await
            .expect("the server neither answered nor closed")
            .ok();
        writer.abort();
        answer
    }

    /// A well-behaved client's `list` gets its answer.
    async fn still_answers(&self) -> Result<(), TestCaseError> {
        let answer = self.exchange(b"{\"op\":\"list\"}\n").await;
        let v: Value = serde_json::from_slice(&answer).map_err(|e| TestCaseError::fail(format!("{e}: {answer:?}")))?;
        prop_assert_eq!(&v["answer"], "views");
        prop_assert!(!self.task.is_finished(), "the server stopped");
        Ok(())
    }
}

/// An answer is nothing (closed) or one JSON line with an `answer`, never a quote of the request.
fn check_answer(answer: &[u8]) -> Result<(), TestCaseError> {
    if answer.is_empty() {
        return Ok(());
    }
    prop_assert!(answer.ends_with(b"\n"), "an unfinished answer: {:?}", String::from_utf8_lossy(answer));
    prop_assert_eq!(answer.iter().filter(|&&b| b == b'\n').count(), 1, "more than one answer line");
    let v: Value = serde_json::from_slice(answer).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(v["answer"].is_string(), "{v}");
    if v["answer"] == "error" {
        prop_assert!(!v.to_string().contains("SEKRIT"), "the error quotes the request: {v}");
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn damaged_request() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(VALID.to_vec()).prop_flat_map(|line| {
        let mut bytes = line.as_bytes().to_vec();
        bytes.push(b'\n');
        mutated(bytes)
    })
}

proptest! {
    #![proptest_config(config(cases(64)))]

    #[test]
    fn arbitrary_lines_get_one_plain_answer_or_a_close(line in vec(any::<u8>(), 0..2048), newline in any::<bool>()) {
        runtime().block_on(async {
            let server = Server::start().await;
            let mut bytes = line;
            if newline {
                bytes.push(b'\n');
            }
            check_answer(&server.exchange(&bytes).await)?;
            server.still_answers().await
        })?;
    }

    #[test]
    fn damaged_requests_get_one_plain_answer_or_a_close(bytes in damaged_request()) {
        runtime().block_on(async {
            let server = Server::start().await;
            check_answer(&server.exchange(&bytes).await)?;
            server.still_answers().await
        })?;
    }
}

proptest! {
    #![proptest_config(config(heavy_cases(4)))]

    /// Many clients at once, each holding a partial line open, sending a huge one or garbage:
    /// a well-behaved client is answered meanwhile, and the huge lines are cut at the limit.
    #[test]
    fn bad_clients_do_not_hold_up_good_ones(
        idle in 1usize..64,
        huge in 1usize..4,
        extra in 1usize..(1 << 20),
    ) {
        runtime().block_on(async {
            let server = Server::start().await;
            let mut held = Vec::new();
            for i in 0..idle {
                let mut s = UnixStream::connect(&server.socket).await.unwrap();
                s.write_all(format!("{{\"op\":\"status\",\"name\":\"idle{i}").as_bytes()).await.unwrap();
                held.push(s);
            }
            let mut big = Vec::new();
            for _ in 0..huge {
                let mut s = UnixStream::connect(&server.socket).await.unwrap();
                big.push(tokio::spawn(async move {
                    // A line of MAX_LINE + extra bytes and no newline, sent in pieces.
                    let piece = vec![b'a'; 64 * 1024];
                    let mut sent = 0u64;
                    while sent < MAX_LINE + extra as u64 {
                        if s.write_all(&piece).await.is_err() {
                            break;
                        }
                        sent += piece.len() as u64;
                    }
                    let mut answer = Vec::new();
                    let _ = s.read_to_end(&mut answer).await;
                    (sent, answer)
                }));
            }
            server.still_answers().await?;
            for task in big {
                let (sent, answer) = tokio::time::timeout(ANSWER_WITHIN, task).await.expect("a huge line hangs").unwrap();
                check_answer(&answer)?;
                prop_assert!(!answer.is_empty(), "no answer to a line over the limit");
                // The server stopped reading at the limit: the sender was cut off well before
                // it sent everything, give or take the socket buffers.
                prop_assert!(sent <= MAX_LINE + extra as u64 + 64 * 1024);
            }
            drop(held);
            server.still_answers().await
        })?;
    }
}

/// A client that connects and never finishes its line is dropped after the request timeout (here
/// a short one): an idle connection cannot be held forever.
#[tokio::test]
async fn a_client_that_never_finishes_its_line_is_dropped() {
    let timeout = Duration::from_millis(300);
    let server = Server::start_with(timeout).await;
    let mut s = UnixStream::connect(&server.socket).await.unwrap();
    s.write_all(b"{\"op\":\"li").await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    tokio::time::timeout(ANSWER_WITHIN, s.read_to_end(&mut answer)).await.expect("never dropped").unwrap();
    assert!(started.elapsed() >= timeout, "dropped too early: {:?}", started.elapsed());
    let v: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["answer"], "error", "{v}");
    assert!(v.to_string().contains("too long"), "{v}");
}

/// A line over the limit gets the plain error, not a parse of its first part.
#[tokio::test]
async fn a_line_over_the_limit_is_refused_in_words() {
    let server = Server::start().await;
    let mut line = br#"{"op":"list","pad":""#.to_vec();
    line.resize(MAX_LINE as usize + 10, b' ');
    line.extend_from_slice(b"\"}\n");
    let answer = server.exchange(&line).await;
    let v: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(v["answer"], "error", "{v}");
    assert!(v.to_string().contains("too long"), "{v}");
}

/// CPU time (user + system) this process has used, in milliseconds, from `/proc/self/stat`
/// opened beforehand (there may be no descriptor left to open it when it is read).
fn cpu_ms(stat_file: &mut std::fs::File) -> u64 {
    use std::io::{Read, Seek};
    let mut stat = String::new();
    stat_file.rewind().unwrap();
    stat_file.read_to_string(&mut stat).unwrap();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks * 10 // USER_HZ is 100 on Linux
}

/// Out of file descriptors, `accept` fails at once; the server must not retry in a tight loop.
/// Runs in a child process with a small descriptor limit (`prlimit`), see
/// [`out_of_file_descriptors_the_server_does_not_spin`].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by out_of_file_descriptors_the_server_does_not_spin with few file descriptors"]
async fn accept_without_file_descriptors() {
    let server = Server::start().await;
    let mut stat = std::fs::File::open("/proc/self/stat").unwrap();
    // Connect until this process has no descriptor left: the last connections wait in the
    // listener's backlog, and every accept of them fails.
    let mut clients = Vec::new();
    while let Ok(s) = UnixStream::connect(&server.socket).await {
        clients.push(s);
    }
    let (before, started) = (cpu_ms(&mut stat), std::time::Instant::now());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = cpu_ms(&mut stat) - before;
    println!("outcome: {} clients, {used} ms of CPU in {:?}", clients.len(), started.elapsed());
    assert!(used < 500, "{used} ms of CPU in 2 s while accept fails: the server spins");
}

#[test]
fn out_of_file_descriptors_the_server_does_not_spin() {
    let out = std::process::Command::new("prlimit")
        .arg("--nofile=128")
        .arg("--")
        .arg(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "properties::ipc::accept_without_file_descriptors", "--nocapture"])
        .output()
        .expect("prlimit (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("outcome: "),
        "{}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{}", stdout.lines().find(|l| l.contains("outcome: ")).unwrap_or_default());
}
