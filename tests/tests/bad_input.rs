//! Bad input gets a clear, plain-language error and loses nothing: unknown names, a secret on the
//! command line, malformed and oversized token responses, damaged config and settings files, no
//! session bus, a locked keychain.

mod common;

use std::process::Command;

use common::*;
use tokenkeeper_tests::{require_test_session, OidcOptions, OidcServer, Sandbox};

#[test]
fn unknown_names_are_usage_errors() {
    require_test_session();
    let sb = Sandbox::new();
    for args in [["token", "nope"], ["status", "nope"], ["refresh", "nope"], ["remove", "nope"]] {
        let out = sb.run(&args, None);
        assert_eq!(exit_code(&out), 2, "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("no integration called \"nope\""), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn a_client_secret_on_the_command_line_is_refused_and_not_echoed() {
    require_test_session();
    let sb = Sandbox::new();
    let out = sb.run(
        &[
            "add",
            "x",
            "--provider",
            "oauth2",
            "--authorize-url",
            "http://127.0.0.1:1/a",
            "--token-url",
            "http://127.0.0.1:1/t",
            "--client-id",
            "c",
            "--client-secret",
            "s3cr3t-value",
        ],
        None,
    );
    assert_eq!(exit_code(&out), 2);
    assert!(!stderr(&out).contains("s3cr3t-value") && !String::from_utf8_lossy(&out.stdout).contains("s3cr3t-value"));
    assert!(stderr(&out).contains("--client-secret-stdin"), "{}", stderr(&out));
    assert!(sb.keychain_items().is_empty() && sb.files().is_empty(), "nothing may be stored");
}

#[test]
fn malformed_token_responses_are_refused_and_the_stored_tokens_stay() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: 60, ..OidcOptions::default() });
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "kept");
    login(&sb, "kept");
    let before = keychain_doc(&sb, "kept");
    let bomb = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><TokenResponse><access_token>&b;</access_token></TokenResponse>"#;
    let oversized = format!(r#"{{"access_token":"{}","token_type":"bearer"}}"#, "x".repeat(2 * 1024 * 1024));
    let cases: Vec<(&str, String)> = vec![
        ("garbage", "{not json at all".into()),
        ("an array", "[1,2,3]".into()),
        ("an error response", r#"{"error":"invalid_grant","error_description":"nope"}"#.into()),
        ("a wrong type", r#"{"access_token":5,"token_type":"bearer"}"#.into()),
        ("no access token", r#"{"token_type":"bearer","expires_in":10}"#.into()),
        ("an entity bomb", bomb.into()),
        ("a web page", "<!DOCTYPE html><html><body>Sign in</body></html>".into()),
        ("2 MiB", oversized),
    ];
    for (what, body) in cases {
        let out = sb.run(&["login", "kept", "--from-response", "-"], Some(&body));
        assert_eq!(exit_code(&out), 2, "{what}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(err.lines().count() <= 2 && err.len() < 400, "{what}: not one plain line: {err}");
        assert!(!err.contains("panicked") && !err.contains("aaaaaaaaaa"), "{what}: {err}");
        assert_eq!(keychain_doc(&sb, "kept"), before, "{what}: the stored tokens changed");
    }
    assert_eq!(settled_state(&sb, "kept"), "working");
    // And a good one is taken.
    let fresh = server.sign_in("test-native", SCOPE).expect("a token response from the server");
    sb.run_ok(&["login", "kept", "--from-response", "-"], Some(&fresh.to_string()));
    assert_eq!(stored_access_token(&sb, "kept"), fresh["access_token"].as_str().unwrap());
}

#[test]
fn a_damaged_integration_file_is_reported_by_name_and_line_and_left_alone() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: 60, ..OidcOptions::default() });
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "healthy");
    let broken = sb.config_dir().join("tokenkeeper/integrations/broken.toml");
    let garbage = "name = \"broken\"\nprovider = \"oauth2\"\nkind = [unclosed\n";
    std::fs::write(&broken, garbage).unwrap();
    let out = sb.run(&["list"], None);
    assert_eq!(exit_code(&out), 0, "the healthy one is still listed: {}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("healthy"));
    let err = stderr(&out);
    assert!(err.contains("broken.toml") && err.contains("line 3"), "{err}");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), garbage, "the damaged file was changed");
    // Adding another integration does not touch it either.
    add_oauth(&sb, &server, "second");
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), garbage);
}

#[test]
fn a_damaged_settings_file_is_an_error_naming_it_and_is_left_alone() {
    require_test_session();
    let sb = Sandbox::new();
    let settings = sb.config_dir().join("tokenkeeper/settings.toml");
    std::fs::create_dir_all(settings.parent().unwrap()).unwrap();
    std::fs::write(&settings, "warning_days = [14, 3,\n").unwrap();
    let out = sb.run(&["list"], None);
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("settings.toml") && stderr(&out).contains("line"), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&settings).unwrap(), "warning_days = [14, 3,\n");
}

#[test]
fn without_a_session_bus_the_keychain_error_is_plain() {
    require_test_session();
    let server = OidcServer::start(OidcOptions { at_ttl: 60, ..OidcOptions::default() });
    let sb = Sandbox::new();
    add_oauth(&sb, &server, "nobus");
    login(&sb, "nobus");
    let out =
        sb.cmd(["token", "nobus"]).env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus").output().unwrap();
    assert_eq!(exit_code(&out), 1, "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("keychain is not available"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.stdout.is_empty());
    assert!(sb.keychain_secret("nobus").is_some(), "nothing lost");
}

#[test]
fn a_locked_keychain_is_a_plain_error_and_nothing_is_lost() {
    require_test_session();
    let sb = Sandbox::new();
    // A keychain of its own (its own bus and gnome-keyring), locked after the integration is added.
    let script = r#"
set -e
export HOME=$(mktemp -d)
eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"
for i in $(seq 100); do dbus-send --session --print-reply --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null | grep -q true && break; sleep 0.05; done
printf 'secret-of-client\n' | "$TK" add locked --yes --provider oauth2 --authorize-url http://127.0.0.1:9/a --token-url http://127.0.0.1:9/t --client-id c --client-secret-stdin >/dev/null
printf '{"access_token":"at-locked-1","token_type":"bearer","expires_in":3600,"refresh_token":"rt-locked-1"}' | "$TK" login locked --from-response - 2>/dev/null
dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null
set +e
"$TK" token locked; echo "exit=$?"
"$TK" remove locked; echo "remove-exit=$?"
dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets org.freedesktop.Secret.Service.Unlock array:objpath:/org/freedesktop/secrets/collection/login >/dev/null 2>&1 || true
eval "$(printf pw | gnome-keyring-daemon --replace --unlock --components=secrets)"
sleep 0.5
"$TK" token locked; echo "after-unlock-exit=$?"
"#;
    let mut cmd = Command::new("dbus-run-session");
    // No display: nothing can show an unlock prompt, as on a server (a desktop would ask the user).
    cmd.args(["--", "bash", "-c", script]).env("TK", sb.bin()).env_remove("DISPLAY");
    for (k, v) in sb.envs() {
        if k != "HOME" {
            cmd.env(k, v);
        }
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let err = stderr(&out);
    assert!(stdout.contains("exit=1"), "token with a locked keychain: {stdout}\n{err}");
    assert!(err.contains("the keychain is locked; unlock it"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(stdout.contains("remove-exit=1"), "remove must fail rather than half-remove: {stdout}\n{err}");
    // Unlocked again, everything is still there.
    assert!(stdout.contains("at-locked-1\nafter-unlock-exit=0"), "{stdout}\n{err}");
}
