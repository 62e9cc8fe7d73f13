"""The README and docs/ pages: every relative link resolves to a committed
file or folder, and every #anchor to a heading of its page (GitHub's rule)."""

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [os.path.join(ROOT, 'README.md')] + sorted(glob.glob(os.path.join(ROOT, 'docs', '*.md')))
LINK = re.compile(r'\[[^\]]*\]\(([^)\s]+)\)')


def anchors(path):
  """GitHub's heading anchors of a markdown page."""
  out = set()
  with open(path, encoding='utf-8') as f:
    text = re.sub(r'```.*?```', '', f.read(), flags=re.S)
  for line in text.splitlines():
    if line.startswith('#'):
      title = line.lstrip('#').strip().lower()
      out.add(re.sub(r'[^\w\- ]', '', title).replace(' ', '-'))
  return out


@pytest.mark.parametrize('page', PAGES, ids=lambda p: os.path.relpath(p, ROOT))
def test_links_resolve(page):
  with open(page, encoding='utf-8') as f:
    text = re.sub(r'```.*?```', '', f.read(), flags=re.S)
  broken = []
  for target in LINK.findall(text):
    if re.match(r'[a-z]+://|mailto:', target):
      continue
    path, _, anchor = target.partition('#')
    full = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
    if not os.path.exists(full):
      broken.append(target)
    elif anchor and full.endswith('.md') and anchor not in anchors(full):
      broken.append(target)
  assert not broken, f'{os.path.relpath(page, ROOT)}: broken links {broken}'


def test_every_method_has_an_entry():
  """Each registered method has its methods.md heading, and the docs index
  links to it: a method added without its page fails here."""
  from kdjax import methods
  entries = anchors(os.path.join(ROOT, 'docs', 'methods.md'))
  with open(os.path.join(ROOT, 'docs', 'README.md'), encoding='utf-8') as f:
    index = f.read()
  names = methods.names()
  assert {'kd', 'crd', 'ofd'} <= set(names)
  missing = [n for n in names if n not in entries]
  unlinked = [n for n in names if f'(methods.md#{n})' not in index]
  assert not missing and not unlinked, f'no entry: {missing}; not in the index: {unlinked}'
