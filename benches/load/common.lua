-- Shared by the wrk scripts: codes from the file named by $CODES_FILE_VAR (default CODES),
-- JSON-escaped.
local codes = {}
local var = os.getenv("CODES_FILE_VAR") or "CODES"
for line in io.lines(os.getenv(var)) do
  codes[#codes + 1] = (line:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end))
end
assert(#codes > 0, "no codes in $" .. var)
return codes
