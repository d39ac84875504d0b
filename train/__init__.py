"""Training: datasets, augmentation, models, the training loop, evaluation and plots (needs torch)."""
