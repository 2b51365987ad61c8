//! `deploy render`: the rendered templates and plan (snapshots), determinism, the summary
//! table, the agreement between each template and the plan, and the resources the
//! application needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::cli::Deploy;
use deploy::plan::{ParameterSource, Part, StackPlan};
use deploy::render::{render, Rendered, RenderedTemplate};
use serde_json::{json, Value};

fn manifest_path(relative: &str) -> PathBuf {
    // At run time: a test binary from a target directory shared with another clone keeps
    // that clone's compile-time path.
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join(relative)
}

const PROD: &str = "environments/prod.yaml";
const THREE_SECONDARIES: &str = "tests/fixtures/three-secondaries.yaml";

fn rendered(relative: &str) -> Rendered {
    let environment = deploy::env::load(&manifest_path(relative))
        .unwrap_or_else(|problems| panic!("{relative} is invalid:\n{problems}"));
    render(&environment).expect("renders")
}

fn parse(template: &RenderedTemplate) -> Value {
    yaml_serde::from_str(&template.body)
        .unwrap_or_else(|error| panic!("{} is not YAML: {error}", template.path))
}

/// Every rendered environment the checks below run on.
fn all_rendered() -> Vec<(&'static str, Rendered)> {
    [PROD, THREE_SECONDARIES]
        .into_iter()
        .map(|file| (file, rendered(file)))
        .collect()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    template["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, resource)| resource["Type"] == kind)
        .collect()
}

#[test]
fn prod_templates_match_snapshots() {
    let rendered = rendered(PROD);
    for template in &rendered.templates {
        let name = format!(
            "prod_{}_{}",
            template.region.replace('-', "_"),
            template.part
        );
        insta::assert_snapshot!(name, template.body);
    }
    insta::assert_snapshot!("prod_plan_json", rendered.plan.to_json());
}

#[test]
fn rendering_is_deterministic() {
    let first = rendered(PROD);
    let second = rendered(PROD);
    assert_eq!(first.plan.to_json(), second.plan.to_json());
    assert_eq!(first.templates, second.templates);

    // And the files the binary writes, byte for byte.
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    for dir in &dirs {
        Deploy::new(["render", PROD, "--out"])
            .arg(dir.path())
            .current_dir(manifest_path(""))
            .run()
            .success();
    }
    let files = |dir: &Path| -> BTreeMap<PathBuf, Vec<u8>> {
        let mut files = BTreeMap::new();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(next) = pending.pop() {
            for entry in std::fs::read_dir(&next).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap();
                    files.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
                }
            }
        }
        files
    };
    let (a, b) = (files(dirs[0].path()), files(dirs[1].path()));
    assert_eq!(a.len(), 10, "9 templates and plan.json: {:?}", a.keys());
    assert_eq!(a, b);
    assert_eq!(
        String::from_utf8(a[Path::new("plan.json")].clone()).unwrap(),
        first.plan.to_json()
    );
}

#[test]
fn render_without_out_prints_the_summary_table() {
    let ran = Deploy::new(["render", PROD])
        .current_dir(manifest_path(""))
        .run()
        .success()
        .stderr_is("");
    insta::assert_snapshot!("prod_summary", ran.stdout());
}

#[test]
fn render_out_writes_every_template_and_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    Deploy::new(["render", THREE_SECONDARIES, "--out"])
        .arg(dir.path())
        .current_dir(manifest_path(""))
        .run()
        .success()
        .stdout_is("");
    let plan: StackPlan =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("plan.json")).unwrap())
            .expect("plan.json reads back into the plan's types");
    assert_eq!(plan, rendered(THREE_SECONDARIES).plan);
    for (_, stack) in plan.stacks() {
        assert!(
            dir.path().join(&stack.template).is_file(),
            "{}",
            stack.template
        );
    }
}

