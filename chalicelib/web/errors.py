"""Domain errors. The dispatcher turns each into `{"error": message}` with its status."""


class ApiError(Exception):
    status = 500
    message = "Internal server error."

    def __init__(self, message: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.headers = headers or {}


class BadRequest(ApiError):
    status = 400
    message = "Bad request."


class Unauthorized(ApiError):
    status = 401
    message = "Authentication required."


class Forbidden(ApiError):
    status = 403
    message = "You do not have permission to do this."


class NotFound(ApiError):
    status = 404
    message = "Not found."


class MethodNotAllowed(ApiError):
    status = 405
    message = "Method not allowed."


class Conflict(ApiError):
    status = 409
    message = "Conflict."


class PayloadTooLarge(ApiError):
    status = 413
    message = "Request body too large."


class UnsupportedMediaType(ApiError):
    status = 415
    message = "Unsupported content type."


class TooManyRequests(ApiError):
    status = 429
    message = "Too many requests. Please try again later."


class BadGateway(ApiError):
    status = 502
    message = "An error occurred while attempting to connect to the chat server."


class ServiceUnavailable(ApiError):
    status = 503
    message = "Service unavailable."


class GatewayTimeout(ApiError):
    status = 504
    message = "An error occurred while attempting to connect to the chat server."


class Busy(ServiceUnavailable):
    """Too many requests changed one item at once; retrying shortly succeeds."""

    message = "This chat is busy. Please try again."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "1"})
