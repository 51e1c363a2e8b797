-- Paces each connection: wait `pace_ms` between requests (wrk's delay hook), so the offered
-- load is about connections * 1000 / pace_ms requests per second. Set by the caller.
local pace_ms = tonumber(os.getenv("WRK_PACE_MS") or "0")
delay = function()
  return pace_ms
end
