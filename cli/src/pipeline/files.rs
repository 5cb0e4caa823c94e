//! Durable, atomic file writes.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;

/// Writes `bytes` to `path` (created or truncated) and syncs it to disk.
///
/// # Errors
/// If the file cannot be created, written or synced (a full disk among them).
pub fn write_synced(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create `{}`", parent.display()))?;
    }
    let mut f =
        fs::File::create(path).with_context(|| format!("cannot create `{}`", path.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write `{}`", path.display()))?;
    f.sync_all().with_context(|| format!("cannot sync `{}`", path.display()))?;
    Ok(())
}

/// Renames `from` onto `to` and syncs the folder, so the rename survives a crash.
///
/// # Errors
/// If the rename fails.
pub fn rename_synced(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::rename(from, to)
        .with_context(|| format!("cannot rename `{}` to `{}`", from.display(), to.display()))?;
    if let Some(dir) = to.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Syncing a directory is best effort: some file systems refuse to open one.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Writes `bytes` atomically: a synced temporary file beside `path`, renamed onto it. A
/// failed write (a full disk) removes the temporary file and leaves `path` as it was.
///
/// # Errors
/// As [`write_synced`] and [`rename_synced`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = temp_beside(path);
    write_synced(&tmp, bytes).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    rename_synced(&tmp, path)
}

/// Writes what `write` produces atomically and durably, streamed through a buffered writer:
/// a temporary file beside `path`, synced, renamed onto it. Any failure (a full disk) removes
/// the temporary file and leaves `path` as it was.
///
/// # Errors
/// What `write` returns, or if the temporary file cannot be created, flushed, synced or
/// renamed.
pub fn write_atomic_with<T>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<fs::File>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let tmp = temp_beside(path);
    let result = (|| -> anyhow::Result<T> {
        let mut out = std::io::BufWriter::new(fs::File::create(&tmp)?);
        let value = write(&mut out)?;
        out.into_inner().map_err(std::io::IntoInnerError::into_error)?.sync_all()?;
        rename_synced(&tmp, path)?;
        Ok(value)
    })();
    result
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// Writes `bytes` atomically but without syncing: readers see the old file or the whole new
/// one, never a partial one, even if the process is killed; a power cut may lose the new
/// file. For outputs that no record refers to (`watermark embed`); the stamp pipeline, whose
/// ledger records point at its outputs, uses [`write_atomic`].
///
/// # Errors
/// If the temporary file cannot be written (it is then removed) or renamed.
pub fn write_replace(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = temp_beside(path);
    fs::write(&tmp, bytes)
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write `{}`", path.display()))?;
    fs::rename(&tmp, path)
        .inspect_err(|_| {
            let _ = fs::remove_file(&tmp);
        })
        .with_context(|| format!("cannot write `{}`", path.display()))
}

/// The temporary file beside `path` that an atomic write renames onto it.
pub fn temp_beside(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{}{name}", super::inputs::TEMP_PREFIX))
}
