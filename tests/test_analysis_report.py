"""Grouping of runs, the report (deterministic) and the analysis CLI."""

import os
import re

import numpy as np
import pytest

from kdjax import config as config_lib
from kdjax import errors
from kdjax import outputs
from kdjax.analysis import report
from kdjax.analysis import runs as runs_lib
from kdjax.analysis import stats
from kdjax.analysis import tables

N, C = 400, 10


def fake_run(root, name, *, seed, method='none', hidden=(800, 800), bn=False,
             temperature=20.0, alpha=0.1, errors_at=(), params=1000, latency=0.2,
             **recorded):
  """A finished run on disk whose predictions are wrong exactly at `errors_at`;
  `recorded`: more metrics.json keys (test_fingerprint, finished...)."""
  config = config_lib.get_base_config()
  config.seed = seed
  config.method = method
  config.model = config_lib.mlp(hidden, bn_residual=bn)
  config.distill.temperature = temperature
  config.distill.alpha = alpha
  config.dataset.data_dir = f'/data/{seed}'  # must not split groups
  path = os.path.join(root, name)
  labels = (np.arange(N) % C).astype(np.int32)
  predictions = labels.copy()
  predictions[list(errors_at)] = (labels[list(errors_at)] + 1) % C
  logits = np.eye(C, dtype=np.float32)[predictions]
  outputs.write_json(os.path.join(path, 'config.json'), config.to_dict())
  outputs.write_predictions(os.path.join(path, 'predictions', 'test.npz'), labels, logits)
  errors = len(errors_at)
  outputs.write_json(os.path.join(path, 'metrics.json'), {
      'params': params, 'method': method,
      'test': {'accuracy': 100 * (1 - errors / N), 'errors': errors, 'count': N},
      'latency': {'ms_per_sample_mean': latency, 'ms_per_sample_std': 0.01},
      **recorded})
  return path


@pytest.fixture
def study(tmp_path):
  root = str(tmp_path / 'runs')
  rng = np.random.default_rng(0)
  for seed in (0, 1, 2):
    wrong = lambda k: rng.choice(N, k, replace=False)
    fake_run(root, f'teacher_s{seed}', seed=seed, hidden=(1200, 1200),
             errors_at=wrong(8), params=2000, latency=0.4)
    fake_run(root, f'student_s{seed}', seed=seed, errors_at=wrong(20))
    fake_run(root, f'kd_s{seed}', seed=seed, method='kd', errors_at=wrong(12))
    fake_run(root, f'kd_t4_s{seed}', seed=seed, method='kd', temperature=4.0,
             errors_at=wrong(15))
    fake_run(root, f'student_bn_s{seed}', seed=seed, bn=True, errors_at=wrong(18))
  return root


def test_groups_by_config_not_by_name(study):
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(study, '*')))
  assert sorted(g.name for g in groups) == ['kd', 'kd_t4', 'student', 'student_bn',
                                            'teacher']
  assert all([r.seed for r in g.runs] == [0, 1, 2] for g in groups)


def test_default_comparisons(study):
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(study, '*')))
  pairs = {(a.name, b.name) for a, b in report.default_comparisons(groups)}
  assert pairs == {('student', 'kd'), ('student', 'kd_t4'), ('student', 'student_bn')}
  assert report.find_teacher(groups).name == 'teacher'


def test_report_is_deterministic_and_correct(study, tmp_path):
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(study, '*')))
  out = str(tmp_path / 'report')
  first = open(report.write(groups, out)).read()
  second = open(report.write(
      runs_lib.group(runs_lib.load_glob(os.path.join(study, '*'))), out)).read()
  assert first == second
  assert first.index('| teacher |') < first.index('| student |') < first.index('| kd |')
  # The McNemar row of student -> kd, seed 1, matches a direct computation.
  direct = stats.mcnemar(outputs.read_predictions(f'{study}/student_s1/predictions/test.npz'),
                         outputs.read_predictions(f'{study}/kd_s1/predictions/test.npz'))
  assert f'| student → kd | 1 | {direct.improved} | {direct.degraded} |' in first
  assert '| teacher | mlp 1200-1200 | 3 | 8.0 |' in first
  for png in ('accuracy_vs_params.png', 'accuracy_vs_latency.png', 'sweep_T_0.png'):
    assert os.path.getsize(os.path.join(out, png)) > 1000


