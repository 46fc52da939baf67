"""The chip side of chipsim: what a simulation costs on a hardware profile.

- ``mapping``: layers onto cores and chips;
- ``cycle``: the communication a mapping implies, and the cycle-approximate time per step;
- ``ledger``: counts x the profile's per-action prices, static power x modelled time;
- ``cost``: the one cost stage ``chipsim run`` and ``chipsim price`` share.
"""
