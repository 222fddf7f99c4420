//! Where `tessera build -o DIR` may write, and writing there without destroying anything the user
//! owns. A bundle goes into a new directory, an empty one, or one a previous `tessera build` wrote
//! (it holds the marker file [`MARKER_FILE`]); anything else (a directory with other files, a
//! symbolic link, a file) is refused with [`E_OUT_DIR`] unless `--force`. The bundle is written
//! into a temporary sibling directory first and then renamed into place, so a reader never sees a
//! half-written bundle and no stale file of an earlier build (another target's cubin or hsaco)
//! survives.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use tessera_bundle::{Bundle, E_BUNDLE_IO};

/// Code of a refused output path.
pub const E_OUT_DIR: &str = "E0911";
/// The file that marks a directory as written by `tessera build` (and so replaceable by the next).
pub const MARKER_FILE: &str = ".tessera-bundle";
const MARKER_TEXT: &str =
    "This directory was written by `tessera build`; the next `tessera build -o` into it replaces it whole.\n";

/// What is at the output path now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Nothing: the bundle directory is created.
    Missing,
    /// An empty directory.
    Empty,
    /// A directory a previous `tessera build` wrote (it has the marker).
    Ours,
    /// A directory with files `tessera build` did not write.
    ForeignDir(String),
    /// A symbolic link (never followed).
    Symlink,
    /// A regular file.
    File,
    /// A device, FIFO or socket: never replaced, not even with `--force`.
    Special,
}

/// Look at `dir` without following a symbolic link.
pub fn inspect(dir: &Path) -> Result<State, String> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(State::Missing),
        Err(e) => return Err(io_error(dir, &e)),
    };
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Ok(State::Symlink);
    }
    if ft.is_file() {
        return Ok(State::File);
    }
    if !ft.is_dir() {
        return Ok(State::Special);
    }
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, &e))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if names.is_empty() {
        return Ok(State::Empty);
    }
    let marker = dir.join(MARKER_FILE);
    if std::fs::symlink_metadata(&marker).is_ok_and(|m| m.file_type().is_file()) {
        return Ok(State::Ours);
    }
    names.sort();
    let shown: Vec<&str> = names.iter().take(3).map(String::as_str).collect();
    let more = if names.len() > 3 { ", ..." } else { "" };
    Ok(State::ForeignDir(format!(
        "it holds {} {} ({}{more})",
        names.len(),
        if names.len() == 1 { "entry" } else { "entries" },
        shown.join(", ")
    )))
}

/// The refusal for `state`, if `tessera build -o dir` (with or without `--force`) must not write there.
pub fn refusal(dir: &Path, state: &State, force: bool) -> Option<String> {
    let what = match state {
        State::Missing | State::Empty | State::Ours => return None,
        State::Special => {
            return Some(format!(
                "error[{E_OUT_DIR}]: output path {} is a device, FIFO or socket, not a directory; choose another -o DIR (--force never replaces these)",
                dir.display()
            ));
        }
        _ if force => return None,
        State::ForeignDir(what) => format!("is a directory that `tessera build` did not write: {what}"),
        State::Symlink => "is a symbolic link (a bundle is never written through one)".to_string(),
        State::File => "is a file, not a directory".to_string(),
    };
    if dir.file_name().is_none() {
        return Some(format!(
            "error[{E_OUT_DIR}]: output path {} {what}; name a new directory for the bundle",
            dir.display()
        ));
    }
    Some(format!(
        "error[{E_OUT_DIR}]: output path {} {what}; `tessera build` writes only into a new or empty \
directory or one it wrote before (marked by {MARKER_FILE}), so nothing of yours is overwritten.\n  \
help: choose another -o DIR, or pass --force to replace {} whole (a symbolic link itself is \
replaced, not what it points to)",
        dir.display(),
        dir.display()
    ))
}

/// Write `bundle` as the directory `dir`: into a temporary sibling, then renamed into place
/// (replacing an empty directory, a previous bundle, or with `force` whatever [`refusal`] allows).
pub fn write(bundle: &Bundle, dir: &Path, force: bool) -> Result<(), String> {
    let state = inspect(dir)?;
    if let Some(r) = refusal(dir, &state, force) {
        return Err(r);
    }
    let Some(name) = dir.file_name() else {
        return Err(format!(
            "error[{E_OUT_DIR}]: output path {}: name a new directory for the bundle",
            dir.display()
        ));
    };
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io_error(&parent, &e))?;
    let pid = std::process::id();
    let sibling = |what: &str| parent.join(format!(".{}.tessera-{what}-{pid}", name.to_string_lossy()));
    let tmp = sibling("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let staged = bundle
        .write(&tmp)
        .map_err(|e| format!("{e}"))
        .and_then(|()| std::fs::write(tmp.join(MARKER_FILE), MARKER_TEXT).map_err(|e| io_error(&tmp, &e)));
    if let Err(e) = staged {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let installed = match state {
        State::Missing => std::fs::rename(&tmp, dir).map_err(|e| io_error(dir, &e)),
        // rename(2) replaces an empty directory; if the platform does not, remove it first.
        State::Empty => std::fs::rename(&tmp, dir).or_else(|_| {
            std::fs::remove_dir(dir)
                .and_then(|()| std::fs::rename(&tmp, dir))
                .map_err(|e| io_error(dir, &e))
        }),
        State::Symlink | State::File => std::fs::remove_file(dir)
            .and_then(|()| std::fs::rename(&tmp, dir))
            .map_err(|e| io_error(dir, &e)),
        State::Ours | State::ForeignDir(_) => {
            let old = sibling("old");
            let _ = std::fs::remove_dir_all(&old);
            match std::fs::rename(dir, &old) {
                Err(e) => Err(io_error(dir, &e)),
                Ok(()) => match std::fs::rename(&tmp, dir) {
                    Ok(()) => {
                        let _ = std::fs::remove_dir_all(&old);
                        Ok(())
                    }
                    Err(e) => {
                        // Put the previous directory back: nothing is lost.
                        let _ = std::fs::rename(&old, dir);
                        Err(io_error(dir, &e))
                    }
                },
            }
        }
        State::Special => Err(format!(
            "error[{E_OUT_DIR}]: output path {} is not a directory",
            dir.display()
        )),
    };
    if installed.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    installed
}

fn io_error(path: &Path, e: &std::io::Error) -> String {
    format!(
        "error[{E_BUNDLE_IO}]: writing the bundle: {}: {e}",
        path.display()
    )
}
