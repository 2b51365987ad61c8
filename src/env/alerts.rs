//! The `alerts` section, as SNS and CloudWatch would take it: subscriptions or existing
//! topics (not both, not neither), one existing topic per Region of the environment and in
//! that Region, no address twice, no credentials in an HTTPS address.
//!
//! An alarm notifies only a topic in its own Region: CloudWatch refuses any other with
//! `ValidationError: Invalid region <topic's Region> specified. Only <alarm's Region> is
//! supported.` (PutMetricAlarm; the AlarmActions it accepts are
//! `arn:aws:sns:region:account-id:sns-topic-name`, CloudWatch API reference).

use serde_json::Value;

use super::locate::FieldPath;
use super::{regions, Problem};

/// `regions`: the environment's Region codes, the primary first.
pub fn check(value: &Value, regions: &[&str]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let Some(alerts) = value.get("alerts").filter(|v| v.is_object()) else {
        return problems;
    };
    let path = FieldPath::root().key("alerts");
    let list = |name: &str| {
        alerts
            .get(name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_str).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    let (email, https) = (list("email"), list("https"));
    let topics = alerts.get("topics").and_then(Value::as_object);
    let has_topics = topics.is_some_and(|t| !t.is_empty());

    if has_topics && (!email.is_empty() || !https.is_empty()) {
        let mut problem = Problem::at_key(
            path.key("topics"),
            "alerts takes either subscriptions (email, https) or existing topics, not both",
        );
        problem.hint = Some(
            "subscribe the addresses to your own topics, or drop topics and let deploy create one per Region"
                .into(),
        );
        problems.push(problem);
    } else if !has_topics && email.is_empty() && https.is_empty() {
        let mut problem = Problem::at_key(path.clone(), "alerts names nobody to notify");
        problem.hint = Some(
            "add an address under email or https, or existing topics under topics; or remove alerts"
                .into(),
        );
        problems.push(problem);
    }

    for (name, items) in [("email", &email), ("https", &https)] {
        for (index, item) in items.iter().enumerate() {
            if items[..index].contains(item) {
                problems.push(Problem::at_value(
                    path.key(name).index(index),
                    format!("{item} is listed twice"),
                ));
            }
        }
    }
    for (index, url) in https.iter().enumerate() {
        let authority = url
            .strip_prefix("https://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_default();
        if authority.contains('@') {
            let mut problem = Problem::at_value(
                path.key("https").index(index),
                "this address carries credentials, which would be written into the templates",
            );
            problem.hint =
                Some("subscribe it to a topic of your own and name that topic under topics".into());
            problems.push(problem);
        }
    }

    if let Some(topics) = topics.filter(|_| has_topics) {
        check_topics(regions, topics, &path.key("topics"), &mut problems);
    }
    problems
}

/// One topic per Region of the environment, each in its Region and partition.
fn check_topics(
    environment_regions: &[&str],
    topics: &serde_json::Map<String, Value>,
    path: &FieldPath,
    problems: &mut Vec<Problem>,
) {
    for (region, arn) in topics {
        let entry = path.key(region);
        if !environment_regions.contains(&region.as_str()) {
            problems.push(Problem::at_key(
                entry.clone(),
                format!(
                    "{region} is not a Region of this environment ({})",
                    environment_regions.join(", ")
                ),
            ));
            continue;
        }
        let Some(arn) = arn.as_str() else { continue };
        // arn:partition:sns:region:account:name; the schema checks the shape.
        let fields: Vec<&str> = arn.split(':').collect();
        let (Some(partition), Some(topic_region)) = (fields.get(1), fields.get(3)) else {
            continue;
        };
        if topic_region != region {
            let mut problem = Problem::at_value(
                entry,
                format!(
                    "this topic is in {topic_region}, but the alarms in {region} can only notify a topic in {region}"
                ),
            );
            problem.hint = Some(format!(
                "name a topic in {region}, arn:{partition}:sns:{region}:…"
            ));
            problems.push(problem);
        } else if regions::partition(region).is_some_and(|expected| expected != *partition) {
            problems.push(Problem::at_value(
                entry,
                format!(
                    "{region} is in the {} partition; this ARN says {partition}",
                    regions::partition(region).unwrap_or_default()
                ),
            ));
        }
    }
    for region in environment_regions {
        if !topics.contains_key(*region) {
            let mut problem = Problem::at_key(
                path.clone(),
                format!("no topic for {region}: every Region's alarms need one in that Region"),
            );
            problem.hint = Some(format!("add `{region}: arn:…:sns:{region}:…`"));
            problems.push(problem);
        }
    }
}
