//! How long `deploy render` takes, for prod.yaml and for the largest environment the file
//! allows (ten secondaries), against baselines measured in the same run: loading and
//! validating the file, and rendering a single stack.
//!
//! `make bench-render` (`cargo bench --bench render`) prints median and percentiles.
//! Under `cargo test --all-targets` (no `--bench` argument) each case runs once, as a
//! smoke test.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use deploy::env::{Environment, RegionSettings};
use deploy::plan::{Part, StackPlan};

// Relative: cargo runs benchmarks in the package directory (a compile-time path would be
// another clone's when the target directory is shared).
const PROD: &str = "environments/prod.yaml";

/// Ten secondaries (the most a global database allows), generated from prod.yaml and
/// checked by the same validation as any file.
fn ten_secondaries(prod: &Environment) -> (String, Environment) {
    let mut environment = prod.clone();
    let template = environment.regions.secondary[0].clone();
    let regions = [
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-northeast-1",
        "ap-southeast-1",
        "ap-southeast-2",
    ];
    environment.regions.secondary = regions
        .iter()
        .enumerate()
        .map(|(i, region)| RegionSettings {
            region: (*region).into(),
            vpc_id: format!("vpc-{:017x}", 0x0b2c3d4e5f6071829_u64 + i as u64),
            ..template.clone()
        })
        .collect();
    let text = yaml_serde::to_string(&environment).expect("serialises");
    let parsed = deploy::env::parse(Path::new("ten-secondaries.yaml"), &text)
        .unwrap_or_else(|problems| panic!("the generated environment is invalid:\n{problems}"));
    (text, parsed)
}

/// A name and the work to time.
type Case<'a> = (&'static str, Box<dyn FnMut() + 'a>);

struct Timing {
    samples: Vec<Duration>,
}

impl Timing {
    fn percentile(&self, p: f64) -> Duration {
        let index = ((self.samples.len() - 1) as f64 * p).round() as usize;
        self.samples[index]
    }
}

/// Runs `f` for about `budget` (at least `min_runs` times), after a short warm-up.
fn measure(budget: Duration, min_runs: usize, mut f: impl FnMut()) -> Timing {
    for _ in 0..3 {
        f();
    }
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < min_runs || started.elapsed() < budget {
        let start = Instant::now();
        f();
        samples.push(start.elapsed());
    }
    samples.sort();
    Timing { samples }
}

fn micros(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1e6)
}

fn main() {
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let (budget, min_runs) = if benchmarking {
        (Duration::from_secs(2), 100)
    } else {
        (Duration::ZERO, 1)
    };

    let prod_text = std::fs::read_to_string(PROD).expect("prod.yaml");
    let prod = deploy::env::load(Path::new(PROD)).expect("prod.yaml is valid");
    let (big_text, big) = ten_secondaries(&prod);
    let plan = StackPlan::for_environment(&prod);
    let pipeline = plan
        .stacks()
        .map(|(_, stack)| stack)
        .find(|stack| stack.part == Part::Pipeline)
        .expect("a pipeline stack")
        .clone();

    let cases: Vec<Case> = vec![
        (
            "baseline: load + validate prod.yaml",
            Box::new(|| {
                black_box(deploy::env::parse(Path::new(PROD), black_box(&prod_text)).unwrap());
            }),
        ),
        (
            "baseline: render one stack (prod pipeline)",
            Box::new(|| {
                black_box(deploy::render::render_stack(black_box(&prod), &pipeline).unwrap());
            }),
        ),
        (
            "render prod.yaml (8 stacks)",
            Box::new(|| {
                black_box(deploy::render::render(black_box(&prod)).unwrap());
            }),
        ),
        (
            "load + render prod.yaml",
            Box::new(|| {
                let environment = deploy::env::parse(Path::new(PROD), &prod_text).unwrap();
                black_box(deploy::render::render(&environment).unwrap());
            }),
        ),
        (
            "render 10 secondaries (44 stacks)",
            Box::new(|| {
                black_box(deploy::render::render(black_box(&big)).unwrap());
            }),
        ),
        (
            "load + render 10 secondaries",
            Box::new(|| {
                let environment =
                    deploy::env::parse(Path::new("ten-secondaries.yaml"), &big_text).unwrap();
                black_box(deploy::render::render(&environment).unwrap());
            }),
        ),
    ];

    println!(
        "{:<44} {:>7} {:>10} {:>10} {:>10} {:>10} {:>9}",
        "case", "runs", "min µs", "median µs", "p90 µs", "p99 µs", "× load"
    );
    let mut baseline = None;
    for (name, mut f) in cases {
        let timing = measure(budget, min_runs, &mut f);
        let median = timing.percentile(0.5);
        let baseline = *baseline.get_or_insert(median);
        println!(
            "{:<44} {:>7} {:>10} {:>10} {:>10} {:>10} {:>9.1}",
            name,
            timing.samples.len(),
            micros(timing.samples[0]),
            micros(median),
            micros(timing.percentile(0.9)),
            micros(timing.percentile(0.99)),
            median.as_secs_f64() / baseline.as_secs_f64()
        );
    }
}
