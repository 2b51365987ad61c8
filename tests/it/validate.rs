//! `deploy validate`: every kind of bad environment file gets one precise message per
//! problem, with file, line, column and field path, on stderr, and exit code 2.

use std::path::Path;

use crate::cli::Deploy;

/// A small valid environment; each test breaks one thing in it. Line numbers matter.
const BASE: &str = "\
# yaml-language-server: $schema=./schema.json
application: shop
environment: prod
regions:
  primary:
    region: us-east-1
    vpc_id: vpc-0a1b2c3d
  secondary:
    - region: us-east-2
      vpc_id: vpc-0b2c3d4e
      write_forwarding:
        consistency: session
database:
  engine_version: 8.0.mysql_aurora.3.08.2
pipeline:
  batch_size: 500
  max_concurrency: 5
";

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `deploy validate` on `text` saved as `env.yaml` in a temp dir.
fn validate(text: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("env.yaml"), text).unwrap();
    let output = Deploy::new(["validate", "env.yaml"])
        .current_dir(dir.path())
        .run()
        .output;
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// BASE with `from` replaced by `to` (which must occur exactly once).
fn base_with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "{from:?} must occur once in BASE"
    );
    BASE.replace(from, to)
}

/// Asserts that validation fails with exactly `expected` on stderr and nothing on stdout.
#[track_caller]
fn assert_invalid(text: &str, expected: &str) {
    let outcome = validate(text);
    assert_eq!(outcome.stderr, expected);
    assert_eq!(
        outcome.stdout, "",
        "nothing but the problems may be printed"
    );
    assert_eq!(outcome.code, 2);
}

#[test]
fn a_valid_file_passes() {
    let outcome = validate(BASE);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(
        outcome.stdout,
        "env.yaml: valid (2 Regions: us-east-1, us-east-2)\n"
    );
}

#[test]
fn the_shipped_environments_are_valid() {
    for file in ["environments/prod.yaml", "environments/local.yaml"] {
        deploy::env::load(Path::new(file)).unwrap_or_else(|problems| panic!("{problems}"));
    }
}

#[test]
fn unknown_field_suggests_the_known_one() {
    assert_invalid(
        &base_with("    vpc_id: vpc-0a1b2c3d", "    vpc_id: vpc-0a1b2c3d\n    instance_clas: db.r6g.large"),
        "env.yaml:8:5: regions.primary.instance_clas: unknown field `instance_clas`\n  hint: did you mean `instance_class`?\n",
    );
}

#[test]
fn unknown_field_without_a_near_match_lists_the_known_fields() {
    assert_invalid(
        &base_with("  max_concurrency: 5", "  max_concurrency: 5\n  colour: blue"),
        "env.yaml:18:3: pipeline.colour: unknown field `colour`\n  hint: known fields: pending_prefix, completed_prefix, failed_prefix, reports_prefix, batch_size, max_concurrency, writers_per_file, files_per_batch, architecture, memory_mb, timeout_seconds, log_retention_days, schedule\n",
    );
}

#[test]
fn wrong_type() {
    assert_invalid(
        &base_with("batch_size: 500", "batch_size: lots"),
        "env.yaml:16:15: pipeline.batch_size: expected an integer, found the text \"lots\"\n",
    );
    assert_invalid(
        &base_with("      write_forwarding:\n        consistency: session", "      write_forwarding: yes please"),
        "env.yaml:11:25: regions.secondary[0].write_forwarding: expected a mapping, found the text \"yes please\"\n",
    );
}

#[test]
fn missing_required_field() {
    assert_invalid(
        &base_with("      vpc_id: vpc-0b2c3d4e\n", ""),
        "env.yaml:9:7: regions.secondary[0].vpc_id: required field is missing\n",
    );
}

