//! Where secrets may go, through the real `tokenkeeper` command, keychain and OAuth server:
//! a preset's own addresses cannot be replaced by a profile file; an address on another site
//! needs the file to say so and the keeper to confirm the hosts (`--yes` for a script); plain
//! http to a name (even `localhost`) sends nothing; a discovery document cannot hand the browser
//! a `file:` address; and the loopback sign-in listener serves connections side by side, refuses
//! a wrong `Host`, and tells the browser the truth only after the code exchange.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use tokenkeeper_tests::{follow_authorization_to_loopback, require_test_session, OidcServer, Sandbox};

const SECRET: &str = "test-secret";

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

/// The integration's stored configuration file (no secret in it).
fn config_file(sb: &Sandbox, name: &str) -> PathBuf {
    let wanted = Path::new("integrations").join(format!("{name}.toml"));
    let files = sb.files();
    files.iter().find(|p| p.ends_with(&wanted)).cloned().unwrap_or_else(|| panic!("no {wanted:?} in {files:?}"))
}

/// Edits a stored configuration as a damaged or hand-edited file would be.
fn edit_config(sb: &Sandbox, name: &str, from: &str, to: &str) {
    let path = config_file(sb, name);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{from} is not in {text}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
}

#[test]
fn a_profile_file_cannot_move_a_presets_secrets_to_another_host() {
    require_test_session();
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "google.toml",
        &format!(
            "name = \"mail\"\nprovider = \"google\"\nclient_id = \"c.apps.googleusercontent.com\"\n\
             client_secret = \"{SECRET}\"\ntoken_url = \"https://collector.example/token\"\n"
        ),
    );
    let out = sb.run(&["add", "--yes", "--from", file.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(exit_code(&out), 2, "{err}");
    assert!(err.contains("token_url cannot be given for Google"), "{err}");
    assert!(!err.contains(SECRET));
    assert!(sb.keychain_items().is_empty() && sb.files().is_empty(), "something was stored");
}

#[test]
fn another_site_needs_the_file_to_say_so_and_the_keeper_to_confirm() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    let dir = tempfile::tempdir().unwrap();
    let generic = format!(
        "name = \"reports\"\nprovider = \"oauth2\"\nauthorize_url = \"{}\"\n\
         token_url = \"https://collector.example/token\"\nclient_id = \"test-native\"\nclient_secret = \"{SECRET}\"\n",
        server.authorize_url()
    );
    let refused = write(dir.path(), "refused.toml", &generic);
    let out = sb.run(&["add", "--yes", "--from", refused.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(exit_code(&out), 2, "{err}");
    assert!(err.contains("collector.example") && err.contains("allow_other_sites"), "{err}");

    // Said so in the file: the hosts are shown; without a terminal and without --yes, nothing is added.
    let allowed = write(dir.path(), "allowed.toml", &format!("{generic}allow_other_sites = true\n"));
    let out = sb.run(&["add", "--from", allowed.to_str().unwrap()], None);
    let err = stderr(&out);
    assert_eq!(exit_code(&out), 2, "{err}");
    assert!(err.contains("collector.example: receives the sign-in code, the client secret"), "{err}");
    assert!(err.contains("another site than the sign-in page"), "{err}");
    assert!(err.contains("Nothing was added") && err.contains("--yes"), "{err}");
    assert!(sb.keychain_items().is_empty() && sb.files().is_empty(), "something was stored");

    let out = sb.run_ok(&["add", "--yes", "--from", allowed.to_str().unwrap()], None);
    assert!(out.contains("reports: added"), "{out}");
}

#[test]
fn plain_http_to_a_name_sends_nothing_even_when_the_file_says_so() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "demo");
    login(&sb, "demo");
    let consumed = server.count_events("refresh_token.consumed");
    let refresh_token = stored_refresh_token(&sb, "demo");

    // `localhost` is this computer only if the resolver says so: the rule is the literal address.
    edit_config(
        &sb,
        "demo",
        &format!("{}/token", server.issuer()),
        &format!("http://localhost:{}/token", server.port()),
    );
    let out = sb.run(&["refresh", "demo"], None);
    let err = stderr(&out);
    assert_ne!(exit_code(&out), 0, "the refresh went out: {err}");
    assert!(err.contains("localhost") && err.contains("not a secure address"), "{err}");
    assert_eq!(server.count_events("refresh_token.consumed"), consumed, "the service got a refresh over plain http");
    assert_eq!(stored_refresh_token(&sb, "demo"), refresh_token, "the stored sign-in was touched");
}

