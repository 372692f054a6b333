//! Small-file primitives for the non-secret configuration and state files.
//!
//! Everything Token Keeper keeps on disk outside the keychain is a small TOML or JSON file, and
//! this module owns the two ways they are touched:
//!
//! * [`write_atomic`] replaces a file in one step (temporary file in the same directory, fsync,
//!   rename, fsync of the directory), so a crash or a full disk never leaves a half-written
//!   file behind: readers see the old content or the new one.
//! * [`read_toml`] and [`read_json`] read one, telling "missing" (`Ok(None)`) apart from
//!   "damaged" ([`FileError::Damaged`], with line and column). A failed read never touches the
//!   file: a keeper may have hand-edited it, and it is theirs to fix.
//!
//! Files are created `0600` and new directories `0700` on Unix: these files name the services
//! a keeper signs in to, which is nobody else's business.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// The longest parser message kept in a [`FileError::Damaged`]: serde messages may quote a value
/// from the file, and a long value has no place in a notification or a log line.
const MAX_MESSAGE_CHARS: usize = 200;

/// Why a small file could not be read or written. Messages are plain words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The file exists but cannot be understood. It was left as it is.
    #[error(
        "{} is damaged{}: {message}. It was left as it is; fix or remove it.",
        .path.display(),
        position(*.line, *.column)
    )]
    Damaged {
        path: PathBuf,
        /// 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// 1-based column (in characters) of the problem, when the parser knows it.
        column: Option<usize>,
        /// What the parser said, shortened; never ends with a full stop.
        message: String,
    },
    /// The operating system refused or failed: `could not write /path: permission denied`.
    #[error("could not {action} {}: {message}", .path.display())]
    Io {
        /// What was being done: "read", "write", "create the folder for", …
        action: &'static str,
        path: PathBuf,
        /// The reason in plain words.
        message: String,
    },
}

impl FileError {
    /// The file it is about.
    pub fn path(&self) -> Option<&std::path::Path> {
        match self {
            FileError::Damaged { path, .. } | FileError::Io { path, .. } => Some(path),
        }
    }
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(l), Some(c)) => format!(" (line {l}, column {c})"),
        (Some(l), None) => format!(" (line {l})"),
        _ => String::new(),
    }
}

impl FileError {
    fn io(action: &'static str, path: &Path, err: &io::Error) -> Self {
        FileError::Io { action, path: path.to_path_buf(), message: plain_io_reason(err) }
    }

    fn damaged(path: &Path, line: Option<usize>, column: Option<usize>, message: &str) -> Self {
        FileError::Damaged { path: path.to_path_buf(), line, column, message: tidy_message(message) }
    }
}

/// An I/O error in the words a keeper would use, without "(os error 13)".
fn plain_io_reason(err: &io::Error) -> String {
    use io::ErrorKind as K;
    let words = match err.kind() {
        K::PermissionDenied => "permission denied",
        K::NotFound => "no such file or folder",
        K::AlreadyExists => "it already exists",
        K::StorageFull => "the disk is full",
        K::ReadOnlyFilesystem => "the file system is read-only",
        K::IsADirectory => "it is a folder, not a file",
        K::NotADirectory => "a part of the path is a file, not a folder",
        K::QuotaExceeded => "the disk quota is exceeded",
        K::FileTooLarge => "the file is too large",
        K::InvalidFilename => "the file name is not valid here",
        _ => "",
    };
    if !words.is_empty() {
        return words.to_owned();
    }
    let text = err.to_string();
    let text = match text.find(" (os error ") {
        Some(i) => &text[..i],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "unknown error".to_owned(),
    }
}

/// One line, at most [`MAX_MESSAGE_CHARS`] characters, no trailing full stop.
fn tidy_message(message: &str) -> String {
    let one_line = crate::text::one_line(message, usize::MAX);
    crate::text::one_line(one_line.trim_end_matches('.'), MAX_MESSAGE_CHARS)
}

/// Replaces the file at `path` with `bytes` in one step.
///
/// Missing parent folders are created (`0700` on Unix). The bytes go to a `0600` temporary file
/// in the same folder, which is flushed to disk and then renamed over `path`; the folder is
/// flushed too so the rename survives a power cut. On any error the temporary file is removed
/// and `path` still holds what it held before.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), FileError> {
    let file_name = path
        .file_name()
        .ok_or_else(|| FileError::Io {
            action: "write",
            path: path.to_path_buf(),
            message: "the path does not name a file".to_owned(),
        })?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    create_private_dirs(dir).map_err(|e| FileError::io("create the folder", dir, &e))?;

    let mut builder = tempfile::Builder::new();
    let prefix = format!(".{file_name}.");
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o600));
    }
    let mut tmp = builder.tempfile_in(dir).map_err(|e| FileError::io("write", path, &e))?;
    tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| FileError::io("write", path, &e))?;
    // On failure the returned NamedTempFile is dropped here, which removes the temporary file.
    tmp.persist(path).map_err(|e| FileError::io("write", path, &e.error))?;
    sync_dir(dir).map_err(|e| FileError::io("write", path, &e))?;
    Ok(())
}