#[test]
fn an_invalid_environment_renders_nothing_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.yaml");
    std::fs::write(&file, "application: x\n").unwrap();
    let out = dir.path().join("out");
    Deploy::new(["render"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .run()
        .code(2);
    assert!(!out.exists());
}

#[test]
fn plan_orders_the_stacks_in_waves() {
    for (file, rendered) in all_rendered() {
        let plan = &rendered.plan;
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let regions: Vec<&str> = environment
            .all_regions()
            .map(|r| r.region.as_str())
            .collect();
        let primary = regions[0];
        let wave = |n: usize| -> Vec<(Part, &str)> {
            plan.waves[n - 1]
                .stacks
                .iter()
                .map(|s| (s.part, s.region.as_str()))
                .collect()
        };
        assert_eq!(plan.waves.len(), 5, "{file}");
        assert_eq!(
            wave(1),
            regions
                .iter()
                .flat_map(|r| [(Part::Assets, *r), (Part::Network, *r)])
                .collect::<Vec<_>>()
        );
        assert_eq!(wave(2), vec![(Part::Database, primary)]);
        assert_eq!(
            wave(3),
            regions[1..]
                .iter()
                .map(|r| (Part::Database, *r))
                .collect::<Vec<_>>()
        );
        assert_eq!(
            wave(4),
            regions
                .iter()
                .map(|r| (Part::Pipeline, *r))
                .collect::<Vec<_>>()
        );
        assert_eq!(wave(5), vec![(Part::Monitoring, primary)]);
        for (number, wave) in plan.waves.iter().enumerate() {
            assert_eq!(usize::from(wave.number), number + 1);
        }
        for (_, stack) in plan.stacks() {
            assert_eq!(
                stack.name,
                format!(
                    "{}-{}-{}-{}",
                    plan.application, plan.environment, stack.part, stack.region
                )
            );
            assert_eq!(
                stack.template,
                format!("{}/{}.yaml", stack.region, stack.part)
            );
            assert_eq!(stack.tags["deploy:application"], plan.application);
            assert_eq!(stack.tags["deploy:environment"], plan.environment);
            for (key, value) in &environment.tags {
                assert_eq!(&stack.tags[key], value);
            }
        }
        assert_eq!(
            serde_json::to_value(&plan.post_deploy).unwrap(),
            serde_json::json!([{"invoke": {
                "function": "migrate",
                "function_name": format!("{}-{}-migrate", plan.application, plan.environment),
                "region": primary,
                "reason": "create the schema; DDL cannot be forwarded, so only the primary runs it",
            }}])
        );
    }
}

#[test]
fn parameters_agree_with_the_plan_and_outputs_exist() {
    for (file, rendered) in all_rendered() {
        let templates: BTreeMap<&str, Value> = rendered
            .templates
            .iter()
            .map(|t| (t.stack.as_str(), parse(t)))
            .collect();
        let waves: BTreeMap<&str, u8> = rendered
            .templates
            .iter()
            .map(|t| (t.stack.as_str(), t.wave))
            .collect();
        for (wave, stack) in rendered.plan.stacks() {
            let template = &templates[stack.name.as_str()];
            let declared: Vec<&String> = template
                .get("Parameters")
                .and_then(Value::as_object)
                .map(|p| p.keys().collect())
                .unwrap_or_default();
            let planned: Vec<&String> = stack.parameters.iter().map(|p| &p.name).collect();
            assert_eq!(declared, planned, "{file}: {}", stack.name);

            for parameter in &stack.parameters {
                match &parameter.source {
                    ParameterSource::StackOutput {
                        stack: source,
                        output,
                    } => {
                        let source_template = templates.get(source.as_str()).unwrap_or_else(|| {
                            panic!(
                                "{}: {} names no stack: {source}",
                                stack.name, parameter.name
                            )
                        });
                        assert!(
                            source_template["Outputs"].get(output).is_some(),
                            "{file}: {}.{} reads output {output} that {source} does not declare",
                            stack.name,
                            parameter.name
                        );
                        assert!(
                            waves[source.as_str()] < wave.number,
                            "{}: {source} must be deployed in an earlier wave",
                            stack.name
                        );
                    }
                    ParameterSource::LambdaCode(function) => {
                        assert_eq!(parameter.name, function.code_key_parameter());
                    }
                    ParameterSource::Discover(_) | ParameterSource::Value(_) => {
                        assert_eq!(stack.part, Part::Network, "{}", parameter.name);
                    }
                    ParameterSource::WriterRegion => {
                        assert_eq!(stack.part, Part::Pipeline, "{}", parameter.name);
                    }
                }
            }
        }
    }
}

#[test]
fn subnets_come_from_the_file_when_listed_else_are_discovered() {
    let rendered = rendered(THREE_SECONDARIES);
    let sources: BTreeMap<&str, Value> = rendered
        .plan
        .stacks()
        .filter(|(_, s)| s.part == Part::Network)
        .map(|(_, s)| {
            let subnets = s.parameters.iter().find(|p| p.name == "SubnetIds").unwrap();
            (
                s.region.as_str(),
                serde_json::to_value(&subnets.source).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        sources["eu-west-1"],
        serde_json::json!({"value": ["subnet-0a1b2c3d", "subnet-1a2b3c4d"]})
    );
    assert_eq!(
        sources["eu-central-1"],
        serde_json::json!({"discover": "subnet_ids"})
    );
}

#[test]
fn every_region_has_the_resources_the_application_needs() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let primary = &environment.regions.primary.region;
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let mut global_clusters = 0;
        for template in &rendered.templates {
            let parsed = parse(template);
            let here = environment
                .all_regions()
                .find(|r| r.region == template.region)
                .unwrap();
            let is_primary = &template.region == primary;
            for (_, resource) in parsed["Resources"].as_object().unwrap() {
                let kind = resource["Type"].as_str().unwrap();
                *counts
                    .entry(format!("{}/{kind}", template.region))
                    .or_default() += 1;
            }
            global_clusters += resources_of_type(&parsed, "AWS::RDS::GlobalCluster").len();

            if template.part != Part::Database {
                continue;
            }
            let clusters = resources_of_type(&parsed, "AWS::RDS::DBCluster");
            assert_eq!(clusters.len(), 1, "{}", template.path);
            let cluster = &clusters[0].1["Properties"];
            assert_eq!(cluster["StorageEncrypted"], true);
            assert_eq!(cluster["KmsKeyId"]["Fn::GetAtt"][0], "DatabaseKey");
            assert_eq!(cluster["Engine"], "aurora-mysql");
            assert_eq!(
                cluster["EngineVersion"],
                environment.database.engine_version
            );
            assert_eq!(
                cluster["DeletionProtection"],
                environment.safety.deletion_protection
            );
            assert_eq!(
                resources_of_type(&parsed, "AWS::KMS::Key").len(),
                1,
                "each Region has its own key"
            );
            let instances = resources_of_type(&parsed, "AWS::RDS::DBInstance");
            assert_eq!(instances.len(), usize::from(here.instance_count));
            for (_, instance) in instances {
                assert_eq!(instance["Properties"]["PubliclyAccessible"], false);
                assert_eq!(
                    instance["Properties"]["DBClusterIdentifier"]["Ref"],
                    "Cluster"
                );
            }
            if is_primary {
                assert_eq!(cluster["GlobalClusterIdentifier"]["Ref"], "GlobalCluster");
                assert!(cluster.get("MasterUserPassword").is_some());
                assert!(cluster.get("ManageMasterUserPassword").is_none());
                let secrets = resources_of_type(&parsed, "AWS::SecretsManager::Secret");
                assert_eq!(secrets.len(), 2, "the master's and the application user's");
                let secondaries: Vec<&str> = environment
                    .regions
                    .secondary
                    .iter()
                    .map(|r| r.region.as_str())
                    .collect();
                for (_, secret) in secrets {
                    let replicas: Vec<&str> = secret["Properties"]["ReplicaRegions"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| r["Region"].as_str().unwrap())
                        .collect();
                    assert_eq!(replicas, secondaries);
                }
            } else {
                assert_eq!(
                    cluster["GlobalClusterIdentifier"],
                    format!("{}-{}", environment.application, environment.environment)
                );
                assert_eq!(cluster["SourceRegion"], primary.as_str());
                assert_eq!(
                    cluster["EnableGlobalWriteForwarding"],
                    here.write_forwarding.enabled
                );
                for forbidden in ["MasterUsername", "MasterUserPassword", "DatabaseName"] {
                    assert!(
                        cluster.get(forbidden).is_none(),
                        "{forbidden} on a secondary"
                    );
                }
                assert!(resources_of_type(&parsed, "AWS::SecretsManager::Secret").is_empty());
            }
        }
        assert_eq!(global_clusters, 1, "{file}: one global cluster");

        for region in environment.all_regions() {
            let r = &region.region;
            let count = |kind: &str| counts.get(&format!("{r}/{kind}")).copied().unwrap_or(0);
            let is_primary = r == primary;
            assert_eq!(count("AWS::RDS::DBCluster"), 1, "{r}");
            assert_eq!(
                count("AWS::RDS::DBInstance"),
                usize::from(region.instance_count)
            );
            let alerts_topic = environment
                .alerts
                .as_ref()
                .is_some_and(|alerts| alerts.creates_topics());
            assert_eq!(
                count("AWS::KMS::Key"),
                1 + usize::from(alerts_topic),
                "{r}: the database's (and the alerts topic's)"
            );
            assert_eq!(
                count("AWS::SecretsManager::Secret"),
                2 * usize::from(is_primary),
                "{r}: the master's and the application user's, in the primary"
            );
            assert_eq!(count("AWS::RDS::DBClusterParameterGroup"), 1, "{r}");
            assert_eq!(
                count("AWS::EC2::SecurityGroup"),
                3,
                "{r}: lambda, database, endpoint"
            );
            assert_eq!(
                count("AWS::EC2::VPCEndpoint"),
                3 - region.reuse_vpc_endpoints.len(),
                "{r}: S3, Secrets Manager, RDS (the functions ask which endpoint writes), but those the file reuses"
            );
            assert_eq!(
                count("AWS::S3::Bucket"),
                3,
                "{r}: assets, data, the data's access logs"
            );
            assert_eq!(count("AWS::Lambda::Function"), 4, "{r}");
            assert_eq!(count("AWS::StepFunctions::StateMachine"), 1, "{r}");
            let scheduled = usize::from(environment.pipeline.schedule.is_some());
            assert_eq!(
                count("AWS::IAM::Role"),
                5 + scheduled + usize::from(environment.database.enhanced_monitoring_seconds > 0),
                "{r}: one per function + state machine (+ the schedule's, + Enhanced Monitoring's)"
            );
            assert_eq!(count("AWS::Logs::LogGroup"), 5, "{r}");
            assert_eq!(count("AWS::RDS::DBSubnetGroup"), 1, "{r}");
            // Every Region can come to replicate from the writer: the lag alarms are
            // there in each, kept out of the writer's Region by their condition.
            assert_eq!(
                count("AWS::CloudWatch::Alarm"),
                4,
                "{r}: replication lag over the threshold and missing, failed executions, failed files"
            );
        }
    }
}

/// The findings checkov raised that were fixed rather than explained: dbprocess's sessions
/// bounded, the data bucket's access logged, Enhanced Monitoring when the file asks.
#[test]
fn dbprocess_reserved_access_logs_and_enhanced_monitoring() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        for template in &rendered.templates {
            let parsed = parse(template);
            let resources = &parsed["Resources"];
            match template.part {
                Part::Pipeline => {
                    assert_eq!(
                        resources["DbprocessFunction"]["Properties"]
                            ["ReservedConcurrentExecutions"],
                        environment.pipeline.max_concurrency,
                        "{file}"
                    );
                    let logging = &resources["DataBucket"]["Properties"]["LoggingConfiguration"];
                    assert_eq!(
                        logging["DestinationBucketName"],
                        json!({"Ref": "AccessLogsBucket"})
                    );
                    assert_eq!(
                        resources["DataBucket"]["DependsOn"],
                        "AccessLogsBucketPolicy"
                    );
                    let logs = &resources["AccessLogsBucket"];
                    assert_eq!(
                        logs["DeletionPolicy"],
                        resources["DataBucket"]["DeletionPolicy"]
                    );
                    // A log destination takes SSE-S3 only.
                    assert_eq!(
                        logs["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                            [0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                        "AES256"
                    );
                    let statements = resources["AccessLogsBucketPolicy"]["Properties"]
                        ["PolicyDocument"]["Statement"]
                        .as_array()
                        .unwrap();
                    let delivery = statements
                        .iter()
                        .find(|s| s["Principal"]["Service"] == "logging.s3.amazonaws.com")
                        .expect("S3's logging service may write");
                    assert_eq!(delivery["Action"], "s3:PutObject");
                    assert_eq!(
                        delivery["Condition"]["StringEquals"]["aws:SourceAccount"],
                        json!({"Ref": "AWS::AccountId"})
                    );
                }
                Part::Database => {
                    let seconds = environment.database.enhanced_monitoring_seconds;
                    for n in 1..=template_region(&environment, template).instance_count {
                        let instance = &resources[format!("Instance{n}")];
                        if seconds > 0 {
                            assert_eq!(instance["Properties"]["MonitoringInterval"], seconds);
                            assert_eq!(
                                instance["Properties"]["MonitoringRoleArn"],
                                json!({"Fn::GetAtt": ["MonitoringRole", "Arn"]})
                            );
                        } else {
                            assert!(instance["Properties"].get("MonitoringInterval").is_none());
                            assert_eq!(
                                instance["Metadata"]["checkov"]["skip"][0]["id"],
                                "CKV_AWS_118"
                            );
                        }
                    }
                    assert_eq!(
                        resources.get("MonitoringRole").is_some(),
                        seconds > 0,
                        "{file}"
                    );
                }
                _ => {}
            }
        }
    }
}

