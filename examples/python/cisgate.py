"""cisgate from Python through its C ABI (ffi/include/cisgate.h), with ctypes only.

    import cisgate
    with cisgate.Index("target/demo-index", max_age_hours=0) as index:
        verdict = index.check("0104600439931256215abcdEFGH1234\\x1d93dGVz")
        print(verdict.status, verdict.reasons, verdict.ki)

The library is found through CISGATE_LIB (a path to libcisgate_ffi.so) or the usual
search path. Every failing call raises cisgate.Error with the code and message.
"""

import ctypes
import ctypes.util
import os

OK, ERR_ARGUMENT, ERR_INDEX, ERR_STALE, ERR_INVALID_CODE, ERR_AMBIGUOUS = 0, 1, 2, 3, 4, 5
ERR_ALREADY_SOLD, ERR_NOT_SOLD, ERR_JOURNAL, ERR_CONFIG, ERR_UNSUPPORTED = 6, 7, 8, 9, 10
ERR_AUTHORITY, ERR_PANIC = 11, 99
OP_SELL, OP_RETURN = 1, 2
MODES = {0: "local", 1: "shared", 2: "offline"}
STATUS = {0: "allowed", 1: "blocked", 2: "invalid", 3: "refused"}
REASONS = ["cis", "gtin", "grey_gtin", "series", "below_min_price", "above_max_price", "sold"]
KI_SIZE = 72


