"""Demo runs on the bundled 8x8 digits; the whole pipeline is one command:

  python -m kdjax.demo --workdir=runs/demo

Single runs: --config=configs/demo.py:teacher (or :student, :kd), e.g.
  python -m kdjax.main --config=configs/demo.py:teacher --workdir=runs/demo/teacher
Initialisation: PyTorch's (model.param_init='torch'; 'flax' for Flax's).
"""

from kdjax import demo


def get_config(role='kd'):
  return demo.get_config(role)
