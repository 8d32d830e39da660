from rest_framework import parsers
from rest_framework.exceptions import ParseError


def _check_text(value) -> None:
    """Refuse strings the database cannot store (lone surrogates from `\\ud800` escapes)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ParseError(
                    "JSON parse error - the body contains a lone surrogate (\\ud800-\\udfff), "
                    "which is not text."
                ) from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


class JSONParser(parsers.JSONParser):
    """DRF's strict JSON parser, plus: a body nested too deeply for Python's parser and text
    that is not valid Unicode are a 400, not a server error."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply.") from None
        _check_text(data)
        return data
