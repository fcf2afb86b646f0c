"""The course kit's student runtime: everything a handout carries besides the assignment's own files.

``build`` writes this package into every handout folder (``assignments/<slug>/coursekit/``, not
committed), so a student's notebook and the grader use the same code:

* :mod:`coursekit.testing`: the language of self-checks and hidden tests, and ``check(name)``;
* :mod:`coursekit.notebook`: which definitions of a notebook the grader keeps (``collect_submission.py``
  runs it before the student uploads);
* :mod:`coursekit.written`: the written answers as a file for Gradescope's hand-graded questions;
* :mod:`coursekit.data`: the course's data loaders (sentiment140, MNIST, Fashion-MNIST).
* :mod:`coursekit.budget`: the reference runs' time budget for training loops (``KIT_TRAIN_MINUTES``;
  unset, it stops nothing).

It depends on the standard library and torch only, and imports nothing from ``autograder``.
"""
from coursekit.testing import check

__all__ = ["check"]
