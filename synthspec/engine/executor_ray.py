"""The Ray executor: one Ray task per subject, each calling `generate_subject(plan, k)` and writing
its own subject folder, so a cohort can be generated across the nodes of a cluster.

The driver (the `synth run` process) does what every executor does (`executor.run_with`): it
checks and locks the cohort folder, finds the subjects still missing, and writes the cohort's
closing files once all are there.  The tasks write straight into the cohort folder through
`cohort.writer.write_subject` (staged, then renamed into place), never through Ray's object store;
a task returns only the subject's index.  So the folder must be one that every node sees at the
same path (a shared filesystem such as NFS, Lustre or a mounted bucket); on one machine it simply
is.  Subject k depends only on the plan and k, so the cohort is byte-identical to the local
executor's whatever the number of nodes, the order tasks finish in, or which tasks were retried.

Resources: each task asks for one CPU and, when the plan runs on CUDA, the share of a GPU that
one subject's estimated device memory takes (the plan's `memory.per_subject_bytes` over the
device's `memory.device_bytes`), so Ray packs as many subjects on a GPU as fit.  A task that fails (a node lost,
an error) is retried `max_retries` times; a subject that still fails stops the run with its name,
and `--resume` later generates exactly the subjects still missing.

`address` is passed to `ray.init`: None starts a local Ray on this machine (with `num_cpus`
CPUs, default all), "auto" joins the cluster this node belongs to (`ray start --head` /
`ray start --address=...`), "ray://HOST:10001" connects through Ray Client (KubeRay's head service).
The working directory and Python environment of the workers must hold the same synthspec version.

What this does not do: start or size a cluster (Ray and KubeRay do), or move files between nodes.
"""

from __future__ import annotations

import os
from pathlib import Path

from synthspec.engine.executor import RunError, RunSummary, run_with
from synthspec.plan.model import Plan

MAX_RETRIES = 3
"""Times Ray retries a subject's task after a failure (a lost worker or node, or an error) before the run stops."""
MAX_IN_FLIGHT_PER_CPU = 2
"""Tasks submitted ahead per cluster CPU: keeps the cluster busy without queueing the whole cohort at once."""


def gpu_share(plan: Plan) -> float:
    """The fraction of one GPU a subject's task asks for (0 on CPU): its estimated device memory over the share of
    the device's memory a plan may use (MEMORY_FRACTION), rounded up to a hundredth so tasks never oversubscribe."""
    import math

    from synthspec.plan.estimate import MEMORY_FRACTION

    if not str(plan.device).startswith("cuda"):
        return 0.0
    per_subject = float(plan.memory.get("per_subject_bytes") or 0)
    usable = float(plan.memory.get("device_bytes") or 0) * MEMORY_FRACTION["cuda"]
    if per_subject <= 0 or usable <= 0:
        return 1.0
    return min(1.0, max(0.01, math.ceil(100 * per_subject / usable) / 100))


def _write_one(plan: Plan, out: str, k: int) -> int:
    """One subject, generated and written by a Ray worker; returns k."""
    from synthspec.cohort.writer import write_subject
    from synthspec.engine.subject import generate_subject

    write_subject(Path(out), plan, generate_subject(plan, k))
    return k


def run(plan: Plan, out: Path, resume: bool = False, address: str | None = None, num_cpus: int | None = None,
        max_retries: int = MAX_RETRIES) -> RunSummary:
    """Generate every missing subject of `plan` into `out` as Ray tasks (see the module docstring)."""
    try:
        import ray
    except ImportError:
        raise RunError("the Ray executor needs Ray: pip install 'synthspec[ray]' (or pip install 'ray>=2.9'), "
                       "or run with --executor local") from None

    def generate_on_ray(plan: Plan, todo: list[int], advance) -> int:
        started_here = not ray.is_initialized()
        auth = os.environ.get("RAY_AUTH_MODE")
        try:
            if started_here:
                _init(ray, address, num_cpus)
            if gpu_share(plan) > 0 and not ray.cluster_resources().get("GPU", 0):
                raise RunError("this plan runs on CUDA, but the Ray cluster has no GPU; run it on a cluster with GPUs "
                               "(`ray start --num-gpus N` on GPU nodes) or make a CPU plan with "
                               "`synth plan SPEC --device cpu --save FILE`")
            return _submit(ray, plan, Path(out).resolve(), todo, advance, max_retries)
        finally:
            if started_here:
                ray.shutdown()
                if auth is None:   # the local Ray's setting stays with it, not with this process
                    os.environ.pop("RAY_AUTH_MODE", None)

    return run_with(generate_on_ray, plan, Path(out), resume)


def _init(ray, address: str | None, num_cpus: int | None) -> None:
    kwargs = {"include_dashboard": False, "log_to_driver": True, "configure_logging": False}
    if address is None:
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")   # a local Ray for this run only: no token to keep
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    try:
        ray.init(address=address, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RunError(f"could not start or reach {where} ({str(error).splitlines()[0] if str(error) else error}); "
                       "check `ray status`, the --address, or run with --executor local") from None


def _submit(ray, plan: Plan, out: Path, todo: list[int], advance, max_retries: int) -> int:
    """Keep a bounded window of subject tasks in flight and count each finished subject.  After a subject fails
    (past its retries) nothing new is submitted, the tasks in flight finish (their subjects are kept), and the run
    stops naming the first failure; an interrupt cancels what is in flight."""
    task = ray.remote(_write_one).options(num_cpus=1, num_gpus=gpu_share(plan), max_retries=max_retries,
                                          retry_exceptions=True)
    plan_ref = ray.put(plan)
    window = max(1, int(ray.cluster_resources().get("CPU", 1)) * MAX_IN_FLIGHT_PER_CPU)
    pending: dict = {}
    queue = list(todo)
    written = 0
    failure = None
    try:
        while pending or (queue and failure is None):
            while queue and failure is None and len(pending) < window:
                k = queue.pop(0)
                pending[task.remote(plan_ref, str(out), k)] = k
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                k = pending.pop(ref)
                try:
                    ray.get(ref)
                except Exception as error:  # noqa: BLE001 - a task's own error, after Ray's retries
                    failure = failure or (k, getattr(error, "cause", None) or error)
                    continue
                written += 1
                advance()
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
    if failure is not None:
        k, cause = failure
        first = str(cause).strip().splitlines()[-1] if str(cause).strip() else ""
        raise RunError(f"subject S{k:06d} failed on Ray after {max_retries} retries ({type(cause).__name__}: "
                       f"{first}); the finished subjects are kept: fix the cause and resume with "
                       f"`synth run --plan {out / 'plan.json'} --out {out} --resume --executor ray`")
    return written
