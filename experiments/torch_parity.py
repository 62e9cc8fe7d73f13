"""kdjax against plain PyTorch on the comparison study's CIFAR-10 CNN recipe
(issue 25): what made kdjax's runs end below PyTorch's, measured.

  python experiments/torch_parity.py
  # -> experiments/results/torch_parity/{tables.md, curves.png}

Settings (rows), each over the seeds it has:
- kdjax, Flax initialisation: Table 2's runs made before `model.param_init`
  existed (experiments/results/cifar10_cnn/flax_init/runs/).
- kdjax, PyTorch initialisation (`model.param_init='torch'`, the configs'
  default since): Table 2's runs (experiments/run_study.sh, collected in
  experiments/results/cifar10_cnn/runs/).
- PyTorch 2.13 (experiments/torch_reference/train.py, the same config file,
  the same decoded images): experiments/results/torch_parity/pytorch/runs/.

Every other candidate the issue lists (Adam's epsilon and bias correction,
the loss reduction, the max-pool's gradient, dropout's scaling, float32) is
deterministic given the weights and the batch, and is checked exactly by
tests/test_torch_parity.py instead of by training. What is left differs
only in random streams (initial weights, data order, flips, dropout masks).

Final-epoch test accuracy; mean ± sample std over seeds. kdjax settings of
one seed share data order and flips (paired t-test over seeds, McNemar per
seed); kdjax and PyTorch share no random stream (Welch's t-test over seeds;
McNemar per seed number, which tests two particular models). The last
table calibrates that McNemar: the p-values between two seeds of one and
the same setting.
"""

import itertools
import os

import matplotlib
import matplotlib.ticker
matplotlib.use('Agg')
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position
import numpy as np  # pylint: disable=wrong-import-position

from kdjax import errors  # pylint: disable=wrong-import-position
from kdjax import outputs  # pylint: disable=wrong-import-position
from kdjax.analysis import compare  # pylint: disable=wrong-import-position
from kdjax.analysis import stats  # pylint: disable=wrong-import-position
from kdjax.analysis import tables  # pylint: disable=wrong-import-position

accuracy = compare.accuracy

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'results')
OUT = os.path.join(RESULTS, 'torch_parity')
SETTINGS = (  # (label, folder of runs/<model>_s<seed>, framework, model.param_init)
    ('kdjax, Flax init', os.path.join(RESULTS, 'cifar10_cnn', 'flax_init', 'runs'), 'kdjax',
     'flax'),
    ('kdjax, PyTorch init', os.path.join(RESULTS, 'cifar10_cnn', 'runs'), 'kdjax', 'torch'),
    ('PyTorch 2.13', os.path.join(OUT, 'pytorch', 'runs'), 'pytorch', None),
)
MODELS = ('student', 'teacher')
CURVE_EPOCHS = (1, 2, 3, 5, 8, 13, 17, 20)


def load(folder, model, param_init) -> dict:
  """{seed: Run} of `folder`/<model>_s<seed>, each checked to be of the
  setting's initialisation (a folder of other runs is refused, not mixed in)."""
  runs = compare.by_row(folder).get(model, {})
  for run in runs.values():
    found = run.config['model'].get('param_init') if param_init else run.config.get('framework')
    if (param_init or 'pytorch') not in str(found):
      raise errors.DataError(f'{run.path}: model.param_init / framework {found!r}; '
                             f'expected {param_init or "pytorch"} for this setting')
  return runs


def _mcnemar(a, b):
  m = stats.mcnemar(a.predictions(), b.predictions(), names=(a.path, b.path))
  return f'{m.improved}/{m.degraded}, p = {tables.format_p(m.p_value)}'


