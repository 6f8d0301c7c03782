-- wrk script: POST the JSON body in the WRK_BODY environment variable to the URL's path, and
-- count non-2xx answers as errors (wrk alone counts only socket errors and 4xx/5xx on request).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("WRK_BODY")

local bad = 0
function response(status, headers, body)
  if status ~= 200 then bad = bad + 1 end
end

function done(summary, latency, requests)
  io.write(string.format("non200 %d\n", bad))
end
