"""A failure prediction crossing its alert threshold, as an incident signal. Pure."""

from __future__ import annotations

from services.api.incidents.inputs import PREDICTED, SignalIn
from services.core.events import Prediction, Severity


def from_prediction(prediction: Prediction) -> SignalIn:
    """A firing (or resolved) failure prediction as a signal of kind "predicted".

    Its fingerprint is `prediction:failure:<service>`: one predicted failure per service at a
    time, opening an incident (kind "predicted") or joining the service's open one.
    """
    detail = prediction.detail
    reason = str(detail.get("reason", "failure predicted"))
    minutes = (
        f" in about {prediction.lead_time_s / 60:.0f} min"
        if prediction.lead_time_s is not None
        else ""
    )
    labels = {
        "service": prediction.service,
        "kind": PREDICTED,
        "prediction": prediction.kind,
        "tenant": prediction.tenant,
        "severity": Severity.WARNING.value,
    }
    return SignalIn(
        id=prediction.id,
        kind=PREDICTED,
        status=prediction.status or "firing",
        tenant=prediction.tenant,
        service=prediction.service,
        fingerprint=f"prediction:{prediction.kind}:{prediction.service}",
        at=prediction.timestamp,
        severity=Severity.WARNING,
        score=prediction.probability,
        title=f"Predicted failure of {prediction.service}{minutes}: {reason}",
        labels=labels,
        detail={
            "signal_id": prediction.id,
            "prediction_id": prediction.id,
            "probability": prediction.probability,
            "lead_time_s": prediction.lead_time_s,
            "reason": reason,
        },
        payload=prediction.model_dump(mode="json"),
    )
