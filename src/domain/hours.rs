//! Business hours: whether the support team is at work at a given instant, read in its own IANA
//! time zone (from the bundled time zone database, so a host's missing or stale zoneinfo cannot
//! change the answer). Pure: the instant is always a parameter; [`Clock`] is the only seam that
//! reads the wall clock.

use std::fmt;

use jiff::{tz::TimeZone, Timestamp};
use serde::{Deserialize, Serialize};

/// The weekday keys of `[business_hours]`, Monday first (the index is jiff's Monday-zero offset).
pub const DAY_KEYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

const MINUTES_PER_DAY: u16 = 24 * 60;

/// The `[business_hours]` section as written. Every value is optional so that
/// [`BusinessHours::from_settings`], not serde, says what is missing or wrong, naming the key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessHoursSettings {
    /// IANA name the ranges are read in, e.g. `America/New_York`; required in the section.
    pub timezone: Option<String>,
    /// `"09:00-17:00"`; absent or `""` means closed that day. Likewise for every weekday.
    pub mon: Option<String>,
    pub tue: Option<String>,
    pub wed: Option<String>,
    pub thu: Option<String>,
    pub fri: Option<String>,
    pub sat: Option<String>,
    pub sun: Option<String>,
}

impl BusinessHoursSettings {
    fn days(&self) -> [Option<&str>; 7] {
        [
            &self.mon, &self.tue, &self.wed, &self.thu, &self.fri, &self.sat, &self.sun,
        ]
        .map(|day| day.as_deref())
    }
}

/// A `[business_hours]` value that cannot be used, with the key it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}` {problem}")]
pub struct HoursError {
    /// The full config key, e.g. `business_hours.tue`.
    pub key: &'static str,
    pub problem: HoursProblem,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoursProblem {
    #[error(
        "is required in [business_hours]: an IANA time zone name such as \"America/New_York\""
    )]
    MissingTimezone,
    #[error(
        "{0:?} is not a known IANA time zone name (such as \"America/New_York\" or \"Europe/Paris\")"
    )]
    UnknownTimezone(String),
    #[error("{value:?} {problem}")]
    BadRange {
        value: String,
        problem: RangeProblem,
    },
    #[error(
        "has no open day: give at least one of mon..sun a range such as \"09:00-17:00\", \
         or remove the section to be always open"
    )]
    NoOpenDay,
}

/// Why one weekday's value is not a range this module supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProblem {
    #[error("is not a range: write \"HH:MM-HH:MM\" such as \"09:00-17:00\", or \"\" for closed")]
    NotARange,
    #[error("has more than one range: one range per day is supported")]
    MultipleRanges,
    #[error(
        "has a bad time {0:?}: hours 00-23 and minutes 00-59 (\"24:00\" only as the end of a range)"
    )]
    BadTime(String),
    #[error(
        "opens and closes at the same minute: use \"\" for closed or \"00:00-24:00\" for all day"
    )]
    Empty,
    #[error(
        "ends before it starts: overnight ranges are not supported; split them at midnight, \
         e.g. \"22:00-24:00\" on this day and \"00:00-02:00\" on the next"
    )]
    Overnight,
}

/// One day's opening in local wall-clock minutes after midnight: open from `start` (included)
/// until `end` (excluded); `end` may be 1440 (`"24:00"`), so `"00:00-24:00"` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    start: u16,
    end: u16,
}

impl DayRange {
    /// `""` (after trimming) is a closed day.
    pub fn parse(value: &str) -> Result<Option<DayRange>, RangeProblem> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if value.contains([',', ';']) {
            return Err(RangeProblem::MultipleRanges);
        }
        let (start, end) = value.split_once('-').ok_or(RangeProblem::NotARange)?;
        let start = parse_minute(start, false)?;
        let end = parse_minute(end, true)?;
        match start.cmp(&end) {
            std::cmp::Ordering::Less => Ok(Some(DayRange { start, end })),
            std::cmp::Ordering::Equal => Err(RangeProblem::Empty),
            std::cmp::Ordering::Greater => Err(RangeProblem::Overnight),
        }
    }

    /// Seconds, not minutes, so that 16:59:59 is still inside `"09:00-17:00"`.
    fn contains(self, second_of_day: u32) -> bool {
        (u32::from(self.start) * 60..u32::from(self.end) * 60).contains(&second_of_day)
    }
}

