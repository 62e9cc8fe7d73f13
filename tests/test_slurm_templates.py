"""The SLURM templates in experiments/slurm/ run their commands as written
(outside SLURM, with `srun` as a pass-through): each trains a tiny run."""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

SLURM = os.path.join(REPO, 'experiments', 'slurm')
TINY = ['--config.train.epochs=1', '--config.model.hidden=(8,)',
        '--config.latency.repeats=2']


def run_template(name, args, tmp_path, **env):
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir(exist_ok=True)
  (bin_dir / 'srun').write_text('#!/bin/bash\nexec "$@"\n')
  (bin_dir / 'srun').chmod(0o755)
  environ = {k: v for k, v in os.environ.items() if not k.startswith('SLURM_')}
  # `python` is this interpreter, as after activating KDJAX_VENV.
  python_dir = os.path.dirname(sys.executable)
  environ.update(PATH=f'{bin_dir}:{python_dir}:{environ["PATH"]}', PYTHONPATH=REPO, **env)
  return subprocess.run(['bash', os.path.join(SLURM, name), *args], cwd=REPO,
                        env=environ, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize('name', ['train_1node.sbatch', 'train_multinode.sbatch'])
def test_train_templates(name, tmp_path):
  workdir = tmp_path / 'run'
  result = run_template(name, ['configs/demo.py:student', str(workdir), *TINY], tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  assert (workdir / 'metrics.json').exists()


def test_sweep_array_template(tmp_path):
  sweep = tmp_path / 'tiny.py'
  sweep.write_text("def get_sweep():\n  return {'config': 'configs/demo.py:student', "
                   "'grid': {'seed': [0, 1]}, 'set': {'train.epochs': 1, "
                   "'model.hidden': (8,), 'latency.repeats': 2}}\n")
  result = run_template('sweep_array.sbatch', [str(sweep), str(tmp_path / 'runs')],
                        tmp_path, SLURM_ARRAY_TASK_ID='1')
  assert result.returncode == 0, result.stderr[-2000:]
  assert os.listdir(tmp_path / 'runs') == ['seed=1']


def test_templates_need_their_arguments(tmp_path):
  result = run_template('train_1node.sbatch', [], tmp_path)
  assert result.returncode != 0 and 'usage: sbatch train_1node.sbatch' in result.stderr
