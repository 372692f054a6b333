//! Shared parts of the engine's property tests: how many cases to run, and a strategy that
//! damages a valid file the way disks, editors and people do.
//!
//! Every property test takes its case count from [`cases`]: a short run by default (the CI
//! suite, seconds), or `TOKENKEEPER_FUZZ_CASES=N` for a long one (`make fuzz`). Tests whose cases
//! are expensive (megabyte bodies, a keeper per case) use [`heavy_cases`], which scales the long
//! run down. (Not proptest's own `PROPTEST_CASES`: proptest applies it over every test's config,
//! the expensive ones included.) Failures are not persisted to files: a failing case is printed,
//! and its regression test is written by hand next to the code it tests.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;

/// The cases of a long run, if one was asked for.
fn long_run() -> Option<u32> {
    std::env::var("TOKENKEEPER_FUZZ_CASES").ok().and_then(|v| v.parse().ok())
}

/// `TOKENKEEPER_FUZZ_CASES` if set (a long run), else `short`.
pub fn cases(short: u32) -> u32 {
    long_run().unwrap_or(short)
}

/// For expensive cases: `short`, or a sixty-fourth of `TOKENKEEPER_FUZZ_CASES` when that is more.
pub fn heavy_cases(short: u32) -> u32 {
    long_run().map_or(short, |n| (n / 64).max(short))
}

/// A config of `n` cases that leaves no files behind.
pub fn config(n: u32) -> ProptestConfig {
    ProptestConfig { cases: n, failure_persistence: None, ..ProptestConfig::default() }
}

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum Edit {
    /// Flip one bit of the byte at this position (modulo the length).
    FlipBit(usize, u8),
    /// Insert these bytes at this position.
    Insert(usize, Vec<u8>),
    /// Remove up to this many bytes from this position.
    Remove(usize, usize),
    /// Cut the file at this position.
    Truncate(usize),
    /// Copy a range of the file to another place (a duplicated line or key).
    Duplicate(usize, usize, usize),
}

/// Bytes that mean something to TOML or JSON, so that edits make near-misses, not only noise.
const SYNTAX: &[&[u8]] = &[
    b"\"",
    b"'",
    b"[",
    b"]",
    b"[[",
    b"{",
    b"}",
    b"=",
    b":",
    b",",
    b"\n",
    b"\r\n",
    b"#",
    b"\\",
    b"\\u",
    b"'''",
    b"\"\"\"",
    b"\0",
    b"\xff",
    b"\xc3",
    b"-",
    b"1e999",
    b"9999999999999999999999",
    b"nan",
    b"true",
    b"null",
    b" ",
    b"\t",
    b"\xe2\x80\xae",
    b"1979-05-27",
    b"T07:32:00Z",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Edit::FlipBit(at, bit)),
        (any::<usize>(), prop::sample::select(SYNTAX.to_vec())).prop_map(|(at, b)| Edit::Insert(at, b.to_vec())),
        (any::<usize>(), vec(any::<u8>(), 1..8)).prop_map(|(at, b)| Edit::Insert(at, b)),
        (any::<usize>(), 1usize..16).prop_map(|(at, n)| Edit::Remove(at, n)),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..40, any::<usize>()).prop_map(|(from, n, to)| Edit::Duplicate(from, n, to)),
    ]
}

fn apply(mut bytes: Vec<u8>, edits: &[Edit]) -> Vec<u8> {
    for edit in edits {
        let len = bytes.len();
        let at = |i: usize| if len == 0 { 0 } else { i % (len + 1) };
        match edit {
            Edit::FlipBit(i, bit) if len > 0 => bytes[i % len] ^= 1 << bit,
            Edit::FlipBit(..) => {}
            Edit::Insert(i, b) => {
                let i = at(*i);
                bytes.splice(i..i, b.iter().copied());
            }
            Edit::Remove(i, n) => {
                let i = at(*i);
                let end = (i + n).min(len);
                bytes.drain(i..end);
            }
            Edit::Truncate(i) => bytes.truncate(at(*i)),
            Edit::Duplicate(from, n, to) => {
                let from = at(*from);
                let piece = bytes[from..(from + n).min(len)].to_vec();
                let to = at(*to);
                bytes.splice(to..to, piece);
            }
        }
    }
    bytes
}

/// `valid` with 1 to 6 random edits.
pub fn mutated(valid: Vec<u8>) -> impl Strategy<Value = Vec<u8>> {
    vec(edit(), 1..6).prop_map(move |edits| apply(valid.clone(), &edits))
}

/// Short strings of any characters (proptest runs without its regex strategies here).
pub fn text(max: usize) -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..max).prop_map(|c| c.into_iter().collect())
}

/// Strings made of `alphabet`, `min..max` characters long.
pub fn word(alphabet: &'static str, min: usize, max: usize) -> impl Strategy<Value = String> {
    vec(prop::sample::select(alphabet.chars().collect::<Vec<_>>()), min..max).prop_map(|c| c.into_iter().collect())
}
