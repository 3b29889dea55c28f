"""REST route for the service dependency graph (viewer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request

from services.api.deps import SessionDep, Viewer
from services.api.incidents import topology
from services.api.openapi import errors
from services.api.topology.schemas import EdgeRead, TopologyRead

router = APIRouter(prefix="/api/v1/topology", tags=["topology"])


@router.get(
    "",
    response_model=TopologyRead,
    summary="The current service dependency graph",
    responses=errors(),
)
def get_topology(
    request: Request,
    session: SessionDep,
    _: Viewer,
    tenant: Annotated[str, Query(max_length=64)] = "default",
) -> TopologyRead:
    """Every traces worker's latest snapshot merged; edges not seen within the api's topology
    max age (on their snapshot's clock) are left out."""
    edges = topology.merged_graph(
        session, tenant=tenant, max_age=request.app.state.topology_max_age
    )
    services = sorted({e.caller for e in edges} | {e.callee for e in edges})
    return TopologyRead(
        tenant=tenant,
        services=services,
        edges=[EdgeRead.model_validate(e) for e in edges],
    )