impl fmt::Display for DayRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hm = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, "{}-{}", hm(self.start), hm(self.end))
    }
}

/// `H:MM` or `HH:MM`; `24:00` only where it ends a range.
fn parse_minute(text: &str, is_end: bool) -> Result<u16, RangeProblem> {
    let text = text.trim();
    let bad = || RangeProblem::BadTime(text.to_string());
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(hours, 1..=2) || !digits(minutes, 2..=2) {
        return Err(bad());
    }
    let (hours, minutes): (u16, u16) = (
        hours.parse().map_err(|_| bad())?,
        minutes.parse().map_err(|_| bad())?,
    );
    match (hours, minutes) {
        (0..=23, 0..=59) => Ok(hours * 60 + minutes),
        (24, 0) if is_end => Ok(MINUTES_PER_DAY),
        _ => Err(bad()),
    }
}

/// Validated business hours: the zone and each weekday's range (`None`: closed).
#[derive(Debug, Clone)]
pub struct BusinessHours {
    timezone: TimeZone,
    /// As configured (trimmed), for messages: the zone's own name may be spelled differently.
    timezone_name: String,
    days: [Option<DayRange>; 7],
}

impl BusinessHours {
    /// Validates the raw section: the zone first, then `mon`..`sun` in order, then that at least
    /// one day opens. The first problem found is returned, with its key.
    pub fn from_settings(settings: &BusinessHoursSettings) -> Result<BusinessHours, HoursError> {
        const TIMEZONE_KEY: &str = "business_hours.timezone";
        const DAY_FULL_KEYS: [&str; 7] = [
            "business_hours.mon",
            "business_hours.tue",
            "business_hours.wed",
            "business_hours.thu",
            "business_hours.fri",
            "business_hours.sat",
            "business_hours.sun",
        ];
        let timezone_name = settings
            .timezone
            .as_deref()
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .ok_or(HoursError {
                key: TIMEZONE_KEY,
                problem: HoursProblem::MissingTimezone,
            })?;
        let timezone = TimeZone::get(timezone_name).map_err(|_| HoursError {
            key: TIMEZONE_KEY,
            problem: HoursProblem::UnknownTimezone(timezone_name.to_string()),
        })?;
        let mut days = [None; 7];
        for (index, value) in settings.days().into_iter().enumerate() {
            let value = value.unwrap_or("");
            days[index] = DayRange::parse(value).map_err(|problem| HoursError {
                key: DAY_FULL_KEYS[index],
                problem: HoursProblem::BadRange {
                    value: value.to_string(),
                    problem,
                },
            })?;
        }
        if days.iter().all(Option::is_none) {
            return Err(HoursError {
                key: "business_hours",
                problem: HoursProblem::NoOpenDay,
            });
        }
        Ok(BusinessHours {
            timezone,
            timezone_name: timezone_name.to_string(),
            days,
        })
    }

