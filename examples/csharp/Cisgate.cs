// cisgate from C#: a small P/Invoke binding over the C ABI (ffi/include/cisgate.h).
// Handles are SafeHandles, so an index is closed exactly once, even when an exception
// unwinds past it. Every failing call throws CisgateException with the code and message.
using System;
using System.Runtime.InteropServices;
using System.Text;

namespace Cisgate
{
    public enum Status { Allowed = 0, Blocked = 1, Invalid = 2, Refused = 3 }

    [Flags]
    public enum Reasons : uint
    {
        None = 0, Cis = 1, Gtin = 2, GreyGtin = 4, Series = 8,
        BelowMinPrice = 16, AboveMaxPrice = 32, Sold = 64,
    }

    public static class ErrorCode
    {
        public const int Ok = 0, Argument = 1, Index = 2, Stale = 3, InvalidCode = 4,
            Ambiguous = 5, AlreadySold = 6, NotSold = 7, Journal = 8, Config = 9,
            Unsupported = 10, Authority = 11, Panic = 99;
    }

    /// <summary>How a sale or return was made (CISGATE_MODE_*): no sold authority, the
    /// store has it, or the store was unreachable and it is queued for it.</summary>
    public enum Mode { Local = 0, Shared = 1, Offline = 2 }

    public sealed class CisgateException : Exception
    {
        public int Code { get; }
        public CisgateException(int code, string message) : base(message) { Code = code; }
    }

