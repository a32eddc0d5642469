"""Measuring: question and dialogue sets (`datasets`), retrieval (`retrieval`) against baselines (`baselines`),
answers (`answers`), conversations (`dialogues`), trust (`trust`) and the confidence model's fit (`calibration`)."""
