"""A stand-in for Google Colab's ``google.colab``, for tests: importing it makes the kit believe it
runs on Colab. ``KIT_COLAB_NOTEBOOK`` names the notebook file that Colab would hand over (on Colab it
lives in Drive, not in the working folder); ``KIT_COLAB_DOWNLOADS`` a file where each download is logged."""
