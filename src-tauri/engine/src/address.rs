//! Where a secret may go: the one rule every address passes before Token Keeper sends anything
//! to it or opens it in a browser.
//!
//! The rule: `https://`, or plain `http://` only to a loopback IP address written as such
//! (`127.0.0.0/8`, `::1`). It is checked when a configuration is built ([`crate::setup`], the
//! profile-file reader, discovery) and again at send time by the HTTP client itself
//! ([`crate::providers::wire::send`], the one place a request leaves), so a stored file edited
//! by hand or an older configuration cannot skip it.
//!
//! Why only literal addresses count as loopback: a name (`localhost` included) is resolved by
//! whatever the machine's resolver says at the moment of the call — `/etc/hosts`, NSS plugins or
//! a DNS search domain can point it elsewhere, and the answer can change between the check and
//! the connection. A literal IP cannot. Local test servers and proxies use `127.0.0.1`.
//!
//! A *site* is the registrable domain of a host (`login.example.com` and `api.example.com` are
//! one site; `example.com` and `example.net` are two; so are `a.co.uk` and `b.co.uk`), from the
//! public suffix list of the `psl` crate; an IP address is its own site. Ports do not count.

use url::{Host, Url};

/// Why an address is not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not a web address (`file:`, `javascript:`, `ftp:` …).
    #[error("{shown} is not a web address (it must start with https://)")]
    NotWeb { shown: String },
    /// Plain `http://` to another computer: anyone on the way could read what is sent.
    #[error("{host} is not a secure address (it must start with https://; plain http:// only to this computer, written 127.0.0.1)")]
    NotSecure { host: String },
}

/// Checks `url` against the rule (see the module documentation).
pub fn check(url: &Url) -> Result<(), AddressError> {
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback(url) => Ok(()),
        "http" | "https" if url.host().is_some() => Err(AddressError::NotSecure { host: host_port(url) }),
        _ => Err(AddressError::NotWeb { shown: shown_scheme(url) }),
    }
}

/// The address, if it may be opened in the keeper's browser: the same rule, so a discovery
/// document or a damaged file cannot make the browser open `file:///…` or a script. The command
/// line and the tray app both ask this before opening anything.
pub fn for_browser(url: &Url) -> Result<&Url, AddressError> {
    check(url).map(|()| url)
}

/// Opens `url` with `open` — the shell's way to reach the browser (`webbrowser` on the command
/// line and in the daemon, the opener plugin in the tray app) — only if it passes
/// [`for_browser`]. Every shell opens addresses through this; an error is plain words.
pub fn open_in_browser<E: std::fmt::Display>(
    url: &Url,
    open: impl FnOnce(&str) -> Result<(), E>,
) -> Result<(), String> {
    let url = for_browser(url).map_err(|e| format!("Token Keeper will not open this address: {e}"))?;
    open(url.as_str()).map_err(|e| format!("could not open the browser: {e}"))
}

/// Whether `url`'s host is a loopback IP address written as such (never a name).
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
        Some(Host::Domain(_)) | None => false,
    }
}

/// The site of `url`'s host (its registrable domain, or the IP address), lower case.
pub fn site(url: &Url) -> Option<String> {
    match url.host()? {
        Host::Ipv4(ip) => Some(ip.to_string()),
        Host::Ipv6(ip) => Some(ip.to_string()),
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            let registrable = psl::domain_str(&d).map(str::to_string);
            // A host that is itself a public suffix (or unlisted, single-label) is its own site.
            Some(registrable.unwrap_or(d))
        }
    }
}

/// Whether two addresses are on the same site.
pub fn same_site(a: &Url, b: &Url) -> bool {
    matches!((site(a), site(b)), (Some(x), Some(y)) if x == y)
}

/// `host[:port]`, never a path or query (they may carry secrets).
pub fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => "the service".into(),
    }
}

/// `scheme:…`, never the rest (a path may name the keeper's files).
fn shown_scheme(url: &Url) -> String {
    format!("an address starting with {}:", url.scheme())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        s.parse().unwrap()
    }

    #[test]
    fn https_or_a_literal_loopback_address() {
        for ok in ["https://example.com/t", "http://127.0.0.1:9/t", "http://127.8.9.10/", "http://[::1]:9/"] {
            assert_eq!(check(&url(ok)), Ok(()), "{ok}");
        }
        for refused in ["http://example.com/t", "http://localhost:9/t", "http://10.0.0.1/", "http://0.0.0.0:9/"] {
            assert!(matches!(check(&url(refused)), Err(AddressError::NotSecure { .. })), "{refused}");
        }
        for refused in ["file:///home/me/evil.desktop", "javascript:alert(1)", "ftp://127.0.0.1/", "data:,x"] {
            assert!(matches!(check(&url(refused)), Err(AddressError::NotWeb { .. })), "{refused}");
            assert!(for_browser(&url(refused)).is_err(), "{refused}");
        }
        let e = check(&url("http://localhost:9/token?code=secret")).unwrap_err().to_string();
        assert!(e.starts_with("localhost:9 is not a secure address") && !e.contains("secret"), "{e}");
        assert!(!check(&url("file:///home/me/secret-place")).unwrap_err().to_string().contains("secret-place"));
    }

    #[test]
    fn only_a_web_address_reaches_the_browser() {
        let opened = std::cell::RefCell::new(Vec::new());
        let open = |u: &str| -> Result<(), String> {
            opened.borrow_mut().push(u.to_string());
            Ok(())
        };
        assert!(open_in_browser(&url("file:///tmp/evil.desktop"), open).is_err());
        assert!(open_in_browser(&url("http://sso.example/authorize"), open).is_err());
        open_in_browser(&url("https://sso.example/authorize?x=1"), open).unwrap();
        assert_eq!(*opened.borrow(), ["https://sso.example/authorize?x=1"]);
    }

    #[test]
    fn sites_are_registrable_domains() {
        assert!(same_site(&url("https://login.example.com/a"), &url("https://api.example.com:8443/b")));
        assert!(!same_site(&url("https://example.com/"), &url("https://example.net/")));
        assert!(!same_site(&url("https://a.co.uk/"), &url("https://b.co.uk/")));
        assert!(!same_site(&url("https://accounts.google.com/"), &url("https://evil.example/")));
        assert!(same_site(&url("http://127.0.0.1:5/a"), &url("http://127.0.0.1:6/b")));
        assert!(!same_site(&url("http://127.0.0.1:5/a"), &url("http://127.0.0.2:5/b")));
        assert_eq!(site(&url("https://Acme.Atlassian.NET/x")).as_deref(), Some("atlassian.net"));
    }
}
