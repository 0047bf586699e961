"""The Python example as a test: `CISGATE_LIB=... python3 test_cisgate.py INDEX_DIR`.
Exits non-zero on any wrong answer (the index is built from data/sample)."""

import sys
import unittest

import cisgate

INDEX = None
BLOCKED = "0104600439931256215abcdEFGH1234\x1d93dGVz"
ALLOWED = "0104600439931256215zzzzzzzzzzzz"


class CisgateTest(unittest.TestCase):
    def test_stale_data_is_refused(self):
        with cisgate.Index(INDEX) as index:
            with self.assertRaises(cisgate.Error) as caught:
                index.check(BLOCKED)
            self.assertEqual(caught.exception.code, cisgate.ERR_STALE)
            self.assertIn("h old, over the allowed 72 h", str(caught.exception))

    def test_checks_batch_sale_and_errors(self):
        self.assertEqual(cisgate.abi_version(), 2)
        with cisgate.Index(INDEX, max_age_hours=0) as index:
            v = index.check(BLOCKED)
            self.assertEqual((v.status, v.reasons, v.ki), ("blocked", ["cis"], "0104600439931256215abcdEFGH1234"))
            self.assertEqual(index.check(ALLOWED).status, "allowed")
            pack = index.check("04647297654361!%C5UGbACW.abcd", price_kopecks=15000)
            self.assertEqual(pack.max_retail_price_kopecks, 14630)
            self.assertIn("above_max_price", pack.reasons)
            batch = index.check_batch([BLOCKED, ALLOWED, "garbage"])
            self.assertEqual([b.status for b in batch], ["blocked", "allowed", "invalid"])
            self.assertEqual(index.contains_ki_batch(["0104600439931256215abcdEFGH1234", ALLOWED]), [True, False])
            self.assertEqual(index.sell(ALLOWED), ALLOWED)
            self.assertIn("sold", index.check(ALLOWED).reasons)
            with self.assertRaises(cisgate.Error) as caught:
                index.sell(ALLOWED)
            self.assertEqual(caught.exception.code, cisgate.ERR_ALREADY_SOLD)
            self.assertEqual(index.return_sale(ALLOWED), ALLOWED)
            with self.assertRaises(cisgate.Error) as caught:
                index.sell(b"\xff\xfe")
            self.assertEqual(caught.exception.code, cisgate.ERR_ARGUMENT)

    def test_sold_authority(self):
        # A URL without a token is an argument error; nothing opens.
        with self.assertRaises(cisgate.Error) as caught:
            cisgate.Index(INDEX, sold_authority="http://127.0.0.1:9")
        self.assertEqual(caught.exception.code, cisgate.ERR_ARGUMENT)
        self.assertIn("without a token", str(caught.exception))
        code = "0104600439931256215offline00001"
        # Nothing listens on port 9: the sale is made here, queued, and says so.
        with cisgate.Index(INDEX, max_age_hours=0, sold_authority="http://127.0.0.1:9", sold_token="till-7") as index:
            self.assertEqual(index.register(code), (code, "offline"))
            self.assertIn("sold", index.check(code).reasons)
            self.assertEqual(index.register(code, cisgate.OP_RETURN), (code, "offline"))
        with cisgate.Index(INDEX, max_age_hours=0) as index:
            self.assertEqual(index.register(code), (code, "local"))
            self.assertEqual(index.register(code, cisgate.OP_RETURN), (code, "local"))

    def test_missing_index(self):
        with self.assertRaises(cisgate.Error) as caught:
            cisgate.Index("/nonexistent/index")
        self.assertEqual(caught.exception.code, cisgate.ERR_INDEX)


if __name__ == "__main__":
    INDEX = sys.argv.pop(1)
    unittest.main(verbosity=2)
