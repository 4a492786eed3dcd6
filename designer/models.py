"""Stepwise's data: state machines, executions and their history arrive with later issues."""
