"""The REST API, version 1: /api/v1/ (OpenAPI at /api/v1/openapi.json, docs at /api/v1/docs).

django-ninja: typed schemas (pydantic) and the OpenAPI document come from the same code, and
its package ships Swagger UI, served from our static files under the site's strict CSP.
"""

from ninja import NinjaAPI, Router
from ninja.openapi.docs import Swagger
from ninja.operation import Operation

from api import errors
from api.calls import api_call
from api.endpoints import crm, documents, envelopes

DESCRIPTION = """
Create and send documents for signature without the browser.

- **Keys**: an employee creates keys on *Account > API keys*; send one as
  `Authorization: Bearer sf_...`. A key acts as its employee, with the same access as on the
  pages, limited by its scopes: `read` (every GET), `send` (create CRM records, documents and
  envelopes, and act on envelopes), `templates` (create and change document templates).
- **Idempotency**: every POST accepts an `Idempotency-Key` header. The same key with the same
  request returns the first answer (header `Idempotent-Replayed: true`); with another request,
  409 `idempotency_key_reused`. Only successful answers are kept.
- **Errors**: `{"error": {"code": "...", "message": "...", "fields": {"name": ["..."]}}}` with a
  stable `code`; messages follow `Accept-Language` (fr, en).
- **Limits**: `SIGNFLOW_API_RATE_PER_MINUTE` requests per key and minute, then 429 with
  `Retry-After`.
"""


class SignFlowApi(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # "envelope_send", not "api_endpoints_envelopes_envelope_send": client generators
        # name their methods after it. The names are unique across the endpoint modules.
        return str(operation.view_func.__name__)


def build() -> NinjaAPI:
    api = SignFlowApi(
        title="SignFlow API",
        version="1",
        description=DESCRIPTION,
        urls_namespace="api_v1",
        docs=Swagger(settings={"persistAuthorization": False}),
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    errors.install(api)
    root = Router()
    root.add_decorator(api_call, mode="view")
    root.add_router("", crm.router)
    root.add_router("", documents.router)
    root.add_router("", envelopes.router)
    api.add_router("", root)
    return api


api = build()