#[test]
fn unknown_region_code() {
    assert_invalid(
        &base_with("region: us-east-2", "region: us-esat-2"),
        "env.yaml:9:15: regions.secondary[0].region: unknown Region code `us-esat-2`\n  hint: did you mean `us-east-2`?\n",
    );
    assert_invalid(
        &base_with("region: us-east-2", "region: mars-north-1"),
        "env.yaml:9:15: regions.secondary[0].region: unknown Region code `mars-north-1`\n  hint: Region codes look like `us-east-1`; `deploy schema` lists them\n",
    );
}

#[test]
fn the_same_region_twice() {
    let text = base_with(
        "        consistency: session\n",
        "        consistency: session\n    - region: eu-west-1\n      vpc_id: vpc-0c3d4e5f\n    - region: eu-west-1\n      vpc_id: vpc-0d4e5f60\n",
    );
    assert_invalid(
        &text,
        "env.yaml:15:15: regions.secondary[2].region: eu-west-1 is listed twice (also at regions.secondary[1].region)\n  hint: each Region holds at most one cluster of the global database\n",
    );
}

#[test]
fn primary_listed_as_a_secondary() {
    assert_invalid(
        &base_with("region: us-east-2", "region: us-east-1"),
        "env.yaml:9:15: regions.secondary[0].region: us-east-1 is the primary Region; it cannot also be a secondary\n  hint: each Region holds at most one cluster of the global database\n",
    );
}

#[test]
fn regions_in_another_partition() {
    assert_invalid(
        &base_with("region: us-east-2", "region: us-gov-west-1"),
        "env.yaml:9:15: regions.secondary[0].region: us-gov-west-1 is in the aws-us-gov partition but the primary us-east-1 is in aws; a global database cannot span partitions\n",
    );
}

#[test]
fn more_than_ten_secondaries() {
    let regions = [
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "sa-east-1",
    ];
    let secondaries: String = regions
        .iter()
        .map(|region| format!("    - region: {region}\n      vpc_id: vpc-0b2c3d4e\n"))
        .collect();
    let text = base_with(
        "    - region: us-east-2\n      vpc_id: vpc-0b2c3d4e\n      write_forwarding:\n        consistency: session\n",
        &secondaries,
    );
    assert_invalid(
        &text,
        "env.yaml:8:3: regions.secondary: a global database has at most 10 secondary Regions; found 11\n",
    );
}

#[test]
fn no_secondary_at_all() {
    let text = base_with(
        "    - region: us-east-2\n      vpc_id: vpc-0b2c3d4e\n      write_forwarding:\n        consistency: session\n",
        "",
    )
    .replace("  secondary:\n", "  secondary: []\n");
    assert_invalid(
        &text,
        "env.yaml:8:3: regions.secondary: a global database has at least 1 secondary Regions; found 0\n",
    );
}

#[test]
fn malformed_vpc_and_subnet_ids() {
    assert_invalid(
        &base_with("vpc_id: vpc-0b2c3d4e", "vpc_id: vpc-12\n      subnet_ids: [subnet-0a1b2c3d, subnet-zz]"),
        "env.yaml:10:15: regions.secondary[0].vpc_id: `vpc-12` is not a VPC ID\n  hint: VPC IDs look like vpc-0a1b2c3d or vpc-0a1b2c3d4e5f60718 (8 or 17 hex digits)\n\
         env.yaml:11:37: regions.secondary[0].subnet_ids[1]: `subnet-zz` is not a subnet ID\n  hint: subnet IDs look like subnet-0a1b2c3d or subnet-0a1b2c3d4e5f60718 (8 or 17 hex digits)\n",
    );
}

#[test]
fn a_single_subnet_is_not_enough() {
    assert_invalid(
        &base_with("vpc_id: vpc-0b2c3d4e", "vpc_id: vpc-0b2c3d4e\n      subnet_ids: [subnet-0a1b2c3d]"),
        "env.yaml:11:7: regions.secondary[0].subnet_ids: subnet_ids needs at least 2 entries; found 1\n",
    );
}

