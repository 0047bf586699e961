// The Java example: checks known codes against an index built from data/sample and exits
// non-zero on any wrong answer (the same checks as the C# example).
//   javac -cp /usr/share/java/jna.jar -d out examples/java/Cisgate.java examples/java/Example.java
//   java -cp out:/usr/share/java/jna.jar -Djna.library.path=target/release Example target/demo-index
public final class Example {
    static int failures = 0;

    static void expect(boolean ok, String what) {
        if (!ok) {
            System.err.println("FAILED: " + what);
            failures++;
        }
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: Example INDEX_DIR");
            System.exit(2);
        }
        String dir = args[0];
        expect(Cisgate.abiVersion() == 2, "ABI version");

        // Default options: the sample's data is days old, so checks are refused.
        try (Cisgate.Index stale = new Cisgate.Index(dir)) {
            try {
                stale.check("0104600439931256215abcdEFGH1234");
                expect(false, "stale data must be refused");
            } catch (Cisgate.CisgateException e) {
                expect(e.code == Cisgate.ERR_STALE, "stale code " + e.code);
                System.out.println("stale data: " + e.getMessage());
            }
        }

        Cisgate.Options options = Cisgate.defaultOptions();
        options.max_age_hours = 0;
        try (Cisgate.Index index = new Cisgate.Index(dir, options)) {
            Cisgate.Verdict blocked = index.check("0104600439931256215abcdEFGH1234\u001d93dGVz");
            expect(blocked.status() == Cisgate.Status.BLOCKED && blocked.has(Cisgate.REASON_CIS), "blocked");
            expect(blocked.ki().equals("0104600439931256215abcdEFGH1234"), "ki " + blocked.ki());
            expect(blocked.gtin().equals("04600439931256"), "gtin " + blocked.gtin());
            Cisgate.Verdict allowed = index.check("0104600439931256215zzzzzzzzzzzz");
            expect(allowed.status() == Cisgate.Status.ALLOWED, "allowed");
            Cisgate.Verdict pack = index.check("04647297654361!%C5UGbACW.abcd", 15000);
            expect(pack.max_retail_price_kopecks == 14630 && pack.has(Cisgate.REASON_ABOVE_MAX_PRICE), "pack");

            Cisgate.Verdict[] batch = index.checkBatch(new String[] {
                "0104600439931256215abcdEFGH1234", "0104600439931256215zzzzzzzzzzzz", "garbage" }, -1);
            expect(batch[0].status() == Cisgate.Status.BLOCKED && batch[1].status() == Cisgate.Status.ALLOWED
                && batch[2].status() == Cisgate.Status.INVALID, "batch");

            String code = "0104600439931256215zzzzzzzzzzzz";
            expect(index.sell(code).equals(code), "sell");
            expect(index.check(code).has(Cisgate.REASON_SOLD), "sold");
            try {
                index.sell(code);
                expect(false, "a second sale must be refused");
            } catch (Cisgate.CisgateException e) {
                expect(e.code == Cisgate.ERR_ALREADY_SOLD, "already sold " + e.code);
                System.out.println("second sale: " + e.getMessage());
            }
            expect(index.returnSale(code).equals(code), "return");
            expect(!index.refresh(), "nothing new to refresh to");
            try {
                index.check("0104600439931256215zzzzzzzzzzzz", -2);
                expect(false, "a price below -1 must be refused");
            } catch (Cisgate.CisgateException e) {
                expect(e.code == Cisgate.ERR_ARGUMENT, "price code " + e.code);
            }
        }

        // The store's sold list: a URL without a token is an argument error; with nothing
        // listening at the store, a sale is made here and queued for it.
        try (Cisgate.Index bad = new Cisgate.Index(dir, Cisgate.defaultOptions().soldAuthority("http://127.0.0.1:9", ""))) {
            expect(false, "a sold authority without a token must be refused");
        } catch (Cisgate.CisgateException e) {
            expect(e.code == Cisgate.ERR_ARGUMENT, "authority without a token " + e.code);
        }
        Cisgate.Options shared = Cisgate.defaultOptions().soldAuthority("http://127.0.0.1:9", "till-7");
        shared.max_age_hours = 0;
        try (Cisgate.Index index = new Cisgate.Index(dir, shared)) {
            String code = "0104600439931256215javaoffline1";
            Cisgate.Index.Registered sale = index.register(code, true);
            expect(sale.ki.equals(code) && sale.mode == Cisgate.Mode.OFFLINE, "offline sale " + sale.mode);
            expect(index.check(code).has(Cisgate.REASON_SOLD), "sold offline");
            expect(index.register(code, false).mode == Cisgate.Mode.OFFLINE, "offline return");
        }

        try (Cisgate.Index missing = new Cisgate.Index("/nonexistent/index")) {
            expect(false, "a missing index must fail");
        } catch (Cisgate.CisgateException e) {
            expect(e.code == Cisgate.ERR_INDEX, "missing index " + e.code);
            System.out.println("missing index: " + e.getMessage());
        }

        if (failures > 0) {
            System.err.println(failures + " check(s) failed");
            System.exit(1);
        }
        System.out.println("all checks passed");
    }
}