fn template_region<'a>(
    environment: &'a deploy::env::Environment,
    template: &RenderedTemplate,
) -> &'a deploy::env::RegionSettings {
    environment
        .all_regions()
        .find(|r| r.region == template.region)
        .unwrap()
}

#[test]
fn pipeline_functions_and_state_machine() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let prefix = environment.name_prefix();
        for template in rendered
            .templates
            .iter()
            .filter(|t| t.part == Part::Pipeline)
        {
            let parsed = parse(template);
            let region = environment
                .all_regions()
                .find(|r| r.region == template.region)
                .unwrap();
            let functions = resources_of_type(&parsed, "AWS::Lambda::Function");
            let names: BTreeSet<&str> = functions
                .iter()
                .map(|(_, f)| f["Properties"]["FunctionName"].as_str().unwrap())
                .collect();
            let expected: BTreeSet<String> = ["preprocess", "dbprocess", "postprocess", "migrate"]
                .iter()
                .map(|f| format!("{prefix}-{f}"))
                .collect();
            assert_eq!(
                names,
                expected.iter().map(String::as_str).collect::<BTreeSet<_>>()
            );
            for (logical, function) in &functions {
                let properties = &function["Properties"];
                assert_eq!(properties["Runtime"], "provided.al2023");
                assert_eq!(properties["Handler"], "bootstrap");
                assert_eq!(
                    properties["Architectures"][0],
                    environment.pipeline.architecture.as_str()
                );
                let in_vpc = properties.get("VpcConfig").is_some();
                // They name their cluster, never an endpoint: which endpoint takes writes
                // depends on the cluster's role at the time (lambdas/reviews/src/endpoint.rs).
                let variables = &properties["Environment"]["Variables"];
                assert!(variables.get("DB_HOST").is_none(), "{logical}");
                let talks_to_database = variables.get("DB_CLUSTER_ID").is_some();
                if talks_to_database {
                    assert_eq!(
                        variables["DB_CLUSTER_ID"],
                        format!("{prefix}-{}", template.region)
                    );
                    assert_eq!(variables["DB_GLOBAL_CLUSTER_ID"], prefix.as_str());
                }
                assert_eq!(
                    in_vpc, talks_to_database,
                    "{logical}: only DB functions in the VPC"
                );
                if talks_to_database {
                    let expected = if region.write_forwarding.enabled {
                        region.write_forwarding.consistency.as_str()
                    } else {
                        ""
                    };
                    assert_eq!(
                        properties["Environment"]["Variables"]["WRITE_FORWARDING_CONSISTENCY"],
                        expected
                    );
                }
            }

            let machines = resources_of_type(&parsed, "AWS::StepFunctions::StateMachine");
            let properties = &machines[0].1["Properties"];
            assert_eq!(properties["LoggingConfiguration"]["Level"], "ERROR");
            let definition: Value =
                serde_json::from_str(properties["DefinitionString"].as_str().unwrap())
                    .expect("the ASL is JSON");
            let map = &definition["States"]["IngestFiles"];
            assert_eq!(map["Type"], "Map");
            assert_eq!(map["MaxConcurrency"], environment.pipeline.max_concurrency);
            // Child executions keep the parent's history per batch, not per file (25,000
            // events); standard ones, since dbprocess may run up to its timeout with retries.
            assert_eq!(
                map["ItemProcessor"]["ProcessorConfig"],
                serde_json::json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"})
            );
            // A child fails only when its file could not be moved; AWS's default tolerance
            // (0) must then fail the run rather than loop over the still-pending file.
            assert!(map.get("ToleratedFailurePercentage").is_none());
            assert!(map.get("ToleratedFailureCount").is_none());
            assert_eq!(map["Next"], "ListPendingFiles", "the loop");
            let states = &map["ItemProcessor"]["States"];
            let load = &states["LoadFile"];
            assert_eq!(load["Retry"][0]["JitterStrategy"], "FULL");
            assert!(load["Retry"][0]["MaxDelaySeconds"].is_u64());
            assert_eq!(load["Catch"][0]["Next"], "MoveToFailed");
            // Every Lambda task retries the transient Lambda errors AWS's best practice
            // lists; loading also retries a writer that is briefly away (a switchover).
            for task in ["LoadFile", "MoveToCompleted", "MoveToFailed"] {
                let retried: BTreeSet<&str> = states[task]["Retry"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|r| r["ErrorEquals"].as_array().unwrap())
                    .map(|e| e.as_str().unwrap())
                    .collect();
                for error in [
                    "Lambda.ClientExecutionTimeoutException",
                    "Lambda.ServiceException",
                    "Lambda.AWSLambdaException",
                    "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException",
                ] {
                    assert!(retried.contains(error), "{task} does not retry {error}");
                }
                assert_eq!(
                    retried.contains("DatabaseUnavailable"),
                    task == "LoadFile",
                    "{task}"
                );
            }
            // A load stopped short of its deadline is continued, not moved.
            assert_eq!(load["Next"], "LoadedInFull");
            assert_eq!(
                states["LoadedInFull"]["Choices"][0]["Next"], "LoadFile",
                "an incomplete load is called again"
            );
            assert_eq!(definition["States"]["AnyPendingFiles"]["Type"], "Choice");
            assert_eq!(definition["States"]["Done"]["OutputPath"], "$.totals");
            // The distributed map starts and follows its children as this state machine.
            let role = &parsed["Resources"]["StateMachineRole"]["Properties"];
            let statements = role["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array()
                .unwrap();
            let name = properties["StateMachineName"].as_str().unwrap();
            let granted = |action: &str, resource_suffix: &str| {
                statements.iter().any(|s| {
                    actions(s).contains(&action)
                        && s["Resource"]["Fn::Sub"]
                            .as_str()
                            .is_some_and(|r| r.ends_with(resource_suffix))
                })
            };
            assert!(granted(
                "states:StartExecution",
                &format!(":stateMachine:{name}")
            ));
            for action in ["states:DescribeExecution", "states:StopExecution"] {
                assert!(granted(action, &format!(":execution:{name}/*")), "{action}");
            }
            // Every ${...} placeholder in the ASL has a substitution.
            let substitutions = properties["DefinitionSubstitutions"].as_object().unwrap();
            let text = properties["DefinitionString"].as_str().unwrap();
            for placeholder in text.split("${").skip(1) {
                let name = placeholder.split('}').next().unwrap();
                assert!(substitutions.contains_key(name), "{name}");
            }
        }
    }
}

