-- wrk script used by scripts/bench.sh: prints wrk's totals as one machine-readable line
-- (raw integers, no unit formatting) so the benchmark can compute req/s, bytes/s and ratios.
-- durations and latencies are in microseconds; the error counters are wrk's own.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%d bytes=%d duration_us=%d connect=%d read=%d write=%d status=%d timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.bytes, summary.duration,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