    /// Whether `at` falls inside its local weekday's range. Local wall-clock time decides, so a
    /// range keeps its local meaning across DST changes: a wall-clock minute that happens twice
    /// is open both times when inside the range, and one skipped by a spring-forward never is.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = self.timezone.to_datetime(at);
        let day = usize::from(local.weekday().to_monday_zero_offset().unsigned_abs());
        let time = local.time();
        let second_of_day = u32::from(time.hour().unsigned_abs()) * 3600
            + u32::from(time.minute().unsigned_abs()) * 60
            + u32::from(time.second().unsigned_abs());
        self.days
            .get(day)
            .copied()
            .flatten()
            .is_some_and(|range| range.contains(second_of_day))
    }

    /// The configured zone name.
    pub fn timezone(&self) -> &str {
        &self.timezone_name
    }

    /// One line for `check` and the logs, runs of equal days grouped:
    /// `America/New_York: mon-fri 09:00-17:00, sat-sun closed`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        let mut first = 0;
        while first < self.days.len() {
            let mut last = first;
            while last + 1 < self.days.len() && self.days[last + 1] == self.days[first] {
                last += 1;
            }
            let days = if first == last {
                DAY_KEYS[first].to_string()
            } else {
                format!("{}-{}", DAY_KEYS[first], DAY_KEYS[last])
            };
            let hours = self.days[first].map_or("closed".to_string(), |r| r.to_string());
            parts.push(format!("{days} {hours}"));
            first = last + 1;
        }
        format!("{}: {}", self.timezone_name, parts.join(", "))
    }
}

/// Where "now" comes from: the system clock in production, a fixed instant in tests, so that
/// time-dependent behaviour is tested at chosen instants without sleeping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Clock {
    #[default]
    System,
    Fixed(Timestamp),
}

impl Clock {
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Fixed(at) => *at,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(timezone: &str, days: [&str; 7]) -> BusinessHoursSettings {
        let [mon, tue, wed, thu, fri, sat, sun] = days.map(|d| Some(d.to_string()));
        BusinessHoursSettings {
            timezone: Some(timezone.to_string()),
            mon,
            tue,
            wed,
            thu,
            fri,
            sat,
            sun,
        }
    }

    fn hours(timezone: &str, days: [&str; 7]) -> BusinessHours {
        BusinessHours::from_settings(&settings(timezone, days)).expect("valid business hours")
    }

    fn error(timezone: &str, days: [&str; 7]) -> HoursError {
        BusinessHours::from_settings(&settings(timezone, days)).expect_err("invalid hours")
    }

    fn at(instant: &str) -> Timestamp {
        instant.parse().expect("an RFC 3339 instant")
    }

    const OFFICE: [&str; 7] = [
        "09:00-17:00",
        "09:00-17:00",
        "09:00-17:00",
        "09:00-17:00",
        "09:00-17:00",
        "",
        "",
    ];

    #[test]
    fn each_weekday_is_read_from_its_own_key() {
        // Day i (Monday = 0) opens at hour i+1 for one hour; the week of 2026-01-05 starts on a
        // Monday.
        let week = hours(
            "UTC",
            [
                "01:00-02:00",
                "02:00-03:00",
                "03:00-04:00",
                "04:00-05:00",
                "05:00-06:00",
                "06:00-07:00",
                "07:00-08:00",
            ],
        );
        for day in 0..7u32 {
            let date = 5 + day;
            let own_hour = day + 1;
            assert!(
                week.is_open(at(&format!("2026-01-{date:02}T{own_hour:02}:30:00Z"))),
                "{} at its own hour",
                DAY_KEYS[day as usize]
            );
            for other in (1..=7u32).filter(|h| *h != own_hour) {
                assert!(
                    !week.is_open(at(&format!("2026-01-{date:02}T{other:02}:30:00Z"))),
                    "{} at {other}:30, another day's hour",
                    DAY_KEYS[day as usize]
                );
            }
        }
    }

    #[test]
    fn the_weekday_is_the_local_one_not_utcs() {
        let late_monday = hours(
            "America/New_York",
            ["20:00-24:00", "", "", "", "", "", "00:00-24:00"],
        );
        // Monday 23:30 in New York is Tuesday 04:30 UTC.
        assert!(late_monday.is_open(at("2026-01-06T04:30:00Z")));
        // Tuesday 00:30 in New York: Tuesday is closed.
        assert!(!late_monday.is_open(at("2026-01-06T05:30:00Z")));
        // Sunday 23:00 in New York is Monday 04:00 UTC: Sunday's range applies.
        assert!(late_monday.is_open(at("2026-01-05T04:00:00Z")));
    }

