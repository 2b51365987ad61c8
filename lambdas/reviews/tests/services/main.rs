//! The reviews library against the real services, as one test binary (linked once, not once
//! per file): MariaDB (`db`, `edges`) and moto's S3 and Secrets Manager (`s3`). `logs` stays
//! a binary of its own: it installs the global log subscriber.

#[path = "../common/mod.rs"]
mod common;

mod db;
mod edges;
mod s3;
