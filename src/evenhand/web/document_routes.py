"""The API of a versioned YAML document (the stage standards, the alert rules, the QA rubric): read the active
version, list the versions, read one, save the next one, check a text. Reading takes ``DocumentReader``; saving
and checking ``DocumentEditor`` (admin, ops).

The endpoints are built here once for every document; a domain's ``routes.py`` names its path, its document, its
read and save schemas (their names are the OpenAPI components') and what saving changes."""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, and the save schema is a
# variable of the enclosing call, which a string annotation could not name.

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from evenhand.deps import DbSession, DocumentEditor, DocumentReader
from evenhand.kit.schema import DbId
from evenhand.kit.versions import Document, DocumentText, Validation, VersionRead

CHECKED = ("The problems in the text, each with its path and line; a text refused for what reading it would cost "
           "(size, depth, values, time) is an error (422).")


def add(router: APIRouter, path: str, document: Document[Any, Any], *, noun: str, detail: type[BaseModel],
        save_body: type[BaseModel], save: Callable[..., Any], saved: str, checked: str = CHECKED) -> None:
    """``GET path`` (the active version), ``GET path/versions``, ``GET path/versions/{version}``, ``PUT path``
    (``save(session, body, author=, note=)``; ``saved`` says what it changes) and ``POST path/validate``.
    The endpoints are named after ``noun`` (``active_rules``, ``save_rules``, ``validate_rules``)."""

    def active(session: DbSession, _: DocumentReader) -> Any:
        return document.active(session)

    def list_versions(session: DbSession, _: DocumentReader) -> Any:
        return document.versions(session)

    def get_version(version: DbId, session: DbSession, _: DocumentReader) -> Any:
        return document.version(session, version)

    def save_document(data: save_body, session: DbSession, actor: DocumentEditor) -> Any:  # type: ignore[valid-type]
        text: Any = data  # a DocumentText with a note
        return save(session, text.body, author=actor, note=text.note)

    def validate(data: DocumentText, _: DocumentEditor) -> Validation:
        return document.check(data.body)

    router.add_api_route(path, active, methods=["GET"], response_model=detail, name=f"active_{noun}")
    router.add_api_route(f"{path}/versions", list_versions, methods=["GET"], response_model=list[VersionRead])
    router.add_api_route(f"{path}/versions/{{version}}", get_version, methods=["GET"], response_model=detail)
    router.add_api_route(path, save_document, methods=["PUT"], response_model=detail, name=f"save_{noun}",
                         description=saved)
    router.add_api_route(f"{path}/validate", validate, methods=["POST"], response_model=Validation,
                         name=f"validate_{noun}", description=checked)
