"""Command line: a finished run's student -> PyTorch state_dicts and ONNX.

  python -m kdjax.export --workdir=runs/cifar10/kd --out=exported/kd
  python -m kdjax.export --workdir=runs/cifar10/resnet18_kd --layout=cifar \\
      --formats=safetensors,onnx

Writes `<out>/student.safetensors` and `<out>/student.pt` (the latter needs
torch) in the key layout of the model's PyTorch reference architecture
(`kdjax.interop.layouts`: the study's nn.Sequential CNNs and MLPs,
torchvision's ResNet and MobileNetV2, `--layout=cifar` for ResNets in
kuangliu/pytorch-cifar's layout, the CIFAR-100 benchmark's models in
RepDistiller's/mdistiller's), and `<out>/export.json` (the run, its
params_sha256, the layout, each file's SHA-256). Each file is read back
and mapped into Flax variables again before export.json is written: the
round trip must give the run's variables bit for bit. The method's own
trained parts (a FitNets regressor, VID's variance nets) are not part of
the student and are not exported. `--formats=onnx` writes
`<out>/student.onnx` (jax2onnx, `pip install -e '.[onnx]'`): input
[B, C, H, W] float32 standardised as in training, output the logits; it is
written only if ONNX Runtime's logits on the run's first 512 test images
equal kdjax's to 1e-4 of the largest (export.json records the difference).
Existing files are never overwritten.
"""

from absl import flags

from kdjax import cli
from kdjax import errors
from kdjax.interop import export as export_lib

FLAGS = flags.FLAGS
flags.DEFINE_string('workdir', None, 'The finished run whose student is exported.')
flags.DEFINE_string('out', None, 'Directory for the exported files (created).')
flags.DEFINE_list('formats', ['safetensors', 'pt'], "Any of 'safetensors', 'pt', 'onnx'.")
flags.DEFINE_string('layout', '', "Key layout (e.g. 'torchvision', 'cifar'); "
                    "default: the model's first.")
flags.DEFINE_string('data_dir', '', "Where the run's test set is read for the ONNX check "
                    "(default: the run's own dataset.data_dir).")


def main(argv):
  del argv
  if not FLAGS.workdir or not FLAGS.out:
    raise errors.ConfigError('--workdir and --out are required; see python -m kdjax.export --help')
  record = export_lib.export_run(FLAGS.workdir, FLAGS.out, FLAGS.formats, FLAGS.layout,
                                 FLAGS.data_dir)
  print(f'{FLAGS.out}: {export_lib.summary(record)}')

if __name__ == '__main__':
  cli.run(main)
