"""Scores detectors on the synthetic microservice scenarios of `services.demo.scenarios`.

- `evaluate`: runs scenarios through the detectors and scores recall, precision, RCA;
- `logcorpus`: labelled log corpora for template-mining accuracy.

The shop model, the faults and the telemetry generator live in `services.demo.scenarios`
(installed with the package, for `vigil demo --scenario microservices`).
"""
