"""Event-file writers the tests use to make recordings (re-exported from where they live)."""

from tests.writers import write_aedat3  # noqa: F401
