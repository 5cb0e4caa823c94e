//! Finding the media files named on the command line and where their outputs go.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// File name extensions (lower case) that `stamp` picks up when walking a folder. Files named
/// explicitly on the command line are tried whatever their extension.
pub const MEDIA_EXTENSIONS: &[&str] =
    &["png", "jpg", "jpeg", "webp", "wav", "wave", "flac", "mp3", "ogg", "oga", "m4a"];

/// The prefix of the temporary files `stamp` writes next to their final place.
pub const TEMP_PREFIX: &str = ".provmark-tmp-";

/// One file to process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Job {
    /// The input file.
    pub input: PathBuf,
    /// Where the stamped file goes.
    pub output: PathBuf,
}

impl Job {
    /// The temporary file written before the ledger commit and renamed onto `output` after it.
    pub fn temp_path(&self) -> PathBuf {
        let name =
            self.output.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.output.with_file_name(format!("{TEMP_PREFIX}{name}"))
    }
}

/// Where outputs go.
#[derive(Clone, Debug)]
pub enum Destination {
    /// Mirror each input tree under this folder.
    Folder(PathBuf),
    /// Replace each input.
    InPlace,
}

fn is_media(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MEDIA_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'))
}

/// Expands the inputs into jobs: files as given, folders walked recursively (hidden entries
/// and non-media files skipped, symlinks not followed), sorted for a stable order. The output
/// folder itself is never walked, so `stamp dir --out dir/out` does not stamp its own output.
///
/// # Errors
/// If an input does not exist or a folder cannot be read.
pub fn collect(inputs: &[PathBuf], dest: &Destination) -> anyhow::Result<Vec<Job>> {
    let out_root = match dest {
        Destination::Folder(dir) => Some(fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())),
        Destination::InPlace => None,
    };
    let mut jobs = Vec::new();
    for input in inputs {
        let meta =
            fs::metadata(input).with_context(|| format!("cannot read `{}`", input.display()))?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(input, out_root.as_deref(), &mut files)?;
            files.sort();
            // A folder keeps its own name under `--out`, so two folders never collide.
            let base = input.file_name().map(PathBuf::from).unwrap_or_default();
            for file in files {
                let rel = base.join(file.strip_prefix(input).unwrap_or(&file));
                jobs.push(Job { output: destination(dest, &file, &rel), input: file });
            }
        } else {
            let rel = PathBuf::from(input.file_name().unwrap_or(input.as_os_str()));
            jobs.push(Job { output: destination(dest, input, &rel), input: input.clone() });
        }
    }
    Ok(jobs)
}

fn destination(dest: &Destination, input: &Path, rel: &Path) -> PathBuf {
    match dest {
        Destination::Folder(dir) => dir.join(rel),
        Destination::InPlace => input.to_path_buf(),
    }
}

fn walk(dir: &Path, skip: Option<&Path>, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    if let Some(skip) = skip {
        if fs::canonicalize(dir).is_ok_and(|c| c == skip) {
            return Ok(());
        }
    }
    let entries =
        fs::read_dir(dir).with_context(|| format!("cannot read folder `{}`", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read folder `{}`", dir.display()))?;
        let path = entry.path();
        if is_hidden(&path) {
            continue;
        }
        let kind =
            entry.file_type().with_context(|| format!("cannot stat `{}`", path.display()))?;
        if kind.is_dir() {
            walk(&path, skip, out)?;
        } else if kind.is_file() && is_media(&path) {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_mirrored_and_non_media_and_hidden_files_skipped() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("in");
        fs::create_dir_all(root.join("a/b")).unwrap();
        for f in
            ["x.png", "a/y.WAV", "a/b/z.jpg", "README.md", ".hidden.png", "a/.provmark-tmp-q.png"]
        {
            fs::write(root.join(f), b"").unwrap();
        }
        let out = tmp.path().join("out");
        let jobs = collect(std::slice::from_ref(&root), &Destination::Folder(out.clone())).unwrap();
        let pairs: Vec<_> = jobs
            .iter()
            .map(|j| {
                (
                    j.input.strip_prefix(&root).unwrap().to_path_buf(),
                    j.output.strip_prefix(out.join("in")).unwrap().to_path_buf(),
                )
            })
            .collect();
        assert_eq!(
            pairs,
            [("a/b/z.jpg", "a/b/z.jpg"), ("a/y.WAV", "a/y.WAV"), ("x.png", "x.png")]
                .map(|(i, o)| (PathBuf::from(i), PathBuf::from(o)))
        );
        assert_eq!(jobs[2].temp_path(), out.join("in/.provmark-tmp-x.png"));
    }

    #[test]
    fn the_output_folder_inside_an_input_is_not_walked() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("x.png"), b"").unwrap();
        fs::create_dir_all(tmp.path().join("out")).unwrap();
        fs::write(tmp.path().join("out/x.png"), b"").unwrap();
        let jobs =
            collect(&[tmp.path().to_path_buf()], &Destination::Folder(tmp.path().join("out")))
                .unwrap();
        assert_eq!(jobs.len(), 1);
    }

    #[test]
    fn explicit_files_are_kept_whatever_their_extension_and_in_place_maps_to_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("notes.txt");
        fs::write(&f, b"").unwrap();
        let jobs = collect(std::slice::from_ref(&f), &Destination::InPlace).unwrap();
        assert_eq!(jobs, vec![Job { input: f.clone(), output: f }]);
        assert!(collect(&[tmp.path().join("missing.png")], &Destination::InPlace).is_err());
    }
}
