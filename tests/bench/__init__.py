"""The benchmark harness (bench/) runs end to end and produces well-formed results; no timing is asserted."""
