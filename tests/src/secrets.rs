//! Secret hygiene scanner: where do a test's token values turn up outside the keychain?
//!
//! Given the token values a test issued (collected from the keychain, `token` answers or the
//! fault proxy), [`scan_files`] looks through files (a sandbox's config, state, logs and temporary
//! files) and [`scan_process`] through a running process: its command line, its environment and
//! its memory (every readable private mapping, read through `/proc/<pid>/mem` while the process
//! is stopped with SIGSTOP, the same bytes `gcore` would write to a core file). Counting is by
//! exact byte match; the report shows only a secret's first characters.
//!
//! Reading another process's memory needs ptrace rights over it: the test runs as root, or as the
//! same user as its child processes with `kernel.yama.ptrace_scope` at most 1 (a parent may).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Where secrets were found, and how often.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hits {
    /// (place, secret) → occurrences. Places are file paths, `cmdline`, `environ` or `memory`.
    pub counts: BTreeMap<(String, String), usize>,
}

impl Hits {
    /// Occurrences of `secret` anywhere.
    pub fn of(&self, secret: &str) -> usize {
        self.counts.iter().filter(|((_, s), _)| s == secret).map(|(_, n)| n).sum()
    }

    /// Occurrences of `secret` in `place`.
    pub fn at(&self, place: &str, secret: &str) -> usize {
        self.counts.get(&(place.to_owned(), secret.to_owned())).copied().unwrap_or(0)
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    fn add(&mut self, place: &str, secret: &str, n: usize) {
        if n > 0 {
            *self.counts.entry((place.to_owned(), secret.to_owned())).or_default() += n;
        }
    }
}

impl fmt::Display for Hits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for ((place, secret), n) in &self.counts {
            let shown: String = secret.chars().take(6).collect();
            writeln!(f, "{place}: {shown}… ×{n}")?;
        }
        Ok(())
    }
}

/// How often `needle` occurs in `haystack` (overlapping matches counted once each start).
pub fn count(haystack: &[u8], needle: &[u8]) -> usize {
    if needle.is_empty() || haystack.len() < needle.len() {
        return 0;
    }
    // Compare only where the first byte matches: memory images are tens of megabytes.
    let first = needle[0];
    let mut n = 0;
    let last = haystack.len() - needle.len();
    let mut i = 0;
    while i <= last {
        match haystack[i..=last].iter().position(|&b| b == first) {
            None => break,
            Some(p) => {
                i += p;
                if &haystack[i..i + needle.len()] == needle {
                    n += 1;
                }
                i += 1;
            }
        }
    }
    n
}

fn scan_bytes(hits: &mut Hits, place: &str, bytes: &[u8], secrets: &[&str]) {
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        hits.add(place, secret, count(bytes, secret.as_bytes()));
    }
}

/// Every occurrence of `secrets` in the regular files under `dir` (recursively).
pub fn scan_files(dir: &Path, secrets: &[&str]) -> Hits {
    let mut hits = Hits::default();
    for file in crate::files_under(dir) {
        if let Ok(bytes) = std::fs::read(&file) {
            scan_bytes(&mut hits, &file.display().to_string(), &bytes, secrets);
        }
    }
    hits
}

/// What [`scan_process`] read, for the report.
#[derive(Debug, Default, Clone)]
pub struct ProcessScan {
    pub hits: Hits,
    /// Bytes of memory read.
    pub memory_bytes: usize,
    /// Mappings read.
    pub regions: usize,
}

/// Every occurrence of `secrets` in the command line, environment and memory of process `pid`.
/// The process is stopped (SIGSTOP) while its memory is read and continued afterwards.
pub fn scan_process(pid: u32, secrets: &[&str]) -> std::io::Result<ProcessScan> {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let mut scan = ProcessScan::default();
    scan_bytes(&mut scan.hits, "cmdline", &std::fs::read(proc_dir.join("cmdline"))?, secrets);
    scan_bytes(&mut scan.hits, "environ", &std::fs::read(proc_dir.join("environ"))?, secrets);
    let target = Pid::from_raw(pid as i32);
    kill(target, Signal::SIGSTOP).map_err(std::io::Error::from)?;
    let memory = read_memory(&proc_dir);
    let _ = kill(target, Signal::SIGCONT);
    let (regions, image) = memory?;
    scan.regions = regions;
    scan.memory_bytes = image.len();
    scan_bytes(&mut scan.hits, "memory", &image, secrets);
    Ok(scan)
}

/// The process's readable private mappings (heap, stacks, anonymous and writable data), one
/// after another with a zero byte between them so no match spans two.
fn read_memory(proc_dir: &Path) -> std::io::Result<(usize, Vec<u8>)> {
    let maps = std::fs::read_to_string(proc_dir.join("maps"))?;
    let mut mem = File::open(proc_dir.join("mem"))?;
    let mut image = Vec::new();
    let mut regions = 0;
    for line in maps.lines() {
        // "7f…-7f… rw-p 00000000 00:00 0    [heap]"
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else { continue };
        let path = fields.nth(3).unwrap_or("");
        if !perms.starts_with('r') || path == "[vvar]" || path == "[vsyscall]" {
            continue;
        }
        // Code and read-only data of files hold no runtime secrets; writable or anonymous do.
        if !perms.contains('w') && !path.is_empty() && !path.starts_with('[') {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) else { continue };
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() {
            continue;
        }
        let mut filled = 0;
        while filled < region.len() {
            match mem.read(&mut region[filled..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => filled += n,
            }
        }
        region.truncate(filled);
        image.extend_from_slice(&region);
        image.push(0);
        regions += 1;
    }
    Ok((regions, image))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn counts_every_occurrence() {
        assert_eq!(count(b"abcabcab", b"abc"), 2);
        assert_eq!(count(b"aaaa", b"aa"), 3);
        assert_eq!(count(b"xyz", b"abc"), 0);
        assert_eq!(count(b"ab", b"abc"), 0);
        assert_eq!(count(b"abc", b""), 0);
    }

    #[test]
    fn finds_a_secret_in_its_own_memory_and_files() {
        let secret = format!("hygiene-{}", std::process::id());
        // Scanning itself would stop this very process: scan a child instead.
        let mut child =
            std::process::Command::new("sleep").arg("30").env("TK_SCANNER_PROBE", &secret).spawn().expect("sleep");
        // `spawn` may return before the child has finished exec'ing `sleep` (its new environment
        // is set up last).
        let (exe, environ) = (format!("/proc/{}/exe", child.id()), format!("/proc/{}/environ", child.id()));
        let execd = crate::wait_until(Duration::from_secs(10), Duration::from_millis(5), || {
            std::fs::read_link(&exe).is_ok_and(|p| p.ends_with("sleep"))
                && std::fs::read(&environ).is_ok_and(|e| !e.is_empty())
        });
        assert!(execd, "sleep did not start");
        let scan = scan_process(child.id(), &[&secret, "never-there-9f8e"]).expect("scan");
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(scan.hits.at("environ", &secret), 1, "{}", scan.hits);
        assert!(scan.hits.at("memory", &secret) >= 1, "the environment is in memory too: {}", scan.hits);
        assert_eq!(scan.hits.of("never-there-9f8e"), 0);
        assert!(scan.memory_bytes > 0 && scan.regions > 0);

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/f"), format!("x{secret}y{secret}")).unwrap();
        let hits = scan_files(dir.path(), &[&secret]);
        assert_eq!(hits.of(&secret), 2, "{hits}");
    }
}
