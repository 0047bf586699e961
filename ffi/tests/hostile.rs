//! Calls a careless or hostile caller makes: null pointers, invalid UTF-8, absurd lengths,
//! a damaged or stale index. Each gets a clear code and message; none crashes.

use std::ptr::{null, null_mut};

use cisgate_ffi::*;

fn message(err: *const cisgate_error) -> String {
    // SAFETY: the library returns a NUL-terminated string owned by `err`.
    unsafe { std::ffi::CStr::from_ptr(cisgate_error_message(err)) }
        .to_string_lossy()
        .into_owned()
}

fn sample_index(dir: &std::path::Path) -> std::path::PathBuf {
    index_with(dir, &["0104600439931256215abcdEFGH1234".to_string()])
}

/// An index of `kis` with current data.
fn index_with(dir: &std::path::Path, kis: &[String]) -> std::path::PathBuf {
    let list = dir.join("cis.list");
    let now = cisgate::time::format_rfc3339(cisgate::time::now_ms());
    std::fs::write(
        &list,
        format!(
            "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: {now}\n{}\n",
            kis.join("\n")
        ),
    )
    .unwrap();
    let out = dir.join("idx");
    cisgate::index::build(
        &out,
        &[list],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    out
}

fn open(dir: &std::path::Path, err: *mut cisgate_error) -> (i32, *mut cisgate_index) {
    let path = dir.to_str().unwrap();
    let mut index = null_mut();
    let rc = cisgate_open(path.as_ptr(), path.len(), null(), &mut index, err);
    (rc, index)
}

#[test]
fn nulls_bad_text_and_absurd_lengths() {
    let err = cisgate_error_new();
    let mut verdict = std::mem::MaybeUninit::<cisgate_verdict>::zeroed();
    let out = verdict.as_mut_ptr();
    // Null everything.
    assert_eq!(
        cisgate_check(null(), null(), 0, -1, out, err),
        CISGATE_ERR_ARGUMENT
    );
    assert!(message(err).contains("null"), "{}", message(err));
    assert_eq!(
        cisgate_open(null(), 5, null(), null_mut(), err),
        CISGATE_ERR_ARGUMENT
    );
    let mut index = null_mut();
    assert_eq!(
        cisgate_open(null(), 5, null(), &mut index, err),
        CISGATE_ERR_ARGUMENT
    );
    assert!(index.is_null());
    // Errors without an error object are still codes.
    assert_eq!(
        cisgate_check(null(), null(), 0, -1, out, null_mut()),
        CISGATE_ERR_ARGUMENT
    );
    assert_eq!(cisgate_error_code(null()), CISGATE_ERR_ARGUMENT);
    assert_eq!(message(null()), "");
    cisgate_error_free(null_mut());
    cisgate_close(null_mut());

    let dir = tempfile::tempdir().unwrap();
    let idx = sample_index(dir.path());
    let (rc, index) = open(&idx, err);
    assert_eq!(rc, CISGATE_OK, "{}", message(err));
    assert_eq!(cisgate_error_code(err), CISGATE_OK);
    // A null code with a length, an absurd length, a null output.
    assert_eq!(
        cisgate_check(index, null(), 31, -1, out, err),
        CISGATE_ERR_ARGUMENT
    );
    let code = b"0104600439931256215abcdEFGH1234";
    assert_eq!(
        cisgate_check(index, code.as_ptr(), usize::MAX, -1, out, err),
        CISGATE_ERR_ARGUMENT
    );
    assert!(message(err).contains("at most"), "{}", message(err));
    assert_eq!(
        cisgate_check(index, code.as_ptr(), code.len(), -1, null_mut(), err),
        CISGATE_ERR_ARGUMENT
    );
    // Invalid UTF-8 in a check is an invalid code, in a sale a bad argument.
    let bad = [0xffu8, 0xfe, 0x30];
    assert_eq!(
        cisgate_check(index, bad.as_ptr(), 3, -1, out, err),
        CISGATE_OK
    );
    // SAFETY: the call above wrote every field.
    assert_eq!(unsafe { (*out).status }, CISGATE_STATUS_INVALID);
    assert_eq!(
        cisgate_sell(index, bad.as_ptr(), 3, null_mut(), 0, err),
        CISGATE_ERR_ARGUMENT
    );
    assert!(message(err).contains("UTF-8"), "{}", message(err));
    // Batches: absurd counts and null arrays.
    let mut found = [0u8; 1];
    assert_eq!(
        cisgate_contains_ki_batch(index, null(), 1, found.as_mut_ptr(), err),
        CISGATE_ERR_ARGUMENT
    );
    assert_eq!(
        cisgate_check_batch(index, null(), usize::MAX, -1, out, err),
        CISGATE_ERR_ARGUMENT
    );
    assert_eq!(
        cisgate_check_batch(index, null(), 0, -1, null_mut(), err),
        CISGATE_OK
    );
    // A КИ buffer too small for the КИ is filled as far as it goes, NUL-terminated.
    let mut small = [0x55 as std::ffi::c_char; 8];
    assert_eq!(
        cisgate_sell(
            index,
            code.as_ptr(),
            code.len(),
            small.as_mut_ptr(),
            small.len(),
            err
        ),
        CISGATE_OK,
        "{}",
        message(err)
    );
    assert_eq!(small[7], 0);
    // A stale-check refusal is a code too.
    let info = std::mem::MaybeUninit::<cisgate_info>::zeroed();
    let mut info = info;
    assert_eq!(cisgate_get_info(index, info.as_mut_ptr(), err), CISGATE_OK);
    assert_eq!(
        cisgate_get_info(index, null_mut(), err),
        CISGATE_ERR_ARGUMENT
    );
    cisgate_close(index);
    cisgate_error_free(err);
}

#[test]
fn damaged_and_stale_indexes() {
    let err = cisgate_error_new();
    let dir = tempfile::tempdir().unwrap();
    let idx = sample_index(dir.path());
    // A flipped byte in a data file: the default open hashes every byte and refuses it.
    let file = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "blocks" || e == "fst"))
        .unwrap();
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x20;
    std::fs::write(&file, &bytes).unwrap();
    let (rc, index) = open(&idx, err);
    assert_eq!(rc, CISGATE_ERR_INDEX);
    assert!(index.is_null());
    assert!(message(err).contains("damaged"), "{}", message(err));

    // Stale data: open works, checks and sales are refused with the rule in the message.
    let old = tempfile::tempdir().unwrap();
    let list = old.path().join("cis.list");
    std::fs::write(
        &list,
        "#cisgate-list 1\n#kind: blocked_cis\n#version: 1\n#as_of: 2020-01-01T00:00:00Z\n",
    )
    .unwrap();
    let out = old.path().join("idx");
    cisgate::index::build(
        &out,
        &[list],
        &Default::default(),
        &cisgate::progress::NoProgress,
    )
    .unwrap();
    let (rc, index) = open(&out, err);
    assert_eq!(rc, CISGATE_OK);
    let mut verdict = std::mem::MaybeUninit::<cisgate_verdict>::zeroed();
    let code = b"0104600439931256215abcdEFGH1234";
    assert_eq!(
        cisgate_check(
            index,
            code.as_ptr(),
            code.len(),
            -1,
            verdict.as_mut_ptr(),
            err
        ),
        CISGATE_ERR_STALE
    );
    // SAFETY: written by the call.
    assert_eq!(
        unsafe { (*verdict.as_ptr()).status },
        CISGATE_STATUS_REFUSED
    );
    assert!(message(err).contains("72 h"), "{}", message(err));
    assert_eq!(
        cisgate_sell(index, code.as_ptr(), code.len(), null_mut(), 0, err),
        CISGATE_ERR_STALE
    );
    cisgate_close(index);
    cisgate_error_free(err);
}

