// cisgate from Java: a small binding over the C ABI (ffi/include/cisgate.h) with JNA.
// The index is AutoCloseable (closed exactly once); every failing call throws
// CisgateException with the code and message. JNA: Debian's libjna-java
// (/usr/share/java/jna.jar), or Maven net.java.dev.jna:jna:5.13.0.
//   javac -cp /usr/share/java/jna.jar -d out examples/java/Cisgate.java examples/java/Example.java
//   java -cp out:/usr/share/java/jna.jar -Djna.library.path=target/release Example INDEX_DIR
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.Structure;
import com.sun.jna.ptr.ByteByReference;
import com.sun.jna.ptr.IntByReference;
import com.sun.jna.ptr.PointerByReference;
import java.nio.charset.StandardCharsets;

public final class Cisgate {
    private Cisgate() {}

    /** A verdict's status. */
    public enum Status { ALLOWED, BLOCKED, INVALID, REFUSED }

    /** Reason bits (the header's CISGATE_REASON_*; JSON names in docs/EMBEDDING.md). */
    public static final int REASON_CIS = 1, REASON_GTIN = 2, REASON_GREY_GTIN = 4,
        REASON_SERIES = 8, REASON_BELOW_MIN_PRICE = 16, REASON_ABOVE_MAX_PRICE = 32,
        REASON_SOLD = 64;
    /** Flag bits. */
    public static final int FLAG_AMBIGUOUS = 1, FLAG_REPAIRED = 2;
    /** Error codes (CISGATE_ERR_*). */
    public static final int OK = 0, ERR_ARGUMENT = 1, ERR_INDEX = 2, ERR_STALE = 3,
        ERR_INVALID_CODE = 4, ERR_AMBIGUOUS = 5, ERR_ALREADY_SOLD = 6, ERR_NOT_SOLD = 7,
        ERR_JOURNAL = 8, ERR_CONFIG = 9, ERR_UNSUPPORTED = 10, ERR_AUTHORITY = 11,
        ERR_PANIC = 99;
    /** How a sale or return was made (CISGATE_MODE_*): no sold authority, the store has
     * it, or the store was unreachable and it is queued for it. */
    public enum Mode { LOCAL, SHARED, OFFLINE }
    static final int KI_SIZE = 72;

    /** A failed call: its CISGATE_ERR_* code and message. */
    public static final class CisgateException extends RuntimeException {
        public final int code;
        CisgateException(int code, String message) {
            super(message);
            this.code = code;
        }
    }

    /** struct cisgate_options. */
    @Structure.FieldOrder({"verify_checksums", "max_age_hours", "sold_retention_days",
        "sold_authority_url", "sold_authority_token"})
    public static class Options extends Structure {
        public byte verify_checksums;
        public double max_age_hours;
        public int sold_retention_days;
        public Bytes sold_authority_url = new Bytes();
        public Bytes sold_authority_token = new Bytes();

        /** Shares the store's sold list: `url` is the store's `cisgate serve`
         * ("http://host:port"), `token` this node's token there (never in the URL). */
        public Options soldAuthority(String url, String token) {
            sold_authority_url = Bytes.of(url);
            sold_authority_token = Bytes.of(token);
            return this;
        }

        /** The struct returned by value (cisgate_options_default). */
        public static class ByValue extends Options implements Structure.ByValue {}
    }

    /** struct cisgate_verdict. */
    @Structure.FieldOrder({"status", "reasons", "flags", "ki", "gtin", "min_price_kopecks",
        "max_retail_price_kopecks"})
    public static class Verdict extends Structure {
        public int status;
        public int reasons;
        public int flags;
        public byte[] ki = new byte[KI_SIZE];
        public byte[] gtin = new byte[16];
        public long min_price_kopecks;
        public long max_retail_price_kopecks;

        public Verdict() {}
        Verdict(Pointer p) {
            super(p);
            read();
        }
        public Status status() { return Status.values()[status]; }
        public boolean has(int reason) { return (reasons & reason) != 0; }
        public String ki() { return text(ki); }
        public String gtin() { return text(gtin); }
    }

    /** struct cisgate_bytes. */
    @Structure.FieldOrder({"ptr", "len"})
    public static class Bytes extends Structure {
        public Pointer ptr;
        public long len;

        /** The UTF-8 bytes of `s` in native memory that lives as long as this struct. */
        static Bytes of(String s) {
            Bytes b = new Bytes();
            byte[] data = s.getBytes(StandardCharsets.UTF_8);
            if (data.length > 0) {
                Memory m = new Memory(data.length);
                m.write(0, data, 0, data.length);
                b.ptr = m;
            }
            b.len = data.length;
            return b;
        }
    }

    /** The C functions, as the header declares them. */
    interface Native extends Library {
        Native LIB = com.sun.jna.Native.load("cisgate_ffi", Native.class);
        int cisgate_abi_version();
        Pointer cisgate_error_new();
        void cisgate_error_free(Pointer err);
        int cisgate_error_code(Pointer err);
        String cisgate_error_message(Pointer err);
        Options.ByValue cisgate_options_default();
        int cisgate_open(byte[] dir, long dirLen, Options options, PointerByReference out, Pointer err);
        void cisgate_close(Pointer index);
        int cisgate_refresh(Pointer index, ByteByReference changed, Pointer err);
        int cisgate_check(Pointer index, byte[] code, long len, long price, Verdict out, Pointer err);
        int cisgate_check_batch(Pointer index, Pointer codes, long count, long price, Pointer out, Pointer err);
        int cisgate_sell(Pointer index, byte[] code, long len, byte[] kiOut, long kiOutLen, Pointer err);
        int cisgate_return(Pointer index, byte[] code, long len, byte[] kiOut, long kiOutLen, Pointer err);
        int cisgate_register(Pointer index, byte[] code, long len, int op, byte[] kiOut, long kiOutLen, IntByReference mode, Pointer err);
    }

