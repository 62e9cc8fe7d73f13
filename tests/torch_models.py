"""PyTorch definitions of kdjax's architectures, written from each
architecture's definition in the key layouts of `kdjax.interop.layouts`
(torchvision's ResNet and MobileNetV2, kuangliu/pytorch-cifar's ResNet,
the study's nn.Sequential CNNs and MLPs), for the import and export tests.
Only imported where torch is installed."""

import torch
from torch import nn


def sequential_cnn(convs, dense=(), pool=(), num_classes=10, channels=3, size=32):
  pool = tuple(pool) or (True,) * len(convs)
  layers = []
  for filters, pooled in zip(convs, pool):
    layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU()]
    if pooled:
      layers.append(nn.MaxPool2d(2))
      size //= 2
    channels = filters
  layers.append(nn.Flatten())
  width = channels * size * size
  for d in dense:
    layers += [nn.Linear(width, d), nn.ReLU(), nn.Dropout(0.3)]
    width = d
  return nn.Sequential(*layers, nn.Linear(width, num_classes))


def sequential_mlp(hidden, in_features=784, num_classes=10):
  layers, width = [nn.Flatten()], in_features
  for h in hidden:
    layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(0.1)]
    width = h
  return nn.Sequential(*layers, nn.Linear(width, num_classes))


class BasicBlock(nn.Module):

  def __init__(self, cin, cout, stride, shortcut_name):
    super().__init__()
    self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(cout)
    self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
    self.bn2 = nn.BatchNorm2d(cout)
    self.shortcut_name = shortcut_name
    if stride != 1 or cin != cout:
      setattr(self, shortcut_name, nn.Sequential(
          nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

  def forward(self, x):
    y = torch.relu(self.bn1(self.conv1(x)))
    y = self.bn2(self.conv2(y))
    shortcut = getattr(self, self.shortcut_name, None)
    return torch.relu(y + (shortcut(x) if shortcut is not None else x))


class ResNet(nn.Module):
  """torchvision's ResNet with a 3x3 stride-1 stem and no max-pool
  (layout 'torchvision'), or kuangliu/pytorch-cifar's (layout 'cifar')."""

  def __init__(self, stage_sizes, num_classes=10, layout='torchvision'):
    super().__init__()
    shortcut, head = {'torchvision': ('downsample', 'fc'),
                      'cifar': ('shortcut', 'linear')}[layout]
    self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    self.bn1 = nn.BatchNorm2d(64)
    cin = 64
    for s, blocks in enumerate(stage_sizes, start=1):
      cout = 64 * 2**(s - 1)
      setattr(self, f'layer{s}', nn.Sequential(*[
          BasicBlock(cin if b == 0 else cout, cout, 2 if s > 1 and b == 0 else 1,
                     shortcut) for b in range(blocks)]))
      cin = cout
    self.head_name = head
    setattr(self, head, nn.Linear(cin, num_classes))
    self.stages = len(stage_sizes)

  def forward(self, x):
    x = torch.relu(self.bn1(self.conv1(x)))
    for s in range(1, self.stages + 1):
      x = getattr(self, f'layer{s}')(x)
    return getattr(self, self.head_name)(x.mean(dim=(2, 3)))


def _conv_bn(cin, cout, kernel, stride=1, groups=1):
  return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2,
                                 groups=groups, bias=False),
                       nn.BatchNorm2d(cout), nn.ReLU6())


class InvertedResidual(nn.Module):

  def __init__(self, cin, cout, stride, expand):
    super().__init__()
    hidden = cin * expand
    layers = [_conv_bn(cin, hidden, 1)] if expand != 1 else []
    layers += [_conv_bn(hidden, hidden, 3, stride, groups=hidden),
               nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
    self.conv = nn.Sequential(*layers)
    self.residual = stride == 1 and cin == cout

  def forward(self, x):
    return x + self.conv(x) if self.residual else self.conv(x)


class MobileNetV2(nn.Module):
  """torchvision's `mobilenet_v2` (width 1.0) with the stem's stride as given."""
  SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
              (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))

  def __init__(self, num_classes=10, stem_stride=1):
    super().__init__()
    layers, cin = [_conv_bn(3, 32, 3, stem_stride)], 32
    for expand, cout, blocks, stride in self.SETTINGS:
      for b in range(blocks):
        layers.append(InvertedResidual(cin, cout, stride if b == 0 else 1, expand))
        cin = cout
    layers.append(_conv_bn(cin, 1280, 1))
    self.features = nn.Sequential(*layers)
    self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, num_classes))

  def forward(self, x):
    return self.classifier(self.features(x).mean(dim=(2, 3)))


def randomise_batch_norm(model, seed=0):
  """Non-trivial BatchNorm affine parameters and running statistics, so an
  import that drops or swaps them changes the eval-mode logits."""
  g = torch.Generator().manual_seed(seed)
  with torch.no_grad():
    for m in model.modules():
      if isinstance(m, nn.BatchNorm2d):
        n = m.num_features
        m.weight.copy_(1 + 0.2 * torch.randn(n, generator=g))
        m.bias.copy_(0.2 * torch.randn(n, generator=g))
        m.running_mean.copy_(0.2 * torch.randn(n, generator=g))
        m.running_var.copy_(0.5 + torch.rand(n, generator=g))
        m.num_batches_tracked.fill_(123)
  return model
