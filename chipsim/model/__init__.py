"""Neuron parameters, layer specs, network shapes and weight initialisation."""
