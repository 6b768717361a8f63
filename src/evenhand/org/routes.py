"""REST endpoints for the organisation: /departments, /regions, /product-lines, /teams, /users."""


from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel

from evenhand.deps import DbSession, OrgManager, Reader, Writer
from evenhand.kit.pagination import Page, Paging, paginate
from evenhand.kit.schema import DbId
from evenhand.models import Department, ProductLine, Region, Team, User
from evenhand.models.base import Base
from evenhand.org import imports, service
from evenhand.org.importer import PersonFields
from evenhand.org.schemas import (
    GrantCreate,
    GrantRead,
    LeaveCreate,
    LeaveRead,
    ProductLinesSet,
    RefCreate,
    RefRead,
    RefUpdate,
    TeamCreate,
    TeamRead,
    TeamUpdate,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(tags=["organisation"])


def _crud(path: str, model: type[Base], create: type[BaseModel], change: type[BaseModel],
          read: type[BaseModel]) -> None:
    """The same five endpoints for every plain organisation table."""

    @router.get(f"/{path}", response_model=Page[read], name=f"list_{path}")  # type: ignore[valid-type]
    def list_(session: DbSession, _: Reader, paging: Paging) -> dict[str, Any]:
        items, total = paginate(session, service.listing(model), paging)
        return {"items": items, "total": total, **paging.model_dump()}

    @router.get(f"/{path}/{{obj_id}}", response_model=read, name=f"get_{path}")
    def get_(obj_id: DbId, session: DbSession, _: Reader) -> Base:
        return service.get(session, model, obj_id)

    @router.post(f"/{path}", response_model=read, status_code=201, name=f"create_{path}")
    def create_(data: create, session: DbSession, actor: OrgManager) -> Base:  # type: ignore[valid-type]
        return service.create(session, model, data, actor=actor)

    @router.patch(f"/{path}/{{obj_id}}", response_model=read, name=f"update_{path}")
    def update_(obj_id: DbId, data: change, session: DbSession, actor: OrgManager) -> Base:  # type: ignore[valid-type]
        return service.update(session, model, obj_id, data, actor=actor)

    @router.delete(f"/{path}/{{obj_id}}", status_code=204, name=f"delete_{path}")
    def delete_(obj_id: DbId, session: DbSession, actor: OrgManager) -> Response:
        service.delete(session, model, obj_id, actor=actor)
        return Response(status_code=204)


_crud("departments", Department, RefCreate, RefUpdate, RefRead)
_crud("regions", Region, RefCreate, RefUpdate, RefRead)
_crud("product-lines", ProductLine, RefCreate, RefUpdate, RefRead)
_crud("teams", Team, TeamCreate, TeamUpdate, TeamRead)


@router.get("/teams/{team_id}/members", response_model=list[UserRead])
def team_members(team_id: DbId, session: DbSession, reader: Reader) -> list[UserRead]:
    """Everyone reads who is in a team; e-mail, phone and quota only within their own teams."""
    return service.team_members(session, team_id, viewer=reader)


@router.get("/users", response_model=Page[UserRead])
def list_users(session: DbSession, reader: Reader, paging: Paging) -> dict[str, Any]:
    """Everyone reads who works here; e-mail, phone and quota only within their own teams."""
    items, total = paginate(session, service.listing(User), paging)
    return {"items": service.people(session, items, viewer=reader), "total": total, **paging.model_dump()}


ExternalIdPath = Annotated[str, Path(min_length=1, max_length=120,
                                     description="The id the HR system gives the person.")]


@router.get("/users/by-external-id/{external_id}", response_model=UserRead)
def get_by_external_id(external_id: ExternalIdPath, session: DbSession, reader: Reader) -> UserRead:
    return service.person(session, service.by_external_id(session, external_id).id, viewer=reader)


@router.put("/users/by-external-id/{external_id}", response_model=UserRead,
            responses={201: {"model": UserRead, "description": "Created"}})
def sync_person(external_id: ExternalIdPath, data: PersonFields, session: DbSession, actor: OrgManager,
                response: Response) -> UserRead:
    """Keep one person in step with the HR system, by the rules of ``evenhand import org``: found by external id
    (else e-mail, else username) and updated in place, or created (201) with a username made from the name; their
    team, department and region are created when missing, and their manager named by external id, e-mail or
    username. The same body again changes nothing."""
    user, created = imports.upsert_person(session, external_id, data, actor=actor)
    response.status_code = 201 if created else 200
    return service.person(session, user.id, viewer=actor)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: DbId, session: DbSession, reader: Reader) -> UserRead:
    return service.person(session, user_id, viewer=reader)


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(data: UserCreate, session: DbSession, actor: OrgManager) -> User:
    return service.create_user(session, data, actor=actor)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: DbId, data: UserUpdate, session: DbSession, actor: OrgManager) -> User:
    """Nobody changes their own role or deactivates themselves (403); the last active admin stays one (409)."""
    return service.update_user(session, user_id, data, actor=actor)


@router.delete("/users/{user_id}", response_model=UserRead)
def deactivate_user(user_id: DbId, session: DbSession, actor: OrgManager) -> User:
    """Nobody deactivates themselves (403), and the last active admin stays (409)."""
    return service.deactivate_user(session, user_id, actor=actor)


@router.get("/users/{user_id}/product-lines", response_model=list[str])
def list_product_lines(user_id: DbId, session: DbSession, _: Reader) -> list[str]:
    """The codes of the product lines the user sells."""
    return service.product_lines(session, user_id)


@router.put("/users/{user_id}/product-lines", response_model=list[str])
def set_product_lines(user_id: DbId, data: ProductLinesSet, session: DbSession, actor: OrgManager) -> list[str]:
    """Replace them (pools may admit reps by product line, and match leads on it); audited."""
    return service.set_product_lines(session, user_id, data.codes, actor=actor)


@router.get("/users/{user_id}/leaves", response_model=list[LeaveRead])
def list_leaves(user_id: DbId, session: DbSession, reader: Reader) -> list[LeaveRead]:
    """The dates for everyone; the reason for the person, their team's supervisor, ops and admin."""
    return service.leaves(session, user_id, viewer=reader)


@router.post("/users/{user_id}/leaves", response_model=LeaveRead, status_code=201)
def add_leave(user_id: DbId, data: LeaveCreate, session: DbSession, actor: Writer) -> Any:
    return service.add_leave(session, user_id, data, actor=actor)


@router.delete("/users/{user_id}/leaves/{leave_id}", status_code=204)
def cancel_leave(user_id: DbId, leave_id: DbId, session: DbSession, actor: Writer) -> Response:
    service.cancel_leave(session, user_id, leave_id, actor=actor)
    return Response(status_code=204)


@router.get("/users/{user_id}/grants", response_model=list[GrantRead])
def list_grants(user_id: DbId, session: DbSession, _: Reader) -> list[Any]:
    return service.grants(session, user_id)


@router.put("/users/{user_id}/grants", response_model=GrantRead)
def grant(user_id: DbId, data: GrantCreate, session: DbSession, actor: OrgManager) -> Any:
    """Give or renew a right such as ``key_account`` (entry to key-account pools); audited."""
    return service.grant(session, user_id, data, actor=actor)


@router.delete("/users/{user_id}/grants/{name}", status_code=204)
def revoke(user_id: DbId, name: str, session: DbSession, actor: OrgManager) -> Response:
    service.revoke(session, user_id, name, actor=actor)
    return Response(status_code=204)