    #[test]
    fn a_closed_day_is_closed_all_day_whether_empty_or_absent() {
        let mut raw = settings("UTC", OFFICE);
        raw.sat = None;
        raw.wed = Some("  ".to_string());
        let week = BusinessHours::from_settings(&raw).unwrap();
        for instant in [
            "2026-01-07T12:00:00Z", // Wednesday, ""
            "2026-01-10T12:00:00Z", // Saturday, absent
            "2026-01-11T00:00:00Z", // Sunday, ""
            "2026-01-11T23:59:59Z",
        ] {
            assert!(!week.is_open(at(instant)), "{instant}");
        }
        assert!(week.is_open(at("2026-01-08T12:00:00Z")), "Thursday is open");
    }

    #[test]
    fn the_opening_minute_is_open_and_the_closing_minute_is_closed() {
        let week = hours("UTC", OFFICE);
        assert!(!week.is_open(at("2026-01-05T08:59:59Z")));
        assert!(week.is_open(at("2026-01-05T09:00:00Z")));
        assert!(week.is_open(at("2026-01-05T16:59:59Z")));
        assert!(!week.is_open(at("2026-01-05T17:00:00Z")));
    }

    #[test]
    fn zero_to_twenty_four_is_the_whole_day_and_ends_at_midnight() {
        let mondays = hours("UTC", ["00:00-24:00", "", "", "", "", "", ""]);
        assert!(mondays.is_open(at("2026-01-05T00:00:00Z")));
        assert!(mondays.is_open(at("2026-01-05T23:59:59Z")));
        assert!(!mondays.is_open(at("2026-01-06T00:00:00Z")));
        assert!(!mondays.is_open(at("2026-01-04T23:59:59Z")));
    }

    #[test]
    fn new_york_spring_forward_skips_the_missing_hour_and_keeps_local_edges() {
        // Sunday 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC).
        let sundays = hours("America/New_York", ["", "", "", "", "", "", "01:00-04:00"]);
        assert!(!sundays.is_open(at("2026-03-08T05:59:59Z")), "00:59:59 EST");
        assert!(sundays.is_open(at("2026-03-08T06:00:00Z")), "01:00 EST");
        assert!(sundays.is_open(at("2026-03-08T06:59:59Z")), "01:59:59 EST");
        assert!(sundays.is_open(at("2026-03-08T07:00:00Z")), "03:00 EDT");
        assert!(sundays.is_open(at("2026-03-08T07:59:59Z")), "03:59:59 EDT");
        assert!(!sundays.is_open(at("2026-03-08T08:00:00Z")), "04:00 EDT");

        let in_the_gap = hours("America/New_York", ["", "", "", "", "", "", "02:00-03:00"]);
        assert!(
            !in_the_gap.is_open(at("2026-03-08T06:59:59Z")),
            "01:59:59 EST"
        );
        assert!(!in_the_gap.is_open(at("2026-03-08T07:00:00Z")), "03:00 EDT");
        // The week after, the same range is an ordinary hour.
        assert!(in_the_gap.is_open(at("2026-03-15T06:30:00Z")), "02:30 EDT");
    }

    #[test]
    fn new_york_fall_back_opens_a_repeated_minute_both_times() {
        // Sunday 2026-11-01: 02:00 EDT falls back to 01:00 EST (06:00 UTC); 01:30 happens twice.
        let sundays = hours("America/New_York", ["", "", "", "", "", "", "01:00-02:00"]);
        assert!(!sundays.is_open(at("2026-11-01T04:59:59Z")), "00:59:59 EDT");
        assert!(sundays.is_open(at("2026-11-01T05:30:00Z")), "01:30 EDT");
        assert!(sundays.is_open(at("2026-11-01T06:30:00Z")), "01:30 EST");
        assert!(!sundays.is_open(at("2026-11-01T07:00:00Z")), "02:00 EST");

        let after = hours("America/New_York", ["", "", "", "", "", "", "02:00-03:00"]);
        assert!(!after.is_open(at("2026-11-01T06:59:59Z")), "01:59:59 EST");
        assert!(after.is_open(at("2026-11-01T07:00:00Z")), "02:00 EST");
    }

