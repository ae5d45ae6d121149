"""Training and dataset evaluation of the temporal network (``stmocap train``, ``stmocap eval --dataset``).

Modules: ``data`` (frame tables and the two readers), ``windows`` (16-frame windows by video),
``kinematics`` (joints from SMPL parameters, weak-perspective projection), ``losses`` (the paper's
loss), ``config`` (frozen run configuration), ``state`` (training checkpoints), ``trainer`` (the
loop), ``evaluate`` (Table-1 metrics on a dataset) and ``cli`` (the command-line wiring).
"""
