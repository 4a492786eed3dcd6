"""JSONata errors reach `States.QueryEvaluationError` causes worded as jsonata-js words them.

AWS evaluates JSONata with the reference implementation, jsonata-js, whose `errorCodes` table
(src/jsonata.js) gives each code its message, with `{{x}}` inserts JSON-stringified and
`{{{x}}}` inserts put in as they are. So calling something that is not a function is
`T1006: Attempted to invoke a non-function`, with no name, and the operator of T2001 is quoted.
"""

from __future__ import annotations

import pytest

from engine import ExecutionOptions, compile_definition, run
from engine.jsonata_errors import MESSAGES, render


def cause_of(expression, field_state=None, execution_input=None):
    state = field_state or {"Type": "Pass", "Output": "{% " + expression + " %}", "End": True}
    definition = {"QueryLanguage": "JSONata", "StartAt": "S", "States": {"S": state}}
    execution_input = {"a": 1, "s": "x"} if execution_input is None else execution_input
    result = run(compile_definition(definition), execution_input, options=ExecutionOptions())
    assert (result.status, result.error) == ("FAILED", "States.QueryEvaluationError"), result.output
    return result.cause


def message_of(expression):
    cause = cause_of(expression)
    prefix = (f"An error occurred while executing the state 'S' (entered at the event id #2). "
              f"The JSONata expression '{expression}' specified for the field 'Output' "
              "threw an error during evaluation. ")
    assert cause.startswith(prefix), cause
    return cause[len(prefix):]


@pytest.mark.parametrize("expression, message", [
    ("$nope(1)", "T1006: Attempted to invoke a non-function"),
    ("$states.input.a()", "T1006: Attempted to invoke a non-function"),
    ("$states.input ~> $nothing()", "T1006: Attempted to invoke a non-function"),
    ("$eval('1 + 1')", "T1006: Attempted to invoke a non-function"),
    ("$states.input.(uppercase('a'))", "T1005: Attempted to invoke a non-function. Did you mean $uppercase?"),
    ("'a' + 1", 'T2001: The left side of the "+" operator must evaluate to a number'),
    ("1 * 'a'", 'T2002: The right side of the "*" operator must evaluate to a number'),
    ("'a'..2", "T2003: The left side of the range operator (..) must evaluate to an integer"),
    ("1..'a'", "T2004: The right side of the range operator (..) must evaluate to an integer"),
    ("[1, 2] ~> 3", "T2006: The right side of the function application operator ~> must be a function"),
    ("'a' < 1", 'T2009: The values "a" and 1 either side of operator "<" must be of the same data type'),
    ("$states.input.a >= $states.input.s",
     'T2009: The values 1 and "x" either side of operator ">=" must be of the same data type'),
    ("{} < 1",
     'T2010: The expressions either side of operator "<" must evaluate to numeric or string values'),
    ("{1: 2}", "T1003: Key in object structure must evaluate to a string; got: 1"),
    ("{'k': 1, 'k': 2}", 'D1009: Multiple key definitions evaluate to same key: "k"'),
    ("-'x'", 'D1002: Cannot negate a non-numeric value: "x"'),
    ("$string(1/0)", "D3001: Attempting to invoke string function on Infinity or NaN"),
    ("$replace('abc', '', 'x')", "D3010: Second argument of replace function cannot be an empty string"),
    ("$replace('a', 'a', 'b', -1)",
     "D3011: Fourth argument of replace function must evaluate to a positive number"),
    ("$split('a,b', ',', -1)", "D3020: Third argument of split function must evaluate to a positive number"),
    ("$number('abc')", 'D3030: Unable to cast value to a number: "abc"'),
    ("$match('a', /a/, -1)", "D3040: Third argument of match function must evaluate to a positive number"),
    ("$sqrt(-1)", "D3060: The sqrt function cannot be applied to a negative number: -1"),
    ("$formatBase(10, 99)",
     "D3100: The radix of the formatBase function must be between 2 and 36.  It was given 99"),
    ("$toMillis('nope')",
     'D3110: The argument of the toMillis function must be an ISO 8601 formatted timestamp. Given "nope"'),
    ("$fromMillis(0, '[Q]')", 'D3132: Unknown component specifier "Q" in date/time picture string'),
    ("$formatNumber(1, '#.#.#')",
     "D3081: The sub-picture must not contain more than one instance of the 'decimal-separator' character"),
    ("$single([1, 2])",
     "D3138: The $single() function expected exactly 1 matching result.  Instead it matched more."),
    ("$single([])",
     "D3139: The $single() function expected exactly 1 matching result.  Instead it matched 0."),
    ("$error('boom')", "D3137: boom"),
    ("$assert(false, 'not so')", "D3141: not so"),
    ("$uppercase(1)", 'T0410: Argument 1 of function "uppercase" does not match function signature'),
    ("$lookup(1)", 'T0410: Argument 2 of function "lookup" does not match function signature'),
    ("$exists()", 'T0410: Argument 1 of function "exists" does not match function signature'),
    ("$count(1, 2)", 'T0410: Argument 2 of function "count" does not match function signature'),
    ("$substring(1)",
     'T0411: Context value is not a compatible type with argument 1 of function "substring"'),
    ("$sum('a')", 'T0412: Argument 1 of function "sum" must be an array of "numbers"'),
    ("$join(['a', 1])", 'T0412: Argument 1 of function "join" must be an array of "strings"'),
    ("$states.input ~> |$|5|",
     "T2011: The insert/update clause of the transform expression must evaluate to an object: 5"),
    ("$states.input ~> |$|{}, 5|",
     "T2012: The delete clause of the transform expression must evaluate to a string or array of strings: 5"),
])
def test_the_cause_ends_with_jsonata_js_message(expression, message):
    assert message_of(expression) == message


