"""experiments/cnn_ablation.py: the ResNet study's tables and claims from
collected runs (here fake ones whose accuracies are chosen)."""

import importlib.util
import math
import os

import pytest

from kdjax import outputs
from tests.conftest import REPO
from tests.test_analysis_report import fake_run

spec = importlib.util.spec_from_file_location(
    'cnn_ablation', os.path.join(REPO, 'experiments', 'cnn_ablation.py'))
cnn_ablation = importlib.util.module_from_spec(spec)
spec.loader.exec_module(cnn_ablation)


def _study(root, seeds=(0, 1, 2), kd_extra=0):
  """Errors out of 400: the baseline 80; T=1..16 at alpha=0.3: 70, 62, 54, 46, 20
  (higher T better, T=16 best); alpha line at T=4: 0.1: 66, 0.5: 50, 0.7: 58,
  0.9: 64 (0.5 best at T=4, the extremes worse); each KD run kd_extra more."""
  errors = {(1.0, 0.3): 70, (2.0, 0.3): 62, (4.0, 0.3): 54, (8.0, 0.3): 46,
            (16.0, 0.3): 20, (4.0, 0.1): 66, (4.0, 0.5): 50, (4.0, 0.7): 58,
            (4.0, 0.9): 64}
  runs = os.path.join(root, 'runs')
  for seed in seeds:
    shift = 3 * seed  # a seed's errors: a different subset, a similar count
    fake_run(runs, f'teacher_s{seed}', seed=seed, hidden=(1200, 1200), params=4000,
             errors_at=range(shift, shift + 10))
    fake_run(runs, f'student_s{seed}', seed=seed, method='kd', temperature=4.0, alpha=1.0,
             errors_at=range(shift, shift + 80))
    for (t, a), n in errors.items():
      fake_run(runs, f'{cnn_ablation.row_name((t, a))}_s{seed}', seed=seed, method='kd',
               temperature=t, alpha=a,
               errors_at=range(shift + seed, shift + n + kd_extra))


def _set_metrics(path, **fields):
  metrics = outputs.read_json(os.path.join(path, 'metrics.json'))
  metrics.update(fields)
  outputs.write_json(os.path.join(path, 'metrics.json'), metrics)


def _with_history(path, curve):
  _set_metrics(path, history=[{'epoch': i + 1, 'test_accuracy': a}
                              for i, a in enumerate(curve)])


def _epochs(run_dir):
  """The training epochs in a fake run's config.json."""
  return outputs.read_json(str(run_dir / 'config.json'))['train']['epochs']


def test_tables_and_claims_from_runs(tmp_path):
  _study(str(tmp_path))
  for seed in (0, 1, 2):
    _with_history(str(tmp_path / 'runs' / f'student_s{seed}'),
                  [60 + e + seed for e in range(20)])
  longer = fake_run(str(tmp_path / 'epochs'), 'student_e40_s0', seed=0, method='kd',
                    temperature=4.0, alpha=1.0, errors_at=range(0, 70))
  _with_history(longer, [60 + e / 2 for e in range(40)])
  shorter = fake_run(str(tmp_path / 'e20' / 'runs'), 'student_s0', seed=0, method='kd',
                     temperature=4.0, alpha=1.0, errors_at=range(0, 90))
  _with_history(shorter, [60 + e for e in range(10)])
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  for png in ('baseline_curve.png', 'temperature.png', 'alpha.png'):
    assert (tmp_path / png).stat().st_size > 0
    assert f']({png})' in (tmp_path / 'tables.md').read_text()
  tables = (tmp_path / 'tables.md').read_text()
  assert '| Student (baseline) | 1,000 | 4.0× | 80.00 ± 0.00 | 80.00–80.00 | 3 | — | — | — | 92.10 | — |' in tables
  assert ('- baseline (20 epochs), mean of seeds [0, 1, 2]: final 80.00 %; last 5 epochs '
          '76.00, 77.00, ') in tables
  assert '- 40 epochs, seed 0, alone: final 79.50 %' in tables
  assert ("- 40 epochs (alone) against the baseline's 20, seed 0: +2.50 pt; McNemar "
          '10 improved / 0 degraded, p = ') in tables
  assert ("- 10 epochs (in the 20-epoch grid) against the baseline's 20, seed 0: -2.50 pt; "
          'McNemar 0 improved / 10 degraded, p = ') in tables
  assert tables.index('- 10 epochs (in') < tables.index('- 40 epochs (alone)')
  assert tables.count('\n| 16 | ') == 1 and tables.count('\n| 0.5 | 50% | 50% | ') == 1
  assert '| Teacher | 4,000 | 1.0× | 97.50 ± 0.00 |' in tables
  epochs = _epochs(tmp_path / 'runs' / 'teacher_s0')
  assert f'teacher {epochs} epochs, students {epochs} epochs (cosine over each run)' in tables
  claims = (tmp_path / 'claims.md').read_text()
  for n in range(1, 6):
    assert f'\n## {n}. ' in claims
  assert '## 1. KD improves the student (every setting above the baseline): **held**' in claims
  assert '## 2. Higher T is better (α = 0.3): **held**' in claims
  assert '## 3. T=16, α=0.3 is the best setting: **held**' in claims
  assert '## 4. α=0.5 is the best α at T=4: **' in claims
  assert '## 5. The extreme α are worse than the best middle α (α=0.5 at T=4): **' in claims


