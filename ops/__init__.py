"""Operations scripts: the restore drill (ops/restore_drill.py) and the fault scripts
(ops/faults/)."""
