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


# ----------------------------------------------------------------------------
# CIFAR ResNet (post-activation BasicBlock, depth = 6n + 2, three stages).


class CifarBasicBlock(nn.Module):
  """conv3x3(stride)-BN-ReLU-conv3x3-BN, + shortcut, then ReLU."""

  def __init__(self, cin, cout, stride=1):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    if stride != 1 or cin != cout:
      # Projection shortcut: 1x1 conv (no bias) with the block's stride, + BN.
      self.downsample = nn.Sequential(
          nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
    else:
      self.downsample = None

  def forward(self, x):
    y = F.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    skip = x if self.downsample is None else self.downsample(x)
    return F.relu(y + skip)


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
        units.append(CifarBasicBlock(cin, width, stride if i == 0 else 1))
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
}


def param_count(model):
  return sum(p.numel() for p in model.parameters())


if __name__ == '__main__':
  for model_name, build in MODELS.items():
    net = build(100).eval()
    with torch.no_grad():
      out = net(torch.randn(2, 3, 32, 32))
    print(f'{model_name:12s} {param_count(net):>10,d} {tuple(out.shape)}')
