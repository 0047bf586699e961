/* A stand-in for Windows' bcryptprimitives.dll, which Wine 8.0 lacks: Rust's standard
 * library imports ProcessPrng from it (Windows 10 and later). A test fixture for running
 * the Windows builds under Wine; never shipped (Windows has the real one). */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    return BCryptGenRandom(NULL, data, (ULONG)len, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
