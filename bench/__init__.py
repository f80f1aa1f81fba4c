"""Side-by-side benchmarks of scim-bridge against the master it fronts (issue 9); ratios, never timed tests."""
