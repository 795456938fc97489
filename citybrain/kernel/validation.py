"""Pydantic's field errors in the current language, for people.

Pydantic writes its messages in English only. ``message`` gives the message of one
error (an item of ``ValidationError.errors()``) in the current language (``use_language``):
pydantic's own words in English; in another language the translation of the common
kinds (a missing field, a wrong type, a bound, a pattern, a time without its offset),
and for any other kind pydantic's English message. A ``value_error`` raised by the
project's own validators says what its ``ValueError`` says (written with ``_``, so it is
in the current language already), without pydantic's "Value error, " prefix.

Used where a person reads them: invalid CITYBRAIN_* settings (``console.load_settings``),
a registry file's errors (``citybrain assets import``) and the API's 422 problems. The
error's ``type`` stays pydantic's, for programs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from citybrain.kernel.i18n import N_, Catalogue, current_language

MESSAGES = Catalogue.of_package(__name__)
_ = MESSAGES.current

# pydantic's error type → the message, with pydantic's ``ctx`` fields.
_TEMPLATES: Final[Mapping[str, str]] = {
    "missing": N_("Field required"),
    "extra_forbidden": N_("Extra inputs are not permitted"),
    "string_type": N_("Input should be a valid string"),
    "string_too_short": N_("String should have at least {min_length} character(s)"),
    "string_too_long": N_("String should have at most {max_length} character(s)"),
    "string_pattern_mismatch": N_("String should match pattern '{pattern}'"),
    "int_type": N_("Input should be a valid integer"),
    "int_parsing": N_("Input should be a valid integer"),
    "int_from_float": N_("Input should be a whole number"),
    "float_type": N_("Input should be a valid number"),
    "float_parsing": N_("Input should be a valid number"),
    "finite_number": N_("Input should be a finite number"),
    "bool_type": N_("Input should be a valid boolean"),
    "bool_parsing": N_("Input should be a valid boolean (true or false)"),
    "greater_than": N_("Input should be greater than {gt}"),
    "greater_than_equal": N_("Input should be greater than or equal to {ge}"),
    "less_than": N_("Input should be less than {lt}"),
    "less_than_equal": N_("Input should be less than or equal to {le}"),
    "literal_error": N_("Input should be one of: {expected}"),
    "enum": N_("Input should be one of: {expected}"),
    "timezone_aware": N_("Input should have a time zone offset (e.g. +08:00)"),
    "datetime_type": N_("Input should be a valid ISO 8601 date-time"),
    "datetime_parsing": N_("Input should be a valid ISO 8601 date-time"),
    "datetime_from_date_parsing": N_("Input should be a valid ISO 8601 date-time"),
    "date_type": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": N_("Input should be a valid date (YYYY-MM-DD)"),
    "list_type": N_("Input should be a list"),
    "tuple_type": N_("Input should be a list"),
    "too_short": N_("Input should have at least {min_length} item(s)"),
    "too_long": N_("Input should have at most {max_length} item(s)"),
    "dict_type": N_("Input should be a mapping"),
    "model_type": N_("Input should be a mapping"),
    "model_attributes_type": N_("Input should be a mapping"),
    "json_invalid": N_("Invalid JSON: {error}"),
    "json_type": N_("Input should be JSON"),
}


def _plain(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def message(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error for a person, in the current language."""
    kind = str(error.get("type", ""))
    msg = str(error.get("msg", ""))
    ctx = error.get("ctx") or {}
    if kind == "value_error" and isinstance(ctx, Mapping) and "error" in ctx:
        return str(ctx["error"])    # the project's own validator's words
    if current_language() == "en":
        return msg
    template = _TEMPLATES.get(kind)
    if template is None:
        return msg
    fields = {k: _plain(v) for k, v in ctx.items()} if isinstance(ctx, Mapping) else {}
    if "expected" in fields:
        # pydantic's list of choices ends "'b' or 'c'": the choices only.
        fields["expected"] = fields["expected"].replace(" or ", ", ")
    try:
        return _(template).format(**fields)
    except (KeyError, IndexError, ValueError):
        return msg
