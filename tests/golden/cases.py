"""The golden cases: every shipped workload x every rule, plus the variants whose code paths a
refactor could break (batch > 1, momentum and weight decay, SLTT-K, target windows, no update
skip, the chip number format, float32, TET, max pooling, dropout, stride 2, graded input,
tbptt_local windows and blocks, an explicit mapping).

Each case is a short run: one epoch of about 20 training and 10 test samples (``--set``
overrides). ``capture.py`` runs it and records counts, losses, final weights (as SHA-256 of
their bytes) and energies; ``golden.npz`` holds what the code produced when it was recorded,
and ``tests/test_golden.py`` compares bit for bit.
"""

from __future__ import annotations

RULES = ("bptt", "sltt", "ottt_a", "ottt_o", "tbptt_local")
SHORT = {"training.epochs": "1", "dataset.train_samples": "20", "dataset.test_samples": "10"}

CONV_VARIANT = ("[{kind: conv, channels: 8, kernel: 3, stride: 2, padding: 1}, {kind: dropout, p: 0.2}, "
                "{kind: maxpool, size: 2}, {kind: conv, channels: 16, kernel: 3, padding: 1, bias: true}, "
                "{kind: avgpool, size: 2}]")


def _cases():
    out = []

    def add(name, workload, rule, **over):
        o = dict(SHORT)
        o["rule.name"] = rule
        o.update({k.replace("__", "."): str(v) for k, v in over.items()})
        out.append((name, workload, o))

    for rule in RULES:
        add(f"nmnist-{rule}", "nmnist", rule)
        add(f"nmnist_conv-{rule}", "nmnist_conv", rule)
        add(f"cifar10dvs-{rule}", "cifar10dvs", rule)
        add(f"dvsgesture-{rule}", "dvsgesture", rule, dataset__time_steps=8)
        add(f"vgg11-{rule}", "cifar10dvs_vgg11", rule, dataset__time_steps=2,
            dataset__train_samples=2, dataset__test_samples=1)
    # dense variants
    add("nmnist-bptt-b3-momentum-wd", "nmnist", "bptt", training__batch_size=3,
        training__momentum=0.9, training__weight_decay=1e-4)
    add("nmnist-sltt-b3", "nmnist", "sltt", training__batch_size=3)
    add("nmnist-ottt_o-b3", "nmnist", "ottt_o", training__batch_size=3)
    add("nmnist-ottt_a-momentum", "nmnist", "ottt_a", training__momentum=0.9)
    add("nmnist-sltt-k2", "nmnist", "sltt", rule__k=2)
    add("nmnist-ottt_a-tw3", "nmnist", "ottt_a", rule__target_window=3)
    add("nmnist-ottt_o-noskip", "nmnist", "ottt_o", rule__update_skip="false")
    add("nmnist-ottt_a-trace-first", "nmnist", "ottt_a", rule__first_layer_input="trace",
        rule__trace_decay=0.25)
    for rule in ("bptt", "sltt", "ottt_o", "ottt_a"):
        add(f"nmnist-{rule}-chipfmt", "nmnist", rule, training__number_format="chip")
    for rule in ("bptt", "ottt_o", "sltt"):
        add(f"nmnist-{rule}-f32", "nmnist", rule, training__dtype="float32")
    add("nmnist-sltt-tet", "nmnist", "sltt", neuron__preset="tet", loss="{kind: tet}")
    add("nmnist-bptt-sltt-neuron", "nmnist", "bptt", neuron__preset="sltt")
    add("nmnist-bptt-hard-decay", "nmnist", "bptt", neuron__reset="hard",
        neuron__detach_reset="false", neuron__decay_input="true", neuron__leak=0.7)
    add("nmnist-2layer-tbptt-w3-b1", "nmnist", "tbptt_local", rule__window=3, rule__block=1,
        network__hidden="[{kind: dense, units: 64, bias: true}, {kind: dense, units: 32}]")
    add("nmnist-explicit-mapping", "nmnist", "ottt_o", mapping="{dense1: [4], readout: [8]}")
    add("nmnist-small-explicit-mapping", "nmnist", "ottt_o", dataset__downscale=4,
        network__hidden="[{kind: dense, units: 128}]", mapping="{dense1: [4], readout: [8]}")
    # conv variants
    for rule in ("bptt", "sltt", "ottt_o", "ottt_a", "tbptt_local"):
        add(f"conv-variant-{rule}", "nmnist_conv", rule, network__hidden=CONV_VARIANT)
    add("nmnist_conv-tbptt-w3-b1", "nmnist_conv", "tbptt_local", rule__window=3, rule__block=1)
    for rule in ("bptt", "ottt_o", "sltt"):
        add(f"nmnist_conv-{rule}-b2", "nmnist_conv", rule, training__batch_size=2)
    add("nmnist_conv-ottt_a-chipfmt", "nmnist_conv", "ottt_a", training__number_format="chip")
    for rule in ("bptt", "ottt_a"):
        add(f"nmnist_conv-{rule}-count", "nmnist_conv", rule, dataset__framing="count")
    add("nmnist_conv-sltt-k3-momentum", "nmnist_conv", "sltt", rule__k=3, training__momentum=0.9)
    return out


CASES = _cases()
PROFILES = ("anp_i", "loihi")         # runs
REPRICE = ("loihi", "generic_45nm")   # the first run re-priced on these
