//! Preflight refuses a dbprocess reservation that Lambda would refuse (under 100 of the
//! Region's concurrency left unreserved), before any stack is made. It runs alone
//! (`common::stand_in_alone`): it takes most of a Region's concurrency for a moment, which
//! no other test may see.
#![cfg(feature = "aws")]

use crate::common;

use common::{assert_moto_is_up, deploy, environment_named, text};
use deploy::aws::AwsContext;

const REGION: &str = "us-east-2";

/// A stack with one function that reserves `reserved` of the Region's concurrency.
fn eater(reserved: i32) -> String {
    format!(
        r#"
Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: {{Service: lambda.amazonaws.com}}
            Action: sts:AssumeRole
  Function:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: provided.al2023
      Handler: bootstrap
      Role: {{"Fn::GetAtt": [Role, Arn]}}
      Code: {{ZipFile: "unused"}}
      ReservedConcurrentExecutions: {reserved}
"#
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reservation_lambda_would_refuse_is_refused_before_any_stack() {
    // Alone: it takes most of a Region's concurrency for a moment.
    let _stand_in = common::stand_in_alone();
    let dir = tempfile::tempdir().unwrap();
    let file = environment_named(dir.path(), "preconc");
    let path = file.to_str().unwrap().to_string();
    let environment = deploy::env::load(&file).unwrap();
    assert_moto_is_up(&environment);
    let aws = AwsContext::load(&environment, None).await;
    deploy(&["destroy", &path, "--yes"]);

    let unreserved = aws
        .lambda(REGION)
        .get_account_settings()
        .send()
        .await
        .unwrap()
        .account_limit()
        .unwrap()
        .unreserved_concurrent_executions()
        .unwrap();
    // Leaves 102 unreserved: dbprocess's 6 (pipeline.max_concurrency) would leave 96.
    let cfn = aws.cloudformation(REGION);
    let stack = "deploy-test-concurrency-eater";
    cfn.create_stack()
        .stack_name(stack)
        .template_body(eater(unreserved - 102))
        .send()
        .await
        .unwrap();
    let output = deploy(&[
        "up",
        &path,
        "--yes",
        "--lambda-dir",
        common::lambda_dir().to_str().unwrap(),
    ]);
    cfn.delete_stack().stack_name(stack).send().await.unwrap();

    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("regions.secondary[0] (us-east-2): Lambda has 102 of its 1000 concurrent executions unreserved here, and keeps 100 of them unreserved; dbprocess reserves pipeline.max_concurrency (6). Ask for a higher quota (Service Quotas: AWS Lambda, Concurrent executions) or lower pipeline.max_concurrency to 2"),
        "{stderr}"
    );
    // Nothing was made.
    let made = aws
        .cloudformation("us-east-1")
        .describe_stacks()
        .stack_name("book-reviews-preconc-assets-us-east-1")
        .send()
        .await;
    assert!(made.is_err(), "{made:?}");
}
