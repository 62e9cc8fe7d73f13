"""Train-step throughput on this machine: kdjax beside PyTorch eager.

  python experiments/bench/train_steps.py [--repeats=5] [--out=experiments/results/bench.md]

Times, in samples/s: the MNIST MLP teacher step and KD step, the CIFAR-10 CNN
teacher step and KD step (each built from its study config in configs/), and
5-point temperature sweeps of both KD students trained as one grid program
vs 5 runs one after another. Each figure is the median of --repeats timed
epochs after a warm-up epoch; compilation is timed apart. kdjax runs its
epochs as training does (`loop.epoch_runner` and `loop.plan`'s loop and grid kinds)
with the XLA options training uses (`kdjax/xla_options.py`), again with the
other option set, and in bfloat16 compute. When PyTorch is installed
(`pip install -e '.[torch]'`), the same steps in plain PyTorch eager
(experiments/bench/torch_steps.py), float32 and bf16 autocast, run in the
same command and the ratios are printed. FLOPs per step come from XLA's cost
analysis of the compiled step; achieved GFLOP/s is shown beside the
machine's f32 matmul rate.
"""

import functools
import importlib.util
import os
import statistics
import sys
import time

from absl import app
from absl import flags


flags.DEFINE_integer('repeats', 5, 'Timed epochs per figure (median reported).')
flags.DEFINE_integer('mlp_steps', 40, 'Steps per timed epoch, MNIST MLP.')
flags.DEFINE_integer('cnn_steps', 8, 'Steps per timed epoch, CIFAR CNN.')
flags.DEFINE_enum('torch', 'auto', ['auto', 'yes', 'no'], 'PyTorch columns.')
flags.DEFINE_string('out', '', 'Also write the markdown table to this file.')
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES = (  # (name, config file)
    ('MNIST MLP teacher (1200-1200, CE)', 'configs/mnist/teacher.py'),
    ('MNIST MLP KD (800-800 + teacher forward)', 'configs/mnist/kd.py'),
    ('CIFAR-10 CNN teacher (64-128-256, CE)', 'configs/cifar10_cnn/teacher.py'),
    ('CIFAR-10 CNN KD (32-64 + teacher forward)', 'configs/cifar10_cnn/kd.py'),
)
SWEEPS = (  # (name, KD config whose temperature is swept)
    ('MNIST MLP KD', 'configs/mnist/kd.py'),
    ('CIFAR-10 CNN KD', 'configs/cifar10_cnn/kd.py'),
)
SWEEP_TEMPERATURES = (1.0, 2.0, 4.0, 8.0, 16.0)


def load_config(path):
  spec = importlib.util.spec_from_file_location('bench_config', os.path.join(ROOT, path))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def median_rate(run_epoch, samples):
  run_epoch()  # warm-up
  times = []
  for _ in range(FLAGS.repeats):
    start = time.perf_counter()
    run_epoch()
    times.append(time.perf_counter() - start)
  return samples / statistics.median(times)


