# a conv net in SpikingJelly for N-MNIST at 2x17x17, exported to NIR
# Run in an environment with torch and the framework (not chipsim's: chipsim does not depend on
# them), e.g. pip install torch snntorch spikingjelly; then see README, 'Networks from other
# frameworks (NIR)'.
from pathlib import Path

import torch
from spikingjelly.activation_based import layer, neuron
from spikingjelly.activation_based.nir_exchange import export_to_nir
torch.manual_seed(0)
net = torch.nn.Sequential(
    layer.Conv2d(2, 8, 3, padding=1, bias=False),
    neuron.IFNode(),
    layer.AvgPool2d(2),
    layer.Flatten(),
    layer.Linear(8 * 8 * 8, 10),
)
graph = export_to_nir(net, torch.zeros(1, 2, 17, 17))
import nir
out = Path(__file__).with_name("spikingjelly_conv.nir")   # beside the workload that reads it
nir.write(str(out), graph)
print(f"{out}: {', '.join(graph.nodes)}")