class Error(Exception):
    """A failed call: `code` is one of the ERR_* constants."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class _Bytes(ctypes.Structure):
    _fields_ = [("ptr", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _Options(ctypes.Structure):
    _fields_ = [
        ("verify_checksums", ctypes.c_bool),
        ("max_age_hours", ctypes.c_double),
        ("sold_retention_days", ctypes.c_uint32),
        ("sold_authority_url", _Bytes),
        ("sold_authority_token", _Bytes),
    ]


class _Verdict(ctypes.Structure):
    _fields_ = [
        ("status", ctypes.c_int32),
        ("reasons", ctypes.c_uint32),
        ("flags", ctypes.c_uint32),
        ("ki", ctypes.c_char * KI_SIZE),
        ("gtin", ctypes.c_char * 16),
        ("min_price_kopecks", ctypes.c_int64),
        ("max_retail_price_kopecks", ctypes.c_int64),
    ]


class Verdict:
    """The answer for one code."""

    def __init__(self, raw):
        self.status = STATUS[raw.status]
        self.reasons = [name for bit, name in enumerate(REASONS) if raw.reasons & (1 << bit)]
        self.ambiguous = bool(raw.flags & 1)
        self.ki = raw.ki.decode("utf-8")
        self.gtin = raw.gtin.decode("utf-8")
        self.min_price_kopecks = None if raw.min_price_kopecks < 0 else raw.min_price_kopecks
        mrp = raw.max_retail_price_kopecks
        self.max_retail_price_kopecks = None if mrp < 0 else mrp

    def __repr__(self):
        return f"Verdict({self.status}, {self.reasons}, ki={self.ki!r})"


def _load():
    path = os.environ.get("CISGATE_LIB") or ctypes.util.find_library("cisgate_ffi")
    if not path:
        raise OSError("libcisgate_ffi not found: set CISGATE_LIB to its path")
    lib = ctypes.CDLL(path)
    p = ctypes.POINTER
    lib.cisgate_abi_version.restype = ctypes.c_uint32
    lib.cisgate_error_new.restype = ctypes.c_void_p
    lib.cisgate_error_free.argtypes = [ctypes.c_void_p]
    lib.cisgate_error_message.argtypes = [ctypes.c_void_p]
    lib.cisgate_error_message.restype = ctypes.c_char_p
    lib.cisgate_options_default.restype = _Options
    lib.cisgate_open.argtypes = [ctypes.c_char_p, ctypes.c_size_t, p(_Options), p(ctypes.c_void_p), ctypes.c_void_p]
    lib.cisgate_close.argtypes = [ctypes.c_void_p]
    lib.cisgate_check.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64, p(_Verdict), ctypes.c_void_p]
    lib.cisgate_check_batch.argtypes = [ctypes.c_void_p, p(_Bytes), ctypes.c_size_t, ctypes.c_int64, p(_Verdict), ctypes.c_void_p]
    lib.cisgate_contains_ki_batch.argtypes = [ctypes.c_void_p, p(_Bytes), ctypes.c_size_t, p(ctypes.c_uint8), ctypes.c_void_p]
    for name in ("cisgate_sell", "cisgate_return"):
        getattr(lib, name).argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p]
    lib.cisgate_register.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int32, ctypes.c_char_p, ctypes.c_size_t, p(ctypes.c_int32), ctypes.c_void_p]
    for name in ("cisgate_open", "cisgate_register", "cisgate_check", "cisgate_check_batch", "cisgate_contains_ki_batch", "cisgate_sell", "cisgate_return"):
        getattr(lib, name).restype = ctypes.c_int32
    return lib


_lib = _load()


def _call(fn, *args):
    err = _lib.cisgate_error_new()
    try:
        rc = fn(*args, err)
        if rc != OK:
            raise Error(rc, _lib.cisgate_error_message(err).decode("utf-8", "replace"))
    finally:
        _lib.cisgate_error_free(err)


def abi_version():
    return _lib.cisgate_abi_version()


class Index:
    """An open index. Thread-safe; close it (or use `with`)."""

    def __init__(self, directory, verify_checksums=True, max_age_hours=72.0, sold_retention_days=30,
                 sold_authority=None, sold_token=None):
        """`sold_authority` (the store's `cisgate serve`, "http://host:port") and this node's
        `sold_token` share the store's sold list: see `register`."""
        self._handle = None
        options = _lib.cisgate_options_default()
        options.verify_checksums = verify_checksums
        options.max_age_hours = max_age_hours
        options.sold_retention_days = sold_retention_days
        # The buffers live until cisgate_open returns; the library copies them.
        url = (sold_authority or "").encode("utf-8")
        token = (sold_token or "").encode("utf-8")
        url_buffer = ctypes.create_string_buffer(url, len(url))
        token_buffer = ctypes.create_string_buffer(token, len(token))
        options.sold_authority_url = _Bytes(ctypes.cast(url_buffer, ctypes.c_void_p), len(url))
        options.sold_authority_token = _Bytes(ctypes.cast(token_buffer, ctypes.c_void_p), len(token))
        path = os.fsencode(directory)
        handle = ctypes.c_void_p()
        _call(_lib.cisgate_open, path, len(path), ctypes.byref(options), ctypes.byref(handle))
        self._handle = handle

    def close(self):
        if self._handle:
            _lib.cisgate_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def check(self, code, price_kopecks=-1):
        data = code.encode("utf-8") if isinstance(code, str) else bytes(code)
        raw = _Verdict()
        _call(_lib.cisgate_check, self._handle, data, len(data), price_kopecks, ctypes.byref(raw))
        return Verdict(raw)

    def check_batch(self, codes, price_kopecks=-1):
        data = [c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in codes]
        buffers = [ctypes.create_string_buffer(d, len(d)) for d in data]
        inputs = (_Bytes * len(data))(*[_Bytes(ctypes.cast(b, ctypes.c_void_p), len(d)) for b, d in zip(buffers, data)])
        out = (_Verdict * len(data))()
        _call(_lib.cisgate_check_batch, self._handle, inputs, len(data), price_kopecks, out)
        return [Verdict(v) for v in out]

    def contains_ki_batch(self, kis):
        data = [k.encode("utf-8") for k in kis]
        buffers = [ctypes.create_string_buffer(d, len(d)) for d in data]
        inputs = (_Bytes * len(data))(*[_Bytes(ctypes.cast(b, ctypes.c_void_p), len(d)) for b, d in zip(buffers, data)])
        out = (ctypes.c_uint8 * len(data))()
        _call(_lib.cisgate_contains_ki_batch, self._handle, inputs, len(data), out)
        return [bool(x) for x in out]

    def sell(self, code):
        return self._journal(_lib.cisgate_sell, code)

    def return_sale(self, code):
        return self._journal(_lib.cisgate_return, code)

    def register(self, code, op=OP_SELL):
        """Sells (OP_SELL) or returns (OP_RETURN) a code; returns (ki, mode), where mode
        says how: "local" (no sold authority), "shared" (the store has it) or "offline"
        (the store was unreachable; made here and queued for it)."""
        data = code.encode("utf-8") if isinstance(code, str) else bytes(code)
        ki = ctypes.create_string_buffer(KI_SIZE)
        mode = ctypes.c_int32(-1)
        _call(_lib.cisgate_register, self._handle, data, len(data), op, ki, KI_SIZE, ctypes.byref(mode))
        return ki.value.decode("utf-8"), MODES[mode.value]

    def _journal(self, fn, code):
        data = code.encode("utf-8") if isinstance(code, str) else bytes(code)
        ki = ctypes.create_string_buffer(KI_SIZE)
        _call(fn, self._handle, data, len(data), ki, KI_SIZE)
        return ki.value.decode("utf-8")
