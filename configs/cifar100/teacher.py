"""A CIFAR-100 benchmark teacher (RepDistiller/mdistiller recipe), trained or imported.

get_config's argument names the model (kdjax.models.benchmark.MODELS; default
resnet32x4). Import the benchmark's published PyTorch teacher (GPU not needed):
  python -m kdjax.convert --config=configs/cifar100/teacher.py:resnet32x4 \
      --checkpoint=resnet32x4_vanilla/ckpt_epoch_240.pth \
      --config.dataset.data_dir=DIR_WITH_cifar-100-python.tar.gz \
      --workdir=runs/cifar100/resnet32x4
or train it (GPU; 240 epochs):
  python -m kdjax.main --config=configs/cifar100/teacher.py:resnet32x4 \
      --config.dataset.data_dir=DIR_WITH_cifar-100-python.tar.gz \
      --workdir=runs/cifar100/resnet32x4
Initialisation: the reference code's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import config as config_lib


def get_config(name='resnet32x4'):
  config = config_lib.cifar100_benchmark(teacher=name, student=name)
  config.method = 'none'
  return config
