"""The original smallpond's ``Driver``: command-line flags plus ``run(plan)``.

    driver = Driver()
    driver.add_argument("-i", "--input_paths", nargs="+")
    plan = build_plan(**driver.get_arguments())
    driver.run(plan)

    python script.py [scheduler] -i data/*.parquet --job_id ... --data_root ... --num_executors 0

The plan runs on the embedded engine (this machine, all cores); on Ray when an address is
given (``--ray_address``, ``SP_RAY_ADDRESS`` or ``RAY_ADDRESS``, or mode ``ray``). Every flag
of the original is accepted with the same meaning; those with no effect here are listed
under "accepted, no effect" in ``--help``.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
import sys
from typing import Any, Dict, List, Optional

from smallpond.common import DEFAULT_MAX_FAIL_COUNT, DEFAULT_MAX_RETRY_COUNT

logger = logging.getLogger("smallpond")

class Driver(object):
    """Parses the job's flags and runs a ``LogicalPlan``."""

    def __init__(self) -> None:
        self.driver_args_parser = self._create_driver_args_parser()
        self.user_args_parser = argparse.ArgumentParser(add_help=False)
        self.driver_args: Optional[argparse.Namespace] = None
        self.user_args: Optional[argparse.Namespace] = None
        self.all_args: Optional[argparse.Namespace] = None

    def _create_driver_args_parser(self) -> argparse.ArgumentParser:
        p = argparse.ArgumentParser(prog="driver.py", description="smallpond driver", add_help=False)
        p.add_argument(
            "mode", nargs="?", default="scheduler", choices=["executor", "scheduler", "ray"],
            help="scheduler (default): run the plan here; ray: on a Ray cluster; "
            "executor: not needed here (the engine starts its own workers)",
        )
        p.add_argument("--job_id", type=str, help="Unique job id (a run with an existing id resumes it)")
        p.add_argument("--job_time", type=float, help="Job create time (seconds since epoch)")
        p.add_argument("--job_name", default="smallpond", help="Display name of the job")
        p.add_argument("--data_root", type=str, help="The root folder for all files generated at runtime")
        p.add_argument("--num_executors", default=0, type=int,
                       help="On Ray: how many executors to start; here: this machine (0 or 1)")
        p.add_argument("--ray_address", type=str, default=None, help="Run on this Ray cluster")
        p.add_argument("--random_seed", type=int, default=None, help="Random seed for the job")
        p.add_argument("--max_fail", "--max_fail_count", dest="max_fail_count", default=DEFAULT_MAX_FAIL_COUNT,
                       type=int, help="How many times a task may fail before the job gives up")
        p.add_argument("--speculative_exec", dest="speculative_exec", choices=["disable", "enable", "aggressive"],
                       help="Level of speculative execution")
        p.add_argument("--enable_speculative_exec", dest="speculative_exec", action="store_const", const="enable")
        p.add_argument("--disable_speculative_exec", dest="speculative_exec", action="store_const", const="disable")
        p.set_defaults(speculative_exec="enable")
        p.add_argument("--fault_inject", "--fault_inject_prob", dest="fault_inject_prob", type=float, default=0.0,
                       help="Fail task attempts at random with this probability (for tests)")
        p.add_argument("--remove_output_root", action="store_true",
                       help="Remove the job's output directory after the job (for tests)")
        p.add_argument("--self_contained_final_results", action="store_true",
                       help="Final results are always linked into the output folder, with a manifest")
        p.add_argument("--output_path",
                       help="Output directory of the final results and of nodes with an output_name "
                       "but no output_path")
        g = p.add_argument_group("accepted, no effect (the engine decides)")
        g.add_argument("--exec_id", default=socket.gethostname())
        g.add_argument("--job_priority", type=int)
        g.add_argument("--resource_group", type=str)
        g.add_argument("--env_variables", nargs="*", default=[])
        g.add_argument("--sidecars", nargs="*", default=[])
        g.add_argument("--tags", nargs="*", default=[])
        g.add_argument("--task_image", default="default")
        g.add_argument("--python_venv", type=str)
        g.add_argument("--runtime_ctx_path", default=None)
        g.add_argument("--num_executors_per_task", default=5, type=int)
        g.add_argument("--max_retry", "--max_retry_count", dest="max_retry_count", default=DEFAULT_MAX_RETRY_COUNT, type=int)
        g.add_argument("--prioritize_retry", action="store_true")
        g.add_argument("--stop_executor_on_failure", action="store_true")
        g.add_argument("--fail_fast", "--fail_fast_on_failure", dest="fail_fast_on_failure", action="store_true")
        g.add_argument("--nonzero_exitcode_as_oom", action="store_true")
        g.add_argument("--enable_profiling", action="store_true")
        g.add_argument("--enable_diagnostic_metrics", action="store_true")
        g.add_argument("--disable_sched_state_dump", dest="enable_sched_state_dump", action="store_false")
        g.add_argument("--enable_sched_state_dump", dest="enable_sched_state_dump", action="store_true")
        p.set_defaults(enable_sched_state_dump=False)
        g.add_argument("--remove_empty_parquet", action="store_true")
        g.add_argument("--skip_task_with_empty_input", action="store_true")
        g.add_argument("--malloc", "--memory_allocator", dest="memory_allocator", default="mimalloc",
                       choices=["system", "jemalloc", "mimalloc"])
        g.add_argument("--memory_purge_delay", default=10000)
        g.add_argument("--bind_numa_node", action="store_true")
        g.add_argument("--enforce_memory_limit", action="store_true")
        g.add_argument("--enable_log_analytics", dest="share_log_analytics", action="store_true")
        g.add_argument("--disable_log_analytics", dest="share_log_analytics", action="store_false")
        levels = ["CRITICAL", "ERROR", "WARNING", "SUCCESS", "INFO", "DEBUG", "TRACE"]
        g.add_argument("--console_log_level", default="INFO", choices=levels)
        g.add_argument("--file_log_level", default="DEBUG", choices=levels)
        g.add_argument("--disable_log_rotation", action="store_true")
        g.add_argument("--platform", type=str)
        return p

    def add_argument(self, *args: Any, **kwargs: Any) -> Any:
        """Adds a flag of the script (``argparse.ArgumentParser.add_argument``)."""
        return self.user_args_parser.add_argument(*args, **kwargs)

    def parse_arguments(self, args: Optional[List[str]] = None) -> tuple:
        """``(user_args, driver_args)`` from the command line (or ``args``)."""
        if self.user_args is None or self.driver_args is None:
            parser = argparse.ArgumentParser(parents=[self.driver_args_parser, self.user_args_parser])
            self.all_args = parser.parse_args(args)
            self.user_args, other = self.user_args_parser.parse_known_args(args)
            self.driver_args = self.driver_args_parser.parse_args(other)
        return self.user_args, self.driver_args

    def get_user_arguments(self, to_dict: bool = True) -> Any:
        user_args, _ = self.parse_arguments()
        return vars(user_args) if to_dict else user_args

    get_arguments = get_user_arguments

    def get_driver_arguments(self, to_dict: bool = True) -> Any:
        _, driver_args = self.parse_arguments()
        return vars(driver_args) if to_dict else driver_args

    @property
    def mode(self) -> str:
        return self.get_driver_arguments(to_dict=False).mode

    @property
    def job_id(self) -> Optional[str]:
        return self.get_driver_arguments(to_dict=False).job_id

    @property
    def data_root(self) -> Optional[str]:
        return self.get_driver_arguments(to_dict=False).data_root

    @property
    def num_executors(self) -> int:
        return self.get_driver_arguments(to_dict=False).num_executors

    def _session(self, args: argparse.Namespace) -> Any:
        import smallpond

        ray_address = args.ray_address or os.environ.get("SP_RAY_ADDRESS") or os.environ.get("RAY_ADDRESS")
        if args.mode == "ray" and not ray_address:
            ray_address = "auto"
        options: Dict[str, Any] = {
            "max_fail_count": args.max_fail_count,
            "speculative_exec": args.speculative_exec,
            "fault_inject_prob": args.fault_inject_prob,
        }
        return smallpond.init(
            job_id=args.job_id,
            job_time=args.job_time,
            job_name=args.job_name if args.job_name != "smallpond" else None,
            data_root=args.data_root,
            num_executors=args.num_executors if ray_address else None,
            ray_address=ray_address,
            **options,
        )

    def run(self, plan: Any, stop_process_on_done: bool = True, tags: Optional[List[str]] = None) -> Any:
        """Runs ``plan``; returns its ``ExecutionPlan`` (``None`` when it failed). With
        ``stop_process_on_done`` (the default) the process then exits: 0 when the job
        succeeded, ``os.EX_SOFTWARE`` when it failed."""
        _, args = self.parse_arguments()
        if args.mode == "executor":
            sys.stderr.write(
                "smallpond: executor mode is not needed: the engine starts its own workers. "
                "To add machines, start them as Ray workers (python -m smallpond.worker "
                "--ray_address HEAD:6379) and run the script with --ray_address.\n"
            )
            if stop_process_on_done:
                sys.exit(os.EX_USAGE)
            return None
        if plan is None:
            raise ValueError("Driver.run needs a LogicalPlan")
        sp = self._session(args)
        try:
            result = execute_plan(sp, plan, args.output_path)
        except KeyboardInterrupt:
            sp.shutdown()
            raise
        except Exception as e:
            logger.error("job %s failed: %s", sp.job_id, e)
            sys.stderr.write(f"smallpond: job failed: {e}\n")
            result = None
        sp.shutdown()
        if result is not None and args.remove_output_root:
            import shutil

            shutil.rmtree(result.ctx.output_root, ignore_errors=True)
        if stop_process_on_done:
            sys.exit(os.EX_OK if result is not None else os.EX_SOFTWARE)
        return result


