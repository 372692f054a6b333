//! Admin profile files through the real `tokenkeeper` command, keychain and OAuth server:
//! `add --from FILE` imports a valid file (its client secret into the keychain only, the file
//! left in place with a note that it can be deleted) and `login --no-browser` then works;
//! broken files give exit 2 naming the file and the field, never the secret, and store nothing.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use tokenkeeper_tests::{require_test_session, OidcServer, Sandbox};

const SECRET: &str = "test-secret";

/// A directory outside the sandbox (so that `Sandbox::files` sees only what the keeper wrote).
fn profile_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary directory")
}

fn write(dir: &Path, file: &str, text: &str) -> PathBuf {
    let path = dir.join(file);
    std::fs::write(&path, text).unwrap();
    path
}

fn valid(server: &OidcServer) -> String {
    format!(
        "# handed out by the admin\nname = \"reports\"\nprovider = \"oauth2\"\nissuer = \"{}\"\n\
         client_id = \"test-native\"\nclient_secret = \"{SECRET}\"\nscopes = [\"{SCOPE}\"]\n",
        server.issuer()
    )
}

#[test]
fn a_valid_file_imports_and_login_works() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    let dir = profile_dir();
    let file = write(dir.path(), "reports.toml", &valid(&server));

    let out = sb.run_ok(&["add", "--yes", "--from", file.to_str().unwrap(), "--name", "team reports"], None);
    assert!(out.contains("team reports: added from"), "{out}");
    assert!(out.contains("the file can now be deleted"), "{out}");
    assert!(!out.contains(SECRET), "the secret was echoed: {out}");
    assert!(file.exists(), "the keeper deletes the file, not tokenkeeper");
    assert_eq!(keychain_doc(&sb, "team reports")["client_secret"], SECRET, "the secret moved into the keychain");
    sb.assert_no_secret_on_disk(&[SECRET]);
    let listed = listed(&sb, "team reports");
    assert_eq!(listed["provider"], "oauth2");

    login(&sb, "team reports");
    let t = token(&sb, "team reports");
    assert!(server.is_active(&t), "the token from the imported integration is not active");
    assert!(!stored_refresh_token(&sb, "team reports").is_empty());
}

#[test]
fn the_suggested_name_is_used_without_name() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    let dir = profile_dir();
    let file = write(dir.path(), "reports.toml", &valid(&server));
    sb.run_ok(&["add", "--yes", "--from", file.to_str().unwrap()], None);
    listed(&sb, "reports");
}

#[test]
fn broken_files_are_named_and_change_nothing() {
    require_test_session();
    let server = OidcServer::start_default();
    let sb = Sandbox::new();
    let dir = profile_dir();
    let good = valid(&server);
    let issuer_line = format!("issuer = \"{}\"\n", server.issuer());
    let only_authorize = format!("authorize_url = \"{}\"\n", server.authorize_url());
    let cases: Vec<(&str, String, &str)> = vec![
        ("bad-url.toml", good.replace(&issuer_line, "issuer = \"not an address\"\n"), "issuer"),
        ("plain-http.toml", good.replace(&issuer_line, "issuer = \"http://login.example.com/\"\n"), "issuer"),
        ("unknown-provider.toml", good.replace("\"oauth2\"", "\"nope\""), "provider"),
        ("no-client-id.toml", good.replace("client_id = \"test-native\"\n", ""), "client_id"),
        ("no-endpoints.toml", good.replace(&issuer_line, ""), "issuer"),
        (
            "half-endpoints.toml",
            good.replace(&issuer_line, &only_authorize),
            "issuer, or both authorize_url and token_url",
        ),
        ("no-provider.toml", good.replace("provider = \"oauth2\"\n", ""), "provider"),
        ("unknown-field.toml", format!("{good}client_secret_file = \"x\"\n"), "client_secret_file"),
        ("not-toml.toml", good.replace(&format!("\"{SECRET}\""), &format!("\"{SECRET}")), "line 6"),
    ];
    for (file, text, field) in cases {
        let path = write(dir.path(), file, &text);
        let out = sb.run(&["add", "--from", path.to_str().unwrap()], None);
        let err = stderr(&out);
        assert_eq!(exit_code(&out), 2, "{file}: {err}");
        assert!(err.contains(path.to_str().unwrap()), "{file}: the file is not named: {err}");
        assert!(err.contains(field), "{file}: {field} is not named: {err}");
        assert!(!err.contains(SECRET) && !String::from_utf8_lossy(&out.stdout).contains(SECRET), "{file}: {err}");
        assert!(sb.keychain_items().is_empty(), "{file}: a keychain item was written");
        assert!(sb.files().is_empty(), "{file}: files were written: {:?}", sb.files());
        assert!(path.exists());
    }
    let missing = dir.path().join("absent.toml");
    let out = sb.run(&["add", "--from", missing.to_str().unwrap()], None);
    assert_eq!(exit_code(&out), 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("absent.toml"), "{}", stderr(&out));
    assert!(sb.keychain_items().is_empty() && sb.files().is_empty());
}