def test_a_longer_schedule_on_several_seeds_gets_a_paired_t_test(tmp_path):
  _study(str(tmp_path), seeds=(0, 1))
  for seed, errors in ((0, 70), (1, 60)):  # against the baselines' 80 of 400
    _with_history(str(tmp_path / 'runs' / f'student_s{seed}'), [70 + e for e in range(10)])
    longer = fake_run(str(tmp_path / 'epochs'), f'student_e20_s{seed}', seed=seed,
                      method='kd', temperature=4.0, alpha=1.0, errors_at=range(errors))
    _with_history(longer, [70 + e / 2 for e in range(20)])
  longest = fake_run(str(tmp_path / 'epochs'), 'student_e100_s0', seed=0, method='kd',
                     temperature=4.0, alpha=1.0, errors_at=range(50))
  _with_history(longest, [70 + e / 10 for e in range(100)])
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  tables = (tmp_path / 'tables.md').read_text()
  # listed by length, not by name ('e100' sorts before 'e20')
  assert tables.index('- 20 epochs, seed 0, alone') < tables.index('- 100 epochs, seed 0, alone')
  # against the next shorter run of its seed: 20 images it fixes, none it breaks,
  # exact binomial p = 2 * 2 ** -20
  assert ('- 100 epochs against 20, both alone, seed 0: +5.00 pt; McNemar '
          f'20 improved / 0 degraded, p = {2 * 0.5 ** 20:.2g}\n') in tables
  assert 'against 20, both alone, seed 1' not in tables
  # gains +2.5 and +5 pt: mean 3.75, std 2.5 / 2 ** 0.5, standard error 1.25,
  # t = 3 with 1 degree of freedom: p = 2 * (1/2 - atan(3) / pi) = 0.2048
  assert 2 * (0.5 - math.atan(3) / math.pi) == pytest.approx(0.2048, abs=1e-4)
  assert ("- 20 epochs (alone) against the baseline's 10, mean over seeds [0, 1]: "
          '+3.75 pt; paired t-test p = 0.2\n') in tables
  # seed 1's baseline misses images 3..82 (the fake seed's shift), the longer run 0..59
  assert "seed 1: +5.00 pt; McNemar 23 improved / 3 degraded" in tables


def test_a_claim_that_fails_is_not_held(tmp_path):
  _study(str(tmp_path), seeds=(0, 1))
  os.rename(tmp_path / 'runs' / 'kd_t16.0_a0.3_s0', tmp_path / 'kd_t16_gone')
  os.rename(tmp_path / 'runs' / 'kd_t16.0_a0.3_s1', tmp_path / 'kd_t16_gone1')
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  claims = (tmp_path / 'claims.md').read_text()
  assert '## 3.' not in claims  # no T=16 runs: the claim is not checked
  assert '## 2. Higher T is better (α = 0.3): **held**' in claims


def test_compute_counts_each_grid_once_and_marks_resumed_walls(tmp_path):
  _study(str(tmp_path), seeds=(0, 1))
  runs = tmp_path / 'runs'
  for seed, (teacher, grid) in enumerate([(1800.0, 5400.0), (3600.0, 7200.0)]):
    _set_metrics(str(runs / f'teacher_s{seed}'), train_seconds=teacher)
    (runs / f'teacher_s{seed}' / 'wall_seconds.txt').write_text(f'{int(teacher) + 60}\n')
    for name in [f'student_s{seed}'] + [f'{cnn_ablation.row_name(k)}_s{seed}'
                                        for k in cnn_ablation.SETTINGS]:
      _set_metrics(str(runs / name), train_seconds=grid / 10,
                   grid={'students': 10, 'train_seconds': grid})
      (runs / name / 'wall_seconds.txt').write_text(
          '600\nresumed from a checkpoint' if seed == 0 else f'{int(grid) + 100}\n')
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  tables = (tmp_path / 'tables.md').read_text()
  assert '| 0 | 1,800 | 1860 | 10 | 5,400 | ≥ 600 | 2.00 |' in tables
  assert '| 1 | 3,600 | 3660 | 10 | 7,200 | 7300 | 3.00 |' in tables
  assert 'Total training time over these seeds: 5.00 h.' in tables


