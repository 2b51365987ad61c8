//! EventBridge Scheduler's schedule expressions, checked offline as Scheduler checks them,
//! and the next time a recurring one runs (for `deploy status`: Scheduler's API does not
//! say).
//!
//! The forms are those of `ScheduleExpression` (EventBridge Scheduler API reference,
//! CreateSchedule; user guide, "Schedule types in EventBridge Scheduler"):
//! - `at(yyyy-mm-ddThh:mm:ss)`, once;
//! - `rate(value unit)`: a positive whole number and `minute(s)`, `hour(s)` or `day(s)`,
//!   the unit singular for 1 and plural otherwise;
//! - `cron(minutes hours day-of-month month day-of-week year)`: six fields, with `, - * /`
//!   everywhere, `?` `L` `W` in day-of-month, `?` `L` `#` in day-of-week, and `?` in
//!   exactly one of those two (a value or `*` in one means `?` in the other).
//!
//! Each is evaluated in `ScheduleExpressionTimezone`, an IANA time zone name.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expression {
    At(NaiveDateTime),
    Rate { value: u32, unit: RateUnit },
    Cron(Box<Cron>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateUnit {
    Minute,
    Hour,
    Day,
}

impl RateUnit {
    pub fn seconds(self) -> i64 {
        match self {
            RateUnit::Minute => 60,
            RateUnit::Hour => 3600,
            RateUnit::Day => 86_400,
        }
    }
}

/// `cron(...)`'s six fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Cron {
    minutes: Vec<bool>,
    hours: Vec<bool>,
    day_of_month: DayOfMonth,
    months: Vec<bool>,
    day_of_week: DayOfWeek,
    /// Index 0 is 1970.
    years: Vec<bool>,
}

#[derive(Debug, Clone, PartialEq)]
enum DayOfMonth {
    /// `?`
    Any,
    /// Days 1-31 (index 1..=31).
    Days(Vec<bool>),
    /// `L`: the last day of the month.
    Last,
    /// `nW`: the weekday nearest day n, within the month.
    NearestWeekday(u32),
    /// `LW`: the month's last weekday.
    LastWeekday,
}

#[derive(Debug, Clone, PartialEq)]
enum DayOfWeek {
    /// `?`
    Any,
    /// 1 (Sunday) to 7 (Saturday), index 1..=7.
    Days(Vec<bool>),
    /// `nL` (or `L`, Saturday): the month's last such day.
    Last(u32),
    /// `d#n`: the n-th such day of the month.
    Nth(u32, u32),
}

