"""The events tests' real webhook receiver and quick event settings, for watching changes reach
subscribing agencies."""

from tests.events.conftest import receiver, settings  # noqa: F401 - fixtures, shared as they are
