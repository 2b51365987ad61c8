//! `deploy validate ENV`.

use crate::cli::ValidateArgs;
use crate::env;

pub fn run(args: &ValidateArgs) -> super::Outcome {
    let environment = env::load(&args.env)?;
    println!(
        "{}: valid ({} Regions: {})",
        args.env.display(),
        environment.all_regions().count(),
        environment
            .all_regions()
            .map(|r| r.region.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
