"""Synthetic microservice scenarios with labelled faults, and what scores detectors on them.

- `model`: the simulated shop (services, call trees, latencies, log lines);
- `faults`: fault kinds, labelled faults, the scenario suite;
- `generator`: a scenario's telemetry (spans, logs, metrics), second by second, seeded;
- `evaluate`: runs scenarios through the detectors and scores recall, precision, RCA;
- `logcorpus`: labelled log corpora for template-mining accuracy.
"""
