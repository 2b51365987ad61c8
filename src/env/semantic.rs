//! Checks the schema cannot express: Regions that repeat or span partitions, instance
//! classes Aurora global databases refuse, version rules, prefixes that overlap, subnets
//! listed twice; and, from their own modules, MySQL's reserved names and AWS's tag rules.
//!
//! They read the parsed value rather than the typed one, so they still run (and every
//! problem is reported at once) when another part of the file breaks the schema; a value
//! of the wrong type is skipped here because the schema check reports it.

use serde_json::Value;

use super::locate::FieldPath;
use super::Problem;
use super::{alerts, mysql, regions, schedule, tags};

pub fn check(value: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    let regions = region_entries(value);
    check_regions(&regions, &mut problems);
    check_subnets(&regions, &mut problems);
    check_instances(value, &regions, &mut problems);
    check_engine_version(value, &regions, &mut problems);
    check_prefixes(value, &mut problems);
    check_schedule(value, &mut problems);
    let codes: Vec<&str> = regions.iter().filter_map(RegionEntry::code).collect();
    problems.extend(alerts::check(value, &codes));
    problems.extend(mysql::check(value));
    problems.extend(tags::check(value));
    problems
}

/// One entry of `regions`: its path and its settings.
struct RegionEntry<'v> {
    path: FieldPath,
    settings: &'v Value,
}

impl RegionEntry<'_> {
    fn code(&self) -> Option<&str> {
        self.settings.get("region").and_then(Value::as_str)
    }
}

fn region_entries(value: &Value) -> Vec<RegionEntry<'_>> {
    let regions_path = FieldPath::root().key("regions");
    let mut entries = Vec::new();
    if let Some(primary) = value.pointer("/regions/primary").filter(|v| v.is_object()) {
        entries.push(RegionEntry {
            path: regions_path.key("primary"),
            settings: primary,
        });
    }
    if let Some(secondaries) = value
        .pointer("/regions/secondary")
        .and_then(Value::as_array)
    {
        for (index, settings) in secondaries
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_object())
        {
            entries.push(RegionEntry {
                path: regions_path.key("secondary").index(index),
                settings,
            });
        }
    }
    entries
}

fn is_primary(entry: &RegionEntry) -> bool {
    entry.path.last_key() == Some("primary")
}

fn check_regions(entries: &[RegionEntry], problems: &mut Vec<Problem>) {
    for (position, entry) in entries.iter().enumerate() {
        let Some(code) = entry.code() else { continue };
        let earlier = entries[..position]
            .iter()
            .find(|other| other.code() == Some(code));
        if let Some(earlier) = earlier {
            let message = if is_primary(earlier) {
                format!("{code} is the primary Region; it cannot also be a secondary")
            } else {
                format!(
                    "{code} is listed twice (also at {})",
                    earlier.path.key("region")
                )
            };
            let mut problem = Problem::at_value(entry.path.key("region"), message);
            problem.hint =
                Some("each Region holds at most one cluster of the global database".into());
            problems.push(problem);
        }
    }
    // A global database lives in one partition (aws, aws-cn or aws-us-gov).
    let primary_partition = entries
        .iter()
        .find(|entry| is_primary(entry))
        .and_then(|entry| Some((entry.code()?, regions::partition(entry.code()?)?)));
    if let Some((primary_code, primary_partition)) = primary_partition {
        for entry in entries.iter().filter(|entry| !is_primary(entry)) {
            let Some(code) = entry.code() else { continue };
            match regions::partition(code) {
                Some(partition) if partition != primary_partition => {
                    problems.push(Problem::at_value(
                        entry.path.key("region"),
                        format!(
                            "{code} is in the {partition} partition but the primary {primary_code} is in {primary_partition}; a global database cannot span partitions"
                        ),
                    ));
                }
                _ => {}
            }
        }
    }
}

