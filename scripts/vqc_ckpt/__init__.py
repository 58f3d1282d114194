"""vqc_ckpt: what the checkpoint importers and the exporter share.

  torchload  reading a PyTorch .pt/.ckpt without importing the classes it names; unwrapping
             Lightning ({'state_dict': ...}), {'model': ...} and DataParallel ('module.') layouts
  table      model tensor tables (`vqc --dump=params` lines, tests/ref/*.txt) and the LPIPS layout
  st_io      safetensors writer (atomic, runtime layout) and strict reader, on numpy
  check      comparing a state_dict with a table: every missing/unexpected/wrong-shape name, sorted
  meta       the vqc checkpoint __metadata__ (format, step, rng, model_hash) for imported weights
  importer   the pipeline the import_*.py scripts run: load, convert, check, write, summarize

Scripts run with /usr/bin/python3 (Debian's, with torch and numpy). Nothing here downloads.
"""