#[test]
fn instance_class_not_memory_optimised() {
    assert_invalid(
        &base_with("vpc_id: vpc-0a1b2c3d", "vpc_id: vpc-0a1b2c3d\n    instance_class: db.t4g.medium"),
        "env.yaml:8:21: regions.primary.instance_class: db.t4g.medium is not memory-optimised; Aurora global databases need a db.r* or db.x2g* instance class\n  hint: for example db.r6g.large (Graviton) or db.r7i.large\n",
    );
}

#[test]
fn engine_version_not_an_aurora_mysql_version() {
    assert_invalid(
        &base_with("8.0.mysql_aurora.3.08.2", "8.0.36"),
        "env.yaml:14:19: database.engine_version: `8.0.36` is not an Aurora MySQL version\n  hint: give the full version, for example 8.0.mysql_aurora.3.08.2; `aws rds describe-db-engine-versions --engine aurora-mysql` lists them\n",
    );
    assert_invalid(
        &base_with("8.0.mysql_aurora.3.08.2", "5.7.mysql_aurora.3.08.2"),
        "env.yaml:14:19: database.engine_version: Aurora MySQL 3 is compatible with MySQL 8.0, so the version must start with 8.0, not 5.7\n",
    );
    assert_invalid(
        &base_with("8.0.mysql_aurora.3.08.2", "5.7.mysql_aurora.2.07.9"),
        "env.yaml:14:19: database.engine_version: 5.7.mysql_aurora.2.07.9 has no global write forwarding; it needs Aurora MySQL 2.08.1 or later\n  hint: upgrade the version, or turn write_forwarding off in every Region\n",
    );
}

#[test]
fn unknown_write_forwarding_consistency() {
    assert_invalid(
        &base_with("consistency: session", "consistency: sesion"),
        "env.yaml:12:22: regions.secondary[0].write_forwarding.consistency: `sesion` is not one of: eventual, session, global\n  hint: did you mean `session`?\n",
    );
}

#[test]
fn batch_size_and_concurrency_out_of_range() {
    let text = base_with("batch_size: 500", "batch_size: 0").replace(
        "max_concurrency: 5",
        "max_concurrency: 1000\n  writers_per_file: 0",
    );
    assert_invalid(
        &text,
        "env.yaml:16:15: pipeline.batch_size: 0 is out of range: batch_size must be from 1 to 5000\n\
         env.yaml:17:20: pipeline.max_concurrency: 1000 is out of range: max_concurrency must be from 1 to 100\n\
         env.yaml:18:21: pipeline.writers_per_file: 0 is out of range: writers_per_file must be from 1 to 8\n",
    );
}

#[test]
fn overlapping_prefixes() {
    assert_invalid(
        &base_with("  batch_size: 500", "  batch_size: 500\n  completed_prefix: book-reviews/reviews/done/"),
        "env.yaml:17:21: pipeline.completed_prefix: book-reviews/reviews/done/ overlaps pending_prefix (book-reviews/reviews/); a moved file would be listed again\n  hint: give pending, completed and failed files and the reports separate prefixes\n",
    );
}

#[test]
fn reports_are_kept_apart_from_review_files() {
    assert_invalid(
        &base_with("  batch_size: 500", "  batch_size: 500\n  reports_prefix: book-reviews/failed/reports/"),
        "env.yaml:17:19: pipeline.reports_prefix: book-reviews/failed/reports/ overlaps failed_prefix (book-reviews/failed/); reports would be taken for review files\n  hint: give pending, completed and failed files and the reports separate prefixes\n",
    );
}

#[test]
fn not_yaml_at_all() {
    assert_invalid(
        "application: [shop\nenvironment: prod\n",
        "env.yaml:2:12: not valid YAML: did not find expected ',' or ']', while parsing a flow sequence at line 1 column 14\n",
    );
    assert_invalid(
        "Dear team, here are the settings.\n",
        "env.yaml:1:1: expected a mapping of settings at the top of the file, found the text \"Dear team, here are the settings.\"\n",
    );
}

#[test]
fn an_empty_file() {
    let expected = "env.yaml: the file is empty\n  hint: an environment needs at least application, environment, regions and database; see environments/prod.yaml\n";
    assert_invalid("", expected);
    assert_invalid(
        "# yaml-language-server: $schema=./schema.json\n\n",
        expected,
    );
}

