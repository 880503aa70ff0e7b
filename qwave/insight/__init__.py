"""What the emulator learned: curriculum ablations, symmetry probes, locality, generalisation, report."""
