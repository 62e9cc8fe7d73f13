"""The comparison study's CIFAR-10 CNNs trained in plain PyTorch: the reference
that kdjax's runs of the same recipe are compared with (issue 25).

The recipe is read from kdjax's own config file (optimizer, learning rate,
weight decay, batch, epochs, flip, model widths, dropout), the images from
kdjax's loader (the same decoded uint8 arrays, checked by the test set's
fingerprint), so that only the framework differs: PyTorch's default
initialisation (`nn.Conv2d`/`nn.Linear` `reset_parameters`), a `torch.randperm`
order per epoch with the last partial batch dropped, a per-image flip drawn
with `torch.rand`, `nn.Dropout`, `F.cross_entropy` (mean), `torch.optim.Adam`.

  pip install -e '.[torch]'
  python experiments/torch_reference/train.py --config=configs/cifar10_cnn/student.py \
      --data_dir=../shared/data/cifar10-jpeg --seed=0 --workdir=runs/torch/student_s0

The workdir gets what a kdjax run writes for the analysis: config.json (the
kdjax config plus `framework`), metrics.json (the final epoch's test accuracy,
the per-epoch history, the test set's fingerprint) and predictions/test.npz,
so `python -m kdjax.analysis mcnemar --a=KDJAX_RUN --b=THIS_RUN` compares
them. A checkpoint after every epoch (checkpoint.pt: model, Adam, RNG state,
history) lets the same command resume, bit for bit; a finished workdir is
left as it is, and one holding another config is refused.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'bench'))
import torch_steps  # pylint: disable=g-import-not-at-top,wrong-import-position

from kdjax import data  # pylint: disable=wrong-import-position
from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax import sweep  # pylint: disable=wrong-import-position


def fail(message):
  print(f'train.py: error: {message}', file=sys.stderr)
  sys.exit(2)


def load_config(path, seed, data_dir, epochs):
  """The kdjax config the run follows, checked to be a recipe this script runs."""
  config = sweep.point_config({'config': path}, {})
  config.seed = seed
  config.dataset.data_dir = data_dir
  if epochs:
    config.train.epochs = epochs
  model, opt = config.model, config.optimizer
  if model.name != 'cnn' or tuple(model.pool) or config.method != 'none':
    fail(f'{path}: model {model.name} (pool {tuple(model.pool)}), method '
         f'{config.method}; expected a plain cnn trained with cross-entropy')
  if opt.name != 'adam' or opt.schedule != 'constant' or config.dataset.translate:
    fail(f'{path}: optimizer {opt.name}/{opt.schedule}, translate '
         f'{config.dataset.translate}; expected constant-lr adam, flips only')
  return config


def evaluate(model, images, labels, mean, std, batch=1000):
  """(logits float32 [N, C], mean CE) of `model` in eval mode."""
  model.eval()
  chunks = []
  with torch.no_grad():
    for i in range(0, len(labels), batch):
      x = images[i:i + batch].permute(0, 3, 1, 2).float() / 255
      chunks.append(model((x - mean) / std))
  logits = torch.cat(chunks)
  loss = float(F.cross_entropy(logits, labels))
  model.train()
  return logits.numpy().astype(np.float32), loss


def main():
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--config', required=True, help='a kdjax config file (cnn, CE)')
  parser.add_argument('--data_dir', required=True)
  parser.add_argument('--workdir', required=True)
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--epochs', type=int, default=0, help='0: the config\'s')
  parser.add_argument('--threads', type=int, default=os.cpu_count())
  args = parser.parse_args()
  torch.set_num_threads(args.threads)
  config = load_config(args.config, args.seed, args.data_dir, args.epochs)
  saved = dict(json.loads(config.to_json()),
               framework=f'pytorch {torch.__version__.split("+")[0]}')
  os.makedirs(args.workdir, exist_ok=True)
  config_path = os.path.join(args.workdir, 'config.json')
  if os.path.exists(config_path):
    if outputs.read_json(config_path) != json.loads(json.dumps(saved)):
      fail(f'workdir {args.workdir!r} holds a run of another config; expected '
           'the same command to resume, or a new --workdir')
  else:
    outputs.write_json(config_path, saved)
  if os.path.exists(os.path.join(args.workdir, 'metrics.json')):
    print(f'{args.workdir}: finished, left as it is')
    return

  ds = data.load(config.dataset)
  train_x, train_y = torch.from_numpy(ds.train.images), torch.from_numpy(
      ds.train.labels.astype(np.int64))
  test_x, test_y = torch.from_numpy(ds.test.images), torch.from_numpy(
      ds.test.labels.astype(np.int64))
  mean = torch.tensor(ds.mean).view(1, -1, 1, 1)
  std = torch.tensor(ds.std).view(1, -1, 1, 1)
  m = config.model
  torch.manual_seed(config.seed)
  model = torch_steps.cnn(m.convs, m.dense, m.dropout, channels=ds.image_shape[-1],
                          size=ds.image_shape[0], num_classes=ds.num_classes)
  opt = torch.optim.Adam(model.parameters(), config.optimizer.learning_rate,
                         weight_decay=config.optimizer.weight_decay)
  history, ckpt = [], os.path.join(args.workdir, 'checkpoint.pt')
  if os.path.exists(ckpt):
    state = torch.load(ckpt, weights_only=False)
    model.load_state_dict(state['model'])
    opt.load_state_dict(state['opt'])
    torch.set_rng_state(state['rng'])
    history = state['history']
    print(f'{args.workdir}: resumed after epoch {len(history)}')
  batch, steps = config.train.batch_size, len(train_y) // config.train.batch_size
  model.train()
  for epoch in range(len(history) + 1, config.train.epochs + 1):
    start, loss_sum, correct = time.perf_counter(), 0.0, 0
    order = torch.randperm(len(train_y))
    for step in range(steps):
      idx = order[step * batch:(step + 1) * batch]
      x = (train_x[idx].permute(0, 3, 1, 2).float() / 255 - mean) / std
      if config.dataset.flip:
        mirror = torch.rand(batch) < 0.5
        x = torch.where(mirror[:, None, None, None], x.flip(3), x)
      logits = model(x)
      loss = F.cross_entropy(logits, train_y[idx])
      opt.zero_grad(set_to_none=True)
      loss.backward()
      opt.step()
      loss_sum += float(loss.detach())
      correct += int((logits.argmax(1) == train_y[idx]).sum())
    seconds = time.perf_counter() - start
    rng = torch.get_rng_state()  # evaluation draws nothing; kept for resume
    logits, test_loss = evaluate(model, test_x, test_y, mean, std)
    history.append(dict(
        epoch=epoch, step=epoch * steps, seconds=seconds,
        train_loss=loss_sum / steps, train_accuracy=100 * correct / (steps * batch),
        test_loss=test_loss,
        test_accuracy=100 * float((logits.argmax(1) == ds.test.labels).mean()),
        train_samples_per_sec=steps * batch / seconds))
    print(f'epoch {epoch}: loss {history[-1]["train_loss"]:.4f}, train '
          f'{history[-1]["train_accuracy"]:.2f} %, test '
          f'{history[-1]["test_accuracy"]:.2f} %, {seconds:.0f} s', flush=True)
    tmp = ckpt + '.tmp'
    torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), rng=rng,
                    history=history), tmp)
    os.replace(tmp, ckpt)

  logits, test_loss = evaluate(model, test_x, test_y, mean, std)
  predictions = logits.argmax(1)
  errors = int((predictions != ds.test.labels).sum())
  outputs.write_predictions(os.path.join(args.workdir, 'predictions', 'test.npz'),
                            ds.test.labels, logits)
  outputs.write_json(os.path.join(args.workdir, 'metrics.json'), dict(
      framework=saved['framework'], torch_threads=args.threads, seed=config.seed,
      dataset=config.dataset.name, data_source=ds.source, epochs=config.train.epochs,
      steps=config.train.epochs * steps, model=m.name,
      params=sum(p.numel() for p in model.parameters()),
      test=dict(accuracy=100 * (1 - errors / len(predictions)), count=len(predictions),
                errors=errors, loss=test_loss),
      test_fingerprint=data.fingerprint(ds.test),
      train_seconds=sum(h['seconds'] for h in history), history=history))
  print(f'{args.workdir}: test accuracy {100 * (1 - errors / len(predictions)):.2f} %')


if __name__ == '__main__':
  main()
