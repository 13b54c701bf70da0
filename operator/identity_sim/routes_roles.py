"""`api/v1/Tenants/{tenantId}/Roles`: the tenant's roles (v1 only; `skip`, `count`,
`Total-Count`)."""

from __future__ import annotations

from aiohttp import web

from . import dto_v1
from .auth import require_role
from .context import SIM, authenticate, json_response
from .dto import parse_paging
from .model import MEMBER_ROLE, READ_ROLES, V1

ROLES = "/api/v1/Tenants/{tenantId}/Roles{slash:/?}"


async def list_roles(request: web.Request) -> web.Response:
    # The reference allows any Tenant Member here (unlike the client calls): the Member role
    # or any of the read roles will do.
    caller = authenticate(request)
    tenant = request.app[SIM].store.tenant(request.match_info["tenantId"], V1)
    member = {tenant.member_role_id} if tenant.member_role_id else set()
    require_role(caller.role_ids, tenant.read_role_ids | member, (*READ_ROLES, MEMBER_ROLE))
    skip, count = parse_paging(request.query)
    roles = sorted(tenant.roles.items(), key=lambda item: item[0])
    page = [dto_v1.role_dto(tenant, name, role_id) for name, role_id in roles[skip : skip + count]]
    return json_response(page, headers={"Total-Count": str(len(roles))})


ROUTES = [("GET", ROLES, list_roles, "roles.list")]