    #[test]
    fn paris_ranges_keep_their_local_time_across_the_change() {
        let week = hours(
            "Europe/Paris",
            [
                "09:00-17:00",
                "09:00-17:00",
                "09:00-17:00",
                "09:00-17:00",
                "09:00-17:00",
                "",
                "01:00-04:00",
            ],
        );
        // Monday 2026-03-23, CET (UTC+1): opens at 08:00 UTC.
        assert!(!week.is_open(at("2026-03-23T07:59:59Z")));
        assert!(week.is_open(at("2026-03-23T08:00:00Z")));
        assert!(!week.is_open(at("2026-03-23T16:00:00Z")));
        // Sunday 2026-03-29: 02:00 CET jumps to 03:00 CEST (01:00 UTC), inside the range.
        assert!(!week.is_open(at("2026-03-28T23:59:59Z")), "00:59:59 CET");
        assert!(week.is_open(at("2026-03-29T00:59:59Z")), "01:59:59 CET");
        assert!(week.is_open(at("2026-03-29T01:00:00Z")), "03:00 CEST");
        assert!(!week.is_open(at("2026-03-29T02:00:00Z")), "04:00 CEST");
        // Monday 2026-03-30, CEST (UTC+2): opens at 07:00 UTC, closes at 15:00 UTC.
        assert!(!week.is_open(at("2026-03-30T06:59:59Z")));
        assert!(week.is_open(at("2026-03-30T07:00:00Z")));
        assert!(week.is_open(at("2026-03-30T14:59:59Z")));
        assert!(!week.is_open(at("2026-03-30T15:00:00Z")));
        // Sunday 2026-10-25: 03:00 CEST falls back to 02:00 CET (01:00 UTC), inside the range.
        assert!(week.is_open(at("2026-10-24T23:00:00Z")), "01:00 CEST");
        assert!(week.is_open(at("2026-10-25T00:30:00Z")), "02:30 CEST");
        assert!(week.is_open(at("2026-10-25T01:30:00Z")), "02:30 CET");
        assert!(!week.is_open(at("2026-10-25T03:00:00Z")), "04:00 CET");
    }

    #[test]
    fn a_bad_range_is_rejected_with_its_weekday_key_named() {
        let cases = [
            ("closed", RangeProblem::NotARange),
            ("9-17", RangeProblem::BadTime("9".to_string())),
            ("09:00-17", RangeProblem::BadTime("17".to_string())),
            ("25:00-26:00", RangeProblem::BadTime("25:00".to_string())),
            ("09:60-17:00", RangeProblem::BadTime("09:60".to_string())),
            ("09:5-17:00", RangeProblem::BadTime("09:5".to_string())),
            ("+9:00-17:00", RangeProblem::BadTime("+9:00".to_string())),
            ("24:00-24:00", RangeProblem::BadTime("24:00".to_string())),
            ("09:00-24:01", RangeProblem::BadTime("24:01".to_string())),
            ("09:00--17:00", RangeProblem::BadTime("-17:00".to_string())),
            ("09:00-12:00,13:00-17:00", RangeProblem::MultipleRanges),
            ("09:00-09:00", RangeProblem::Empty),
            ("22:00-02:00", RangeProblem::Overnight),
        ];
        for (value, expected) in cases {
            let mut days = OFFICE;
            days[1] = value;
            let err = error("UTC", days);
            assert_eq!(err.key, "business_hours.tue", "{value}");
            assert_eq!(
                err.problem,
                HoursProblem::BadRange {
                    value: value.to_string(),
                    problem: expected
                },
                "{value}"
            );
            assert!(
                err.to_string().starts_with("`business_hours.tue` "),
                "{err}"
            );
        }
    }

