#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image (Ubuntu, as root).
set -euo pipefail
cd /autograder/source

apt-get update -qq
apt-get install -y -qq python3 python3-pip python3-venv > /dev/null

# The CPU build of torch, from PyTorch's CPU index: a plain `pip install torch` pulls a
# multi-GB CUDA build that the grader never uses.
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
/autograder/venv/bin/pip install -q -r requirements.txt

# Student code runs as this unprivileged user: it cannot read the hidden tests or write results.
id -u student > /dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin student
chmod -R go-rwx /autograder/source/autograder/suites
chmod -R go+rX /autograder/source/autograder/*.py /autograder/venv