def test_one_seed_plots_the_runs_wilson_intervals(tmp_path):
  _study(str(tmp_path), seeds=(0,))
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  groups = cnn_ablation.load(str(tmp_path))
  assert all(len(g.runs) == 1 for g in groups.values())
  for png in ('temperature.png', 'alpha.png'):
    assert (tmp_path / png).stat().st_size > 0


def test_schedules_compares_each_settings_delta_with_the_short_grids(tmp_path):
  _study(str(tmp_path), seeds=(0, 1))
  _study(str(tmp_path / 'e20'), seeds=(0,), kd_extra=4)  # every KD run 1 pt lower
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  tables = (tmp_path / 'tables.md').read_text()
  n = _epochs(tmp_path / 'runs' / 'student_s0')
  assert f'## Schedule: the {n}-epoch grids against these' in tables
  assert 'Seeds [0]; Δ' in tables  # only the seed both have
  assert '| T=16, α=0.3 | 94.00 | +14.00 | 95.00 | +15.00 | +1.00 |' in tables
  assert '| baseline | 80.00 | — | 80.00 | — | — |' in tables
  assert 'Settings above their baseline: 9 of 9' in tables
  assert 'Best setting: T=16, α=0.3 at' in tables
  assert "Spearman's ρ between the two schedules' Δ over the 9 settings: +1.00" in tables


def test_students_with_one_seed_get_wilson_intervals_while_teachers_have_three(
    tmp_path, monkeypatch):
  _study(str(tmp_path), seeds=(0,))
  for seed in (1, 2):  # the teachers of the next seeds, finished before their grids
    fake_run(str(tmp_path / 'runs'), f'teacher_s{seed}', seed=seed, hidden=(1200, 1200),
             params=4000, errors_at=range(10))
  wilson = []
  real = cnn_ablation.stats.wilson_interval
  monkeypatch.setattr(cnn_ablation.stats, 'wilson_interval',
                      lambda *a: wilson.append(a) or real(*a))
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  assert len(wilson) == 5 + 5 + 2  # the T and α points, and the baseline band in each plot
  assert "Final-epoch test accuracy, students' seeds [0];" in (tmp_path / 'tables.md').read_text()


def test_learning_speed_tracks_each_setting_against_the_baseline_per_epoch(tmp_path):
  _study(str(tmp_path), seeds=(0, 1))
  runs = tmp_path / 'runs'
  for seed in (0, 1):
    _with_history(str(runs / f'student_s{seed}'), [50 + 3 * e for e in range(8)])  # ends 71
    _with_history(str(runs / f'kd_t4.0_a0.5_s{seed}'), [60 + 2 * e + seed for e in range(8)])
    _with_history(str(runs / f'kd_t1.0_a0.3_s{seed}'), [40 + e for e in range(8)])
  cnn_ablation.main(['cnn_ablation.py', str(tmp_path)])
  tables = (tmp_path / 'tables.md').read_text()
  assert "reaches the baseline's final 71.00 %" in tables
  assert ('| Setting | epoch 1 | epoch 2 | epoch 4 | epoch 6 | epoch 8 | '
          'epoch 2: paired t p | reaches it at |') in tables
  # kd_t4 a0.5: 60.5 + 2e against 50 + 3e; it reaches 71 at epoch 7 (72.5). Its
  # Δ at epoch 2 per seed: 9 and 10, so t = 9.5 / (0.5 ** 0.5 / 2 ** 0.5) = 19
  # with 1 degree of freedom: p = 2 * (1/2 - atan(19) / pi) = 0.0335.
  assert '| T=4, α=0.5 | +10.50 | +9.50 | +7.50 | +5.50 | +3.50 | 0.033 | 7 |' in tables
  assert 2 * (0.5 - math.atan(19) / math.pi) == pytest.approx(0.033475, abs=1e-6)
  # T=1: -12 on both seeds, no spread: p 0 by stats.paired_t_test's convention
  assert '| T=1, α=0.3 | -10.00 | -12.00 | -16.00 | -20.00 | -24.00 | 0 | never |' in tables
  section = tables[tables.index('## KD during training'):tables.index('(kd_gap.png)')]
  assert section.count('\n| T=') == 2  # the settings without a history are left out
  assert (tmp_path / 'kd_gap.png').stat().st_size > 0
