//! Property tests of every file Token Keeper reads from disk: `settings.toml`, the integration
//! configs (`integrations/<name>.toml`), the state records (`integrations/<name>.json`) and admin
//! profile files.
//!
//! For arbitrary bytes and for valid files damaged by random edits ([`mutated`]): reading never
//! panics, never writes, renames or removes anything (the folder is compared byte for byte and
//! by modification time), and a failure is an error that names the file — with a line and
//! column inside the file when the format gives one. Valid values saved and read back are equal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use proptest::collection::vec;
use proptest::prelude::*;
use url::Url;

use crate::clock::Moment;
use crate::history::HistoryEvent;
use crate::model::{ApiTokenConfig, IntegrationConfig, IntegrationKind, OauthConfig, State};
use crate::paths::Paths;
use crate::phrases::{Failure, Reason};
use crate::profile_file;
use crate::properties::support::{cases, config, mutated, text, word};
use crate::record::Record;
use crate::settings::Settings;
use crate::store::files::FileError;
use crate::store::integrations;

/// Put into generated profile files' secrets: no error may repeat it.
const MARK: &str = "SEKRIT-c0ffee";

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(path, (Vec::new(), meta.modified().unwrap()));
            } else {
                out.insert(path.clone(), (std::fs::read(&path).unwrap(), meta.modified().unwrap()));
            }
        }
    }
    out
}

/// Checks a read's error: it names `file`, and a line/column (if any) lies inside `bytes`.
fn check_error(err: &FileError, file: &Path, bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = err.to_string();
    prop_assert!(text.contains(&file.display().to_string()), "the error does not name the file: {text}");
    match err {
        FileError::Damaged { path, line, column, message } => {
            prop_assert_eq!(path, file);
            prop_assert!(!message.is_empty() && message.chars().count() <= 201, "{message:?}");
            prop_assert!(!message.contains('\n'), "{message:?}");
            if let Some(line) = line {
                let lines = bytes.iter().filter(|&&b| b == b'\n').count() + 1;
                prop_assert!((1..=lines).contains(line), "line {line} of {lines}");
                prop_assert!(column.is_none_or(|c| c >= 1), "{column:?}");
            }
        }
        FileError::Io { .. } => prop_assert!(false, "an I/O error reading a plain file: {text}"),
    }
    Ok(())
}

fn url() -> impl Strategy<Value = Url> {
    (word("abcdefghijklmnopqrstuvwxyz", 1, 12), word("abcdefghijklmnopqrstuvwxyz0123456789/-_", 0, 20), any::<bool>())
        .prop_map(|(host, path, loopback)| {
            let host = if loopback { "127.0.0.1:8080".to_string() } else { format!("{host}.example") };
            Url::parse(&format!("https://{host}/{path}")).unwrap()
        })
}

fn name() -> impl Strategy<Value = String> {
    word("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-.éß", 1, 30).prop_filter_map(
        "a valid name",
        |n| {
            let n = n.trim().trim_start_matches('.').to_string();
            crate::model::validate_name(&n).is_ok().then_some(n)
        },
    )
}

fn integration_config() -> impl Strategy<Value = IntegrationConfig> {
    let oauth = (
        (prop::option::of(url()), url(), url(), prop::option::of(url()), prop::option::of(url())),
        (text(20), any::<bool>(), vec(text(12), 0..4), prop::option::of(url())),
    )
        .prop_map(
            |(
                (issuer, authorize_url, token_url, revocation_url, probe_url),
                (client_id, secret, scopes, sites_url),
            )| {
                IntegrationKind::Oauth(OauthConfig {
                    issuer,
                    authorize_url,
                    token_url,
                    revocation_url,
                    probe_url,
                    sites_url,
                    client_id,
                    has_client_secret: secret,
                    scopes,
                })
            },
        );
    let api = (url(), prop::option::of(text(20)), prop::option::of(-100_000i32..100_000)).prop_map(
        |(probe_url, username, days)| {
            let expires = days.map(|d| time::Date::from_julian_day(2_460_000 + d).unwrap());
            IntegrationKind::ApiToken(ApiTokenConfig {
                probe_url,
                username,
                expires_at: days.map(|d| 1_700_000_000 + i64::from(d) * 86_400),
                expires,
            })
        },
    );
    (name(), word("abcdefghijklmnopqrstuvwxyz-", 1, 12), 60u64..10_000_000, prop_oneof![oauth, api]).prop_map(
        |(name, provider, probe_interval_secs, kind)| IntegrationConfig { name, provider, probe_interval_secs, kind },
    )
}

fn state() -> impl Strategy<Value = State> {
    prop::sample::select(State::ALL.to_vec())
}

fn failure() -> impl Strategy<Value = Option<Failure>> {
    prop::option::of(prop_oneof![
        Just(Failure::NotSignedIn),
        Just(Failure::TokenRefused),
        Just(Failure::Unreachable),
        prop::option::of(text(30)).prop_map(|explained| Failure::SignInRefused { explained }),
        prop::option::of(text(30)).prop_map(|explained| Failure::AppRefused { explained }),
    ])
}

