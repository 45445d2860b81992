"""The control plane's HTTP API (Starlette, served by uvicorn through ``mesh serve``).

Every route but ``/healthz`` needs ``Authorization: Bearer <token>``. Errors are JSON
``{"error": "..."}`` with the status of the refusal (401 unknown credential, 403 refused, 404, 409).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from meshwork.core.errors import MeshError
from meshwork.service import access, audit_table, identities, reads, state, vends
from meshwork.service.errors import Forbidden, ServiceRefusal, Unauthenticated

log = logging.getLogger("meshwork.service")
SWEEP_SECONDS = 5.0


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _handler(fn: Callable[..., Any]):
    """Authenticate, run ``fn(session, identity, body, request)`` in a worker thread, map refusals to JSON."""

    async def endpoint(request: Request) -> JSONResponse:
        try:
            body = await request.json() if request.method == "POST" and await request.body() else {}
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if not isinstance(body, dict):
            return JSONResponse({"error": "the body must be a JSON object"}, status_code=400)
        token = _token(request)

        def work() -> Any:
            with state.session() as s:
                who = identities.authenticate(s, token)
                if who is None:
                    raise Unauthenticated("unknown, revoked or missing credential")
                return fn(s, who, body, request)

        try:
            return JSONResponse(await run_in_threadpool(work))
        except ServiceRefusal as exc:
            return JSONResponse({"error": str(exc)}, status_code=exc.status)
        except (MeshError, KeyError, TypeError, ValueError) as exc:
            return JSONResponse({"error": f"{type(exc).__name__}: {exc}"}, status_code=400)

    return endpoint


def _read(s, who, body, _r):
    return reads.read(s, who, str(body["consumer"]), str(body["input"]), body.get("run_id"))


def _commit(s, who, body, _r):
    return reads.commit(s, who, str(body["product"]), int(body["major"]), str(body["snapshot_id"]), body.get("run_id"))


def _request(s, who, body, _r):
    made = access.request(
        s, who, str(body["consumer"]), str(body["port"]), str(body.get("reason", "")), bool(body.get("pii")),
        body.get("expires"),
    )  # fmt: skip
    return access.describe(made)


def _decide(s, who, body, r):
    return access.describe(access.decide(s, who, r.path_params["id"], r.path_params["decision"], body.get("expires")))


def _requests(s, _who, _body, _r):
    return [access.describe(x) for x in s.query(state.Request).order_by(state.Request.requested_at).all()]


def _admin(who) -> None:
    if identities.ADMIN not in who.roles:
        raise Forbidden(f"{who.name} does not hold the '{identities.ADMIN}' role")


def _audit(s, who, _body, r):
    _admin(who)
    return audit_table.query(s, r.query_params.get("action"), int(r.query_params.get("limit", "50")))


def _verify(s, who, _body, _r):
    _admin(who)
    problems = audit_table.verify(s)
    return {"entries": audit_table.count(s), "problems": problems, "intact": not problems}


def _whoami(_s, who, _body, _r):
    return identities.describe(who)


async def _health(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def _sweeper() -> None:
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await run_in_threadpool(lambda: vends.sweep(state.session()))
        except Exception:  # the next sweep retries; a failing storage server must not stop the service
            log.exception("ending expired vends failed")


@contextlib.asynccontextmanager
async def lifespan(_app: Starlette):
    state.engine()  # create the tables and fail at start, not on the first request
    task = asyncio.create_task(_sweeper())
    try:
        yield
    finally:
        task.cancel()


def create_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/healthz", _health),
            Route("/v1/whoami", _handler(_whoami)),
            Route("/v1/reads", _handler(_read), methods=["POST"]),
            Route("/v1/publications", _handler(_commit), methods=["POST"]),
            Route("/v1/access/requests", _handler(_requests)),
            Route("/v1/access/requests", _handler(_request), methods=["POST"], name="request"),
            Route("/v1/access/requests/{id}/{decision}", _handler(_decide), methods=["POST"]),
            Route("/v1/audit", _handler(_audit)),
            Route("/v1/audit/verify", _handler(_verify)),
        ],
        lifespan=lifespan,
    )
