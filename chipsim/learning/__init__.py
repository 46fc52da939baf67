"""The learning rules, one module each, and the trainer they share.

The registry ``RULES`` is the one list of rules: config validates ``rule.name`` against it,
the CLI offers its names, the engine builds the rule from it. Adding a rule: one module
beside these, one entry here, its tests and its documentation (docs/DESIGN.md, "Adding a
rule").
"""

from chipsim.learning.bptt import BPTT
from chipsim.learning.dfa import DFA
from chipsim.learning.eprop import Eprop
from chipsim.learning.none import NoLearning
from chipsim.learning.ottt import OTTT_A, OTTT_O
from chipsim.learning.rule import Rule
from chipsim.learning.sltt import SLTT
from chipsim.learning.tbptt_local import TBPTTLocal

RULES: dict[str, type[Rule]] = {r.name: r for r in (BPTT, SLTT, OTTT_A, OTTT_O, TBPTTLocal,
                                                   DFA, Eprop, NoLearning)}


def make_trainer(rule: str, net, neuron, loss, optim, rule_spec, time_steps: int, batch_size: int,
                 rng, workers: int | None = None):
    """The trainer (chipsim.learning.trainer.Trainer) of ``net`` with the rule named ``rule``
    (one of RULES), configured by the workload's rule section ``rule_spec``. The trainer, and
    with it Numba, is imported here, so reading RULES stays light. ``workers``: threads a batch
    is split over (default: chipsim.threads.count())."""
    from chipsim.learning.trainer import Trainer
    return Trainer(net, neuron, RULES[rule](rule_spec, neuron, time_steps), loss, optim,
                   time_steps, batch_size, rng, workers)
