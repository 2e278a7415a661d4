"""ECS-shaped API failures: a Code, a Message and the HTTP status ECS answers with."""

from __future__ import annotations


class ApiError(Exception):
    """An error the API returns as `{RequestId, HostId, Code, Message, Recommend}`."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def invalid_parameter(name: str, why: str) -> ApiError:
    """A parameter lecs does not support, or a value it cannot honour: never ignored."""
    return ApiError("InvalidParameter", f"The specified parameter {name!r} {why}.")


def missing_parameter(name: str) -> ApiError:
    return ApiError("MissingParameter", f"The input parameter {name!r} that is mandatory "
                    "for processing this request is not supplied.")
