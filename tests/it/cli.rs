//! One way to run the real `deploy` binary and check what it did (as just's tests do):
//!
//! ```ignore
//! let ran = Deploy::new(["validate", "env.yaml"]).current_dir(dir).run();
//! ran.code(2).stderr_is("env.yaml:3:1: ...\n");
//! let status = Deploy::new(["status", path, "--output", "json"]).run().success().json();
//! ```

use std::ffi::OsStr;
use std::path::Path;
use std::process::Output;

use assert_cmd::Command;
use serde_json::Value;

/// A `deploy` command line, its working directory, environment and standard input.
pub struct Deploy {
    command: Command,
    shown: String,
}

impl Deploy {
    pub fn new<I, S>(args: I) -> Deploy
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::cargo_bin("deploy").unwrap();
        let mut shown = String::from("deploy");
        for arg in args {
            shown.push(' ');
            shown.push_str(&arg.as_ref().to_string_lossy());
            command.arg(arg);
        }
        Deploy { command, shown }
    }

    /// One more argument (a path, say).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Deploy {
        self.shown.push(' ');
        self.shown.push_str(&arg.as_ref().to_string_lossy());
        self.command.arg(arg);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Deploy {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Deploy {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Deploy {
        self.command.env_remove(key);
        self
    }

    pub fn stdin(mut self, text: impl Into<Vec<u8>>) -> Deploy {
        self.command.write_stdin(text);
        self
    }

    pub fn run(mut self) -> Ran {
        let output = self.command.output().unwrap();
        Ran {
            output,
            shown: self.shown,
        }
    }
}

/// What a run printed and how it ended.
pub struct Ran {
    pub output: Output,
    shown: String,
}

impl Ran {
    /// The exit code (-1 when a signal ended it).
    pub fn exit_code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Exit code 0, or a failure that shows the command and both streams.
    #[track_caller]
    pub fn success(self) -> Ran {
        self.code(0)
    }

    #[track_caller]
    pub fn code(self, code: i32) -> Ran {
        assert_eq!(
            self.exit_code(),
            code,
            "{} exited {}:\n{}\n{}",
            self.shown,
            self.exit_code(),
            self.stdout(),
            self.stderr()
        );
        self
    }

    #[track_caller]
    pub fn stdout_is(self, expected: &str) -> Ran {
        assert_eq!(self.stdout(), expected, "stdout of {}", self.shown);
        self
    }

    #[track_caller]
    pub fn stderr_is(self, expected: &str) -> Ran {
        assert_eq!(self.stderr(), expected, "stderr of {}", self.shown);
        self
    }

    /// Standard output as JSON (`--output json`).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.output.stdout)
            .unwrap_or_else(|e| panic!("{} printed no JSON ({e}): {}", self.shown, self.stdout()))
    }
}