fn history_event() -> impl Strategy<Value = HistoryEvent> {
    prop_oneof![
        Just(HistoryEvent::Added),
        Just(HistoryEvent::SignedIn),
        Just(HistoryEvent::SignedInElsewhere),
        (text(30), failure()).prop_map(|(reason, failure)| HistoryEvent::SignInFailed { reason, failure }),
        prop::option::of(any::<i64>()).prop_map(|expires_at| HistoryEvent::Refreshed { expires_at }),
        (text(30), any::<bool>(), failure()).prop_map(|(reason, transient, failure)| HistoryEvent::RefreshFailed {
            reason,
            transient,
            failure
        }),
        (any::<bool>(), prop::option::of(text(30)), failure())
            .prop_map(|(accepted, reason, failure)| HistoryEvent::Checked { accepted, reason, failure }),
        (state(), state()).prop_map(|(from, to)| HistoryEvent::StateChanged { from, to }),
        text(30).prop_map(|summary| HistoryEvent::Notified { summary }),
        any::<bool>().prop_map(|paused| HistoryEvent::Paused { paused }),
    ]
}

/// Any instant a file can hold in whole seconds (every one that fits a `Moment`).
fn secs() -> impl Strategy<Value = Moment> {
    (Moment::from_millis(i64::MIN).secs()..=Moment::from_millis(i64::MAX).secs()).prop_map(Moment::from_secs)
}

fn record() -> impl Strategy<Value = Record> {
    (
        (state(), failure(), prop::option::of(text(40)), any::<bool>(), any::<u32>()),
        (prop::option::of(secs()), prop::option::of(secs()), prop::option::of(secs())),
        (prop::option::of(any::<i64>()), prop::option::of(any::<i64>())),
        (vec((any::<i64>(), 1u32..400), 0..4), vec((any::<i64>(), history_event()), 0..12)),
    )
        .prop_map(
            |(
                (state, failure, technical, paused, failures),
                (issued, access, refresh),
                (retry, probe),
                (warnings, events),
            )| {
                let mut r = Record {
                    state,
                    reason: failure.map(|failure| Reason { failure, technical }),
                    paused,
                    issued_at: issued,
                    access_expires_at: access,
                    refresh_expires_at: refresh,
                    failures,
                    retry_at: retry.map(Moment::from_millis),
                    probe_at: probe.map(Moment::from_millis),
                    ..Record::default()
                };
                r.notices.expiry_warnings = warnings;
                for (at, event) in events {
                    r.history.push(Moment::from_secs(at), event);
                }
                r
            },
        )
}

/// A valid `settings.toml`, a config of each kind and a record, as saved by the keeper.
fn valid_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    Settings { warning_days: vec![30, 7, 1] }.save(&paths).unwrap();
    let oauth = IntegrationConfig {
        name: "reports".into(),
        provider: "oauth2".into(),
        probe_interval_secs: 1800,
        kind: IntegrationKind::Oauth(OauthConfig {
            issuer: Some(Url::parse("https://id.example").unwrap()),
            revocation_url: Some(Url::parse("https://id.example/revoke").unwrap()),
            probe_url: Some(Url::parse("https://id.example/me").unwrap()),
            has_client_secret: true,
            scopes: vec!["openid".into(), "offline_access".into()],
            ..OauthConfig::example("https://id.example/token")
        }),
    };
    integrations::save(&paths, &oauth).unwrap();
    let at = Moment::from_secs;
    let mut record = Record { state: State::Working, issued_at: Some(at(1_700_000_000)), ..Record::default() };
    record.history.push(at(1_700_000_000), HistoryEvent::SignedIn);
    record.history.push(
        at(1_700_000_100),
        HistoryEvent::RefreshFailed { reason: "offline".into(), transient: true, failure: Some(Failure::Unreachable) },
    );
    record.notices.expiry_warnings.push((1_800_000_000, 14));
    integrations::save_record(&paths, "reports", &record).unwrap();
    vec![
        ("settings", std::fs::read(paths.settings()).unwrap()),
        ("config", std::fs::read(paths.integration_config("reports")).unwrap()),
        ("record", std::fs::read(paths.integration_record("reports")).unwrap()),
    ]
}

/// Any of the valid files, damaged.
fn damaged_file() -> impl Strategy<Value = (&'static str, Vec<u8>)> {
    prop::sample::select(valid_files()).prop_flat_map(|(kind, bytes)| (Just(kind), mutated(bytes)))
}

/// A temporary keeper folder with `bytes` where the keeper keeps a file of `kind`.
fn place(kind: &str, bytes: &[u8]) -> (tempfile::TempDir, Paths, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::under(dir.path());
    let file = match kind {
        "settings" => paths.settings(),
        "config" => paths.integration_config("reports"),
        _ => paths.integration_record("reports"),
    };
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, bytes).unwrap();
    (dir, paths, file)
}

