//! Records the git commit for `--version`, in the `tini version X - git.COMMIT`
//! shape that Docker's engine parses for `docker info` when pidone is its init.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=7", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=PIDONE_GIT_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    // The linker reads it (`cargo build-static`), and cargo does not track it.
    println!("cargo:rerun-if-changed=.cargo/hot-symbols.txt");
}
