"""Errors named as AWS names them: the API maps the class name to the error code."""

from __future__ import annotations


class StepwiseError(Exception):
    """Base class: `code` is the AWS error code, `message` the text AWS would send."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__


class ValidationException(StepwiseError):
    pass


class InvalidName(StepwiseError):
    pass


class InvalidArn(StepwiseError):
    pass


class InvalidDefinition(StepwiseError):
    def __init__(self, message: str, problems=()):
        super().__init__(message)
        self.problems = list(problems)


class InvalidExecutionInput(StepwiseError):
    pass


class StateMachineDoesNotExist(StepwiseError):
    pass


class StateMachineAlreadyExists(StepwiseError):
    pass


class StateMachineTypeNotSupported(StepwiseError):
    pass


class ExecutionDoesNotExist(StepwiseError):
    pass


class ExecutionAlreadyExists(StepwiseError):
    pass


class ExecutionLimitExceeded(StepwiseError):
    pass


class ExecutionNotRedrivable(StepwiseError):
    pass


class ResourceNotFound(StepwiseError):
    pass


class ConflictException(StepwiseError):
    pass


class TooManyTags(StepwiseError):
    pass
