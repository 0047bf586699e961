// The C# example: checks known codes against an index built from data/sample and exits
// non-zero on any wrong answer.
//   mcs -out:example.exe examples/csharp/Cisgate.cs examples/csharp/Example.cs
//   LD_LIBRARY_PATH=target/release mono example.exe target/demo-index
using System;
using Cisgate;

static class Example
{
    static int failures = 0;

    static void Expect(bool ok, string what)
    {
        if (!ok) { Console.Error.WriteLine("FAILED: " + what); failures++; }
    }

    static int Main(string[] args)
    {
        if (args.Length < 1) { Console.Error.WriteLine("usage: example.exe INDEX_DIR"); return 2; }
        string dir = args[0];
        Expect(CisgateIndex.AbiVersion == 2, "ABI version");

        // Default options: the sample's data is days old, so checks are refused.
        using (var stale = new CisgateIndex(dir))
        {
            try
            {
                stale.Check("0104600439931256215abcdEFGH1234");
                Expect(false, "stale data must be refused");
            }
            catch (CisgateException e)
            {
                Expect(e.Code == ErrorCode.Stale, "stale code " + e.Code);
                Console.WriteLine("stale data: " + e.Message);
            }
        }

        var options = CisgateIndex.DefaultOptions();
        options.MaxAgeHours = 0;
        using (var index = new CisgateIndex(dir, options))
        {
            var blocked = index.Check("0104600439931256215abcdEFGH1234\u001d93dGVz");
            Expect(blocked.Status == Status.Blocked && blocked.Reasons.HasFlag(Reasons.Cis), "blocked");
            Expect(blocked.Ki == "0104600439931256215abcdEFGH1234", "ki " + blocked.Ki);
            Expect(blocked.Gtin == "04600439931256", "gtin " + blocked.Gtin);
            var allowed = index.Check("0104600439931256215zzzzzzzzzzzz");
            Expect(allowed.Status == Status.Allowed, "allowed");
            var pack = index.Check("04647297654361!%C5UGbACW.abcd", 15000);
            Expect(pack.MaxRetailPriceKopecks == 14630 && pack.Reasons.HasFlag(Reasons.AboveMaxPrice), "pack");

            var batch = index.CheckBatch(new[] {
                "0104600439931256215abcdEFGH1234", "0104600439931256215zzzzzzzzzzzz", "garbage" });
            Expect(batch[0].Status == Status.Blocked && batch[1].Status == Status.Allowed
                && batch[2].Status == Status.Invalid, "batch");

            string code = "0104600439931256215zzzzzzzzzzzz";
            Expect(index.Sell(code) == code, "sell");
            Expect(index.Check(code).Reasons.HasFlag(Reasons.Sold), "sold");
            try
            {
                index.Sell(code);
                Expect(false, "a second sale must be refused");
            }
            catch (CisgateException e)
            {
                Expect(e.Code == ErrorCode.AlreadySold, "already sold " + e.Code);
                Console.WriteLine("second sale: " + e.Message);
            }
            Expect(index.Return(code) == code, "return");
        }

        // The store's sold list: a URL without a token is an argument error; with nothing
        // listening at the store, a sale is made here and queued for it.
        try
        {
            new CisgateIndex(dir, options, "http://127.0.0.1:9", null).Dispose();
            Expect(false, "a sold authority without a token must be refused");
        }
        catch (CisgateException e)
        {
            Expect(e.Code == ErrorCode.Argument, "authority without a token " + e.Code);
        }
        using (var index = new CisgateIndex(dir, options, "http://127.0.0.1:9", "till-7"))
        {
            string code = "0104600439931256215csoffline001";
            Mode mode;
            Expect(index.Register(code, true, out mode) == code && mode == Mode.Offline, "offline sale " + mode);
            Expect(index.Check(code).Reasons.HasFlag(Reasons.Sold), "sold offline");
            index.Register(code, false, out mode);
            Expect(mode == Mode.Offline, "offline return " + mode);
        }

        try
        {
            new CisgateIndex("/nonexistent/index").Dispose();
            Expect(false, "a missing index must fail");
        }
        catch (CisgateException e)
        {
            Expect(e.Code == ErrorCode.Index, "missing index " + e.Code);
            Console.WriteLine("missing index: " + e.Message);
        }

        if (failures > 0) { Console.Error.WriteLine(failures + " check(s) failed"); return 1; }
        Console.WriteLine("all checks passed");
        return 0;
    }
}
