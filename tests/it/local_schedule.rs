//! What follows the writer, end to end against the local stand-in (`make local-up`): a
//! schedule with `runs_in: writer`, and the replication lag alarms. `deploy up` enables
//! the schedule only in the writer's Region and puts the lag alarms everywhere else, each
//! notifying its Region's alerts topic; `deploy switchover` moves both, a later `deploy up`
//! keeps them there, and `deploy status` shows each Region's schedule, next run and
//! alarms. Its environment is named `sched`, so its stacks and global cluster never meet
//! those of other tests on the same moto.
#![cfg(feature = "aws")]

use crate::common;

use common::{assert_moto_is_up, environment_named, json, succeed, text, up};
use deploy::aws::AwsContext;

async fn state(aws: &AwsContext, region: &str, name: &str) -> String {
    aws.scheduler(region)
        .get_schedule()
        .name(name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetSchedule {name} in {region}: {e:?}"))
        .state()
        .expect("a state")
        .as_str()
        .to_string()
}

/// The environment's alarms in `region`, by name, with the actions each notifies on ALARM.
async fn alarms(aws: &AwsContext, region: &str) -> Vec<(String, Vec<String>)> {
    let response = aws
        .cloudwatch(region)
        .describe_alarms()
        .alarm_name_prefix("book-reviews-sched-")
        .send()
        .await
        .unwrap_or_else(|e| panic!("DescribeAlarms in {region}: {e:?}"));
    let mut found: Vec<(String, Vec<String>)> = response
        .metric_alarms()
        .iter()
        .map(|alarm| {
            (
                alarm.alarm_name().unwrap().to_string(),
                alarm.alarm_actions().to_vec(),
            )
        })
        .collect();
    found.sort();
    found
}

/// The names of the alarms a Region has: the lag ones only where it replicates.
fn expected_alarms(region: &str, replicates: bool) -> Vec<(String, Vec<String>)> {
    let topic = format!("arn:aws:sns:{region}:123456789012:book-reviews-sched-alerts");
    let mut names = vec!["executions-failed", "files-failed"];
    if replicates {
        names.extend(["replication-lag", "replication-lag-missing"]);
    }
    let mut expected: Vec<(String, Vec<String>)> = names
        .into_iter()
        .map(|kind| {
            (
                format!("book-reviews-sched-{kind}-{region}"),
                vec![topic.clone()],
            )
        })
        .collect();
    expected.sort();
    expected
}

/// The status line of `region`'s schedule.
fn schedule_line(status: &str, region: &str) -> String {
    let section = status
        .split("\nschedule\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no schedule section in:\n{status}"));
    section
        .lines()
        .take_while(|line| !line.is_empty())
        .find(|line| line.trim_start().starts_with(region))
        .unwrap_or_else(|| panic!("no schedule line for {region} in:\n{status}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_schedule_and_the_lag_alarms_follow_the_writer_through_a_switchover_and_a_later_up() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "sched");
    let with_schedule = std::fs::read_to_string(&file).unwrap().replacen(
        "\npipeline:\n",
        "\npipeline:\n  schedule:\n    expression: cron(0 3 * * ? *)\n    timezone: Europe/Paris\n    runs_in: writer\n",
        1,
    );
    let with_alerts = format!(
        "{with_schedule}alerts:\n  email: [oncall@example.com]\n  https: [https://hooks.example.com/alerts]\n"
    );
    std::fs::write(&file, with_alerts).unwrap();
    let path = file.to_str().unwrap();
    let env = deploy::env::load(&file).unwrap();
    assert!(env.pipeline.schedule.is_some());
    assert_moto_is_up(&env);
    let aws = AwsContext::load(&env, None).await;
    let name = "book-reviews-sched-pipeline";

    succeed(&["destroy", path, "--yes"]);
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");

    // Only the writer's Region runs it; only the other watches its replication lag.
    assert_eq!(state(&aws, "us-east-1", name).await, "ENABLED");
    assert_eq!(state(&aws, "us-east-2", name).await, "DISABLED");
    assert_eq!(
        alarms(&aws, "us-east-1").await,
        expected_alarms("us-east-1", false)
    );
    assert_eq!(
        alarms(&aws, "us-east-2").await,
        expected_alarms("us-east-2", true)
    );
    let status = text(&succeed(&["status", path]).stdout);
    let line = schedule_line(&status, "us-east-1");
    assert!(
        line.starts_with(
            "  us-east-1       ENABLED    cron(0 3 * * ? *)        Europe/Paris       next run "
        ),
        "{line:?}"
    );
    // 03:00 in Paris: 01:00 UTC in summer, 02:00 UTC in winter.
    assert!(
        line.contains(" 03:00 CEST (01:00 UTC)") || line.contains(" 03:00 CET (02:00 UTC)"),
        "{line:?}"
    );
    assert_eq!(
        schedule_line(&status, "us-east-2"),
        "  us-east-2       DISABLED   cron(0 3 * * ? *)        Europe/Paris"
    );
    let status = json(&succeed(&["status", path, "--output", "json"]));
    assert_eq!(status["schedules"][0]["state"], "ENABLED", "{status:#}");
    assert!(status["schedules"][0]["next_run"].is_string(), "{status:#}");
    assert_eq!(status["schedules"][1]["next_run"], serde_json::Value::Null);
    let listed: Vec<(&str, &str)> = status["alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["region"].as_str().unwrap(), a["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [
            (
                "us-east-1",
                "book-reviews-sched-executions-failed-us-east-1"
            ),
            ("us-east-1", "book-reviews-sched-files-failed-us-east-1"),
            ("us-east-2", "book-reviews-sched-replication-lag-us-east-2"),
            (
                "us-east-2",
                "book-reviews-sched-replication-lag-missing-us-east-2"
            ),
            (
                "us-east-2",
                "book-reviews-sched-executions-failed-us-east-2"
            ),
            ("us-east-2", "book-reviews-sched-files-failed-us-east-2"),
        ],
        "{status:#}"
    );

    // The switchover moves them: the old writer's schedule disabled first, then the new
    // one's enabled; the lag alarms leave the new writer's Region for the old one.
    let output = succeed(&["switchover", path, "--to", "us-east-2", "--yes"]);
    let moved = text(&output.stdout);
    assert!(
        moved.contains(
            "\npipeline (follows the writer: replication lag alarms, schedule)\n  us-east-1       replica  schedule DISABLED  updated\n  us-east-2       writer   schedule ENABLED   updated\n"
        ),
        "{moved}"
    );
    assert_eq!(state(&aws, "us-east-1", name).await, "DISABLED");
    assert_eq!(state(&aws, "us-east-2", name).await, "ENABLED");
    assert_eq!(
        alarms(&aws, "us-east-1").await,
        expected_alarms("us-east-1", true)
    );
    assert_eq!(
        alarms(&aws, "us-east-2").await,
        expected_alarms("us-east-2", false)
    );

    // A later `deploy up` with the same file passes the live writer: nothing changes.
    let report = json(&up(path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    for stack in report["stacks"].as_array().unwrap() {
        if stack["stack"].as_str().unwrap().contains("-pipeline-") {
            assert_eq!(stack["result"], "no changes", "{stack:#}");
        }
    }
    assert_eq!(state(&aws, "us-east-1", name).await, "DISABLED");
    assert_eq!(state(&aws, "us-east-2", name).await, "ENABLED");
    assert_eq!(
        alarms(&aws, "us-east-1").await,
        expected_alarms("us-east-1", true)
    );
    let status = text(&succeed(&["status", path]).stdout);
    assert!(
        schedule_line(&status, "us-east-2").starts_with(
            "  us-east-2       ENABLED    cron(0 3 * * ? *)        Europe/Paris       next run "
        ),
        "{status}"
    );
    assert_eq!(
        schedule_line(&status, "us-east-1"),
        "  us-east-1       DISABLED   cron(0 3 * * ? *)        Europe/Paris"
    );

    // Back to the file's layout, then nothing left behind.
    let output = succeed(&["switchover", path, "--to", "us-east-1", "--yes"]);
    assert!(
        text(&output.stdout).contains("  us-east-1       writer   schedule ENABLED   updated\n"),
        "{}",
        text(&output.stdout)
    );
    assert_eq!(state(&aws, "us-east-1", name).await, "ENABLED");
    assert_eq!(state(&aws, "us-east-2", name).await, "DISABLED");
    assert_eq!(
        alarms(&aws, "us-east-2").await,
        expected_alarms("us-east-2", true)
    );
    succeed(&["destroy", path, "--yes"]);
    for region in ["us-east-1", "us-east-2"] {
        assert_eq!(
            alarms(&aws, region).await,
            [],
            "alarms outlived their stack"
        );
    }
    let gone = aws
        .scheduler("us-east-1")
        .get_schedule()
        .name(name)
        .send()
        .await;
    assert!(gone.is_err(), "the schedule outlived its stack");
}
