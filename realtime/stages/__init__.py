"""Graph stages: one class per step of the data flow (architecture §3)."""
