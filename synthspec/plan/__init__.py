"""Execution plans: the checked cohort model lowered to pure data the engine executes.

    lower.py     cohort model -> Plan (grid, typed stages lowered with the families, seeds, shards, batch size)
    model.py     the Plan types (pydantic; JSON round-trips; stable hash)
    estimate.py  the device and the memory it can give (the cost per subject is the modality's)
    show.py      `synth plan` output, in the spirit of `terraform plan`
"""
