"""REST routes for API keys (admin) and for the caller's own identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict

from services.api.auth import service
from services.api.auth.schemas import KeyCreate, KeyCreated, KeyRead
from services.api.deps import Admin, SessionDep, TransactionDep, Viewer
from services.api.openapi import errors

router = APIRouter(prefix="/api/v1", tags=["auth"])


class WhoAmI(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "alice", "role": "responder", "key_id": "3fa85f6457a1"}]
        }
    )

    name: str
    role: str
    key_id: str | None


@router.get("/whoami", response_model=WhoAmI, responses=errors())
def whoami(principal: Viewer) -> WhoAmI:
    """The key's name and role."""
    return WhoAmI(name=principal.name, role=principal.role.value, key_id=principal.key_id)


@router.get("/keys", response_model=list[KeyRead], responses=errors())
def list_keys(session: SessionDep, _: Admin) -> list[KeyRead]:
    """Every key, without secrets (admin)."""
    return [KeyRead.model_validate(k) for k in service.list_keys(session=session)]


@router.post("/keys", response_model=KeyCreated, status_code=201, responses=errors())
def create_key(tx: TransactionDep, actor: Admin, body: KeyCreate) -> KeyCreated:
    """Create a key (admin). The answer holds the key; it cannot be shown again."""
    with tx() as session:
        row, token = service.create_key(
            session=session, name=body.name, role=body.role, actor=actor
        )
        return KeyCreated(**KeyRead.model_validate(row).model_dump(), key=token)


@router.delete("/keys/{key_id}", response_model=KeyRead, responses=errors(404))
def revoke_key(
    tx: TransactionDep, actor: Admin, key_id: Annotated[str, Path(max_length=32)]
) -> KeyRead:
    """Revoke a key (admin); it stops working at once."""
    with tx() as session:
        return KeyRead.model_validate(
            service.revoke_key(session=session, key_id=key_id, actor=actor)
        )
