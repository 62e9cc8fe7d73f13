"""The bench's steps written in plain PyTorch eager, for the side-by-side.

Same work as kdjax's steps: uint8 data gathered by a shuffled index,
standardised, augmented (MNIST: per-image random translation of up to 2 px,
zero fill; CIFAR: random horizontal flip), dropout, forward, loss (CE, or
Hinton KD with the teacher in eval mode under no_grad on the same batch),
backward and Adam with coupled L2 (`weight_decay=`), one update per batch.
`bf16=True` runs forward and loss under `torch.autocast('cpu', bfloat16)`,
PyTorch's mixed precision (float32 parameters).
"""

import contextlib

import torch
import torch.nn.functional as F
from torch import nn


def mlp(hidden, dropout=0.0, in_features=784, num_classes=10):
  layers, width = [nn.Flatten()], in_features
  for h in hidden:
    layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
    width = h
  return nn.Sequential(*layers, nn.Linear(width, num_classes))


def cnn(convs, dense=(), dropout=0.0, channels=3, size=32, num_classes=10):
  layers = []
  for filters in convs:
    layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(),
               nn.MaxPool2d(2)]
    channels, size = filters, size // 2
  layers.append(nn.Flatten())
  width = channels * size * size
  for d in dense:
    layers += [nn.Linear(width, d), nn.ReLU(), nn.Dropout(dropout)]
    width = d
  return nn.Sequential(*layers, nn.Linear(width, num_classes))


def translate(images, max_shift):
  """uint8 [B, H, W, C] shifted per image by dx, dy in [-max_shift, max_shift]."""
  b, h, w, _ = images.shape
  padded = F.pad(images, (0, 0, max_shift, max_shift, max_shift, max_shift))
  offsets = torch.randint(0, 2 * max_shift + 1, (b, 2))
  rows = torch.arange(h)[None, :] + offsets[:, :1]
  cols = torch.arange(w)[None, :] + offsets[:, 1:]
  return padded[torch.arange(b)[:, None, None], rows[:, :, None], cols[:, None, :]]


def kd_loss(s_logits, t_logits, labels, temperature, alpha):
  soft = F.kl_div(F.log_softmax(s_logits / temperature, -1),
                  F.log_softmax(t_logits / temperature, -1), log_target=True,
                  reduction='batchmean')
  return alpha * F.cross_entropy(s_logits, labels) + (
      (1 - alpha) * temperature**2 * soft)


class Step:
  """`step(idx)`: one update of `student` on examples idx of (images, labels)."""

  def __init__(self, student, teacher, images, labels, *, mean, std, shift=0,
               flip=False, lr=1e-3, weight_decay=0.0, temperature=4.0, alpha=0.1,
               bf16=False):
    self.student, self.teacher = student.train(), teacher and teacher.eval()
    self.images, self.labels = images, labels
    self.mean = torch.tensor(mean).view(1, -1, 1, 1)
    self.std = torch.tensor(std).view(1, -1, 1, 1)
    self.shift, self.flip = shift, flip
    self.temperature, self.alpha = temperature, alpha
    self.opt = torch.optim.Adam(student.parameters(), lr, weight_decay=weight_decay)
    self.precision = (lambda: torch.autocast('cpu', torch.bfloat16)) if bf16 else (
        contextlib.nullcontext)

  def __call__(self, idx):
    x, y = self.images[idx], self.labels[idx]
    if self.shift:
      x = translate(x, self.shift)
    x = (x.permute(0, 3, 1, 2).float() / 255 - self.mean) / self.std
    if self.flip:
      mirror = torch.rand(x.shape[0]) < 0.5
      x = torch.where(mirror[:, None, None, None], x.flip(3), x)
    with self.precision():
      logits = self.student(x)
      if self.teacher is None:
        loss = F.cross_entropy(logits, y)
      else:
        with torch.no_grad():
          t_logits = self.teacher(x)
        loss = kd_loss(logits, t_logits, y, self.temperature, self.alpha)
    self.opt.zero_grad(set_to_none=True)
    loss.backward()
    self.opt.step()
    return loss
