"""The project's exceptions: one base, so callers can catch adapter failures in one place."""

from __future__ import annotations


class CpocError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(CpocError):
    """An input file or folder cannot be used: names the place and the problem."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


class KnowledgeError(CpocError):
    """A shipped or practice-supplied knowledge file (catalog, payer, code list) is invalid."""
