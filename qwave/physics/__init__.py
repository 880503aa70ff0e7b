"""The teacher: grid, packets, potentials, the space-splitting solver and its plain reference, observables and
analytic results.  numpy only (no TensorFlow), Hartree atomic units."""
