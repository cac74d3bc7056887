"""Master patient index: normalise patients, block candidates and score pairs.

``normalize`` turns raw patient values into a ``MatchRecord`` and its blocking keys,
``compare`` grades each field of a pair into a comparison level, ``model`` holds the
Fellegi-Sunter parameters (m/u per level, term frequencies, thresholds) and trains them,
and ``score`` turns a pair into a log2 Bayes factor, a probability and an outcome with
the safety rules that keep thin evidence from linking two people automatically.
"""