/// A subnet listed twice: the DB subnet group and the functions' VPC settings take each
/// subnet once, and two entries that are one subnet span one Availability Zone, where RDS
/// needs two.
fn check_subnets(entries: &[RegionEntry], problems: &mut Vec<Problem>) {
    for entry in entries {
        let Some(subnets) = entry.settings.get("subnet_ids").and_then(Value::as_array) else {
            continue;
        };
        let path = entry.path.key("subnet_ids");
        for (index, subnet) in subnets.iter().enumerate() {
            let Some(id) = subnet.as_str() else { continue };
            if let Some(first) = subnets[..index].iter().position(|s| s.as_str() == Some(id)) {
                problems.push(Problem::at_value(
                    path.index(index),
                    format!("{id} is listed twice (also at {})", path.index(first)),
                ));
            }
        }
    }
}

fn check_instances(value: &Value, entries: &[RegionEntry], problems: &mut Vec<Problem>) {
    for entry in entries {
        let class = entry.settings.get("instance_class").and_then(Value::as_str);
        if let Some(class) =
            class.filter(|class| class.starts_with("db.") && !is_memory_optimised(class))
        {
            let mut problem = Problem::at_value(
                entry.path.key("instance_class"),
                format!("{class} is not memory-optimised; Aurora global databases need a db.r* or db.x2g* instance class"),
            );
            problem.hint = Some("for example db.r6g.large (Graviton) or db.r7i.large".into());
            problems.push(problem);
        }
    }
    // Every secondary takes one of the primary cluster's 15 replica slots.
    let secondaries = value
        .pointer("/regions/secondary")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let primary_count = value
        .pointer("/regions/primary/instance_count")
        .and_then(Value::as_u64);
    let limit = 16u64.saturating_sub(secondaries as u64);
    if let Some(count) = primary_count.filter(|count| *count > limit && *count <= 16) {
        problems.push(Problem::at_value(
            FieldPath::root().key("regions").key("primary").key("instance_count"),
            format!(
                "the primary can have at most {limit} instances with {secondaries} secondary Regions (each secondary takes one of its replica slots); found {count}"
            ),
        ));
    }
}

/// Memory-optimised classes: db.r5.large, db.r6g.xlarge, db.r7i.2xlarge, db.x2g.large, ...
fn is_memory_optimised(class: &str) -> bool {
    let family = class.split('.').nth(1).unwrap_or_default();
    let mut chars = family.chars();
    match chars.next() {
        Some('r') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        Some('x') => family.starts_with("x2"),
        _ => false,
    }
}

fn check_engine_version(value: &Value, entries: &[RegionEntry], problems: &mut Vec<Problem>) {
    let Some(version) = value
        .pointer("/database/engine_version")
        .and_then(Value::as_str)
    else {
        return;
    };
    let Some(parsed) = AuroraVersion::parse(version) else {
        return; // the schema's pattern reports it
    };
    let path = FieldPath::root().key("database").key("engine_version");
    let expected_mysql = match parsed.aurora_major {
        2 => Some("5.7"),
        3 => Some("8.0"),
        _ => None,
    };
    match expected_mysql {
        None => {
            let mut problem = Problem::at_value(
                path,
                format!("Aurora MySQL {} is not supported; global write forwarding needs Aurora MySQL 2 or 3", parsed.aurora_major),
            );
            problem.hint =
                Some("use an Aurora MySQL 3 version such as 8.0.mysql_aurora.3.08.2".into());
            problems.push(problem);
        }
        Some(mysql) if mysql != parsed.mysql => {
            problems.push(Problem::at_value(
                path,
                format!(
                    "Aurora MySQL {} is compatible with MySQL {mysql}, so the version must start with {mysql}, not {}",
                    parsed.aurora_major, parsed.mysql
                ),
            ));
        }
        Some(_) => {
            // Global write forwarding arrived in Aurora MySQL 2.08.1.
            let forwarding = entries.iter().any(|entry| {
                entry
                    .settings
                    .pointer("/write_forwarding/enabled")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            });
            if forwarding && parsed.aurora_major == 2 && (parsed.minor, parsed.patch) < (8, 1) {
                let mut problem = Problem::at_value(
                    path,
                    format!("{version} has no global write forwarding; it needs Aurora MySQL 2.08.1 or later"),
                );
                problem.hint = Some(
                    "upgrade the version, or turn write_forwarding off in every Region".into(),
                );
                problems.push(problem);
            }
        }
    }
}

