"""Downstream use of mmamt's pre-training: what it registers into mmdet (:mod:`.det`) and mmseg
(:mod:`.seg`), the checkpoint converter (:mod:`.convert`) and the key maps they share
(:mod:`.keymap`).

Nothing is imported here: ``import mmamt.downstream.det`` pulls in mmdet, ``.seg`` mmseg, and
the converter imports either only when converting for it.
"""
