# an MLP in snnTorch for N-MNIST at 2x17x17, exported to NIR
# Run in an environment with torch and the framework (not chipsim's: chipsim does not depend on
# them), e.g. pip install torch snntorch spikingjelly; then see README, 'Networks from other
# frameworks (NIR)'.
from pathlib import Path

import torch, snntorch as snn
from snntorch.export_nir import export_to_nir
torch.manual_seed(0)
net = torch.nn.Sequential(
    torch.nn.Flatten(),
    torch.nn.Linear(2 * 17 * 17, 64, bias=False),
    snn.Leaky(beta=torch.full((64,), 0.5), threshold=torch.ones(64), init_hidden=True),
    torch.nn.Linear(64, 10),
)
graph = export_to_nir(net, torch.zeros(1, 2, 17, 17), ignore_dims=[0])
import nir
out = Path(__file__).with_name("snntorch_mlp.nir")   # beside the workload that reads it
nir.write(str(out), graph)
print(f"{out}: {', '.join(graph.nodes)}")