/// Creates `dir` and any missing parents; the ones created here are private to the user.
fn create_private_dirs(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Makes a rename in `dir` durable. Windows has no way to open a directory for this (and NTFS
/// journals the rename), so there it is a no-op.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
    }
    Ok(())
}

/// The bytes of `path`, or `None` when it does not exist.
fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>, FileError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError::io("read", path, &e)),
    }
}

/// The text of `path` as UTF-8; invalid UTF-8 is damage, reported where it starts.
fn as_text<'a>(path: &Path, bytes: &'a [u8]) -> Result<&'a str, FileError> {
    std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        FileError::damaged(path, Some(line), Some(column), "the file is not UTF-8 text")
    })
}

/// 1-based line and column (counted in characters) of byte `offset` in `bytes`.
fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Reads a TOML file: `Ok(None)` when it is missing, [`FileError::Damaged`] when it does not
/// parse into `T`. The file is never modified.
pub fn read_toml<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, FileError> {
    let Some(bytes) = read_bytes(path)? else {
        return Ok(None);
    };
    let text = as_text(path, &bytes)?;
    match toml::from_str::<T>(text) {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            // toml reports `0..0` when it cannot tell where a value came from (flattened
            // tables, enums); "line 1, column 1" would point at the wrong place.
            let (line, column) = match e.span().filter(|s| s.end > 0) {
                Some(span) => {
                    let (l, c) = line_column(text.as_bytes(), span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            Err(FileError::damaged(path, line, column, e.message()))
        }
    }
}

/// Reads a JSON file: `Ok(None)` when it is missing, [`FileError::Damaged`] when it does not
/// parse into `T`. The file is never modified.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, FileError> {
    let Some(bytes) = read_bytes(path)? else {
        return Ok(None);
    };
    match serde_json::from_slice::<T>(&bytes) {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            // serde_json counts columns in bytes; report characters like the TOML reader does.
            let (line, column) = if e.line() == 0 {
                (None, None)
            } else {
                let line_start =
                    bytes.split_inclusive(|&b| b == b'\n').take(e.line() - 1).map(<[u8]>::len).sum::<usize>();
                // serde_json points at the last byte it read (column 0: before the line).
                let offset = (line_start + e.column().saturating_sub(1)).min(bytes.len());
                let (l, c) = line_column(&bytes, offset);
                (Some(l), Some(c))
            };
            let text = e.to_string();
            let suffix = format!(" at line {} column {}", e.line(), e.column());
            let message = text.strip_suffix(&suffix).unwrap_or(&text);
            Err(FileError::damaged(path, line, column, message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Sample {
        name: String,
        count: u32,
    }

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn atomic_write_creates_private_dirs_and_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/state.json");
        write_atomic(&path, b"{\"x\":1}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"x\":1}");
        #[cfg(unix)]
        {
            assert_eq!(mode(&path), 0o600);
            assert_eq!(mode(&tmp.path().join("a")), 0o700);
            assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
        }
    }

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config.toml");
        fs::write(&path, "old = true\nand = 'much longer than the new content'\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        }
        write_atomic(&path, b"new = 1\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new = 1\n");
        #[cfg(unix)]
        assert_eq!(mode(&path), 0o600);
        let names: Vec<_> =
            fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, ["config.toml"]);
    }

    #[test]
    fn atomic_write_failure_is_plain_and_keeps_the_target() {
        let tmp = tempfile::tempdir().unwrap();
        // A file where a folder should be: creating the parent must fail.
        fs::write(tmp.path().join("blocker"), "x").unwrap();
        let path = tmp.path().join("blocker/inner/file.toml");
        let err = write_atomic(&path, b"x").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("could not create the folder "), "{text}");
        assert!(text.ends_with(": a part of the path is a file, not a folder"), "{text}");
        assert!(!text.contains("os error"), "{text}");

        // Renaming over a folder fails; the folder and its content stay.
        let dir_target = tmp.path().join("target");
        fs::create_dir(&dir_target).unwrap();
        fs::write(dir_target.join("keep"), "k").unwrap();
        let err = write_atomic(&dir_target, b"x").unwrap_err();
        assert!(matches!(err, FileError::Io { action: "write", .. }), "{err:?}");
        assert_eq!(fs::read_to_string(dir_target.join("keep")).unwrap(), "k");
        let leftovers: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn missing_files_read_as_none() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("nope.toml");
        assert_eq!(read_toml::<Sample>(&path).unwrap(), None);
        assert_eq!(read_json::<Sample>(&path).unwrap(), None);
        assert!(!path.exists());
    }

    #[test]
    fn good_files_read_back() {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().join("x.toml");
        write_atomic(&t, b"name = \"a\"\ncount = 2\n").unwrap();
        let want = Sample { name: "a".into(), count: 2 };
        assert_eq!(read_toml::<Sample>(&t).unwrap(), Some(want));
        let j = tmp.path().join("x.json");
        write_atomic(&j, br#"{"name":"b","count":3}"#).unwrap();
        assert_eq!(read_json::<Sample>(&j).unwrap().unwrap().count, 3);
    }

    fn assert_untouched(path: &Path, bytes: &[u8], modified: std::time::SystemTime) {
        assert_eq!(fs::read(path).unwrap(), bytes);
        assert_eq!(fs::metadata(path).unwrap().modified().unwrap(), modified);
    }

    #[test]
    fn damaged_toml_names_the_line_and_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("integrations/x.toml");
        let bytes = b"name = \"x\"\ncount = 1\nprovider \"oauth2\"\n";
        write_atomic(&path, bytes).unwrap();
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        let err = read_toml::<Sample>(&path).unwrap_err();
        let FileError::Damaged { line, column, ref message, .. } = err else { panic!("{err:?}") };
        assert_eq!(line, Some(3));
        assert_eq!(column, Some(10));
        assert!(message.contains('='), "{message}");
        let text = err.to_string();
        assert!(text.starts_with(&format!("{} is damaged (line 3, column 10): ", path.display())), "{text}");
        assert!(text.ends_with(". It was left as it is; fix or remove it."), "{text}");
        assert!(!text.contains(".."), "{text}");
        assert_untouched(&path, bytes, modified);
    }

    #[test]
    fn toml_of_the_wrong_shape_is_damaged_too() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.toml");
        let bytes = b"name = \"x\"\ncount = \"many\"\n";
        write_atomic(&path, bytes).unwrap();
        let err = read_toml::<Sample>(&path).unwrap_err();
        assert!(matches!(err, FileError::Damaged { line: Some(2), .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn toml_errors_without_a_place_have_no_position() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.toml");
        fs::write(&path, "name = \"x\"\n").unwrap();
        let err = read_toml::<Sample>(&path).unwrap_err();
        assert!(matches!(err, FileError::Damaged { line: None, column: None, .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("x.toml is damaged: missing field `count`. It was left"), "{text}");
    }

    #[test]
    fn damaged_json_names_the_line_and_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("state.json");
        let bytes = b"{\n  \"name\": \"x\",\n  \"count\": 1,,\n}\n";
        write_atomic(&path, bytes).unwrap();
        let modified = fs::metadata(&path).unwrap().modified().unwrap();
        let err = read_json::<Sample>(&path).unwrap_err();
        let FileError::Damaged { line, column, ref message, .. } = err else { panic!("{err:?}") };
        assert_eq!((line, column), (Some(3), Some(14)));
        assert!(!message.contains("at line"), "{message}");
        let text = err.to_string();
        assert!(text.contains("is damaged (line 3, column 14): "), "{text}");
        assert_untouched(&path, bytes, modified);
    }

    #[test]
    fn json_columns_count_characters_not_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("s.json");
        // "é" is two bytes; the stray 'x' is the 15th character on its line.
        fs::write(&path, "{\"name\": \"é\", x}").unwrap();
        let err = read_json::<Sample>(&path).unwrap_err();
        assert!(matches!(err, FileError::Damaged { line: Some(1), column: Some(15), .. }), "{err:?}");
    }

    #[test]
    fn invalid_utf8_is_damage_at_its_position() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.toml");
        let bytes = b"name = \"x\"\ncount = \xff\n";
        fs::write(&path, bytes).unwrap();
        let err = read_toml::<Sample>(&path).unwrap_err();
        assert!(matches!(err, FileError::Damaged { line: Some(2), column: Some(9), .. }), "{err:?}");
        assert_eq!(fs::read(&path).unwrap(), bytes);
    }

    #[test]
    fn long_values_are_not_echoed_in_full() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.json");
        let long = "v".repeat(5000);
        fs::write(&path, format!("{{\"name\": \"x\", \"count\": \"{long}\"}}")).unwrap();
        let err = read_json::<Sample>(&path).unwrap_err();
        let FileError::Damaged { ref message, .. } = err else { panic!("{err:?}") };
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1, "{}", message.len());
        assert!(message.ends_with('…'));
        assert!(!err.to_string().contains(&long));
    }

    #[test]
    fn io_reasons_are_plain_words() {
        let e = io::Error::from_raw_os_error(13);
        assert_eq!(plain_io_reason(&e), "permission denied");
        let e = io::Error::other("Something Odd (os error 99)");
        assert_eq!(plain_io_reason(&e), "something Odd");
        let err = FileError::io("write", Path::new("/p/x.toml"), &io::Error::from(io::ErrorKind::PermissionDenied));
        assert_eq!(err.to_string(), "could not write /p/x.toml: permission denied");
    }
}