/// `8.0.mysql_aurora.3.08.2` → MySQL `8.0`, Aurora 3, minor 8, patch 2.
struct AuroraVersion<'v> {
    mysql: &'v str,
    aurora_major: u32,
    minor: u32,
    patch: u32,
}

impl<'v> AuroraVersion<'v> {
    fn parse(version: &'v str) -> Option<Self> {
        let (mysql, aurora) = version.split_once(".mysql_aurora.")?;
        let mut numbers = aurora.split('.').map(|part| part.parse::<u32>().ok());
        Some(AuroraVersion {
            mysql,
            aurora_major: numbers.next()??,
            minor: numbers.next()??,
            patch: numbers.next()??,
        })
    }
}

fn check_prefixes(value: &Value, problems: &mut Vec<Problem>) {
    let names = [
        "pending_prefix",
        "completed_prefix",
        "failed_prefix",
        "reports_prefix",
    ];
    let defaults = [
        "book-reviews/reviews/",
        "book-reviews/completed/",
        "book-reviews/failed/",
        "book-reviews/reports/",
    ];
    let prefixes: Vec<(&str, &str)> = names
        .iter()
        .zip(defaults)
        .map(|(name, default)| {
            let set = value
                .pointer(&format!("/pipeline/{name}"))
                .and_then(Value::as_str);
            (*name, set.unwrap_or(default))
        })
        .collect();
    for (position, (name, prefix)) in prefixes.iter().enumerate() {
        for (other_name, other) in &prefixes[..position] {
            if prefix.starts_with(other) || other.starts_with(prefix) {
                let mut problem = Problem::at_value(
                    FieldPath::root().key("pipeline").key(name),
                    if *name == "reports_prefix" {
                        format!("{prefix} overlaps {other_name} ({other}); reports would be taken for review files")
                    } else {
                        format!("{prefix} overlaps {other_name} ({other}); a moved file would be listed again")
                    },
                );
                problem.hint = Some(
                    "give pending, completed and failed files and the reports separate prefixes"
                        .into(),
                );
                problems.push(problem);
            }
        }
    }
}

/// The schedule's expression and time zone, as EventBridge Scheduler would take them
/// (CreateSchedule: `ScheduleExpression`, `ScheduleExpressionTimezone`).
fn check_schedule(value: &Value, problems: &mut Vec<Problem>) {
    let path = FieldPath::root().key("pipeline").key("schedule");
    if let Some(expression) = value
        .pointer("/pipeline/schedule/expression")
        .and_then(Value::as_str)
    {
        if let Err(message) = schedule::parse(expression) {
            problems.push(Problem::at_value(path.key("expression"), message));
        }
    }
    if let Some(zone) = value
        .pointer("/pipeline/schedule/timezone")
        .and_then(Value::as_str)
    {
        if schedule::time_zone(zone).is_none() {
            let mut problem = Problem::at_value(
                path.key("timezone"),
                format!("{zone} is not an IANA time zone name"),
            );
            problem.hint = Some(match schedule::closest_time_zone(zone) {
                Some(name) => format!("did you mean {name}?"),
                None => "a name such as Europe/Paris, America/New_York or UTC".into(),
            });
            problems.push(problem);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_optimised_classes() {
        for class in [
            "db.r5.large",
            "db.r6g.xlarge",
            "db.r7i.2xlarge",
            "db.r8g.large",
            "db.x2g.large",
        ] {
            assert!(is_memory_optimised(class), "{class}");
        }
        for class in [
            "db.t3.medium",
            "db.t4g.medium",
            "db.m5.large",
            "db.rx.large",
            "db.serverless",
        ] {
            assert!(!is_memory_optimised(class), "{class}");
        }
    }
}
