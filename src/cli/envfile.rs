//! The Windows service's settings file, `%ProgramData%\cisgate\cisgate.env`: the same
//! `NAME=value` lines as the Debian package's `/etc/default/cisgate`, so that one page of
//! the docs configures both. Read by `cisgate service` (Windows only); the parsing is
//! plain Rust and tested everywhere.

use std::path::Path;

/// A line of the settings file that is not `NAME=value`, a comment or blank.
#[derive(Debug, thiserror::Error)]
pub enum EnvFileError {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The settings file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `NAME=value`.
    #[error("{file}:{line}: expected NAME=value (a comment starts with #), found {found:?}")]
    Syntax {
        /// The settings file.
        file: String,
        /// The line's number, from 1.
        line: usize,
        /// The line as written.
        found: String,
    },
    /// A quoted value (or argument) has no closing quote.
    #[error("{file}:{line}: a quote opened in {found:?} is never closed")]
    UnclosedQuote {
        /// The settings file.
        file: String,
        /// The line's number, from 1.
        line: usize,
        /// The line as written.
        found: String,
    },
}

/// One setting, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The variable's name.
    pub name: String,
    /// Its value, without surrounding quotes.
    pub value: String,
    /// The line it came from, for messages about its value.
    pub line: usize,
}

/// Reads the settings of `path`. A file written by Notepad (a UTF-8 byte-order mark, CRLF
/// line ends) reads the same as one written on Linux.
pub fn read(path: &Path) -> Result<Vec<Setting>, EnvFileError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| EnvFileError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&file, &text)
}

/// Parses settings text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Vec<Setting>, EnvFileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut settings = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let syntax = || EnvFileError::Syntax {
            file: file.to_string(),
            line,
            found: raw.to_string(),
        };
        let (name, value) = trimmed.split_once('=').ok_or_else(syntax)?;
        let name = name.trim();
        let valid_name = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid_name {
            return Err(syntax());
        }
        let value = value.trim();
        let value = match value.strip_prefix('"') {
            Some(rest) => rest
                .strip_suffix('"')
                .ok_or_else(|| EnvFileError::UnclosedQuote {
                    file: file.to_string(),
                    line,
                    found: raw.to_string(),
                })?,
            None => value,
        };
        settings.push(Setting {
            name: name.to_string(),
            value: value.to_string(),
            line,
        });
    }
    Ok(settings)
}

/// Splits a setting such as `CISGATE_SERVE_ARGS` into arguments: by white space, except
/// inside double quotes (Windows paths have spaces: `--config "C:\My Shop\serve.json"`).
/// Backslashes are kept as written. `None` when a quote is never closed.
pub fn split_arguments(value: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut current = String::new();
    let (mut in_quotes, mut started) = (false, false);
    for c in value.chars() {
        match c {
            '"' => {
                in_quotes = !in_quotes;
                started = true;
            }
            c if c.is_whitespace() && !in_quotes => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if in_quotes {
        return None;
    }
    if started {
        args.push(current);
    }
    Some(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_debian_default_file_holds() {
        let text = "\u{feff}# comment\r\nCISGATE_SERVE_ARGS=\"--listen 0.0.0.0:5995\"\r\n\r\n  \
                    CISGATE_PULL_FROM=s3://chain/stores \r\n#CISGATE_NATS=nats://x\r\nEMPTY=\r\n";
        let settings = parse("cisgate.env", text).unwrap();
        let pairs: Vec<_> = settings
            .iter()
            .map(|s| (s.name.as_str(), s.value.as_str(), s.line))
            .collect();
        assert_eq!(
            pairs,
            [
                ("CISGATE_SERVE_ARGS", "--listen 0.0.0.0:5995", 2),
                ("CISGATE_PULL_FROM", "s3://chain/stores", 4),
                ("EMPTY", "", 6),
            ]
        );
    }

    #[test]
    fn reads_a_file_and_names_one_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cisgate.env");
        std::fs::write(&path, "\u{feff}CISGATE_PULL_FROM=s3://chain/stores\r\n").unwrap();
        let settings = read(&path).unwrap();
        assert_eq!(settings[0].value, "s3://chain/stores");
        let e = read(&dir.path().join("missing.env"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing.env"), "{e}");
    }

    #[test]
    fn names_the_line_that_is_wrong() {
        let e = parse(
            "C:\\ProgramData\\cisgate\\cisgate.env",
            "A=1\nlisten 0.0.0.0\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("cisgate.env:2:"), "{e}");
        assert!(e.contains("listen 0.0.0.0"), "{e}");
        let e = parse("f", "A=\"open\n").unwrap_err().to_string();
        assert!(e.starts_with("f:1:") && e.contains("never closed"), "{e}");
        assert!(parse("f", "1A=x").is_err());
        assert!(parse("f", "A B=x").is_err());
    }

    #[test]
    fn splits_arguments_with_quoted_windows_paths() {
        assert_eq!(
            split_arguments(r#"--listen 0.0.0.0:5995  --config "C:\My Shop\serve.json" "" "#)
                .unwrap(),
            [
                "--listen",
                "0.0.0.0:5995",
                "--config",
                r"C:\My Shop\serve.json",
                ""
            ]
        );
        assert_eq!(split_arguments("   ").unwrap(), Vec::<String>::new());
        assert!(split_arguments("--config \"C:\\x").is_none());
    }
}
