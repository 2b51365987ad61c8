//! `deploy render ENV [--out DIR]`.

use crate::cli::RenderArgs;
use crate::{env, render};

pub fn run(args: &RenderArgs) -> super::Outcome {
    let environment = env::load(&args.env)?;
    let rendered = render::render(&environment).map_err(anyhow::Error::from)?;
    match &args.out {
        Some(dir) => {
            rendered.write_to(dir).map_err(anyhow::Error::from)?;
            eprintln!(
                "wrote {} templates and plan.json to {}",
                rendered.templates.len(),
                dir.display()
            );
        }
        None => print!("{}", rendered.summary()),
    }
    Ok(())
}
