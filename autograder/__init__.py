"""The deep-learning assignment kit: build handouts from masters, grade submissions in a sandbox.

Stages, one module each: master → student_version → release (build); submission →
coursekit.notebook (extraction) → sandbox → coursekit.testing (judgement) → results (grade).
``cli`` composes them into the commands. ``coursekit`` is the student runtime: the grader and the
student's notebook share its extraction and its test language.
"""
