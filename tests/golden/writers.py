"""Event-file writers the tests use to make recordings (re-exported from where they live)."""

from chipsim.data.aedat import write_aedat3  # noqa: F401