    /// <summary>One verdict, as the C struct cisgate_verdict lays it out.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct Verdict
    {
        public int StatusCode;
        public uint ReasonBits;
        public uint Flags;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 72)] public byte[] KiBytes;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 16)] public byte[] GtinBytes;
        public long MinPriceKopecks;
        public long MaxRetailPriceKopecks;

        public Status Status => (Status)StatusCode;
        public Reasons Reasons => (Reasons)ReasonBits;
        public string Ki => Native.Text(KiBytes);
        public string Gtin => Native.Text(GtinBytes);
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Options
    {
        [MarshalAs(UnmanagedType.I1)] public bool VerifyChecksums;
        public double MaxAgeHours;
        public uint SoldRetentionDays;
        // Set through CisgateIndex's soldAuthority arguments, which keep the bytes alive.
        public Bytes SoldAuthorityUrl;
        public Bytes SoldAuthorityToken;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct Bytes
    {
        public IntPtr Ptr;
        public UIntPtr Len;
    }

    internal static class Native
    {
        const string Lib = "cisgate_ffi";
        // The C ABI is cdecl: on 32-bit Windows P/Invoke assumes stdcall unless told.
        const CallingConvention Cdecl = CallingConvention.Cdecl;

        [DllImport(Lib, CallingConvention = Cdecl)] public static extern uint cisgate_abi_version();
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern IntPtr cisgate_error_new();
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern void cisgate_error_free(IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern IntPtr cisgate_error_message(IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern Options cisgate_options_default();
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_open(byte[] dir, UIntPtr dirLen, ref Options options, out IndexHandle index, IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern void cisgate_close(IntPtr index);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_check(IndexHandle index, byte[] code, UIntPtr len, long price, out Verdict verdict, IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_check_batch(IndexHandle index, [In] Bytes[] codes, UIntPtr count, long price, [Out] Verdict[] verdicts, IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_sell(IndexHandle index, byte[] code, UIntPtr len, byte[] kiOut, UIntPtr kiOutLen, IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_return(IndexHandle index, byte[] code, UIntPtr len, byte[] kiOut, UIntPtr kiOutLen, IntPtr err);
        [DllImport(Lib, CallingConvention = Cdecl)] public static extern int cisgate_register(IndexHandle index, byte[] code, UIntPtr len, int op, byte[] kiOut, UIntPtr kiOutLen, out int mode, IntPtr err);

        public static string Text(byte[] bytes)
        {
            if (bytes == null) return "";
            int n = Array.IndexOf(bytes, (byte)0);
            return Encoding.UTF8.GetString(bytes, 0, n < 0 ? bytes.Length : n);
        }

        /// <summary>Runs a call with a fresh error object; throws on failure.</summary>
        public static void Call(Func<IntPtr, int> call)
        {
            IntPtr err = cisgate_error_new();
            try
            {
                int rc = call(err);
                if (rc != ErrorCode.Ok)
                {
                    // The message is UTF-8, NUL-terminated.
                    string message = Utf8At(cisgate_error_message(err));
                    throw new CisgateException(rc, message);
                }
            }
            finally
            {
                cisgate_error_free(err);
            }
        }

        static string Utf8At(IntPtr p)
        {
            int n = 0;
            while (Marshal.ReadByte(p, n) != 0) n++;
            var b = new byte[n];
            Marshal.Copy(p, b, 0, n);
            return Encoding.UTF8.GetString(b);
        }
    }

    /// <summary>The native index handle; released by cisgate_close exactly once.</summary>
    public sealed class IndexHandle : SafeHandle
    {
        public IndexHandle() : base(IntPtr.Zero, true) { }
        public override bool IsInvalid => handle == IntPtr.Zero;
        protected override bool ReleaseHandle()
        {
            Native.cisgate_close(handle);
            return true;
        }
    }

    /// <summary>An open index: checks, batches, sales and returns. Thread-safe.</summary>
    public sealed class CisgateIndex : IDisposable
    {
        readonly IndexHandle handle;

        public static Options DefaultOptions() => Native.cisgate_options_default();

        public CisgateIndex(string dir) : this(dir, DefaultOptions()) { }

        /// <summary>Opens `dir`. With `soldAuthority` (the store's `cisgate serve`,
        /// "http://host:port") and this node's `soldToken` the index shares the store's
        /// sold list: see Register.</summary>
        public CisgateIndex(string dir, Options options, string soldAuthority = null, string soldToken = null)
        {
            byte[] path = Encoding.UTF8.GetBytes(dir);
            byte[] url = Encoding.UTF8.GetBytes(soldAuthority ?? "");
            byte[] token = Encoding.UTF8.GetBytes(soldToken ?? "");
            // Pinned for the call only: the library copies both.
            GCHandle urlPin = GCHandle.Alloc(url, GCHandleType.Pinned);
            GCHandle tokenPin = GCHandle.Alloc(token, GCHandleType.Pinned);
            try
            {
                options.SoldAuthorityUrl = new Bytes { Ptr = urlPin.AddrOfPinnedObject(), Len = (UIntPtr)url.Length };
                options.SoldAuthorityToken = new Bytes { Ptr = tokenPin.AddrOfPinnedObject(), Len = (UIntPtr)token.Length };
                IndexHandle h = null;
                Native.Call(err => Native.cisgate_open(path, (UIntPtr)path.Length, ref options, out h, err));
                handle = h;
            }
            finally
            {
                urlPin.Free();
                tokenPin.Free();
            }
        }

        public static uint AbiVersion => Native.cisgate_abi_version();

        public Verdict Check(string code, long priceKopecks = -1)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(code);
            Verdict v = default(Verdict);
            Native.Call(err => Native.cisgate_check(handle, bytes, (UIntPtr)bytes.Length, priceKopecks, out v, err));
            return v;
        }

        public Verdict[] CheckBatch(string[] codes, long priceKopecks = -1)
        {
            var pins = new GCHandle[codes.Length];
            var input = new Bytes[codes.Length];
            var output = new Verdict[codes.Length];
            try
            {
                for (int i = 0; i < codes.Length; i++)
                {
                    byte[] b = Encoding.UTF8.GetBytes(codes[i]);
                    pins[i] = GCHandle.Alloc(b, GCHandleType.Pinned);
                    input[i].Ptr = pins[i].AddrOfPinnedObject();
                    input[i].Len = (UIntPtr)b.Length;
                }
                Native.Call(err => Native.cisgate_check_batch(handle, input, (UIntPtr)codes.Length, priceKopecks, output, err));
            }
            finally
            {
                foreach (var p in pins) if (p.IsAllocated) p.Free();
            }
            return output;
        }

        /// <summary>Registers a sale; durable before it returns. Returns the КИ.</summary>
        public string Sell(string code) => Journal(code, true);

        /// <summary>Registers a return of a sold code. Returns the КИ.</summary>
        public string Return(string code) => Journal(code, false);

        /// <summary>Registers a sale (`sell`) or a return, durable before it returns, and
        /// says how it was made. Returns the КИ.</summary>
        public string Register(string code, bool sell, out Mode mode)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(code);
            byte[] ki = new byte[72];
            int made = -1;
            Native.Call(err => Native.cisgate_register(handle, bytes, (UIntPtr)bytes.Length, sell ? 1 : 2, ki, (UIntPtr)ki.Length, out made, err));
            mode = (Mode)made;
            return Native.Text(ki);
        }

        string Journal(string code, bool sell)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(code);
            byte[] ki = new byte[72];
            Native.Call(err => sell
                ? Native.cisgate_sell(handle, bytes, (UIntPtr)bytes.Length, ki, (UIntPtr)ki.Length, err)
                : Native.cisgate_return(handle, bytes, (UIntPtr)bytes.Length, ki, (UIntPtr)ki.Length, err));
            return Native.Text(ki);
        }

        public void Dispose() => handle.Dispose();
    }
}
