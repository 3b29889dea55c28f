"""The simulated microservice shop and its seeded telemetry with labelled faults.

- `model`: the simulated shop (services, call trees, latencies, log lines);
- `faults`: fault kinds, labelled faults, the scenario suite;
- `generator`: a scenario's telemetry (spans, logs, metrics), second by second, seeded.

Used by `vigil demo --scenario microservices` and by the scenario benchmark
(`benchmarks/scenarios`), which scores the detectors on it.
"""