    #[test]
    fn spaces_around_a_range_and_single_digit_hours_are_accepted() {
        let week = hours("UTC", [" 9:00 - 17:00 ", "", "", "", "", "", ""]);
        assert!(week.is_open(at("2026-01-05T09:00:00Z")));
        assert!(!week.is_open(at("2026-01-05T17:00:00Z")));
    }

    #[test]
    fn the_first_bad_weekday_in_week_order_is_the_one_named() {
        let err = error(
            "UTC",
            ["09:00-17:00", "", "", "", "nine to five", "", "22:00-06:00"],
        );
        assert_eq!(err.key, "business_hours.fri");
    }

    #[test]
    fn an_unknown_or_missing_zone_is_rejected_naming_the_timezone_key() {
        for zone in [
            "Mars/Olympus_Mons",
            "EST5EDT-ish",
            "+05:00",
            "../../etc/passwd",
        ] {
            let err = error(zone, OFFICE);
            assert_eq!(err.key, "business_hours.timezone", "{zone}");
            assert_eq!(err.problem, HoursProblem::UnknownTimezone(zone.to_string()));
            assert!(err.to_string().contains("business_hours.timezone"), "{err}");
        }
        for zone in [None, Some(String::new()), Some(" ".to_string())] {
            let mut raw = settings("UTC", OFFICE);
            raw.timezone = zone;
            let err = BusinessHours::from_settings(&raw).unwrap_err();
            assert_eq!(err.key, "business_hours.timezone");
            assert_eq!(err.problem, HoursProblem::MissingTimezone);
        }
    }

    #[test]
    fn a_section_with_no_open_day_is_rejected() {
        let err = error("UTC", [""; 7]);
        assert_eq!(err.key, "business_hours");
        assert_eq!(err.problem, HoursProblem::NoOpenDay);
    }

    #[test]
    fn zone_names_come_from_the_bundled_database() {
        for zone in ["America/New_York", "Europe/Paris", "Asia/Kolkata", "UTC"] {
            assert_eq!(hours(zone, OFFICE).timezone(), zone);
        }
    }

    #[test]
    fn the_section_deserializes_and_refuses_unknown_keys() {
        let raw: BusinessHoursSettings = serde_json::from_value(serde_json::json!({
            "timezone": "Europe/Paris",
            "mon": "09:00-17:00",
        }))
        .unwrap();
        assert_eq!(raw.timezone.as_deref(), Some("Europe/Paris"));
        assert_eq!(raw.mon.as_deref(), Some("09:00-17:00"));
        assert_eq!(raw.tue, None);

        let typo = serde_json::from_value::<BusinessHoursSettings>(serde_json::json!({
            "timezone": "Europe/Paris",
            "monday": "09:00-17:00",
        }))
        .unwrap_err();
        assert!(typo.to_string().contains("monday"), "{typo}");
    }

    #[test]
    fn describe_groups_equal_days_in_one_line() {
        assert_eq!(
            hours("America/New_York", OFFICE).describe(),
            "America/New_York: mon-fri 09:00-17:00, sat-sun closed"
        );
        assert_eq!(
            hours(
                "Europe/Paris",
                ["9:00-17:00", "", "", "", "", "10:00-14:00", "00:00-24:00"]
            )
            .describe(),
            "Europe/Paris: mon 09:00-17:00, tue-fri closed, sat 10:00-14:00, sun 00:00-24:00"
        );
    }

    #[test]
    fn a_fixed_clock_gives_its_instant_and_the_system_clock_the_present() {
        let instant = at("2026-11-01T06:30:00Z");
        assert_eq!(Clock::Fixed(instant).now(), instant);
        let before = Timestamp::now();
        let now = Clock::System.now();
        assert!(now >= before && now <= Timestamp::now());
        assert_eq!(Clock::default(), Clock::System);
    }
}
