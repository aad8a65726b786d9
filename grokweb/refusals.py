"""A refusal: something a user asked for that GrokWeb will not do, with a reason they can act on.

Every entry point maps a refusal the same way: the API answers `{"error": {"code", "message"}}`
with `status`; pages show `message` on the form (on `field` when it names one) or as a message.
"""

from django.utils.functional import Promise


class Refusal(Exception):
    """`code` is stable for programs; `message` is for people, in their language (lazy
    translations are resolved when shown, so the reader's language applies)."""

    status = 422

    def __init__(self, code: str, message: str | Promise, *, field: str | None = None,
                 status: int | None = None, row: int | None = None) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = message
        self.field = field
        self.row = row
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return str(self.message)