# ---------------------------------------------------------------- kdjax side
def kdjax_setup(config, num_steps, grid_points=0, cache=False):
  """(epoch arguments, step_fn) for `config` on random uint8 data; cache=True:
  the teacher's outputs are gathered from a table (`kdjax.teacher_cache`)
  built before timing, instead of a teacher forward in every step."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import data as data_lib, loop, methods, models, optim, steps, teacher_cache

  spec = data_lib.SPECS[config.dataset.name]
  shape = (28, 28, 1) if config.dataset.name == 'mnist' else (32, 32, 3)
  dtype = config.train.compute_dtype
  model = models.create(config.model, 10, dtype=dtype)
  tx = optim.create(config.optimizer, 10_000)
  teacher = teacher_vars = None
  method = methods.get(config.method)
  if method.needs_teacher:
    teacher = models.create(config.teacher.model, 10, dtype=dtype)
    teacher_vars = models.init(teacher, jax.random.PRNGKey(1), shape)
  state = steps.create_state(models.init(model, steps.init_rng(0), shape), tx,
                             steps.stage_rng(0))
  hparams = method.hparams_of(config)
  if grid_points:
    stack = lambda tree: jax.tree.map(
        lambda x: jnp.broadcast_to(x, (1, grid_points) + x.shape), tree)
    state, hparams = stack(state), stack(hparams)
    hparams['temperature'] = jnp.asarray([SWEEP_TEMPERATURES], jnp.float32)
  n = num_steps * config.train.batch_size
  images = jax.random.randint(jax.random.PRNGKey(2), (n, *shape), 0, 256).astype(jnp.uint8)
  labels = jax.random.randint(jax.random.PRNGKey(3), (n,), 0, 10)
  if cache:
    outputs = method.objective([config]).teacher_outputs
    teacher_vars = jax.tree.map(jnp.asarray, teacher_cache.build(
        teacher, teacher_vars, jax.device_get(images), outputs=outputs,
        translate=config.dataset.translate, flip=config.dataset.flip,
        mean=spec.mean, std=spec.std, batch_size=config.train.batch_size))
    teacher = teacher_cache.CachedTeacher(outputs)
  step_fn = steps.Step(
      model=model, tx=tx, objective=method.objective([config]), teacher=teacher,
      augmentation=steps.Augmentation(config.dataset.translate, config.dataset.flip,
                                      spec.mean, spec.std))
  if grid_points:
    step_fn = steps.GridStep(step_fn, loop.plan(config).grid)
  return (state, images, labels, teacher_vars, hparams), step_fn


def emit(lines):
  """Prints a report's markdown `lines` and writes them to --out where given
  (the GPU estimates)."""
  text = '\n'.join(lines)
  print(text)
  if FLAGS.out:
    from kdjax import outputs  # pylint: disable=g-import-not-at-top
    outputs.write_text(FLAGS.out, text)


def tflop(fn, *args):
  """TFLOP of `fn(*args)` compiled, from XLA's cost analysis (the GPU
  estimates' unit)."""
  import jax  # pylint: disable=g-import-not-at-top
  cost = jax.jit(fn).lower(*args).compile().cost_analysis()
  return (cost[0] if isinstance(cost, list) else cost)['flops'] / 1e12


def step_gflop(args, step_fn, batch, grid):
  """GFLOP of one compiled step, from XLA's cost analysis."""
  import jax  # pylint: disable=g-import-not-at-top
  from kdjax import steps

  one = functools.partial(steps.indexed_step, step_fn=step_fn)
  idx = jax.ShapeDtypeStruct((1,) * grid + (batch,), jax.numpy.int32)
  if grid:
    one = jax.vmap(one, in_axes=(0, None, None, 0, None, 0))
  cost = jax.jit(one).lower(*args[:3], idx, *args[3:]).compile().cost_analysis()
  return (cost[0] if isinstance(cost, list) else cost)['flops'] / 1e9


def kdjax_case(config, num_steps, compiler_options, grid_points=0, cache=False):
  """samples/s (summed over a grid's students), compile seconds, GFLOP/sample."""
  import jax  # pylint: disable=g-import-not-at-top
  from kdjax import loop

  args, step_fn = kdjax_setup(config, num_steps, grid_points, cache)
  batch = config.train.batch_size
  runner = loop.epoch_runner(loop.plan(config).loop, num_steps, batch, step_fn,
                              grid=bool(grid_points), compiler_options=compiler_options)
  start = time.perf_counter()
  compiled = runner(*args)
  compile_s = time.perf_counter() - start
  students = max(grid_points, 1)
  gflop = step_gflop(args, step_fn, batch, bool(grid_points)) / (batch * students)
  holder = {'state': args[0]}

  def run_epoch():
    holder['state'], sums = compiled(holder['state'], *args[1:])
    jax.block_until_ready((holder['state'], sums))
  rate = median_rate(run_epoch, num_steps * batch * students)
  return {'samples_per_s': rate, 'compile_s': compile_s, 'gflop_per_sample': gflop}


