"""How the OpenAPI schema is made: drf-spectacular, plus the response headers every operation
may send and two post-processing hooks."""

import json
import re

from drf_spectacular import openapi
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

COMMON_RESPONSE_HEADERS = [
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429],
        required=True,
        description="Seconds to wait before trying again.",
    ),
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        required=True,
        description="`Token`: send `Authorization: Token <key>`.",
    ),
]


class TokenScheme(OpenApiAuthenticationExtension):
    """api.authentication.TokenAuthentication, described as DRF's token scheme was: the same
    header and the same name (`tokenAuth`), so clients generated from the schema still work."""

    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


class AutoSchema(openapi.AutoSchema):
    def get_override_parameters(self):
        return [*super().get_override_parameters(), *COMMON_RESPONSE_HEADERS]


def forbid_unknown_request_fields(result, generator, request, public):
    """Request bodies refuse fields they do not know (api.serializers.StrictInput), so their
    schemas say `additionalProperties: false`."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result


def empty_query_values_mean_absent(result, generator, request, public):
    """`?state=` is the same as no `state` at all (django-filter and DRF read an empty optional
    query parameter as absent), so optional query parameters say `allowEmptyValue: true`."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True
    return result


_SUFFIX = re.compile(r"(Input|Output)(?=Request$|List$|$)")


def short_component_names(result, generator, request, public):
    """`NominationOutput` → `Nomination`, `NominationCreateInputRequest` →
    `NominationCreateRequest`: the serializer's role is the code's business, not the
    client's."""
    schemas = result.get("components", {}).get("schemas", {})
    renames = {name: _SUFFIX.sub("", name) for name in schemas}
    if len(set(renames.values())) != len(renames):
        return result  # a clash: keep the long names rather than merge two components
    text = json.dumps(result)
    for old, new in renames.items():
        if old != new:
            text = text.replace(f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"')
    result = json.loads(text)
    result["components"]["schemas"] = {
        renames[name]: component for name, component in result["components"]["schemas"].items()
    }
    return result
