//! graphql-js, the GraphQL reference implementation, for the tests: `tests/graphql-js`
//! (`package.json`, its lock and `check.mjs`) is copied to `target/graphql-js` and installed
//! there with `npm ci` once per run (the versions the lock pins). Without Node.js the checks
//! are skipped with a notice, as the PostgreSQL runs are without a database.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const FILES: [&str; 3] = ["package.json", "package-lock.json", "check.mjs"];

/// The installed checker's directory, or why there is none.
fn installed() -> &'static Result<PathBuf, String> {
    static DIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let source = root.join("graphql-js");
        let dir = root.join("../target/graphql-js");
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let mut changed = false;
        for file in FILES {
            let wanted = std::fs::read(source.join(file)).map_err(|e| format!("{file}: {e}"))?;
            if std::fs::read(dir.join(file)).ok().as_ref() != Some(&wanted) {
                std::fs::write(dir.join(file), &wanted).map_err(|e| e.to_string())?;
                changed = true;
            }
        }
        if changed || !dir.join("node_modules/graphql/package.json").exists() {
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .map_err(|e| format!("npm is not available ({e})"))?;
            if !status.success() {
                return Err(format!("`npm ci` in {} failed: {status}", dir.display()));
            }
        }
        Ok(dir)
    })
}

/// Runs `node check.mjs ARGS`; `None` (with a notice) when Node.js is not installed.
///
/// # Panics
/// When Node.js is installed but the checker could not be (a lock that does not install is a
/// defect, not a skip).
pub fn check(test: &str, args: &[&str]) -> Option<std::process::Output> {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("NOTICE: {test} skipped: Node.js is not installed (graphql-js runs on it)");
        return None;
    }
    let dir = installed().as_ref().unwrap_or_else(|e| panic!("graphql-js: {e}"));
    Some(Command::new("node").arg(dir.join("check.mjs")).args(args).output().expect("node runs"))
}
