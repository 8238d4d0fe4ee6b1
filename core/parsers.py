"""The API's request parsers (a module of their own: DRF imports them while it sets up its views)."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.parsers import JSONParser as DRFJSONParser


class JSONParser(DRFJSONParser):
    """DRF's JSON parser, which answers 400 for JSON nested too deep for Python's decoder (a
    ``RecursionError``, otherwise a 500)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type=media_type, parser_context=parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - the document is nested too deeply.") from None
