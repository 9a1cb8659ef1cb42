"""CAP003: every field of a @message must be sendable."""

from capsys import message


class Account:
    def __init__(self) -> None:
        self.balance = 0


@message
class Transfer:
    source: Account  # expect: CAP003
    amount: int
    notes: list[str]  # expect: CAP003
    labels: frozenset[str]
