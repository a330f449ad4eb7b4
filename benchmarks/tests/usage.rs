//! The command line of `sp-bench`: help and bad arguments, without running a benchmark.

use std::process::Command;

fn sp_bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sp-bench"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_prints_every_benchmark_and_bad_arguments_say_what_is_wrong() {
    for args in [
        &["--help"][..],
        &["global-sort", "--help"],
        &["graysort", "-h"],
    ] {
        let out = sp_bench(args);
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        for bench in [
            "shuffle-groupby",
            "shuffle-distinct",
            "startup",
            "graysort",
            "global-sort",
            "task-statement",
        ] {
            assert!(
                text.contains(&format!("sp-bench {bench} ")),
                "{args:?}: {text}"
            );
        }
    }
    for (args, says) in [
        (&["global-sort", "--runs"][..], "--runs needs a value"),
        (
            &["global-sort", "--runs", "three"],
            "--runs needs a number (R), got \"three\"",
        ),
        (&["global-sort", "--fast", "1"], "unknown flag --fast"),
        (
            &["global-sort", "--partitions", "5000000000"],
            "--partitions needs a number (P), got \"5000000000\"",
        ),
    ] {
        let out = sp_bench(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(says) && err.contains("usage:"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}
