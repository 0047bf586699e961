//! The Windows service's log: `cisgate.log` in `%ProgramData%\cisgate\log`, rotated by
//! size (`cisgate.log.1` the newest old one, up to [`LogFile::keep`] kept). A service has
//! no console: everything `serve` writes to standard error goes here. The file handling is
//! plain Rust and tested everywhere; pointing standard error at it is `cli::service`'s.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// A size-rotated log file.
#[derive(Clone, Debug)]
pub struct LogFile {
    path: PathBuf,
    /// Rotate once the file passes this many bytes.
    pub max_bytes: u64,
    /// How many rotated files to keep beside the current one.
    pub keep: usize,
}

impl LogFile {
    /// The log `name` in `dir` (created if missing): 10 MiB per file, 5 old files kept.
    pub fn new(dir: &Path, name: &str) -> io::Result<LogFile> {
        std::fs::create_dir_all(dir)?;
        Ok(LogFile {
            path: dir.join(name),
            max_bytes: 10 << 20,
            keep: 5,
        })
    }

    /// Opens the current file for appending. On Windows the handle lets others rename
    /// and delete the file, so that a rotation can move it while it is still open.
    pub fn open(&self) -> io::Result<File> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(windows)]
        {
            use std::os::windows::fs::OpenOptionsExt;
            // FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE
            options.share_mode(0x1 | 0x2 | 0x4);
        }
        options.open(&self.path)
    }

    /// When the current file has passed [`LogFile::max_bytes`]: shifts `name.N` to
    /// `name.N+1` (dropping the oldest), renames the current file to `name.1` and opens a
    /// new one, which it returns. `None` when no rotation was due.
    pub fn rotate_if_full(&self) -> io::Result<Option<File>> {
        let len = match std::fs::metadata(&self.path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
            Err(e) => return Err(e),
        };
        if len <= self.max_bytes {
            return Ok(None);
        }
        let numbered = |n: usize| {
            let mut name = self.path.as_os_str().to_owned();
            name.push(format!(".{n}"));
            PathBuf::from(name)
        };
        match std::fs::remove_file(numbered(self.keep)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        for n in (1..self.keep).rev() {
            match std::fs::rename(numbered(n), numbered(n + 1)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.open().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn rotates_by_size_and_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = LogFile::new(&dir.path().join("log"), "cisgate.log").unwrap();
        log.max_bytes = 10;
        log.keep = 2;
        let mut file = log.open().unwrap();
        assert!(log.rotate_if_full().unwrap().is_none());
        for round in 0..4 {
            writeln!(file, "round {round} of the log").unwrap();
            file = log.rotate_if_full().unwrap().expect("past the size");
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join("log").join(name));
        assert_eq!(read("cisgate.log").unwrap(), "");
        assert_eq!(read("cisgate.log.1").unwrap(), "round 3 of the log\n");
        assert_eq!(read("cisgate.log.2").unwrap(), "round 2 of the log\n");
        assert!(
            read("cisgate.log.3").is_err(),
            "only two old files are kept"
        );
    }
}