/// A loopback web server that answers every request with `body` as JSON; counts requests.
fn json_server(body: String) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let body = body.replace("{base}", &base);
    let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = hits.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (base, hits)
}

/// A `$BROWSER` that leaves a mark when it is run.
fn marking_browser(dir: &Path) -> (PathBuf, PathBuf) {
    let mark = dir.join("browser-ran");
    let script = write(dir, "browser.sh", &format!("#!/bin/sh\necho \"$@\" > '{}'\n", mark.display()));
    std::process::Command::new("chmod").args(["+x", script.to_str().unwrap()]).status().unwrap();
    (script, mark)
}

#[test]
fn a_file_address_from_discovery_or_a_damaged_file_never_reaches_the_browser() {
    require_test_session();
    let dir = tempfile::tempdir().unwrap();
    let (browser, mark) = marking_browser(dir.path());
    let evil = dir.path().join("evil.desktop");
    let (issuer, hits) = json_server(format!(
        "{{\"issuer\":\"{{base}}\",\"authorization_endpoint\":\"file://{}\",\"token_endpoint\":\"{{base}}/token\"}}",
        evil.display()
    ));
    let mut sb = Sandbox::new();
    sb.set_env("BROWSER", browser.to_str().unwrap());
    let out = sb.run(&["add", "x", "--yes", "--provider", "oauth2", "--issuer", &issuer, "--client-id", "c"], None);
    let err = stderr(&out);
    assert_eq!(exit_code(&out), 2, "{err}");
    assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 1, "discovery was not asked");
    assert!(err.contains("the sign-in page") && err.contains("not a web address"), "{err}");
    assert!(sb.files().is_empty(), "the integration was added");

    // A stored configuration edited to point the sign-in at a file: login refuses, runs nothing.
    let server = OidcServer::start_default();
    add_oauth(&sb, &server, "demo");
    edit_config(&sb, "demo", &server.authorize_url(), &format!("file://{}", evil.display()));
    let out = sb.run_with_timeout(&["login", "demo"], None, Duration::from_secs(30));
    let err = stderr(&out);
    assert_eq!(exit_code(&out), 2, "{err}");
    assert!(err.contains("cannot be opened"), "{err}");
    assert!(!mark.exists(), "the browser was run with {:?}", std::fs::read_to_string(&mark));
}

/// One HTTP GET on the sign-in listener with `host` as the Host header; the status line.
fn get_with_host(port: u16, host: &str, target: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or_default().to_string()
}

#[test]
fn the_sign_in_listener_serves_side_by_side_checks_the_host_and_tells_the_truth() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "demo");
    let (mut child, _stdout, url) = start_login(&sb, "demo");
    let url = url::Url::parse(&url).unwrap();
    let redirect = url.query_pairs().find(|(k, _)| k == "redirect_uri").unwrap().1.into_owned();
    let redirect = url::Url::parse(&redirect).unwrap();
    let port = redirect.port().unwrap();
    let state = url.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();

    // A web page elsewhere reaching the listener through a name: refused, the sign-in still waits.
    let wrong = get_with_host(port, &format!("evil.example:{port}"), &format!("/callback?code=x&state={state}"));
    assert!(wrong.starts_with("HTTP/1.1 400"), "a wrong Host was served: {wrong}");

    // Local programs that connect and say nothing (the old listener read each for 10 s in turn).
    let silent: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(("127.0.0.1", port)).unwrap()).collect();
    let started = Instant::now();
    let hit = follow_authorization_to_loopback(url.as_str()).expect("the browser part of the sign-in");
    let took = started.elapsed();
    drop(silent);
    assert_eq!(hit.status, 200, "{}", hit.body);
    assert!(hit.body.contains("Signed in — you can close this tab"), "{}", hit.body);
    assert!(took < Duration::from_secs(25), "the callback waited {took:?} behind silent connections");
    let status = wait_child(&mut child, Duration::from_secs(30));
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "login failed ({status}): {err}");
    assert!(server.is_active(&token(&sb, "demo")));
}
