-- wrk script for `mimo serve`: POST /search with the JSON bodies of a file (one per line), each
-- connection a closed-loop client (next request after the response). Run as
--   wrk -t 2 -c 16 -d 20s -s benchmarks/wrk_search.lua http://127.0.0.1:8000 -- bodies.jsonl
-- done() prints one JSON line: requests, seconds, errors (socket + non-2xx), latency percentiles in ms.

local threads = 0

function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local bodies, i = {}, 0

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then bodies[#bodies + 1] = line end
  end
  i = ((tid or 0) * 97) % #bodies  -- threads start at different queries
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", "/search", {["Content-Type"] = "application/json"}, bodies[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  local pct = function(p) return latency:percentile(p) / 1000 end
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "socket_errors": %d, "non_2xx": %d, ' ..
    '"p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    pct(50), pct(90), pct(99), latency.max / 1000))
end
