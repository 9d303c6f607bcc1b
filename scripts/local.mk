# scripts/: set-up, test, demo, benchmark and test-world scripts.
EXTRA_DIST += scripts/setup scripts/test scripts/fuzz
EXTRA_DIST += scripts/world scripts/demo
EXTRA_DIST += scripts/bench scripts/bench.d