def test_report_without_a_teacher_leaves_the_teacher_columns_empty(study, tmp_path):
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(study, 'kd*')))
  text = open(report.write(groups, str(tmp_path / 'report'))).read()
  assert 'nan' not in text
  row = next(line for line in text.splitlines() if line.startswith('| kd_t4 | '))
  assert row.split(' | ')[6:8] == ['—', '—'] and row.endswith(' | — |')


@pytest.fixture
def kdjax_analysis(cli):
  """`python -m kdjax.analysis ARGS...` (through the `cli` server)."""
  return lambda *args: cli(*args, module='kdjax.analysis')


def test_cli_mcnemar(kdjax_analysis, study):
  result = kdjax_analysis('mcnemar', f'--a={study}/student_s0',
                          f'--b={study}/kd_s0/predictions/test.npz')
  assert result.returncode == 0, result.stderr
  assert 'improved (wrong in A, right in B):' in result.stdout
  assert 'test used: ' in result.stdout and 'significant at 0.05: ' in result.stdout


def test_cli_mcnemar_refuses_other_test_sets(kdjax_analysis, study, tmp_path):
  other = fake_run(str(tmp_path), 'other', seed=0)
  path = os.path.join(other, 'predictions', 'test.npz')
  data = outputs.read_predictions(path)
  outputs.write_predictions(path, data['labels'][:-5], data['logits'][:-5])
  result = kdjax_analysis('mcnemar', f'--a={study}/student_s0', f'--b={other}')
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith('kdjax: error: ')
  assert 'has 400 test labels' in result.stderr and 'Traceback' not in result.stderr


def test_cli_report(kdjax_analysis, study, tmp_path):
  out = str(tmp_path / 'rep')
  result = kdjax_analysis('report', f'--runs={study}/*', f'--out={out}',
                          '--pairs=student:kd')
  assert result.returncode == 0, result.stderr
  text = open(os.path.join(out, 'report.md')).read()
  assert '| student → kd |' in text and 'student → student_bn' not in text
  bad = kdjax_analysis('report', f'--runs={study}/*', f'--out={out}', '--pairs=x:kd')
  assert bad.returncode == 2 and "--pairs entry 'x:kd' is invalid" in bad.stderr


def test_several_globs_are_merged(study):
  both = runs_lib.load_glob(os.path.join(study, 'teacher_*'), os.path.join(study, 'kd_s*'),
                            os.path.join(study, 'kd_s0'))
  assert sorted(os.path.basename(r.path) for r in both) == [
      'kd_s0', 'kd_s1', 'kd_s2', 'teacher_s0', 'teacher_s1', 'teacher_s2']
  with pytest.raises(errors.DataError, match="--runs='nothing/\\*' matches no finished run"):
    runs_lib.load_glob(os.path.join(study, 'kd_s*'), 'nothing/*')


def test_error_bars_are_the_std_over_seeds_and_absent_with_one_seed(study):
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(study, '*')))
  kd = next(g for g in groups if g.name == 'kd')
  assert report._error_bar(kd) == pytest.approx(0.0)  # 12 errors in each seed
  assert report._ylabel(groups) == 'test accuracy (%), mean ± std over seeds'
  one = runs_lib.group(runs_lib.load_glob(os.path.join(study, '*_s0')))
  assert [report._error_bar(g) for g in one] == [0.0] * len(one)
  assert report._ylabel(one) == 'test accuracy (%), one seed: no error bars'
  mixed = [runs_lib.load(os.path.join(study, f'student_s{s}')) for s in (0, 1)]
  fake_run(study, 'student_s9', seed=9, errors_at=range(40))  # 10 % below the others
  mixed.append(runs_lib.load(os.path.join(study, 'student_s9')))
  g = runs_lib.group(mixed)[0]
  assert report._error_bar(g) == pytest.approx(np.std([95.0, 95.0, 90.0], ddof=1))