#[test]
fn online_without_the_feature_or_with_a_bad_configuration() {
    let err = cisgate_error_new();
    let dir = tempfile::tempdir().unwrap();
    let idx = sample_index(dir.path());
    let (_, index) = open(&idx, err);
    let mut online = null_mut();
    let config = br#"{"token": "t", "hosts": ["http://127.0.0.1:9"], "budget_ms": 300}"#;
    let rc = cisgate_online_new(index, config.as_ptr(), config.len(), &mut online, err);
    if !cisgate_has_online() {
        assert_eq!(rc, CISGATE_ERR_UNSUPPORTED);
        assert!(online.is_null());
    } else {
        assert_eq!(rc, CISGATE_OK, "{}", message(err));
        let mut v = std::mem::MaybeUninit::<cisgate_online_verdict>::zeroed();
        let code = b"0104600439931256215abcdEFGH1234";
        assert_eq!(
            cisgate_online_check(online, code.as_ptr(), code.len(), -1, v.as_mut_ptr(), err),
            CISGATE_OK
        );
        // SAFETY: written by the call.
        let v = unsafe { v.assume_init() };
        assert_eq!(v.answered_by, CISGATE_ANSWERED_OFFLINE);
        assert_eq!(v.verdict.status, CISGATE_STATUS_BLOCKED);
        let tag = unsafe { std::ffi::CStr::from_ptr(v.tag_1265.as_ptr()) };
        assert!(tag.to_str().unwrap().contains("&Inst="), "{tag:?}");
        cisgate_online_free(online);
        let bad = b"{not json";
        assert_eq!(
            cisgate_online_new(index, bad.as_ptr(), bad.len(), &mut online, err),
            CISGATE_ERR_CONFIG
        );
    }
    cisgate_close(index);
    cisgate_error_free(err);
}

