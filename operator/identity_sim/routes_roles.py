"""`api/v1/Tenants/{tenantId}/Roles`: the tenant's roles (v1 only; `skip`, `count`,
`Total-Count`)."""

from __future__ import annotations

from aiohttp import web

from . import dto_v1
from .context import json_response, tenant_for
from .dto import parse_paging
from .model import V1

ROLES = "/api/v1/Tenants/{tenantId}/Roles{slash:/?}"


async def list_roles(request: web.Request) -> web.Response:
    # The reference allows any tenant member; the simulator's read roles stand in for that.
    tenant = tenant_for(request, V1, write=False)
    skip, count = parse_paging(request.query)
    roles = sorted(tenant.roles.items(), key=lambda item: item[0])
    page = [dto_v1.role_dto(tenant, name, role_id) for name, role_id in roles[skip : skip + count]]
    return json_response(page, headers={"Total-Count": str(len(roles))})


ROUTES = [("GET", ROLES, list_roles, "roles.list")]
