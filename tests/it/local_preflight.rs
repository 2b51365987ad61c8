//! `deploy up`'s preflight against the local stand-in: what needs a look at the account is
//! refused before any stack is touched, with what to do about it. Each environment has VPCs
//! of its own (tests/common), so what one test puts in its VPC meets no other test.
#![cfg(feature = "aws")]

use crate::common;

use std::path::Path;

use common::{assert_moto_is_up, deploy, environment_named, text, up, vpc_of_own};
use deploy::aws::AwsContext;
use deploy::env::Environment;

/// `deploy up` that must stop at preflight: exit 1, and nothing deployed.
fn refused(path: &str) -> String {
    let output = deploy(&[
        "up",
        path,
        "--yes",
        "--lambda-dir",
        common::lambda_dir().to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("preflight found problems before anything was created"),
        "{stderr}"
    );
    stderr
}

/// The EC2 filter for what lies in `vpc`.
fn in_vpc(vpc: &str) -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("vpc-id")
        .values(vpc)
        .build()
}

fn environment(dir: &Path, name: &str) -> (String, Environment) {
    let file = environment_named(dir, name);
    let environment = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&environment);
    (file.to_str().unwrap().to_string(), environment)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_endpoint_already_in_the_vpc_is_refused_unless_the_file_reuses_it() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let (path, environment) = environment(dir.path(), "prevpce");
    let aws = AwsContext::load(&environment, None).await;
    let ec2 = aws.ec2("us-east-1");
    let vpc = vpc_of_own(&environment, "us-east-1", "prevpce");
    let table = ec2
        .describe_route_tables()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .unwrap()
        .route_tables()[0]
        .route_table_id()
        .unwrap()
        .to_string();
    // Someone else's S3 gateway endpoint on the VPC's route table.
    let existing = ec2
        .describe_vpc_endpoints()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .unwrap();
    let endpoint = match existing.vpc_endpoints().iter().find(|e| {
        e.state()
            .map(|s| s.as_str().to_ascii_lowercase())
            .as_deref()
            != Some("deleted")
    }) {
        Some(e) => e.vpc_endpoint_id().unwrap().to_string(),
        None => ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .service_name("com.amazonaws.us-east-1.s3")
            .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Gateway)
            .route_table_ids(&table)
            .send()
            .await
            .unwrap()
            .vpc_endpoint()
            .unwrap()
            .vpc_endpoint_id()
            .unwrap()
            .to_string(),
    };
    deploy(&["destroy", &path, "--yes"]);

    let stderr = refused(&path);
    assert!(
        stderr.contains(&format!(
            "regions.primary (us-east-1): VPC {vpc} already has an endpoint for S3 ({endpoint}); a second S3 gateway endpoint on the same route tables fails with RouteAlreadyExists (its route tables: {table}). Reuse it: add `reuse_vpc_endpoints: [s3]` to regions.primary"
        )),
        "{stderr}"
    );

    // Reused, as the message says: the network stack makes no S3 endpoint of its own.
    let contents = std::fs::read_to_string(&path).unwrap().replacen(
        &format!("    vpc_id: {vpc}\n"),
        &format!("    vpc_id: {vpc}\n    reuse_vpc_endpoints: [s3]\n"),
        1,
    );
    std::fs::write(&path, contents).unwrap();
    let report = common::json(&up(&path));
    assert_eq!(report["succeeded"], true, "{report:#}");
    let resources = aws
        .cloudformation("us-east-1")
        .describe_stack_resources()
        .stack_name("book-reviews-prevpce-network-us-east-1")
        .send()
        .await
        .unwrap();
    let logical: Vec<&str> = resources
        .stack_resources()
        .iter()
        .filter_map(|r| r.logical_resource_id())
        .collect();
    assert!(!logical.contains(&"S3Endpoint"), "{logical:?}");
    assert!(logical.contains(&"SecretsManagerEndpoint"), "{logical:?}");
    // The second deploy finds the endpoints it made itself and refuses nothing.
    let again = common::json(&up(&path));
    assert_eq!(again["succeeded"], true, "{again:#}");
    deploy(&["destroy", &path, "--yes"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_private_dns_secrets_manager_endpoint_is_refused_and_a_reuse_needs_an_endpoint() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let (path, environment) = environment(dir.path(), "prevpsm");
    let aws = AwsContext::load(&environment, None).await;
    deploy(&["destroy", &path, "--yes"]);
    let ec2 = aws.ec2("us-east-2");
    let vpc = vpc_of_own(&environment, "us-east-2", "prevpsm");
    let subnets = ec2
        .describe_subnets()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .unwrap();
    let subnet = subnets.subnets()[0].subnet_id().unwrap().to_string();
    // Someone else's Secrets Manager endpoint, with private DNS, in the Region's VPC (an
    // earlier failed run's removed first: the VPC is this test's own).
    let earlier: Vec<String> = ec2
        .describe_vpc_endpoints()
        .filters(in_vpc(&vpc))
        .send()
        .await
        .unwrap()
        .vpc_endpoints()
        .iter()
        .filter_map(|e| e.vpc_endpoint_id().map(str::to_string))
        .collect();
    if !earlier.is_empty() {
        ec2.delete_vpc_endpoints()
            .set_vpc_endpoint_ids(Some(earlier))
            .send()
            .await
            .unwrap();
    }
    let endpoint = ec2
        .create_vpc_endpoint()
        .vpc_id(&vpc)
        .service_name("com.amazonaws.us-east-2.secretsmanager")
        .vpc_endpoint_type(aws_sdk_ec2::types::VpcEndpointType::Interface)
        .subnet_ids(&subnet)
        .private_dns_enabled(true)
        .send()
        .await
        .unwrap()
        .vpc_endpoint()
        .unwrap()
        .vpc_endpoint_id()
        .unwrap()
        .to_string();
    // And a reuse of an RDS endpoint the VPC does not have.
    let contents = std::fs::read_to_string(&path).unwrap().replacen(
        &format!("      vpc_id: {vpc}\n"),
        &format!("      vpc_id: {vpc}\n      reuse_vpc_endpoints: [rds]\n"),
        1,
    );
    std::fs::write(&path, contents).unwrap();

    let stderr = refused(&path);
    ec2.delete_vpc_endpoints()
        .vpc_endpoint_ids(&endpoint)
        .send()
        .await
        .unwrap();
    assert!(
        stderr.contains(&format!(
            "regions.secondary[0] (us-east-2): VPC {vpc} already has an endpoint for Secrets Manager ({endpoint}); a second one with private DNS fails (the private DNS name is taken). Reuse it: add `reuse_vpc_endpoints: [secretsmanager]` to regions.secondary[0]"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "regions.secondary[0].reuse_vpc_endpoints names rds, but VPC {vpc} has no endpoint for RDS to reuse"
        )),
        "{stderr}"
    );
    // Refused before anything was created.
    let stacks = aws
        .cloudformation("us-east-2")
        .describe_stacks()
        .stack_name("book-reviews-prevpsm-network-us-east-2")
        .send()
        .await;
    assert!(stacks.is_err(), "{stacks:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dns_hostnames_off_is_refused_with_the_command_that_turns_them_on() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let (path, environment) = environment(dir.path(), "predns");
    let aws = AwsContext::load(&environment, None).await;
    let vpc = vpc_of_own(&environment, "us-east-2", "predns");
    let hostnames = |on: bool| {
        aws.ec2("us-east-2")
            .modify_vpc_attribute()
            .vpc_id(&vpc)
            .enable_dns_hostnames(
                aws_sdk_ec2::types::AttributeBooleanValue::builder()
                    .value(on)
                    .build(),
            )
            .send()
    };
    hostnames(false).await.unwrap();
    let stderr = refused(&path);
    hostnames(true).await.unwrap();
    assert!(
        stderr.contains(&format!(
            "regions.secondary[0] (us-east-2): VPC {vpc} has enableDnsHostnames off; the functions reach Secrets Manager and RDS through interface endpoints with private DNS, which need DNS support and DNS hostnames on. Turn them on: aws ec2 modify-vpc-attribute --vpc-id {vpc} --enable-dns-hostnames '{{\"Value\":true}}' --region us-east-2"
        )),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_or_key_alias_left_by_an_earlier_destroy_is_refused_with_how_to_clear_it() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let (path, environment) = environment(dir.path(), "preleft");
    let aws = AwsContext::load(&environment, None).await;
    deploy(&["destroy", &path, "--yes"]);
    let secret = "book-reviews/preleft/aurora-master";
    let alias = "alias/book-reviews/preleft/aurora";
    let secrets = aws.secrets_manager("us-east-1");
    let _ = secrets
        .delete_secret()
        .secret_id(secret)
        .force_delete_without_recovery(true)
        .send()
        .await;
    secrets
        .create_secret()
        .name(secret)
        .secret_string("{}")
        .send()
        .await
        .unwrap();
    let kms = aws.kms("us-east-2");
    let _ = kms.delete_alias().alias_name(alias).send().await;
    let key = kms.create_key().send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&key_id)
        .send()
        .await
        .unwrap();

    let stderr = refused(&path);
    assert!(
        stderr.contains(&format!(
            "the secret {secret} (us-east-1) exists outside this environment's stacks (an earlier destroy retained it): delete it (`aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery --region us-east-1`) or choose another environment name"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the KMS alias {alias} (us-east-2) exists outside this environment's stacks (left by an earlier destroy, its key {key_id}): delete the alias (`aws kms delete-alias --alias-name {alias} --region us-east-2`) or choose another environment name"
        )),
        "{stderr}"
    );

    // Scheduled for deletion rather than retained: restore it or delete it now.
    secrets
        .delete_secret()
        .secret_id(secret)
        .recovery_window_in_days(7)
        .send()
        .await
        .unwrap();
    kms.delete_alias().alias_name(alias).send().await.unwrap();
    let stderr = refused(&path);
    assert!(
        stderr.contains(&format!(
            "the secret {secret} (us-east-1) is scheduled for deletion by an earlier destroy, and its name is taken until then: restore it (`aws secretsmanager restore-secret --secret-id {secret} --region us-east-1`) or delete it now (`aws secretsmanager delete-secret --secret-id {secret} --force-delete-without-recovery --region us-east-1`)"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("KMS alias"), "{stderr}");
    secrets
        .delete_secret()
        .secret_id(secret)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
}

#[test]
fn an_engine_past_standard_support_is_a_warning_not_a_refusal() {
    let _stand_in = common::stand_in();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "preeol");
    let contents = std::fs::read_to_string(&file).unwrap().replacen(
        "8.0.mysql_aurora.3.08.2",
        "5.7.mysql_aurora.2.11.2",
        1,
    );
    std::fs::write(&file, contents).unwrap();
    let path = file.to_str().unwrap();
    // `diff` runs preflight and shows the change sets without executing them.
    let output = deploy(&[
        "diff",
        path,
        "--yes",
        "--lambda-dir",
        common::lambda_dir().to_str().unwrap(),
    ]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: Aurora MySQL 5.7 (5.7.mysql_aurora.2.11.2, database.engine_version) left standard support on 2024-10-31: RDS Extended Support charges apply until you upgrade to a supported major version"),
        "{stderr}"
    );
}