const FIELDS: [&str; 6] = [
    "minutes",
    "hours",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

/// Parses `expression` as Scheduler would, or says why Scheduler would refuse it.
pub fn parse(expression: &str) -> Result<Expression, String> {
    let inner = |kind: &str| {
        expression
            .strip_prefix(kind)
            .and_then(|rest| rest.strip_prefix('('))
            .and_then(|rest| rest.strip_suffix(')'))
    };
    if let Some(body) = inner("at") {
        return NaiveDateTime::parse_from_str(body, "%Y-%m-%dT%H:%M:%S")
            .map(Expression::At)
            .map_err(|_| {
                format!("at({body}) is not a date and time of the form at(yyyy-mm-ddThh:mm:ss)")
            });
    }
    if let Some(body) = inner("rate") {
        return parse_rate(body);
    }
    if let Some(body) = inner("cron") {
        return parse_cron(body).map(|cron| Expression::Cron(Box::new(cron)));
    }
    Err(format!(
        "{expression} is not a schedule expression; EventBridge Scheduler takes at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours day-of-month month day-of-week year)"
    ))
}

fn parse_rate(body: &str) -> Result<Expression, String> {
    let refused = || {
        format!("rate({body}) is not a rate; it takes a positive whole number and a unit: minute, minutes, hour, hours, day or days, as in rate(15 minutes)")
    };
    let parts: Vec<&str> = body.split(' ').collect();
    let [value, unit] = parts[..] else {
        return Err(refused());
    };
    let value: u32 = value
        .parse()
        .ok()
        .filter(|v| *v > 0 && value.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(refused)?;
    let (unit, plural) = match unit {
        "minute" => (RateUnit::Minute, false),
        "minutes" => (RateUnit::Minute, true),
        "hour" => (RateUnit::Hour, false),
        "hours" => (RateUnit::Hour, true),
        "day" => (RateUnit::Day, false),
        "days" => (RateUnit::Day, true),
        _ => return Err(refused()),
    };
    // "If the value is equal to 1, then the unit must be singular. If the value is greater
    // than 1, the unit must be plural" (user guide, "Schedule types", rate-based schedules).
    if plural != (value > 1) {
        let singular = match unit {
            RateUnit::Minute => "minute",
            RateUnit::Hour => "hour",
            RateUnit::Day => "day",
        };
        let wanted = if value > 1 {
            format!("{singular}s")
        } else {
            singular.to_string()
        };
        return Err(format!(
            "rate({body}): a value of {value} takes the unit {wanted}, as in rate({value} {wanted})"
        ));
    }
    Ok(Expression::Rate { value, unit })
}

fn parse_cron(body: &str) -> Result<Cron, String> {
    let fields: Vec<&str> = body.split_whitespace().collect();
    if fields.len() != 6 {
        return Err(format!(
            "cron({body}) has {} fields; EventBridge Scheduler takes six: minutes hours day-of-month month day-of-week year, as in cron(0 3 * * ? *)",
            fields.len()
        ));
    }
    let at = |index: usize, problem: String| format!("cron({body}): {}: {problem}", FIELDS[index]);
    let minutes = values(fields[0], 0, 59, &[], true).map_err(|p| at(0, p))?;
    let hours = values(fields[1], 0, 23, &[], true).map_err(|p| at(1, p))?;
    let months = values(fields[3], 1, 12, &MONTHS, true).map_err(|p| at(3, p))?;
    let years = values(fields[5], 1970, 2199, &[], true)
        .map_err(|p| at(5, p))?
        .split_off(1970);
    let day_of_month = match fields[2] {
        "?" => DayOfMonth::Any,
        "L" => DayOfMonth::Last,
        "LW" => DayOfMonth::LastWeekday,
        field if field.ends_with('W') => {
            let day = field[..field.len() - 1]
                .parse::<u32>()
                .ok()
                .filter(|d| (1..=31).contains(d))
                .ok_or_else(|| at(2, format!("{field} is not nW with n from 1 to 31")))?;
            DayOfMonth::NearestWeekday(day)
        }
        field => DayOfMonth::Days(values(field, 1, 31, &[], true).map_err(|p| at(2, p))?),
    };
    let day_of_week = match fields[4] {
        "?" => DayOfWeek::Any,
        "L" => DayOfWeek::Last(7),
        field if field.ends_with('L') => {
            DayOfWeek::Last(day_name(&field[..field.len() - 1]).ok_or_else(|| {
                at(
                    4,
                    format!("{field} is not dL with d from 1 to 7 or SUN to SAT"),
                )
            })?)
        }
        field if field.contains('#') => {
            let (day, nth) = field.split_once('#').unwrap_or_default();
            let day = day_name(day);
            let nth = nth.parse::<u32>().ok().filter(|n| (1..=5).contains(n));
            match (day, nth) {
                (Some(day), Some(nth)) => DayOfWeek::Nth(day, nth),
                _ => {
                    return Err(at(
                        4,
                        format!(
                            "{field} is not d#n with d from 1 to 7 or SUN to SAT and n from 1 to 5"
                        ),
                    ))
                }
            }
        }
        // No `/` here: AWS lists only `, - * ? L #` for day-of-week.
        field => DayOfWeek::Days(values(field, 1, 7, &DAYS, false).map_err(|p| at(4, p))?),
    };
    match (&day_of_month, &day_of_week) {
        (DayOfMonth::Any, DayOfWeek::Any) => {
            return Err(format!(
                "cron({body}): day-of-month and day-of-week are both ?; give one of them (* for every day) and ? in the other"
            ))
        }
        (DayOfMonth::Any, _) | (_, DayOfWeek::Any) => {}
        _ => {
            return Err(format!(
                "cron({body}): day-of-month and day-of-week cannot both be set; one of them must be ?, as in cron(0 3 * * ? *)"
            ))
        }
    }
    Ok(Cron {
        minutes,
        hours,
        day_of_month,
        months,
        day_of_week,
        years,
    })
}

fn day_name(text: &str) -> Option<u32> {
    if let Some(index) = DAYS.iter().position(|d| d.eq_ignore_ascii_case(text)) {
        return Some(index as u32 + 1);
    }
    text.parse().ok().filter(|d| (1..=7).contains(d))
}

/// One field of `, - * /` over `low..=high` (names count from `low`), as a table indexed
/// by value.
fn values(
    field: &str,
    low: u32,
    high: u32,
    names: &[&str],
    steps: bool,
) -> Result<Vec<bool>, String> {
    let mut set = vec![false; high as usize + 1];
    let number = |text: &str| -> Result<u32, String> {
        if let Some(index) = names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
            return Ok(low + index as u32);
        }
        let value: u32 = text
            .parse()
            .ok()
            .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("{text} is not a value"))?;
        if value < low || value > high {
            return Err(format!("{value} is out of range {low}-{high}"));
        }
        Ok(value)
    };
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some(_) if !steps => return Err(format!("{part}: / is not allowed here")),
            Some((range, step)) => {
                let step: u32 = step.parse().ok().filter(|s| *s > 0).ok_or_else(|| {
                    format!("{part}: the increment {step} is not a positive number")
                })?;
                (range, step)
            }
            None => (part, 1),
        };
        let (first, last) = if range == "*" {
            (low, high)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (number(a)?, number(b)?);
            if a > b {
                return Err(format!("{range}: the range runs backwards"));
            }
            (a, b)
        } else {
            let start = number(range)?;
            // `5/15` runs from 5 to the end of the field.
            (start, if part.contains('/') { high } else { start })
        };
        for value in (first..=last).step_by(step as usize) {
            set[value as usize] = true;
        }
    }
    Ok(set)
}

