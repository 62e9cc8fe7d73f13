"""Feature-map pairs of the methods that match student and teacher stages
(attention transfer, VID, ...): the `*.pairs` key, its checks, and the
reference code's pooling of a larger map to the smaller one's size."""


from kdjax import errors
from kdjax.methods import base


def _valid(value):
  return isinstance(value, (tuple, list)) and all(
      isinstance(v, str) and v.count(':') == 1 and all(v.split(':')) for v in value)


def key(path, default=(), help="stages paired, as 'student_feature:teacher_feature'"):
  """A key holding pairs 'student_feature:teacher_feature'."""
  return base.Key(path, tuple(default), help, _valid,
                  "a tuple of 'student_feature:teacher_feature' strings")


def parse(value) -> tuple:
  """(('student feature', 'teacher feature'), ...) of a pairs key's value."""
  return tuple(tuple(pair.split(':')) for pair in value)


def map_names(shapes) -> list:
  """The sorted names of the 4-D maps [B, H, W, C] among feature shapes."""
  return sorted(k for k, v in shapes.items() if len(v.shape) == 4)


def check_named(path, chain, student, teacher):
  """Refuses an entry of `chain` (parsed pairs of the key `path`) whose
  student or teacher feature is not a map [B, H, W, C] of its model."""
  for s, t in chain:
    for name, shapes, who in ((s, student, 'student'), (t, teacher, 'teacher')):
      if name not in shapes or len(shapes[name].shape) != 4:
        raise errors.ConfigError(f"{path} entry '{s}:{t}': {name!r} is not a {who} "
                                 f'feature map [B, H, W, C]; expected one of '
                                 f'{map_names(shapes)}')


def student_trunk(config, path, student) -> set:
  """The student's submodules that compute the maps the pairs of the key
  `path` read (`trunk` of each): what a stage of a pair loss trains, as
  RepDistiller's `get_feat_modules` (the layers up to the last paired map;
  not the classifier, nor WRN's final BatchNorm or MobileNetV2's last conv)."""
  return set().union(*(student.trunk(s) for s, _ in parse(base.lookup(config, path))))


def _maps(shapes):
  return {k: tuple(v.shape[1:3]) for k, v in shapes.items() if len(v.shape) == 4}


def check(config, path, student, teacher, *, pool=False):
  """Refuses pairs (the key `path` of `config`) that do not name 4-D maps
  [B, H, W, C] of the two models (feature shapes `student`, `teacher`) of
  equal height and width, or with `pool`, of sizes one divides (the larger
  is average-pooled to the smaller: `pool_to`)."""
  method = config.method
  s_maps, t_maps = _maps(student), _maps(teacher)
  if not s_maps or not t_maps:
    who, name = (('student', config.model.name) if not s_maps
                 else ('teacher', config.teacher.model.name))
    raise errors.ConfigError(
        f'method={method} needs spatial feature maps [B, H, W, C] in both models; the '
        f'{who} ({name}) has none; expected convolutional models')
  offer = (f"student maps {dict(sorted(s_maps.items()))}, teacher maps "
           f"{dict(sorted(t_maps.items()))}")
  size = 'sizes one of which divides the other' if pool else 'equal spatial size'
  value = base.lookup(config, path)
  if not value:
    raise errors.ConfigError(
        f"{path}=() names no stages; expected 'student:teacher' pairs of {size} "
        f'from the {offer}')
  for s, t in parse(value):
    problem = ('does not name a student feature map' if s not in s_maps else
               'does not name a teacher feature map' if t not in t_maps else None)
    if problem is None and not _fits(s_maps[s], t_maps[t], pool):
      problem = f'pairs {s_maps[s]} with {t_maps[t]} (height, width)'
    if problem:
      raise errors.ConfigError(f"{path} entry '{s}:{t}' {problem}; expected maps "
                               f'of {size} from the {offer}')


def _fits(a, b, pool):
  if a == b:
    return True
  small, large = sorted((a, b))
  return pool and all(l % s == 0 for s, l in zip(small, large)) and (
      all(s <= l for s, l in zip(small, large)))


def pool_to(x, size):
  """Average-pools maps [B, H, W, C] to `size` (h, w) dividing (H, W): torch's
  `F.adaptive_avg_pool2d` for such sizes; x itself where already that size."""
  (h, w), (H, W) = size, x.shape[1:3]
  if (h, w) == (H, W):
    return x
  return x.reshape(x.shape[0], h, H // h, w, W // w, x.shape[3]).mean(axis=(2, 4))