def _two_kd_folders(tmp_path):
  """runs/{student,kd}_s* (KD at T=4) and exp_b/kd_s* (KD at T=2): two
  configurations whose folders are both named kd."""
  for seed in (0, 1):
    fake_run(str(tmp_path / 'runs'), f'student_s{seed}', seed=seed, errors_at=range(20))
    fake_run(str(tmp_path / 'runs'), f'kd_s{seed}', seed=seed, method='kd',
             temperature=4.0, errors_at=range(5))
    fake_run(str(tmp_path / 'exp_b'), f'kd_s{seed}', seed=seed, method='kd',
             temperature=2.0, errors_at=range(15, 30))
  return [str(tmp_path / 'runs' / '*'), str(tmp_path / 'exp_b' / '*')]


def test_groups_of_one_folder_name_are_named_apart(tmp_path):
  """Issue 26, item 3: runs/kd (T=4) and exp_b/kd (T=2) were both named kd,
  and `--pairs=student:kd` tested whichever came last."""
  groups = runs_lib.group(runs_lib.load_glob(*_two_kd_folders(tmp_path)))
  assert {g.name: dict(g.key)['distill.temperature'] for g in groups
          if g.method == 'kd'} == {'runs/kd': 4.0, 'exp_b/kd': 2.0}
  assert [g.name for g in groups if g.method == 'none'] == ['student']
  student, exp_b = (runs_lib.named(groups, n, 'x') for n in ('student', 'exp_b/kd'))
  assert dict(exp_b.key)['distill.temperature'] == 2.0
  text = report.build(groups, [(student, exp_b)])
  assert '| student → exp_b/kd | 0 | 15 | 10 |' in text  # errors 0-19 -> 15-29
  with pytest.raises(errors.ConfigError, match=(
      r"x is ambiguous: 'kd' names 2 groups: exp_b/kd \(mlp 800-800, kd T=2 α=0.1, "
      r'e.g. .*exp_b/kd_s0\); runs/kd \(mlp 800-800, kd T=4 α=0.1, e.g. .*runs/kd_s0\)')):
    runs_lib.named(groups, 'kd', 'x')
  with pytest.raises(errors.ConfigError, match=r"x is invalid: no group is named 'kd2'"):
    runs_lib.named(groups, 'kd2', 'x')


def test_cli_report_refuses_an_ambiguous_pair(kdjax_analysis, tmp_path):
  out = str(tmp_path / 'rep')
  result = kdjax_analysis('report', *[f'--runs={g}' for g in _two_kd_folders(tmp_path)],
                          f'--out={out}', '--pairs=student:kd')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("kdjax: error: --pairs entry 'student:kd' is ambiguous: 'kd' "
                         'names 2 groups: exp_b/kd (mlp 800-800, kd T=2 '), last
  assert 'runs/kd (mlp 800-800, kd T=4 ' in last
  assert not os.path.exists(os.path.join(out, 'report.md'))


def test_cli_mcnemar_refuses_other_test_fingerprints_with_the_same_labels(kdjax_analysis,
                                                                          tmp_path):
  """Issue 26, item 4: two image folders of one layout (the same labels,
  other images) were compared; their metrics.json record other fingerprints."""
  a = fake_run(str(tmp_path), 'a', seed=0, test_fingerprint='1111aaaa1111aaaa')
  b = fake_run(str(tmp_path), 'b', seed=0, errors_at=range(3),
               test_fingerprint='2222bbbb2222bbbb')
  result = kdjax_analysis('mcnemar', f'--a={a}', f'--b={b}/predictions/test.npz')
  assert result.returncode == 2 and 'Traceback' not in result.stderr, result.stderr
  assert result.stderr.strip().splitlines()[-1] == (
      f'kdjax: error: {a} was tested on the test set with fingerprint 1111aaaa1111aaaa, '
      f'{b}/predictions/test.npz on 2222bbbb2222bbbb; expected predictions on the '
      'same test set')
  # The same data (e.g. a PyTorch reference run of it) still compares.
  same = fake_run(str(tmp_path), 'same', seed=0, errors_at=range(3),
                  test_fingerprint='1111aaaa1111aaaa')
  result = kdjax_analysis('mcnemar', f'--a={a}', f'--b={same}')
  assert result.returncode == 0 and 'degraded (right in A, wrong in B): 3' in result.stdout


