//! Python tools from PyPI for the tests, each in its own virtualenv under
//! `target/test-tools/<name>-venv`, installed once per pinned requirement
//! under a file lock (concurrent test binaries install it once). Fails with
//! a clear message, never skips, when python3, venv or pip cannot do it.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The python3 of a virtualenv named `name` holding `requirement` (e.g.
/// `aiortc==1.16.0`), installed first if needed.
pub fn python_with(name: &str, requirement: &str) -> PathBuf {
    let tools = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("test-tools");
    fs::create_dir_all(&tools).unwrap_or_else(|e| panic!("cannot create {tools:?}: {e}"));
    let venv = tools.join(format!("{name}-venv"));
    let python = venv.join("bin").join("python3");
    let marker = venv.join(format!(".installed-{requirement}"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(tools.join(format!("{name}-venv.lock")))
        .unwrap_or_else(|e| panic!("cannot open the {name} install lock: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot take the {name} install lock: {e}"));
    if !marker.exists() {
        if venv.exists() {
            fs::remove_dir_all(&venv).unwrap_or_else(|e| panic!("cannot remove {venv:?}: {e}"));
        }
        run(
            Command::new("python3").args(["-m", "venv"]).arg(&venv),
            "python3 with the venv module (apt-get install python3 python3-venv)",
        );
        run(
            Command::new(&python).args(["-m", "pip", "install", "-q", requirement]),
            &format!("{requirement} from PyPI"),
        );
        fs::write(&marker, requirement).expect("write the install marker");
    }
    python
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("this test needs {what}, which could not start: {e}"));
    assert!(
        output.status.success(),
        "this test needs {what}, which failed ({command:?}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
