-- 1000 КИ per outCheck request (the LM's limit), 20 different bodies in turn. КИ, not full
-- КМ: 1000 full codes with crypto tails do not fit the LM's 64 KiB body limit.
package.path = os.getenv("LUA_DIR") .. "/?.lua;" .. package.path
local codes = require("common")
local bodies = {}
local n = 0
for b = 1, 20 do
  local items = {}
  for k = 1, 1000 do
    n = n % #codes + 1
    items[k] = '{"cis":"' .. codes[n] .. '"}'
  end
  bodies[b] = '{"cis_list":[' .. table.concat(items, ",") .. ']}'
end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "/api/v2/cis/outCheck", nil, bodies[i])
end
