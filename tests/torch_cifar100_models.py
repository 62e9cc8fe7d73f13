"""PyTorch CIFAR-100 benchmark architectures, written from the architecture
definitions of RepDistiller (HobbitLong/RepDistiller, models/) and mdistiller
(megvii-research/mdistiller, mdistiller/models/cifar/), which share one model
code, for kdjax's import tests.

Every model here yields a state_dict with the same keys, shapes and key order
as the benchmark's, and computes the same logits in eval mode, so the
benchmark's released checkpoints (`torch.load(path)['model']`) load with
`strict=True`. The benchmark's feature-return options are left out: forward(x)
returns logits only.

`MODELS` maps the benchmark's model_dict names to constructors
`f(num_classes) -> nn.Module`; as in the benchmark, 'vgg8' ... 'vgg19' are the
batch-norm VGGs (vgg8_bn ... vgg19_bn).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

from tests import torch_models  # the post-activation BasicBlock, 'downsample' keys


# ----------------------------------------------------------------------------
# CIFAR ResNet (post-activation BasicBlock, depth = 6n + 2, three stages).


class CifarResNet(nn.Module):
  """Stem conv3x3(3->w0)-BN-ReLU, stages w1/w2/w3 with strides 1/2/2,
  AvgPool2d(8), Linear(w3, num_classes)."""

  def __init__(self, depth, widths, num_classes=100):
    super().__init__()
    assert (depth - 2) % 6 == 0, depth
    blocks = (depth - 2) // 6
    self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(widths[0])
    cin = widths[0]
    for stage, (width, stride) in enumerate(zip(widths[1:], (1, 2, 2)), 1):
      units = []
      for i in range(blocks):
        units.append(torch_models.BasicBlock(cin, width, stride if i == 0 else 1,
                                             'downsample'))
        cin = width
      setattr(self, f'layer{stage}', nn.Sequential(*units))
    self.avgpool = nn.AvgPool2d(8)
    self.fc = nn.Linear(widths[3], num_classes)
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    # The Linear keeps PyTorch's default initialisation.

  def forward(self, x):
    x = F.relu(self.bn1(self.conv1(x)))
    x = self.layer3(self.layer2(self.layer1(x)))
    x = self.avgpool(x).flatten(1)
    return self.fc(x)


# ----------------------------------------------------------------------------
# Wide ResNet (pre-activation BasicBlock, depth = 6n + 4).


class WideBasicBlock(nn.Module):
  """Pre-activation: BN-ReLU-conv3x3(stride)-BN-ReLU-[dropout]-conv3x3.

  When cin == cout the shortcut is the raw input; otherwise the shortcut is
  a 1x1 conv (stride, no bias, no BN) applied to the pre-activated input
  relu(bn1(x)), which also feeds conv1.
  """

  def __init__(self, cin, cout, stride, drop_rate=0.0):
    super().__init__()
    self.bn1 = nn.BatchNorm2d(cin)
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.drop_rate = drop_rate
    self.same_width = cin == cout
    self.convShortcut = (None if self.same_width else
                         nn.Conv2d(cin, cout, 1, stride, 0, bias=False))

  def forward(self, x):
    a = F.relu(self.bn1(x))
    y = F.relu(self.bn2(self.conv1(a)))
    if self.drop_rate > 0:
      y = F.dropout(y, p=self.drop_rate, training=self.training)
    y = self.conv2(y)
    skip = x if self.same_width else self.convShortcut(a)
    return skip + y


class WideStage(nn.Module):
  """A stage; its blocks sit under the attribute `layer`."""

  def __init__(self, blocks, cin, cout, stride, drop_rate=0.0):
    super().__init__()
    self.layer = nn.Sequential(*[
        WideBasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1,
                       drop_rate) for i in range(blocks)])

  def forward(self, x):
    return self.layer(x)


class WideResNet(nn.Module):
  """conv3x3(3->16), stages 16k/32k/64k (strides 1/2/2), final BN-ReLU,
  avg_pool2d(8), Linear(64k, num_classes)."""

  def __init__(self, depth, widen, num_classes=100, drop_rate=0.0):
    super().__init__()
    assert (depth - 4) % 6 == 0, depth
    n = (depth - 4) // 6
    c = [16, 16 * widen, 32 * widen, 64 * widen]
    self.conv1 = nn.Conv2d(3, c[0], 3, 1, 1, bias=False)
    self.block1 = WideStage(n, c[0], c[1], 1, drop_rate)
    self.block2 = WideStage(n, c[1], c[2], 2, drop_rate)
    self.block3 = WideStage(n, c[2], c[3], 2, drop_rate)
    self.bn1 = nn.BatchNorm2d(c[3])
    self.fc = nn.Linear(c[3], num_classes)
    self.channels = c[3]
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
      elif isinstance(m, nn.Linear):
        nn.init.zeros_(m.bias)  # weight keeps PyTorch's default

  def forward(self, x):
    x = self.block3(self.block2(self.block1(self.conv1(x))))
    x = F.relu(self.bn1(x))
    x = F.avg_pool2d(x, 8).reshape(-1, self.channels)
    return self.fc(x)


# ----------------------------------------------------------------------------
# VGG (five conv blocks, no FC stack, one Linear(512, num_classes)).

VGG_STAGES = {
    'vgg8': ((64,), (128,), (256,), (512,), (512,)),
    'vgg11': ((64,), (128,), (256, 256), (512, 512), (512, 512)),
    'vgg13': ((64, 64), (128, 128), (256, 256), (512, 512), (512, 512)),
    'vgg16': ((64, 64), (128, 128), (256,) * 3, (512,) * 3, (512,) * 3),
    'vgg19': ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,) * 4),
}


def vgg_stage(widths, cin, batch_norm=True):
  """conv3x3(bias)-BN-ReLU repeated, without the stage's last ReLU; the
  Sequential indices are conv 3i, BN 3i+1, ReLU 3i+2 (2i / 2i+1 without BN)."""
  mods = []
  for w in widths:
    mods.append(nn.Conv2d(cin, w, 3, padding=1))
    if batch_norm:
      mods.append(nn.BatchNorm2d(w))
    mods.append(nn.ReLU(inplace=True))
    cin = w
  return nn.Sequential(*mods[:-1])


class CifarVGG(nn.Module):
  """block_i then ReLU; max pools 2x2/2 after blocks 0, 1, 2 (after block 3
  only for 64x64 inputs); global average pool after block 4; Linear(512)."""

  def __init__(self, stages, batch_norm=True, num_classes=100):
    super().__init__()
    cin = 3
    for i, widths in enumerate(stages):
      setattr(self, f'block{i}', vgg_stage(widths, cin, batch_norm))
      cin = widths[-1]
    for i in range(4):
      setattr(self, f'pool{i}', nn.MaxPool2d(kernel_size=2, stride=2))
    self.pool4 = nn.AdaptiveAvgPool2d((1, 1))
    self.classifier = nn.Linear(512, num_classes)
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
        nn.init.zeros_(m.bias)
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
      elif isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.zeros_(m.bias)

  def forward(self, x):
    size = x.shape[2]
    x = self.pool0(F.relu(self.block0(x)))
    x = self.pool1(F.relu(self.block1(x)))
    x = self.pool2(F.relu(self.block2(x)))
    x = F.relu(self.block3(x))
    if size == 64:
      x = self.pool3(x)
    x = F.relu(self.block4(x))
    x = self.pool4(x).flatten(1)
    return self.classifier(x)


# ----------------------------------------------------------------------------
# ResNet50 (RepDistiller's resnetv2: ImageNet-style bottleneck ResNet with a
# CIFAR stem: conv3x3 stride 1, no max pool).


class Bottleneck(nn.Module):
  """conv1x1-BN-ReLU, conv3x3(stride)-BN-ReLU, conv1x1(-> 4 * planes)-BN,
  + shortcut, then ReLU. The stride sits on the 3x3 conv."""

  expansion = 4

  def __init__(self, cin, planes, stride=1):
    super().__init__()
    cout = self.expansion * planes
    self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(planes)
    self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(planes)
    self.conv3 = nn.Conv2d(planes, cout, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(cout)
    if stride != 1 or cin != cout:
      # Projection shortcut: 1x1 conv (no bias) with the block's stride, + BN.
      self.shortcut = nn.Sequential(
          nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    else:
      self.shortcut = None

  def forward(self, x):
    y = F.relu(self.bn1(self.conv1(x)))
    y = F.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    skip = x if self.shortcut is None else self.shortcut(x)
    return F.relu(y + skip)


class BottleneckResNet(nn.Module):
  """Stem conv3x3(3->64, stride 1)-BN-ReLU, four stages of bottlenecks with
  planes 64/128/256/512 and strides 1/2/2/2, global average pool,
  Linear(2048, num_classes)."""

  def __init__(self, blocks_per_stage, num_classes=100):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(64)
    cin = 64
    for stage, (blocks, planes, stride) in enumerate(
        zip(blocks_per_stage, (64, 128, 256, 512), (1, 2, 2, 2)), 1):
      units = []
      for i in range(blocks):
        units.append(Bottleneck(cin, planes, stride if i == 0 else 1))
        cin = planes * Bottleneck.expansion
      setattr(self, f'layer{stage}', nn.Sequential(*units))
    self.linear = nn.Linear(cin, num_classes)
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    # The Linear keeps PyTorch's default initialisation.

  def forward(self, x):
    x = F.relu(self.bn1(self.conv1(x)))
    x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
    x = F.adaptive_avg_pool2d(x, 1).flatten(1)
    return self.linear(x)


# ----------------------------------------------------------------------------
# MobileNetV2 (the benchmark's mobile_half: expansion T = 6, width W = 0.5).

# (expansion, channels before the width multiplier, blocks, first stride);
# an expansion of None stands for T.
MOBILENETV2_STAGES = ((1, 16, 1, 1), (None, 24, 2, 1), (None, 32, 3, 2),
                      (None, 64, 4, 2), (None, 96, 3, 1), (None, 160, 3, 2),
                      (None, 320, 1, 1))


def conv_bn_relu(cin, cout, kernel, stride=1):
  """Sequential(conv(kernel, stride, padding kernel // 2, no bias), BN, ReLU):
  indices 0, 1, 2."""
  return nn.Sequential(
      nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
      nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class InvertedResidual(nn.Module):
  """`conv` = [0 conv1x1(cin -> cin*t), 1 BN, 2 ReLU, 3 depthwise conv3x3
  (stride), 4 BN, 5 ReLU, 6 conv1x1(-> cout), 7 BN]; the expanding 1x1 conv
  is there for t = 1 too. Identity residual iff stride 1 and cin == cout."""

  def __init__(self, cin, cout, stride, expansion):
    super().__init__()
    hidden = cin * expansion
    self.residual = stride == 1 and cin == cout
    self.conv = nn.Sequential(
        nn.Conv2d(cin, hidden, 1, 1, 0, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
        nn.BatchNorm2d(hidden),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
        nn.BatchNorm2d(cout))

  def forward(self, x):
    y = self.conv(x)
    return x + y if self.residual else y


class CifarMobileNetV2(nn.Module):
  """conv1 = conv3x3(3 -> int(32W), stride 2)-BN-ReLU, seven stages of
  inverted residuals in `blocks` (a ModuleList of Sequentials; channels
  int(c * W)), conv2 = conv1x1(-> 1280)-BN-ReLU, AvgPool2d(input_size // 16,
  ceil_mode=True) (2x2 -> 1x1 for 32x32 inputs), classifier =
  Sequential(Linear(1280, num_classes))."""

  def __init__(self, expansion=6, width=0.5, num_classes=100, input_size=32):
    super().__init__()
    assert input_size % 32 == 0, input_size
    cin = int(32 * width)
    self.conv1 = conv_bn_relu(3, cin, 3, 2)
    self.blocks = nn.ModuleList()
    for t, c, n, s in MOBILENETV2_STAGES:
      cout = int(c * width)
      units = []
      for i in range(n):
        units.append(InvertedResidual(cin, cout, s if i == 0 else 1,
                                      expansion if t is None else t))
        cin = cout
      self.blocks.append(nn.Sequential(*units))
    last = int(1280 * width) if width > 1.0 else 1280
    self.conv2 = conv_bn_relu(cin, last, 1)
    self.avgpool = nn.AvgPool2d(input_size // 16, ceil_mode=True)
    self.classifier = nn.Sequential(nn.Linear(last, num_classes))
    for m in self.modules():
      if isinstance(m, nn.Conv2d):
        fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
        nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
      elif isinstance(m, nn.BatchNorm2d):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
      elif isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.01)
        nn.init.zeros_(m.bias)

  def forward(self, x):
    x = self.conv1(x)
    for stage in self.blocks:
      x = stage(x)
    x = self.avgpool(self.conv2(x)).flatten(1)
    return self.classifier(x)


# ----------------------------------------------------------------------------
# ShuffleNet V1 and V2 (CIFAR variants: 1x1 stem, no max pool). Both keep
# PyTorch's default initialisation for every layer.


def channel_shuffle(x, groups):
  """(N, C, H, W) -> (N, g, C/g, H, W) -> swap axes 1, 2 -> (N, C, H, W):
  output channel j * g + i is input channel i * (C/g) + j."""
  n, c, h, w = x.shape
  return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


class ShuffleV1Unit(nn.Module):
  """Grouped conv1x1(cin -> cout/4, g1)-BN-ReLU, channel shuffle (g1),
  depthwise conv3x3(stride)-BN-ReLU, grouped conv1x1(-> cout, groups)-BN;
  then ReLU(y + x) at stride 1 or ReLU(cat[y, avg_pool3x3/2(x)]) at
  stride 2. g1 = 1 when cin == 24 (the first unit after the stem)."""

  def __init__(self, cin, cout, stride, groups):
    super().__init__()
    mid = int(cout / 4)
    g1 = 1 if cin == 24 else groups
    self.stride = stride
    self.g1 = g1
    self.conv1 = nn.Conv2d(cin, mid, 1, groups=g1, bias=False)
    self.bn1 = nn.BatchNorm2d(mid)
    self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
    self.bn2 = nn.BatchNorm2d(mid)
    self.conv3 = nn.Conv2d(mid, cout, 1, groups=groups, bias=False)
    self.bn3 = nn.BatchNorm2d(cout)

  def forward(self, x):
    y = channel_shuffle(F.relu(self.bn1(self.conv1(x))), self.g1)
    y = F.relu(self.bn2(self.conv2(y)))
    y = self.bn3(self.conv3(y))
    if self.stride == 2:
      # count_include_pad: the zero padding counts, every window divides by 9.
      return F.relu(torch.cat([y, F.avg_pool2d(x, 3, 2, 1)], 1))
    return F.relu(y + x)


class CifarShuffleNetV1(nn.Module):
  """Stem conv1x1(3->24)-BN-ReLU; three stages of 4/8/4 units with outputs
  240/480/960 (groups 3), the first unit of each stride 2 whose branch
  gives out - cin channels (the pooled input fills the rest); avg_pool2d(4),
  Linear(960, num_classes)."""

  def __init__(self, widths=(240, 480, 960), blocks=(4, 8, 4), groups=3,
               num_classes=100):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(24)
    cin = 24
    for stage, (width, n) in enumerate(zip(widths, blocks), 1):
      units = [ShuffleV1Unit(cin, width - cin, 2, groups)]
      units += [ShuffleV1Unit(width, width, 1, groups) for _ in range(n - 1)]
      cin = width
      setattr(self, f'layer{stage}', nn.Sequential(*units))
    self.linear = nn.Linear(cin, num_classes)

  def forward(self, x):
    x = F.relu(self.bn1(self.conv1(x)))
    x = self.layer3(self.layer2(self.layer1(x)))
    x = F.avg_pool2d(x, 4).flatten(1)
    return self.linear(x)


class ShuffleV2Unit(nn.Module):
  """Stride-1 unit: the first half of the channels passes through, the
  second half goes conv1x1-BN-ReLU, depthwise conv3x3-BN, conv1x1-BN-ReLU;
  cat[passed, branch], then channel shuffle with 2 groups."""

  def __init__(self, channels):
    super().__init__()
    c = channels // 2
    self.conv1 = nn.Conv2d(c, c, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(c)
    self.conv2 = nn.Conv2d(c, c, 3, 1, 1, groups=c, bias=False)
    self.bn2 = nn.BatchNorm2d(c)
    self.conv3 = nn.Conv2d(c, c, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(c)

  def forward(self, x):
    c = x.shape[1] // 2
    passed, y = x[:, :c], x[:, c:]
    y = F.relu(self.bn1(self.conv1(y)))
    y = self.bn2(self.conv2(y))
    y = F.relu(self.bn3(self.conv3(y)))
    return channel_shuffle(torch.cat([passed, y], 1), 2)


class ShuffleV2DownUnit(nn.Module):
  """Stride-2 unit, both branches on the whole input (mid = cout // 2):
  left = depthwise conv3x3/2(cin)-BN, conv1x1(cin -> mid)-BN-ReLU (conv1,
  conv2); right = conv1x1(cin -> mid)-BN-ReLU, depthwise conv3x3/2(mid)-BN,
  conv1x1(mid -> mid)-BN-ReLU (conv3, conv4, conv5); cat[left, right], then
  channel shuffle with 2 groups."""

  def __init__(self, cin, cout):
    super().__init__()
    mid = cout // 2
    self.conv1 = nn.Conv2d(cin, cin, 3, 2, 1, groups=cin, bias=False)
    self.bn1 = nn.BatchNorm2d(cin)
    self.conv2 = nn.Conv2d(cin, mid, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(mid)
    self.conv3 = nn.Conv2d(cin, mid, 1, bias=False)
    self.bn3 = nn.BatchNorm2d(mid)
    self.conv4 = nn.Conv2d(mid, mid, 3, 2, 1, groups=mid, bias=False)
    self.bn4 = nn.BatchNorm2d(mid)
    self.conv5 = nn.Conv2d(mid, mid, 1, bias=False)
    self.bn5 = nn.BatchNorm2d(mid)

  def forward(self, x):
    left = F.relu(self.bn2(self.conv2(self.bn1(self.conv1(x)))))
    right = F.relu(self.bn3(self.conv3(x)))
    right = F.relu(self.bn5(self.conv5(self.bn4(self.conv4(right)))))
    return channel_shuffle(torch.cat([left, right], 1), 2)


class CifarShuffleNetV2(nn.Module):
  """Stem conv1x1(3->24)-BN-ReLU; three stages, each a stride-2 down unit
  then 3/7/3 stride-1 units, widths 116/232/464 (net size 1);
  conv2 = conv1x1(464->1024)-BN-ReLU, avg_pool2d(4), Linear(1024)."""

  def __init__(self, widths=(116, 232, 464, 1024), blocks=(3, 7, 3),
               num_classes=100):
    super().__init__()
    self.conv1 = nn.Conv2d(3, 24, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(24)
    cin = 24
    for stage, (width, n) in enumerate(zip(widths[:3], blocks), 1):
      units = [ShuffleV2DownUnit(cin, width)]
      units += [ShuffleV2Unit(width) for _ in range(n)]
      cin = width
      setattr(self, f'layer{stage}', nn.Sequential(*units))
    self.conv2 = nn.Conv2d(cin, widths[3], 1, 1, 0, bias=False)
    self.bn2 = nn.BatchNorm2d(widths[3])
    self.linear = nn.Linear(widths[3], num_classes)

  def forward(self, x):
    x = F.relu(self.bn1(self.conv1(x)))
    x = self.layer3(self.layer2(self.layer1(x)))
    x = F.relu(self.bn2(self.conv2(x)))
    x = F.avg_pool2d(x, 4).flatten(1)
    return self.linear(x)


# ----------------------------------------------------------------------------

_THIN = (16, 16, 32, 64)
_X4 = (32, 64, 128, 256)


def _resnet(depth, widths):
  return lambda num_classes=100: CifarResNet(depth, widths, num_classes)


def _wrn(depth, widen):
  return lambda num_classes=100: WideResNet(depth, widen, num_classes)


def _vgg(name):
  return lambda num_classes=100: CifarVGG(VGG_STAGES[name], True, num_classes)


MODELS = {
    'resnet8': _resnet(8, _THIN),
    'resnet14': _resnet(14, _THIN),
    'resnet20': _resnet(20, _THIN),
    'resnet32': _resnet(32, _THIN),
    'resnet44': _resnet(44, _THIN),
    'resnet56': _resnet(56, _THIN),
    'resnet110': _resnet(110, _THIN),
    'resnet8x4': _resnet(8, _X4),
    'resnet32x4': _resnet(32, _X4),
    'wrn_16_1': _wrn(16, 1),
    'wrn_16_2': _wrn(16, 2),
    'wrn_40_1': _wrn(40, 1),
    'wrn_40_2': _wrn(40, 2),
    'vgg8': _vgg('vgg8'),
    'vgg11': _vgg('vgg11'),
    'vgg13': _vgg('vgg13'),
    'vgg16': _vgg('vgg16'),
    'vgg19': _vgg('vgg19'),
    'ResNet50': lambda num_classes=100: BottleneckResNet((3, 4, 6, 3), num_classes),
    'MobileNetV2': lambda num_classes=100: CifarMobileNetV2(6, 0.5, num_classes),
    'ShuffleV1': lambda num_classes=100: CifarShuffleNetV1(num_classes=num_classes),
    'ShuffleV2': lambda num_classes=100: CifarShuffleNetV2(num_classes=num_classes),
}


def param_count(model):
  return sum(p.numel() for p in model.parameters())


if __name__ == '__main__':
  for model_name, build in MODELS.items():
    net = build(100).eval()
    with torch.no_grad():
      out = net(torch.randn(2, 3, 32, 32))
    print(f'{model_name:12s} {param_count(net):>10,d} {tuple(out.shape)}')
