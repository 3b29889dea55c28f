"""`vigil demo`: the embedded stack under a synthetic workload with injected faults."""
