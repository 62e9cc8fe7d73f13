"""Run as a script with 4 CPU devices (tests/test_parallel.py does): one KD step
of a BatchNorm student on 4 devices (shard_map and pmap) vs on 1 device; the
trainer and a grid of students on 4 devices."""

import json
import sys

import jax

jax.config.update('jax_num_cpu_devices', 4)

import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
import optax

from kdjax import config as config_lib
from kdjax import errors
from kdjax import grid
from kdjax import methods
from kdjax import models
from kdjax import outputs
from kdjax import parallel
from kdjax import steps
from kdjax import train


def main():
  assert jax.device_count() == 4, jax.devices()
  shape = (8, 8, 1)
  student_cfg = config_lib.mlp((16, 16), bn_residual=True)
  teacher = models.create(config_lib.mlp((32,)), 10)
  teacher_vars = models.init(teacher, jax.random.PRNGKey(1), shape)
  # SGD: the update is linear in the gradient (Adam's first step is its sign,
  # which is noise for the exactly-zero gradients of the biases before BN).
  tx = optax.chain(optax.add_decayed_weights(1e-4), optax.sgd(0.5, momentum=0.9))
  single_model = models.create(student_cfg, 10)
  sharded_model = models.create(student_cfg, 10, axis_name=parallel.AXIS)
  state = steps.create_state(models.init(single_model, steps.init_rng(0), shape), tx,
                             steps.stage_rng(0))
  images = jax.random.randint(jax.random.PRNGKey(2), (32, *shape), 0, 256).astype(jnp.uint8)
  labels = jnp.arange(32) % 10
  hparams = {'temperature': jnp.float32(4.0), 'alpha': jnp.float32(0.3)}
  kwargs = dict(tx=tx, teacher=teacher, objective=methods.get('kd').objective([config_lib.get_base_config()]),
                augmentation=steps.Augmentation(0, False, (0.3,), (0.4,)))
  rng = jax.random.PRNGKey(3)

  one = jax.jit(steps.Step(model=single_model, **kwargs))
  s1, m1 = one(state, (images, labels), rng, teacher_vars, hparams)
  step4 = steps.Step(model=sharded_model, **kwargs)
  mesh = parallel.make_mesh()
  s4, m4 = jax.jit(parallel.shard_step(step4, mesh))(
      state, (images, labels), rng, teacher_vars, hparams)
  sp, mp = parallel.pmap_step(step4)(
      state, (images.reshape(4, 8, *shape), labels.reshape(4, 8)), rng,
      teacher_vars, hparams)
  sp = jax.tree.map(lambda x: x[0], sp)

  def max_diff(a, b):
    return max(float(jnp.max(jnp.abs(x - y))) for x, y in
               zip(jax.tree.leaves(a), jax.tree.leaves(b)))

  out = {
      'shard_vs_single_params': max_diff(s4.params, s1.params),
      'shard_vs_single_batch_stats': max_diff(s4.batch_stats, s1.batch_stats),
      'pmap_vs_shard_params': max_diff(sp.params, s4.params),
      'pmap_vs_shard_batch_stats': max_diff(sp.batch_stats, s4.batch_stats),
      'params_moved': max_diff(s1.params, state.params),
      'loss_single': float(m1['loss']), 'loss_shard': float(m4['loss']),
      'loss_pmap': float(mp['loss'][0]), 'count_shard': float(m4['count'])}
  # CRD's memory banks on 4 devices: each device writes every device's rows
  # (all-gathered), so the replicated banks equal one device's update (no
  # augmentation: the embeddings are the same; each device draws its own
  # negatives, so Z and the parameters may differ).
  crd_config = config_lib.get_base_config()
  crd_config.crd.update(feat_dim=4, nce_k=8)
  crd = methods.get('crd')
  plain = models.create(config_lib.mlp((16,)), 10)
  crd_model, crd_state = train.main_state(
      crd, crd_config, plain, models.init(plain, steps.init_rng(0), shape),
      (models.feature_shapes(plain, shape), models.feature_shapes(teacher, shape)), tx,
      jax.device_get(labels))
  crd_step = steps.Step(model=crd_model, tx=tx, teacher=teacher,
                        objective=crd.objective([crd_config]),
                        augmentation=steps.Augmentation(0, False, (0.3,), (0.4,)))
  crd_batch = (images, labels, jnp.arange(32, dtype=jnp.int32))
  c1, _ = jax.jit(crd_step)(crd_state, crd_batch, rng, teacher_vars, crd.hparams_of(crd_config))
  c4, _ = jax.jit(parallel.shard_step(crd_step, mesh))(
      crd_state, crd_batch, rng, teacher_vars, crd.hparams_of(crd_config))
  out['crd_banks_shard_vs_single'] = max_diff(
      [c4.method_state['memory_s'], c4.method_state['memory_t']],
      [c1.method_state['memory_s'], c1.method_state['memory_t']])
  out['crd_banks_moved'] = max_diff(c1.method_state['memory_s'], crd_state.method_state['memory_s'])
  out['crd_z_shard'] = [float(z) for z in c4.method_state['z']]

  try:
    parallel.check_batch(30, 4)
  except errors.ConfigError as e:
    out['bad_batch'] = str(e)

  # The whole loop on 4 devices: a BN student distilled from a BN teacher.
  workdir = sys.argv[1]
  config = config_lib.get_base_config()
  config.dataset.update(name='digits', translate=1)
  config.model = config_lib.mlp((32,), bn_residual=True)
  config.train.update(epochs=2, batch_size=64, eval_batch_size=120)
  config.latency.repeats = 2
  teacher_metrics = train.train_and_evaluate(config, workdir + '/teacher')
  config.method = 'kd'
  config.teacher.update(workdir=workdir + '/teacher', model=config.model)
  config.model = config_lib.mlp((16,), bn_residual=True)
  kd_metrics = train.train_and_evaluate(config, workdir + '/kd')
  out['loop_accuracies'] = [teacher_metrics['test']['accuracy'],
                            kd_metrics['test']['accuracy']]
  out['loop_steps'] = kd_metrics['steps']

  # A 2-point grid on 4 devices; its first point is the KD run above.
  other = config_lib.from_json(json.loads(config.to_json()))
  other.distill.update(temperature=4.0, alpha=0.5)
  points = grid.train_grid([config, other], [workdir + '/g0', workdir + '/g1'],
                           workdir + '/grid')
  out['grid_vs_run_train_loss'] = max(
      abs(a['train_loss'] - b['train_loss'])
      for a, b in zip(points[0]['history'], kd_metrics['history']))
  out['grid_points_differ'] = points[0]['history'] != points[1]['history']

  # The teacher-output cache on 4 devices (flips only: 2 variants; each
  # shard gathers its rows of the replicated table) vs the teacher run in
  # the step, on 4 devices too.
  logits = {}
  for cache in (True, False):
    run = config_lib.from_json(json.loads(config.to_json()))
    run.dataset.update(translate=0, flip=True)
    run.train.epochs = 3
    run.distill.teacher_cache = cache
    m = train.train_and_evaluate(run, f'{workdir}/kd_cache_{cache}')
    out[f'cache_{cache}_used'] = m['teacher_cache']['used']
    logits[cache] = outputs.read_predictions(
        f'{workdir}/kd_cache_{cache}/predictions/test.npz')['logits']
  out['cache_vs_forward_logits'] = float(abs(logits[True] - logits[False]).max())
  json.dump(out, sys.stdout)


if __name__ == '__main__':
  main()
