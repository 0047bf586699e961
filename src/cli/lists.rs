//! How list files are read: the options `build` and `apply` share.

use std::path::PathBuf;

use cisgate::list::{EntryOptions, HeaderFields, InputFormat, ReadOptions};

/// The input format of list files.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    /// cisgate's own (`docs/FORMATS.md`): an entry per line, fields by tab or space.
    Native,
    /// Comma-separated values (`--column` picks the key).
    Csv,
    /// Tab-separated values (`--column` picks the key).
    Tsv,
    /// One JSON object per line (`--field` picks the key).
    Jsonl,
}

/// Options for list files from any source.
#[derive(clap::Args, Debug)]
pub struct ListInput {
    /// The files have no cisgate header: this is their kind (blocked_cis, blocked_gtin,
    /// blocked_series, min_price); give --as-of (and --version) too.
    #[arg(long, value_name = "KIND")]
    kind: Option<String>,
    /// When the data of header-less files was current (RFC 3339 or Unix ms).
    #[arg(long, value_name = "TIME")]
    as_of: Option<String>,
    /// Product group of header-less blocked_cis files.
    #[arg(long)]
    pg: Option<u32>,
    /// Input format.
    #[arg(long, value_enum, default_value = "native")]
    format: Format,
    /// CSV/TSV: the column holding the code or GTIN (from 1).
    #[arg(long, default_value_t = 1)]
    column: usize,
    /// CSV/TSV: the column holding the value (grey flag, price), if the kind has one.
    #[arg(long)]
    value_column: Option<usize>,
    /// CSV/TSV: the first line names the columns.
    #[arg(long)]
    header_row: bool,
    /// CSV: the separator (default ",").
    #[arg(long, default_value = ",")]
    delimiter: String,
    /// JSON Lines: the member holding the code or GTIN.
    #[arg(long, default_value = "cis")]
    field: String,
    /// JSON Lines: the member holding the value.
    #[arg(long)]
    value_field: Option<String>,
    /// blocked_cis lines may be full marking codes (crypto tail and all): each is listed by
    /// its КИ.
    #[arg(long)]
    full_codes: bool,
    /// Refuse a compressed file that expands more than this many times.
    #[arg(long, default_value_t = 100)]
    max_expansion: u64,
}

impl ListInput {
    /// Header fields for header-less files (`version` and `parent` come from the
    /// subcommand), or `None` when the files have headers.
    pub fn header(
        &self,
        version: Option<&str>,
        parent: Option<&str>,
    ) -> Result<Option<HeaderFields>, String> {
        if self.kind.is_none() {
            if self.as_of.is_some() || self.pg.is_some() || parent.is_some() {
                return Err(
                    "--as-of, --pg and --parent describe header-less files: give --kind too".into(),
                );
            }
            return Ok(None);
        }
        Ok(Some(HeaderFields {
            kind: self.kind.clone(),
            version: version.map(str::to_string),
            as_of: self.as_of.clone(),
            pg: self.pg,
            parent: parent.map(str::to_string),
        }))
    }

    /// How entry lines are read.
    pub fn entries(&self) -> Result<EntryOptions, String> {
        let column = |n: usize, name: &str| {
            n.checked_sub(1)
                .ok_or_else(|| format!("--{name} counts from 1"))
        };
        let delimited = |delimiter: u8| -> Result<InputFormat, String> {
            Ok(InputFormat::Delimited {
                delimiter,
                key_column: column(self.column, "column")?,
                value_column: self
                    .value_column
                    .map(|c| column(c, "value-column"))
                    .transpose()?,
                header_row: self.header_row,
            })
        };
        let format = match self.format {
            Format::Native => InputFormat::Native,
            Format::Csv => {
                let &[d] = self.delimiter.as_bytes() else {
                    return Err(format!(
                        "--delimiter {:?} must be one ASCII character",
                        self.delimiter
                    ));
                };
                delimited(d)?
            }
            Format::Tsv => delimited(b'\t')?,
            Format::Jsonl => InputFormat::JsonLines {
                key_field: self.field.clone(),
                value_field: self.value_field.clone(),
            },
        };
        Ok(EntryOptions {
            format,
            full_codes: self.full_codes,
        })
    }

    /// Reader limits.
    pub fn read(&self) -> ReadOptions {
        ReadOptions {
            max_expansion: self.max_expansion,
            ..Default::default()
        }
    }
}

/// The list files named: files as given, directories as the files in them (sorted; hidden
/// files and `rejects.tsv` skipped).
pub fn expand(paths: &[PathBuf]) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(path)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.file_name().is_some_and(|n| {
                            let n = n.to_string_lossy();
                            !n.starts_with('.') && n != "rejects.tsv"
                        })
                })
                .collect();
            inside.sort();
            if inside.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("{}: the directory holds no list files", path.display()),
                ));
            }
            out.extend(inside);
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}
