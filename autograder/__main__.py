"""``python -m autograder``: run the command, then leave without the interpreter's teardown.

With torch and torch_geometric imported, Python's orderly shutdown (module teardown, garbage
collection of their globals) takes about a second, a fifth of grading a GNN submission. Every
command has written and closed its files by the time ``main`` returns, so after flushing the
standard streams there is nothing left for the teardown to do.
"""
import os
import sys

from autograder.cli import main

code = main()
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
