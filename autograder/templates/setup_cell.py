# $course: $title
# Set-up: run this cell first. On Google Colab it installs what Colab lacks and fetches the
# handout's helper files; on your own machine they sit beside this notebook. Either way it checks
# your packages against the grader's (requirements.txt) and says what to install.
import os
import sys
import urllib.request
import zipfile

HANDOUT_URL = "$handout_url"
COLAB_PACKAGES = $colab_packages

if "google.colab" in sys.modules and COLAB_PACKAGES:
    import subprocess
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *COLAB_PACKAGES], check=True)
if not os.path.exists("coursekit") and os.path.exists("../../coursekit/__init__.py"):
    sys.path.insert(0, "../..")  # run from the kit's own repository, before `build` copied the runtime here
elif not os.path.exists("coursekit"):
    print(f"Fetching the handout's helper files from {HANDOUT_URL} ...")
    urllib.request.urlretrieve(HANDOUT_URL, "handout.zip")
    with zipfile.ZipFile("handout.zip") as handout:  # never overwrite a notebook you are working on
        handout.extractall(".", [n for n in handout.namelist() if not n.endswith(".ipynb")])
from coursekit.environment import check_environment  # noqa: E402

check_environment("requirements.txt")
from coursekit import check  # noqa: E402  (self-checks: check("name") prints what passed)
