"""Drivers: a command's config -> curve plans (:class:`.loop.CurvePlan`) -> tasks -> the one writer loop.

One module per command (:mod:`.sweep`, :mod:`.decompose`, :mod:`.dynamics`) turns its config into plans; the
loop (:func:`.loop.run_plans`) prepares, skips what is stored, hands the tasks to an executor and appends every
record; :mod:`.plan` prints what a run will do and :mod:`.summary` what a file holds.
"""
