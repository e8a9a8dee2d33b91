-- wrk script for the gateway benchmark: POSTs one JSON envelope, each time under a new random messageId (as a
-- version-4 UUID is random), with a bearer token.
--
--   wrk -t1 -c256 -d10s --latency -s scripts/gateway-bench/wrk-referral.lua http://127.0.0.1:18181/v1/messages \
--       -- referral.json bench-token-201
--
-- A non-2xx answer (a repeated messageId would be 409) shows in wrk's "Non-2xx or 3xx responses" line.

local prefix, suffix

function init(args)
  local file = assert(io.open(args[1], "rb"), "the envelope file (first argument after --) cannot be read")
  local body = file:read("*a")
  file:close()
  local at, quote = body:find('"messageId"%s*:%s*"')
  assert(at, "the envelope has no messageId")
  local close = body:find('"', quote + 1, true)
  prefix, suffix = body:sub(1, quote), body:sub(close)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  -- Different in each thread and run.
  math.randomseed(os.time() * 1000 + tonumber(tostring({}):sub(8), 16) % 1000)
end

local function uuid4()
  local r = math.random
  return string.format("%08x-%04x-4%03x-%x%03x-%06x%06x", r(0, 0xffffffff), r(0, 0xffff), r(0, 0xfff),
    r(8, 11), r(0, 0xfff), r(0, 0xffffff), r(0, 0xffffff))
end

function request()
  return wrk.format(nil, nil, nil, prefix .. uuid4() .. suffix)
end