def table(model, settings) -> list[str]:
  """The candidates' table of one model: each setting against the first
  (Flax init, paired by seed) and against PyTorch (unpaired)."""
  base_label, base = settings[0][0], settings[0][1]
  torch_label, reference = settings[-1][0], settings[-1][1]
  lines = [f'### {model}', '',
           f'| setting | seeds | final acc. % (per seed) | mean ± std | Δ vs {base_label} '
           f'(paired t p) | McNemar vs {base_label}, same seed (improved/degraded) '
           f'| Δ vs {torch_label} (Welch p) | McNemar vs {torch_label}, same seed number |',
           '|---|---|---|---:|---:|---|---:|---|']
  for label, runs, framework, _ in settings:
    if not runs:
      lines.append(f'| {label} | — | not run yet | | | | | |')
      continue
    seeds = sorted(runs)
    values = [accuracy(r) for r in runs.values()]
    text, mean = compare.summary(values), np.mean(values)
    per_seed = ', '.join(f'{accuracy(runs[s]):.2f}' for s in seeds)
    shared = [s for s in seeds if s in base]
    if runs is base or framework != 'kdjax' or not shared:
      vs_base, mc_base = '—', '—'
    else:
      delta = np.mean([accuracy(runs[s]) - accuracy(base[s]) for s in shared])
      p = stats.paired_t_test([accuracy(base[s]) for s in shared],
                              [accuracy(runs[s]) for s in shared])
      vs_base = f'{delta:+.2f} ({tables.format_p(p)})'
      mc_base = '; '.join(f's{s}: {_mcnemar(base[s], runs[s])}' for s in shared)
    if runs is reference or not reference:
      vs_torch, mc_torch = '—', '—'
    else:
      ref_mean = np.mean([accuracy(r) for r in reference.values()])
      p = stats.welch_t_test([accuracy(r) for r in reference.values()],
                             [accuracy(r) for r in runs.values()])
      vs_torch = f'{mean - ref_mean:+.2f} ({tables.format_p(p)})'
      mc_torch = '; '.join(f's{s}: {_mcnemar(reference[s], runs[s])}'
                           for s in seeds if s in reference) or '—'
    lines.append(f'| {label} | {",".join(map(str, seeds))} | {per_seed} | {text} | '
                 f'{vs_base} | {mc_base} | {vs_torch} | {mc_torch} |')
  return lines + ['']


def curves_table(model, settings) -> list[str]:
  lines = [f'### {model}: test accuracy % after each epoch (mean over seeds)', '',
           '| setting | ' + ' | '.join(f'ep. {e}' for e in CURVE_EPOCHS) +
           ' | final train acc. % |',
           '|---|' + '---:|' * (len(CURVE_EPOCHS) + 1)]
  for label, runs, _, _ in settings:
    if not runs:
      continue
    c = np.mean([r.test_curve() for r in runs.values()], axis=0)
    train = np.mean([r.metrics['history'][-1]['train_accuracy'] for r in runs.values()])
    lines.append(f'| {label} | ' + ' | '.join(
        f'{c[e - 1]:.2f}' if e <= len(c) else '—' for e in CURVE_EPOCHS) +
                 f' | {train:.2f} |')
  return lines + ['']


def calibration(model, settings) -> list[str]:
  """McNemar between two seeds of one setting: a recipe against itself."""
  lines = [f'### {model}: McNemar between seeds of the same setting', '',
           '| setting | seed pair | Δ (pt) | improved/degraded, p |', '|---|---|---:|---|']
  for label, runs, _, _ in settings:
    for a, b in itertools.combinations(sorted(runs), 2):
      lines.append(f'| {label} | s{a} → s{b} | '
                   f'{accuracy(runs[b]) - accuracy(runs[a]):+.2f} | '
                   f'{_mcnemar(runs[a], runs[b])} |')
  return lines + ['']


def plot(loaded, path):
  fig, axes = plt.subplots(1, len(MODELS), figsize=(6 * len(MODELS), 4), squeeze=False)
  for ax, model in zip(axes[0], MODELS):
    for label, runs, _, _ in loaded[model]:
      if not runs:
        continue
      c = np.array([r.test_curve() for r in runs.values()])
      epochs = np.arange(1, c.shape[1] + 1)
      ax.plot(epochs, c.mean(0), marker='o', ms=3, label=f'{label} (n={len(c)})')
      if len(c) > 1:
        ax.fill_between(epochs, c.min(0), c.max(0), alpha=0.2)
    ax.set(title=f'CIFAR-10 CNN {model}', xlabel='epoch', ylabel='test accuracy %')
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main():
  loaded = {m: [(label, load(folder, m, init), fw, init)
                for label, folder, fw, init in SETTINGS] for m in MODELS}
  lines = ['# kdjax against PyTorch: the CIFAR-10 CNN recipe', '',
           'Made by `python experiments/torch_parity.py` (the docstring says what '
           'each setting is). Adam 1e-3, batch 128 (390 steps per epoch, the last '
           'partial batch dropped), 20 epochs, horizontal flips, the same 50,000 / '
           '10,000 JPEG-decoded images; final-epoch test accuracy.', '',
           '## Final accuracy', '']
  for model in MODELS:
    lines += table(model, loaded[model])
  lines += ['## Curves', '']
  for model in MODELS:
    lines += curves_table(model, loaded[model])
  lines += ['## Calibration', '']
  for model in MODELS:
    lines += calibration(model, loaded[model])
  os.makedirs(OUT, exist_ok=True)
  outputs.write_text(os.path.join(OUT, 'tables.md'), '\n'.join(lines))
  plot(loaded, os.path.join(OUT, 'curves.png'))
  print(f'wrote {OUT}/tables.md, curves.png')


if __name__ == '__main__':
  main()
