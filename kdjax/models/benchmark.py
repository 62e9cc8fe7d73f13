"""The CIFAR-100 distillation benchmark's models (RepDistiller, mdistiller;
Tian et al. 2020, Zhao et al. 2022) by their names there, as kdjax model
configs, with their parameter counts for 100 classes (the reference code's,
tested) and the benchmark's teacher -> student pairs.

"""

import ml_collections

from kdjax import errors

_X4 = (32, 64, 128, 256)
MODELS = {
    **{f'resnet{6 * n + 2}': dict(name='resnet_cifar', stage_sizes=(n,) * 3)
       for n in (1, 2, 3, 5, 7, 9, 18)},
    'resnet8x4': dict(name='resnet_cifar', stage_sizes=(1, 1, 1), widths=_X4),
    'resnet32x4': dict(name='resnet_cifar', stage_sizes=(5, 5, 5), widths=_X4),
    **{f'wrn_{d}_{w}': dict(name='wrn', depth=d, widen=w) for d in (16, 40) for w in (1, 2)},
    **{f'vgg{d}': dict(name='vgg', depth=d) for d in (8, 11, 13, 16, 19)},
    # its resnetv2.py: kuangliu's bottleneck ResNet-50 with a 3x3 stride-1 stem
    'ResNet50': dict(name='resnet_cifar', stage_sizes=(3, 4, 6, 3),
                     widths=(64, 64, 128, 256, 512), block='bottleneck'),
    'MobileNetV2': dict(name='mobilenet_v2_cifar', width=0.5),  # its mobile_half
    'ShuffleV1': dict(name='shufflenet', version=1),
    'ShuffleV2': dict(name='shufflenet', version=2),
}
PARAMS = {  # 100 classes; = sum(p.numel()) of the reference PyTorch models
    'resnet8': 83_892, 'resnet14': 181_108, 'resnet20': 278_324, 'resnet32': 472_756,
    'resnet44': 667_188, 'resnet56': 861_620, 'resnet110': 1_736_564,
    'resnet8x4': 1_233_540, 'resnet32x4': 7_433_860, 'wrn_16_1': 180_916,
    'wrn_16_2': 703_284, 'wrn_40_1': 569_780, 'wrn_40_2': 2_255_156,
    'vgg8': 3_965_028, 'vgg11': 9_277_284, 'vgg13': 9_462_180, 'vgg16': 14_774_436,
    'vgg19': 20_086_692, 'ResNet50': 23_705_252, 'MobileNetV2': 812_836,
    'ShuffleV1': 949_258, 'ShuffleV2': 1_355_528,
}
# The benchmark's teacher -> student pairs (Tian et al. 2020, Tables 1 and 2).
PAIRS = (('resnet56', 'resnet20'), ('resnet110', 'resnet20'), ('resnet110', 'resnet32'),
         ('resnet32x4', 'resnet8x4'), ('wrn_40_2', 'wrn_16_2'), ('wrn_40_2', 'wrn_40_1'),
         ('vgg13', 'vgg8'), ('vgg13', 'MobileNetV2'), ('ResNet50', 'MobileNetV2'),
         ('ResNet50', 'vgg8'), ('resnet32x4', 'ShuffleV1'), ('resnet32x4', 'ShuffleV2'),
         ('wrn_40_2', 'ShuffleV1'))
# The lightweight students train at lr 0.01 (RepDistiller's and mdistiller's
# recipe for MobileNetV2 and the ShuffleNets).
LIGHTWEIGHT = ('MobileNetV2', 'ShuffleV1', 'ShuffleV2')


def model(name: str) -> ml_collections.ConfigDict:
  """The kdjax model config of the benchmark's model `name`, initialised as
  its PyTorch code draws it."""
  if name not in MODELS:
    raise errors.ConfigError(f'CIFAR-100 benchmark model {name!r} is unknown; expected one '
                             f'of {sorted(MODELS)}')
  return ml_collections.ConfigDict(dict(MODELS[name], param_init='torch'))
