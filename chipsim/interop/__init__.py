"""Interoperability with other simulators: Brian2 cross-validation of the neuron dynamics
(brian2_validate.py; ``chipsim validate brian2``)."""
