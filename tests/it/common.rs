//! What the end-to-end tests against the local stand-ins share: running the real binary,
//! the function zips, and an environment of their own.
#![allow(dead_code)] // Each test file uses its own part of this.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::cli::Deploy;
use deploy::aws::AwsContext;
use deploy::env::Environment;
use serde_json::Value;

/// The function zips `make lambdas` leaves (or DEPLOY_TEST_LAMBDA_DIR).
pub fn lambda_dir() -> PathBuf {
    let dir = PathBuf::from(
        std::env::var("DEPLOY_TEST_LAMBDA_DIR").unwrap_or_else(|_| "target/lambda/arm64".into()),
    );
    assert!(
        dir.join("migrate/bootstrap.zip").exists(),
        "no function zips in {}: run `make lambdas` (make test does)",
        dir.display()
    );
    dir
}

/// environments/local.yaml as the environment `name`, with a database, master user and
/// application user of its own (the stand-in's MariaDB serves every environment, and the plugin sets a master
/// user's password to the newest cluster's secret, so tests sharing `admin` would lock one
/// another out) and a VPC of its own in each Region (two environments' endpoints in one VPC
/// collide, as on AWS). Written into `dir`.
pub fn environment_named(dir: &Path, name: &str) -> PathBuf {
    let local = local_yaml();
    let mut text = local
        .replacen("environment: local\n", &format!("environment: {name}\n"), 1)
        .replacen(
            "\ndatabase:\n",
            &format!("\ndatabase:\n  name: {name}_db\n  master_username: {name}_admin\n  app_username: {name}_app\n"),
            1,
        );
    assert!(text.contains(&format!("{name}_admin")), "{text}");
    let environment = deploy::env::parse(Path::new("local.yaml"), &local).unwrap();
    for settings in environment.all_regions() {
        let vpc = vpc_of_own(&environment, &settings.region, name);
        let old = format!("vpc_id: {}", settings.vpc_id);
        assert!(text.contains(&old), "{old} not in local.yaml");
        text = text.replacen(&old, &format!("vpc_id: {vpc}"), 1);
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).unwrap();
    path
}

pub fn deploy(args: &[&str]) -> Output {
    Deploy::new(args).run().output
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
pub fn succeed(args: &[&str]) -> Output {
    Deploy::new(args).run().success().output
}

#[track_caller]
pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", text(&output.stdout)))
}

/// `deploy up ENV --yes --output json` with the ready zips.
#[track_caller]
pub fn up(path: &str) -> Output {
    let lambdas = lambda_dir();
    succeed(&[
        "up",
        path,
        "--yes",
        "--output",
        "json",
        "--lambda-dir",
        lambdas.to_str().unwrap(),
    ])
}

pub fn assert_moto_is_up(environment: &Environment) {
    let endpoint = &environment.endpoints.as_ref().unwrap().aws;
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        std::net::TcpStream::connect(address).is_ok(),
        "the local stand-in is not running at {endpoint}: run `make local-up`"
    );
}

/// No stack, cluster, secret, bucket or global cluster of the environment is left.
pub async fn assert_nothing_left(aws: &AwsContext, env: &Environment) {
    let prefix = env.name_prefix();
    for region in ["us-east-1", "us-east-2"] {
        let stacks = aws
            .cloudformation(region)
            .list_stacks()
            .send()
            .await
            .unwrap();
        let alive: Vec<_> = stacks
            .stack_summaries()
            .iter()
            .filter(|s| s.stack_name().is_some_and(|n| n.starts_with(&prefix)))
            .filter(|s| s.stack_status().map(|st| st.as_str()) != Some("DELETE_COMPLETE"))
            .map(|s| s.stack_name().unwrap().to_string())
            .collect();
        assert!(alive.is_empty(), "stacks left in {region}: {alive:?}");
        let clusters = aws.rds(region).describe_db_clusters().send().await.unwrap();
        let ours: Vec<_> = clusters
            .db_clusters()
            .iter()
            .filter_map(|c| c.db_cluster_identifier())
            .filter(|id| id.starts_with(&prefix))
            .collect();
        assert!(ours.is_empty(), "clusters left in {region}: {ours:?}");
        let secret = env.master_secret_name();
        assert!(
            aws.secrets_manager(region)
                .describe_secret()
                .secret_id(&secret)
                .send()
                .await
                .is_err(),
            "the secret is left in {region}"
        );
        let buckets = aws.s3(region).list_buckets().send().await.unwrap();
        let ours: Vec<_> = buckets
            .buckets()
            .iter()
            .filter_map(|b| b.name())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        assert!(ours.is_empty(), "buckets left: {ours:?}");
    }
    assert!(
        deploy::topology::read(aws, "us-east-1", &prefix)
            .await
            .unwrap()
            .is_none(),
        "the global cluster is left"
    );
}

/// Where `make local-up` started the stand-ins: `.local/run/stand-in.env`, which it writes
/// (its ports follow `MOTO_PORT` and `MARIADB_PORT`).
pub struct StandIn {
    /// moto's endpoint, for the environment files' `endpoints.aws`.
    pub aws_url: String,
    pub mariadb_port: u16,
}

pub fn stand_in_settings() -> StandIn {
    let path = Path::new(".local/run/stand-in.env");
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; start the stand-ins with `make local-up`",
            path.display()
        )
    });
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key} in {}", path.display()))
            .to_string()
    };
    StandIn {
        aws_url: value("MOTO_URL"),
        mariadb_port: value("MARIADB_PORT").parse().expect("a port"),
    }
}

