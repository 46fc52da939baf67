"""One trainer per learning rule; the loss is chosen independently (losses.py)."""

from chipsim.learning.base import Trainer  # noqa: F401
from chipsim.learning.bptt import BPTT
from chipsim.learning.ottt import OTTT_A, OTTT_O
from chipsim.learning.sltt import SLTT
from chipsim.learning.tbptt_local import TBPTTLocal

RULES = {"bptt": BPTT, "sltt": SLTT, "ottt_a": OTTT_A, "ottt_o": OTTT_O, "tbptt_local": TBPTTLocal}


def make_trainer(rule: str, net, neuron, loss, optim, rule_spec, time_steps: int, batch_size: int, rng):
    """The trainer for ``rule`` (one of RULES)."""
    return RULES[rule](net, neuron, loss, optim, rule_spec, time_steps, batch_size, rng)