/// Writes `bytes` where the keeper keeps a file of `kind`, reads it the keeper's way, and checks
/// that nothing was written and that an error names the file.
fn read_back(kind: &str, bytes: &[u8]) -> Result<(), TestCaseError> {
    let (dir, paths, file) = place(kind, bytes);
    let before = snapshot(dir.path());
    let error = match kind {
        "settings" => Settings::load(&paths).err(),
        "config" => {
            let (configs, mut problems) = integrations::load_all(&paths);
            prop_assert!(configs.len() + problems.len() <= 1);
            let one = integrations::load(&paths, "reports");
            prop_assert_eq!(one.as_ref().err(), problems.first(), "load and load_all disagree");
            problems.pop()
        }
        _ => integrations::load_record(&paths, "reports").err(),
    };
    if let Some(e) = error {
        check_error(&e, &file, bytes)?;
    }
    prop_assert!(snapshot(dir.path()) == before, "reading changed the folder");
    Ok(())
}

/// A profile file with every kind of field, and the secret [`MARK`].
fn valid_profile_file() -> Vec<u8> {
    format!(
        "name = \"HighQ reporting\"\nprovider = \"oauth2\"\nauthorize_url = \"https://id.example/authorize\"\n\
         token_url = \"https://id.example/token\"\nrevocation_url = \"https://id.example/revoke\"\n\
         client_id = \"reporting\"\nclient_secret = \"{MARK}\"\nscopes = [\"openid\", \"offline_access\"]\n\
         probe_interval_secs = 600\n"
    )
    .into_bytes()
}

fn check_profile_file(bytes: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(bytes);
    match profile_file::parse("/etc/tk/p.toml", &text, None) {
        Ok(file) => {
            prop_assert!(crate::model::validate_name(&file.inputs.name).is_ok());
        }
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(shown.starts_with("the profile file /etc/tk/p.toml: "), "{shown}");
            prop_assert!(!shown.contains("SEKRIT"), "the secret leaked: {shown}");
            prop_assert!(!format!("{e:?}").contains("SEKRIT"), "the secret leaked: {e:?}");
            if let Some(at) = shown.find(" on line ") {
                let n: usize = shown[at + 9..].split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap();
                prop_assert!((1..=text.lines().count().max(1)).contains(&n), "line {n}: {shown}");
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(cases(128)))]

    #[test]
    fn arbitrary_bytes_are_read_or_refused_by_name_and_never_written(
        kind in prop::sample::select(vec!["settings", "config", "record"]),
        bytes in vec(any::<u8>(), 0..600),
    ) {
        read_back(kind, &bytes)?;
    }

    #[test]
    fn damaged_valid_files_are_read_or_refused_by_name_and_never_written((kind, bytes) in damaged_file()) {
        read_back(kind, &bytes)?;
    }

    #[test]
    fn settings_round_trip(days in vec(any::<u32>(), 0..8)) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        let settings = Settings { warning_days: days };
        settings.save(&paths).unwrap();
        prop_assert_eq!(Settings::load(&paths).unwrap(), settings);
    }

    #[test]
    fn integration_configs_round_trip(config in integration_config()) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        integrations::save(&paths, &config).unwrap();
        prop_assert_eq!(integrations::load(&paths, &config.name).unwrap(), Some(config.clone()));
        let (all, problems) = integrations::load_all(&paths);
        prop_assert!(problems.is_empty(), "{problems:?}");
        prop_assert_eq!(all, vec![config]);
    }

    #[test]
    fn records_round_trip(record in record()) {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::under(dir.path());
        integrations::save_record(&paths, "r", &record).unwrap();
        prop_assert_eq!(integrations::load_record(&paths, "r").unwrap(), record);
    }

    #[test]
    fn arbitrary_profile_files_are_refused_by_name_without_the_secret(
        before in vec(any::<u8>(), 0..300),
        after in vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = before;
        bytes.extend_from_slice(format!("client_secret = \"{MARK}\"\n").as_bytes());
        bytes.extend_from_slice(&after);
        check_profile_file(&bytes)?;
    }

    #[test]
    fn damaged_profile_files_are_refused_by_name_without_the_secret(bytes in mutated(valid_profile_file())) {
        check_profile_file(&bytes)?;
    }
}

#[test]
fn the_valid_samples_are_valid() {
    for (kind, bytes) in valid_files() {
        let (_dir, paths, _) = place(kind, &bytes);
        assert!(
            Settings::load(&paths).is_ok()
                && integrations::load(&paths, "reports").unwrap().is_some() == (kind == "config")
        );
        assert!(integrations::load_record(&paths, "reports").is_ok());
    }
    let parsed = profile_file::parse("p.toml", std::str::from_utf8(&valid_profile_file()).unwrap(), None).unwrap();
    assert_eq!(parsed.client_secret.unwrap().expose(), MARK);
}