/// An index of `n` banned КИ (serials 0..n) with current data.
fn index_of(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, Vec<String>) {
    let kis: Vec<String> = (0..n)
        .map(|i| format!("010460043993125621{i:012}X"))
        .collect();
    (index_with(dir, &kis), kis)
}

fn bytes_of(s: &[u8]) -> cisgate_bytes {
    cisgate_bytes {
        ptr: s.as_ptr(),
        len: s.len(),
    }
}

#[test]
fn prices_below_minus_one_are_refused_and_over_long_batch_elements_are_invalid() {
    let err = cisgate_error_new();
    let dir = tempfile::tempdir().unwrap();
    let (idx, kis) = index_of(dir.path(), 10);
    let (rc, index) = open(&idx, err);
    assert_eq!(rc, CISGATE_OK);
    let code = kis[0].as_bytes();
    let mut verdict = std::mem::MaybeUninit::<cisgate_verdict>::zeroed();
    for price in [-2, i64::MIN] {
        assert_eq!(
            cisgate_check(
                index,
                code.as_ptr(),
                code.len(),
                price,
                verdict.as_mut_ptr(),
                err
            ),
            CISGATE_ERR_ARGUMENT
        );
        assert!(message(err).contains("-1 for none"), "{}", message(err));
        // SAFETY: written by the call (refused before the argument error).
        assert_eq!(
            unsafe { (*verdict.as_ptr()).status },
            CISGATE_STATUS_REFUSED
        );
    }
    for price in [-1, 0, 15_000] {
        assert_eq!(
            cisgate_check(
                index,
                code.as_ptr(),
                code.len(),
                price,
                verdict.as_mut_ptr(),
                err
            ),
            CISGATE_OK
        );
    }
    // One over-long element in a batch: that element is INVALID, the others answered.
    let long = vec![b'0'; CISGATE_MAX_CODE_LEN + 1];
    let inputs = [bytes_of(code), bytes_of(&long), bytes_of(kis[1].as_bytes())];
    // SAFETY: zeroed verdicts are valid values of a plain C struct.
    let mut out: Vec<cisgate_verdict> = (0..3)
        .map(|_| unsafe { std::mem::MaybeUninit::zeroed().assume_init() })
        .collect();
    assert_eq!(
        cisgate_check_batch(index, inputs.as_ptr(), 3, -1, out.as_mut_ptr(), err),
        CISGATE_OK,
        "{}",
        message(err)
    );
    assert_eq!(out[0].status, CISGATE_STATUS_BLOCKED);
    assert_eq!(out[1].status, CISGATE_STATUS_INVALID);
    assert_eq!(out[2].status, CISGATE_STATUS_BLOCKED);
    // A null pointer with a length still fails the whole batch, and writes nothing.
    let inputs = [
        bytes_of(code),
        cisgate_bytes {
            ptr: null(),
            len: 5,
        },
    ];
    out[0].status = 77;
    assert_eq!(
        cisgate_check_batch(index, inputs.as_ptr(), 2, -1, out.as_mut_ptr(), err),
        CISGATE_ERR_ARGUMENT
    );
    assert!(message(err).contains("codes[1]"), "{}", message(err));
    assert_eq!(out[0].status, 77);
    // A batch with a price below -1 is refused as a whole.
    assert_eq!(
        cisgate_check_batch(index, inputs.as_ptr(), 1, -5, out.as_mut_ptr(), err),
        CISGATE_ERR_ARGUMENT
    );
    cisgate_close(index);
    cisgate_error_free(err);
}