/// The dashboard's body with each `${Parameter}` replaced by `<Parameter>`, parsed; and
/// the placeholders it used.
fn dashboard_body(template: &Value) -> (Value, BTreeSet<String>) {
    let dashboards = resources_of_type(template, "AWS::CloudWatch::Dashboard");
    assert_eq!(dashboards.len(), 1);
    let text = dashboards[0].1["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("the body goes through Fn::Sub");
    let mut used = BTreeSet::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let end = start + rest[start..].find('}').unwrap();
        used.insert(rest[start + 2..end].to_string());
        plain.push_str(&rest[..start]);
        plain.push_str(&format!("<{}>", &rest[start + 2..end]));
        rest = &rest[end + 1..];
    }
    plain.push_str(rest);
    (
        serde_json::from_str(&plain).expect("the dashboard body is JSON"),
        used,
    )
}

/// The metric widgets whose title starts with `title`, by the Region each reads.
fn widgets<'a>(body: &'a Value, title: &str) -> BTreeMap<&'a str, &'a Value> {
    body["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["type"] == "metric")
        .filter(|w| {
            w["properties"]["title"]
                .as_str()
                .unwrap()
                .starts_with(title)
        })
        .map(|w| {
            (
                w["properties"]["region"].as_str().unwrap(),
                &w["properties"],
            )
        })
        .collect()
}

#[test]
fn the_dashboard_reads_every_region_from_the_primary() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let primary = environment.regions.primary.region.as_str();
        let regions: BTreeSet<&str> = environment
            .all_regions()
            .map(|r| r.region.as_str())
            .collect();
        let secondaries: BTreeSet<&str> = environment
            .regions
            .secondary
            .iter()
            .map(|r| r.region.as_str())
            .collect();
        let forwarding: BTreeSet<&str> = environment
            .regions
            .secondary
            .iter()
            .filter(|r| r.write_forwarding.enabled)
            .map(|r| r.region.as_str())
            .collect();
        let monitoring: Vec<&RenderedTemplate> = rendered
            .templates
            .iter()
            .filter(|t| t.part == Part::Monitoring)
            .collect();
        assert_eq!(monitoring.len(), 1, "{file}: one dashboard");
        assert_eq!(monitoring[0].region, primary);
        let template = parse(monitoring[0]);
        let (body, used) = dashboard_body(&template);
        let declared: BTreeSet<String> = template["Parameters"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        // Pseudo parameters (the alarms' ARNs name the account and partition) aside.
        let used: BTreeSet<String> = used
            .into_iter()
            .filter(|placeholder| !placeholder.starts_with("AWS::"))
            .collect();
        assert_eq!(
            used, declared,
            "{file}: placeholders are exactly the parameters"
        );

        // The alarm widget names every alarm the pipeline templates create, Region by Region.
        let alarm_widget = body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["type"] == "alarm")
            .expect("an alarm status widget");
        let listed: Vec<&str> = alarm_widget["properties"]["alarms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let mut created = Vec::new();
        for region in environment.all_regions() {
            let pipeline = pipeline_of(&rendered, &region.region);
            for (_, alarm) in resources_of_type(&pipeline, "AWS::CloudWatch::Alarm") {
                created.push(format!(
                    "arn:<AWS::Partition>:cloudwatch:{}:<AWS::AccountId>:alarm:{}",
                    region.region,
                    alarm["Properties"]["AlarmName"].as_str().unwrap()
                ));
            }
        }
        let mut listed_sorted: Vec<String> = listed.iter().map(|a| a.to_string()).collect();
        listed_sorted.sort();
        created.sort();
        assert_eq!(listed_sorted, created, "{file}");

        let cluster = |region: &str| format!("<ClusterIdentifier{}>", pascal(region));
        // Replication lag: one widget per secondary, reading that Region.
        let lag = widgets(&body, "Replication lag");
        assert_eq!(lag.keys().copied().collect::<BTreeSet<_>>(), secondaries);
        for (region, widget) in &lag {
            assert_eq!(
                widget["metrics"][0].as_array().unwrap()[..4],
                [
                    Value::from("AWS/RDS"),
                    "AuroraGlobalDBReplicationLag".into(),
                    "DBClusterIdentifier".into(),
                    cluster(region).into()
                ],
                "{file}: {region}"
            );
            assert_eq!(
                widget["annotations"]["horizontal"][0]["value"],
                environment.database.replication_lag_alarm_ms
            );
        }
        // Forwarded writes: only where the secondary forwards them.
        for title in ["Forwarded DML latency", "Forwarded DML throughput"] {
            let found = widgets(&body, title);
            assert_eq!(found.keys().copied().collect::<BTreeSet<_>>(), forwarding);
            for (region, widget) in found {
                let first = &widget["metrics"][0];
                assert_eq!(first[0], "AWS/RDS");
                assert!(first[1]
                    .as_str()
                    .unwrap()
                    .starts_with("ForwardingReplicaDML"));
                assert_eq!(first[3], cluster(region).as_str());
            }
        }
        // Executions and rows per second: one widget per Region.
        let executions = widgets(&body, "Executions");
        assert_eq!(executions.keys().copied().collect::<BTreeSet<_>>(), regions);
        for (region, widget) in executions {
            let metrics: Vec<&str> = widget["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    assert_eq!(m[0], "AWS/States");
                    assert_eq!(m[2], "StateMachineArn");
                    assert_eq!(m[3], format!("<StateMachineArn{}>", pascal(region)));
                    m[1].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                metrics,
                [
                    "ExecutionsStarted",
                    "ExecutionsSucceeded",
                    "ExecutionsFailed",
                    "ExecutionsTimedOut"
                ]
            );
        }
        let rows = widgets(&body, "Rows per second");
        assert_eq!(rows.keys().copied().collect::<BTreeSet<_>>(), regions);
        for (region, widget) in rows {
            let metrics = widget["metrics"].as_array().unwrap();
            let counted: Vec<&str> = metrics
                .iter()
                .filter(|m| m[0].is_string())
                .map(|m| {
                    // The namespace and dimension dbprocess is told to use in this Region.
                    let pipeline = rendered
                        .templates
                        .iter()
                        .find(|t| t.part == Part::Pipeline && t.region == region)
                        .unwrap();
                    let pipeline = parse(pipeline);
                    let variables = &resources_of_type(&pipeline, "AWS::Lambda::Function")
                        .into_iter()
                        .find(|(logical, _)| *logical == "DbprocessFunction")
                        .unwrap()
                        .1["Properties"]["Environment"]["Variables"];
                    assert_eq!(m[0], variables["METRICS_NAMESPACE"]);
                    assert_eq!(m[2], "Environment");
                    assert_eq!(m[3], variables["METRICS_ENVIRONMENT"]);
                    assert_eq!(m[4]["stat"], "Sum");
                    m[1].as_str().unwrap()
                })
                .collect();
            assert_eq!(
                counted,
                ["RowsInserted", "RowsAlreadyPresent", "RowsRejected"]
            );
            let expressions: Vec<&str> = metrics
                .iter()
                .filter_map(|m| m[0]["expression"].as_str())
                .collect();
            assert_eq!(
                expressions,
                [
                    "inserted/PERIOD(inserted)",
                    "present/PERIOD(present)",
                    "rejected/PERIOD(rejected)"
                ]
            );
        }
        // Widgets stay on the 24-unit grid and never overlap.
        let boxes: Vec<(u64, u64, u64, u64)> = body["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| {
                let n = |k: &str| w[k].as_u64().unwrap();
                (n("x"), n("y"), n("width"), n("height"))
            })
            .collect();
        for (i, a) in boxes.iter().enumerate() {
            assert!(a.0 + a.2 <= 24, "{file}: {a:?}");
            for b in &boxes[i + 1..] {
                let apart =
                    a.0 + a.2 <= b.0 || b.0 + b.2 <= a.0 || a.1 + a.3 <= b.1 || b.1 + b.3 <= a.1;
                assert!(apart, "{file}: {a:?} overlaps {b:?}");
            }
        }
    }
}

