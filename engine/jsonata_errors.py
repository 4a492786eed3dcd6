"""JSONata run-time errors worded as the reference implementation (jsonata-js 2.x) words them.

AWS evaluates JSONata with jsonata-js, so a `States.QueryEvaluationError` cause ends with jsonata-js's
`CODE: message`. The engine evaluates with jsonatapy, which uses the same codes but words many
messages its own way ("Cannot negate non-number value", "Argument 1 must be String", "...: $nope").
This module rewrites a jsonatapy message into jsonata-js's, from jsonata-js's `errorCodes` table:
`{{x}}` inserts are JSON-stringified as JavaScript does, `{{{x}}}` inserts are put in as they are.

The inserts come from jsonatapy's own message where it carries them (the operator of T2001, the
number of D3060, the argument index of T0410, ...). What jsonatapy leaves out (the function name of
T0410/T0411/T0412, the operands of T2009, the value of D1002, T2011, T2012) is asked of
jsonata-python, a port of jsonata-js that raises the same structured errors; it is only used when it
fails with the same code, since it is incomplete elsewhere.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# jsonata-js's errorCodes, the codes that can arise while an expression is evaluated (the S0xxx
# syntax errors are reported when the definition is validated).
MESSAGES = {
    "T0410": "Argument {{index}} of function {{token}} does not match function signature",
    "T0411": "Context value is not a compatible type with argument {{index}} of function {{token}}",
    "T0412": "Argument {{index}} of function {{token}} must be an array of {{type}}",
    "D1001": "Number out of range: {{value}}",
    "D1002": "Cannot negate a non-numeric value: {{value}}",
    "T1003": "Key in object structure must evaluate to a string; got: {{value}}",
    "D1004": "Regular expression matches zero length string",
    "T1005": "Attempted to invoke a non-function. Did you mean ${{{token}}}?",
    "T1006": "Attempted to invoke a non-function",
    "T1007": "Attempted to partially apply a non-function. Did you mean ${{{token}}}?",
    "T1008": "Attempted to partially apply a non-function",
    "D1009": "Multiple key definitions evaluate to same key: {{value}}",
    "D1010": "Attempted to access the Javascript object prototype",
    "T1010": "The matcher function argument passed to function {{token}} does not return the correct object "
             "structure",
    "T2001": "The left side of the {{token}} operator must evaluate to a number",
    "T2002": "The right side of the {{token}} operator must evaluate to a number",
    "T2003": "The left side of the range operator (..) must evaluate to an integer",
    "T2004": "The right side of the range operator (..) must evaluate to an integer",
    "T2006": "The right side of the function application operator ~> must be a function",
    "T2007": "Type mismatch when comparing values {{value}} and {{value2}} in order-by clause",
    "T2008": "The expressions within an order-by clause must evaluate to numeric or string values",
    "T2009": "The values {{value}} and {{value2}} either side of operator {{token}} must be of the same data "
             "type",
    "T2010": "The expressions either side of operator {{token}} must evaluate to numeric or string values",
    "T2011": "The insert/update clause of the transform expression must evaluate to an object: {{value}}",
    "T2012": "The delete clause of the transform expression must evaluate to a string or array of strings: "
             "{{value}}",
    "T2013": "The transform expression clones the input object using the $clone() function.  This has been "
             "overridden in the current scope by a non-function.",
    "D2014": "The size of the sequence allocated by the range operator (..) must not exceed 1e6.  Attempted "
             "to allocate {{value}}.",
    "D3001": "Attempting to invoke string function on Infinity or NaN",
    "D3010": "Second argument of replace function cannot be an empty string",
    "D3011": "Fourth argument of replace function must evaluate to a positive number",
    "D3012": "Attempted to replace a matched string with a non-string value",
    "D3020": "Third argument of split function must evaluate to a positive number",
    "D3030": "Unable to cast value to a number: {{value}}",
    "D3040": "Third argument of match function must evaluate to a positive number",
    "D3050": "The second argument of reduce function must be a function with at least two arguments",
    "D3060": "The sqrt function cannot be applied to a negative number: {{value}}",
    "D3061": "The power function has resulted in a value that cannot be represented as a JSON number: "
             "base={{value}}, exponent={{exp}}",
    "D3070": "The single argument form of the sort function can only be applied to an array of strings or an "
             "array of numbers.  Use the second argument to specify a comparison function",
    "D3080": "The picture string must only contain a maximum of two sub-pictures",
    "D3081": "The sub-picture must not contain more than one instance of the 'decimal-separator' character",
    "D3082": "The sub-picture must not contain more than one instance of the 'percent' character",
    "D3083": "The sub-picture must not contain more than one instance of the 'per-mille' character",
    "D3084": "The sub-picture must not contain both a 'percent' and a 'per-mille' character",
    "D3085": "The mantissa part of a sub-picture must contain at least one character that is either an "
             "'optional digit character' or a member of the 'decimal digit family'",
    "D3086": "The sub-picture must not contain a passive character that is preceded by an active character "
             "and that is followed by another active character",
    "D3087": "The sub-picture must not contain a 'grouping-separator' character that appears adjacent to a "
             "'decimal-separator' character",
    "D3088": "The sub-picture must not contain a 'grouping-separator' at the end of the integer part",
    "D3089": "The sub-picture must not contain two adjacent instances of the 'grouping-separator' character",
    "D3090": "The integer part of the sub-picture must not contain a member of the 'decimal digit family' "
             "that is followed by an instance of the 'optional digit character'",
    "D3091": "The fractional part of the sub-picture must not contain an instance of the 'optional digit "
             "character' that is followed by a member of the 'decimal digit family'",
    "D3092": "A sub-picture that contains a 'percent' or 'per-mille' character must not contain a character "
             "treated as an 'exponent-separator'",
    "D3093": "The exponent part of the sub-picture must comprise only of one or more characters that are "
             "members of the 'decimal digit family'",
    "D3100": "The radix of the formatBase function must be between 2 and 36.  It was given {{value}}",
    "D3110": "The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given {{value}}",
    "D3120": "Syntax error in expression passed to function eval: {{value}}",
    "D3121": "Dynamic error evaluating the expression passed to function eval: {{value}}",
    "D3130": "Formatting or parsing an integer as a sequence starting with {{value}} is not supported by "
             "this implementation",
    "D3131": "In a decimal digit pattern, all digits must be from the same decimal group",
    "D3132": "Unknown component specifier {{value}} in date/time picture string",
    "D3133": "The 'name' modifier can only be applied to months and days in the date/time picture string, "
             "not {{value}}",
    "D3134": "The timezone integer format specifier cannot have more than four digits",
    "D3135": "No matching closing bracket ']' in date/time picture string",
    "D3136": "The date/time picture string is missing specifiers required to parse the timestamp",
    "D3137": "{{{message}}}",
    "D3138": "The $single() function expected exactly 1 matching result.  Instead it matched more.",
    "D3139": "The $single() function expected exactly 1 matching result.  Instead it matched 0.",
    "D3140": "Malformed URL passed to ${{{functionName}}}(): {{value}}",
    "D3141": "{{{message}}}",
}

# T0412 names the array's item type in words (jsonata-js's arraySignatureMapping).
_ARRAY_OF = {"number": "numbers", "string": "strings", "boolean": "booleans", "object": "objects",
             "array": "arrays", "function": "functions", "n": "numbers", "s": "strings", "b": "booleans",
             "o": "objects", "a": "arrays", "f": "functions"}


class _Raw(str):
    """An insert already in its final text (jsonatapy printed it as jsonata-js would)."""


def _js_json(value: Any) -> str:
    """JSON.stringify as JavaScript writes it: whole doubles without `.0`, no spaces."""
    if isinstance(value, _Raw):
        return str(value)
    return json.dumps(_js_numbers(value), separators=(",", ":"), ensure_ascii=False)


def _js_numbers(value: Any) -> Any:
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    if isinstance(value, list):
        return [_js_numbers(item) for item in value]
    if isinstance(value, dict):
        return {key: _js_numbers(item) for key, item in value.items()}
    return value


def render(code: str, inserts: dict) -> str | None:
    """jsonata-js's populateMessage; None when an insert the template needs is not known."""
    template = MESSAGES[code]
    missing = False

    def plain(match: re.Match) -> str:
        nonlocal missing
        if match.group(1) not in inserts:
            missing = True
            return ""
        return str(inserts[match.group(1)])

    def stringified(match: re.Match) -> str:
        nonlocal missing
        if match.group(1) not in inserts:
            missing = True
            return ""
        return _js_json(inserts[match.group(1)])

    message = re.sub(r"\{\{\{([^}]+)}}}", plain, template)
    message = re.sub(r"\{\{([^}]+)}}", stringified, message)
    return None if missing else message