#[test]
fn a_lost_filter_is_noticed_even_without_checksums() {
    let err = cisgate_error_new();
    let dir = tempfile::tempdir().unwrap();
    let (idx, kis) = index_of(dir.path(), 400);
    let filter = std::fs::read_dir(&idx)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "filter")
                && p.to_string_lossy().contains("blocked_cis")
        })
        .unwrap();
    // Zero the filter's blocks (the container's 24-byte header and footer and the block
    // count kept): every key is ruled out.
    let mut bytes = std::fs::read(&filter).unwrap();
    let n = bytes.len();
    bytes[24 + 8..n - 24].fill(0);
    std::fs::write(&filter, &bytes).unwrap();
    let path = idx.to_str().unwrap();
    let mut options = cisgate_options_default();
    options.verify_checksums = false;
    let mut index = null_mut();
    let rc = cisgate_open(path.as_ptr(), path.len(), &options, &mut index, err);
    assert_eq!(rc, CISGATE_ERR_INDEX, "{}", message(err));
    assert!(index.is_null());
    assert!(
        message(err).contains("the filter rules out key"),
        "{}",
        message(err)
    );
    assert!(!kis.is_empty());
    cisgate_error_free(err);
}

#[test]
fn returns_are_refused_on_stale_data_like_sales() {
    let err = cisgate_error_new();
    let dir = tempfile::tempdir().unwrap();
    let (idx, kis) = index_of(dir.path(), 1);
    let path = idx.to_str().unwrap();
    let free = b"0104600439931256215abcdEFGH1234";
    // Sell while fresh, then open with a limit the data is already past.
    let (rc, index) = open(&idx, err);
    assert_eq!(rc, CISGATE_OK);
    assert_eq!(
        cisgate_sell(index, free.as_ptr(), free.len(), null_mut(), 0, err),
        CISGATE_OK
    );
    cisgate_close(index);
    let mut options = cisgate_options_default();
    options.max_age_hours = 1e-9;
    let mut index = null_mut();
    assert_eq!(
        cisgate_open(path.as_ptr(), path.len(), &options, &mut index, err),
        CISGATE_OK
    );
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        cisgate_return(index, free.as_ptr(), free.len(), null_mut(), 0, err),
        CISGATE_ERR_STALE
    );
    // The message names the C option, and a tiny limit does not read as "0 h".
    let text = message(err);
    assert!(text.contains("cisgate_options.max_age_hours"), "{text}");
    assert!(!text.contains(" 0 h"), "{text}");
    // NaN is an argument error; zero never refuses.
    options.max_age_hours = f64::NAN;
    let mut other = null_mut();
    assert_eq!(
        cisgate_open(path.as_ptr(), path.len(), &options, &mut other, err),
        CISGATE_ERR_ARGUMENT
    );
    options.max_age_hours = 0.0;
    assert_eq!(
        cisgate_open(path.as_ptr(), path.len(), &options, &mut other, err),
        CISGATE_OK
    );
    let mut verdict = std::mem::MaybeUninit::<cisgate_verdict>::zeroed();
    let code = kis[0].as_bytes();
    assert_eq!(
        cisgate_check(
            other,
            code.as_ptr(),
            code.len(),
            -1,
            verdict.as_mut_ptr(),
            err
        ),
        CISGATE_OK
    );
    cisgate_close(other);
    cisgate_close(index);
    cisgate_error_free(err);
}