#[test]
fn replication_lag_alarm_watches_the_secondary_cluster() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        for secondary in &environment.regions.secondary {
            let template = |part: Part| {
                parse(
                    rendered
                        .templates
                        .iter()
                        .find(|t| t.part == part && t.region == secondary.region)
                        .unwrap(),
                )
            };
            let database = template(Part::Database);
            let cluster = &resources_of_type(&database, "AWS::RDS::DBCluster")[0].1["Properties"]
                ["DBClusterIdentifier"];
            let pipeline = template(Part::Pipeline);
            let alarms = resources_of_type(&pipeline, "AWS::CloudWatch::Alarm");
            let alarm = &alarms[0].1["Properties"];
            assert_eq!(alarm["Namespace"], "AWS/RDS", "{file}");
            assert_eq!(alarm["MetricName"], "AuroraGlobalDBReplicationLag");
            assert_eq!(
                alarm["Dimensions"],
                serde_json::json!([{"Name": "DBClusterIdentifier", "Value": cluster}])
            );
        }
    }
}

/// `us-east-1` as `UsEast1`, as the plan names Region parameters.
fn pascal(region: &str) -> String {
    region
        .split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect()
}

/// Every policy document in a template, with where it is.
fn policy_documents(template: &Value) -> Vec<(String, &Value)> {
    let mut documents = Vec::new();
    for (logical, resource) in template["Resources"].as_object().unwrap() {
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap() {
            "AWS::IAM::Role" => {
                documents.push((
                    format!("{logical} trust"),
                    &properties["AssumeRolePolicyDocument"],
                ));
                for policy in properties["Policies"].as_array().into_iter().flatten() {
                    documents.push((logical.clone(), &policy["PolicyDocument"]));
                }
            }
            "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" | "AWS::S3::BucketPolicy" => {
                documents.push((logical.clone(), &properties["PolicyDocument"]));
            }
            "AWS::KMS::Key" => documents.push((logical.clone(), &properties["KeyPolicy"])),
            _ => {}
        }
    }
    documents
}

fn actions(statement: &Value) -> Vec<&str> {
    match &statement["Action"] {
        Value::String(action) => vec![action.as_str()],
        Value::Array(actions) => actions.iter().map(|a| a.as_str().unwrap()).collect(),
        other => panic!("Action is {other}"),
    }
}

