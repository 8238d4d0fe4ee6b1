"""SkinPortal's machine learning, without Django: the classes, the one preprocessing function,
the LiteRT engine with closed-form Grad-CAM, training, calibration, risk thresholds, metrics,
evaluation and the model card.

Nothing here imports Django or an app of the project (``.importlinter`` enforces it); the apps
adapt it: they turn a ``ModelVersion`` into file paths and settings, call these functions and
record the results. Importing a module of this package never imports TensorFlow, except
:mod:`skinml.keras_model` (and :mod:`skinml.train`, which needs it only inside ``train``).
"""