def test_report_refuses_a_pair_of_other_test_fingerprints(tmp_path):
  root = str(tmp_path)
  fake_run(root, 'student_s0', seed=0, test_fingerprint='1111aaaa1111aaaa')
  fake_run(root, 'kd_s0', seed=0, method='kd', test_fingerprint='2222bbbb2222bbbb')
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(root, '*')))
  student, kd = (runs_lib.named(groups, n, 'x') for n in ('student', 'kd'))
  with pytest.raises(errors.DataError, match=(
      r'student_s0 was tested on the test set with fingerprint 1111aaaa1111aaaa, '
      r'.*kd_s0 on 2222bbbb2222bbbb')):
    report.mcnemar_rows([(student, kd)])


def test_unfinished_runs_are_refused(tmp_path):
  """Issue 26, item 6: eval of a run killed at step 44 of 132 wrote a
  metrics.json that the report listed as final."""
  root = str(tmp_path)
  fake_run(root, 'kd_s0', seed=0, method='kd', finished=True)
  fake_run(root, 'kd_s1', seed=1, method='kd')  # saved before the key: finished
  killed = fake_run(root, 'kd_s2', seed=2, method='kd', finished=False,
                    evaluated_step=44)
  says = re.escape(f'{killed} is an unfinished run (metrics.json: finished false, '
                   'evaluated at step 44); expected finished runs')
  with pytest.raises(errors.DataError, match=says):
    runs_lib.load_glob(os.path.join(root, '*'))
  assert len(runs_lib.load_glob(os.path.join(root, 'kd_s[01]'))) == 2
  with pytest.raises(errors.DataError, match=says):
    tables.results_table([killed])
  with pytest.raises(errors.DataError, match=says):  # mcnemar's input
    runs_lib.read_predictions(os.path.join(killed, 'predictions', 'test.npz'))


def test_a_method_added_after_the_latency_measurement_takes_its_architectures_row(study):
  """The latency file names the groups it measured; a later method on the same
  student architecture (even drawn with another param_init) reads that row,
  not its own run's noisy timing; another architecture reads none."""
  groups = {g.name: g for g in runs_lib.group(runs_lib.load_glob(os.path.join(study, '*')))}
  student = groups['student'].first.config
  row = {'runs': ['student'], 'model': dict(student['model'], param_init='flax'),
         'image_shape': [28, 28, 1], 'dtype': 'float32', 'median_ms': 0.123,
         'speedup_vs_reference': [3.0, 2.9, 3.1]}
  latency = {'batches': {'1': [row]}, 'reference': ['teacher'], 'device': 'cpu'}
  assert report.arch_latency(latency, groups['kd_t4']) == (0.123, [3.0, 2.9, 3.1])
  assert report.arch_latency(latency, groups['student_bn']) is None
  assert report.arch_latency(latency, groups['teacher']) is None


def test_sweeps_and_order_come_from_the_registry(tmp_path):
  """Any method's keys with a symbol make sweep plots (here DKD's β, named by
  its symbol), and rows follow the registry's order of methods, not names."""
  root = str(tmp_path / 'runs')
  for seed in (0, 1):
    for name, method, beta in (('a_dkd_b2', 'dkd', 2.0), ('a_dkd_b8', 'dkd', 8.0),
                               ('z_kd', 'kd', None)):
      path = fake_run(root, f'{name}_s{seed}', seed=seed, method=method,
                      errors_at=range(10 + seed))
      if beta is not None:
        saved = outputs.read_json(os.path.join(path, 'config.json'))
        saved['dkd']['beta'] = beta
        outputs.write_json(os.path.join(path, 'config.json'), saved)
  groups = runs_lib.group(runs_lib.load_glob(os.path.join(root, '*')))
  found = report.sweeps(groups)
  assert [(key.path, [v for v, _ in sweep]) for key, sweep in found] == [
      ('dkd.beta', [2.0, 8.0])]
  text = open(report.write(groups, str(tmp_path / 'report'))).read()
  assert text.index('| z_kd |') < text.index('| a_dkd_b2 |')  # kd before dkd
  assert os.path.getsize(str(tmp_path / 'report' / 'sweep_beta_0.png')) > 1000
  assert not os.path.exists(str(tmp_path / 'report' / 'sweep_T_0.png'))
