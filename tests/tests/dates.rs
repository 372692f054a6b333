//! One date, one answer: an API token's end given as a date (`--expires 2026-12-07`) is the end
//! of that day where the keeper is, and `list`, `status` and the expiry notification (read back
//! from dunst) all name that same date, in New York as in Tokyo. Replacing the token replaces its
//! date (`login --expires`), and a date that has passed reads "Expired on …", never "in now".

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;
use tokenkeeper_tests::{require_test_session, Notifications, Sandbox};

/// `date` in zone `tz` (GNU date, C locale): `days` days from today, in `format`.
fn date_in(tz: &str, days: i64, format: &str) -> String {
    let out = Command::new("date")
        .env("TZ", tz)
        .env("LC_ALL", "C")
        .args(["-d", &format!("{days} days"), &format!("+{format}")])
        .output()
        .expect("date runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An instant (RFC 3339) as a wall-clock time in zone `tz`: "2026-12-07 23:59:59".
fn wall_clock(tz: &str, instant: &str) -> String {
    let out = Command::new("date").env("TZ", tz).args(["-d", instant, "+%F %T"]).output().expect("date runs");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// An Atlassian API token integration in zone `tz`, signed in with a token ending `--expires`.
fn jira(tz: &str, name: &str, expires: &str) -> (Sandbox, ApiServer) {
    let api = ApiServer::start(ApiMode::Accept(basic("me@example.com", "tok-2026-dates")));
    let site = api.url.trim_end_matches("/rest/api/3/myself").to_string();
    let mut sb = Sandbox::new();
    sb.set_env("TZ", tz);
    sb.set_env("LANG", "en_US.UTF-8");
    sb.set_env("LC_ALL", "");
    sb.set_env("LC_TIME", "");
    let add = [
        "add",
        name,
        "--provider",
        "atlassian-api-token",
        "--site",
        &site,
        "--username",
        "me@example.com",
        "--expires",
        expires,
    ];
    sb.run_ok(&add, None);
    (sb, api)
}

fn same_date_everywhere(tz: &str) {
    require_test_session();
    let name = format!("jira-{}", tz.replace('/', "-").to_lowercase());
    let day = date_in(tz, 5, "%F");
    let written = date_in(tz, 5, "%B %-d, %Y"); // "December 11, 2026"
    let notes = Notifications::new();
    let (sb, _api) = jira(tz, &name, &day);
    sb.run_ok(&["login", &name], Some("tok-2026-dates\n"));

    let listed = listed(&sb, &name);
    let end = listed["refresh_expires_at"].as_str().expect("an end").to_string();
    assert_eq!(wall_clock(tz, &end), format!("{day} 23:59:59"), "the end of that day in {tz}: {end}");
    assert_eq!(listed["state"], "expiring-soon");

    let table = sb.run_ok(&["list"], None);
    let row = table.lines().find(|l| l.starts_with(&name)).unwrap_or_else(|| panic!("{table}"));
    assert!(row.contains(&format!("{written} (in ")), "list in {tz}: {row}");

    let status = sb.run_ok(&["status", &name], None);
    assert!(status.contains(&format!("Token ends:      {written} (in ")), "status in {tz}: {status}");
    let detail = listed["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&format!("ends on {written}.")), "the detail in {tz}: {detail}");

    let notice = notes
        .wait_for(|n| n.summary.contains(&name) && n.summary.contains(" ends "), Duration::from_secs(20))
        .expect("the expiry warning");
    assert!(notice.body.contains(&format!("after {written}.")), "the notification in {tz}: {notice:?}");
}

#[test]
fn new_york_sees_one_date_in_list_status_and_the_notification() {
    same_date_everywhere("America/New_York");
}

#[test]
fn tokyo_sees_one_date_in_list_status_and_the_notification() {
    same_date_everywhere("Asia/Tokyo");
}

#[test]
fn a_new_token_replaces_the_end_date_and_a_passed_date_reads_expired_on() {
    require_test_session();
    let tz = "America/New_York";
    let (sb, _api) = jira(tz, "yearly", &date_in(tz, 3, "%F"));
    sb.run_ok(&["login", "yearly"], Some("tok-2026-dates\n"));
    assert_eq!(listed(&sb, "yearly")["state"], "expiring-soon");

    // The yearly job: a new token, with its new end date.
    let next_year = date_in(tz, 365, "%F");
    sb.run_ok(&["login", "yearly", "--expires", &next_year], Some("tok-2026-dates\n"));
    let view = listed(&sb, "yearly");
    assert_eq!(view["state"], "working", "Expiring soon is cleared: {view}");
    let end = view["refresh_expires_at"].as_str().unwrap().to_string();
    assert_eq!(wall_clock(tz, &end), format!("{next_year} 23:59:59"));

    // Without a date the old token's date goes with it: the end is unknown.
    sb.run_ok(&["login", "yearly"], Some("tok-2026-dates\n"));
    assert_eq!(listed(&sb, "yearly")["refresh_expires_at"], serde_json::Value::Null);

    // A date that has passed: "Expired on …" in every text, never "in now".
    let past = date_in(tz, -2, "%F");
    sb.run_ok(&["login", "yearly", "--expires", &past], Some("tok-2026-dates\n"));
    let written = date_in(tz, -2, "%B %-d, %Y");
    let status = sb.run_ok(&["status", "yearly"], None);
    assert!(status.contains(&format!("Token ends:      Expired on {written}\n")), "{status}");
    let table = sb.run_ok(&["list"], None);
    assert!(table.contains(&format!("Expired on {written}")), "{table}");
    let detail = listed(&sb, "yearly")["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains(&format!("expired on {written}.")), "{detail}");
    for text in [&status, &table, &detail] {
        assert!(!text.contains("in now"), "{text}");
    }
}