/// `name` is one of the IANA time zone names (the tz database, as `chrono-tz` ships it).
pub fn time_zone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// The IANA name closest to `name`, for a hint.
pub fn closest_time_zone(name: &str) -> Option<&'static str> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| {
            (
                strsim::jaro_winkler(&name.to_lowercase(), &tz.name().to_lowercase()),
                tz.name(),
            )
        })
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, name)| name)
}

impl Expression {
    /// The first run strictly after `after`, in `zone`. A rate schedule runs from its
    /// creation (`created`) on (user guide, "Rate-based schedules": "starts ... when you
    /// create it"); `None` when there is no later run (or none within ten years).
    pub fn next_run(
        &self,
        zone: Tz,
        after: DateTime<Utc>,
        created: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        match self {
            Expression::At(local) => {
                let at = zone
                    .from_local_datetime(local)
                    .earliest()?
                    .with_timezone(&Utc);
                (at > after).then_some(at)
            }
            Expression::Rate { value, unit } => {
                let period = i64::from(*value) * unit.seconds();
                let start = created.unwrap_or(after);
                if start > after {
                    return Some(start);
                }
                let elapsed = (after - start).num_seconds();
                Some(start + Duration::seconds((elapsed / period + 1) * period))
            }
            Expression::Cron(cron) => cron.next_run(zone, after),
        }
    }
}

impl Cron {
    fn next_run(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let start = after.with_timezone(&zone).date_naive();
        for offset in 0..(366 * 10) {
            let date = start + Duration::days(offset);
            let year = date.year() as usize;
            if year < 1970 || !self.years.get(year - 1970).copied().unwrap_or(false) {
                continue;
            }
            if !self.months[date.month() as usize] || !self.matches_day(date) {
                continue;
            }
            for hour in (0..24).filter(|h| self.hours[*h as usize]) {
                for minute in (0..60).filter(|m| self.minutes[*m as usize]) {
                    let local = date.and_hms_opt(hour, minute, 0)?;
                    // A local time that a daylight-saving change skips does not run; one it
                    // repeats runs once, at its first occurrence.
                    let Some(at) = zone.from_local_datetime(&local).earliest() else {
                        continue;
                    };
                    let at = at.with_timezone(&Utc);
                    if at > after {
                        return Some(at);
                    }
                }
            }
        }
        None
    }

