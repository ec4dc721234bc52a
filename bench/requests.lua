-- wrk script for bench/workorders.py: replays a file of requests, counts status codes,
-- prints latency percentiles as one JSON line.
--
--   BENCH_AUTH="Bearer cl_..." wrk -t2 -c8 -d20s -s bench/requests.lua http://127.0.0.1:8765 -- requests.tsv
--
-- requests.tsv: one request per line, METHOD<TAB>PATH[<TAB>JSON BODY]. Each thread starts
-- at a different line and walks the file round-robin.

local threads = {}
local requests = {}
local index = 0
ok, bad, first_error = 0, 0, ""

function setup(thread)
   table.insert(threads, thread)
   thread:set("thread_no", #threads)
end

function init(args)
   local auth = os.getenv("BENCH_AUTH")
   for line in io.lines(args[1]) do
      local method, path, body = line:match("^(%u+)\t([^\t]+)\t?(.*)$")
      if method then
         local headers = { ["Authorization"] = auth, ["Accept"] = "application/json" }
         if body == "" then
            body = nil
         else
            headers["Content-Type"] = "application/json"
         end
         table.insert(requests, wrk.format(method, path, headers, body))
      end
   end
   if #requests == 0 then
      error("no requests in " .. tostring(args[1]))
   end
   index = ((thread_no or 1) - 1) * math.floor(#requests / 8)
end

function request()
   index = index % #requests + 1
   return requests[index]
end

function response(status, headers, body)
   if status >= 200 and status < 300 then
      ok = ok + 1
   else
      bad = bad + 1
      if first_error == "" then
         first_error = status .. " " .. string.sub(body or "", 1, 300):gsub("[\r\n\t]", " ")
      end
   end
end

function done(summary, latency, requests)
   local n_ok, n_bad, err = 0, 0, ""
   for _, t in ipairs(threads) do
      n_ok = n_ok + (t:get("ok") or 0)
      n_bad = n_bad + (t:get("bad") or 0)
      local e = t:get("first_error")
      if err == "" and e and e ~= "" then
         err = e
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "ok": %d, "non2xx": %d, ' ..
      '"socket_errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
      '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "p50": %d, "p90": %d, "p95": %d, "p99": %d, "p999": %d}}\n',
      summary.requests, summary.duration, n_ok, n_bad, e.connect, e.read, e.write, e.timeout,
      latency.min, latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
      latency:percentile(95), latency:percentile(99), latency:percentile(99.9)))
   if err ~= "" then
      io.write("BENCH_ERROR " .. err .. "\n")
   end
end
