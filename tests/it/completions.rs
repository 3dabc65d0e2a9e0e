//! `vetted completions` and `vetted man`: generated from the clap definition, checked against what
//! `vetted --help` lists, so a subcommand or flag added later shows up in both or these fail.

use std::collections::BTreeSet;
use std::process::Command;

use crate::harness::{stdout, vetted};

/// The subcommands `vetted [PATH...] --help` lists (without `help`).
fn subcommands(path: &[&str]) -> Vec<String> {
    let out = vetted().args(path).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    let mut names = Vec::new();
    let mut in_commands = false;
    for line in help.lines() {
        if line == "Commands:" {
            in_commands = true;
            continue;
        }
        if in_commands {
            if line.is_empty() {
                break;
            }
            // "  plan         Read ..."; wrapped descriptions are indented further.
            if let Some(rest) = line.strip_prefix("  ")
                && !rest.starts_with(' ')
            {
                let name = rest.split_whitespace().next().unwrap().to_string();
                if name != "help" {
                    names.push(name);
                }
            }
        }
    }
    names
}

/// Every command path: `["plan"]`, `["sandbox", "proxy"]`, ...
fn command_paths() -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for name in subcommands(&[]) {
        let nested = subcommands(&[name.as_str()]);
        paths.push(vec![name.clone()]);
        for sub in nested {
            paths.push(vec![name.clone(), sub]);
        }
    }
    paths
}

/// The long flags `vetted PATH --help` lists.
fn flags(path: &[String]) -> BTreeSet<String> {
    let out = vetted().args(path).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = stdout(&out);
    let mut flags = BTreeSet::new();
    let options = help.split_once("Options:").map_or("", |(_, o)| o);
    for line in options.lines() {
        let line = line.trim_start();
        // "-p, --policy <POLICY>  ..." or "--locked  ...": the flag opens the line.
        let line = match line.strip_prefix('-') {
            Some(short) if !short.starts_with('-') => short.split_once(", ").map_or("", |(_, l)| l),
            _ => line,
        };
        if let Some(rest) = line.strip_prefix("--") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                .collect();
            flags.insert(format!("--{name}"));
        }
    }
    flags
}

#[test]
fn help_lists_what_the_checks_below_compare_against() {
    let paths = command_paths();
    for expected in [
        vec!["plan"],
        vec!["sandbox", "proxy"],
        vec!["completions"],
        vec!["man"],
    ] {
        assert!(paths.iter().any(|p| *p == expected), "{paths:?}");
    }
    let plan = flags(&["plan".to_string()]);
    for flag in [
        "--policy",
        "--format",
        "--detailed-exitcode",
        "--max-chars",
        "--verbose",
        "--help",
    ] {
        assert!(plan.contains(flag), "{flag}: {plan:?}");
    }
}

fn completion(shell: &str) -> String {
    let out = vetted().args(["completions", shell]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

#[test]
fn the_bash_completion_script_is_valid_bash_and_completes_every_subcommand_and_flag() {
    let script = completion("bash");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vetted.bash");
    std::fs::write(&file, &script).unwrap();
    let check = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    // Sourcing it registers the completion function for `vetted`.
    let sourced = Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p vetted", file.display()))
        .output()
        .unwrap();
    let registered = String::from_utf8_lossy(&sourced.stdout);
    assert!(
        sourced.status.success() && registered.contains("vetted"),
        "{registered} {}",
        String::from_utf8_lossy(&sourced.stderr)
    );
    for path in command_paths() {
        let name = path.last().unwrap();
        assert!(
            script.contains(&format!(" {name} ")) || script.contains(&format!("\"{name}\"")),
            "the bash completions lack `{}`",
            path.join(" ")
        );
        for flag in flags(&path) {
            assert!(
                script.contains(&flag),
                "the bash completions lack {flag} of `vetted {}`",
                path.join(" ")
            );
        }
    }
}

#[test]
fn zsh_and_fish_completions_name_every_subcommand() {
    for shell in ["zsh", "fish"] {
        let script = completion(shell);
        for path in command_paths() {
            let name = path.last().unwrap();
            assert!(
                script.contains(name.as_str()),
                "the {shell} completions lack `{}`",
                path.join(" ")
            );
        }
        // Checked by the shell itself when it is installed.
        if Command::new(shell).arg("-c").arg("true").output().is_ok() {
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("vetted");
            std::fs::write(&file, &script).unwrap();
            let check = Command::new(shell).arg("-n").arg(&file).output().unwrap();
            assert!(
                check.status.success(),
                "{shell} -n: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        } else {
            eprintln!("{shell} is not installed: its completion script's syntax is not checked");
        }
    }
    let out = vetted().args(["completions", "tcsh"]).output().unwrap();
    assert!(!out.status.success());
}

fn man_page() -> String {
    let out = vetted().arg("man").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    stdout(&out)
}

#[test]
fn the_man_page_names_every_subcommand_and_flag() {
    let page = man_page();
    assert!(
        page.starts_with(".ie") || page.contains(".TH vetted 1"),
        "{page}"
    );
    // roff escapes `-` as `\-`.
    let plain = page.replace("\\-", "-");
    for path in command_paths() {
        let heading = format!(".SH \"VETTED {}\"", path.join(" ").to_uppercase());
        let Some((_, section)) = plain.split_once(&heading) else {
            panic!("the man page has no section {heading}");
        };
        // This subcommand's section runs up to the next one.
        let section = section.split("\n.SH ").next().unwrap();
        for flag in flags(&path) {
            assert!(
                section.contains(&format!("\\fB{flag}\\fR")),
                "the man page's section of `vetted {}` lacks {flag}",
                path.join(" ")
            );
        }
    }
    for flag in flags(&[]) {
        assert!(plain.contains(&format!("\\fB{flag}\\fR")), "{flag}");
    }
    // Subcommands point at their sections on this page, not at pages that are not installed.
    assert!(!plain.contains("vetted-plan(1)"), "{plain}");
}

#[test]
fn man_renders_the_page_without_warnings() {
    if Command::new("man").arg("--version").output().is_err() {
        eprintln!("man is not installed: the page's rendering is not checked");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vetted.1");
    std::fs::write(&file, man_page()).unwrap();
    let out = Command::new("man")
        .arg("--warnings")
        .arg("-l")
        .arg(&file)
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "{stderr}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("VETTED SANDBOX PROXY") && text.contains("--detailed-exitcode"),
        "{text}"
    );
}
