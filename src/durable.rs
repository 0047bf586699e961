//! The one way cisgate writes a file that must survive a crash (index data files,
//! manifests, `CURRENT`, pull state, pulled objects, the journal's directory): a
//! temporary name, fsync, rename into place, fsync the directory. A failed or abandoned
//! write leaves nothing behind; a finished one survives a crash. A leaf: the index, the
//! journal and distribution all sit above it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// A durable write failed: the file, and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct DurableError {
    /// The file (or directory) being written.
    pub path: PathBuf,
    /// The cause.
    pub source: std::io::Error,
}

/// An I/O error of `path`, for `map_err`.
fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> DurableError {
    let path = path.into();
    move |source| DurableError { path, source }
}

/// A file being written durably: bytes go to `NAME.tmp`, which [`DurableFile::commit`]
/// syncs and renames to `NAME`. Dropped before that, the temporary file is removed.
pub(crate) struct DurableFile {
    dir: PathBuf,
    name: String,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl DurableFile {
    /// Starts writing `dir/name`.
    pub(crate) fn create(dir: &Path, name: &str) -> Result<DurableFile, DurableError> {
        let tmp = dir.join(format!("{name}.tmp"));
        let file = File::create(&tmp).map_err(io(&tmp))?;
        Ok(DurableFile {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            tmp,
            out: Some(BufWriter::with_capacity(1 << 20, file)),
        })
    }

    /// Where the bytes go.
    pub(crate) fn writer(&mut self) -> &mut dyn Write {
        self.out.as_mut().expect("open until committed")
    }

    /// The temporary path (for messages).
    pub(crate) fn tmp_path(&self) -> &Path {
        &self.tmp
    }

    /// Syncs the file and renames it into place; returns its length. The directory is
    /// synced by [`sync_dir`] once a writer's files are all in place (one sync for many
    /// renames), or at once with [`commit_synced`](Self::commit_synced).
    pub(crate) fn commit(mut self) -> Result<u64, DurableError> {
        let out = self.out.take().expect("open until committed");
        let file = out.into_inner().map_err(|e| DurableError {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        install(file, &self.tmp, &self.dir.join(&self.name))
    }

    /// [`commit`](Self::commit), then the directory synced: the file is durable.
    pub(crate) fn commit_synced(self) -> Result<u64, DurableError> {
        let dir = self.dir.clone();
        let len = self.commit()?;
        sync_dir(&dir)?;
        Ok(len)
    }
}

impl Drop for DurableFile {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Syncs `file`, written at `tmp`, and renames it to `path`; returns its length. The
/// directory is synced by [`sync_dir`] once a writer's files are all in place. Files
/// written in pieces (a download resumed across attempts) are installed with this.
pub(crate) fn install(file: File, tmp: &Path, path: &Path) -> Result<u64, DurableError> {
    file.sync_all().map_err(io(tmp))?;
    let len = file.metadata().map_err(io(tmp))?.len();
    drop(file);
    std::fs::rename(tmp, path).map_err(io(path))?;
    Ok(len)
}

/// Writes `bytes` to `dir/name` durably.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DurableError> {
    let mut file = DurableFile::create(dir, name)?;
    let tmp = file.tmp_path().to_path_buf();
    file.writer().write_all(bytes).map_err(io(tmp))?;
    file.commit_synced().map(drop)
}

/// Writes `bytes` to `dir/name` atomically (a reader sees the old file or the new one)
/// but without syncing: for advisory files rewritten often (a pull round's report), where
/// losing the last one in a power cut costs nothing.
#[cfg_attr(not(any(feature = "serve", feature = "distribute")), allow(dead_code))]
pub(crate) fn write_advisory(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DurableError> {
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    let path = dir.join(name);
    std::fs::rename(&tmp, &path).map_err(io(path))
}

/// Fsyncs a directory so that renames and creations in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), DurableError> {
    sync_dir_io(dir).map_err(io(dir))
}

/// [`sync_dir`] as an I/O result.
#[cfg(not(windows))]
pub(crate) fn sync_dir_io(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// [`sync_dir`] on Windows, where a directory opens only with backup semantics and NTFS may
/// refuse to flush one: the flush is tried, and a refusal is not an error. NTFS journals
/// its metadata (a rename included) itself and writes that journal out within seconds; a
/// power cut in that window can lose the last publish, never tear it (`CURRENT` names the
/// old manifest or the new one). docs/EMBEDDING.md, "Windows".
#[cfg(windows)]
pub(crate) fn sync_dir_io(dir: &Path) -> std::io::Result<()> {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
        .open(dir);
    if let Ok(handle) = opened {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Removes a file unless disarmed (a manifest written but not made current, say).
#[cfg_attr(not(feature = "distribute"), allow(dead_code))]
pub(crate) struct RemoveOnDrop(pub(crate) Option<PathBuf>);

#[cfg_attr(not(feature = "distribute"), allow(dead_code))]
impl RemoveOnDrop {
    /// Keeps the file.
    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}