/// environments/local.yaml's text, pointed at the stand-in where `make local-up` started it.
pub fn local_yaml() -> String {
    let shipped = std::fs::read_to_string("environments/local.yaml").unwrap();
    let shipped_url = deploy::env::parse(Path::new("local.yaml"), &shipped)
        .unwrap()
        .endpoints
        .expect("local.yaml names the stand-in")
        .aws;
    shipped.replacen(&shipped_url, &stand_in_settings().aws_url, 1)
}

/// A query against the stand-in's MariaDB (root over TCP, as `make local-up` sets it up),
/// tab-separated rows.
pub fn sql(query: &str) -> Vec<Vec<String>> {
    let port = stand_in_settings().mariadb_port;
    let output = std::process::Command::new("mariadb")
        .args(["--no-defaults", "--protocol=tcp", "-h127.0.0.1"])
        .arg(format!("-P{port}"))
        .args(["-uroot", "--batch", "--skip-column-names", "-e", query])
        .output()
        .expect("the mariadb client (make local-up installs it)");
    assert!(
        output.status.success(),
        "{query}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// A call to the stand-in's own API (`/moto-api/...`): POST with a JSON body, or GET.
pub fn stand_in_api(environment: &Environment, path: &str, body: Option<&Value>) -> Value {
    use std::io::{Read, Write};
    let endpoint = &environment.endpoints.as_ref().unwrap().aws;
    let address = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(address).expect("the stand-in is up");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let method = if body.is_empty() { "GET" } else { "POST" };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}\n{body}"
    );
    // A chunked answer: the JSON is between the chunk sizes.
    let json = body
        .find(['{', '['])
        .map(|start| &body[start..body.rfind(['}', ']']).map_or(body.len(), |e| e + 1)])
        .unwrap_or("null");
    serde_json::from_str(json).unwrap_or(Value::Null)
}

/// Generated reviews (scripts/generate-reviews.py) under `dir`, and their manifest.
pub fn generate_reviews(dir: &Path, args: &[&str]) -> Value {
    let generated = std::process::Command::new("python3")
        .args(["scripts/generate-reviews.py", dir.to_str().unwrap()])
        .args(args)
        .status()
        .unwrap();
    assert!(generated.success());
    serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json")).unwrap()).unwrap()
}

/// A VPC of the test environment `name` in `region` on the stand-in, made the first time:
/// DNS support and hostnames on (interface endpoints need them), a subnet in each of two
/// Availability Zones. Found again by its Name tag.
pub fn vpc_of_own(environment: &Environment, region: &str, name: &str) -> String {
    let environment = environment.clone();
    let (region, name) = (region.to_string(), name.to_string());
    // Its own runtime, on its own thread: callers may be inside a tokio test.
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            use aws_sdk_ec2::types::{
                AttributeBooleanValue, Filter, ResourceType, Tag, TagSpecification,
            };
            let aws = AwsContext::load(&environment, None).await;
            let ec2 = aws.ec2(&region);
            let tag = format!("deploy-test-{name}");
            let found = ec2
                .describe_vpcs()
                .filters(Filter::builder().name("tag:Name").values(&tag).build())
                .send()
                .await
                .unwrap();
            if let Some(vpc) = found.vpcs().first().and_then(|v| v.vpc_id()) {
                return vpc.to_string();
            }
            // 10.X.0.0/16 with X from the name: distinct enough for the stand-in.
            let octet = name
                .bytes()
                .fold(7u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32))
                % 250
                + 1;
            let vpc = ec2
                .create_vpc()
                .cidr_block(format!("10.{octet}.0.0/16"))
                .tag_specifications(
                    TagSpecification::builder()
                        .resource_type(ResourceType::Vpc)
                        .tags(Tag::builder().key("Name").value(&tag).build())
                        .build(),
                )
                .send()
                .await
                .unwrap()
                .vpc()
                .and_then(|v| v.vpc_id())
                .unwrap()
                .to_string();
            ec2.modify_vpc_attribute()
                .vpc_id(&vpc)
                .enable_dns_hostnames(AttributeBooleanValue::builder().value(true).build())
                .send()
                .await
                .unwrap();
            for (index, zone) in ["a", "b"].iter().enumerate() {
                ec2.create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(format!("10.{octet}.{index}.0/24"))
                    .availability_zone(format!("{region}{zone}"))
                    .send()
                    .await
                    .unwrap();
            }
            vpc
        })
    })
    .join()
    .unwrap()
}

/// Every end-to-end test shares the stand-in, each with an environment of its own, so they
/// run side by side; the few that change what every environment sees (most of a Region's
/// Lambda concurrency) run alone. Held for the whole test.
static STAND_IN: std::sync::RwLock<()> = std::sync::RwLock::new(());

/// The stand-in, shared with the other end-to-end tests.
pub fn stand_in() -> std::sync::RwLockReadGuard<'static, ()> {
    // A test that panicked while holding it left nothing half-done that matters here.
    STAND_IN
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The stand-in, while no other end-to-end test runs.
pub fn stand_in_alone() -> std::sync::RwLockWriteGuard<'static, ()> {
    STAND_IN
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A new AWSCURRENT version of the application secret in us-east-1 (the primary, where the
/// secret is written and replicated from), as a rotation makes.
pub fn rotate_app_secret(environment: &Environment, username: &str, password: &str) {
    let environment = environment.clone();
    let value = serde_json::json!({"username": username, "password": password}).to_string();
    std::thread::spawn(move || {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            AwsContext::load(&environment, None)
                .await
                .secrets_manager("us-east-1")
                .put_secret_value()
                .secret_id(environment.app_secret_name())
                .secret_string(value)
                .send()
                .await
                .unwrap();
        })
    })
    .join()
    .unwrap()
}