def test_every_message_comes_from_the_reference_table():
    assert MESSAGES["T1006"] == "Attempted to invoke a non-function"
    assert render("T2001", {"token": "+"}) == 'The left side of the "+" operator must evaluate to a number'
    assert render("D3061", {"value": 10, "exp": 400.0}) == (
        "The power function has resulted in a value that cannot be represented as a JSON number: "
        "base=10, exponent=400")
    assert render("T0410", {"index": 1}) is None  # a missing insert is not guessed


@pytest.mark.parametrize("state, field", [
    ({"Type": "Pass", "Assign": {"v": "{% $nope() %}"}, "End": True}, "Assign/v"),
    ({"Type": "Pass", "Output": {"x": ["{% $nope() %}"]}, "End": True}, "Output/x[0]"),
    ({"Type": "Choice", "Choices": [{"Condition": "{% $nope() %}", "Next": "End"}], "Default": "End"},
     "Choices[0]/Condition"),
    ({"Type": "Map", "Items": "{% $nope() %}", "End": True,
      "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}}, "Items"),
    ({"Type": "Wait", "Seconds": "{% $nope() %}", "End": True}, "Seconds"),
    ({"Type": "Fail", "Error": "{% $nope() %}"}, "Error"),
])
def test_every_field_reports_the_same_text(state, field):
    states = {"S": state}
    if state["Type"] == "Choice":
        states["End"] = {"Type": "Succeed"}
    definition = {"QueryLanguage": "JSONata", "StartAt": "S", "States": states}
    result = run(compile_definition(definition), {})
    assert result.error == "States.QueryEvaluationError"
    expected = (f"The JSONata expression '$nope()' specified for the field '{field}' "
                "threw an error during evaluation. T1006: Attempted to invoke a non-function")
    assert result.cause.endswith(expected)


def test_a_message_jsonatapy_words_like_jsonata_js_is_kept():
    assert message_of("$power(10, 400)") == (
        "D3061: The power function has resulted in a value that cannot be represented as a JSON number: "
        "base=10, exponent=400")