# What jsonatapy's own wording carries, per code: a pattern whose named groups are inserts.
_FROM_JSONATAPY = {
    "T0410": re.compile(r"Argument (?P<index>\d+)\b"),
    "T0412": re.compile(r"Argument (?P<index>\d+) must be an array of (?P<type>\w+)"),
    "T1005": re.compile(r"Did you mean \$(?P<token>\w+)\?"),
    "T1007": re.compile(r"Did you mean \$(?P<token>\w+)\?"),
    "T2001": re.compile(r"the (?P<token>\S+) operator"),
    "T2002": re.compile(r"the (?P<token>\S+) operator"),
    "T1003": re.compile(r"got: (?P<value>.*)$"),
    "D1009": re.compile(r"same key: (?P<value>.*)$"),
    "D3030": re.compile(r"Cannot convert '(?P<value>.*)' to number$"),
    "D3060": re.compile(r"negative number: (?P<value>.*)$"),
    "D3061": re.compile(r"base=(?P<value>[^,]*), exponent=(?P<exp>.*)$"),
    "D3100": re.compile(r"(?:got|given) (?P<value>.*)$", re.IGNORECASE),
    "D3110": re.compile(r"Given (?P<value>.*)$"),
    "D3130": re.compile(r"^(?:.* starting with )?(?P<value>.*?)(?: is not supported.*)?$"),
    "D3132": re.compile(r"^(?:Unknown component specifier )?(?P<value>.*?)(?: in date/time picture.*)?$"),
    "D3133": re.compile(r"^(?:.*, not )?(?P<value>.*)$"),
    "D3137": re.compile(r"^(?P<message>.*)$"),
    "D3141": re.compile(r"^(?P<message>.*)$"),
}
# Inserts taken as jsonatapy printed them; the others are strings to be JSON-quoted.
_RAW_INSERTS = {"T1003": ("value",), "D1009": ("value",), "D3060": ("value",), "D3061": ("value", "exp"),
                "D3100": ("value",), "D3110": ("value",)}
