"""The checker's mutation corpus: three from-scratch networks with injectable bugs.

* ``seedlike``: class-based like the seed report, W (in, out), b (1, out), one-hot CE, own
  SGD and Adam (m, v, t);
* ``cs231n``: functional with caches, W (in, out), b (out,), class indices, optim.py update
  rules with config dicts, a Solver;
* ``colmajor``: samples as columns, W (out, in), b (out, 1), lists weights[l] / biases[l],
  SGD, momentum and Adam (v, s, t).

None of them imports zeronet. ``cases.CASES`` is the mutation matrix; ``convention`` spells
out the checker's conventions as array conversions.
"""