def kdjax_sequential_sweep(config, num_steps, compiler_options):
  """5 runs one after another: the KD epoch with each temperature in turn."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp
  from kdjax import loop

  args, step_fn = kdjax_setup(config, num_steps)
  runner = loop.epoch_runner(loop.plan(config).loop, num_steps,
                              config.train.batch_size, step_fn,
                              compiler_options=compiler_options)
  compiled = runner(*args)
  states = [jax.tree.map(jnp.copy, args[0]) for _ in SWEEP_TEMPERATURES]
  hparams = [dict(args[4], temperature=jnp.float32(t)) for t in SWEEP_TEMPERATURES]

  def run_epochs():
    for i, hp in enumerate(hparams):
      states[i], sums = compiled(states[i], *args[1:4], hp)
      jax.block_until_ready((states[i], sums))
  samples = num_steps * config.train.batch_size * len(SWEEP_TEMPERATURES)
  return {'samples_per_s': median_rate(run_epochs, samples)}


def matmul_gflops(dtype):
  import jax  # pylint: disable=g-import-not-at-top
  a = jax.random.normal(jax.random.PRNGKey(0), (2048, 2048)).astype(dtype)
  f = jax.jit(lambda a: jax.numpy.dot(a, a, preferred_element_type=jax.numpy.float32))
  return median_rate(lambda: f(a).block_until_ready(), 2 * 2048**3) / 1e9


def kdjax_figures():
  """Each case with the XLA options training uses, with the other option set
  (to show the choice), and in bfloat16 compute; then the sweep."""
  import jax  # pylint: disable=g-import-not-at-top
  from kdjax import loop, xla_options

  out = {'device': f'{jax.devices()[0].device_kind} x{jax.device_count()}',
         'jax': jax.__version__, 'matmul_gflops': matmul_gflops('float32'),
         'matmul_bf16_gflops': matmul_gflops('bfloat16')}
  for name, path in CASES:
    config = load_config(path)
    num_steps = FLAGS.mlp_steps if config.model.name == 'mlp' else FLAGS.cnn_steps
    used = loop.plan(config).compiler_options
    other = {} if used else dict(xla_options.YNN)
    out[name] = {'used': used, 'f32': kdjax_case(config, num_steps, used),
                 'other': kdjax_case(config, num_steps, other)}
    config.train.compute_dtype = 'bfloat16'
    out[name]['bf16'] = kdjax_case(config, num_steps, used)
    print(f'  kdjax {name}: ' + ', '.join(
        f'{k} {v["samples_per_s"]:,.0f}' for k, v in out[name].items() if k != 'used')
          + ' samples/s', flush=True)
  for name, path in SWEEPS:
    kd = load_config(path)
    num_steps = FLAGS.mlp_steps if kd.model.name == 'mlp' else FLAGS.cnn_steps
    used = loop.plan(kd).compiler_options
    out[name] = {
        'sequential': kdjax_sequential_sweep(kd, num_steps, used),
        'grid': kdjax_case(kd, num_steps, used, grid_points=len(SWEEP_TEMPERATURES))}
  return out


CACHE_CASES = (  # (name, config): the CIFAR CNN student's steps
    ('CE (student alone)', 'configs/cifar10_cnn/student.py'),
    ('KD (T=4, a=0.1)', 'configs/cifar10_cnn/kd.py'),
    ('RKD (distance, beta=100)', 'configs/cifar10_cnn/rkd.py'),
)


def cache_figures():
  """The CIFAR CNN student's CE step beside its KD and RKD steps, with the
  teacher run in every step and with its outputs gathered from the cache."""
  from kdjax import loop  # pylint: disable=g-import-not-at-top
  out = {}
  for name, path in CACHE_CASES:
    config = load_config(path)
    used = loop.plan(config).compiler_options
    out[name] = {'teacher': kdjax_case(config, FLAGS.cnn_steps, used)}
    if config.method != 'none':
      out[name]['cache'] = kdjax_case(config, FLAGS.cnn_steps, used, cache=True)
    print(f'  kdjax cache {name}: ' + ', '.join(
        f'{k} {v["samples_per_s"]:,.0f}' for k, v in out[name].items()) + ' samples/s',
          flush=True)
  return out


def cache_report(figures):
  ce = figures[CACHE_CASES[0][0]]['teacher']
  lines = ['', '### Teacher-output cache: the CIFAR-10 CNN student\'s steps', '',
           '| step | teacher forward in the step (samples/s) | GFLOP/sample | '
           'teacher outputs from the cache (samples/s) | GFLOP/sample | cache / '
           'forward | cache / CE step |', '|---|---:|---:|---:|---:|---:|---:|']
  for name, _ in CACHE_CASES:
    r = figures[name]
    fwd, cached = r['teacher'], r.get('cache')
    lines.append(
        f'| {name} | {fwd["samples_per_s"]:,.0f} | {fwd["gflop_per_sample"]:.4f} | ' + (
            f'{cached["samples_per_s"]:,.0f} | {cached["gflop_per_sample"]:.4f} | '
            f'{cached["samples_per_s"] / fwd["samples_per_s"]:.2f}x | '
            f'{cached["samples_per_s"] / ce["samples_per_s"]:.2f}x |' if cached
            else '- | - | - | 1.00x |'))
  return '\n'.join(lines)


# -------------------------------------------------------------- PyTorch side
def torch_figures():
  """Each case in float32 and under bfloat16 autocast."""
  import torch  # pylint: disable=g-import-not-at-top
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  import torch_steps  # pylint: disable=g-import-not-at-top
  from kdjax import data as data_lib

  torch.manual_seed(0)
  out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
  for dtype in ('float32', 'bfloat16'):
    a = torch.randn(2048, 2048).to(getattr(torch, dtype))
    out[f'matmul_{dtype}_gflops'] = median_rate(lambda: a @ a, 2 * 2048**3) / 1e9

  def build(model_config):
    if model_config.name == 'mlp':
      return torch_steps.mlp(model_config.hidden, model_config.dropout)
    return torch_steps.cnn(model_config.convs, model_config.dense, model_config.dropout)

  for name, path in CASES:
    config = load_config(path)
    mnist = config.dataset.name == 'mnist'
    spec = data_lib.SPECS[config.dataset.name]
    num_steps = FLAGS.mlp_steps if mnist else FLAGS.cnn_steps
    batch = config.train.batch_size
    n = num_steps * batch
    images = torch.randint(0, 256, (n, *((28, 28, 1) if mnist else (32, 32, 3))),
                           dtype=torch.uint8)
    labels = torch.randint(0, 10, (n,))
    out[name] = {}
    for precision in ('f32', 'bf16'):
      teacher = build(config.teacher.model) if config.method != 'none' else None
      step = torch_steps.Step(
          build(config.model), teacher, images, labels, mean=spec.mean,
          std=spec.std, shift=config.dataset.translate, flip=config.dataset.flip,
          lr=config.optimizer.learning_rate,
          weight_decay=config.optimizer.weight_decay,
          temperature=config.distill.temperature, alpha=config.distill.alpha,
          bf16=precision == 'bf16')

      def run_epoch():
        for idx in torch.randperm(n).view(num_steps, batch):
          step(idx)
      out[name][precision] = median_rate(run_epoch, n)
    print(f'  torch {name}: f32 {out[name]["f32"]:,.0f}, bf16 {out[name]["bf16"]:,.0f}'
          ' samples/s', flush=True)
  return out


# ------------------------------------------------------------------- report
def report(ours, theirs):
  """Markdown: kdjax's figures, then kdjax beside PyTorch, then the sweep."""
  peak = ours['matmul_gflops']
  lines = [
      f'device: {ours["device"]}, jax {ours["jax"]}'
      + (f', torch {theirs["torch"]} ({theirs["threads"]} threads)' if theirs else ''),
      f'2048x2048 matmul: XLA float32 {peak:.0f} GFLOP/s, bfloat16 (float32 '
      f'accumulation) {ours["matmul_bf16_gflops"]:.0f}'
      + (f'; PyTorch float32 {theirs["matmul_float32_gflops"]:.0f}, bfloat16 '
         f'{theirs["matmul_bfloat16_gflops"]:.0f}' if theirs else ''),
      f'median of {FLAGS.repeats} timed epochs after a warm-up epoch; MLP epochs: '
      f'{FLAGS.mlp_steps} steps of 256, CNN epochs: {FLAGS.cnn_steps} steps of 128.',
      '', '### kdjax', '',
      '| step | XLA options | samples/s | compile (s) | GFLOP/sample | achieved '
      'GFLOP/s (% of f32 matmul) | with the other options | bf16 compute samples/s |',
      '|---|---|---:|---:|---:|---:|---:|---:|']
  for name, _ in CASES:
    r = ours[name]
    f32 = r['f32']
    achieved = f32['samples_per_s'] * f32['gflop_per_sample']
    lines.append(
        f'| {name} | {"YNN dot+reduce" if r["used"] else "XLA defaults"} | '
        f'{f32["samples_per_s"]:,.0f} | {f32["compile_s"]:.2f} | '
        f'{f32["gflop_per_sample"]:.4f} | {achieved:.0f} ({100 * achieved / peak:.0f}%) | '
        f'{r["other"]["samples_per_s"]:,.0f} | {r["bf16"]["samples_per_s"]:,.0f} |')
  if theirs:
    lines += ['', '### kdjax / PyTorch eager (same steps, same machine, same run)', '',
              '| step | kdjax f32 | PyTorch f32 | ratio | kdjax bf16 | PyTorch bf16 '
              'autocast | ratio | kdjax bf16 / PyTorch f32 |',
              '|---|---:|---:|---:|---:|---:|---:|---:|']
    for name, _ in CASES:
      k32, kbf = ours[name]['f32']['samples_per_s'], ours[name]['bf16']['samples_per_s']
      t32, tbf = theirs[name]['f32'], theirs[name]['bf16']
      lines.append(f'| {name} | {k32:,.0f} | {t32:,.0f} | {k32 / t32:.2f}x | '
                   f'{kbf:,.0f} | {tbf:,.0f} | {kbf / tbf:.2f}x | {kbf / t32:.2f}x |')
  lines += ['', f'### 5-point temperature sweep {SWEEP_TEMPERATURES}, one seed '
            '(samples/s summed over the 5 students)', '',
            '| KD step | 5 runs one after another | one grid program (one teacher '
            'forward per batch) | grid / sequential | grid compile (s) |',
            '|---|---:|---:|---:|---:|']
  for name, _ in SWEEPS:
    seq, grid = ours[name]['sequential'], ours[name]['grid']
    lines.append(f'| {name} | {seq["samples_per_s"]:,.0f} | {grid["samples_per_s"]:,.0f} | '
                 f'{grid["samples_per_s"] / seq["samples_per_s"]:.2f}x | '
                 f'{grid["compile_s"]:.2f} |')
  return '\n'.join(lines)


def main(argv):
  del argv
  ours = kdjax_figures()
  cache = cache_figures()
  theirs = None
  if FLAGS.torch != 'no':
    try:
      theirs = torch_figures()
    except ImportError:
      if FLAGS.torch == 'yes':
        raise
      print('PyTorch is not installed: no PyTorch columns (pip install -e ".[torch]").')
  text = report(ours, theirs) + '\n' + cache_report(cache)
  print(text)
  if FLAGS.out:
    with open(FLAGS.out, 'w') as f:
      f.write('# Train-step throughput\n\nMeasured on this project\'s 2-core CPU '
              f'machine with\n\n```bash\npython experiments/bench/train_steps.py '
              f'--out={FLAGS.out}\n```\n\n{text}\n')


if __name__ == '__main__':
  app.run(main)
