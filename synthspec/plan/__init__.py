"""Execution plans: the checked cohort model lowered to pure data the runtime executes.

    lower.py     cohort model -> Plan (grid, stages, seeds, shards, batch size)
    model.py     the Plan types (pydantic; JSON round-trips; stable hash)
    estimate.py  memory and time per subject, device budgets
    show.py      `synth plan` output, in the spirit of `terraform plan`
"""
