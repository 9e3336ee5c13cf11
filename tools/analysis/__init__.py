"""Analysis: which version runs where, upgrade paths, breaking-change detectors, the API scanner."""