#[test]
fn no_hard_coded_partition_and_no_wildcard_actions() {
    for (file, rendered) in all_rendered() {
        for template in &rendered.templates {
            assert!(
                !template.body.contains("arn:aws:"),
                "{file}: {} hard-codes the partition; use ${{AWS::Partition}}",
                template.path
            );
            let parsed = parse(template);
            for (place, document) in policy_documents(&parsed) {
                for statement in document["Statement"].as_array().unwrap() {
                    assert!(statement.get("NotAction").is_none(), "{place}");
                    let actions = actions(statement);
                    let wildcard = actions.iter().any(|a| a.contains('*'));
                    if !wildcard {
                        continue;
                    }
                    // The two documented exceptions, neither of them IAM: the TLS-only
                    // bucket policies deny everything over plain HTTP, and the KMS key
                    // policy's root statement is AWS's default that lets IAM govern the key.
                    let tls_deny = statement["Effect"] == "Deny"
                        && statement["Sid"] == "DenyInsecureTransport";
                    let key_root = ["DatabaseKey", "AlertsKey"].contains(&place.as_str())
                        && statement["Sid"] == "EnableIamPolicies"
                        && actions == ["kms:*"];
                    assert!(
                        tls_deny || key_root,
                        "{file}: {} {place}: wildcard action in {statement}",
                        template.path
                    );
                }
            }
            for (logical, role) in resources_of_type(&parsed, "AWS::IAM::Role") {
                for policy in role["Properties"]["Policies"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                        for action in actions(statement) {
                            assert!(!action.contains('*'), "{logical}: {action}");
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn buckets_are_private_encrypted_and_tls_only() {
    for (_, rendered) in all_rendered() {
        for template in &rendered.templates {
            let parsed = parse(template);
            let policies = resources_of_type(&parsed, "AWS::S3::BucketPolicy");
            for (logical, bucket) in resources_of_type(&parsed, "AWS::S3::Bucket") {
                let properties = &bucket["Properties"];
                assert!(properties.get("BucketName").is_none(), "generated names");
                assert!(properties["BucketEncryption"].is_object());
                for setting in [
                    "BlockPublicAcls",
                    "BlockPublicPolicy",
                    "IgnorePublicAcls",
                    "RestrictPublicBuckets",
                ] {
                    assert_eq!(properties["PublicAccessBlockConfiguration"][setting], true);
                }
                assert_eq!(
                    properties["OwnershipControls"]["Rules"][0]["ObjectOwnership"],
                    "BucketOwnerEnforced"
                );
                let policy = policies
                    .iter()
                    .find(|(_, p)| p["Properties"]["Bucket"]["Ref"] == logical.as_str())
                    .unwrap_or_else(|| panic!("{logical} has no bucket policy"));
                let statement = &policy.1["Properties"]["PolicyDocument"]["Statement"][0];
                assert_eq!(statement["Effect"], "Deny");
                assert_eq!(
                    statement["Condition"]["Bool"]["aws:SecureTransport"],
                    "false"
                );
            }
        }
    }
}

#[test]
fn values_cannot_break_the_yaml() {
    // A tag or prefix is never interpolated raw: quotes, colons and newlines survive.
    let mut environment = deploy::env::load(&manifest_path(PROD)).unwrap();
    let nasty = "a: b\n- c # \"d\" 'e' {{f}} ${g}";
    environment.tags.insert("nasty".into(), nasty.into());
    environment.database.name = "reviews\": x".into();
    let rendered = render(&environment).expect("renders");
    let pipeline = rendered
        .templates
        .iter()
        .find(|t| t.part == Part::Pipeline)
        .unwrap();
    let parsed = parse(pipeline);
    assert_eq!(
        parsed["Resources"]["MigrateFunction"]["Properties"]["Environment"]["Variables"]["DB_NAME"],
        "reviews\": x"
    );
    assert_eq!(rendered.plan.waves[0].stacks[0].tags["nasty"], nasty);
}

/// Each function's role allows exactly the calls its code makes (lambdas/reviews: s3.rs,
/// db.rs, endpoint.rs), besides writing its own logs. S3 answers a missing key with 403
/// unless the caller may s3:ListBucket (S3 API reference, HeadObject), so the functions that
/// must tell a missing object from a refused one (dbprocess looks the object up;
/// postprocess finds a file an earlier attempt moved) have it.
#[test]
fn function_roles_allow_exactly_the_calls_their_code_makes() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let prefix = environment.name_prefix();
        let pipeline = &environment.pipeline;
        let objects = |p: &str| format!("arn:${{AWS::Partition}}:s3:::${{DataBucket}}/{p}*");
        let bucket = "arn:${AWS::Partition}:s3:::${DataBucket}".to_string();
        let secret = |suffix: &str| {
            format!(
                "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{}/{}/{suffix}-*",
                environment.application, environment.environment
            )
        };
        let master_secret = secret("aurora-master");
        let app_secret = secret("aurora-app");
        for template in rendered
            .templates
            .iter()
            .filter(|t| t.part == Part::Pipeline)
        {
            let parsed = parse(template);
            let cluster = format!(
                "arn:${{AWS::Partition}}:rds:${{AWS::Region}}:${{AWS::AccountId}}:cluster:{prefix}-{}",
                template.region
            );
            let global =
                format!("arn:${{AWS::Partition}}:rds::${{AWS::AccountId}}:global-cluster:{prefix}");
            let grant = |action: &str, resource: &str| (action.to_string(), resource.to_string());
            // Both log in to the database: dbprocess as the application user only; the
            // master secret is migrate's alone (it creates the application user).
            let read_role = [
                grant("rds:DescribeDBClusters", &cluster),
                grant("rds:DescribeGlobalClusters", &global),
                grant("secretsmanager:GetSecretValue", &app_secret),
            ];
            let expected: BTreeMap<&str, BTreeSet<(String, String)>> = BTreeMap::from([
                (
                    "PreprocessRole",
                    BTreeSet::from([grant("s3:ListBucket", &bucket)]),
                ),
                (
                    "DbprocessRole",
                    [
                        grant("s3:GetObject", &objects(&pipeline.pending_prefix)),
                        grant("s3:ListBucket", &bucket),
                    ]
                    .into_iter()
                    .chain(read_role.clone())
                    .collect(),
                ),
                (
                    "PostprocessRole",
                    BTreeSet::from([
                        grant("s3:GetObject", &objects(&pipeline.pending_prefix)),
                        grant("s3:GetObjectVersion", &objects(&pipeline.pending_prefix)),
                        grant("s3:DeleteObject", &objects(&pipeline.pending_prefix)),
                        grant("s3:DeleteObjectVersion", &objects(&pipeline.pending_prefix)),
                        grant("s3:ListBucketVersions", &bucket),
                        grant("s3:PutObject", &objects(&pipeline.completed_prefix)),
                        grant("s3:PutObject", &objects(&pipeline.failed_prefix)),
                        grant("s3:GetObject", &objects(&pipeline.completed_prefix)),
                        grant("s3:GetObject", &objects(&pipeline.failed_prefix)),
                        grant("s3:PutObject", &objects(&pipeline.reports_prefix)),
                        grant("s3:ListBucket", &bucket),
                    ]),
                ),
                (
                    "MigrateRole",
                    read_role
                        .iter()
                        .cloned()
                        .chain([grant("secretsmanager:GetSecretValue", &master_secret)])
                        .collect(),
                ),
            ]);
            for (role, wanted) in expected {
                let policies = &parsed["Resources"][role]["Properties"]["Policies"];
                let mut granted = BTreeSet::new();
                for statement in policies[0]["PolicyDocument"]["Statement"]
                    .as_array()
                    .unwrap()
                {
                    let sid = statement["Sid"].as_str().unwrap_or_default();
                    // Logs are written by Lambda for the function; the primary's secret key
                    // is used by Secrets Manager on its behalf (kms:ViaService).
                    if sid == "WriteOwnLogs" || sid == "DecryptDatabaseSecrets" {
                        continue;
                    }
                    assert_eq!(statement["Effect"], "Allow", "{role} {sid}");
                    let resources: Vec<String> = match &statement["Resource"] {
                        Value::Array(list) => list
                            .iter()
                            .map(|r| r["Fn::Sub"].as_str().unwrap().to_string())
                            .collect(),
                        one => vec![one["Fn::Sub"].as_str().unwrap().to_string()],
                    };
                    for action in actions(statement) {
                        for resource in &resources {
                            granted.insert(grant(action, resource));
                        }
                    }
                }
                assert_eq!(
                    granted, wanted,
                    "{file} {}: {role} grants what its function does not call, or misses a call",
                    template.region
                );
            }
        }
    }
}

/// A VPC's own endpoints, reused as the file says (`reuse_vpc_endpoints`), are not created
/// again: a second S3 gateway endpoint on the same route tables, or a second private-DNS
/// interface endpoint, fails on AWS.
#[test]
fn reused_vpc_endpoints_are_not_created() {
    let text = std::fs::read_to_string(manifest_path("environments/prod.yaml"))
        .unwrap()
        .replacen(
            "    vpc_id: vpc-0a1b2c3d4e5f60718\n",
            "    vpc_id: vpc-0a1b2c3d4e5f60718\n    reuse_vpc_endpoints: [s3, secretsmanager, rds]\n",
            1,
        );
    assert!(
        text.contains("reuse_vpc_endpoints"),
        "prod.yaml's primary VPC moved"
    );
    let environment = deploy::env::parse(Path::new("prod.yaml"), &text).unwrap();
    let rendered = render(&environment).unwrap();
    for template in rendered
        .templates
        .iter()
        .filter(|t| t.part == Part::Network)
    {
        let parsed = parse(template);
        let endpoints = resources_of_type(&parsed, "AWS::EC2::VPCEndpoint");
        let reused_here = template.region == environment.regions.primary.region;
        assert_eq!(
            endpoints.len(),
            if reused_here { 0 } else { 3 },
            "{}",
            template.path
        );
        assert_eq!(
            parsed["Parameters"].get("RouteTableIds").is_some(),
            !reused_here,
            "the S3 gateway endpoint's route tables, only when it is made"
        );
        let stack = rendered
            .plan
            .waves
            .iter()
            .flat_map(|w| &w.stacks)
            .find(|s| s.part == Part::Network && s.region == template.region)
            .unwrap();
        assert_eq!(
            stack.parameters.iter().any(|p| p.name == "RouteTableIds"),
            !reused_here
        );
    }
}

/// The pipeline template of `region`, parsed.
fn pipeline_of(rendered: &Rendered, region: &str) -> Value {
    parse(
        rendered
            .templates
            .iter()
            .find(|t| t.part == Part::Pipeline && t.region == region)
            .expect("a pipeline template"),
    )
}

#[test]
fn a_schedule_that_follows_the_writer_is_enabled_where_the_writer_region_parameter_says() {
    let rendered = rendered(PROD);
    for region in ["us-east-1", "us-east-2"] {
        let template = pipeline_of(&rendered, region);
        // The parameter comes from the live topology, not from the file.
        let planned = rendered
            .plan
            .stacks()
            .map(|(_, s)| s)
            .find(|s| s.part == Part::Pipeline && s.region == region)
            .unwrap();
        assert_eq!(
            planned.parameters.last().map(|p| (&p.name[..], &p.source)),
            Some(("WriterRegion", &ParameterSource::WriterRegion))
        );
        assert_eq!(
            template["Conditions"]["HoldsTheWriter"],
            serde_json::json!({"Fn::Equals": [{"Ref": "WriterRegion"}, {"Ref": "AWS::Region"}]})
        );
        let schedule = &template["Resources"]["PipelineSchedule"];
        assert_eq!(schedule["Type"], "AWS::Scheduler::Schedule");
        assert_eq!(
            schedule["Properties"],
            serde_json::json!({
                "Name": "book-reviews-prod-pipeline",
                "Description": "Starts the book-reviews-prod-pipeline state machine",
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "ScheduleExpressionTimezone": "America/New_York",
                "FlexibleTimeWindow": {"Mode": "OFF"},
                "State": {"Fn::If": ["HoldsTheWriter", "ENABLED", "DISABLED"]},
                "Target": {
                    "Arn": {"Ref": "StateMachine"},
                    "RoleArn": {"Fn::GetAtt": ["ScheduleRole", "Arn"]},
                    "Input": "{\"trigger\":\"schedule\",\"scheduled_time\":\"<aws.scheduler.scheduled-time>\"}",
                    "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600},
                    "DeadLetterConfig": {"Arn": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}}
                }
            })
        );
        // Its own role: start this Region's state machine, send to its dead-letter queue.
        let role = &template["Resources"]["ScheduleRole"]["Properties"];
        assert_eq!(
            role["AssumeRolePolicyDocument"]["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
            }])
        );
        assert_eq!(
            role["Policies"],
            serde_json::json!([{
                "PolicyName": "schedule",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "StartPipeline",
                            "Effect": "Allow",
                            "Action": "states:StartExecution",
                            "Resource": {"Ref": "StateMachine"}
                        },
                        {
                            "Sid": "ReportUndelivered",
                            "Effect": "Allow",
                            "Action": "sqs:SendMessage",
                            "Resource": {"Fn::GetAtt": ["ScheduleDeadLetterQueue", "Arn"]}
                        }
                    ]
                }
            }])
        );
        let queue = &template["Resources"]["ScheduleDeadLetterQueue"];
        assert_eq!(queue["Type"], "AWS::SQS::Queue");
        assert_eq!(
            queue["Properties"]["QueueName"],
            "book-reviews-prod-schedule-dlq"
        );
        assert_eq!(queue["Properties"]["SqsManagedSseEnabled"], true);

        // A scheduled start first looks for a run going on, so the state machine's role
        // may list its own executions.
        let definition: Value = serde_json::from_str(
            template["Resources"]["StateMachine"]["Properties"]["DefinitionString"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(definition["StartAt"], "ScheduledStart");
        assert_eq!(
            definition["States"]["ListRunningExecutions"]["Resource"],
            "${ListExecutions}"
        );
        assert_eq!(
            definition["States"]["AnotherRunGoingOn"]["Choices"][0]["Next"],
            "LeftToTheOtherRun"
        );
        let statements = template["Resources"]["StateMachineRole"]["Properties"]["Policies"][0]
            ["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        let list = statements
            .iter()
            .find(|s| s["Sid"] == "SeeRunningExecutions")
            .expect("SeeRunningExecutions");
        assert_eq!(list["Action"], "states:ListExecutions");
        assert_eq!(
            list["Resource"]["Fn::Sub"],
            "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:book-reviews-prod-pipeline"
        );
        assert_eq!(
            template["Outputs"]["ScheduleName"]["Value"],
            serde_json::json!({"Ref": "PipelineSchedule"})
        );
    }
}

#[test]
fn a_schedule_in_every_region_is_enabled_everywhere_and_without_a_schedule_nothing_is_rendered() {
    let rendered = rendered(THREE_SECONDARIES);
    for template in rendered
        .templates
        .iter()
        .filter(|t| t.part == Part::Pipeline)
    {
        let template = parse(template);
        let schedule = &template["Resources"]["PipelineSchedule"]["Properties"];
        assert_eq!(schedule["State"], "ENABLED");
        assert_eq!(schedule["ScheduleExpression"], "rate(30 minutes)");
        assert_eq!(schedule["ScheduleExpressionTimezone"], "UTC");
        // The Region holding the writer still decides where the lag alarms are.
        assert!(template["Parameters"].get("WriterRegion").is_some());
    }

    let mut environment = deploy::env::load(&manifest_path(PROD)).unwrap();
    environment.pipeline.schedule = None;
    let rendered = render(&environment).unwrap();
    for template in rendered
        .templates
        .iter()
        .filter(|t| t.part == Part::Pipeline)
    {
        for absent in [
            "PipelineSchedule",
            "ScheduleRole",
            "ScheduleDeadLetterQueue",
            "ListRunningExecutions",
            "SeeRunningExecutions",
        ] {
            assert!(
                !template.body.contains(absent),
                "{absent} in {}",
                template.path
            );
        }
    }

    let mut environment = deploy::env::load(&manifest_path(PROD)).unwrap();
    environment.pipeline.schedule.as_mut().unwrap().enabled = false;
    let rendered = render(&environment).unwrap();
    let template = pipeline_of(&rendered, "us-east-1");
    assert_eq!(
        template["Resources"]["PipelineSchedule"]["Properties"]["State"],
        "DISABLED"
    );
}

/// Least-privilege database access (lambdas/README.md, "Database access"): the application
/// user's secret is generated, encrypted and replicated exactly as the master's; every
/// Region's cluster requires TLS through a cluster parameter group of its engine's family.
#[test]
fn application_secret_and_tls_parameter_groups() {
    for (file, rendered) in all_rendered() {
        let environment = deploy::env::load(&manifest_path(file)).unwrap();
        let family = format!(
            "aurora-mysql{}",
            environment
                .database
                .engine_version
                .split(".mysql_aurora")
                .next()
                .unwrap()
        );
        for template in rendered
            .templates
            .iter()
            .filter(|t| t.part == Part::Database)
        {
            let parsed = parse(template);
            let resources = &parsed["Resources"];
            let group = &resources["ClusterParameterGroup"];
            assert_eq!(group["Type"], "AWS::RDS::DBClusterParameterGroup");
            assert_eq!(group["Properties"]["Family"], family.as_str());
            assert_eq!(
                group["Properties"]["Parameters"],
                serde_json::json!({"require_secure_transport": "ON"}),
                "{}",
                template.path
            );
            assert_eq!(
                resources["Cluster"]["Properties"]["DBClusterParameterGroupName"]["Ref"],
                "ClusterParameterGroup",
                "{}",
                template.path
            );
            if template.region != environment.regions.primary.region {
                continue;
            }
            let master = &resources["MasterSecret"]["Properties"];
            let app = &resources["AppSecret"]["Properties"];
            assert_eq!(
                app["Name"],
                format!(
                    "{}/{}/aurora-app",
                    environment.application, environment.environment
                )
            );
            assert_eq!(app["KmsKeyId"], master["KmsKeyId"]);
            assert_eq!(app["ReplicaRegions"], master["ReplicaRegions"]);
            let template_string: Value = serde_json::from_str(
                app["GenerateSecretString"]["SecretStringTemplate"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(
                template_string,
                serde_json::json!({"username": "app_ingest"})
            );
            assert_eq!(app["GenerateSecretString"]["GenerateStringKey"], "password");
            assert_eq!(
                resources["AppSecret"]["DeletionPolicy"],
                resources["MasterSecret"]["DeletionPolicy"]
            );
            assert_eq!(
                parsed["Outputs"]["AppSecretArn"]["Value"]["Ref"],
                "AppSecret"
            );
        }
        for template in rendered
            .templates
            .iter()
            .filter(|t| t.part == Part::Pipeline)
        {
            let parsed = parse(template);
            let variables = |function: &str| {
                parsed["Resources"][function]["Properties"]["Environment"]["Variables"].clone()
            };
            let master = format!(
                "{}/{}/aurora-master",
                environment.application, environment.environment
            );
            let app = format!(
                "{}/{}/aurora-app",
                environment.application, environment.environment
            );
            assert_eq!(variables("DbprocessFunction")["DB_SECRET_ID"], app.as_str());
            assert!(variables("DbprocessFunction")
                .get("APP_DB_SECRET_ID")
                .is_none());
            assert_eq!(
                variables("MigrateFunction")["DB_SECRET_ID"],
                master.as_str()
            );
            assert_eq!(
                variables("MigrateFunction")["APP_DB_SECRET_ID"],
                app.as_str()
            );
        }
    }
}

/// Alerts (README, "Alerts"): a topic per Region, encrypted with a key CloudWatch may use,
/// subscribed to by each address; or the file's own topic in each Region; every alarm
/// notifies it on ALARM and back to OK. The replication lag alarms stay out of the
/// writer's Region, and a lag that stops being reported is an alarm, not OK.
#[test]
fn alarms_notify_the_alerts_topic_of_their_region() {
    let mut environment = deploy::env::load(&manifest_path(PROD)).unwrap();
    environment.alerts = Some(deploy::env::Alerts {
        email: vec!["oncall@example.com".into()],
        https: vec!["https://hooks.example.com/alerts".into()],
        ..Default::default()
    });
    let rendered = render(&environment).unwrap();
    for region in environment.all_regions() {
        let template = pipeline_of(&rendered, &region.region);
        let resources = &template["Resources"];
        let topic = &resources["AlertsTopic"]["Properties"];
        assert_eq!(topic["TopicName"], "book-reviews-prod-alerts");
        assert_eq!(topic["KmsMasterKeyId"], json!({"Ref": "AlertsKey"}));
        let key_policy = &resources["AlertsKey"]["Properties"]["KeyPolicy"]["Statement"];
        let cloudwatch = key_policy
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["Principal"]["Service"] == "cloudwatch.amazonaws.com")
            .expect("CloudWatch may use the topic's key");
        assert_eq!(
            cloudwatch["Action"],
            json!(["kms:Decrypt", "kms:GenerateDataKey"])
        );
        let mut endpoints: Vec<(String, String)> =
            resources_of_type(&template, "AWS::SNS::Subscription")
                .into_iter()
                .map(|(_, s)| {
                    assert_eq!(s["Properties"]["TopicArn"], json!({"Ref": "AlertsTopic"}));
                    (
                        s["Properties"]["Protocol"].as_str().unwrap().into(),
                        s["Properties"]["Endpoint"].as_str().unwrap().into(),
                    )
                })
                .collect();
        endpoints.sort();
        assert_eq!(
            endpoints,
            [
                ("email".into(), "oncall@example.com".into()),
                ("https".into(), "https://hooks.example.com/alerts".into())
            ]
        );
        let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
        assert_eq!(alarms.len(), 4);
        for (name, alarm) in alarms {
            let properties = &alarm["Properties"];
            assert_eq!(
                properties["AlarmActions"],
                json!([{"Ref": "AlertsTopic"}]),
                "{name}"
            );
            assert_eq!(
                properties["OKActions"],
                json!([{"Ref": "AlertsTopic"}]),
                "{name}"
            );
            let follows_writer = name.starts_with("ReplicationLag");
            assert_eq!(
                alarm.get("Condition") == Some(&json!("ReplicatesFromTheWriter")),
                follows_writer,
                "{name}"
            );
        }
        assert_eq!(
            resources["ReplicationLagMissingAlarm"]["Properties"]["TreatMissingData"],
            "breaching"
        );
    }

    // Existing topics: none created, each Region's alarms notify that Region's topic.
    let topic = |region: &str| format!("arn:aws:sns:{region}:123456789012:ops");
    environment.alerts = Some(deploy::env::Alerts {
        topics: environment
            .all_regions()
            .map(|r| (r.region.clone(), topic(&r.region)))
            .collect(),
        ..Default::default()
    });
    let rendered = render(&environment).unwrap();
    for region in environment.all_regions() {
        let template = pipeline_of(&rendered, &region.region);
        assert!(template["Resources"].get("AlertsTopic").is_none());
        assert!(template["Resources"].get("AlertsKey").is_none());
        for (name, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
            assert_eq!(
                alarm["Properties"]["AlarmActions"],
                json!([topic(&region.region)]),
                "{name}"
            );
        }
    }

    // Without alerts the alarms are there, notifying nobody.
    environment.alerts = None;
    let rendered = render(&environment).unwrap();
    let template = pipeline_of(&rendered, "us-east-1");
    for (name, alarm) in resources_of_type(&template, "AWS::CloudWatch::Alarm") {
        assert!(alarm["Properties"].get("AlarmActions").is_none(), "{name}");
    }
}