    fn matches_day(&self, date: NaiveDate) -> bool {
        let last_day = last_day_of_month(date);
        let weekday = date.weekday().num_days_from_sunday() + 1; // 1 = Sunday
        let is_weekday = (2..=6).contains(&weekday);
        let day_of_month = match &self.day_of_month {
            DayOfMonth::Any => true,
            DayOfMonth::Days(days) => days[date.day() as usize],
            DayOfMonth::Last => date.day() == last_day,
            DayOfMonth::LastWeekday => {
                is_weekday && (date.day() + 1..=last_day).all(|d| !weekday_of(date, d))
            }
            DayOfMonth::NearestWeekday(n) => nearest_weekday(date, *n, last_day) == date.day(),
        };
        let day_of_week = match &self.day_of_week {
            DayOfWeek::Any => true,
            DayOfWeek::Days(days) => days[weekday as usize],
            DayOfWeek::Last(day) => weekday == *day && date.day() + 7 > last_day,
            DayOfWeek::Nth(day, nth) => weekday == *day && (date.day() - 1) / 7 + 1 == *nth,
        };
        day_of_month && day_of_week
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| date.with_day(*d).is_some())
        .unwrap_or(28)
}

/// Whether day `day` of `date`'s month is Monday to Friday.
fn weekday_of(date: NaiveDate, day: u32) -> bool {
    date.with_day(day)
        .map(|d| (1..=5).contains(&d.weekday().number_from_monday()))
        .unwrap_or(false)
}

/// The day of the month that `nW` runs on: day n if it is a weekday, else the nearest
/// weekday in the same month.
fn nearest_weekday(date: NaiveDate, n: u32, last_day: u32) -> u32 {
    let n = n.min(last_day);
    let Some(day) = date.with_day(n) else {
        return 0;
    };
    match day.weekday().number_from_monday() {
        6 if n == 1 => 3,            // Saturday the 1st: Monday the 3rd
        6 => n - 1,                  // Saturday: Friday
        7 if n == last_day => n - 2, // Sunday the last: Friday
        7 => n + 1,                  // Sunday: Monday
        _ => n,
    }
}

