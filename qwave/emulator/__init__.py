"""The student: Keras emulators, training, the whole-box recursive rollout, metrics and evaluation."""
