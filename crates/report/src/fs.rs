//! Crash-safe file writes: a unique temporary sibling, flushed to disk, renamed over the target,
//! and the directory entry flushed too. A run killed at any moment leaves either the previous file
//! or the new one, never a partial one; temporary names start with `.` and contain `.tmp-`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh hidden sibling of `path`, unique per process and per call:
/// `.<name>.tmp-<pid>-<n>`.
pub fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Whether `path` names a temporary file or directory of [`write_atomic_with`] or a replaced
/// directory kept during a swap; such entries never count as results.
pub fn is_temporary(path: &Path) -> bool {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .is_some_and(|n| n.starts_with('.') && (n.contains(".tmp-") || n.ends_with(".old")))
}

/// Flushes a file (or, on Unix, a directory) to disk.
pub fn sync_path(path: &Path) -> io::Result<()> {
    if path.is_dir() {
        // Directories can be opened and synced on Unix; elsewhere the rename is what there is.
        #[cfg(unix)]
        std::fs::File::open(path)?.sync_all()?;
        Ok(())
    } else {
        std::fs::OpenOptions::new().write(true).open(path)?.sync_all()
    }
}

/// Flushes the directory holding `path`, so that a rename into it survives a power loss.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(p) => sync_path(p),
        None => sync_path(Path::new(".")),
    }
}

/// Writes a file atomically: `write` fills a unique temporary sibling, which is flushed and
/// renamed onto `path`, and the parent directory is flushed. On error the temporary file is
/// removed and `path` is untouched. Parent directories are created.
///
/// # Errors
/// The error of `write`, or the I/O error of creating, flushing or renaming.
pub fn write_atomic_with<E: From<io::Error>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = temp_sibling(path);
    let res = write(&tmp).and_then(|_| {
        sync_path(&tmp)?;
        std::fs::rename(&tmp, path)?;
        Ok(sync_parent(path)?)
    });
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Writes `bytes` to `path` atomically (see [`write_atomic_with`]).
///
/// # Errors
/// The I/O error of creating, writing, flushing or renaming.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |tmp| std::fs::write(tmp, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = std::env::temp_dir().join(format!("sciml-report-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let p = dir.join("sub").join("a.txt");
        write_bytes_atomic(&p, b"one").unwrap();
        write_bytes_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let failed: io::Result<()> = write_atomic_with(&p, |tmp| {
            std::fs::write(tmp, b"partial")?;
            Err(io::Error::other("killed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dir.join("sub")).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(names, vec![p.clone()]);
        assert_ne!(temp_sibling(&p), temp_sibling(&p));
        assert!(is_temporary(&temp_sibling(&p)) && !is_temporary(&p));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
