"""PyTorch interoperability: teachers in from PyTorch checkpoints, students out.

`layouts`: the explicit name map of each architecture's PyTorch key layout;
`state_dict`: the files (.pt/.pth, .safetensors) and the map to and from
Flax variables. The command lines are `kdjax.convert` (a PyTorch
checkpoint -> a teacher workdir) and `kdjax.export` (a run's student ->
.pt, .safetensors, .onnx).
"""