#[test]
fn every_problem_is_reported_at_once_in_file_order() {
    let text = base_with("region: us-east-2", "region: us-east-1")
        .replace("vpc_id: vpc-0a1b2c3d", "vpc_id: vpc-xyz")
        .replace("batch_size: 500", "batch_size: -3");
    let outcome = validate(&text);
    assert_eq!(outcome.code, 2);
    let lines: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|line| !line.starts_with("  hint"))
        .collect();
    assert_eq!(
        lines,
        [
            "env.yaml:7:13: regions.primary.vpc_id: `vpc-xyz` is not a VPC ID",
            "env.yaml:9:15: regions.secondary[0].region: us-east-1 is the primary Region; it cannot also be a secondary",
            "env.yaml:16:15: pipeline.batch_size: -3 is out of range: batch_size must be from 1 to 5000",
        ]
    );
}

#[test]
fn a_missing_file() {
    Deploy::new(["validate", "no/such/file.yaml"])
        .run()
        .code(2)
        .stderr_is(
            "no/such/file.yaml: cannot read the file: No such file or directory (os error 2)\n",
        );
}

#[test]
fn a_byte_order_mark_is_accepted() {
    let outcome = validate(&format!("\u{feff}{BASE}"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    // Columns on the first line count as an editor shows them, without the mark.
    let first_line_broken = BASE
        .replacen("# yaml-language-server: $schema=./schema.json\n", "", 1)
        .replace("application: shop", "application: Shop");
    assert_invalid(
        &format!("\u{feff}{first_line_broken}"),
        "env.yaml:1:14: application: `Shop` is not a valid application name\n  hint: use 2 to 24 lowercase letters, digits and hyphens, starting with a letter\n",
    );
}

#[test]
fn a_key_written_twice_at_any_depth() {
    let text = base_with(
        "      vpc_id: vpc-0b2c3d4e\n",
        "      vpc_id: vpc-0b2c3d4e\n      vpc_id: vpc-0c3d4e5f\n",
    ) + "tags: {team: search, team: ranking}\nenvironment: dev\n";
    assert_invalid(
        &text,
        "env.yaml:11:7: regions.secondary[0].vpc_id: duplicate key; first at line 10, a second value here would win silently\n\
         env.yaml:19:22: tags.team: duplicate key; first at line 19 column 8, a second value here would win silently\n\
         env.yaml:20:1: environment: duplicate key; first at line 3, a second value here would win silently\n",
    );
}

/// BASE with the primary's settings anchored and merged into the secondary.
fn merged_regions(primary_extra: &str) -> String {
    base_with(
        "  primary:\n    region: us-east-1\n    vpc_id: vpc-0a1b2c3d\n",
        &format!(
            "  primary: &region\n    region: us-east-1\n    vpc_id: vpc-0a1b2c3d\n{primary_extra}"
        ),
    )
    .replace(
        "    - region: us-east-2\n",
        "    - <<: *region\n      region: us-east-2\n",
    )
}

#[test]
fn merge_keys_share_settings_between_regions() {
    let text = merged_regions("    instance_class: db.r7g.large\n    instance_count: 3\n");
    let outcome = validate(&text);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let environment = deploy::env::parse(Path::new("env.yaml"), &text).unwrap();
    let secondary = &environment.regions.secondary[0];
    assert_eq!(
        (secondary.region.as_str(), secondary.vpc_id.as_str()),
        ("us-east-2", "vpc-0b2c3d4e"),
        "the secondary's own keys win"
    );
    assert_eq!(
        (secondary.instance_class.as_str(), secondary.instance_count),
        ("db.r7g.large", 3)
    );
}

#[test]
fn a_merged_value_is_reported_where_it_is_written() {
    assert_invalid(
        &merged_regions("    instance_class: db.t4g.medium\n"),
        "env.yaml:8:21: regions.primary.instance_class: db.t4g.medium is not memory-optimised; Aurora global databases need a db.r* or db.x2g* instance class\n  hint: for example db.r6g.large (Graviton) or db.r7i.large\n\
         env.yaml:8:21: regions.secondary[0].instance_class: db.t4g.medium is not memory-optimised; Aurora global databases need a db.r* or db.x2g* instance class\n  hint: for example db.r6g.large (Graviton) or db.r7i.large\n",
    );
}

#[test]
fn merging_something_other_than_a_mapping() {
    assert_invalid(
        &base_with("    - region: us-east-2\n", "    - <<: us-east-2\n      region: us-east-2\n"),
        "env.yaml:9:11: regions.secondary[0].<<: `<<` merges a mapping or a list of mappings into this one, not the text \"us-east-2\"\n  hint: anchor a mapping (`primary: &region`) and merge it with `<<: *region`\n",
    );
}

#[test]
fn tags_aws_refuses() {
    let long_key = "k".repeat(129);
    let long_value = "v".repeat(257);
    let text = format!(
        "{BASE}tags:\n  AWS:team: search\n  rds:owner: search\n  owner: \"O'Brien #1\"\n  cost centre: \"\"\n  {long_key}: x\n  team: {long_value}\n  stage: aws:prod\n  deploy:environment: staging\n  \"a,b\": x\n  équipe: données\n"
    );
    assert_invalid(
        &text,
        &format!(
            "env.yaml:19:3: tags.AWS:team: a tag key cannot start with `AWS:`; AWS keeps that prefix for its own tags\n\
             env.yaml:20:3: tags.rds:owner: a tag key cannot start with `rds:`; Aurora keeps that prefix for its own tags\n\
             env.yaml:21:10: tags.owner: the tag value has characters AWS does not allow in tags: `'`, `#`\n  hint: tags may use letters, digits, spaces and _ . : / = + - @\n\
             env.yaml:22:16: tags.cost centre: the tag value is empty; CloudFormation needs at least one character\n\
             env.yaml:23:3: tags.{long_key}: the tag key is 129 characters long; AWS allows at most 128\n\
             env.yaml:24:9: tags.team: the tag value is 257 characters long; AWS allows at most 256\n\
             env.yaml:25:10: tags.stage: a tag value cannot start with `aws:`; AWS keeps that prefix for its own tags\n\
             env.yaml:26:3: tags.deploy:environment: deploy sets the tag `deploy:environment` itself (to the environment's name); it cannot be set here\n\
             env.yaml:27:3: tags.a,b: the tag key has characters AWS does not allow in tags: `,`\n  hint: tags may use letters, digits, spaces and _ . : / = + - @\n"
        ),
    );
}

#[test]
fn master_user_and_database_names_aurora_refuses() {
    let text = base_with(
        "  engine_version: 8.0.mysql_aurora.3.08.2\n",
        "  engine_version: 8.0.mysql_aurora.3.08.2\n  master_username: rdsadmin\n  name: Order\n",
    );
    assert_invalid(
        &text,
        "env.yaml:15:20: database.master_username: `rdsadmin` is the user RDS manages the cluster with; Aurora refuses it as the master user name\n  hint: for example admin or dbadmin\n\
         env.yaml:16:9: database.name: `Order` is a reserved word in MySQL 8.0; Aurora refuses it as the database name\n  hint: for example reviews_db\n",
    );
    let text = base_with(
        "  engine_version: 8.0.mysql_aurora.3.08.2\n",
        "  engine_version: 8.0.mysql_aurora.3.08.2\n  master_username: select\n  name: mysql\n",
    );
    assert_invalid(
        &text,
        "env.yaml:15:20: database.master_username: `select` is a reserved word in MySQL 8.0; Aurora refuses it as the master user name\n  hint: for example admin or dbadmin\n\
         env.yaml:16:9: database.name: `mysql` is one of MySQL's own schemas; the application's tables need a database of their own\n  hint: for example reviews_db\n",
    );
}

/// The application user must be a user of its own: migrate sets its password.
#[test]
fn the_application_user_is_not_the_master_user() {
    let text = base_with(
        "  engine_version: 8.0.mysql_aurora.3.08.2\n",
        "  engine_version: 8.0.mysql_aurora.3.08.2\n  master_username: ops\n  app_username: OPS\n",
    );
    assert_invalid(
        &text,
        "env.yaml:16:17: database.app_username: `OPS` is the master user; the application user needs a name of its own\n  hint: for example app_ingest\n",
    );
}

#[test]
fn derived_names_aws_refuses() {
    assert_invalid(
        &base_with("application: shop", "application: book--shop"),
        "env.yaml:2:14: application: the Aurora global cluster identifier `book--shop-prod` would have two hyphens in a row, which RDS refuses\n  hint: use single hyphens between words\n",
    );
    assert_invalid(
        &base_with("application: shop", "application: aws"),
        "env.yaml:2:14: application: the KMS alias `alias/aws/prod/aurora` would start with `alias/aws/`, which KMS keeps for AWS managed keys\n  hint: choose another application name\n",
    );
}

#[test]
fn a_subnet_listed_twice() {
    assert_invalid(
        &base_with("vpc_id: vpc-0b2c3d4e", "vpc_id: vpc-0b2c3d4e\n      subnet_ids: [subnet-0a1b2c3d, subnet-0a1b2c3d]"),
        "env.yaml:11:37: regions.secondary[0].subnet_ids[1]: subnet-0a1b2c3d is listed twice (also at regions.secondary[0].subnet_ids[0])\n",
    );
}

/// BASE with a schedule (its fields on lines 19, 20 and 21).
fn with_schedule(expression: &str, timezone: &str, runs_in: &str) -> String {
    format!("{BASE}  schedule:\n    expression: {expression}\n    timezone: {timezone}\n    runs_in: {runs_in}\n")
}

#[test]
fn a_schedule_passes() {
    for expression in [
        "cron(0 3 * * ? *)",
        "cron(0/15 8-17 ? * MON-FRI *)",
        "rate(1 hour)",
        "rate(30 minutes)",
        "at(2030-01-01T09:00:00)",
    ] {
        let outcome = validate(&with_schedule(expression, "Europe/Paris", "writer"));
        assert_eq!(outcome.code, 0, "{expression}: {}", outcome.stderr);
    }
    let outcome = validate(&with_schedule("rate(1 day)", "UTC", "every_region"));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

#[test]
fn a_schedule_expression_scheduler_refuses() {
    assert_invalid(
        &with_schedule("cron(0 3 * * ?)", "Europe/Paris", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: cron(0 3 * * ?) has 5 fields; EventBridge Scheduler takes six: minutes hours day-of-month month day-of-week year, as in cron(0 3 * * ? *)\n",
    );
    assert_invalid(
        &with_schedule("cron(0 3 1 * MON *)", "UTC", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: cron(0 3 1 * MON *): day-of-month and day-of-week cannot both be set; one of them must be ?, as in cron(0 3 * * ? *)\n",
    );
    assert_invalid(
        &with_schedule("cron(0 24 * * ? *)", "UTC", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: cron(0 24 * * ? *): hours: 24 is out of range 0-23\n",
    );
    assert_invalid(
        &with_schedule("rate(1 hours)", "UTC", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: rate(1 hours): a value of 1 takes the unit hour, as in rate(1 hour)\n",
    );
    assert_invalid(
        &with_schedule("rate(2 weeks)", "UTC", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: rate(2 weeks) is not a rate; it takes a positive whole number and a unit: minute, minutes, hour, hours, day or days, as in rate(15 minutes)\n",
    );
    assert_invalid(
        &with_schedule("at(2030-02-30T09:00:00)", "UTC", "writer"),
        "env.yaml:19:17: pipeline.schedule.expression: at(2030-02-30T09:00:00) is not a date and time of the form at(yyyy-mm-ddThh:mm:ss)\n",
    );
}

#[test]
fn a_schedule_time_zone_that_is_not_iana_and_an_unknown_place_to_run() {
    assert_invalid(
        &with_schedule("cron(0 3 * * ? *)", "Europe/Pariss", "writer"),
        "env.yaml:20:15: pipeline.schedule.timezone: Europe/Pariss is not an IANA time zone name\n  hint: did you mean Europe/Paris?\n",
    );
    assert_invalid(
        &with_schedule("cron(0 3 * * ? *)", "Nowhere/Atlantis", "writer"),
        "env.yaml:20:15: pipeline.schedule.timezone: Nowhere/Atlantis is not an IANA time zone name\n  hint: a name such as Europe/Paris, America/New_York or UTC\n",
    );
    assert_invalid(
        &with_schedule("cron(0 3 * * ? *)", "UTC", "primary"),
        "env.yaml:21:14: pipeline.schedule.runs_in: `primary` is not one of: writer, every_region\n",
    );
}

#[test]
fn alerts_pass() {
    let subscriptions = format!(
        "{BASE}alerts:\n  email: [oncall@example.com, team@example.com]\n  https: [https://hooks.example.com/alerts]\n"
    );
    let outcome = validate(&subscriptions);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let topics = format!(
        "{BASE}alerts:\n  topics:\n    us-east-1: arn:aws:sns:us-east-1:123456789012:ops\n    us-east-2: arn:aws:sns:us-east-2:123456789012:ops\n"
    );
    let outcome = validate(&topics);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
}

/// What SNS and CloudWatch would refuse, or what would leave nobody told, before a stack
/// is touched.
#[test]
fn alerts_aws_refuses_or_nobody_hears() {
    assert_invalid(
        &format!("{BASE}alerts: {{}}\n"),
        "env.yaml:18:1: alerts: alerts names nobody to notify\n  hint: add an address under email or https, or existing topics under topics; or remove alerts\n",
    );
    assert_invalid(
        &format!(
            "{BASE}alerts:\n  email: [oncall@example.com]\n  topics:\n    us-east-1: arn:aws:sns:us-east-1:123456789012:ops\n    us-east-2: arn:aws:sns:us-east-2:123456789012:ops\n"
        ),
        "env.yaml:20:3: alerts.topics: alerts takes either subscriptions (email, https) or existing topics, not both\n  hint: subscribe the addresses to your own topics, or drop topics and let deploy create one per Region\n",
    );
    // CloudWatch: "Invalid region us-west-2 specified. Only us-east-2 is supported."
    assert_invalid(
        &format!(
            "{BASE}alerts:\n  topics:\n    us-east-1: arn:aws:sns:us-east-1:123456789012:ops\n    us-east-2: arn:aws:sns:us-west-2:123456789012:ops\n"
        ),
        "env.yaml:21:16: alerts.topics.us-east-2: this topic is in us-west-2, but the alarms in us-east-2 can only notify a topic in us-east-2\n  hint: name a topic in us-east-2, arn:aws:sns:us-east-2:…\n",
    );
    assert_invalid(
        &format!("{BASE}alerts:\n  topics:\n    us-east-1: arn:aws:sns:us-east-1:123456789012:ops\n"),
        "env.yaml:19:3: alerts.topics: no topic for us-east-2: every Region's alarms need one in that Region\n  hint: add `us-east-2: arn:…:sns:us-east-2:…`\n",
    );
    assert_invalid(
        &format!(
            "{BASE}alerts:\n  email: [oncall@example.com, oncall@example.com, not-an-address]\n  https: [https://user:secret@hooks.example.com/a, http://hooks.example.com/b]\n"
        ),
        "\
env.yaml:19:31: alerts.email[1]: oncall@example.com is listed twice
env.yaml:19:51: alerts.email[2]: `not-an-address` does not have the expected form
env.yaml:20:11: alerts.https[0]: this address carries credentials, which would be written into the templates
  hint: subscribe it to a topic of your own and name that topic under topics
env.yaml:20:52: alerts.https[1]: `http://hooks.example.com/b` does not have the expected form
",
    );
}
