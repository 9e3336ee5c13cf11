"""Offline evaluation on recorded cluster fixtures (`upgradectl eval`), scored deterministically.

    scenario.py    the scenario.yaml format (pydantic, extra fields forbidden) and discovery
    fleets.py      the fleet a scenario runs on: demo, its own fixture, or an overlay built in a temp dir
    scoring.py     one plan against one scenario: recall, false alarms, path, decision, gates (pure)
    runner.py      plan each scenario like `upgradectl plan` (model off, replayed or live), in worker processes
    replay.py      recorded model turns: the recording client and the loopback Messages API that replays them
    results.py     result types, suite totals, thresholds (suite.yaml) and their violations
    suite.py       one run end to end, with the stamp (git SHA, version, model, prompt/knowledge hashes)
    provenance.py  git state and content hashes
    report.py      the table printed by `upgradectl eval`
    scenarios/     the cases; suite.yaml the thresholds; scenario.schema.json the exported schema
"""