    static String text(byte[] bytes) {
        int n = 0;
        while (n < bytes.length && bytes[n] != 0) n++;
        return new String(bytes, 0, n, StandardCharsets.UTF_8);
    }

    /** Runs a call with a fresh error object; throws on failure. */
    interface Call { int run(Pointer err); }

    static void call(Call c) {
        Pointer err = Native.LIB.cisgate_error_new();
        try {
            int code = c.run(err);
            if (code != OK) throw new CisgateException(code, Native.LIB.cisgate_error_message(err));
        } finally {
            Native.LIB.cisgate_error_free(err);
        }
    }

    /** The ABI version the library implements. */
    public static int abiVersion() { return Native.LIB.cisgate_abi_version(); }

    /** The default options: checksums verified, 72 hours, 30 days. */
    public static Options defaultOptions() {
        Options o = Native.LIB.cisgate_options_default();
        Options copy = new Options();
        copy.verify_checksums = o.verify_checksums;
        copy.max_age_hours = o.max_age_hours;
        copy.sold_retention_days = o.sold_retention_days;
        return copy;
    }

    /** An open index; close it (try-with-resources) to free it. Safe to share across threads. */
    public static final class Index implements AutoCloseable {
        private Pointer handle;

        public Index(String dir) { this(dir, defaultOptions()); }

        public Index(String dir, Options options) {
            byte[] path = dir.getBytes(StandardCharsets.UTF_8);
            PointerByReference out = new PointerByReference();
            call(err -> Native.LIB.cisgate_open(path, path.length, options, out, err));
            handle = out.getValue();
        }

        private Pointer live() {
            if (handle == null) throw new IllegalStateException("the index is closed");
            return handle;
        }

        /** Picks up a newer generation; true when the index moved to one. */
        public boolean refresh() {
            ByteByReference changed = new ByteByReference();
            call(err -> Native.LIB.cisgate_refresh(live(), changed, err));
            return changed.getValue() != 0;
        }

        public Verdict check(String code) { return check(code, -1); }

        /** Checks one code; priceKopecks is the sale price, or -1 for none. */
        public Verdict check(String code, long priceKopecks) {
            byte[] bytes = code.getBytes(StandardCharsets.UTF_8);
            Verdict v = new Verdict();
            call(err -> Native.LIB.cisgate_check(live(), bytes, bytes.length, priceKopecks, v, err));
            v.read();
            return v;
        }

        /** Checks many codes against one generation, in one call. */
        public Verdict[] checkBatch(String[] codes, long priceKopecks) {
            int n = codes.length;
            Verdict[] out = new Verdict[n];
            if (n == 0) return out;
            Bytes[] inputs = (Bytes[]) new Bytes().toArray(n);
            Memory[] keep = new Memory[n];
            for (int i = 0; i < n; i++) {
                byte[] b = codes[i].getBytes(StandardCharsets.UTF_8);
                keep[i] = new Memory(Math.max(1, b.length));
                keep[i].write(0, b, 0, b.length);
                inputs[i].ptr = keep[i];
                inputs[i].len = b.length;
                inputs[i].write();
            }
            int size = new Verdict().size();
            Memory verdicts = new Memory((long) size * n);
            call(err -> Native.LIB.cisgate_check_batch(live(), inputs[0].getPointer(), n, priceKopecks, verdicts, err));
            for (int i = 0; i < n; i++) out[i] = new Verdict(verdicts.share((long) i * size));
            return out;
        }

        /** Registers a sale (durable before it returns); returns the КИ sold. */
        public String sell(String code) { return journal(code, true); }

        /** Registers a return of a sold code; returns the КИ. */
        public String returnSale(String code) { return journal(code, false); }

        /** A sale (`sell`) or return with how it was made: the КИ and the mode. */
        public static final class Registered {
            public final String ki;
            public final Mode mode;
            Registered(String ki, Mode mode) { this.ki = ki; this.mode = mode; }
        }

        /** Registers a sale (`sell`) or a return, durable before it returns, and says
         * how it was made (see `Options.soldAuthority`). */
        public Registered register(String code, boolean sell) {
            byte[] bytes = code.getBytes(StandardCharsets.UTF_8);
            byte[] ki = new byte[KI_SIZE];
            IntByReference mode = new IntByReference(-1);
            call(err -> Native.LIB.cisgate_register(live(), bytes, bytes.length, sell ? 1 : 2,
                ki, ki.length, mode, err));
            return new Registered(text(ki), Mode.values()[mode.getValue()]);
        }

        private String journal(String code, boolean sell) {
            byte[] bytes = code.getBytes(StandardCharsets.UTF_8);
            byte[] ki = new byte[KI_SIZE];
            call(err -> sell
                ? Native.LIB.cisgate_sell(live(), bytes, bytes.length, ki, ki.length, err)
                : Native.LIB.cisgate_return(live(), bytes, bytes.length, ki, ki.length, err));
            return text(ki);
        }

        @Override
        public void close() {
            if (handle != null) {
                Native.LIB.cisgate_close(handle);
                handle = null;
            }
        }
    }
}
