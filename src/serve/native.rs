//! The native bulk endpoint: codes streamed in, one per line, verdicts streamed out as
//! JSON lines, with no per-request limit (shipment acceptance, audits).

use std::sync::Arc;

use super::error::LmError;
use super::state::AppState;
use crate::answer::native;
use crate::check::{CheckOptions, parallel};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

/// Codes checked per step; big enough to keep every core busy, small enough to stream.
const BATCH: usize = 8192;
/// A line longer than this is not a code; refused rather than buffered without end.
const MAX_LINE: usize = 4096;

/// `POST /api/cisgate/v1/check`: a body of codes, one per line; answers one JSON object
/// per line, in order: `{"line", "input", "status", "reasons"?, "ki"?, "error"?}`. The
/// response starts before the request has finished arriving.
pub async fn check_stream(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, LmError> {
    state.live.check_fresh().map_err(LmError::from_live)?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut splitter = LineSplitter::default();
        let mut lines = Lines::default();
        let mut line_no = 0u64;
        let mut finished = false;
        while !finished {
            match stream.next().await {
                Some(Ok(chunk)) => splitter.push(&chunk, &mut lines),
                Some(Err(e)) => {
                    let _ = tx
                        .send(Err(std::io::Error::other(format!(
                            "reading the request: {e}"
                        ))))
                        .await;
                    return;
                }
                None => {
                    finished = true;
                    splitter.finish(&mut lines);
                }
            }
            if lines.len() >= BATCH || (finished && lines.len() > 0) {
                let batch = std::mem::take(&mut lines);
                let first = line_no + 1;
                line_no += batch.len() as u64;
                match check_batch(&state, batch, first).await {
                    Ok(out) => {
                        if tx.send(Ok(out)).await.is_err() {
                            return; // the client went away
                        }
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Lines of the request body: their bytes one after another, and each line's place.
#[derive(Default)]
struct Lines {
    bytes: Vec<u8>,
    lines: Vec<Input>,
}

/// One line of the request body.
enum Input {
    /// A line to check: its range in [`Lines::bytes`].
    Code(usize, usize),
    /// A line over [`MAX_LINE`] bytes: answered invalid without being kept whole.
    TooLong {
        /// Its first bytes, to show.
        start: String,
        /// Its length in bytes.
        len: usize,
    },
}

impl Lines {
    fn len(&self) -> usize {
        self.lines.len()
    }
}

/// Cuts a byte stream into lines, holding at most [`MAX_LINE`] bytes of an unfinished one:
/// an over-long line is noted as such and skipped to its end, and the stream goes on.
#[derive(Default)]
struct LineSplitter {
    pending: Vec<u8>,
    /// Bytes of an over-long line seen so far (0: not inside one).
    skipping: usize,
    /// The start of the over-long line being skipped.
    skipped_start: String,
}

/// How much of an over-long line its answer shows.
const SHOWN: usize = 64;

impl LineSplitter {
    fn push(&mut self, mut chunk: &[u8], out: &mut Lines) {
        while !chunk.is_empty() {
            let newline = chunk.iter().position(|&b| b == b'\n');
            let (part, rest) = match newline {
                Some(i) => (&chunk[..i], Some(&chunk[i + 1..])),
                None => (chunk, None),
            };
            if self.skipping > 0 {
                self.skipping += part.len();
            } else if self.pending.len() + part.len() > MAX_LINE {
                self.skipping = self.pending.len() + part.len();
                let mut shown = std::mem::take(&mut self.pending);
                shown.truncate(SHOWN);
                let more = (SHOWN - shown.len()).min(part.len());
                shown.extend_from_slice(&part[..more]);
                self.skipped_start = String::from_utf8_lossy(&shown).into_owned();
            } else {
                self.pending.extend_from_slice(part);
            }
            match rest {
                Some(rest) => {
                    self.end_line(out);
                    chunk = rest;
                }
                None => break,
            }
        }
    }

    fn end_line(&mut self, out: &mut Lines) {
        if self.skipping > 0 {
            out.lines.push(Input::TooLong {
                start: std::mem::take(&mut self.skipped_start),
                len: self.skipping,
            });
            self.skipping = 0;
        } else {
            let mut line = &self.pending[..];
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            let start = out.bytes.len();
            out.bytes.extend_from_slice(line);
            out.lines.push(Input::Code(start, out.bytes.len()));
            self.pending.clear();
        }
    }

    fn finish(&mut self, out: &mut Lines) {
        if self.skipping > 0 || !self.pending.is_empty() {
            self.end_line(out);
        }
    }
}

async fn check_batch(
    state: &Arc<AppState>,
    batch: Lines,
    first_line: u64,
) -> Result<Bytes, std::io::Error> {
    let live = state.live.clone();
    let n = batch.len() as u64;
    let out = tokio::task::spawn_blocking(move || -> Result<(Vec<u8>, u64), std::io::Error> {
        let codes: Vec<&[u8]> = batch
            .lines
            .iter()
            .filter_map(|input| match *input {
                Input::Code(start, end) => Some(&batch.bytes[start..end]),
                Input::TooLong { .. } => None,
            })
            .collect();
        // Answers per task, in order; the over-long lines in between are written here.
        let parts = live
            .with_view(|view| {
                parallel::spread(&codes, |codes| {
                    let mut out = Vec::with_capacity(codes.len() * 128);
                    let mut ends = Vec::with_capacity(codes.len());
                    let mut refused = 0u64;
                    view.check_each(codes, &CheckOptions::default(), |_, outcome| {
                        native::write_line_body(&mut out, outcome);
                        ends.push(out.len());
                        refused += u64::from(outcome.decision.is_blocked());
                    });
                    (out, ends, refused)
                })
            })
            .map_err(std::io::Error::other)?;
        let refused: u64 = parts.iter().map(|(_, _, r)| r).sum();
        let mut answers = parts.iter().flat_map(|(out, ends, _)| {
            ends.iter().scan(0, move |start, &end| {
                Some(&out[std::mem::replace(start, end)..end])
            })
        });
        let mut out = Vec::with_capacity(batch.bytes.len() * 3);
        for (i, input) in batch.lines.iter().enumerate() {
            let line = first_line + i as u64;
            match input {
                Input::TooLong { start, len } => {
                    native::write_too_long(&mut out, line, start, *len, MAX_LINE)
                }
                Input::Code(..) => {
                    let answer = answers
                        .next()
                        .ok_or_else(|| std::io::Error::other("one answer per code"))?;
                    native::write_line_head(&mut out, line);
                    out.extend_from_slice(answer);
                }
            }
        }
        Ok((out, refused))
    })
    .await
    .map_err(std::io::Error::other)??;
    let (out, refused) = out;
    state.metrics.add_codes_checked(n);
    state.metrics.add_refusals(refused);
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(chunks: &[&[u8]]) -> Vec<String> {
        let mut s = LineSplitter::default();
        let mut out = Lines::default();
        for c in chunks {
            s.push(c, &mut out);
        }
        s.finish(&mut out);
        out.lines
            .into_iter()
            .map(|i| match i {
                Input::Code(start, end) => {
                    String::from_utf8_lossy(&out.bytes[start..end]).into_owned()
                }
                Input::TooLong { start, len } => format!("<{len}:{}>", &start[..4]),
            })
            .collect()
    }

    #[test]
    fn over_long_lines_are_noted_and_skipped_alike() {
        let long = vec![b'x'; 5000];
        let mut body = b"a\r\n".to_vec();
        body.extend_from_slice(&long);
        body.extend_from_slice(b"\nb\n");
        // Whole, and a byte at a time.
        assert_eq!(split(&[&body]), ["a", "<5000:xxxx>", "b"]);
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(split(&bytes), ["a", "<5000:xxxx>", "b"]);
        // Unterminated at the end of the stream.
        assert_eq!(split(&[b"a\n", &long]), ["a", "<5000:xxxx>"]);
        assert_eq!(split(&[b"a\nb"]), ["a", "b"]);
    }
}
