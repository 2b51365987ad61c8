//! What a newcomer meets first: shell completions, and a stand-in that is not running.

use crate::cli::Deploy;

/// Completes `words` with the bash script `deploy completions bash` prints, as bash would
/// when the user presses Tab after the last word.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let output = Deploy::new(["completions", "bash"]).run().success().output;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("deploy.bash");
    std::fs::write(&script, &output.stdout).unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let driver = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; _deploy deploy '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        script.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" "),
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let completed = std::process::Command::new("bash")
        .args(["-c", &driver])
        .output()
        .unwrap();
    assert!(
        completed.status.success(),
        "{}",
        String::from_utf8_lossy(&completed.stderr)
    );
    String::from_utf8_lossy(&completed.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_their_options() {
    assert_eq!(bash_completes(&["deploy", "sw"]), ["switchover"]);
    let up = bash_completes(&["deploy", "up", "--"]);
    assert!(up.contains(&"--yes".to_string()), "{up:?}");
}

#[test]
fn an_unknown_shell_is_refused_with_the_ones_known() {
    let stderr = Deploy::new(["completions", "cmd"]).run().code(2).stderr();
    assert!(
        stderr.contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{stderr}"
    );
}

#[test]
fn a_stand_in_that_is_not_running_reads_as_that() {
    // A port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("local.yaml");
    let contents = std::fs::read_to_string("environments/local.yaml")
        .unwrap()
        .replace("http://127.0.0.1:5000", &format!("http://127.0.0.1:{port}"));
    std::fs::write(&file, contents).unwrap();
    Deploy::new(["status", file.to_str().unwrap()])
        .run()
        .code(1)
        .stderr_is(&format!("error: nothing answers at http://127.0.0.1:{port} (endpoints.aws): start the local stand-ins with `make local-up`\n"));
}
