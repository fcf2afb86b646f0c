"""``python -m autograder``: run the command, then leave without the interpreter's teardown.

Two things around ``main``:

* string hashing is seeded (``PYTHONHASHSEED=0``; the command re-executes itself once to set it),
  so that a sandbox child forked from the grader (``autograder.fork_start``) hashes as an exec'd
  one does, and grading stays deterministic;
* with torch and torch_geometric imported, Python's orderly shutdown (module teardown, garbage
  collection of their globals) takes about a second, a fifth of grading a GNN submission. Every
  command has written and closed its files by the time ``main`` returns, so after flushing the
  standard streams there is nothing left for the teardown to do.
"""
import os
import sys

if __name__ == "__main__":  # not when a worker process re-imports the main module (Dask's, multiprocessing's)
    if sys.flags.hash_randomization:
        os.execve(sys.executable, [sys.executable, "-m", "autograder", *sys.argv[1:]],
                  {**os.environ, "PYTHONHASHSEED": "0"})

    from autograder.cli import main

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
