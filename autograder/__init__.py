"""The deep-learning assignment kit: build handouts from masters, grade submissions in a sandbox.

Stages, one module each: master → student_version → release (build); submission → extract →
sandbox → testkit (judgement) → results (grade). ``cli`` composes them into the commands.
"""
