-- The native bulk endpoint: 100,000 codes per request, one per line.
local lines = {}
local n = 0
for line in io.lines(os.getenv("CODES")) do
  n = n + 1
  lines[n] = line
  if n == 100000 then break end
end
local body = table.concat(lines, "\n") .. "\n"
wrk.method = "POST"
wrk.headers["Content-Type"] = "text/plain"
wrk.body = body
wrk.path = "/api/cisgate/v1/check"
