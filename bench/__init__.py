"""`fmprog bench`: every routing policy side by side on recorded streams.

A benchmark records every backend's answers on its streams once (`runtime/recording.py`),
then replays every policy, cost weight and seed from the recording, so no model call is
repeated and a second run reuses the first's recording. Static tiers, the best fixed
assignment in hindsight and the oracle are read off the recorded outcome trees; learned
and random policies are replayed online, through the same runtime `fmprog run` uses.

- `analysis.py`: static tiers, best-fixed, oracle, and the static line a policy must beat;
- `replay.py`: one policy over one recorded stream, in memory;
- `harness.py`: a benchmark (or a user's program and stream) end to end;
- `report.py`: the table, the JSON, the Pareto and learning-curve plots;
- `suites.py` and `suites/`: the benchmark definitions (queries, programs, label rules,
  stream seeds) as data.
"""
