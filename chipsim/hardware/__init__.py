"""Hardware side of chipsim: pricing counts against a profile (ledger); mapping and the cycle
model come later."""

from chipsim.hardware.ledger import price, price_tables

__all__ = ["price", "price_tables"]