def execute_plan(sp: Any, plan: Any, output_path: Optional[str] = None) -> Any:
    """Runs a ``LogicalPlan`` in session ``sp``; returns its ``ExecutionPlan``."""
    from smallpond.execution.task import ExecutionPlan
    from smallpond.logical.dataset import DataSet
    from smallpond.logical.node import DataSinkNode, _Lowering

    low = _Lowering(sp, output_path)
    root = low.core(plan.root_node)
    ctx = sp._runtime_ctx
    final_path = None
    final_sink = None
    if isinstance(plan.root_node, DataSinkNode):
        final_path = plan.root_node.output_path
    elif root is not None:
        # The job's own files go when it ends: the final results are linked (hard links
        # where possible) into the output directory, with a manifest listing them.
        # (Always self-contained: a manifest alone would list files that are gone.)
        final_path = os.path.abspath(output_path) if output_path else ctx.output_root
        final_sink = low.sink(root, final_path, "link")
    targets = ([root] if root is not None else []) + low.roots + [s for _, _, s in low.published]
    targets += [final_sink] if final_sink is not None else []
    sp._core.wait(targets)

    named: Dict[str, List[DataSet]] = {}
    for node, path, _ in low.published:
        if node.output_name:
            named.setdefault(node.output_name, []).append(_listed(path))
    named_outputs = {name: DataSet.merge(ds) for name, ds in named.items()}
    final_output = _listed(final_path) if final_path else None
    return ExecutionPlan(ctx, plan, True, final_output, named_outputs, final_path)


def _listed(path: str) -> "DataSet":
    """The files a sink put in ``path`` (its manifest lists them in order)."""
    from smallpond.logical.dataset import ParquetDataSet

    manifest = os.path.join(path, ".MANIFEST.txt")
    if os.path.exists(manifest):
        with open(manifest) as f:
            files = [line.rstrip("\n") for line in f if line.strip()]
    else:
        files = sorted(os.path.join(path, n) for n in os.listdir(path) if not n.startswith("."))
    return ParquetDataSet(files, root_dir=None)
