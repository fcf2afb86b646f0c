"""``files.download(path)``: on Colab the browser downloads the file; here it is logged, one path a line."""
import os


def download(filename):
    if not os.path.isfile(filename):
        raise FileNotFoundError(f"Cannot find file: {filename}")  # Colab's own message
    with open(os.environ["KIT_COLAB_DOWNLOADS"], "a", encoding="utf-8") as log:
        log.write(os.path.abspath(filename) + "\n")