/// `DateTime` for people: `2026-03-29 03:00 CEST (01:00 UTC)`.
pub fn describe(at: DateTime<Utc>, zone: Tz) -> String {
    let local = at.with_timezone(&zone);
    if zone == Tz::UTC {
        return at.format("%Y-%m-%d %H:%M UTC").to_string();
    }
    format!(
        "{} ({:02}:{:02} UTC)",
        local.format("%Y-%m-%d %H:%M %Z"),
        at.hour(),
        at.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn next(expression: &str, zone: &str, after: &str) -> String {
        parse(expression)
            .unwrap()
            .next_run(time_zone(zone).unwrap(), utc(after), None)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    }

    #[test]
    fn cron_in_a_time_zone() {
        // 03:00 in Paris is 01:00 UTC in summer, 02:00 UTC in winter.
        assert_eq!(
            next("cron(0 3 * * ? *)", "Europe/Paris", "2026-07-01T12:00:00Z"),
            "2026-07-02T01:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 3 * * ? *)", "Europe/Paris", "2026-01-01T12:00:00Z"),
            "2026-01-02T02:00:00+00:00"
        );
        // Every 15 minutes on weekdays.
        assert_eq!(
            next("cron(0/15 * ? * MON-FRI *)", "UTC", "2026-05-01T10:07:00Z"),
            "2026-05-01T10:15:00+00:00"
        );
        // Friday 1 May 2026 at 23:50: the next weekday run is Monday.
        assert_eq!(
            next("cron(0/15 * ? * MON-FRI *)", "UTC", "2026-05-01T23:50:00Z"),
            "2026-05-04T00:00:00+00:00"
        );
        // The last day of February, the last Friday, the second Tuesday.
        assert_eq!(
            next("cron(0 0 L 2 ? *)", "UTC", "2026-01-01T00:00:00Z"),
            "2026-02-28T00:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 0 ? * 6L *)", "UTC", "2026-05-01T01:00:00Z"),
            "2026-05-29T00:00:00+00:00"
        );
        assert_eq!(
            next("cron(0 0 ? * 3#2 *)", "UTC", "2026-05-01T00:00:00Z"),
            "2026-05-12T00:00:00+00:00"
        );
        // 15W in August 2026: the 15th is a Saturday, so Friday the 14th.
        assert_eq!(
            next("cron(0 0 15W 8 ? *)", "UTC", "2026-08-01T00:00:00Z"),
            "2026-08-14T00:00:00+00:00"
        );
        // Only 2020: nothing later.
        assert_eq!(
            next("cron(0 0 * * ? 2020)", "UTC", "2026-01-01T00:00:00Z"),
            ""
        );
    }

    #[test]
    fn rate_counts_from_creation_and_at_runs_once() {
        let rate = parse("rate(2 hours)").unwrap();
        let zone = time_zone("UTC").unwrap();
        assert_eq!(
            rate.next_run(
                zone,
                utc("2026-05-01T05:30:00Z"),
                Some(utc("2026-05-01T00:10:00Z"))
            ),
            Some(utc("2026-05-01T06:10:00Z"))
        );
        assert_eq!(
            next(
                "at(2030-01-01T09:00:00)",
                "Asia/Tokyo",
                "2026-01-01T00:00:00Z"
            ),
            "2030-01-01T00:00:00+00:00"
        );
        assert_eq!(
            next("at(2020-01-01T09:00:00)", "UTC", "2026-01-01T00:00:00Z"),
            ""
        );
    }

    #[test]
    fn refusals() {
        for (expression, message) in [
            ("cron(0 3 * * ?)", "cron(0 3 * * ?) has 5 fields; EventBridge Scheduler takes six: minutes hours day-of-month month day-of-week year, as in cron(0 3 * * ? *)"),
            ("cron(0 3 * * * *)", "cron(0 3 * * * *): day-of-month and day-of-week cannot both be set; one of them must be ?, as in cron(0 3 * * ? *)"),
            ("cron(0 3 ? * ? *)", "cron(0 3 ? * ? *): day-of-month and day-of-week are both ?; give one of them (* for every day) and ? in the other"),
            ("cron(60 3 * * ? *)", "cron(60 3 * * ? *): minutes: 60 is out of range 0-59"),
            ("cron(0 3 * FOO ? *)", "cron(0 3 * FOO ? *): month: FOO is not a value"),
            ("cron(0 3 ? * 9#2 *)", "cron(0 3 ? * 9#2 *): day-of-week: 9#2 is not d#n with d from 1 to 7 or SUN to SAT and n from 1 to 5"),
            ("rate(1 minutes)", "rate(1 minutes): a value of 1 takes the unit minute, as in rate(1 minute)"),
            ("rate(5 hour)", "rate(5 hour): a value of 5 takes the unit hours, as in rate(5 hours)"),
            ("rate(0 days)", "rate(0 days) is not a rate; it takes a positive whole number and a unit: minute, minutes, hour, hours, day or days, as in rate(15 minutes)"),
            ("rate(5 weeks)", "rate(5 weeks) is not a rate; it takes a positive whole number and a unit: minute, minutes, hour, hours, day or days, as in rate(15 minutes)"),
            ("at(2026-13-01T00:00:00)", "at(2026-13-01T00:00:00) is not a date and time of the form at(yyyy-mm-ddThh:mm:ss)"),
            ("0 3 * * *", "0 3 * * * is not a schedule expression; EventBridge Scheduler takes at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(minutes hours day-of-month month day-of-week year)"),
        ] {
            assert_eq!(parse(expression).unwrap_err(), message, "{expression}");
        }
        for accepted in [
            "cron(0 3 * * ? *)",
            "cron(0/5 8-17 ? * MON-FRI *)",
            "cron(15 10 ? * 6L 2026-2030)",
            "cron(0 0 LW * ? *)",
            "cron(0,30 * 1,15 JAN,JUL ? *)",
            "rate(1 day)",
            "rate(15 minutes)",
            "at(2026-06-01T12:00:00)",
        ] {
            assert!(parse(accepted).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn time_zones() {
        assert!(time_zone("Europe/Paris").is_some());
        assert!(time_zone("UTC").is_some());
        assert!(time_zone("Europe/Pariss").is_none());
        assert!(time_zone("CEST").is_none());
        assert_eq!(closest_time_zone("Europe/Pariss"), Some("Europe/Paris"));
    }
}
