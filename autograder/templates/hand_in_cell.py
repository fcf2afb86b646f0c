# Hand in: run this cell last. It checks your notebook and packages it with the files the
# assignment needs (what `python collect_submission.py` does in a terminal), and writes your
# written answers for the hand-graded part. On Colab it then downloads both files for you.
import collect_submission

collect_submission.hand_in()
