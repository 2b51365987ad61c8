//! The functions' zips: found where `make lambdas` leaves them, named by the sha256 of
//! their bytes, and uploaded to each Region's assets bucket unless already there (a
//! Lambda's code bucket must be in the function's Region).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use aws_sdk_s3::error::ProvideErrorMetadata;
use sha2::{Digest, Sha256};

use crate::aws::AwsContext;
use crate::plan::Function;
use crate::progress::Progress;

/// One function's zip.
#[derive(Debug, Clone)]
pub struct Zip {
    pub function: Function,
    pub path: PathBuf,
    pub sha256: String,
    pub bytes: Vec<u8>,
}

impl Zip {
    /// The object key in the assets bucket: content-addressed, so an unchanged function
    /// keeps its key and its stack sees no change.
    pub fn key(&self) -> String {
        format!("lambda/{}/{}.zip", self.function, self.sha256)
    }
}

/// The zips to deploy: those in `lambda_dir` as they are, else built for `target` first.
pub fn ready_zips(
    lambda_dir: Option<&Path>,
    target: Target,
    progress: &dyn Progress,
) -> anyhow::Result<Vec<Zip>> {
    if let Some(dir) = lambda_dir {
        return load_zips(dir);
    }
    progress.message(&match target {
        Target::Aws { architecture } => {
            format!("bundling the functions for {architecture} (make lambdas)")
        }
        Target::StandIn => {
            "bundling the functions as the stand-in runs them (make lambdas-local)".into()
        }
    });
    build(target)?;
    load_zips(&target.default_dir())
}

/// Builds the functions' zips with the project's own recipe (`make lambdas`: pinned
/// cargo-lambda and zig, reproducible zips, the glibc check). Cargo rebuilds only what
/// changed, and an unchanged function gives the same bytes, so the same S3 key.
/// For the local stand-in (`Target::StandIn`), the zips hold the host builds it runs
/// (`make lambdas-local`): no cross-compiling, no arm64 standard library.
pub fn build(target: Target) -> anyhow::Result<()> {
    if !Path::new("mk/lambdas.mk").exists() {
        bail!(
            "the functions are built from this repository: run deploy from its top directory, or pass --lambda-dir with zips built by `make lambdas`"
        );
    }
    let args = match target {
        Target::Aws { architecture } => {
            vec!["lambdas".to_string(), format!("LAMBDA_ARCH={architecture}")]
        }
        Target::StandIn => vec!["lambdas-local".to_string()],
    };
    let status = std::process::Command::new("make")
        .arg("--no-print-directory")
        .args(&args)
        // Keep stdout for the command's own result (--output json).
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .context("cannot run make to build the functions")?;
    if !status.success() {
        bail!("building the functions failed ({status}); the output above says why");
    }
    Ok(())
}

/// What the zips are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// Lambda, for the environment's architecture (arm64 or x86_64).
    Aws { architecture: &'a str },
    /// The local stand-in, which runs host builds of the functions.
    StandIn,
}

impl Target<'_> {
    /// Where `make` leaves the zips: `target/lambda/<architecture>` or `target/lambda/local`.
    pub fn default_dir(&self) -> PathBuf {
        PathBuf::from("target/lambda").join(match self {
            Target::Aws { architecture } => architecture,
            Target::StandIn => "local",
        })
    }
}

/// Reads `<dir>/<function>/bootstrap.zip` for every function.
pub fn load_zips(dir: &Path) -> anyhow::Result<Vec<Zip>> {
    let mut zips = Vec::new();
    let mut missing = Vec::new();
    for function in Function::ALL {
        let path = dir.join(function.as_str()).join("bootstrap.zip");
        match std::fs::read(&path) {
            Ok(bytes) => zips.push(Zip {
                function,
                sha256: hex::encode(Sha256::digest(&bytes)),
                path,
                bytes,
            }),
            Err(_) => missing.push(path.display().to_string()),
        }
    }
    if !missing.is_empty() {
        bail!(
            "the functions' zips are missing: {}; build them with `make lambdas`",
            missing.join(", ")
        );
    }
    Ok(zips)
}

/// Uploads each zip to the bucket unless an object with its key is there already.
/// Returns the keys by function, and how many were uploaded.
pub async fn upload(
    aws: &AwsContext,
    region: &str,
    bucket: &str,
    zips: &[Zip],
) -> anyhow::Result<(HashMap<Function, String>, usize)> {
    let s3 = aws.s3(region);
    let mut keys = HashMap::new();
    let mut uploaded = 0;
    for zip in zips {
        let key = zip.key();
        let present = match s3.head_object().bucket(bucket).key(&key).send().await {
            Ok(_) => true,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => false,
            Err(error) if error.code() == Some("NotFound") => false,
            Err(error) => {
                return Err(crate::aws::api_error(error))
                    .with_context(|| format!("checking s3://{bucket}/{key}"))
            }
        };
        if !present {
            s3.put_object()
                .bucket(bucket)
                .key(&key)
                .body(zip.bytes.clone().into())
                .checksum_sha256(base64_of_hex(&zip.sha256))
                .send()
                .await
                .map_err(crate::aws::api_error)
                .with_context(|| {
                    format!("uploading {} to s3://{bucket}/{key}", zip.path.display())
                })?;
            uploaded += 1;
        }
        keys.insert(zip.function, key);
    }
    Ok((keys, uploaded))
}

/// S3 wants the checksum as base64 of the raw digest.
fn base64_of_hex(hex_digest: &str) -> String {
    use aws_smithy_types::base64;
    base64::encode(hex::decode(hex_digest).expect("a sha256 in hex"))
}
