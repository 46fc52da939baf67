"""chipsim: simulate edge neuromorphic chips that learn on-chip, and count what they do."""

__version__ = "0.1.0"
