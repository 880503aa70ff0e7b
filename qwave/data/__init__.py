"""The curriculum as data: TFDS build and load, the training and test sources behind ``tfds:`` /
``curriculum:`` / ``solver``, trajectories in memory and the ``tf.data`` window stream."""
