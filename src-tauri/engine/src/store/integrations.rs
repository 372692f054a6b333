//! Integration configs and records on disk: one small file each, written atomically.
//!
//! One file per integration means adding or removing one never rewrites the others, concurrent
//! `add`s cannot lose each other's work, and a damaged file breaks only its own integration
//! (reported by name and line; never rewritten or deleted).

use std::path::Path;

use super::files::{read_json, read_toml, write_atomic, FileError};
use crate::model::{validate_name, IntegrationConfig};
use crate::paths::Paths;
use crate::record::Record;

/// Every readable config, plus an error per damaged file.
pub fn load_all(paths: &Paths) -> (Vec<IntegrationConfig>, Vec<FileError>) {
    let dir = paths.integrations_dir();
    let mut configs = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else { return (configs, problems) };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    for path in files {
        match load_file(&path) {
            Ok(Some(cfg)) => configs.push(cfg),
            Ok(None) => {}
            Err(e) => problems.push(e),
        }
    }
    (configs, problems)
}

fn load_file(path: &Path) -> Result<Option<IntegrationConfig>, FileError> {
    let cfg: Option<IntegrationConfig> = read_toml(path)?;
    if let Some(cfg) = &cfg {
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if cfg.name != stem || validate_name(&cfg.name).is_err() {
            return Err(FileError::Damaged {
                path: path.to_path_buf(),
                line: None,
                column: None,
                message: format!("the name {:?} does not match the file name", cfg.name),
            });
        }
    }
    Ok(cfg)
}

/// The config of `name`, if it exists.
pub fn load(paths: &Paths, name: &str) -> Result<Option<IntegrationConfig>, FileError> {
    load_file(&paths.integration_config(name))
}

pub fn save(paths: &Paths, config: &IntegrationConfig) -> Result<(), FileError> {
    let text = format!(
        "# Token Keeper integration \"{}\". Secrets are in the system keychain, not here.\n{}",
        config.name,
        toml::to_string(config).expect("configs serialize")
    );
    write_atomic(&paths.integration_config(&config.name), text.as_bytes())
}

pub fn remove(paths: &Paths, name: &str) -> std::io::Result<()> {
    for path in [paths.integration_config(name), paths.integration_record(name)] {
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The saved state of `name`; a missing record is a fresh one.
pub fn load_record(paths: &Paths, name: &str) -> Result<Record, FileError> {
    Ok(read_json(&paths.integration_record(name))?.unwrap_or_default())
}

pub fn save_record(paths: &Paths, name: &str, record: &Record) -> Result<(), FileError> {
    save_record_bytes(paths, name, &record_bytes(record))
}

/// The file contents of a record.
pub fn record_bytes(record: &Record) -> Vec<u8> {
    serde_json::to_vec_pretty(record).expect("records serialize")
}

/// Writes contents made by [`record_bytes`].
pub fn save_record_bytes(paths: &Paths, name: &str, bytes: &[u8]) -> Result<(), FileError> {
    write_atomic(&paths.integration_record(name), bytes)
}
