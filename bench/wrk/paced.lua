-- Paces each connection like a player: after each answer, wait a random think time with mean
-- `pace_ms` (exponential, wrk's delay hook), so the offered load is about
-- connections * 1000 / (pace_ms + latency) requests per second. Random, not fixed: with a fixed
-- pause, connections answered together (one group commit answers many) pause together and come
-- back together, and the load turns into bursts of every connection at once.
local pace_ms = tonumber(os.getenv("WRK_PACE_MS") or "0")
math.randomseed(os.time())
delay = function()
  if pace_ms <= 0 then
    return 0
  end
  return math.floor(-pace_ms * math.log(1 - math.random()) + 0.5)
end
