//! The keeper's calendar: the time zone it lives in and how it writes a date or a clock time.
//!
//! A person gives an API token's end as a date ("2026-12-07", as Atlassian shows it); that means
//! the end of that calendar day *where the keeper is*, stored as that instant
//! ([`end_of_day`]). Every surface then shows that instant as the same date in the keeper's own
//! zone and writing style ([`date`], [`clock_time`]): the `tokenkeeper` command, the
//! notifications and the window (which formats the instant itself, told this zone and style by
//! the app: the web view's own locale can differ from the process's — WebKitGTK answered
//! "December 11, 2026" under `LANG=de_DE.UTF-8` while every other surface said "11 December 2026").
//!
//! The zone is jiff's system zone (`TZ`, then `/etc/localtime`), which, unlike the `time`
//! crate's local offset, may be read from any thread and follows daylight saving time for dates
//! far away. Writing style: month names are English only (no locale data is linked); the order
//! follows the locale's region, read from `LC_ALL`, `LC_TIME` or `LANG` as a C library does:
//! "December 7, 2026" and "10:42 AM" for the United States and the C locale (what the window's
//! web view uses there too), "7 December 2026" and "10:42" elsewhere.

use jiff::tz::TimeZone;

use crate::clock::UnixTime;

/// A day as people type it for a token's end: `2026-12-07`.
pub fn parse_day(text: &str) -> Result<time::Date, String> {
    time::Date::parse(text.trim(), time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("\"{}\" is not a date like 2026-12-31", text.trim()))
}

/// How dates and clock times are written (the window is told it, and writes its dates the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// "December 7, 2026", "10:42 AM".
    UnitedStates,
    /// "7 December 2026", "10:42".
    DayFirst,
}

impl Style {
    /// From a POSIX locale name ("en_US.UTF-8", "de_DE", "C").
    pub fn of_locale(locale: &str) -> Self {
        let name = locale.split(['.', '@']).next().unwrap_or_default();
        match name {
            "" | "C" | "POSIX" | "en_US" | "en" => Style::UnitedStates,
            _ => Style::DayFirst,
        }
    }

    /// The style of this process's locale.
    pub fn system() -> Self {
        let locale = ["LC_ALL", "LC_TIME", "LANG"]
            .iter()
            .filter_map(|var| std::env::var(var).ok())
            .find(|value| !value.is_empty())
            .unwrap_or_default();
        Style::of_locale(&locale)
    }
}

/// Where and how this keeper writes times.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub zone: TimeZone,
    pub style: Style,
}

impl Calendar {
    /// The keeper's own zone and style.
    pub fn system() -> Self {
        Calendar { zone: TimeZone::system(), style: Style::system() }
    }

    /// A fixed zone (tests, and anything that must not depend on the machine).
    pub fn fixed(zone: TimeZone, style: Style) -> Self {
        Calendar { zone, style }
    }

    /// Coordinated Universal Time, written in `style` (tests of the shells' words).
    pub fn utc(style: Style) -> Self {
        Calendar { zone: TimeZone::UTC, style }
    }

    /// The last second of `date` here: a token that ends "on December 7" works all that day.
    pub fn end_of_day(&self, date: time::Date) -> UnixTime {
        let civil = jiff::civil::Date::new(date.year() as i16, date.month() as i8, date.day() as i8)
            .and_then(|d| d.at(23, 59, 59, 0).to_zoned(self.zone.clone()));
        match civil {
            Ok(zoned) => zoned.timestamp().as_second(),
            // Out of jiff's range (years beyond ±9999): the end of that day in UTC.
            Err(_) => date.midnight().assume_utc().unix_timestamp() + 86_399,
        }
    }

    /// The instant's date here: "December 7, 2026" (see [`Style`]).
    pub fn date(&self, at: UnixTime) -> String {
        let format = match self.style {
            Style::UnitedStates => "%B %-d, %Y",
            Style::DayFirst => "%-d %B %Y",
        };
        self.format(at, format)
    }

    /// The instant's clock time here: "10:42 AM" or "10:42" (see [`Style`]).
    pub fn clock_time(&self, at: UnixTime) -> String {
        let format = match self.style {
            Style::UnitedStates => "%-I:%M %p",
            Style::DayFirst => "%H:%M",
        };
        self.format(at, format)
    }

    /// Whether two instants fall on the same day here.
    pub fn same_day(&self, a: UnixTime, b: UnixTime) -> bool {
        let day = |at| jiff::Timestamp::from_second(at).ok().map(|t| t.to_zoned(self.zone.clone()).date());
        day(a).is_some() && day(a) == day(b)
    }

    fn format(&self, at: UnixTime, format: &str) -> String {
        jiff::Timestamp::from_second(at)
            .ok()
            .and_then(|t| jiff::fmt::strtime::format(format, &t.to_zoned(self.zone.clone())).ok())
            .unwrap_or_else(|| format!("@{at}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(name: &str) -> TimeZone {
        TimeZone::get(name).unwrap_or_else(|_| panic!("the tz database has {name}"))
    }

    #[test]
    fn a_date_ends_at_the_end_of_that_day_where_the_keeper_is() {
        let day = time::macros::date!(2026 - 12 - 07);
        let new_york = Calendar::fixed(zone("America/New_York"), Style::UnitedStates);
        let tokyo = Calendar::fixed(zone("Asia/Tokyo"), Style::UnitedStates);
        // 2026-12-07 23:59:59 -05:00 and +09:00
        assert_eq!(new_york.end_of_day(day), 1_796_705_999);
        assert_eq!(tokyo.end_of_day(day), 1_796_655_599);
        for cal in [&new_york, &tokyo] {
            assert_eq!(cal.date(cal.end_of_day(day)), "December 7, 2026");
        }
        // the old reading, midnight UTC, was December 6 in New York
        assert_eq!(new_york.date(day.midnight().assume_utc().unix_timestamp()), "December 6, 2026");
    }

    #[test]
    fn days_are_typed_year_first() {
        assert_eq!(parse_day(" 2026-12-07 "), Ok(time::macros::date!(2026 - 12 - 07)));
        assert_eq!(parse_day("07.12.2026"), Err("\"07.12.2026\" is not a date like 2026-12-31".into()));
    }

    #[test]
    fn the_writing_style_follows_the_locale() {
        assert_eq!(Style::of_locale("en_US.UTF-8"), Style::UnitedStates);
        assert_eq!(Style::of_locale("C"), Style::UnitedStates);
        assert_eq!(Style::of_locale(""), Style::UnitedStates);
        assert_eq!(Style::of_locale("en_GB.UTF-8"), Style::DayFirst);
        assert_eq!(Style::of_locale("de_DE@euro"), Style::DayFirst);
        let utc = |style| Calendar::fixed(TimeZone::UTC, style);
        // 2026-12-07 15:42:00 UTC
        let at = 1_796_658_120;
        assert_eq!(utc(Style::DayFirst).date(at), "7 December 2026");
        assert_eq!(utc(Style::DayFirst).clock_time(at), "15:42");
        assert_eq!(utc(Style::UnitedStates).clock_time(at), "3:42 PM");
        assert!(utc(Style::DayFirst).same_day(at, at + 3600));
        assert!(!utc(Style::DayFirst).same_day(at, at + 10 * 3600));
    }
}
