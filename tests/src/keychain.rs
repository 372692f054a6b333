//! The session's Secret Service seen from outside, through `secret-tool`: items, secrets, and
//! clearing a test's service.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result};

/// One Secret Service item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeychainItem {
    /// Its label (keyring-core's default: `keyring:<user>@<service>`).
    pub label: String,
    /// Its attributes; Token Keeper's items have `service` and `username` (= the integration
    /// name, or a chunk name `<name>#g<gen>.<i>`), as keyring-core's Secret Service store sets them.
    pub attributes: BTreeMap<String, String>,
    /// The secret, exactly as stored.
    pub secret: String,
}

impl KeychainItem {
    /// The `username` attribute.
    pub fn user(&self) -> &str {
        self.attributes.get("username").map_or("", String::as_str)
    }
}

fn secret_tool(args: &[&str], stdin: Option<&str>) -> Result<Output> {
    let mut child = Command::new("secret-tool")
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run secret-tool (apt install libsecret-tools)")?;
    if let Some(input) = stdin {
        child.stdin.take().expect("piped").write_all(input.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

/// Every item whose `service` attribute is `service` (`secret-tool search --all service …`), with
/// its exact secret (read back with `secret-tool lookup`). Empty when there is none.
pub fn keychain_items(service: &str) -> Vec<KeychainItem> {
    // secret-tool prints labels and secrets on stdout but attributes on stderr: both into one pipe
    // keep their order (glib flushes after every line)
    let (mut reader, writer) = io::pipe().expect("pipe");
    let mut cmd = Command::new("secret-tool");
    cmd.args(["search", "--all", "service", service])
        .stdin(Stdio::null())
        .stdout(writer.try_clone().expect("pipe clone"))
        .stderr(writer);
    let mut child = cmd.spawn().expect("cannot run secret-tool (apt install libsecret-tools)");
    drop(cmd); // closes our copies of the pipe's write end
    let mut raw = Vec::new();
    let _ = reader.read_to_end(&mut raw);
    let _ = child.wait();
    let text = String::from_utf8_lossy(&raw);
    let mut items: Vec<KeychainItem> = Vec::new();
    let mut in_secret = false;
    for line in text.lines() {
        if line.starts_with("[/") && line.ends_with(']') {
            items.push(KeychainItem { label: String::new(), attributes: BTreeMap::new(), secret: String::new() });
            in_secret = false;
            continue;
        }
        let Some(item) = items.last_mut() else { continue };
        if let Some(v) = line.strip_prefix("label = ") {
            item.label = v.to_owned();
            in_secret = false;
        } else if line.starts_with("secret = ") {
            in_secret = true; // possibly several lines: read back exactly below
        } else if let Some(rest) = line.strip_prefix("attribute.") {
            if let Some((k, v)) = rest.split_once(" = ") {
                item.attributes.insert(k.to_owned(), v.to_owned());
            }
            in_secret = false;
        } else if line.starts_with("created = ") || line.starts_with("modified = ") || line.starts_with("schema = ") {
            in_secret = false;
        } else if in_secret {
            // continuation of a multi-line secret
        }
    }
    for item in &mut items {
        let mut args = vec!["lookup"];
        for (k, v) in &item.attributes {
            args.push(k);
            args.push(v);
        }
        if let Ok(out) = secret_tool(&args, None) {
            item.secret = String::from_utf8_lossy(&out.stdout).into_owned();
        }
    }
    items.sort_by(|a, b| a.user().cmp(b.user()));
    items
}

/// The secret stored for (`service`, `username` = `user`), as keyring-core's
/// `Entry::new(service, user)` writes it (`secret-tool lookup service S username U`).
pub fn keychain_secret(service: &str, user: &str) -> Option<String> {
    let out = secret_tool(&["lookup", "service", service, "username", user], None).ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Stores an item the way keyring-core would (attributes `service`, `username`), e.g. to plant a
/// damaged document. Panics when the Secret Service refuses.
pub fn keychain_store(service: &str, user: &str, secret: &str) {
    let label = format!("keyring:{user}@{service}");
    let out = secret_tool(&["store", "--label", &label, "service", service, "username", user], Some(secret))
        .expect("secret-tool store");
    assert!(out.status.success(), "secret-tool store: {}", String::from_utf8_lossy(&out.stderr));
}

/// Deletes every item of `service`.
pub fn keychain_clear(service: &str) {
    let _ = secret_tool(&["clear", "service", service], None);
}
