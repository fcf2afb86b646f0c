#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
set -euo pipefail
cd /autograder/source

apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
# The sandbox's seccomp filter (autograder/containment.py) loads libseccomp; without it grading
# goes on, without the filter, and says so.
apt-get install -y -qq libseccomp2 > /dev/null || true
# The engine needs Python >= 3.11 (tomllib); Ubuntu 22.04 images ship 3.10, so add 3.11 there.
PYTHON=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -qq python3.11 python3.11-venv > /dev/null
    PYTHON=python3.11
fi

# The CPU build of torch, from PyTorch's CPU index: a plain `pip install torch` pulls a
# multi-GB CUDA build that the grader never uses. The constraint keeps any later requirement
# from replacing it with the CUDA build from PyPI.
"$PYTHON" -m venv /autograder/venv
PIP=(/autograder/venv/bin/pip install -q --no-cache-dir)
"${PIP[@]}" --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
echo "torch==2.13.0" > /tmp/kit-constraints.txt
"${PIP[@]}" -c /tmp/kit-constraints.txt -r requirements.txt
/autograder/venv/bin/python3 -c 'import torch; assert not torch.version.cuda, "a CUDA build of torch was installed"'

# Student code runs as this unprivileged user: it cannot read the hidden tests or write results.
id -u student > /dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin student
chmod -R go-rwx /autograder/source/autograder/suites
chmod -R go+rX /autograder/source/autograder/*.py /autograder/venv