_COUNT_MISMATCH = re.compile(r"Argument count mismatch: expected (\d+), got (\d+)")

# Codes whose inserts jsonatapy does not give, and how to read them off jsonata-python's JException
# (its fields are named after jsonata-java's: current, expected, extra).
_FROM_PORT = {
    "T0410": {"token": "expected"},
    "T0411": {"token": "expected", "index": "current"},
    "T0412": {"token": "expected"},
    "D1002": {"value": "expected"},
    "T2009": {"value": "current", "value2": "expected", "token": "extra"},
    "T2010": {"token": "current"},
    "T2011": {"value": "current"},
    "T2012": {"value": "current"},
}


def reference_message(message: str, source: str, bindings: dict) -> str:
    """`message` (jsonatapy's `CODE: text`) as jsonata-js words it; unchanged when that is not known."""
    code, separator, text = message.partition(": ")
    if not separator:
        code, text = message, ""
    code = code.strip()
    if code not in MESSAGES:
        return message
    inserts = _jsonatapy_inserts(code, text)
    if code in _FROM_PORT:
        inserts = {**_port_inserts(code, source, bindings), **inserts}
    if code in ("T0410", "T0411", "T0412") and "token" not in inserts:
        token = _called_function(source)
        if token is not None:
            inserts["token"] = token
    if code == "T0411" and "index" not in inserts:
        inserts["index"] = 1
    rendered = render(code, inserts)
    return message if rendered is None else f"{code}: {rendered}"


def _jsonatapy_inserts(code: str, text: str) -> dict:
    inserts: dict = {}
    count = _COUNT_MISMATCH.search(text)
    if code == "T0410" and count is not None:
        # jsonata-js names the first argument past those that matched its signature.
        expected, given = int(count.group(1)), int(count.group(2))
        inserts["index"] = min(expected, given) + 1
        return inserts
    pattern = _FROM_JSONATAPY.get(code)
    match = pattern.search(text) if pattern is not None else None
    if match is None:
        return inserts
    raw = _RAW_INSERTS.get(code, ())
    for name, value in match.groupdict().items():
        if value is None:
            continue
        if name == "index":
            inserts[name] = int(value)
        elif name == "type":
            inserts[name] = _ARRAY_OF.get(value.lower(), value)
        else:
            inserts[name] = _Raw(value) if name in raw else value
    return inserts


def _port_inserts(code: str, source: str, bindings: dict) -> dict:
    try:
        import jsonata as jsonata_port

        jsonata_port.Jsonata(source, timeout=2000, stack=100).evaluate(None, bindings)
    except Exception as error:  # the port raises its own exception type, or breaks on what it lacks
        if getattr(error, "error", None) != code:
            return {}
        fields = {name: getattr(error, attribute, None) for name, attribute in _FROM_PORT[code].items()}
        # A missing operand is JSON's null in the message; a missing name or index is not known.
        return {name: value for name, value in fields.items()
                if value is not None or name.startswith("value")}
    return {}


_CALL = re.compile(r"\$(\w+)\s*\(")


def _called_function(source: str) -> str | None:
    """The function an argument error is about, when the text calls only one."""
    names = set(_CALL.findall(source))
    return names.pop() if len(names) == 1 else None
